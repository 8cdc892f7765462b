"""Reading and tokenizing the files of a scan in a process of its own.

Tokenizing is the part of learning a folder that holds the interpreter longest; on the
learning thread it would take the interpreter from a keystroke's answer at every switch
interval. In another process it takes a processor core at most, which the operating system
shares finely. The process starts at the first file that needs reading (a second start on
unchanged notes starts none) and ends with the scan; should it fail, the files are read here.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from .workspace_scan import Reader, read_tokens

log = logging.getLogger(__name__)


@contextmanager
def tokenizing_process() -> Iterator[Reader]:
    """A ``Reader`` that runs ``read_tokens`` in another process (spawned, as forking a
    process with threads is unsafe), for as long as the context lasts."""
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    broken = False

    def read(path: Path) -> tuple[str, str, list[str]]:
        nonlocal broken
        if not broken:
            try:
                return pool.submit(read_tokens, path).result()
            except Exception as e:  # noqa: BLE001 - a process that cannot start or died: read here
                log.warning("reading the notes in a process of its own failed (%s); reading them here", e)
                broken = True
        return read_tokens(path)

    try:
        yield read
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
