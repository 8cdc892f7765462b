"""``nextword eval``: keystroke savings of the model and the baselines on a corpus's test split."""

from __future__ import annotations

import argparse
import json

HELP = "measure the keystrokes a model saves on the test split of a corpus (type-through protocol)"
DESCRIPTION = (
    "Simulate a person typing the test split of CORPUS (the files whose path hashes into the "
    "held-out tenth) with each system's suggestions, and print the keystroke savings rate "
    "(KSR@k: the share of keystrokes saved with k suggestions shown) and next-word accuracy "
    "(acc@k) for k = 1, 3, 5, beside two baselines: 'buffer' (words earlier in the file, like "
    "an editor's default completion) and 'unigram' (word frequencies of the training split). "
    "Also prints the model's perplexity on the test split and its out-of-vocabulary rate. "
    "With one path it is the CORPUS, and your trained model ('personal') is compared with the shipped one "
    "('default'), so one table shows what training on your notes bought you; with two, the first is the MODEL file."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # argparse fills a required positional before an optional one, so `eval CORPUS` and
    # `eval MODEL CORPUS` both parse as meant.
    parser.add_argument("model", nargs="?", metavar="MODEL", help="model file (default: your trained model, else the shipped one)")
    parser.add_argument("corpus", metavar="CORPUS", help="folder of notes (or one file) whose test split is typed")
    parser.add_argument("--max-words", type=int, default=400, metavar="N", help="type the first N words of each test file; 0 for all (default 400)")
    parser.add_argument("--systems", metavar="LIST", help="comma-separated systems to evaluate, among model (MODEL), personal (your trained model), default (the shipped model), buffer, unigram (default: model,buffer,unigram with a MODEL; else personal,default,buffer,unigram, or default,buffer,unigram before you train)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def format_report(report: dict) -> str:
    """The report as a table, one row per system, and a line about the model."""
    lines = [
        f"{report['files']} test file(s) of {report['corpus']}: {report['words']} words, "
        f"{report['keystrokes_without']} keystrokes without suggestions (first {report['max_words'] or 'all'} words of each file)",
        "",
        f"{'system':<10}" + "".join(f"{h:>8}" for h in ("KSR@1", "KSR@3", "KSR@5", "acc@1", "acc@3", "acc@5")),
    ]
    for name, figures in report["systems"].items():
        cells = [figures[f"{kind}@{k}"] for kind in ("ksr", "acc") for k in (1, 3, 5)]
        lines.append(f"{name:<10}" + "".join(f"{c:>8.1%}" for c in cells))
    models = [(name, figures) for name, figures in report["systems"].items() if "perplexity" in figures]
    if models:
        lines.append("")
    for name, figures in models:
        lines.append(f"{name} {figures['model']}: perplexity {figures['perplexity']:.1f} on {report['tokens']} test tokens, {figures['oov_rate']:.1%} out of vocabulary")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from nextword.training.evaluate import evaluate

    systems = [s.strip() for s in args.systems.split(",") if s.strip()] if args.systems is not None else None
    report = evaluate(args.corpus, systems, model_path=args.model, max_words=args.max_words).as_dict()
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else format_report(report))
    return 0
