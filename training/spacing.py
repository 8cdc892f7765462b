"""Learning a model's spacing table (see nextword.model.spacing) from the text it trains on.

    python -m nextword.training.spacing MODEL CORPUS... [--out FILE]

learns the table from the training files of CORPUS (the files ``nextword train CORPUS``
trains on: not the evaluation's test split, nor the validation files) and writes MODEL
again with it, its weights and the rest of its metadata as they were (to FILE if given).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence

from nextword.model import NextwordError
from nextword.model.checkpoint import write_spacing
from nextword.model.spacing import Spacing

from .corpus import Document, add_corpus_arguments, load_named_corpus


def learn_spacing(documents: Iterable[Document], base: Spacing | None = None) -> Spacing:
    """The spacing of ``documents``, added to ``base``'s (the model fine-tuned from) if given."""
    learned = Spacing.learn(document.text for document in documents)
    return base.merged(learned) if base is not None else learned


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nextword.training.spacing",
        description="Learn how the training files of CORPUS space their tokens, and store it in MODEL.",
    )
    parser.add_argument("model", metavar="MODEL", help="the model file to write the spacing table into")
    add_corpus_arguments(parser, "the folders or files the model was trained on")
    parser.add_argument("--out", metavar="FILE", help="write the model with its table here (default: MODEL itself)")
    args = parser.parse_args(argv)
    try:
        corpus = load_named_corpus(args)
        spacing = learn_spacing(corpus.train)
        out = write_spacing(args.model, spacing, args.out)
    except (NextwordError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"learned the spacing of {len(spacing.pairs)} pairs and {len(set(spacing.before) | set(spacing.after))} marks"
        f" from {len(corpus.train)} training files; wrote {os.fspath(out)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
