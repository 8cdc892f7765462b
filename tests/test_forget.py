"""`nextword forget`: lists what it will delete, asks, and deletes exactly that."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
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


LOG_LINE = "2025-01-01 12:00:00,000 INFO nextword.server.lsp_server: initialized\n"


def store(folder: Path | None, text: str = "The zorblaxite crystal glows.") -> Path:
    """A workspace store as the server writes it, learned from one note of ``folder``."""
    from nextword.server.workspace_store import FolderStore, outside_store_path, store_path

    learned = FolderStore(folder)
    learned.learn("note.md" if folder else "/elsewhere/note.md", text, 1_000, len(text.encode()))
    path = store_path(folder) if folder else outside_store_path()
    learned.save(path)
    return path


def built_notes_file() -> Path:
    """The notes the server builds from its stores, kept in their own folder."""
    from collections import Counter

    import numpy as np
    from nextword.model import Vocabulary, tokenize
    from nextword.model.notes import Notes
    from nextword.server.notes_file import notes_path, save_notes

    vocab = Vocabulary.build(Counter(tokenize("the crystal glows")), min_count=1)
    ids = np.arange(3, dtype=np.int32)
    path = notes_path([Path("a.safetensors")])
    save_notes(path, "key", *Notes.build(vocab, [(["the", "zorblaxite", "crystal"], [ids])]).arrays())
    return path


@pytest.fixture
def fill(places, tiny_model_path, tmp_path):
    """Put nextword's own files and others beside them; returns (nextword's, the others)."""
    data, cache, logs = places["data"], places["cache"], places["logs"]
    model = tiny_model_path.read_bytes()
    notes = tmp_path / "notes"
    notes.mkdir()
    stores = [store(notes), store(None), built_notes_file()]
    doomed = {
        data / "model.safetensors": model,
        data / "model.resume.safetensors": model,
        data / ".model.training-123-456.safetensors": model,
        data / ".model.training-123-456.resume.safetensors": model,
        data / ".model.safetensors.k2j_4h5g.tmp": b"half a mod",
        data / "..model.training-123-456.safetensors.abcd1234.tmp": b"",
        cache / "generated-code.cpython-311.bin": b"nextword-code-cache-1\n",
        cache / "generated-code.cpython-312.binx7_ab3cd.tmp": b"",
    }
    kept = {
        data / "settings.json": b"{}",
        data / "my-notes.md": b"notes",
        data / "other.safetensors": model,
        data / "modelX.safetensors": model,
        data / ".model.training-notes.md": b"notes",
        data / ".model.training-1-2.safetensors": b"not a model",
        cache / "sub" / "entry.bin": b"mine",
        cache / "generated-code.txt": b"mine",
        logs / "server.log": LOG_LINE.encode(),
    }
    for path, content in {**doomed, **kept}.items():
        path.write_bytes(content)
    return list(doomed) + stores, list(kept)


def listed(err: str) -> list[str]:
    return sorted(line.strip().rsplit("  (", 1)[0] for line in err.splitlines() if line.startswith("  "))


def test_forget_lists_then_deletes_only_what_it_listed(places, fill, capsys):
    doomed, kept = fill
    assert main(["forget", "--yes"]) == 0
    assert listed(capsys.readouterr().err) == sorted(str(p) for p in doomed)
    assert not any(p.exists() for p in doomed)
    assert all(p.exists() for p in kept)
    assert places["cache"].is_dir()  # not empty: it holds files of someone else's
    assert main(["forget", "--yes"]) == 0
    assert "nothing to forget" in capsys.readouterr().err


def test_forget_removes_the_cache_folder_it_emptied_but_no_other_folder(places, capsys):
    cache = places["cache"]
    (cache / "generated-code.cpython-311.bin").write_bytes(b"nextword-code-cache-1\n")
    assert main(["forget", "--yes"]) == 0
    assert not (cache / "generated-code.cpython-311.bin").exists()
    assert (cache / "sub").is_dir()  # an empty folder that is not nextword's is left alone
    (cache / "sub").rmdir()
    (cache / "generated-code.cpython-311.bin").write_bytes(b"nextword-code-cache-1\n")
    assert main(["forget", "--yes"]) == 0
    assert not cache.exists()


def test_forget_in_a_project_folder_used_as_cache_deletes_only_nextwords_cache(places, tmp_path, monkeypatch, capsys):
    project = tmp_path / "project"
    (project / "src" / "empty").mkdir(parents=True)
    mine = [project / "README.md", project / "src" / "main.py", project / "build.bin", project / "server.log"]
    for path in mine:
        path.write_text("mine")
    (project / "generated-code.cpython-311.bin").write_bytes(b"nextword-code-cache-1\n")
    monkeypatch.chdir(project)
    monkeypatch.setenv("NEXTWORD_CACHE_DIR", ".")
    monkeypatch.setenv("NEXTWORD_LOG_DIR", ".")
    assert main(["forget", "--logs", "--yes"]) == 0
    assert listed(capsys.readouterr().err) == ["generated-code.cpython-311.bin"]
    assert all(p.read_text() == "mine" for p in mine)
    assert (project / "src" / "empty").is_dir()
    assert not (project / "generated-code.cpython-311.bin").exists()


def test_forget_logs_deletes_only_nextwords_logs(places, capsys):
    logs = places["logs"]
    ours = [logs / "server.log", logs / "nextword-vscode.log", logs / "empty.log"]
    ours[0].write_text(LOG_LINE * 3)
    ours[1].write_text("2025-01-01 12:00:00,000 WARNING pygls.protocol: something\n")
    ours[2].write_text("")
    (logs / "sub").mkdir()
    theirs = {logs / "diary.log": "dear diary\n", logs / "server.txt": LOG_LINE, logs / "sub" / "server.log": LOG_LINE}
    for path, text in theirs.items():
        path.write_text(text)
    assert main(["forget", "--logs", "--yes"]) == 0
    assert listed(capsys.readouterr().err) == sorted(str(p) for p in ours)
    assert not any(p.exists() for p in ours)
    assert all(p.read_text() == text for p, text in theirs.items())


@pytest.mark.parametrize("content", [b"keep\n", b"", b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "])
@pytest.mark.parametrize("default", [False, True])
def test_forget_refuses_a_model_file_that_is_not_nextwords(places, tmp_path, monkeypatch, capsys, content, default):
    monkeypatch.chdir(tmp_path)
    precious = places["data"] / "model.safetensors" if default else tmp_path / "precious.md"
    precious.write_bytes(content)
    cached = places["cache"] / "generated-code.cpython-311.bin"
    cached.write_bytes(b"nextword-code-cache-1\n")
    assert main(["forget", "--yes"] if default else ["forget", "--model", "precious.md", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "is not a nextword model" in err and "deletes nothing" in err and "Traceback" not in err
    assert precious.read_bytes() == content and cached.exists()


def test_forget_refuses_a_foreign_safetensors_file(places, tmp_path, capsys):
    from safetensors.torch import save_file

    other = tmp_path / "weights.safetensors"
    save_file({"w": torch.zeros(2)}, str(other), metadata={"format": "pt"})
    assert main(["forget", "--model", str(other), "--yes"]) == 2
    assert "is not a nextword model" in capsys.readouterr().err
    assert other.exists()


def test_forget_asks_first(fill, capsys, monkeypatch):
    doomed, kept = fill

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


def test_forget_without_a_terminal_needs_yes(fill, capsys, monkeypatch):
    doomed, _ = fill
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(["forget"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert all(p.exists() for p in doomed)


def test_forget_logs_and_another_model(places, fill, tmp_path, tiny_model_path, capsys):
    other = tmp_path / "elsewhere" / "mine.safetensors"
    other.parent.mkdir()
    other.write_bytes(tiny_model_path.read_bytes())
    (other.parent / "mine.resume.safetensors").write_bytes(tiny_model_path.read_bytes())
    (other.parent / "notes.md").write_text("x")
    assert main(["forget", "--model", str(other), "--logs", "--yes"]) == 0
    assert not other.exists() and not (other.parent / "mine.resume.safetensors").exists()
    assert (other.parent / "notes.md").exists() and (places["data"] / "model.safetensors").exists()
    assert not (places["logs"] / "server.log").exists()


def test_forget_never_deletes_the_shipped_model(places, tiny_model_path, monkeypatch, capsys):
    monkeypatch.setattr("nextword.model.default_model_path", lambda: tiny_model_path)
    assert main(["forget", "--model", str(tiny_model_path), "--yes"]) == 0
    assert tiny_model_path.exists()


def test_forget_waits_for_no_training_run(places, fill, capsys):
    """A `nextword train` writing the model holds its lock: forget refuses rather than delete a
    model the run would write again; once the run is over, it forgets."""
    from nextword.training.lock import TrainingLock, lock_path

    model = places["data"] / "model.safetensors"
    lock = TrainingLock(model).acquire()
    try:
        assert main(["forget", "--yes"]) == 2
        assert "is writing" in capsys.readouterr().err and model.exists()
    finally:
        lock.release()
    assert main(["forget", "--yes"]) == 0
    assert not model.exists() and not lock_path(model).exists()


def test_forget_deletes_every_workspace_store_and_nothing_else_in_their_folder(places, tmp_path, capsys):
    """Every file of the stores folder that is a workspace store, whatever its name (a store
    the server saved, the outside store, the whole temporary file of an interrupted save, a
    store damaged past its header), and nothing else there: not another safetensors file, not
    a note, not a store in a subfolder or behind a link."""
    from safetensors.torch import save_file

    notes, other = tmp_path / "notes", tmp_path / "other notes"
    notes.mkdir()
    other.mkdir()
    stores = [store(notes), store(other), store(None)]
    folder = stores[0].parent
    interrupted = folder / f".{stores[0].name}.k2j_4h5g.tmp"
    interrupted.write_bytes(stores[1].read_bytes())
    damaged = folder / "0123456789abcdef.safetensors"
    damaged.write_bytes(stores[1].read_bytes()[:-7])
    doomed = [*stores, interrupted, damaged]
    save_file({"w": torch.zeros(2)}, str(folder / "weights.safetensors"), metadata={"format": "pt"})
    (folder / "sub").mkdir()
    (folder / "sub" / "nested.safetensors").write_bytes(stores[0].read_bytes())
    outside = tmp_path / "elsewhere.safetensors"
    outside.write_bytes(stores[0].read_bytes())
    (folder / "link.safetensors").symlink_to(outside)
    half = folder / ".abcdef.safetensors.x1y2.tmp"
    half.write_bytes(stores[0].read_bytes()[:20])  # a save cut off inside its header
    (folder / "readme.txt").write_text("mine")
    kept = [folder / "weights.safetensors", folder / "sub" / "nested.safetensors", outside, half, folder / "readme.txt"]
    before = {p: p.read_bytes() for p in kept}

    assert main(["forget", "--yes"]) == 0
    err = capsys.readouterr().err
    assert listed(err) == sorted(str(p) for p in doomed)
    # Stores are named by a hash: the listing says which folder each one learned from.
    assert f"{stores[0]}  (" in err and f"learned from {notes.resolve()})" in err
    assert f"learned from {other.resolve()})" in err
    assert "learned from files outside the workspace folders)" in err
    assert "nextword.forgetWorkspace" in err  # a running server would save what it holds again
    assert not any(p.exists() for p in doomed)
    assert {p: p.read_bytes() for p in kept} == before
    assert (folder / "link.safetensors").is_symlink()


def test_forget_removes_the_stores_folder_it_emptied(places, tmp_path, capsys):
    notes = tmp_path / "notes"
    notes.mkdir()
    path = store(notes)
    assert main(["forget", "--yes"]) == 0
    assert not path.exists() and not path.parent.exists()
    assert places["data"].is_dir()  # the data folder itself stays
    assert main(["forget", "--yes"]) == 0
    err = capsys.readouterr().err
    assert "nothing to forget" in err and "workspace" in err


def test_forget_another_model_forgets_the_workspaces_too(places, tmp_path, tiny_model_path, capsys):
    """What the server learned from the workspaces belongs to no one model: forgetting a model
    written elsewhere deletes the stores as it deletes the caches."""
    notes = tmp_path / "notes"
    notes.mkdir()
    path = store(notes)
    other = tmp_path / "mine.safetensors"
    other.write_bytes(tiny_model_path.read_bytes())
    assert main(["forget", "--model", str(other), "--yes"]) == 0
    assert listed(capsys.readouterr().err) == sorted([str(other), str(path)])
    assert not path.exists() and not other.exists()
