"""The network: embedding, stacked LSTM, and an output layer tied to the embedding.

Training runs whole sequences through ``forward`` (many-to-many); prediction reads one token
or a run of them through ``step`` and ``read``. A one-token call of ``nn.LSTM`` costs
several times more than the arithmetic it does, so prediction runs the project's C kernels
(``compiled.py``: a whole step, both layers and their gates, in one call), else PyTorch's
quantized LSTM (both layers in one call), else the same arithmetic as ``nn.LSTM`` (gates i,
f, g, o; optional projection), written out.

A prediction step is bound by memory traffic: it reads every LSTM weight and every row of
the output layer once. On x86 those matrices are kept as 8-bit integers with a scale per row
and multiplied with the vector quantized on the fly: a quarter of the single-precision
traffic, half of the half-precision one, and the same suggestions (KSR and next-word accuracy
on the notes unchanged to a tenth of a point). Without the C kernels or fbgemm's 8-bit
product they are kept in half precision (fbgemm), else in single precision (``packed.py``).
In the compact precisions the output layer also keeps its rarer tokens' rows as a thin
product (``output_layer.py``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .compiled import KERNELS, CompiledLSTM, CompiledRead, softmax_
from .config import ModelConfig
from .ngram import MAX_TOKENS as MAX_NOTES_TOKENS
from .ngram import NotesNgram
from .output_layer import FactoredOutputLayer, build_output_layer
from .packed import InferenceLinear, pack

# One (h, c) pair per layer, each of shape [batch, size].
State = tuple[tuple[Tensor, Tensor], ...]

# Without the quantized LSTM, from about this many tokens on one call of ``nn.LSTM`` reads a
# run faster than one step per token (on a 2-core x86 machine 16 tokens take about 4 ms
# either way: each call costs several milliseconds before its first token).
_BATCHED_READ_FROM = 16


class LanguageModel(nn.Module):
    """A word-level LSTM language model with tied input and output embeddings."""

    def __init__(self, config: ModelConfig, device: str | None = None):
        """A new network, randomly initialised; on ``device="meta"`` a shell that holds no
        weights, for a checkpoint's to be assigned to (``load_state_dict(..., assign=True)``)."""
        super().__init__()
        if config.proj_dim and config.proj_dim >= config.hidden_dim:
            raise ValueError("proj_dim must be smaller than hidden_dim (or 0 for none)")
        self.config = config
        shell = device == "meta"
        # A shell's embedding is left uninitialised: drawing random numbers on the meta device
        # would import PyTorch's meta kernels, some 70 MB of memory for nothing.
        self.embedding = (
            nn.Embedding.from_pretrained(torch.empty(config.vocab_size, config.emb_dim, device=device), freeze=False)
            if shell
            else nn.Embedding(config.vocab_size, config.emb_dim, device=device)
        )
        self.drop = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.emb_dim,
            config.hidden_dim,
            config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            proj_size=config.proj_dim,
            device=device,
        )
        out_dim = config.proj_dim or config.hidden_dim
        # The tied output layer needs vectors of the embedding's size.
        self.out_proj = nn.Linear(out_dim, config.emb_dim, device=device) if out_dim != config.emb_dim else None
        self.out_bias = nn.Parameter(torch.zeros(config.vocab_size, device=device))
        if not shell:
            nn.init.normal_(self.embedding.weight, std=1.0 / math.sqrt(config.emb_dim))
        # The token ids of the notes a personal model learned (int32, or None): kept with the
        # weights in its checkpoint, they give the Predictor an n-gram of those notes.
        self.notes_tokens: Tensor | None = None
        self._notes_ngram: NotesNgram | None = None
        self._step_layers: list[tuple[InferenceLinear, Tensor | None]] | None = None
        self._quantized_lstm: QuantizedLSTM | CompiledLSTM | None = None
        self._compiled_read: CompiledRead | None = None  # embedding, LSTM and projection on the C kernels
        self._step_out: InferenceLinear | None = None
        self._output_layer: InferenceLinear | FactoredOutputLayer | None = None
        self._precision: str | None = None  # of the step's weights; None: the most compact available

    # ----- training -------------------------------------------------------------------------
    def forward(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Hidden vectors ``[T, B, emb_dim]`` for token ids ``[T, B]``, and the final state."""
        self._single_precision()
        x = self.drop(self.embedding(ids))
        packed_state = None
        if state is not None:
            packed_state = (torch.stack([h for h, _ in state]), torch.stack([c for _, c in state]))
        out, (h, c) = self.lstm(x, packed_state)
        out = self.drop(out)
        if self.out_proj is not None:
            out = self.out_proj(out)
        return out, tuple((h[i], c[i]) for i in range(h.shape[0]))

    def logits(self, hidden: Tensor) -> Tensor:
        """Scores over the whole vocabulary for hidden vectors ``[..., emb_dim]``."""
        return F.linear(hidden, self.embedding.weight, self.out_bias)

    def full_loss(self, hidden: Tensor, targets: Tensor, reduction: str = "mean") -> Tensor:
        """Cross-entropy over the whole vocabulary."""
        return F.cross_entropy(
            self.logits(hidden).reshape(-1, self.config.vocab_size), targets.reshape(-1), reduction=reduction
        )

    def sampled_loss(self, hidden: Tensor, targets: Tensor, num_sampled: int, unigram: Tensor) -> Tensor:
        """Sampled-softmax cross-entropy: the batch's own targets plus ``num_sampled`` uniform
        negatives form the candidate set; logits are corrected by the log of each candidate's
        chance of being in that set (``unigram`` holds token frequencies), which keeps the
        estimate close to the full softmax while touching a small slice of the output layer."""
        flat_targets = targets.reshape(-1)
        negatives = torch.randint(0, self.config.vocab_size, (num_sampled,), device=targets.device)
        candidates, inverse = torch.unique(torch.cat([flat_targets, negatives]), return_inverse=True)
        n = flat_targets.numel()
        miss_targets = torch.exp(n * torch.log1p(-unigram[candidates].clamp(max=1 - 1e-7)))
        miss_negatives = (1.0 - 1.0 / self.config.vocab_size) ** num_sampled
        log_q = torch.log((1.0 - miss_targets * miss_negatives).clamp(min=1e-12))
        scores = F.linear(hidden.reshape(n, -1), self.embedding.weight[candidates], self.out_bias[candidates]) - log_q
        return F.cross_entropy(scores, inverse[:n])

    # ----- prediction -----------------------------------------------------------------------
    def initial_state(self, batch: int = 1) -> State:
        out = self.config.proj_dim or self.config.hidden_dim
        return tuple(
            (torch.zeros(batch, out), torch.zeros(batch, self.config.hidden_dim)) for _ in range(self.config.num_layers)
        )

    def train(self, mode: bool = True) -> LanguageModel:
        if mode:
            # Training changes the weights: the packed copies would go stale.
            self._step_layers = self._quantized_lstm = self._step_out = self._output_layer = self._compiled_read = None
            self._single_precision()
        return super().train(mode)

    def _single_precision(self) -> None:
        """Training and ``forward`` compute in single precision: a model loaded for prediction
        (its weights kept as the checkpoint stores them) is converted the first time."""
        if self.embedding.weight.dtype != torch.float32:
            self.float()

    def set_notes(self, tokens: Tensor | None) -> None:
        """Record the token ids of the notes this model has learned (the newest
        ``ngram.MAX_TOKENS`` are kept); None forgets them."""
        if tokens is not None:
            tokens = tokens.detach().reshape(-1)[-MAX_NOTES_TOKENS:].to(torch.int32).cpu()
        self.notes_tokens = tokens if tokens is not None and tokens.numel() else None
        self._notes_ngram = None

    @property
    def notes_ngram(self) -> NotesNgram | None:
        """The n-gram of the notes this model learned (None without notes), built when first
        asked for (about half a second for half a million tokens): training never needs it."""
        if self._notes_ngram is None and self.notes_tokens is not None:
            self._notes_ngram = NotesNgram(self.notes_tokens.numpy(), self.config.vocab_size)
        return self._notes_ngram

    def set_inference_precision(self, precision: str | None) -> None:
        """Store the weights ``step`` and ``next_log_probs`` use in ``precision`` (one of
        ``InferenceLinear.PRECISIONS``; None, the default: the most compact this PyTorch has).
        ``fp32`` reads a token as the training path does, to rounding: tests of the
        Predictor's bookkeeping compare the two."""
        if precision is not None and precision not in InferenceLinear.PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(InferenceLinear.PRECISIONS)}")
        self._precision = precision
        self._step_layers = self._quantized_lstm = self._step_out = self._output_layer = self._compiled_read = None

    @property
    def prepared(self) -> bool:
        """Whether ``prepare_for_inference`` has built the weights prediction reads (or is
        building them now, on another thread: then ask again later)."""
        return self._output_layer is not None

    @property
    def inference_precision(self) -> str:
        """The precision ``step`` and ``next_log_probs`` keep their weights in: ``int8``,
        ``fp16`` or ``fp32`` (prepares them if need be, as ``prepare_for_inference`` does:
        a loaded checkpoint's model already is)."""
        return self.prepare_for_inference()._output_layer.precision  # type: ignore[union-attr]

    @property
    def inference_kernels(self) -> str:
        """Whose products ``step`` and ``next_log_probs`` run: the project's C kernels
        (``compiled.KERNELS``), ``fbgemm`` or ``torch`` (prepares the weights if need be)."""
        return self.prepare_for_inference()._output_layer.kernels  # type: ignore[union-attr]

    @property
    def factored_output(self) -> tuple[int, int] | None:
        """``(rows scored exactly, rank of the rest)`` where prediction keeps the output layer
        factored (``output_layer.py``), None where it keeps it whole."""
        layer = self.prepare_for_inference()._output_layer
        return (layer.exact_rows, layer.rank) if isinstance(layer, FactoredOutputLayer) else None

    def prepare_for_inference(self) -> LanguageModel:
        """Switch to evaluation mode and gather the weights ``step`` and ``next_log_probs`` use
        (once: every Predictor of a loaded model shares them)."""
        self.eval()
        if self._output_layer is not None:
            return self
        with torch.no_grad():
            self._output_layer = build_output_layer(
                self.embedding.weight, self.out_bias, self._precision, self.out_proj
            )
            precision = self._output_layer.precision
            if precision == "fp32" and self.embedding.weight.dtype != torch.float32:
                # Single precision throughout (no fbgemm here, or asked for): the weights
                # themselves serve, rather than single-precision copies beside stored ones.
                self._single_precision()
                self._output_layer = build_output_layer(self.embedding.weight, self.out_bias, precision, self.out_proj)
            self._step_out = (
                InferenceLinear(self.out_proj.weight, self.out_proj.bias, precision)
                if self.out_proj is not None
                else None
            )
            # The project's C kernels for 8-bit weights where they run, else PyTorch's.
            self._quantized_lstm = (
                CompiledLSTM.build(self.lstm) if precision == "int8" else None
            ) or QuantizedLSTM.build(self.lstm, precision)
            self._compiled_read = CompiledRead.build(self.embedding.weight, self._quantized_lstm, self._step_out)
            self._step_layers = []
            # Without PyTorch's quantized LSTM: the same arithmetic written out, one product a layer.
            for layer in range(self.config.num_layers if self._quantized_lstm is None else 0):
                get = lambda name, layer=layer: getattr(self.lstm, f"{name}_l{layer}").detach()  # noqa: E731
                # One matrix for input and recurrent weights: one product per layer and step.
                gates = InferenceLinear(
                    torch.cat([get("weight_ih"), get("weight_hh")], dim=1), get("bias_ih") + get("bias_hh"), precision
                )
                proj = get("weight_hr").t().float().contiguous() if self.config.proj_dim else None
                self._step_layers.append((gates, proj))
        return self

    @torch.inference_mode()
    def step(self, token_ids: Tensor, state: State) -> tuple[Tensor, State]:
        """Advance ``state`` by one token per batch row; returns output vectors ``[B, emb_dim]``."""
        if self._output_layer is None:
            self.prepare_for_inference()
        if self._compiled_read is not None and len(token_ids) == 1:
            return self._compiled_read(token_ids, state)
        x = self._embed(token_ids)
        if self._quantized_lstm is not None:
            x, state = self._quantized_lstm(x.unsqueeze(0), state)
            return self._project(x[0]), state
        new_state = []
        for (gates_of, proj), (h, c) in zip(self._step_layers, state):  # type: ignore[arg-type]
            i, f, g, o = gates_of(torch.cat([x, h], dim=1)).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            if proj is not None:
                h = h @ proj
            new_state.append((h, c))
            x = h
        return self._project(x), tuple(new_state)

    @torch.inference_mode()
    def read(self, token_ids: Tensor, state: State) -> tuple[Tensor, State]:
        """Read a run of tokens ``[T]`` (one sequence) from ``state``: the output vectors after
        each ``[T, emb_dim]``, and the new state. With 8-bit or half-precision weights one call
        of the C kernels' LSTM (one step after another, as ``step`` does them: 160 tokens in
        about 12 ms here) or of PyTorch's quantized LSTM (its input products in one matrix
        product: 256 tokens in about 25 ms) reads the run; otherwise short runs go step by
        step and longer ones through ``nn.LSTM`` (about 45 ms for 256)."""
        if self._output_layer is None:
            self.prepare_for_inference()
        if self._compiled_read is not None:
            return self._compiled_read(token_ids, state)
        if self._quantized_lstm is not None:
            x = self._embed(token_ids).unsqueeze(1)
            outputs, state = self._quantized_lstm(x, state)
            return self._project(outputs[:, 0]), state
        if len(token_ids) >= _BATCHED_READ_FROM and self.embedding.weight.dtype == torch.float32:
            outputs, state = self(token_ids.unsqueeze(1), state)
            return outputs[:, 0], state
        outputs = []
        for token_id in token_ids.tolist():
            output, state = self.step(torch.tensor([token_id]), state)
            outputs.append(output)
        return torch.cat(outputs), state

    def _embed(self, token_ids: Tensor) -> Tensor:
        """The input vectors of ``token_ids``, in single precision whatever the weights'."""
        return F.embedding(token_ids, self.embedding.weight).float()

    def _project(self, x: Tensor) -> Tensor:
        return self._step_out(x) if self._step_out is not None else x

    @torch.inference_mode()
    def next_probs(self, output: Tensor) -> Tensor:
        """Probabilities over the vocabulary for output vectors from ``step``."""
        if self._output_layer is None:
            self.prepare_for_inference()
        logits = self._output_layer(output)  # type: ignore[misc]
        return softmax_(logits) if self._output_layer.kernels == KERNELS else torch.softmax(logits, dim=-1)  # type: ignore[union-attr]

    @torch.inference_mode()
    def next_log_probs(self, output: Tensor) -> Tensor:
        """Log-probabilities over the vocabulary for output vectors from ``step``."""
        if self._output_layer is None:
            self.prepare_for_inference()
        return torch.log_softmax(self._output_layer(output), dim=-1)  # type: ignore[misc]


