"""Hangul words in parts: the segmentation that lets the model predict Korean words it never
saw whole.

A Korean word is usually a stem with particles or endings attached (``모델`` + ``을``), and
English terms take Korean particles (``RNN을``); most such combinations are rare as whole
words. So a word holding Hangul is split where its script changes, and each Hangul run into
the pieces of a unigram segmentation learned from Korean text (SentencePiece, the file
``data/hangul.model``; ``python -m nextword.training.pieces`` learns it). Frequent words stay
whole. Every part after a word's first is a *continuation*, marked with ``CONTINUATION`` in
front, so the model knows a part continues the word before it rather than starting one.

The segmentation is one file shipped with the package, like the tokenizer's rules: training,
prediction and evaluation split alike, and a checkpoint records which segmentation it was
trained with (``segmentation_id``).
"""

from __future__ import annotations

import hashlib
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

CONTINUATION = "##"  # never starts a word; a run of "#" marks is told apart by its third character
HANGUL_CHARS = "\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff"
HANGUL_RE = re.compile(f"[{HANGUL_CHARS}]")
# Runs of one script; an apostrophe is a part of its own, so a word's first part is a word
# (``data'를``: ``data``, ``'``, ``를``).
_RUNS_RE = re.compile(f"[{HANGUL_CHARS}]+|[^{HANGUL_CHARS}'’]+|['’]")


def model_file() -> Path:
    """The shipped segmentation."""
    return Path(__file__).resolve().parent / "data" / "hangul.model"


@cache
def _processor() -> Any:
    # Imported here: English text never needs it, and the command line starts without it.
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_proto=model_file().read_bytes())


@cache
def segmentation_id() -> str:
    """A fingerprint of the shipped segmentation, recorded in checkpoints trained with it."""
    return hashlib.sha256(model_file().read_bytes()).hexdigest()[:16]


def has_hangul(text: str) -> bool:
    return HANGUL_RE.search(text) is not None


def is_continuation(token: str) -> bool:
    """Whether ``token`` continues the word before it (a part after a word's first)."""
    # A run of "#" marks ("###") is a mark: a continuation's part is a word's, never "#".
    return token.startswith(CONTINUATION) and len(token) > len(CONTINUATION) and token[len(CONTINUATION)] != "#"


def surface(token: str) -> str:
    """The text a token stands for (a continuation without its mark)."""
    return token[len(CONTINUATION) :] if is_continuation(token) else token


@lru_cache(maxsize=1 << 16)
def _hangul_parts(run: str) -> tuple[str, ...]:
    parts = tuple(_processor().encode(run, out_type=str))
    # With identity normalization the pieces spell the run exactly; should a future
    # SentencePiece not, one part per character keeps the text intact.
    return parts if "".join(parts) == run else tuple(run)


@lru_cache(maxsize=1 << 16)
def split_word(word: str) -> tuple[str, ...]:
    """The parts of ``word`` as text (concatenated they give ``word`` back); a word without
    Hangul is one part."""
    if not has_hangul(word):
        return (word,)
    parts: list[str] = []
    for run in _RUNS_RE.findall(word):
        parts.extend(_hangul_parts(run) if HANGUL_RE.match(run) else (run,))
    return tuple(parts)


def word_tokens(word: str) -> list[str]:
    """``word``'s tokens: its parts, each after the first marked as a continuation."""
    parts = split_word(word)
    return [parts[0], *(CONTINUATION + part for part in parts[1:])]
