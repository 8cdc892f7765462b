"""The network on nextword's C kernels (``kernels.c``): the first of the two ways to run it.

A word boundary runs the LSTM and the output layer for one vector, and is bound by memory
traffic: it reads every weight once. Here those weights are 8-bit integers with a scale per
row, multiplied with the vector quantized on the fly (a quarter of single precision's bytes):
a whole LSTM step, both layers and their gates, in one call; the output layer factored
(``output_layer.py``) with one call a part; the softmax in C. They run where the extension
was built (``pip install`` compiles it where a C compiler is present), the processor has
AVX2, FMA and F16C, and the model fits them; elsewhere the network runs on PyTorch
(``portable.py``). ``NEXTWORD_KERNELS=torch`` in the environment turns them off, to compare
the two.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import ModelConfig
from .output_layer import FactoredOutputLayer, worth_factoring

if TYPE_CHECKING:
    from .inference import State
    from .prediction_model import ModelWeights

try:
    from . import _kernels
except ImportError:  # not built here: no C compiler at install time, or not x86-64
    _kernels = None
# The built C module (None where it was not built). Its functions take numpy buffers and
# check each one's size and type; the classes below are what prediction calls.
extension: Any = _kernels

KERNELS = "nextword"  # how ``InferenceNetwork.kernels`` names these (beside "torch")


def available() -> bool:
    """Whether the C kernels run here."""
    return why_not() is None


def why_not() -> str | None:
    """Why the C kernels do not run here, in words (None when they do)."""
    if os.environ.get("NEXTWORD_KERNELS", "").lower() == "torch":
        return "turned off by NEXTWORD_KERNELS=torch"
    if extension is None:
        return "not built: reinstall nextword where a C compiler is present"
    if not extension.supported():
        return "this processor lacks AVX2, FMA or F16C"
    return None


def takes(config: ModelConfig) -> bool:
    """Whether the C kernels run a network of this shape (they take an LSTM without
    projection, and quantize each product's input on the stack, so widths are bounded)."""
    if extension is None:
        return False
    hidden, width = config.hidden_dim, extension.MAX_WIDTH
    return (
        not config.proj_dim
        and config.num_layers <= extension.MAX_LAYERS
        and hidden <= extension.MAX_HIDDEN
        and max(config.emb_dim, hidden) + hidden <= width
    )


def row_scales(weight: np.ndarray) -> np.ndarray:
    """The scale of each row of ``weight`` in 8 bits, symmetric (its largest magnitude maps to 127)."""
    return np.maximum(np.abs(weight).max(axis=1), np.float32(1e-12)) / np.float32(127)


def quantize_rows(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``weight`` as 8-bit rows and a scale per row (symmetric: ``weight ~ rows * scale[:, None]``)."""
    weight = np.asarray(weight, dtype=np.float32)
    scale = row_scales(weight)
    rows = np.clip(np.round(weight / scale[:, None]), -127, 127).astype(np.int8)
    return np.ascontiguousarray(rows), np.ascontiguousarray(scale)


class CompiledLinear:
    """``x @ weight.T + bias`` for single-precision ``x [M, in]``, with 8-bit weights (a
    scale per row) multiplied by the C kernels."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray):
        self.out_features, self.in_features = weight.shape
        self._bias = np.ascontiguousarray(bias, dtype=np.float32)
        self._weight, self._scale = quantize_rows(weight)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = np.empty((*x.shape[:-1], self.out_features), dtype=np.float32)
        self.into(x, out)
        return out

    def into(self, x: np.ndarray, out: np.ndarray) -> None:
        """``out[m] = weight @ x[m] + bias`` for contiguous single-precision arrays."""
        extension.linear_i8(self._weight, self._scale, self._bias, x, out, self.out_features, self.in_features)


def softmax_(logits: np.ndarray) -> np.ndarray:
    """``logits`` (contiguous, single precision) replaced by the softmax of its last
    dimension, in place; returned."""
    extension.softmax(logits, logits.shape[-1])
    return logits


class CompiledLSTM:
    """The stacked LSTM with 8-bit weights (input and recurrent side by side, a scale per
    row), one C call per read of a sequence, one token after another."""

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray, np.ndarray]], width: int, hidden: int):
        self._layers = tuple(layers)
        self._width, self._hidden = width, hidden

    @classmethod
    def build(cls, weights: ModelWeights) -> CompiledLSTM:
        layers = []
        config = weights.config
        for layer in range(config.num_layers):
            get = lambda name, layer=layer: weights.single(f"lstm.{name}_l{layer}")  # noqa: E731
            rows, scale = quantize_rows(np.concatenate([get("weight_ih"), get("weight_hh")], axis=1))
            layers.append((rows, scale, np.ascontiguousarray(get("bias_ih") + get("bias_hh"))))
        return cls(layers, config.emb_dim, config.hidden_dim)

    def read(self, inputs: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """One sequence: the last layer's outputs ``[T, hidden]`` for inputs ``[T, width]``
        (contiguous single precision), and the new state (``state`` is left as it was)."""
        layers, hidden = len(self._layers), self._hidden
        # The new state in one buffer [2 * layers, hidden] (each layer's h, then c), which
        # the kernel updates in place.
        buffer = np.concatenate([t for pair in state for t in pair])
        out = np.empty((len(inputs), hidden), dtype=np.float32)
        extension.lstm(self._layers, inputs, buffer, out, self._width, hidden)
        parts = buffer.reshape(2 * layers, 1, hidden)
        return out, tuple((parts[2 * i], parts[2 * i + 1]) for i in range(layers))


class CompiledNetwork:
    """Tokens through the embedding, the LSTM, the projection and the output layer on the C
    kernels, in numpy arrays between C calls: a word's end takes as few calls as it can."""

    kernels = KERNELS
    precision = "int8"

    def __init__(
        self,
        embedding: np.ndarray,
        bias: np.ndarray,
        lstm: CompiledLSTM,
        projection: CompiledLinear | None,
        output: FactoredOutputLayer | CompiledLinear,
    ):
        self._embedding, self._lstm, self._projection, self._output = embedding, lstm, projection, output
        self._bias = bias
        self.factored_output = (output.exact_rows, output.rank) if isinstance(output, FactoredOutputLayer) else None

    @classmethod
    def build(cls, weights: ModelWeights) -> CompiledNetwork:
        """From ``weights``; the embedding is read where it lies (half or single precision),
        not copied."""
        embedding, bias = weights.arrays["embedding.weight"], weights.single("out_bias")
        projection = weights.output_projection()
        output: FactoredOutputLayer | CompiledLinear
        if worth_factoring(*embedding.shape):
            output = FactoredOutputLayer.fit(embedding, bias, projection, CompiledLinear)
        else:
            output = CompiledLinear(embedding, bias)
        projected = CompiledLinear(*projection) if projection is not None else None
        return cls(embedding, bias, CompiledLSTM.build(weights), projected, output)

    def read(self, token_ids: Sequence[int], state: State) -> tuple[np.ndarray, State]:
        """The output vectors ``[T, emb_dim]`` after each of ``token_ids``, and the new state."""
        inputs = self._embedding[token_ids].astype(np.float32, copy=False)
        outputs, state = self._lstm.read(inputs, state)
        if self._projection is not None:
            projected = np.empty((len(outputs), self._projection.out_features), dtype=np.float32)
            self._projection.into(outputs, projected)
            outputs = projected
        return outputs, state

    def logits(self, outputs: np.ndarray) -> np.ndarray:
        return self._output(outputs)

    def probs(self, outputs: np.ndarray) -> np.ndarray:
        return softmax_(self._output(outputs))

    def rows(self, ids: np.ndarray) -> CompiledLinear:
        """The output layer's rows ``ids`` alone (the output weights are the embedding's)."""
        return CompiledLinear(self._embedding[ids], self._bias[ids])
