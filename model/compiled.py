"""The network's prediction-time products through the project's C kernels (``kernels.c``).

A word boundary runs the LSTM and the output layer for one vector. PyTorch's quantized
kernels spend about as long setting each call up as multiplying; the C kernels do a whole
LSTM step (both layers and their gates) in one call, and the output layer's products with
one call apiece, with the same 8-bit weights and a scale per row, or half-precision ones.
They are used where the extension was built (``pip install`` compiles it where a C compiler
is present) and the processor has AVX2, FMA and F16C; elsewhere the network keeps PyTorch's
kernels (``packed.py``, ``network.QuantizedLSTM``). ``NEXTWORD_KERNELS=torch`` in the
environment turns them off, to compare the two.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import Tensor, nn

try:
    from . import _kernels
except ImportError:  # not built here: no C compiler at install time, or not x86-64
    _kernels = None


KERNELS = "nextword"  # how ``InferenceLinear.kernels`` names these (beside "fbgemm" and "torch")


def available() -> bool:
    """Whether the C kernels run here."""
    return why_not() is None


def takes(in_features: int, precision: str) -> bool:
    """Whether the C kernels multiply rows of ``in_features`` in ``precision`` (the 8-bit
    product quantizes its input on the stack, so its width is bounded)."""
    return precision == "fp16" or (precision == "int8" and in_features <= _kernels.MAX_WIDTH)


def why_not() -> str | None:
    """Why the C kernels do not run here, in words (None when they do)."""
    if os.environ.get("NEXTWORD_KERNELS", "").lower() == "torch":
        return "turned off by NEXTWORD_KERNELS=torch"
    if _kernels is None:
        return "not built: reinstall nextword where a C compiler is present"
    if not _kernels.supported():
        return "this processor lacks AVX2, FMA or F16C"
    return None


def row_scales(weight: Tensor) -> Tensor:
    """The scale of each row of ``weight`` in 8 bits, symmetric (its largest magnitude maps to
    127): the same for the C kernels and for fbgemm, so both keep the same 8-bit weights."""
    return weight.abs().amax(dim=1).clamp(min=1e-12) / 127


def quantize_rows(weight: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """``weight`` as 8-bit rows and a scale per row (symmetric: ``weight ~ rows * scale[:, None]``)."""
    weight = weight.detach().float()
    scale = row_scales(weight)
    rows = torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return np.ascontiguousarray(rows.numpy()), np.ascontiguousarray(scale.numpy())


class CompiledLinear:
    """``x @ weight.T + bias`` for single-precision ``x [M, in]``: ``int8`` weights (a
    scale per row) or ``fp16`` ones, multiplied by the C kernels."""

    def __init__(self, weight: Tensor, bias: Tensor, precision: str):
        if precision not in ("int8", "fp16"):
            raise ValueError("CompiledLinear keeps int8 or fp16 weights")
        self.precision = precision
        self.out_features, self.in_features = weight.shape
        self._bias = np.ascontiguousarray(bias.detach().float().numpy())
        if precision == "int8":
            self._weight, self._scale = quantize_rows(weight)
        else:
            self._weight = np.ascontiguousarray(weight.detach().half().numpy().view(np.uint16))

    def __call__(self, x: Tensor) -> Tensor:
        x = x.detach().float().contiguous()
        out = torch.empty(*x.shape[:-1], self.out_features)
        self.into(x.numpy(), out.numpy())
        return out

    def into(self, x: np.ndarray, out: np.ndarray) -> None:
        """``out[m] = weight @ x[m] + bias`` for contiguous single-precision arrays."""
        if self.precision == "int8":
            _kernels.linear_i8(self._weight, self._scale, self._bias, x, out, self.out_features, self.in_features)
        else:
            _kernels.linear_f16(self._weight, self._bias, x, out, self.out_features, self.in_features)


def softmax_(logits: Tensor) -> Tensor:
    """``logits`` (contiguous, single precision) replaced by the softmax of its last
    dimension, in place; returned."""
    _kernels.softmax(logits.numpy(), logits.shape[-1])
    return logits


class CompiledLSTM:
    """The stacked LSTM with 8-bit weights (input and recurrent side by side, a scale per
    row), one C call per read; the same interface as ``network.QuantizedLSTM``. Built for
    an LSTM without projection; None elsewhere."""

    precision = "int8"

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray, np.ndarray]], width: int, hidden: int):
        self._layers = tuple(layers)
        self._width, self._hidden = width, hidden

    @classmethod
    def build(cls, lstm: nn.LSTM) -> CompiledLSTM | None:
        if lstm.proj_size or not available():
            return None
        if (
            lstm.num_layers > _kernels.MAX_LAYERS
            or lstm.hidden_size > _kernels.MAX_HIDDEN
            or max(lstm.input_size, lstm.hidden_size) + lstm.hidden_size > _kernels.MAX_WIDTH
        ):
            return None  # larger than the kernels take
        layers = []
        for layer in range(lstm.num_layers):
            get = lambda name, layer=layer: getattr(lstm, f"{name}_l{layer}").detach().float()  # noqa: E731
            rows, scale = quantize_rows(torch.cat([get("weight_ih"), get("weight_hh")], dim=1))
            layers.append((rows, scale, np.ascontiguousarray((get("bias_ih") + get("bias_hh")).numpy())))
        return cls(layers, lstm.input_size, lstm.hidden_size)

    def read(
        self, inputs: np.ndarray, state: tuple[tuple[Tensor, Tensor], ...]
    ) -> tuple[np.ndarray, tuple[tuple[Tensor, Tensor], ...]]:
        """One sequence: the last layer's outputs ``[T, hidden]`` for inputs ``[T, width]``
        (contiguous single precision), and the new state."""
        layers, hidden = len(self._layers), self._hidden
        # The new state in one buffer [2 * layers, hidden] (each layer's h, then c), which
        # the kernel updates in place.
        buffer = np.concatenate([t.numpy() for pair in state for t in pair])
        out = np.empty((len(inputs), hidden), dtype=np.float32)
        _kernels.lstm(self._layers, inputs, buffer, out, self._width, hidden)
        parts = torch.from_numpy(buffer).view(2 * layers, 1, hidden).unbind(0)
        return out, tuple(zip(parts[0::2], parts[1::2]))

    def __call__(
        self, x: Tensor, state: tuple[tuple[Tensor, Tensor], ...]
    ) -> tuple[Tensor, tuple[tuple[Tensor, Tensor], ...]]:
        """The last layer's outputs ``[T, B, hidden]`` for inputs ``[T, B, width]``, and the new state."""
        steps, batch, _ = x.shape
        x = x.detach().float()
        # Each batch row is its own sequence, read on its own.
        rows = [
            self.read(x[:, b].contiguous().numpy(), tuple((h[b : b + 1], c[b : b + 1]) for h, c in state))
            for b in range(batch)
        ]
        out = torch.from_numpy(np.stack([row_out for row_out, _ in rows], axis=1))
        if batch == 1:
            return out, rows[0][1]
        return out, tuple(
            (torch.cat([s[n][0] for _, s in rows]), torch.cat([s[n][1] for _, s in rows]))
            for n in range(len(self._layers))
        )


