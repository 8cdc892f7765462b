"""``nextword eval``: keystroke savings of the model and the baselines on a corpus's test split."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

DESCRIPTION = (
    "Simulate a person typing the test split of CORPUS (the files whose path hashes into the "
    "held-out tenth) with each system's suggestions, and print the keystroke savings rate "
    "(KSR@k: the share of keystrokes saved with k suggestions shown; a character is one key, a Hangul "
    "syllable the keys a Korean 2-set typist presses for it) and next-word accuracy "
    "(acc@k) for k = 1, 3, 5, beside two baselines: 'buffer' (words earlier in the file, like "
    "an editor's default completion) and 'unigram' (word frequencies of the training split). "
    "Also prints the model's perplexity on the test split and its out-of-vocabulary rate. "
    "With one path it is the CORPUS, and your trained model ('personal') is compared with the shipped one "
    "('default'), so one table shows what training on your notes bought you; with two, the first is the MODEL file."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # argparse fills a required positional before an optional one, so `eval CORPUS` and
    # `eval MODEL CORPUS` both parse as meant.
    parser.add_argument(
        "model", nargs="?", metavar="MODEL", help="model file (default: your trained model, else the shipped one)"
    )
    parser.add_argument("corpus", metavar="CORPUS", help="folder of notes (or one file) whose test split is typed")
    parser.add_argument(
        "--max-words",
        type=int,
        default=400,
        metavar="N",
        help="type the first N words of each test file; 0 for all (default 400)",
    )
    parser.add_argument(
        "--systems",
        metavar="LIST",
        help="comma-separated systems to evaluate, among model (MODEL), personal (your trained model), default (the shipped model), buffer, unigram (default: model,buffer,unigram with a MODEL; else personal,default,buffer,unigram, or default,buffer,unigram before you train)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


COLUMNS = ("KSR@1", "KSR@3", "KSR@5", "acc@1", "acc@3", "acc@5")
MEANING = (
    "KSR@k: the share of keystrokes saved when the first k suggestions are shown (higher is better); "
    "acc@k: the share of words among the first k suggestions before any letter of them is typed."
)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def describe_system(name: str, figures: dict, train_files: int | None = None) -> str:
    """What a row of the table is, in words."""
    if name == "buffer":
        return "words earlier in the same file, from the first typed letter (an editor's default completion)"
    if name == "unigram":
        source = "the training split" if train_files is None else f"the {_count(train_files, 'training file')}"
        return f"the most frequent words of {source} and of the file so far"
    from nextword.model import default_model_path, user_model_path

    path = figures.get("model")
    kind = {"personal": "your model", "default": "the shipped model"}.get(name, "the model given")
    if name == "model" and path:
        for known, words in ((user_model_path(), "your model"), (default_model_path(), "the shipped model")):
            try:
                if Path(path).resolve() == known.resolve():
                    kind = words
            except OSError:
                pass
    if "perplexity" not in figures:
        return kind + (f", {path}" if path else "")
    return f"{kind}, {path}: perplexity {figures['perplexity']:.1f} on its own tokens, {figures['oov_rate']:.1%} of them out of its vocabulary"


def format_report(
    report: dict, corpus_files: int | None = None, train_files: int | None = None, note: str | None = None
) -> str:
    """The report as a table, one row per system, what KSR means, and what each row is."""
    files = report["files"]
    of = f" of {corpus_files:,}" if corpus_files else ""
    words = f"the first {report['max_words']:,} words of each" if report["max_words"] else "every word"
    lines = [
        f"Test split of {report['corpus']}: {files:,}{of} files (the held-out tenth), {words}: "
        f"{_count(report['words'], 'word')}, {_count(report['keystrokes_without'], 'keystroke')} to type without suggestions.",
        "",
        f"{'system':<10}" + "".join(f"{h:>8}" for h in COLUMNS),
    ]
    for name, figures in report["systems"].items():
        cells = [figures[f"{kind}@{k}"] for kind in ("ksr", "acc") for k in (1, 3, 5)]
        lines.append(f"{name:<10}" + "".join(f"{c:>8.1%}" for c in cells))
    lines += ["", *textwrap.wrap(MEANING, 100), ""]
    width = max(len(name) for name in report["systems"])
    for name, figures in report["systems"].items():
        lines.append(f"{name:<{width}}  {describe_system(name, figures, train_files)}")
    if "tokens" in report:
        lines.append(
            f"(perplexity over the {report['tokens']:,} tokens of the test files, whole; lower is better, comparable only between models of one vocabulary)"
        )
    if note:
        lines += ["", *textwrap.wrap(note, 100)]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from nextword.model import user_model_path
    from nextword.training.evaluate import evaluate

    systems = [s.strip() for s in args.systems.split(",") if s.strip()] if args.systems is not None else None
    try:
        result = evaluate(args.corpus, systems, model_path=args.model, max_words=args.max_words)
    except KeyboardInterrupt:
        print("nextword eval: interrupted, no figures; `--max-words 50` gives a quicker estimate", file=sys.stderr)
        return 130
    for warning in result.warnings:
        print(f"nextword eval: warning: {warning}", file=sys.stderr)
    report = result.as_dict()
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    note = None
    if args.model is None and systems is None and "personal" not in report["systems"]:
        note = (
            f"You have no trained model yet ({user_model_path()}), so this compares the shipped model with the baselines. "
            "`nextword train NOTES` trains one; run this again afterwards to see what it buys you."
        )
    print(format_report(report, corpus_files=result.corpus_files, train_files=result.train_files, note=note))
    return 0
