"""``nextword predict``: the most probable next words for a piece of text."""

from __future__ import annotations

import argparse
import json
import sys

DESCRIPTION = (
    "Print the most probable next words after TEXT, each with its probability. If TEXT ends "
    "inside a word, the suggestions complete that word. Reads TEXT from standard input when it is '-' or omitted "
    "(without its final line break: end it with a blank line to predict the first word of a new line)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "text", nargs="?", default="-", help="the text before the cursor ('-' or omitted: read standard input)"
    )
    parser.add_argument("-k", "--top", type=int, default=5, metavar="K", help="how many suggestions (default 5)")
    parser.add_argument(
        "-m", "--model", metavar="FILE", help="model file (default: your trained model, else the shipped one)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def split_prefix(text: str) -> tuple[str, str]:
    """The context and the part of a word typed at the end of ``text`` (as the language
    server reads it: "don'" is on its way to "don't")."""
    from .wordsyntax import typed_word_start

    start = typed_word_start(text, len(text), max(text.rfind("\n"), text.rfind("\r")) + 1)
    return text[:start], text[start:]


def read_text(arg: str) -> str:
    """TEXT from the command line, or standard input for '-': bytes that are not UTF-8
    become U+FFFD rather than an error, and one final line break from standard input (the
    one ``echo`` adds) is dropped."""
    if arg != "-":
        # Python keeps undecodable argument bytes as lone surrogates, which cannot be printed.
        return arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = sys.stdin.buffer.read().decode("utf-8", "replace")
    return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text


def run(args: argparse.Namespace) -> int:
    from nextword.model import InferenceNetwork, NextwordError, Predictor, resolve_model_path
    from nextword.model.prediction_model import load_for_prediction

    from .completion import percent

    if args.top < 1:
        raise NextwordError(f"--top must be at least 1, not {args.top}")
    text = read_text(args.text)
    checkpoint = load_for_prediction(resolve_model_path(args.model))
    context, prefix = split_prefix(text)
    network = InferenceNetwork.build(checkpoint.model)
    suggestions = Predictor(network, checkpoint.vocab).predict(context, prefix, args.top)
    if args.json:
        print(json.dumps([{"word": s.word, "probability": s.probability} for s in suggestions], ensure_ascii=False))
    else:
        for s in suggestions:
            print(f"{percent(s.probability):>8}  {s.word}")
        if not suggestions:
            print(f"no known word starts with {prefix!r}", file=sys.stderr)
    return 0
