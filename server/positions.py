"""LSP positions: code units of the negotiated encoding to and from Python string offsets.

A position's ``character`` counts UTF-16 code units by default (an emoji counts 2, a Korean
syllable 1), or UTF-8 bytes or code points when client and server agree on it. Python
strings index code points. Everything here works on one line's text, so a conversion costs
the length of a line, and nothing at all on ASCII lines.
"""

from __future__ import annotations

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"


class PositionEncoding:
    """Converts between a line's code points and the client's code units."""

    def __init__(self, name: str | None = UTF16):
        name = str(getattr(name, "value", name) or UTF16).lower()
        self.name = name if name in (UTF8, UTF16, UTF32) else UTF16

    def __repr__(self) -> str:
        return f"PositionEncoding({self.name!r})"

    def units(self, text: str) -> int:
        """Length of ``text`` in the client's code units."""
        if self.name == UTF32 or text.isascii():
            return len(text)
        if self.name == UTF16:
            return len(text.encode("utf-16-le")) // 2
        return len(text.encode("utf-8"))

    def code_points(self, line: str, units: int) -> int:
        """How many leading code points of ``line`` make ``units`` code units.

        A count past the end of the line gives the line's length; one that falls inside a
        character (half of an emoji's surrogate pair, say) rounds down to that character's
        start, so an edit never splits a character.
        """
        if units <= 0:
            return 0
        if self.name == UTF32 or line.isascii():
            return min(units, len(line))
        head = line[:units]  # a code point is at least one code unit: enough characters
        if self.name == UTF16:
            return len(head.encode("utf-16-le")[: 2 * units].decode("utf-16-le", "ignore"))
        return len(head.encode("utf-8")[:units].decode("utf-8", "ignore"))
