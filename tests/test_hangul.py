"""Hangul keys as a 2-set typist presses them, and words matched against a syllable being
composed: hand-worked words, and properties checked against a small input method."""

from __future__ import annotations

import bisect
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nextword.model.hangul import COMPOUNDS, FINALS, Typed, key_count, keys, matches_typed, typed_range, typed_ranges


# ----- keys -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, pressed",
    [
        ("모델을", "ㅁㅗㄷㅔㄹㅇㅡㄹ"),  # 2 + 3 + 3
        ("봐", "ㅂㅗㅏ"),  # a compound vowel: two keys
        ("값", "ㄱㅏㅂㅅ"),  # a compound final: two keys
        ("뷁", "ㅂㅜㅔㄹㄱ"),  # both
        ("의", "ㅇㅡㅣ"),
        ("까", "ㄲㅏ"),  # shifted doubles: one key each, as a capital letter
        ("했", "ㅎㅐㅆ"),
        ("예", "ㅇㅖ"),
        ("가", "ㄱㅏ"),  # U+AC00, the first syllable
        ("힣", "ㅎㅣㅎ"),  # U+D7A3, the last
        ("ㅁ", "ㅁ"),  # lone jamo, as typed
        ("ㅘ", "ㅗㅏ"),
        ("ㄳ", "ㄱㅅ"),
        ("ㅋㅋ", "ㅋㅋ"),
        ("RNN을", "RNNㅇㅡㄹ"),
        ("seq-to-seq로", "seq-to-seqㄹㅗ"),
        ("hello", "hello"),
        ("café — ok\n", "café — ok\n"),
        ("\u1100\u1161", "\u1100\u1161"),  # conjoining jamo are not the layout's keys: one each
        ("", ""),
    ],
)
def test_keys_by_hand(text, pressed):
    assert keys(text) == pressed
    assert key_count(text) == len(pressed)


def test_key_counts_of_the_protocol():
    assert [key_count(w) for w in ("모델을", "봐", "값", "hello")] == [8, 3, 4, 5]
    assert key_count("RNN을 통해 text generation을") == 3 + 3 + 1 + 3 + 2 + 1 + 4 + 1 + 10 + 3  # 통 ㅌㅗㅇ, 해 ㅎㅐ


# The jamo a 2-set typist makes with two keys, by their Unicode names (the last word of
# "HANGUL LETTER WA", "HANGUL JUNGSEONG WA", "HANGUL JONGSEONG KIYEOK-SIOS").
TWO_KEYS = {
    "WA", "WAE", "OE", "WEO", "WE", "WI", "YI",
    "KIYEOK-SIOS", "NIEUN-CIEUC", "NIEUN-HIEUH", "RIEUL-KIYEOK", "RIEUL-MIEUM", "RIEUL-PIEUP",
    "RIEUL-SIOS", "RIEUL-THIEUTH", "RIEUL-PHIEUPH", "RIEUL-HIEUH", "PIEUP-SIOS",
}  # fmt: skip


def test_every_syllable_costs_its_jamo_by_name():
    # Canonical decomposition gives each syllable's conjoining jamo: a route to every
    # syllable's count that does not go through the module's arithmetic.
    assert {unicodedata.name(j).split()[-1] for j in COMPOUNDS} == TWO_KEYS
    for code in range(0xAC00, 0xD7A4):
        parts = unicodedata.normalize("NFD", chr(code))
        assert key_count(chr(code)) == sum(2 if unicodedata.name(p).split()[-1] in TWO_KEYS else 1 for p in parts)


def test_long_text_counts_without_hangul_and_with():
    english = "the quick brown fox — naïve café " * 10_000
    assert keys(english) is english
    assert key_count(english) == len(english)
    assert key_count(english + "값") == len(english) + 4


