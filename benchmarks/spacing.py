"""How well generated text is spaced: the held-out (test split) lines of the base corpus, each
tokenized and joined back, by the shipped model's learned spacing table and by the English
rules alone. Prints, per corpus and in all, the share of lines that come back exactly (runs of
whitespace made single, as no tokenizer keeps them).

    python benchmarks/spacing.py [--model FILE] [CORPUS...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nextword.model import default_model_path, load_checkpoint
from nextword.model.spacing import Spacing
from nextword.model.tokenize import join_tokens, tokenize
from nextword.training.corpus import find_files, read_text
from nextword.training.split import is_test_file

BASE = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "base"


def held_out_lines(corpus: Path) -> list[str]:
    return [
        " ".join(line.split())
        for path, relative in find_files([corpus])
        if is_test_file(f"{corpus.name}/{relative}")
        for line in (read_text(path)[0] or "").splitlines()
        if line.strip()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("corpora", nargs="*", type=Path, default=sorted(p for p in BASE.iterdir() if p.is_dir()))
    args = parser.parse_args()
    spacing = load_checkpoint(args.model).spacing or Spacing()
    totals = [0, 0, 0]
    for corpus in args.corpora:
        lines = held_out_lines(corpus)
        learned = sum(spacing.join(tokenize(line)) == line for line in lines)
        english = sum(join_tokens(tokenize(line)) == line for line in lines)
        totals = [totals[0] + len(lines), totals[1] + learned, totals[2] + english]
        print(
            f"{corpus.name:>14}: {len(lines):6,} lines, learned {learned / len(lines):6.1%}, English rules {english / len(lines):6.1%}"
        )
    n, learned, english = totals
    print(f"{'all':>14}: {n:6,} lines, learned {learned / n:6.1%}, English rules {english / n:6.1%}")


if __name__ == "__main__":
    main()
