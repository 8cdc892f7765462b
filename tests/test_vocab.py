"""The vocabulary: built from counts, special tokens first, prefix ranges for suggestions."""

from collections import Counter

import pytest
from nextword.model import Vocabulary
from nextword.model.tokenize import NEWLINE, PARAGRAPH
from nextword.model.vocab import UNK


def test_build_keeps_frequent_tokens_within_limits():
    counts = Counter({"the": 10, "a": 5, "rare": 1, ",": 7, "zebra": 2})
    vocab = Vocabulary.build(counts, min_count=2, max_size=6)
    assert vocab.tokens[:3] == [UNK, NEWLINE, PARAGRAPH]
    assert vocab.tokens[3:] == ["the", ",", "a"]
    assert "rare" not in vocab and vocab.id("rare") == vocab.unk_id == 0
    assert vocab.encode(["the", "zebra"]) == [3, 0]


def test_word_range_finds_words_by_prefix_only():
    vocab = Vocabulary([UNK, NEWLINE, PARAGRAPH, "the", "then", "there", ",", "them", "a", "The"])
    lo, hi = vocab.word_range("the")
    assert sorted(vocab.sorted_words[lo:hi]) == ["the", "them", "then", "there"]
    lo, hi = vocab.word_range("")
    assert sorted(vocab.sorted_words[lo:hi]) == sorted(["the", "then", "there", "them", "a", "The"])
    assert vocab.word_range("zz")[0] == vocab.word_range("zz")[1]


def test_extend_keeps_existing_ids():
    vocab = Vocabulary([UNK, NEWLINE, PARAGRAPH, "a"])
    bigger = vocab.extend(["b", "a", "c"])
    assert bigger.tokens == [UNK, NEWLINE, PARAGRAPH, "a", "b", "c"]


def test_invalid_vocabularies_are_refused():
    with pytest.raises(ValueError):
        Vocabulary(["a", UNK])
    with pytest.raises(ValueError):
        Vocabulary([UNK, "a", "a"])
