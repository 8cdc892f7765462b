"""A person's notes as the Predictor mixes them in: an n-gram over the vocabulary and the
notes' own new words, and how often the notes have each word written in parts.

The notes come from two places: those a personal model was trained on (kept in its
checkpoint as token ids), and those the language server reads from the workspace and learns as
they are written (kept by the server as token strings, since they outlive any one model). A
word the vocabulary lacks gets an id of its own past the vocabulary's end, so the n-gram
learns how it is used and offers it whole, with no training run.
"""

from __future__ import annotations

import bisect
import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .ngram import MAX_TOKENS, NotesNgram
from .pieces import is_continuation, surface, word_tokens
from .tokenize import PARAGRAPH, is_word
from .vocab import Vocabulary

# A table of token strings and the token ids of each of its files, as a store keeps them.
TokenTable = tuple[Sequence[str], Sequence[np.ndarray]]


class Notes:
    """What the notes say about the next word, for one vocabulary (``build`` makes one)."""

    def __init__(
        self,
        vocab: Vocabulary,
        ngram: NotesNgram | None,
        new_words: list[str] | None = None,
        counts: np.ndarray | None = None,
        part_words: Counter[str] | None = None,
        from_workspace: bool = False,
    ):
        """``new_words``: the words the vocabulary lacks, in code-point order (the n-th has id
        ``len(vocab) + n``); ``counts``: how often the notes have each token (the vocabulary's
        and the new words'); ``part_words``: how often they have each word written in parts."""
        self.vocab, self.ngram = vocab, ngram
        self.from_workspace = from_workspace  # holds notes the network was not trained on
        self.new_words = new_words or []
        self.new_index = {w: len(vocab) + n for n, w in enumerate(self.new_words)}
        self.counts = counts
        self.part_words = part_words or Counter()
        self.sorted_part_words = sorted(self.part_words)  # for look-ups by prefix
        self._part_counts = np.fromiter(  # the count of each, in that order
            (self.part_words[w] for w in self.sorted_part_words), dtype=np.int64, count=len(self.sorted_part_words)
        )
        self.first_parts: Counter[str] = Counter()  # a first part -> how many words in parts it began
        for word, count in self.part_words.items():
            self.first_parts[word_tokens(word)[0]] += count

    @classmethod
    def build(cls, vocab: Vocabulary, tables: Iterable[TokenTable] = (), trained: np.ndarray | None = None) -> Notes:
        """``tables``: notes as token strings (a table of strings and each file's ids into it);
        ``trained``: the token ids of the notes a personal model learned, if any. The newest
        ``ngram.MAX_TOKENS`` tokens in all are kept, the trained notes first."""
        size = len(vocab)
        para = np.asarray([vocab.id(PARAGRAPH)], dtype=np.int32)
        new_index: dict[str, int] = {}
        pieces: list[np.ndarray] = [np.asarray(trained, dtype=np.int32)] if trained is not None else []
        part_words: Counter[str] = Counter()
        learned = False  # any file of notes the network was not trained on
        for words, files in tables:
            learned = learned or len(files) > 0
            ids = np.fromiter((vocab.index.get(w, -1) for w in words), dtype=np.int32, count=len(words))
            used = np.zeros(len(words), dtype=bool)  # a table may keep words no file has any more
            for file in files:
                used[file] = True
            for n in np.flatnonzero((ids < 0) & used).tolist():
                word = words[n]
                # A word the vocabulary lacks gets an id of its own; a mark or a part of a word it lacks stays unknown.
                ids[n] = (
                    new_index.setdefault(word, size + len(new_index))
                    if is_word(word) and not is_continuation(word)
                    else vocab.unk_id
                )
            continuing = np.fromiter((is_continuation(w) for w in words), dtype=bool, count=len(words))
            for file in files:
                pieces += [para, ids[file]]
                if continuing[file].any():
                    _count_part_words(words, file, continuing, part_words)
        tokens = np.concatenate(pieces)[-MAX_TOKENS:] if pieces else np.zeros(0, dtype=np.int32)
        # The new words in code-point order, renumbered so: look-ups by prefix are a slice.
        new_words = sorted(new_index)
        renumber = np.arange(size + len(new_index), dtype=np.int32)
        renumber[[new_index[w] for w in new_words]] = np.arange(size, size + len(new_words), dtype=np.int32)
        tokens = renumber[tokens]
        vocab_size = size + len(new_words)
        ngram = NotesNgram(tokens, vocab_size) if len(tokens) else None
        counts = np.bincount(tokens, minlength=vocab_size).astype(np.int32)
        return cls(vocab, ngram, new_words, counts, part_words, from_workspace=learned)

    def arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The notes as named arrays and what goes with them (JSON-able): ``from_arrays`` takes
        them back, for the same vocabulary."""
        arrays = {f"ngram.{k}": v for k, v in (self.ngram.arrays() if self.ngram is not None else {}).items()}
        if self.counts is not None:
            arrays["counts"] = self.counts
        about = {
            "new_words": self.new_words,
            "part_words": dict(self.part_words),
            "from_workspace": self.from_workspace,
        }
        return arrays, about

    @classmethod
    def from_arrays(cls, vocab: Vocabulary, arrays: dict[str, np.ndarray], about: dict[str, Any]) -> Notes:
        """The notes ``arrays`` and ``about`` hold (``arrays``); ValueError when they are not
        notes of ``vocab``."""
        new_words, part_words = about.get("new_words"), about.get("part_words")
        if not (isinstance(new_words, list) and all(isinstance(w, str) for w in new_words)):
            raise ValueError("its new words are not a list of words")
        if not (isinstance(part_words, dict) and all(isinstance(n, int) for n in part_words.values())):
            raise ValueError("its words in parts are not counted")
        prefix = "ngram."
        ngram_arrays = {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}
        ngram = NotesNgram.from_arrays(ngram_arrays) if ngram_arrays else None
        counts = arrays.get("counts")
        size = len(vocab) + len(new_words)
        if (ngram is not None and ngram.vocab_size != size) or (counts is not None and counts.shape != (size,)):
            raise ValueError("they are not of this vocabulary")
        workspace = bool(about.get("from_workspace"))
        return cls(vocab, ngram, new_words, counts, Counter(part_words), from_workspace=workspace)

    @property
    def nbytes(self) -> int:
        return (self.ngram.nbytes if self.ngram is not None else 0) + (
            self.counts.nbytes if self.counts is not None else 0
        )

    def count(self, token_id: int) -> int:
        """How often the notes have the token ``token_id`` (0 when they are a model's trained notes)."""
        return int(self.counts[token_id]) if self.counts is not None else 0

    def context_ids(self, ids: list[int], texts: list[str]) -> list[int]:
        """The n-gram's ids of context tokens: ``ids`` (the vocabulary's), where the vocabulary
        lacks a word (the unknown id), the notes' own id of its text (``texts``)."""
        unk, index = self.vocab.unk_id, self.new_index
        if not index:
            return ids
        return [index.get(text, unk) if i == unk else i for i, text in zip(ids, texts)]

    def new_words_between(self, lo: str, hi: str) -> tuple[int, int]:
        """The positions in ``new_words`` of those from ``lo`` up to, not including, ``hi``."""
        start = bisect.bisect_left(self.new_words, lo)
        return start, bisect.bisect_left(self.new_words, hi, start)

    def top_part_words(self, spans: Iterable[tuple[str, str]], k: int, keep: Callable[[str], bool]) -> list[str]:
        """The ``k`` most frequent of the notes' words in parts that lie in one of ``spans``
        (``lo`` up to, not including, ``hi``) and that ``keep`` accepts. The notes of a large
        Korean workspace have hundreds of thousands such words: only the most frequent of a
        span are looked at, more only where too few of them are kept."""
        words = self.sorted_part_words
        found: list[str] = []
        for lo, hi in spans:
            start = bisect.bisect_left(words, lo)
            counts = self._part_counts[start : bisect.bisect_left(words, hi, start)]
            want = k + 8
            while True:
                n = min(len(counts), want)
                top = np.argpartition(counts, len(counts) - n)[len(counts) - n :] if n < len(counts) else np.arange(n)
                top = top[np.argsort(-counts[top], kind="stable")]
                kept = [w for i in top.tolist() if keep(w := words[start + i])]
                if len(kept) >= k or n == len(counts):
                    break
                want *= 8
            found += kept[:k]
        return heapq.nlargest(k, found, key=self.part_words.__getitem__)


class NotesSource:
    """The notes the Predictors of one model mix in, replaced as they are learned (a reference
    swapped whole, so a reader on another thread sees either the old notes or the new)."""

    def __init__(self, notes: Notes | None = None):
        self.current = notes


def _count_part_words(words: Sequence[str], file: np.ndarray, continuing: np.ndarray, into: Counter[str]) -> None:
    """Count the words in parts (a word token, then continuations) of one file's tokens."""
    cont = continuing[file]
    starts = np.flatnonzero(cont & ~np.concatenate(([False], cont[:-1])))
    for start in starts.tolist():
        if start == 0 or not is_word(words[file[start - 1]]):
            continue
        end = start
        while end < len(file) and cont[end]:
            end += 1
        into[words[file[start - 1]] + "".join(surface(words[i]) for i in file[start:end].tolist())] += 1
