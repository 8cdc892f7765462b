"""Hangul words in parts: the tokenizer with the shipped segmentation on mixed-script words and
adversarial Unicode (the parts tile each word, continuations follow its first part, the
protocol's words come back), and the command that learns a segmentation."""

import re
import stat
import unicodedata
from pathlib import Path

import pytest
import sentencepiece
from hypothesis import given, settings
from hypothesis import strategies as st
from nextword.model import NextwordError
from nextword.model.pieces import CONTINUATION, is_continuation, model_file, split_word, surface, word_tokens
from nextword.model.tokenize import NEWLINE, PARAGRAPH, Token, is_word, iter_tokens, tokenize, words
from nextword.training.pieces import count_runs, learn_pieces, main
from nextword.training.split import is_test_file, is_validation_file


def word_parts(text: str) -> list[list[Token]]:
    """The tokens of each protocol word of ``text``, checked against the invariants every text
    keeps: spans in order with only whitespace between them, no whitespace inside a token but
    a break, a word's tokens tiling it exactly (its first a non-continuation, every other a
    continuation spelling its own span), and no continuation outside a word."""
    tokens = list(iter_tokens(text))
    position = 0
    for token in tokens:
        assert token.start >= position and token.end > token.start
        assert position == token.start or text[position : token.start].isspace()
        if token.text not in (NEWLINE, PARAGRAPH):
            assert not any(c.isspace() for c in token.text)
        position = token.end
    assert position == len(text) or text[position:].isspace()

    at = {token.start: i for i, token in enumerate(tokens)}
    groups = []
    for match in words(text):
        i = at[match.start()]
        parts = [tokens[i]]
        while parts[-1].end < match.end():
            i += 1
            parts.append(tokens[i])
        assert parts[-1].end == match.end()
        assert not is_continuation(parts[0].text)
        assert all(is_continuation(part.text) for part in parts[1:])
        assert all(surface(part.text) == text[part.start : part.end] for part in parts)
        assert "".join(surface(part.text) for part in parts) == match.group()
        assert [part.text for part in parts] == word_tokens(match.group())
        groups.append(parts)
    assert sum(is_continuation(token.text) for token in tokens) == sum(len(parts) - 1 for parts in groups)
    return groups


def words_from_tokens(text: str) -> list[str]:
    """The words a consumer of the token stream reads back: a word token with the
    continuations after it."""
    found: list[str] = []
    for token in iter_tokens(text):
        if is_continuation(token.text):
            found[-1] += surface(token.text)
        elif is_word(token.text):
            found.append(token.text)
    return found


def assert_words_recovered(text: str) -> None:
    groups = word_parts(text)
    assert all(is_word(parts[0].text) for parts in groups)
    assert words_from_tokens(text) == [match.group() for match in words(text)]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("RNN을", ["RNN", "##을"]),
        ("seq-to-seq로", ["seq", "-", "to", "-", "seq", "##로"]),
        ("GPT-2는", ["GPT", "-", "2", "##는"]),
        ("text generation을", ["text", "generation", "##을"]),
        ("구현된다", ["구현된", "##다"]),
        ("모델을 학습", ["모델을", "학습"]),  # frequent words stay whole
        ("x_1을", ["x_1", "##을"]),
        ("café를", ["café", "##를"]),
        ("ＲＮＮ을", ["ＲＮＮ", "##을"]),  # fullwidth Latin is another script
        ("##을", ["##", "을"]),  # a typed "##" is a mark, never a continuation
        ("### 제목 ######을", ["###", "제목", "####", "을"]),
        ("<unk>을", ["<", "unk", ">", "을"]),
    ],
)
def test_mixed_script_words_split_where_the_script_changes(text, tokens):
    assert tokenize(text) == tokens
    assert_words_recovered(text)


def test_a_word_without_hangul_is_one_part():
    assert split_word("generation") == ("generation",) and word_tokens("don't") == ["don't"]
    assert is_continuation("##을") and not is_continuation(CONTINUATION) and surface("##을") == "을"
    assert surface("RNN") == "RNN" and surface("##") == "##"


@pytest.fixture(scope="module")
def shipped() -> sentencepiece.SentencePieceProcessor:
    return sentencepiece.SentencePieceProcessor(model_file=str(model_file()))


def unknown_syllables(processor: sentencepiece.SentencePieceProcessor, n: int) -> str:
    """Hangul syllables the segmentation has no piece for."""
    lacking = (chr(c) for c in range(0xAC00, 0xD7A4) if processor.piece_to_id(chr(c)) == processor.unk_id())
    return "".join(next(lacking) for _ in range(n))


