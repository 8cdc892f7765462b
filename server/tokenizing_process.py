"""Reading and tokenizing the files of a scan in a process of its own.

Tokenizing is the part of learning a folder that holds the interpreter longest; on the
learning thread it would take the interpreter from a keystroke's answer at every switch
interval. In another process it takes a processor core at most, which the operating system
shares finely. The process starts at the first file that needs reading (a second start on
unchanged notes starts none) and ends with the scan; it works a few files ahead of the scan,
so that it never waits for the next one to be asked for. Should it fail, the files are read
here.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from .background_process import background_pool
from .workspace_scan import Read, read_tokens

log = logging.getLogger(__name__)

AHEAD = 8  # files read ahead of the scan: enough to hide a round trip, few to hold in memory


class ReadingProcess:
    """A ``workspace_scan.Reader`` that runs ``read_tokens`` in a process of its own
    (``background_pool``), started at the first file asked for."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._broken = False
        self._upcoming: list[Path] = []
        self._places: dict[Path, int] = {}  # a file's position in ``_upcoming``
        self._next = 0  # the position in ``_upcoming`` of the next file to send
        self._sent: OrderedDict[Path, Future[Read]] = OrderedDict()

    def expect(self, paths: list[Path]) -> None:
        self._upcoming, self._next = list(paths), 0
        self._places = {path: n for n, path in enumerate(self._upcoming)}
        self._sent.clear()

    def read(self, path: Path) -> Read:
        if not self._broken:
            try:
                return self._read_there(path)
            except Exception as e:  # noqa: BLE001 - a process that cannot start or died: read here
                log.warning("reading the notes in a process of its own failed (%s); reading them here", e)
                self._broken = True
                self.close()
        return read_tokens(path)

    def _read_there(self, path: Path) -> Read:
        if self._pool is None:
            self._pool = background_pool()
        if path in self._sent:
            # Files sent before this one were not asked for (skipped by the scan): let them go.
            while next(iter(self._sent)) != path:
                self._sent.popitem(last=False)[1].cancel()
            future = self._sent.pop(path)
        else:
            future = self._pool.submit(read_tokens, path)
            # Those expected before it, not sent yet, were skipped by the scan.
            self._next = max(self._next, self._places.get(path, -1) + 1)
        while len(self._sent) < AHEAD and self._next < len(self._upcoming):
            upcoming = self._upcoming[self._next]
            self._next += 1
            self._sent[upcoming] = self._pool.submit(read_tokens, upcoming)
        return future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._sent.clear()


@contextmanager
def tokenizing_process() -> Iterator[ReadingProcess]:
    """A ``ReadingProcess`` for as long as the context lasts."""
    reader = ReadingProcess()
    try:
        yield reader
    finally:
        reader.close()
