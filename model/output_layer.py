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

from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

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
        cls,
        weight: np.ndarray,
        bias: np.ndarray,
        projection: tuple[np.ndarray, np.ndarray] | None,
        linear: Callable[[np.ndarray, np.ndarray], Linear],
    ) -> FactoredOutputLayer:
        """The layer of ``weight`` and ``bias``, its rare rows fitted for the inputs that
        ``projection`` (its weight and bias) makes (in every direction alike without one);
        ``linear(weight, bias)`` makes each part."""
        moment = projected_moment(*projection) if projection is not None else None
        thin, wide = low_rank_rows(weight[HEAD_ROWS:], TAIL_RANK, moment)
        return cls(
            linear(weight[:HEAD_ROWS], bias[:HEAD_ROWS]),
            linear(wide, np.zeros(TAIL_RANK, dtype=np.float32)),
            linear(thin, bias[HEAD_ROWS:]),
        )

    def __call__(self, x: np.ndarray) -> np.ndarray:
        # Each part writes straight into its place in the scores.
        x = np.ascontiguousarray(x, dtype=np.float32)
        rows = x.reshape(-1, x.shape[-1])
        scores = np.empty((len(rows), self.exact_rows + self._tail.out_features), dtype=np.float32)
        thin = np.empty(self.rank, dtype=np.float32)
        for row, score in zip(rows, scores):
            self._head.into(row, score[: self.exact_rows])
            self._narrow.into(row, thin)
            self._tail.into(thin, score[self.exact_rows :])
        return scores.reshape(*x.shape[:-1], scores.shape[-1])


def projected_moment(weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``E[x x^T]`` of ``x = weight @ h + bias`` for ``h`` of zero mean and unit variance:
    where the network's outputs lie (closer to their real spread than every direction alike,
    and as close as a sample of real text's outputs gets for a fine-tuned model)."""
    weight, bias = weight.astype(np.float64), bias.astype(np.float64)
    return weight @ weight.T + np.outer(bias, bias)


def low_rank_rows(rows: np.ndarray, rank: int, moment: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``thin [n, rank]`` and ``wide [rank, dim]`` whose product best approximates ``rows
    [n, dim]`` for inputs ``x`` of second moment ``moment`` (every direction alike when None):
    the mean of ``|(rows - thin @ wide) @ x|^2`` is least."""
    dim = rows.shape[1]
    if moment is None:
        root = np.eye(dim)
    else:
        # A square root of the moment, regularised so that it inverts.
        moment = moment.astype(np.float64)
        moment = moment + 1e-6 * moment.diagonal().mean() * np.eye(dim)
        root = np.linalg.cholesky(moment)

    # The best rank-r fit of rows @ root (Eckart-Young) from its Gram matrix, which is small:
    # an eigendecomposition of [dim, dim] instead of an SVD of [n, dim]. The rows are read
    # a block at a time in single precision, so that a model loading beside the one serving
    # needs no single-precision copy of them all.
    def blocks() -> Iterator[np.ndarray]:
        for start in range(0, len(rows), _FIT_BLOCK_ROWS):
            yield rows[start : start + _FIT_BLOCK_ROWS].astype(np.float32)

    gram = sum((block.T @ block).astype(np.float64) for block in blocks())
    _, vectors = np.linalg.eigh(root.T @ gram @ root)
    top = vectors[:, -rank:]
    to_thin = (root @ top).astype(np.float32)
    thin = np.concatenate([block @ to_thin for block in blocks()])
    # wide = top.T @ root^-1, so that thin @ wide = (rows @ root) @ top @ top.T @ root^-1.
    wide = np.linalg.solve(root.T, top).T
    return thin, np.ascontiguousarray(wide, dtype=np.float32)
