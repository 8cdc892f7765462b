"""The document caches: what the words of the context itself say about the next word.

Two caches (Grave et al., 2016, "Improving neural language models with a continuous
cache"): a plain count of the document's recent words, and the continuous cache proper,
which gives each earlier word a share by how alike the network's output before it is to its
output now (the word that followed a similar context is likely again). They are also how
words the vocabulary lacks (names, jargon) get a probability: those are counted by their
text. ``ranking.py`` mixes both into the network's distribution.
"""

from __future__ import annotations

import bisect
import heapq
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .config import PredictorConfig
from .pieces import word_tokens
from .tokenize import worth_offering
from .vocab import Vocabulary

if TYPE_CHECKING:
    from .context import Entry


class _Tally:
    """Words counted by their text, kept in code-point order too, for look-ups by range."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.ordered: list[str] = []
        self.total = 0

    def add(self, word: str) -> None:
        count = self.counts.get(word, 0)
        if count == 0:
            bisect.insort(self.ordered, word)
        self.counts[word] = count + 1
        self.total += 1

    def remove(self, word: str) -> None:
        count = self.counts[word] - 1
        self.total -= 1
        if count:
            self.counts[word] = count
        else:
            del self.counts[word]
            del self.ordered[bisect.bisect_left(self.ordered, word)]

    def between(self, lo: str, hi: str) -> list[str]:
        """The words counted from ``lo`` up to, not including, ``hi``."""
        start = bisect.bisect_left(self.ordered, lo)
        return self.ordered[start : bisect.bisect_left(self.ordered, hi, start)]


class DocumentCaches:
    """The word counts of the newest ``cache_size`` tokens of a context, and the continuous
    cache's keys for its newest ``neural_cache_size`` tokens (the caller adds and removes
    tokens as they enter and leave those windows)."""

    def __init__(self, vocab: Vocabulary, config: PredictorConfig, width: int):
        self._unk = vocab.unk_id
        self.counts = np.zeros(len(vocab), dtype=np.float32)  # of each vocabulary word
        self.total = 0  # the words counted, in the vocabulary or not
        self._oov = _Tally()  # the words counted that the vocabulary lacks
        # Words in parts (``pieces.py``) by their whole text: the vocabulary holds only their parts.
        self._part_words = _Tally()
        self._continued: Counter[str] = Counter()  # first part -> the words in parts it began
        # The continuous cache never reaches further back than the word counts (which also
        # hold the words the vocabulary lacks).
        rows = max(1, min(config.neural_cache_size, config.cache_size)) if config.neural_cache_weight > 0 else 0
        self._rows, self._sharpness = rows, config.neural_cache_sharpness
        self._null = config.neural_cache_sharpness * config.neural_cache_null
        # Entry i's key (the network's output before reading it, unit length) lives in row
        # i % rows while i is among the newest ``rows`` entries; a row's id is -1 when it holds no word.
        self._keys = np.zeros((rows, width), dtype=np.float32)
        self._key_ids = np.full(rows, -1, dtype=np.int64)
        self._key_oov: list[str | None] = [None] * rows

    # ----- the word counts ----------------------------------------------------------------------
    def add(self, entry: Entry) -> None:
        if entry.completes is not None:
            self.add_part_word(entry.completes)
        if not entry.word:
            return
        self.total += 1
        if entry.id != self._unk:
            self.counts[entry.id] += 1
            return
        self._oov.add(entry.token.text)

    def remove(self, entry: Entry) -> None:
        if entry.completes is not None:
            self.remove_part_word(entry.completes)
        if not entry.word:
            return
        self.total -= 1
        if entry.id != self._unk:
            self.counts[entry.id] -= 1
            return
        self._oov.remove(entry.token.text)

    def add_part_word(self, word: str) -> None:
        """Count ``word``, a word in parts the context holds."""
        self._part_words.add(word)
        self._continued[word_tokens(word)[0]] += 1

    def remove_part_word(self, word: str) -> None:
        self._part_words.remove(word)
        first = word_tokens(word)[0]
        self._continued[first] -= 1
        if not self._continued[first]:
            del self._continued[first]

    def part_word_count(self, word: str) -> int:
        """How often ``word``, a word in parts, is among the counted words."""
        return self._part_words.counts.get(word, 0)

    def part_words_between(self, lo: str, hi: str) -> list[str]:
        """The counted words in parts from ``lo`` up to, not including, ``hi``."""
        return self._part_words.between(lo, hi)

    def continued(self, first: str) -> int:
        """How many of the counted words in parts begin with the part ``first``."""
        return self._continued.get(first, 0)

    @property
    def oov_total(self) -> int:
        """The words counted that the vocabulary lacks."""
        return self._oov.total

    def oov_count(self, word: str) -> int:
        """How often ``word``, which the vocabulary lacks, is among the counted tokens."""
        return self._oov.counts.get(word, 0)

    def oov_between(self, lo: str, hi: str) -> list[str]:
        """The counted words the vocabulary lacks from ``lo`` up to, not including, ``hi``."""
        return self._oov.between(lo, hi)

    def oov_candidates(self, prefix: str, k: int, typed: bool, continuous: dict[str, float]) -> list[str]:
        """The counted words the vocabulary lacks that start with ``prefix`` and may be among
        the ``k`` most probable: every one when there are no more than ``k``, else the ``k``
        most frequent (the alphabetically first on ties, as the ranking breaks them) and
        those the continuous cache gives a share (``continuous``); a word's probability grows
        with its count plus that share, so a note full of names need not score them all. Only
        words worth offering unless ``typed`` (``tokenize.worth_offering``)."""
        counts = self._oov.counts
        offered = (lambda w: True) if typed or not prefix else (lambda w: worth_offering(w, prefix))  # noqa: E731
        words = [w for w in self._oov.between(prefix, prefix + "\U0010ffff") if offered(w)]
        if len(words) > k:
            frequent = heapq.nlargest(k, words, key=counts.__getitem__)
            words = list(
                dict.fromkeys(
                    [*frequent, *(w for w in continuous if w.startswith(prefix) and w in counts and offered(w))]
                )
            )
        return words

    # ----- the continuous cache -----------------------------------------------------------------
    @property
    def keys_held(self) -> int:
        """How many words the continuous cache holds."""
        return int(np.count_nonzero(self._key_ids >= 0))

    def store_keys(self, entries: Sequence[Entry], indices: list[int], outputs: np.ndarray) -> None:
        """Keep the outputs before the word entries among ``indices`` (of ``entries``, the
        context's) as their keys; ``outputs`` holds one row per index."""
        rows = self._rows
        if not rows:
            return
        newest = len(entries) - rows
        chosen = []
        for n, index in enumerate(indices):
            if index < newest:
                continue
            if entries[index].word:
                chosen.append(n)
            else:  # a punctuation or break token: its row's older word leaves the cache
                self._key_ids[index % rows] = -1
        if not chosen:
            return
        vectors = outputs
        if len(chosen) < len(indices):
            vectors = vectors[chosen]
        # Unit length: the cache compares contexts by their cosine.
        vectors = vectors / np.maximum(np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None], 1e-9)
        for n, vector in zip(chosen, vectors):
            entry = entries[indices[n]]
            row = indices[n] % rows
            self._keys[row] = vector
            self._key_ids[row] = entry.id
            self._key_oov[row] = entry.token.text if entry.id == self._unk else None

    def forget_key(self, index: int) -> None:
        """Entry ``index`` left the context: its key goes."""
        if self._rows:
            self._key_ids[index % self._rows] = -1

    def forget_keys(self) -> None:
        if self._rows:
            self._key_ids[:] = -1
            self._key_oov = [None] * self._rows

    def continuous(
        self, output: np.ndarray, newest: int = -1
    ) -> tuple[np.ndarray, np.ndarray, dict[str, float], float] | None:
        """The continuous cache's distribution given the network's ``output``, sparse: word ids
        and their weights, one pair per cached word, the weights of the words the vocabulary
        lacks by their text, and how much the cache has to say (None when it holds no word).

        That last is its words' votes beside one more vote, the network's, of a context
        ``neural_cache_null`` alike: a few words in unlike contexts (a new note) say little, a
        word that followed a context much like this one says much. Entry ``newest`` (the word
        just read, or the one the last few marks follow) has no vote: its context is the one
        most like the present, so it would echo the word just typed whatever comes next."""
        held = self._key_ids >= 0
        if newest >= 0 and self._rows:
            held[newest % self._rows] = False
        rows = np.flatnonzero(held)
        if not len(rows):
            return None
        query = output[0]
        query = query / max(float(np.linalg.norm(query)), 1e-9)
        # Scored over every row (cheaper than gathering the keys); empty rows are then dropped.
        scores = (self._keys @ query)[rows]
        scores *= self._sharpness
        top = max(float(scores.max()), self._null)
        weights = np.exp(scores - top)
        total = float(weights.sum())
        confidence = total / (total + float(np.exp(self._null - top)))
        weights /= total
        ids = self._key_ids[rows]
        oov: dict[str, float] = {}
        for n in np.flatnonzero(ids == self._unk).tolist():
            word = self._key_oov[rows[n]]
            assert word is not None
            oov[word] = oov.get(word, 0.0) + float(weights[n])
        return ids, weights, oov, confidence
