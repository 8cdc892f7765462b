"""The model behind the server, as the handlers see it: one object that routes each request
to the worker thread and says how the model stands.

Each concern has a module of its own: ``model_loader`` finds, loads, watches and swaps the
model; ``sessions`` keeps a Predictor per document in use; ``read_ahead`` does the work
ahead of need (documents just opened, the word being typed); ``worker`` is the one thread
all model work runs on.

A request that a newer one of the same kind for the same document has overtaken before it
ran is answered as superseded (None) instead of being computed: the newer one is what
counts. A suggestion that is quick to give (from the distribution already computed, or a
few network steps on while typing at the end) is given on the event loop while the worker
is between jobs, sparing two thread wake-ups.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .documents import Snapshot
from .loaded_model import LoadedModel
from .model_loader import ModelLoader, Report
from .read_ahead import IDLE_JOBS, ReadAhead
from .sessions import Sessions, guarded
from .worker import ModelWorker

log = logging.getLogger(__name__)

# Environment variables this process set for itself (not for the programs it starts).
SET_FOR_THIS_PROCESS: dict[str, str] = {}


def use_one_thread() -> None:
    """Make torch compute on one thread; call before torch is imported.

    A keystroke's work is a few small matrix products: a second thread saves little and, on
    a machine whose cores are busy (a training run, a build), makes every operation wait for
    a descheduled peer at its barrier, which turns milliseconds into tens of milliseconds."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if name not in os.environ:
            os.environ[name] = SET_FOR_THIS_PROCESS[name] = "1"


