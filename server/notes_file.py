"""The notes a server built from its workspace stores, kept beside them so that a second start
on the same notes need not build them again.

One file per combination of stores (named by a hash of their paths), in the data folder's
``notes`` folder, beside the stores' own: the notes' arrays in a safetensors file and, in its
metadata, what they were built from (the stores' files' content digests, the model's
vocabulary, the tokenizer and how notes are built, as one key). A file
whose key differs, or that cannot be read, is built again and written over; it is only ever a
copy of what the stores hold, so forgetting a folder deletes every such file. No pickle; writes
are atomic.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from nextword.model.file_header import header_format
from nextword.model.ngram import MAX_TOKENS, ORDER
from nextword.model.paths import data_dir
from safetensors.numpy import save

from .workspace_store import tokenizer_id

log = logging.getLogger(__name__)

NOTES_FORMAT = "nextword-workspace-notes"
NOTES_PREFIX = "notes-"
NOTES_FOLDER = "notes"
# How notes are built (n-gram order, tokens kept, what they hold): a change makes older files stale.
BUILT_AS = f"notes 1, order {ORDER}, {MAX_TOKENS} tokens"


def notes_dir() -> Path:
    return data_dir() / NOTES_FOLDER


def notes_path(store_files: Iterable[Path]) -> Path:
    """The notes file of the stores at ``store_files``."""
    names = "\n".join(sorted(str(p) for p in store_files))
    name = hashlib.sha256(names.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return notes_dir() / f"{NOTES_PREFIX}{name}.safetensors"


def vocabulary_digest(tokens: list[str]) -> str:
    """A digest of a vocabulary's tokens, in order (``notes_key`` takes it)."""
    return hashlib.sha256("\n".join(tokens).encode("utf-8", "surrogatepass")).hexdigest()


def notes_key(vocabulary: str, digests: Iterable[str], trained: np.ndarray | None) -> str:
    """What notes are built from, as one string: the vocabulary (``vocabulary_digest``), the
    tokenizer, how notes are built, the content digests of the files (in order, repeats
    counted) and the trained notes mixed in, if any."""
    h = hashlib.sha256()
    for part in (BUILT_AS, tokenizer_id(), vocabulary, "\n".join(digests)):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    if trained is not None:
        h.update(np.ascontiguousarray(trained, dtype=np.int32).tobytes())
    return h.hexdigest()


def save_notes(path: Path, key: str, arrays: dict[str, np.ndarray], about: dict[str, Any]) -> None:
    """Write notes (``Notes.arrays``) to ``path`` atomically; a failure is logged, not raised:
    the file is a copy, and the next start builds the notes again."""
    metadata = {"format": NOTES_FORMAT, "key": key, "about": json.dumps(about, ensure_ascii=False)}
    tmp = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(save({k: np.ascontiguousarray(v) for k, v in arrays.items()}, metadata=metadata))
        os.replace(tmp, path)
    except OSError as e:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        log.warning("could not keep the built notes in %s (%s); they are built again at the next start", path, e)


def load_notes(path: Path, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """The arrays and the rest of the notes at ``path`` if they were built from ``key``; None
    when there are none, they are of other notes or the file cannot be read (logged)."""
    if header_format(path) != NOTES_FORMAT:
        return None
    try:
        metadata, arrays = _read(path)
        if metadata.get("key") != key:
            return None
        about = json.loads(metadata.get("about", ""))
    except (OSError, ValueError, KeyError, TypeError) as e:  # a damaged copy is built again
        log.warning("the built notes in %s cannot be read (%s); building them again", path, e)
        return None
    return (arrays, about) if isinstance(about, dict) else None


_DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}


def _read(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata and arrays of the safetensors file at ``path``, read into memory once, the
    arrays views of it (read-only). safetensors' own loaders copy each tensor out of the bytes
    they read or map: the notes of a large workspace would be in memory twice while loading."""
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    metadata = header.pop("__metadata__", None) or {}
    arrays = {}
    for name, spec in header.items():
        dtype = np.dtype(_DTYPES[spec["dtype"]])
        begin, end = (8 + size + int(n) for n in spec["data_offsets"])
        count = int(np.prod(spec["shape"], dtype=np.int64))
        if not 8 + size <= begin <= end <= len(data) or end - begin != count * dtype.itemsize:
            raise ValueError(f"tensor {name} does not fit the file")
        arrays[name] = np.frombuffer(data, dtype=dtype, count=count, offset=begin).reshape(spec["shape"])
    return metadata, arrays


def delete_notes_files() -> None:
    """Delete every notes file (a folder forgotten must leave no copy of its words)."""
    folder = notes_dir()
    for path in folder.glob(f"{NOTES_PREFIX}*.safetensors") if folder.is_dir() else []:
        try:
            path.unlink()
        except OSError as e:
            log.warning("could not delete %s (%s)", path, e)


def is_notes_file(path: Path) -> bool:
    """Whether ``path`` is a regular file that is a notes file, judged by its header alone."""
    return not path.is_symlink() and header_format(path) == NOTES_FORMAT
