"""The workspace-mode benchmark's helpers (benchmarks/workspace_mode.py): the protocol's split of
a corpus, the workspace folder it keeps in step with a split (only a folder it made), when the
server counts as ready, and its arguments."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from eval_support import TEST_NAME, TRAIN_NAMES, write_corpus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import workspace_mode  # noqa: E402


def test_split_files_follows_the_protocol(tmp_path: Path) -> None:
    train, test = workspace_mode.split_files(write_corpus(tmp_path))
    assert sorted(rel for _, rel in train) == sorted(TRAIN_NAMES)
    assert [rel for _, rel in test] == [TEST_NAME]


def test_prepare_folder_holds_exactly_the_files_and_leaves_unchanged_ones_alone(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    train, _ = workspace_mode.split_files(corpus)
    folder = tmp_path / "workspace"
    workspace_mode.prepare_folder(folder, train)
    assert (folder / "notes" / "x.md").read_bytes() == (corpus / "notes" / "x.md").read_bytes()
    os.utime(folder / "a.md", ns=(1, 1))
    (folder / "b.md").write_text("changed", encoding="utf-8")
    (folder / "notes" / "saved.md").write_text("a test file saved in continual mode", encoding="utf-8")
    workspace_mode.prepare_folder(folder, train)
    assert (folder / "a.md").stat().st_mtime_ns == 1  # the same bytes: not written again
    assert (folder / "b.md").read_bytes() == (corpus / "b.md").read_bytes()
    assert not (folder / "notes" / "saved.md").exists()
    workspace_mode.prepare_folder(folder, [])
    assert [p.name for p in folder.rglob("*") if p.is_file()] == [workspace_mode.MARKER]


def test_prepare_folder_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "mine.md").write_text("my own note", encoding="utf-8")
    with pytest.raises(SystemExit, match="not a folder this benchmark made"):
        workspace_mode.prepare_folder(tmp_path, [])
    assert (tmp_path / "mine.md").read_text(encoding="utf-8") == "my own note"


def status(state: str = "ready", folders: list[str] | None = None, pending: int = 0) -> dict:
    entries = [{"folder": "/w", "state": s, "files": 1} for s in (folders or [])]
    return {"state": state, "workspaces": entries, "learning": {"pending": pending}}


def test_ready_once_the_model_is_loaded_every_folder_read_and_nothing_pending() -> None:
    assert not workspace_mode.learning_done(status("loading", ["ready"]), True)
    assert not workspace_mode.learning_done(status("ready", ["ready", "reading"]), True)
    assert not workspace_mode.learning_done(status("ready", ["ready"], pending=1), True)
    assert not workspace_mode.learning_done(status("ready", []), True)  # the folder not yet listed
    assert workspace_mode.learning_done(status("ready", ["ready", "ready"]), True)
    assert workspace_mode.learning_done({"state": "ready"}, False)
    with pytest.raises(SystemExit, match="does not learn"):
        workspace_mode.learning_done(status("ready", ["off"]), True)
    with pytest.raises(SystemExit, match="reports no workspaces"):
        workspace_mode.learning_done({"state": "ready"}, True)


def test_phase_names_what_the_server_is_doing() -> None:
    assert workspace_mode.phase(status("loading", ["reading"])) == "reading"
    assert workspace_mode.phase(status("ready", ["ready"], pending=2)) == "reading+model"
    assert workspace_mode.phase(status("loading", ["ready"])) == "loading"


def test_arguments(tmp_path: Path) -> None:
    corpus = str(write_corpus(tmp_path))
    args = workspace_mode.parse_args([corpus, "--mode", "continual", "--start", "empty", "--max-words", "300"])
    assert (args.mode, args.start, args.max_words) == ("continual", "empty", 300)
    assert args.model.is_file()  # the shipped model by default
    for wrong in (["--start", "empty"], ["--max-words", "-1"], ["--model", str(tmp_path / "none.safetensors")]):
        with pytest.raises(SystemExit):
            workspace_mode.parse_args([corpus, *wrong])
