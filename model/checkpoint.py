"""The checkpoint format: one .safetensors file, weights as tensors, config and vocabulary as
JSON in its metadata. No pickle anywhere; writes are atomic (temporary file, then rename)."""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from .config import ModelConfig
from .errors import NextwordError
from .file_header import header_format
from .network import LanguageModel
from .paths import default_model_path
from .pieces import has_hangul, segmentation_id
from .spacing import Spacing
from .vocab import Vocabulary
from .word_parts import END, HANGUL, LATIN

FORMAT = "nextword-lm"
FORMAT_VERSION = "1"


class CheckpointError(NextwordError):
    """A checkpoint that cannot be read; the message names the file and what to do."""


class CheckpointWriteError(NextwordError, OSError):
    """A checkpoint that cannot be written (a folder that cannot be written, a full disk).
    Still an OSError, for callers that handle those."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


SPACING = "spacing"  # the metadata entry holding the spacing table (see model/spacing.py), if any
SEGMENTATION = (
    "segmentation"  # the Hangul segmentation the vocabulary was made with (see model/pieces.py), if it has Hangul
)
WORD_PARTS = "word_parts"  # the extra tensor holding how words in parts go on (see LanguageModel.set_word_parts)
NOTES_TOKENS = "notes_tokens"  # the extra tensor holding a personal model's notes (see LanguageModel.set_notes)


@dataclass
class Checkpoint:
    """A loaded model with its vocabulary and the notes stored beside it."""

    model: LanguageModel
    vocab: Vocabulary
    path: Path
    info: dict[str, Any] = field(default_factory=dict)  # training provenance, free-form JSON
    extra: dict[str, torch.Tensor] = field(default_factory=dict)  # non-model tensors (e.g. training state)
    spacing: Spacing | None = None  # how the training text spaced its tokens (None in a file written without it)


# The temporary file of an atomic write of NAME (``save_checkpoint``): ".NAME.RANDOM.tmp".
_TEMPORARY = re.compile(r"\.(.+)\.\w+\.tmp")


def temporary_target(name: str) -> str | None:
    """The name of the file an atomic write was writing, given its temporary file's name
    (left behind when the process was killed); None for any other name."""
    match = _TEMPORARY.fullmatch(name)
    return match[1] if match else None


def save_checkpoint(
    path: str | os.PathLike[str],
    model: LanguageModel,
    vocab: Vocabulary,
    info: dict[str, Any] | None = None,
    dtype: torch.dtype = torch.float16,
    extra: dict[str, torch.Tensor] | None = None,
    spacing: Spacing | None = None,
) -> Path:
    """Write ``model`` and ``vocab`` (and ``spacing``, the training text's) to ``path`` atomically;
    weights stored as ``dtype``."""
    path = Path(path)
    if len(vocab) != model.config.vocab_size:
        raise ValueError(f"vocabulary has {len(vocab)} tokens but the model expects {model.config.vocab_size}")
    tensors = {name: t.detach().to(dtype).contiguous().cpu() for name, t in model.state_dict().items()}
    if model.notes_tokens is not None:
        tensors[f"extra.{NOTES_TOKENS}"] = model.notes_tokens.to(torch.int32).contiguous()
    if model.word_parts is not None:
        tensors[f"extra.{WORD_PARTS}"] = model.word_parts.to(torch.int64).contiguous()
    for name, t in (extra or {}).items():
        tensors[f"extra.{name}"] = t.detach().contiguous().cpu()
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": json.dumps(model.config.to_dict()),
        "vocab": json.dumps(vocab.tokens, ensure_ascii=False),
        "info": json.dumps(info or {}, ensure_ascii=False),
    }
    if spacing is not None:
        metadata[SPACING] = spacing.to_json()
    if any(has_hangul(token) for token in vocab.tokens):
        metadata[SEGMENTATION] = segmentation_id()
    return _write_atomically(path, tensors, metadata)


def write_spacing(path: str | os.PathLike[str], spacing: Spacing, out: str | os.PathLike[str] | None = None) -> Path:
    """Write the model file ``path`` again (to ``out``, by default in place, atomically) with
    ``spacing`` as its spacing table, its tensors, other metadata and permissions as they were."""
    source = Path(path).expanduser()
    metadata, tensors = _read_file(source)
    metadata[SPACING] = spacing.to_json()
    return _write_atomically(Path(out or source).expanduser(), tensors, metadata, mode=source.stat().st_mode)


def _write_atomically(
    path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str], mode: int | None = None
) -> Path:
    """Write a safetensors file to ``path``: a temporary file beside it (given ``mode``'s
    permissions, else those of a new temporary file), then a rename."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise CheckpointWriteError(
            e.errno, f"cannot write the model {path} ({e.strerror or e}); write it to a folder you can write to"
        ) from None
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        if mode is not None:
            os.chmod(tmp, stat.S_IMODE(mode))
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        kept = f"; {path} is unchanged" if path.is_file() else ""
        raise CheckpointWriteError(
            e.errno,
            f"cannot write the model {path} ({e.strerror or e}){kept}; free some disk space or write it elsewhere",
        ) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_file(tensors: dict[str, torch.Tensor], filename: str | os.PathLike[str], metadata: dict[str, str]) -> None:
    """Write ``tensors`` to ``filename`` in the safetensors format, flushed to the disk.

    Serialized in memory and written here, not with safetensors' own save_file: that one writes
    a temporary file of its own (".tmpXXXXXX" beside the target) that a process killed mid-write
    leaves behind under a name nothing can tell is nextword's, and it reports a full disk as its
    own error instead of an OSError. The fsync makes the rename that follows leave the old file
    or the new one after a crash, never an empty one."""
    data = save(tensors, metadata=metadata)
    with open(filename, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def is_nextword_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a regular file that nextword wrote (a model or a training state),
    judged by its header alone: a model damaged further on still counts as one."""
    return header_format(path) == FORMAT


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
    return config


def _parse_vocab(data: Any) -> Vocabulary:
    """The stored vocabulary: a list of distinct non-empty strings (ValueError if not)."""
    if not isinstance(data, list) or not all(isinstance(token, str) and token for token in data):
        raise ValueError("its vocabulary is not a list of tokens")
    return Vocabulary(data)


def load_checkpoint(path: str | os.PathLike[str] | None = None, *, for_prediction: bool = False) -> Checkpoint:
    """Read a checkpoint (the shipped default when ``path`` is None).

    ``for_prediction`` keeps the weights as the file stores them (half precision) instead of
    in single precision, for ``InferenceNetwork.build`` to read: no transient single-precision
    copy, and the same suggestions to the bit. Training and ``forward`` convert such a model to
    single precision the first time they use it; load without the flag to train a model."""
    path = Path(path).expanduser() if path is not None else default_model_path()
    metadata, tensors = _read_file(path)
    config, vocab, info, spacing = _parse_metadata(path, metadata)
    trained_with = metadata.get(SEGMENTATION)
    if trained_with is not None and trained_with != segmentation_id():
        raise CheckpointError(
            f"{path} was trained with another Hangul segmentation than this version of nextword's; "
            "retrain it with `nextword train --full`, or use the nextword version that trained it"
        )
    extra = {k.removeprefix("extra."): tensors.pop(k).clone() for k in list(tensors) if k.startswith("extra.")}
    model = _build_model(path, config, tensors, for_prediction)
    notes = extra.pop(NOTES_TOKENS, None)
    if notes is not None:
        if (
            notes.dtype != torch.int32
            or notes.dim() != 1
            or (notes.numel() and not 0 <= int(notes.min()) <= int(notes.max()) < config.vocab_size)
        ):
            raise CheckpointError(
                f"{path} has damaged notes data (token ids that do not fit its vocabulary); retrain it with `nextword train --full`"
            )
        model.set_notes(notes)
    parts = extra.pop(WORD_PARTS, None)
    if parts is not None:
        if parts.dtype != torch.int64 or parts.dim() != 2 or parts.shape[1] != 3 or not _fits(parts, config.vocab_size):
            raise CheckpointError(
                f"{path} has a damaged table of word parts (token ids that do not fit its vocabulary); retrain it with `nextword train --full`"
            )
        model.set_word_parts(parts)
    return Checkpoint(model=model, vocab=vocab, path=path, info=info, extra=extra, spacing=spacing)


def _fits(parts: torch.Tensor, vocab_size: int) -> bool:
    """Whether a table of word parts names only ids of the vocabulary (and LATIN as a token, END
    as a next part), each pair once, with positive counts."""
    if not parts.numel():
        return True
    tokens, following = parts[:, 0], parts[:, 1]
    return bool(
        ((tokens >= 0) | (tokens == LATIN) | (tokens == HANGUL)).all()
        and ((following >= 0) | (following == END)).all()
        and int(parts[:, :2].max()) < vocab_size
        and int(parts[:, 2].min()) > 0
        and _distinct_pairs(parts[:, 0], parts[:, 1])
    )


def _distinct_pairs(tokens: torch.Tensor, following: torch.Tensor) -> bool:
    """Whether no (token, following) pair repeats: each packed into one number (both are at
    least HANGUL and below 2**31), whose distinct values a sort finds many times faster than
    ``torch.unique`` finds distinct rows."""
    keys = (tokens - HANGUL) * (1 << 32) + (following - HANGUL)
    keys = torch.sort(keys).values
    return bool((keys[1:] != keys[:-1]).all())


def _read_file(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """The metadata and tensors of the nextword model file at ``path`` (CheckpointError if it is none)."""
    if not path.exists():
        raise CheckpointError(
            f"model file {path} does not exist; train one with `nextword train NOTES` or pass an existing .safetensors file"
        )
    if not path.is_file():
        raise CheckpointError(f"model path {path} is not a file; pass the .safetensors file itself")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            # safetensors maps the file into memory: each tensor kept is copied out of the
            # mapping later, so that a file rewritten in place cannot pull data from under the
            # model (and the mapping goes once the tensors read from it do).
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
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
    return metadata, tensors


def _parse_metadata(
    path: Path, metadata: dict[str, str]
) -> tuple[ModelConfig, Vocabulary, dict[str, Any], Spacing | None]:
    """The config, vocabulary, training record and spacing table stored in ``metadata``, checked."""
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


def _build_model(
    path: Path, config: ModelConfig, weights: dict[str, torch.Tensor], for_prediction: bool
) -> LanguageModel:
    """The network of ``config`` holding ``weights`` (taken out of the dict as they are used; see ``load_checkpoint``)."""
    try:
        # A shell first: the weights are checked against the config before any is allocated,
        # so a config with absurd sizes cannot ask for more memory than the file holds.
        model = LanguageModel(config, device="meta")
    except ValueError as e:
        raise CheckpointError(f"{path} has an invalid model config ({e}); retrain it") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong = sorted(k for k in expected.keys() & weights.keys() if expected[k].shape != weights[k].shape)
    if missing or unexpected or wrong:
        problems = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unexpected {', '.join(unexpected)}" if unexpected else "",
                f"wrong shape for {', '.join(wrong)}" if wrong else "",
            )
            if part
        )
        raise CheckpointError(f"{path} does not match its own config ({problems}); retrain it")
    if for_prediction:
        # The stored tensors become the parameters, one copy at a time.
        model.load_state_dict({name: weights.pop(name).clone() for name in list(expected)}, assign=True)
    else:
        model = LanguageModel(config)
        expected = model.state_dict()
        with torch.no_grad():
            # Converted one tensor at a time into the parameters: no second full copy of the model.
            for name, parameter in expected.items():
                parameter.copy_(weights.pop(name))
    return model