# ----- matching what is being typed ----------------------------------------------------------------
@pytest.mark.parametrize(
    "word, typed",
    [
        ("모델을", "몯"),  # ㅁㅗㄷ | ㅁㅗㄷㅔㄹㅇㅡㄹ: the final ㄷ becomes 델's initial
        ("모델을", "모"),
        ("모델을", "ㅁ"),
        ("모델을", "모델"),
        ("와", "오"),  # ㅗ goes on to ㅘ
        ("달걀", "닭"),  # ㄷㅏㄹㄱ | ㄷㅏㄹㄱㅕㄹ
        ("갑시다", "값"),  # ㄱㅏㅂㅅ | ㄱㅏㅂㅅㅣㄷㅏ
        ("각", "가"),
        ("RNN을", "RNN으"),
        ("RNN을", "RNNㅇ"),
        ("RNN을", "RNN"),
        ("ㅋㅋㅋ", "ㅋ"),
        ("hello", "hel"),
        ("hello", ""),
    ],
)
def test_matches(word, typed):
    assert matches_typed(word, typed)
    assert any(lo <= word < hi for lo, hi in typed_ranges(typed))


@pytest.mark.parametrize(
    "word, typed",
    [
        ("모델을", "몰"),  # ㅁㅗㄹ is not ㅁㅗㄷ
        ("모델을", "뫄"),
        ("모델을", "마"),
        ("모델을", "ㅗ"),
        ("까", "가"),  # ㄲ is its own (shifted) key, not ㄱ twice
        ("가", "각"),  # more keys typed than the word has
        ("달", "닭"),
        ("와", "ㅗ"),  # a lone vowel never starts a syllable
        ("ㅁㅗ", "모"),  # an input method shows a syllable, not lone jamo
        ("RNN을", "RNM으"),
        ("hello", "help"),
    ],
)
def test_does_not_match(word, typed):
    assert not matches_typed(word, typed)


@pytest.mark.parametrize(
    "word, typed, fits",
    [
        ("모", "모델", True),  # its keys begin the typed ones: it may grow into 모델
        ("몯", "모델", True),  # ㅁㅗㄷ begins ㅁㅗㄷㅔㄹ
        ("모델을", "몯", True),  # it matches already
        ("달", "닭", True),
        ("뫄", "모델", False),
        ("모델이다", "모델", True),
        ("RNN", "RNN으", True),
        ("RNM", "RNN으", False),
        ("모델을", "모달", False),
        ("모델을", "모델을까", True),  # 모델을 then 까: its keys begin the typed ones
    ],
)
def test_a_word_fits_the_typed_part_when_it_may_still_grow_into_a_match(word, typed, fits):
    assert Typed(typed).fits(word) is fits
    assert Typed(typed).matches(word) is matches_typed(word, typed)


def test_ranges_by_hand():
    # 모 U+BAA8 (ㅁ ㅗ), 몯 U+BAAF (final ㄷ), 몰 U+BAB0: only 모 and 몯 run with ㅁㅗㄷ.
    assert typed_ranges("몯") == (("모", "몰"),)
    # ㅇ with ㅗ ㅘ ㅙ ㅚ, any final: 오 U+C624 to 욓 U+C693; 요 U+C694 comes next.
    assert typed_ranges("오") == (("오", "요"),)
    # 가, 갑, 값 run with ㄱㅏㅂㅅ; 갓 follows 값.
    assert typed_ranges("값") == (("가", "갓"),)
    assert typed_ranges("RNN으") == (("RNN으", "RNN이"),)  # 으 to 읳 (ㅢ with ㅎ)
    # A lone initial: words starting with the jamo itself, and the syllables starting with it.
    assert typed_ranges("ㅁ") == (("ㅁ", "ㅂ"), ("마", "바"))
    assert typed_range("ㅁ") == ("ㅁ", "바")
    assert typed_ranges("ㅏ") == (("ㅏ", "ㅐ"),)  # no syllable starts with a vowel
    assert typed_ranges("ㄳ") == (("ㄳ", "ㄴ"),)  # nor with a compound final
    assert typed_range("hel") == ("hel", "hem")
    assert typed_range("") == ("", "\U0010ffff")


def test_ranges_bisect_a_sorted_word_list():
    words = sorted(["모", "모델", "모델을", "몰라", "목", "마", "ㅁㅁ", "model", "뫄", "몯다"])
    found = []
    for lo, hi in typed_ranges("몯"):
        found += words[bisect.bisect_left(words, lo) : bisect.bisect_left(words, hi)]
    assert [w for w in found if matches_typed(w, "몯")] == ["모델", "모델을", "몯다"]


