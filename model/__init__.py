"""The nextword language model: tokenizer, vocabulary, network, checkpoints and the Predictor.

This package knows nothing of note folders, LSP or training loops; it turns text into
tokens, tokens into probabilities, and probabilities into ranked word suggestions.

Names are imported on first use (PEP 562): only training and the checkpoints it writes
import torch, which takes seconds to import; prediction on nextword's C kernels never does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Torch-free, imported now; the function ``tokenize`` must shadow the submodule's name.
from .errors import NextwordError
from .tokenize import WORD_PATTERN, Token, is_word, iter_tokens, tokenize

_EXPORTS = {
    "Checkpoint": "checkpoint",
    "CheckpointError": "model_file",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "ModelConfig": "config",
    "PredictorConfig": "config",
    "InferenceNetwork": "inference",
    "LanguageModel": "network",
    "Predictor": "predictor",
    "PredictorStats": "predictor",
    "Suggestion": "predictor",
    "default_model_path": "paths",
    "resolve_model_path": "paths",
    "user_model_path": "paths",
    "Vocabulary": "vocab",
}

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "InferenceNetwork",
    "LanguageModel",
    "ModelConfig",
    "NextwordError",
    "Predictor",
    "PredictorConfig",
    "PredictorStats",
    "Suggestion",
    "Token",
    "Vocabulary",
    "WORD_PATTERN",
    "default_model_path",
    "is_word",
    "iter_tokens",
    "load_checkpoint",
    "resolve_model_path",
    "save_checkpoint",
    "tokenize",
    "user_model_path",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
    from .config import ModelConfig, PredictorConfig
    from .inference import InferenceNetwork
    from .model_file import CheckpointError
    from .network import LanguageModel
    from .paths import default_model_path, resolve_model_path, user_model_path
    from .predictor import Predictor, PredictorStats, Suggestion
    from .vocab import Vocabulary
