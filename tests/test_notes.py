"""The notes as the Predictor mixes them in (model/notes.py): new words offered whole, words no
file holds any more left out, the trained notes kept beside the workspace's."""

from __future__ import annotations

from collections import Counter

import numpy as np
from nextword.model import Vocabulary, tokenize
from nextword.model.notes import Notes

BASE = "the model reads the text and the model writes the text . the next word is the word"


def table(*texts: str) -> tuple[list[str], list[np.ndarray]]:
    """A store's token table: its strings, and each file's ids into them."""
    index: dict[str, int] = {}
    files = [np.asarray([index.setdefault(t, len(index)) for t in tokenize(text)], dtype=np.int32) for text in texts]
    return list(index), files


def test_new_words_get_ids_of_their_own_and_follow_their_context() -> None:
    vocab = Vocabulary.build(Counter(tokenize(BASE)), min_count=1)
    words, files = table("the zorblaxite lamp . the zorblaxite glows . the quixotrel hums")
    notes = Notes.build(vocab, [(words, files)])
    assert notes.from_workspace
    assert notes.new_words == sorted(["glows", "hums", "lamp", "quixotrel", "zorblaxite"])
    zorb = notes.new_index["zorblaxite"]
    assert zorb >= len(vocab) and notes.count(zorb) == 2
    assert notes.count(vocab.id("the")) == 3
    after_the = notes.ngram.distribution(notes.context_ids([vocab.id("the")], ["the"]))
    assert after_the[zorb] > after_the[notes.new_index["quixotrel"]] > after_the[notes.new_index["hums"]]
    first, last = notes.new_words_between("q", "r")
    assert notes.new_words[first:last] == ["quixotrel"]


def test_a_word_no_file_holds_any_more_is_not_a_new_word() -> None:
    vocab = Vocabulary.build(Counter(tokenize(BASE)), min_count=1)
    words, files = table("the plumbaxe tool", "the crumblewick tool")
    notes = Notes.build(vocab, [(words, files[1:])])  # the first file was forgotten; its words stay in the table
    assert "crumblewick" in notes.new_index and "plumbaxe" not in notes.new_index


def test_trained_notes_alone_are_not_the_workspace_s() -> None:
    vocab = Vocabulary.build(Counter(tokenize(BASE)), min_count=1)
    trained = np.asarray(vocab.encode(tokenize("the model reads the word")), dtype=np.int32)
    alone = Notes.build(vocab, [], trained=trained)
    assert not alone.from_workspace and alone.new_words == []
    words, files = table("the zorblaxite lamp")
    both = Notes.build(vocab, [(words, files)], trained=trained)
    assert both.from_workspace and both.count(vocab.id("model")) == 1 and "zorblaxite" in both.new_index


def test_the_most_frequent_words_in_parts_of_a_span_that_are_kept() -> None:
    vocab = Vocabulary.build(Counter(tokenize(BASE)), min_count=1)
    rng = np.random.default_rng(7)
    syllables = ["모", "델", "을", "생", "성", "하", "는", "데", "이", "터"]
    words = {"".join(rng.choice(syllables, rng.integers(2, 6))) for _ in range(3000)}
    counts = Counter({w: int(c) for w, c in zip(sorted(words), rng.permutation(len(words)) + 1)})  # no ties
    notes = Notes(vocab, None, part_words=counts)
    spans = [("모", "모\U0010ffff"), ("생성", "생성\U0010ffff")]
    for keep in (lambda w: True, lambda w: len(w) > 4, lambda w: w.endswith("터터")):
        expected = sorted(
            (w for w in counts if any(lo <= w < hi for lo, hi in spans) and keep(w)), key=lambda w: -counts[w]
        )[:5]
        assert notes.top_part_words(spans, 5, keep) == expected
    assert notes.top_part_words([("없", "없\U0010ffff")], 5, lambda w: True) == []
