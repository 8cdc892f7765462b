"""The output layer as prediction runs it: a score for every vocabulary token.

Every word boundary reads the whole output layer from memory, and on a shared machine its
rows rarely stay in the cache from one word to the next, so its size is most of a boundary's
time. The compact form keeps the rows of the most frequent tokens as they are (the
vocabulary is ordered by frequency, so they come first and take most of the probability)
and the rest as a product of two thin matrices, the best of its rank for the vectors the
network produces: those are ``P h + p`` (the projection to the embedding's size), so the
rows are fitted where the projection reaches rather than in every direction alike. It is
fitted when the model loads (0.1 s), from the weights alone.

For the shipped model: 4,000 exact rows (8-bit) and rank 96 for the other 24,000. With the
project's C kernels (``compiled.py``) the thin factor is 8-bit too: 3.3 MB read instead of
7.2, and the same suggestions as half precision (KSR and next-word accuracy on the notes
within 0.02 points, shipped and fine-tuned). With fbgemm it stays in half precision (5.6 MB),
which fbgemm multiplies faster than 8-bit rows this narrow (its 8-bit product costs per row
too: scales, offsets, rescaling). Either way the suggestions are those of the exact layer to
a tenth of a point. Training, perplexity and single precision use the exact layer.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from .compiled import KERNELS
from .packed import InferenceLinear

HEAD_ROWS = 4000  # the most frequent tokens, scored exactly
TAIL_RANK = 96  # the rank of the rest
MIN_SAVING = 0.25  # factor only when that saves at least this share of the layer's weights
_FIT_BLOCK_ROWS = 4096  # rows converted to single precision at a time while fitting


class FactoredOutputLayer:
    """``x @ weight.T + bias`` with the first rows exact (``head``, an ``InferenceLinear`` of
    them) and the rest (``tail_weight``, ``tail_bias``) as the rank-``rank`` product that
    best fits them for inputs of second moment ``moment`` (``E[x x^T]``; any direction alike
    when None); the thin factor 8-bit with the C kernels and in half precision with fbgemm,
    the rest in the head's precision."""

    def __init__(
        self, head: InferenceLinear, tail_weight: Tensor, tail_bias: Tensor, rank: int, moment: Tensor | None = None
    ):
        thin, wide = low_rank_rows(tail_weight.detach(), rank, moment)
        self._head = head
        self.precision, self.kernels = head.precision, head.kernels
        self.exact_rows, self.rank = head.out_features, rank
        self._narrow = InferenceLinear(wide, torch.zeros(rank), self.precision)
        # The C kernels multiply narrow 8-bit rows as fast as half-precision ones, and read half
        # the bytes; fbgemm's 8-bit product costs per row, so with it the thin factor stays in half.
        self._tail = InferenceLinear(thin, tail_bias.detach(), "int8" if head.kernels == KERNELS else "fp16")

    def __call__(self, x: Tensor) -> Tensor:
        head, narrow, tail = self._head.compiled, self._narrow.compiled, self._tail.compiled
        if head is None or narrow is None or tail is None:
            return torch.cat([self._head(x), self._tail(self._narrow(x))], dim=-1)
        # The C kernels write each part straight into its place in the scores, between numpy
        # arrays: on a busy machine each PyTorch operation costs its dispatch code's trip from memory.
        if x.requires_grad or x.dtype != torch.float32 or not x.is_contiguous():
            x = x.detach().float().contiguous()
        rows = x.numpy().reshape(-1, x.shape[-1])
        scores = np.empty((len(rows), self.exact_rows + self._tail.out_features), dtype=np.float32)
        thin = np.empty(self.rank, dtype=np.float32)
        for row, score in zip(rows, scores):
            head.into(row, score[: self.exact_rows])
            narrow.into(row, thin)
            tail.into(thin, score[self.exact_rows :])
        out = torch.from_numpy(scores)
        return out if x.dim() == 2 else out.view(*x.shape[:-1], out.shape[-1])


def build_output_layer(
    weight: Tensor, bias: Tensor, precision: str | None, projection: nn.Linear | None = None
) -> InferenceLinear | FactoredOutputLayer:
    """The output layer for prediction, for inputs that ``projection`` makes (where there is
    one): factored in the compact precisions when that saves enough, else exact (single
    precision is exact throughout, for tests that compare paths)."""
    rows, dim = weight.shape
    saving = max(0, rows - HEAD_ROWS) * max(0, dim - TAIL_RANK) / (rows * dim)
    if precision != "fp32" and saving >= MIN_SAVING:
        head = InferenceLinear(weight[:HEAD_ROWS], bias[:HEAD_ROWS], precision)
        if head.precision != "fp32":  # fbgemm is there: so are its half-precision products
            return FactoredOutputLayer(
                head,
                weight[HEAD_ROWS:],
                bias[HEAD_ROWS:],
                TAIL_RANK,
                projected_moment(projection) if projection is not None else None,
            )
    return InferenceLinear(weight, bias, precision)


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
