"""Ranked suggestions as the Predictor returns them, and picking the most probable entries
out of a distribution."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The most probable words usually stand above this probability; picking them out by a
# comparison is several times faster than a top-k over the whole vocabulary (see
# ``top_indices``; on a few thousand words or fewer, top-k is as fast).
_LIKELY = 1e-3


def top_indices(probs: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``k`` largest ``probs`` (all of them if there are no more than ``k``),
    in no particular order; only where ``allowed`` (a boolean mask) is true, if given (then
    fewer than ``k`` when fewer are allowed and possible)."""
    if len(probs) > 2048 and k <= 64:
        # At most 1/_LIKELY entries exceed _LIKELY (the probabilities sum to at most 1): when
        # k of them are allowed, the k largest are among them.
        likely = np.flatnonzero(probs > _LIKELY)
        if allowed is not None:
            likely = likely[allowed[likely]]
        if len(likely) >= k:
            return likely[np.argpartition(probs[likely], -k)[-k:]] if len(likely) > k else likely
    if len(probs) <= k:
        chosen = np.arange(len(probs))
    else:
        candidates = probs if allowed is None else np.where(allowed, probs, 0.0)
        # numpy's partition, not torch's top-k: as fast on the whole vocabulary, and on the
        # few dozen words of a typed prefix it costs half (torch's call overhead dominates).
        chosen = np.argpartition(candidates, -k)[-k:]
    return chosen if allowed is None else chosen[allowed[chosen]]


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A suggested word and its probability given the context."""

    word: str
    probability: float


class Suggestions(list[Suggestion]):
    """Ranked suggestions, most probable first, and what the typed part of the word is
    worth beside them: how likely it is as a finished word, and how likely any word that
    starts with it is (that word included). Both 0 when nothing is typed."""

    __slots__ = ("prefix_probability", "typed_probability")

    def __init__(self, found: list[Suggestion], typed_probability: float = 0.0, prefix_probability: float = 0.0):
        super().__init__(found)
        self.typed_probability = typed_probability
        self.prefix_probability = prefix_probability
