"""Whole words from their parts: a short search from the network's first part of a word
through the table of how words go on (``word_parts.py``).

A suggestion is always a whole word, ranked by its probability as a whole word: the first
part's probability in the mixed distribution, times each next part's and the word's ending
there. The search starts from the most probable first parts that fit the typed part of the
word and stops going down a path once it cannot beat the ``k``-th best word found (each part
only lowers a path's probability). A word may be spelled two ways (``모델을`` whole, or ``모델``
then ``을``), its probability the sum of both, so a path goes on while it holds half the
``k``-th best: the likelier spelling of a word that beats it holds at least that.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .pieces import CONTINUATION, word_tokens
from .vocab import Vocabulary
from .word_parts import END, WordParts

MAX_PARTS = 4  # parts of a word after its first, at most: longer words are typed
_STARTS = 48  # first parts searched from, the most probable that fit the typed part
# The search's reach: the most probable ways on from each part, and the parts looked at in all.
# Where probabilities are flat (a one-letter English prefix in Korean text, every English word
# taking any particle) the bound alone would let it wander through hundreds of thousands.
FANOUT = 16
MAX_NODES = 300
# The spellings of one word the search's bound allows for (see the module's docstring).
SPELLINGS = 2


@dataclass(frozen=True)
class Parts:
    """What the search reads: the table, and the vocabulary's tokens (its text, and for each
    id whether it holds Hangul)."""

    table: WordParts
    vocab: Vocabulary

    @property
    def tokens(self) -> list[str]:
        return self.vocab.tokens

    @property
    def surfaces(self) -> list[str]:
        return self.vocab.surfaces

    @property
    def hangul(self) -> np.ndarray:
        return self.vocab.hangul_mask


def end_and_next(parts: Parts, token_id: int, korean: bool) -> tuple[list[int], list[float]] | None:
    """The parts that may follow ``token_id`` inside a word, with END, or None if the word
    surely ends there: a word without Hangul takes a particle only in Korean text."""
    if parts.hangul[token_id]:
        return parts.table.korean(token_id, FANOUT)
    if not korean:
        return None
    row = parts.table.follows(token_id)
    return row if row is not None else parts.table.pooled()


def segmentations(index: Mapping[str, int], word: str) -> list[list[int]]:
    """Every way to spell ``word`` in the vocabulary's parts (``index``: token -> id): a first
    part, then continuations, ``MAX_PARTS`` of them at most; the tokenizer's own among them."""
    found: list[list[int]] = []
    for end in range(len(word), 0, -1):
        first = index.get(word[:end])
        if first is not None:
            _go_on(index, word, end, [first], found)
    return found


def _go_on(index: Mapping[str, int], word: str, at: int, path: list[int], found: list[list[int]]) -> None:
    """``segmentations``' ways on from ``path`` (spelling ``word[:at]``), longer parts first.
    A function of the module: a nested one calling itself is a reference cycle, which would
    hold ``index`` (a whole vocabulary's, after a model swap) until a garbage collection."""
    if at == len(word):
        found.append(path)
        return
    if len(path) > MAX_PARTS:
        return
    for end in range(len(word), at, -1):
        token_id = index.get(CONTINUATION + word[at:end])
        if token_id is not None:
            _go_on(index, word, end, [*path, token_id], found)


class Spelled(NamedTuple):
    """A word as the tokenizer spells it (its tokens and their ids), and its other spellings in
    the vocabulary's parts (``segmentations``)."""

    tokens: list[str]
    ids: list[int]
    others: list[list[int]]


class Spellings:
    """Words' spellings, kept: a word is ranked at key after key, and in context after context
    (``limit`` words at most, dropped all at once when full)."""

    def __init__(self, vocab: Vocabulary, limit: int = 4096):
        self._vocab, self._limit = vocab, limit
        self._kept: dict[str, Spelled] = {}

    def __call__(self, word: str) -> Spelled:
        found = self._kept.get(word)
        if found is None:
            if len(self._kept) >= self._limit:
                self._kept.clear()
            tokens = word_tokens(word)
            ids = self._vocab.encode(tokens)
            others = [path for path in segmentations(self._vocab.index, word) if path != ids]
            found = self._kept[word] = Spelled(tokens, ids, others)
        return found


