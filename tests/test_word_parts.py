"""Whole words from their parts: the table of how words in parts go on (counted from token ids,
merged, made probabilities), the short search that turns first parts into whole words and its
bound, and the Predictor offering whole words only, on hand-worked tables and a tiny model
trained on Korean notes."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from nextword.model import InferenceNetwork, ModelConfig, Predictor, Vocabulary, load_checkpoint
from nextword.model.pieces import has_hangul, is_continuation, surface, word_tokens
from nextword.model.prediction_model import PredictionModel, load_for_prediction
from nextword.model.suggestions import Suggestions
from nextword.model.whole_words import MAX_PARTS, Parts, search, word_probability
from nextword.model.word_parts import END, HANGUL, LATIN, NEAR, WordParts, count_parts, merge_counts
from nextword.training.batches import encode_documents
from nextword.training.config import TrainConfig
from nextword.training.corpus import load_corpus
from nextword.training.finetune import grow_vocabulary
from nextword.training.train import train

# A hand-made vocabulary: first parts, continuations (``##``), English words and marks.
TOKENS = [
    "<unk>",
    "\n",
    ".",
    "통해",
    "하는",
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


def english_rows(counts: np.ndarray) -> dict[tuple[str, str], int]:
    """``rows`` of the parts without Hangul (and LATIN's): what English words do."""
    return {key: c for key, c in rows(counts).items() if not has_hangul(key[0]) and key[0] != "HANGUL"}


def rows(counts: np.ndarray) -> dict[tuple[str, str], int]:
    """A table's counts by token text (LATIN and END by name), for hand-worked comparisons."""
    name = {LATIN: "LATIN", END: "END", HANGUL: "HANGUL"}
    return {
        (name.get(a, TOKENS[a] if a >= 0 else "?"), name.get(b, TOKENS[b] if b >= 0 else "?")): int(c)
        for a, b, c in counts
    }


# ----- counting the table ---------------------------------------------------------------------------
def test_count_parts_counts_continuations_endings_and_the_pooled_row():
    text = ids(
        *("통해", "토크나이저", "##의", "RNN", "##을", "하는", "토크나이저", "##로", "토크나이저", "."),
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
        ("토크나이저", "END"): 1,  # before "."
        # Every part holding Hangul has its endings counted, continued or not.
        ("통해", "END"): 1,
        ("하는", "END"): 1,
        ("##의", "END"): 1,
        ("##을", "END"): 1,
        ("##로", "END"): 1,
        # How Korean parts go on in general: 2 continued, 6 ended.
        ("HANGUL", "##의"): 1,
        ("HANGUL", "##로"): 1,
        ("HANGUL", "END"): 6,
        ("RNN", "##을"): 1,
        ("RNN", "END"): 2,  # every ending of a token ever continued, far from Hangul too
        ("LATIN", "##을"): 1,  # RNN을, in Korean text
        ("LATIN", "END"): 1,  # GRU near the Korean sentence; the, model and RNN further on are not
    }


@pytest.mark.parametrize("distance", [1, NEAR, NEAR + 1])
@pytest.mark.parametrize("after", [True, False])
def test_the_pooled_row_counts_words_within_near_tokens_of_hangul(distance, after):
    gap = ["\n"] * (distance - 1)
    text = ids("하는", *gap, "GRU", ".") if after else ids("GRU", *gap, "하는", ".")
    expected = {("LATIN", "END"): 1} if distance <= NEAR else {}
    assert english_rows(count_parts(text, VOCAB)) == expected


def test_short_texts_are_counted_too():
    # Shorter than the window around each token: a two-token note, a one-word fine-tuning run.
    assert rows(count_parts(ids("RNN", "##을"), VOCAB)) == {("RNN", "##을"): 1, ("LATIN", "##을"): 1}
    assert rows(count_parts(ids("토크나이저", "##로", "."), VOCAB)) == {
        ("토크나이저", "##로"): 1,
        ("##로", "END"): 1,
        ("HANGUL", "##로"): 1,
        ("HANGUL", "END"): 1,
    }
    assert rows(count_parts(ids("토크나이저", "##로", "토크나이저", "the"), VOCAB)) == {
        ("토크나이저", "##로"): 1,
        ("토크나이저", "END"): 1,  # "the" is the text's last token: no word after it to count
        ("##로", "END"): 1,
        ("HANGUL", "##로"): 1,
        ("HANGUL", "END"): 2,
    }
    assert count_parts(ids("RNN"), VOCAB).shape == (0, 3)
    assert count_parts(ids(), VOCAB).shape == (0, 3)
    # Every length up to past the window: the end of a sentence after line breaks.
    sentence = ["통해", "RNN", "##을", "하는", "."]
    for n in range(2, 2 * NEAR + 4):
        short = (["\n"] * n + sentence)[-n:]
        expected = {("RNN", "##을"): 1, ("LATIN", "##을"): 1} if n >= 4 else {}
        assert english_rows(count_parts(ids(*short), VOCAB)) == expected, short


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


# ----- whole words from first parts -----------------------------------------------------------------
# The table of a hand-made training text, one sentence a line (counted as the tables above are):
TEXT = [
    ("통해", "토크나이저", "##의", "RNN", "##을", "하는", "."),  # 토크나이저의, RNN을 (a pooled ##을)
    ("토크나이저", "##의", "GRU", "하는", "."),  # GRU ends in Korean text (a pooled END)
    ("하는", "GRU", "."),  # and again
    ("토크나이저", "##의", "데이터셋", "##로", "하는", "."),  # 데이터셋로
    ("토크나이저", "##로", "하는", "."),  # 토크나이저로: the only word 토크나이저 goes on to ##로 in
    ("데이터셋", "##로", "##는", "하는", "."),  # 데이터셋로는: the only word ##로 goes on to ##는 in
]
# By hand: 토크나이저 goes on to ##의 3 times in 4 and to ##로 once, never ends there; RNN always
# goes on to ##을, 데이터셋 to ##로; ##로 ends twice in 3 and goes on to ##는 once; words without
# Hangul in Korean text end twice in 3 (GRU) and take ##을 once (RNN).
# The network's distribution of the next word's first part, in a context (hand-made too):
FIRST = {"토크나이저": 0.4, "데이터셋": 0.18, "model": 0.14, "RNN": 0.1, "GRU": 0.08, "통해": 0.05, "하는": 0.05}
# The words and their probabilities as whole words, by hand:
WORDS = {
    "토크나이저의": 0.4 * 3 / 4,
    "데이터셋로": 0.18 * 2 / 3,
    "RNN을": 0.1,
    "model": 0.14 * 2 / 3,  # a word without Hangul in Korean text ends as GRU did
    "토크나이저로": 0.4 * 1 / 4 * 2 / 3,  # p(토크나이저) p(로 | 토크나이저) p(END | 로)
    "데이터셋로는": 0.18 * 1 / 3,
    "GRU": 0.08 * 2 / 3,
    "통해": 0.05,
    "하는": 0.05,
    "model을": 0.14 * 1 / 3,  # never seen: the pooled row's ##을
    "토크나이저로는": 0.4 * 1 / 4 * 1 / 3,  # never seen whole: 토크나이저로 goes on as 데이터셋로 did
    "GRU을": 0.08 * 1 / 3,
}
ALWAYS = lambda word: True  # noqa: E731


def text_parts() -> Parts:
    # Each part's own row alone (how smoothing mixes in Korean parts in general: its own test).
    table = WordParts(count_parts(np.concatenate([ids(*sentence) for sentence in TEXT]), VOCAB), smoothing=0.0)
    return Parts(table, VOCAB)


def first_parts(probabilities: dict[str, float]) -> np.ndarray:
    dist = np.zeros(len(VOCAB))
    for token, p in probabilities.items():
        dist[VOCAB.index[token]] = p
    return dist


def find(parts: Parts, dist: np.ndarray, k: int, korean: bool = True, prefix: str = "") -> dict[str, float]:
    """``search`` from every word of the vocabulary, for words starting with ``prefix``."""
    starts = np.flatnonzero(VOCAB.word_mask).tolist()
    matches = lambda w: w.startswith(prefix)  # noqa: E731
    fits = lambda w: w.startswith(prefix) or prefix.startswith(w)  # noqa: E731
    return search(parts, dist, starts, prefix, k, korean, ALWAYS, matches, fits)


def top(found: dict[str, float], k: int) -> list[str]:
    return sorted(found, key=lambda w: (-found[w], w))[:k]


def test_whole_words_come_from_their_parts_as_the_table_chains_them():
    parts, dist = text_parts(), first_parts(FIRST)
    found = find(parts, dist, k=len(WORDS))
    assert found == pytest.approx(WORDS)
    # A first part the table says always goes on is never a word of its own.
    assert not {"토크나이저", "데이터셋", "RNN"} & set(found)
    for word, p in WORDS.items():
        assert word_probability(parts, dist, VOCAB.encode(word_tokens(word)), korean=True) == pytest.approx(p)
    assert word_probability(parts, dist, ids("토크나이저").tolist(), korean=True) == 0.0
    assert word_probability(parts, dist, ids("토크나이저", "##을").tolist(), korean=True) == 0.0  # never so


def test_whole_words_are_ranked_among_single_token_words():
    parts, dist = text_parts(), first_parts(FIRST)
    ranked = sorted(WORDS, key=lambda w: (-WORDS[w], w))
    assert ranked[:4] == ["토크나이저의", "데이터셋로", "RNN을", "model"]
    for k in range(1, len(WORDS) + 1):
        found = find(parts, dist, k)
        assert len(found) >= k and top(found, k) == ranked[:k]
        assert all(found[w] == pytest.approx(WORDS[w]) for w in found)  # the bound cuts, never lowers


def test_the_typed_part_of_a_word_narrows_the_search():
    parts, dist = text_parts(), first_parts(FIRST)
    assert find(parts, dist, 3, prefix="토크나이저로") == pytest.approx(
        {"토크나이저로": WORDS["토크나이저로"], "토크나이저로는": WORDS["토크나이저로는"]}
    )
    assert find(parts, dist, 5, prefix="GRU") == pytest.approx({"GRU": WORDS["GRU"], "GRU을": WORDS["GRU을"]})
    assert find(parts, dist, 5, prefix="토크나이저 ") == {}


def test_a_word_without_hangul_takes_particles_only_in_korean_text():
    parts, dist = text_parts(), first_parts(FIRST)
    english = find(parts, dist, k=len(WORDS), korean=False)
    # RNN went on to ##을 in every word seen, yet in English text it is a word as it stands.
    assert {w: p for w, p in english.items() if not has_hangul(w)} == pytest.approx(
        {"model": 0.14, "RNN": 0.1, "GRU": 0.08}
    )
    assert {w: p for w, p in english.items() if has_hangul(w)} == pytest.approx(
        {w: p for w, p in WORDS.items() if not any(c.isascii() for c in w)}
    )
    assert word_probability(parts, dist, ids("RNN").tolist(), korean=False) == pytest.approx(0.1)
    assert word_probability(parts, dist, ids("RNN", "##을").tolist(), korean=False) == 0.0
    assert word_probability(parts, dist, ids("RNN").tolist(), korean=True) == 0.0


def test_a_word_adds_up_along_every_path_that_spells_it():
    # ``모델을`` is one token as the tokenizer splits it; the table's 모델 + ##을 spells it too.
    vocab = Vocabulary(["<unk>", "모델", "모델을", "데이터셋", "##을"])
    assert word_tokens("모델을") == ["모델을"]
    table = WordParts(np.array([[1, 4, 3], [1, END, 2]]))  # 모델 goes on to ##을 3 times in 5
    parts = Parts(table, vocab)
    dist = np.array([0.0, 0.5, 0.25, 0.25, 0.0])
    found = search(parts, dist, [1, 2, 3], "", 2, True, ALWAYS, ALWAYS, ALWAYS)
    # 모델을 at 0.25 + 0.5 * 0.6; the bound is the second best word's (데이터셋), not 모델을's twice.
    assert found == pytest.approx({"모델을": 0.55, "데이터셋": 0.25, "모델": 0.2})


def test_a_word_of_more_parts_than_the_search_goes_is_not_offered_unended():
    syllables = ["가", "나", "다", "라", "마", "바"]
    assert word_tokens("".join(syllables)) == ["가", *("##" + s for s in syllables[1:])]
    vocab = Vocabulary(["<unk>", "가", *("##" + s for s in syllables[1:])])
    # Each part goes on to the next; after 마 the word ends half the time.
    counts = [[i, i + 1, 2] for i in range(1, 6)] + [[5, END, 2], [6, END, 1]]
    parts = Parts(WordParts(np.array(counts)), vocab)
    dist = np.array([0.0, 1.0] + [0.0] * 5)
    assert MAX_PARTS == 4
    found = search(parts, dist, [1], "", 3, True, ALWAYS, ALWAYS, ALWAYS)
    assert found == pytest.approx({"가나다라마": 0.5})  # its ending counted; 가나다라마바 is a part too many
    assert word_probability(parts, dist, [1, 2, 3, 4, 5], korean=True) == pytest.approx(0.5)


# Small random tables over first parts and continuations whose texts chain into words, some
# spelled by more than one path (모델 + ##을 and 모델을; 가 + ##나 + ##다).
FIRSTS = ["토크나이저", "데이터셋", "RNN", "GRU", "model", "모델", "모델을", "가", "통해"]
CONTINUATIONS = ["##의", "##로", "##는", "##을", "##으로", "##나", "##다", "##'"]
SMALL = Vocabulary(["<unk>", *FIRSTS, *CONTINUATIONS])
FIRST_IDS = [SMALL.index[t] for t in FIRSTS]
NEXT_IDS = [SMALL.index[t] for t in CONTINUATIONS]


def every_word(parts: Parts, dist: np.ndarray, korean: bool, prefix: str) -> dict[str, float]:
    """Every word the table spells from the first parts, along every path that spells it
    (added up), with no bound: word -> probability."""
    words: dict[str, float] = {}

    def goes_on(token_id: int) -> tuple[list[int], list[float]] | None:
        row = parts.table.follows(token_id)
        if has_hangul(parts.tokens[token_id]):
            return row
        return (row or parts.table.pooled()) if korean else None

    def walk(path: tuple[int, ...], p: float) -> None:
        word = "".join(surface(parts.tokens[i]) for i in path)
        row = goes_on(path[-1]) or ([END], [1.0])
        for next_id, q in zip(*row):
            if next_id != END:
                if len(path) <= MAX_PARTS:
                    walk((*path, next_id), p * q)
            elif p * q > 0 and word.startswith(prefix):
                words[word] = words.get(word, 0.0) + p * q

    for start in FIRST_IDS:
        walk((start,), float(dist[start]))
    return words


@settings(max_examples=300, deadline=None)
@given(
    counts=st.lists(
        st.tuples(
            st.sampled_from([*FIRST_IDS, *NEXT_IDS, LATIN]), st.sampled_from([*NEXT_IDS, END]), st.integers(1, 5)
        ),
        max_size=30,
    ),
    weights=st.lists(st.floats(0.0, 1.0), min_size=len(FIRSTS), max_size=len(FIRSTS)),
    k=st.integers(1, 8),
    korean=st.booleans(),
    prefix=st.sampled_from(["", "토", "모델", "데이터셋로", "R", "가나", "GRU'"]),
)
def test_the_bound_never_changes_the_k_best_words(counts, weights, k, korean, prefix):
    table = WordParts(merge_counts(np.array(counts, dtype=np.int64).reshape(-1, 3)), smoothing=0.0)
    parts = Parts(table, SMALL)
    dist = np.zeros(len(SMALL))
    dist[FIRST_IDS] = weights
    dist /= max(1.0, dist.sum())
    matches = lambda w: w.startswith(prefix)  # noqa: E731
    fits = lambda w: w.startswith(prefix) or prefix.startswith(w)  # noqa: E731
    found = search(parts, dist, FIRST_IDS, prefix, k, korean, ALWAYS, matches, fits)
    expected = every_word(parts, dist, korean, prefix)
    assert set(found) <= set(expected)
    # A word's probability as found adds up the spellings the search went down: no more than
    # all of them (the ranking then reckons each word found in full).
    assert all(found[w] <= expected[w] + 1e-12 for w in found)
    # Every word among the k best is found, also one whose every spelling is below the k-th
    # best word on its own (모델을 whole, and 모델 then 을): no word here has more than two.
    best = sorted(expected.values(), reverse=True)[:k]
    assert sorted((expected[w] for w in found), reverse=True)[:k] == pytest.approx(best)


# ----- through the Predictor, on a tiny model trained on Korean notes --------------------------------
KOREAN_NOTES = {
    "ko/tokenizer.md": (
        "# 토크나이저\n\n"
        "토크나이저의 역할은 문장을 나누는 것이다. 토크나이저로 문장을 나누고 모델에 넣는다.\n"
        "데이터셋을 먼저 준비한다. 데이터셋으로 모델을 학습시킨다. 데이터셋의 크기가 중요하다.\n"
    ),
    "ko/rnn.md": (
        "# RNN\n\n"
        "RNN을 통해 text generation을 하는 것이다. RNN으로 문장을 만든다. LSTM은 RNN의 한 종류다.\n"
        "모델을 학습시킨다. 모델로 문장을 만든다. 모델들의 성능을 비교했다.\n"
    ),
    "ko/transformer.md": (
        "# Transformer\n\n"
        "Transformer로 구현했다. Transformer를 쓰면 모델이 좋아진다. 위치에 넣으면 구현된다.\n"
        "Transformer로는 어렵다.\n"
        "예제들을 보면 토크나이저는 문장을 나눈다. 예제들의 코드를 보면 된다.\n"
    ),
}
CONTEXTS = [
    ("", ""),
    ("토크나이저로 문장을 ", ""),
    ("데이터셋으로 ", ""),
    ("데이터셋으로 ", "모"),
    ("Transformer를 쓰면 ", ""),
    ("RNN을 통해 text ", ""),
    ("RNN을 통해 text ", "gen"),
    ("# 토크나이저\n\n", "토크"),
    ("text generation with Transformer and LSTM and a tokenizer ", ""),  # English text: no particles
]


@pytest.fixture(scope="module")
def korean_model(tmp_path_factory) -> PredictionModel:
    """A tiny model trained for a few seconds on ``KOREAN_NOTES``."""
    root = tmp_path_factory.mktemp("korean")
    for name, text in KOREAN_NOTES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text * 4, encoding="utf-8")
    corpus = load_corpus([root], include_test_split=True)
    corpus.train += corpus.valid  # every file trained on (the point is a model that has seen them)
    corpus.valid = list(corpus.train)
    out = root / "model.safetensors"
    config = TrainConfig(epochs=2, batch_size=4, bptt=20, lr=1e-2, min_count=1, warmup_steps=5, seed=0)
    train(corpus, out, config, ModelConfig(emb_dim=32, hidden_dim=64, num_layers=1, dropout=0.0))
    checkpoint = load_for_prediction(out)
    ids = encode_documents([d.text for d in corpus.train], checkpoint.vocab)
    # The run counted the table from the token ids it trained on.
    assert checkpoint.model.word_parts is not None
    assert checkpoint.model.word_parts.tolist() == count_parts(ids.numpy(), checkpoint.vocab).tolist()
    return checkpoint


