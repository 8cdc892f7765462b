"""The C kernels of a word boundary (model/kernels.c): each product against single precision,
the LSTM against ``nn.LSTM``, runs against steps, and bad buffers refused."""

import platform
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from nextword.model import InferenceNetwork, ModelConfig, compiled, default_model_path
from nextword.model.prediction_model import ModelWeights, load_for_prediction

X86 = platform.machine().lower() in ("x86_64", "amd64")

needs_kernels = pytest.mark.skipif(not compiled.available(), reason="the C kernels are not built or not supported here")


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_the_kernels_were_built_where_a_compiler_is(monkeypatch):
    """``pip install`` builds them optionally; where a C compiler and x86-64 are there, a
    silent fallback would hide a broken build."""
    monkeypatch.delenv("NEXTWORD_KERNELS", raising=False)
    if X86 and shutil.which("cc"):
        assert compiled.why_not() is None


@needs_kernels
@pytest.mark.parametrize("rows, cols, batch", [(3000, 96, 1), (37, 45, 3), (8, 32, 1), (1, 1, 2), (1536, 640, 1)])
def test_the_8bit_product_is_the_dequantized_one(rows, cols, batch):
    weight = torch.randn(rows, cols, generator=generator(0)) / 10
    bias = torch.randn(rows, generator=generator(1))
    x = torch.randn(batch, cols, generator=generator(2))
    layer = compiled.CompiledLinear(weight.numpy(), bias.numpy())
    quantized, scale = (torch.from_numpy(a) for a in compiled.quantize_rows(weight.numpy()))
    dequantized = quantized.float() * scale[:, None]
    assert (dequantized - weight).abs().max() <= scale.max() / 2 + 1e-7
    expected = F.linear(x, dequantized, bias)
    # The only other rounding: the input, to 8 bits (half a step of max|x| / 127 each).
    bound = (dequantized.abs().sum(1) * x.abs().amax(1, keepdim=True) / 254 + 1e-4).max()
    got = layer(x.numpy())
    assert got.dtype == np.float32 and got.shape == (batch, rows)
    assert (torch.from_numpy(got) - expected).abs().max() <= bound


@needs_kernels
@pytest.mark.parametrize("rows, cols", [(24000, 96), (37, 45), (3, 7)])
def test_the_half_precision_product_is_exact_to_rounding(rows, cols):
    weight = torch.randn(rows, cols, generator=generator(3))
    bias = torch.randn(rows, generator=generator(4))
    x = torch.randn(2, cols, generator=generator(5))
    expected = F.linear(x.double(), weight.half().double(), bias.double())
    got = np.empty((2, rows), np.float32)
    halves = np.ascontiguousarray(weight.half().numpy().view(np.uint16))
    compiled.extension.linear_f16(halves, bias.numpy(), x.numpy(), got, rows, cols)
    assert torch.allclose(torch.from_numpy(got).double(), expected, atol=1e-4 * cols**0.5)


def _lstm(width: int, hidden: int, layers: int = 2) -> torch.nn.LSTM:
    torch.manual_seed(width + hidden)
    return torch.nn.LSTM(width, hidden, layers).eval()


def _weights(lstm: torch.nn.LSTM) -> ModelWeights:
    """``lstm``'s weights by the names a ``LanguageModel`` gives them, as the kernels read them."""
    config = ModelConfig(emb_dim=lstm.input_size, hidden_dim=lstm.hidden_size, num_layers=lstm.num_layers)
    return ModelWeights(config, {f"lstm.{name}": t.detach().numpy() for name, t in lstm.state_dict().items()})


def _zeros(layers: int, hidden: int):
    return tuple((np.zeros((1, hidden), np.float32), np.zeros((1, hidden), np.float32)) for _ in range(layers))


@needs_kernels
@pytest.mark.parametrize("width, hidden", [(16, 32), (256, 384), (20, 12)])
def test_the_lstm_reads_as_nn_lstm_does(width, hidden):
    lstm = _lstm(width, hidden)
    ours = compiled.CompiledLSTM.build(_weights(lstm))
    x = torch.randn(30, width, generator=generator(6))
    with torch.no_grad():
        expected, (h, c) = lstm(x[:, None])
    got, state = ours.read(x.numpy(), _zeros(2, hidden))
    assert got.shape == (30, hidden)
    assert (torch.from_numpy(got) - expected[:, 0]).abs().max() < 0.02
    assert len(state) == 2
    for layer, (h2, c2) in enumerate(state):
        assert h2.shape == c2.shape == (1, hidden)
        h2, c2 = torch.from_numpy(h2), torch.from_numpy(c2)
        assert (h2 - h[layer]).abs().max() < 0.02 and (c2 - c[layer]).abs().max() < 0.05


