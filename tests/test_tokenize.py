"""The tokenizer: words as the protocol defines them, marks, breaks, resumable scanning, any Unicode."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from nextword.model.pieces import is_continuation
from nextword.model.tokenize import (
    NEWLINE,
    PARAGRAPH,
    WORD_PATTERN,
    is_word,
    iter_tokens,
    join_tokens,
    tokenize,
    worth_offering,
)


def test_words_punctuation_and_breaks():
    assert tokenize("Hello, world!\nNext line.\n\n# Title") == [
        "Hello",
        ",",
        "world",
        "!",
        NEWLINE,
        "Next",
        "line",
        ".",
        PARAGRAPH,
        "#",
        "Title",
    ]


def test_apostrophes_keep_contractions_whole_and_case_is_kept():
    assert tokenize("Don't say it’s O'Neil's") == ["Don't", "say", "it’s", "O'Neil's"]
    assert tokenize("'quoted'") == ["'", "quoted", "'"]


def test_runs_of_one_mark_are_one_token_and_long_rules_share_one():
    assert tokenize("Wait... ``` ** ========== ---") == ["Wait", "...", "```", "**", "====", "---"]


def test_blank_lines_with_spaces_and_crlf_are_paragraph_breaks():
    assert tokenize("a\r\n  \r\nb\r\nc") == ["a", PARAGRAPH, "b", NEWLINE, "c"]


def test_korean_emoji_and_control_characters():
    # A Hangul word the segmentation does not keep whole comes in parts (see test_pieces.py).
    assert tokenize("한국어 문장입니다. 😀 a\x00b") == ["한국어", "문장", "##입니다", ".", "😀", "a", "\x00", "b"]


def test_is_word():
    assert is_word("hello") and is_word("don't") and is_word("한국어") and is_word("x_1")
    assert not is_word(",") and not is_word(NEWLINE) and not is_word("<unk>") and not is_word("a b")


def test_a_word_is_worth_offering_when_accepting_it_saves_a_key():
    # Before any letter, every word (acc@k counts "a" and "I" as found).
    assert worth_offering("a", "") and worth_offering("I", "") and worth_offering("the", "")
    # Inside a word: not the typed part itself, nor a word one plain key away.
    assert not worth_offering("th", "th")
    assert not worth_offering("the", "th") and not worth_offering("The", "Th") and not worth_offering("2024", "202")
    assert worth_offering("then", "th") and worth_offering("don't", "don")
    # A last character that takes more than one key: a capital, an accent, a Hangul syllable.
    assert worth_offering("HTTP", "HTT") and worth_offering("café", "caf") and worth_offering("한국어", "한국")


def test_join_tokens_spaces_like_prose():
    assert join_tokens(["Hello", ",", "world", "(", "yes", ")", "."]) == "Hello, world (yes)."
    assert join_tokens(["next"], after="the ") == "next"
    assert join_tokens(["next"], after="the") == " next"


def test_join_tokens_pairs_quotes_and_code_marks():
    """A straight quote, a backtick run or an emphasis mark opens at its first use and closes
    at the next: text generated from such tokens reads as it was written."""
    for text in [
        'He said "hi" (twice).',
        "Use ``repr`` or `str` here.",
        "It is **very** good, *really*.",
        "* one\n* two",
    ]:
        assert join_tokens(tokenize(text)) == text
    assert join_tokens(['"', "quoted", '"', "text"], after="a ") == '"quoted" text'


text_strategy = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("ab '’\n\n  \t.,*`한국😀\u0301\r")),
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(text_strategy)
def test_any_text_tokenizes_and_words_match_the_protocol(text):
    tokens = list(iter_tokens(text))
    # Spans are in order, do not overlap, and only whitespace lies between them.
    position = 0
    for token in tokens:
        assert token.start >= position
        assert text[position : token.start].isspace() or position == token.start
        position = token.end
    assert text[position:].isspace() or position == len(text)
    # Word tokens, each with the continuations after it, are exactly the protocol's target words.
    words: list[str] = []
    last_end = -1
    for token in tokens:
        if is_continuation(token.text):
            assert words and words[-1] and token.start == last_end
            words[-1] += text[token.start : token.end]
        elif is_word(token.text):
            words.append(token.text)
        last_end = token.end
    assert words == re.findall(WORD_PATTERN, text)


def test_a_very_long_line_is_fine():
    text = "word " * 100_000 + "x" * 50_000
    tokens = tokenize(text)
    assert len(tokens) == 100_001 and tokens[-1] == "x" * 50_000
