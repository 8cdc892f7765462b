"""Learning the Hangul segmentation (see nextword.model.pieces) from Korean text.

    python -m nextword.training.pieces CORPUS... -o FILE [--vocab-size N]

counts the runs of Hangul in the training files of CORPUS (the files ``nextword train CORPUS``
trains on: not the evaluation's test split, nor the validation files) and learns a
SentencePiece unigram segmentation of them, written to FILE (atomically). The shipped
``model/data/hangul.model`` is such a file; a model trained with one segmentation must not be
used with another (checkpoints record its fingerprint), so replacing it means retraining.

The same corpus gives the same bytes: SentencePiece reads the runs in the order they first occur
(files in path order, as the corpus is read), and no file name is recorded in the model.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import stat
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from nextword.model import NextwordError
from nextword.model.pieces import HANGUL_CHARS

from .corpus import Document, add_corpus_arguments, load_named_corpus

DEFAULT_VOCAB_SIZE = 8000
_RUN_RE = re.compile(f"[{HANGUL_CHARS}]+")
# The settings the shipped segmentation was learned with. Identity normalization and no
# whitespace handling: the pieces must spell each run exactly, as the tokenizer relies on.
TRAINER_SETTINGS: dict[str, Any] = {
    "input_format": "tsv",  # "run<TAB>count": each distinct run once, weighted by its count
    "model_type": "unigram",
    "character_coverage": 0.9995,
    "normalization_rule_name": "identity",
    "add_dummy_prefix": False,
    "split_by_whitespace": False,
    "remove_extra_whitespaces": False,
    "max_sentencepiece_length": 8,
    "num_threads": 2,
    "minloglevel": 2,
}


def count_runs(documents: Iterable[Document]) -> Counter[str]:
    """How often each run of Hangul characters occurs in ``documents``, in the order the runs
    first occur."""
    counts: Counter[str] = Counter()
    for document in documents:
        counts.update(_RUN_RE.findall(document.text))
    return counts


def learn_pieces(runs: Counter[str], vocab_size: int = DEFAULT_VOCAB_SIZE) -> bytes:
    """A SentencePiece unigram model of ``vocab_size`` pieces segmenting ``runs``, as bytes."""
    if not runs:
        raise NextwordError("no Hangul to learn a segmentation from; pass folders of Korean text")
    import sentencepiece  # only this tool and Korean text need it

    # In the order the runs first occur, as the shipped segmentation was learned: the order
    # SentencePiece reads its input in changes its pieces, and sorted orders (by count, or
    # alphabetically) leave fewer words whole.
    lines = [f"{run}\t{count}" for run, count in runs.items()]
    model = io.BytesIO()
    try:
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size, **TRAINER_SETTINGS
        )
    except RuntimeError as e:
        raise NextwordError(_explain(str(e), vocab_size, len(runs))) from None
    return model.getvalue()


def _explain(message: str, vocab_size: int, distinct: int) -> str:
    """SentencePiece's refusal, in one sentence saying what to pass instead."""
    high = re.search(r"too high \(\d+\)\. Please set it to a value <= (\d+)", message)
    if high:
        return (
            f"the Hangul read ({_count(distinct, 'distinct run')}) is too little for {vocab_size} pieces; "
            f"pass --vocab-size {high.group(1)} or less, or more Korean text"
        )
    low = re.search(r"smaller than required_chars\. \d+ vs (\d+)", message)
    if low:
        return f"--vocab-size {vocab_size} is fewer pieces than the text's characters need; pass --vocab-size {low.group(1)} or more"
    return f"SentencePiece could not learn a segmentation with --vocab-size {vocab_size} ({message.strip()})"


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def check_output(out: Path) -> None:
    """Refuse an output SentencePiece's (long) training would only fail to write at its end."""
    if out.is_dir():
        raise NextwordError(f"-o {out} is a folder; give a file name such as {out / 'hangul.model'}")
    if out.parent.exists() and not out.parent.is_dir():
        raise NextwordError(f"cannot write {out}: {out.parent} is a file, not a folder; choose another -o")
    if not out.parent.is_dir():
        raise NextwordError(
            f"cannot write {out}: the folder {out.parent} does not exist; create it or choose another -o"
        )
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise NextwordError(f"cannot write {out}: the folder {out.parent} is not writable; choose another -o")


def write_atomically(out: Path, data: bytes) -> None:
    """Write ``data`` to ``out`` by a temporary file beside it and a rename, so a reader never
    sees half a model; an existing file's permissions are kept."""
    mode = stat.S_IMODE(out.stat().st_mode) if out.is_file() else None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as e:
        raise NextwordError(f"cannot write {out} ({e.strerror or e}); choose another -o") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is None:  # mkstemp's file is private; a model is as readable as any new file
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, out)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise NextwordError(
            f"cannot write {out} ({e.strerror or e}); free some disk space or choose another -o"
        ) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of pieces above 0, not {value!r}")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nextword.training.pieces",
        description="Learn how to split Hangul words into pieces from the training files of CORPUS.",
    )
    add_corpus_arguments(parser, "folders or files of Korean text")
    parser.add_argument("-o", "--out", metavar="FILE", required=True, help="the segmentation file to write")
    parser.add_argument(
        "--vocab-size",
        type=_positive,
        default=DEFAULT_VOCAB_SIZE,
        metavar="N",
        help=f"the number of pieces (default: {DEFAULT_VOCAB_SIZE}, as the shipped segmentation)",
    )
    args = parser.parse_args(argv)
    out = Path(args.out).expanduser()
    try:
        check_output(out)
        corpus = load_named_corpus(args)
        runs = count_runs(corpus.train)
        if not runs:
            where = ", ".join(args.corpus)
            raise NextwordError(
                f"no Hangul in the {_count(len(corpus.train), 'training file')} of {where}; pass folders of Korean text"
            )
        write_atomically(out, learn_pieces(runs, args.vocab_size))
    except (NextwordError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"learned {args.vocab_size} pieces from {len(runs)} distinct Hangul runs ({sum(runs.values())} in all)"
        f" in {len(corpus.train)} training files; wrote {os.fspath(out)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
