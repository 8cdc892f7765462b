"""Reading a workspace folder into its store by train's rules, incrementally, and learning one
file on save."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from nextword.model import NextwordError
from nextword.model.tokenize import tokenize
from nextword.server.workspace_scan import CAP_REACHED, key_of, learn_file, outside_key, scan
from nextword.server.workspace_store import FolderStore

MB = 1 << 20


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.fixture
def notes(tmp_path) -> Path:
    root = tmp_path / "notes"
    write(
        root,
        {
            "a.md": "The borrow checker keeps references valid.",
            "sub/b.md": "나는 모델을 학습했다. The model reads notes.",
            "sub/deep/c.txt": "Virtual environments hold packages.",
            "drafts/d.md": "a private draft",
            "skip.log": "not a note: another extension",
            ".obsidian/e.md": "hidden settings",
            ".hidden.md": "hidden note",
            "bin.md": b"PNG\x00\x01\x02 binary",
            "latin1.md": "caf\xe9".encode("latin-1"),
            "big.md": "word " * 400,
            ".nextwordignore": "drafts/\n",
        },
    )
    return root


def test_scan_reads_by_trains_rules_and_counts_what_it_skipped(notes):
    store = FolderStore(notes)
    result = scan(notes, store, max_file_bytes=1024, max_words=None)
    assert sorted(store.files) == ["a.md", "sub/b.md", "sub/deep/c.txt"]
    assert store.tokens_of("sub/b.md") == tokenize("나는 모델을 학습했다. The model reads notes.")
    assert result.learned == 3 and result.unchanged == 0 and result.left_out == 0
    assert result.skipped == {"binary": 1, "not UTF-8": 1, "larger than 1 kB": 1, "excluded": 1}
    assert store.skipped == result.skipped
    assert result.seen == 6


def test_the_test_split_rule_does_not_apply(tmp_path):
    # Names the evaluation would hold out are a person's own notes here: every one is read.
    write(tmp_path, {f"note{i}.md": f"note number {i}" for i in range(40)})
    store = FolderStore(tmp_path)
    assert scan(tmp_path, store, max_file_bytes=MB, max_words=None).learned == 40
    assert store.file_count == 40


def test_a_second_scan_reads_only_what_changed(notes):
    store = FolderStore(notes)
    scan(notes, store, max_file_bytes=1024, max_words=None)
    ids = {key: f.ids for key, f in store.files.items()}
    revision = store.revision

    again = scan(notes, store, max_file_bytes=1024, max_words=None)
    assert (again.learned, again.unchanged, again.forgotten) == (0, 3, 0)
    assert store.revision == revision and all(store.files[k].ids is v for k, v in ids.items())

    stat = (notes / "a.md").stat()
    os.utime(notes / "a.md", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # touched, same text
    (notes / "sub/deep/c.txt").write_text("Changed: virtual environments hold wheels.")
    (notes / "sub/b.md").unlink()
    third = scan(notes, store, max_file_bytes=1024, max_words=None)
    assert (third.learned, third.unchanged, third.forgotten) == (1, 1, 1)
    assert store.files["a.md"].ids is ids["a.md"]  # not tokenized again
    assert store.files["a.md"].mtime_ns == stat.st_mtime_ns + 5_000_000_000
    assert store.tokens_of("sub/deep/c.txt")[:2] == ["Changed", ":"]
    assert "sub/b.md" not in store.files


def test_a_file_newly_ignored_or_turned_binary_is_forgotten(notes):
    store = FolderStore(notes)
    scan(notes, store, max_file_bytes=1024, max_words=None)
    (notes / ".nextwordignore").write_text("drafts/\nsub/deep/\n")
    (notes / "a.md").write_bytes(b"\x00\x00 now binary")
    result = scan(notes, store, max_file_bytes=1024, max_words=None)
    assert sorted(store.files) == ["sub/b.md"]
    assert result.forgotten == 1 and result.skipped["binary"] == 2


def test_the_word_cap_leaves_new_files_out_and_keeps_what_is_stored(tmp_path):
    write(tmp_path, {f"n{i}.md": "one two three four five" for i in range(6)})
    store = FolderStore(tmp_path)
    result = scan(tmp_path, store, max_file_bytes=MB, max_words=12, words_elsewhere=3)
    assert (result.learned, result.left_out) == (1, 5) and store.left_out == 5
    assert store.word_count == 5
    # More words elsewhere never makes it drop what it holds; a changed file is learned when it fits.
    (tmp_path / "n0.md").write_text("one two")
    result = scan(tmp_path, store, max_file_bytes=MB, max_words=12, words_elsewhere=20)
    assert store.tokens_of("n0.md") == ["one", "two", "three", "four", "five"]
    assert result.left_out == 6
    result = scan(tmp_path, store, max_file_bytes=MB, max_words=12, words_elsewhere=3)
    assert store.tokens_of("n0.md") == ["one", "two"] and result.learned == 2 and result.left_out == 4
    assert store.word_count == 7


def test_should_stop_ends_the_scan_between_files(notes):
    store = FolderStore(notes)
    seen: list[tuple[int, int]] = []
    result = scan(
        notes,
        store,
        max_file_bytes=1024,
        max_words=None,
        should_stop=lambda: len(seen) >= 2,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert result.stopped and seen == [(1, 6), (2, 6)]
    assert store.file_count <= 2


def test_a_missing_folder_is_told(tmp_path):
    with pytest.raises(NextwordError, match="is not a folder"):
        scan(tmp_path / "gone", FolderStore(tmp_path / "gone"), max_file_bytes=MB, max_words=None)


def test_learn_file_learns_or_says_why_not(notes):
    store = FolderStore(notes)
    assert learn_file(store, "a.md", notes / "a.md", 1024) is None
    assert store.tokens_of("a.md")[:2] == ["The", "borrow"]
    assert learn_file(store, "a.md", notes / "a.md", 1024) is None  # as it was: nothing to do
    assert learn_file(store, "bin.md", notes / "bin.md", 1024) == "binary"
    assert learn_file(store, "big.md", notes / "big.md", 1024) == "larger than 1 kB"
    assert learn_file(store, "latin1.md", notes / "latin1.md", 1024) == "not UTF-8"
    assert learn_file(store, "gone.md", notes / "gone.md", 1024).startswith("unreadable")
    assert learn_file(store, "sub/b.md", notes / "sub/b.md", MB, max_words=8) == CAP_REACHED
    (notes / "a.md").write_bytes(b"\x00binary now")
    assert learn_file(store, "a.md", notes / "a.md", 1024) == "binary"
    assert store.file_count == 0


def test_key_of_follows_the_folders_rules(notes, tmp_path):
    (notes / "sub" / ".nextwordignore").write_text("secret*.md\n")
    assert key_of(notes, notes / "sub" / "b.md") == "sub/b.md"
    assert key_of(notes, notes / "a.md") == "a.md"
    assert key_of(notes, notes / "new" / "later.md") == "new/later.md"  # not written yet: still its key
    assert key_of(notes, notes / "sub" / "secret-plan.md") is None
    assert key_of(notes, notes / "secret-plan.md") == "secret-plan.md"  # that ignore file is below it
    assert key_of(notes, notes / "drafts" / "d.md") is None
    assert key_of(notes, notes / ".git" / "COMMIT_EDITMSG.md") is None
    assert key_of(notes, notes / ".obsidian" / "e.md") is None
    assert key_of(notes, notes / ".hidden.md") is None
    assert key_of(notes, notes / "skip.log") is None
    assert key_of(notes, tmp_path / "elsewhere.md") is None
    assert key_of(notes, notes) is None


def test_key_of_refuses_links_the_scan_would_not_follow(notes, tmp_path):
    outside = tmp_path / "outside"
    write(outside, {"x.md": "outside the folder"})
    (notes / "linked").symlink_to(outside)
    (notes / "link.md").symlink_to(outside / "x.md")
    (notes / "inner.md").symlink_to(notes / "a.md")
    assert key_of(notes, notes / "linked" / "x.md") is None
    assert key_of(notes, notes / "link.md") is None
    assert key_of(notes, notes / "inner.md") == "inner.md"
    store = FolderStore(notes)
    scan(notes, store, max_file_bytes=1024, max_words=None)
    assert "link.md" not in store.files and "linked/x.md" not in store.files
    assert "a.md" in store.files  # a link beside its target is read once


def test_key_of_through_a_linked_path_to_the_folder(notes, tmp_path):
    (tmp_path / "alias").symlink_to(notes)
    assert key_of(tmp_path / "alias", notes / "a.md") == "a.md"
    assert key_of(notes, tmp_path / "alias" / "sub" / "b.md") == "sub/b.md"


def test_an_unreadable_ignore_file_keeps_files_out(notes):
    (notes / "sub" / ".nextwordignore").write_bytes(b"\xff\xfe not UTF-8")
    assert key_of(notes, notes / "sub" / "b.md") is None
    with pytest.raises(NextwordError, match="nextwordignore"):
        scan(notes, FolderStore(notes), max_file_bytes=1024, max_words=None)


def test_outside_keys(tmp_path):
    assert outside_key(tmp_path / "loose.md") == (tmp_path / "loose.md").as_posix()
    assert outside_key(tmp_path / ".config" / "x.md") is None
    assert outside_key(tmp_path / "script.py") is None