def test_syllables_the_segmentation_lacks_keep_their_text(shipped):
    odd = unknown_syllables(shipped, 3)
    for text in [odd, f"{odd}을", f"모델{odd}", f"RNN{odd[0]}을 {odd[1]}{odd[2]}"]:
        assert_words_recovered(text)
        assert not any("⁇" in token or "<unk>" in token for token in tokenize(text))


NFD = unicodedata.normalize("NFD", "한국어를 배운다")


@pytest.mark.parametrize(
    "text",
    [
        NFD,  # decomposed syllables: conjoining jamo
        f"RNN{NFD}",
        "ㅋㅋㅋ ㄱ ᄀ ᆨ ᅡ",  # lone jamo, compatibility and conjoining
        "ㄱㄴ을 ㅎㅎ로",
        "ﾡﾢﾣ 한ﾡ ﾡ한",  # halfwidth jamo
        "\u3164\u3164 \u115f\u1160을 \uffa0한",  # fillers
        "\ua960\ud7b0 가\ua960 \ud7b0을",  # jamo extended A and B
        "가\u11a8 각",  # a syllable followed by a final jamo
        "한\u0301국 가\u0308 한\u20dd을",  # combining marks
        "한\u200d국 한\u200b국 한\u200c국 한\ufeff국 한\u2060국 RNN\u200d을",  # zero-width characters
        "모델😀을 RNN👍🏽을 👨\u200d👩\u200d👧을",  # emoji inside words
        "▁한 한▁국",  # SentencePiece's own space symbol
        "한\u3000국 한\xa0국 한\t국",  # wide, no-break and tab spaces
        "東京에서 Привет을 مرحبا를 3.14를",
        "가" * 3000,
        "데이터를" * 1000 + "RNN",
        "한\n\n\n국\r\n을",
    ],
)
def test_adversarial_unicode_tiles_and_keeps_the_words(text):
    assert_words_recovered(text)


@pytest.mark.parametrize("text", ["data'를", "GPU’를 'RNN'을"])
def test_a_quoted_term_with_a_particle_starts_with_a_word(text):
    # An apostrophe before Hangul is a part of its own, so the word's first part is a word
    # ("data", not "data'") and "##를" stays with it.
    word_parts(text)
    assert_words_recovered(text)


JAMO = st.one_of(
    st.characters(min_codepoint=0x1100, max_codepoint=0x11FF),
    st.characters(min_codepoint=0x3130, max_codepoint=0x318F),
    st.characters(min_codepoint=0xA960, max_codepoint=0xA97F),
    st.characters(min_codepoint=0xD7B0, max_codepoint=0xD7FF),
    st.characters(min_codepoint=0xFFA0, max_codepoint=0xFFDC),
)
FRAGMENTS = st.sampled_from(
    ["RNN", "GPT-2", "seq-to-seq", "모델", "을", "는", "로", "구현된다", "데이터를", "😀", "👍🏽", "##", "#", "-", "_"]
    + ["\u0301", "\u0308", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u2581", "\u3000", "\xa0"]
    + [" ", "  ", "\t", "\n", "\n\n", "\r", "x", "2", "é"]
)
ANY = st.characters(codec="utf-8")  # any code point but surrogates


def texts(apostrophes: bool) -> st.SearchStrategy[str]:
    choices = [FRAGMENTS, JAMO, st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), ANY]
    pieces = st.one_of(*choices, st.sampled_from("'’")) if apostrophes else st.one_of(*choices)
    forms = st.sampled_from(["NFC", "NFD", "NFKC", "NFKD", None])
    drawn = st.tuples(st.lists(pieces, max_size=60), forms).map(
        lambda drawn: unicodedata.normalize(drawn[1], "".join(drawn[0])) if drawn[1] else "".join(drawn[0])
    )
    # Without: any character or a normalization may bring one in (U+FF07 is NFKC's "'").
    return drawn if apostrophes else drawn.map(lambda text: text.replace("'", "").replace("’", ""))


@settings(max_examples=300, deadline=None)
@given(texts(apostrophes=True))
def test_any_text_tiles_and_each_word_is_its_parts(text):
    word_parts(text)


@settings(max_examples=300, deadline=None)
@given(texts(apostrophes=False))
def test_any_text_gives_the_protocol_words_back(text):
    assert_words_recovered(text)


@settings(max_examples=200, deadline=None)
@given(texts(apostrophes=True), st.integers(min_value=0, max_value=100))
def test_scanning_resumes_exactly_after_a_whole_word(text, pick):
    tokens = list(iter_tokens(text))
    if not tokens:
        return
    index = pick % len(tokens)
    while index + 1 < len(tokens) and is_continuation(tokens[index + 1].text):
        index += 1
    assert list(iter_tokens(text, tokens[index].end)) == tokens[index + 1 :]


# The learner: a tiny corpus trains in a blink with a small --vocab-size.

