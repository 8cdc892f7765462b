"""A model as prediction uses it: its weights as numpy arrays, read from the file without
PyTorch (``load_for_prediction``) or taken from a trained module (``LanguageModel.weights``).

On nextword's C kernels prediction never touches PyTorch, so the language server starts
without importing it (a few seconds on a slow machine) and holds none of its memory;
only the portable path (``portable.py``) and training import it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import ModelConfig
from .model_file import (
    NOTES_TOKENS,
    WORD_PARTS,
    check_notes,
    check_weights,
    check_word_parts,
    parse_metadata,
    read_model_file,
)
from .ngram import MAX_TOKENS as MAX_NOTES_TOKENS
from .paths import default_model_path
from .spacing import Spacing
from .vocab import Vocabulary


@dataclass(frozen=True, eq=False)
class ModelWeights:
    """A network's weights by ``LanguageModel``'s names (``model_file.weight_shapes``), in
    half or single precision, with the notes and table of word parts kept beside them."""

    config: ModelConfig
    arrays: dict[str, np.ndarray]
    notes_tokens: np.ndarray | None = None  # int32 token ids of a personal model's notes
    word_parts: np.ndarray | None = None  # int64 rows of token, next part, count

    def single(self, name: str) -> np.ndarray:
        """The weight ``name`` in single precision (itself where it is already)."""
        return self.arrays[name].astype(np.float32, copy=False)

    def output_projection(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The weight and bias, in single precision, that take the last layer's outputs to the
        embedding's size; None where they are of that size already."""
        if "out_proj.weight" not in self.arrays:
            return None
        return self.single("out_proj.weight"), self.single("out_proj.bias")


@dataclass(eq=False)
class PredictionModel:
    """A model file read for prediction: its weights, vocabulary, training record and spacing."""

    model: ModelWeights
    vocab: Vocabulary
    path: Path
    info: dict[str, Any] = field(default_factory=dict)
    spacing: Spacing | None = None


def load_for_prediction(path: str | os.PathLike[str] | None = None) -> PredictionModel:
    """Read the model file at ``path`` (the shipped default when None) for prediction, its
    weights as the file stores them (CheckpointError, naming the fix, if it is not one)."""
    path = Path(path).expanduser() if path is not None else default_model_path()
    metadata, arrays = read_model_file(path)
    config, vocab, info, spacing = parse_metadata(path, metadata)
    extra = {name.removeprefix("extra."): arrays.pop(name) for name in list(arrays) if name.startswith("extra.")}
    check_weights(path, config, {name: array.shape for name, array in arrays.items()})
    notes = extra.get(NOTES_TOKENS)
    if notes is not None:
        check_notes(path, notes, config.vocab_size)
        notes = notes[-MAX_NOTES_TOKENS:] if notes.size else None
    parts = extra.get(WORD_PARTS)
    if parts is not None:
        check_word_parts(path, parts, config.vocab_size)
        parts = parts if parts.size else None
    weights = ModelWeights(config, arrays, notes, parts)
    return PredictionModel(weights, vocab, path, info, spacing)
