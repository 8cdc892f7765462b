"""The documents the latency benchmarks open and the text they type, in English or Korean.

English (the default, so that earlier figures stay comparable) opens ../shared/corpora/base and
types a fixed paragraph; Korean opens ../shared/corpora/base-ko and types a paragraph of Korean
technical prose with English terms and particles attached to them (``lifetime은``), as an editor
receives it: one whole syllable per change. Never the notes-ko corpora: their test splits
measure accuracy, and nothing here may be tuned on them.
"""

from __future__ import annotations

import re
from pathlib import Path

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
WORD_RE = re.compile(r"\w+(?:['’]\w+)*")
SUFFIXES = (".md", ".rst", ".txt")
LANGUAGES = ("en", "ko")
HANGUL_RE = re.compile("[\uac00-\ud7a3]")

# The server benchmark's documents, and the Predictor benchmark's (one project's documentation,
# in each language the Python project's own).
SERVER_CORPUS = {"en": CORPORA / "base", "ko": CORPORA / "base-ko"}
PREDICTOR_CORPUS = {"en": CORPORA / "base" / "python-peps", "ko": CORPORA / "base-ko" / "python-docs-ko"}

PARAGRAPH = {
    "en": (
        "When the compiler cannot infer the type of a value, the programmer writes it out, "
        "and the error message usually says which annotation is missing. The same rule holds "
        "for functions that return references: the lifetime of the result must be tied to one "
        "of the arguments, or the borrow checker rejects the program before it runs."
    ),
    "ko": (
        "컴파일러가 값의 타입을 추론하지 못하면 프로그래머가 직접 적어 주고, 오류 메시지는 보통 "
        "어떤 annotation이 빠졌는지 알려 준다. 참조를 반환하는 함수에도 같은 규칙이 적용된다: "
        "결과의 lifetime은 인자 중 하나에 묶여야 하고, 그렇지 않으면 borrow checker가 프로그램을 "
        "실행하기 전에 거부한다. 이 규칙 덕분에 dangling reference로 인한 버그는 컴파일 단계에서 "
        "잡히고, 테스트를 돌리기 전에 고칠 수 있다."
    ),
}


def corpus_text(root: Path, min_words: int, word_re: re.Pattern[str] = WORD_RE) -> str:
    """The text files under ``root`` in path order, joined by blank lines, as many as it takes
    to hold ``min_words`` words (all of them if it holds fewer)."""
    if not root.is_dir():
        raise SystemExit(f"the corpus folder {root} is missing; pass --corpus with a folder of text files")
    parts, words = [], 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in SUFFIXES:
            text = path.read_text(encoding="utf-8", errors="replace")
            parts.append(text)
            words += len(word_re.findall(text))
            if words >= min_words:
                break
    return "\n\n".join(parts)


def first_words(text: str, n: int) -> str:
    """``text`` cut after its ``n``-th word, ending with a blank line to type after."""
    for i, m in enumerate(WORD_RE.finditer(text), 1):
        if i == n:
            return text[: m.end()] + ".\n\n"
    raise SystemExit(f"the corpus has fewer than {n:,} words; pass smaller --sizes or a larger --corpus")


def small_notes(language: str, count: int) -> list[tuple[str, str]]:
    """``count`` short documents as (relative path, text). English: the notes of simonw-til,
    its test split first, then its other notes of under 8,000 bytes, in path order. Korean:
    the files of base-ko of under 8,000 bytes that hold Hangul, in path order."""
    from nextword.training.split import is_test_file

    if language == "en":
        root = CORPORA / "notes" / "simonw-til"
        files = sorted(p for p in root.rglob("*.md") if p.is_file())
        is_test = {p: is_test_file(p.relative_to(root).as_posix()) for p in files}
        tests = [p for p in files if is_test[p]]
        others = [p for p in files if not is_test[p] and p.stat().st_size < 8000]
        chosen = (tests + others)[:count]
    else:
        root = CORPORA / "base-ko"
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
        small = (p for p in files if p.stat().st_size < 8000)
        chosen = []
        for path in small:
            if len(chosen) == count:
                break
            if HANGUL_RE.search(path.read_text(encoding="utf-8", errors="replace")):
                chosen.append(path)
    if len(chosen) < count:
        raise SystemExit(f"{root} holds only {len(chosen)} notes to open; pass a smaller --documents")
    return [(p.relative_to(root).as_posix(), p.read_text(encoding="utf-8", errors="replace")) for p in chosen]


def protocol_keys(text: str) -> int:
    """The keys ``text`` costs as the evaluation protocol counts them (a Hangul syllable its
    2-set keys, any other character one)."""
    from nextword.model.hangul import key_count

    return key_count(text)
