"""Bringing a workspace store up to date with its folder, incrementally, and learning one file.

The folder is read by ``nextword train``'s rules (training/corpus.py: its extensions, hidden
files and folders skipped, ``.nextwordignore``, links leading outside not followed, binary
and non-UTF-8 files skipped), but every file counts: a person's workspace has no test split.
A file is known unchanged by its modification time and size, else by its content digest, so
a second start reads only what changed and tokenizes only what differs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pathspec
from nextword.model import NextwordError
from nextword.model.tokenize import tokenize
from nextword.training.corpus import DEFAULT_EXTENSIONS, Exclusions, content_digest, find_files, read_text

from .workspace_store import FileTokens, FolderStore

CAP_REACHED = "left out: the word cap is reached"
Read = tuple[str, str, FileTokens | None]  # what read_tokens gives


class Reader(Protocol):
    """Reads and tokenizes a scan's files (``read_tokens``), here or in another process."""

    def expect(self, paths: list[Path]) -> None:
        """The files about to be read, in order: a reader may start on them."""

    def read(self, path: Path) -> Read: ...


class ReadingHere:
    """A ``Reader`` that reads each file when asked, on the calling thread."""

    def expect(self, paths: list[Path]) -> None:
        pass

    def read(self, path: Path) -> Read:
        return read_tokens(path)


EMPTY = "empty"


@dataclass
class ScanResult:
    """What a scan did."""

    seen: int = 0  # files found under the folder by the reading rules
    learned: int = 0  # new or changed files learned
    unchanged: int = 0  # files already stored as they are
    forgotten: int = 0  # stored files gone from disk (or now excluded, or no longer readable)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> files not learned
    left_out: int = 0  # files not learned because the word cap was reached
    stopped: bool = False  # should_stop() ended it before every file was looked at


def too_large(max_file_bytes: int) -> str:
    kb = max_file_bytes / 1024
    return f"larger than {kb:g} kB" if kb >= 1 else f"larger than {max_file_bytes} bytes"


def read_tokens(path: Path) -> Read:
    """The reason the file at ``path`` cannot be learned ("" when it can), its content digest
    and its tokens: the part of learning a file that holds the interpreter longest, which a
    scan of many files runs in a process of its own (``Reader``)."""
    text, problem = read_text(path)
    if text is None or not text.strip():
        return problem or EMPTY, "", None
    return "", content_digest(text), FileTokens.of(tokenize(text))


def scan(
    folder: Path,
    store: FolderStore,
    *,
    extensions: Iterable[str] = DEFAULT_EXTENSIONS,
    max_file_bytes: int,
    max_words: int | None,
    words_elsewhere: int = 0,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[int, int], None] | None = None,
    reader: Reader | None = None,
) -> ScanResult:
    """Bring ``store`` up to date with ``folder``: learn new and changed files, forget those
    gone. ``max_words`` caps the words of this store plus ``words_elsewhere`` (other stores):
    past it, new files are left out and counted, and nothing stored is dropped to make room.
    ``should_stop`` is asked between files; ``progress(done, total)`` told after each;
    ``reader`` reads and tokenizes each new or changed file (``ReadingHere``). Raises
    NextwordError when the folder is gone or one of its ``.nextwordignore`` files is unreadable."""
    result = ScanResult()
    if not folder.is_dir():
        raise NextwordError(f"the workspace folder {folder} is not a folder (any more); nothing was read from it")
    found = find_files([folder], extensions, (), result.skipped)
    result.seen = len(found)
    on_disk = {relative for _, relative in found}
    for key in [key for key in store.files if key not in on_disk]:
        store.forget(key)
        result.forgotten += 1
    reader = reader or ReadingHere()
    reader.expect([path for path, key in found if _to_read(store, key, path, max_file_bytes)])
    for done, (path, key) in enumerate(found):
        if should_stop():
            result.stopped = True
            break
        outcome = _update(store, key, path, max_file_bytes, max_words, words_elsewhere, reader)
        if outcome == "learned":
            result.learned += 1
        elif outcome == "unchanged":
            result.unchanged += 1
        elif outcome == CAP_REACHED:
            result.left_out += 1
        else:
            result.skipped[outcome] += 1
        if progress is not None:
            progress(done + 1, len(found))
    store.skipped = result.skipped
    store.left_out = result.left_out
    return result


