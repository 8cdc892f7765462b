"""Training end to end: a real (small) run learns, keeps its best checkpoint, honours the
test split, reports progress as JSON, and evaluates by the protocol."""

import json
import math
import subprocess
import sys

import pytest
from nextword.model import InferenceNetwork, NextwordError, Predictor, load_checkpoint, save_checkpoint
from nextword.server.cli import main
from nextword.training.corpus import load_corpus
from nextword.training.split import is_test_file


def test_trained_model_has_learned_its_notes(trained_model_path):
    checkpoint = load_checkpoint(trained_model_path)
    predictor = Predictor(InferenceNetwork.build(checkpoint.model), checkpoint.vocab)
    best = predictor.predict("# Borrowing\n\nThe borrow checker checks the", "", 3)
    assert best[0].word == "references"
    assert (
        predictor.predict("Create a virtual environment with python -m venv. Activate the ", "vir", 1)[0].word
        == "virtual"
    )
    assert checkpoint.info["valid_perplexity"] < 3


def test_training_skips_the_test_split_and_bad_files(tmp_path, capsys):
    (tmp_path / "good.md").write_text("some words here\n" * 20)
    (tmp_path / "binary.md").write_bytes(b"\x00\x01\x02" * 100)
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "secret.md").write_text("secret words\n")
    names = [f"note{i}.md" for i in range(40)]
    for name in names:
        (tmp_path / name).write_text(f"note {name}\n")
    corpus = load_corpus([tmp_path])
    seen = {d.relative_path for d in corpus.train + corpus.valid}
    assert "good.md" in seen and ".hidden/secret.md" not in seen and "image.png" not in seen
    assert not any(is_test_file(name) for name in seen)
    assert corpus.skipped["binary"] == 1 and corpus.skipped["not UTF-8"] == 1
    assert corpus.skipped["held out as the evaluation test split"] == sum(is_test_file(n) for n in names + ["good.md"])
    assert "skipped 1 binary, 1 not UTF-8" in capsys.readouterr().err


def test_cli_train_then_eval_on_a_few_files(notes_folder, tmp_path, capsys):
    out = tmp_path / "model.safetensors"
    code = main(
        [
            "train",
            str(notes_folder),
            "--from-scratch",
            "--out",
            str(out),
            "--epochs",
            "3",
            "--emb-dim",
            "16",
            "--hidden-dim",
            "24",
            "--layers",
            "1",
            "--min-count",
            "1",
            "--include-test-split",
            "--progress",
            "json",
        ]
    )
    assert code == 0 and out.is_file()
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    assert events[0]["event"] == "start" and events[-1]["event"] == "done"
    assert [e for e in events if e["event"] == "validation"]
    assert events[-1]["path"] == str(out) and math.isfinite(events[-1]["perplexity"])
    assert "model saved to" in captured.err
    info = load_checkpoint(out).info
    assert info["files"] == 5 and info["train_config"]["epochs"] == 3
    assert info["train_config"]["max_minutes"] == 0.0  # a new model: no time limit unless asked

    # Fine-tuning from it keeps its vocabulary and writes a new model.
    tuned = tmp_path / "tuned.safetensors"
    assert main(
        [
            "train",
            str(notes_folder / "python"),
            "--from",
            str(out),
            "--out",
            str(tuned),
            "--epochs",
            "1",
            "--progress",
            "none",
            "--include-test-split",
        ]
    ) in (0, 1)

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # File names chosen to land in the protocol's test split.
    test_names = [n for n in (f"t{i}.md" for i in range(200)) if is_test_file(n)][:2]
    for name in test_names:
        (corpus / name).write_text((notes_folder / "rust" / "ownership.md").read_text())
    (corpus / "train.md").write_text((notes_folder / "rust" / "types.md").read_text())
    assert main(["eval", str(out), str(corpus), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    text = json.dumps(report)
    assert "model" in text and "buffer" in text and "unigram" in text


# ----- what `nextword train` refuses, before it trains ----------------------------------------------
TINY = [
    "--from-scratch",
    "--emb-dim",
    "8",
    "--hidden-dim",
    "8",
    "--layers",
    "1",
    "--epochs",
    "1",
    "--min-count",
    "1",
    "--include-test-split",
    "--progress",
    "none",
]


def _refused(argv, capsys) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


def test_train_does_not_write_over_a_file_that_is_not_a_model(
    notes_folder, tiny_model_path, tmp_path, capsys, monkeypatch
):
    precious = tmp_path / "precious.md"
    precious.write_text("my notes, not a model\n")
    for flags in ([], ["--full"], TINY):
        err = _refused(["train", str(notes_folder), "--out", str(precious), *flags], capsys)
        assert "precious.md exists and is not a nextword model" in err and "choose another --out" in err
        assert "--full" not in err and "forget" not in err
        assert precious.read_text() == "my notes, not a model\n"
    # Nor over the file where a run writing --out would keep its state for --resume.
    state = tmp_path / "m.resume.safetensors"
    state.write_text("also mine\n")
    assert "m.resume.safetensors" in _refused(
        ["train", str(notes_folder), "--out", str(tmp_path / "m.safetensors"), *TINY], capsys
    )
    assert state.read_text() == "also mine\n" and not (tmp_path / "m.safetensors").exists()
    # Nor over the model shipped with nextword (here a copy standing in for it).
    shipped = tmp_path / "default.safetensors"
    shipped.write_bytes(tiny_model_path.read_bytes())
    monkeypatch.setattr("nextword.model.default_model_path", lambda: shipped)
    for flags in (["--full", "--epochs", "1", "--progress", "none"], TINY):
        assert "is the model shipped with nextword" in _refused(
            ["train", str(notes_folder), "--out", str(shipped), *flags], capsys
        )
    assert shipped.read_bytes() == tiny_model_path.read_bytes()


def test_train_checks_that_out_can_be_written_before_it_trains(notes_folder, tiny_model_path, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile / "m.safetensors", afile / "sub" / "m.safetensors"):
        assert "afile is a file, not a folder" in _refused(
            ["train", str(notes_folder), "--out", str(out), *TINY], capsys
        )
    assert "cannot write the model to /proc/x.safetensors" in _refused(
        ["train", str(notes_folder), "--out", "/proc/x.safetensors", *TINY], capsys
    )
    assert afile.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    # The save itself says which file it could not write (and is still an OSError).
    checkpoint = load_checkpoint(tiny_model_path)
    with pytest.raises(NextwordError, match="cannot write the model .*afile/m.safetensors") as raised:
        save_checkpoint(afile / "m.safetensors", checkpoint.model, checkpoint.vocab)
    assert isinstance(raised.value, OSError)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--seed", "99999999999999999999999"], "--seed must be a whole number from 0 to"),
        (["--seed", "-1"], "--seed must be a whole number from 0 to"),
        (["--max-vocab", "2"], "--max-vocab must be at least 4"),
        (["--hidden-dim", "100000"], "--hidden-dim 100000 is far too large"),
        (["--batch-size", "10000000"], "--batch-size 10000000 is far too large"),
        (["--max-minutes", "nan"], "--max-minutes must be a number of minutes, 0 or more"),
        (["--max-minutes", "inf"], "--max-minutes must be a number of minutes, 0 or more"),
        (["--valid-every-minutes=-1"], "--valid-every-minutes must be a number of minutes, 0 or more"),
        (["--valid-every-minutes", "nan"], "--valid-every-minutes must be"),
        (["--lr", "inf"], "--lr must be a positive number"),
        (["--dropout", "nan"], "--dropout must be a number from 0"),
    ],
)
def test_train_refuses_option_values_out_of_range(notes_folder, tmp_path, capsys, flags, message):
    out = tmp_path / "m.safetensors"
    assert message in _refused(["train", str(notes_folder), "--out", str(out), *TINY, *flags], capsys)
    assert not out.exists()


