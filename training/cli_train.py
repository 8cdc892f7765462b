"""``nextword train``: fine-tune the shipped model on folders of notes (or train a new one)."""

from __future__ import annotations

import argparse
import shlex
import sys

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
        return f"{f[field]} when fine-tuning, {getattr(t, field)} for a new model" if field in f else str(getattr(t, field))

    parser.add_argument("paths", nargs="*", metavar="PATH", help="folders or files of notes")
    parser.add_argument("-o", "--out", metavar="FILE", help="where to write the model (default: your model in the nextword data folder)")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--from", dest="base", metavar="CHECKPOINT", help="fine-tune this model (default: your model if --out exists, else the shipped one)")
    start.add_argument("--from-scratch", action="store_true", help="train a new model instead of fine-tuning one")
    start.add_argument("--resume", action="store_true", help="continue the interrupted run that was writing --out, with its own settings")
    parser.add_argument("--full", action="store_true", help="train on every file again, starting over from the shipped model (or --from), instead of on new and changed files only")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="leave out files and folders matching GLOB (gitignore syntax, relative to each folder named; repeatable)")
    parser.add_argument("--ext", action="append", metavar="EXT", help="file extensions to read, repeatable (default: .md .markdown .txt .rst .org)")
    parser.add_argument("--include-test-split", action="store_true", help="also train on the files `nextword eval` holds out for testing")
    parser.add_argument("--progress", choices=("bar", "json", "none"), default="bar" if sys.stderr.isatty() else "none", help="progress display: a bar, JSON lines on stdout for programs, or none")
    g = parser.add_argument_group("training")
    g.add_argument("--epochs", type=int, help=f"most passes over the data (default {both('epochs')})")
    g.add_argument("--max-minutes", type=float, help=f"train for at most this many minutes, 0 for no limit (default {f['max_minutes']:g} when fine-tuning, no limit for a new model)")
    g.add_argument("--lr", type=float, help=f"peak learning rate (default {both('lr')})")
    g.add_argument("--batch-size", type=int, default=t.batch_size, help=f"streams per step (default {t.batch_size})")
    g.add_argument("--bptt", type=int, default=t.bptt, help=f"tokens per stream per step (default {t.bptt})")
    g.add_argument("--sampled", type=int, default=t.sampled, help=f"sampled-softmax negatives, 0 for the full softmax (default {t.sampled})")
    g.add_argument("--patience", type=int, help=f"validations without improvement before stopping (default {both('patience')})")
    g.add_argument("--valid-every-minutes", type=float, default=t.valid_every_minutes, help="also validate this often within an epoch (default: once per epoch)")
    g.add_argument("--seed", type=int, default=t.seed, help=f"random seed (default {t.seed})")
    g = parser.add_argument_group("fine-tuning")
    g.add_argument("--new-word-min-count", type=int, default=t.new_word_min_count, help=f"add a word the model lacks when your notes use it this often, 0 for never (default {t.new_word_min_count})")
    g.add_argument("--max-new-words", type=int, default=t.max_new_words, help=f"most words added in one run (default {t.max_new_words})")
    g = parser.add_argument_group("new models (with --from-scratch)")
    g.add_argument("--max-vocab", type=int, default=t.max_vocab, help=f"largest vocabulary (default {t.max_vocab})")
    g.add_argument("--min-count", type=int, default=t.min_count, help=f"least occurrences for a word to join the vocabulary (default {t.min_count})")
    g.add_argument("--emb-dim", type=int, default=m.emb_dim, help=f"embedding size (default {m.emb_dim})")
    g.add_argument("--hidden-dim", type=int, default=m.hidden_dim, help=f"LSTM units per layer (default {m.hidden_dim})")
    g.add_argument("--layers", type=int, default=m.num_layers, help=f"LSTM layers (default {m.num_layers})")
    g.add_argument("--proj-dim", type=int, default=m.proj_dim, help="LSTM projection size, 0 for none (default 0)")
    g.add_argument("--dropout", type=float, default=m.dropout, help=f"dropout (default {m.dropout})")


