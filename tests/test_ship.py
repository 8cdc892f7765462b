"""Readying a trained model for shipping (python -m nextword.training.ship): the tables beside the
weights counted afresh from the corpus as training counts them, the notes a fine-tuning run
recorded dropped, the weights and vocabulary kept; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from nextword.model import ModelConfig, Vocabulary, load_checkpoint, save_checkpoint
from nextword.model.word_parts import merge_counts
from nextword.training.config import TrainConfig
from nextword.training.corpus import load_corpus
from nextword.training.ship import main
from nextword.training.split import is_test_file, is_validation_file
from nextword.training.train import train

TEXTS = [
    "RNN을 통해 text generation을 하는 것이다. RNN으로 문장을 만든다. 모델을 학습시킨다.\n",
    "토크나이저로 문장을 나눈다. 데이터셋으로 모델을 학습시킨다. 데이터셋의 크기가 중요하다.\n",
    "The borrow checker keeps references valid. Each value has an owner (one at a time).\n",
]
# Names in the training part of the split, and one in the validation part.
TRAINING = [n for n in (f"note{i}.md" for i in range(100)) if not is_test_file(n) and not is_validation_file(n)]
VALIDATION = next(n for n in (f"v{i}.md" for i in range(100)) if is_validation_file(n) and not is_test_file(n))
NOTES = dict(zip(TRAINING, TEXTS)) | {VALIDATION: TEXTS[0]}


@pytest.fixture(scope="module")
def corpus_and_model(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny corpus of Korean and English notes, and a model trained on it for a moment."""
    root = tmp_path_factory.mktemp("corpus")
    for name, text in NOTES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text * 4, encoding="utf-8")
    out = root.parent / "trained.safetensors"
    config = TrainConfig(epochs=1, batch_size=4, bptt=20, min_count=1, warmup_steps=2, seed=0)
    train(load_corpus([root]), out, config, ModelConfig(emb_dim=16, hidden_dim=24, num_layers=1, dropout=0.0))
    return root, out


def test_ship_counts_the_tables_afresh_and_drops_the_notes(corpus_and_model, tmp_path, capsys):
    root, trained_path = corpus_and_model
    trained = load_checkpoint(trained_path)
    assert trained.model.word_parts is not None and trained.model.notes_tokens is not None
    assert trained.spacing is not None and "learned" in trained.info
    # A model as a run on top of an earlier one leaves it: its tables count more than the corpus.
    model = trained.model
    model.set_word_parts(torch.from_numpy(merge_counts(trained.model.word_parts.numpy(), [[3, 4, 5]])))
    stale = save_checkpoint(tmp_path / "stale.safetensors", model, trained.vocab, info=trained.info)
    out = tmp_path / "shipped.safetensors"

    assert main([str(stale), str(root), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    shipped = load_checkpoint(out)
    # The tables as a run on the corpus counts them, the notes gone, the rest as it was.
    assert shipped.model.word_parts is not None
    assert shipped.model.word_parts.tolist() == load_checkpoint(trained_path).model.word_parts.tolist()
    assert shipped.spacing == trained.spacing
    assert shipped.model.notes_tokens is None and "learned" not in shipped.info
    assert shipped.info["shipped_from"] == {"corpus": [str(root)], "files": len(TEXTS)}
    assert shipped.info["train_config"] == trained.info["train_config"]
    assert shipped.vocab.tokens == trained.vocab.tokens
    for (name, a), (_, b) in zip(shipped.model.state_dict().items(), load_checkpoint(stale).model.state_dict().items()):
        assert torch.equal(a, b), name
    assert f"counted {len(shipped.model.word_parts):,} word-part pairs" in err and str(out) in err


def test_ship_of_an_empty_corpus_or_a_missing_model_says_so(corpus_and_model, tmp_path, capsys):
    root, trained_path = corpus_and_model
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "shipped.safetensors"
    assert main([str(trained_path), str(empty), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no text files") and str(empty) in err and err.count("\n") == 1
    assert "Traceback" not in err and not out.exists()

    assert main([str(tmp_path / "nope.safetensors"), str(root), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model file") and "does not exist" in err and not out.exists()


def test_ship_puts_words_a_run_added_back_in_order_of_frequency(corpus_and_model, tmp_path):
    root, trained_path = corpus_and_model
    trained = load_checkpoint(trained_path)
    # A run on top of it appends the words it adds, however frequent: 문장을 moved to the end.
    tokens = trained.vocab.tokens
    moved = tokens.index("문장을")
    order = [i for i in range(len(tokens)) if i != moved] + [moved]
    model = trained.model
    state = model.state_dict()
    state["embedding.weight"], state["out_bias"] = state["embedding.weight"][order], state["out_bias"][order]
    model.load_state_dict(state)
    appended = save_checkpoint(tmp_path / "appended.safetensors", model, Vocabulary([tokens[i] for i in order]))
    out = tmp_path / "shipped.safetensors"

    assert main([str(appended), str(root), "--out", str(out)]) == 0
    shipped = load_checkpoint(out)
    # Back among the words as frequent (ties keep their places, so it comes last of those).
    assert shipped.vocab.tokens.index("문장을") <= moved + 1 < len(tokens) - 1
    assert sorted(shipped.vocab.tokens) == sorted(tokens)
    rows = dict(zip(load_checkpoint(appended).vocab.tokens, load_checkpoint(appended).model.embedding.weight))
    for token, row in zip(shipped.vocab.tokens, shipped.model.embedding.weight):
        assert torch.equal(row, rows[token]), token
