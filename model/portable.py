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

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from .network import LanguageModel

State = tuple[tuple[Tensor, Tensor], ...]


def _single(t: Tensor) -> Tensor:
    """``t`` in single precision, detached: the module's own tensor where it is one already."""
    return t.detach().float()


class PortableNetwork:
    """Tokens through the embedding, the LSTM, the projection and the exact output layer."""

    kernels = "torch"
    precision = "fp32"
    factored_output: tuple[int, int] | None = None  # the output layer is exact

    def __init__(self, model: LanguageModel):
        """From ``model``'s weights: shared where they are in single precision, else
        converted (a model loaded for prediction keeps half precision)."""
        lstm = model.lstm
        self._layers = []
        for layer in range(lstm.num_layers):
            get = lambda name, layer=layer: _single(getattr(lstm, f"{name}_l{layer}"))  # noqa: E731
            projection = get("weight_hr").t() if lstm.proj_size else None
            self._layers.append((get("weight_ih"), get("weight_hh").t(), get("bias_ih") + get("bias_hh"), projection))
        self._embedding, self._bias = _single(model.embedding.weight), _single(model.out_bias)
        out = model.out_proj
        self._projection = (_single(out.weight), _single(out.bias)) if out is not None else None

    @torch.inference_mode()
    def read(self, token_ids: Sequence[int], state: State) -> tuple[Tensor, State]:
        """The output vectors ``[T, emb_dim]`` after each of ``token_ids``, and the new state."""
        x = F.embedding(torch.tensor(token_ids), self._embedding)
        new_state = []
        for (w_ih, w_hh_t, bias, projection), (h, c) in zip(self._layers, state):
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
            new_state.append((h, c))
        if self._projection is not None:
            x = F.linear(x, *self._projection)
        return x, tuple(new_state)

    @torch.inference_mode()
    def logits(self, outputs: Tensor) -> Tensor:
        return F.linear(outputs, self._embedding, self._bias)

    def probs(self, outputs: Tensor) -> Tensor:
        return torch.softmax(self.logits(outputs), dim=-1)
