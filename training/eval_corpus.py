"""A corpus read for evaluation: the files of its test split (never trained on), and its
training files when a baseline learns from them."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from nextword.model import NextwordError

from .corpus import DEFAULT_EXTENSIONS, Document, find_files, read_text
from .split import is_test_file


@dataclass
class Split:
    """A corpus's documents by the protocol's split, and the files that could not be read."""

    test: list[Document] = field(default_factory=list)
    train: list[Document] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> number of files
    found: int = 0  # text files in the corpus, test and training


def load_split(corpus: str | Path, read_train: bool = True) -> Split:
    """Read the test files of ``corpus`` (a folder, or one file whose relative path is its
    name), and its training files when ``read_train``; warn on stderr about unreadable files."""
    files = find_files([corpus])
    if not files:
        raise NextwordError(
            f"no text files ({', '.join(DEFAULT_EXTENSIONS)}) found in {corpus}; point at a folder of notes"
        )
    split = Split(found=len(files))
    tests = [(path, rel) for path, rel in files if is_test_file(rel)]
    if not tests:
        raise NextwordError(
            f"none of the {len(files)} text file(s) in {corpus} falls in the test split (about one file in ten, "
            "chosen by a hash of its path); evaluate a larger corpus"
        )
    for path, relative in files:
        test = is_test_file(relative)
        if not (test or read_train):
            continue
        text, problem = read_text(path)
        if text is None:
            split.skipped[problem] += 1
            continue
        (split.test if test else split.train).append(Document(path, relative, text))
    if split.skipped:
        print(
            f"warning: skipped {', '.join(f'{n} {why}' for why, n in sorted(split.skipped.items()))} file(s) of {corpus}",
            file=sys.stderr,
        )
    if not split.test:
        raise NextwordError(
            f"none of the {len(tests)} test file(s) of {corpus} could be read as UTF-8 text; evaluation needs UTF-8 text files"
        )
    return split
