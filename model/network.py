"""The network as it trains: embedding, stacked LSTM, and an output layer tied to the embedding.

A plain ``nn.Module``: training runs whole sequences through ``forward`` (many-to-many) and
scores them with ``full_loss`` or ``sampled_loss``. Prediction runs the network built from
it once (``inference.InferenceNetwork``), which reads one token or a run of them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ModelConfig
from .ngram import MAX_TOKENS as MAX_NOTES_TOKENS
from .prediction_model import ModelWeights

# One (h, c) pair per layer, each of shape [batch, size] (prediction's are numpy: ``inference.State``).
State = tuple[tuple[Tensor, Tensor], ...]


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
        # would import PyTorch's meta kernels, a large import for nothing.
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
        # How words in parts go on (``word_parts.py``: rows of token, next part, count), or None:
        # counted from the text the model trained on, kept with the weights.
        self.word_parts: Tensor | None = None

    # ----- training -------------------------------------------------------------------------
    def forward(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Hidden vectors ``[T, B, emb_dim]`` for token ids ``[T, B]``, and the final state."""
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

    def set_word_parts(self, counts: Tensor | None) -> None:
        """Record the counts of how words in parts go on (``word_parts.count_parts``); None forgets them."""
        self.word_parts = (
            counts.detach().reshape(-1, 3).to(torch.int64).cpu() if counts is not None and counts.numel() else None
        )

    def set_notes(self, tokens: Tensor | None) -> None:
        """Record the token ids of the notes this model has learned (the newest
        ``ngram.MAX_TOKENS`` are kept); None forgets them."""
        if tokens is not None:
            tokens = tokens.detach().reshape(-1)[-MAX_NOTES_TOKENS:].to(torch.int32).cpu()
        self.notes_tokens = tokens if tokens is not None and tokens.numel() else None

    def weights(self) -> ModelWeights:
        """Its weights as prediction reads them: numpy views of the parameters (no copy where
        they are in half or single precision on the CPU), its notes and word parts beside them."""

        def array(t: Tensor) -> np.ndarray:
            t = t.detach().cpu()
            return (t if t.dtype in (torch.float16, torch.float32) else t.float()).numpy()

        notes, parts = self.notes_tokens, self.word_parts
        return ModelWeights(
            self.config,
            {name: array(t) for name, t in self.state_dict().items()},
            notes.numpy() if notes is not None else None,
            parts.numpy() if parts is not None else None,
        )
