"""Context tracking and rollback: the tokens of the text before the cursor, and the network
states along them, kept up to date incrementally.

A new text re-reads only what changed: appending costs one network step per new token; a
change further back rolls back to the nearest kept state; a text with nothing in common (or
a change older than the kept states) restarts from a bounded window of the most recent
tokens, so a long document costs no more per keystroke than a short one. The tokens enter
and leave the document caches (``doc_cache.py``) as they enter and leave the window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .config import PredictorConfig
from .doc_cache import DocumentCaches
from .inference import State
from .pieces import CONTINUATION, is_continuation, surface
from .read_ahead import Reader
from .text import SplitText
from .tokenize import PARAGRAPH, Token, is_word, iter_tokens
from .vocab import Vocabulary

_WORD_CHAR_RE = re.compile(r"\w")


@dataclass(slots=True)
class Entry:
    """A token of the context, its vocabulary id, and whether it is a word."""

    token: Token
    id: int
    word: bool
    completes: str | None = None  # the whole word in parts that this token is the last part of, so far


def _settled(entry: Entry, text: SplitText, unchanged: int) -> bool:
    """Whether ``entry``'s token stays the same whatever follows the first ``unchanged`` chars."""
    end = entry.token.end
    if end >= unchanged:
        return False
    tok = entry.token.text
    if entry.word or is_continuation(tok):
        following = text.char(end)
        if _WORD_CHAR_RE.match(following):
            return False  # a part of a word: its word may still be split otherwise
        # A word continues only through an apostrophe followed by a word character.
        return following not in "'’" or end + 2 <= unchanged
    if tok[0] == "\n":
        # A break absorbs following spaces and breaks until something visible arrives.
        return not text.slice(end, unchanged).isspace()
    return True  # a run of one mark ends at the first different character


def tokens_between(text: SplitText, start: int, stop: int) -> list[Token]:
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


def window_start(text: SplitText, chars: int) -> int:
    """A character offset where the full scan also starts a token, about ``chars`` before the end."""
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


