"""The workspace store: one safetensors file per folder, written atomically, read back exactly,
and refused with one clear sentence when damaged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from nextword.model.pieces import is_continuation
from nextword.model.tokenize import is_word, tokenize
from nextword.server import workspace_store
from nextword.server.workspace_store import (
    FolderStore,
    StoreDamaged,
    is_store_file,
    outside_store_path,
    store_path,
)
from safetensors import safe_open
from safetensors.numpy import save_file

ENGLISH = "The borrow checker keeps references valid.\n\nEach value has an owner, and it's dropped."
KOREAN = "나는 모델을 학습했다. 모델은 노트를 읽는다.\n\nThe 모델 reads notes."


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NEXTWORD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def folder(tmp_path) -> Path:
    notes = tmp_path / "notes"
    notes.mkdir()
    return notes


def filled(folder: Path | None) -> FolderStore:
    store = FolderStore(folder)
    store.learn("a.md", ENGLISH, 1_000, len(ENGLISH.encode()))
    store.learn("sub/b.md", KOREAN, 2_000, len(KOREAN.encode()))
    return store


def rewrite(path: Path, **changes: str) -> None:
    """Write the store file at ``path`` again with some of its metadata changed."""
    with safe_open(str(path), framework="numpy") as f:
        metadata = dict(f.metadata())
        ids = f.get_tensor("ids")
    metadata.update(changes)
    save_file({"ids": ids}, str(path), metadata=metadata)


def test_paths_live_in_the_data_folder_named_by_the_folder(data, folder, tmp_path):
    path = store_path(folder)
    assert path.parent == data / "workspaces" and path.suffix == ".safetensors"
    assert store_path(folder / ".") == path  # the resolved folder names it
    assert store_path(tmp_path) != path
    assert outside_store_path() == data / "workspaces" / "outside.safetensors"


def test_round_trip_keeps_every_files_tokens_english_and_korean(data, folder):
    store = filled(folder)
    assert store.tokens_of("a.md") == tokenize(ENGLISH)
    path = store_path(folder)
    store.save(path)
    assert not store.unsaved and is_store_file(path)
    back = FolderStore.load(path, folder)
    assert back.tokens_of("a.md") == tokenize(ENGLISH)
    assert back.tokens_of("sub/b.md") == tokenize(KOREAN)
    assert back.file_count == 2 and back.token_count == len(tokenize(ENGLISH)) + len(tokenize(KOREAN))
    assert back.word_count == store.word_count == sum(is_word(t) for t in tokenize(ENGLISH + "\n" + KOREAN))
    assert (back.files["sub/b.md"].mtime_ns, back.files["sub/b.md"].size) == (2_000, len(KOREAN.encode()))
    assert back.files["a.md"].digest == store.files["a.md"].digest
    # The loaded store knows its words from its marks: every word counts as new beside an empty vocabulary.
    held_words = {t for t in tokenize(ENGLISH + "\n" + KOREAN) if is_word(t) and not is_continuation(t)}
    assert "모델을" in held_words and back.new_word_count(set()) == store.new_word_count(set()) == len(held_words)
    words, arrays = back.token_table()
    assert [[words[i] for i in ids] for ids in arrays] == [tokenize(ENGLISH), tokenize(KOREAN)]


def test_new_words_are_the_held_words_a_vocabulary_lacks(data, folder):
    store = filled(folder)
    held = {t for t in tokenize(ENGLISH + "\n" + KOREAN) if is_word(t)}
    known = {"The", "borrow", "checker", "모델"}
    assert store.new_word_count(known) == len([w for w in held if w not in known and not is_continuation(w)])
    assert store.new_word_count(held) == 0  # another vocabulary: looked up afresh
    store.learn("c.md", "A zorblaxite crystal.", 3_000, 21)
    assert store.new_word_count(held) == 3  # A, zorblaxite, crystal: the new file's words alone
    store.forget("c.md")
    assert store.new_word_count(held) == 0  # no longer held, though still in the table


def test_learning_again_replaces_and_forgetting_removes(data, folder):
    store = filled(folder)
    store.learn("a.md", "Only this now.", 3_000, 14)
    assert store.tokens_of("a.md") == ["Only", "this", "now", "."]
    assert store.forget("sub/b.md") and not store.forget("sub/b.md")
    assert store.word_count == 3 and store.file_count == 1 and store.tokens_of("sub/b.md") == []


def test_the_file_keeps_only_the_words_still_used(data, folder):
    store = filled(folder)
    before = len(store.words)
    store.forget("sub/b.md")
    store.save(store_path(folder))
    assert len(store.words) == before  # ids keep their words in memory
    back = FolderStore.load(store_path(folder), folder)
    assert back.tokens_of("a.md") == tokenize(ENGLISH)
    assert len(back.words) == len(set(tokenize(ENGLISH)))


def test_outside_store_keys_by_absolute_path(data, tmp_path):
    store = FolderStore(None)
    key = str(tmp_path / "loose.md")
    store.learn(key, ENGLISH, 1, 2)
    store.save(outside_store_path())
    assert FolderStore.load(outside_store_path(), None).tokens_of(key) == tokenize(ENGLISH)


def test_an_empty_store_round_trips_and_a_missing_one_loads_empty(data, folder):
    assert FolderStore.load(store_path(folder), folder).file_count == 0
    FolderStore(folder).save(store_path(folder))
    assert FolderStore.load(store_path(folder), folder).file_count == 0


def test_a_failed_write_leaves_the_old_store_and_no_temporary_file(data, folder, monkeypatch):
    path = store_path(folder)
    filled(folder).save(path)
    old = path.read_bytes()
    store = FolderStore(folder)
    store.learn("c.md", "something else", 1, 1)

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(workspace_store.NextwordError, match=r"cannot write the workspace store .* is unchanged"):
        store.save(path)
    assert store.unsaved
    assert path.read_bytes() == old
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs folder permissions")
def test_a_read_only_folder_is_told_and_the_store_kept(data, folder):
    path = store_path(folder)
    filled(folder).save(path)
    old = path.read_bytes()
    path.parent.chmod(0o500)
    try:
        with pytest.raises(workspace_store.NextwordError, match="cannot write the workspace store"):
            FolderStore(folder).save(path)
    finally:
        path.parent.chmod(0o700)
    assert path.read_bytes() == old


def damaged_message(path: Path, folder: Path | None) -> str:
    with pytest.raises(StoreDamaged) as caught:
        FolderStore.load(path, folder)
    message = str(caught.value)
    assert str(path) in message and "rebuild it from the notes" in message and "\n" not in message
    return message


@pytest.mark.parametrize("keep", [0, 5, 20, -3])
def test_a_truncated_store_is_refused_clearly(data, folder, keep):
    path = store_path(folder)
    filled(folder).save(path)
    path.write_bytes(path.read_bytes()[:keep])
    assert "damaged" in damaged_message(path, folder)


def test_garbage_and_other_formats_are_refused(data, folder, tiny_model_path):
    path = store_path(folder)
    path.parent.mkdir(parents=True)
    path.write_bytes(os.urandom(4000))
    damaged_message(path, folder)
    path.write_bytes(b"\xff" * 8 + b"{}")  # a header size no file can hold
    damaged_message(path, folder)
    path.write_bytes(tiny_model_path.read_bytes())
    assert "not a nextword workspace store" in damaged_message(path, folder)
    assert not is_store_file(path)


@pytest.mark.parametrize(
    "files, problem",
    [
        ([["a.md", "d", 1, 1, 0, 10_000]], "offsets"),
        ([["a.md", "d", 1, 1, 3, 1]], "offsets"),
        ([["a.md", "d", 1, 1, 0, 1], ["a.md", "d", 1, 1, 1, 1]], "malformed"),
        ([["a.md", "d", -1, 1, 0, 1]], "malformed"),
        ("not json", "JSON"),
    ],
)
def test_inconsistent_entries_are_refused(data, folder, files, problem):
    path = store_path(folder)
    filled(folder).save(path)
    rewrite(path, files=files if isinstance(files, str) else json.dumps(files))
    assert problem in damaged_message(path, folder)


def test_ids_out_of_range_are_refused(data, folder):
    path = store_path(folder)
    filled(folder).save(path)
    rewrite(path, words=json.dumps(["only", "two"]))
    assert "out of range" in damaged_message(path, folder)


def test_another_folders_store_is_refused(data, folder, tmp_path):
    filled(folder).save(store_path(folder))
    other = tmp_path / "other"
    other.mkdir()
    store_path(folder).rename(store_path(other))
    message = damaged_message(store_path(other), other)
    assert f"holds the notes of {folder}" in message
    outside = outside_store_path()
    store_path(other).rename(outside)
    damaged_message(outside, None)


@pytest.mark.parametrize("change", [{"tokenizer": "0123456789abcdef"}, {"version": "0"}])
def test_another_tokenizer_or_older_version_loads_empty(data, folder, change):
    path = store_path(folder)
    filled(folder).save(path)
    rewrite(path, **change)
    store = FolderStore.load(path, folder)
    assert store.file_count == 0 and store.word_count == 0


def test_ids_are_int32_and_never_rewritten_in_place(data, folder):
    store = filled(folder)
    _, arrays = store.token_table()
    first = arrays[0].copy()
    store.forget("sub/b.md")
    store.learn("c.md", KOREAN + " brand new words", 5, 5)
    store.save(store_path(folder))
    assert arrays[0].dtype == np.int32 and np.array_equal(arrays[0], first)
