"""Type-through evaluation: the split rule, the typist's keystroke arithmetic, the baselines'
ranking rules, perplexity, and `nextword eval` on good and bad input."""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import Counter

import pytest
import torch
from eval_support import SENTENCE, TEST_NAME, tiny_model, write_corpus
from nextword.model import LanguageModel, ModelConfig, Vocabulary, tokenize
from nextword.server.cli import main
from nextword.training.baselines import BufferWords, UnigramWords
from nextword.training.perplexity import perplexity
from nextword.training.split import is_test_file
from nextword.training.typist import accepted_after, evaluated_words, type_through


# ----- split ----------------------------------------------------------------------------------------
def test_split_rule_against_hand_computed_digests():
    # 16**n ≡ 6 (mod 10) for n >= 1, so a hex number mod 10 is its last digit plus six times
    # the sum of the others: an independent route to the same bucket.
    for path, digest, test in [
        ("k.md", "efbf3db22f46867a61973f0202b552af4c910658", True),
        ("a.md", "5d48a79a3e66a0b67d03c582501493d256004f1f", False),
        ("notes/x.md", "10bca5fd104df5cb07d5efca43fb26c682f39767", False),
        ("notes/w.md", None, True),
        ("sub/u.md", None, True),
    ]:
        actual = hashlib.sha1(path.encode("utf-8")).hexdigest()
        assert digest is None or actual == digest
        digits = [int(c, 16) for c in actual]
        assert (digits[-1] + 6 * sum(digits[:-1])) % 10 == (0 if test else int(actual, 16) % 10)
        assert is_test_file(path) is test


# ----- the typist -----------------------------------------------------------------------------------
class Oracle:
    """Knows the text: suggests the word being typed once ``after`` characters are typed,
    behind ``rank`` decoys that start with the prefix, and after ``junk`` that does not."""

    name = "oracle"

    def __init__(self, text: str, after: int = 0, rank: int = 0, junk: tuple[str, ...] = ()):
        self.text, self.after, self.rank, self.junk = text, after, rank, list(junk)
        self.calls: list[tuple[int, str]] = []

    def reset(self) -> None:
        pass

    def suggest(self, context: str, prefix: str, k: int) -> list[str]:
        self.calls.append((len(context), prefix))
        word = next(w for s, w in evaluated_words(self.text, 0) if s == len(context))
        shown = [f"{prefix}\u00e9{n}" for n in range(self.rank)]
        if len(prefix) >= self.after:
            shown.append(word)
        return self.junk + shown


class Never:
    name = "never"

    def reset(self) -> None:
        pass

    def suggest(self, context: str, prefix: str, k: int) -> list[str]:
        return []


def test_oracle_accepts_every_word_for_one_keystroke():
    text = "the cat sat."  # the span stops after the last word: 11 characters
    r = type_through(Oracle(text), [text])
    assert (r.files, r.words, r.keystrokes_without) == (1, 3, 11)
    assert r.with_suggestions == {1: 5, 3: 5, 5: 5}  # 2 spaces + 3 acceptances
    assert r.ksr(3) == pytest.approx(1 - 5 / 11)
    assert r.accuracy(1) == 1.0


def test_each_word_is_reported_with_its_ranks_as_the_typist_meets_it():
    text = "alpha beta"
    seen = []
    type_through(
        Oracle(text, after=2, rank=2),
        [text],
        on_word=lambda t, start, word, ranks: seen.append((t is text, start, word, ranks)),
    )
    # Third from the second character on: ranks None, None, 2, ... and accepted after 2 typed at k=3.
    assert seen == [(True, 0, "alpha", [None, None, 2, 2, 2]), (True, 6, "beta", [None, None, 2, 2])]
    assert [accepted_after(ranks, 3) for *_, ranks in seen] == [2, 2]
    assert [accepted_after(ranks, 1) for *_, ranks in seen] == [None, None]


def test_a_system_that_never_suggests_saves_nothing():
    r = type_through(Never(), ["Hello, world! It's fine.\n", "  second file here"])
    assert r.words == 7 and r.files == 2
    assert r.keystrokes_without == len("Hello, world! It's fine") + len("  second file here")
    assert all(r.ksr(k) == 0.0 and r.accuracy(k) == 0.0 for k in (1, 3, 5))


def test_rank_and_delay_give_the_keystrokes_of_each_k():
    text = "alpha beta"
    # Shown at rank 2 (third) once two characters are typed: k=1 never accepts (all 9
    # letters typed), k=3 and k=5 accept after 2 typed + 1 = 3 per word; the space is typed.
    r = type_through(Oracle(text, after=2, rank=2), [text])
    assert r.keystrokes_without == 10
    assert r.with_suggestions == {1: 1 + 9, 3: 1 + 3 + 3, 5: 1 + 3 + 3}
    assert r.found_first == {1: 0, 3: 0, 5: 0}


