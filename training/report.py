"""What a training run says: the start (what it trains on, from where), and the result at the
end, both to people and, as JSON events, to programs (see ``progress``)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .train import Training


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


def _perplexity(loss: float) -> float:
    return math.exp(loss) if loss < math.inf else math.inf


def announce(training: Training) -> None:
    """Say what the run trains on and from where it starts."""
    p, data, selection, world = training.position, training.data, training.selection, training.world
    start = round(math.exp(p.start_loss), 2) if p.start_loss < math.inf else None
    training.progress.event(
        "start",
        tokens=data.tokens,
        valid_tokens=data.validation_tokens,
        vocabulary=len(training.vocab),
        parameters=sum(t.numel() for t in training.model.parameters()),
        steps=training.total_steps,
        new_words=p.new_words,
        files=len(selection.train),
        already_learned=selection.already,
        processes=world.size,
        resumed=training.resumed,
        start_perplexity=start,
    )
    what = (
        f"{len(selection.train)} new or changed file(s); {selection.already} already learned"
        if selection.incremental
        else f"{len(selection.train)} file(s)"
    )
    sets = " + ".join(f"{s.tokens:,} ({s.name})" for s in data.validation)
    training.progress.note(
        f"{'resuming' if training.resumed else 'training'} on {data.tokens:,} tokens ({what}), validating on {sets}; "
        f"vocabulary {len(training.vocab):,}"
        + (f" ({p.new_words:,} new words)" if p.new_words else "")
        + (f"; {world.size} processes" if world.distributed else "")
        + (f"; starting perplexity {math.exp(p.start_loss):.1f}" if start is not None and not training.resumed else "")
    )


def conclude(training: Training, interrupted: bool, kept_state: Path | None) -> TrainResult:
    """The run's result, also told as the ``done`` event."""
    p = training.position
    elapsed = time.monotonic() - training.started
    result = TrainResult(
        training.best_path,
        _perplexity(p.best_loss),
        p.epoch_float,
        (p.tokens - training.tokens_before) / max(elapsed, 1e-9),
        interrupted,
        training.stop_reason,
        _perplexity(p.start_loss),
        p.new_words,
        kept_state,
    )
    training.progress.event(
        "done",
        path=str(training.best_path) if training.best_path else None,
        perplexity=round(result.valid_perplexity, 2),
        start_perplexity=round(result.start_perplexity, 2) if result.start_perplexity < math.inf else None,
        tokens_per_second=round(result.tokens_per_second),
        interrupted=interrupted,
        reason=training.stop_reason,
        resume=str(kept_state) if kept_state else None,
    )
    return result
