"""The latency benchmarks' documents (benchmarks/latency_documents.py): cut from a corpus folder
in path order, English by default and Korean on request, never from the notes-ko corpora."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from latency_documents import (  # noqa: E402
    CORPORA,
    HANGUL_RE,
    PARAGRAPH,
    PREDICTOR_CORPUS,
    SERVER_CORPUS,
    corpus_text,
    first_words,
    protocol_keys,
    small_notes,
)


def test_corpus_text_reads_text_files_in_path_order_until_it_has_enough_words(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.md").write_text("모델을 학습한다", encoding="utf-8")
    (tmp_path / "b" / "c.txt").write_text("RNN을 쓴다", encoding="utf-8")
    (tmp_path / "b" / "d.rst").write_text("never read", encoding="utf-8")
    (tmp_path / "a.json").write_text("{}", encoding="utf-8")
    assert corpus_text(tmp_path, 3) == "모델을 학습한다\n\nRNN을 쓴다"
    assert corpus_text(tmp_path, 100) == "모델을 학습한다\n\nRNN을 쓴다\n\nnever read"


def test_a_missing_corpus_folder_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="missing; pass --corpus"):
        corpus_text(tmp_path / "nowhere", 10)


def test_first_words_counts_a_word_with_its_particle_as_one() -> None:
    text = "RNN을 통해 text generation을 하는 것"
    assert first_words(text, 4) == "RNN을 통해 text generation을.\n\n"
    with pytest.raises(SystemExit, match="fewer than 8 words"):
        first_words(text, 8)


def test_the_korean_paragraph_is_korean_with_english_terms_and_costs_its_2_set_keys() -> None:
    korean = PARAGRAPH["ko"]
    assert HANGUL_RE.search(korean) and "lifetime은" in korean and "checker가" in korean
    assert protocol_keys("모델을") == 8
    assert protocol_keys(korean) > len(korean)
    assert protocol_keys(PARAGRAPH["en"]) == len(PARAGRAPH["en"])  # English keys as before


def test_korean_documents_come_from_base_ko_and_english_stays_the_default_corpus() -> None:
    assert SERVER_CORPUS["en"] == CORPORA / "base" and PREDICTOR_CORPUS["en"] == CORPORA / "base" / "python-peps"
    for corpus in (SERVER_CORPUS["ko"], PREDICTOR_CORPUS["ko"]):
        assert corpus.is_relative_to(CORPORA / "base-ko")
    text = corpus_text(PREDICTOR_CORPUS["ko"], 2_000)
    assert len(HANGUL_RE.findall(text)) > 1_000


def test_korean_notes_to_hold_open_are_small_base_ko_files_with_hangul() -> None:
    notes = small_notes("ko", 30)
    assert len(notes) == 30
    assert [relative for relative, _ in notes] == sorted(relative for relative, _ in notes)
    for relative, text in notes:
        path = CORPORA / "base-ko" / relative
        assert path.read_text(encoding="utf-8", errors="replace") == text
        assert path.stat().st_size < 8000 and HANGUL_RE.search(text)
