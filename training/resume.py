"""The state an interrupted training run leaves behind, so ``nextword train --resume`` can go on.

It is a checkpoint file of its own beside the model (``model.safetensors`` gets
``model.resume.safetensors``), written with the one checkpoint writer (atomically, no
pickle): the weights in full precision, the vocabulary (grown words included), the
optimizer's moments, the random generator and the text streams' hidden state as extra
tensors, and the run's position and how it was asked for as JSON in its info, each a typed
record checked field by field when it is read back. It is written at every validation and
when training is interrupted, and deleted when a run finishes.
"""

from __future__ import annotations

import os
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

import torch
from nextword.model import LanguageModel, Vocabulary, load_checkpoint, save_checkpoint
from nextword.model.checkpoint import CheckpointError
from nextword.model.errors import NextwordError

from .config import TrainConfig

KIND = "nextword-training-state"

Hidden = tuple[tuple[torch.Tensor, torch.Tensor], ...]  # per layer (h, c), every text stream


def resume_path(out: str | os.PathLike[str]) -> Path:
    """Where the training state of a run writing ``out`` is kept."""
    out = Path(out)
    return out.with_name(f"{out.stem}.resume{out.suffix or '.safetensors'}")


@dataclass
class RunRequest:
    """How a run was asked for: where ``--resume`` reads the notes again."""

    paths: list[str]  # the folders and files of notes, resolved
    exclude: list[str] = field(default_factory=list)  # --exclude patterns
    ext: list[str] | None = None  # --ext extensions (None: the defaults)
    include_test_split: bool = False  # --include-test-split
    full: bool = False  # --full: every file, from the starting model


@dataclass
class Position:
    """Where a run stands at a step boundary, and the counters it carries on with."""

    start_loss: float  # the starting model's validation loss (inf for a new model)
    best_loss: float  # the best validation loss so far
    epoch: int = 1  # the epoch under way, from 1
    window: int = 0  # windows of that epoch done
    step: int = 0  # optimizer steps done
    tokens: int = 0  # tokens trained on, by every process together
    bad_validations: int = 0  # validations in a row that did not improve
    plateau: float = 1.0  # learning-rate factor, halved by each validation that did not improve
    seconds: float = 0.0  # time spent training
    best_saved: bool = False  # whether the best model so far is written at --out
    epoch_float: float = 0.0  # epochs done, with the fraction of the one under way
    new_words: int = 0  # words the run added to the vocabulary
    world: int = 1  # training processes


@dataclass
class RunRecord:
    """What ``--resume`` needs to run an interrupted run again as it was."""

    request: RunRequest
    config: TrainConfig
    manifest: dict[str, str]  # the files the starting model had learned
    data: str  # the fingerprint of what the run trains and validates on (``Selection.digest``)
    info: dict[str, Any]  # the training record its checkpoints carry

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self.request),
            "train_config": self.config.to_dict(),
            "manifest": self.manifest,
            "data": self.data,
            "info": self.info,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        return cls(
            request=typed(RunRequest, data, "run"),
            config=typed(TrainConfig, data.get("train_config"), "run.train_config"),
            manifest=typed_value(data.get("manifest", {}), dict[str, str], "run.manifest"),
            data=typed_value(data.get("data"), str, "run.data"),
            info=typed_value(data.get("info", {}), dict[str, Any], "run.info"),
        )


@dataclass
class TrainingState:
    """Everything needed to continue a run at a step boundary."""

    model: LanguageModel
    vocab: Vocabulary
    position: Position
    run: RunRecord
    optimizer: dict[str, Any] | None = None  # the optimizer's state_dict
    rng: torch.Tensor | None = None  # torch's random generator
    hidden: Hidden | None = None  # the text streams' state after the last step (one process only)
    path: Path | None = None  # the file it was read from


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
    info = {"kind": KIND, "position": asdict(state.position), "run": state.run.to_json(), "param_groups": groups}
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
    if info.get("kind") != KIND:
        raise NextwordError(f"{path} is not the state of an interrupted training run; {again}")
    try:
        position = typed(Position, info.get("position"), "position")
        run = RunRecord.from_json(typed_value(info.get("run"), dict[str, Any], "run"))
    except StateError as e:
        raise NextwordError(
            f"the training state {path} is incomplete or from another version of nextword ({e}); {again}"
        ) from None
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
    return TrainingState(model, checkpoint.vocab, position, run, optimizer, extra.get("rng"), hidden, path)


def _reason(error: Exception, path: Path) -> str:
    """What a CheckpointError says is wrong, without the advice meant for a model."""
    text = str(error).removeprefix(str(path)).strip()
    return text.split("; ")[0] if "; " in text else text


# ----- typed records from JSON ------------------------------------------------------------------
class StateError(ValueError):
    """A record of the training state that lacks a field, or holds a value of the wrong type."""


Record = TypeVar("Record")


def typed(cls: type[Record], data: object, where: str) -> Record:
    """An instance of the dataclass ``cls`` from its JSON object ``data``, each field checked
    against its annotation; fields missing from ``data`` take their defaults."""
    if not isinstance(data, dict):
        raise StateError(f"{where} is missing or not an object")
    hints = typing.get_type_hints(cls)
    values = {}
    for f in fields(cls):  # type: ignore[arg-type]  # cls is a dataclass
        if f.name in data:
            values[f.name] = typed_value(data[f.name], hints[f.name], f"{where}.{f.name}")
        elif f.default is MISSING and f.default_factory is MISSING:
            raise StateError(f"{where} lacks {f.name}")
    return cls(**values)


def typed_value(value: Any, hint: Any, where: str) -> Any:
    """``value`` if it is of the type ``hint`` (an int where a float is meant becomes a float)."""
    if not _conforms(value, hint):
        wanted = hint.__name__ if isinstance(hint, type) else str(hint)
        raise StateError(f"{where} is {str(value)[:40]!r}, not of type {wanted}")
    return float(value) if hint is float else value


def _conforms(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (types.UnionType, typing.Union):
        return any(_conforms(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin is list:
        return isinstance(value, list) and all(_conforms(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            _conforms(k, args[0]) and _conforms(v, args[1]) for k, v in value.items()
        )
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)