@needs_kernels
def test_a_run_is_its_steps():
    ours = compiled.CompiledLSTM.build(_weights(_lstm(16, 32)))
    x = torch.randn(12, 16, generator=generator(7)).numpy()
    run, run_state = ours.read(x, _zeros(2, 32))
    state, steps = _zeros(2, 32), []
    for t in range(12):
        out, state = ours.read(x[t : t + 1], state)
        steps.append(out)
    # One arithmetic for both: bit for bit the same, as the Predictor's incremental reads need.
    assert np.array_equal(np.concatenate(steps), run)
    assert all(np.array_equal(a, b) for pair, pair2 in zip(state, run_state) for a, b in zip(pair, pair2))


@needs_kernels
def test_the_state_passed_in_is_left_as_it_was():
    ours = compiled.CompiledLSTM.build(_weights(_lstm(16, 32)))
    state = tuple(
        (torch.randn(1, 32, generator=generator(8)).numpy(), torch.randn(1, 32, generator=generator(9)).numpy())
        for _ in range(2)
    )
    before = [t.copy() for pair in state for t in pair]
    ours.read(torch.randn(3, 16, generator=generator(10)).numpy(), state)
    assert all(np.array_equal(a, b) for a, b in zip(before, (t for pair in state for t in pair)))


@needs_kernels
def test_what_the_kernels_cannot_take_stays_with_pytorch():
    width, layers = compiled.extension.MAX_WIDTH, compiled.extension.MAX_LAYERS
    assert compiled.takes(ModelConfig(emb_dim=width - 384, hidden_dim=384, num_layers=layers))
    for too_large in (
        ModelConfig(emb_dim=width - 383, hidden_dim=384),  # its input and hidden side by side
        ModelConfig(num_layers=layers + 1),
        ModelConfig(hidden_dim=compiled.extension.MAX_HIDDEN + 1, emb_dim=8),
        ModelConfig(proj_dim=128),  # the kernels' LSTM has no projection
    ):
        assert not compiled.takes(too_large)


@needs_kernels
def test_softmax():
    logits = torch.randn(3, 28001, generator=generator(11)) * 8
    logits[1, 5] = 300.0  # far above the rest: no overflow
    expected = torch.softmax(logits.double(), dim=-1)
    buffer = logits.numpy().copy()
    got = compiled.softmax_(buffer)
    assert got is buffer  # in place
    got = torch.from_numpy(got)
    assert torch.allclose(got.double(), expected, atol=1e-7, rtol=1e-5)
    assert torch.allclose(got.double().sum(-1), torch.ones(3, dtype=torch.float64), atol=1e-5)


@needs_kernels
def test_bad_buffers_are_refused_not_read_past():
    weight = np.zeros(4 * 8, dtype=np.int8)
    scale, bias, y = np.ones(4, np.float32), np.zeros(4, np.float32), np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="w: expected"):
        compiled.extension.linear_i8(weight[:-1], scale, bias, np.zeros(8, np.float32), y, 4, 8)
    with pytest.raises(ValueError, match="whole number"):
        compiled.extension.linear_i8(weight, scale, bias, np.zeros(7, np.float32), y, 4, 8)
    with pytest.raises(ValueError, match="y: expected"):
        compiled.extension.linear_i8(weight, scale, bias, np.zeros(16, np.float32), y, 4, 8)
    with pytest.raises(TypeError):
        compiled.extension.linear_f16(weight, bias)
    with pytest.raises(ValueError, match="bad shape"):
        compiled.extension.lstm([], np.zeros(8, np.float32), np.zeros(8, np.float32), np.zeros(8, np.float32), 8, 4)
    # One layer of width 8 and 4 hidden units: w [16, 12], scale and bias [16]; a second that is wrong.
    good = (np.zeros(16 * 12, np.int8), np.ones(16, np.float32), np.zeros(16, np.float32))
    state, out = np.zeros(2 * 2 * 4, np.float32), np.zeros(4, np.float32)
    with pytest.raises(TypeError, match="tuple"):
        compiled.extension.lstm([good, [good[0]]], np.zeros(8, np.float32), state, out, 8, 4)
    with pytest.raises(ValueError, match="scale: expected"):
        compiled.extension.lstm(
            [good, (np.zeros(16 * 8, np.int8), np.ones(15, np.float32), good[2])],
            np.zeros(8, np.float32),
            state,
            out,
            8,
            4,
        )
    compiled.extension.lstm(
        [good, (np.zeros(16 * 8, np.int8), good[1], good[2])], np.zeros(8, np.float32), state, out, 8, 4
    )
    assert not out.any()  # zero weights: every gate one half, the cell and its output zero
    with pytest.raises(BufferError, match="not writable"):
        compiled.extension.softmax(b"\0" * 16, 4)


@needs_kernels
def test_the_shipped_model_runs_on_the_kernels_unless_told_not_to(monkeypatch):
    model = load_for_prediction(default_model_path()).model
    assert compiled.takes(model.config) and InferenceNetwork.build(model).kernels == compiled.KERNELS
    monkeypatch.setenv("NEXTWORD_KERNELS", "torch")
    assert not compiled.available()
    assert InferenceNetwork.build(model).kernels == "torch"
