"""How words in parts go on: the table that turns the network's first part of a word into
whole words.

A word holding Hangul is several tokens (``pieces.py``): ``모델`` ``##을``. The network
scores the first part given the whole context; what follows inside the word is looked up
here: for each token seen followed by a continuation in the training text, how often each
continuation followed it and how often the word ended there. Chained, these give every
whole word a probability (first part × each next part × the word ending), so a word is
offered from parts it was never seen whole in. The table is counted from the same token ids
the network trains on and stored in the checkpoint beside the weights.

A word without Hangul takes a particle only in Korean text (``RNN을``), and an English word
never seen with one may still take one there: such words share a pooled row (``LATIN``),
counted over words without Hangul near Hangul text, used for words without a row of their own.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .pieces import has_hangul, is_continuation
from .tokenize import is_word
from .vocab import Vocabulary

END = -1  # the "next part" that ends the word
LATIN = -2  # the pooled row of words without Hangul, in Korean text
NEAR = 8  # tokens either side within which a word counts as in Korean text


@cache
def _kinds(tokens: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each token of a vocabulary: whether it is a continuation, holds Hangul, is a word."""
    return (
        np.fromiter((is_continuation(t) for t in tokens), dtype=bool, count=len(tokens)),
        np.fromiter((has_hangul(t) for t in tokens), dtype=bool, count=len(tokens)),
        np.fromiter((is_word(t) for t in tokens), dtype=bool, count=len(tokens)),
    )


def token_kinds(vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks over ``vocab``'s ids: continuations, tokens holding Hangul, words."""
    return _kinds(tuple(vocab.tokens))


def count_parts(ids: np.ndarray, vocab: Vocabulary) -> np.ndarray:
    """The table's counts for the token ids ``ids`` of ``vocab`` (a training text): rows of
    (token, next part or END, count)."""
    continuation, hangul, word = token_kinds(vocab)
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) < 2:
        return np.zeros((0, 3), dtype=np.int64)
    prev, nxt = ids[:-1], ids[1:]
    goes_on = continuation[nxt]
    # Every token ever continued gets its endings counted too.
    continued = np.zeros(len(continuation), dtype=bool)
    continued[prev[goes_on]] = True
    rows = [np.stack([prev[goes_on], nxt[goes_on]], axis=1)]
    ends = continued[prev] & ~goes_on
    rows.append(np.stack([prev[ends], np.full(int(ends.sum()), END)], axis=1))
    # The pooled row: words without Hangul (not continuations) with Hangul near them.
    # "full", not "same": "same" is as long as the longer input, the window on a short text.
    window = np.convolve(hangul[ids].astype(np.int64), np.ones(2 * NEAR + 1, dtype=np.int64), mode="full")
    near = window[NEAR : NEAR + len(ids) - 1] > 0
    latin = near & word[prev] & ~hangul[prev]
    rows.append(np.stack([np.full(int(latin.sum()), LATIN), np.where(goes_on[latin], nxt[latin], END)], axis=1))
    return merge_counts(np.concatenate([np.concatenate([r, np.ones((len(r), 1), dtype=np.int64)], 1) for r in rows]))


def merge_counts(*tables: np.ndarray) -> np.ndarray:
    """Tables of counts added together (a fine-tuned model's: the base text's and the notes')."""
    rows = np.concatenate([np.asarray(t, dtype=np.int64).reshape(-1, 3) for t in tables])
    if not len(rows):
        return rows
    keys, inverse = np.unique(rows[:, :2], axis=0, return_inverse=True)
    counts = np.bincount(inverse.reshape(-1), weights=rows[:, 2], minlength=len(keys)).astype(np.int64)
    return np.concatenate([keys, counts[:, None]], axis=1)


class WordParts:
    """The table, ready to look up: for a token, the parts that may follow it inside a word
    and their probabilities (END for the word ending there)."""

    def __init__(self, counts: np.ndarray):
        counts = np.asarray(counts, dtype=np.int64).reshape(-1, 3)
        self.counts = counts
        order = np.lexsort((-counts[:, 2], counts[:, 0]))
        counts = counts[order]
        self._rows: dict[int, tuple[list[int], list[float]]] = {}
        starts = np.flatnonzero(np.r_[True, counts[1:, 0] != counts[:-1, 0]]) if len(counts) else np.zeros(0, int)
        bounds = [*starts.tolist(), len(counts)]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            row = counts[lo:hi]
            total = float(row[:, 2].sum())
            self._rows[int(row[0, 0])] = (row[:, 1].tolist(), (row[:, 2] / total).tolist())

    def __len__(self) -> int:
        return len(self.counts)

    def follows(self, token_id: int) -> tuple[list[int], list[float]] | None:
        """The parts that follow ``token_id`` inside a word (END included), most probable first,
        with their probabilities; None where it was never continued."""
        return self._rows.get(token_id)

    def pooled(self) -> tuple[list[int], list[float]] | None:
        """The same for a word without Hangul in Korean text, never continued itself."""
        return self._rows.get(LATIN)
