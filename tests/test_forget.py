"""`nextword forget`: lists what it will delete, asks, and deletes exactly that."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from nextword.server.cli import main


@pytest.fixture
def places(tmp_path, monkeypatch) -> dict[str, Path]:
    data, cache, logs = tmp_path / "data", tmp_path / "cache", tmp_path / "logs"
    monkeypatch.setenv("NEXTWORD_DATA_DIR", str(data))
    monkeypatch.setenv("NEXTWORD_CACHE_DIR", str(cache))
    monkeypatch.setenv("NEXTWORD_LOG_DIR", str(logs))
    for folder in (data, cache / "sub", logs):
        folder.mkdir(parents=True)
    return {"data": data, "cache": cache, "logs": logs}


def fill(places: dict[str, Path]) -> tuple[list[Path], list[Path]]:
    data = places["data"]
    doomed = [
        data / "model.safetensors",
        data / "model.resume.safetensors",
        data / ".model.training-123-456.safetensors",
        data / ".model.safetensors.abc.tmp",
        places["cache"] / "sub" / "entry.bin",
    ]
    kept = [
        data / "settings.json",
        data / "my-notes.md",
        data / "other.safetensors",
        data / "modelX.safetensors",
        places["logs"] / "server.log",
    ]
    for path in doomed + kept:
        path.write_text(path.name)
    return doomed, kept


def test_forget_lists_then_deletes_only_what_it_listed(places, capsys):
    doomed, kept = fill(places)
    assert main(["forget", "--yes"]) == 0
    err = capsys.readouterr().err
    listed = [line.strip().rsplit("  (", 1)[0] for line in err.splitlines() if line.startswith("  ")]
    assert sorted(listed) == sorted(str(p) for p in doomed)
    assert not any(p.exists() for p in doomed)
    assert all(p.exists() for p in kept)
    assert not places["cache"].exists()  # emptied folders go too
    assert main(["forget", "--yes"]) == 0
    assert "nothing to forget" in capsys.readouterr().err


def test_forget_asks_first(places, capsys, monkeypatch):
    doomed, kept = fill(places)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert main(["forget"]) == 1
    assert "nothing deleted" in capsys.readouterr().err
    assert all(p.exists() for p in doomed + kept)
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert main(["forget"]) == 0
    assert not any(p.exists() for p in doomed) and all(p.exists() for p in kept)


def test_forget_without_a_terminal_needs_yes(places, capsys, monkeypatch):
    doomed, _ = fill(places)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(["forget"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert all(p.exists() for p in doomed)


def test_forget_logs_and_another_model(places, tmp_path, capsys):
    _, kept = fill(places)
    other = tmp_path / "elsewhere" / "mine.safetensors"
    other.parent.mkdir()
    other.write_text("x")
    (other.parent / "mine.resume.safetensors").write_text("x")
    (other.parent / "notes.md").write_text("x")
    assert main(["forget", "--model", str(other), "--logs", "--yes"]) == 0
    assert not other.exists() and not (other.parent / "mine.resume.safetensors").exists()
    assert (other.parent / "notes.md").exists() and (places["data"] / "model.safetensors").exists()
    assert not (places["logs"] / "server.log").exists()


def test_forget_never_deletes_the_shipped_model(places, tiny_model_path, monkeypatch, capsys):
    monkeypatch.setattr("nextword.model.default_model_path", lambda: tiny_model_path)
    assert main(["forget", "--model", str(tiny_model_path), "--yes"]) == 0
    assert tiny_model_path.exists()