def test_korean_is_counted_in_the_keys_a_2_set_typist_presses():
    text = "모델을 봐, 값"
    # Without suggestions: 모델을 ㅁㅗ ㄷㅔㄹ ㅇㅡㄹ 8, a space, 봐 ㅂㅗㅏ 3, ", " 2, 값 ㄱㅏㅂㅅ 4.
    # Offered once a character is typed: 모델을 costs 모's 2 keys and 1 to accept; 봐 and 값,
    # one syllable each, are never offered before they are typed whole.
    r = type_through(Oracle(text, after=1), [text])
    assert r.keystrokes_without == 8 + 1 + 3 + 2 + 4
    assert r.with_suggestions == dict.fromkeys((1, 3, 5), (2 + 1) + 1 + 3 + 2 + 4)
    assert r.ksr(3) == pytest.approx(1 - 13 / 18)
    # Accepted before a key of it is typed: one key a word, whatever its script.
    mixed = "RNN을 봐"
    r = type_through(Oracle(mixed), [mixed])
    assert (r.keystrokes_without, r.with_suggestions[3]) == (3 + 3 + 1 + 3, 1 + 1 + 1)


def test_one_query_per_step_and_stop_once_first():
    text = "word"
    oracle = Oracle(text, after=1, rank=0)
    type_through(oracle, [text])
    assert oracle.calls == [(0, ""), (0, "w")]  # found first at i = 1: no more queries
    oracle = Oracle(text, after=0, rank=3)  # fourth at every step: k=5 accepts at once, k=1 never
    r = type_through(oracle, [text])
    assert len(oracle.calls) == 4
    assert r.with_suggestions == {1: 4, 3: 4, 5: 1}
    assert r.found_first == {1: 0, 3: 0, 5: 1}


def test_suggestions_not_starting_with_the_prefix_are_dropped():
    text = "word"
    # At i = 1 seven suggestions not starting with "w" come before the word: dropped, they
    # leave it first, for 1 typed + 1 accepted (kept, it would be eighth and never accepted).
    r = type_through(Oracle(text, after=1, junk=("x",) * 7), [text])
    assert r.with_suggestions == {1: 2, 3: 2, 5: 2}


def test_max_words_bounds_the_span():
    text = "one two three four"
    r = type_through(Never(), [text], max_words=2)
    assert (r.words, r.keystrokes_without) == (2, len("one two"))
    assert type_through(Never(), [text], max_words=0).words == 4


# ----- baselines ------------------------------------------------------------------------------------
def test_buffer_offers_nothing_before_the_first_character():
    assert BufferWords().suggest("apple apple apple ", "", 5) == []


def test_buffer_ranks_by_frequency_then_recency():
    buffer = BufferWords()
    assert buffer.suggest("apricot apple apple ", "a", 5) == ["apple", "apricot"]
    buffer.reset()
    assert buffer.suggest("apricot apple ", "a", 5) == ["apple", "apricot"]
    buffer.reset()
    assert buffer.suggest("apple apricot banana ", "a", 5) == ["apricot", "apple"]
    assert buffer.suggest("apple apricot banana ", "ap", 1) == ["apricot"]
    assert buffer.suggest("apple apricot banana ", "c", 5) == []


def test_buffer_follows_a_growing_context_and_starts_over_on_a_new_one():
    buffer = BufferWords()
    assert buffer.suggest("go ", "g", 5) == ["go"]
    assert buffer.suggest("go gone gone ", "g", 5) == ["gone", "go"]
    assert buffer.suggest("gx ", "g", 5) == ["gx"]  # not an extension: read afresh
    assert buffer.suggest("gx", "g", 5) == ["gx"]
    assert buffer.suggest("gxy ", "g", 5) == ["gxy"]  # the word at the end grew


def test_unigram_adds_the_file_to_the_training_counts():
    unigram = UnigramWords(Counter({"the": 5, "then": 2, "apple": 1}))
    assert unigram.suggest("", "", 2) == ["the", "then"]  # from i = 0 on
    assert unigram.suggest("then " * 4, "th", 5) == ["then", "the"]  # 6 > 5
    assert unigram.suggest("zebra ", "", 5) == [
        "the",
        "then",
        "zebra",
        "apple",
    ]  # file word more recent than a training word


def test_unigram_ties_go_to_the_most_recent_then_alphabetical():
    unigram = UnigramWords(Counter({"bb": 1, "ba": 1, "bc": 1}))
    assert unigram.suggest("", "b", 5) == ["ba", "bb", "bc"]
    assert unigram.suggest("bc bb ", "b", 5) == ["bb", "bc", "ba"]


