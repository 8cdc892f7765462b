"""`nextword eval`'s table, warnings and refusals, and `nextword info`'s description of a model:
real runs on small inputs."""

from __future__ import annotations

import json

import pytest
from eval_support import SENTENCE, TEST_NAME, TRAIN_NAMES, tiny_model, write_corpus
from nextword.server.cli import main
from nextword.training.cli_eval import COLUMNS


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("NEXTWORD_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "notes")


def table_rows(out: str) -> list[str]:
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("system"))
    rows = [lines[at]]
    for line in lines[at + 1 :]:
        if not line.strip():
            break
        rows.append(line)
    return rows


def test_default_eval_without_a_personal_model_says_what_it_compares(corpus, data_dir, capsys):
    assert main(["eval", str(corpus), "--max-words", "20"]) == 0
    captured = capsys.readouterr()
    rows = table_rows(captured.out)
    assert [r.split()[0] for r in rows] == ["system", "default", "buffer", "unigram"]
    assert len({len(r) for r in rows}) == 1  # aligned
    assert "1 of 5 files" in captured.out and "KSR@k: the share of keystrokes saved" in captured.out
    assert "the shipped model" in captured.out and "4 training files" in captured.out
    assert "no trained model yet" in captured.out and "nextword train" in captured.out
    assert "figures are noisy" in captured.err  # one test file


def test_default_eval_compares_the_personal_model_with_the_shipped_one(corpus, data_dir, capsys):
    tiny_model(data_dir / "model.safetensors")
    assert main(["eval", str(corpus), "--max-words", "20"]) == 0
    out = capsys.readouterr().out
    assert [r.split()[0] for r in table_rows(out)] == ["system", "personal", "default", "buffer", "unigram"]
    assert "your model" in out and "the shipped model" in out and "no trained model yet" not in out


def test_korean_corpus_table_is_aligned(tmp_path, data_dir, capsys):
    root = tmp_path / "ko"
    for name in [TEST_NAME, *TRAIN_NAMES]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(
            "소유권은 러스트의 핵심 기능입니다. 러스트의 소유권 규칙을 봅시다.\n" * 10, encoding="utf-8"
        )
    assert main(["eval", str(root), "--systems", "buffer,unigram"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert len(rows) == 3 and len({len(r) for r in rows}) == 1
    assert rows[0].split()[1:] == list(COLUMNS)


def test_eval_json_is_unchanged_by_the_table_notes(corpus, data_dir, capsys):
    assert main(["eval", str(corpus), "--systems", "buffer", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert set(report) == {"corpus", "model", "max_words", "files", "words", "keystrokes_without", "systems"}
    assert "figures are noisy" in captured.err


def _error(argv, capsys) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.out == ""
    return captured.err


def test_a_model_that_would_not_be_evaluated_is_refused(tmp_path, corpus, data_dir, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    text = tmp_path / "notes.txt"
    text.write_text("words", encoding="utf-8")
    for model in (folder, text):
        err = _error(["eval", str(model), str(corpus), "--systems", "buffer"], capsys)
        assert "has no 'model'" in err and "leave MODEL out" in err
    assert "is not a file" in _error(["eval", str(folder), str(corpus), "--systems", "model,buffer"], capsys)
    assert "not a readable nextword model" in _error(["eval", str(text), str(corpus), "--systems", "model"], capsys)
    assert "does not exist" in _error(["eval", str(tmp_path / "gone.safetensors"), str(corpus)], capsys)


def test_a_model_trained_on_the_test_files_is_flagged(tmp_path, corpus, data_dir, capsys):
    from nextword.training.corpus import content_digest

    learned = {content_digest(SENTENCE * 20): "train"}
    model = tiny_model(tmp_path / "m.safetensors", info={"learned": learned})
    assert main(["eval", str(model), str(corpus), "--systems", "model", "--max-words", "10"]) == 0
    assert "was trained on 1 of the 1 test files" in capsys.readouterr().err


def test_ctrl_c_is_one_line(corpus, data_dir, capsys, monkeypatch):
    import nextword.training.evaluate as evaluate

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate, "type_through", interrupted)
    assert main(["eval", str(corpus), "--systems", "buffer"]) == 130
    captured = capsys.readouterr()
    assert (
        captured.out == ""
        and captured.err.strip() == "nextword eval: interrupted, no figures; `--max-words 50` gives a quicker estimate"
    )


def test_info_describes_the_shipped_model(data_dir, capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for label in (
        "what",
        "in use",
        "vocabulary",
        "trained on",
        "trained",
        "command",
        "validation",
        "your model",
        "shipped model",
    ):
        assert any(line.startswith(label + " ") for line in out.splitlines()), label
    assert "the shipped model" in out and "none yet" in out and "None" not in out
    assert main(["info", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "shipped" and report["in_use"] is True and report["vocabulary"] > 1000


def test_info_of_a_personal_and_an_untrained_model(tmp_path, data_dir, capsys):
    info = {
        "trained_on": ["/notes"],
        "files": 3,
        "base_model": "/shipped.safetensors",
        "command": "nextword train /notes",
        "created": "2026-01-01T00:00:00+00:00",
        "valid_perplexity": 12.34,
        "start_perplexity": 20.0,
        "complete": False,
    }
    tiny_model(data_dir / "model.safetensors", info=info)
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "your model, fine-tuned from /shipped.safetensors" in out and "/notes (3 files)" in out
    assert "perplexity 12.3 on its validation files (the starting model: 20.0)" in out and "interrupted" in out
    other = tiny_model(tmp_path / "bare.safetensors")
    assert main(["info", str(other)]) == 0
    out = capsys.readouterr().out
    assert "a model file" in out and "no: pass it with --model" in out
    assert "no training record" in out


def test_info_tells_whose_kernels_multiply(data_dir, capsys, kernels):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    if kernels == "nextword":
        assert "8-bit weights, a scale per row, multiplied by nextword's C kernels" in out
    else:
        assert (
            "single-precision weights, multiplied by PyTorch" in out
            and "C kernels (faster at a word's end): turned off by NEXTWORD_KERNELS=torch" in out
        )
    assert main(["info", "--json"]) == 0
    assert (json.loads(capsys.readouterr().out)["prediction_kernels"] == "nextword") == (kernels == "nextword")
