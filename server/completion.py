"""From a cursor position to completion items and inline phrases.

``Site`` finds what is being typed: the part of the word before the cursor (the prefix,
which the items replace) and the text before it (the model's context). The functions
below turn ranked words into completion items that keep the model's order (``sortText``),
show the probability, and replace exactly the prefix. Nothing here runs the model.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from .documents import Document, Snapshot
from .wordsyntax import APOSTROPHES, is_word_char, typed_word_start, word_goes_on_before

# After these (or whitespace, or nothing) a ghost-text phrase may start a new word.
_PHRASE_OPENERS = set("([{\"'“‘/-")


@dataclass(frozen=True, slots=True)
class Site:
    """Where a completion happens in a document."""

    doc: Document
    snapshot: Snapshot  # the document's text when the request arrived
    line: int
    line_text: str  # that line's text, without its line break
    line_start: int  # offset where the line starts
    start: int  # offset where the typed word starts
    cursor: int  # offset of the cursor
    word_end: int  # offset where the word under the cursor ends (the cursor if none)
    start_character: int  # ``start`` in the client's code units on ``line``
    cursor_character: int  # ``cursor`` likewise
    word_end_character: int
    # The typed word is longer than the look-back of ``typed_word_start``: ``prefix`` is only
    # its end, so an item replacing the prefix with a whole word would write its start twice.
    cut: bool = False

    @property
    def prefix(self) -> str:
        return self.line_text[self.start - self.line_start : self.cursor - self.line_start]

    @property
    def word(self) -> str:
        """The whole word under the cursor (the prefix and what follows it)."""
        return self.line_text[self.start - self.line_start : self.word_end - self.line_start]

    @property
    def char_before(self) -> str:
        if self.start > self.line_start:
            return self.line_text[self.start - self.line_start - 1]
        return "\n" if self.line_start else ""

    @property
    def inside_word(self) -> bool:
        return self.word_end > self.cursor

    def range(self, end_character: int | None = None) -> types.Range:
        """The LSP range from the typed word's start to the cursor, or to ``end_character``."""
        end = self.cursor_character if end_character is None else end_character
        return types.Range(types.Position(self.line, self.start_character), types.Position(self.line, end))


def site_at(doc: Document, position: types.Position) -> Site | None:
    """The completion site at ``position``, or None if it lies past the end of the document.

    A word never spans lines, so everything is found on the cursor's line."""
    if position.line < 0 or position.character < 0 or position.line >= doc.line_count:
        return None
    line_start, line_end = doc.line_span(position.line)
    line = doc.slice(line_start, line_end)
    enc = doc.encoding
    col = enc.code_points(line, position.character)  # past the end of the line: its end
    start = typed_word_start(line, col)
    cut = word_goes_on_before(line, start, col)
    end = col
    while end < len(line) and (
        is_word_char(line[end]) or (line[end] in APOSTROPHES and end + 1 < len(line) and is_word_char(line[end + 1]))
    ):
        end += 1
    cursor_units = enc.units(line[:col])
    start_units = cursor_units - enc.units(line[start:col])
    end_units = cursor_units + enc.units(line[col:end])
    return Site(
        doc,
        doc.snapshot(),
        position.line,
        line,
        line_start,
        line_start + start,
        line_start + col,
        line_start + end,
        start_units,
        cursor_units,
        end_units,
        cut,
    )


def percent(probability: float) -> str:
    """A probability as people read it: 42%, 3.1%, 0.25%, <0.01%."""
    p = 100.0 * probability
    if p >= 9.95:
        return f"{p:.0f}%"
    if p >= 0.995:
        return f"{p:.1f}%"
    if p >= 0.01:
        return f"{p:.2f}%"
    return "<0.01%"


@dataclass(frozen=True, slots=True)
class ClientSupport:
    """What the client's completion UI can take."""

    label_details: bool = False
    insert_replace: bool = False

    @classmethod
    def of(cls, capabilities: types.ClientCapabilities | None) -> ClientSupport:
        item = None
        try:
            item = capabilities.text_document.completion.completion_item  # type: ignore[union-attr]
        except AttributeError:
            pass
        if item is None:
            return cls()
        return cls(bool(item.label_details_support), bool(item.insert_replace_support))


def _edit(site: Site, support: ClientSupport) -> Callable[[str], types.TextEdit | types.InsertReplaceEdit]:
    """The edit that puts a word in place of the typed part (its ranges shared by every item)."""
    typed = site.range()
    if site.inside_word and support.insert_replace:
        # Inside a word: inserting keeps the rest of it, replacing swaps the whole word.
        whole = site.range(site.word_end_character)
        return lambda word: types.InsertReplaceEdit(word, typed, whole)
    return lambda word: types.TextEdit(typed, word)


