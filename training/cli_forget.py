"""``nextword forget``: delete what nextword learned from your notes.

It lists what it will delete, asks, and deletes exactly what it listed: your model (which
holds the record of the files it learned, as content hashes), the state of an interrupted
training run, what an interrupted language-server training left behind, and nextword's
cache folder; with ``--logs``, the logs as well. The shipped model and your notes are
never touched.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nextword.model.paths import cache_dir

HELP = "delete your trained model, its training state and caches (after listing them)"
DESCRIPTION = (
    "Delete what nextword learned from your notes: your model (with its record of the files it learned), "
    "the state of an interrupted training run, files an interrupted training left behind, and nextword's caches. "
    "It lists them first and asks; it deletes only what it listed. Your notes and the shipped model are not touched."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="FILE", help="forget this model file instead of your model in the nextword data folder (e.g. one written with --out)")
    parser.add_argument("--logs", action="store_true", help="also delete nextword's log files")
    parser.add_argument("-y", "--yes", action="store_true", help="delete without asking")


def _files_under(folder: Path) -> list[Path]:
    if not folder.is_dir() or folder.is_symlink():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def targets(model: Path, logs: bool = False) -> list[Path]:
    """Every file ``forget`` deletes for ``model``, in the order it lists them."""
    from nextword.model import default_model_path
    from nextword.training.resume import resume_path

    shipped = default_model_path().resolve()
    found: list[Path] = []
    if model.is_file():
        found.append(model)
    state = resume_path(model)
    if state.is_file():
        found.append(state)
    # Files the language server's training writes beside the model (".model.training-PID-TIME.safetensors")
    # and their training states, left behind when it was stopped hard.
    if model.parent.is_dir():
        prefix = f".{model.stem}.training-"
        found.extend(sorted(p for p in model.parent.iterdir() if p.name.startswith(prefix) and p.is_file()))
        # Temporary files of an interrupted atomic write of the model or its state.
        for name in (model.name, state.name):
            found.extend(sorted(p for p in model.parent.iterdir() if p.name.startswith(f".{name}.") and p.name.endswith(".tmp") and p.is_file()))
    found.extend(_files_under(cache_dir()))
    if logs:
        from nextword.model.paths import log_dir

        found.extend(_files_under(log_dir()))
    unique: list[Path] = []
    for path in found:
        if path not in unique and path.resolve() != shipped:
            unique.append(path)
    return unique


def _size(path: Path) -> str:
    try:
        n = path.stat().st_size
    except OSError:
        return "?"
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def run(args: argparse.Namespace) -> int:
    from nextword.model import NextwordError, user_model_path
    from nextword.model.paths import log_dir

    model = Path(args.model).expanduser() if args.model else user_model_path()
    if model.is_dir():
        raise NextwordError(f"--model {model} is a folder; name the model file")
    paths = targets(model, args.logs)
    if not paths:
        print(f"nothing to forget: there is no trained model at {model}, no training state and no cache", file=sys.stderr)
        return 0
    print("nextword forget will delete:", file=sys.stderr)
    for path in paths:
        print(f"  {path}  ({_size(path)})", file=sys.stderr)
    if not args.yes:
        if not sys.stdin.isatty():
            raise NextwordError("not deleting anything: confirm with --yes when not asking at a terminal")
        print("Delete these files? [y/N] ", end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            print("nothing deleted", file=sys.stderr)
            return 1
    failed = []
    for path in paths:  # exactly what was listed
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:
            failed.append(f"{path} ({e.strerror or e})")
    for folder in [cache_dir()] + ([log_dir()] if args.logs else []):
        _remove_empty_folders(folder)
    if failed:
        raise NextwordError(f"could not delete {', '.join(failed)}; delete them by hand")
    after = "; nextword will use the shipped model" if model == user_model_path() else ""
    print(f"deleted {len(paths)} file(s){after}", file=sys.stderr)
    return 0


def _remove_empty_folders(folder: Path) -> None:
    """Remove folders left empty under ``folder`` (and it), never a folder with anything in it."""
    if not folder.is_dir() or folder.is_symlink():
        return
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink()), key=lambda p: len(p.parts), reverse=True):
        try:
            sub.rmdir()
        except OSError:
            pass
    try:
        folder.rmdir()
    except OSError:
        pass
