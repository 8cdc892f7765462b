"""Hangul as a Korean 2-set (dubeolsik) typist presses it, and words matched against a syllable
an input method is still composing.

``keys`` spells text as the keys pressed: a syllable (U+AC00–U+D7A3) is its initial consonant,
its vowel and its final consonant if any, the compound vowels and finals being two keys each
(ㅘ = ㅗ ㅏ, ㄳ = ㄱ ㅅ) and the shifted doubles (ㄲ ㅆ ㅒ ...) one; a lone compatibility jamo
(U+3131–U+318E) is its keys likewise; any other character is one key, itself. The
type-through protocol counts keystrokes this way (shared/eval-protocol.md).

While a syllable is being composed the editor already shows it: typing 모델 passes through
몯, whose final ㄷ becomes the next syllable's initial once ㅔ is typed. ``matches_typed``
says which words can lie ahead of such a text, and ``typed_ranges`` bounds them for a
bisection of a sorted word list.
"""

from __future__ import annotations

import functools
import re

SYLLABLES = (0xAC00, 0xD7A3)  # first and last precomposed syllable
JAMO = (0x3131, 0x318E)  # first and last Hangul compatibility jamo

# The syllable's code is 0xAC00 + (initial * 21 + vowel) * 28 + final (Unicode's composition).
INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
FINALS = " ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"  # the first: no final
_PER_INITIAL = len(VOWELS) * len(FINALS)

# The jamo a 2-set typist makes with two keys; every other jamo is one key (ㄲ is Shift+ㄱ).
COMPOUNDS = {
    "ㅘ": "ㅗㅏ",
    "ㅙ": "ㅗㅐ",
    "ㅚ": "ㅗㅣ",
    "ㅝ": "ㅜㅓ",
    "ㅞ": "ㅜㅔ",
    "ㅟ": "ㅜㅣ",
    "ㅢ": "ㅡㅣ",
    "ㄳ": "ㄱㅅ",
    "ㄵ": "ㄴㅈ",
    "ㄶ": "ㄴㅎ",
    "ㄺ": "ㄹㄱ",
    "ㄻ": "ㄹㅁ",
    "ㄼ": "ㄹㅂ",
    "ㄽ": "ㄹㅅ",
    "ㄾ": "ㄹㅌ",
    "ㄿ": "ㄹㅍ",
    "ㅀ": "ㄹㅎ",
    "ㅄ": "ㅂㅅ",
}

_HANGUL = re.compile("[\u3131-\u318e\uac00-\ud7a3]")
_NO_END = "\U0010ffff"  # the end of an unbounded range: every string below it but those starting with it


def is_syllable(char: str) -> bool:
    return SYLLABLES[0] <= ord(char) <= SYLLABLES[1]


def is_jamo(char: str) -> bool:
    return JAMO[0] <= ord(char) <= JAMO[1]


def _jamo_keys(jamo: str) -> str:
    return COMPOUNDS.get(jamo, jamo)


def syllable_keys(char: str) -> str:
    """The keys of one syllable: initial, vowel and final, each as its keys."""
    code = ord(char) - SYLLABLES[0]
    initial, rest = divmod(code, _PER_INITIAL)
    vowel, final = divmod(rest, len(FINALS))
    keys = INITIALS[initial] + _jamo_keys(VOWELS[vowel])
    return keys + _jamo_keys(FINALS[final]) if final else keys


@functools.cache
def _translation() -> dict[int, str]:
    """``str.translate``'s table from every character whose keys are not itself to its keys;
    built on first use, since text without Hangul never needs it."""
    table = {code: syllable_keys(chr(code)) for code in range(SYLLABLES[0], SYLLABLES[1] + 1)}
    table.update((ord(jamo), keys) for jamo, keys in COMPOUNDS.items())
    return table


def keys(text: str) -> str:
    """The keys a 2-set typist presses for ``text``: Hangul as compatibility jamo (``값`` ->
    ``ㄱㅏㅂㅅ``), every other character itself."""
    if text.isascii() or not _HANGUL.search(text):
        return text
    return text.translate(_translation())


def key_count(text: str) -> int:
    """How many keys ``text`` costs: ``len(keys(text))`` (``모델을``: 8), its length when it
    holds no Hangul."""
    if text.isascii() or not _HANGUL.search(text):
        return len(text)
    return len(text.translate(_translation()))


