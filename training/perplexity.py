"""A model's perplexity on whole texts, read as the Predictor reads a document."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from nextword.model import LanguageModel, Vocabulary
from nextword.model.tokenize import PARAGRAPH, tokenize


@dataclass
class Perplexity:
    """The model's cross-entropy on its own tokens, and how many of them were unknown."""

    tokens: int = 0
    unknown: int = 0
    loss: float = 0.0  # summed over tokens, in nats

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss / self.tokens) if self.tokens else float("nan")

    @property
    def oov_rate(self) -> float:
        return self.unknown / self.tokens if self.tokens else 0.0


def perplexity(model: LanguageModel, vocab: Vocabulary, texts: Iterable[str], chunk: int = 512) -> Perplexity:
    """Perplexity over whole ``texts``: each starts after the paragraph token, as the
    Predictor does, and runs in chunks of ``chunk`` tokens that carry the state over.
    Unknown tokens are predicted like any other (as ``<unk>``)."""
    model.eval()
    result = Perplexity()
    with torch.inference_mode():
        for text in texts:
            ids = vocab.encode(tokenize(text))
            if not ids:
                continue
            inputs = torch.tensor([vocab.id(PARAGRAPH)] + ids[:-1])
            targets = torch.tensor(ids)
            state = None
            for at in range(0, len(ids), chunk):
                hidden, state = model(inputs[at : at + chunk, None], state)
                result.loss += float(model.full_loss(hidden, targets[at : at + chunk, None], reduction="sum"))
            result.tokens += len(ids)
            result.unknown += ids.count(vocab.unk_id)
    return result