def test_unigram_matches_a_brute_force_ranking():
    rng = random.Random(7)
    vocab = ["".join(rng.choice("abc") for _ in range(rng.randint(1, 4))) for _ in range(60)]
    train = Counter(rng.choice(vocab) for _ in range(200))
    unigram = UnigramWords(train)
    for _ in range(50):
        file_words = [rng.choice(vocab) for _ in range(rng.randint(0, 30))]
        context = " ".join(file_words) + " "
        prefix = rng.choice(["", "a", "b", "ab", "ca", "abc"])
        counts = Counter(file_words)
        last = {w: i for i, w in enumerate(file_words)}
        expected = sorted(
            (w for w in set(train) | set(counts) if w.startswith(prefix)),
            key=lambda w: (-(train[w] + counts[w]), -last.get(w, -1), w),
        )[:5]
        assert unigram.suggest(context, prefix, 5) == expected


def test_unigram_counts_training_texts_by_the_protocol_words():
    unigram = UnigramWords.from_texts(["It's it's, it", "it"])
    assert unigram.train == Counter({"it": 2, "It's": 1, "it's": 1})


# ----- model, perplexity, CLI --------------------------------------------------------------------------
@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "notes")


@pytest.fixture
def model_file(tmp_path):
    return tiny_model(tmp_path / "tiny.safetensors")


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    vocab = Vocabulary.build(Counter(tokenize(SENTENCE)), min_count=1)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), emb_dim=8, hidden_dim=8, num_layers=1))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    result = perplexity(model, vocab, [SENTENCE + "unknown words"])
    assert result.perplexity == pytest.approx(len(vocab), rel=1e-4)
    assert result.tokens == len(tokenize(SENTENCE)) + 2 and result.unknown == 2


def test_perplexity_is_the_same_in_any_chunk_size():
    torch.manual_seed(0)
    vocab = Vocabulary.build(Counter(tokenize(SENTENCE)), min_count=1)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), emb_dim=8, hidden_dim=12, num_layers=2)).eval()
    whole = perplexity(model, vocab, [SENTENCE * 3], chunk=512)
    pieces = perplexity(model, vocab, [SENTENCE * 3], chunk=5)
    assert pieces.loss == pytest.approx(whole.loss, rel=1e-5)


def test_eval_json_with_a_tiny_model(corpus, model_file, capsys):
    assert main(["eval", str(model_file), str(corpus), "--json", "--max-words", "60"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["files"] == 1 and report["words"] == 60
    assert set(report["systems"]) == {"model", "buffer", "unigram"}
    for figures in report["systems"].values():
        for key in ("ksr@1", "ksr@3", "ksr@5", "acc@1", "acc@3", "acc@5"):
            assert 0.0 <= figures[key] <= 1.0
        assert figures["ksr@1"] <= figures["ksr@3"] <= figures["ksr@5"]
    # The text repeats: the buffer and the model's document cache both save keystrokes.
    assert report["systems"]["buffer"]["ksr@3"] > 0.2
    assert report["systems"]["model"]["ksr@3"] > 0.0
    assert report["perplexity"] > 1.0 and math.isfinite(report["perplexity"])
    assert report["oov_rate"] == 0.0


def test_eval_table_of_the_baselines(corpus, capsys):
    assert main(["eval", str(corpus), "--systems", "buffer,unigram"]) == 0
    out = capsys.readouterr().out
    assert "KSR@3" in out and out.count("%") == 12
    assert "perplexity" not in out  # no model was asked for


def _error(argv, capsys) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.out == ""
    return captured.err


def test_eval_errors_are_one_clear_sentence(tmp_path, corpus, capsys):
    assert "does not exist" in _error(["eval", str(tmp_path / "missing")], capsys)
    (tmp_path / "empty").mkdir()
    assert "no text files" in _error(["eval", str(tmp_path / "empty")], capsys)
    few = tmp_path / "few"
    few.mkdir()
    (few / "a.md").write_text("some words", encoding="utf-8")
    assert "test split" in _error(["eval", str(few), "--systems", "buffer"], capsys)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00garbage" * 10)
    assert "bad.safetensors" in _error(["eval", str(bad), str(corpus)], capsys)
    assert "unknown system" in _error(["eval", str(corpus), "--systems", "bigram"], capsys)


def test_unreadable_test_files_are_counted_and_reported(tmp_path, capsys):
    root = tmp_path / "notes"
    root.mkdir()
    (root / TEST_NAME).write_bytes(b"binary\x00data")
    (root / "a.md").write_text("fine words", encoding="utf-8")
    err = _error(["eval", str(root), "--systems", "buffer"], capsys)
    assert "skipped 1 binary file(s)" in err and "UTF-8" in err
