"""One thread for all model work, so the event loop never waits on the network.

A Predictor is not thread-safe, and two threads running the network at once on a 2-core
machine would only slow each other down, so every model call goes through this one thread,
in order. Requests come first (completions before the slower ghost-text phrases, which
``submit_later`` queues); background work (``submit_idle``: warm-ups, look-aheads) runs only
when no request waits, newest first; a newer job for the same key replaces one not yet
started, and only the ``max_idle`` newest are kept. A request cancelled before it starts
(``$/cancelRequest``) is skipped. A job known to be short (a keystroke inside a word, whose
answer is a filter of a distribution already computed; a word boundary while typing at the
end, a few network steps) can run on the caller's thread while the worker is between jobs
(``try_now``), sparing two thread wake-ups.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

log = logging.getLogger(__name__)


class ModelWorker:
    def __init__(self, name: str = "nextword-model", max_idle: int = 4):
        self.max_idle = max_idle
        self._jobs: deque[tuple[Future[Any], Callable[[], Any]]] = deque()
        self._later: deque[tuple[Future[Any], Callable[[], Any]]] = deque()
        self._idle: OrderedDict[Any, Callable[[], Any]] = OrderedDict()
        self._wake = threading.Condition()
        self._stopped = False
        self._busy = False  # a job is running on the worker thread
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` on the worker; the future can be cancelled until it starts."""
        return self._put(self._jobs, fn, args)

    def submit_later(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Like ``submit``, but after the requests already waiting."""
        return self._put(self._later, fn, args)

    def _put(
        self, queue: deque[tuple[Future[Any], Callable[[], Any]]], fn: Callable[..., Any], args: tuple[Any, ...]
    ) -> Future[Any]:
        future: Future[Any] = Future()
        with self._wake:
            if self._stopped:
                future.set_exception(RuntimeError("the model worker has stopped"))
                return future
            queue.append((future, lambda: fn(*args)))
            self._wake.notify()
        return future

    def submit_idle(self, key: Any, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` when nothing else waits; replaces a pending idle job with this key."""
        with self._wake:
            self._idle.pop(key, None)
            self._idle[key] = fn
            while len(self._idle) > self.max_idle:
                self._idle.popitem(last=False)
            self._wake.notify()

    def drop_idle(self, key: Any) -> None:
        with self._wake:
            self._idle.pop(key, None)

    def try_now(self, fn: Callable[[], Any]) -> tuple[bool, Any]:
        """Run ``fn()`` on this thread if the worker is between jobs and no request waits,
        holding the worker off meanwhile: ``(True, result)``; else ``(False, None)`` at once.
        For short work only (a few milliseconds at most): the worker waits for it."""
        with self._wake:
            if self._busy or self._jobs or self._later or self._stopped:
                return False, None
            return True, fn()

    @property
    def pending(self) -> int:
        """Requests waiting (background work not counted)."""
        return len(self._jobs) + len(self._later)

    @property
    def settled(self) -> bool:
        """Whether no job runs and none waits, background work included."""
        with self._wake:
            return not (self._busy or self._jobs or self._later or self._idle)

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            for future, _ in (*self._jobs, *self._later):
                future.cancel()
            self._jobs.clear()
            self._later.clear()
            self._idle.clear()
            self._wake.notify()

    def _next(self) -> tuple[Future[Any] | None, Callable[[], Any]] | None:
        with self._wake:
            self._busy = False
            while not self._stopped:
                job: tuple[Future[Any] | None, Callable[[], Any]] | None = None
                if self._jobs:
                    job = self._jobs.popleft()
                elif self._later:
                    job = self._later.popleft()
                elif self._idle:
                    job = None, self._idle.popitem(last=True)[1]
                if job is not None:
                    self._busy = True
                    return job
                self._wake.wait()
            return None

    def _run(self) -> None:
        while (job := self._next()) is not None:
            future, fn = job
            if future is not None and not future.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            try:
                result = fn()
            except BaseException as e:  # noqa: BLE001 - handed to whoever awaits it
                self._done()
                if future is None:
                    log.exception("background model work failed")
                else:
                    future.set_exception(e)
                continue
            # Between jobs before the answer is out: the request that follows it may then be
            # answered on its own thread (``try_now``) rather than queued behind this thread.
            self._done()
            if future is not None:
                future.set_result(result)

    def _done(self) -> None:
        with self._wake:
            self._busy = False
