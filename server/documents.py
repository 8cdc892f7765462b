"""Open documents: their text, kept in sync by incremental edits, and LSP positions in them.

pygls's own document store re-splits the whole text into lines on every position lookup
and rebuilds the text line by line on every edit: work in proportion to the whole document
on every keystroke. Here a document keeps its text as two strings, a long head and a short
tail, and the offsets where its lines start: typing near the end copies only the tail and
touches only the line starts it moved, and the whole text is joined only when someone needs
it (the model, once per word). Lines end at ``\\n``, ``\\r\\n`` or ``\\r``, as the LSP says
(not at the other separators ``str.splitlines`` knows).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import TypeAlias

from nextword.model.text import SplitText

from .positions import PositionEncoding

_BREAK_CHAR_RE = re.compile(r"[\r\n]")
# Edits near the end go to a short tail string, so typing at the end of a long document
# copies the tail, not the document. Past this length the tail is folded into the head.
TAIL_MAX = 16384
# Listeners get the old text this far on either side of an edit.
LISTENER_WINDOW = 320


@dataclass(frozen=True, slots=True)
class Edit:
    """One applied change: ``[start, end)`` of the old text became ``text``."""

    start: int
    end: int
    text: str


# A document's text at one moment: two immutable strings, cheap to take, and what the
# Predictor reads (its head is the same object while typing goes on at the end).
Snapshot: TypeAlias = SplitText


def _line_starts(segment: str, base: int, lo: int, hi: int) -> list[int]:
    """Absolute offsets in ``(lo, hi]`` where a line starts; ``segment`` is the text from
    offset ``base`` on, up to ``hi + 1`` (or the end of the text)."""
    piece = segment[lo - base : hi - base]
    if "\r" not in piece:
        # Only "\n" breaks (the usual case): line lengths from one split, summed in C, rather
        # than a match object per line when a long document opens.
        lengths = accumulate(map(len, piece.split("\n")[:-1]))
        return [lo + n + length for n, length in enumerate(lengths, 1)]
    starts = []
    for m in _BREAK_CHAR_RE.finditer(segment, lo - base, hi - base):
        q = m.start()
        # "\r\n" is one break: the "\r" of the pair starts no line.
        if segment[q] == "\r" and q + 1 < len(segment) and segment[q + 1] == "\n":
            continue
        starts.append(base + q + 1)
    return starts


Listener = Callable[["Document", Edit, str, int], None]


class Document:
    """An open text document: its text (``head + tail``) and where its lines start."""

    def __init__(
        self,
        uri: str,
        text: str,
        version: int | None = None,
        language_id: str = "",
        encoding: PositionEncoding | None = None,
    ):
        self.uri = uri
        self.version = version
        self.language_id = language_id
        self.encoding = encoding or PositionEncoding()
        self._head = text
        self._tail = ""
        self.line_starts: list[int] = [0, *_line_starts(text, 0, 0, len(text))]  # offset of each line's first character
        self.listeners: list[Listener] = []  # called after each edit with the old text around it

    # ----- text ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._head) + len(self._tail)

    @property
    def text(self) -> str:
        """The whole text (joined once until the next edit)."""
        if self._tail:
            self._head, self._tail = self._head + self._tail, ""
        return self._head

    def slice(self, start: int, end: int) -> str:
        """``text[start:end]`` without joining the whole text."""
        return self.snapshot().slice(start, end)

    def char(self, offset: int) -> str:
        """The character at ``offset`` ("" past the end)."""
        split = len(self._head)
        if offset < split:
            return self._head[offset]
        return self._tail[offset - split : offset - split + 1]

    def snapshot(self) -> Snapshot:
        return Snapshot(self._head, self._tail)

    # ----- positions -----------------------------------------------------------------------
    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    def line_span(self, line: int) -> tuple[int, int]:
        """Offsets of the start and end of ``line``'s content (its line break excluded)."""
        start = self.line_starts[line]
        if line + 1 < len(self.line_starts):
            end = self.line_starts[line + 1] - 1
            if end > start and self.char(end) == "\n" and self.char(end - 1) == "\r":
                end -= 1
        else:
            end = len(self)
        return start, end

    def offset_at(self, line: int, character: int, clamp: bool = True) -> int | None:
        """The string offset of an LSP position.

        A character past the end of its line means the end of the line (as the LSP says).
        A line past the last one means the end of the document if ``clamp``, else None.
        """
        if line < 0 or character < 0:
            return None
        if line >= len(self.line_starts):
            return len(self) if clamp else None
        start, end = self.line_span(line)
        return start + self.encoding.code_points(self.slice(start, end), character)

    def position_at(self, offset: int) -> tuple[int, int]:
        """The LSP position (line, character in client units) of a string offset."""
        offset = max(0, min(offset, len(self)))
        line = bisect.bisect_right(self.line_starts, offset) - 1
        start = self.line_starts[line]
        return line, self.encoding.units(self.slice(start, offset))

    # ----- edits ---------------------------------------------------------------------------
    def replace(self, start: int, end: int, new: str) -> None:
        """Replace ``text[start:end]`` with ``new``, keeping the line starts right."""
        length = len(self)
        start = max(0, min(start, length))
        end = max(start, min(end, length))
        around = ""
        window_start = max(0, start - LISTENER_WINDOW)
        if self.listeners:
            around = self.slice(window_start, min(length, end + LISTENER_WINDOW))
        split = len(self._head)
        if (start, end) == (0, length):
            self._head, self._tail = new, ""
        elif start >= split:  # at the end (typing, mostly): only the tail is copied
            self._tail = self._tail[: start - split] + new + self._tail[end - split :]
            if len(self._tail) > TAIL_MAX:
                self._head, self._tail = self._head + self._tail, ""
        else:
            text = self.text
            rest = text[end:]
            if len(new) + len(rest) <= TAIL_MAX:
                self._head, self._tail = text[:start], new + rest
            else:
                self._head, self._tail = "".join((text[:start], new, rest)), ""
        new_length = length + len(new) - (end - start)
        delta = new_length - length
        starts = self.line_starts
        # Line starts up to `keep` depend only on characters before the edit; from the old
        # `end + 2` on they depend only on characters after it (a start depends on the
        # break before it, and a "\r" on the character after it). Rescan what lies between.
        keep = max(0, start - 1)
        lo = bisect.bisect_right(starts, keep)
        hi = bisect.bisect_left(starts, end + 2, lo)
        scan_end = min(new_length, start + len(new) + 1)
        middle = _line_starts(self.slice(keep, min(new_length, scan_end + 1)), keep, keep, scan_end)
        tail = [s + delta for s in starts[hi:]] if delta else starts[hi:]
        starts[lo:] = middle + tail
        if self.listeners:
            edit = Edit(start, end, new)
            for listener in self.listeners:
                listener(self, edit, around, window_start)

    def apply_change(self, change: object) -> None:
        """Apply one ``TextDocumentContentChangeEvent`` (a ranged edit or the whole text)."""
        rng = getattr(change, "range", None)
        text = change.text  # type: ignore[attr-defined]
        if rng is None:
            self.replace(0, len(self), text)
            return
        start = self.offset_at(rng.start.line, rng.start.character)
        end = self.offset_at(rng.end.line, rng.end.character)
        assert start is not None and end is not None  # clamped
        if end < start:  # a reversed range: take it as the span it covers
            start, end = end, start
        self.replace(start, end, text)


class DocumentStore:
    """The open documents by URI."""

    def __init__(self) -> None:
        self._docs: dict[str, Document] = {}
        self.encoding = PositionEncoding()

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, uri: str) -> bool:
        return uri in self._docs

    def __iter__(self):
        return iter(list(self._docs.values()))

    def get(self, uri: str) -> Document | None:
        return self._docs.get(uri)

    def open(self, uri: str, text: str, version: int | None = None, language_id: str = "") -> Document:
        doc = Document(uri, text, version, language_id, self.encoding)
        self._docs[uri] = doc
        return doc

    def close(self, uri: str) -> Document | None:
        return self._docs.pop(uri, None)
