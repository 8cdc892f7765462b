"""Generation: text after a context, greedy (the phrase shown as ghost text) or sampled
(``nextword generate``). Both read on from the network state the Predictor keeps for the
context; states are never changed in place, so the context stays as it was."""

from __future__ import annotations

import numpy as np

from .inference import InferenceNetwork, State
from .pieces import is_continuation, word_tokens
from .spacing import Spacing
from .tokenize import is_word
from .vocab import Vocabulary


def continue_phrase(
    network: InferenceNetwork,
    vocab: Vocabulary,
    state: State,
    first: str,
    probability: float,
    max_words: int,
    min_probability: float,
) -> tuple[list[str], float]:
    """The phrase that starts with ``first`` (of ``probability``, to be read from ``state``)
    and goes on with the most probable next token while that is a word and the phrase as a
    whole stays at least ``min_probability`` likely, up to ``max_words`` in all; and the
    phrase's probability. Stops at punctuation and line breaks; a word's parts are tokens of
    their own (``pieces.py``), joined to it when the phrase is written."""
    words = [first]
    output, state = network.read(vocab.encode(word_tokens(first)), state)  # a word in parts: each part
    output = output[-1:]
    while len(words) < max_words:
        probs = network.next_probs(output)[0]
        token_id = int(probs.argmax())
        p = float(probs[token_id])
        token = vocab.tokens[token_id]
        if probability * p < min_probability or token_id == vocab.unk_id:
            break
        if not is_word(token) and not is_continuation(token):
            break
        words.append(token)
        probability *= p
        output, state = network.step(token_id, state)
    return words, probability


def phrase_text(words: list[str], prefix: str, spacing: Spacing, line: str) -> str:
    """The text a phrase of ``words`` inserts after ``prefix``, the typed part of its first word,
    on a ``line`` that reads up to that word, spaced as the model's training text was."""
    return words[0][len(prefix) :] + spacing.join(words[1:], after=line + words[0])


def sample(
    network: InferenceNetwork,
    vocab: Vocabulary,
    state: State,
    output: np.ndarray,
    num_tokens: int,
    temperature: float,
    top_k: int,
    seed: int | None,
) -> list[str]:
    """``num_tokens`` tokens sampled one after another from ``state`` (whose output is
    ``output``): ``temperature`` 0 picks the most probable token; ``top_k`` > 0 samples only
    among the k most probable. The unknown token is never produced."""
    generator = np.random.default_rng(seed)
    tokens: list[str] = []
    for _ in range(num_tokens):
        # Log-probabilities are the logits shifted by a constant: the same softmax.
        logits = network.next_log_probs(output)[0].astype(np.float64)
        logits[vocab.unk_id] = -np.inf
        if temperature == 0:
            token_id = int(logits.argmax())
        else:
            logits = logits / temperature
            if 0 < top_k < logits.size:
                cutoff = np.partition(logits, -top_k)[-top_k]
                logits[logits < cutoff] = -np.inf
            probs = np.exp(logits - logits.max())
            token_id = int(generator.choice(probs.size, p=probs / probs.sum()))
        tokens.append(vocab.tokens[token_id])
        output, state = network.step(token_id, state)
    return tokens
