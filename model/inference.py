"""The network as prediction runs it: built once from a trained ``LanguageModel``, then never
changed.

It runs one of two ways: on nextword's C kernels (``compiled.py``: 8-bit weights, a whole
LSTM step in one call, a factored output layer) where they are built, the processor has
what they need and the model fits them; elsewhere on plain PyTorch in single precision
(``portable.py``), as on a Mac with an ARM processor. ``NEXTWORD_KERNELS=torch`` in the
environment picks the portable one where the C kernels would run, to compare the two. Both
give the same suggestions (KSR and next-word accuracy on the notes to a tenth of a point).

Reading is incremental: ``step`` or ``read`` advance a state by one token or a run of them,
and each returns the output vectors that ``next_probs`` turns into a distribution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from . import compiled
from .compiled import CompiledNetwork
from .config import ModelConfig
from .ngram import NotesNgram
from .prediction_model import ModelWeights
from .word_parts import WordParts

if TYPE_CHECKING:
    from .network import LanguageModel

KINDS = (compiled.KERNELS, "torch")  # the two ways, as ``InferenceNetwork.kernels`` names them

# One (h, c) pair per layer, each ``[1, size]`` in single precision; never changed in place.
State = tuple[tuple[np.ndarray, np.ndarray], ...]


class _Runner(Protocol):
    kernels: str
    precision: str
    factored_output: tuple[int, int] | None

    def read(self, token_ids: Sequence[int], state: State) -> tuple[np.ndarray, State]: ...

    def logits(self, outputs: np.ndarray) -> np.ndarray: ...

    def probs(self, outputs: np.ndarray) -> np.ndarray: ...

    def rows(self, ids: np.ndarray) -> Callable[[np.ndarray], np.ndarray]: ...


def choose_kernels(config: ModelConfig, kernels: str | None = None) -> str:
    """Which way to run a network of ``config``: ``kernels`` if given (one of ``KINDS``; a
    ValueError names why the C kernels cannot run it), else the C kernels where they can."""
    if kernels is None:
        return compiled.KERNELS if compiled.available() and compiled.takes(config) else "torch"
    if kernels not in KINDS:
        raise ValueError(f"kernels must be one of {', '.join(KINDS)}, not {kernels!r}")
    if kernels == compiled.KERNELS:
        reason = compiled.why_not() or (None if compiled.takes(config) else "the model is larger than they take")
        if reason:
            raise ValueError(f"nextword's C kernels cannot run this model: {reason}")
    return kernels


@dataclass(frozen=True, eq=False)
class InferenceNetwork:
    """The network prediction runs, for one sequence at a time; immutable. Build it with
    ``InferenceNetwork.build(model)``; build it again after training the module further (it
    shares the module's weights where it can rather than copying them)."""

    config: ModelConfig
    kernels: str  # whose arithmetic runs it: "nextword" (the C kernels) or "torch" (portable)
    precision: str  # of the weights it multiplies: "int8" (C kernels) or "fp32" (portable)
    # (rows scored exactly, rank of the rest) where the output layer is factored, else None
    factored_output: tuple[int, int] | None
    notes_ngram: NotesNgram | None  # the n-gram of the notes a personal model learned, if any
    word_parts: WordParts | None  # how words in parts go on, if the model has words in parts
    _runner: _Runner = field(repr=False)
    # ``logits_of``'s layers, by the ids they score: built once, shared by every Predictor.
    _row_layers: dict[bytes, Callable[[np.ndarray], np.ndarray]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, model: ModelWeights | LanguageModel, kernels: str | None = None) -> InferenceNetwork:
        """The network prediction runs, from ``model``'s weights (a model file read for
        prediction, or a trained module), on ``kernels`` (``KINDS``; None: the C kernels
        where they run this model, else the portable path, which imports PyTorch)."""
        weights = model if isinstance(model, ModelWeights) else model.weights()
        kind = choose_kernels(weights.config, kernels)
        runner: _Runner
        if kind == compiled.KERNELS:
            runner = CompiledNetwork.build(weights)
        else:
            from .portable import PortableNetwork

            runner = PortableNetwork(weights)
        notes, parts = weights.notes_tokens, weights.word_parts
        ngram = NotesNgram(notes, weights.config.vocab_size) if notes is not None else None
        word_parts = WordParts(parts) if parts is not None else None
        return cls(weights.config, runner.kernels, runner.precision, runner.factored_output, ngram, word_parts, runner)

    def initial_state(self) -> State:
        """The state before any token: zeros."""
        out = self.config.proj_dim or self.config.hidden_dim
        zeros = np.zeros
        return tuple(
            (zeros((1, out), np.float32), zeros((1, self.config.hidden_dim), np.float32))
            for _ in range(self.config.num_layers)
        )

    def step(self, token_id: int, state: State) -> tuple[np.ndarray, State]:
        """Read one token from ``state``: its output vector ``[1, emb_dim]`` and the new state."""
        return self._runner.read([token_id], state)

    def read(self, token_ids: Sequence[int], state: State) -> tuple[np.ndarray, State]:
        """Read a run of tokens from ``state``: the output vector after each ``[T, emb_dim]``,
        and the new state; the same as a ``step`` for each (the C kernels: bit for bit)."""
        return self._runner.read(token_ids, state)

    def logits(self, outputs: np.ndarray) -> np.ndarray:
        """Scores over the vocabulary ``[..., vocab_size]`` for output vectors ``[..., emb_dim]``."""
        return self._runner.logits(outputs)

    def logits_of(self, outputs: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Scores of just the tokens ``ids`` ``[..., len(ids)]``, from their own rows of the
        output layer (exact where the whole layer is factored): for the few hundred
        continuations of a word, a small part of the whole layer's work."""
        ids = np.asarray(ids, dtype=np.int64)
        key = ids.tobytes()
        layer = self._row_layers.get(key)
        if layer is None:
            layer = self._row_layers[key] = self._runner.rows(ids)
        return layer(outputs)

    def next_probs(self, outputs: np.ndarray) -> np.ndarray:
        """Probabilities over the vocabulary for output vectors ``[N, emb_dim]``, in single precision."""
        return self._runner.probs(outputs)

    def next_log_probs(self, outputs: np.ndarray) -> np.ndarray:
        """Log-probabilities over the vocabulary for output vectors ``[N, emb_dim]``."""
        logits = self._runner.logits(outputs)
        shifted = logits - logits.max(axis=-1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
