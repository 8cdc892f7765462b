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


def test_help_lists_every_command_without_importing_any_of_them():
    """`nextword --help` names each subcommand with its summary from the registry alone: no
    subcommand's module is imported, nor torch (a second or more)."""
    code = (
        "import sys; from nextword.server.cli import COMMANDS, main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print([m for m in ['torch', 'numpy', *(c.module for c in COMMANDS.values())] if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "[]"
    from nextword.server.cli import COMMANDS

    listed = " ".join(result.stdout.split())  # argparse wraps the summaries
    for name, command in COMMANDS.items():
        assert f"{name} {command.summary}" in listed


def test_a_commands_help_imports_its_module_alone_and_not_torch():
    """`nextword COMMAND --help` imports that command's module (to add its options) and no other,
    and none of them imports torch to do so."""
    code = (
        "import sys; from nextword.server.cli import COMMANDS, build_parser\n"
        "for name, command in COMMANDS.items():\n"
        "    build_parser(name)\n"
        "    others = [c.module for n, c in COMMANDS.items() if n != name and c.module in sys.modules]\n"
        "    print(name, command.module in sys.modules, others, 'torch' in sys.modules, 'numpy' in sys.modules)\n"
        "    for c in COMMANDS.values():\n"
        "        sys.modules.pop(c.module, None)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    from nextword.server.cli import COMMANDS

    assert out.splitlines() == [f"{name} True [] False False" for name in COMMANDS]


def test_a_commands_own_help_shows_its_description():
    result = nextword("train", "--help")
    assert (
        result.returncode == 0 and "--from-scratch" in result.stdout and "Fine-tune the shipped model" in result.stdout
    )


def test_training_runs_without_the_server_package(notes_folder, tmp_path):
    """`python -m nextword.training` (what torchrun starts) trains with nextword.server unimportable."""
    out = tmp_path / "m.safetensors"
    argv = [str(notes_folder), "--from-scratch", "--out", str(out), "--epochs", "1", "--emb-dim", "8"]
    argv += ["--hidden-dim", "8", "--layers", "1", "--min-count", "1", "--include-test-split", "--progress", "none"]
    code = (
        "import runpy, sys\n"
        "sys.modules['nextword.server'] = None  # `import nextword.server` now fails\n"
        "sys.argv = ['nextword.training', *sys.argv[1:]]\n"
        "runpy.run_module('nextword.training', run_name='__main__', alter_sys=True)"
    )
    help_ = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True, timeout=120)
    assert help_.returncode == 0 and "--from-scratch" in help_.stdout, help_.stderr
    result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "model saved to" in result.stderr and out.is_file()


def test_imports_run_one_way():
    """training imports only model (never server), and model none of the others."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    wrong = []
    for package, forbidden in (("training", ("nextword.server",)), ("model", ("nextword.server", "nextword.training"))):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                wrong += [f"{path.relative_to(root)}: {n}" for n in names if n.startswith(forbidden)]
    assert not wrong
