"""Whole words from their parts: the table of how words in parts go on (counted from token ids,
merged, made probabilities), the short search that turns first parts into whole words and its
bound, and the Predictor offering whole words only, on hand-worked tables and a tiny model
trained on Korean notes."""

from __future__ import annotations

import numpy as np
import pytest
from nextword.model import Vocabulary
from nextword.model.word_parts import END, LATIN, NEAR, WordParts, count_parts, merge_counts

# A hand-made vocabulary: first parts, continuations (``##``), English words and marks.
TOKENS = [
    "<unk>",
    "\n",
    ".",
    "나는",
    "쓴다",
    "토크나이저",
    "##의",
    "##로",
    "##는",
    "RNN",
    "##을",
    "##으로",
    "GRU",
    "the",
    "model",
    "데이터셋",
]
VOCAB = Vocabulary(TOKENS)


def ids(*tokens: str) -> np.ndarray:
    return np.array([VOCAB.index[t] for t in tokens], dtype=np.int64)


def rows(counts: np.ndarray) -> dict[tuple[str, str], int]:
    """A table's counts by token text (LATIN and END by name), for hand-worked comparisons."""
    name = {LATIN: "LATIN", END: "END"}
    return {
        (name.get(a, TOKENS[a] if a >= 0 else "?"), name.get(b, TOKENS[b] if b >= 0 else "?")): int(c)
        for a, b, c in counts
    }


# ----- counting the table ---------------------------------------------------------------------------
def test_count_parts_counts_continuations_endings_and_the_pooled_row():
    text = ids(
        *("나는", "토크나이저", "##의", "RNN", "##을", "쓴다", "토크나이저", "##로", "토크나이저", "."),
        "GRU",  # an English word two tokens after Hangul: in Korean text, never continued
        ".",
        *["\n"] * 8,
        "the",  # twelve tokens after the last Hangul: English text
        "RNN",  # continued once before: its endings here count, but not for the pooled row
        "model",
        "RNN",
        ".",
    )
    assert rows(count_parts(text, VOCAB)) == {
        ("토크나이저", "##의"): 1,
        ("토크나이저", "##로"): 1,
        ("토크나이저", "END"): 1,  # before "."; never continued tokens (나는, 쓴다, ##의) get no row
        ("RNN", "##을"): 1,
        ("RNN", "END"): 2,  # every ending of a token ever continued, far from Hangul too
        ("LATIN", "##을"): 1,  # RNN을, in Korean text
        ("LATIN", "END"): 1,  # GRU near the Korean sentence; the, model and RNN further on are not
    }


@pytest.mark.parametrize("distance", [1, NEAR, NEAR + 1])
@pytest.mark.parametrize("after", [True, False])
def test_the_pooled_row_counts_words_within_near_tokens_of_hangul(distance, after):
    gap = ["\n"] * (distance - 1)
    text = ids("쓴다", *gap, "GRU", ".") if after else ids("GRU", *gap, "쓴다", ".")
    expected = {("LATIN", "END"): 1} if distance <= NEAR else {}
    assert rows(count_parts(text, VOCAB)) == expected


def test_short_texts_are_counted_too():
    # Shorter than the window around each token: a two-token note, a one-word fine-tuning run.
    assert rows(count_parts(ids("RNN", "##을"), VOCAB)) == {("RNN", "##을"): 1, ("LATIN", "##을"): 1}
    assert rows(count_parts(ids("토크나이저", "##로", "."), VOCAB)) == {("토크나이저", "##로"): 1}
    assert rows(count_parts(ids("토크나이저", "##로", "토크나이저", "the"), VOCAB)) == {
        ("토크나이저", "##로"): 1,
        ("토크나이저", "END"): 1,  # "the" is the text's last token: no word after it to count
    }
    assert count_parts(ids("RNN"), VOCAB).shape == (0, 3)
    assert count_parts(ids(), VOCAB).shape == (0, 3)
    # Every length up to past the window: the end of a sentence after line breaks.
    sentence = ["나는", "RNN", "##을", "쓴다", "."]
    for n in range(2, 2 * NEAR + 4):
        short = (["\n"] * n + sentence)[-n:]
        expected = {("RNN", "##을"): 1, ("LATIN", "##을"): 1} if n >= 4 else {}
        assert rows(count_parts(ids(*short), VOCAB)) == expected, short


def test_merge_counts_adds_the_counts_of_the_same_pairs():
    a = np.array([[5, 6, 2], [5, END, 1], [LATIN, END, 3]])
    b = np.array([[5, 6, 1], [9, 10, 4], [LATIN, END, 1]])
    merged = merge_counts(a, b)
    assert {(x, y): c for x, y, c in merged.tolist()} == {(5, 6): 3, (5, END): 1, (LATIN, END): 4, (9, 10): 4}
    assert merged.dtype == np.int64 and merged.shape == (4, 3)
    assert merge_counts(a, np.zeros((0, 3), dtype=np.int64)).tolist() == merge_counts(a).tolist()
    assert merge_counts(np.zeros((0, 3))).shape == (0, 3)


def test_word_parts_rows_are_probabilities_most_probable_first():
    counts = np.array([[5, 6, 4], [5, 7, 1], [5, END, 3], [9, 10, 3], [LATIN, 10, 1], [LATIN, END, 3]])
    table = WordParts(counts)
    assert len(table) == 6
    assert table.follows(5) == ([6, END, 7], [0.5, 0.375, 0.125])
    assert table.follows(9) == ([10], [1.0])
    assert table.follows(6) is None and table.follows(10) is None  # never continued
    assert table.pooled() == ([END, 10], [0.75, 0.25])
    assert WordParts(counts[:4]).pooled() is None
    for token in (5, 9, LATIN):
        row = table.follows(token)
        assert row is not None and sum(row[1]) == pytest.approx(1.0) and row[1] == sorted(row[1], reverse=True)