class ModelHost:
    """Loads and watches the model; answers prediction requests off the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, report: Report):
        self.worker = ModelWorker(max_idle=IDLE_JOBS)
        self.sessions = Sessions()  # touched on the worker only
        self.loader = ModelLoader(loop, report, self.worker, self._swapped)
        self.read_ahead = ReadAhead(loop, self.worker, self.sessions, lambda: self.loader.loaded)
        self._latest: dict[tuple[str, str], int] = {}  # the newest request of each kind per document
        self._seq = 0
        self.in_flight = 0  # requests being answered: learning lets them run first
        self.last_answered = 0.0  # time.monotonic() when the last request was answered
        # Told of every model about to be used (on the worker): the workspace's notes follow it.
        self.on_model: Callable[[LoadedModel | None], None] | None = None

    # ----- control (event loop) ------------------------------------------------------------
    def start(self) -> None:
        self.loader.start()

    def stop(self) -> None:
        self.loader.stop()
        self.read_ahead.stop()
        self.worker.stop()

    @property
    def ready(self) -> bool:
        return self.loader.loaded is not None

    @property
    def loaded(self) -> LoadedModel | None:
        """The model in use, if any."""
        return self.loader.loaded

    @property
    def state(self) -> str:
        """starting, loading, ready, missing or failed."""
        return self.loader.state

    @property
    def error(self) -> str:
        """The last problem with the model, one sentence ("" when none)."""
        return self.loader.error

    @property
    def wanted(self) -> Path | None:
        """The model file the settings ask for."""
        return self.loader.wanted

    @property
    def max_live(self) -> int:
        """Documents that keep model state at once."""
        return self.sessions.max_live

    def configure(self, model_path: str, base_dir: Path | None, max_live: int, from_flag: bool = False) -> None:
        if max_live != self.sessions.max_live:
            self.sessions.max_live = max_live
            self.worker.submit(self.sessions.evict)
        self.loader.configure(model_path, base_dir, from_flag)

    def use_trained(self, path: Path) -> None:
        """Use a model just trained for this workspace (until modelPath changes)."""
        self.loader.use_trained(path)

    def reload_soon(self) -> None:
        """Look for the model again now (settings changed); load it if it is another one."""
        self.loader.reload_soon()

    async def reload(self) -> None:
        """Look for the model now and load it (again), even if it did not change."""
        await self.loader.reload()

    # ----- requests (event loop) -----------------------------------------------------------
    async def suggest(
        self,
        uri: str,
        text: Snapshot,
        context_end: int,
        prefix: str,
        k: int,
        kind: str = "suggest",
        composing: bool = False,
    ) -> list[Any] | None:
        """The Predictor's ``k`` best words after ``text[:context_end]`` starting with
        ``prefix``; None if not ready or overtaken by a newer request of the same ``kind``
        (a ghost-text request asks as "phrase", so that it never overtakes a completion).
        ``composing``: the last Hangul syllable may be one an input method is composing."""
        ticket = self._ticket(kind, uri)
        with self._answering():
            done, found = self.worker.try_now(lambda: self._suggest_here(uri, text, context_end, prefix, k, composing))
            if done and found is not None:
                return found
            future = self.worker.submit(self._suggest, uri, text, context_end, prefix, k, ticket, kind, composing)
            return await asyncio.wrap_future(future)

    async def phrase(
        self, uri: str, text: Snapshot, context_end: int, prefix: str, max_words: int, min_probability: float
    ) -> tuple[str, float] | None:
        """A phrase continuing ``prefix`` (see ``Predictor.complete_phrase``), or None."""
        ticket = self._ticket("phrase", uri)
        with self._answering():
            future = self.worker.submit_later(
                self._phrase, uri, text, context_end, prefix, max_words, min_probability, ticket
            )
            return await asyncio.wrap_future(future)

    @contextmanager
    def _answering(self) -> Iterator[None]:
        """While a request is answered: counted in ``in_flight``, its end in ``last_answered``."""
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self.last_answered = time.monotonic()

    def prepare(self, uri: str, text: Snapshot, cursor: int) -> None:
        """The document changed and the cursor is at ``cursor``: once the typist pauses, bring
        its state up to the word being typed there and read that word ahead."""
        self.read_ahead.edited(uri, text, cursor)

    def warm(self, uri: str, text: str, context_end: int) -> None:
        """Bring a document's state up to ``context_end`` while the worker is otherwise idle."""
        self.read_ahead.opened(uri, text, context_end)

    def forget(self, uri: str) -> None:
        """The document closed: free its state."""
        self.read_ahead.forget(uri)
        self._latest.pop(("suggest", uri), None)
        self._latest.pop(("phrase", uri), None)
        self.worker.submit(self.sessions.forget, uri)

    def _ticket(self, kind: str, uri: str) -> int:
        self._seq += 1
        self._latest[(kind, uri)] = self._seq
        return self._seq

    # ----- worker thread -------------------------------------------------------------------
    def _suggest(
        self, uri: str, text: Snapshot, context_end: int, prefix: str, k: int, ticket: int, kind: str, composing: bool
    ) -> list[Any] | None:
        loaded = self.loader.loaded
        session = self.sessions.use(uri)
        if loaded is None or self._latest.get((kind, uri)) != ticket:
            return None
        return guarded(session, lambda: session.sync(loaded, text, context_end)[0].ranked(prefix, k, composing))

    def _suggest_here(
        self, uri: str, text: Snapshot, context_end: int, prefix: str, k: int, composing: bool
    ) -> list[Any] | None:
        """Suggestions computed on the calling thread when that is quick: from the distribution
        already computed for this context (typing inside a word), or after a few network steps
        (typing on at the end); None otherwise. Run by ``try_now``."""
        loaded, session = self.loader.loaded, self.sessions.get(uri)
        if loaded is None or session is None:
            return None
        try:
            predictor = session.within_reach(loaded, text, context_end)
            if predictor is None:
                return None
            self.sessions.touch(uri)
            return predictor.ranked(prefix, k, composing)
        except Exception as e:  # noqa: BLE001 - the worker reads the document afresh
            log.warning("the Predictor failed (%s: %s); recomputing this document's state", type(e).__name__, e)
            session.free()
            return None

    def _phrase(
        self,
        uri: str,
        text: Snapshot,
        context_end: int,
        prefix: str,
        max_words: int,
        min_probability: float,
        ticket: int,
    ) -> tuple[str, float] | None:
        loaded = self.loader.loaded
        session = self.sessions.use(uri)
        if loaded is None or self._latest.get(("phrase", uri)) != ticket:
            return None

        def work() -> tuple[str, float]:
            predictor, context = session.sync(loaded, text, context_end)
            return predictor.complete_phrase(context, prefix, max_words, min_probability)

        return guarded(session, work)

    def _swapped(self, new: LoadedModel | None) -> None:
        """The model changes (on the worker, between two requests): every document's state
        starts over; with a new model, the most recently used are read again in the background,
        up to where they were."""
        held = self.sessions.free_all()
        if self.on_model is not None:
            self.on_model(new)
        if new is not None:
            self.read_ahead.read_again(held)

    # ----- status --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        loaded, loader = self.loader.loaded, self.loader
        out: dict[str, Any] = {
            "state": loader.state,
            "model": str(loaded.path) if loaded else None,
            "wanted": str(loader.wanted) if loader.wanted else None,
            "vocabularySize": len(loaded.vocab) if loaded else 0,
            "predictionWeights": loaded.precision if loaded else None,  # int8 or fp32; None until built
            # whose arithmetic runs the network: nextword's C kernels or torch (None until built)
            "predictionKernels": loaded.kernels if loaded else None,
            "loadSeconds": round(loaded.seconds, 3) if loaded else None,
            "loads": loaded.generation if loaded else 0,  # models loaded so far (reloads count)
            "loadedAt": datetime.fromtimestamp(loaded.at, UTC).isoformat(timespec="seconds") if loaded else None,
            "codeImportSeconds": round(loader.import_seconds, 3),
            "liveDocuments": len(self.sessions),
            "maxLiveDocuments": self.sessions.max_live,
            # tokens the live documents found read ahead when the text came (see read_ahead.py)
            "readAheadHits": self.sessions.read_ahead_hits(),
            "modelBusy": not self.worker.settled,  # model work running or waiting, in the background too
            "error": loader.error or None,
        }
        if loaded is not None:
            out["modelInfo"] = loaded.info  # how the model was trained, as its checkpoint says
        return out
