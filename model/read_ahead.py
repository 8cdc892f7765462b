"""The network's reads for one context, and the reading ahead that spares them.

Between keystrokes a caller may look ahead at the word being typed: the network reads it
(and the marks most likely to follow it) as if it were finished, so that when a space or a
mark ends the word, the step and the output layer are already done. What was read ahead is
only used when the context then continues from the same state with the same token, so it
never changes a suggestion; it only moves the work into the pause between two keys. A token
a rollback dropped is kept the same way: read again from the same state, it gives the same
state back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .inference import InferenceNetwork, State
from .suggestions import top_indices
from .vocab import Vocabulary

# A mark the network gives less than this after the word is not read ahead: it seldom comes,
# and leaving such marks out spares a fifth of the look-ahead's steps at the same hit rate.
_MARK_WORTH_READING = 0.01
# Tokens read ahead kept: the word being typed, the marks after it, and the tokens a rollback
# just dropped (a break or a mark that may yet grow is read again when the text after it
# arrives: from the same state it gives the same one, and the word read ahead after it still fits).
_MAX_READ_AHEAD = 8


@dataclass(frozen=True, slots=True)
class _Ahead:
    """One token read ahead: from the state ``before``, the network's ``outputs`` and state
    ``after``, and its distribution for the token after that (None if not computed)."""

    before: State
    token_id: int
    outputs: np.ndarray
    after: State
    probs: np.ndarray | None


class Reader:
    """Reads tokens through the network for one context, using what was read ahead, and
    counts what it did."""

    def __init__(self, network: InferenceNetwork):
        self._network = network
        self._ahead: dict[tuple[int, int], _Ahead] = {}  # by (id of the state before, token id)
        # The network's own distribution (before the caches) for a state: a look-ahead's, or the
        # last one computed. The same state comes back when a token is read again after a
        # rollback (the mark before a space just typed), and then costs no output layer.
        self._probs: tuple[State, np.ndarray] | None = None
        self.reads = 0  # calls of the network to read the context (look-aheads not counted)
        self.tokens_read = 0  # tokens those calls read
        self.hits = 0  # tokens whose step was done already (read ahead, or read before a rollback)
        self.output_passes = 0  # runs of the output layer, look-aheads' included

    def read(self, token_ids: Sequence[int], state: State) -> tuple[np.ndarray, State]:
        """The network's outputs ``[len(token_ids), emb_dim]`` after each token, read from
        ``state``, and the new state (read ahead already, for one token, if it was)."""
        if len(token_ids) == 1 and self._ahead:
            ahead = self._found(state, token_ids[0])
            if ahead is not None:
                self.hits += 1
                if ahead.probs is not None:
                    self._probs = (ahead.after, ahead.probs)
                return ahead.outputs, ahead.after
        self.reads += 1
        self.tokens_read += len(token_ids)
        return self._network.read(token_ids, state)

    def probs(self, state: State, output: np.ndarray) -> np.ndarray:
        """The network's distribution after ``state``, whose output is ``output``."""
        known = self._probs
        if known is None or known[0] is not state:
            known = self._probs = (state, self._next_probs(output))
        return known[1]

    def _next_probs(self, output: np.ndarray) -> np.ndarray:
        self.output_passes += 1
        # Single precision throughout: sums of 28,000 probabilities stay within 1e-6 of 1.
        return self._network.next_probs(output)[0]

    def remember(self, before: State, token_id: int, outputs: np.ndarray, after: State) -> None:
        """Keep a token that was read from ``before`` (and a rollback dropped), to be found again."""
        self._keep(_Ahead(before, token_id, outputs, after, None))

    def forget_ahead(self) -> None:
        """The context moved on: what was read ahead for the old one is of no more use (and a
        distribution over the vocabulary apiece: not to be kept per open document)."""
        self._ahead.clear()

    def look_ahead(self, state: State, token_id: int, marks: int, vocab: Vocabulary) -> None:
        """Read ``token_id`` (a word) from ``state``, and then each of the ``marks`` punctuation
        marks or breaks the network finds likeliest after it (those of at least 1%); what
        was read ahead already is not read again."""
        ahead = self._read_ahead(state, token_id)
        if marks > 0 and ahead.probs is not None:
            likely = np.where(vocab.word_mask, 0.0, ahead.probs)
            likely[vocab.unk_id] = 0.0
            for mark in top_indices(likely, marks).tolist():
                if likely[mark] >= _MARK_WORTH_READING:
                    self._read_ahead(ahead.after, mark)

    def after_among(self, state: State, token_id: int, ids: np.ndarray) -> np.ndarray:
        """The network's scores for just the tokens ``ids`` after reading ``token_id`` from
        ``state``: the step is kept (read ahead already if it was), the whole distribution
        left until something asks for it."""
        return self._network.logits_of(self._stepped(state, token_id).outputs, ids)[0]

    def _read_ahead(self, state: State, token_id: int) -> _Ahead:
        ahead = self._stepped(state, token_id)
        if ahead.probs is None:
            ahead = _Ahead(state, token_id, ahead.outputs, ahead.after, self._next_probs(ahead.outputs))
            self._keep(ahead)
        return ahead

    def _stepped(self, state: State, token_id: int) -> _Ahead:
        """The step reading ``token_id`` from ``state``: found if it was kept, else read and kept."""
        ahead = self._found(state, token_id)
        if ahead is None:
            outputs, after = self._network.read([token_id], state)
            ahead = _Ahead(state, token_id, outputs, after, None)
            self._keep(ahead)
        return ahead

    def _found(self, state: State, token_id: int) -> _Ahead | None:
        """The token read ahead from this very state, if it was."""
        ahead = self._ahead.get((id(state), token_id))
        return ahead if ahead is not None and ahead.before is state else None

    def _keep(self, ahead: _Ahead) -> None:
        key = (id(ahead.before), ahead.token_id)
        self._ahead.pop(key, None)
        self._ahead[key] = ahead
        while len(self._ahead) > _MAX_READ_AHEAD:
            del self._ahead[next(iter(self._ahead))]
