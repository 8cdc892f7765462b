"""``nextword train``: train a model on folders of notes (or fine-tune one with --from)."""

from __future__ import annotations

import argparse
import shlex
import sys

HELP = "train a model on your notes (by default it becomes the model the server uses)"
DESCRIPTION = (
    "Train a next-word model on folders and files of notes (.md, .markdown, .txt, .rst, .org by default). "
    "Files in the evaluation test split are left out, so `nextword eval` measures text the model never saw. "
    "The best model so far is kept on disk; Ctrl-C stops cleanly and keeps it."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from nextword.model.config import ModelConfig
    from nextword.training.config import TrainConfig

    t, m = TrainConfig(), ModelConfig()
    parser.add_argument("paths", nargs="+", metavar="PATH", help="folders or files of notes")
    parser.add_argument("-o", "--out", metavar="FILE", help="where to write the model (default: your model in the nextword data folder)")
    parser.add_argument("--from", dest="base", metavar="CHECKPOINT", help="fine-tune this model instead of training a new one")
    parser.add_argument("--ext", action="append", metavar="EXT", help="file extensions to read, repeatable (default: .md .markdown .txt .rst .org)")
    parser.add_argument("--include-test-split", action="store_true", help="also train on the files `nextword eval` holds out for testing")
    parser.add_argument("--progress", choices=("bar", "json", "none"), default="bar" if sys.stderr.isatty() else "none", help="progress display: a bar, JSON lines on stdout for programs, or none")
    g = parser.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=t.epochs, help=f"most passes over the data (default {t.epochs})")
    g.add_argument("--max-minutes", type=float, default=t.max_minutes, help="stop after this many minutes (default: no limit)")
    g.add_argument("--lr", type=float, default=t.lr, help=f"peak learning rate (default {t.lr})")
    g.add_argument("--batch-size", type=int, default=t.batch_size, help=f"streams per step (default {t.batch_size})")
    g.add_argument("--bptt", type=int, default=t.bptt, help=f"tokens per stream per step (default {t.bptt})")
    g.add_argument("--sampled", type=int, default=t.sampled, help=f"sampled-softmax negatives, 0 for the full softmax (default {t.sampled})")
    g.add_argument("--patience", type=int, default=t.patience, help=f"validations without improvement before stopping (default {t.patience})")
    g.add_argument("--valid-every-minutes", type=float, default=t.valid_every_minutes, help="also validate this often within an epoch (default: once per epoch)")
    g.add_argument("--seed", type=int, default=t.seed, help=f"random seed (default {t.seed})")
    g = parser.add_argument_group("new models (ignored with --from)")
    g.add_argument("--max-vocab", type=int, default=t.max_vocab, help=f"largest vocabulary (default {t.max_vocab})")
    g.add_argument("--min-count", type=int, default=t.min_count, help=f"least occurrences for a word to join the vocabulary (default {t.min_count})")
    g.add_argument("--emb-dim", type=int, default=m.emb_dim, help=f"embedding size (default {m.emb_dim})")
    g.add_argument("--hidden-dim", type=int, default=m.hidden_dim, help=f"LSTM units per layer (default {m.hidden_dim})")
    g.add_argument("--layers", type=int, default=m.num_layers, help=f"LSTM layers (default {m.num_layers})")
    g.add_argument("--proj-dim", type=int, default=m.proj_dim, help="LSTM projection size, 0 for none (default 0)")
    g.add_argument("--dropout", type=float, default=m.dropout, help=f"dropout (default {m.dropout})")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nextword.model import ModelConfig, NextwordError, load_checkpoint, user_model_path
    from nextword.training.config import TrainConfig
    from nextword.training.corpus import DEFAULT_EXTENSIONS, load_corpus
    from nextword.training.progress import Progress
    from nextword.training.train import train

    positive = {"--epochs": args.epochs, "--batch-size": args.batch_size, "--bptt": args.bptt, "--max-vocab": args.max_vocab, "--emb-dim": args.emb_dim, "--hidden-dim": args.hidden_dim, "--layers": args.layers, "--patience": args.patience, "--min-count": args.min_count}
    for flag, value in positive.items():
        if value < 1:
            raise NextwordError(f"{flag} must be at least 1, not {value}")
    if not args.lr > 0 or args.sampled < 0 or args.max_minutes < 0 or not 0 <= args.dropout < 1 or args.proj_dim < 0:
        raise NextwordError("--lr must be positive, --sampled, --max-minutes and --proj-dim at least 0, and --dropout in [0, 1)")
    if args.proj_dim and args.proj_dim >= args.hidden_dim:
        raise NextwordError("--proj-dim must be smaller than --hidden-dim")

    out = Path(args.out).expanduser() if args.out else user_model_path()
    if out.exists() and out.is_dir():
        raise NextwordError(f"--out {out} is a folder; give a file name such as {out / 'model.safetensors'}")
    base = load_checkpoint(args.base) if args.base else None
    corpus = load_corpus(args.paths, args.ext or DEFAULT_EXTENSIONS, include_test_split=args.include_test_split)
    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, bptt=args.bptt, lr=args.lr, sampled=args.sampled,
        patience=args.patience, max_minutes=args.max_minutes, min_count=args.min_count, max_vocab=args.max_vocab,
        valid_every_minutes=args.valid_every_minutes, seed=args.seed,
    )
    model_config = ModelConfig(emb_dim=args.emb_dim, hidden_dim=args.hidden_dim, num_layers=args.layers, proj_dim=args.proj_dim, dropout=args.dropout)
    info = {
        "trained_on": [str(p) for p in args.paths],
        "files": len(corpus.train) + len(corpus.valid),
        "base_model": str(base.path) if base else None,
        "command": "nextword train " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["train"] else None,
    }
    progress = Progress(args.progress)
    result = train(corpus, out, config, model_config, base=base, progress=progress, info=info)
    if result.path is None:
        print("nextword train: no model written (validation never improved on the starting model)", file=sys.stderr)
        return 1
    message = f"{'stopped early (Ctrl-C); ' if result.interrupted else ''}model saved to {result.path} (validation perplexity {result.valid_perplexity:.1f}, {result.tokens_per_second:,.0f} tokens/s, {result.stop_reason})"
    print(message, file=sys.stderr)
    return 130 if result.interrupted else 0
