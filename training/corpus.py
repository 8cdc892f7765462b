"""Reading a corpus: folders and files of notes to documents, split into train, validation
and test by the evaluation protocol's rule (training never reads a test file)."""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from nextword.model import NextwordError

from .split import is_test_file, is_validation_file

DEFAULT_EXTENSIONS = (".md", ".markdown", ".txt", ".rst", ".org")
_BINARY_SNIFF = 8192


@dataclass
class Document:
    """One text file of a corpus."""

    path: Path
    relative_path: str  # relative to the folder named on the command line, with '/' separators
    text: str


@dataclass
class Corpus:
    """The documents read for training, and what was left out and why."""

    train: list[Document] = field(default_factory=list)
    valid: list[Document] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> number of files

    def describe_skipped(self) -> str:
        return ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))


def find_files(paths: Iterable[str | os.PathLike[str]], extensions: Iterable[str] = DEFAULT_EXTENSIONS) -> list[tuple[Path, str]]:
    """``(file, relative path)`` for every text file under ``paths``, in path order.

    Folders are searched recursively, skipping hidden folders and files; a file named
    directly is taken whatever its extension."""
    exts = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
    found: list[tuple[Path, str]] = []
    for raw in paths:
        root = Path(raw).expanduser()
        if not root.exists():
            raise NextwordError(f"{root} does not exist; name a folder or file of notes")
        if root.is_file():
            found.append((root, root.name))
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.startswith(".") or not name.lower().endswith(exts):
                    continue
                path = Path(folder) / name
                found.append((path, path.relative_to(root).as_posix()))
    return found


def read_text(path: Path) -> tuple[str | None, str]:
    """The file's text, or None and the reason it cannot be used."""
    try:
        data = path.read_bytes()
    except OSError as e:
        return None, f"unreadable ({e.strerror or e})"
    if b"\0" in data[:_BINARY_SNIFF]:
        return None, "binary"
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError:
        return None, "not UTF-8"


def load_corpus(
    paths: Iterable[str | os.PathLike[str]],
    extensions: Iterable[str] = DEFAULT_EXTENSIONS,
    include_test_split: bool = False,
    warn=lambda message: print(message, file=sys.stderr),
) -> Corpus:
    """Read the training and validation documents under ``paths``."""
    corpus = Corpus()
    paths = list(paths)
    files = find_files(paths, extensions)
    for path, relative in files:
        if not include_test_split and path.resolve() not in {Path(p).expanduser().resolve() for p in paths} and is_test_file(relative):
            corpus.skipped["held out as the evaluation test split"] += 1
            continue
        text, problem = read_text(path)
        if text is None:
            corpus.skipped[problem] += 1
            continue
        if not text.strip():
            corpus.skipped["empty"] += 1
            continue
        document = Document(path, relative, text)
        (corpus.valid if is_validation_file(relative) else corpus.train).append(document)
    bad = {k: v for k, v in corpus.skipped.items() if not k.startswith("held out")}
    if bad:
        warn(f"warning: skipped {', '.join(f'{n} {reason}' for reason, n in sorted(bad.items()))} file(s)")
    if not corpus.train and not corpus.valid:
        where = ", ".join(str(p) for p in paths)
        if not files:
            raise NextwordError(f"no text files ({', '.join(extensions)}) found in {where}; point at a folder of notes or use --ext to add extensions")
        raise NextwordError(f"no usable text in {where} ({corpus.describe_skipped()}); training needs UTF-8 text files")
    if not corpus.train:  # everything landed in validation: train on it rather than refuse
        corpus.train, corpus.valid = corpus.valid, []
    if not corpus.valid and len(corpus.train) > 1:
        corpus.valid.append(corpus.train.pop())
    return corpus
