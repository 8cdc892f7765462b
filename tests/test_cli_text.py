"""`nextword predict` and `generate` on the text people give them: standard input with the line
break `echo` adds, bytes that are not UTF-8, a word typed up to its apostrophe; and the
numbers they take, each named when out of range."""

import os
import subprocess
import sys

import pytest


def nextword(*args: str, stdin: bytes | None = None, model=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8:strict")  # as under a strict UTF-8 locale
    extra = ["--model", str(model)] if model else []
    return subprocess.run(
        [sys.executable, "-m", "nextword.server.cli", *args, *extra],
        capture_output=True,
        input=stdin,
        env=env,
        timeout=120,
    )


def words(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 0, result.stderr.decode()
    return [line.split()[-1] for line in result.stdout.decode().splitlines()]


def test_standard_input_without_echos_line_break_completes_the_last_word(tiny_model_path) -> None:
    from_stdin = words(
        nextword("predict", "-k", "3", stdin=b"The borrow checker checks the ch\n", model=tiny_model_path)
    )
    assert from_stdin == words(
        nextword("predict", "-k", "3", "The borrow checker checks the ch", model=tiny_model_path)
    )
    assert from_stdin and all(w.startswith("ch") for w in from_stdin)


def test_bytes_that_are_not_utf8_are_read_not_fatal(tiny_model_path) -> None:
    result = nextword("predict", stdin=b"The \xff\xfe model ", model=tiny_model_path)
    assert result.returncode == 0 and b"Traceback" not in result.stderr
    result = nextword("generate", "-n", "3", "--seed", "1", os.fsdecode(b"caf\xe9 "), model=tiny_model_path)
    assert result.returncode == 0 and b"Traceback" not in result.stderr
    assert result.stdout.decode().startswith("caf\ufffd ")


def test_a_word_typed_up_to_its_apostrophe_is_completed(tiny_model_path) -> None:
    # The document's own words are offered: "You're" is not in the tiny model's vocabulary.
    assert "You're" in words(nextword("predict", "You're right. You'", model=tiny_model_path))


@pytest.mark.parametrize(
    "option, value, phrase",
    [
        ("-t", "nan", "--temperature must be"),
        ("-t", "inf", "--temperature must be"),
        ("--seed", str(10**23), "--seed must be"),
        ("--top-k", "-1", "--top-k must be at least 0"),
    ],
)
def test_generate_names_the_option_out_of_range(tiny_model_path, option, value, phrase) -> None:
    result = nextword("generate", option, value, "Hello ", model=tiny_model_path)
    assert result.returncode == 2 and b"Traceback" not in result.stderr
    assert phrase in result.stderr.decode()


def test_generate_spaces_its_text_as_the_model_file_says(tiny_model_path, tmp_path) -> None:
    import re

    from nextword.model.checkpoint import write_spacing
    from nextword.model.spacing import Spacing

    odd = write_spacing(
        tiny_model_path, Spacing.learn(["one , two . three , four . five\n"] * 5), tmp_path / "odd.safetensors"
    )
    args = ("generate", "-n", "200", "--seed", "3", "The borrow checker ")
    plain, spaced = (nextword(*args, model=m).stdout.decode() for m in (tiny_model_path, odd))
    assert "".join(plain.split()) == "".join(spaced.split())
    assert re.search(r"\w[,.]", plain) and not re.search(r"\w[,.]", spaced)
