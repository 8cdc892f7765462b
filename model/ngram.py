"""An n-gram model of the notes a personal model was trained on (interpolated Kneser-Ney).

Fine-tuning teaches the network a person's words and style, but a small network generalises:
it does not remember that "pip install" is followed by the same few package names in these
notes, or how a recurring phrase goes on. A Kneser-Ney n-gram of the same notes remembers
exactly that, and the Predictor mixes it into the network's distribution (the classic
combination of a neural and a count-based model, which are right in different places).

The notes are kept as the token ids they were trained as (``tokens``, an int32 array stored
in the checkpoint), and the count tables are built from them when the model is loaded, in a
fraction of a second: every order's n-grams are sorted by context, so the words that followed
a context are one binary search away. Ids are packed into one 64-bit key per context, as
many bits an id as the vocabulary needs (at most 21, which fixes the longest context at three
tokens and the vocabulary at two million tokens). Where a context and its word fit in 64 bits
together (a vocabulary of up to 65,536 tokens, or a shorter context), the n-grams are counted
by sorting those keys alone: several times faster than sorting the pairs, and with no index
arrays beside them.
"""

from __future__ import annotations

import numpy as np

ORDER = 4  # up to three tokens of context
MAX_VOCAB = 1 << 21
# A person's notes of up to this many tokens are kept whole (as int32, four bytes a token); of more, the newest.
MAX_TOKENS = 5_000_000


def _context_keys(tokens: np.ndarray, count: int, length: int, bits: int) -> np.ndarray:
    """The packed key of the ``length`` tokens from each of the first ``count`` positions (0
    for length 0); built in place from slices, so it takes no memory but the keys'."""
    keys = np.zeros(count, dtype=np.int64)
    for j in range(length):
        keys <<= bits
        keys |= tokens[j : j + count]
    return keys


class _Table:
    """The words that followed each context of one length, with their counts, sorted by context."""

    def __init__(self, contexts: np.ndarray, words: np.ndarray, counts: np.ndarray):
        self.contexts, self.words, self.counts = contexts, words, counts
        self.discount = _discount(counts)

    @classmethod
    def of(cls, contexts: np.ndarray, words: np.ndarray, length: int, bits: int) -> _Table:
        """Distinct (context, word) pairs of the given occurrences (contexts of ``length``
        tokens packed ``bits`` an id), counted. ``contexts`` may be overwritten."""
        if (length + 1) * bits <= 64:
            keys = contexts.view(np.uint64)
            keys <<= np.uint64(bits)
            keys |= words.astype(np.uint64)
            keys.sort()
            new = np.ones(len(keys), dtype=bool)
            np.not_equal(keys[1:], keys[:-1], out=new[1:])
            starts = np.flatnonzero(new)
            del new
            counts = np.diff(np.append(starts, len(keys)))
            keys = keys[starts]
            pairs_words = (keys & np.uint64((1 << bits) - 1)).astype(np.int32)
            keys >>= np.uint64(bits)
            return cls(keys.view(np.int64), pairs_words, counts.astype(np.float32))
        order = np.lexsort((words, contexts))
        contexts, words = contexts[order], words[order]
        new = np.ones(len(words), dtype=bool)
        new[1:] = (contexts[1:] != contexts[:-1]) | (words[1:] != words[:-1])
        starts = np.flatnonzero(new)
        counts = np.diff(np.append(starts, len(words)))
        return cls(contexts[starts], words[starts].astype(np.int32), counts.astype(np.float32))

    def followers(self, context: int) -> tuple[np.ndarray, np.ndarray]:
        """The words seen after ``context`` and their counts (in double precision)."""
        lo = int(np.searchsorted(self.contexts, context, "left"))
        hi = int(np.searchsorted(self.contexts, context, "right"))
        return self.words[lo:hi], self.counts[lo:hi].astype(np.float64)


def _discount(counts: np.ndarray) -> float:
    """Kneser-Ney's absolute discount from the counts of counts: n1 / (n1 + 2 n2)."""
    n1 = float(np.count_nonzero(counts == 1))
    n2 = float(np.count_nonzero(counts == 2))
    return n1 / (n1 + 2 * n2) if n1 and n2 else 0.75


