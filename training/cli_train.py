"""``nextword train``: fine-tune the shipped model on folders of notes (or train a new one)."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when the command runs: `nextword train --help` stays free of torch
    from nextword.training.distributed import World
    from nextword.training.progress import Progress
    from nextword.training.report import TrainResult
    from nextword.training.train_plan import Plan

Say = Callable[[str], None]

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
    _add_inputs(parser)
    _add_training_options(parser.add_argument_group("training"))
    _add_model_options(parser)


def _add_inputs(parser: argparse.ArgumentParser) -> None:
    """What to read, what to start from, where to write."""
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


def _add_training_options(g: argparse._ArgumentGroup) -> None:
    from nextword.training.config import FINETUNE_DEFAULTS, TrainConfig

    t, f = TrainConfig(), FINETUNE_DEFAULTS

    def both(field: str) -> str:
        return (
            f"{f[field]} when fine-tuning, {getattr(t, field)} for a new model"
            if field in f
            else str(getattr(t, field))
        )

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


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    from nextword.model.config import ModelConfig
    from nextword.training.config import TrainConfig

    t, m = TrainConfig(), ModelConfig()
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


def run(args: argparse.Namespace) -> int:
    from nextword.training.distributed import leave, world_from_environment
    from nextword.training.train_options import check_options, ignored_warning

    warning = ignored_warning(args)
    check_options(args)
    world = world_from_environment()
    try:
        return _run(args, world, warning)
    finally:
        leave(world)


def _run(args: argparse.Namespace, world: World, warning: str | None) -> int:
    from nextword.model import user_model_path
    from nextword.training.output_file import check_output, lock_output

    def say(message: str) -> None:
        if world.main:
            print(message, file=sys.stderr)

    out = Path(args.out).expanduser() if args.out else user_model_path()
    check_output(out)
    lock = lock_output(out, world)
    try:
        if warning:
            say(warning)
        return _run_locked(args, world, out, say)
    finally:
        if lock is not None:
            lock.release()


def _run_locked(args: argparse.Namespace, world: World, out: Path, say: Say) -> int:
    from nextword.training.progress import Progress
    from nextword.training.train_plan import new_plan, resumed_plan

    progress = Progress(args.progress if world.main else "none")
    plan = resumed_plan(args, out, say) if args.resume else new_plan(args, out, say)
    if plan.state is None:
        if not plan.selection.train:
            return _nothing_new(plan, args, out, world, say, progress)
        if world.main:
            _discard_stale_state(out, say)
    result = _train(plan, out, progress, world)
    return _report(result, args, out, world, say)


def _discard_stale_state(out: Path, say: Say) -> None:
    """A new run on ``out`` replaces what an earlier interrupted one left for --resume."""
    from nextword.training.resume import resume_path

    stale = resume_path(out)
    if stale.is_file():
        say(
            f"note: discarding the state of an earlier interrupted run ({stale}); "
            "`nextword train --resume` would have continued it"
        )
        stale.unlink(missing_ok=True)


def _nothing_new(plan: Plan, args: argparse.Namespace, out: Path, world: World, say: Say, progress: Progress) -> int:
    """Every file is learned by the starting model already: it is copied to ``out`` unchanged."""
    from nextword.model import save_checkpoint
    from nextword.model.paths import same_file

    base = plan.base
    assert base is not None  # only a model that has learned files gets here
    message = (
        f"nothing new to learn: the {plan.selection.already} training file(s) in {', '.join(args.paths)} "
        f"are all learned by {base.path} already"
    )
    if not same_file(out, base.path):
        if world.main:
            _discard_stale_state(out, say)
            save_checkpoint(out, base.model, base.vocab, info=base.info, extra=base.extra, spacing=base.spacing)
        message += f"; copied it unchanged to {out}"
    message += "; add or change notes, or retrain on everything with --full"
    say(message)
    progress.event(
        "done", path=str(out), perplexity=None, interrupted=False, reason="nothing new to learn", message=message
    )
    return 0


def _train(plan: Plan, out: Path, progress: Progress, world: World) -> TrainResult:
    import torch
    from nextword.model import NextwordError
    from nextword.training.train import train

    try:
        return train(
            plan.corpus,
            out,
            plan.config,
            plan.model_config,
            base=plan.base,
            progress=progress,
            info=plan.info,
            selection=plan.selection,
            manifest=plan.manifest,
            run=plan.request,
            resume=plan.state,
            world=world,
        )
    except (MemoryError, RuntimeError) as e:
        if not isinstance(e, (MemoryError, torch.OutOfMemoryError)) and "allocate" not in str(e):
            raise
        raise NextwordError(
            "not enough memory to train a model this size; use smaller --hidden-dim, --emb-dim, --layers, "
            "--max-vocab, --batch-size or --bptt"
        ) from None


def _report(result: TrainResult, args: argparse.Namespace, out: Path, world: World, say: Say) -> int:
    """Say what the run left, and the exit status."""
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
            "nextword train: no model written: validation never improved on the starting model "
            f"(perplexity {result.start_perplexity:.1f}); {out} is unchanged"
        )
        return 1
    grown = f", {result.new_words:,} new words" if result.new_words else ""
    start = f" from {result.start_perplexity:.1f}" if result.start_perplexity < float("inf") else ""
    say(
        f"model saved to {result.path} (validation perplexity {result.valid_perplexity:.1f}{start}{grown}, "
        f"{result.tokens_per_second:,.0f} tokens/s, {result.stop_reason})"
    )
    return 0
