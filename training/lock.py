"""One ``nextword train`` at a time per model file.

Two runs writing the same ``--out`` would overwrite each other's best model and training
state (and one would delete the state the other's ``--resume`` needs), so a run holds a
lock on ``.NAME.lock`` beside the model while it runs. The lock is the operating system's
(``flock``, or ``msvcrt.locking`` on Windows): it goes with the process, so a run killed
with SIGKILL, or a machine that crashed, never leaves a lock that blocks the next run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from nextword.model import NextwordError


class TrainingInProgress(NextwordError):
    """Another run holds the lock."""


def lock_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.lock")


class TrainingLock:
    """The lock of the run writing ``out``; ``acquire`` raises a NextwordError when another run holds it."""

    def __init__(self, out: Path):
        self.out, self.path, self.fd = out, lock_path(out), -1

    def acquire(self) -> TrainingLock:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as e:
                raise NextwordError(
                    f"cannot create {self.path} to guard {self.out} against another run ({e.strerror or e}); choose an --out in a folder you can write to"
                ) from None
            if not _try_lock(fd):
                try:
                    holder = os.read(fd, 32).decode("ascii", "replace").strip()
                finally:
                    os.close(fd)
                who = f" (process {holder})" if holder.isdigit() else ""
                raise TrainingInProgress(
                    f"another `nextword train`{who} is writing {self.out} right now; wait for it to finish (or stop it), "
                    f"or train into another file with --out"
                )
            # The holder before us may have deleted the file between our open and our lock:
            # then the lock is on a file nobody else will find; start again on the new one.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd < 0:
            return
        try:
            if os.name != "nt":  # deleted while held, so no other run can lock a file on its way out
                self.path.unlink(missing_ok=True)
        except OSError:
            pass
        finally:
            os.close(self.fd)  # closing the file releases the lock
            self.fd = -1


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (BlockingIOError, PermissionError):
        return False
    return True


def remove_leftovers(*paths: Path) -> list[Path]:
    """Delete the temporary files (".NAME.RANDOM.tmp") that an atomic write of any of ``paths``
    left behind when its process was killed; only under the lock, when no write can be under way."""
    from nextword.model.checkpoint import temporary_target

    removed = []
    for path in paths:
        try:
            entries = list(path.parent.iterdir())
        except OSError:
            continue
        for entry in entries:
            if temporary_target(entry.name) == path.name and entry.is_file() and not entry.is_symlink():
                try:
                    entry.unlink()
                    removed.append(entry)
                except OSError:
                    pass
    return removed
