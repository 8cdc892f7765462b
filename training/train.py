"""The training loop: many-to-many cross-entropy with truncated backpropagation through time,
sampled softmax, gradient clipping, validation with the full softmax, best-checkpoint keeping,
early stopping, and a clean stop on Ctrl-C that leaves the best model so far on disk."""

from __future__ import annotations

import math
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from nextword.model import Checkpoint, LanguageModel, ModelConfig, NextwordError, Vocabulary, save_checkpoint
from nextword.model.tokenize import tokenize

from .batches import batchify, encode_documents, windows
from .config import TrainConfig
from .corpus import Corpus
from .progress import Progress

MAX_VALID_TOKENS = 50_000  # validation is exact (full softmax); this bounds its cost


@dataclass
class TrainResult:
    """What a training run produced."""

    path: Path | None  # the best checkpoint written (None if nothing was)
    valid_perplexity: float
    epochs: float
    tokens_per_second: float
    interrupted: bool
    stop_reason: str


def build_vocabulary(corpus: Corpus, config: TrainConfig) -> Vocabulary:
    counts: Counter[str] = Counter()
    for doc in corpus.train:
        counts.update(tokenize(doc.text))
    return Vocabulary.build(counts, min_count=config.min_count, max_size=config.max_vocab)


@torch.inference_mode()
def evaluate_loss(model: LanguageModel, data: torch.Tensor, bptt: int = 128) -> float:
    """Mean cross-entropy (full softmax) of ``model`` on batchified ``data``."""
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    for inputs, targets in windows(data, bptt):
        hidden, state = model(inputs, state)
        total += float(model.full_loss(hidden, targets, reduction="sum"))
        count += targets.numel()
    model.train(was_training)
    return total / max(count, 1)