KOREAN = (
    "모델을 학습한다. 모델이 데이터를 읽는다. 데이터로 모델을 평가한다.\n"
    "학습된 모델은 단어를 예측한다. 단어를 예측하는 RNN을 쓴다.\n"
)


def named(rule, count: int) -> list[str]:
    return [name for name in (f"note{i}.md" for i in range(1000)) if rule(name)][:count]


@pytest.fixture
def corpus(tmp_path) -> Path:
    """Training files, one test-split file and one validation file, each of the two with a
    syllable of its own that no training file has."""
    folder = tmp_path / "notes"
    folder.mkdir()
    for name in named(lambda n: not is_test_file(n) and not is_validation_file(n), 3):
        (folder / name).write_text(KOREAN * 3, encoding="utf-8")
    (folder / named(is_test_file, 1)[0]).write_text("뷁뷁 뷁을\n" * 20, encoding="utf-8")
    valid = named(lambda n: not is_test_file(n) and is_validation_file(n), 1)[0]
    (folder / valid).write_text("쀍쀍 쀍을\n" * 20, encoding="utf-8")
    return folder


def run(capsys, *args: object) -> tuple[int, str]:
    code = main([str(arg) for arg in args])
    return code, capsys.readouterr().err


def test_the_learner_writes_a_segmentation_of_the_training_files(corpus, tmp_path, capsys):
    out = tmp_path / "out" / "hangul.model"
    out.parent.mkdir()
    code, err = run(capsys, corpus, "-o", out, "--vocab-size", 30)
    assert code == 0 and "wrote" in err and str(out) in err
    assert sorted(p.name for p in out.parent.iterdir()) == ["hangul.model"]  # no temporary file left
    processor = sentencepiece.SentencePieceProcessor(model_file=str(out))
    assert processor.get_piece_size() == 30
    for hangul in re.findall(r"[가-힣]+", KOREAN):
        assert "".join(processor.encode(hangul, out_type=str)) == hangul
    # Neither the evaluation's test split nor the validation file is learned from.
    assert processor.piece_to_id("뷁") == processor.unk_id() == processor.piece_to_id("쀍")
    assert processor.piece_to_id("모") != processor.unk_id()
    # The same corpus gives the same bytes.
    again = tmp_path / "out" / "again.model"
    assert run(capsys, corpus, "-o", again, "--vocab-size", 30)[0] == 0
    assert again.read_bytes() == out.read_bytes()


def test_the_learner_keeps_an_existing_files_permissions(corpus, tmp_path, capsys):
    out = tmp_path / "hangul.model"
    out.write_bytes(b"old")
    out.chmod(0o640)
    assert run(capsys, corpus, "-o", out, "--vocab-size", 30)[0] == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and out.read_bytes() != b"old"


def test_learning_counts_runs_of_hangul_and_needs_some():
    from nextword.training.corpus import Document

    runs = count_runs([Document(Path("a.md"), "a.md", "RNN을 모델을, 모델을! ㅋㅋ")])
    assert runs == {"을": 1, "모델을": 2, "ㅋㅋ": 1}
    with pytest.raises(NextwordError, match="no Hangul"):
        learn_pieces(count_runs([]))


def assert_refused(capsys, args: list[object], *phrases: str) -> None:
    code, err = run(capsys, *args)
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    for phrase in phrases:
        assert phrase in err


def test_the_learner_names_what_is_wrong_and_what_to_pass(corpus, tmp_path, capsys):
    out = tmp_path / "hangul.model"
    english = tmp_path / "english"
    english.mkdir()
    (english / "a.md").write_text("No Korean here at all.\n", encoding="utf-8")
    assert_refused(capsys, [english, "-o", out], "no Hangul", "Korean text")
    assert_refused(capsys, [corpus, "-o", tmp_path / "missing" / "x.model"], "does not exist", "-o")
    assert_refused(capsys, [corpus, "-o", tmp_path], "is a folder", "file name")
    assert_refused(capsys, [tmp_path / "nowhere", "-o", out], "does not exist")
    assert_refused(capsys, [corpus, "-o", out, "--vocab-size", 5000], "too little", "--vocab-size", "or less")
    assert_refused(capsys, [corpus, "-o", out, "--vocab-size", 5], "--vocab-size", "or more")
    assert not out.exists()


def test_a_failed_run_leaves_the_old_file_as_it_was(corpus, tmp_path, capsys):
    out = tmp_path / "hangul.model"
    out.write_bytes(b"old")
    assert run(capsys, corpus, "-o", out, "--vocab-size", 5000)[0] == 2
    assert out.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("size", ["0", "-3", "many"])
def test_the_learner_refuses_a_vocab_size_that_is_no_count(tmp_path, size, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path), "-o", str(tmp_path / "x.model"), "--vocab-size", size])
    assert exit_.value.code == 2 and "--vocab-size" in capsys.readouterr().err
