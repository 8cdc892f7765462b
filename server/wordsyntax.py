"""What a word is, for the server: the tokenizer's word pattern, plus the typed-word rules
of completion. Importing ``nextword.model.tokenize`` does not import torch."""

from __future__ import annotations

import re

from nextword.model.tokenize import WORD_PATTERN, WORD_RE, worth_offering  # noqa: F401 - WORD_RE, worth_offering are used from here

APOSTROPHES = "'’"
# The word being typed ends at the cursor. It may end in an apostrophe ("don'" on the way to
# "don't"), which the word pattern alone cannot match.
TYPED_WORD_RE = re.compile(rf"(?:{WORD_PATTERN})[{APOSTROPHES}]?\Z")
# A word character right after the cursor means the cursor is inside a word.
WORD_CHAR_RE = re.compile(r"\w")
# Longest stretch before the cursor searched for the typed word; real words are far shorter.
MAX_WORD_LENGTH = 200


def typed_word_start(text: str, cursor: int, line_start: int = 0) -> int:
    """Offset where the word being typed at ``cursor`` starts (``cursor`` when none is)."""
    lo = max(line_start, cursor - MAX_WORD_LENGTH)
    match = TYPED_WORD_RE.search(text, lo, cursor)
    return match.start() if match else cursor


def word_goes_on_before(text: str, start: int, cursor: int, line_start: int = 0) -> bool:
    """Whether the word that ``typed_word_start`` found at ``start`` really starts earlier:
    it is longer than ``MAX_WORD_LENGTH``, and ``text[start:cursor]`` is only its end."""
    lo = cursor - MAX_WORD_LENGTH
    if start != lo or lo <= line_start:
        return False
    # Two characters back are enough to tell: a word character, or an apostrophe inside a word.
    match = TYPED_WORD_RE.search(text, max(line_start, lo - 2), cursor)
    return match is not None and match.start() < lo


def is_word_char(ch: str) -> bool:
    return bool(ch) and WORD_CHAR_RE.match(ch) is not None
