"""What the server learned from one workspace folder's notes, kept between sessions.

One store per folder (and one for the files saved outside every folder), each a single
safetensors file in the data folder: the token ids of every file, concatenated in one int32
tensor, with the store's own word table and the file entries as JSON in its metadata. The
ids index the store's word table, never a model's vocabulary, so a store outlives a change of
model. No pickle; writes are atomic (a temporary file beside the store, then a rename).

In memory the word table only grows: an id keeps its word for as long as the store lives,
so a caller may map ids to its own vocabulary once per new word. The file written drops
the words no stored file uses any more.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Container, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from nextword.model import NextwordError
from nextword.model.file_header import header_format
from nextword.model.paths import data_dir
from nextword.model.pieces import is_continuation, segmentation_id
from nextword.model.tokenize import is_word, tokenize
from nextword.training.corpus import content_digest
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

FORMAT = "nextword-workspace"
FORMAT_VERSION = "1"
OUTSIDE = "outside"  # the name of the store of files outside every workspace folder
STORES_FOLDER = "workspaces"
IDS = "ids"
_HEADER_LIMIT = 100_000_000  # safetensors' own limit on a header
# A store past this many tokens is not one nextword wrote (the word cap is far below it):
# refused before it is read into memory.
MAX_TOKENS = 1 << 28


class StoreDamaged(NextwordError):
    """A store that cannot be read; the message names the file and says it will be rebuilt."""


@dataclass(frozen=True)
class FileTokens:
    """A file's tokens as a store takes them: its distinct tokens, where each token is among
    them, and how many tokens are words. Built where the file is tokenized (a process of its
    own in a scan), so that learning it costs a look-up per distinct token, not per token."""

    distinct: list[str]
    places: np.ndarray  # int32: the position in ``distinct`` of each token
    words: int  # tokens that are words (is_word)

    @classmethod
    def of(cls, tokens: list[str]) -> FileTokens:
        index: dict[str, int] = {}
        places = np.fromiter((index.setdefault(t, len(index)) for t in tokens), dtype=np.int32, count=len(tokens))
        distinct = list(index)
        counted = np.fromiter((is_word(t) for t in distinct), dtype=bool, count=len(distinct))
        return cls(distinct, places, int(np.count_nonzero(counted[places])))


@dataclass
class StoredFile:
    """One file as learned: how to recognise it unchanged, and its tokens."""

    digest: str  # content_digest of its text
    mtime_ns: int  # modification time when it was read
    size: int  # size in bytes when it was read
    ids: np.ndarray  # int32 token ids into the store's word table; never changed in place
    words: int = 0  # how many of its tokens are words (is_word)

    def is_as(self, stat: os.stat_result) -> bool:
        """Whether the file, as ``stat`` finds it now, has the modification time and size it was read with."""
        return (self.mtime_ns, self.size) == (stat.st_mtime_ns, stat.st_size)


def stores_dir() -> Path:
    return data_dir() / STORES_FOLDER


def store_path(folder: Path) -> Path:
    """The store of ``folder``: named by a short hash of its resolved path."""
    name = hashlib.sha256(str(folder.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return stores_dir() / f"{name}.safetensors"


def outside_store_path() -> Path:
    """The one store of the files outside every workspace folder."""
    return stores_dir() / f"{OUTSIDE}.safetensors"


@cache
def tokenizer_id() -> str:
    """The fingerprint of the tokenizer the stored tokens were made with."""
    return segmentation_id()


class FolderStore:
    """The tokens of every file learned from one folder (``folder`` None: the outside store).

    Files are keyed by their path relative to the folder, with '/' separators (absolute
    paths in the outside store). Not thread-safe: callers serialise changes."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.files: dict[str, StoredFile] = {}
        self.words: list[str] = []
        self.index: dict[str, int] = {}
        self._is_word: list[bool] = []
        # Which words a vocabulary lacks (``_unknown_words``): the vocabulary's index, the flags.
        self._unknown: tuple[Container[str] | None, np.ndarray] = (None, np.zeros(0, dtype=bool))
        self.skipped: Counter[str] = Counter()  # reason -> files, from the last scan
        self.left_out = 0  # files not learned because the word cap was reached (last scan)
        self.revision = 0  # grows with every change: a caller can tell whether to save or remix
        self.saved_revision = 0  # the revision last saved or loaded
        self._words = 0

    # -- changes -------------------------------------------------------------

    def learn(self, key: str, text: str, mtime_ns: int, size: int) -> None:
        """Learn ``text`` as the file ``key``, replacing what was learned of it before."""
        self.learn_tokens(key, FileTokens.of(tokenize(text)), content_digest(text), mtime_ns, size)

    def learn_tokens(self, key: str, tokens: FileTokens, digest: str, mtime_ns: int, size: int) -> None:
        """``learn`` with the text already tokenized (a scan counts the words before learning)."""
        ids = np.fromiter((self._id(t) for t in tokens.distinct), dtype=np.int32, count=len(tokens.distinct))
        self._put(key, StoredFile(digest, mtime_ns, size, ids[tokens.places], tokens.words))

    def touch(self, key: str, mtime_ns: int, size: int) -> None:
        """Record a new modification time and size for a file whose content did not change."""
        stored = self.files[key]
        stored.mtime_ns, stored.size = mtime_ns, size
        self.revision += 1

    def forget(self, key: str) -> bool:
        """Forget the file ``key``; whether it was there."""
        stored = self.files.pop(key, None)
        if stored is None:
            return False
        self._words -= stored.words
        self.revision += 1
        return True

    def clear(self) -> None:
        """Forget every file (the word table stays: ids keep their words)."""
        self.files.clear()
        self._words = 0
        self.revision += 1

    def _put(self, key: str, stored: StoredFile) -> None:
        old = self.files.get(key)
        if old is not None:
            self._words -= old.words
        self.files[key] = stored
        self._words += stored.words
        self.revision += 1

    def _id(self, token: str) -> int:
        found = self.index.get(token)
        if found is None:
            found = self.index[token] = len(self.words)
            self.words.append(token)
            self._is_word.append(is_word(token))
        return found

    # -- reading -------------------------------------------------------------

    @property
    def word_count(self) -> int:
        """Word tokens (``is_word``) over all files."""
        return self._words

    @property
    def file_count(self) -> int:
        return len(self.files)

    @property
    def token_count(self) -> int:
        return sum(len(f.ids) for f in self.files.values())

    @property
    def unsaved(self) -> bool:
        return self.revision != self.saved_revision

    def tokens_of(self, key: str) -> list[str]:
        """The tokens learned of file ``key`` (empty when it is not stored)."""
        stored = self.files.get(key)
        return [] if stored is None else [self.words[i] for i in stored.ids.tolist()]

    def token_table(self) -> tuple[list[str], list[np.ndarray]]:
        """The word table and each file's id array (in ``files`` order), without copies: the
        table only grows and the arrays are never changed in place, so they stay valid."""
        return self.words, [f.ids for f in self.files.values()]

    def iter_token_ids(self) -> Iterator[tuple[str, np.ndarray]]:
        """``(key, ids)`` of every file."""
        for key, stored in list(self.files.items()):
            yield key, stored.ids

    def new_word_count(self, known: Container[str]) -> int:
        """How many words some stored file holds that ``known`` (a vocabulary's index) lacks,
        word parts that continue a word left out."""
        return int(np.count_nonzero(self._used() & self._unknown_words(known)))

    def _unknown_words(self, known: Container[str]) -> np.ndarray:
        """Which words of the table ``known`` lacks (words only, no continuations), kept: the
        table only grows, so only its new words are looked up at the next count."""
        flags = self._unknown[1] if self._unknown[0] is known else np.zeros(0, dtype=bool)
        if len(flags) < len(self.words):
            more = (w not in known and not is_continuation(w) for w in self.words[len(flags) :])
            flags = np.concatenate([flags, np.fromiter(more, dtype=bool)]) & np.array(self._is_word, dtype=bool)
            self._unknown = (known, flags)
        return flags

    def _used(self) -> np.ndarray:
        used = np.zeros(len(self.words), dtype=bool)
        for stored in self.files.values():
            used[stored.ids] = True
        return used

    # -- the file ------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the store to ``path`` atomically; raises NextwordError when it cannot."""
        revision = self.revision
        tensors, metadata = self._serialise()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as e:
            raise NextwordError(
                f"cannot write the workspace store {path} ({e.strerror or e}); "
                "make nextword's data folder writable (or set NEXTWORD_DATA_DIR)"
            ) from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(save(tensors, metadata=metadata))
                f.flush()
                os.fsync(f.fileno())  # the rename then leaves the old store or the new, never an empty one
            os.replace(tmp, path)
        except OSError as e:
            Path(tmp).unlink(missing_ok=True)
            kept = f"; {path} is unchanged" if path.is_file() else ""
            raise NextwordError(
                f"cannot write the workspace store {path} ({e.strerror or e}){kept}; free some disk space"
            ) from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.saved_revision = revision

    def _serialise(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """The tensors and metadata of the file, with only the words some file uses."""
        used = self._used()
        words = self.words
        remap: np.ndarray | None = None
        if not used.all():
            remap = np.cumsum(used, dtype=np.int64).astype(np.int32) - 1
            words = [w for w, u in zip(self.words, used.tolist()) if u]
        entries, arrays, offset = [], [], 0
        for key, f in self.files.items():
            entries.append([key, f.digest, f.mtime_ns, f.size, offset, len(f.ids)])
            arrays.append(f.ids if remap is None else remap[f.ids])
            offset += len(f.ids)
        ids = np.concatenate(arrays).astype(np.int32, copy=False) if arrays else np.zeros(0, dtype=np.int32)
        metadata = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "tokenizer": tokenizer_id(),
            "folder": _folder_name(self.folder),
            "files": json.dumps(entries, ensure_ascii=False),
            "words": json.dumps(words, ensure_ascii=False),
        }
        return {IDS: ids}, metadata

    @classmethod
    def load(cls, path: Path, folder: Path | None) -> FolderStore:
        """The store at ``path`` for ``folder``; empty when there is none, or when it was made
        by another tokenizer or format version (to be rebuilt). Raises StoreDamaged for a file
        that is not a sound store of ``folder``."""
        store = cls(folder)
        if not path.exists():
            return store
        metadata, ids = _read(path)

        def damaged(what: str) -> StoreDamaged:
            return StoreDamaged(
                f"the workspace store {path} is damaged ({what}); nextword will rebuild it from the notes"
            )

        if metadata.get("version") != FORMAT_VERSION or metadata.get("tokenizer") != tokenizer_id():
            return store  # made by another nextword: rebuilt from the notes
        if metadata.get("folder") != _folder_name(folder):
            raise StoreDamaged(
                f"the workspace store {path} holds the notes of {metadata.get('folder') or 'files outside the folders'}, "
                f"not of {_folder_name(folder) or 'files outside the folders'}; nextword will rebuild it from the notes"
            )
        try:
            words, entries = json.loads(metadata["words"]), json.loads(metadata["files"])
        except (KeyError, ValueError):
            raise damaged("its word table or file list is not readable JSON") from None
        problem = _check(words, entries, ids)
        if problem:
            raise damaged(problem)
        store.words = words
        store.index = {w: i for i, w in enumerate(words)}
        store._is_word = [is_word(w) for w in words]
        flags = np.array(store._is_word, dtype=bool)
        for key, digest, mtime_ns, size, offset, length in entries:
            part = ids[offset : offset + length]
            store._put(key, StoredFile(digest, mtime_ns, size, part, int(flags[part].sum())))
        store.revision = store.saved_revision = 0
        return store


