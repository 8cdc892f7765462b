"""The notes' n-gram: interpolated Kneser-Ney against a direct implementation of its
formulas, stored in the checkpoint with the weights, and mixed in by the Predictor."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from nextword.model import (
    CheckpointError,
    InferenceNetwork,
    Predictor,
    PredictorConfig,
    load_checkpoint,
    save_checkpoint,
)
from nextword.model.ngram import NotesNgram


@pytest.fixture
def checkpoint(tiny_model_path):
    return load_checkpoint(tiny_model_path)


def reference_kn(tokens: list[int], vocab_size: int, order: int, context: list[int]) -> np.ndarray:
    """Interpolated Kneser-Ney written out from its definition, slowly, with dictionaries."""
    grams = [Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)) for n in range(order + 1)]
    # Counts per order: raw for the longest n-grams, distinct left extensions for the others.
    counts: list[Counter] = [Counter() for _ in range(order + 1)]
    counts[order] = grams[order]
    for n in range(order - 1, 0, -1):
        for gram in grams[n + 1]:
            counts[n][gram[1:]] += 1

    def discount(values) -> float:
        values = list(values)
        n1, n2 = values.count(1), values.count(2)
        return n1 / (n1 + 2 * n2) if n1 and n2 else 0.75

    unigram = np.array([counts[1].get((w,), 0) for w in range(vocab_size)], dtype=float)
    d = discount([int(v) for v in unigram if v])
    probs = np.maximum(unigram - d, 0) / unigram.sum() + d * np.count_nonzero(unigram) / unigram.sum() / vocab_size
    for n in range(2, order + 1):
        history = tuple(context[len(context) - (n - 1) :]) if len(context) >= n - 1 else None
        if history is None:
            break
        followers: dict[int, float] = defaultdict(float)
        for gram, c in counts[n].items():
            if gram[:-1] == history:
                followers[gram[-1]] += c
        if not followers:
            break
        d = discount(counts[n].values())
        total = sum(followers.values())
        probs = probs * d * len(followers) / total
        for w, c in followers.items():
            probs[w] += max(c - d, 0) / total
    return probs


@given(
    tokens=st.lists(st.integers(0, 11), min_size=1, max_size=300),
    context=st.lists(st.integers(0, 11), max_size=5),
    order=st.integers(1, 4),
)
@settings(max_examples=150, deadline=None)
def test_matches_the_definition_and_is_a_distribution(tokens, context, order):
    model = NotesNgram(np.array(tokens), 12, order=order)
    probs = model.distribution(context)
    assert probs.shape == (12,) and np.all(probs > 0)
    assert probs.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(probs, reference_kn(tokens, 12, model.order, context), rtol=1e-9, atol=1e-12)


def test_remembers_what_followed_a_phrase():
    # ids: 1 pip, 2 install, 3 httpx, 4 numpy, 5.. filler words
    rng = np.random.default_rng(0)
    stream = []
    for _ in range(200):
        stream += list(rng.integers(5, 40, 6))
        stream += [1, 2, 3] if rng.random() < 0.8 else [1, 2, 4]
    model = NotesNgram(np.array(stream), 40)
    probs = model.distribution([9, 1, 2])
    assert probs.argmax() == 3 and probs[3] > 0.6 and probs[4] > 0.05
    assert model.distribution([9, 7, 2])[3] < probs[3]  # a context never seen before "httpx"


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        NotesNgram(np.array([0, 5]), 5)
    with pytest.raises(ValueError):
        NotesNgram(np.array([-1, 2]), 5)
    empty = NotesNgram(np.array([], dtype=np.int64), 7)
    assert empty.distribution([1, 2, 3]) == pytest.approx(np.full(7, 1 / 7))


def test_checkpoint_keeps_the_notes_and_refuses_damaged_ones(checkpoint, tmp_path):
    model, vocab = checkpoint.model, checkpoint.vocab
    ids = torch.tensor(vocab.encode("the model reads the text and the model keeps a state".split()) * 3)
    model.set_notes(ids)
    try:
        path = save_checkpoint(tmp_path / "personal.safetensors", model, vocab)
        loaded = load_checkpoint(path)
        assert torch.equal(loaded.model.notes_tokens, ids.to(torch.int32))
        ngram = InferenceNetwork.build(loaded.model).notes_ngram
        assert ngram is not None and ngram.tokens == len(ids)
        context = vocab.encode(["the", "model"])
        assert ngram.distribution(context).argmax() in vocab.encode(["reads", "keeps"])
        # Ids past the vocabulary: a damaged file, said so.
        model.notes_tokens = torch.tensor([1, 2, len(vocab) + 5], dtype=torch.int32)
        bad = save_checkpoint(tmp_path / "bad.safetensors", model, vocab)
        with pytest.raises(CheckpointError, match="damaged notes"):
            load_checkpoint(bad)
    finally:
        model.set_notes(None)
    assert "extra.notes_tokens" not in _tensor_names(save_checkpoint(tmp_path / "plain.safetensors", model, vocab))


def _tensor_names(path) -> list[str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return list(f.keys())


def test_predictor_mixes_in_the_notes(checkpoint, tmp_path):
    """With the notes' n-gram a word the notes always put after a phrase comes first; with
    its weight at 0 the suggestions are the network's own."""
    model, vocab = checkpoint.model, checkpoint.vocab
    phrase = "The borrow checker keeps references".split()
    context = "Each value has an owner. The borrow checker"
    plain = Predictor(InferenceNetwork.build(model), vocab).predict(context, "", 5)
    model.set_notes(torch.tensor(vocab.encode(phrase * 20)))
    try:
        path = save_checkpoint(tmp_path / "personal.safetensors", model, vocab)
    finally:
        model.set_notes(None)
    personal = load_checkpoint(path)
    network = InferenceNetwork.build(personal.model)
    mixed = Predictor(network, personal.vocab).predict(context, "", 5)
    assert mixed[0].word == "keeps" and mixed[0].probability > 0.1
    off = Predictor(network, personal.vocab, PredictorConfig(notes_weight=0.0)).predict(context, "", 5)
    assert [(s.word, round(s.probability, 6)) for s in off] == [(s.word, round(s.probability, 6)) for s in plain]
    total = sum(s.probability for s in Predictor(network, personal.vocab).predict(context, "", len(vocab)))
    assert total <= 1.0 + 1e-6