def learn_file(
    store: FolderStore,
    key: str,
    path: Path,
    max_file_bytes: int,
    *,
    max_words: int | None = None,
    words_elsewhere: int = 0,
) -> str | None:
    """Learn the file at ``path`` as ``key`` (after a save or a change on disk), by the scan's
    rules; None when it is learned (or already was, as it is), else why it was not. A file
    that can no longer be used (now binary, too large, empty) is forgotten; one left out by
    the word cap keeps what was learned of it before."""
    outcome = _update(store, key, path, max_file_bytes, max_words, words_elsewhere)
    return None if outcome in ("learned", "unchanged") else outcome


def _to_read(store: FolderStore, key: str, path: Path, max_file_bytes: int) -> bool:
    """Whether ``_update`` will likely read the file at ``path``: not stored as ``key`` as it
    is now, and not too large."""
    old = store.files.get(key)
    try:
        stat = path.stat()
    except OSError:
        return False
    return (old is None or not old.is_as(stat)) and stat.st_size <= max_file_bytes


def _update(
    store: FolderStore,
    key: str,
    path: Path,
    max_file_bytes: int,
    max_words: int | None,
    words_elsewhere: int,
    reader: Reader | None = None,
) -> str:
    """Bring ``key`` up to date: "learned", "unchanged", CAP_REACHED or the reason it was skipped."""
    old = store.files.get(key)
    try:
        stat = path.stat()  # before reading: a change made while it is read shows at the next look
    except OSError as e:
        store.forget(key)
        return f"unreadable ({e.strerror or e})"
    if old is not None and old.is_as(stat):
        return "unchanged"
    if stat.st_size > max_file_bytes:
        store.forget(key)
        return too_large(max_file_bytes)
    budget = None if max_words is None else max_words - words_elsewhere - store.word_count
    if old is None and budget is not None and budget <= 0:
        return CAP_REACHED  # full: not even read
    problem, digest, tokens = (reader or ReadingHere()).read(path)
    if problem or tokens is None:
        store.forget(key)
        return problem or EMPTY
    if old is not None and old.digest == digest:
        store.touch(key, stat.st_mtime_ns, stat.st_size)  # touched, not changed: learned as it was
        return "unchanged"
    if budget is not None and tokens.words - (old.words if old is not None else 0) > budget:
        return CAP_REACHED
    store.learn_tokens(key, tokens, digest, stat.st_mtime_ns, stat.st_size)
    return "learned"


def key_of(folder: Path, path: Path, extensions: Iterable[str] = DEFAULT_EXTENSIONS) -> str | None:
    """The key of ``path`` in ``folder``'s store, or None when a scan of ``folder`` would not
    read it: outside the folder, hidden or under a hidden folder, of another extension,
    excluded by a ``.nextwordignore``, under a linked folder, or a link leading outside. An
    ignore file that cannot be read keeps everything under it out (as the scan refuses it)."""
    folder, path = folder.absolute(), path.absolute()
    try:
        relative = path.relative_to(folder)
    except ValueError:
        try:
            folder, path = folder.resolve(), path.resolve()
            relative = path.relative_to(folder)
        except (ValueError, OSError, RuntimeError):
            return None
    parts = relative.parts
    if not parts or any(part.startswith(".") for part in parts):
        return None
    if not _has_extension(parts[-1], extensions):
        return None
    exclusions = Exclusions()
    rules: list[tuple[str, pathspec.PathSpec]] = []
    here = folder
    try:
        for depth, part in enumerate(parts):
            own = exclusions.folder_rules(here)
            if own is not None:
                rules.append(("/".join(parts[:depth]), own))
            last = depth == len(parts) - 1
            if exclusions.excluded("/".join(parts[: depth + 1]), not last, rules):
                return None
            here = here / part
            if not last and here.is_symlink():
                return None  # the scan does not enter linked folders
    except NextwordError:
        return None
    if path.is_symlink() and not _leads_inside(path, folder):
        return None
    return relative.as_posix()


def outside_key(path: Path, extensions: Iterable[str] = DEFAULT_EXTENSIONS) -> str | None:
    """The key of a file outside every workspace folder in the outside store (its absolute
    path), or None when it is hidden, under a hidden folder or of another extension."""
    path = path.absolute()
    if any(part.startswith(".") for part in path.parts[1:]) or not _has_extension(path.name, extensions):
        return None
    return path.as_posix()


def _has_extension(name: str, extensions: Iterable[str]) -> bool:
    exts = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
    return name.lower().endswith(exts)


def _leads_inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError, RuntimeError):
        return False
