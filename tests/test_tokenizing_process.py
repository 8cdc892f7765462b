"""Reading a scan's files in a process of its own, ahead of the scan (server/tokenizing_process.py):
the same tokens as reading them here, whatever order the files are asked for in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from nextword.server.tokenizing_process import AHEAD, tokenizing_process
from nextword.server.workspace_scan import ReadingHere


def notes(folder: Path, count: int) -> list[Path]:
    paths = []
    for n in range(count):
        path = folder / f"note-{n:02d}.md"
        path.write_text(f"Note {n}: the zorblaxite lamp number {n} glows. 모델을 통해 {n}번째 text를 읽는다.\n")
        paths.append(path)
    (folder / "empty.md").write_text("  \n")
    (folder / "binary.md").write_bytes(b"\x00\x01 not text")
    return paths + [folder / "empty.md", folder / "binary.md"]


def same(a: tuple, b: tuple) -> bool:
    (problem_a, digest_a, tokens_a), (problem_b, digest_b, tokens_b) = a, b
    if (problem_a, digest_a) != (problem_b, digest_b) or (tokens_a is None) != (tokens_b is None):
        return False
    if tokens_a is None:
        return True
    return [tokens_a.distinct[i] for i in tokens_a.places] == [tokens_b.distinct[i] for i in tokens_b.places] and (
        tokens_a.words == tokens_b.words
    )


def test_files_read_ahead_are_those_asked_for_even_when_some_are_skipped(tmp_path: Path, caplog) -> None:
    paths = notes(tmp_path, 2 * AHEAD + 3)
    here = ReadingHere()
    asked = [p for n, p in enumerate(paths) if n % 3 != 1]  # the scan skips every third file
    with tokenizing_process() as reader:
        reader.expect(paths)
        for path in asked:
            assert same(reader.read(path), here.read(path)), path
        outside = tmp_path / "not-expected.md"
        outside.write_text("A file nobody said would come.\n")
        assert same(reader.read(outside), here.read(outside))
    assert "reading them here" not in caplog.text  # the process read them, not a fallback
    problem, _, tokens = here.read(tmp_path / "binary.md")
    assert problem and tokens is None


def test_a_file_asked_for_again_is_read_again(tmp_path: Path) -> None:
    paths = notes(tmp_path, 3)
    with tokenizing_process() as reader:
        reader.expect(paths)
        first = reader.read(paths[0])
        paths[0].write_text("Changed since: the quixotrel engine hums.\n")
        again = reader.read(paths[0])
    assert not same(first, again) and np.asarray(again[2].places).size > 0
