"""``nextword info``: what a model is, what it was trained on, and where models live."""

from __future__ import annotations

import argparse
import json

HELP = "describe a model file and show where nextword keeps its models"

PRECISION_WORDS = {
    "int8": "8-bit weights, a scale per row (fbgemm)",
    "fp16": "half-precision weights (fbgemm; this PyTorch lacks its 8-bit kernels)",
    "fp32": "single-precision weights (this PyTorch lacks fbgemm)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", metavar="FILE", help="model file (default: the one the server would use)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from nextword.model import default_model_path, load_checkpoint, resolve_model_path, user_model_path

    path = resolve_model_path(args.model)
    checkpoint = load_checkpoint(path, for_prediction=True)
    config = checkpoint.model.config
    params = sum(p.numel() for p in checkpoint.model.parameters())
    notes = checkpoint.model.notes_tokens
    report = {
        "model": str(path),
        "file_size_bytes": path.stat().st_size,
        "parameters": params,
        "config": config.to_dict(),
        "vocabulary": len(checkpoint.vocab),
        "prediction_weights": checkpoint.model.inference_precision,
        "prediction_output_layer": dict(zip(("exact_rows", "rank"), factored)) if (factored := checkpoint.model.factored_output) else None,
        "notes_tokens": int(notes.numel()) if notes is not None else 0,
        "training": checkpoint.info,
        "user_model": str(user_model_path()),
        "default_model": str(default_model_path()),
    }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print(f"model         {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(f"network       {config.num_layers}-layer LSTM, {config.hidden_dim} hidden units"
          f"{f' projected to {config.proj_dim}' if config.proj_dim else ''}, {config.emb_dim}-dim tied embeddings, {params / 1e6:.1f} M parameters")
    print(f"vocabulary    {len(checkpoint.vocab)} tokens")
    print(f"prediction    {PRECISION_WORDS[report['prediction_weights']]}")
    if factored:
        print(f"              output layer: the {factored[0]:,} most frequent tokens exact, the other {len(checkpoint.vocab) - factored[0]:,} as a rank-{factored[1]} product")
    if notes is not None:
        print(f"notes n-gram  {notes.numel():,} tokens of the notes it learned ({checkpoint.model.notes_ngram.order}-gram)")
    for key, value in checkpoint.info.items():
        if not isinstance(value, (dict, list)):
            print(f"{key:<13} {value}")
    print(f"your model    {user_model_path()}{'' if user_model_path().is_file() else ' (none yet: run `nextword train NOTES`)'}")
    print(f"shipped model {default_model_path()}")
    return 0
