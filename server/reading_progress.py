"""The "Reading your notes" work-done progress (``$/progress``) of a folder being read.

Told from the learning thread, sent on the event loop: the client is asked for a token
first (``window/workDoneProgress/create``), and reports that come before it answers are
folded into the begin message. Reports are sent at most a few times a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from lsprotocol import types

log = logging.getLogger(__name__)

READING_TITLE = "Reading your notes"
REPORT_EVERY = 0.25  # seconds between two reports at most


class ReadingProgress:
    """One folder's reading, as the client shows it (nothing where it shows no progress)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, progress: Any | None, name: str):
        """``progress``: pygls's ``work_done_progress`` when the client shows progress, else None."""
        self._loop, self._progress, self._name = loop, progress, name
        self._token: str | None = None
        self._ended = False
        self._message = ""
        self._percentage = 0
        self._last = 0.0

    # ----- from the learning thread --------------------------------------------------------
    def begin(self) -> None:
        if self._progress is not None:
            self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._create()))

    def report(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self._progress is None or (now - self._last < REPORT_EVERY and done < total):
            return
        self._last = now
        message = f"{done:,} of {total:,} files in {self._name}"
        percentage = int(100 * done / total) if total else 100
        self._loop.call_soon_threadsafe(self._report, message, percentage)

    def end(self, message: str) -> None:
        if self._progress is not None:
            self._loop.call_soon_threadsafe(self._end, message)

    # ----- on the event loop ---------------------------------------------------------------
    async def _create(self) -> None:
        assert self._progress is not None
        token = f"nextword-reading-{uuid.uuid4().hex[:8]}"
        try:
            await asyncio.wait_for(self._progress.create_async(token), 5.0)
        except Exception as e:  # noqa: BLE001 - no progress shown then; reading goes on
            log.info("the client refused a progress token: %s", e)
            return
        self._progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=READING_TITLE, message=self._message or f"{self._name}", percentage=self._percentage
            ),
        )
        self._token = token
        if self._ended:
            self._send_end(self._message)

    def _report(self, message: str, percentage: int) -> None:
        self._message, self._percentage = message, percentage
        if self._progress is not None and self._token is not None and not self._ended:
            self._progress.report(self._token, types.WorkDoneProgressReport(message=message, percentage=percentage))

    def _end(self, message: str) -> None:
        self._ended, self._message = True, message
        if self._token is not None:
            self._send_end(message)

    def _send_end(self, message: str) -> None:
        assert self._progress is not None and self._token is not None
        self._progress.end(self._token, types.WorkDoneProgressEnd(message=message))
        self._progress.tokens.pop(self._token, None)
        self._token = None
