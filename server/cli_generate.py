"""``nextword generate``: sample a continuation, or complete a phrase greedily."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = (
    "Sample tokens after TEXT with a temperature (lower: safer and more repetitive; higher: more "
    "varied) and optional top-k, or with --phrase print the greedy phrase the editor would show as ghost text."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "text", nargs="?", default="-", help="the text to continue ('-' or omitted: read standard input)"
    )
    parser.add_argument("-n", "--tokens", type=int, default=40, help="how many tokens to sample (default 40)")
    parser.add_argument(
        "-t", "--temperature", type=float, default=0.8, help="sampling temperature, 0 for greedy (default 0.8)"
    )
    parser.add_argument(
        "--top-k", type=int, default=40, help="sample among the K most probable tokens only; 0 for all (default 40)"
    )
    parser.add_argument("--seed", type=int, help="random seed, for a repeatable sample")
    parser.add_argument("--phrase", action="store_true", help="print the greedy ghost-text phrase instead of sampling")
    parser.add_argument("--max-words", type=int, default=4, help="longest phrase for --phrase (default 4)")
    parser.add_argument(
        "-m", "--model", metavar="FILE", help="model file (default: your trained model, else the shipped one)"
    )


def run(args: argparse.Namespace) -> int:
    from nextword.model import InferenceNetwork, NextwordError, Predictor, resolve_model_path
    from nextword.model.prediction_model import load_for_prediction

    from .cli_predict import read_text, split_prefix

    for option, value, lowest in (
        ("--tokens", args.tokens, 1),
        ("--max-words", args.max_words, 1),
        ("--top-k", args.top_k, 0),
    ):
        if value < lowest:
            raise NextwordError(f"{option} must be at least {lowest}, not {value}")
    if not 0 <= args.temperature <= 100:  # NaN fails this too
        raise NextwordError(f"--temperature must be a number from 0 (greedy) to 100, not {args.temperature}")
    if args.seed is not None and not 0 <= args.seed < 2**63:
        raise NextwordError(f"--seed must be a whole number from 0 to {2**63 - 1}, not {args.seed}")
    text = read_text(args.text)
    checkpoint = load_for_prediction(resolve_model_path(args.model))
    predictor = Predictor(InferenceNetwork.build(checkpoint.model), checkpoint.vocab, spacing=checkpoint.spacing)
    if args.phrase:
        context, prefix = split_prefix(text)
        phrase, probability = predictor.complete_phrase(context, prefix, args.max_words, min_probability=0.0)
        print(f"{text}\033[2m{phrase}\033[0m  ({probability:.2%})" if sys.stdout.isatty() else f"{text}{phrase}")
    else:
        print(text + predictor.generate(text, args.tokens, args.temperature, args.top_k, args.seed))
    return 0
