"""The network on plain PyTorch in single precision: the second of the two ways to run it.

It runs wherever PyTorch does (a Mac with an ARM processor, a processor without AVX2, a
model larger than the C kernels take): no quantized operations and no processor-specific
kernels, only float arithmetic. The LSTM is written out with the gates of ``nn.LSTM`` (i, f,
g, o; optional projection): a call of ``nn.LSTM`` costs several times a one-token step
before its first token. Each layer multiplies its inputs for the whole run in one product
and then steps through the run, so a fresh context's few hundred tokens cost about what
``nn.LSTM`` costs, and a one-token step is the same code. The output layer is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from .inference import State
    from .prediction_model import ModelWeights


class PortableNetwork:
    """Tokens through the embedding, the LSTM, the projection and the exact output layer."""

    kernels = "torch"
    precision = "fp32"
    factored_output: tuple[int, int] | None = None  # the output layer is exact

    def __init__(self, weights: ModelWeights):
        """From ``weights``: shared where they are in single precision (a trained module's),
        else converted (a model read for prediction keeps half precision)."""
        get = lambda name: torch.from_numpy(weights.single(name))  # noqa: E731
        config = weights.config
        self._layers = []
        for layer in range(config.num_layers):
            projection = get(f"lstm.weight_hr_l{layer}").t() if config.proj_dim else None
            w_ih, w_hh = get(f"lstm.weight_ih_l{layer}"), get(f"lstm.weight_hh_l{layer}")
            bias = get(f"lstm.bias_ih_l{layer}") + get(f"lstm.bias_hh_l{layer}")
            self._layers.append((w_ih, w_hh.t(), bias, projection))
        self._embedding, self._bias = get("embedding.weight"), get("out_bias")
        out = weights.output_projection()
        self._projection = None if out is None else (torch.from_numpy(out[0]), torch.from_numpy(out[1]))

    @torch.inference_mode()
    def read(self, token_ids: Sequence[int], state: State) -> tuple[np.ndarray, State]:
        """The output vectors ``[T, emb_dim]`` after each of ``token_ids``, and the new state."""
        x = F.embedding(torch.tensor(token_ids), self._embedding)
        new_state = []
        for (w_ih, w_hh_t, bias, projection), (h_in, c_in) in zip(self._layers, state):
            h, c = torch.from_numpy(h_in), torch.from_numpy(c_in)
            inputs = F.linear(x, w_ih, bias)  # the input side of every step at once
            outputs = []
            for t in range(len(inputs)):
                i, f, g, o = torch.addmm(inputs[t : t + 1], h, w_hh_t).chunk(4, dim=1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                if projection is not None:
                    h = h @ projection
                outputs.append(h)
            x = torch.cat(outputs) if len(outputs) > 1 else outputs[0]
            new_state.append((h.numpy(), c.numpy()))
        if self._projection is not None:
            x = F.linear(x, *self._projection)
        return x.numpy(), tuple(new_state)

    @torch.inference_mode()
    def _logits(self, outputs: np.ndarray) -> Tensor:
        return F.linear(torch.from_numpy(np.ascontiguousarray(outputs, dtype=np.float32)), self._embedding, self._bias)

    def logits(self, outputs: np.ndarray) -> np.ndarray:
        return self._logits(outputs).numpy()

    @torch.inference_mode()
    def probs(self, outputs: np.ndarray) -> np.ndarray:
        return torch.softmax(self._logits(outputs), dim=-1).numpy()

    def rows(self, ids: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """The output layer's rows ``ids`` alone (the output weights are the embedding's)."""
        index = torch.from_numpy(ids)
        weight, bias = self._embedding[index], self._bias[index]

        @torch.inference_mode()
        def logits(outputs: np.ndarray) -> np.ndarray:
            return F.linear(torch.from_numpy(np.ascontiguousarray(outputs, dtype=np.float32)), weight, bias).numpy()

        return logits
