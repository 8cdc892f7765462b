"""Linear maps with their weights stored as compactly as they multiply fast here.

The project's C kernels (``compiled.py``, x86-64 with AVX2) and fbgemm (PyTorch's, x86) keep
a matrix as 8-bit integers with a scale per row and multiply it with a vector quantized on
the fly, or in half precision; elsewhere the weights stay in single precision. Prediction
reads every weight once per token, so the bytes read are its cost.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from . import compiled


class InferenceLinear:
    """``x @ weight.T + bias`` for single-precision ``x``, with the weight stored as compactly
    as it multiplies fast here: ``int8`` (a scale per row; the project's C kernels, else
    fbgemm), else ``fp16`` (fbgemm), else ``fp32``. ``precision`` asks for one of them (tests
    do); ``kernels`` says whose products run (``compiled.KERNELS``, ``fbgemm``, ``torch``)."""

    PRECISIONS = ("int8", "fp16", "fp32")

    def __init__(self, weight: Tensor, bias: Tensor, precision: str | None = None):
        weight, bias = weight.detach().float().contiguous(), bias.detach().float().contiguous()
        self.out_features = weight.shape[0]
        self.compiled: compiled.CompiledLinear | None = None  # the C kernels' form, where they run
        if (
            precision in (None, "int8", "fp16")
            and compiled.available()
            and compiled.takes(weight.shape[1], precision or "int8")
        ):
            self.precision, self.kernels = precision or "int8", compiled.KERNELS
            self.compiled = compiled.CompiledLinear(weight, bias, self.precision)
            return
        for candidate in [precision] if precision else self.PRECISIONS:
            self.precision = candidate
            self._packed = pack(weight, bias, candidate)
            if self._packed is not None:
                break
        else:
            raise RuntimeError(f"{precision} weights are not available in this PyTorch")
        self.kernels = "torch" if self.precision == "fp32" else "fbgemm"

    def __call__(self, x: Tensor) -> Tensor:
        if self.compiled is not None:
            return self.compiled(x)
        if self.precision == "int8":
            # reduce_range: 7-bit inputs, so fbgemm's 16-bit pairwise sums never saturate.
            return torch.ops.quantized.linear_dynamic(x, self._packed, True)
        if self.precision == "fp16":
            return torch.ops.quantized.linear_dynamic_fp16(x, self._packed)
        return F.linear(x, *self._packed)


def pack(weight: Tensor, bias: Tensor, precision: str) -> Any:
    """``weight`` and ``bias`` in the form ``InferenceLinear`` multiplies in ``precision``
    (fbgemm's packed forms for int8, symmetric with a scale per row, and fp16), or None where
    this PyTorch lacks it (the 8-bit form sits on its deprecated quantized-tensor API)."""
    if precision == "fp32":
        return weight, bias
    if "fbgemm" not in torch.backends.quantized.supported_engines:
        return None
    try:
        if precision == "fp16":
            return torch.ops.quantized.linear_prepack_fp16(weight, bias)
        scales = compiled.row_scales(weight)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the deprecation notice: we fall back when it goes
            quantized = torch.quantize_per_channel(
                weight, scales.double(), torch.zeros(len(scales), dtype=torch.long), 0, torch.qint8
            )
            return torch.ops.quantized.linear_prepack(quantized, bias)
    except (AttributeError, RuntimeError, NotImplementedError):
        return None
