"""Reading ahead of need: the work the worker does while no request waits.

- A document just opened is read in the background, slice by slice, between requests, so
  that the first completion in it seldom pays for reading it; after a model swap, the most
  recently used documents are read again up to where they were; when the first model comes,
  the documents opened and typed into while it loaded are read up to where the typing is.
- After each edit, once the typist pauses, the worker brings the document's state up to the
  cursor and reads the word being typed ahead as if it were finished
  (``Predictor.look_ahead``): the space or mark that ends it then finds the network's steps
  done, whether or not the editor asked for completions on the way.

Only reads that cannot change a suggestion are done ahead: the Predictor uses what was read
ahead only when the context then continues from the same state with the same tokens.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from itertools import pairwise

from .documents import Snapshot
from .model_loader import LoadedModel
from .sessions import Sessions, guarded
from .wordsyntax import MAX_WORD_LENGTH, typed_word_start
from .worker import ModelWorker

# A document opened is read in the background in slices of about this many characters, so
# that a request (in this or another document) waits for one slice at most, not the whole.
WARM_CHUNK = 2000
MAX_WARMING = 4  # documents read ahead at once; older openings are dropped (a restored session of 30 tabs)
# After an edit, the document's state is caught up and the word being typed read ahead once
# no edit has come for LOOK_AHEAD_DELAY, and only while edits come at a person's pace: at
# least LOOK_AHEAD_PACE apart (the median of the last few). A person's keys come a good
# deal further apart, so the look-ahead (a few network steps, each a job of its own) is done
# long before the next; keys sent faster (a macro, a paste, a benchmark sending them back to
# back) would arrive while it runs and wait for it, so they get none.
LOOK_AHEAD_DELAY = 0.01
LOOK_AHEAD_PACE = 0.03
# Marks read ahead after a word, at most: the three likeliest catch most of the single marks
# that end a word (``benchmarks/predictor_latency.py`` counts the word ends found read ahead).
LOOK_AHEAD_MARKS = 3
IDLE_JOBS = MAX_WARMING + 1  # background jobs the worker keeps waiting: the warm-ups and one look-ahead


class TypingPace:
    """How fast the edits come: the median time between the last few."""

    def __init__(self) -> None:
        self._times: deque[float] = deque(maxlen=8)  # when the last edits came

    def edited(self) -> float:
        """Record an edit now; the median time between the last few edits, this one included
        (0 until there are a few)."""
        times = self._times
        times.append(time.monotonic())
        if len(times) < 4:
            return 0.0
        gaps = sorted(b - a for a, b in pairwise(times))
        return gaps[len(gaps) // 2]


class ReadAhead:
    """Schedules the reads ahead of need (on the event loop) and does them (on the worker)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        worker: ModelWorker,
        sessions: Sessions,
        model: Callable[[], LoadedModel | None],
    ) -> None:
        self._loop, self._worker, self._sessions, self._model = loop, worker, sessions, model
        self._pace = TypingPace()
        self._pause: asyncio.TimerHandle | None = None  # starts the look-ahead once the typist pauses
        # Documents opened or typed into while no model was there: the latest text of each and
        # where to read it to, the most recent last (``MAX_WARMING`` of them).
        self._unread: dict[str, tuple[Snapshot, int]] = {}

    # ----- scheduling (event loop) ---------------------------------------------------------
    def opened(self, uri: str, text: str, context_end: int) -> None:
        """Bring a document's state up to ``context_end`` while the worker is otherwise idle."""
        snapshot = Snapshot(text, "")
        if self._model() is None:
            self._wait_for_model(uri, snapshot, context_end)
        else:
            self._worker.submit_idle(uri, lambda: self.read_slice(uri, snapshot, context_end, opened=True))

    def edited(self, uri: str, text: Snapshot, cursor: int) -> None:
        """The document changed and the cursor is at ``cursor``: once the typist pauses, bring
        its state up to the word being typed there and read that word ahead."""
        if self._pause is not None:
            self._pause.cancel()
            self._pause = None
        if self._model() is None:
            self._wait_for_model(uri, text, _word_start(text, cursor))
        elif self._pace.edited() >= LOOK_AHEAD_PACE:
            # Timed on the event loop, so the worker is not woken while a keystroke is being
            # answered; one at a time: the word typed last is the one that will end next.
            job = lambda: self._catch_up(uri, text, cursor)  # noqa: E731
            self._pause = self._loop.call_later(LOOK_AHEAD_DELAY, self._worker.submit_idle, "look-ahead", job)

    def forget(self, uri: str) -> None:
        """The document closed: drop its reading not yet started."""
        self._unread.pop(uri, None)
        self._worker.drop_idle(uri)

    def _wait_for_model(self, uri: str, text: Snapshot, end: int) -> None:
        self._unread.pop(uri, None)
        self._unread[uri] = (text, end)
        while len(self._unread) > MAX_WARMING:
            self._unread.pop(next(iter(self._unread)), None)

    def stop(self) -> None:
        if self._pause is not None:
            self._pause.cancel()

    # ----- reading (worker) ----------------------------------------------------------------
    def read_slice(self, uri: str, text: Snapshot, target: int, opened: bool = False) -> None:
        """Read one more slice of a document towards ``target`` (its first when it was just
        ``opened``: its session is made then); schedule the next one. A document closed
        meanwhile (no session) is not read on."""
        loaded = self._model()
        if loaded is None:
            return
        session = self._sessions.use(uri) if opened else self._sessions.get(uri)
        if session is None:  # closed since the last slice
            return
        done = session.read_to(loaded)
        if done >= target:
            return
        end = target
        # Far from the target, the Predictor restarts from a bounded window at the target (one
        # bounded job); nearer, it would read every token up to it, so go there slice by slice.
        if WARM_CHUNK < target - done <= session.predictor_of(loaded).window_chars:
            # Cut just after a space, where the full scan also starts a token.
            space = text.slice(done, min(len(text), done + WARM_CHUNK)).rfind(" ")
            end = done + space + 1 if space > 0 else done + WARM_CHUNK
        guarded(session, lambda: session.sync(loaded, text, end))
        if end < target:
            self._worker.submit_idle(uri, lambda: self.read_slice(uri, text, target))

    def read_again(self, held: list[tuple[str, Snapshot]]) -> None:
        """After a model swap: read the most recently used of the documents ``held`` (the most
        recent first) again, up to where they were."""
        for uri, context in reversed(held[:MAX_WARMING]):  # the most recent last: it is read first
            self._worker.submit_idle(uri, partial(self.read_slice, uri, context, len(context)))
        for uri in list(self._unread):  # opened while no model was there, the most recent last
            if (waiting := self._unread.pop(uri, None)) is not None:
                self._worker.submit_idle(uri, partial(self.read_slice, uri, *waiting, opened=True))

    def _catch_up(self, uri: str, text: Snapshot, cursor: int) -> None:
        """Catch the document's state up to the word being typed at ``cursor`` (if that is a
        few steps: typing on at the end), then read the word ahead."""
        loaded, session = self._model(), self._sessions.get(uri)
        if loaded is None or session is None:
            return
        start = _word_start(text, cursor)

        def catch_up() -> bool:
            predictor = session.within_reach(loaded, text, start)
            if predictor is None:
                return False  # far from where it was: left to the next request
            predictor.distribution()
            return True

        if guarded(session, catch_up) and start < cursor:
            self._look_ahead(uri, text, start, text.slice(start, cursor))

    def _look_ahead(self, uri: str, text: Snapshot, context_end: int, prefix: str, marks: int = 0) -> None:
        """Read ``prefix`` ahead as a finished word, if the document is still where it was;
        then, each as a job of its own (a key arriving meanwhile waits for one network step
        at most), the marks likeliest after it."""
        loaded, session = self._model(), self._sessions.get(uri)
        predictor = session.computed(loaded, text, context_end) if loaded is not None and session is not None else None
        if predictor is not None and predictor.look_ahead(prefix, marks) and marks < LOOK_AHEAD_MARKS:
            self._worker.submit_idle("look-ahead", lambda: self._look_ahead(uri, text, context_end, prefix, marks + 1))


def _word_start(text: Snapshot, cursor: int) -> int:
    """Where the word being typed at ``cursor`` starts (the cursor, between words)."""
    lo = max(0, cursor - MAX_WORD_LENGTH)
    before = text.slice(lo, cursor)
    return lo + typed_word_start(before, len(before), max(before.rfind("\n"), before.rfind("\r")) + 1)
