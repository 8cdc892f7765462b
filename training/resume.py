"""The state an interrupted training run leaves behind, so ``nextword train --resume`` can go on.

It is a checkpoint file of its own beside the model (``model.safetensors`` gets
``model.resume.safetensors``), written with the one checkpoint writer (atomically, no
pickle): the weights in full precision, the vocabulary (grown words included), the
optimizer's moments, the random generator and the text streams' hidden state as extra
tensors, and the position and the run's settings as JSON in its info. It is written at
every validation and when training is interrupted, and deleted when a run finishes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from nextword.model import LanguageModel, Vocabulary, load_checkpoint, save_checkpoint
from nextword.model.checkpoint import CheckpointError
from nextword.model.errors import NextwordError

KIND = "nextword-training-state"


def resume_path(out: str | os.PathLike[str]) -> Path:
    """Where the training state of a run writing ``out`` is kept."""
    out = Path(out)
    return out.with_name(f"{out.stem}.resume{out.suffix or '.safetensors'}")


@dataclass
class TrainingState:
    """Everything needed to continue a run at a step boundary."""

    model: LanguageModel
    vocab: Vocabulary
    position: dict[str, Any]  # epoch and window to run next, step, counters, best loss so far...
    run: dict[str, Any]  # how the run was asked for (paths, settings, manifest before it)
    optimizer: dict[str, Any] | None = None  # the optimizer's state_dict
    rng: torch.Tensor | None = None
    hidden: tuple[tuple[torch.Tensor, torch.Tensor], ...] | None = None  # per layer (h, c), all streams
    path: Path | None = None
    extra_info: dict[str, Any] = field(default_factory=dict)


def save_state(path: Path, state: TrainingState) -> Path:
    extra: dict[str, torch.Tensor] = {}
    groups = None
    if state.optimizer is not None:
        for index, entry in state.optimizer["state"].items():
            for key, value in entry.items():
                extra[f"opt.{index}.{key}"] = value if isinstance(value, torch.Tensor) else torch.tensor(value)
        groups = state.optimizer["param_groups"]
    if state.rng is not None:
        extra["rng"] = state.rng
    for layer, (h, c) in enumerate(state.hidden or ()):
        extra[f"hidden.{layer}.h"], extra[f"hidden.{layer}.c"] = h, c
    info = {"kind": KIND, "position": state.position, "run": state.run, "param_groups": groups}
    return save_checkpoint(path, state.model, state.vocab, info=info, dtype=torch.float32, extra=extra)


def load_state(path: Path) -> TrainingState:
    """The state saved at ``path``; a clear error when there is none or it is damaged."""
    if not path.is_file():
        raise NextwordError(
            f"there is no interrupted training to resume ({path} does not exist); start one with `nextword train NOTES`"
        )
    again = (
        "start the run again without --resume (it starts from the best model saved so far), e.g. `nextword train NOTES`"
    )
    try:
        checkpoint = load_checkpoint(path)
    except CheckpointError as e:
        raise NextwordError(
            f"the training state {path} cannot be read, so the run cannot go on where it stopped ({_reason(e, path)}); {again}"
        ) from None
    info = checkpoint.info
    if info.get("kind") != KIND or not isinstance(info.get("position"), dict) or not isinstance(info.get("run"), dict):
        raise NextwordError(f"{path} is not the state of an interrupted training run; {again}")
    position, run = info["position"], info["run"]
    complete = (
        isinstance(run.get("paths"), list)
        and isinstance(run.get("train_config"), dict)
        and all(isinstance(position.get(k), (int, float)) for k in ("start_loss", "best_loss"))
    )
    if complete:
        from .config import TrainConfig

        try:
            TrainConfig(**run["train_config"])
        except (TypeError, ValueError):
            complete = False
    if not complete:
        raise NextwordError(f"the training state {path} is incomplete or from another version of nextword; {again}")
    extra = checkpoint.extra
    optimizer = None
    if info.get("param_groups") is not None:
        entries: dict[int, dict[str, torch.Tensor]] = {}
        for name, value in extra.items():
            if name.startswith("opt."):
                _, index, key = name.split(".", 2)
                entries.setdefault(int(index), {})[key] = value
        optimizer = {"state": entries, "param_groups": info["param_groups"]}
    layers = sorted({int(name.split(".")[1]) for name in extra if name.startswith("hidden.")})
    hidden = tuple((extra[f"hidden.{i}.h"], extra[f"hidden.{i}.c"]) for i in layers) or None
    model = checkpoint.model
    model.train()
    return TrainingState(
        model, checkpoint.vocab, info["position"], info["run"], optimizer, extra.get("rng"), hidden, path
    )


def _reason(error: Exception, path: Path) -> str:
    """What a CheckpointError says is wrong, without the advice meant for a model."""
    text = str(error).removeprefix(str(path)).strip()
    return text.split("; ")[0] if "; " in text else text