class QuantizedLSTM:
    """The stacked LSTM as PyTorch's dynamically quantized LSTM (``torch.quantized_lstm``)
    runs it: 8-bit weights with a scale per row, or half-precision ones (fbgemm), and the gate
    arithmetic of every layer in C++. One call reads one token or a whole run. Built for
    ``int8`` and ``fp16`` weights and an LSTM without projection; None elsewhere."""

    def __init__(self, cells: list[Any], precision: str):
        self._cells = cells
        self.precision = precision
        self._dtype = torch.qint8 if precision == "int8" else torch.float16

    @classmethod
    def build(cls, lstm: nn.LSTM, precision: str) -> QuantizedLSTM | None:
        """``lstm``'s weights in ``precision``, or None where this PyTorch cannot run them so."""
        if precision not in ("int8", "fp16") or lstm.proj_size:
            return None
        cells = []
        try:
            for layer in range(lstm.num_layers):
                get = lambda name, layer=layer: getattr(lstm, f"{name}_l{layer}").detach().float().contiguous()  # noqa: E731
                w_ih, w_hh = (
                    pack(get("weight_ih"), get("bias_ih"), precision),
                    pack(get("weight_hh"), get("bias_hh"), precision),
                )
                if w_ih is None or w_hh is None:
                    return None
                if precision == "int8":
                    # reduce_range as in InferenceLinear: 7-bit inputs never saturate fbgemm's sums.
                    cells.append(
                        torch.ops.quantized.make_quantized_cell_params_dynamic(
                            w_ih, w_hh, get("bias_ih"), get("bias_hh"), True
                        )
                    )
                else:
                    cells.append(torch.ops.quantized.make_quantized_cell_params_fp16(w_ih, w_hh))
        except (AttributeError, RuntimeError, NotImplementedError):
            return None
        return cls(cells, precision)

    def __call__(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """The last layer's outputs ``[T, B, hidden]`` for inputs ``[T, B, emb_dim]``, and the new state."""
        h = torch.stack([h for h, _ in state])
        c = torch.stack([c for _, c in state])
        out, h, c = torch.quantized_lstm(
            x,
            (h, c),
            self._cells,
            True,
            len(self._cells),
            0.0,
            False,
            False,
            False,
            dtype=self._dtype,
            use_dynamic=True,
        )
        return out, tuple(zip(h.unbind(0), c.unbind(0)))
