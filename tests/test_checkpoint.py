"""Checkpoints: one safetensors file, no pickle, atomic writes, clear errors for damaged files."""

import json
import os

import pytest
import torch
from nextword.model import (
    CheckpointError,
    InferenceNetwork,
    LanguageModel,
    ModelConfig,
    Vocabulary,
    default_model_path,
    load_checkpoint,
    save_checkpoint,
)
from nextword.model.checkpoint import write_spacing
from nextword.model.prediction_model import load_for_prediction
from nextword.model.spacing import Spacing
from nextword.model.tokenize import tokenize
from nextword.model.vocab import UNK
from safetensors.torch import save_file

# The two ways to read a model file: for training (a module), for prediction (numpy arrays).
LOADS = [load_checkpoint, load_for_prediction]
LOAD_IDS = ["for training", "for prediction"]


def test_round_trip_keeps_config_vocabulary_weights_and_info(tiny_model_path, tmp_path):
    checkpoint = load_checkpoint(tiny_model_path)
    out = save_checkpoint(tmp_path / "copy.safetensors", checkpoint.model, checkpoint.vocab, info={"note": "ü"})
    again = load_checkpoint(out)
    assert again.model.config == checkpoint.model.config
    assert again.vocab.tokens == checkpoint.vocab.tokens
    assert again.info == {"note": "ü"}
    for (name, a), (_, b) in zip(checkpoint.model.state_dict().items(), again.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file is left behind"


def test_float32_storage_is_exact(tmp_path):
    torch.manual_seed(1)
    vocab = Vocabulary([UNK, "\n", "\n\n", "a", "b"])
    model = LanguageModel(ModelConfig(vocab_size=5, emb_dim=8, hidden_dim=12, num_layers=1, proj_dim=0))
    loaded = load_checkpoint(save_checkpoint(tmp_path / "m.safetensors", model, vocab, dtype=torch.float32))
    assert torch.equal(loaded.model.embedding.weight, model.embedding.weight)


def test_projection_and_output_projection_shapes_round_trip(tmp_path):
    vocab = Vocabulary([UNK, "\n", "\n\n", "a"])
    for config in (
        ModelConfig(vocab_size=4, emb_dim=8, hidden_dim=16, num_layers=2, proj_dim=8),
        ModelConfig(vocab_size=4, emb_dim=8, hidden_dim=16, num_layers=1),
    ):
        loaded = load_checkpoint(save_checkpoint(tmp_path / "p.safetensors", LanguageModel(config), vocab))
        assert loaded.model.config == config


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs /proc to see the process's mappings")
@pytest.mark.parametrize("load", LOADS, ids=LOAD_IDS)
def test_a_loaded_model_holds_nothing_of_its_file(tiny_model_path, tmp_path, load):
    """safetensors reads a file by mapping it into memory; a loaded model (its notes too)
    keeps copies, so a file rewritten in place afterwards cannot change or crash it."""
    checkpoint = load_checkpoint(tiny_model_path)
    checkpoint.model.set_notes(torch.arange(40) % len(checkpoint.vocab))
    path = save_checkpoint(
        tmp_path / "with-notes.safetensors", checkpoint.model, checkpoint.vocab, extra={"other": torch.ones(3)}
    )
    loaded = load(path)
    assert loaded.model.notes_tokens is not None
    assert load is load_for_prediction or loaded.extra["other"].tolist() == [1, 1, 1]
    with open("/proc/self/maps") as maps:
        assert str(path) not in maps.read()


def test_missing_file_says_how_to_get_one(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist.*nextword train"):
        load_checkpoint(tmp_path / "nope.safetensors")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_damaged_files_are_reported_not_crashed_on(tiny_model_path, tmp_path, damage):
    data = tiny_model_path.read_bytes()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes({"garbage": b"\x00\x01not a model" * 10, "truncated": data[: len(data) // 2], "empty": b""}[damage])
    with pytest.raises(CheckpointError, match="not a readable nextword model"):
        load_checkpoint(bad)


def test_foreign_safetensors_file_is_named_as_such(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not a nextword model"):
        load_checkpoint(path)


def test_inconsistent_metadata_is_reported(tiny_model_path, tmp_path):
    from safetensors import safe_open

    with safe_open(str(tiny_model_path), framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    metadata["vocab"] = json.dumps([UNK, "x"])
    path = tmp_path / "inconsistent.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(CheckpointError, match="inconsistent"):
        load_checkpoint(path)
    with safe_open(str(tiny_model_path), framework="pt") as f:
        metadata = f.metadata()
    del tensors["embedding.weight"]
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(CheckpointError, match="missing embedding.weight"):
        load_checkpoint(path)


def _with_metadata(source, path, **changes):
    """A copy of the model at ``source`` with metadata entries replaced by ``changes`` as JSON
    (a ``config`` that is a dict changes only the settings it names)."""
    from safetensors import safe_open

    with safe_open(str(source), framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    config = json.loads(metadata["config"])
    for key, value in changes.items():
        metadata[key] = json.dumps({**config, **value} if key == "config" and isinstance(value, dict) else value)
    save_file(tensors, str(path), metadata=metadata)
    return path


ODD_METADATA = {
    "info a list": {"info": [1, 2]},
    "info a string": {"info": "x"},
    "info null": {"info": None},
    "config a list": {"config": [1, 2]},
    "negative emb_dim": {"config": {"emb_dim": -1}},
    "zero hidden_dim": {"config": {"hidden_dim": 0}},
    "fractional emb_dim": {"config": {"emb_dim": 16.0}},
    "boolean num_layers": {"config": {"num_layers": True}},
    "negative proj_dim": {"config": {"proj_dim": -3}},
    "dropout a string": {"config": {"dropout": "x"}},
    "dropout above 1": {"config": {"dropout": 5}},
    "vocab_size a string": {"config": {"vocab_size": "7"}},
    "vocab an object": {"vocab": {"<unk>": 0}},
    "vocab of numbers": {"vocab": ["<unk>", 1, 2]},
    "spacing a list": {"spacing": [1, 2]},
    "spacing of another version": {"spacing": {"version": 99, "pairs": {}, "before": {}, "after": {}}},
    "spacing with a bad count": {"spacing": {"version": 1, "pairs": {"a (": [5, 2]}, "before": {}, "after": {}}},
}


@pytest.mark.parametrize("change", ODD_METADATA.values(), ids=ODD_METADATA.keys())
@pytest.mark.parametrize("load", LOADS, ids=LOAD_IDS)
def test_odd_metadata_is_reported_not_crashed_on(tiny_model_path, tmp_path, change, load):
    path = _with_metadata(tiny_model_path, tmp_path / "odd.safetensors", **change)
    with pytest.raises(CheckpointError, match="not a usable nextword model"):
        load(path)


@pytest.mark.parametrize("command", [["info"], ["info", "--json"], ["predict", "-m"], ["train", "--from"]])
def test_commands_name_a_model_with_odd_metadata(tiny_model_path, tmp_path, monkeypatch, capsys, command):
    from nextword.server.cli import main

    monkeypatch.setenv("NEXTWORD_DATA_DIR", str(tmp_path / "data"))
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("some words of a note\n")
    for change in ({"info": [1, 2]}, {"config": {"emb_dim": -1}}, {"config": {"dropout": "x"}}):
        path = _with_metadata(tiny_model_path, tmp_path / "odd.safetensors", **change)
        args = {
            "info": [*command, str(path)],
            "predict": [*command, str(path), "x "],
            "train": ["train", str(notes), *command[1:], str(path), "--out", str(tmp_path / "out.safetensors")],
        }
        assert main(args[command[0]]) == 2
        err = capsys.readouterr().err
        assert "not a usable nextword model" in err and "Traceback" not in err, err


def test_failed_write_keeps_the_old_file(tiny_model_path, tmp_path, monkeypatch):
    target = tmp_path / "model.safetensors"
    target.write_bytes(tiny_model_path.read_bytes())
    before = target.read_bytes()
    checkpoint = load_checkpoint(tiny_model_path)

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("nextword.model.checkpoint.save_file", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(target, checkpoint.model, checkpoint.vocab)
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.safetensors"]


def test_a_spacing_table_round_trips_and_a_file_without_one_has_none(tiny_model_path, tmp_path):
    checkpoint = load_checkpoint(tiny_model_path)
    assert checkpoint.spacing is None
    spacing = Spacing.learn(["fn f(x: u32) -> u32 {\n"] * 3)
    path = save_checkpoint(tmp_path / "m.safetensors", checkpoint.model, checkpoint.vocab, spacing=spacing)
    for load in LOADS:
        assert load(path).spacing == spacing


@pytest.mark.parametrize("load", LOADS, ids=LOAD_IDS)
def test_a_damaged_spacing_table_is_named(tiny_model_path, tmp_path, load):
    path = _with_metadata(tiny_model_path, tmp_path / "odd.safetensors", spacing={"version": 1, "pairs": {"(": [1, 2]}})
    with pytest.raises(
        CheckpointError, match=f"{path.name} is not a usable nextword model: its spacing table is damaged"
    ):
        load(path)


def test_writing_a_spacing_table_keeps_the_weights_metadata_and_permissions(tiny_model_path, tmp_path):
    path = tmp_path / "model.safetensors"
    checkpoint = load_checkpoint(tiny_model_path)
    save_checkpoint(path, checkpoint.model, checkpoint.vocab, info={"note": "kept"}, extra={"other": torch.ones(2)})
    path.chmod(0o644)
    spacing = Spacing.learn(["call f(x) now.\n"] * 3)
    assert write_spacing(path, spacing) == path
    again = load_checkpoint(path)
    assert again.spacing == spacing and again.info == {"note": "kept"} and again.extra["other"].tolist() == [1, 1]
    for (name, a), (_, b) in zip(checkpoint.model.state_dict().items(), again.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert path.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"], "no temporary file is left behind"
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not a nextword model"):
        write_spacing(other, spacing)


def test_the_shipped_model_spaces_generated_text_as_its_corpus_does(tmp_path):
    """The shipped model carries the spacing of its training text, and writing a table leaves
    its weights as they are."""
    shipped = load_checkpoint(default_model_path())
    assert shipped.spacing is not None
    join = shipped.spacing.join
    assert join(tokenize("fn foo() -> impl Iterator<Item = T> {")) == "fn foo() -> impl Iterator<Item = T> {"
    assert join(tokenize("use std::collections::HashMap;")) == "use std::collections::HashMap;"
    assert join(tokenize("def f(x, y) -> int:")) == "def f(x, y) -> int:"
    assert join(tokenize("if a == b:")) == "if a == b:"
    assert join(tokenize('He said "hi" (twice).')) == 'He said "hi" (twice).'
    rewritten = load_checkpoint(write_spacing(default_model_path(), Spacing(), tmp_path / "copy.safetensors"))
    assert rewritten.spacing == Spacing() and rewritten.info == shipped.info
    for (name, a), (_, b) in zip(shipped.model.state_dict().items(), rewritten.model.state_dict().items()):
        assert torch.equal(a, b), name


# ----- the table of word parts ----------------------------------------------------------------------
def _korean_model() -> tuple[LanguageModel, Vocabulary]:
    """A small untrained model whose vocabulary has words in parts."""
    torch.manual_seed(0)
    vocab = Vocabulary([UNK, "\n", "\n\n", "토크나이저", "##로", "##의", "RNN", "##을", "."])
    return LanguageModel(ModelConfig(vocab_size=len(vocab), emb_dim=8, hidden_dim=12, num_layers=1)), vocab


def test_a_table_of_word_parts_round_trips(tmp_path):
    from nextword.model.word_parts import count_parts

    model, vocab = _korean_model()
    text = ["토크나이저", "##로", "RNN", "##을", "토크나이저", "##의", "RNN", ".", "토크나이저", "."]
    counts = count_parts(torch.tensor(vocab.encode(text)).numpy(), vocab)
    # 토크나이저: ##로, ##의, END; RNN: ##을, END; the English words' pooled row: ##을, END; each
    # Korean part's END (##로, ##의, ##을) and the Korean parts' pooled row (##로, ##의, END).
    assert len(counts) == 13
    model.set_word_parts(torch.from_numpy(counts))
    path = save_checkpoint(tmp_path / "m.safetensors", model, vocab)
    for load in LOADS:
        loaded = load(path)
        assert loaded.model.word_parts is not None and loaded.model.word_parts.tolist() == counts.tolist()
        assert load is load_for_prediction or "word_parts" not in loaded.extra
        assert InferenceNetwork.build(loaded.model).word_parts is not None
    model.set_word_parts(None)  # a model without words in parts has no table
    plain = load_checkpoint(save_checkpoint(tmp_path / "plain.safetensors", model, vocab))
    assert plain.model.word_parts is None and InferenceNetwork.build(plain.model).word_parts is None


DAMAGED_PARTS = {
    "a token id past the vocabulary": [[3, 4, 2], [9, 4, 1]],
    "a next part past the vocabulary": [[3, 9, 2]],
    "an id below the pooled rows'": [[-4, 4, 2]],
    "a zero count": [[3, 4, 0]],
    "a negative count": [[3, 4, -1]],
    "a pair twice": [[3, 4, 2], [-2, 4, 1], [3, 4, 1]],
}


@pytest.mark.parametrize("rows", DAMAGED_PARTS.values(), ids=DAMAGED_PARTS.keys())
@pytest.mark.parametrize("load", LOADS, ids=LOAD_IDS)
def test_a_damaged_table_of_word_parts_is_refused(tmp_path, rows, load):
    model, vocab = _korean_model()
    path = save_checkpoint(tmp_path / "m.safetensors", model, vocab, extra={"word_parts": torch.tensor(rows)})
    with pytest.raises(CheckpointError, match="m.safetensors has a damaged table of word parts.*retrain it"):
        load(path)


@pytest.mark.parametrize(
    "table",
    [torch.tensor([[3, 4], [6, 7]]), torch.tensor([3, 4, 1]), torch.tensor([[3.0, 4.0, 1.0]]), torch.zeros(2, 3, 1)],
    ids=["two columns", "one row flat", "floats", "three dimensions"],
)
def test_a_table_of_word_parts_of_the_wrong_shape_or_kind_is_refused(tmp_path, table):
    model, vocab = _korean_model()
    path = save_checkpoint(tmp_path / "m.safetensors", model, vocab, extra={"word_parts": table})
    with pytest.raises(CheckpointError, match="has a damaged table of word parts"):
        load_checkpoint(path)


@pytest.mark.parametrize("rows", [[[3, -2, 1]], [[-1, 4, 1]]], ids=["LATIN as a next part", "END as a token"])
def test_a_table_naming_its_markers_in_the_wrong_column_is_refused(tmp_path, rows):
    # A next part of -2 would have the search spell the vocabulary's second last token.
    model, vocab = _korean_model()
    path = save_checkpoint(tmp_path / "m.safetensors", model, vocab, extra={"word_parts": torch.tensor(rows)})
    with pytest.raises(CheckpointError, match="has a damaged table of word parts"):
        load_checkpoint(path)