def _learning_rate(config: TrainConfig, progress: float, step: int, total_steps: int, plateau: float) -> float:
    warm = min(1.0, (step + 1) / max(1, min(config.warmup_steps, total_steps // 10)))
    cosine = config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.lr * warm * cosine * plateau


def train(
    corpus: Corpus,
    out: Path,
    config: TrainConfig,
    model_config: ModelConfig | None = None,
    base: Checkpoint | None = None,
    progress: Progress | None = None,
    info: dict | None = None,
) -> TrainResult:
    """Train a model on ``corpus`` (from ``base`` if given) and keep the best one at ``out``."""
    progress = progress or Progress("none")
    torch.manual_seed(config.seed)
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    if base is not None:
        vocab, model = base.vocab, base.model
    else:
        vocab = build_vocabulary(corpus, config)
        model = LanguageModel(ModelConfig(**{**(model_config or ModelConfig()).to_dict(), "vocab_size": len(vocab)}))
    train_ids = encode_documents([d.text for d in corpus.train], vocab)
    valid_ids = encode_documents([d.text for d in corpus.valid], vocab) if corpus.valid else None
    if len(train_ids) < 16:
        raise NextwordError(f"too little text to train on ({len(train_ids)} tokens); give nextword a folder with more notes")
    if valid_ids is None or len(valid_ids) < 16:
        # One small document: hold out its end for validation.
        cut = max(8, len(train_ids) // 10)
        train_ids, valid_ids = train_ids[:-cut], train_ids[-cut - 1 :]
    valid_ids = valid_ids[:MAX_VALID_TOKENS]

    train_data = batchify(train_ids, config.batch_size)
    valid_data = batchify(valid_ids, min(16, config.batch_size))
    counts = torch.bincount(train_ids, minlength=len(vocab)).float()
    unigram = counts / counts.sum()
    sampled = config.sampled if 0 < config.sampled < len(vocab) // 2 else 0

    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil((train_data.size(0) - 1) / config.bptt)
    total_steps = steps_per_epoch * config.epochs
    max_seconds = config.max_minutes * 60 if config.max_minutes > 0 else math.inf
    progress.event("start", tokens=len(train_ids), valid_tokens=len(valid_ids), vocabulary=len(vocab), parameters=sum(p.numel() for p in model.parameters()), steps=total_steps)
    progress.note(f"training on {len(train_ids):,} tokens ({len(corpus.train)} files), validating on {len(valid_ids):,} ({len(corpus.valid)} files); vocabulary {len(vocab):,}")

    info = dict(info or {})
    best_loss = evaluate_loss(model, valid_data) if base is not None else math.inf
    best_path: Path | None = None
    bad_validations, plateau, step = 0, 1.0, 0
    started = time.monotonic()
    last_valid = started
    tokens_done = 0
    interrupted, stop_reason = False, "finished all epochs"
    epoch_float = 0.0

    def validate(epoch_float: float) -> bool:
        """Validate; keep the model if it is the best so far. True when training should stop."""
        nonlocal best_loss, best_path, bad_validations, plateau, last_valid
        last_valid = time.monotonic()
        loss = evaluate_loss(model, valid_data)
        improved = loss < best_loss - 1e-4
        progress.event("validation", epoch=round(epoch_float, 3), loss=round(loss, 4), perplexity=round(math.exp(loss), 2), best=improved)
        progress.note(f"validation after {epoch_float:.2f} epochs: perplexity {math.exp(loss):.1f}{' (best so far, saved)' if improved else ''}")
        if improved:
            best_loss, bad_validations = loss, 0
            best_path = _save(model, vocab, out, info, config, epoch_float, best_loss, tokens_done, started)
        else:
            bad_validations += 1
            plateau *= 0.5  # a plateau: smaller steps before giving up
        return bad_validations >= config.patience

    model.train()
    try:
        stop = False
        for epoch in range(1, config.epochs + 1):
            progress.start_epoch(epoch, config.epochs, train_data.numel())
            state = None
            for inputs, targets in windows(train_data, config.bptt):
                t0 = time.monotonic()
                elapsed = t0 - started
                lr = _learning_rate(config, max(step / total_steps, elapsed / max_seconds), step, total_steps, plateau)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                if state is not None:
                    state = tuple((h.detach(), c.detach()) for h, c in state)
                hidden, state = model(inputs, state)
                loss = model.sampled_loss(hidden, targets, sampled, unigram) if sampled else model.full_loss(hidden, targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
                optimizer.step()
                step += 1
                tokens_done += targets.numel()
                now = time.monotonic()
                rate = tokens_done / max(now - started, 1e-9)
                epoch_float = epoch - 1 + (step - (epoch - 1) * steps_per_epoch) / steps_per_epoch
                eta = min((total_steps - step) * (now - started) / step, max_seconds - (now - started))
                progress.update(targets.numel(), min(1.0, max(step / total_steps, (now - started) / max_seconds)), loss.item(), rate, max(0.0, eta), epoch)
                if now - started >= max_seconds:
                    stop, stop_reason = True, f"reached the {config.max_minutes:g}-minute limit"
                    break
                if config.valid_every_minutes > 0 and now - last_valid >= config.valid_every_minutes * 60:
                    if validate(epoch_float):
                        stop, stop_reason = True, "validation stopped improving"
                        break
                    model.train()
            progress.end_epoch()
            if not stop and validate(float(epoch)):
                stop, stop_reason = True, "validation stopped improving"
            elif stop:
                validate(epoch_float)
            model.train()
            if stop:
                break
    except KeyboardInterrupt:
        progress.end_epoch()
        interrupted, stop_reason = True, "interrupted"
        if best_path is None:
            # Nothing validated yet: what we have is the best so far.
            best_path = _save(model, vocab, out, info, config, epoch_float, math.inf, tokens_done, started)
    model.eval()
    elapsed = time.monotonic() - started
    result = TrainResult(best_path, math.exp(best_loss) if best_loss < math.inf else math.inf, epoch_float, tokens_done / max(elapsed, 1e-9), interrupted, stop_reason)
    progress.event("done", path=str(best_path) if best_path else None, perplexity=round(result.valid_perplexity, 2), tokens_per_second=round(result.tokens_per_second), interrupted=interrupted, reason=stop_reason)
    return result


def _save(model, vocab, out: Path, info: dict, config: TrainConfig, epochs: float, loss: float, tokens: int, started: float) -> Path:
    record = {
        **info,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "epochs": round(epochs, 3),
        "valid_perplexity": round(math.exp(loss), 3) if loss < math.inf else None,
        "trained_tokens": tokens,
        "training_minutes": round((time.monotonic() - started) / 60, 2),
        "train_config": config.to_dict(),
    }
    return save_checkpoint(out, model, vocab, info=record)