def _check(args: argparse.Namespace) -> None:
    from nextword.model import NextwordError

    positive = {
        "--epochs": args.epochs, "--batch-size": args.batch_size, "--bptt": args.bptt, "--max-vocab": args.max_vocab,
        "--emb-dim": args.emb_dim, "--hidden-dim": args.hidden_dim, "--layers": args.layers, "--patience": args.patience,
        "--min-count": args.min_count,
    }
    for flag, value in positive.items():
        if value is not None and value < 1:
            raise NextwordError(f"{flag} must be at least 1, not {value}")
    if (args.lr is not None and not args.lr > 0) or args.sampled < 0 or (args.max_minutes or 0) < 0 or not 0 <= args.dropout < 1 or args.proj_dim < 0:
        raise NextwordError("--lr must be positive, --sampled, --max-minutes and --proj-dim at least 0, and --dropout in [0, 1)")
    if args.new_word_min_count < 0 or args.max_new_words < 0:
        raise NextwordError("--new-word-min-count and --max-new-words must be at least 0")
    if args.proj_dim and args.proj_dim >= args.hidden_dim:
        raise NextwordError("--proj-dim must be smaller than --hidden-dim")
    if args.full and (args.from_scratch or args.resume):
        raise NextwordError("--full starts over from the shipped model (or --from); it does not go with --from-scratch or --resume")
    if not args.paths and not args.resume:
        raise NextwordError("name at least one folder or file of notes, e.g. `nextword train ~/notes`")


def run(args: argparse.Namespace) -> int:
    from nextword.training.distributed import leave, world_from_environment

    _check(args)
    world = world_from_environment()
    try:
        return _run(args, world)
    finally:
        leave(world)


