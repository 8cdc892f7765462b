"""A process of its own for the server's background work on the notes (reading and tokenizing
a folder's files, building the notes of a large workspace).

Spawned, not forked (forking a process with threads is unsafe), and at a lower priority: on a
machine with few cores it competes with the server for the processor, and the answers to the
keystrokes must come first.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

NICENESS = 10  # how much lower than the server's the process's priority is


def background_pool() -> ProcessPoolExecutor:
    """An executor of one spawned process at a lower priority."""
    return ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_lower_priority
    )


def _lower_priority() -> None:
    try:
        os.nice(NICENESS)
    except (AttributeError, OSError):  # no nice() on Windows; a refused one leaves it as it is
        pass
