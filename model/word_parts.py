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

import numpy as np

from .vocab import Vocabulary

END = -1  # the "next part" that ends the word
LATIN = -2  # the pooled row of words without Hangul, in Korean text
HANGUL = -3  # the pooled row of every part holding Hangul: how Korean words go on in general
SMOOTHING = 2.0  # a Hangul part's own row weighs as this many goings-on of the pooled one
NEAR = 8  # tokens either side within which a word counts as in Korean text


def token_kinds(vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks over ``vocab``'s ids: continuations, tokens holding Hangul, words."""
    return vocab.continuation_mask, vocab.hangul_mask, vocab.word_mask


def count_parts(ids: np.ndarray, vocab: Vocabulary) -> np.ndarray:
    """The table's counts for the token ids ``ids`` of ``vocab`` (a training text): rows of
    (token, next part or END, count)."""
    continuation, hangul, word = token_kinds(vocab)
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) < 2:
        return np.zeros((0, 3), dtype=np.int64)
    prev, nxt = ids[:-1], ids[1:]
    goes_on = continuation[nxt]
    # Every token ever continued gets its endings counted too, and so does every part holding
    # Hangul (how often a Korean part ends a word weighs its row against the pooled one).
    continued = hangul.copy()
    continued[prev[goes_on]] = True
    rows = [np.stack([prev[goes_on], nxt[goes_on]], axis=1)]
    ends = continued[prev] & ~goes_on
    rows.append(np.stack([prev[ends], np.full(int(ends.sum()), END)], axis=1))
    korean = hangul[prev]
    rows.append(np.stack([np.full(int(korean.sum()), HANGUL), np.where(goes_on[korean], nxt[korean], END)], axis=1))
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

    def __init__(self, counts: np.ndarray, smoothing: float = SMOOTHING):
        """``smoothing``: how many goings-on of Korean parts in general a part's own weigh
        against (0: its own row alone)."""
        self.smoothing = smoothing
        counts = np.asarray(counts, dtype=np.int64).reshape(-1, 3)
        self.counts = counts
        order = np.lexsort((-counts[:, 2], counts[:, 0]))
        counts = counts[order]
        self._rows: dict[int, tuple[list[int], list[float]]] = {}
        self._totals: dict[int, float] = {}
        self._smoothed: dict[int, tuple[list[int], list[float]]] = {}
        if not len(counts):
            return
        # Every row's total and probabilities at once: a model has thousands of rows.
        starts = np.flatnonzero(np.r_[True, counts[1:, 0] != counts[:-1, 0]])
        totals = np.add.reduceat(counts[:, 2], starts).astype(np.float64)
        probs = (counts[:, 2] / np.repeat(totals, np.diff(np.append(starts, len(counts))))).tolist()
        following = counts[:, 1].tolist()
        bounds = [*starts.tolist(), len(counts)]
        for token, lo, hi, total in zip(counts[starts, 0].tolist(), bounds[:-1], bounds[1:], totals.tolist()):
            self._rows[token] = (following[lo:hi], probs[lo:hi])
            self._totals[token] = total

    def __len__(self) -> int:
        return len(self.counts)

    def follows(self, token_id: int) -> tuple[list[int], list[float]] | None:
        """The parts that follow ``token_id`` inside a word (END included), most probable first,
        with their probabilities; None where it was never continued."""
        return self._rows.get(token_id)

    def pooled(self) -> tuple[list[int], list[float]] | None:
        """The same for a word without Hangul in Korean text, never continued itself."""
        return self._rows.get(LATIN)

    def korean(self, token_id: int, width: int) -> tuple[list[int], list[float]] | None:
        """How a part holding Hangul goes on: as often as its own row says (a part never seen
        as a whole word stays unended), but by way of its own next parts smoothed towards those
        of Korean parts in general (the ``width`` likeliest): a stem seen only inside one longer
        piece (``개념이``+``다``) may still take ``이다`` as its own next part."""
        found = self._smoothed.get(token_id)
        if found is not None:
            return found
        own, pooled = self._rows.get(token_id), self._rows.get(HANGUL)
        if pooled is None or own is None or self.smoothing <= 0:
            return own if own is not None else pooled
        ends = dict(zip(*own)).get(END, 0.0)
        goes_on = 1.0 - ends
        seen = self._totals[token_id] * goes_on
        weight = seen / (seen + self.smoothing)
        pooled_on = [(i, p) for i, p in zip(pooled[0][: width + 1], pooled[1][: width + 1]) if i != END][:width]
        pooled_total = sum(p for _, p in pooled_on) or 1.0
        mixed: dict[int, float] = {END: ends} if ends else {}
        for i, p in zip(own[0][: 2 * width], own[1][: 2 * width]):  # most probable first: the rest weigh little
            if i != END:
                mixed[i] = weight * p
        for i, p in pooled_on:
            mixed[i] = mixed.get(i, 0.0) + (1.0 - weight) * goes_on * p / pooled_total
        ranked = sorted(mixed.items(), key=lambda item: -item[1])
        found = self._smoothed[token_id] = ([i for i, _ in ranked], [p for _, p in ranked])
        return found
