"""Privacy: only the paths named are read; --exclude and .nextwordignore (gitignore syntax)
keep files out, hidden folders are skipped, links out of the folder are not followed, and
training opens no network connection."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from nextword.model import NextwordError
from nextword.server.cli import main
from nextword.training.corpus import find_files, load_corpus

FILES = [
    "a.md",
    "journal/2024.md",
    "journal/private/diary.md",
    "work/plan.md",
    "work/drafts/idea.md",
    "work/secret.txt",
    "keep/notes.log.md",
    ".obsidian/workspace.md",
    "sub/.git/COMMIT.md",
    "sub/ok.md",
]


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "notes"
    for name in FILES:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"text of {name}\n" + "some words of the note. " * 10, encoding="utf-8")
    return root


def found(root: Path, exclude=()) -> list[str]:
    return [rel for _, rel in find_files([root], exclude=exclude)]


def test_hidden_folders_and_files_are_skipped(tree):
    (tree / ".hidden.md").write_text("hidden file\n")
    names = found(tree)
    assert ".obsidian/workspace.md" not in names and "sub/.git/COMMIT.md" not in names and ".hidden.md" not in names
    assert "sub/ok.md" in names and "a.md" in names


def test_a_file_reached_twice_is_read_once(tree):
    (tree / "work" / "link.md").symlink_to(tree / "a.md")
    once = [rel for _, rel in find_files([tree])]
    assert "work/link.md" not in once  # the link beside its target
    assert [rel for _, rel in find_files([tree, tree, tree / "sub", tree / "a.md"])] == once


def test_exclude_patterns_use_gitignore_syntax(tree):
    names = found(tree, ["journal/private/", "*.txt", "/a.md", "drafts"])
    assert names == ["journal/2024.md", "keep/notes.log.md", "sub/ok.md", "work/plan.md"]
    # A pattern without a slash matches at any depth; a leading slash anchors it to the folder named.
    assert "sub/ok.md" not in found(tree, ["ok.md"]) and "sub/ok.md" in found(tree, ["/ok.md"])


def test_nextwordignore_files_apply_to_their_folder_and_below(tree):
    (tree / ".nextwordignore").write_text("# my private things\nprivate/\nsecret.*\n\n", encoding="utf-8")
    (tree / "work" / ".nextwordignore").write_text("drafts/\n!secret.txt\n", encoding="utf-8")
    (tree / "sub" / ".nextwordignore").write_text("/ok.md\n", encoding="utf-8")
    names = found(tree)
    assert "journal/private/diary.md" not in names and "work/drafts/idea.md" not in names and "sub/ok.md" not in names
    # A deeper file can take back what a higher one left out, as in git.
    assert "work/secret.txt" in names
    assert {"a.md", "journal/2024.md", "work/plan.md"} <= set(names)
    # The rules of work/.nextwordignore do not reach the other folders.
    (tree / "journal" / "drafts").mkdir()
    (tree / "journal" / "drafts" / "x.md").write_text("x\n")
    assert "journal/drafts/x.md" in found(tree)


def test_excluded_folders_are_never_entered(tree, monkeypatch):
    import os

    entered = []
    real_walk = os.walk

    def walk(top, *args, **kwargs):
        for folder, dirs, files in real_walk(top, *args, **kwargs):
            entered.append(Path(folder).relative_to(tree).as_posix())
            yield folder, dirs, files

    monkeypatch.setattr("nextword.training.corpus.os.walk", walk)
    found(tree, ["journal/"])
    assert "journal" not in entered and "journal/private" not in entered and ".obsidian" not in entered
    assert "work" in entered


def test_links_leading_outside_the_folder_are_not_followed(tree, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "tax.md").write_text("tax return\n")
    (tree / "tax.md").symlink_to(outside / "tax.md")
    (tree / "linked").symlink_to(outside, target_is_directory=True)
    (tree / "plain.text").write_text("a note with an extension nextword does not read\n")
    (tree / "alias.md").symlink_to(tree / "plain.text")  # inside: fine
    corpus = load_corpus([tree], include_test_split=True)
    read = {d.relative_path for d in corpus.train + corpus.valid}
    assert "tax.md" not in read and not any(name.startswith("linked/") for name in read)
    assert "alias.md" in read
    assert corpus.skipped["links leading outside the folder"] == 1


def test_a_bad_ignore_file_stops_training_rather_than_leaking(tree, capsys):
    (tree / ".nextwordignore").write_bytes(b"\xff\xfe private/\n")
    with pytest.raises(NextwordError, match="nextwordignore"):
        find_files([tree])
    assert main(["train", str(tree), "--from-scratch", "--out", str(tree.parent / "m.safetensors")]) == 2
    err = capsys.readouterr().err
    assert ".nextwordignore" in err and "Traceback" not in err
    assert not (tree.parent / "m.safetensors").exists()


def test_everything_excluded_says_so(tree, capsys):
    assert (
        main(["train", str(tree), "--from-scratch", "--exclude", "*", "--out", str(tree.parent / "m.safetensors")]) == 2
    )
    assert "excluded by --exclude or .nextwordignore" in capsys.readouterr().err


def test_training_reads_only_what_is_named_and_opens_no_connection(tree, tmp_path, monkeypatch, capsys):
    opened: list[str] = []
    real_open = Path.read_bytes

    def read_bytes(self):
        opened.append(str(self))
        return real_open(self)

    def no_network(*args, **kwargs):
        raise AssertionError("training tried to open a network connection")

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setenv("NEXTWORD_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "m.safetensors"
    code = main(
        [
            "train",
            str(tree / "work"),
            "--from-scratch",
            "--exclude",
            "drafts/",
            "--include-test-split",
            "--epochs",
            "1",
            "--emb-dim",
            "8",
            "--hidden-dim",
            "8",
            "--layers",
            "1",
            "--min-count",
            "1",
            "--out",
            str(out),
            "--progress",
            "none",
        ]
    )
    assert code in (0, 1)
    notes = [p for p in opened if p.startswith(str(tree))]
    assert sorted(Path(p).relative_to(tree).as_posix() for p in notes) == ["work/plan.md", "work/secret.txt"]