Row = tuple[list[int], list[float]]
# A part's ways on not yet taken: its probability, text, path and whether it matches, its
# row (ids, probabilities) and the index in the row to go on from.
_Next = tuple[float, str, tuple[int, ...], bool, list[int], list[float], int]
# An entry of the search's heap: minus its probability, its text, path, whether it matches,
# and the next way on from the part before it.
_Entry = tuple[float, str, tuple[int, ...], bool, "_Next | None"]
# How a part goes on (its row), given whether it is the word's first part; None: the word ends.
RowOf = Callable[[int, bool], "Row | None"]


def search(
    parts: Parts,
    dist: np.ndarray,
    starts: Iterable[int],
    prefix: str,
    k: int,
    korean: bool,
    offered: Callable[[str], bool],
    matches: Callable[[str], bool],
    fits: Callable[[str], bool],
    row_of: RowOf | None = None,
) -> dict[str, float]:
    """The ``k`` most probable whole words (at least) built from the first parts ``starts``
    (ids), that ``matches`` (the typed part of the word) and ``offered`` accept; word ->
    probability. ``fits``: whether a word's beginning may still grow into a match.
    ``row_of``: how a part goes on in this very context (the network's own row for a first
    part), in place of the table's rows. Each part goes on only its ``FANOUT`` likeliest
    ways, and at most ``MAX_NODES`` parts are looked at."""
    found: dict[str, float] = {}
    kth = 0.0  # the k-th best word's probability so far (0 until k are found)
    bound = 0.0  # what a path must hold to go on: ``kth / SPELLINGS``

    # Best first: the likeliest part-way word next, so the k best are found early and the
    # bound cuts the rest. A part's ways on are pushed one at a time, each when the one before
    # it is taken (a row is most probable first): most are never reached. Each entry knows
    # whether its text matches the typed part already (then every longer text does too), and
    # the way on after it from the same part (``_Next``), if any.
    heap: list[_Entry] = []
    for i in sorted(starts, key=lambda i: -dist[i])[:_STARTS]:
        text = parts.tokens[i]
        heap.append((-float(dist[i]), text, (i,), matches(text), None))
    heapq.heapify(heap)
    surfaces = parts.surfaces

    def push_next(way: _Next, bound: float) -> None:
        """Push the likeliest way on from ``way``'s part, at or after its index, that may
        still grow into a match."""
        p, text, path, matched, ids, probs, at = way
        for j in range(at, min(len(ids), FANOUT)):
            pq = p * probs[j]
            if pq < bound:
                return
            next_id = ids[j]
            if next_id == END:
                continue
            longer = text + surfaces[next_id]
            if matched or fits(longer):
                way = (p, text, path, matched, ids, probs, j + 1)
                heapq.heappush(heap, (-pq, longer, (*path, next_id), matched or matches(longer), way))
                return

    nodes = 0
    while heap and nodes < MAX_NODES:
        negative, text, path, matched, after = heapq.heappop(heap)
        p = -negative
        if p < bound or p <= 0.0:
            break  # nothing left can beat the k-th best
        if after is not None:
            push_next(after, bound)
        nodes += 1
        row = row_of(path[-1], len(path) == 1) if row_of else end_and_next(parts, path[-1], korean)
        ended = p if row is None else 0.0
        if row is not None:
            ids, probs = row
            if len(path) <= MAX_PARTS:  # a longer word is not offered, nor this one unended
                push_next((p, text, path, matched, ids, probs, 0), bound)
            try:
                j = ids.index(END, 0, FANOUT)
            except ValueError:
                pass
            else:
                ended = p * probs[j] if p * probs[j] >= bound else 0.0
        # A word may come along several paths (모델을 whole, or 모델 then 을): each adds to it.
        if ended and matched and offered(text):
            found[text] = found.get(text, 0.0) + ended
            if len(found) >= k:
                kth = sorted(found.values(), reverse=True)[k - 1]
                bound = kth / SPELLINGS
    return found


def word_probability(
    parts: Parts,
    dist: np.ndarray,
    ids: list[int],
    korean: bool,
    first: float | None = None,
    row_of: RowOf | None = None,
) -> float:
    """The probability of the whole word whose parts are ``ids`` (its first part's
    probability in ``dist``, or ``first``, each next part's, and its ending after the last;
    ``row_of`` as for ``search``)."""
    p = float(dist[ids[0]]) if first is None else first
    for n, (last, next_id) in enumerate(zip(ids, [*ids[1:], END])):
        row = row_of(last, n == 0) if row_of else end_and_next(parts, last, korean)
        if row is None:
            return p if next_id == END else 0.0
        try:
            p *= row[1][row[0].index(next_id)]
        except ValueError:
            return 0.0
    return p
