"""The training configuration: a defaulted dataclass, each field with its meaning."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class TrainConfig:
    """How to train; every field has a default that works for a folder of notes."""

    epochs: int = 10  # passes over the training data at most (early stopping usually ends sooner)
    batch_size: int = 64  # parallel streams of text per step
    bptt: int = 35  # tokens per stream per step (truncated backpropagation through time)
    lr: float = 2e-3  # peak Adam learning rate
    weight_decay: float = 0.0  # AdamW weight decay
    clip: float = 0.5  # gradient norm clipping
    sampled: int = 1024  # negatives for sampled softmax (0: full softmax, exact but slower)
    patience: int = 2  # stop after this many validations without improvement
    max_minutes: float = 0.0  # stop after this many minutes of training (0: no limit)
    warmup_steps: int = 100  # steps of linear learning-rate warm-up
    min_lr_ratio: float = 0.1  # cosine decay ends at this fraction of the peak learning rate
    min_count: int = 2  # a token joins the vocabulary when seen at least this often
    max_vocab: int = 28000  # largest vocabulary, special tokens included
    valid_every_minutes: float = 0.0  # also validate this often within an epoch (0: once per epoch)
    seed: int = 1234  # random seed, for repeatable runs
    new_word_min_count: int = 2  # fine-tuning: a word the base model lacks gets a row when seen this often (0: never)
    max_new_words: int = 20000  # fine-tuning: most words added to the base vocabulary in one run

    def to_dict(self) -> dict:
        return asdict(self)

    def learning_rate(self, progress: float, step: int, total_steps: int, plateau: float) -> float:
        """Linear warm-up, then a cosine from the peak down to ``min_lr_ratio`` of it as ``progress``
        (the share of the run done, by steps or by the time limit) goes from 0 to 1, times ``plateau``."""
        warm = min(1.0, (step + 1) / max(1, min(self.warmup_steps, total_steps // 10)))
        cosine = self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        return self.lr * warm * cosine * plateau


# Fine-tuning a trained model on a person's notes (a few hundred notes, a few hundred thousand
# words) takes fewer, gentler passes than training a new model; these replace the defaults
# above for `nextword train` unless --from-scratch is given (measured on simonw-til, see
# benchmarks/finetune.py). The time limit keeps a run to about ten minutes on a slow laptop
# (the learning-rate schedule fits itself to it); a fast machine finishes the epochs sooner.
FINETUNE_DEFAULTS: dict[str, Any] = {
    "epochs": 5,
    "lr": 2e-3,
    "patience": 1,
    "warmup_steps": 20,
    "max_minutes": 9.0,
}


def default_config(finetune: bool) -> TrainConfig:
    """The defaults for a new model, or for fine-tuning one."""
    return TrainConfig(**FINETUNE_DEFAULTS) if finetune else TrainConfig()
