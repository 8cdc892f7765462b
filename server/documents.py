"""Open documents: their text, kept in sync by incremental edits, and LSP positions in them.

pygls's own document store re-splits the whole text into lines on every position lookup
and rebuilds the text line by line on every edit, which costs milliseconds per keystroke
in a long document. Here a document keeps its text as one string and the offsets where its
lines start; an edit replaces a slice of the string (a memory copy) and touches only the
line starts it moved. Lines end at ``\\n``, ``\\r\\n`` or ``\\r``, as the LSP says (not at
the other separators ``str.splitlines`` knows).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Callable

from .positions import PositionEncoding

_BREAK_CHAR_RE = re.compile(r"[\r\n]")
UNEDITED = 1 << 62


@dataclass(frozen=True, slots=True)
class Edit:
    """One applied change: ``[start, end)`` of the old text became ``text``."""

    start: int
    end: int
    text: str


def _line_starts(text: str, lo: int = 0, hi: int | None = None) -> list[int]:
    """Offsets in ``(lo, hi]`` where a line starts: just after a line break."""
    hi = len(text) if hi is None else hi
    starts = []
    for m in _BREAK_CHAR_RE.finditer(text, lo, hi):
        q = m.start()
        # "\r\n" is one break: the "\r" of the pair starts no line.
        if text[q] == "\r" and q + 1 < len(text) and text[q + 1] == "\n":
            continue
        starts.append(q + 1)
    return starts


@dataclass
class Document:
    """An open text document."""

    uri: str
    text: str
    version: int | None = None
    language_id: str = ""
    encoding: PositionEncoding = field(default_factory=PositionEncoding)
    line_starts: list[int] = field(default_factory=list)  # offset of each line's first character
    listeners: list[Callable[["Document", Edit, str], None]] = field(default_factory=list, repr=False)
    edited_from: int = 0  # lowest offset edited since `take_edited_from` was last called

    def __post_init__(self) -> None:
        if not self.line_starts:
            self.line_starts = [0, *_line_starts(self.text)]

    # ----- positions -----------------------------------------------------------------------
    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    def line_span(self, line: int) -> tuple[int, int]:
        """Offsets of the start and end of ``line``'s content (its line break excluded)."""
        start = self.line_starts[line]
        if line + 1 < len(self.line_starts):
            end = self.line_starts[line + 1] - 1
            if end > start and self.text[end] == "\n" and self.text[end - 1] == "\r":
                end -= 1
        else:
            end = len(self.text)
        return start, end

    def offset_at(self, line: int, character: int, clamp: bool = True) -> int | None:
        """The string offset of an LSP position.

        A character past the end of its line means the end of the line (as the LSP says).
        A line past the last one means the end of the document if ``clamp``, else None.
        """
        if line < 0 or character < 0:
            return None
        if line >= len(self.line_starts):
            return len(self.text) if clamp else None
        start, end = self.line_span(line)
        return start + self.encoding.code_points(self.text[start:end], character)

    def position_at(self, offset: int) -> tuple[int, int]:
        """The LSP position (line, character in client units) of a string offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.line_starts, offset) - 1
        start = self.line_starts[line]
        return line, self.encoding.units(self.text[start:offset])

    def line_start_of(self, offset: int) -> int:
        return self.line_starts[bisect.bisect_right(self.line_starts, offset) - 1]

    def take_edited_from(self) -> int:
        """The lowest offset edited since the last call (everything is new at first)."""
        low, self.edited_from = self.edited_from, UNEDITED
        return low

    # ----- edits ---------------------------------------------------------------------------
    def replace(self, start: int, end: int, new: str) -> None:
        """Replace ``text[start:end]`` with ``new``, keeping the line starts right."""
        old = self.text
        start = max(0, min(start, len(old)))
        end = max(start, min(end, len(old)))
        text = old[:start] + new + old[end:] if (start, end) != (0, len(old)) else new
        delta = len(new) - (end - start)
        starts = self.line_starts
        # Line starts up to `keep` depend only on characters before the edit; from the old
        # `end + 2` on they depend only on characters after it (a start depends on the
        # break before it, and a "\r" on the character after it). Rescan what lies between.
        keep = max(0, start - 1)
        lo = bisect.bisect_right(starts, keep)
        hi = bisect.bisect_left(starts, end + 2, lo)
        middle = _line_starts(text, keep, min(len(text), start + len(new) + 1))
        tail = [s + delta for s in starts[hi:]] if delta else starts[hi:]
        starts[lo:] = middle + tail
        self.text = text
        self.edited_from = min(self.edited_from, start)
        edit = Edit(start, end, new)
        for listener in self.listeners:
            listener(self, edit, old)

    def apply_change(self, change: object) -> None:
        """Apply one ``TextDocumentContentChangeEvent`` (a ranged edit or the whole text)."""
        rng = getattr(change, "range", None)
        text = change.text  # type: ignore[attr-defined]
        if rng is None:
            self.replace(0, len(self.text), text)
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
