"""Shared fixtures: small real models trained or built on the spot, and the shared corpora."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch
from nextword.model import LanguageModel, ModelConfig, Vocabulary, compiled, save_checkpoint, tokenize
from nextword.model.word_parts import count_parts

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPORA = SHARED / "corpora"

SAMPLE_TEXT = """# Notes on Rust

Rust is a systems programming language. The borrow checker keeps references valid.
A struct groups related values. An enum lists variants. The compiler checks the types.

## Ownership

Each value has an owner. When the owner goes out of scope, the value is dropped.
References borrow a value without taking ownership. The borrow checker checks the references.
"""


@pytest.fixture(params=["nextword", "torch"])
def kernels(request, monkeypatch) -> str:
    """Each test that takes it runs twice: with the project's C kernels (where they run) and
    with PyTorch's, as where they are not built."""
    if request.param == "nextword" and not compiled.available():
        pytest.skip("the C kernels are not built or not supported here")
    if request.param == "torch":
        monkeypatch.setenv("NEXTWORD_KERNELS", "torch")
    return request.param


@pytest.fixture(scope="session")
def sample_text() -> str:
    return SAMPLE_TEXT


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Path:
    """An untrained but deterministic two-layer model over the sample text's tokens."""
    torch.manual_seed(0)
    tokens = tokenize(SAMPLE_TEXT)
    vocab = Vocabulary.build(Counter(tokens), min_count=1, max_size=500)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), emb_dim=16, hidden_dim=32, num_layers=2, dropout=0.0))
    model.set_word_parts(torch.from_numpy(count_parts(vocab.encode(tokens), vocab)))  # as training counts it
    return save_checkpoint(tmp_path_factory.mktemp("models") / "tiny.safetensors", model, vocab)


NOTES = {
    "rust/ownership.md": "# Ownership\n\nEach value has an owner. When the owner goes out of scope, the value is dropped.\nReferences borrow a value without taking ownership.\n",
    "rust/borrowing.md": "# Borrowing\n\nThe borrow checker checks the references. A reference borrows a value.\nEach value has an owner, and the borrow checker keeps references valid.\n",
    "rust/types.md": "# Types\n\nA struct groups related values. An enum lists variants. The compiler checks the types.\nEach value has a type, and the compiler checks the types of references.\n",
    "python/venv.md": "# Virtual environments\n\nCreate a virtual environment with python -m venv. Activate the virtual environment first.\nThen install the package into the virtual environment with pip.\n",
    "python/testing.md": "# Testing\n\nRun the tests with pytest. Each test checks one thing. The tests run in the virtual environment.\n",
}


@pytest.fixture(scope="session")
def notes_folder(tmp_path_factory) -> Path:
    """A small folder of notes that repeat themselves enough to be learnable in seconds."""
    root = tmp_path_factory.mktemp("notes")
    for name, text in NOTES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text * 6, encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def trained_model_path(notes_folder, tmp_path_factory) -> Path:
    """A small model really trained (full softmax, a few seconds) on ``notes_folder``."""
    from nextword.model import ModelConfig
    from nextword.training.config import TrainConfig
    from nextword.training.corpus import load_corpus
    from nextword.training.train import train

    out = tmp_path_factory.mktemp("trained") / "model.safetensors"
    corpus = load_corpus([notes_folder], include_test_split=True)
    # Validate on the training text itself: the point here is a model that has learned these notes.
    corpus.train += corpus.valid
    corpus.valid = list(corpus.train)
    result = train(
        corpus,
        out,
        TrainConfig(epochs=40, batch_size=4, bptt=20, lr=1e-2, min_count=1, patience=40, warmup_steps=5, seed=0),
        ModelConfig(emb_dim=32, hidden_dim=64, num_layers=1, dropout=0.0),
    )
    assert result.path == out
    return out


@pytest.fixture(scope="module")
def shipped_predictor():
    """A fresh Predictor of the shipped model per call, its network built once."""
    from nextword.model import InferenceNetwork, Predictor, default_model_path
    from nextword.model.prediction_model import load_for_prediction

    checkpoint = load_for_prediction(default_model_path())
    network = InferenceNetwork.build(checkpoint.model)
    return lambda: Predictor(network, checkpoint.vocab)
