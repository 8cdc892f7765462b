"""The step's weights: 8-bit where they multiply fast (the project's C kernels, or PyTorch's
fbgemm), the same suggestions as single precision, and a fallback when the 8-bit kernels are
missing. Tests that take the ``kernels`` fixture run with both kinds of kernels."""

import statistics
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from nextword.model import Predictor, compiled, default_model_path, load_checkpoint
from nextword.model.network import InferenceLinear
from nextword.training.evaluate import load_split

NOTES = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "notes" / "simonw-til"

FBGEMM = "fbgemm" in torch.backends.quantized.supported_engines
AVAILABLE = ["int8", "fp16", "fp32"] if FBGEMM else ["fp32"]


@pytest.fixture(scope="module")
def weights():
    generator = torch.Generator().manual_seed(0)
    return torch.randn(3000, 96, generator=generator) / 10, torch.randn(3000, generator=generator) / 10


def test_the_most_compact_precision_is_the_default(weights, kernels):
    assert InferenceLinear(*weights).precision == AVAILABLE[0]
    model = load_checkpoint(default_model_path()).model.prepare_for_inference()
    assert model._output_layer.precision == AVAILABLE[0]
    if kernels == "nextword":
        assert isinstance(model._quantized_lstm, compiled.CompiledLSTM) and model.inference_kernels == compiled.KERNELS
    elif FBGEMM:  # the LSTM runs as PyTorch's quantized LSTM
        assert model._quantized_lstm.precision == AVAILABLE[0] and not model._step_layers
        assert model.inference_kernels == "fbgemm"
    else:
        assert {gates.precision for gates, _ in model._step_layers} == {"fp32"}


@pytest.mark.parametrize("precision", AVAILABLE)
def test_each_precision_computes_the_linear_map(weights, precision, kernels):
    weight, bias = weights
    x = torch.randn(2, 96, generator=torch.Generator().manual_seed(1))
    expected = F.linear(x, weight, bias)
    error = (InferenceLinear(weight, bias, precision)(x) - expected).abs().max().item()
    assert error <= {"fp32": 1e-5, "fp16": 2e-3, "int8": 3e-2}[precision] * expected.abs().max().item()


def test_without_8bit_kernels_half_precision_is_used(weights, monkeypatch):
    monkeypatch.setenv("NEXTWORD_KERNELS", "torch")  # the C kernels need none of PyTorch's

    def removed(*args, **kwargs):
        raise AttributeError("quantize_per_channel was removed")

    monkeypatch.setattr(torch, "quantize_per_channel", removed)
    assert InferenceLinear(*weights).precision == ("fp16" if FBGEMM else "fp32")
    with pytest.raises(RuntimeError, match="int8"):
        InferenceLinear(*weights, precision="int8")


def test_an_unknown_precision_is_refused():
    model = load_checkpoint(default_model_path()).model
    with pytest.raises(ValueError, match="int8, fp16, fp32"):
        model.set_inference_precision("int4")


def test_compact_steps_suggest_what_single_precision_steps_suggest(kernels):
    """On real notes, the shipped model's top five words with compact weights and with
    single-precision ones: nearly always the same words, at nearly the same probabilities
    (KSR and next-word accuracy on the notes agree to a tenth of a point)."""
    compact, exact = load_checkpoint(default_model_path()), load_checkpoint(default_model_path())
    exact.model.set_inference_precision("fp32")
    overlaps, differences = [], []
    for document in load_split(NOTES, read_train=False).test[:4]:
        text = document.text
        ours, theirs = Predictor(compact.model, compact.vocab), Predictor(exact.model, exact.vocab)
        for end in range(100, min(len(text), 1500), 41):
            got = {s.word: s.probability for s in ours.predict(text[:end], "", 5)}
            want = {s.word: s.probability for s in theirs.predict(text[:end], "", 5)}
            overlaps.append(len(got.keys() & want.keys()))
            differences += [abs(got[w] - want[w]) / want[w] for w in got.keys() & want.keys()]
    assert len(overlaps) > 50
    assert min(overlaps) >= 4 and statistics.mean(overlaps) >= 4.7
    assert statistics.median(differences) < 0.03 and max(differences) < 0.2


def _run_and_steps(model, ids):
    """A run of tokens read in one call, and the same tokens read one step at a time."""
    state = model.initial_state()
    outputs, run_state = model.read(torch.tensor(ids), state)
    stepped = []
    for token_id in ids:
        output, state = model.step(torch.tensor([token_id]), state)
        stepped.append(output)
    return outputs, run_state, torch.cat(stepped), state


@pytest.mark.parametrize("precision", AVAILABLE)
@pytest.mark.parametrize("length", [1, 5, 40])
def test_a_run_reads_as_its_steps_do(precision, length, kernels):
    """``read`` (one call for a run: the C kernels' or PyTorch's quantized LSTM, or
    ``nn.LSTM`` for a long run in single precision) gives the outputs and the state that
    stepping token by token gives (the C kernels: bit for bit)."""
    checkpoint = load_checkpoint(default_model_path())
    model = checkpoint.model
    model.set_inference_precision(precision)
    ids = (
        checkpoint.vocab.encode(
            "The borrow checker rejects the program before it runs , and the error says why .".split()
        )
        * 3
    )[:length]
    outputs, run_state, stepped, step_state = _run_and_steps(model, ids)
    assert outputs.shape == (length, model.config.emb_dim)
    # 8-bit runs quantize the inputs of the whole run with one scale, steps one token at a time.
    tolerance = {"fp32": 1e-4, "fp16": 1e-3, "int8": 0.05}[precision]
    if kernels == "nextword" and precision == "int8":
        tolerance = 0.0
    assert (outputs - stepped).abs().max().item() <= tolerance * stepped.abs().max().item()
    for (h, c), (h2, c2) in zip(run_state, step_state):
        assert (h - h2).abs().max().item() <= tolerance and (c - c2).abs().max().item() <= tolerance * max(
            1.0, c2.abs().max().item()
        )


@pytest.mark.skipif(not FBGEMM, reason="fbgemm is not in this PyTorch")
def test_without_the_quantized_lstm_8bit_steps_are_written_out(monkeypatch):
    monkeypatch.setenv("NEXTWORD_KERNELS", "torch")

    def removed(*args, **kwargs):
        raise AttributeError("make_quantized_cell_params_dynamic was removed")

    monkeypatch.setattr(torch.ops.quantized, "make_quantized_cell_params_dynamic", removed)
    checkpoint = load_checkpoint(default_model_path())
    model = checkpoint.model.prepare_for_inference()
    assert model._quantized_lstm is None
    assert {gates.precision for gates, _ in model._step_layers} == {"int8"}
    ids = checkpoint.vocab.encode("fn main ( ) { println ! ( `` hello `` ) ; }".split())
    outputs, _, stepped, _ = _run_and_steps(model, ids)
    assert (outputs - stepped).abs().max().item() <= 1e-4 * stepped.abs().max().item()
    # and the predictions still come
    assert Predictor(model, checkpoint.vocab).predict("The error message says which ", "", 5)
