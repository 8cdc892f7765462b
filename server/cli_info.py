"""``nextword info``: what a model is, what it was trained on, and where models live."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from nextword.model.paths import same_file

if TYPE_CHECKING:
    from nextword.model import InferenceNetwork

PRECISION_WORDS = {"int8": "8-bit weights, a scale per row", "fp32": "single-precision weights"}
KERNEL_WORDS = {"nextword": "nextword's C kernels", "torch": "PyTorch"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", metavar="FILE", help="model file (default: the one the server would use)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def model_kind(path: Path, info: dict, user: Path, default: Path) -> str:
    """What the model is, in a few words."""
    if same_file(path, default):
        return "the shipped model (trained on public technical English and Korean)"
    base = info.get("base_model") or info.get("started_from")
    trained = (
        "fine-tuned from " + str(base)
        if base
        else ("trained from scratch" if info else "not trained by `nextword train` (no training record)")
    )
    if same_file(path, user):
        return f"your model, {trained}"
    return f"a model file, {trained}"


def training_lines(info: dict) -> list[tuple[str, str]]:
    """The training record as labelled lines, in words."""
    lines: list[tuple[str, str]] = []
    if not info:
        return [("trained", "no training record in the file")]
    on = info.get("trained_on")
    if on:
        what = ", ".join(map(str, on)) if isinstance(on, list) else str(on)
        if isinstance(info.get("files"), int):
            what += f" ({info['files']:,} files)"
        lines.append(("trained on", what))
    if info.get("created"):
        when = str(info["created"])
        minutes = info.get("training_minutes")
        details = [
            f"{minutes:g} minutes" if isinstance(minutes, (int, float)) else None,
            f"{info['epochs']:g} epochs" if isinstance(info.get("epochs"), (int, float)) else None,
            f"{info['trained_tokens']:,} tokens" if isinstance(info.get("trained_tokens"), int) else None,
        ]
        given = [d for d in details if d]
        lines.append(("trained", when + (f" ({', '.join(given)})" if given else "")))
    if info.get("stop_reason") or info.get("complete") is False:
        stop = str(info.get("stop_reason") or "")
        if info.get("complete") is False:
            stop = (stop + "; " if stop else "") + "interrupted: the best model so far"
        lines.append(("stopped", stop))
    if info.get("command"):
        lines.append(("command", str(info["command"])))
    if isinstance(info.get("valid_perplexity"), (int, float)):
        ppl = f"{info['valid_perplexity']:.1f} on its validation files"
        if isinstance(info.get("start_perplexity"), (int, float)):
            ppl += f" (the starting model: {info['start_perplexity']:.1f})"
        lines.append(("validation", "perplexity " + ppl))
    if isinstance(info.get("new_words"), int):
        lines.append(("new words", f"{info['new_words']:,} words of the notes added to the vocabulary"))
    return lines


def prediction_lines(network: InferenceNetwork) -> list[tuple[str, str]]:
    """How prediction runs the network, and the notes' n-gram, as labelled lines, in words."""
    precision, kernels = network.precision, network.kernels
    lines = [
        (
            "prediction",
            f"{PRECISION_WORDS.get(precision, precision)}, multiplied by {KERNEL_WORDS.get(kernels, kernels)}",
        )
    ]
    if kernels != "nextword":
        from nextword.model.compiled import why_not  # imports torch: not at --help

        why = why_not() or "the model is larger than they take"
        lines.append(("", f"nextword's C kernels (faster at a word's end): {why}"))
    if factored := network.factored_output:
        exact, rank = factored
        rest = network.config.vocab_size - exact
        lines.append(
            ("", f"output layer: the {exact:,} most frequent tokens exact, the other {rest:,} as a rank-{rank} product")
        )
    if ngram := network.notes_ngram:
        lines.append(("notes n-gram", f"{ngram.tokens:,} tokens of the notes it learned ({ngram.order}-gram)"))
    return lines


def run(args: argparse.Namespace) -> int:
    from nextword.model import (
        InferenceNetwork,
        default_model_path,
        resolve_model_path,
        user_model_path,
    )
    from nextword.model.prediction_model import load_for_prediction

    path = resolve_model_path(args.model)
    checkpoint = load_for_prediction(path)
    network = InferenceNetwork.build(checkpoint.model)
    config = checkpoint.model.config
    params = sum(array.size for array in checkpoint.model.arrays.values())
    notes = checkpoint.model.notes_tokens
    info = checkpoint.info if isinstance(checkpoint.info, dict) else {}
    user, default = user_model_path(), default_model_path()
    in_use = same_file(path, resolve_model_path(None))
    size = path.stat().st_size
    report = {
        "model": str(path),
        "kind": "shipped" if same_file(path, default) else "personal" if same_file(path, user) else "other",
        "in_use": in_use,
        "file_size_bytes": size,
        "parameters": params,
        "config": config.to_dict(),
        "vocabulary": len(checkpoint.vocab),
        "prediction_weights": network.precision,
        "prediction_kernels": network.kernels,
        "prediction_output_layer": dict(zip(("exact_rows", "rank"), factored))
        if (factored := network.factored_output)
        else None,
        "notes_tokens": int(notes.size) if notes is not None else 0,
        "training": checkpoint.info,
        "user_model": str(user),
        "default_model": str(default),
    }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    rows: list[tuple[str, str]] = [
        ("model", f"{path} ({size / 1e6:.1f} MB)"),
        ("what", model_kind(path, info, user, default)),
        (
            "in use",
            "yes: the server and the commands use it when given no model"
            if in_use
            else "no: pass it with --model (or modelPath in the editor) to use it",
        ),
        (
            "network",
            f"{config.num_layers}-layer LSTM, {config.hidden_dim} hidden units"
            f"{f' projected to {config.proj_dim}' if config.proj_dim else ''}, {config.emb_dim}-dim tied embeddings, {params / 1e6:.1f} M parameters",
        ),
        ("vocabulary", f"{len(checkpoint.vocab):,} tokens (words, marks, line breaks)"),
        *prediction_lines(network),
    ]
    rows += training_lines(info)
    rows.append(("your model", f"{user}{'' if user.is_file() else ' (none yet: run `nextword train NOTES`)'}"))
    rows.append(("shipped model", str(default)))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0
