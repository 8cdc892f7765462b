"""The command line on bad input: one clear message, a non-zero exit, never a traceback."""

import subprocess
import sys

import pytest


def nextword(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "nextword.server.cli", *args], capture_output=True, text=True, input=stdin, timeout=120
    )


def assert_clean_error(result, *phrases):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def test_help_lists_the_commands():
    result = nextword("--help")
    assert result.returncode == 0
    for command in ("predict", "generate", "train", "eval", "info"):
        assert command in result.stdout


def test_train_on_a_missing_path(tmp_path):
    assert_clean_error(
        nextword("train", str(tmp_path / "nope"), "--out", str(tmp_path / "m.safetensors")), "does not exist"
    )


def test_train_on_an_empty_corpus(tmp_path):
    (tmp_path / "notes").mkdir()
    assert_clean_error(
        nextword("train", str(tmp_path / "notes"), "--out", str(tmp_path / "m.safetensors")), "no text files"
    )


def test_train_on_only_binary_files(tmp_path):
    (tmp_path / "a.md").write_bytes(b"\x00\xff" * 50)
    assert_clean_error(
        nextword("train", str(tmp_path), "--include-test-split", "--out", str(tmp_path / "m.safetensors")),
        "no usable text",
        "binary",
    )


def test_train_with_bad_options_keeps_the_old_model(tmp_path, tiny_model_path):
    out = tmp_path / "m.safetensors"
    out.write_bytes(tiny_model_path.read_bytes())
    assert_clean_error(
        nextword("train", str(tmp_path), "--epochs", "0", "--out", str(out)), "--epochs must be at least 1"
    )
    assert out.read_bytes() == tiny_model_path.read_bytes()


@pytest.mark.parametrize("command", [["predict", "hello"], ["generate", "hello"], ["info"]])
def test_corrupt_checkpoint(tmp_path, command):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"this is not a model")
    args = [*command, str(bad)] if command == ["info"] else [*command, "--model", str(bad)]
    assert_clean_error(nextword(*args), "not a readable nextword model")


def test_eval_with_corrupt_checkpoint(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 10)
    corpus = tmp_path / "c"
    corpus.mkdir()
    from nextword.training.split import is_test_file

    name = next(n for n in (f"t{i}.md" for i in range(100)) if is_test_file(n))
    (corpus / name).write_text("hello world " * 10)
    assert_clean_error(nextword("eval", str(bad), str(corpus)), "bad.safetensors")


def test_predict_and_generate_with_a_model(tiny_model_path):
    result = nextword("predict", "--model", str(tiny_model_path), "--json", "The borrow checker ch")
    assert result.returncode == 0, result.stderr
    assert all(item["word"].startswith("ch") for item in __import__("json").loads(result.stdout))
    result = nextword("generate", "--model", str(tiny_model_path), "--seed", "1", "-n", "5", stdin="Rust is")
    assert result.returncode == 0 and result.stdout.startswith("Rust is")
    assert_clean_error(nextword("predict", "--model", str(tiny_model_path), "-k", "0", "x"), "--top must be at least 1")


def test_help_answers_without_importing_torch():
    """Every subcommand's module is imported to build the parser: none may pull in torch
    (a second or more), so that `nextword --help` answers at once."""
    code = "import sys; from nextword.server.cli import build_parser; build_parser(); print('torch' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
