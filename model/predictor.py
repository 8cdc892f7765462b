"""The Predictor: text before the cursor plus the typed part of a word, to ranked words.

It keeps the network state for the text it last saw. A new query re-reads only what
changed: appending text costs one network step per new token; a change further back rolls
back to the nearest kept state; a context with nothing in common (or a change older than
the kept states) restarts from a bounded window of the most recent tokens, so a long
document costs no more per keystroke than a short one.

The distribution for a context is computed once and then only filtered by prefix, so
keystrokes inside a word never run the network. Words of the document are mixed into the
network's distribution by two caches (Grave et al., 2016, "Improving neural language models
with a continuous cache"): the continuous cache proper, which gives each earlier word a
share by how alike the network's output before it is to its output now (the word that
followed a similar context is likely again), and a plain count of the document's words.
The caches are also how words the vocabulary lacks (names, jargon) get a probability.
A personal model's n-gram of the notes it learned (``ngram.py``) is mixed in too, before
the caches.

Between keystrokes a caller may ``look_ahead`` at the word being typed: the network reads
it (and the marks most likely to follow it) as if it were finished, so that when a space or
a mark ends the word, the step and the output layer are already done. The result is only
used when the context then continues from the same state with the same tokens, so it never
changes a suggestion; it only moves the work into the pause between two keys.
"""

from __future__ import annotations

import bisect
import heapq
from dataclasses import dataclass

import numpy as np
import torch

from .config import PredictorConfig
from .network import LanguageModel, State
from .text import SplitText
from .tokenize import PARAGRAPH, Token, is_word, iter_tokens, join_tokens, worth_offering
from .vocab import Vocabulary

# The most probable words usually stand above this probability; picking them out by a
# comparison is several times faster than a top-k over the whole vocabulary (see ``_top``;
# on a few thousand words or fewer, top-k is as fast).
_LIKELY = 1e-3


