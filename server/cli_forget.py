"""``nextword forget``: delete what nextword learned from your notes.

It lists what it will delete, asks, and deletes exactly what it listed: your model (which
holds the record of the files it learned, as content hashes), the state of an interrupted
training run, what an interrupted language-server training left behind, what the language
server learned from each workspace folder (its workspace stores), and nextword's cached code;
with ``--logs``, the server's logs in nextword's log folder as well. It deletes only files
nextword wrote, recognised by name and content, whatever else shares those folders: the
shipped model and your notes are never touched.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from nextword.model.paths import cache_dir
from safetensors import safe_open

DESCRIPTION = (
    "Delete what nextword learned from your notes: your model (with its record of the files it learned), "
    "the state of an interrupted training run, files an interrupted training left behind, "
    "what the language server learned from each workspace folder, and nextword's caches. "
    "It lists them first and asks; it deletes only what it listed. Your notes and the shipped model are not touched."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        metavar="FILE",
        help="forget this model file instead of your model in the nextword data folder (e.g. one written with --out)",
    )
    parser.add_argument("--logs", action="store_true", help="also delete nextword's log files")
    parser.add_argument("-y", "--yes", action="store_true", help="delete without asking")


# What earlier versions of the server wrote in the cache folder (compiled code, one file per
# Python version, and the temporary files of its atomic writes): left there, forget still deletes it.
CACHE_FILE = re.compile(r"generated-code\.[\w.-]+\.bin(?:\w+\.tmp)?")
# Nothing names the logs in the log folder (the server writes where --log-file says): a log is a
# ``*.log`` file that starts with a line in server/logs.py's format, or is empty (the server
# creates its log file when it starts).
LOG_LINE = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?:DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")


def _files_in(folder: Path, wanted: Callable[[Path], bool]) -> list[Path]:
    """The files directly in ``folder`` that ``wanted`` accepts (never its subfolders)."""
    if not folder.is_dir() or folder.is_symlink():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink() and wanted(p))


def _is_log(path: Path) -> bool:
    if path.suffix != ".log":
        return False
    try:
        with path.open("rb") as f:
            first = f.readline(200)
    except OSError:
        return False
    return not first or LOG_LINE.match(first) is not None


def targets(model: Path, logs: bool = False) -> list[Path]:
    """Every file ``forget`` deletes for ``model``, in the order it lists them."""
    from nextword.model import default_model_path
    from nextword.model.checkpoint import is_nextword_file, temporary_target
    from nextword.training.resume import resume_path

    shipped = default_model_path().resolve()
    found: list[Path] = []
    if is_nextword_file(model):
        found.append(model)
    state = resume_path(model)
    if is_nextword_file(state):
        found.append(state)
    # Files the language server's training writes beside the model (".model.training-PID-TIME.safetensors")
    # and their training states, left behind when it was stopped hard.
    training = re.compile(rf"\.{re.escape(model.stem)}\.training-\d+-\d+(?:\.resume)?{re.escape(model.suffix)}")
    found.extend(_files_in(model.parent, lambda p: training.fullmatch(p.name) is not None and is_nextword_file(p)))

    def temporary(p: Path) -> bool:
        """A temporary file of an interrupted atomic write of any of those (".NAME.RANDOM.tmp")."""
        target = temporary_target(p.name)
        return target is not None and (target in (model.name, state.name) or training.fullmatch(target) is not None)

    found.extend(_files_in(model.parent, temporary))
    found.extend(_stores())
    found.extend(_files_in(cache_dir(), lambda p: CACHE_FILE.fullmatch(p.name) is not None))
    if logs:
        from nextword.model.paths import log_dir

        found.extend(_files_in(log_dir(), _is_log))
    unique: list[Path] = []
    for path in found:
        if path not in unique and path.resolve() != shipped:
            unique.append(path)
    return unique


def _stores() -> list[Path]:
    """The workspace stores: every file in the stores folder whose header says it is one (the
    temporary file of an interrupted write too, once its header is whole), and nothing else."""
    from nextword.server.notes_file import is_notes_file, notes_dir
    from nextword.server.workspace_store import is_store_file, stores_dir

    return _files_in(stores_dir(), is_store_file) + _files_in(notes_dir(), is_notes_file)


def _learned_from(path: Path) -> str:
    """For a workspace store, which folder it learned from (stores are named by a hash)."""
    from nextword.server.notes_file import notes_dir
    from nextword.server.workspace_store import stores_dir

    if path.parent != stores_dir():
        return ", the notes built from the stores" if path.parent == notes_dir() else ""
    try:
        with safe_open(str(path), framework="numpy") as f:
            folder = (f.metadata() or {}).get("folder")
    except Exception:  # noqa: BLE001 - a damaged store is still listed, without its folder
        return ""
    if folder is None:
        return ""
    return f", learned from {folder}" if folder else ", learned from files outside the workspace folders"


def _size(path: Path) -> str:
    try:
        n = float(path.stat().st_size)
    except OSError:
        return "?"
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def run(args: argparse.Namespace) -> int:
    from nextword.model import NextwordError, user_model_path
    from nextword.model.checkpoint import is_nextword_file

    model = Path(args.model).expanduser() if args.model else user_model_path()
    if model.is_dir():
        raise NextwordError(f"--model {model} is a folder; name the model file")
    if model.exists() and not is_nextword_file(model):
        raise NextwordError(
            f"{model} is not a nextword model, so forget deletes nothing (it deletes only files nextword wrote); "
            f"name a model written by `nextword train`, or delete that file yourself if you mean to"
        )
    with _no_training(model):
        return _forget(model, args)


@contextmanager
def _no_training(model: Path) -> Iterator[None]:
    """Hold the lock ``nextword train`` holds while it writes ``model``: a run writing it would
    otherwise write it again right after it was deleted."""
    from nextword.model import NextwordError
    from nextword.training.lock import TrainingInProgress, TrainingLock

    if not model.parent.is_dir():
        yield
        return
    try:
        lock = TrainingLock(model).acquire()
    except TrainingInProgress:
        raise NextwordError(
            f"a `nextword train` is writing {model} right now; stop it (or let it finish), then forget"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _forget(model: Path, args: argparse.Namespace) -> int:
    from nextword.model import NextwordError, user_model_path
    from nextword.model.paths import log_dir
    from nextword.server.notes_file import notes_dir
    from nextword.server.workspace_store import stores_dir

    paths = targets(model, args.logs)
    if not paths:
        print(
            f"nothing to forget: there is no trained model at {model}, no training state, "
            "nothing learned from a workspace and no cache",
            file=sys.stderr,
        )
        return 0
    print("nextword forget will delete:", file=sys.stderr)
    for path in paths:
        print(f"  {path}  ({_size(path)}{_learned_from(path)})", file=sys.stderr)
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
    for folder in [cache_dir(), stores_dir(), notes_dir()] + ([log_dir()] if args.logs else []):
        if any(path.parent == folder for path in paths):
            _remove_if_empty(folder)
    if failed:
        raise NextwordError(f"could not delete {', '.join(failed)}; delete them by hand")
    after = "; nextword will use the shipped model" if model == user_model_path() else ""
    print(f"deleted {len(paths)} file(s){after}", file=sys.stderr)
    if any(path.parent == stores_dir() for path in paths):
        # A running server holds what it learned in memory and saves it again on the next change.
        print(
            "an editor running nextword now still holds what it learned from its workspace and may write it "
            "again: restart that editor, or forget there (nextword.forgetWorkspace)",
            file=sys.stderr,
        )
    return 0


def _remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` once deleting nextword's files left it empty; never one with anything in it."""
    if folder.is_dir() and not folder.is_symlink():
        try:
            folder.rmdir()
        except OSError:
            pass
