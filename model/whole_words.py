"""Whole words from their parts: a short search from the network's first part of a word
through the table of how words go on (``word_parts.py``).

A suggestion is always a whole word, ranked by its probability as a whole word: the first
part's probability in the mixed distribution, times each next part's and the word's ending
there. The search starts from the most probable first parts that fit the typed part of the
word and stops going down a path once it cannot beat the ``k``-th best word found (each part
only lowers a path's probability).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from .pieces import surface, word_tokens
from .word_parts import END, WordParts

MAX_PARTS = 4  # parts of a word after its first, at most: longer words are typed
_STARTS = 48  # first parts searched from, the most probable that fit the typed part
# The search's reach: the most probable ways on from each part, and the parts looked at in all.
# Where probabilities are flat (a one-letter English prefix in Korean text, every English word
# taking any particle) the bound alone would let it wander through hundreds of thousands.
FANOUT = 16
MAX_NODES = 600


@dataclass(frozen=True)
class Parts:
    """What the search reads: the table, and for each id whether the text is Korean-ish."""

    table: WordParts
    tokens: list[str]
    hangul: np.ndarray  # per id: the token holds Hangul


def end_and_next(parts: Parts, token_id: int, korean: bool) -> tuple[list[int], list[float]] | None:
    """The parts that may follow ``token_id`` inside a word, with END, or None if the word
    surely ends there: a word without Hangul takes a particle only in Korean text."""
    row = parts.table.follows(token_id)
    if parts.hangul[token_id]:
        return row
    if not korean:
        return None
    return row if row is not None else parts.table.pooled()


def own_parts(parts: Parts, word: str, path: tuple[int, ...]) -> bool:
    """Whether the ids ``path`` are ``word``'s tokens, as the tokenizer splits it."""
    tokens = word_tokens(word)
    return len(tokens) == len(path) and all(parts.tokens[i] == t for i, t in zip(path, tokens))


Row = tuple[list[int], list[float]]


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
    first_rows: Mapping[int, Row] | None = None,
) -> dict[str, float]:
    """The ``k`` most probable whole words (at least) built from the first parts ``starts``
    (ids), that ``matches`` (the typed part of the word) and ``offered`` accept; word ->
    probability. ``fits``: whether a word's beginning may still grow into a match.
    ``first_rows``: how some first parts go on in this very context (the network's own word on
    it), in place of the table's rows. Each part
    goes on only its ``FANOUT`` likeliest ways, and at most ``MAX_NODES`` parts are looked at."""
    found: dict[str, float] = {}
    best: list[float] = []  # the k best probabilities found, a min-heap

    def bound() -> float:
        return best[0] if len(best) >= k else 0.0

    def emit(word: str, path: tuple[int, ...], p: float) -> None:
        # Only along the word's own parts: another path to the same text is not how the
        # tokenizer writes it, and counting it too would make the bound no bound.
        if word in found or not matches(word) or not offered(word) or not own_parts(parts, word, path):
            return
        found[word] = p
        if len(best) < k:
            heapq.heappush(best, p)
        elif p > best[0]:
            heapq.heapreplace(best, p)

    # Best first: the likeliest part-way word next, so the k best are found early and the
    # bound cuts the rest.
    heap: list[tuple[float, str, tuple[int, ...]]] = [
        (-float(dist[i]), parts.tokens[i], (i,)) for i in sorted(starts, key=lambda i: -dist[i])[:_STARTS]
    ]
    heapq.heapify(heap)
    nodes = 0
    while heap and nodes < MAX_NODES:
        negative, text, path = heapq.heappop(heap)
        p = -negative
        if p <= bound() or p <= 0.0:
            break  # nothing left can beat the k-th best
        nodes += 1
        row = first_rows.get(path[0]) if first_rows and len(path) == 1 else None
        if row is None:
            row = end_and_next(parts, path[-1], korean)
        if row is None:
            emit(text, path, p)
            continue
        for next_id, q in zip(row[0][:FANOUT], row[1][:FANOUT]):
            pq = p * q
            if pq <= bound():
                break  # the row is most probable first
            if next_id == END:
                emit(text, path, pq)
            elif len(path) <= MAX_PARTS:  # a longer word is not offered, nor this one unended
                longer = text + surface(parts.tokens[next_id])
                if fits(longer):
                    heapq.heappush(heap, (-pq, longer, (*path, next_id)))
    return found


def word_probability(
    parts: Parts,
    dist: np.ndarray,
    ids: list[int],
    korean: bool,
    first: float | None = None,
    first_rows: Mapping[int, Row] | None = None,
) -> float:
    """The probability of the whole word whose parts are ``ids`` (its first part's
    probability in ``dist``, or ``first``, each next part's, and its ending after the last;
    ``first_rows`` as for ``search``)."""
    p = float(dist[ids[0]]) if first is None else first
    for n, (last, next_id) in enumerate(zip(ids, [*ids[1:], END])):
        row = first_rows.get(last) if first_rows and n == 0 else None
        if row is None:
            row = end_and_next(parts, last, korean)
        if row is None:
            return p if next_id == END else 0.0
        try:
            p *= row[1][row[0].index(next_id)]
        except ValueError:
            return 0.0
    return p
