"""Completion from the words of the document alone: the answer while no model is loaded.

Until the model is ready (or when there is none), completions are the document's own
words that start with the typed part, most frequent first. The counts are kept up to date
edit by edit: a word can only change where the edit touched, and a word never crosses a
character that is neither a word character nor an apostrophe, so an edit only recounts
the words between the nearest such characters on either side.
"""

from __future__ import annotations

import bisect
from collections import Counter

from .documents import Document, Edit
from .wordsyntax import APOSTROPHES, WORD_RE, worth_offering

# How far to look for a word boundary around an edit; words are far shorter.
_SCAN_LIMIT = 256


def _is_word_part(ch: str) -> bool:
    return ch in APOSTROPHES or WORD_RE.match(ch) is not None


def _bound_left(text: str, pos: int) -> int:
    stop = max(0, pos - _SCAN_LIMIT)
    while pos > stop and _is_word_part(text[pos - 1]):
        pos -= 1
    return pos


def _bound_right(text: str, pos: int) -> int:
    stop = min(len(text), pos + _SCAN_LIMIT)
    while pos < stop and _is_word_part(text[pos]):
        pos += 1
    return pos


class BufferWords:
    """Counts of a document's words, with prefix look-up."""

    def __init__(self, text: str = ""):
        self.counts: Counter[str] = Counter()
        self.sorted: list[str] = []  # the distinct words, in code-point order
        self._add(text, 0, len(text))

    def attach(self, doc: Document) -> BufferWords:
        """Keep counting ``doc``'s words as it is edited."""
        doc.listeners.append(self.on_edit)
        return self

    def detach(self, doc: Document) -> None:
        if self.on_edit in doc.listeners:
            doc.listeners.remove(self.on_edit)

    def complete(self, prefix: str, k: int, exclude: str = "") -> list[tuple[str, int]]:
        """Up to ``k`` words starting with ``prefix``, most frequent first, with their counts.

        ``exclude`` (the word being typed) is left out when it is counted only once: that
        once is the typing itself. Only words worth offering are (``worth_offering``: not
        ``prefix`` itself, nor a word one plain key away).
        """
        lo = bisect.bisect_left(self.sorted, prefix)
        hi = bisect.bisect_left(self.sorted, prefix + "\U0010ffff", lo) if prefix else len(self.sorted)
        found = []
        for word in self.sorted[lo:hi]:
            if prefix and not worth_offering(word, prefix):
                continue
            count = self.counts[word]
            if word == exclude:
                count -= 1
            if count > 0:
                found.append((word, count))
        found.sort(key=lambda wc: (-wc[1], wc[0]))
        return found[:k]

    # ----- upkeep --------------------------------------------------------------------------
    def on_edit(self, doc: Document, edit: Edit, around: str, around_start: int) -> None:
        """Recount the words an edit touched; ``around`` is the old text from ``around_start``."""
        lo = _bound_left(around, edit.start - around_start)
        hi = _bound_right(around, edit.end - around_start)
        self._remove(around, lo, hi)
        delta = len(edit.text) - (edit.end - edit.start)
        self._add(doc.slice(around_start, around_start + hi + delta), lo, hi + delta)

    def _add(self, text: str, lo: int, hi: int) -> None:
        counts = self.counts
        for m in WORD_RE.finditer(text, lo, hi):
            word = m.group()
            if word not in counts:
                bisect.insort(self.sorted, word)
            counts[word] += 1

    def _remove(self, text: str, lo: int, hi: int) -> None:
        counts = self.counts
        for m in WORD_RE.finditer(text, lo, hi):
            word = m.group()
            if word not in counts:  # only after a word longer than the scan limit was cut
                continue
            left = counts[word] - 1
            if left > 0:
                counts[word] = left
            else:
                del counts[word]
                del self.sorted[bisect.bisect_left(self.sorted, word)]
