"""What a ``nextword train`` run will do, from its options: the notes it reads, the model it starts
from (the shipped one, yours, ``--from``, a new one, or an interrupted run's state), what it
trains on and with which settings."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nextword.model import Checkpoint, CheckpointError, ModelConfig, NextwordError, load_checkpoint
from nextword.model.model_file import learned_files

from .config import TrainConfig
from .corpus import DEFAULT_EXTENSIONS, Corpus, load_corpus
from .finetune import Selection, select
from .resume import RunRequest, TrainingState, load_state, resume_path
from .train_options import model_config, train_config

Say = Callable[[str], None]


@dataclass
class Plan:
    """A run's arguments to ``train``."""

    corpus: Corpus
    selection: Selection  # what it trains and validates on
    config: TrainConfig
    manifest: dict[str, str]  # the files the starting model has learned
    request: RunRequest  # how it was asked for, kept for --resume
    info: dict[str, Any]  # the training record its checkpoints carry
    model_config: ModelConfig | None = None  # a new model's shape
    base: Checkpoint | None = None  # the model it fine-tunes
    state: TrainingState | None = None  # the interrupted run it continues


def resolved(path: str) -> str:
    try:
        return str(Path(path).expanduser().resolve())
    except (OSError, RuntimeError) as e:  # RuntimeError: a loop of symbolic links
        raise NextwordError(f"cannot follow {path} ({e}); name a folder or file of notes") from None


def _out_option(args: argparse.Namespace, out: Path) -> str:
    return f" --out {shlex.quote(str(out))}" if args.out else ""


def resumed_plan(args: argparse.Namespace, out: Path, say: Say) -> Plan:
    """The interrupted run that was writing ``out``, as it was asked for, on the same notes."""
    state = load_state(resume_path(out))
    request = state.run.request
    paths = request.paths
    if args.paths and [resolved(p) for p in args.paths] != paths:
        raise NextwordError(
            f"the interrupted run was training on {', '.join(paths)}; resume it without naming paths (or with the same ones)"
        )
    gone = [p for p in paths if not Path(p).exists()]
    if gone:
        one = len(gone) == 1
        raise NextwordError(
            f"the interrupted run was training on {', '.join(gone)}, which no longer exist{'s' if one else ''}; "
            f"put {'it' if one else 'them'} back and resume, or start a new run on the notes you have, "
            f"e.g. `nextword train NOTES{_out_option(args, out)}` (it starts from the best model saved so far)"
        )
    corpus = load_corpus(
        paths,
        request.ext or DEFAULT_EXTENSIONS,
        include_test_split=request.include_test_split,
        warn=say,
        exclude=request.exclude,
    )
    manifest = state.run.manifest
    selection = select(corpus, manifest, full=request.full)
    if selection.digest() != state.run.data:
        raise NextwordError(
            "the notes changed since the interrupted run, so it cannot go on where it stopped; "
            f"run `nextword train {' '.join(map(shlex.quote, paths))}{_out_option(args, out)}` again "
            "(it starts from the best model saved so far)"
        )
    say(f"resuming the interrupted run at epoch {state.position.epoch}, step {state.position.step}")
    return Plan(corpus, selection, state.run.config, manifest, request, state.run.info, state=state)


def new_plan(args: argparse.Namespace, out: Path, say: Say) -> Plan:
    """A run on the notes named, from the model the options name; its selection is empty when
    the model has learned every file already."""
    corpus = load_corpus(
        args.paths,
        args.ext or DEFAULT_EXTENSIONS,
        include_test_split=args.include_test_split,
        warn=say,
        exclude=args.exclude,
    )
    request = RunRequest(
        paths=[resolved(p) for p in args.paths],
        exclude=list(args.exclude),
        ext=args.ext,
        include_test_split=args.include_test_split,
        full=args.full,
    )
    base, continuing = _starting_checkpoint(args, out)
    manifest = learned_files(base.info) if base is not None and not args.full else {}
    selection = select(corpus, manifest, full=args.full)
    origin = None if base is None else (base.info.get("base_model") or str(base.path)) if continuing else str(base.path)
    command = sys.argv[2:] if sys.argv[1:2] == ["train"] else None
    info = {
        "trained_on": [str(p) for p in args.paths],
        "files": len(corpus.train) + len(corpus.valid),
        "base_model": origin,
        "started_from": str(base.path) if base is not None else None,
        "command": None if command is None else "nextword train " + " ".join(shlex.quote(a) for a in command),
    }
    config = train_config(args, finetune=base is not None)
    return Plan(corpus, selection, config, manifest, request, info, model_config(args), base)


def _starting_checkpoint(args: argparse.Namespace, out: Path) -> tuple[Checkpoint | None, bool]:
    """The model a new run fine-tunes (None: a new model), and whether it is ``out`` itself,
    which the run goes on teaching."""
    from nextword.model import default_model_path

    if args.from_scratch:
        return None, False
    if args.base:
        return load_checkpoint(args.base), False
    if out.is_file() and not args.full:
        try:
            return load_checkpoint(out), True
        except CheckpointError as e:
            raise NextwordError(f"{e}; or start over with --full (or delete it with `nextword forget`)") from None
    if not default_model_path().is_file():
        raise NextwordError(
            f"the shipped model {default_model_path()} is missing; reinstall nextword, fine-tune another model "
            "with --from CHECKPOINT, or train a new one with --from-scratch"
        )
    return load_checkpoint(default_model_path()), False
