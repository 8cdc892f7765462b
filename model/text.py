"""Text held in two pieces, ``head + tail``, so that a long document typed at its end is not
copied whole per keystroke.

An editor's document (the language server's ``documents.Document``) keeps its long head as
one string object while typing changes only a short tail; a context handed to the Predictor
as a ``SplitText`` with that same head object is compared with the previous one in the
length of the tails, and never joined: joining a long document and comparing it with the
last one would cost, at every word boundary, time that grows with the document.
"""

from __future__ import annotations

from dataclasses import dataclass


def common_prefix_length(a: str, b: str) -> int:
    """The length of the longest common prefix of ``a`` and ``b``."""
    if b.startswith(a):
        return len(a)
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # the longest equal prefix, by bisection over fast slice comparisons
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass(frozen=True, slots=True, eq=False)
class SplitText:
    """The text ``head + tail``; either piece may be empty."""

    head: str
    tail: str = ""

    def __len__(self) -> int:
        return len(self.head) + len(self.tail)

    def __str__(self) -> str:
        return self.head + self.tail if self.tail else self.head

    def char(self, offset: int) -> str:
        """The character at ``offset`` (0 <= offset < len)."""
        split = len(self.head)
        return self.head[offset] if offset < split else self.tail[offset - split]

    def slice(self, start: int, end: int) -> str:
        """``text[start:end]`` (0 <= start <= end <= len), copying only that part."""
        split = len(self.head)
        if end <= split:
            return self.head[start:end]
        if start >= split:
            return self.tail[start - split : end - split]
        return self.head[start:] + self.tail[: end - split]

    def prefix(self, end: int) -> SplitText:
        """``text[:end]``, still in pieces (the head is not copied if the tail is cut)."""
        split = len(self.head)
        if end <= split:
            return SplitText(self.head[:end] if end < split else self.head)
        return SplitText(self.head, self.tail[: end - split])

    def same(self, other: SplitText) -> bool:
        """Whether both hold the same text."""
        if len(self) != len(other):
            return False
        if self.head is other.head:
            return self.tail == other.tail
        return str(self) == str(other)

    def common_prefix_length(self, other: SplitText) -> int:
        """The length of the longest common prefix of the two texts."""
        if self.head is other.head:
            return len(self.head) + common_prefix_length(self.tail, other.tail)
        return common_prefix_length(str(self), str(other))