def test_train_on_links_in_a_loop(notes_folder, tmp_path, capsys):
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    out = tmp_path / "m.safetensors"
    assert "loop1 is a link that leads nowhere" in _refused(
        ["train", str(tmp_path / "loop1"), "--out", str(out), *TINY], capsys
    )
    # Inside a folder of notes, such links are skipped and counted, like other unreadable files.
    notes = tmp_path / "notes"
    notes.mkdir()
    for name in ("ownership.md", "borrowing.md", "types.md"):
        (notes / name).write_text((notes_folder / "rust" / name).read_text())
    (notes / "a.md").symlink_to(notes / "b.md")
    (notes / "b.md").symlink_to(notes / "a.md")
    corpus = load_corpus([notes], include_test_split=True)
    assert len(corpus.train + corpus.valid) == 3 and corpus.skipped["unreadable (links in a loop)"] == 2
    assert "skipped 2 unreadable (links in a loop) file(s)" in capsys.readouterr().err


def test_a_min_count_no_word_reaches_is_refused_before_training(notes_folder, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    err = _refused(["train", str(notes_folder), "--out", str(out), *TINY, "--min-count", "100000"], capsys)
    assert "too small for --min-count 100000: lower it" in err and not out.exists()


@pytest.mark.skipif(sys.platform != "linux", reason="limits the address space with RLIMIT_AS")
def test_a_model_too_large_for_memory_gets_a_clear_message(notes_folder, tmp_path):
    import resource

    def limit():  # 3 GiB: room for Python and torch, not for 8 layers of 4,096 units (4 GiB of weights)
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    out = tmp_path / "m.safetensors"
    argv = [
        "train",
        str(notes_folder),
        "--out",
        str(out),
        "--from-scratch",
        "--emb-dim",
        "4096",
        "--hidden-dim",
        "4096",
        "--layers",
        "8",
        "--min-count",
        "1",
        "--progress",
        "none",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "nextword.server.cli", *argv],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=300,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "not enough memory to train a model this size" in result.stderr and not out.exists()


def test_a_full_disk_while_saving_keeps_the_old_model_and_says_so(notes_folder, tiny_model_path, tmp_path):
    """A write that fails for want of space (here a file size limit, as a full disk would) is a
    clear message, not safetensors' own error: the model there before is intact, no temporary file left."""
    import resource

    out = tmp_path / "model.safetensors"
    out.write_bytes(tiny_model_path.read_bytes())
    before = out.read_bytes()
    limit = len(before) // 2  # the old model was written before; any new one is larger than this

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    argv = [
        "train",
        str(notes_folder),
        "--from",
        str(tiny_model_path),
        "--full",
        "--out",
        str(out),
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--bptt",
        "5",
        "--sampled",
        "0",
        "--include-test-split",
        "--progress",
        "none",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "nextword.server.cli", *argv],
        capture_output=True,
        text=True,
        preexec_fn=small_disk,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert f"cannot write the model {out}" in result.stderr and "is unchanged; free some disk space" in result.stderr
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


# ----- when a run stops: the time limit, early stopping, validation within an epoch ----------------
def _train_events(notes_folder, tmp_path, capsys, config, base=None):
    from nextword.model import ModelConfig
    from nextword.training.progress import Progress
    from nextword.training.resume import resume_path
    from nextword.training.train import train

    corpus = load_corpus([notes_folder], include_test_split=True)
    out = tmp_path / "m.safetensors"
    shape = ModelConfig(emb_dim=8, hidden_dim=8, num_layers=1, dropout=0.0)
    result = train(corpus, out, config, shape, base=base, progress=Progress("json"))
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert not resume_path(out).exists()  # a run that ends by itself leaves no state to resume
    return result, [e for e in events if e["event"] == "validation"], events[-1]


def test_the_time_limit_stops_a_run_and_validates_it(notes_folder, tmp_path, capsys):
    from nextword.training.config import TrainConfig

    config = TrainConfig(epochs=50, batch_size=4, bptt=10, min_count=1, max_minutes=1e-6, seed=1)
    result, validations, done = _train_events(notes_folder, tmp_path, capsys, config)
    assert result.stop_reason == "reached the 1e-06-minute limit" == done["reason"]
    assert result.epochs < 1 and len(validations) == 1 and validations[0]["epoch"] == round(result.epochs, 3)
    assert result.path is not None and load_checkpoint(result.path).info["complete"] is True


def test_validation_that_stops_improving_stops_the_run(notes_folder, tiny_model_path, tmp_path, capsys):
    from nextword.training.config import TrainConfig

    config = TrainConfig(epochs=6, batch_size=2, bptt=5, lr=0.3, patience=1, sampled=0, seed=1)
    result, validations, done = _train_events(notes_folder, tmp_path, capsys, config, load_checkpoint(tiny_model_path))
    assert result.stop_reason == "validation stopped improving" == done["reason"]
    assert [v["best"] for v in validations] == [False] and result.epochs == 1.0
    assert result.path is None and not (tmp_path / "m.safetensors").exists()  # nothing beat the starting model


def test_validation_within_epochs(notes_folder, tmp_path, capsys):
    from nextword.training.config import TrainConfig

    config = TrainConfig(epochs=2, batch_size=4, bptt=10, min_count=1, patience=100, valid_every_minutes=1e-9)
    result, validations, done = _train_events(notes_folder, tmp_path, capsys, config)
    assert result.stop_reason == "finished all epochs" and result.epochs == 2.0
    epochs = [v["epoch"] for v in validations]
    assert len(epochs) > 4 and any(e != int(e) for e in epochs) and epochs == sorted(epochs) and epochs[-1] == 2.0
    assert done["path"] == str(result.path)


def test_a_trained_model_keeps_the_spacing_of_its_text_and_fine_tuning_adds_to_it(tmp_path):
    from nextword.model.tokenize import join_tokens

    code = tmp_path / "code"
    code.mkdir()
    for i in range(6):
        (code / f"note{i}.md").write_text("fn call(x) -> Result<T> {\n    let y = x.len();\n}\n" * 8)
    out = tmp_path / "model.safetensors"
    common = ["--epochs", "1", "--min-count", "1", "--include-test-split", "--progress", "none"]
    small = ["--emb-dim", "16", "--hidden-dim", "24", "--layers", "1"]
    assert main(["train", str(code), "--from-scratch", "--out", str(out), *small, *common]) == 0
    tokens = ["fn", "call", "(", "x", ")", "-", ">", "Result", "<", "T", ">", "{"]
    written = "fn call(x) -> Result<T> {"
    assert join_tokens(tokens) != written  # the rules alone would not write it so
    learned = load_checkpoint(out).spacing
    assert learned is not None and learned.join(tokens) == written

    prose = tmp_path / "prose"
    prose.mkdir()
    for i in range(6):
        (prose / f"note{i}.md").write_text("Each value has an owner. See the notes in path/to/file first.\n" * 8)
    tuned = tmp_path / "tuned.safetensors"
    assert main(["train", str(prose), "--from", str(out), "--out", str(tuned), *common]) in (0, 1)
    merged = load_checkpoint(tuned).spacing
    assert merged is not None and merged.join(tokens) == written
    path = ["in", "path", "/", "to", "/", "file"]
    assert merged.join(path) == "in path/to/file" != join_tokens(path) and learned.join(path) != merged.join(path)