def _top(probs: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
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


@dataclass(frozen=True, slots=True)
class _ReadAhead:
    """One token read ahead: from the state ``before``, the network's ``outputs`` and state
    ``after``, and its distribution for the token after that (None if not computed)."""

    before: State
    token_id: int
    outputs: torch.Tensor
    after: State
    probs: np.ndarray | None


# Tokens read ahead kept per Predictor: the word being typed, the marks after it, and the
# tokens a rollback just dropped (a break or a mark that may yet grow is read again when the
# text after it arrives: from the same state it gives the same one, and the word read ahead
# after it still fits).
_MAX_READ_AHEAD = 8
# Marks read ahead after a word, at most: the three likeliest catch most of the single marks
# that end a word (``benchmarks/predictor_latency.py`` counts the word ends found read ahead).
LOOK_AHEAD_MARKS = 3
# A mark the network gives less than this after the word is not read ahead: it seldom comes,
# and leaving such marks out spares a fifth of the look-ahead's steps at the same hit rate.
_MARK_WORTH_READING = 0.01


@dataclass(slots=True)
class _Entry:
    token: Token
    id: int
    word: bool


def _settled(entry: _Entry, text: SplitText, unchanged: int) -> bool:
    """Whether ``entry``'s token stays the same whatever follows the first ``unchanged`` chars."""
    end = entry.token.end
    if end >= unchanged:
        return False
    tok = entry.token.text
    if entry.word:
        # A word continues only through an apostrophe followed by a word character.
        return text.char(end) not in "'’" or end + 2 <= unchanged
    if tok[0] == "\n":
        # A break absorbs following spaces and breaks until something visible arrives.
        return not text.slice(end, unchanged).isspace()
    return True  # a run of one mark ends at the first different character


def _tokens_between(text: SplitText, start: int, stop: int) -> list[Token]:
    """The tokens of ``text[start:stop]`` where the full scan starts a token at ``start`` and
    none spans ``stop`` (whitespace before it), with their offsets in ``text``."""
    split = len(text.head)
    if stop <= split:
        return list(iter_tokens(text.head, start, stop))
    if start >= split:
        return [
            Token(t.text, t.start + split, t.end + split) for t in iter_tokens(text.tail, start - split, stop - split)
        ]
    return [Token(t.text, t.start + start, t.end + start) for t in iter_tokens(text.slice(start, stop))]


class Predictor:
    """Ranked next-word suggestions for one evolving context (one document, say)."""

    def __init__(self, model: LanguageModel, vocab: Vocabulary, config: PredictorConfig | None = None):
        if len(vocab) != model.config.vocab_size:
            raise ValueError("vocabulary and model disagree on the vocabulary size")
        self.model = model.prepare_for_inference()
        self.vocab = vocab
        self.config = config or PredictorConfig()
        if self.config.cache_size < self.config.context_tokens:
            raise ValueError("cache_size must be at least context_tokens")
        # Characters that surely hold ``cache_size`` tokens (tokens average under 6 characters).
        self._window_chars = 12 * self.config.cache_size
        # The continuous cache never reaches further back than the word counts (which also
        # hold the words the vocabulary lacks).
        self._key_rows = (
            max(1, min(self.config.neural_cache_size, self.config.cache_size))
            if self.config.neural_cache_weight > 0
            else 0
        )
        self._notes = self.model.notes_ngram if self.config.notes_weight > 0 else None
        # Every context starts as if after a paragraph break: the start of a document.
        output, state = self.model.step(torch.tensor([vocab.id(PARAGRAPH)]), self.model.initial_state())
        self._start = (state, output)
        self.reset()

    # ----- public -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the context (frees its state)."""
        self._text = SplitText("")
        self._entries: list[_Entry] = []
        self._lstm_start = 0  # entries before this index feed the cache only
        self._states: dict[int, tuple[State, torch.Tensor]] = {}
        self._cache_counts = np.zeros(len(self.vocab), dtype=np.float32)
        self._cache_total = 0
        self._oov_counts: dict[str, int] = {}
        self._oov_sorted: list[str] = []
        self._oov_total = 0  # the sum of _oov_counts
        # The continuous cache: entry i's key (the network's output before reading it, unit
        # length) lives in row i % rows while i is among the newest ``rows`` entries; a row's id
        # is -1 when it holds no word.
        self._keys = np.zeros((self._key_rows, self.model.config.emb_dim), dtype=np.float32)
        self._key_ids = np.full(self._key_rows, -1, dtype=np.int64)
        self._key_oov: list[str | None] = [None] * self._key_rows
        self._dist: np.ndarray | None = None
        self._p_unk = 0.0
        self._shares = (1.0, 0.0, 0.0)  # network, word counts, continuous cache
        self._neural_oov: dict[str, float] = {}
        self._ranked: dict[str, list[Suggestion]] = {}
        self._ahead: dict[tuple[int, int], _ReadAhead] = {}  # by (id of the state before, token id)
        # The network's own distribution (before the caches) for a state: a look-ahead's, or the
        # last one computed. The same state comes back when a token is read again after a
        # rollback (the mark before a space just typed), and then costs no output layer.
        self._network_probs: tuple[State, np.ndarray] | None = None
        self.read_ahead_hits = 0  # tokens whose network step was done already (read ahead, or read before a rollback)
        self.network_reads = 0  # calls of the network to read the context (look-aheads not counted)

    def predict(self, context: str | SplitText, prefix: str = "", k: int = 5) -> list[Suggestion]:
        """The ``k`` most probable words that start with ``prefix``, given ``context``.

        ``context`` is the text before the word being typed (a ``SplitText`` whose head is
        the same string object as last time spares comparing that head); ``prefix`` is the
        part of that word typed so far. Probabilities are of the whole word, so they sum to
        at most 1. Inside a word, words whose acceptance would save no key are left out
        (``tokenize.worth_offering``): ``prefix`` itself, and a word one plain key longer.
        """
        self.sync(context)
        return self.ranked(prefix, k)

    def sync(self, context: str | SplitText) -> None:
        """Bring the network state up to ``context``, re-reading only what changed."""
        text = context if isinstance(context, SplitText) else SplitText(context)
        if text.same(self._text):
            return
        unchanged = self._text.common_prefix_length(text)
        keep = self._settled_count(unchanged)
        resume = self._entries[keep - 1].token.end if keep else 0
        # Re-read from the change unless that means more than the window a fresh start reads.
        if (
            keep < self._lstm_start
            or len(self._entries) > self.config.max_tokens
            or len(text) - resume > self._window_chars
        ):
            self._rebuild(text)
        else:
            self._truncate(keep)
            self._append(_tokens_between(text, resume, len(text)))
        # What was read ahead for the old context and not used now is of no more use (and a
        # distribution over the vocabulary apiece: not to be kept per open document).
        self._ahead.clear()
        self._text = text
        self._dist = None
        self._ranked.clear()

    @property
    def window_chars(self) -> int:
        """How many characters before the end a fresh start reads at most (the tokens of that
        tail, ``cache_size`` of them at most): a context that changed further back than this is
        read afresh from its tail rather than token by token from the change."""
        return self._window_chars

    @property
    def has_distribution(self) -> bool:
        """Whether the distribution for the current context is computed (suggestions for any
        prefix then cost only a filter)."""
        return self._dist is not None

    def ranked(self, prefix: str, k: int) -> list[Suggestion]:
        """Suggestions for the current context (see ``predict``)."""
        return self._ranked_words(prefix, k, typed=False)

    def _ranked_words(self, prefix: str, k: int, typed: bool) -> list[Suggestion]:
        """The ``k`` most probable words starting with ``prefix``: only those worth offering
        (``worth_offering``: not ``prefix`` itself, nor a word one plain key away), unless
        ``typed``, for a phrase, which may begin by ending the word as typed."""
        key = f"{k}\0{int(typed)}\0{prefix}"
        cached = self._ranked.get(key)
        if cached is not None:
            return cached
        dist = self.distribution()
        if prefix:
            lo, hi = self.vocab.word_range(prefix)
            ids = self.vocab.sorted_word_ids[lo:hi]
            if not typed:
                lengths, n = self.vocab.sorted_word_lengths[lo:hi], len(prefix)
                ids = ids[(lengths > n + 1) | ((lengths == n + 1) & ~self.vocab.sorted_word_plain_end[lo:hi])]
            ids = ids[_top(dist[ids], k)]
        else:  # every word: leaving out the rest is cheaper than gathering the words
            ids = _top(dist, k, self.vocab.word_mask)
        found = [
            Suggestion(self.vocab.tokens[i], float(p)) for i, p in zip(ids.tolist(), dist[ids].tolist()) if p > 0.0
        ]
        found.extend(self._oov_suggestions(prefix, k, typed))
        found.sort(key=lambda s: (-s.probability, s.word))
        result = found[:k]
        if len(self._ranked) > 256:
            self._ranked.clear()
        self._ranked[key] = result
        return result

    @torch.inference_mode()
    def look_ahead(self, word: str, marks: int = LOOK_AHEAD_MARKS) -> bool:
        """Read ``word`` (the part of a word typed so far) as if it were finished, and then
        each of the ``marks`` punctuation marks or breaks the network finds likeliest after
        it (those of at least 1%), so that the next query, after the word ends, finds those
        steps done. For the pause between keystrokes; the suggestions stay exactly the same.
        What was read ahead already is not read again (``marks=2`` after ``marks=1`` reads one
        more mark). False when there is nothing to do (``word`` is not one word token, or the
        state is not kept)."""
        tokens = list(iter_tokens(word))
        if len(tokens) != 1 or tokens[0].text != word or not is_word(word):
            return False
        last = len(self._entries) - 1
        if last >= self._lstm_start and last not in self._states:
            return False
        state, _ = self._current()
        ahead = self._read_ahead(state, self.vocab.index.get(word, self.vocab.unk_id))
        if marks > 0:
            likely = np.where(self.vocab.word_mask, 0.0, ahead.probs)
            likely[self.vocab.unk_id] = 0.0
            for mark in _top(likely, marks).tolist():
                if likely[mark] >= _MARK_WORTH_READING:
                    self._read_ahead(ahead.after, mark)
        return True

    def _read_ahead(self, state: State, token_id: int) -> _ReadAhead:
        ahead = self._found_ahead(state, token_id)
        if ahead is not None and ahead.probs is not None:
            return ahead
        outputs, after = self.model.read(torch.tensor([token_id]), state)
        ahead = _ReadAhead(state, token_id, outputs, after, self.model.next_probs(outputs)[0].numpy())
        self._keep_ahead((id(state), token_id), ahead)
        return ahead

    def _found_ahead(self, state: State, token_id: int) -> _ReadAhead | None:
        """The token read ahead from this very state, if it was."""
        ahead = self._ahead.get((id(state), token_id))
        return ahead if ahead is not None and ahead.before is state else None

    def _keep_ahead(self, key: tuple[int, int], ahead: _ReadAhead) -> None:
        self._ahead.pop(key, None)
        self._ahead[key] = ahead
        while len(self._ahead) > _MAX_READ_AHEAD:
            del self._ahead[next(iter(self._ahead))]

    def distribution(self) -> np.ndarray:
        """Probabilities over the vocabulary for the next token, with the document caches mixed in."""
        if self._dist is None:
            state, output = self._current()
            known = self._network_probs
            if known is None or known[0] is not state:
                # Single precision throughout: sums of 28,000 probabilities stay within 1e-6 of 1.
                known = self._network_probs = (state, self.model.next_probs(output)[0].numpy())
            probs = known[1].copy()  # mixed below; the network's own is kept as it is
            if self._notes is not None:
                probs *= 1.0 - self.config.notes_weight
                probs += self.config.notes_weight * self._notes.distribution(self._recent_ids())
            self._p_unk = float(probs[self.vocab.unk_id])
            counts_share = self.config.cache_weight if self._cache_total else 0.0
            neural = self._neural_cache(output)
            neural_share = self.config.neural_cache_weight if neural is not None else 0.0
            self._shares = (1.0 - counts_share - neural_share, counts_share, neural_share)
            if counts_share or neural_share:
                probs *= self._shares[0]
            if counts_share:
                probs += (counts_share / self._cache_total) * self._cache_counts
            if neural is not None:
                ids, weights = neural
                np.add.at(probs, ids, neural_share * weights)
            self._dist = probs
        return self._dist

    def _recent_ids(self) -> list[int]:
        """The ids of the last few tokens of the context, as the notes' n-gram reads them
        (a document starts after a paragraph break, as in training)."""
        n = self._notes.order - 1 if self._notes is not None else 0
        ids = [entry.id for entry in self._entries[-n:]] if n else []
        if len(ids) < n:
            ids.insert(0, self.vocab.id(PARAGRAPH))
        return ids

    def _neural_cache(self, output: torch.Tensor) -> tuple[np.ndarray, np.ndarray] | None:
        """The continuous cache's distribution given the network's ``output``, sparse: word ids
        and their weights, one pair per cached word (None when it holds none); its share of
        words the vocabulary lacks goes to ``_neural_oov``."""
        self._neural_oov = {}
        rows = np.flatnonzero(self._key_ids >= 0)
        if not len(rows):
            return None
        query = output[0].numpy()
        query = query / max(float(np.linalg.norm(query)), 1e-9)
        # Scored over every row (cheaper than gathering the keys); empty rows are then dropped.
        scores = (self._keys @ query)[rows]
        scores *= self.config.neural_cache_sharpness
        weights = np.exp(scores - scores.max())
        weights /= weights.sum()
        ids = self._key_ids[rows]
        for n in np.flatnonzero(ids == self.vocab.unk_id).tolist():
            word = self._key_oov[rows[n]]
            self._neural_oov[word] = self._neural_oov.get(word, 0.0) + float(weights[n])
        return ids, weights

    @torch.inference_mode()
    def complete_phrase(
        self, context: str | SplitText, prefix: str = "", max_words: int = 4, min_probability: float = 0.2
    ) -> tuple[str, float]:
        """A greedy phrase continuing the word being typed: the rest of the current word
        (or the next word) and then following words while each is at least
        ``min_probability`` likely. Returns the text to insert after ``prefix`` and the
        phrase's probability. Stops at punctuation and line breaks."""
        self.sync(context)
        best = self._ranked_words(prefix, 1, typed=True)
        if not best or best[0].probability < min_probability:
            return "", 0.0
        words = [best[0].word]
        probability = best[0].probability
        state, output = self._current()
        output, state = self.model.step(torch.tensor([self.vocab.id(words[0])]), state)
        while len(words) < max_words:
            probs = self.model.next_log_probs(output)[0].exp()
            p, token_id = (float(v) for v in probs.max(dim=0))
            token = self.vocab.tokens[int(token_id)]
            if p < min_probability or not is_word(token) or token_id == self.vocab.unk_id:
                break
            words.append(token)
            probability *= p
            output, state = self.model.step(torch.tensor([int(token_id)]), state)
        return words[0][len(prefix) :] + join_tokens(words[1:], after=words[0]), probability

    @torch.inference_mode()
    def generate(
        self,
        context: str | SplitText,
        num_tokens: int = 30,
        temperature: float = 1.0,
        top_k: int = 0,
        seed: int | None = None,
    ) -> str:
        """Sample ``num_tokens`` tokens after ``context`` and return them as text.

        ``temperature`` below 1 sharpens the distribution (0 picks the most probable token),
        above 1 flattens it; ``top_k`` > 0 samples only among the k most probable tokens.
        The unknown token is never produced."""
        if temperature < 0:
            raise ValueError("temperature must be at least 0")
        self.sync(context)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        state, output = self._current()
        tokens: list[str] = []
        for _ in range(num_tokens):
            # Log-probabilities are the logits shifted by a constant: the same softmax.
            logits = self.model.next_log_probs(output)[0]
            logits[self.vocab.unk_id] = float("-inf")
            if temperature == 0:
                token_id = int(logits.argmax())
            else:
                logits = logits / temperature
                if 0 < top_k < logits.numel():
                    cutoff = torch.topk(logits, top_k).values[-1]
                    logits[logits < cutoff] = float("-inf")
                token_id = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=generator))
            tokens.append(self.vocab.tokens[token_id])
            output, state = self.model.step(torch.tensor([token_id]), state)
        end = len(self._text)
        return join_tokens(tokens, after=self._text.slice(max(0, end - 1), end))

    # ----- context bookkeeping --------------------------------------------------------------------
    def _settled_count(self, unchanged: int) -> int:
        """How many leading entries are certainly the same in any text sharing ``unchanged`` chars."""
        entries = self._entries
        n = len(entries)
        if n and entries[-1].token.end >= unchanged:
            # Bisect for the first entry that ends at or after the change.
            lo, hi = 0, n
            while lo < hi:
                mid = (lo + hi) // 2
                if entries[mid].token.end < unchanged:
                    lo = mid + 1
                else:
                    hi = mid
            n = lo
        while n and not _settled(entries[n - 1], self._text, unchanged):
            n -= 1
        return n

    def _current(self) -> tuple[State, torch.Tensor]:
        last = len(self._entries) - 1
        return self._states[last] if last >= self._lstm_start else self._start

    def _rebuild(self, text: SplitText) -> None:
        """Start over from a bounded window at the end of ``text``."""
        self.reset()
        tokens = self._window_tokens(text)
        self._lstm_start = max(0, len(tokens) - self.config.context_tokens)
        self._append(tokens)

    def _window_tokens(self, text: SplitText) -> list[Token]:
        """The last ``cache_size`` tokens of ``text`` (all of them in a shorter one, and only
        those within ``window_chars`` of its end), as the full scan would find them.

        Scanned backwards in stretches that each start where the full scan starts a token:
        prose averages under 5 characters a token, so the first stretch usually holds enough
        with little to spare; each further one is sized by the density seen so far."""
        need = self.config.cache_size
        limit = self._window_start(text, self._window_chars)
        tokens: list[Token] = []
        stop, chars = len(text), 5 * need
        while len(tokens) < need and stop > limit:
            start = max(limit, self._window_start(text, len(text) - stop + chars))
            if start >= stop:  # nowhere to cut in that stretch: take the rest of the window
                start = limit
            tokens[:0] = _tokens_between(text, start, stop)
            stop = start
            chars = int((need - len(tokens)) * 1.2 * (len(text) - stop) / max(1, len(tokens))) + 64
        return tokens[-need:]

    def _window_start(self, text: SplitText, chars: int) -> int:
        """A character offset where the full scan also starts a token, about ``chars`` before
        the end."""
        length = len(text)
        pos = length - chars
        if pos <= 0:
            return 0
        # Just after a whitespace character that is followed by a visible one, the full scan
        # always starts a new token: whitespace is never part of a word or mark.
        while pos < length:
            if text.char(pos - 1).isspace() and not text.char(pos).isspace():
                return pos
            pos += 1
        return length

    def _truncate(self, keep: int) -> None:
        while len(self._entries) > keep:
            index = len(self._entries) - 1
            entry = self._entries.pop()
            self._cache_remove(entry)
            dropped = self._states.pop(index, None)
            before = self._states.get(index - 1) if index - 1 >= self._lstm_start else self._start
            if dropped is not None and before is not None:
                # Read again from the same state, the token gives this same state back.
                self._keep_ahead(
                    (id(before[0]), entry.id), _ReadAhead(before[0], entry.id, dropped[1], dropped[0], None)
                )
            if self._key_rows:
                self._key_ids[index % self._key_rows] = -1
            back = index - self.config.cache_size
            if back >= 0:
                self._cache_add(self._entries[back])

    def _append(self, tokens: list[Token]) -> None:
        entries = self._entries
        last = len(entries) - 1
        # The newest kept state at or before the last entry (states past a rollback are gone).
        while last >= self._lstm_start and last not in self._states:
            last -= 1
        state, output = self._states[last] if last >= self._lstm_start else self._start
        pending = list(range(last + 1, len(entries)))
        # A fresh start files thousands of tokens here: the lookups are bound once.
        lookup, unk, word_flags, cache_size = (
            self.vocab.index.get,
            self.vocab.unk_id,
            self.vocab.word_flags,
            self.config.cache_size,
        )
        for token in tokens:
            token_id = lookup(token.text, unk)
            entry = _Entry(token, token_id, word_flags[token_id] if token_id != unk else is_word(token.text))
            entries.append(entry)
            index = len(entries) - 1
            back = index - cache_size
            if back >= 0:
                self._cache_remove(entries[back])
            self._cache_add(entry)
            pending.append(index)
        # Back near the start of the window the network read (an edit well above the end of a
        # document just opened), it would read on with little context.
        short = self._lstm_start > 0 and len(entries) - self._lstm_start < self.config.context_tokens // 2
        if len(pending) > self.config.context_tokens or short:
            # More to read than a fresh context reads, or too little read before: start over
            # from the window a fresh context reads.
            self._lstm_start = max(0, len(entries) - self.config.context_tokens)
            self._states.clear()
            state, output = self._start
            pending = list(range(self._lstm_start, len(entries)))
            if self._key_rows:
                # Keys are stored for the tokens read; older rows would keep far older words.
                self._key_ids[:] = -1
                self._key_oov = [None] * self._key_rows
        keep_from = len(entries) - self.config.keep_states
        kept = lambda i: i >= keep_from or i % self.config.snapshot_every == 0  # noqa: E731
        # Typing keeps a state per token for the newest few and one every ``snapshot_every``,
        # so edits roll back cheaply. A bulk read (a fresh start, a paste) goes through the
        # network in one call up to its last token, then one step, and keeps only those two
        # states: without the quantized LSTM each call of ``nn.LSTM`` costs about 5 ms before
        # its first token (it re-lays out the weights), so reading a 256-token window in runs
        # between snapshots took 4 calls and 16 one-token steps. The state before the last token is the
        # one the next keystroke usually needs (the last word may still grow). Typing on keeps
        # per-token states and snapshots again from there.
        final = pending[-1] if pending else -1
        bulk = len(pending) > 2 * self.config.keep_states
        ends_run = (lambda i: i >= final - 1) if bulk else kept  # noqa: E731
        run: list[int] = []
        for index in pending:
            run.append(index)
            if ends_run(index) or index == final:
                outputs, state = self._read([entries[i].id for i in run], state)
                # Each token's key is the output just before it: the one before the run, then the run's own.
                self._store_keys(run, torch.cat([output, outputs[:-1]]))
                output = outputs[-1:]
                run = []
                if kept(index):
                    self._states[index] = (state, output)
        # Thin out the per-token states that are no longer among the newest.
        for index in [i for i in self._states if not kept(i)]:
            del self._states[index]

    def _read(self, ids: list[int], state: State) -> tuple[torch.Tensor, State]:
        """The network's outputs ``[len(ids), emb_dim]`` after each of ``ids``, read from
        ``state``, and the new state (read ahead already, for one token, if ``look_ahead``
        did it)."""
        if len(ids) == 1 and self._ahead:
            ahead = self._found_ahead(state, ids[0])
            if ahead is not None:
                self.read_ahead_hits += 1
                if ahead.probs is not None:
                    self._network_probs = (ahead.after, ahead.probs)
                return ahead.outputs, ahead.after
        self.network_reads += 1
        return self.model.read(torch.tensor(ids), state)

    def _store_keys(self, indices: list[int], outputs: torch.Tensor) -> None:
        """Keep the outputs before the word entries among ``indices`` as continuous-cache keys."""
        rows = self._key_rows
        if not rows:
            return
        newest = len(self._entries) - rows
        chosen = []
        for n, index in enumerate(indices):
            if index < newest:
                continue
            if self._entries[index].word:
                chosen.append(n)
            else:  # a punctuation or break token: its row's older word leaves the cache
                self._key_ids[index % rows] = -1
        if not chosen:
            return
        vectors = outputs.numpy()
        if len(chosen) < len(indices):
            vectors = vectors[chosen]
        # Unit length: the cache compares contexts by their cosine.
        vectors = vectors / np.maximum(np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None], 1e-9)
        for n, vector in zip(chosen, vectors):
            entry = self._entries[indices[n]]
            row = indices[n] % rows
            self._keys[row] = vector
            self._key_ids[row] = entry.id
            self._key_oov[row] = entry.token.text if entry.id == self.vocab.unk_id else None

    def _cache_add(self, entry: _Entry) -> None:
        if not entry.word:
            return
        self._cache_total += 1
        if entry.id != self.vocab.unk_id:
            self._cache_counts[entry.id] += 1
            return
        word = entry.token.text
        count = self._oov_counts.get(word, 0)
        if count == 0:
            bisect.insort(self._oov_sorted, word)
        self._oov_counts[word] = count + 1
        self._oov_total += 1

    def _cache_remove(self, entry: _Entry) -> None:
        if not entry.word:
            return
        self._cache_total -= 1
        if entry.id != self.vocab.unk_id:
            self._cache_counts[entry.id] -= 1
            return
        word = entry.token.text
        count = self._oov_counts[word] - 1
        self._oov_total -= 1
        if count:
            self._oov_counts[word] = count
        else:
            del self._oov_counts[word]
            del self._oov_sorted[bisect.bisect_left(self._oov_sorted, word)]

    def _oov_suggestions(self, prefix: str, k: int, typed: bool) -> list[Suggestion]:
        """The ``k`` most probable document words the vocabulary lacks that start with
        ``prefix`` (more on ties; only those worth offering unless ``typed``, as in
        ``_ranked_words``): they share the unknown token's probability by their counts, plus
        their share of the cache."""
        if not self._oov_counts:
            return []
        lo = bisect.bisect_left(self._oov_sorted, prefix)
        hi = bisect.bisect_left(self._oov_sorted, prefix + "\U0010ffff", lo)
        if lo == hi:
            return []
        self.distribution()  # sets the network's own probability of <unk> and the shares
        network, counts_share, neural_share = self._shares
        counts, neural = self._oov_counts, self._neural_oov
        offered = (lambda w: True) if typed or not prefix else (lambda w: worth_offering(w, prefix))  # noqa: E731
        words = [w for w in self._oov_sorted[lo:hi] if offered(w)]
        if len(words) > k:
            # A word's probability grows with its count, plus its continuous-cache share: the k
            # most probable are among the k most frequent (the alphabetically first on ties, as
            # the ranking breaks them) and the words that share. A note full of names need not
            # score them all at every word.
            frequent = heapq.nlargest(k, words, key=counts.__getitem__)
            words = list(
                dict.fromkeys([*frequent, *(w for w in neural if w.startswith(prefix) and w in counts and offered(w))])
            )
        p_unk = self._p_unk
        found = []
        for word in words:
            count = counts[word]
            probability = network * p_unk * count / self._oov_total + counts_share * count / self._cache_total
            found.append(Suggestion(word, float(probability + neural_share * neural.get(word, 0.0))))
        return found
