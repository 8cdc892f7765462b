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
from safetensors.torch import save

from .config import ModelConfig
from .errors import NextwordError
from .file_header import header_format
from .model_file import (
    FORMAT,
    FORMAT_VERSION,
    NOTES_TOKENS,
    SEGMENTATION,
    SPACING,
    WORD_PARTS,
    CheckpointError,
    check_notes,
    check_weights,
    check_word_parts,
    parse_metadata,
    read_model_file,
)
from .network import LanguageModel
from .paths import default_model_path
from .pieces import has_hangul, segmentation_id
from .spacing import Spacing
from .vocab import Vocabulary

__all__ = ["Checkpoint", "CheckpointError", "CheckpointWriteError", "load_checkpoint", "save_checkpoint"]


class CheckpointWriteError(NextwordError, OSError):
    """A checkpoint that cannot be written (a folder that cannot be written, a full disk).
    Still an OSError, for callers that handle those."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


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
    metadata, tensors = read_model_file(source, "pt")
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


def load_checkpoint(path: str | os.PathLike[str] | None = None) -> Checkpoint:
    """Read a checkpoint (the shipped default when ``path`` is None) as a trainable module in
    single precision; prediction reads the file with ``prediction_model.load_for_prediction``."""
    path = Path(path).expanduser() if path is not None else default_model_path()
    metadata, tensors = read_model_file(path, "pt")
    config, vocab, info, spacing = parse_metadata(path, metadata)
    extra = {k.removeprefix("extra."): tensors.pop(k).clone() for k in list(tensors) if k.startswith("extra.")}
    model = _build_model(path, config, tensors)
    notes = extra.pop(NOTES_TOKENS, None)
    if notes is not None:
        check_notes(path, notes.numpy(), config.vocab_size)
        model.set_notes(notes)
    parts = extra.pop(WORD_PARTS, None)
    if parts is not None:
        check_word_parts(path, parts.numpy(), config.vocab_size)
        model.set_word_parts(parts)
    return Checkpoint(model=model, vocab=vocab, path=path, info=info, extra=extra, spacing=spacing)


def _build_model(path: Path, config: ModelConfig, weights: dict[str, torch.Tensor]) -> LanguageModel:
    """The network of ``config`` holding ``weights`` (taken out of the dict as they are used; see ``load_checkpoint``)."""
    check_weights(path, config, {name: tuple(t.shape) for name, t in weights.items()})
    model = LanguageModel(config)
    with torch.no_grad():
        # Converted one tensor at a time into the parameters: no second full copy of the model.
        for name, parameter in model.state_dict().items():
            parameter.copy_(weights.pop(name))
    return model
