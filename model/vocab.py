"""The vocabulary: token strings to ids and back, built from counts, stored in checkpoints."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cached_property

import numpy as np

from .pieces import has_hangul, is_continuation, surface
from .tokenize import NEWLINE, PARAGRAPH, ends_one_key_away, is_word

UNK = "<unk>"
SPECIALS = (UNK, NEWLINE, PARAGRAPH)


class Vocabulary:
    """An ordered list of distinct tokens; id 0 is the unknown token."""

    def __init__(self, tokens: Sequence[str]):
        if not tokens or tokens[0] != UNK:
            raise ValueError(f"a vocabulary must start with {UNK!r}")
        self.tokens: list[str] = list(tokens)
        self.index: dict[str, int] = {token: i for i, token in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("a vocabulary must not repeat a token")
        self.unk_id = 0
        # Words (not punctuation or breaks) in code-point order, for prefix look-ups by bisection.
        word_ids = sorted((i for i, t in enumerate(self.tokens) if is_word(t)), key=self.tokens.__getitem__)
        self.sorted_words: list[str] = [self.tokens[i] for i in word_ids]
        self.sorted_word_ids = np.asarray(word_ids, dtype=np.int64)
        self.word_mask = np.zeros(len(self.tokens), dtype=bool)
        self.word_mask[word_ids] = True
        self.word_flags: list[bool] = self.word_mask.tolist()  # the same, quicker to index one by one
        # For leaving out, inside a word, the words that would save nothing (``worth_offering``).
        self.sorted_word_lengths = np.asarray([len(w) for w in self.sorted_words], dtype=np.int32)
        self.sorted_word_plain_end = np.asarray([ends_one_key_away(w) for w in self.sorted_words], dtype=bool)

    @classmethod
    def build(cls, counts: Counter[str], min_count: int = 2, max_size: int = 30000) -> Vocabulary:
        """The most frequent tokens seen at least ``min_count`` times, at most ``max_size`` in all."""
        if max_size < len(SPECIALS) + 1:
            raise ValueError(f"max_size must be at least {len(SPECIALS) + 1}")
        ranked = sorted(
            (t for t, c in counts.items() if c >= min_count and t not in SPECIALS),
            key=lambda t: (-counts[t], t),
        )
        return cls(list(SPECIALS) + ranked[: max_size - len(SPECIALS)])

    def extend(self, new_tokens: Iterable[str]) -> Vocabulary:
        """A vocabulary with ``new_tokens`` appended after the existing ones (ids kept)."""
        extra = [t for t in dict.fromkeys(new_tokens) if t not in self.index]
        return Vocabulary(self.tokens + extra)

    @cached_property
    def continuation_mask(self) -> np.ndarray:
        """Which tokens continue the word before them (``pieces.is_continuation``)."""
        return np.fromiter((is_continuation(t) for t in self.tokens), dtype=bool, count=len(self.tokens))

    @cached_property
    def surfaces(self) -> list[str]:
        """Each token's text as it stands in a word (``pieces.surface``: a continuation without its mark)."""
        return [surface(t) for t in self.tokens]

    @cached_property
    def hangul_mask(self) -> np.ndarray:
        """Which tokens hold Hangul."""
        return np.fromiter((has_hangul(t) for t in self.tokens), dtype=bool, count=len(self.tokens))

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def id(self, token: str) -> int:
        return self.index.get(token, self.unk_id)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        get = self.index.get
        return [get(t, 0) for t in tokens]

    def word_range_between(self, lo: str, hi: str) -> tuple[int, int]:
        """The slice of ``sorted_words`` from ``lo`` up to, not including, ``hi``."""
        start = bisect.bisect_left(self.sorted_words, lo)
        return start, bisect.bisect_left(self.sorted_words, hi, start)

    def word_range(self, prefix: str) -> tuple[int, int]:
        """The slice of ``sorted_words`` whose words start with ``prefix``."""
        lo = bisect.bisect_left(self.sorted_words, prefix)
        hi = bisect.bisect_left(self.sorted_words, prefix + "\U0010ffff", lo) if prefix else len(self.sorted_words)
        return lo, hi
