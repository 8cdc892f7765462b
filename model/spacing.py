"""Spacing learned from text: where the text a model learned from had whitespace between two
tokens, so that generated tokens read as they were written (``f(x) -> y``, not
``f ( x ) - > y``).

Tokenizing drops the whitespace between tokens. ``Spacing.learn`` counts it back, for two
tokens next to each other on a line of which at least one is a mark (not a word): how often
that very pair had whitespace between, how often any word with that mark did, and how often
each mark had whitespace after it or before it next to another mark. ``Spacing.join`` puts
a space where the text had one more often than not, asking the pair's own counts first,
then the word's or the marks' counts, then the English rules of ``join_tokens`` (for marks
never seen). Two words take a space; a line break none.

A mark is counted apart by its role on the line: starting the line (a bullet's ``*``, a
heading's ``#``), or closing a span (a straight quote, a backtick run or an emphasis mark
opens one at its first use and closes it at its next, as in ``join_tokens``), so that
``say "hi" now`` spaces its two quotes differently.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .pieces import is_continuation, surface
from .tokenize import NEWLINE, PAIRED_MARKS, PARAGRAPH, english_spaces, iter_tokens

MIN_COUNT = 3  # a pair or a mark seen fewer times than this in the text learned from is not kept
WORD = "\\w"  # backslash-w (never a token) stands for any word in a pair: what a word's own pair falls back on
LINE_START = "\n"  # before a mark that starts a line: "\n*" is a bullet's star, "\n#" a heading's
CLOSING = "/"  # before a paired mark that closes a span: '/"' is a closing quote
FORMAT_VERSION = 1

Counts = tuple[int, int]  # (times with whitespace between, times in all)


def _spaced(counts: Counts) -> bool:
    """Whether the text had a space more often than not."""
    return 2 * counts[0] > counts[1]


def _is_word(key: str) -> bool:
    """Whether a token or a key is a word (it starts with a word character; no mark's key does)."""
    return key[:1].isalnum() or key[:1] == "_"


class _Keys:
    """The keys of one line's tokens: a word is itself, a mark itself with its role on the line."""

    def __init__(self) -> None:
        self.open: set[str] = set()  # paired marks whose span is open

    def key(self, token: str, line_start: bool) -> str:
        if _is_word(token):
            return token
        if line_start:
            if token in PAIRED_MARKS and token != "*":  # a "*" starting a line is a bullet
                self.open.add(token)
            return LINE_START + token
        if token in PAIRED_MARKS:
            if token in self.open:
                self.open.discard(token)
                return CLOSING + token
            self.open.add(token)
        return token


def _boundaries(text: str) -> Iterator[tuple[str, str, bool]]:
    """``(key before, key after, whether whitespace separated them)`` for each two tokens next to each other on a line."""
    keys = _Keys()
    prev = ""
    prev_end = 0
    for token in iter_tokens(text):
        if is_continuation(token.text):  # a word's part: never spaced, the word's key stands
            prev_end = token.end
            continue
        if token.text in (NEWLINE, PARAGRAPH):
            prev, keys = "", _Keys()
            continue
        key = keys.key(token.text, line_start=not prev)
        if prev:
            yield prev, key, token.start != prev_end
        prev, prev_end = key, token.end


class _Tally:
    """Counts of whitespace by key, as learning reads the text."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.spaced: Counter[str] = Counter()

    def add(self, key: str, space: bool) -> None:
        self.seen[key] += 1
        self.spaced[key] += space

    def table(self, min_count: int) -> dict[str, Counts]:
        return {key: (self.spaced[key], n) for key, n in self.seen.items() if n >= min_count}


def _added(a: Mapping[str, Counts], b: Mapping[str, Counts]) -> dict[str, Counts]:
    out = dict(a)
    for key, (spaced, seen) in b.items():
        old = out.get(key, (0, 0))
        out[key] = (old[0] + spaced, old[1] + seen)
    return out


@dataclass(frozen=True)
class Spacing:
    """How often the text learned from had whitespace between tokens. An empty one joins as ``join_tokens``."""

    # "A B" (keys hold no space) -> counts, for two tokens at least one of which is a mark; a
    # word's pair falls back on WORD's, two marks' on the marks' own counts below.
    pairs: Mapping[str, Counts] = field(default_factory=dict)
    before: Mapping[str, Counts] = field(default_factory=dict)  # mark -> counts of a space before it, after a mark
    after: Mapping[str, Counts] = field(default_factory=dict)  # mark -> counts of a space after it, before a mark

    @classmethod
    def learn(cls, texts: Iterable[str], min_count: int = MIN_COUNT) -> Spacing:
        """The spacing of ``texts``: the pairs and marks seen at least ``min_count`` times.

        A pair that the more general counts decide the same way is left out, which keeps the
        table small: those counts stand for it."""
        pairs, before, after = _Tally(), _Tally(), _Tally()
        for text in texts:
            for a, b, space in _boundaries(text):
                a_word, b_word = _is_word(a), _is_word(b)
                if a_word and b_word:
                    continue
                pairs.add(f"{a} {b}", space)
                if a_word:
                    pairs.add(f"{WORD} {b}", space)
                elif b_word:
                    pairs.add(f"{a} {WORD}", space)
                else:
                    after.add(a, space)
                    before.add(b, space)
        general = cls(pairs=pairs.table(min_count), before=before.table(min_count), after=after.table(min_count))
        kept = {
            pair: counts
            for pair, counts in general.pairs.items()
            if WORD in pair.split(" ") or general._general_decision(*pair.split(" ")) != _spaced(counts)
        }
        return cls(pairs=kept, before=general.before, after=general.after)

    def _general_decision(self, a: str, b: str) -> bool | None:
        """Whether the counts more general than the pair's own put a space between keys ``a``
        and ``b``: a word's stand-in's pair, or both marks' counts (each must have had a
        space more often than not); None where there are none."""
        if _is_word(a) or _is_word(b):
            counts = self.pairs.get(f"{WORD} {b}" if _is_word(a) else f"{a} {WORD}")
            return None if counts is None else _spaced(counts)
        after, before = self.after.get(a), self.before.get(b)
        if after is None or before is None:
            return None
        return _spaced(after) and _spaced(before)

    def merged(self, other: Spacing) -> Spacing:
        """This spacing with ``other``'s counts added (a fine-tuned model's: the base text's and the notes')."""
        return Spacing(
            pairs=_added(self.pairs, other.pairs),
            before=_added(self.before, other.before),
            after=_added(self.after, other.after),
        )

    def join(self, tokens: list[str], after: str = "") -> str:
        """Text for generated ``tokens``, to be appended to text ending in ``after`` (as ``join_tokens``).

        Only ``after``'s last line is read: its last token decides the first space, and its
        open quotes whether a quote closes."""
        keys = _Keys()
        prev = ""
        for previous in iter_tokens(after[after.rfind("\n") + 1 :]):
            prev = keys.key(previous.text, line_start=not prev)
        if not after or after[-1].isspace():
            prev = ""  # nothing before, or the space or break is there already
        line_start = not after or after.endswith("\n")
        out: list[str] = []
        for token, english in zip(tokens, english_spaces(tokens, after)):
            if token in (NEWLINE, PARAGRAPH):
                out.append(token)
                prev, line_start, keys = "", True, _Keys()
                continue
            if is_continuation(token):  # joins the word before it
                out.append(surface(token))
                continue
            key = keys.key(token, line_start)
            if prev and self._space_between(prev, key, english):
                out.append(" ")
            out.append(token)
            prev, line_start = key, False
        return "".join(out)

    def _space_between(self, a: str, b: str, english: bool) -> bool:
        """Whether a space goes between keys ``a`` and ``b``: two words take one; the pair's
        own counts decide, else the more general ones, else ``english`` (the rules of ``join_tokens``)."""
        if _is_word(a) and _is_word(b):
            return True
        counts = self.pairs.get(f"{a} {b}")
        if counts is not None:
            return _spaced(counts)
        general = self._general_decision(a, b)
        return english if general is None else general

    def to_json(self) -> str:
        """The table as compact JSON, keys sorted (the same spacing gives the same text)."""
        data = {
            "version": FORMAT_VERSION,
            "pairs": self.pairs,
            "before": self.before,
            "after": self.after,
        }
        return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Spacing:
        """The table ``to_json`` wrote; ValueError naming what is wrong with a malformed one."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("the spacing table is not an object")
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"the spacing table has version {data.get('version')!r}, not {FORMAT_VERSION}")
        return cls(**{name: _parse_table(data.get(name), name) for name in ("pairs", "before", "after")})


def _parse_table(data: Any, name: str) -> dict[str, Counts]:
    if not isinstance(data, dict):
        raise ValueError(f"the spacing table's {name} is not an object")
    spaces = 1 if name == "pairs" else 0
    table: dict[str, Counts] = {}
    for key, counts in data.items():
        if (
            type(counts) is not list  # exactly a list of two ints (a bool is not a count)
            or len(counts) != 2
            or type(counts[0]) is not int
            or type(counts[1]) is not int
            or not 0 <= counts[0] <= counts[1]
            or key.count(" ") != spaces
            or not all(key.split(" "))
        ):
            raise ValueError(f"the spacing table's {name} has a malformed entry {json.dumps({key: counts})[:60]}")
        table[key] = (counts[0], counts[1])
    return table
