"""The notes built from the workspace stores, kept in a file so that a second start reads them
instead of building them (server/notes_file.py, server/notes_building.py), and built in a
process of their own when large."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from nextword.model import Vocabulary, tokenize
from nextword.model.notes import Notes
from nextword.server import notes_building
from nextword.server.notes_building import built_notes, packed_table, unpacked_table
from nextword.server.notes_file import load_notes, notes_key, save_notes, vocabulary_digest

BASE = "the model reads the text and the model writes the text . the next word is the word"
NOTES = [
    "the zorblaxite lamp glows . the zorblaxite lamp hums . the model reads the zorblaxite",
    "the quixotrel engine hums . a word and the next word . 모델을 통해 text generation을 하는 것",
]


def vocab() -> Vocabulary:
    return Vocabulary.build(Counter(tokenize(BASE)), min_count=1)


def table(*texts: str) -> tuple[list[str], list[np.ndarray]]:
    index: dict[str, int] = {}
    files = [np.asarray([index.setdefault(t, len(index)) for t in tokenize(text)], dtype=np.int32) for text in texts]
    return list(index), files


def same(a: Notes, b: Notes) -> bool:
    contexts = [[], [a.vocab.id("the")], [a.vocab.id("the"), a.new_index["zorblaxite"]], [3, 4, 5]]
    return (
        a.new_words == b.new_words
        and a.part_words == b.part_words
        and a.from_workspace == b.from_workspace
        and np.array_equal(a.counts, b.counts)
        and all(np.array_equal(a.ngram.distribution(c), b.ngram.distribution(c)) for c in contexts)
    )


def test_notes_as_arrays_come_back_the_same() -> None:
    v = vocab()
    notes = Notes.build(v, [table(*NOTES)], trained=np.asarray(v.encode(tokenize("the model reads")), dtype=np.int32))
    assert same(Notes.from_arrays(v, *notes.arrays()), notes)


def test_notes_of_another_vocabulary_are_refused() -> None:
    notes = Notes.build(vocab(), [table(*NOTES)])
    other = Vocabulary.build(Counter(tokenize(BASE + " another few words")), min_count=1)
    with pytest.raises(ValueError, match="not of this vocabulary"):
        Notes.from_arrays(other, *notes.arrays())


def test_the_file_holds_the_notes_of_its_key_only(tmp_path: Path) -> None:
    path = tmp_path / "notes" / "n.safetensors"
    notes = Notes.build(vocab(), [table(*NOTES)])
    save_notes(path, "key-1", *notes.arrays())
    assert [p.name for p in path.parent.iterdir()] == ["n.safetensors"]  # no temporary file left
    found = load_notes(path, "key-1")
    assert found is not None and same(Notes.from_arrays(vocab(), *found), notes)
    assert load_notes(path, "key-2") is None
    path.write_bytes(path.read_bytes()[:200])  # cut short: read as none, not raised
    assert load_notes(path, "key-1") is None
    assert load_notes(tmp_path / "missing.safetensors", "key-1") is None


def test_the_key_changes_with_what_the_notes_are_built_from() -> None:
    v = vocab()
    vocabulary = vocabulary_digest(v.tokens)
    key = notes_key(vocabulary, ["a", "b"], None)
    assert key == notes_key(vocabulary, ["a", "b"], None)
    assert len({key, notes_key(vocabulary, ["a", "c"], None), notes_key(vocabulary, ["a", "b", "b"], None)}) == 3
    assert key != notes_key(vocabulary, ["a", "b"], np.asarray([1, 2], dtype=np.int32))
    assert key != notes_key(vocabulary_digest([*v.tokens, "more"]), ["a", "b"], None)


def test_built_once_then_read_from_the_file(tmp_path: Path) -> None:
    v, path = vocab(), tmp_path / "n.safetensors"
    first = built_notes(v, [table(*NOTES)], None, path, "k")
    assert same(first, Notes.build(v, [table(*NOTES)]))
    written = path.stat().st_mtime_ns
    again = built_notes(v, [table(*NOTES)], None, path, "k")
    assert same(again, first) and path.stat().st_mtime_ns == written  # read, not written again
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")  # damaged: built again
    assert same(built_notes(v, [table(*NOTES)], None, path, "k"), first)
    assert load_notes(path, "k") is not None


def test_large_notes_are_built_in_a_process_of_their_own(tmp_path: Path, monkeypatch, caplog) -> None:
    monkeypatch.setattr(notes_building, "IN_PROCESS_TOKENS", 1)
    v, path = vocab(), tmp_path / "n.safetensors"
    built = built_notes(v, [table(*NOTES)], None, path, "k")
    assert same(built, Notes.build(v, [table(*NOTES)]))
    assert load_notes(path, "k") is not None
    assert "building them here" not in caplog.text  # the process built them, not a fallback


def test_what_goes_to_the_building_process_comes_back_the_same() -> None:
    words = ["모델", "##을", "\n", "\n\n", "", "a b", "é"]
    files = [np.array([0, 1, 2], dtype=np.int32), np.zeros(0, dtype=np.int32), np.array([6, 5], dtype=np.int32)]
    back_words, back_files = unpacked_table(*packed_table((words, files)))
    assert back_words == words
    assert [f.tolist() for f in back_files] == [f.tolist() for f in files]
    assert unpacked_table(*packed_table(([], []))) == ([], [])
