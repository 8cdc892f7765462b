"""Spacing learned from text: generated tokens joined as the text they were learned from was
written, a table that survives JSON and adds up, and the command that stores it in a model."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nextword.model.spacing import Spacing
from nextword.model.tokenize import NEWLINE, join_tokens, tokenize
from nextword.training.split import is_test_file

BASE = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "base"

RUST = """\
fn parse(s: &str) -> Result<u32, String> {
    let v: Vec<u32> = vec![1, 2, 3];
    let total = v.iter().map(|x| x * 2).sum::<u32>();
    if total == 12 && s.len() != 0 {
        println!("{}", total);
    }
    std::process::exit(0);
    Ok(total)
}
"""

PYTHON = """\
def mean(values: list[float]) -> float:
    if len(values) == 0:
        raise ValueError("no values")
    return sum(values) / len(values)


print(mean([1.0, 2.5]), "done")
x = {"a": 1, "b": (2, 3)}
"""

PROSE = """\
The borrow checker (a part of the compiler) keeps references valid. It checks each
borrow, each move, and each "lifetime" of a value. Use `cargo check` often, or run
``cargo build`` twice; the *second* build is fast. Each value has one owner: the
variable that holds it. See the book, chapter 4.
"""


@pytest.fixture(scope="module")
def learned() -> Spacing:
    return Spacing.learn([RUST, PYTHON, PROSE], min_count=1)


@pytest.mark.parametrize(
    "line",
    [
        "fn main() -> Result<u32, String> {",
        "let v: Vec<u32> = vec![4, 5];",
        "std::mem::drop(v);",
        "if x == 2 && v.len() != 3 {",
        'println!("{}", v);',
        "def total(values: list[int]) -> int:",
        'raise ValueError("empty")',
        "The borrow checker (the one in the compiler) checks each move. It keeps values valid, and each borrow.",
        'Each "owner" holds one value; run `cargo build` first, or ``cargo check`` often.',
    ],
)
def test_learned_spacing_joins_new_lines_as_they_are_written(learned, line):
    assert learned.join(tokenize(line)) == line


def test_english_rules_alone_would_space_code_wrongly(learned):
    tokens = tokenize("fn main() -> Result<u32, String> {")
    assert join_tokens(tokens) == "fn main () - > Result < u32, String > {"
    assert learned.join(tokens) == "fn main() -> Result<u32, String> {"


def test_a_closing_quote_is_spaced_apart_from_an_opening_one():
    spacing = Spacing.learn(['He said "yes" and "no" twice.\n'] * 3)
    assert spacing.join(tokenize('They said "maybe" again.')) == 'They said "maybe" again.'
    # Quotes opened in the text before: the next one closes.
    assert spacing.join(['"', "and", "so"], after='He said "yes') == '" and so'
    assert spacing.join(['"', "so", '"'], after="He said") == ' "so"'


def test_line_breaks_take_no_spaces_and_after_decides_the_first_space(learned):
    assert learned.join(["(", "x", ")", ";", NEWLINE, "let", "y"]) == "(x);\nlet y"
    assert learned.join(["(", "x", ")"], after="fn main") == "(x)"
    assert learned.join(["value", "."], after="the") == " value."
    assert learned.join(["value"], after="the ") == "value"
    assert learned.join(["value"], after="x\n") == "value"
    assert learned.join(["->", "u32"], after="fn f()") == " -> u32"


text_strategy = st.text(alphabet=st.sampled_from(list("ab \n.,:;()[]{}<>-=!\"'`*#“”—한")), max_size=80)


@settings(max_examples=200, deadline=None)
@given(text_strategy, st.sampled_from(["", "x", "x ", "(", "\n", 'a "b']))
def test_an_empty_table_joins_as_the_english_rules(text, after):
    tokens = tokenize(text)
    assert Spacing().join(tokens, after) == join_tokens(tokens, after)


def test_marks_never_seen_fall_back_on_the_english_rules():
    spacing = Spacing.learn([RUST] * 3)
    tokens = tokenize("She wrote “yes” — twice, with « guillemets » too")
    assert spacing.join(tokens) == join_tokens(tokens)


def test_learning_is_deterministic_and_the_json_round_trips(learned):
    again = Spacing.learn([PROSE, PYTHON, RUST], min_count=1)
    assert again.to_json() == learned.to_json()
    assert Spacing.from_json(learned.to_json()) == learned
    assert Spacing.from_json(Spacing().to_json()) == Spacing()


def test_pairs_seen_too_rarely_are_not_kept():
    assert Spacing.learn(["f(x)\n"] * 2).to_json() == Spacing().to_json()
    assert Spacing.learn(["f(x)\n"] * 3).join(tokenize("g(y)")) == "g(y)"


def test_merging_adds_the_counts():
    base = Spacing.learn(["call f(x) now\n"] * 3)
    notes = Spacing.learn(["call f (x) now\n"] * 5)
    merged = base.merged(notes)
    assert base.join(tokenize("g(y)")) == "g(y)" and notes.join(tokenize("g (y)")) == "g (y)"
    assert merged.join(tokenize("g (y)")) == "g (y)"  # five spaced against three unspaced
    for key, (spaced, seen) in merged.pairs.items():
        a, b = base.pairs.get(key, (0, 0)), notes.pairs.get(key, (0, 0))
        assert (spaced, seen) == (a[0] + b[0], a[1] + b[1])
    assert merged.pairs and set(merged.pairs) == set(base.pairs) | set(notes.pairs)
    assert Spacing.from_json(base.to_json()).merged(notes) == merged
    assert base.merged(Spacing()) == base


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"version": 2, "pairs": {}, "before": {}, "after": {}}',
        '{"version": 1, "pairs": [], "before": {}, "after": {}}',
        '{"version": 1, "pairs": {}, "before": {}}',
        '{"version": 1, "pairs": {"ab": [1, 2]}, "before": {}, "after": {}}',
        '{"version": 1, "pairs": {"a (": [3, 2]}, "before": {}, "after": {}}',
        '{"version": 1, "pairs": {"a (": [-1, 2]}, "before": {}, "after": {}}',
        '{"version": 1, "pairs": {"a (": [true, 2]}, "before": {}, "after": {}}',
        '{"version": 1, "pairs": {}, "before": {"( x": [1, 2]}, "after": {}}',
        '{"version": 1, "pairs": {}, "before": {}, "after": {")": "1/2"}}',
    ],
)
def test_a_malformed_table_is_refused(text):
    with pytest.raises(ValueError):
        Spacing.from_json(text)


def _a_test_file_name(stem: str) -> str:
    return next(f"{stem}{i}.md" for i in range(1000) if is_test_file(f"{stem}{i}.md"))


def _a_training_file_name(stem: str) -> str:
    from nextword.training.split import is_validation_file

    return next(
        f"{stem}{i}.md"
        for i in range(1000)
        if not is_test_file(f"{stem}{i}.md") and not is_validation_file(f"{stem}{i}.md")
    )


def test_the_command_learns_from_the_training_files_only(tiny_model_path, tmp_path, capsys):
    from nextword.model.checkpoint import load_checkpoint
    from nextword.training.spacing import main

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # Three training files: training keeps one of them apart for validation when no file hashes into it.
    for stem in ("one", "two", "three"):
        (corpus / _a_training_file_name(stem)).write_text("call f(x) and g(y) now.\n" * 3)
    (corpus / _a_test_file_name("test")).write_text("call f ( x ) and g ( y ) now .\n" * 50)
    out = tmp_path / "with-spacing.safetensors"
    assert main([str(tiny_model_path), str(corpus), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().err
    spacing = load_checkpoint(out).spacing
    assert spacing is not None and spacing.join(tokenize("call h(z) now.")) == "call h(z) now."
    assert load_checkpoint(tiny_model_path).spacing is None, "the model named is untouched when --out is given"


def test_the_command_names_a_missing_model(tmp_path, capsys):
    from nextword.training.spacing import main

    (tmp_path / "a.md").write_text("some text.\n")
    assert main([str(tmp_path / "nope.safetensors"), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "nope.safetensors does not exist" in err and "Traceback" not in err


@pytest.mark.skipif(not BASE.is_dir(), reason="needs the shared corpora")
def test_the_shipped_table_joins_held_out_lines_of_its_corpus_as_written():
    """The held-out (test split) lines of the Rust book, whitespace runs made single: the
    shipped model's table writes most of them back exactly, the English rules far fewer."""
    from nextword.model import default_model_path, load_checkpoint
    from nextword.training.corpus import find_files, read_text

    spacing = load_checkpoint(default_model_path()).spacing
    assert spacing is not None
    lines = [
        " ".join(line.split())
        for path, relative in find_files([BASE / "rust-book"])
        if is_test_file(f"rust-book/{relative}")
        for line in (read_text(path)[0] or "").splitlines()
        if line.strip()
    ]
    assert len(lines) > 1000
    learned = sum(spacing.join(tokenize(line)) == line for line in lines) / len(lines)
    english = sum(join_tokens(tokenize(line)) == line for line in lines) / len(lines)
    assert learned > 0.85 and english < 0.7, (learned, english)