class NotesNgram:
    """Interpolated Kneser-Ney over a vocabulary of ``vocab_size`` tokens, from ``tokens``."""

    def __init__(self, tokens: np.ndarray, vocab_size: int, order: int = ORDER):
        if vocab_size > MAX_VOCAB:
            raise ValueError(f"a notes n-gram handles vocabularies of up to {MAX_VOCAB:,} tokens")
        tokens = np.asarray(tokens, dtype=np.int32)
        if len(tokens) and (tokens.min() < 0 or tokens.max() >= vocab_size):
            raise ValueError("the notes' token ids do not fit the vocabulary")
        self.vocab_size = vocab_size
        self.bits = max(1, (vocab_size - 1).bit_length())  # of an id in a packed key
        self.order = max(1, min(order, ORDER, len(tokens)))
        self.tokens = len(tokens)
        # tables[n]: the words after contexts of n tokens. The longest context counts
        # occurrences; shorter ones count distinct left extensions ("continuation" counts),
        # as Kneser-Ney prescribes for the distributions that only back up a longer one.
        self.tables: dict[int, _Table] = {}

        def types(n: int) -> _Table:
            """The distinct n-grams of the notes: (n-1)-token context and word, counted."""
            count = len(tokens) - n + 1
            keys = _context_keys(tokens, count, n - 1, self.bits)
            return _Table.of(keys, tokens[n - 1 : n - 1 + count], n - 1, self.bits)

        if self.order > 1:
            self.tables[self.order - 1] = types(self.order)
        unigram = np.zeros(vocab_size, dtype=np.float64)
        for n in range(self.order - 2, -1, -1):
            # How many distinct tokens came before each n-token context + word.
            longer = self.tables[n + 1] if n + 1 == self.order - 1 else types(n + 2)
            if n == 0:
                np.add.at(unigram, longer.words, 1.0)
            else:
                # Drop the first token of each distinct (n+1)-token context.
                self.tables[n] = _Table.of(longer.contexts & ((1 << (self.bits * n)) - 1), longer.words, n, self.bits)
        if self.order == 1:
            np.add.at(unigram, tokens, 1.0)
        # The shortest distribution, itself smoothed towards uniform so no word has zero mass.
        total = unigram.sum()
        if total:
            d = _discount(unigram[unigram > 0])
            kept = np.maximum(unigram - d, 0.0)
            self._base = kept / total + (d * np.count_nonzero(unigram) / total) / vocab_size
        else:
            self._base = np.full(vocab_size, 1.0 / vocab_size)

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything the n-gram holds, as named arrays (``from_arrays`` takes them back)."""
        out = {"base": self._base, "shape": np.asarray([self.vocab_size, self.order, self.tokens], dtype=np.int64)}
        for n, table in self.tables.items():
            out |= {f"contexts{n}": table.contexts, f"words{n}": table.words, f"counts{n}": table.counts}
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> NotesNgram:
        """The n-gram ``arrays`` holds; ValueError when they are not an n-gram's."""
        ngram = cls.__new__(cls)
        try:
            ngram.vocab_size, ngram.order, ngram.tokens = (int(v) for v in arrays["shape"])
            ngram.bits = max(1, (ngram.vocab_size - 1).bit_length())
            ngram._base = np.asarray(arrays["base"], dtype=np.float64)
            ngram.tables = {}
            for n in range(1, ngram.order):
                contexts, words, counts = (arrays[f"{name}{n}"] for name in ("contexts", "words", "counts"))
                if not (contexts.dtype == np.int64 and words.dtype == np.int32 and counts.dtype == np.float32):
                    raise ValueError(f"the tables of order {n} have the wrong types")
                if not len(contexts) == len(words) == len(counts) or (
                    len(words) and int(words.max()) >= ngram.vocab_size
                ):
                    raise ValueError(f"the tables of order {n} do not fit")
                ngram.tables[n] = _Table(contexts, words, counts)
        except KeyError as e:
            raise ValueError(f"the n-gram lacks {e}") from None
        if not (
            0 < ngram.vocab_size <= MAX_VOCAB and 1 <= ngram.order <= ORDER and ngram._base.shape == (ngram.vocab_size,)
        ):
            raise ValueError("the n-gram's shape is inconsistent")
        return ngram

    @property
    def nbytes(self) -> int:
        return self._base.nbytes + sum(
            t.contexts.nbytes + t.words.nbytes + t.counts.nbytes for t in self.tables.values()
        )

    def distribution(self, context: list[int]) -> np.ndarray:
        """P(next token | the last tokens of ``context``) over the whole vocabulary (a new array)."""
        probs = self._base.copy()
        history = context[-(self.order - 1) :] if self.order > 1 else []
        for n in range(1, len(history) + 1):
            table = self.tables[n]
            key = 0
            for token in history[-n:]:
                key = (key << self.bits) | int(token)
            words, counts = table.followers(key)
            if not len(words):
                break  # a context unseen at this length is unseen at any longer one
            total = counts.sum()
            d = table.discount
            probs *= d * len(words) / total
            probs[words] += np.maximum(counts - d, 0.0) / total
        return probs