@pytest.fixture
def predictor(korean_model) -> Predictor:
    return Predictor(InferenceNetwork.build(korean_model.model), korean_model.vocab, spacing=korean_model.spacing)


def test_ranking_korean_words_makes_no_reference_cycles(korean_model):
    """The server lets an old model go at a swap by reference counting alone (a garbage
    collection would hold a keystroke): nothing a Predictor makes while it ranks Korean
    words may sit in a reference cycle, where it would hold the old vocabulary."""
    network = InferenceNetwork.build(korean_model.model)

    def rank() -> None:
        predictor = Predictor(network, korean_model.vocab, spacing=korean_model.spacing)
        for typed in ("모", "모델", "모델을", "학습"):
            predictor.predict("나는 ", typed, 5, composing=True)
        predictor.predict("나는 모델을 ", "", 5)

    rank()  # what is made once (lazily built tables) is made here
    gc.collect()
    gc.disable()
    try:
        rank()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = [type(o).__qualname__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []


def always_going_on(checkpoint: PredictionModel) -> set[str]:
    """The Hangul words of the vocabulary that, as the table has it, always go on into more
    parts (a word without Hangul takes parts only in Korean text)."""
    assert checkpoint.model.word_parts is not None
    table, vocab = WordParts(checkpoint.model.word_parts), checkpoint.vocab
    return {
        token
        for i, token in enumerate(vocab.tokens)
        if vocab.word_flags[i] and has_hangul(token) and END not in (table.follows(i) or ([END], [1.0]))[0]
    }


def test_suggestions_are_whole_words_as_likely_as_the_predictor_says(korean_model, predictor):
    lone = always_going_on(korean_model)
    assert {"학습", "준비", "비교"} <= lone  # 학습시킨다, 준비한다, 비교했다: never a word before their ending
    for context, prefix in CONTEXTS:
        suggestions = predictor.predict(context, prefix, k=20)
        assert suggestions, (context, prefix)
        for s in suggestions:
            assert s.word.startswith(prefix) and not s.word.startswith("#"), (context, s.word)
            assert s.word not in lone, (context, s.word)
            assert s.probability == pytest.approx(predictor.word_probability(s.word)), (context, s.word)


def test_a_word_never_seen_whole_is_offered_from_its_parts(predictor):
    # The notes have 토크나이저로 and Transformer로는, never 토크나이저로는.
    assert "토크나이저로는" not in "".join(KOREAN_NOTES.values())
    assert word_tokens("토크나이저로는") == ["토크나이저", "##로", "##는"]
    suggestions = predictor.predict("RNN으로 문장을 나누고 ", "토크나이저로", k=5)
    offered = {s.word: s.probability for s in suggestions}
    assert "토크나이저로는" in offered
    assert (
        offered["토크나이저로는"] == pytest.approx(predictor.word_probability("토크나이저로는"))
        and offered["토크나이저로는"] > 0
    )


def test_a_syllable_being_composed_matches_by_its_keys(predictor):
    composed = predictor.predict("데이터셋으로 ", "몯", k=5, composing=True)
    assert composed and all(s.word.startswith("모델") for s in composed)
    assert "모델을" in [s.word for s in composed]
    assert not predictor.predict("데이터셋으로 ", "몯", k=5, composing=False)
    # Typed as far as 모델, the same word is among the first (ranked there with the network's
    # own word on how 모델, typed whole, goes on in this context).
    assert "모델을" in [s.word for s in predictor.predict("데이터셋으로 ", "모델", k=5)]


def test_after_a_space_no_continuation_comes(korean_model, predictor):
    continuation = np.array([is_continuation(t) for t in korean_model.vocab.tokens])
    for context in ("RNN", "토크나이저", "데이터셋으로 모델"):
        # The network, after the word, expects a part of it (RNN을), but the word has ended.
        predictor.predict(context + " ", "", k=5)
        dist = predictor.distribution()
        assert dist[continuation].sum() == 0.0 and dist.sum() == pytest.approx(1.0)
        assert all(not s.word.startswith("#") for s in predictor.predict(context + " ", "", k=20))


ENGLISH = [
    ("", ""),
    ("The borrow checker keeps references ", ""),
    ("I installed the package with ", "p"),
    ("Run the tests with pytest. Then commit the ", ""),
    ("Run the tests with pytest. Then commit the ", "ch"),
    ("def main():\n    return ", ""),
]


def test_english_text_is_suggested_as_without_a_table():
    checkpoint = load_checkpoint(None)  # the shipped model
    vocab, model, table = checkpoint.vocab, checkpoint.model, checkpoint.model.word_parts
    if table is None:
        # An English model: given a particle and a table such as a model of both languages holds
        # (model goes on to ##을 in Korean text a third of the time).
        model, vocab = grow_vocabulary(model, vocab, ["##을"])
        particle, word = vocab.id("##을"), vocab.id("model")
        table = torch.tensor([[word, particle, 1], [word, END, 2], [LATIN, particle, 1], [LATIN, END, 3]])
    predictors = []
    for parts in (None, table):
        model.set_word_parts(parts)
        predictors.append(Predictor(InferenceNetwork.build(model), vocab, spacing=checkpoint.spacing))
    without, with_table = predictors
    for context, prefix in ENGLISH:
        before, after = without.predict(context, prefix, k=8), with_table.predict(context, prefix, k=8)
        # A model of both languages may rank a Korean word among English ones: ranked whole
        # with the table, as its first part alone without. The English words stay as they were.
        before = Suggestions([s for s in before if not has_hangul(s.word)], before.typed_probability)
        after = Suggestions([s for s in after if not has_hangul(s.word)][: len(before)], after.typed_probability)
        assert [s.word for s in after] == [s.word for s in before], context
        # The same, or all scaled alike where the table took the continuations' share.
        scale = after[0].probability / before[0].probability
        assert scale >= 1.0 - 1e-9
        assert [s.probability for s in after] == pytest.approx([s.probability * scale for s in before], rel=1e-6)
        assert after.typed_probability == pytest.approx(before.typed_probability * scale, rel=1e-6)


def test_a_korean_part_goes_on_as_korean_parts_do_in_general_as_often_as_its_own_row_says():
    # 토크나이저 went on only to ##의 (twice) and ended twice; Korean parts in general go on to
    # ##로 and ##는 as well.
    counts = np.array(
        [[5, 6, 2], [5, END, 2], [HANGUL, 6, 1], [HANGUL, 7, 2], [HANGUL, 8, 1], [HANGUL, END, 4]], dtype=np.int64
    )
    row = dict(zip(*WordParts(counts, smoothing=2.0).korean(5, width=8)))
    assert row[END] == pytest.approx(0.5)  # its own endings, as often as ever
    # Its own way on (2 seen) weighs as much as the pooled one (smoothing 2): half each of 0.5.
    assert row[6] == pytest.approx(0.5 * (0.5 + 0.5 * 1 / 4))
    assert row[7] == pytest.approx(0.5 * 0.5 * 2 / 4) and row[8] == pytest.approx(0.5 * 0.5 * 1 / 4)
    assert sum(row.values()) == pytest.approx(1.0)
    # A part never seen ending stays unended; without smoothing, its own row alone.
    assert END not in WordParts(np.array([[5, 6, 2], [HANGUL, END, 3]]), smoothing=2.0).korean(5, 8)[0]
    assert WordParts(counts, smoothing=0.0).korean(5, 8) == WordParts(counts).follows(5)
