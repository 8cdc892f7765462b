"""``nextword train``: fine-tune the shipped model on folders of notes (or train a new one)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

HELP = "train the model on your notes (by default it becomes the model the server uses)"
DESCRIPTION = (
    "Fine-tune the shipped model on folders and files of notes (.md, .markdown, .txt, .rst, .org by default), "
    "adding the words of your notes it lacks, so names and jargon become predictable. Only the paths named are "
    "read; hidden folders, files matched by --exclude and by a .nextwordignore file (gitignore syntax) are left "
    "out, and so are the files in the evaluation test split, so `nextword eval` measures text the model never saw. "
    "Re-running on the same notes is incremental: the model records which files (by content hash) it has learned "
    "and trains on new or changed files only, unless --full. The best model so far is kept on disk; Ctrl-C stops "
    "cleanly and `--resume` continues where it stopped. Nothing leaves this machine. Under torchrun "
    "(`torchrun --nproc_per_node 2 -m nextword.training NOTES`) it trains on several processes."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from nextword.model.config import ModelConfig
    from nextword.training.config import FINETUNE_DEFAULTS, TrainConfig

    t, m, f = TrainConfig(), ModelConfig(), FINETUNE_DEFAULTS

    def both(field: str) -> str:
        return (
            f"{f[field]} when fine-tuning, {getattr(t, field)} for a new model"
            if field in f
            else str(getattr(t, field))
        )

    parser.add_argument("paths", nargs="*", metavar="PATH", help="folders or files of notes")
    parser.add_argument(
        "-o", "--out", metavar="FILE", help="where to write the model (default: your model in the nextword data folder)"
    )
    start = parser.add_mutually_exclusive_group()
    start.add_argument(
        "--from",
        dest="base",
        metavar="CHECKPOINT",
        help="fine-tune this model (default: your model if --out exists, else the shipped one)",
    )
    start.add_argument("--from-scratch", action="store_true", help="train a new model instead of fine-tuning one")
    start.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run that was writing --out, with its own settings",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="train on every file again, starting over from the shipped model (or --from), instead of on new and changed files only",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave out files and folders matching GLOB (gitignore syntax, relative to each folder named; repeatable)",
    )
    parser.add_argument(
        "--ext",
        action="append",
        metavar="EXT",
        help="file extensions to read, repeatable (default: .md .markdown .txt .rst .org)",
    )
    parser.add_argument(
        "--include-test-split",
        action="store_true",
        help="also train on the files `nextword eval` holds out for testing",
    )
    parser.add_argument(
        "--progress",
        choices=("bar", "json", "none"),
        default="bar" if sys.stderr.isatty() else "none",
        help="progress display: a bar, JSON lines on stdout for programs, or none",
    )
    g = parser.add_argument_group("training")
    g.add_argument("--epochs", type=int, help=f"most passes over the data (default {both('epochs')})")
    g.add_argument(
        "--max-minutes",
        type=float,
        help=f"train for at most this many minutes, 0 for no limit (default {f['max_minutes']:g} when fine-tuning, no limit for a new model)",
    )
    g.add_argument("--lr", type=float, help=f"peak learning rate (default {both('lr')})")
    g.add_argument("--batch-size", type=int, help=f"streams per step (default {t.batch_size})")
    g.add_argument("--bptt", type=int, help=f"tokens per stream per step (default {t.bptt})")
    g.add_argument(
        "--sampled", type=int, help=f"sampled-softmax negatives, 0 for the full softmax (default {t.sampled})"
    )
    g.add_argument(
        "--patience", type=int, help=f"validations without improvement before stopping (default {both('patience')})"
    )
    g.add_argument(
        "--valid-every-minutes", type=float, help="also validate this often within an epoch (default: once per epoch)"
    )
    g.add_argument("--seed", type=int, help=f"random seed (default {t.seed})")
    g = parser.add_argument_group("fine-tuning")
    g.add_argument(
        "--new-word-min-count",
        type=int,
        help=f"add a word the model lacks when your notes use it this often, 0 for never (default {t.new_word_min_count})",
    )
    g.add_argument("--max-new-words", type=int, help=f"most words added in one run (default {t.max_new_words})")
    g = parser.add_argument_group("new models (with --from-scratch)")
    g.add_argument("--max-vocab", type=int, help=f"largest vocabulary (default {t.max_vocab})")
    g.add_argument(
        "--min-count", type=int, help=f"least occurrences for a word to join the vocabulary (default {t.min_count})"
    )
    g.add_argument("--emb-dim", type=int, help=f"embedding size (default {m.emb_dim})")
    g.add_argument("--hidden-dim", type=int, help=f"LSTM units per layer (default {m.hidden_dim})")
    g.add_argument("--layers", type=int, help=f"LSTM layers (default {m.num_layers})")
    g.add_argument("--proj-dim", type=int, help="LSTM projection size, 0 for none (default 0)")
    g.add_argument("--dropout", type=float, help=f"dropout (default {m.dropout})")


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


def _check(args: argparse.Namespace) -> None:
    """Refuse values out of range, then fill in the defaults of the options not given."""
    import math

    from nextword.model import ModelConfig, NextwordError
    from nextword.model.vocab import SPECIALS
    from nextword.training.config import TrainConfig

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
                f"{flag} {value} is far too large (at most {MOST[flag]:,}); a model or a batch that size needs more memory than a computer has"
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


def run(args: argparse.Namespace) -> int:
    from nextword.training.distributed import leave, world_from_environment

    ignored = (
        _given(args, TRAINING | FINE_TUNING | NEW_MODEL | CORPUS)
        if args.resume
        else _given(args, FINE_TUNING if args.from_scratch else NEW_MODEL)
    )
    _check(args)
    world = world_from_environment()
    try:
        return _run(args, world, ignored)
    finally:
        leave(world)


def _resolved(path: str) -> str:
    from nextword.model import NextwordError

    try:
        return str(Path(path).expanduser().resolve())
    except (OSError, RuntimeError) as e:  # RuntimeError: a loop of symbolic links
        raise NextwordError(f"cannot follow {path} ({e}); name a folder or file of notes") from None


def _check_out(out: Path) -> None:
    """Refuse an --out that training must not write over, or cannot write, before it starts."""
    import os
    import tempfile

    from nextword.model import NextwordError, default_model_path
    from nextword.model.checkpoint import is_nextword_file
    from nextword.model.paths import same_file
    from nextword.training.resume import resume_path

    if out.exists() and out.is_dir():
        raise NextwordError(f"--out {out} is a folder; give a file name such as {out / 'model.safetensors'}")
    if same_file(out, default_model_path()):
        raise NextwordError(
            f"--out {out} is the model shipped with nextword; write your model elsewhere (without --out it goes to your data folder)"
        )
    state = resume_path(out)
    for path, what in ((out, ""), (state, f", where a run writing {out} keeps its state for --resume,")):
        if path.exists() and not is_nextword_file(path):
            raise NextwordError(
                f"{path}{what} exists and is not a nextword model, so training will not write over it; choose another --out (or move the file away)"
            )
    folder = out.parent
    existing = next((f for f in (folder, *folder.parents) if f.exists()), None)
    if existing is not None and not existing.is_dir():
        raise NextwordError(
            f"cannot write the model to {out}: {existing} is a file, not a folder; choose another --out"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)  # as the model's save would
        # (not named like a write's temporary file, which a run holding the lock may clean up)
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.probe-", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise NextwordError(
            f"cannot write the model to {out} ({e.strerror or e}); choose an --out in a folder you can write to"
        ) from None


def _run(args: argparse.Namespace, world, ignored: list[str]) -> int:
    from nextword.model import user_model_path

    def say(message: str) -> None:
        if world.main:
            print(message, file=sys.stderr)

    out = Path(args.out).expanduser() if args.out else user_model_path()
    _check_out(out)
    lock = _lock(out, world)
    try:
        return _run_locked(args, world, ignored, out, say)
    finally:
        if lock is not None:
            lock.release()


def _lock(out: Path, world):
    """Take the lock on ``out`` (process 0 alone writes, so it alone takes it; all learn whether it got it)."""
    from nextword.model import NextwordError
    from nextword.training.lock import TrainingLock, remove_leftovers
    from nextword.training.resume import resume_path

    lock, error = None, None
    if world.main:
        try:
            lock = TrainingLock(out).acquire()
        except NextwordError as e:
            error = e
    if world.any([error is not None])[0]:
        raise error or NextwordError(f"process 0 could not take the lock on {out}")
    if lock is not None:
        remove_leftovers(out, resume_path(out))  # what a killed run's writes left: no write is under way now
    return lock


def _run_locked(args: argparse.Namespace, world, ignored: list[str], out: Path, say) -> int:
    import torch
    from nextword.model import (
        CheckpointError,
        ModelConfig,
        NextwordError,
        default_model_path,
        load_checkpoint,
        save_checkpoint,
    )
    from nextword.model.paths import same_file
    from nextword.training.config import default_config
    from nextword.training.corpus import DEFAULT_EXTENSIONS, load_corpus
    from nextword.training.finetune import learned_files, select
    from nextword.training.progress import Progress
    from nextword.training.resume import load_state, resume_path
    from nextword.training.train import data_digest, train

    if ignored:
        say(
            f"warning: --resume continues the interrupted run with its own settings; ignoring {', '.join(ignored)}"
            if args.resume
            else f"warning: {', '.join(ignored)} appl{'ies' if len(ignored) == 1 else 'y'} only "
            + (
                "when fine-tuning; ignored with --from-scratch"
                if args.from_scratch
                else "to a new model (with --from-scratch); ignored when fine-tuning"
            )
        )
    progress = Progress(args.progress if world.main else "none")

    def discard_stale_state() -> None:
        stale = resume_path(out)
        if stale.is_file():
            say(
                f"note: discarding the state of an earlier interrupted run ({stale}); `nextword train --resume` would have continued it"
            )
            stale.unlink(missing_ok=True)

    state = None
    base = None

    if args.resume:
        state = load_state(resume_path(out))
        stored = state.run
        paths, exclude, ext = stored["paths"], stored.get("exclude", []), stored.get("ext")
        if args.paths and [_resolved(p) for p in args.paths] != paths:
            raise NextwordError(
                f"the interrupted run was training on {', '.join(paths)}; resume it without naming paths (or with the same ones)"
            )
        gone = [p for p in paths if not Path(p).exists()]
        if gone:
            raise NextwordError(
                f"the interrupted run was training on {', '.join(gone)}, which no longer exist{'s' if len(gone) == 1 else ''}; "
                f"put {'it' if len(gone) == 1 else 'them'} back and resume, or start a new run on the notes you have, e.g. `nextword train NOTES"
                f"{' --out ' + shlex.quote(str(out)) if args.out else ''}` (it starts from the best model saved so far)"
            )
        corpus = load_corpus(
            paths,
            ext or DEFAULT_EXTENSIONS,
            include_test_split=stored.get("include_test_split", False),
            warn=say,
            exclude=exclude,
        )
        manifest = {str(k): str(v) for k, v in stored.get("manifest", {}).items()}
        selection = select(corpus, manifest, full=stored.get("full", False))
        if data_digest(selection) != stored.get("data"):
            raise NextwordError(
                f"the notes changed since the interrupted run, so it cannot go on where it stopped; run `nextword train {' '.join(map(shlex.quote, paths))}"
                f"{' --out ' + shlex.quote(str(out)) if args.out else ''}` again (it starts from the best model saved so far)"
            )
        from nextword.training.config import TrainConfig

        config = TrainConfig(**stored["train_config"])
        info, run_record = (
            stored.get("info", {}),
            {k: stored[k] for k in ("paths", "exclude", "ext", "include_test_split", "full") if k in stored},
        )
        model_config = None
        say(f"resuming the interrupted run at epoch {state.position.get('epoch')}, step {state.position.get('step')}")
    else:
        corpus = load_corpus(
            args.paths,
            args.ext or DEFAULT_EXTENSIONS,
            include_test_split=args.include_test_split,
            warn=say,
            exclude=args.exclude,
        )
        paths = [_resolved(p) for p in args.paths]
        continuing = False
        if args.from_scratch:
            base = None
        elif args.base:
            base = load_checkpoint(args.base)
        elif out.is_file() and not args.full:
            try:
                base = load_checkpoint(out)
            except CheckpointError as e:
                raise NextwordError(f"{e}; or start over with --full (or delete it with `nextword forget`)") from None
            continuing = True
        else:
            if not default_model_path().is_file():
                raise NextwordError(
                    f"the shipped model {default_model_path()} is missing; reinstall nextword, fine-tune another model with --from CHECKPOINT, or train a new one with --from-scratch"
                )
            base = load_checkpoint(default_model_path())
        manifest = learned_files(base.info) if base is not None and not args.full else {}
        selection = select(corpus, manifest, full=args.full)
        if not selection.train:
            # Only a model that has learned files gets here: base is the model that has learned them.
            message = f"nothing new to learn: the {selection.already} training file(s) in {', '.join(args.paths)} are all learned by {base.path} already"
            if not same_file(out, base.path):
                if world.main:
                    discard_stale_state()
                    save_checkpoint(out, base.model, base.vocab, info=base.info, extra=base.extra)
                message += f"; copied it unchanged to {out}"
            message += "; add or change notes, or retrain on everything with --full"
            say(message)
            progress.event(
                "done",
                path=str(out),
                perplexity=None,
                interrupted=False,
                reason="nothing new to learn",
                message=message,
            )
            return 0
        defaults = default_config(finetune=base is not None)
        config = defaults.__class__(
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
        model_config = ModelConfig(
            emb_dim=args.emb_dim,
            hidden_dim=args.hidden_dim,
            num_layers=args.layers,
            proj_dim=args.proj_dim,
            dropout=args.dropout,
        )
        origin = (
            None if base is None else (base.info.get("base_model") or str(base.path)) if continuing else str(base.path)
        )
        info = {
            "trained_on": [str(p) for p in args.paths],
            "files": len(corpus.train) + len(corpus.valid),
            "base_model": origin,
            "started_from": str(base.path) if base is not None else None,
            "command": "nextword train " + " ".join(shlex.quote(a) for a in sys.argv[2:])
            if sys.argv[1:2] == ["train"]
            else None,
        }
        run_record = {
            "paths": paths,
            "exclude": list(args.exclude),
            "ext": args.ext,
            "include_test_split": args.include_test_split,
            "full": args.full,
        }
        if world.main:
            discard_stale_state()

    try:
        result = train(
            corpus,
            out,
            config,
            model_config,
            base=base,
            progress=progress,
            info=info,
            selection=selection,
            manifest=manifest,
            run=run_record,
            resume=state,
            world=world,
        )
    except (MemoryError, RuntimeError) as e:
        if not isinstance(e, (MemoryError, torch.OutOfMemoryError)) and "allocate" not in str(e):
            raise
        raise NextwordError(
            "not enough memory to train a model this size; use smaller --hidden-dim, --emb-dim, --layers, --max-vocab, --batch-size or --bptt"
        ) from None
    if not world.main:
        return 130 if result.interrupted else 0
    if result.interrupted:
        kept = f"the best model so far is in {result.path}; " if result.path else ""
        resume = (
            f"continue with `nextword train --resume{' --out ' + shlex.quote(str(out)) if args.out else ''}`"
            if result.resume_path
            else "the training state could not be saved"
        )
        say(f"stopped early (Ctrl-C); {kept}{resume}")
        return 130
    if result.path is None:
        say(
            f"nextword train: no model written: validation never improved on the starting model (perplexity {result.start_perplexity:.1f}); {out} is unchanged"
        )
        return 1
    grown = f", {result.new_words:,} new words" if result.new_words else ""
    start = f" from {result.start_perplexity:.1f}" if result.start_perplexity < float("inf") else ""
    say(
        f"model saved to {result.path} (validation perplexity {result.valid_perplexity:.1f}{start}{grown}, {result.tokens_per_second:,.0f} tokens/s, {result.stop_reason})"
    )
    return 0
