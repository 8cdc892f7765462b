"""The training loop: many-to-many cross-entropy with truncated backpropagation through time,
sampled softmax, gradient clipping, validation with the full softmax, best-checkpoint keeping,
early stopping, a learning rate that warms up and then follows a cosine over the epochs or
the time limit, a clean stop on Ctrl-C that leaves the best model so far and a resumable
training state on disk, and DistributedDataParallel when run under ``torchrun``.

``train`` reads top to bottom: set up a ``Training`` (the model, its data, the optimizer and
where the run stands), run its epochs, each a series of steps with validation after it, and
finish: write what was learned, or the state to resume from.

Fine-tuning starts from a base checkpoint: its vocabulary grows by the words of the new
text it lacks (see ``finetune``), old rows kept exactly. The checkpoint records the files
it has learned (``info["learned"]``), updated only when a run finishes, so an interrupted
run never claims files it has not finished learning.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from nextword.model import Checkpoint, LanguageModel, ModelConfig, NextwordError, Vocabulary, save_checkpoint
from nextword.model.spacing import Spacing

from .batches import windows
from .config import TrainConfig
from .corpus import Corpus
from .data import TrainingData, prepare_data, starting_model
from .distributed import World
from .finetune import Selection, learn_word_parts, record_learned
from .interrupts import Interrupts
from .progress import Progress
from .report import TrainResult, announce, conclude
from .resume import Hidden, Position, RunRecord, RunRequest, TrainingState, resume_path, save_state
from .spacing import learn_spacing
from .validation import estimate_loss

IMPROVEMENT = 1e-4  # the least fall in validation loss that counts as a better model


@dataclass
class Training:
    """A run under way: what it trains and on what, how, and where it stands."""

    out: Path
    config: TrainConfig
    world: World
    progress: Progress
    model: LanguageModel
    vocab: Vocabulary
    data: TrainingData
    optimizer: torch.optim.Optimizer
    net: torch.nn.Module  # the model, or its DistributedDataParallel wrapper
    position: Position  # where the run stands: what --resume continues from
    record: RunRecord  # how the run was asked for: what --resume runs again
    selection: Selection
    resumed: bool
    fine_tuning: bool
    spacing: Spacing | None = None  # how the text trained on spaces its tokens (stored with the model)
    hidden: Hidden | None = None  # the text streams' state after the last step
    best_path: Path | None = None
    stop_reason: str = "finished all epochs"
    interrupts: Interrupts = field(default_factory=Interrupts)
    started: float = field(default_factory=time.monotonic)
    last_validation: float = field(default_factory=time.monotonic)
    # Derived from the above when the run is set up:
    tokens_before: int = field(init=False)  # the interrupted run's, so this run's rate counts its own
    steps_before: int = field(init=False)
    seconds_before: float = field(init=False)
    steps_per_epoch: int = field(init=False)
    total_steps: int = field(init=False)
    max_seconds: float = field(init=False)  # the time limit (inf: none)
    sampled: int = field(init=False)  # sampled softmax's negatives (0: the full softmax)

    def __post_init__(self) -> None:
        self.tokens_before = self.position.tokens
        self.steps_before = self.position.step
        self.seconds_before = self.position.seconds
        self.steps_per_epoch = math.ceil((self.data.train.size(0) - 1) / self.config.bptt)
        self.total_steps = self.steps_per_epoch * self.config.epochs
        self.max_seconds = self.config.max_minutes * 60 if self.config.max_minutes > 0 else math.inf
        self.sampled = self.config.sampled if 0 < self.config.sampled < len(self.vocab) // 2 else 0

    # ----- set-up ---------------------------------------------------------------------------
    @classmethod
    def set_up(
        cls,
        out: Path,
        config: TrainConfig,
        record: RunRecord,
        selection: Selection,
        world: World,
        progress: Progress,
        model_config: ModelConfig | None = None,
        base: Checkpoint | None = None,
        resume: TrainingState | None = None,
    ) -> Training:
        """The run's model, data and optimizer, at the start or where ``resume`` stopped."""
        torch.manual_seed(config.seed)
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, world.local_size)))
        model, vocab, added = starting_model(selection, config, model_config, base, resume, not record.manifest)
        model.to(world.device).train()
        data = prepare_data(selection, vocab, config, world)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        if resume is not None and resume.optimizer is not None:
            optimizer.load_state_dict(resume.optimizer)
        net: torch.nn.Module = model
        if world.distributed:
            from torch.nn.parallel import DistributedDataParallel

            device_ids = [world.device.index] if world.device.type == "cuda" else None
            net = DistributedDataParallel(model, device_ids=device_ids)
        hidden = None
        if resume is not None:
            position = resume.position
            if position.world != world.size:
                raise NextwordError(
                    f"the interrupted run used {position.world} process(es), this one {world.size}; resume it with as many"
                )
            if resume.rng is not None:
                torch.set_rng_state(resume.rng)
            if resume.hidden is not None and world.size == 1:
                hidden = tuple((h.to(world.device), c.to(world.device)) for h, c in resume.hidden)
        else:
            start = estimate_loss(model, data.validation, world)[0] if base is not None else math.inf
            position = Position(start_loss=start, best_loss=start, new_words=added, world=world.size)
            # How words in parts go on in this run's text, added to what the base model counted.
            model.set_word_parts(learn_word_parts(data.notes, vocab, model.word_parts))
        training = cls(
            out,
            config,
            world,
            progress,
            model,
            vocab,
            data,
            optimizer,
            net,
            position,
            record,
            selection,
            resumed=resume is not None,
            fine_tuning=base is not None,
            spacing=learn_spacing(selection.train, base.spacing if base is not None else None),
            hidden=hidden,
        )
        training.best_path = out if position.best_saved else None
        return training

    # ----- the epochs -------------------------------------------------------------------------
    def run_epochs(self) -> None:
        """Epoch after epoch until the last, early stopping or the time limit; Ctrl-C raises
        KeyboardInterrupt at the next step boundary."""
        with self.interrupts.deferred():
            while self.position.epoch <= self.config.epochs:
                stop = self.run_epoch()
                self.model.train()
                if stop is not None:
                    self.stop_reason = stop
                    return
                self.position.epoch, self.position.window, self.hidden = self.position.epoch + 1, 0, None
                if self.position.epoch <= self.config.epochs:
                    self.save_state()

    def run_epoch(self) -> str | None:
        """The steps of one epoch (those left of it, when resumed), then validation: why the run
        stops, or None to go on."""
        p, config = self.position, self.config
        self.progress.start_epoch(p.epoch, config.epochs, self.data.train.numel() * self.world.size)
        done = p.window
        for w, (inputs, targets) in enumerate(windows(self.data.train, config.bptt)):
            if w < done:
                continue
            self.train_step(inputs, targets)
            since_validation = time.monotonic() - self.last_validation
            want_validation = config.valid_every_minutes > 0 and since_validation >= config.valid_every_minutes * 60
            time_up, want_validation, stop_asked = self.world.any(
                [self.seconds() >= self.max_seconds, want_validation, self.interrupts.requested]
            )
            if stop_asked:
                raise KeyboardInterrupt
            if time_up:
                self.progress.end_epoch()
                self.validate(p.epoch_float)
                return f"reached the {config.max_minutes:g}-minute limit"
            if want_validation:
                if self.validate(p.epoch_float):
                    self.progress.end_epoch()
                    return "validation stopped improving"
                self.model.train()
                self.save_state()
        self.progress.end_epoch()
        return "validation stopped improving" if self.validate(float(p.epoch)) else None

    def train_step(self, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        """One optimizer step on the next window of every stream, then the position moves on."""
        p, config, model = self.position, self.config, self.model
        lr = config.learning_rate(self.fraction_done(), p.step, self.total_steps, p.plateau)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        state = None if self.hidden is None else tuple((h.detach(), c.detach()) for h, c in self.hidden)
        hidden, new_state = self.net(inputs, state)
        if self.sampled:
            loss = model.sampled_loss(hidden, targets, self.sampled, self.data.unigram)
        else:
            loss = model.full_loss(hidden, targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        self.optimizer.step()
        # The step is complete: this is the position --resume continues from.
        self.hidden, p.window, p.step = new_state, p.window + 1, p.step + 1
        step_tokens = targets.numel() * self.world.size
        p.tokens += step_tokens
        p.epoch_float = p.epoch - 1 + p.window / self.steps_per_epoch
        running = time.monotonic() - self.started
        rate = (p.tokens - self.tokens_before) / max(running, 1e-9)
        eta = min(
            (self.total_steps - p.step) * running / max(1, p.step - self.steps_before),
            self.max_seconds - self.seconds(),
        )
        self.progress.update(step_tokens, self.fraction_done(), loss.item(), rate, max(0.0, eta), p.epoch)

    def seconds(self) -> float:
        """Training time so far, the interrupted run's included."""
        return self.seconds_before + time.monotonic() - self.started

    def fraction_done(self) -> float:
        """How far the run is, by steps or by the time limit, whichever is further."""
        return min(1.0, max(self.position.step / self.total_steps, self.seconds() / self.max_seconds))

    # ----- validation -------------------------------------------------------------------------
    def validate(self, epochs: float) -> bool:
        """Validate; keep the model if it is the best so far. True when training should stop."""
        p = self.position
        self.last_validation = time.monotonic()
        loss, parts = estimate_loss(self.model, self.data.validation, self.world)
        improved = loss < p.best_loss - IMPROVEMENT
        extra = {"parts": {k: round(math.exp(v), 2) for k, v in parts.items()}} if len(parts) > 1 else {}
        self.progress.event(
            "validation",
            epoch=round(epochs, 3),
            loss=round(loss, 4),
            perplexity=round(math.exp(loss), 2),
            best=improved,
            **extra,
        )
        detail = f" ({', '.join(f'{k} {math.exp(v):.1f}' for k, v in parts.items())})" if len(parts) > 1 else ""
        self.progress.note(
            f"validation after {epochs:.2f} epochs: perplexity {math.exp(loss):.1f}{detail}"
            f"{' (best so far, saved)' if improved else ''}"
        )
        if improved:
            p.best_loss, p.bad_validations = loss, 0
            self.best_path = self.save_model(epochs, p.best_loss) if self.world.main else self.out
        else:
            p.bad_validations += 1
            p.plateau *= 0.5  # a plateau: smaller steps before giving up
        return p.bad_validations >= self.config.patience

    # ----- what the run writes ------------------------------------------------------------------
    def checkpoint_info(self) -> dict[str, Any]:
        """The training record of the checkpoints this run writes."""
        p = self.position
        info = {
            **self.record.info,
            "new_words": p.new_words,
            "base_vocab_size": len(self.vocab) - p.new_words,
            "start_perplexity": round(math.exp(p.start_loss), 3) if p.start_loss < math.inf else None,
        }
        if self.world.size > 1:
            info["processes"] = self.world.size
        return info

    def save_model(self, epochs: float, loss: float) -> Path:
        """Write the model as it is now at ``out``, as not yet complete (it has not learned the run's files)."""
        record = {
            **self.checkpoint_info(),
            "learned": self.record.manifest,
            "complete": False,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "epochs": round(epochs, 3),
            "valid_perplexity": round(math.exp(loss), 3) if loss < math.inf else None,
            "trained_tokens": self.position.tokens,
            "training_minutes": round(self.seconds() / 60, 2),
            "train_config": self.config.to_dict(),
        }
        return save_checkpoint(self.out, self.model, self.vocab, info=record, spacing=self.spacing)

    def state(self) -> TrainingState:
        """What --resume needs to continue from this step boundary."""
        hidden = None
        if not self.world.distributed and self.hidden is not None:
            hidden = tuple((h.detach().cpu(), c.detach().cpu()) for h, c in self.hidden)
        position = replace(self.position, seconds=self.seconds(), best_saved=self.best_path is not None)
        return TrainingState(
            self.model, self.vocab, position, self.record, self.optimizer.state_dict(), torch.get_rng_state(), hidden
        )

    def save_state(self) -> None:
        if self.world.main:
            save_state(resume_path(self.out), self.state())

    # ----- the end ------------------------------------------------------------------------------
    def finish(self, interrupted: bool) -> TrainResult:
        """Write what the run leaves: when it finished, the best model with the run's files
        recorded as learned; when interrupted, the state to resume from."""
        self.model.eval()
        kept_state = None
        state_path = resume_path(self.out)
        if interrupted:
            if self.world.main:
                if self.best_path is None and not self.fine_tuning and not self.resumed:
                    # A new model that never validated: what we have is the best so far.
                    self.best_path = self.save_model(self.position.epoch_float, math.inf)
                try:
                    kept_state = save_state(state_path, self.state())
                except KeyboardInterrupt:
                    kept_state = state_path if state_path.is_file() else None  # the last validation's state stands
        elif self.world.main:
            if self.best_path is not None:
                learned = self.selection.manifest(self.record.manifest)
                record_learned(self.best_path, learned, self.data.notes, self.stop_reason)
            state_path.unlink(missing_ok=True)
        if self.world.distributed and not interrupted:
            self.world.barrier()  # the others wait for process 0's files before they report done
        return conclude(self, interrupted, kept_state)


def train(
    corpus: Corpus,
    out: Path,
    config: TrainConfig,
    model_config: ModelConfig | None = None,
    base: Checkpoint | None = None,
    progress: Progress | None = None,
    info: dict[str, Any] | None = None,
    *,
    selection: Selection | None = None,
    manifest: dict[str, str] | None = None,
    run: RunRequest | None = None,
    resume: TrainingState | None = None,
    world: World | None = None,
) -> TrainResult:
    """Train a model on ``corpus`` (from ``base`` if given) and keep the best one at ``out``.

    ``selection`` says which documents to train and validate on (default: all of the
    corpus's), ``manifest`` the files the starting model had learned (kept in the output,
    with this run's files added when it finishes), ``info`` the training record its
    checkpoints carry, ``run`` how the run was asked for (kept in the training state for
    ``--resume``), ``resume`` a training state to continue, and ``world`` this process's
    place among DistributedDataParallel processes."""
    world = world or World()
    progress = progress if progress is not None and world.main else Progress("none")
    selection = selection or Selection(train=list(corpus.train), valid=list(corpus.valid))
    record = RunRecord(
        request=run or RunRequest(paths=[]),
        config=config,
        manifest=dict(manifest or {}),
        data=selection.digest(),
        info=dict(info or {}),
    )
    training = Training.set_up(Path(out), config, record, selection, world, progress, model_config, base, resume)
    announce(training)
    try:
        training.run_epochs()
    except KeyboardInterrupt:
        progress.end_epoch()
        training.stop_reason = "interrupted"
        return training.finish(interrupted=True)
    return training.finish(interrupted=False)
