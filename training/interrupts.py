"""Ctrl-C during training asks for a stop at the next step boundary, so the state left for
``--resume`` is never half a step; a second Ctrl-C stops at once."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Interrupts:
    """Whether Ctrl-C has asked the run to stop (``requested``), while ``deferred`` is in force."""

    def __init__(self) -> None:
        self.requested = False

    @contextlib.contextmanager
    def deferred(self) -> Iterator[Interrupts]:
        """Within it, a first Ctrl-C sets ``requested`` (on the main thread; elsewhere signals
        cannot be caught, and Ctrl-C stops at once)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def handler(signum, frame):  # noqa: ANN001
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)
