"""Reading a corpus: folders and files of notes to documents, split into train, validation
and test by the evaluation protocol's rule (training never reads a test file).

Privacy: only the folders and files named are read. Hidden files and folders (``.git``,
``.obsidian``, ...) are skipped, a folder's ``.nextwordignore`` (gitignore syntax, applying
to that folder and below, as ``.gitignore`` does) and ``--exclude`` patterns keep files out,
excluded folders are never entered, and a link that leads outside the folder named is not
followed.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pathspec
from nextword.model import NextwordError

from .split import is_test_file, is_validation_file

DEFAULT_EXTENSIONS = (".md", ".markdown", ".txt", ".rst", ".org")
IGNORE_FILE = ".nextwordignore"
_BINARY_SNIFF = 8192


@dataclass
class Document:
    """One text file of a corpus."""

    path: Path
    relative_path: str  # relative to the folder named on the command line, with '/' separators
    text: str

    @property
    def digest(self) -> str:
        """A hash of the text: how the manifest of learned files recognises a file."""
        return content_digest(self.text)


def content_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass
class Corpus:
    """The documents read for training, and what was left out and why."""

    train: list[Document] = field(default_factory=list)
    valid: list[Document] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> number of files

    def describe_skipped(self) -> str:
        return ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))


def _spec(lines: Iterable[str], source: str) -> pathspec.PathSpec:
    try:
        return pathspec.GitIgnoreSpec.from_lines(list(lines))
    except (ValueError, TypeError, re.error) as e:
        raise NextwordError(
            f"bad exclusion pattern in {source} ({e}); fix it (patterns use .gitignore syntax)"
        ) from None


class Exclusions:
    """``--exclude`` patterns plus the ``.nextwordignore`` files found on the way down.

    Each rule set is matched against paths relative to the folder it belongs to (the
    folder named on the command line for ``--exclude``), in gitignore syntax: ``drafts/``
    keeps out every folder named drafts, ``/private`` only the one at the top, ``*.log``
    any such file, ``!keep.md`` takes a file back in."""

    def __init__(self, patterns: Sequence[str] = ()):
        self.cli = _spec(patterns, "--exclude") if patterns else None

    def folder_rules(self, folder: Path) -> pathspec.PathSpec | None:
        ignore = folder / IGNORE_FILE
        if not ignore.is_file():
            return None
        try:
            lines = ignore.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            # Fail closed: an ignore file we cannot read must not let its files through.
            raise NextwordError(
                f"cannot read {ignore} ({e}); fix or remove it so nextword knows what to leave out"
            ) from None
        return _spec(lines, str(ignore))

    def excluded(self, relative: str, is_dir: bool, rules: list[tuple[str, pathspec.PathSpec]]) -> bool:
        """Whether ``relative`` (to the root, '/' separators) is kept out; ``rules`` holds
        ``(folder relative to the root, spec)`` for the ignore files above it, top first.

        As in git, the deepest ignore file with a pattern for the path decides (so a
        ``!pattern`` below can take back what a folder above left out); ``--exclude`` comes
        on top of them all: what it matches stays out whatever the ignore files say."""
        suffix = "/" if is_dir else ""
        if self.cli is not None and self.cli.check_file(relative + suffix).include:
            return True
        decision = None
        for base, spec in rules:
            sub = relative[len(base) + 1 :] if base else relative
            include = spec.check_file(sub + suffix).include
            if include is not None:
                decision = include
        return bool(decision)


def find_files(
    paths: Iterable[str | os.PathLike[str]],
    extensions: Iterable[str] = DEFAULT_EXTENSIONS,
    exclude: Sequence[str] = (),
    skipped: Counter[str] | None = None,
) -> list[tuple[Path, str]]:
    """``(file, relative path)`` for every text file under ``paths``, in path order.

    Folders are searched recursively, skipping hidden folders and files, what ``exclude``
    and ``.nextwordignore`` files keep out, and links that lead outside the folder named; a
    file named directly is taken whatever its extension (unless ``exclude`` matches its
    name). Files kept out are counted in ``skipped``, if given."""
    exts = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
    exclusions = Exclusions(exclude)
    skipped = skipped if skipped is not None else Counter()
    found: list[tuple[Path, str]] = []
    for raw in paths:
        root = Path(raw).expanduser()
        if not root.exists():
            if root.is_symlink():
                raise NextwordError(
                    f"{root} is a link that leads nowhere (its target is missing, or links lead round in a loop); name a folder or file of notes"
                )
            raise NextwordError(f"{root} does not exist; name a folder or file of notes")
        if root.is_file():
            if exclusions.excluded(root.name, False, []):
                skipped["excluded"] += 1
            else:
                found.append((root, root.name))
            continue
        real_root = root.resolve()
        rules_at: dict[str, list[tuple[str, pathspec.PathSpec]]] = {}
        for folder, dirs, files in os.walk(root):
            here = Path(folder)
            rel_folder = "" if here == root else here.relative_to(root).as_posix()
            parent_rules = rules_at.get(rel_folder.rpartition("/")[0], []) if rel_folder else []
            own = exclusions.folder_rules(here)
            rules = parent_rules + ([(rel_folder, own)] if own is not None else [])
            rules_at[rel_folder] = rules

            def rel(name: str, rel_folder: str = rel_folder) -> str:
                return f"{rel_folder}/{name}" if rel_folder else name

            kept_dirs = []
            for d in sorted(dirs):
                if d.startswith("."):
                    continue
                if exclusions.excluded(rel(d), True, rules):
                    skipped["excluded"] += 1
                    continue
                kept_dirs.append(d)
            dirs[:] = kept_dirs  # os.walk does not enter linked folders (followlinks=False)
            for name in sorted(files):
                if name.startswith(".") or not name.lower().endswith(exts):
                    continue
                if exclusions.excluded(rel(name), False, rules):
                    skipped["excluded"] += 1
                    continue
                path = here / name
                if path.is_symlink() and _loops(path):
                    skipped["unreadable (links in a loop)"] += 1
                    continue
                if path.is_symlink() and not _inside(path, real_root):
                    skipped["links leading outside the folder"] += 1
                    continue
                found.append((path, path.relative_to(root).as_posix()))
    # A file reached twice (a folder named twice, or inside another named; a link beside its
    # target) is read once: twice would train on it twice.
    once: dict[Path, tuple[Path, str]] = {}
    for path, relative in found:
        once.setdefault(path.resolve(), (path, relative))
    return list(once.values())


def _loops(path: Path) -> bool:
    try:
        path.resolve()
        return False
    except RuntimeError:  # pathlib's "Symlink loop" (before Python 3.13, which reads such a file as unreadable)
        return True
    except OSError as e:
        return e.errno == errno.ELOOP


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except (ValueError, OSError, RuntimeError):
        return False


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
    exclude: Sequence[str] = (),
) -> Corpus:
    """Read the training and validation documents under ``paths``."""
    corpus = Corpus()
    paths = list(paths)
    extensions = tuple(extensions)
    files = find_files(paths, extensions, exclude, corpus.skipped)
    named = {Path(p).expanduser().resolve() for p in paths}
    for path, relative in files:
        if not include_test_split and path.resolve() not in named and is_test_file(relative):
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
    bad = {k: v for k, v in corpus.skipped.items() if not k.startswith("held out") and k != "excluded"}
    if bad:
        warn(f"warning: skipped {', '.join(f'{n} {reason}' for reason, n in sorted(bad.items()))} file(s)")
    if not corpus.train and not corpus.valid:
        where = ", ".join(str(p) for p in paths)
        if not files:
            kept_out = (
                f" ({corpus.skipped['excluded']} excluded by --exclude or {IGNORE_FILE})"
                if corpus.skipped["excluded"]
                else ""
            )
            raise NextwordError(
                f"no text files ({', '.join(extensions)}) found in {where}{kept_out}; point at a folder of notes or use --ext to add extensions"
            )
        raise NextwordError(f"no usable text in {where} ({corpus.describe_skipped()}); training needs UTF-8 text files")
    if not corpus.train:  # everything landed in validation: train on it rather than refuse
        corpus.train, corpus.valid = corpus.valid, []
    if not corpus.valid and len(corpus.train) > 1:
        corpus.valid.append(corpus.train.pop())
    return corpus


def add_corpus_arguments(parser: argparse.ArgumentParser, help: str) -> None:
    """The CORPUS folders and the ``--ext`` option of a maintainer's tool that reads a corpus
    as ``nextword train`` does (``training/spacing.py``, ``pieces.py``, ``ship.py``)."""
    parser.add_argument("corpus", metavar="CORPUS", nargs="+", help=help)
    parser.add_argument(
        "--ext", nargs="+", metavar="EXT", help=f"file extensions to read (default: {' '.join(DEFAULT_EXTENSIONS)})"
    )


def load_named_corpus(args: argparse.Namespace) -> Corpus:
    """The corpus ``add_corpus_arguments``'s options name, what was left out told on stderr."""
    return load_corpus(
        args.corpus, args.ext or DEFAULT_EXTENSIONS, warn=lambda message: print(message, file=sys.stderr)
    )
