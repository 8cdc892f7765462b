"""Reading a nextword model file without PyTorch: its metadata checked and parsed, its arrays
as numpy or torch tensors, and the checks every loaded model passes (the weights' names and
shapes against its config, its notes and table of word parts against its vocabulary).

``checkpoint.py`` builds a trainable module from what is read here; ``prediction_model.py``
keeps the arrays as they are for prediction, which then needs no PyTorch at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError, safe_open

from .config import ModelConfig
from .errors import NextwordError
from .pieces import segmentation_id
from .spacing import Spacing
from .vocab import Vocabulary
from .word_parts import END, HANGUL, LATIN

FORMAT = "nextword-lm"
FORMAT_VERSION = "1"

SPACING = "spacing"  # the metadata entry holding the spacing table (see model/spacing.py), if any
# The Hangul segmentation the vocabulary was made with (see model/pieces.py), if it has Hangul.
SEGMENTATION = "segmentation"
WORD_PARTS = "word_parts"  # the extra tensor holding how words in parts go on (see LanguageModel.set_word_parts)
NOTES_TOKENS = "notes_tokens"  # the extra tensor holding a personal model's notes (see LanguageModel.set_notes)


class CheckpointError(NextwordError):
    """A checkpoint that cannot be read; the message names the file and what to do."""


def read_model_file(path: Path, framework: str = "numpy") -> tuple[dict[str, str], dict[str, Any]]:
    """The metadata and arrays of the nextword model file at ``path`` (CheckpointError if it
    is none): numpy arrays, or torch tensors for ``framework="pt"``."""
    if not path.exists():
        raise CheckpointError(
            f"model file {path} does not exist; train one with `nextword train NOTES` or pass an existing .safetensors file"
        )
    if not path.is_file():
        raise CheckpointError(f"model path {path} is not a file; pass the .safetensors file itself")
    try:
        with safe_open(str(path), framework=framework) as f:
            metadata = f.metadata() or {}
            # safetensors maps the file into memory: each array kept is copied out of the
            # mapping later, so that a file rewritten in place cannot pull data from under the
            # model (and the mapping goes once the arrays read from it do).
            arrays = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as e:
        raise CheckpointError(
            f"{path} is not a readable nextword model (damaged or not a .safetensors file: {e}); retrain it with `nextword train` or use another model"
        ) from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a .safetensors file but not a nextword model; pass a model written by `nextword train`"
        )
    if metadata.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} uses model format version {metadata.get('format_version')!r}, which this nextword does not read (it reads {FORMAT_VERSION}); retrain with this version"
        )
    return metadata, arrays


def parse_metadata(
    path: Path, metadata: dict[str, str]
) -> tuple[ModelConfig, Vocabulary, dict[str, Any], Spacing | None]:
    """The config, vocabulary, training record and spacing table stored in ``metadata``,
    checked (a vocabulary of Hangul parts must be of this nextword's segmentation)."""
    try:
        config = _parse_config(json.loads(metadata["config"]))
        vocab = _parse_vocab(json.loads(metadata["vocab"]))
        info = json.loads(metadata.get("info", "{}"))
        if not isinstance(info, dict):
            raise TypeError(f"its training record is {json.dumps(info)[:40]}, not an object")
    except KeyError as e:
        raise CheckpointError(
            f"{path} is not a usable nextword model: its metadata lacks {e}; retrain it with `nextword train` or use another model"
        ) from None
    except (ValueError, TypeError) as e:
        raise CheckpointError(
            f"{path} is not a usable nextword model: it has damaged model metadata ({e}); retrain it with `nextword train` or use another model"
        ) from None
    trained_with = metadata.get(SEGMENTATION)
    if trained_with is not None and trained_with != segmentation_id():
        raise CheckpointError(
            f"{path} was trained with another Hangul segmentation than this version of nextword's; "
            "retrain it with `nextword train --full`, or use the nextword version that trained it"
        )
    if len(vocab) != config.vocab_size:
        raise CheckpointError(
            f"{path} is inconsistent: its vocabulary has {len(vocab)} tokens but its config says {config.vocab_size}; retrain it"
        )
    spacing = None
    if SPACING in metadata:
        try:
            spacing = Spacing.from_json(metadata[SPACING])
        except ValueError as e:
            raise CheckpointError(
                f"{path} is not a usable nextword model: its spacing table is damaged ({e}); retrain it with `nextword train` or use another model"
            ) from None
    return config, vocab, info, spacing


# The bounds of each setting a stored config may hold (dropout is a probability).
_CONFIG_MINIMUM = {"vocab_size": 1, "emb_dim": 1, "hidden_dim": 1, "num_layers": 1, "proj_dim": 0}


def _parse_config(data: Any) -> ModelConfig:
    """The stored network config, every setting checked for type and range (ValueError or TypeError if not)."""
    if not isinstance(data, dict):
        raise TypeError(f"its config is {json.dumps(data)[:40]}, not an object")
    config = ModelConfig.from_dict(data)
    for name, minimum in _CONFIG_MINIMUM.items():
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{name} is {value!r}, not a whole number of at least {minimum}")
    if not isinstance(config.dropout, (int, float)) or isinstance(config.dropout, bool) or not 0 <= config.dropout <= 1:
        raise ValueError(f"dropout is {config.dropout!r}, not a number from 0 to 1")
    if config.proj_dim and config.proj_dim >= config.hidden_dim:
        raise ValueError("proj_dim must be smaller than hidden_dim (or 0 for none)")
    return config


def _parse_vocab(data: Any) -> Vocabulary:
    """The stored vocabulary: a list of distinct non-empty strings (ValueError if not)."""
    if not isinstance(data, list) or not all(isinstance(token, str) and token for token in data):
        raise ValueError("its vocabulary is not a list of tokens")
    return Vocabulary(data)


def weight_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The name and shape of every weight of a network of ``config``, as ``LanguageModel``'s
    ``state_dict`` names them (``nn.LSTM``'s gates stacked four high, i, f, g, o)."""
    hidden, out = config.hidden_dim, config.proj_dim or config.hidden_dim
    shapes: dict[str, tuple[int, ...]] = {"embedding.weight": (config.vocab_size, config.emb_dim)}
    for layer in range(config.num_layers):
        width = config.emb_dim if layer == 0 else out
        shapes[f"lstm.weight_ih_l{layer}"] = (4 * hidden, width)
        shapes[f"lstm.weight_hh_l{layer}"] = (4 * hidden, out)
        shapes[f"lstm.bias_ih_l{layer}"] = (4 * hidden,)
        shapes[f"lstm.bias_hh_l{layer}"] = (4 * hidden,)
        if config.proj_dim:
            shapes[f"lstm.weight_hr_l{layer}"] = (config.proj_dim, hidden)
    shapes["out_bias"] = (config.vocab_size,)
    if out != config.emb_dim:
        shapes["out_proj.weight"] = (config.emb_dim, out)
        shapes["out_proj.bias"] = (config.emb_dim,)
    return shapes


def check_weights(path: Path, config: ModelConfig, shapes: dict[str, tuple[int, ...]]) -> None:
    """CheckpointError unless the weights' names and ``shapes`` are those a network of ``config`` has."""
    expected = weight_shapes(config)
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    wrong = sorted(k for k in expected.keys() & shapes.keys() if tuple(expected[k]) != tuple(shapes[k]))
    problems = [
        f"missing {', '.join(missing)}" if missing else "",
        f"unexpected {', '.join(unexpected)}" if unexpected else "",
        f"wrong shape for {', '.join(wrong)}" if wrong else "",
    ]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{path} does not match its own config ({'; '.join(p for p in problems if p)}); retrain it"
        )


def check_notes(path: Path, notes: np.ndarray, vocab_size: int) -> None:
    """CheckpointError unless ``notes`` are token ids of the vocabulary, int32, in a row."""
    if (
        notes.dtype != np.int32
        or notes.ndim != 1
        or (notes.size and not 0 <= int(notes.min()) <= int(notes.max()) < vocab_size)
    ):
        raise CheckpointError(
            f"{path} has damaged notes data (token ids that do not fit its vocabulary); retrain it with `nextword train --full`"
        )


def check_word_parts(path: Path, parts: np.ndarray, vocab_size: int) -> None:
    """CheckpointError unless ``parts`` is a table of word parts of the vocabulary (``_fits``)."""
    if parts.dtype != np.int64 or parts.ndim != 2 or parts.shape[1] != 3 or not _fits(parts, vocab_size):
        raise CheckpointError(
            f"{path} has a damaged table of word parts (token ids that do not fit its vocabulary); retrain it with `nextword train --full`"
        )


def _fits(parts: np.ndarray, vocab_size: int) -> bool:
    """Whether a table of word parts names only ids of the vocabulary (and LATIN as a token, END
    as a next part), each pair once, with positive counts."""
    if not parts.size:
        return True
    tokens, following = parts[:, 0], parts[:, 1]
    return bool(
        ((tokens >= 0) | (tokens == LATIN) | (tokens == HANGUL)).all()
        and ((following >= 0) | (following == END)).all()
        and int(parts[:, :2].max()) < vocab_size
        and int(parts[:, 2].min()) > 0
        and _distinct_pairs(tokens, following)
    )


def _distinct_pairs(tokens: np.ndarray, following: np.ndarray) -> bool:
    """Whether no (token, following) pair repeats: each packed into one number (both are at
    least HANGUL and below 2**31), whose distinct values a sort finds many times faster than
    a search for distinct rows."""
    keys = np.sort((tokens - HANGUL) * (1 << 32) + (following - HANGUL))
    return bool((keys[1:] != keys[:-1]).all())


def learned_files(info: dict[str, Any] | None) -> dict[str, str]:
    """The manifest of learned files a model's training record holds: digest -> "train" or "valid"."""
    learned = (info or {}).get("learned")
    return {str(k): str(v) for k, v in learned.items()} if isinstance(learned, dict) else {}
