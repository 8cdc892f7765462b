"""The editor mode of the type-through protocol (shared/eval-protocol.md, "Editor mode"), as
figures computed from what a language server answered while a file was typed key by key.

``editor_mode.py`` types each file by hand through the real server and records, after each
key, what it answered (``Answer``): the completion list, if the editor asked for one there,
and the ghost-text phrase. The figures are then read off those answers: a server's answer
depends only on the document's text (not on how it got there), so one pass typing every
key serves the typist of every list length, as in ``nextword.training.typist``, whose
accounting (``type_through``) is reused here through a system that replays the lists.

Keys are counted as ``nextword eval`` counts them (``nextword.model.hangul.key_count``): one
per character, a Hangul syllable the keys a 2-set typist presses for it. The server is still
sent whole characters, one ``didChange`` each: a syllable appears once all its keys are typed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nextword.model.hangul import key_count
from nextword.training.typist import DEFAULT_MAX_WORDS, KS, TypeThrough, evaluated_words, type_through

_WORD_AND_APOSTROPHE = re.compile(r"\w+(?:['’]\w+)*['’]\Z")
MAX_LOOK_BACK = 100  # characters looked back for such a word

INVOKED = "invoked"  # asked inside a word as it is typed (CompletionTriggerKind.Invoked)
TRIGGER = "trigger"  # asked right after a trigger character (CompletionTriggerKind.TriggerCharacter)
LINE_BREAKS = ("\r\n", "\n", "\r")


@dataclass
class Answer:
    """What the server answered after the key that ended at ``offset`` (characters typed)."""

    offset: int
    asked: str = ""  # INVOKED, TRIGGER, or "" where an editor asks no completion
    items: list[str] = field(default_factory=list)  # the completion list's words, in order
    phrase: str = ""  # the ghost text shown after the cursor ("" when none)
    misplaced: bool = False  # an item's edit or the phrase's range is not at the typed word


@dataclass
class Trace:
    """One file typed: its text and the answers after each key, by offset."""

    name: str
    text: str
    span: int  # characters typed: up to the end of the last evaluated word
    answers: dict[int, Answer] = field(default_factory=dict)


def key_at(text: str, offset: int) -> str:
    """The edit typed at ``offset``: a line break ``\\r\\n`` is one (one press), any other
    character one (``key_count`` says how many keys it costs)."""
    return "\r\n" if text.startswith("\r\n", offset) else text[offset]


def typing_plan(text: str, max_words: int, triggers: Sequence[str]) -> tuple[int, dict[int, tuple[str, int]]]:
    """The span to type and, by offset after a key, which completion request an editor sends
    there and where the word its items replace starts: (INVOKED, the word's start) inside a
    target word once a character of it is typed (its end included), (TRIGGER, the offset)
    right after a trigger character. Offsets absent: no completion request."""
    words = evaluated_words(text, max_words)
    if not words:
        return 0, {}
    span = words[-1][0] + len(words[-1][1])
    asked: dict[int, tuple[str, int]] = {}
    for offset in range(1, span + 1):
        if text[offset - 1] in triggers:
            # After an apostrophe that follows a word ("b'"), the word may go on: the items
            # replace it from its start.
            going_on = _WORD_AND_APOSTROPHE.search(text, max(0, offset - MAX_LOOK_BACK), offset)
            asked[offset] = (TRIGGER, going_on.start() if going_on else offset)
    for start, word in words:
        for i in range(1, len(word) + 1):
            asked[start + i] = (INVOKED, start)
    return span, asked


class ReplayedLists:
    """A typist's system (``nextword.training.typist.System``) that shows the lists the server
    answered in editor mode: nothing where the editor did not ask or the list was empty."""

    name = "editor"

    def __init__(self, traces: Sequence[Trace]):
        self.traces = list(traces)
        self.index = -1

    def reset(self) -> None:
        self.index += 1

    def suggest(self, context: str, prefix: str, k: int) -> list[str]:
        answer = self.traces[self.index].answers.get(len(context) + len(prefix))
        return list(answer.items) if answer is not None and answer.asked else []


def ratio(part: int, whole: int) -> dict[str, Any]:
    """A share with its counts, so that small numbers are visible."""
    return {"rate": part / whole if whole else None, "count": part, "n": whole}


@dataclass
class ListCounts:
    """The counts behind the list figures of editor mode."""

    trigger_requests: int = 0  # requests after a trigger character at a word's start
    popups: int = 0  # of those, answered with items
    offered_requests: int = 0  # of the requests, those after a character of the triggerCharacters setting
    offered_popups: int = 0
    precise: int = 0  # of the popups, the next word among the first three
    repeats: int = 0  # of the popups, first item the word just typed while the next is another
    stray_requests: int = 0  # requests after a trigger character where no word starts
    stray_popups: int = 0
    words: int = 0
    open_at_end: int = 0
    line_end_words: int = 0
    open_at_line_end: int = 0
    misplaced: int = 0  # answers whose edit ranges were not at the typed word

    def add_word(self, trace: Trace, start: int, word: str, previous: str | None, offered: Sequence[str]) -> None:
        text, answers = trace.text, trace.answers
        opening = answers.get(start)
        if opening is not None and opening.asked == TRIGGER:
            self.trigger_requests += 1
            self.popups += bool(opening.items)
            if text[start - 1] in offered:
                self.offered_requests += 1
                self.offered_popups += bool(opening.items)
            if opening.items:
                self.precise += word in opening.items[:3]
                self.repeats += opening.items[0] == previous and word != previous
        end = start + len(word)
        whole = answers.get(end)
        self.words += 1
        self.open_at_end += bool(whole is not None and whole.items)
        if text.startswith(LINE_BREAKS, end):
            self.line_end_words += 1
            self.open_at_line_end += bool(whole is not None and whole.items)

    def figures(self) -> dict[str, Any]:
        return {
            "popup_rate": ratio(self.popups, self.trigger_requests),
            "popup_rate_after_setting_triggers": ratio(self.offered_popups, self.offered_requests),
            "popup_precision@3": ratio(self.precise, self.popups),
            "repeat_rate": ratio(self.repeats, self.popups),
            "open_at_word_end": ratio(self.open_at_end, self.words),
            "open_at_line_end": ratio(self.open_at_line_end, self.line_end_words),
            "lists_after_trigger_without_word": ratio(self.stray_popups, self.stray_requests),
            "misplaced_edits": self.misplaced,
        }


def list_figures(traces: Sequence[Trace], max_words: int, offered: Sequence[str]) -> dict[str, Any]:
    """Popup rate, popup precision@3, repeat rate, open at word end and at line end; and the
    popup rate over the requests after ``offered`` (the triggerCharacters setting's) alone."""
    counts = ListCounts()
    for trace in traces:
        words = evaluated_words(trace.text, max_words)
        starts = {start for start, _ in words}
        previous = None
        for start, word in words:
            counts.add_word(trace, start, word, previous, offered)
            previous = word
        for offset, answer in trace.answers.items():
            counts.misplaced += answer.misplaced
            if answer.asked == TRIGGER and offset not in starts:
                counts.stray_requests += 1
                counts.stray_popups += bool(answer.items)
    return counts.figures()


def ghost_figures(traces: Sequence[Trace]) -> dict[str, Any]:
    """Ghost text after each key: how often a phrase is shown, how often it is what the person
    types next (the text goes on with the whole phrase), the keys Tab would save there (the
    phrase's keys less the one Tab), how often it comes with a list of items; and a typist who
    presses Tab wherever the phrase is right and types everything else (its savings rate)."""
    asked = shown = right = saved = beside = words = 0
    keys_without = keys_with = 0
    for trace in traces:
        text = trace.text
        for offset, answer in trace.answers.items():
            asked += 1
            if not answer.phrase:
                continue
            shown += 1
            words += len(answer.phrase.split())
            beside += bool(answer.items)
            if text.startswith(answer.phrase, offset):
                right += 1
                saved += key_count(answer.phrase) - 1
        offset = 0
        keys_without += key_count(text[: trace.span])
        while offset < trace.span:
            at = trace.answers.get(offset)
            phrase = at.phrase if at is not None else ""
            if phrase and text.startswith(phrase, offset) and offset + len(phrase) <= trace.span:
                keys_with += 1
                offset += len(phrase)
            else:
                key = key_at(text, offset)
                keys_with += key_count(key)
                offset += len(key)
    return {
        "requests": asked,
        "shown": ratio(shown, asked),
        "right": ratio(right, shown),
        "keys_saved": {"count": saved, "per_right_phrase": saved / right if right else None, "n": right},
        "words_per_phrase": words / shown if shown else None,
        "beside_list": ratio(beside, shown),
        "tab_typist_ksr": {
            "rate": 1 - keys_with / keys_without if keys_without else None,
            "keys_with": keys_with,
            "keys_without": keys_without,
        },
    }


def editor_ksr(traces: Sequence[Trace], max_words: int = DEFAULT_MAX_WORDS, ks: Sequence[int] = KS) -> TypeThrough:
    """The protocol's typist, shown only the lists an editor shows (``ReplayedLists``)."""
    return type_through(ReplayedLists(traces), (t.text for t in traces), max_words, ks)


def ksr_figures(result: TypeThrough) -> dict[str, Any]:
    figures: dict[str, Any] = {f"ksr@{k}": result.ksr(k) for k in sorted(result.with_suggestions)}
    return figures | {
        "keystrokes_without": result.keystrokes_without,
        "keystrokes_with": {str(k): v for k, v in sorted(result.with_suggestions.items())},
        "words": result.words,
        "files": result.files,
    }


def figures(traces: Sequence[Trace], max_words: int, offered: Sequence[str]) -> dict[str, Any]:
    """Every editor-mode figure of ``traces`` (files typed with ``max_words`` words each;
    ``offered``: the characters of the triggerCharacters setting)."""
    return {
        "editor": ksr_figures(editor_ksr(traces, max_words)),
        "lists": list_figures(traces, max_words, offered),
        "ghost": ghost_figures(traces),
    }