# ----- properties -----------------------------------------------------------------------------------
def compose(pressed: str) -> str:
    """What a 2-set input method shows after ``pressed`` (compatibility jamo, other characters
    passed through): the standard automaton, which moves a final to the next syllable when a
    vowel follows it and joins the compound vowels and finals."""
    joined = {pair: jamo for jamo, pair in COMPOUNDS.items()}
    shown, syllable = "", [""] * 3  # the syllable being composed: initial, vowel, final
    for key in pressed:
        initial, vowel, final = syllable
        is_vowel = "ㅏ" <= key <= "ㅣ"
        if not ("ㄱ" <= key <= "ㅣ"):
            shown, syllable = shown + render(syllable) + key, [""] * 3
        elif not is_vowel and initial and vowel and not final and key in FINALS.strip():
            syllable[2] = key
        elif not is_vowel and final and final + key in joined:
            syllable[2] = joined[final + key]
        elif is_vowel and vowel and not final and vowel + key in joined:
            syllable[1] = joined[vowel + key]
        elif is_vowel and initial and not vowel:
            syllable[1] = key
        elif is_vowel and final:  # the final, or its second half, starts the next syllable
            keep, move = COMPOUNDS.get(final, " " + final)
            shown += render([initial, vowel, keep.strip()])
            syllable = [move, key, ""]
        else:
            shown, syllable = shown + render(syllable), ["", key, ""] if is_vowel else [key, "", ""]
    return shown + render(syllable)


def render(syllable: list[str]) -> str:
    initial, vowel, final = syllable
    if initial and vowel:
        return unicodedata.normalize("NFC", _conjoining(initial, vowel, final))
    return initial or vowel


def _conjoining(initial: str, vowel: str, final: str) -> str:
    # The compatibility jamo's conjoining forms, by name: "HANGUL LETTER MIEUM" ->
    # "HANGUL CHOSEONG MIEUM"; NFC joins them into the syllable.
    form = lambda jamo, kind: unicodedata.lookup(unicodedata.name(jamo).replace("LETTER", kind))  # noqa: E731
    return form(initial, "CHOSEONG") + form(vowel, "JUNGSEONG") + (form(final, "JONGSEONG") if final else "")


syllables = st.integers(0xAC00, 0xD7A3).map(chr)
words = st.text(st.one_of(syllables, st.sampled_from("aZ-1é")), min_size=1, max_size=6)


def test_the_input_method_by_hand():
    assert compose("ㅁㅗㄷ") == "몯"
    assert compose("ㅁㅗㄷㅔㄹㅇㅡㄹ") == "모델을"
    assert compose("ㄷㅏㄹㄱ") == "닭"
    assert compose("ㄷㅏㄹㄱㅕ") == "달겨"
    assert compose("RNNㅇ") == "RNNㅇ"


@settings(max_examples=300, deadline=None)
@given(words)
def test_what_an_input_method_shows_on_the_way_matches_the_word(word):
    pressed = keys(word)
    assert compose(pressed) == word  # the keys are the word's, key for key
    for n in range(len(pressed) + 1):
        shown = compose(pressed[:n])
        assert matches_typed(word, shown), (word, shown)
        assert any(lo <= word < hi for lo, hi in typed_ranges(shown)), (word, shown)


# Characters that make matches likely: a few syllables and jamo of one family, and letters.
near = st.sampled_from(list("모몯뫄뫘몰마ㅁㅗㅘㄷ델다달닭ㄳ각갃가값갑시ab") + ["\U0010fffe"])
texts = st.text(st.one_of(near, syllables, st.sampled_from(list(COMPOUNDS))), max_size=5)


@settings(max_examples=1000, deadline=None)
@given(texts, st.data())
def test_the_ranges_hold_every_match(word, data):
    # What is typed: part of the word, then perhaps another character (being composed).
    typed = word[: data.draw(st.integers(0, len(word)))] + data.draw(st.one_of(st.just(""), near, syllables))
    ranges = typed_ranges(typed)
    assert all(lo < hi for lo, hi in ranges)
    assert all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:]))  # disjoint, in order
    if matches_typed(word, typed):
        assert sum(lo <= word < hi for lo, hi in ranges) == 1
        lo, hi = typed_range(typed)
        assert lo <= word < hi
