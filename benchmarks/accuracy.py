"""Accuracy benchmark: the type-through evaluation (`nextword eval`) on the shared notes corpus.

    python benchmarks/accuracy.py [--corpus DIR] [--model FILE] [--systems LIST] [--json]

Without a model file at hand, pass ``--systems buffer,unigram``. On simonw-til the protocol's
reference baselines are buffer 17.2% KSR@3 and unigram 25.2% KSR@3 (acc@3 7.1%); the run
fails if this implementation strays from them by more than 0.3 points.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from nextword.model import NextwordError
from nextword.training.cli_eval import format_report
from nextword.training.evaluate import evaluate

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared/corpora/notes/simonw-til"
REFERENCE = {("buffer", "ksr@3"): 0.172, ("unigram", "ksr@3"): 0.252, ("unigram", "acc@3"): 0.071}
TOLERANCE = 0.003


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"corpus folder (default {DEFAULT_CORPUS})")
    parser.add_argument("--model", help="model file (default: your trained model, else the shipped one)")
    parser.add_argument(
        "--systems", default="model,buffer,unigram", help="comma-separated systems (default: model,buffer,unigram)"
    )
    parser.add_argument("--max-words", type=int, default=400, help="words typed per test file (default 400)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    started = time.perf_counter()
    try:
        report = evaluate(
            args.corpus, args.systems.split(","), model_path=args.model, max_words=args.max_words
        ).as_dict()
    except NextwordError as e:
        print(f"accuracy: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else format_report(report))
    print(f"\n{time.perf_counter() - started:.1f} s", file=sys.stderr)
    # The reference figures hold for the default corpus and word limit only.
    if args.corpus.resolve() != DEFAULT_CORPUS or args.max_words != 400:
        return 0
    off = [
        f"{system} {figure} {report['systems'][system][figure]:.1%} (reference {expected:.1%})"
        for (system, figure), expected in REFERENCE.items()
        if system in report["systems"] and abs(report["systems"][system][figure] - expected) > TOLERANCE
    ]
    if off:
        print("differs from the protocol's reference baselines: " + "; ".join(off), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
