"""Per-document model state: a Predictor for each document in use, for the few most recently
used.

Each document gets its own Predictor, which keeps the network state for the text before the
cursor; only the ``max_live`` most recently used documents keep one (memory stays bounded
however many are open), and closing a document frees its own. A session belongs to one
model: after a swap its Predictor starts over. Sessions are touched only on the worker
thread (or by ``ModelWorker.try_now``, which holds the worker off meanwhile).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from .documents import Snapshot
from .loaded_model import LoadedModel

log = logging.getLogger(__name__)

T = TypeVar("T")

# A context that continues the last one by at most this many characters is caught up on the
# caller's thread (a few network steps) rather than handed to the worker.
QUICK_READ_CHARS = 64


class Session:
    """A document's model state: its Predictor and the context it was last brought to."""

    __slots__ = ("predictor", "context", "head", "generation")

    def __init__(self) -> None:
        self.predictor: Any = None
        self.context = Snapshot("")  # the context last synced
        self.head = ""  # the snapshot head it was cut from (its own tail came from the snapshot's)
        self.generation = -1  # model generation the predictor belongs to

    def predictor_of(self, loaded: LoadedModel) -> Any:
        """The document's Predictor of ``loaded``, made (with no context yet) if it has none."""
        if self.predictor is None or self.generation != loaded.generation:
            self.predictor = loaded.predictor()
            self.generation = loaded.generation
            self.context, self.head = Snapshot(""), ""
        return self.predictor

    def sync(self, loaded: LoadedModel, text: Snapshot, context_end: int) -> tuple[Any, Snapshot]:
        """The document's Predictor brought up to ``text[:context_end]``, and that context."""
        predictor = self.predictor_of(loaded)
        if self._at(text, context_end):
            # Typing inside a word: the text before it is the same (same head object, same
            # short tail part), and the Predictor gets the very context it holds.
            context = self.context
        else:
            # In pieces: the Predictor compares only the tails when the head is the same
            # string as last time (typing at the end), and never joins them.
            context = text.prefix(context_end)
        predictor.sync(context)
        self.context, self.head = context, text.head
        return predictor, context

    def read_to(self, loaded: LoadedModel) -> int:
        """How far into the document its state of this model reaches (0 when it has none)."""
        return len(self.context) if self.predictor is not None and self.generation == loaded.generation else 0

    def computed(self, loaded: LoadedModel, text: Snapshot, context_end: int) -> Any:
        """The Predictor if it is at ``text[:context_end]`` with its distribution computed, so
        that suggestions cost only a filter; else None."""
        predictor = self.predictor
        if (
            predictor is None
            or self.generation != loaded.generation
            or not predictor.has_distribution
            or not self._at(text, context_end)
        ):
            return None
        return predictor

    def extends(self, loaded: LoadedModel, text: Snapshot, context_end: int) -> bool:
        """Whether ``text[:context_end]`` continues the context last synced by at most
        ``QUICK_READ_CHARS`` characters (typing at the end): catching up is a few steps."""
        if self.predictor is None or self.generation != loaded.generation or text.head is not self.head:
            return False
        return 0 <= context_end - len(self.context) <= QUICK_READ_CHARS and text.tail.startswith(self.context.tail)

    def within_reach(self, loaded: LoadedModel, text: Snapshot, context_end: int) -> Any:
        """The Predictor at ``text[:context_end]`` when it is there already or a few steps on
        (typing at the end, caught up here); None when it would have to read further."""
        predictor = self.computed(loaded, text, context_end)
        if predictor is None and self.extends(loaded, text, context_end):
            predictor = self.sync(loaded, text, context_end)[0]
        return predictor

    def _at(self, text: Snapshot, context_end: int) -> bool:
        """Whether ``text[:context_end]`` is the context last synced (compared cheaply)."""
        return (
            context_end == len(self.context)
            and text.head is self.head
            and text.tail[: max(0, context_end - len(text.head))] == self.context.tail
        )

    def free(self) -> None:
        """Let the Predictor go (its state with it); the next request starts afresh."""
        self.predictor = None
        self.context, self.head = Snapshot(""), ""


def guarded(session: Session, work: Callable[[], T]) -> T:
    """Run ``work``; if the Predictor fails, start the session afresh and retry once.

    A Predictor whose kept state became inconsistent (an early version raised KeyError when
    the cursor moved back to a point whose network state had been thinned out) must cost one
    recomputation, not every completion in that document from then on."""
    try:
        return work()
    except Exception as e:  # noqa: BLE001 - retried once from a clean state
        log.warning("the Predictor failed (%s: %s); recomputing this document's state", type(e).__name__, e)
        session.free()
        return work()


class Sessions:
    """The sessions of the documents in use, the most recently used last."""

    def __init__(self, max_live: int = 16) -> None:
        self.max_live = max_live  # documents that keep a Predictor at once
        self._live: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._live)

    def get(self, uri: str) -> Session | None:
        """The document's session if it has one (not counted as a use)."""
        return self._live.get(uri)

    def use(self, uri: str) -> Session:
        """The document's session, made if it has none, and now the most recently used; the
        least recently used beyond ``max_live`` lose theirs."""
        session = self._live.get(uri)
        if session is None:
            session = self._live[uri] = Session()
            self.evict()
        else:
            self._live.move_to_end(uri)
        return session

    def touch(self, uri: str) -> None:
        """Count a use of the document's session (which it has)."""
        self._live.move_to_end(uri)

    def evict(self) -> None:
        """Free the least recently used sessions beyond ``max_live``."""
        while len(self._live) > self.max_live:
            _, session = self._live.popitem(last=False)
            session.free()

    def forget(self, uri: str) -> None:
        """The document closed: free its session."""
        session = self._live.pop(uri, None)
        if session is not None:
            session.free()

    def free_all(self) -> list[tuple[str, Snapshot]]:
        """Free every session (the model changed); the documents and contexts they held, the
        most recently used first."""
        held = [(uri, session.context) for uri, session in reversed(self._live.items()) if session.context]
        for session in self._live.values():
            session.free()
        return held

    def read_ahead_hits(self) -> int:
        """Tokens the live documents' Predictors found read already when the text came (read
        ahead while the typist paused, or read before a rollback). Safe from any thread."""
        predictors = [session.predictor for session in tuple(self._live.values())]
        return sum(p.read_ahead_hits for p in predictors if p is not None)
