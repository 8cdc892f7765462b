"""The output layer as the C kernels run it: a score for every vocabulary token.

Every word boundary reads the whole output layer from memory, and on a shared machine its
rows rarely stay in the cache from one word to the next, so its size is most of a boundary's
time. The compact form keeps the rows of the most frequent tokens as they are (the
vocabulary is ordered by frequency, so they come first and take most of the probability)
and the rest as a product of two thin matrices, the best of its rank for the vectors the
network produces: those are ``P h + p`` (the projection to the embedding's size), so the
rows are fitted where the projection reaches rather than in every direction alike. It is
fitted when the network is built for prediction, from the weights alone.

For the shipped model: 4,000 exact rows and rank 96 for the other 24,000, every part 8-bit
(``compiled.py``), with the suggestions of the exact layer to a tenth of a point (KSR and
next-word accuracy on the notes). Training, perplexity and the portable path
(``portable.py``) use the exact layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import torch
from torch import Tensor, nn

HEAD_ROWS = 4000  # the most frequent tokens, scored exactly
TAIL_RANK = 96  # the rank of the rest
MIN_SAVING = 0.25  # factor only when that saves at least this share of the layer's weights
_FIT_BLOCK_ROWS = 4096  # rows converted to single precision at a time while fitting


class Linear(Protocol):
    """A linear map that writes ``weight @ x + bias`` for a single-precision row into ``out``."""

    out_features: int

    def into(self, x: np.ndarray, out: np.ndarray) -> None: ...


def worth_factoring(rows: int, dim: int) -> bool:
    """Whether factoring an output layer of ``rows`` rows of ``dim`` saves enough weights."""
    return max(0, rows - HEAD_ROWS) * max(0, dim - TAIL_RANK) / (rows * dim) >= MIN_SAVING


class FactoredOutputLayer:
    """``x @ weight.T + bias`` with the first ``exact_rows`` rows exact (``head``) and the
    rest as a rank-``rank`` product (``narrow``, then ``tail``), each part a ``Linear``."""

    def __init__(self, head: Linear, narrow: Linear, tail: Linear):
        self._head, self._narrow, self._tail = head, narrow, tail
        self.exact_rows, self.rank = head.out_features, narrow.out_features

    @classmethod
    def fit(
        cls, weight: Tensor, bias: Tensor, projection: nn.Linear | None, linear: Callable[[Tensor, Tensor], Linear]
    ) -> FactoredOutputLayer:
        """The layer of ``weight`` and ``bias``, its rare rows fitted for the inputs that
        ``projection`` makes (in every direction alike without one); ``linear(weight, bias)``
        makes each part."""
        moment = projected_moment(projection) if projection is not None else None
        thin, wide = low_rank_rows(weight[HEAD_ROWS:], TAIL_RANK, moment)
        return cls(
            linear(weight[:HEAD_ROWS], bias[:HEAD_ROWS]),
            linear(wide, torch.zeros(TAIL_RANK)),
            linear(thin, bias[HEAD_ROWS:]),
        )

    def __call__(self, x: Tensor) -> Tensor:
        # Each part writes straight into its place in the scores, between numpy arrays: on a
        # busy machine each PyTorch operation costs its dispatch code's trip from memory.
        if x.requires_grad or x.dtype != torch.float32 or not x.is_contiguous():
            x = x.detach().float().contiguous()
        rows = x.numpy().reshape(-1, x.shape[-1])
        scores = np.empty((len(rows), self.exact_rows + self._tail.out_features), dtype=np.float32)
        thin = np.empty(self.rank, dtype=np.float32)
        for row, score in zip(rows, scores):
            self._head.into(row, score[: self.exact_rows])
            self._narrow.into(row, thin)
            self._tail.into(thin, score[self.exact_rows :])
        out = torch.from_numpy(scores)
        return out if x.dim() == 2 else out.view(*x.shape[:-1], out.shape[-1])


def projected_moment(projection: nn.Linear) -> Tensor:
    """``E[x x^T]`` of ``x = projection(h)`` for ``h`` of zero mean and unit variance: where
    the network's outputs lie (closer to their real spread than every direction alike, and
    as close as a sample of real text's outputs gets for a fine-tuned model)."""
    weight, bias = projection.weight.detach().double(), projection.bias.detach().double()
    return weight @ weight.T + torch.outer(bias, bias)


def low_rank_rows(rows: Tensor, rank: int, moment: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """``thin [n, rank]`` and ``wide [rank, dim]`` whose product best approximates ``rows
    [n, dim]`` for inputs ``x`` of second moment ``moment`` (every direction alike when None):
    the mean of ``|(rows - thin @ wide) @ x|^2`` is least."""
    dim = rows.shape[1]
    if moment is None:
        root = torch.eye(dim, dtype=torch.float64)
    else:
        # A square root of the moment, regularised so that it inverts.
        moment = moment.double() + 1e-6 * moment.diagonal().mean().double() * torch.eye(dim, dtype=torch.float64)
        root = torch.linalg.cholesky(moment)
    # The best rank-r fit of rows @ root (Eckart-Young) from its Gram matrix, which is small:
    # an eigendecomposition of [dim, dim] instead of an SVD of [n, dim]. The rows are read
    # a block at a time in single precision, so that a model loading beside the one serving
    # needs no single-precision copy of them all.
    blocks = rows.split(_FIT_BLOCK_ROWS)
    gram = sum((block.float().T @ block.float()).double() for block in blocks)
    _, vectors = torch.linalg.eigh(root.T @ gram @ root)
    top = vectors[:, -rank:]
    to_thin = (root @ top).float()
    thin = torch.cat([block.float() @ to_thin for block in blocks])
    # wide = top.T @ root^-1, so that thin @ wide = (rows @ root) @ top @ top.T @ root^-1.
    wide = torch.linalg.solve_triangular(root.T, top, upper=True).T
    return thin, wide.float().contiguous()
