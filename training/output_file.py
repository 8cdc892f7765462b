"""The model file ``nextword train`` writes (``--out``): refused before a run starts when training
must not, or cannot, write it, and locked while the run writes it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nextword.model import NextwordError
from nextword.model.checkpoint import is_nextword_file
from nextword.model.paths import same_file

from .distributed import World
from .lock import TrainingLock, remove_leftovers
from .resume import resume_path


def check_output(out: Path) -> None:
    """Refuse an --out that training must not write over, or cannot write, before it starts."""
    from nextword.model import default_model_path

    if out.exists() and out.is_dir():
        raise NextwordError(f"--out {out} is a folder; give a file name such as {out / 'model.safetensors'}")
    if same_file(out, default_model_path()):
        raise NextwordError(
            f"--out {out} is the model shipped with nextword; write your model elsewhere "
            "(without --out it goes to your data folder)"
        )
    state = resume_path(out)
    for path, what in ((out, ""), (state, f", where a run writing {out} keeps its state for --resume,")):
        if path.exists() and not is_nextword_file(path):
            raise NextwordError(
                f"{path}{what} exists and is not a nextword model, so training will not write over it; "
                "choose another --out (or move the file away)"
            )
    folder = out.parent
    existing = next((f for f in (folder, *folder.parents) if f.exists()), None)
    if existing is not None and not existing.is_dir():
        raise NextwordError(
            f"cannot write the model to {out}: {existing} is a file, not a folder; choose another --out"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)  # as the model's save would
        # (not named like a write's temporary file, which a run holding the lock may clean up)
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.probe-", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise NextwordError(
            f"cannot write the model to {out} ({e.strerror or e}); choose an --out in a folder you can write to"
        ) from None


def lock_output(out: Path, world: World) -> TrainingLock | None:
    """Take the lock on ``out``: process 0 alone writes, so it alone takes it, and every process
    learns whether it got it. What killed runs' writes left beside it is then cleared."""
    lock, error = None, None
    if world.main:
        try:
            lock = TrainingLock(out).acquire()
        except NextwordError as e:
            error = e
    if world.any([error is not None])[0]:
        raise error or NextwordError(f"process 0 could not take the lock on {out}")
    if lock is not None:
        remove_leftovers(out, resume_path(out))  # no write is under way now
    return lock
