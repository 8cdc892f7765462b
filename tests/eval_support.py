"""A small corpus with one file in the protocol's test split, and a tiny untrained model of its
words, for the tests of `nextword eval`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch
from nextword.model import LanguageModel, ModelConfig, Vocabulary, save_checkpoint, tokenize

SENTENCE = "The quick brown fox jumps over the lazy dog. The dog sleeps.\n"
TEST_NAME = "k.md"  # sha1 efbf3db2…658: in the test split
TRAIN_NAMES = ["a.md", "b.md", "notes/x.md", "c.txt"]  # not in it


def write_corpus(root: Path) -> Path:
    """``root`` holding the test file and the training files, each the sentence 20 times."""
    for name in [TEST_NAME, *TRAIN_NAMES]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(SENTENCE * 20, encoding="utf-8")
    return root


def tiny_model(path: Path, info: dict | None = None) -> Path:
    """A deterministic untrained one-layer model over the sentence's tokens, saved at ``path``."""
    torch.manual_seed(0)
    vocab = Vocabulary.build(Counter(tokenize(SENTENCE)), min_count=1, max_size=500)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), emb_dim=16, hidden_dim=32, num_layers=1, proj_dim=0))
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_checkpoint(path, model, vocab, info=info)
