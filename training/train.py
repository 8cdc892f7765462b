"""The training loop: many-to-many cross-entropy with truncated backpropagation through time,
sampled softmax, gradient clipping, validation with the full softmax, best-checkpoint keeping,
early stopping, a clean stop on Ctrl-C that leaves the best model so far and a resumable
training state on disk, and DistributedDataParallel when run under ``torchrun``.

Fine-tuning starts from a base checkpoint: its vocabulary grows by the words of the new
text it lacks (see ``finetune``), old rows kept exactly. The checkpoint records the files
it has learned (``info["learned"]``), updated only when a run finishes, so an interrupted
run never claims files it has not finished learning.

Validation: the corpus's validation files, all of them, whatever a run trains on, so a
fine-tuning run that learns new notes by forgetting the old ones is caught. An incremental
run (one that skips files the model has already learned) is also judged on held-out new
material: the validation files among the new ones, or, when those are too few, the end of
the new text, held out; the figure that decides is then the mean of the two losses, so the
new is learned as long as the old is not paid for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import torch
from nextword.model import (
    Checkpoint,
    LanguageModel,
    ModelConfig,
    NextwordError,
    Vocabulary,
    load_checkpoint,
    save_checkpoint,
)
from nextword.model.tokenize import is_word, tokenize

from .batches import batchify, encode_documents, windows
from .config import TrainConfig
from .corpus import Corpus, Document
from .distributed import World
from .finetune import Selection, grow_vocabulary, new_words
from .progress import Progress
from .resume import TrainingState, resume_path, save_state

MAX_VALID_TOKENS = 50_000  # validation is exact (full softmax); this bounds its cost
MIN_FRESH_TOKENS = 2_000  # an incremental run's new validation text, below which the new text's end is held out
VALID_STREAMS = 16  # parallel streams for validation


@dataclass
class TrainResult:
    """What a training run produced."""

    path: Path | None  # the best checkpoint written (None if nothing was)
    valid_perplexity: float
    epochs: float
    tokens_per_second: float
    interrupted: bool
    stop_reason: str
    start_perplexity: float = math.inf  # the starting model's, when fine-tuning
    new_words: int = 0  # words added to the vocabulary
    resume_path: Path | None = None  # where the training state was left, when interrupted


def build_vocabulary(corpus: Corpus | list[Document], config: TrainConfig) -> Vocabulary:
    counts: Counter[str] = Counter()
    for doc in corpus.train if isinstance(corpus, Corpus) else corpus:
        counts.update(tokenize(doc.text))
    return Vocabulary.build(counts, min_count=config.min_count, max_size=config.max_vocab)


@torch.inference_mode()
def loss_sum(model: LanguageModel, data: torch.Tensor, bptt: int = 128) -> tuple[float, int]:
    """Summed cross-entropy (full softmax) of ``model`` on batchified ``data``, and the token count."""
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    for inputs, targets in windows(data, bptt):
        hidden, state = model(inputs, state)
        total += float(model.full_loss(hidden, targets, reduction="sum"))
        count += targets.numel()
    model.train(was_training)
    return total, count


def evaluate_loss(model: LanguageModel, data: torch.Tensor, bptt: int = 128) -> float:
    """Mean cross-entropy (full softmax) of ``model`` on batchified ``data``."""
    total, count = loss_sum(model, data, bptt)
    return total / max(count, 1)


def _learning_rate(config: TrainConfig, progress: float, step: int, total_steps: int, plateau: float) -> float:
    warm = min(1.0, (step + 1) / max(1, min(config.warmup_steps, total_steps // 10)))
    cosine = config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.lr * warm * cosine * plateau


def _shard(ids: torch.Tensor, streams: int, world: World) -> torch.Tensor | None:
    """This process's columns of ``ids`` cut into ``streams`` streams per process (None if too short)."""
    streams = min(streams, len(ids) // (2 * world.size))
    if streams < 1:
        return None
    data = batchify(ids, streams * world.size)
    return data[:, world.rank * streams : (world.rank + 1) * streams].contiguous()


class _ValidationSet:
    """One validation text, sharded across processes when it is long enough."""

    def __init__(self, name: str, ids: torch.Tensor, world: World, device: torch.device):
        self.name, self.tokens = name, len(ids)
        data = _shard(ids, VALID_STREAMS, world)
        self.sharded = data is not None
        self.data = (data if data is not None else batchify(ids, VALID_STREAMS)).to(device)

    def loss(self, model: LanguageModel, world: World) -> float:
        total, count = loss_sum(model, self.data)
        if self.sharded:
            total, count = world.sum([total, float(count)])
        return total / max(count, 1)


class _Interrupts:
    """Ctrl-C during training asks for a stop at the next step boundary, so the state left
    for ``--resume`` is never half a step; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False

    @contextlib.contextmanager
    def deferred(self) -> Iterator[_Interrupts]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def handler(signum, frame):  # noqa: ANN001
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def data_digest(selection: Selection) -> str:
    """A fingerprint of what a run trains and validates on, so --resume can tell the notes changed."""
    h = hashlib.sha256()
    for kind, docs in (("t", selection.train), ("v", selection.valid), ("f", selection.fresh_valid)):
        for d in docs:
            h.update(f"{kind}\0{d.relative_path}\0{d.digest}\n".encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:32]


def train(
    corpus: Corpus,
    out: Path,
    config: TrainConfig,
    model_config: ModelConfig | None = None,
    base: Checkpoint | None = None,
    progress: Progress | None = None,
    info: dict | None = None,
    *,
    selection: Selection | None = None,
    manifest: dict[str, str] | None = None,
    run: dict | None = None,
    resume: TrainingState | None = None,
    world: World | None = None,
) -> TrainResult:
    """Train a model on ``corpus`` (from ``base`` if given) and keep the best one at ``out``.

    ``selection`` says which documents to train and validate on (default: all of the
    corpus's), ``manifest`` the files the starting model had learned (kept in the output,
    with this run's files added when it finishes), ``run`` how the run was asked for (kept
    in the training state for ``--resume``), ``resume`` a training state to continue, and
    ``world`` this process's place among DistributedDataParallel processes."""
    out = Path(out)
    world = world or World()
    progress = progress if progress is not None and world.main else Progress("none")
    torch.manual_seed(config.seed)
    threads = max(1, (os.cpu_count() or 1) // max(1, world.local_size))
    torch.set_num_threads(threads)
    device = world.device
    selection = selection or Selection(train=list(corpus.train), valid=list(corpus.valid))
    before = dict(manifest or {})
    run = dict(run or {})
    info = dict(info or {})
    state_path = resume_path(out)

    # ----- the model and its vocabulary --------------------------------------------------
    added = 0
    if resume is not None:
        model, vocab = resume.model, resume.vocab
        added = int(resume.position.get("new_words", 0))
    elif base is not None:
        model, vocab = base.model, base.vocab
        if not before:
            model.set_notes(None)  # starting over (--full, or a model without a manifest): so do its notes
        if config.new_word_min_count > 0:
            words = new_words((d.text for d in selection.train), vocab, config.new_word_min_count, config.max_new_words)
            model, vocab = grow_vocabulary(model, vocab, words, seed=config.seed)
            added = len(words)
    else:
        vocab = build_vocabulary(selection.train, config)
        if not any(is_word(t) for t in vocab.tokens):
            raise NextwordError(
                f"no word occurs {config.min_count:,} times or more in the notes, so a new model would know no words; "
                f"the notes are too small for --min-count {config.min_count}: lower it (or add notes)"
            )
        model = LanguageModel(ModelConfig(**{**(model_config or ModelConfig()).to_dict(), "vocab_size": len(vocab)}))
    model.to(device).train()

    # ----- the data ----------------------------------------------------------------------
    train_ids = encode_documents([d.text for d in selection.train], vocab)
    run_notes = train_ids  # the notes' n-gram learns all of this run's training files
    if len(train_ids) < 16:
        raise NextwordError(
            f"too little text to train on ({len(train_ids)} tokens); give nextword a folder with more notes"
        )
    valid_ids = (
        encode_documents([d.text for d in selection.valid], vocab)
        if selection.valid
        else torch.zeros(0, dtype=torch.long)
    )
    fresh_ids = None
    if selection.incremental:
        fresh_ids = (
            encode_documents([d.text for d in selection.fresh_valid], vocab)
            if selection.fresh_valid
            else torch.zeros(0, dtype=torch.long)
        )
        if len(fresh_ids) < MIN_FRESH_TOKENS:
            cut = min(MAX_VALID_TOKENS, max(8, len(train_ids) // 10))
            fresh_ids, train_ids = torch.cat([fresh_ids, train_ids[-cut - 1 :]]), train_ids[:-cut]
    if len(valid_ids) < 16:
        # One small document: hold out its end for validation.
        cut = max(8, len(train_ids) // 10)
        train_ids, valid_ids = train_ids[:-cut], train_ids[-cut - 1 :]
    sets = [_ValidationSet("notes" if fresh_ids is None else "all notes", valid_ids[:MAX_VALID_TOKENS], world, device)]
    if fresh_ids is not None:
        sets.append(_ValidationSet("new notes", fresh_ids[:MAX_VALID_TOKENS], world, device))

    train_data = _shard(train_ids, config.batch_size, world)
    if train_data is None:
        raise NextwordError(
            f"too little text ({len(train_ids)} tokens) to share among {world.size} training processes; train with fewer processes or more notes"
        )
    train_data = train_data.to(device)
    counts = torch.bincount(train_ids, minlength=len(vocab)).float()
    unigram = (counts / counts.sum()).to(device)
    sampled = config.sampled if 0 < config.sampled < len(vocab) // 2 else 0

    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if resume is not None and resume.optimizer is not None:
        optimizer.load_state_dict(resume.optimizer)
    net: torch.nn.Module = model
    if world.distributed:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    steps_per_epoch = math.ceil((train_data.size(0) - 1) / config.bptt)
    total_steps = steps_per_epoch * config.epochs
    max_seconds = config.max_minutes * 60 if config.max_minutes > 0 else math.inf

    def validation_loss() -> tuple[float, dict[str, float]]:
        losses = {s.name: s.loss(model, world) for s in sets}
        return sum(losses.values()) / len(losses), losses

    # ----- where we start ----------------------------------------------------------------
    pos = dict(resume.position) if resume is not None else {}
    if resume is not None:
        if int(pos.get("world", 1)) != world.size:
            raise NextwordError(
                f"the interrupted run used {pos.get('world')} process(es), this one {world.size}; resume it with as many"
            )
        if resume.rng is not None:
            torch.set_rng_state(resume.rng)
        start_loss = float(pos["start_loss"])
        best_loss = float(pos["best_loss"])
    else:
        start_loss = validation_loss()[0] if base is not None else math.inf
        best_loss = start_loss
    epoch0, window0 = int(pos.get("epoch", 1)), int(pos.get("window", 0))
    step = int(pos.get("step", 0))
    tokens_done = int(pos.get("tokens", 0))
    bad_validations = int(pos.get("bad_validations", 0))
    plateau = float(pos.get("plateau", 1.0))
    elapsed_before = float(pos.get("seconds", 0.0))
    best_saved = bool(pos.get("best_saved", False))
    best_path: Path | None = out if best_saved else None
    epoch_float = float(pos.get("epoch_float", 0.0))
    hidden = resume.hidden if resume is not None and world.size == 1 else None
    if hidden is not None:
        hidden = tuple((h.to(device), c.to(device)) for h, c in hidden)

    progress.event(
        "start",
        tokens=len(train_ids),
        valid_tokens=sum(s.tokens for s in sets),
        vocabulary=len(vocab),
        parameters=sum(p.numel() for p in model.parameters()),
        steps=total_steps,
        new_words=added,
        files=len(selection.train),
        already_learned=selection.already,
        processes=world.size,
        resumed=resume is not None,
        start_perplexity=round(math.exp(start_loss), 2) if start_loss < math.inf else None,
    )
    what = (
        f"{len(selection.train)} new or changed file(s); {selection.already} already learned"
        if selection.incremental
        else f"{len(selection.train)} file(s)"
    )
    progress.note(
        f"{'resuming' if resume is not None else 'training'} on {len(train_ids):,} tokens ({what}), validating on "
        f"{' + '.join(f'{s.tokens:,} ({s.name})' for s in sets)}; vocabulary {len(vocab):,}"
        + (f" ({added:,} new words)" if added else "")
        + (f"; {world.size} processes" if world.distributed else "")
        + (f"; starting perplexity {math.exp(start_loss):.1f}" if start_loss < math.inf and resume is None else "")
    )

    started = time.monotonic()
    last_valid = started
    interrupted, stop_reason = False, "finished all epochs"
    run_info = {
        **info,
        "new_words": added,
        "base_vocab_size": len(vocab) - added,
        "start_perplexity": round(math.exp(start_loss), 3) if start_loss < math.inf else None,
    }
    if world.size > 1:
        run_info["processes"] = world.size

    def seconds() -> float:
        return elapsed_before + time.monotonic() - started

    def snapshot(epoch: int, window: int, state) -> TrainingState:  # noqa: ANN001
        position = {
            "epoch": epoch,
            "window": window,
            "step": step,
            "tokens": tokens_done,
            "bad_validations": bad_validations,
            "plateau": plateau,
            "seconds": seconds(),
            "best_saved": best_path is not None,
            "epoch_float": epoch_float,
            "best_loss": best_loss,
            "start_loss": start_loss,
            "new_words": added,
            "world": world.size,
        }
        run_record = {
            **run,
            "train_config": config.to_dict(),
            "manifest": before,
            "data": data_digest(selection),
            "info": info,
        }
        keep_hidden = (
            None
            if world.distributed or state is None
            else tuple((h.detach().cpu(), c.detach().cpu()) for h, c in state)
        )
        return TrainingState(
            model, vocab, position, run_record, optimizer.state_dict(), torch.get_rng_state(), keep_hidden
        )

    def save_snapshot(epoch: int, window: int, state) -> None:  # noqa: ANN001
        if world.main:
            save_state(state_path, snapshot(epoch, window, state))

    def validate(epoch_f: float) -> bool:
        """Validate; keep the model if it is the best so far. True when training should stop."""
        nonlocal best_loss, best_path, bad_validations, plateau, last_valid
        last_valid = time.monotonic()
        loss, parts = validation_loss()
        improved = loss < best_loss - 1e-4
        extra = {"parts": {k: round(math.exp(v), 2) for k, v in parts.items()}} if len(parts) > 1 else {}
        progress.event(
            "validation",
            epoch=round(epoch_f, 3),
            loss=round(loss, 4),
            perplexity=round(math.exp(loss), 2),
            best=improved,
            **extra,
        )
        detail = f" ({', '.join(f'{k} {math.exp(v):.1f}' for k, v in parts.items())})" if len(parts) > 1 else ""
        progress.note(
            f"validation after {epoch_f:.2f} epochs: perplexity {math.exp(loss):.1f}{detail}{' (best so far, saved)' if improved else ''}"
        )
        if improved:
            best_loss, bad_validations = loss, 0
            if world.main:
                best_path = _save(
                    model,
                    vocab,
                    out,
                    {**run_info, "learned": before, "complete": False},
                    config,
                    epoch_f,
                    best_loss,
                    tokens_done,
                    seconds(),
                )
            else:
                best_path = out
        else:
            bad_validations += 1
            plateau *= 0.5  # a plateau: smaller steps before giving up
        return bad_validations >= config.patience

    interrupts = _Interrupts()
    epoch, window, state = epoch0, window0, hidden
    try:
        with interrupts.deferred():
            stop = False
            for epoch in range(epoch0, config.epochs + 1):
                progress.start_epoch(epoch, config.epochs, train_data.numel() * world.size)
                skip = window0 if epoch == epoch0 else 0
                if epoch != epoch0:
                    state = None
                window = skip
                for w, (inputs, targets) in enumerate(windows(train_data, config.bptt)):
                    if w < skip:
                        continue
                    now = seconds()
                    lr = _learning_rate(config, max(step / total_steps, now / max_seconds), step, total_steps, plateau)
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                    if state is not None:
                        state = tuple((h.detach(), c.detach()) for h, c in state)
                    hidden_out, new_state = net(inputs, state)
                    loss = (
                        model.sampled_loss(hidden_out, targets, sampled, unigram)
                        if sampled
                        else model.full_loss(hidden_out, targets)
                    )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
                    optimizer.step()
                    # The step is complete: this is the position --resume continues from.
                    state, window, step = new_state, w + 1, step + 1
                    step_tokens = targets.numel() * world.size
                    tokens_done += step_tokens
                    epoch_float = epoch - 1 + window / steps_per_epoch
                    now = seconds()
                    rate = (tokens_done - int(pos.get("tokens", 0))) / max(time.monotonic() - started, 1e-9)
                    eta = min(
                        (total_steps - step) * (time.monotonic() - started) / max(1, step - int(pos.get("step", 0))),
                        max_seconds - now,
                    )
                    progress.update(
                        step_tokens,
                        min(1.0, max(step / total_steps, now / max_seconds)),
                        loss.item(),
                        rate,
                        max(0.0, eta),
                        epoch,
                    )
                    want_valid = (
                        config.valid_every_minutes > 0
                        and time.monotonic() - last_valid >= config.valid_every_minutes * 60
                    )
                    time_up, want_valid, stop_asked = world.any([now >= max_seconds, want_valid, interrupts.requested])
                    if stop_asked:
                        raise KeyboardInterrupt
                    if time_up:
                        stop, stop_reason = True, f"reached the {config.max_minutes:g}-minute limit"
                        break
                    if want_valid:
                        if validate(epoch_float):
                            stop, stop_reason = True, "validation stopped improving"
                            break
                        model.train()
                        save_snapshot(epoch, window, state)
                progress.end_epoch()
                if not stop and validate(float(epoch)):
                    stop, stop_reason = True, "validation stopped improving"
                elif stop:
                    validate(epoch_float)
                model.train()
                if stop:
                    break
                epoch, window, state = epoch + 1, 0, None
                if epoch <= config.epochs:
                    save_snapshot(epoch, 0, None)
    except KeyboardInterrupt:
        progress.end_epoch()
        interrupted, stop_reason = True, "interrupted"
    model.eval()

    kept_state = None
    if interrupted:
        if world.main:
            if best_path is None and base is None and resume is None:
                # A new model that never validated: what we have is the best so far.
                best_path = _save(
                    model,
                    vocab,
                    out,
                    {**run_info, "learned": before, "complete": False},
                    config,
                    epoch_float,
                    math.inf,
                    tokens_done,
                    seconds(),
                )
            try:
                kept_state = save_state(state_path, snapshot(epoch, window, state))
            except KeyboardInterrupt:
                kept_state = state_path if state_path.is_file() else None  # the last validation's state stands
    elif world.main:
        if best_path is not None:
            # The run finished: the best model has now learned this run's files.
            final = load_checkpoint(best_path)
            record = {**final.info, "learned": selection.manifest(before), "complete": True, "stop_reason": stop_reason}
            earlier = final.model.notes_tokens
            final.model.set_notes(run_notes if earlier is None else torch.cat([earlier.long(), run_notes]))
            save_checkpoint(best_path, final.model, final.vocab, info=record)
        state_path.unlink(missing_ok=True)
    if world.distributed and not interrupted:
        world.barrier()  # the others wait for process 0's files before they report done

    elapsed = time.monotonic() - started
    result = TrainResult(
        best_path,
        math.exp(best_loss) if best_loss < math.inf else math.inf,
        epoch_float,
        (tokens_done - int(pos.get("tokens", 0))) / max(elapsed, 1e-9),
        interrupted,
        stop_reason,
        math.exp(start_loss) if start_loss < math.inf else math.inf,
        added,
        kept_state,
    )
    progress.event(
        "done",
        path=str(best_path) if best_path else None,
        perplexity=round(result.valid_perplexity, 2),
        start_perplexity=round(result.start_perplexity, 2) if result.start_perplexity < math.inf else None,
        tokens_per_second=round(result.tokens_per_second),
        interrupted=interrupted,
        reason=stop_reason,
        resume=str(kept_state) if kept_state else None,
    )
    return result


def _save(
    model, vocab, out: Path, info: dict, config: TrainConfig, epochs: float, loss: float, tokens: int, seconds: float
) -> Path:
    record = {
        **info,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "epochs": round(epochs, 3),
        "valid_perplexity": round(math.exp(loss), 3) if loss < math.inf else None,
        "trained_tokens": tokens,
        "training_minutes": round(seconds / 60, 2),
        "train_config": config.to_dict(),
    }
    return save_checkpoint(out, model, vocab, info=record)
