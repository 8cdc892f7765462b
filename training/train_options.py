"""``nextword train``'s options once parsed: which apply to what, the values they may take, and
the training and model configurations they make."""

from __future__ import annotations

import argparse
import math

from nextword.model import ModelConfig, NextwordError
from nextword.model.vocab import SPECIALS

from .config import TrainConfig, default_config

# Options by what they apply to, as dest -> flag: a fresh run on --resume ignores them all
# (it continues with the interrupted run's own settings), fine-tuning ignores NEW_MODEL's and a
# new model FINE_TUNING's; given where they do not apply, they are named in a warning.
TRAINING = {
    "epochs": "--epochs",
    "max_minutes": "--max-minutes",
    "lr": "--lr",
    "batch_size": "--batch-size",
    "bptt": "--bptt",
    "sampled": "--sampled",
    "patience": "--patience",
    "valid_every_minutes": "--valid-every-minutes",
    "seed": "--seed",
}
FINE_TUNING = {"new_word_min_count": "--new-word-min-count", "max_new_words": "--max-new-words"}
NEW_MODEL = {
    "max_vocab": "--max-vocab",
    "min_count": "--min-count",
    "emb_dim": "--emb-dim",
    "hidden_dim": "--hidden-dim",
    "layers": "--layers",
    "proj_dim": "--proj-dim",
    "dropout": "--dropout",
}
CORPUS = {"exclude": "--exclude", "ext": "--ext", "include_test_split": "--include-test-split"}

# Upper bounds on the sizes: far beyond what trains in hours on a computer, they catch a typo
# (an extra zero) before it asks for more memory than there is.
MOST = {
    "--batch-size": 4096,
    "--bptt": 4096,
    "--max-vocab": 1_000_000,
    "--emb-dim": 4096,
    "--hidden-dim": 4096,
    "--layers": 16,
    "--proj-dim": 4096,
}
MAX_SEED = 2**63 - 1  # as `nextword generate` takes


def _given(args: argparse.Namespace, options: dict[str, str]) -> list[str]:
    """The flags among ``options`` given on the command line (they all default to None, False or [])."""
    return [
        flag
        for dest, flag in options.items()
        if (value := getattr(args, dest)) is not None and value is not False and value != []
    ]


def ignored_warning(args: argparse.Namespace) -> str | None:
    """The warning naming the options given where they do not apply, if any were (before
    ``check_options`` fills in the defaults)."""
    if args.resume:
        ignored = _given(args, TRAINING | FINE_TUNING | NEW_MODEL | CORPUS)
        if not ignored:
            return None
        return f"warning: --resume continues the interrupted run with its own settings; ignoring {', '.join(ignored)}"
    ignored = _given(args, FINE_TUNING if args.from_scratch else NEW_MODEL)
    if not ignored:
        return None
    where = (
        "when fine-tuning; ignored with --from-scratch"
        if args.from_scratch
        else "to a new model (with --from-scratch); ignored when fine-tuning"
    )
    return f"warning: {', '.join(ignored)} appl{'ies' if len(ignored) == 1 else 'y'} only {where}"


def check_options(args: argparse.Namespace) -> None:
    """Refuse values out of range and options that do not go together, then fill in the
    defaults of the options not given."""
    _check_ranges(args)
    if args.full and (args.from_scratch or args.resume):
        raise NextwordError(
            "--full starts over from the shipped model (or --from); it does not go with --from-scratch or --resume"
        )
    if not args.paths and not args.resume:
        raise NextwordError("name at least one folder or file of notes, e.g. `nextword train ~/notes`")
    t, m = TrainConfig(), ModelConfig()
    defaults = {
        "batch_size": t.batch_size,
        "bptt": t.bptt,
        "sampled": t.sampled,
        "valid_every_minutes": t.valid_every_minutes,
        "seed": t.seed,
        "new_word_min_count": t.new_word_min_count,
        "max_new_words": t.max_new_words,
        "max_vocab": t.max_vocab,
        "min_count": t.min_count,
        "emb_dim": m.emb_dim,
        "hidden_dim": m.hidden_dim,
        "layers": m.num_layers,
        "proj_dim": m.proj_dim,
        "dropout": m.dropout,
    }
    for dest, value in defaults.items():
        if getattr(args, dest) is None:
            setattr(args, dest, value)
    if args.from_scratch and args.proj_dim and args.proj_dim >= args.hidden_dim:
        raise NextwordError("--proj-dim must be smaller than --hidden-dim")