def _run(args: argparse.Namespace, world) -> int:  # noqa: ANN001
    from pathlib import Path

    from nextword.model import CheckpointError, ModelConfig, NextwordError, default_model_path, load_checkpoint, user_model_path
    from nextword.training.config import default_config
    from nextword.training.corpus import DEFAULT_EXTENSIONS, load_corpus
    from nextword.training.finetune import learned_files, select
    from nextword.training.progress import Progress
    from nextword.training.resume import load_state, resume_path
    from nextword.training.train import data_digest, train

    def say(message: str) -> None:
        if world.main:
            print(message, file=sys.stderr)

    out = Path(args.out).expanduser() if args.out else user_model_path()
    if out.exists() and out.is_dir():
        raise NextwordError(f"--out {out} is a folder; give a file name such as {out / 'model.safetensors'}")
    progress = Progress(args.progress if world.main else "none")
    state = None
    base = None

    if args.resume:
        state = load_state(resume_path(out))
        stored = state.run
        paths, exclude, ext = stored["paths"], stored.get("exclude", []), stored.get("ext")
        if args.paths and [str(Path(p).expanduser().resolve()) for p in args.paths] != paths:
            raise NextwordError(f"the interrupted run was training on {', '.join(paths)}; resume it without naming paths (or with the same ones)")
        corpus = load_corpus(paths, ext or DEFAULT_EXTENSIONS, include_test_split=stored.get("include_test_split", False), warn=say, exclude=exclude)
        manifest = {str(k): str(v) for k, v in stored.get("manifest", {}).items()}
        selection = select(corpus, manifest, full=stored.get("full", False))
        if data_digest(selection) != stored.get("data"):
            raise NextwordError(
                f"the notes changed since the interrupted run, so it cannot go on where it stopped; run `nextword train {' '.join(map(shlex.quote, paths))}"
                f"{' --out ' + shlex.quote(str(out)) if args.out else ''}` again (it starts from the best model saved so far)"
            )
        from nextword.training.config import TrainConfig

        config = TrainConfig(**stored["train_config"])
        info, run_record = stored.get("info", {}), {k: stored[k] for k in ("paths", "exclude", "ext", "include_test_split", "full") if k in stored}
        model_config = None
        say(f"resuming the interrupted run at epoch {state.position.get('epoch')}, step {state.position.get('step')}")
    else:
        paths = [str(Path(p).expanduser().resolve()) for p in args.paths]
        corpus = load_corpus(args.paths, args.ext or DEFAULT_EXTENSIONS, include_test_split=args.include_test_split, warn=say, exclude=args.exclude)
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
                raise NextwordError(f"the shipped model {default_model_path()} is missing; reinstall nextword, fine-tune another model with --from CHECKPOINT, or train a new one with --from-scratch")
            base = load_checkpoint(default_model_path())
        manifest = learned_files(base.info) if base is not None and not args.full else {}
        selection = select(corpus, manifest, full=args.full)
        if not selection.train:
            message = f"nothing new to learn: the {selection.already} training file(s) in {', '.join(args.paths)} are all learned by {out} already; add or change notes, or retrain on everything with --full"
            say(message)
            progress.event("done", path=str(out), perplexity=None, interrupted=False, reason="nothing new to learn", message=message)
            return 0
        defaults = default_config(finetune=base is not None)
        config = defaults.__class__(**{
            **defaults.to_dict(),
            "epochs": args.epochs or defaults.epochs, "lr": args.lr or defaults.lr, "patience": args.patience or defaults.patience,
            "batch_size": args.batch_size, "bptt": args.bptt, "sampled": args.sampled,
            "max_minutes": defaults.max_minutes if args.max_minutes is None else args.max_minutes,
            "min_count": args.min_count, "max_vocab": args.max_vocab, "valid_every_minutes": args.valid_every_minutes,
            "seed": args.seed, "new_word_min_count": args.new_word_min_count, "max_new_words": args.max_new_words,
        })
        model_config = ModelConfig(emb_dim=args.emb_dim, hidden_dim=args.hidden_dim, num_layers=args.layers, proj_dim=args.proj_dim, dropout=args.dropout)
        origin = None if base is None else (base.info.get("base_model") or str(base.path)) if continuing else str(base.path)
        info = {
            "trained_on": [str(p) for p in args.paths],
            "files": len(corpus.train) + len(corpus.valid),
            "base_model": origin,
            "started_from": str(base.path) if base is not None else None,
            "command": "nextword train " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["train"] else None,
        }
        run_record = {"paths": paths, "exclude": list(args.exclude), "ext": args.ext, "include_test_split": args.include_test_split, "full": args.full}
        stale = resume_path(out)
        if world.main and stale.is_file():
            say(f"note: discarding the state of an earlier interrupted run ({stale}); `nextword train --resume` would have continued it")
            stale.unlink(missing_ok=True)

    result = train(corpus, out, config, model_config, base=base, progress=progress, info=info, selection=selection, manifest=manifest, run=run_record, resume=state, world=world)
    if not world.main:
        return 130 if result.interrupted else 0
    if result.interrupted:
        kept = f"the best model so far is in {result.path}; " if result.path else ""
        resume = f"continue with `nextword train --resume{' --out ' + shlex.quote(str(out)) if args.out else ''}`" if result.resume_path else "the training state could not be saved"
        say(f"stopped early (Ctrl-C); {kept}{resume}")
        return 130
    if result.path is None:
        say(f"nextword train: no model written: validation never improved on the starting model (perplexity {result.start_perplexity:.1f}); {out} is unchanged")
        return 1
    grown = f", {result.new_words:,} new words" if result.new_words else ""
    start = f" from {result.start_perplexity:.1f}" if result.start_perplexity < float("inf") else ""
    say(f"model saved to {result.path} (validation perplexity {result.valid_perplexity:.1f}{start}{grown}, {result.tokens_per_second:,.0f} tokens/s, {result.stop_reason})")
    return 0
