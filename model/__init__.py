"""The nextword language model: tokenizer, vocabulary, network, checkpoints and the Predictor.

This package knows nothing of note folders, LSP or training loops; it turns text into
tokens, tokens into probabilities, and probabilities into ranked word suggestions.
"""

from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .paths import default_model_path, resolve_model_path, user_model_path
from .config import ModelConfig, PredictorConfig
from .errors import NextwordError
from .network import LanguageModel
from .predictor import Predictor, Suggestion
from .tokenize import WORD_PATTERN, Token, is_word, iter_tokens, tokenize
from .vocab import Vocabulary

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "LanguageModel",
    "NextwordError",
    "ModelConfig",
    "Predictor",
    "PredictorConfig",
    "Suggestion",
    "Token",
    "Vocabulary",
    "WORD_PATTERN",
    "default_model_path",
    "resolve_model_path",
    "user_model_path",
    "is_word",
    "iter_tokens",
    "load_checkpoint",
    "save_checkpoint",
    "tokenize",
]
