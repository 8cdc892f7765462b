"""Configuration dataclasses of the network and of the Predictor."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class ModelConfig:
    """The shape of the network; stored in every checkpoint beside the weights."""

    vocab_size: int = 30000  # number of tokens, including <unk> and the line-break tokens
    emb_dim: int = 256  # size of a token embedding (and of the tied output layer's rows)
    hidden_dim: int = 384  # LSTM hidden units per layer
    num_layers: int = 2  # stacked LSTM layers
    proj_dim: int = 0  # LSTM projection size (0: none); the last layer's output is projected to emb_dim if it differs
    dropout: float = 0.2  # dropout on embeddings, between layers and before the output layer (training only)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model settings: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass
class PredictorConfig:
    """How the Predictor turns the network's distribution into suggestions."""

    cache_weight: float = 0.05  # share of probability given to words of the document by their counts
    cache_size: int = 3000  # the document's word counts cover this many most recent tokens
    neural_cache_weight: float = (
        0.2  # share given to words of the document by how alike their contexts are to this one (0: off)
    )
    neural_cache_size: int = 512  # the context-matching cache covers this many most recent tokens
    neural_cache_sharpness: float = 10.0  # scale of the cosine similarity of contexts inside the softmax
    # The word counts take half their share once they hold this many words, more as they hold
    # more (0: the whole share from the first word): a new note's first words are not echoed.
    cache_ramp: int = 50
    # The network's own vote in the continuous cache's softmax, as a cached context this alike
    # (cosine): the cache takes its share only as far as its words' contexts are more alike.
    neural_cache_null: float = 0.6
    notes_weight: float = 0.3  # a personal model's n-gram of its notes: its share beside the network's (0: off)
    # The notes' n-gram's share once it holds notes learned from the workspace, which the
    # network never trained on: it has more to say beside the network than of notes the
    # network learned too.
    workspace_notes_weight: float = 0.5
    # On a fresh or far-away context, the network reads this many tokens back. An LSTM uses
    # little beyond the last hundred or so, and the first completion after opening a
    # document waits for one LSTM step per token read (benchmarks/HISTORY.md has the figures).
    context_tokens: int = 160
    keep_states: int = 16  # network states kept for the newest tokens, so small edits roll back cheaply
    snapshot_every: int = 64  # beyond those, one state kept every this many tokens
    max_tokens: int = 8192  # token records kept per context; older ones are dropped
