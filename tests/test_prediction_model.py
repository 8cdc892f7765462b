"""A model read for prediction without PyTorch: the same suggestions as the trained module
gives, its weights kept as the file stores them, and no PyTorch imported on the way."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from nextword.model import (
    CheckpointError,
    InferenceNetwork,
    LanguageModel,
    ModelConfig,
    Predictor,
    Vocabulary,
    compiled,
    default_model_path,
    load_checkpoint,
    save_checkpoint,
)
from nextword.model.model_file import learned_files, weight_shapes
from nextword.model.prediction_model import load_for_prediction
from nextword.model.vocab import UNK


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(vocab_size=7, emb_dim=8, hidden_dim=16, num_layers=2),
        ModelConfig(vocab_size=7, emb_dim=16, hidden_dim=16, num_layers=1),
        ModelConfig(vocab_size=7, emb_dim=8, hidden_dim=16, num_layers=3, proj_dim=6),
    ],
    ids=["output projection", "no projection", "LSTM projection"],
)
def test_the_weights_a_config_has_are_those_the_module_has(config):
    module = LanguageModel(config, device="meta")
    assert weight_shapes(config) == {name: tuple(t.shape) for name, t in module.state_dict().items()}


def test_the_shipped_model_read_for_prediction_suggests_what_the_module_suggests(sample_text):
    """Read as the file stores it (half precision, numpy), the shipped model gives exactly
    the suggestions and probabilities the trained module (single precision) gives."""
    full, compact = load_checkpoint(default_model_path()), load_for_prediction(default_model_path())
    assert {a.dtype for a in compact.model.arrays.values()} == {np.dtype(np.float16)}
    assert compact.vocab.tokens == full.vocab.tokens and compact.spacing == full.spacing
    predictors = [Predictor(InferenceNetwork.build(m), full.vocab) for m in (full.model, compact.model)]
    words = sample_text.split(" ")
    for end in range(1, len(words), 9):
        context = " ".join(words[:end]) + " "
        for prefix in ("", "t"):
            a, b = (p.predict(context, prefix, 10) for p in predictors)
            assert [(s.word, s.probability) for s in a] == [(s.word, s.probability) for s in b], (context, prefix)


def test_the_portable_path_reads_a_model_read_for_prediction(tiny_model_path, sample_text):
    full, compact = load_checkpoint(tiny_model_path), load_for_prediction(tiny_model_path)
    a, b = (
        Predictor(InferenceNetwork.build(m, "torch"), full.vocab).predict(sample_text[:300], "", 8)
        for m in (full.model, compact.model)
    )
    assert a == b
    assert compact.model.arrays["embedding.weight"].dtype == np.float16  # converted, not changed


def test_notes_and_training_record_come_with_the_weights(tiny_model_path, tmp_path):
    checkpoint = load_checkpoint(tiny_model_path)
    checkpoint.model.set_notes(torch.arange(40) % len(checkpoint.vocab))
    info = {"learned": {"abc": "train", "def": "valid"}}
    path = save_checkpoint(tmp_path / "personal.safetensors", checkpoint.model, checkpoint.vocab, info=info)
    read = load_for_prediction(path)
    assert read.model.notes_tokens is not None
    assert read.model.notes_tokens.tolist() == (np.arange(40) % len(checkpoint.vocab)).tolist()
    assert learned_files(read.info) == {"abc": "train", "def": "valid"}
    assert InferenceNetwork.build(read.model).notes_ngram is not None


def test_a_file_whose_weights_do_not_fit_its_config_is_refused(tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    path = tmp_path / "model.safetensors"
    vocab = Vocabulary([UNK, "\n", "\n\n", "a"])
    save_checkpoint(path, LanguageModel(ModelConfig(vocab_size=4, emb_dim=8, hidden_dim=16, num_layers=1)), vocab)
    read = load_for_prediction(path)
    arrays = dict(read.model.arrays)
    del arrays["out_bias"]
    arrays["lstm.weight_hh_l0"] = arrays["lstm.weight_hh_l0"][:, :3].copy()
    with safe_open(str(path), framework="numpy") as f:
        metadata = f.metadata()
    save_file(arrays, str(path), metadata=metadata)
    with pytest.raises(
        CheckpointError, match="does not match its own config.*missing out_bias.*wrong shape for lstm.weight_hh_l0"
    ):
        load_for_prediction(path)


@pytest.mark.skipif(not compiled.available(), reason="PyTorch runs the network where the C kernels do not")
def test_prediction_imports_no_pytorch():
    """On the C kernels, reading the model, predicting and generating never import PyTorch:
    the language server starts without it."""
    script = textwrap.dedent(
        """
        import sys
        from nextword.model import InferenceNetwork, Predictor
        from nextword.model.prediction_model import load_for_prediction
        read = load_for_prediction()
        predictor = Predictor(InferenceNetwork.build(read.model), read.vocab, spacing=read.spacing)
        assert predictor.predict("The borrow checker makes sure that ", "", 3)
        assert predictor.generate("The model ", 5, 1.0, 0, 7)
        assert predictor.complete_phrase("The borrow checker makes sure that ", "", 3, min_probability=0.0)[0]
        print("torch" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_scores_of_a_few_rows_are_those_rows_of_the_whole_layer():
    """``logits_of`` scores the continuations alone: on the portable path the whole layer's
    very numbers, on the C kernels the same rows in 8 bits (never the factored tail's fit)."""
    checkpoint = load_for_prediction(default_model_path())
    ids = np.flatnonzero(checkpoint.vocab.continuation_mask)
    portable = InferenceNetwork.build(checkpoint.model, "torch")
    outputs, _ = portable.read([checkpoint.vocab.id("모델")], portable.initial_state())
    whole = portable.logits(outputs)[..., ids]
    assert portable.logits_of(outputs, ids) == pytest.approx(whole, abs=1e-5)
    if compiled.available():
        kernels = InferenceNetwork.build(checkpoint.model, compiled.KERNELS)
        assert np.abs(kernels.logits_of(outputs, ids) - whole).max() < 0.02 * whole.std()
        # The factored layer fits the rare rows; these are read as they are.
        assert (
            np.abs(kernels.logits_of(outputs, ids) - whole).max()
            < np.abs(kernels.logits(outputs)[..., ids] - whole).max()
        )
