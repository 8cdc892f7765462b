"""The protocol's two baselines, printed beside the model: ``buffer`` (editor-style completion
from words earlier in the file) and ``unigram`` (word frequencies of the training split plus
the file so far).

Both answer ``suggest(context, prefix, k)`` like any evaluated system. They read the words of
``context`` incrementally, since the typist only moves forward through a file, and answer a
prefix by bisection over sorted words rather than a scan of every word they know.
"""

from __future__ import annotations

import bisect
import heapq
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from nextword.model.tokenize import WORD_RE

_WORD_CHAR = re.compile(r"[\w'’]")  # a character a word can end or continue with

_AFTER_ALL = "\U0010ffff"  # sorts after every string that starts with a given prefix


def _prefix_range(sorted_words: list[str], prefix: str) -> tuple[int, int]:
    """The slice of ``sorted_words`` whose words start with ``prefix``."""
    if not prefix:
        return 0, len(sorted_words)
    lo = bisect.bisect_left(sorted_words, prefix)
    return lo, bisect.bisect_left(sorted_words, prefix + _AFTER_ALL, lo)


class ContextWords:
    """The words of a context (the text before the cursor): counts, the index of each word's
    latest occurrence, and the distinct words in sorted order."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.text = ""
        self.counts: Counter[str] = Counter()
        self.last: dict[str, int] = {}  # word -> index of its latest occurrence (0 = first word)
        self.sorted: list[str] = []
        self._seen = 0  # words read so far

    def update(self, context: str) -> None:
        """Make the words those of ``context``, reading only what was appended since last time."""
        if context == self.text:
            return
        old = self.text
        # Re-read from scratch unless ``context`` extends the old text at a word boundary
        # (if the old text ended inside a word, that word may have grown).
        if not context.startswith(old) or (old and _WORD_CHAR.match(old[-1])):
            self.reset()
            old = ""
        for match in WORD_RE.finditer(context, len(old)):
            word = match.group()
            if word not in self.counts:
                bisect.insort(self.sorted, word)
            self.counts[word] += 1
            self.last[word] = self._seen
            self._seen += 1
        self.text = context

    def starting_with(self, prefix: str) -> list[str]:
        lo, hi = _prefix_range(self.sorted, prefix)
        return self.sorted[lo:hi]


class BufferWords:
    """Words seen earlier in the same file, most frequent first, ties broken by the most
    recent; nothing before the first character of a word is typed."""

    name = "buffer"

    def __init__(self) -> None:
        self.words = ContextWords()

    def reset(self) -> None:
        self.words.reset()

    def suggest(self, context: str, prefix: str, k: int) -> list[str]:
        if not prefix:
            return []
        self.words.update(context)
        counts, last = self.words.counts, self.words.last
        return heapq.nsmallest(k, self.words.starting_with(prefix), key=lambda w: (-counts[w], -last[w]))


class UnigramWords:
    """Words of the training split and of the file so far, most frequent first; ties broken
    by the most recent occurrence in the file, then alphabetically. Suggests from ``i = 0``."""

    name = "unigram"

    def __init__(self, train_counts: Counter[str]):
        self.train = train_counts
        self.sorted_train = sorted(train_counts)
        self.words = ContextWords()
        # Training words of a prefix in the order they rank by training counts alone,
        # remembered because the same short prefixes are asked for again and again.
        self._ranked_train = lru_cache(maxsize=8192)(self._rank_train)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> UnigramWords:
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(m.group() for m in WORD_RE.finditer(text))
        return cls(counts)

    def reset(self) -> None:
        self.words.reset()

    def _rank_train(self, prefix: str) -> list[str]:
        lo, hi = _prefix_range(self.sorted_train, prefix)
        return sorted(self.sorted_train[lo:hi], key=lambda w: -self.train[w])  # stable: ties stay alphabetical

    def suggest(self, context: str, prefix: str, k: int) -> list[str]:
        self.words.update(context)
        counts, last, train = self.words.counts, self.words.last, self.train
        in_file = self.words.starting_with(prefix)
        # A word absent from the file ranks by its training count alone, so the best k of
        # them are among the first k + len(in_file) training words of the prefix.
        candidates = [w for w in self._ranked_train(prefix)[: k + len(in_file)] if w not in counts]
        candidates.extend(in_file)
        return heapq.nsmallest(k, candidates, key=lambda w: (-(train.get(w, 0) + counts[w]), -last.get(w, -1), w))