class CompiledRead:
    """Tokens through the embedding, the LSTM and the projection for one sequence, in numpy
    arrays and C calls between them: on a busy machine every PyTorch operation costs its
    dispatch code's trip from memory, so a word's end takes as few of them as it can."""

    def __init__(self, embedding: np.ndarray, lstm: CompiledLSTM, projection: CompiledLinear | None):
        self._embedding, self._lstm, self._projection = embedding, lstm, projection

    @classmethod
    def build(cls, embedding: Tensor, lstm: object, projection: object) -> CompiledRead | None:
        """For an LSTM on the C kernels, a projection on them too (or none), and an embedding
        numpy can index (half or single precision); None otherwise."""
        compiled_projection = getattr(projection, "compiled", None)
        if not isinstance(lstm, CompiledLSTM) or (projection is not None and compiled_projection is None):
            return None
        if embedding.dtype not in (torch.float16, torch.float32):
            return None
        return cls(embedding.detach().numpy(), lstm, compiled_projection)

    def __call__(
        self, token_ids: Tensor, state: tuple[tuple[Tensor, Tensor], ...]
    ) -> tuple[Tensor, tuple[tuple[Tensor, Tensor], ...]]:
        """The output vectors ``[T, emb_dim]`` after each of ``token_ids [T]``, and the new state."""
        inputs = self._embedding[token_ids.numpy()].astype(np.float32, copy=False)
        outputs, state = self._lstm.read(inputs, state)
        if self._projection is not None:
            projected = np.empty((len(outputs), self._projection.out_features), dtype=np.float32)
            self._projection.into(outputs, projected)
            outputs = projected
        return torch.from_numpy(outputs), state
