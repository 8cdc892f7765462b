"""The two ways to run the network: nextword's C kernels (8-bit weights) where they run, and
the portable path (single precision) elsewhere or when asked. Both compute what the trained
module computes (to the rounding of their weights), read a run as its steps, and suggest the
same words."""

import statistics
from pathlib import Path

import numpy as np
import pytest
import torch
from nextword.model import (
    InferenceNetwork,
    LanguageModel,
    ModelConfig,
    Predictor,
    compiled,
    default_model_path,
    load_checkpoint,
)
from nextword.model.output_layer import HEAD_ROWS, TAIL_RANK
from nextword.model.prediction_model import load_for_prediction
from nextword.training.evaluate import load_split

NOTES = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "notes" / "simonw-til"
needs_kernels = pytest.mark.skipif(not compiled.available(), reason="the C kernels are not built or not supported here")
SENTENCE = "The borrow checker rejects the program before it runs , and the error says why .".split()


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(default_model_path())


@pytest.fixture(params=["nextword", "torch"])
def kind(request) -> str:
    if request.param == "nextword" and not compiled.available():
        pytest.skip("the C kernels are not built or not supported here")
    return request.param


def test_the_c_kernels_run_where_they_can_unless_told_not_to(shipped, monkeypatch):
    network = InferenceNetwork.build(shipped.model)
    if compiled.available():
        assert (network.kernels, network.precision) == (compiled.KERNELS, "int8")
        assert network.factored_output == (HEAD_ROWS, TAIL_RANK)
    monkeypatch.setenv("NEXTWORD_KERNELS", "torch")
    portable = InferenceNetwork.build(shipped.model)
    assert (portable.kernels, portable.precision, portable.factored_output) == ("torch", "fp32", None)
    assert portable.config == shipped.model.config


def test_kernels_asked_for_are_used_or_refused_with_the_reason(tiny_model_path, monkeypatch):
    model = load_checkpoint(tiny_model_path).model
    assert InferenceNetwork.build(model, kernels="torch").kernels == "torch"
    with pytest.raises(ValueError, match="kernels must be one of nextword, torch, not 'fbgemm'"):
        InferenceNetwork.build(model, kernels="fbgemm")
    monkeypatch.setenv("NEXTWORD_KERNELS", "torch")
    with pytest.raises(ValueError, match="cannot run this model: turned off by NEXTWORD_KERNELS=torch"):
        InferenceNetwork.build(model, kernels="nextword")


@needs_kernels
def test_a_model_the_kernels_cannot_take_runs_portable():
    projected = LanguageModel(ModelConfig(vocab_size=50, emb_dim=16, hidden_dim=32, proj_dim=16, dropout=0.0))
    assert not compiled.takes(projected.config)
    assert InferenceNetwork.build(projected).kernels == "torch"
    with pytest.raises(ValueError, match="larger than they take"):
        InferenceNetwork.build(projected, kernels="nextword")


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("proj_dim", [0, 24])
def test_the_portable_path_computes_what_the_module_computes(proj_dim):
    """The written-out LSTM and the exact output layer against ``forward`` and ``logits``
    (``nn.LSTM``), with and without the LSTM's projection and the output projection."""
    torch.manual_seed(proj_dim)
    model = LanguageModel(ModelConfig(vocab_size=300, emb_dim=32, hidden_dim=48, proj_dim=proj_dim, dropout=0.0))
    network = InferenceNetwork.build(model, kernels="torch")
    ids = torch.randint(0, 300, (30,))
    with torch.no_grad():
        hidden, (first, second) = model.eval()(ids[:, None])
        expected = torch.log_softmax(model.logits(hidden[:, 0]), dim=-1)
    outputs, state = network.read(ids.tolist(), network.initial_state())
    assert isinstance(outputs, np.ndarray) and outputs.dtype == np.float32
    assert torch.allclose(torch.from_numpy(outputs), hidden[:, 0], atol=1e-5)
    h, c = (torch.from_numpy(t) for t in state[1])
    assert torch.allclose(h, second[0], atol=1e-5) and torch.allclose(c, second[1], atol=1e-5)
    assert torch.allclose(torch.from_numpy(network.next_log_probs(outputs)), expected, atol=1e-5)
    assert torch.allclose(torch.from_numpy(network.next_probs(outputs)).sum(-1), torch.ones(30), atol=1e-5)