def matches_typed(word: str, typed: str) -> bool:
    """Whether ``word`` can be what is being typed when the editor shows ``typed``, whose last
    character may be a syllable still being composed: ``word`` starts with ``typed``, or with
    all but its last character and then a syllable, the keys of the word from there on
    starting with the last character's keys (``몯`` on the way to ``모델``, ``닭`` to ``달걀``,
    ``ㅁ`` to ``모``). An input method composes jamo into syllables, so the word's character
    there is a syllable: never a lone jamo."""
    return Typed(typed).matches(word)


class Typed:
    """A typed part of a word whose last character may be a syllable being composed, ready to
    match many words against: its keys are spelled once."""

    def __init__(self, typed: str):
        self.typed = typed
        self._head = typed[:-1]
        self._last = keys(typed[-1:])
        self._pressed = keys(typed)
        self._spelling = _translation()

    def matches(self, word: str) -> bool:
        """``matches_typed(word, typed)``."""
        typed = self.typed
        if word.startswith(typed):
            return True
        head = len(self._head)
        if not typed or len(word) <= head or not is_syllable(word[head]) or not word.startswith(self._head):
            return False
        # Each character is one key or more, so the first len(last) characters hold enough keys.
        last = self._last
        return word[head : head + len(last)].translate(self._spelling).startswith(last)

    def fits(self, word: str) -> bool:
        """Whether ``word`` may still grow into a word that ``matches``: it matches already, or
        its keys begin the keys typed (``모`` and ``모델`` for a typed ``모델``)."""
        pressed = self._pressed
        if self.matches(word):
            return True
        # Each character is one key or more: a longer word's keys cannot begin the typed ones.
        return len(word) <= len(pressed) and pressed.startswith(word.translate(self._spelling))


def _after(prefix: str) -> str:
    """The least string above every string that starts with ``prefix`` (``_NO_END`` when
    none is: ``prefix`` is empty or only U+10FFFF)."""
    stripped = prefix.rstrip(_NO_END)
    if not stripped:
        return _NO_END
    return stripped[:-1] + chr(ord(stripped[-1]) + 1)


@functools.lru_cache(maxsize=4096)
def _composed_block(last: str) -> tuple[int, int]:
    """The first and last syllable a word can hold where ``last`` (a syllable or an initial
    jamo) is being composed: those whose keys and ``last``'s run together, one a prefix of
    the other. They share its initial, so they lie in one block."""
    pressed, spelling = keys(last), _translation()
    start = SYLLABLES[0] + INITIALS.index(pressed[0]) * _PER_INITIAL
    inside = [
        code
        for code in range(start, start + _PER_INITIAL)
        if (spelled := spelling[code]).startswith(pressed) or pressed.startswith(spelled)
    ]
    return inside[0], inside[-1]


def typed_ranges(typed: str) -> tuple[tuple[str, str], ...]:
    """Half-open ranges ``[lo, hi)``, disjoint and in order, that hold every ``word`` with
    ``matches_typed(word, typed)``: those starting with ``typed``, and for a last character
    being composed the words that hold one of the syllables it can grow into there (one
    block of code points). Two ranges where those two are apart (a lone initial ``ㅁ``:
    ``ㅁ...`` and ``마...`` to ``밓...``), else one. For an empty ``typed`` (or one of U+10FFFF
    alone) the range ends at U+10FFFF: a noncharacter, never part of a word."""
    if not typed:
        return (("", _NO_END),)
    head, last = typed[:-1], typed[-1]
    whole = (typed, _after(typed))
    if not is_syllable(last) and last not in INITIALS:
        return (whole,)  # not Hangul, or a vowel or final-only jamo: no syllable starts with its keys
    block = _composed_block(last)
    composed = (head + chr(block[0]), head + chr(block[1] + 1))
    if is_syllable(last):
        return (composed,)  # the syllable itself is in its block
    return (whole, composed)  # a lone jamo sorts before every syllable


def typed_range(typed: str) -> tuple[str, str]:
    """One half-open range ``[lo, hi)`` that holds every word ``matches_typed`` accepts for
    ``typed``: the span of ``typed_ranges`` (for a lone initial jamo it also spans what lies
    between the jamo and its syllables, so bisect ``typed_ranges`` where that matters)."""
    ranges = typed_ranges(typed)
    return ranges[0][0], ranges[-1][1]