def completion_list(items: list[types.CompletionItem], incomplete: bool = True) -> types.CompletionList:
    return types.CompletionList(is_incomplete=incomplete, items=items)


def items(
    site: Site, ranked: Iterable[tuple[str, float | None, str]], support: ClientSupport
) -> list[types.CompletionItem]:
    """``CompletionItem``s in the given order; each entry is (word, probability or None, note)."""
    edit = _edit(site, support)
    out = []
    for rank, (word, probability, note) in enumerate(ranked):
        shown = percent(probability) if probability is not None else note
        out.append(
            types.CompletionItem(
                label=word,
                kind=types.CompletionItemKind.Text,
                detail=f"{shown} · nextword",
                sort_text=f"{rank:04d}",
                # A word matched by its keys (a syllable being composed: 몯 for 모델을) does not
                # start with what is typed; the editor, filtering by what is typed, keeps it so.
                filter_text=word if word.startswith(site.prefix) else site.prefix + word,
                text_edit=edit(word),
                data={"probability": probability} if probability is not None else None,
                label_details=types.CompletionItemLabelDetails(description=shown) if support.label_details else None,
            )
        )
    return out


def from_suggestions(site: Site, suggestions: Iterable[Any], support: ClientSupport) -> list[types.CompletionItem]:
    """Items from the Predictor's ``Suggestion``s (most probable first)."""
    return items(site, ((s.word, s.probability, "") for s in suggestions), support)


def from_buffer_words(
    site: Site, words: Iterable[tuple[str, int]], support: ClientSupport
) -> list[types.CompletionItem]:
    """Items from the document's own words (most frequent first), while no model is loaded."""
    return items(site, ((w, None, "in this document") for w, _ in words), support)


# The typed part of a word is taken as the word the person means, and no list is offered,
# when it is itself at least this share of the probability of every word it starts...
WORD_END_SHARE = 0.3
# ...and at least this many times as likely as the likeliest longer word.
WORD_END_LEAD = 2.0


def word_typed_whole(suggestions: Any) -> bool:
    """Whether the word typed so far is itself a likely word and no longer word is about as
    likely (``suggestions`` as ``Predictor.ranked`` gives them, which leaves the typed word
    out): a list of longer words would then only stand in the way of Enter, Tab and the next
    keys, which should write what was typed."""
    typed = float(getattr(suggestions, "typed_probability", 0.0))
    if typed <= 0.0:
        return False
    best = suggestions[0].probability if suggestions else 0.0
    return typed >= WORD_END_LEAD * best and typed >= WORD_END_SHARE * float(
        getattr(suggestions, "prefix_probability", 0.0)
    )


def list_probability(suggestions: Any) -> float:
    """What a next-word list is worth where the person did not ask for it: the share of the
    list's probability that its first three items (the ones read at a glance) hold, that is,
    the chance that the next word, if the list holds it, is among those three; 0 for no list.

    Not their probability outright: that is spread over what may come other than a word
    (a mark, a number, a line break) and thinned by the document caches, so a list whose
    first three stand out from the rest holds the next word more often than one whose first
    three are as likely but one among many."""
    total = sum(s.probability for s in suggestions)
    return sum(s.probability for s in suggestions[:3]) / total if total > 0.0 else 0.0


def after_mark(site: Site) -> bool:
    """Whether the typed word is empty and the character before the cursor is a combining
    mark (Unicode category M): the cursor is then inside a word, not where one starts."""
    before = site.line_text[site.cursor - site.line_start - 1 : site.cursor - site.line_start]
    return site.start == site.cursor and bool(before) and unicodedata.category(before).startswith("M")


def phrase_allowed(site: Site) -> bool:
    """Whether a ghost-text phrase makes sense here: at the end of a word being typed, or
    where a new word starts (after a space, an opening bracket or quote); never inside a word."""
    if site.inside_word:
        return False
    if site.start < site.cursor:
        return True
    before = site.char_before
    return not before or before.isspace() or before in _PHRASE_OPENERS


def inline_items(site: Site, rest: str) -> types.InlineCompletionList:
    """The phrase as an inline completion list replacing the prefix with prefix + ``rest``."""
    return types.InlineCompletionList(items=[types.InlineCompletionItem(site.prefix + rest, range=site.range())])