def _run_and_steps(network, ids):
    """A run of tokens read in one call, and the same tokens read one step at a time."""
    state = network.initial_state()
    outputs, run_state = network.read(ids, state)
    stepped = []
    for token_id in ids:
        output, state = network.step(token_id, state)
        stepped.append(output)
    return outputs, run_state, np.concatenate(stepped), state


@pytest.mark.parametrize("length", [1, 5, 40])
def test_a_run_reads_as_its_steps_do(shipped, kind, length):
    """``read`` (one call for a run) gives the outputs and the state that stepping token by
    token gives: the C kernels bit for bit (one arithmetic for both, as the Predictor's
    incremental reads need), the portable path to rounding (its input products in one
    matrix product)."""
    network = InferenceNetwork.build(shipped.model, kind)
    ids = (shipped.vocab.encode(SENTENCE) * 3)[:length]
    outputs, run_state, stepped, step_state = _run_and_steps(network, ids)
    assert outputs.shape == (length, network.config.emb_dim)
    tolerance = 0.0 if kind == compiled.KERNELS else 1e-5
    assert np.abs(outputs - stepped).max() <= tolerance * np.abs(stepped).max()
    for (h, c), (h2, c2) in zip(run_state, step_state):
        assert np.abs(h - h2).max() <= tolerance
        assert np.abs(c - c2).max() <= tolerance * max(1.0, np.abs(c2).max())


def test_a_model_read_for_prediction_is_read_where_it_lies(kind):
    """Either way, building the network leaves the half-precision weights as the file
    stores them; the C kernels read its embedding there rather than copy it."""
    loaded = load_for_prediction(default_model_path())
    network = InferenceNetwork.build(loaded.model, kind)
    assert {a.dtype for a in loaded.model.arrays.values()} == {np.dtype(np.float16)}
    assert Predictor(network, loaded.vocab).predict("The error message says which ", "", 5)


@needs_kernels
def test_both_ways_suggest_the_same_words(shipped):
    """On real notes, the shipped model's top five words on the C kernels (8-bit weights, a
    factored output layer) and on the portable path (single precision, exact): nearly
    always the same words, at nearly the same probabilities (KSR and next-word accuracy on
    the notes agree to a tenth of a point)."""
    compact = InferenceNetwork.build(shipped.model, compiled.KERNELS)
    exact = InferenceNetwork.build(shipped.model, "torch")
    overlaps, differences = [], []
    for document in load_split(NOTES, read_train=False).test[:4]:
        text = document.text
        ours, theirs = Predictor(compact, shipped.vocab), Predictor(exact, shipped.vocab)
        for end in range(100, min(len(text), 1500), 41):
            got = {s.word: s.probability for s in ours.predict(text[:end], "", 5)}
            want = {s.word: s.probability for s in theirs.predict(text[:end], "", 5)}
            overlaps.append(len(got.keys() & want.keys()))
            differences += [abs(got[w] - want[w]) / want[w] for w in got.keys() & want.keys()]
    assert len(overlaps) > 50
    # Near-ties at the fifth place may swap once or twice (a model of English and Korean
    # has more rows in the factored part of the output layer).
    assert min(overlaps) >= 3 and sum(o < 4 for o in overlaps) <= 2 and statistics.mean(overlaps) >= 4.7
    # A word the continuous cache brings back can differ more: the cache's share follows how
    # alike the contexts are, and the 8-bit outputs move that likeness a little.
    assert statistics.median(differences) < 0.03 and max(differences) < 0.6
