"""The Predictor: prefix filtering, probabilities, incremental state equal to a fresh start,
document words beyond the vocabulary, bounded state on long documents, sampling. The tests of
its bookkeeping run on both ways to run the network (the C kernels where they run, and the
portable path)."""

import math
import re
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from nextword.model import (
    InferenceNetwork,
    Predictor,
    PredictorConfig,
    Vocabulary,
    compiled,
    default_model_path,
    load_checkpoint,
    tokenize,
)
from nextword.model.prediction_model import load_for_prediction
from nextword.model.suggestions import top_indices
from nextword.model.text import SplitText
from nextword.model.tokenize import WORD_RE, is_word, iter_tokens
from nextword.model.vocab import UNK
from nextword.server.read_ahead import LOOK_AHEAD_MARKS


@dataclass(frozen=True)
class Model:
    """A network and its vocabulary: what a Predictor is made of."""

    network: InferenceNetwork
    vocab: Vocabulary

    def predictor(self, config: PredictorConfig | None = None) -> Predictor:
        return Predictor(self.network, self.vocab, config)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Prediction on one thread, as the language server runs it (on a busy machine the
    portable path's products on two threads mostly wait for each other)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _built(path, kernels: str) -> Model:
    if kernels == "nextword" and not compiled.available():
        pytest.skip("the C kernels are not built or not supported here")
    checkpoint = load_for_prediction(path)
    return Model(InferenceNetwork.build(checkpoint.model, kernels), checkpoint.vocab)


@pytest.fixture(scope="module", params=["nextword", "torch"])
def checkpoint(request, tiny_model_path) -> Model:
    """The tiny model on each way to run it: a Predictor that read token by token and one
    that read a run in one call agree (the C kernels: to the bit; the portable path: to rounding)."""
    return _built(tiny_model_path, request.param)


@pytest.fixture
def predictor(checkpoint):
    return checkpoint.predictor()


def fresh(checkpoint, context, prefix="", k=10):
    return checkpoint.predictor().predict(context, prefix, k)


def same(a, b):
    """Equal suggestions, up to float rounding (the network reads a run of tokens in one call
    or one at a time, which rounds differently): the same probabilities, and the same words
    except where two are tied to rounding."""
    assert len(a) == len(b)
    assert np.allclose([s.probability for s in a], [s.probability for s in b], rtol=1e-4, atol=1e-9)
    by_word = {s.word: s.probability for s in b}
    for s in a:
        other = by_word.get(s.word)
        if other is None:
            assert any(math.isclose(s.probability, t.probability, rel_tol=1e-4) for t in b), (a, b)
        else:
            assert math.isclose(s.probability, other, rel_tol=1e-4, abs_tol=1e-9)


def test_suggestions_start_with_prefix_are_ranked_and_are_words(predictor, sample_text):
    for prefix in ["", "t", "th", "The", "b", "zzz"]:
        suggestions = predictor.predict(sample_text[:200], prefix, 8)
        assert all(s.word.startswith(prefix) for s in suggestions)
        probs = [s.probability for s in suggestions]
        assert probs == sorted(probs, reverse=True)
        assert all(0 < p <= 1 for p in probs)
        assert all(s.word not in (UNK, "\n", "\n\n", ".", ",", "#") for s in suggestions)
    assert predictor.predict(sample_text, "zzz", 5) == []


def test_probabilities_of_all_words_sum_to_at_most_one(predictor, sample_text, checkpoint):
    everything = predictor.predict(sample_text[:300], "", len(checkpoint.vocab))
    total = sum(s.probability for s in everything)
    assert 0.0 < total <= 1.0 + 1e-9
    # Words are most of the mass but punctuation and breaks keep theirs.
    dist = predictor.distribution()
    assert math.isclose(float(dist.sum()), 1.0, rel_tol=1e-6)


def test_prefix_results_are_the_filtered_full_ranking(predictor, sample_text, checkpoint):
    full = predictor.predict(sample_text[:250], "", len(checkpoint.vocab))
    for prefix in ["t", "re", "B"]:
        expected = [s for s in full if s.word.startswith(prefix) and s.word != prefix][:5]
        same(predictor.predict(sample_text[:250], prefix, 5), expected)


def test_only_words_that_save_a_key_are_offered_inside_a_word(predictor, checkpoint, sample_text):
    # Not the typed part itself, nor a word one plain key away: accepting either saves nothing,
    # and each took a place among the first k. Before any letter, every word is offered.
    context = sample_text[:250] + " Kub and Kub and Kube and Kubernetes, Kubernetes. "
    full = [s.word for s in predictor.predict(context, "", len(checkpoint.vocab) + 10)]
    cases = {
        "o": ["of", "on"],  # "out", "owner", "ownership" stay
        "owner": ["owner"],  # "ownership" stays
        "value": ["value", "values"],  # nothing stays
        "a": ["a", "an"],  # nothing stays
        "Ku": ["Kub"],  # "Kube", "Kubernetes" stay (words the vocabulary lacks)
        "Kub": ["Kub", "Kube"],  # "Kubernetes" stays
    }
    for prefix, left_out in cases.items():
        assert all(word in full for word in left_out)  # words of their own in this context
        expected = [w for w in full if w.startswith(prefix) and w not in left_out][:5]
        assert [s.word for s in predictor.predict(context, prefix, 5)] == expected
    assert [s.word for s in predictor.predict(context, "o", 5)] == [
        w for w in full if w in ("out", "owner", "ownership")
    ]
    assert predictor.predict(context, "value", 5) == []


def test_typing_forward_matches_a_fresh_predictor(predictor, checkpoint, sample_text):
    for end in range(0, len(sample_text), 7):
        context = sample_text[:end]
        same(predictor.predict(context, "", 10), fresh(checkpoint, context))


def test_edits_backspaces_and_jumps_match_a_fresh_predictor(predictor, checkpoint, sample_text):
    contexts = [
        sample_text[:300],
        sample_text[:120],  # cursor moved back
        sample_text[:120] + "Ownership rules\n\n",  # new text typed there
        sample_text[:40] + "CHANGED" + sample_text[40:300],  # an edit far back
        "something else entirely. ",
        sample_text[:299] + "\n",  # a break that may grow into a paragraph
        sample_text[:299] + "\n\n",
        sample_text[:299] + "\n \n  x",
    ]
    for context in contexts:
        same(predictor.predict(context, "", 10), fresh(checkpoint, context))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 400),
            st.integers(0, 12),
            st.sampled_from(["", "x", "the ", "don't ", "'", "\n", "\n\n", "...", " ", "한국 "]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_sequence_of_edits_matches_a_fresh_predictor(checkpoint, sample_text, edits):
    predictor = checkpoint.predictor()
    text = sample_text[:300]
    for position, delete, insert in edits:
        position = min(position, len(text))
        text = text[:position] + insert + text[position + delete :]
        same(predictor.predict(text, "", 6), fresh(checkpoint, text, "", 6))


def test_document_words_outside_the_vocabulary_are_offered(predictor, checkpoint):
    assert "Kubernetes" not in checkpoint.vocab
    context = "Kubernetes runs containers. We deploy Kubernetes clusters and Kubernetes pods. The "
    words = [s.word for s in predictor.predict(context, "Kub", 5)]
    assert words == ["Kubernetes"]
    everything = predictor.predict(context, "", len(checkpoint.vocab) + 10)
    assert "Kubernetes" in [s.word for s in everything]
    assert sum(s.probability for s in everything) <= 1.0 + 1e-9


# Forty made-up names, repeated 1 to 4 times: many more words the vocabulary lacks than k.
_NAMES = [name for i in range(40) for name in [f"Zq{i}x"] * (1 + i % 4)]


@settings(max_examples=30, deadline=None)
@given(
    st.permutations(_NAMES),
    st.lists(st.sampled_from(["the", "and", ".", "\n"]), max_size=60),
    st.sampled_from(["", "Z", "Zq", "Zq1", "Zq2"]),
    st.integers(1, 6),
)
def test_many_words_outside_the_vocabulary_rank_as_if_all_were_scored(checkpoint, names, filler, prefix, k):
    """Only the most frequent of them and those the continuous cache holds are scored: the
    ranking must be the one scoring every one of them gives (ties broken alphabetically)."""
    predictor = checkpoint.predictor()
    context = " ".join([*filler, *names]) + " "
    assert predictor.predict(context, prefix, k) == predictor.predict(context, prefix, 100_000)[:k]


def test_cache_forgets_words_that_leave_the_context(predictor, checkpoint):
    predictor.predict("Zyxwv is here. ", "Zy", 3)
    assert predictor.predict("Nothing here. ", "Zy", 3) == []


def test_long_documents_keep_bounded_state(checkpoint, sample_text):
    config = PredictorConfig(context_tokens=64, cache_size=256, max_tokens=1024)
    predictor = checkpoint.predictor(config)
    document = sample_text * 400  # about 40,000 words
    first = predictor.predict(document, "", 5)
    held = predictor.stats
    assert held.tokens == config.cache_size and held.tokens_in_state == config.context_tokens
    assert held.states_kept <= config.keep_states + config.cache_size // config.snapshot_every + 1
    # Typing on keeps state bounded too.
    for i in range(0, 3000, 10):
        predictor.predict(document + sample_text[: i % len(sample_text)], "", 5)
    held = predictor.stats
    assert held.tokens <= config.max_tokens + 1
    assert held.states_kept <= config.keep_states + config.max_tokens // config.snapshot_every + 2
    # A fresh start on a long document reads only the window at its end.
    same(first, checkpoint.predictor(config).predict(document, "", 5))


@pytest.mark.parametrize(
    "piece",
    [
        "The owner goes out of scope, and the value is dropped. ",
        "antidisestablishmentarianism floccinaucinihilipilification ",
    ],
)
def test_a_fresh_start_reads_exactly_the_last_tokens(checkpoint, piece):
    """The window a long document is read from holds the same last tokens as a full scan,
    for prose (short tokens) and for long words (beyond the first guess of the window): as
    many as the last ``window_chars`` characters hold from the first token that starts
    there, up to ``cache_size``; it suggests what the text of those tokens alone suggests."""
    config = PredictorConfig(context_tokens=32, cache_size=200)
    document = "Start. " + piece * 2000
    predictor = checkpoint.predictor(config)
    got = {prefix: predictor.predict(document, prefix, 5) for prefix in ("", "a", "f", "T", "o")}
    # Where the full scan surely starts a token: after whitespace, before a visible character.
    cut = len(document) - predictor.window_chars
    while not (document[cut - 1].isspace() and not document[cut].isspace()):
        cut += 1
    in_window = list(iter_tokens(document, cut))
    held = predictor.stats.tokens
    assert held == min(config.cache_size, len(in_window))
    tail = document[in_window[-held].start :]
    alone = checkpoint.predictor(config)
    assert all(alone.predict(tail, prefix, 5) == found for prefix, found in got.items())


def test_generate_is_repeatable_and_never_unknown(predictor, sample_text):
    a = predictor.generate(sample_text[:100], 30, temperature=1.0, top_k=5, seed=7)
    b = predictor.generate(sample_text[:100], 30, temperature=1.0, top_k=5, seed=7)
    assert a == b and a.strip()
    assert UNK not in a
    greedy = predictor.generate(sample_text[:100], 10, temperature=0.0)
    assert greedy == predictor.generate(sample_text[:100], 10, temperature=0.0)
    with pytest.raises(ValueError):
        predictor.generate("x", 5, temperature=-1)


def test_temperature_sharpens_and_flattens(trained_model_path):
    trained = load_checkpoint(trained_model_path)
    predictor = Predictor(InferenceNetwork.build(trained.model), trained.vocab)
    context = "# Ownership\n\nEach value has an"
    cold = {predictor.generate(context, 4, temperature=0.05, seed=s) for s in range(10)}
    hot = {predictor.generate(context, 4, temperature=3.0, seed=s) for s in range(10)}
    assert cold == {predictor.generate(context, 4, temperature=0.0)}
    assert len(hot) >= 5


def test_complete_phrase_continues_the_typed_word(predictor, sample_text):
    text, probability = predictor.complete_phrase(sample_text[:100], "t", max_words=3, min_probability=0.0)
    best = predictor.predict(sample_text[:100], "t", 1)[0].word
    assert text.startswith(best[1:])
    assert 0 < probability <= 1
    assert predictor.complete_phrase(sample_text[:100], "t", min_probability=1.01) == ("", 0.0)


def test_a_phrase_may_begin_by_ending_the_word_typed(predictor, checkpoint, sample_text):
    # Here "a" is likelier than any longer word starting with it: the word list leaves it out
    # (it would change nothing), but the phrase takes it as typed and goes on after it.
    context = sample_text[:250] + " "
    dist = predictor.predict(context, "", len(checkpoint.vocab))
    assert next(s.word for s in dist if s.word.startswith("a")) == "a"
    assert "a" not in [s.word for s in predictor.predict(context, "a", 5)]
    text, probability = predictor.complete_phrase(context, "a", max_words=3, min_probability=0.0)
    assert text == "" or text[0] in " \n"
    a = next(s.probability for s in dist if s.word == "a")
    assert 0 < probability <= a


@pytest.fixture(scope="module")
def shipped():
    """The shipped model as prediction runs it by default."""
    checkpoint = load_for_prediction(default_model_path())
    return Model(InferenceNetwork.build(checkpoint.model), checkpoint.vocab)


def test_continuous_cache_favours_the_word_that_followed_a_like_context(shipped):
    """Both documents hold the same words equally often; only which one followed "Install it
    with" differs. The word counts cannot tell them apart; the continuous cache must."""
    template = "Install it with {} today.\n\nThe talk was about {} and birds.\n\nInstall it with"
    first, second = template.format("zebra", "walrus"), template.format("walrus", "zebra")

    def probabilities(config, context):
        predictor = shipped.predictor(config)
        predictor.sync(context)
        return predictor.word_probability("zebra"), predictor.word_probability("walrus")

    on, off = PredictorConfig(), PredictorConfig(neural_cache_weight=0.0)
    zebra, walrus = probabilities(on, first)
    assert zebra > 5 * walrus
    zebra, walrus = probabilities(on, second)
    assert walrus > 5 * zebra
    zebra_off, walrus_off = probabilities(off, first)
    assert zebra_off < 1.5 * walrus_off
    top = [s.word for s in shipped.predictor(on).predict(first, "", 3)]
    assert "zebra" in top


def test_continuous_cache_covers_words_the_vocabulary_lacks(shipped):
    assert "Qwertzu" not in shipped.vocab
    context = "Deploy with Qwertzu today. Later, test with pytest. Deploy with"
    on = shipped.predictor().predict(context, "", 5)
    off = shipped.predictor(PredictorConfig(neural_cache_weight=0.0)).predict(context, "Q", 5)
    assert "Qwertzu" in [s.word for s in on]
    assert next(s.probability for s in on if s.word == "Qwertzu") > 1.5 * next(
        s.probability for s in off if s.word == "Qwertzu"
    )


def test_continuous_cache_keys_match_a_fresh_predictor_after_edits(checkpoint, sample_text):
    predictor = checkpoint.predictor()
    for end in (300, 120, 420, 60, len(sample_text)):
        predictor.predict(sample_text[:end], "", 5)
    other = checkpoint.predictor()
    other.predict(sample_text, "", 5)
    held = predictor.stats.continuous_cache_words
    assert held == other.stats.continuous_cache_words and held > 20
    assert np.allclose(predictor.distribution(), other.distribution(), rtol=1e-4, atol=1e-9)
    # The continuous cache's share is in it: without the cache the distribution differs.
    off = checkpoint.predictor(PredictorConfig(neural_cache_weight=0.0))
    off.predict(sample_text, "", 5)
    assert not np.allclose(off.distribution(), other.distribution(), rtol=1e-2, atol=1e-6)


SMALL = PredictorConfig(context_tokens=16, cache_size=64, neural_cache_size=32)


def test_a_paste_longer_than_a_fresh_read_leaves_no_older_word_in_the_continuous_cache(checkpoint):
    """A paste of more tokens than a fresh start reads: the network reads the last of them,
    and the continuous cache holds those tokens' words only, as after a fresh start (it kept
    rows of words from far back, and a word gone from the document's counts raised KeyError)."""
    before = "We named the service Zqxvvy yesterday. "
    pasted = before + "The borrow checker keeps references valid. " * 12 + "Zaaa1 is new. "
    predictor = checkpoint.predictor(SMALL)
    predictor.predict(before, "", 5)
    other = checkpoint.predictor(SMALL)
    for prefix in ("Z", ""):
        same(predictor.predict(pasted, prefix, 5), other.predict(pasted, prefix, 5))
    assert [s.word for s in predictor.predict(pasted, "Z", 5)] == ["Zaaa1"]
    assert predictor.stats.continuous_cache_words == other.stats.continuous_cache_words
    assert np.array_equal(predictor.distribution(), other.distribution())


def test_going_back_near_the_start_of_the_window_read_reads_a_full_window(checkpoint, sample_text):
    """After a fresh start, the cursor moves back to where the network has read less than
    half the tokens a fresh start reads: it reads the window a fresh start reads there, not
    on from the window's first state with a few tokens of context."""
    starts = [t.start for t in iter_tokens(sample_text)]
    assert len(starts) > 3 * SMALL.context_tokens
    for back in (len(starts) - SMALL.context_tokens + 3, len(starts) - SMALL.context_tokens + 6):
        predictor = checkpoint.predictor(SMALL)
        predictor.predict(sample_text, "", 5)
        context = sample_text[: starts[back]]
        same(
            predictor.predict(context, "", 8),
            checkpoint.predictor(SMALL).predict(context, "", 8),
        )


def test_continuous_cache_holds_exactly_the_words_among_the_newest_entries(checkpoint, sample_text):
    config = PredictorConfig(neural_cache_size=16)
    predictor = checkpoint.predictor(config)
    for end in (200, 500, len(sample_text)):
        predictor.predict(sample_text[:end], "", 5)
        newest = tokenize(sample_text[:end])[-16:]
        assert not all(is_word(token) for token in newest)  # punctuation or breaks among them
        assert predictor.stats.continuous_cache_words == sum(is_word(token) for token in newest)
        other = checkpoint.predictor(config)
        other.predict(sample_text[:end], "", 5)
        assert np.allclose(predictor.distribution(), other.distribution(), rtol=1e-4, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    size=st.sampled_from([3, 40, 2049, 6000]),
    k=st.integers(1, 12),
    sharpness=st.floats(0.0, 12.0),
    masked=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_top_picks_the_largest_allowed_probabilities(size, k, sharpness, masked, seed):
    """The quick pick of the largest probabilities (a comparison first, a full top-k when
    too few stand out) agrees with sorting, for flat and for peaked distributions."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=size) * sharpness
    probs = np.exp(logits - logits.max())
    probs = (probs / probs.sum()).astype(np.float32)
    probs[rng.random(size) < 0.1] = 0.0  # some impossible tokens
    allowed = rng.random(size) < 0.9 if masked else None
    chosen = top_indices(probs, k, allowed)
    candidates = probs if allowed is None else np.where(allowed, probs, 0.0)
    assert len(set(chosen.tolist())) == len(chosen) <= min(k, size)
    if allowed is not None:
        assert allowed[chosen].all()
    # Every possible allowed one is picked while there is room; never a less probable one.
    best = np.sort(candidates)[-min(k, size) :]
    best = best[best > 0.0]
    assert np.array_equal(np.sort(candidates[chosen])[-len(best) :] if len(best) else [], best)


def test_a_bulk_read_keeps_its_last_state_and_typing_keeps_more(checkpoint, sample_text):
    """A fresh start reads its window in one run and a step, and keeps only the states after
    them (each run of the batched LSTM has a fixed cost); typing on keeps a state per new
    token again; edits right after the fresh start give what a fresh predictor gives."""
    predictor = checkpoint.predictor()
    text = sample_text[:600]  # shorter than the window: a fresh predictor reads all of it too
    predictor.predict(text, "", 5)
    read = predictor.stats
    assert read.tokens > 64 and read.tokens_in_state == read.tokens
    assert read.network_reads == 2 and read.tokens_read == read.tokens and read.states_kept == 2
    typed = text + " and then some more words"
    predictor.predict(typed, "", 5)
    more = predictor.stats
    new = more.tokens - read.tokens
    assert new == 5 and more.tokens_read - read.tokens_read <= new + 1  # from the kept state on, not the window
    assert more.states_kept == read.states_kept + new  # one for each new token
    for context in (text[:-7], text[:-40] + "changed text ", text[:300]):
        same(predictor.predict(context, "", 5), fresh(checkpoint, context, k=5))


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 400),
            st.integers(0, 12),
            st.sampled_from(["", "x", "the ", "don't ", "'", "\n", "\n\n", " ", "한국 "]),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_contexts_in_pieces_match_the_joined_text(checkpoint, sample_text, edits):
    """As the language server hands them over: the document's head string, kept while the
    typing lands in the tail, and joined now and then."""
    predictor = checkpoint.predictor()
    head, tail = sample_text[:250], sample_text[250:300]
    for position, delete, insert, join in edits:
        text = head + tail
        position = min(position, len(text))
        if position >= len(head) and not join:
            tail = tail[: position - len(head)] + insert + tail[position - len(head) + delete :]
        else:
            head, tail = text[:position] + insert + text[position + delete :], ""
        same(predictor.predict(SplitText(head, tail), "", 6), fresh(checkpoint, head + tail, "", 6))


def type_key_by_key(predictor, text, k=8, ahead=False):
    """Every query the type-through protocol makes over ``text``; with ``ahead``, the word
    typed so far is read ahead after each key (as the server does while the typist pauses)."""
    found = []
    for match in WORD_RE.finditer(text):
        context, word = text[: match.start()], match.group()
        for i in range(len(word)):
            found.append(predictor.predict(context, word[:i], k))
            if ahead:
                assert predictor.look_ahead(word[: i + 1], LOOK_AHEAD_MARKS)
    return found


@pytest.mark.parametrize("which", ["tiny", "shipped"])
def test_reading_ahead_changes_no_suggestion_and_spares_the_steps(checkpoint, sample_text, which):
    """The look-ahead only moves work into the pause between keys: the same suggestions to
    the last bit (the tiny model and the shipped one, on each way to run them), with most
    word boundaries finding their steps done."""
    model = checkpoint if which == "tiny" else _built(default_model_path(), checkpoint.network.kernels)
    text = sample_text[:500] + " Zyxwvut, qwertyuiop; the end.\n\n## Next heading (with marks) and more words"
    plain, ahead = model.predictor(), model.predictor()
    assert type_key_by_key(ahead, text, ahead=True) == type_key_by_key(plain, text)
    words = sum(1 for _ in __import__("re").finditer(r"\w+", text))
    assert ahead.read_ahead_hits > words // 2
    assert ahead.network_reads < plain.network_reads - words // 2
    # A word read ahead and then changed (a backspace, another ending) is read afresh.
    ahead.look_ahead("mor", LOOK_AHEAD_MARKS)
    context = text + " mor"
    assert ahead.predict(context + "e ", "", 8) == plain.predict(context + "e ", "", 8)
    assert ahead.predict(context[:-1] + "an, ", "", 8) == plain.predict(context[:-1] + "an, ", "", 8)


def test_only_one_word_is_read_ahead(predictor, sample_text):
    predictor.predict(sample_text[:100], "", 5)
    for not_one_word in ["", ",", "don'", "two words", "a-b", " x"]:
        assert not predictor.look_ahead(not_one_word, LOOK_AHEAD_MARKS)
    assert predictor.network_reads and predictor.read_ahead_hits == 0
    for word in ["the", "don't", "한국어", "Zyxwvut"]:  # 한국어: one part (a word in parts is not read ahead)
        assert predictor.look_ahead(word, LOOK_AHEAD_MARKS)


def test_a_mark_read_again_after_a_space_costs_no_output_layer(checkpoint, sample_text):
    """A mark may still grow ("," into ",,"), so the space after it makes the Predictor read
    it again: from the same state it is the same state, and the network's distribution there
    is reused (only the caches are mixed in again)."""
    predictor = checkpoint.predictor()
    context = sample_text[:200].rstrip() + ","
    predictor.predict(context, "", 5)
    passes = predictor.stats.output_layer_passes
    after_space = predictor.predict(context + " ", "", 5)
    assert predictor.stats.output_layer_passes == passes and predictor.read_ahead_hits == 1
    same(after_space, fresh(checkpoint, context + " ", "", 5))
    predictor.predict(context + " and", "", 5)  # a new token: the output layer runs
    assert predictor.stats.output_layer_passes == passes + 1


def test_a_first_part_read_inside_a_word_costs_no_output_layer_and_serves_the_word_end(shipped):
    """Inside a Korean word the network reads the typed first part for how the word goes on,
    scoring only the continuations; when the word then ends there, that step is found again
    and only the output layer runs."""
    predictor = shipped.predictor()
    context = "모델의 성능을 높이려면 "
    predictor.predict(context, "", 5)
    passes = predictor.stats.output_layer_passes
    predictor.predict(context, "모델", 5)
    assert predictor.stats.output_layer_passes == passes
    hits = predictor.read_ahead_hits
    after = predictor.predict(context + "모델 ", "", 5)
    assert predictor.read_ahead_hits == hits + 1 and predictor.stats.output_layer_passes == passes + 1
    same(after, fresh(shipped, context + "모델 ", "", 5))


def test_generated_text_is_spaced_as_the_spacing_table_says(checkpoint, sample_text):
    from nextword.model.spacing import Spacing

    # A table learned from text that put a space before every comma and full stop.
    odd = Spacing.learn(["one , two . three , four . five\n"] * 5)
    plain = Predictor(checkpoint.network, checkpoint.vocab)
    spaced = Predictor(checkpoint.network, checkpoint.vocab, spacing=odd)
    a = plain.generate(sample_text[:100], 200, temperature=1.0, seed=3)
    b = spaced.generate(sample_text[:100], 200, temperature=1.0, seed=3)
    assert a.split() != b.split() and "".join(a.split()) == "".join(b.split())  # the same tokens, spaced otherwise
    assert re.search(r"\w[,.]", a) and not re.search(r"\w[,.]", b)
    phrase, _ = spaced.complete_phrase(sample_text[:100], "", max_words=4, min_probability=0.0)
    assert phrase == plain.complete_phrase(sample_text[:100], "", max_words=4, min_probability=0.0)[0]  # words only


# ----- no echo: the document caches' share grows with what they hold ------------------------------
@pytest.mark.parametrize("text", ["The ", "The model runs ", "We store information ", "I installed Qwertzu "])
def test_a_new_note_does_not_echo_the_word_just_typed(shipped, text):
    """A new note's few words are no evidence that the next word repeats one of them: the
    word just typed is not the first suggestion (it was, with the caches' whole share on it)."""
    just_typed = text.split()[-1]
    found = shipped.predictor().predict(text, "", 5)
    assert found and found[0].word != just_typed
    assert all(s.probability < 0.05 for s in found if s.word == just_typed)
    phrase, _ = shipped.predictor().complete_phrase(text, "", max_words=4, min_probability=0.0)
    assert phrase.split()[0] != just_typed  # nor does ghost text or ``generate --phrase``
    if just_typed not in shipped.vocab:  # a word the vocabulary lacks, met once: nothing to go on
        assert just_typed not in [s.word for s in shipped.predictor().predict(text, "", 50)]


def test_the_word_just_typed_takes_nothing_from_the_caches(shipped):
    """Even where the note has used a word often, right after it the caches give it nothing:
    the network alone says whether it comes again at once."""
    note = "The dataset holds rows. " * 8 + "We load the dataset"
    with_caches = shipped.predictor()
    with_caches.sync(note + " ")
    network_only = shipped.predictor(PredictorConfig(cache_weight=0.0, neural_cache_weight=0.0))
    network_only.sync(note + " ")
    assert with_caches.word_probability("dataset") <= network_only.word_probability("dataset") * 1.01
    assert math.isclose(float(with_caches.distribution().sum()), 1.0, rel_tol=1e-5)


def test_a_word_the_note_repeats_comes_back_where_the_note_repeats_it(shipped):
    """The continuous cache still brings back a note's own word in the context it followed
    before, once the note holds enough words to say so."""
    sentence = "To run the checks, call frobnicate with the config file. "
    context = sentence * 6 + "To run the checks, call"
    found = shipped.predictor().predict(context, "", 3)
    assert "frobnicate" in [s.word for s in found]
    fresh = shipped.predictor().predict("To run the checks, call", "", 10)
    assert "frobnicate" not in [s.word for s in fresh]


def test_word_probability_is_the_typed_word_finished(shipped):
    """``word_probability`` is the distribution's mass on the word itself, which suggestions
    inside the word leave out (typing it saves nothing)."""
    predictor = shipped.predictor()
    predictor.sync("We trained the ")
    dist = predictor.distribution()
    assert predictor.word_probability("model") == pytest.approx(float(dist[shipped.vocab.id("model")]))
    assert "model" not in [s.word for s in predictor.ranked("model", 10)]
    assert predictor.word_probability("zzqqxx") == 0.0


def test_a_phrase_is_offered_only_as_likely_as_a_whole(shipped):
    """A phrase goes on only while the phrase as a whole (not each word) stays at least
    ``min_probability`` likely; a higher bar gives a shorter phrase, or none."""
    context = "It is a good idea to "
    long, p_long = shipped.predictor().complete_phrase(context, "", max_words=6, min_probability=0.0)
    assert 2 <= len(long.split()) <= 6 and p_long > 0  # to six words, or to a mark the model expects
    for bar in (0.01, 0.05, 0.2):
        text, probability = shipped.predictor().complete_phrase(context, "", max_words=6, min_probability=bar)
        assert text == "" or (probability >= bar and long.startswith(text))
    first, p_first = shipped.predictor().complete_phrase(context, "", max_words=1, min_probability=0.0)
    shorter, _ = shipped.predictor().complete_phrase(context, "", max_words=6, min_probability=p_first * 0.999)
    assert shorter == first  # a second word would take the whole under the bar, whatever its own odds
    assert shipped.predictor().complete_phrase(context, "", max_words=6, min_probability=p_first * 1.001) == ("", 0.0)


def test_the_word_before_a_mark_is_not_echoed(shipped):
    """``simonw/`` is still the word just typed: the caches give it nothing after the slash."""
    note = "Thanks to [Tony](https://twitter.com/psychemedia/status/1) for this. See https://twitter.com/psychemedia/"
    found = shipped.predictor().predict(note, "", 5)
    assert "psychemedia" not in [s.word for s in found]
