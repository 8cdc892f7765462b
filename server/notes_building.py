"""Building the notes the Predictors mix in from the workspace stores: read back from the notes
file when nothing changed since it was written; else, when they are large, built in a process
of its own and written to that file; else built here.

Building the notes of a large workspace holds the interpreter for a while in Python and takes
memory for its sorting; beside the keystrokes' answers it would slow them, and its peak would
add to the server's. A spawned process does it instead and leaves the notes in their file,
which the server then reads. Small notes (a few saved files) are built on the calling thread:
starting a process would take longer than building them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from nextword.model.notes import Notes, TokenTable
from nextword.model.vocab import Vocabulary

from .background_process import background_pool
from .notes_file import load_notes, save_notes

log = logging.getLogger(__name__)

IN_PROCESS_TOKENS = 100_000  # notes of fewer tokens are built on the calling thread


def built_notes(
    vocab: Vocabulary, tables: Sequence[TokenTable], trained: np.ndarray | None, path: Path | None, key: str
) -> Notes:
    """The notes of ``tables`` (with ``trained``, the token ids of a personal model's notes),
    read from ``path`` if it holds them (``key``), else built and written there."""
    if path is not None:
        found = _read(vocab, path, key)
        if found is not None:
            return found
        tokens = sum(len(ids) for _, files in tables for ids in files)
        if tokens >= IN_PROCESS_TOKENS and _build_elsewhere(vocab, tables, trained, path, key):
            found = _read(vocab, path, key)
            if found is not None:
                return found
    notes = Notes.build(vocab, tables, trained=trained)
    if path is not None:
        save_notes(path, key, *notes.arrays())
    return notes


def _read(vocab: Vocabulary, path: Path, key: str) -> Notes | None:
    found = load_notes(path, key)
    if found is None:
        return None
    try:
        return Notes.from_arrays(vocab, *found)
    except ValueError as e:
        log.warning("the built notes in %s are damaged (%s); building them again", path, e)
        return None


def _build_elsewhere(
    vocab: Vocabulary, tables: Sequence[TokenTable], trained: np.ndarray | None, path: Path, key: str
) -> bool:
    """Build the notes in a process of their own (``background_pool``) and write them
    to ``path``; False, logged, when that fails."""
    pool = background_pool()
    try:
        # The stores are only changed on the calling thread, which waits here.
        packed = [packed_table(table) for table in tables]
        pool.submit(write_notes, packed_strings(vocab.tokens), packed, trained, path, key).result()
        return True
    except Exception as e:  # noqa: BLE001 - a process that cannot start or died: build here
        log.warning("building the notes in a process of their own failed (%s); building them here", e)
        return False
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def write_notes(
    vocab_tokens: PackedStrings, tables: list[PackedTable], trained: np.ndarray | None, path: Path, key: str
) -> None:
    """In the building process: build the notes and write them to ``path``."""
    vocab = Vocabulary(unpacked_strings(*vocab_tokens))
    notes = Notes.build(vocab, [unpacked_table(*table) for table in tables], trained=trained)
    save_notes(path, key, *notes.arrays())


# What goes to the building process goes pickled, as a few flat objects: tens of thousands of
# strings pickled one by one would hold the interpreter, and every keystroke's answer, for
# tens of milliseconds; one string and an array of lengths take a fraction of one.
PackedStrings = tuple[str, np.ndarray]  # the strings joined, and each one's length
PackedTable = tuple[PackedStrings, np.ndarray, np.ndarray]  # words, every file's ids joined, each file's length


def packed_strings(strings: Sequence[str]) -> PackedStrings:
    return "".join(strings), np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))


def unpacked_strings(joined: str, lengths: np.ndarray) -> list[str]:
    ends = np.cumsum(lengths).tolist()
    return [joined[start:end] for start, end in zip([0, *ends[:-1]], ends)]


def packed_table(table: TokenTable) -> PackedTable:
    words, files = table
    ids = np.concatenate(files) if len(files) else np.zeros(0, dtype=np.int64)
    return packed_strings(words), ids, np.fromiter(map(len, files), dtype=np.int64, count=len(files))


def unpacked_table(words: PackedStrings, ids: np.ndarray, lengths: np.ndarray) -> TokenTable:
    return unpacked_strings(*words), np.split(ids, np.cumsum(lengths)[:-1]) if len(lengths) else []