class Context:
    """The tokens of one context (the newest ``cache_size``, counted by the document caches),
    and the network's states after the newest ``context_tokens`` or so of them."""

    def __init__(
        self,
        vocab: Vocabulary,
        config: PredictorConfig,
        reader: Reader,
        start: tuple[State, np.ndarray],
        window_chars: int,
        width: int,
    ):
        """``start``: the state and output after a paragraph break, where every context starts."""
        self._vocab, self._config, self._reader, self._start = vocab, config, reader, start
        self._window_chars, self._width = window_chars, width
        self.text = SplitText("")
        self._clear()

    def _clear(self) -> None:
        self.entries: list[Entry] = []
        self._lstm_start = 0  # entries before this index feed the caches only
        self._states: dict[int, tuple[State, np.ndarray]] = {}
        self.caches = DocumentCaches(self._vocab, self._config, self._width)

    @property
    def states_kept(self) -> int:
        """Network states kept to roll back to."""
        return len(self._states)

    @property
    def tokens_read(self) -> int:
        """The newest tokens the network's current state has read (the rest feed the caches only)."""
        return len(self.entries) - self._lstm_start

    def sync(self, text: SplitText) -> None:
        """Bring the tokens and states up to ``text``, re-reading only what changed."""
        unchanged = self.text.common_prefix_length(text)
        keep = self._settled_count(unchanged)
        resume = self.entries[keep - 1].token.end if keep else 0
        # Re-read from the change unless that means more than the window a fresh start reads.
        if (
            keep < self._lstm_start
            or len(self.entries) > self._config.max_tokens
            or len(text) - resume > self._window_chars
        ):
            self._restart(text)
        else:
            self._truncate(keep)
            self._append(tokens_between(text, resume, len(text)))
        self.text = text

    def current(self) -> tuple[State, np.ndarray]:
        """The state after the last token, and the network's output there."""
        last = len(self.entries) - 1
        return self._states[last] if last >= self._lstm_start else self._start

    def kept_state(self) -> State | None:
        """The state after the last token, if it is kept (it is unless an edit rolled back to
        an older one and nothing was read since)."""
        last = len(self.entries) - 1
        if last >= self._lstm_start and last not in self._states:
            return None
        return self.current()[0]

    def recent_ids(self, n: int) -> list[int]:
        """The ids of the last ``n`` tokens (a document starts after a paragraph break, as in training)."""
        ids = [entry.id for entry in self.entries[-n:]] if n else []
        if len(ids) < n:
            ids.insert(0, self._vocab.id(PARAGRAPH))
        return ids

    def _settled_count(self, unchanged: int) -> int:
        """How many leading entries are certainly the same in any text sharing ``unchanged`` chars."""
        entries = self.entries
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
        while n and not _settled(entries[n - 1], self.text, unchanged):
            n -= 1
        return n

    def _restart(self, text: SplitText) -> None:
        """Start over from a bounded window at the end of ``text``."""
        self._clear()
        tokens = self._window_tokens(text)
        self._lstm_start = max(0, len(tokens) - self._config.context_tokens)
        self._append(tokens)

    def _window_tokens(self, text: SplitText) -> list[Token]:
        """The last ``cache_size`` tokens of ``text`` (all of them in a shorter one, and only
        those within ``window_chars`` of its end), as the full scan would find them.

        Scanned backwards in stretches that each start where the full scan starts a token:
        prose averages under 5 characters a token, so the first stretch usually holds enough
        with little to spare; each further one is sized by the density seen so far."""
        need = self._config.cache_size
        limit = window_start(text, self._window_chars)
        tokens: list[Token] = []
        stop, chars = len(text), 5 * need
        while len(tokens) < need and stop > limit:
            start = max(limit, window_start(text, len(text) - stop + chars))
            if start >= stop:  # nowhere to cut in that stretch: take the rest of the window
                start = limit
            tokens[:0] = tokens_between(text, start, stop)
            stop = start
            chars = int((need - len(tokens)) * 1.2 * (len(text) - stop) / max(1, len(tokens))) + 64
        return tokens[-need:]

    def _truncate(self, keep: int) -> None:
        entries, caches = self.entries, self.caches
        while len(entries) > keep:
            index = len(entries) - 1
            entry = entries.pop()
            caches.remove(entry)
            dropped = self._states.pop(index, None)
            before = self._states.get(index - 1) if index - 1 >= self._lstm_start else self._start
            if dropped is not None and before is not None:
                # Read again from the same state, the token gives this same state back.
                self._reader.remember(before[0], entry.id, dropped[1], dropped[0])
            caches.forget_key(index)
            back = index - self._config.cache_size
            if back >= 0:
                caches.add(entries[back])

    def _append(self, tokens: list[Token]) -> None:
        pending = self._file(tokens)
        entries, config = self.entries, self._config
        last = pending[0] - 1 if pending else len(entries) - 1
        state, output = self._states[last] if last >= self._lstm_start else self._start
        # Back near the start of the window the network read (an edit well above the end of a
        # document just opened), it would read on with little context.
        short = self._lstm_start > 0 and len(entries) - self._lstm_start < config.context_tokens // 2
        if len(pending) > config.context_tokens or short:
            # More to read than a fresh context reads, or too little read before: start over
            # from the window a fresh context reads.
            self._lstm_start = max(0, len(entries) - config.context_tokens)
            self._states.clear()
            state, output = self._start
            pending = list(range(self._lstm_start, len(entries)))
            # Keys are stored for the tokens read; older rows would keep far older words.
            self.caches.forget_keys()
        keep_from = len(entries) - config.keep_states
        kept = lambda i: i >= keep_from or i % config.snapshot_every == 0  # noqa: E731
        # Typing keeps a state per token for the newest few and one every ``snapshot_every``,
        # so edits roll back cheaply. A bulk read (a fresh start, a paste) goes through the
        # network in one call up to its last token, then one step, and keeps only those two
        # states: each call has a fixed cost, and the state before the last token is the one
        # the next keystroke usually needs (the last word may still grow). Typing on keeps
        # per-token states and snapshots again from there.
        final = pending[-1] if pending else -1
        bulk = len(pending) > 2 * config.keep_states
        ends_run = (lambda i: i >= final - 1) if bulk else kept  # noqa: E731
        run: list[int] = []
        for index in pending:
            run.append(index)
            if ends_run(index) or index == final:
                outputs, state = self._reader.read([entries[i].id for i in run], state)
                # Each token's key is the output just before it: the one before the run, then the run's own.
                self.caches.store_keys(entries, run, np.concatenate([output, outputs[:-1]]))
                output = outputs[-1:]
                run = []
                if kept(index):
                    self._states[index] = (state, output)
        # Thin out the per-token states that are no longer among the newest.
        for index in [i for i in self._states if not kept(i)]:
            del self._states[index]

    def _complete(self, entry: Entry) -> None:
        """Record the word in parts that ``entry``, a continuation, ends so far (the word it
        ended before, one part shorter, is no longer counted)."""
        entries, start = self.entries, len(self.entries) - 1
        while start > 0 and is_continuation(entries[start].token.text):
            start -= 1
        before = entries[-1]
        if before.completes is not None:  # the newest entry: surely among those counted
            self.caches.remove_part_word(before.completes)
            before.completes = None
        parts = [entries[i].token.text for i in range(start, len(entries))] + [entry.token.text]
        entry.completes = "".join(surface(part) for part in parts)

    def _file(self, tokens: list[Token]) -> list[int]:
        """Add ``tokens`` as entries (and to the caches, dropping those that leave the
        caches' window); the indices of the entries the network has yet to read: those after
        the newest kept state (states past a rollback are gone), then the new ones."""
        entries = self.entries
        last = len(entries) - 1
        while last >= self._lstm_start and last not in self._states:
            last -= 1
        pending = list(range(last + 1, len(entries)))
        # A fresh start files thousands of tokens here: the lookups are bound once.
        lookup, unk, word_flags, cache_size = (
            self._vocab.index.get,
            self._vocab.unk_id,
            self._vocab.word_flags,
            self._config.cache_size,
        )
        caches = self.caches
        for token in tokens:
            token_id = lookup(token.text, unk)
            entry = Entry(token, token_id, word_flags[token_id] if token_id != unk else is_word(token.text))
            if token.text.startswith(CONTINUATION) and entries and is_continuation(token.text):
                self._complete(entry)
            entries.append(entry)
            index = len(entries) - 1
            back = index - cache_size
            if back >= 0:
                caches.remove(entries[back])
            caches.add(entry)
            pending.append(index)
        return pending