def _folder_name(folder: Path | None) -> str:
    return "" if folder is None else str(folder.resolve())


def _read(path: Path) -> tuple[dict[str, str], np.ndarray]:
    """The metadata and the ids of a store file, sizes checked before anything is read."""

    def damaged(what: str) -> StoreDamaged:
        return StoreDamaged(f"the workspace store {path} is damaged ({what}); nextword will rebuild it from the notes")

    try:
        total = path.stat().st_size
        with path.open("rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if total < 8 or not 2 <= size <= min(_HEADER_LIMIT, total - 8):
                raise damaged("it is truncated or not a safetensors file")
            header = json.loads(f.read(size))
        if not isinstance(header, dict) or (header.get("__metadata__") or {}).get("format") != FORMAT:
            raise damaged("it is not a nextword workspace store")
        shape = header.get(IDS, {}).get("shape")
        if not isinstance(shape, list) or len(shape) != 1 or not isinstance(shape[0], int):
            raise damaged("it holds no token ids")
        if shape[0] > MAX_TOKENS or 8 + size + 4 * shape[0] > total:
            raise damaged("its token ids do not fit the file")
        with safe_open(str(path), framework="numpy") as f:
            metadata = f.metadata() or {}
            ids = f.get_tensor(IDS)
    except StoreDamaged:
        raise
    except OSError as e:
        raise StoreDamaged(
            f"cannot read the workspace store {path} ({e.strerror or e}); nextword will rebuild it from the notes"
        ) from None
    except (ValueError, SafetensorError, AttributeError):
        raise damaged("it is truncated or not a safetensors file") from None
    if ids.dtype != np.int32 or ids.ndim != 1:
        raise damaged("its token ids are not int32")
    return metadata, ids


def _check(words: Any, entries: Any, ids: np.ndarray) -> str | None:
    """What is wrong with a store's word table, file entries and ids; None when they agree."""
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words) or len(set(words)) != len(words):
        return "its word table is not a list of distinct words"
    if not isinstance(entries, list):
        return "its file list is not a list"
    offset, keys = 0, set()
    for entry in entries:
        if not (isinstance(entry, list) and len(entry) == 6):
            return "a file entry is malformed"
        key, digest, mtime_ns, size, start, length = entry
        if not (isinstance(key, str) and isinstance(digest, str) and key not in keys):
            return "a file entry is malformed"
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (mtime_ns, size, start, length)):
            return "a file entry is malformed"
        if start != offset:
            return "its file offsets are inconsistent"
        keys.add(key)
        offset += length
    if offset != len(ids):
        return "its file offsets do not match its token ids"
    if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= len(words)):
        return "a token id is out of range of its word table"
    return None


def is_store_file(path: Path) -> bool:
    """Whether ``path`` is a regular file that is a nextword workspace store, judged by its
    header alone (a store damaged further on still counts as one)."""
    return not path.is_symlink() and header_format(path) == FORMAT
