"""Training end to end: a real (small) run learns, keeps its best checkpoint, honours the
test split, reports progress as JSON, and evaluates by the protocol."""

import json
import math

from nextword.model import Predictor, load_checkpoint
from nextword.server.cli import main
from nextword.training.corpus import load_corpus
from nextword.training.split import is_test_file


def test_trained_model_has_learned_its_notes(trained_model_path):
    checkpoint = load_checkpoint(trained_model_path)
    predictor = Predictor(checkpoint.model, checkpoint.vocab)
    best = predictor.predict("# Borrowing\n\nThe borrow checker checks the", "", 3)
    assert best[0].word == "references"
    assert predictor.predict("Create a virtual environment with python -m venv. Activate the ", "vir", 1)[0].word == "virtual"
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
    code = main(["train", str(notes_folder), "--from-scratch", "--out", str(out), "--epochs", "3", "--emb-dim", "16", "--hidden-dim", "24", "--layers", "1", "--min-count", "1", "--include-test-split", "--progress", "json"])
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
    assert main(["train", str(notes_folder / "python"), "--from", str(out), "--out", str(tuned), "--epochs", "1", "--progress", "none", "--include-test-split"]) in (0, 1)

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