def _check_ranges(args: argparse.Namespace) -> None:
    least = {
        "--epochs": (args.epochs, 1),
        "--batch-size": (args.batch_size, 1),
        "--bptt": (args.bptt, 1),
        "--max-vocab": (args.max_vocab, len(SPECIALS) + 1),
        "--emb-dim": (args.emb_dim, 1),
        "--hidden-dim": (args.hidden_dim, 1),
        "--layers": (args.layers, 1),
        "--patience": (args.patience, 1),
        "--min-count": (args.min_count, 1),
        "--sampled": (args.sampled, 0),
        "--proj-dim": (args.proj_dim, 0),
        "--new-word-min-count": (args.new_word_min_count, 0),
        "--max-new-words": (args.max_new_words, 0),
    }
    for flag, (value, low) in least.items():
        if value is not None and value < low:
            why = f" (the vocabulary's {len(SPECIALS)} special tokens and a word)" if flag == "--max-vocab" else ""
            raise NextwordError(f"{flag} must be at least {low}{why}, not {value}")
        if value is not None and value > MOST.get(flag, math.inf):
            raise NextwordError(
                f"{flag} {value} is far too large (at most {MOST[flag]:,}); "
                "a model or a batch that size needs more memory than a computer has"
            )
    if args.seed is not None and not 0 <= args.seed <= MAX_SEED:
        raise NextwordError(f"--seed must be a whole number from 0 to {MAX_SEED}, not {args.seed}")
    floats = {
        "--lr": (args.lr, "a positive number", lambda v: v > 0),
        "--max-minutes": (args.max_minutes, "a number of minutes, 0 or more (0 for no limit)", lambda v: v >= 0),
        "--valid-every-minutes": (
            args.valid_every_minutes,
            "a number of minutes, 0 or more (0 for once per epoch)",
            lambda v: v >= 0,
        ),
        "--dropout": (args.dropout, "a number from 0 up to, not including, 1", lambda v: 0 <= v < 1),
    }
    for flag, (value, wanted, ok) in floats.items():
        if value is not None and not (math.isfinite(value) and ok(value)):
            raise NextwordError(f"{flag} must be {wanted}, not {value:g}")


def train_config(args: argparse.Namespace, finetune: bool) -> TrainConfig:
    """The training configuration the options ask for, over the defaults for fine-tuning or for a new model."""
    defaults = default_config(finetune)
    return TrainConfig(
        **{
            **defaults.to_dict(),
            "epochs": args.epochs or defaults.epochs,
            "lr": args.lr or defaults.lr,
            "patience": args.patience or defaults.patience,
            "batch_size": args.batch_size,
            "bptt": args.bptt,
            "sampled": args.sampled,
            "max_minutes": defaults.max_minutes if args.max_minutes is None else args.max_minutes,
            "min_count": args.min_count,
            "max_vocab": args.max_vocab,
            "valid_every_minutes": args.valid_every_minutes,
            "seed": args.seed,
            "new_word_min_count": args.new_word_min_count,
            "max_new_words": args.max_new_words,
        }
    )


def model_config(args: argparse.Namespace) -> ModelConfig:
    """The shape of a new model the options ask for."""
    return ModelConfig(
        emb_dim=args.emb_dim,
        hidden_dim=args.hidden_dim,
        num_layers=args.layers,
        proj_dim=args.proj_dim,
        dropout=args.dropout,
    )
