"""The one tokenizer: text to model tokens, used by training, prediction and evaluation alike.

Tokens are of five kinds:
- words: the matches of ``WORD_PATTERN`` (the evaluation protocol's definition), case kept;
  a word holding Hangul is split into parts (``pieces.py``): its first part is a word token,
  the others are
- continuations: ``"##을"`` in ``RNN`` ``##을``, ``모델`` ``##로``;
- line breaks: ``"\\n"`` for a single break, ``PARAGRAPH`` for a blank line or more;
- punctuation: any other visible character; a run of one repeated mark (``...``, ``**``,
  `````` ``` ``````) is one token, and runs longer than ``MAX_RUN`` are shortened so rule
  lines of any length share a token;
- spaces and tabs separate tokens and are not tokens themselves.

Tokenizing resumes exactly: scanning from the end of any token that ends a word, break or
mark gives the same tokens as scanning the whole text, which is what lets the Predictor
re-read only what changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from .pieces import CONTINUATION, has_hangul, is_continuation, surface, word_tokens

WORD_PATTERN = r"\w+(?:['’]\w+)*"
WORD_RE = re.compile(WORD_PATTERN)
NEWLINE = "\n"
PARAGRAPH = "\n\n"
MAX_RUN = 4

# Order matters: words first, then breaks, then a run of one repeated non-space mark.
_TOKEN_RE = re.compile(
    rf"(?P<word>{WORD_PATTERN})"
    r"|(?P<para>\n(?:[^\S\n]*\n)+)"
    r"|(?P<newline>\n)"
    r"|(?P<space>[^\S\n]+)"
    r"|(?P<mark>(?P<char>.)(?P=char)*)",
    re.DOTALL,
)
_FULL_WORD_RE = re.compile(rf"{WORD_PATTERN}\Z")


class Token(NamedTuple):
    """One token and the character span ``[start, end)`` it came from. (A named tuple: a
    fresh start on a long document makes thousands, three times faster than a frozen
    dataclass.)"""

    text: str
    start: int
    end: int


def iter_tokens(text: str, pos: int = 0, end: int | None = None) -> Iterator[Token]:
    """Yield the tokens of ``text`` from character offset ``pos`` on (up to ``end``, as if the
    text ended there).

    ``pos`` must be 0 or the end of a whole word, break or mark of a previous scan of the
    same text (not of a word's part).
    """
    for match in _TOKEN_RE.finditer(text, pos, len(text) if end is None else end):
        kind = match.lastgroup
        if kind == "space":
            continue
        start, end = match.span()
        if kind == "word":
            word = match.group()
            if not has_hangul(word):
                yield Token(word, start, end)
                continue
            for token in word_tokens(word):
                stop = start + len(token) - (len(CONTINUATION) if is_continuation(token) else 0)
                yield Token(token, start, stop)
                start = stop
        elif kind == "para":
            yield Token(PARAGRAPH, start, end)
        elif kind == "newline":
            yield Token(NEWLINE, start, end)
        else:
            mark = match.group()
            yield Token(mark if len(mark) <= MAX_RUN else mark[:MAX_RUN], start, end)


def tokenize(text: str) -> list[str]:
    """The token strings of ``text``."""
    return [token.text for token in iter_tokens(text)]


def is_word(token: str) -> bool:
    """Whether ``token`` is a word a person types (as opposed to punctuation or a break)."""
    return _FULL_WORD_RE.match(token) is not None


# Characters typed with one key on any common layout: accepting a word that only lacks one of
# them saves nothing (accepting costs a key too).
_ONE_KEY = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def ends_one_key_away(word: str) -> bool:
    """Whether ``word``'s last character is typed with one key (see ``worth_offering``)."""
    return word[-1:] in _ONE_KEY


def worth_offering(word: str, typed: str) -> bool:
    """Whether accepting ``word``, which starts with ``typed`` (the part of a word typed so
    far), saves keys over typing its rest: never ``typed`` itself, nor inside a word a word
    one plain key away ("the" after "th"). A last character that takes more than one key
    ("é", a Hangul syllable, a capital) is worth offering."""
    rest = len(word) - len(typed)
    return rest > 1 or (rest == 1 and not (typed and ends_one_key_away(word)))


def words(text: str) -> Iterator[re.Match[str]]:
    """The protocol's target words of ``text``, as regex matches (with their offsets)."""
    return WORD_RE.finditer(text)


_NO_SPACE_BEFORE = set(".,;:!?)]}%’'")
_NO_SPACE_AFTER = set("([{$#@/\\“‘")
# Marks that open a span and close it again: straight double quotes, Markdown and reST code
# and emphasis. The first of a pair takes a space before it, the second one after it.
PAIRED_MARKS = frozenset({'"', "`", "``", "```", "*", "**"})


def join_tokens(tokens: list[str], after: str = "") -> str:
    """Readable text for generated ``tokens``, to be appended to text ending in ``after``.

    Tokenizing drops spacing, so this puts back the usual English spacing: a space
    between words, none before closing marks or after opening ones (a straight quote or a
    backtick opens at its first use and closes at its next), breaks as newlines. (A model
    that learned its text's own spacing joins with ``nextword.model.spacing.Spacing``,
    which falls back on these rules for tokens it never saw.)
    """
    return "".join(
        f" {surface(token)}" if space else surface(token) for token, space in zip(tokens, english_spaces(tokens, after))
    )


def english_spaces(tokens: list[str], after: str = "") -> list[bool]:
    """Whether ``join_tokens`` puts a space before each of ``tokens`` (appended to text ending in ``after``)."""
    spaces: list[bool] = []
    prev = after[-1:] if after else ""
    open_spans: set[str] = set()
    opened = False  # whether the previous token opened a span
    for token in tokens:
        if is_continuation(token):  # joins the word before it
            spaces.append(False)
            continue
        spacing = bool(prev) and not prev.isspace() and prev not in _NO_SPACE_AFTER and not opened
        if token in PAIRED_MARKS and not (token == "*" and prev in ("", "\n")):  # a "*" starting a line is a bullet
            closing = token in open_spans
            (open_spans.discard if closing else open_spans.add)(token)
            spaces.append(spacing and not closing)
            opened = not closing
        else:
            spaces.append(spacing and token[:1] not in _NO_SPACE_BEFORE and token not in (NEWLINE, PARAGRAPH))
            opened = False
        prev = token[-1:]
    return spaces
