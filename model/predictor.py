"""The Predictor: text before the cursor plus the typed part of a word, to ranked words.

One Predictor follows one evolving context (a document, say) incrementally; each concern
lives in a module of its own:

- ``context.py``: the context's tokens and the network states along them, rolled back and
  read on as the text changes, from a bounded window at the end of a long document;
- ``doc_cache.py``: the document's words (counts, the continuous cache, and the words the
  vocabulary lacks);
- ``ranking.py``: the network's distribution mixed with the notes' n-gram and the
  document caches, and the most probable words picked out by prefix;
- ``read_ahead.py``: the network's reads, and reading the word being typed ahead of need;
- ``generation.py``: a greedy phrase and a sampled continuation.

The network it runs is an ``inference.InferenceNetwork``, shared by every Predictor of a model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import PredictorConfig
from .context import Context
from .generation import continue_phrase, phrase_text, sample
from .inference import InferenceNetwork
from .notes import Notes, NotesSource
from .ranking import Ranking
from .read_ahead import Reader
from .spacing import Spacing
from .suggestions import Suggestion, Suggestions
from .text import SplitText
from .tokenize import PARAGRAPH, is_word, iter_tokens
from .vocab import Vocabulary

__all__ = ["Predictor", "PredictorStats", "Suggestion", "Suggestions"]


@dataclass(frozen=True, slots=True)
class PredictorStats:
    """What a Predictor holds for its context and what its network has done since ``reset``."""

    tokens: int  # tokens of the context held (the newest ``cache_size``, for the document caches)
    tokens_in_state: int  # the newest of them the network's current state has read
    states_kept: int  # network states kept to roll back to
    continuous_cache_words: int  # words the continuous cache holds
    network_reads: int  # calls of the network to read the context (look-aheads not counted)
    tokens_read: int  # tokens those calls read
    read_ahead_hits: int  # tokens whose step was done already (read ahead, or read before a rollback)
    output_layer_passes: int  # runs of the output layer, look-aheads' included


def trained_notes(network: InferenceNetwork, vocab: Vocabulary) -> Notes | None:
    """The notes a personal model was trained on, as the Predictor mixes them in."""
    return Notes(vocab, network.notes_ngram) if network.notes_ngram is not None else None


class Predictor:
    """Ranked next-word suggestions for one evolving context (one document, say)."""

    def __init__(
        self,
        network: InferenceNetwork,
        vocab: Vocabulary,
        config: PredictorConfig | None = None,
        spacing: Spacing | None = None,
        notes: NotesSource | None = None,
    ):
        """``spacing``: how generated tokens are joined into text (the checkpoint's table; by
        default English rules); ``notes``: the person's notes to mix in (by default those a
        personal model was trained on)."""
        if len(vocab) != network.config.vocab_size:
            raise ValueError("vocabulary and model disagree on the vocabulary size")
        self.network = network
        self.vocab = vocab
        self.config = config or PredictorConfig()
        self.spacing = spacing or Spacing()
        self.notes = notes if notes is not None else NotesSource(trained_notes(network, vocab))
        if self.config.cache_size < self.config.context_tokens:
            raise ValueError("cache_size must be at least context_tokens")
        # Characters that surely hold ``cache_size`` tokens (tokens average under 6 characters).
        self._window_chars = 12 * self.config.cache_size
        # Every context starts as if after a paragraph break: the start of a document.
        output, state = network.step(vocab.id(PARAGRAPH), network.initial_state())
        self._start = (state, output)
        self.reset()

    # ----- the context ------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the context (frees its state) and the counts of ``stats``."""
        self._reader = Reader(self.network)
        self._context = Context(
            self.vocab, self.config, self._reader, self._start, self._window_chars, self.network.config.emb_dim
        )
        self._ranking = Ranking(
            self.vocab, self.config, self.notes, self._context, self._reader, self.network.word_parts
        )

    def sync(self, context: str | SplitText) -> None:
        """Bring the network state up to ``context``, re-reading only what changed."""
        text = context if isinstance(context, SplitText) else SplitText(context)
        if text.same(self._context.text):
            return
        self._context.sync(text)
        self._reader.forget_ahead()
        self._ranking.clear()

    @property
    def window_chars(self) -> int:
        """How many characters before the end a fresh start reads at most (the tokens of that
        tail, ``cache_size`` of them at most): a context that changed further back than this is
        read afresh from its tail rather than token by token from the change."""
        return self._window_chars

    # ----- suggestions ------------------------------------------------------------------------
    def predict(self, context: str | SplitText, prefix: str = "", k: int = 5, composing: bool = False) -> Suggestions:
        """The ``k`` most probable words that start with ``prefix``, given ``context``.

        ``context`` is the text before the word being typed (a ``SplitText`` whose head is
        the same string object as last time spares comparing that head); ``prefix`` is the
        part of that word typed so far. Probabilities are of the whole word, so they sum to
        at most 1. Inside a word, words whose acceptance would save no key are left out
        (``tokenize.worth_offering``): ``prefix`` itself, and a word one plain key longer.
        The result also tells how likely ``prefix`` is as a finished word, and how likely any
        word starting with it is (``Suggestions``): whether the word may be typed whole.
        ``composing``: an editor's text, whose last character may be a Hangul syllable an input
        method is still composing (a typed ``몯`` still offers ``모델을``).
        """
        self.sync(context)
        return self.ranked(prefix, k, composing)

    def ranked(self, prefix: str, k: int, composing: bool = False) -> Suggestions:
        """Suggestions for the current context (see ``predict``)."""
        return self._ranking.ranked(prefix, k, typed=False, composing=composing)

    def word_probability(self, word: str) -> float:
        """The probability, for the current context, that the next word is ``word`` as it
        stands: a typed word finished here, rather than one of its longer forms."""
        return self._ranking.probability(word)

    def distribution(self) -> np.ndarray:
        """Probabilities over the vocabulary for the next token, with the document caches mixed in."""
        return self._ranking.distribution()

    @property
    def has_distribution(self) -> bool:
        """Whether the distribution for the current context is computed (suggestions for any
        prefix then cost only a filter)."""
        return self._ranking.has_distribution

    def look_ahead(self, word: str, marks: int) -> bool:
        """Read ``word`` (the part of a word typed so far) as if it were finished, and then
        each of the ``marks`` punctuation marks (how many is the caller's policy) or breaks the network finds likeliest after
        it (those of at least 1%), so that the next query, after the word ends, finds those
        steps done. For the pause between keystrokes; the suggestions stay exactly the same.
        What was read ahead already is not read again (``marks=2`` after ``marks=1`` reads one
        more mark). False when there is nothing to do (``word`` is not one word token, or the
        state is not kept)."""
        tokens = list(iter_tokens(word))
        if len(tokens) != 1 or tokens[0].text != word or not is_word(word):
            return False
        state = self._context.kept_state()
        if state is None:
            return False
        self._reader.look_ahead(state, self.vocab.index.get(word, self.vocab.unk_id), marks, self.vocab)
        return True

    # ----- generation -------------------------------------------------------------------------
    def complete_phrase(
        self, context: str | SplitText, prefix: str = "", max_words: int = 4, min_probability: float = 0.2
    ) -> tuple[str, float]:
        """A greedy phrase continuing the word being typed: the rest of the current word
        (or the next word) and then following words while the phrase as a whole is at least
        ``min_probability`` likely, given what is typed of its first word. Returns the text
        to insert after ``prefix`` and the phrase's probability. Stops at punctuation and
        line breaks."""
        self.sync(context)
        best = self._ranking.ranked(prefix, 1, typed=True)
        if not best:
            return "", 0.0
        # The first word's probability given its typed part: among the words it may become.
        first = best[0].probability
        if prefix and best.prefix_probability > 0:
            first = min(1.0, first / best.prefix_probability)
        if first < min_probability:
            return "", 0.0
        state, _ = self._context.current()
        words, probability = continue_phrase(
            self.network, self.vocab, state, best[0].word, first, max_words, min_probability
        )
        return phrase_text(words, prefix, self.spacing, self._line()), probability

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
        state, output = self._context.current()
        tokens = sample(self.network, self.vocab, state, output, num_tokens, temperature, top_k, seed)
        return self.spacing.join(tokens, after=self._line())

    def _line(self) -> str:
        """The context's last line, as far as spacing the text after it looks back."""
        text = self._context.text
        end = len(text)
        tail = text.slice(max(0, end - 200), end)
        return tail[tail.rfind("\n") + 1 :]

    # ----- what it holds and did --------------------------------------------------------------
    @property
    def read_ahead_hits(self) -> int:
        """Tokens whose network step was done already (read ahead, or read before a rollback)."""
        return self._reader.hits

    @property
    def network_reads(self) -> int:
        """Calls of the network to read the context (look-aheads not counted)."""
        return self._reader.reads

    @property
    def stats(self) -> PredictorStats:
        """What it holds for its context (memory per open document) and what its network did."""
        context, reader = self._context, self._reader
        return PredictorStats(
            tokens=len(context.entries),
            tokens_in_state=context.tokens_read,
            states_kept=context.states_kept,
            continuous_cache_words=context.caches.keys_held,
            network_reads=reader.reads,
            tokens_read=reader.tokens_read,
            read_ahead_hits=reader.hits,
            output_layer_passes=reader.output_passes,
        )
