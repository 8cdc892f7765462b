"""The model behind the server: loading it in the background, watching its file, and one
Predictor per open document.

- A loader thread imports torch, finds the model (the ``modelPath`` setting, else the
  user's trained model, else the shipped default), loads it, and then checks about once a
  second whether the file changed on disk or another one should be used; a changed file is
  loaded beside the old model and swapped in between two requests, so none is dropped.
  A file that cannot be read leaves the model already loaded in place.
- All Predictor work runs on one worker thread (``worker.ModelWorker``). Each document
  gets its own Predictor, which keeps the network state for the text before the cursor;
  only the ``max_live`` most recently used documents keep one (memory stays bounded), and
  closing a document frees its own.
- A request that a newer one for the same document has overtaken before it ran is
  answered as superseded (None) instead of being computed: the newer one is what counts.
- A document just opened is read ahead in the background, slice by slice, between
  requests, so that the first completion in it seldom pays for reading it.
- After each edit, once the typist pauses, the worker brings the document's state up to the
  cursor and reads the word being typed ahead as if it were finished
  (``Predictor.look_ahead``): the space or mark that ends it then finds the network's steps
  done, whether or not the editor asked for completions on the way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from .documents import Snapshot
from .wordsyntax import MAX_WORD_LENGTH, typed_word_start
from .worker import ModelWorker

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how often the model file is checked for changes
# A document opened is read in the background in slices of about this many characters, so
# that a request (in this or another document) waits for one slice at most, not the whole.
WARM_CHUNK = 2000
MAX_WARMING = 4  # documents read ahead at once; older openings are dropped (a restored session of 30 tabs)
SETTLE_NS = 400_000_000  # a model file is read once it has not changed for this long
# After an edit, the document's state is caught up and the word being typed read ahead once
# no edit has come for LOOK_AHEAD_DELAY, and only while edits come at a person's pace: at
# least LOOK_AHEAD_PACE apart (the median of the last few). A person's keys come 50-300 ms
# apart, so the look-ahead (up to four network steps, each a job of its own) is done long
# before the next; keys sent faster (a macro, a paste, a benchmark sending them back to back
# or a few ms apart) would arrive while it runs and wait for it, so they get none.
LOOK_AHEAD_DELAY = 0.01
LOOK_AHEAD_PACE = 0.03

Report = Callable[[str, str], None]  # (level: "error" | "warning" | "info" | "log", message)

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


def _collect_old_model() -> None:
    """Once a new model is swapped in, before its compact forms are built: collect what the
    old one left. Its objects were set aside from garbage collection (``_settle_memory``);
    they are thawed first so that they can be collected."""
    import gc

    gc.unfreeze()
    gc.collect()


def _settle_memory() -> None:
    """Once the new model is ready: hand the memory freed back to the system, and set every
    object alive now aside from later garbage collections.

    The C allocator keeps freed blocks of large tensors for reuse, so without the trim every
    model reload would leave the process some tens of megabytes bigger. The objects alive
    once a model is in (torch, the model, the protocol types: hundreds of thousands) would
    otherwise be traversed by each full collection, 25-150 ms with the event loop held, at
    any keystroke; frozen, a full collection scans only what was made since. They are thawed
    before the next swap so that the old model's objects can be collected."""
    import gc

    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
    gc.freeze()


def _return_large_blocks() -> None:
    """Have the C allocator hand every block of a megabyte or more straight back to the system
    when it is freed.

    By default glibc raises that threshold to the size of the largest block freed so far (up
    to 32 MB), so once a model has loaded, the temporary copies made while the next one loads
    (a reload, beside the model serving) stay in the process after they are freed: some 40 MB
    at the peak of a reload. Keystrokes allocate far less than a megabyte, so they never pay
    for the system calls. Fixing that threshold also fixes the one for giving back the top
    of the heap, at 128 kB: it is set high, as glibc would have raised it, so that the
    arrays of a keystroke are not handed back and faulted in again at every key."""
    libc = _glibc()
    if libc is not None:
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters
        libc.mallopt(M_MMAP_THRESHOLD, 1 << 20)
        libc.mallopt(M_TRIM_THRESHOLD, 32 << 20)


def _glibc() -> Any:
    """The C library where it is glibc (whose allocator the two functions above tune), else None."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


def _signature(path: Path) -> tuple[int, int, int] | None:
    """What changes when the file is rewritten (an atomic replace changes the inode)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino) if os.path.isfile(path) else None


# A context that continues the last one by at most this many characters is caught up on the
# event loop (a few network steps, a few milliseconds) rather than handed to the worker.
QUICK_READ_CHARS = 64

# Text the warm-up reads: about as many tokens (some 300) as a fresh start on a long document
# reads in one batched call.
WARM_UP_TEXT = " ".join(
    [
        "The model reads these sentences before it serves, so that every way it reads text has run "
        "once: one token at a time while someone types, and a whole run of tokens in one call when "
        "a document is opened. The first document then pays no start-up."
    ]
    * 6
)


@dataclass
class _Loaded:
    checkpoint: Any  # nextword.model.Checkpoint
    path: Path
    signature: tuple[int, int, int] | None
    seconds: float  # time to read the file and build the model
    at: float  # time.time() when it was swapped in
    generation: int


class _Doc:
    """A document's model state; touched only on the worker thread."""

    __slots__ = ("predictor", "context", "head", "generation")

    def __init__(self) -> None:
        self.predictor: Any = None
        self.context = Snapshot("")  # the context last synced
        self.head = ""  # the snapshot head it was cut from (its own tail came from the snapshot's)
        self.generation = -1  # model generation the predictor belongs to

    def sync(self, loaded: _Loaded, text: Snapshot, context_end: int, config: Any) -> tuple[Any, Snapshot]:
        """The document's Predictor brought up to ``text[:context_end]``, and that context."""
        from nextword.model import Predictor

        if self.predictor is None or self.generation != loaded.generation:
            self.predictor = Predictor(loaded.checkpoint.model, loaded.checkpoint.vocab, config)
            self.generation = loaded.generation
            self.context, self.head = Snapshot(""), ""
        if self._at(text, context_end):
            # Typing inside a word: the text before it is the same (same head object, same
            # short tail part), and the Predictor gets the very context it holds.
            context = self.context
        else:
            # In pieces: the Predictor compares only the tails when the head is the same
            # string as last time (typing at the end), and never joins them.
            context = text.prefix(context_end)
        self.predictor.sync(context)
        self.context, self.head = context, text.head
        return self.predictor, context

    def computed(self, loaded: _Loaded, text: Snapshot, context_end: int) -> Any:
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

    def extends(self, loaded: _Loaded, text: Snapshot, context_end: int) -> bool:
        """Whether ``text[:context_end]`` continues the context last synced by at most
        ``QUICK_READ_CHARS`` characters (typing at the end): catching up is a few steps."""
        if self.predictor is None or self.generation != loaded.generation or text.head is not self.head:
            return False
        return 0 <= context_end - len(self.context) <= QUICK_READ_CHARS and text.tail.startswith(self.context.tail)

    def within_reach(self, loaded: _Loaded, text: Snapshot, context_end: int, config: Any) -> Any:
        """The Predictor at ``text[:context_end]`` when it is there already or a few steps on
        (typing at the end, caught up here); None when it would have to read further."""
        predictor = self.computed(loaded, text, context_end)
        if predictor is None and self.extends(loaded, text, context_end):
            predictor = self.sync(loaded, text, context_end, config)[0]
        return predictor

    @staticmethod
    def _tail_part(text: Snapshot, context_end: int) -> str:
        return text.tail[: max(0, context_end - len(text.head))]

    def _at(self, text: Snapshot, context_end: int) -> bool:
        """Whether ``text[:context_end]`` is the context last synced (compared cheaply)."""
        return (
            context_end == len(self.context)
            and text.head is self.head
            and self._tail_part(text, context_end) == self.context.tail
        )

    def free(self) -> None:
        if self.predictor is not None:
            self.predictor.reset()
        self.predictor = None
        self.context, self.head = Snapshot(""), ""


class ModelHost:
    """Loads and watches the model; answers prediction requests off the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, report: Report):
        self._loop = loop
        self._report = report
        self.worker = ModelWorker(max_idle=MAX_WARMING + 1)  # the warm-ups and one look-ahead
        # Settings, set from the event loop.
        self._setting = ""  # the modelPath setting
        self._base_dir: Path | None = None  # relative modelPath settings are relative to this
        self._from_flag = False  # the model path came from --model, not from the modelPath setting
        self._override: Path | None = None  # a model just trained by trainWorkspace
        self.max_live = 16
        # State, written by the loader and worker threads, read anywhere.
        self.state = "starting"  # starting, loading, ready, missing, failed
        self.error = ""  # the last problem, one sentence
        self.wanted: Path | None = None  # the model file the settings ask for
        self.loaded: _Loaded | None = None
        self.torch_seconds = 0.0
        self._generation = 0
        self._failed: tuple[Path, Any] | None = None  # the file (and version) that last failed
        # Loader thread control.
        self._cv = threading.Condition()
        self._force = False  # load even if nothing changed
        self._recheck = False  # look again now rather than at the next poll
        self._waiters: list[asyncio.Future[None]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._loader, name="nextword-loader", daemon=True)
        # Worker-thread state.
        self._docs: OrderedDict[str, _Doc] = OrderedDict()
        self._latest: dict[tuple[str, str], int] = {}
        self._seq = 0
        self._config: Any = None
        self._key_times: deque[float] = deque(maxlen=8)  # when the last edits came
        self._pause: asyncio.TimerHandle | None = None  # starts the look-ahead once the typist pauses

    # ----- control (event loop) ------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        if self._pause is not None:
            self._pause.cancel()
        self.worker.stop()

    @property
    def ready(self) -> bool:
        return self.loaded is not None

    def configure(self, model_path: str, base_dir: Path | None, max_live: int, from_flag: bool = False) -> None:
        self._from_flag = from_flag
        changed = (model_path, base_dir) != (self._setting, self._base_dir)
        if changed and model_path != self._setting:
            self._override = None  # an explicit choice wins over the last trained model
        self._setting, self._base_dir = model_path, base_dir
        if max_live != self.max_live:
            self.max_live = max_live
            self.worker.submit(self._evict)
        if changed:
            self.reload_soon()

    def use_trained(self, path: Path) -> None:
        """Use a model just trained for this workspace (until modelPath changes)."""
        self._override = path

    def reload_soon(self) -> None:
        """Look for the model again now (settings changed); load it if it is another one."""
        with self._cv:
            self._recheck = True
            self._cv.notify()

    async def reload(self) -> None:
        """Look for the model now and load it (again), even if it did not change."""
        waiter = self._loop.create_future()
        with self._cv:
            self._waiters.append(waiter)
            self._force = True
            self._cv.notify()
        await waiter

    # ----- requests (event loop) -----------------------------------------------------------
    def _ticket(self, kind: str, uri: str) -> int:
        self._seq += 1
        self._latest[(kind, uri)] = self._seq
        return self._seq

    async def suggest(self, uri: str, text: Snapshot, context_end: int, prefix: str, k: int) -> list[Any] | None:
        """The Predictor's ``k`` best words after ``text[:context_end]`` starting with
        ``prefix``; None if not ready or overtaken by a newer request."""
        ticket = self._ticket("suggest", uri)
        done, found = self.worker.try_now(lambda: self._suggest_here(uri, text, context_end, prefix, k))
        if done and found is not None:
            return found
        future = self.worker.submit(self._suggest, uri, text, context_end, prefix, k, ticket)
        return await asyncio.wrap_future(future)

    def prepare(self, uri: str, text: Snapshot, cursor: int) -> None:
        """The document changed and the cursor is at ``cursor``: once the typist pauses, bring
        its state up to the word being typed there and read that word ahead."""
        if self._pause is not None:
            self._pause.cancel()
            self._pause = None
        if self.loaded is not None and self._typing_pace() >= LOOK_AHEAD_PACE:
            # Timed on the event loop, so the worker is not woken while a keystroke is being
            # answered; one at a time: the word typed last is the one that will end next.
            job = lambda: self._prepare(uri, text, cursor)  # noqa: E731
            self._pause = self._loop.call_later(LOOK_AHEAD_DELAY, self.worker.submit_idle, "look-ahead", job)

    def _typing_pace(self) -> float:
        """The median time between the last few edits, this one included (0 until there
        are a few)."""
        times = self._key_times
        times.append(time.monotonic())
        if len(times) < 4:
            return 0.0
        gaps = sorted(b - a for a, b in pairwise(times))
        return gaps[len(gaps) // 2]

    async def phrase(
        self, uri: str, text: Snapshot, context_end: int, prefix: str, max_words: int, min_probability: float
    ) -> tuple[str, float] | None:
        """A phrase continuing ``prefix`` (see ``Predictor.complete_phrase``), or None."""
        ticket = self._ticket("phrase", uri)
        future = self.worker.submit_later(
            self._phrase, uri, text, context_end, prefix, max_words, min_probability, ticket
        )
        return await asyncio.wrap_future(future)

    def warm(self, uri: str, text: str, context_end: int) -> None:
        """Bring a document's state up to ``context_end`` while the worker is otherwise idle."""
        if self.ready:
            snapshot = Snapshot(text, "")
            self.worker.submit_idle(uri, lambda: self._warm(uri, snapshot, context_end, opened=True))

    def forget(self, uri: str) -> None:
        """The document closed: free its state."""
        self.worker.drop_idle(uri)
        self._latest.pop(("suggest", uri), None)
        self._latest.pop(("phrase", uri), None)
        self.worker.submit(self._forget, uri)

    # ----- worker thread -------------------------------------------------------------------
    def _doc(self, uri: str) -> _Doc:
        doc = self._docs.get(uri)
        if doc is None:
            doc = self._docs[uri] = _Doc()
            self._evict()
        else:
            self._docs.move_to_end(uri)
        return doc

    def _evict(self) -> None:
        while len(self._docs) > self.max_live:
            _, doc = self._docs.popitem(last=False)
            doc.free()

    def _suggest(
        self, uri: str, text: Snapshot, context_end: int, prefix: str, k: int, ticket: int
    ) -> list[Any] | None:
        loaded = self.loaded
        doc = self._doc(uri)
        if loaded is None or self._latest.get(("suggest", uri)) != ticket:
            return None
        return self._guarded(doc, lambda: doc.sync(loaded, text, context_end, self._config)[0].ranked(prefix, k))

    def _suggest_here(self, uri: str, text: Snapshot, context_end: int, prefix: str, k: int) -> list[Any] | None:
        """Suggestions computed on the calling thread when that is quick: from the distribution
        already computed for this context (typing inside a word), or after a few network steps
        (typing on at the end); None otherwise. Run by ``try_now``."""
        loaded, doc = self.loaded, self._docs.get(uri)
        if loaded is None or doc is None:
            return None
        try:
            predictor = doc.within_reach(loaded, text, context_end, self._config)
            if predictor is None:
                return None
            self._docs.move_to_end(uri)
            return predictor.ranked(prefix, k)
        except Exception as e:  # noqa: BLE001 - the worker reads the document afresh
            log.warning("the Predictor failed (%s: %s); recomputing this document's state", type(e).__name__, e)
            doc.free()
            return None

    def _prepare(self, uri: str, text: Snapshot, cursor: int) -> None:
        """Catch the document's state up to the word being typed at ``cursor`` (if that is a
        few steps: typing on at the end), then read the word ahead."""
        loaded, doc = self.loaded, self._docs.get(uri)
        if loaded is None or doc is None:
            return
        lo = max(0, cursor - MAX_WORD_LENGTH)
        before = text.slice(lo, cursor)
        start = lo + typed_word_start(before, len(before), max(before.rfind("\n"), before.rfind("\r")) + 1)

        def catch_up() -> bool:
            predictor = doc.within_reach(loaded, text, start, self._config)
            if predictor is None:
                return False  # far from where it was: left to the next request
            predictor.distribution()
            return True

        if self._guarded(doc, catch_up) and start < cursor:
            self._look_ahead(uri, text, start, text.slice(start, cursor))

    def _look_ahead(self, uri: str, text: Snapshot, context_end: int, prefix: str, marks: int = 0) -> None:
        """Read ``prefix`` ahead as a finished word, if the document is still where it was;
        then, each as a job of its own (a key arriving meanwhile waits for one network step
        at most), the marks likeliest after it."""
        from nextword.model.predictor import LOOK_AHEAD_MARKS

        loaded, doc = self.loaded, self._docs.get(uri)
        predictor = doc.computed(loaded, text, context_end) if loaded is not None and doc is not None else None
        if predictor is not None and predictor.look_ahead(prefix, marks) and marks < LOOK_AHEAD_MARKS:
            self.worker.submit_idle("look-ahead", lambda: self._look_ahead(uri, text, context_end, prefix, marks + 1))

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
        loaded = self.loaded
        doc = self._doc(uri)
        if loaded is None or self._latest.get(("phrase", uri)) != ticket:
            return None

        def work() -> tuple[str, float]:
            predictor, context = doc.sync(loaded, text, context_end, self._config)
            return predictor.complete_phrase(context, prefix, max_words, min_probability)

        return self._guarded(doc, work)

    def _warm(self, uri: str, text: Snapshot, target: int, opened: bool = False) -> None:
        """Read one more slice of a document (its first when it was just ``opened``);
        schedule the next one."""
        loaded = self.loaded
        if loaded is None:
            return
        doc = self._doc(uri) if opened else self._docs.get(uri)
        if doc is None:  # closed since the last slice
            return
        done = len(doc.context) if doc.predictor is not None and doc.generation == loaded.generation else 0
        if done >= target:
            return
        end = target
        # Far from the target, the Predictor restarts from a bounded window at the target (one
        # bounded job); nearer, it would read every token up to it, so go there slice by slice.
        window = getattr(doc.predictor, "_window_chars", 12 * self._config.cache_size)
        if WARM_CHUNK < target - done <= window:
            # Cut just after a space, where the full scan also starts a token.
            space = text.slice(done, min(len(text), done + WARM_CHUNK)).rfind(" ")
            end = done + space + 1 if space > 0 else done + WARM_CHUNK
        self._guarded(doc, lambda: doc.sync(loaded, text, end, self._config))
        if end < target:
            self.worker.submit_idle(uri, lambda: self._warm(uri, text, target))

    @staticmethod
    def _guarded(doc: _Doc, work: Callable[[], Any]) -> Any:
        """Run ``work``; if the Predictor fails, start the document's state afresh and retry once.

        A Predictor whose kept state became inconsistent (an early version raised KeyError
        when the cursor moved back to a point whose network state had been thinned out) must
        cost one recomputation, not every completion in that document from then on."""
        try:
            return work()
        except Exception as e:  # noqa: BLE001 - retried once from a clean state
            log.warning("the Predictor failed (%s: %s); recomputing this document's state", type(e).__name__, e)
            doc.free()
            return work()

    def _forget(self, uri: str) -> None:
        doc = self._docs.pop(uri, None)
        if doc is not None:
            doc.free()

    def _install(self, loaded: _Loaded) -> None:
        """Swap in a new model between two requests. Document states start over; the most
        recently used documents are read again in the background, up to where they were."""
        recent = [(uri, doc.context) for uri, doc in reversed(self._docs.items()) if doc.context][:MAX_WARMING]
        for doc in self._docs.values():
            doc.free()
        self.loaded = loaded
        for uri, context in reversed(recent):  # the most recent last: it is read first
            self.worker.submit_idle(uri, lambda uri=uri, snapshot=context: self._warm(uri, snapshot, len(snapshot)))

    # ----- loader thread -------------------------------------------------------------------
    def _loader(self) -> None:
        _return_large_blocks()
        try:
            started = time.perf_counter()
            import torch  # the slow part of getting ready, done once

            if "OMP_NUM_THREADS" in SET_FOR_THIS_PROCESS:
                torch.set_num_threads(1)

            from nextword.model import PredictorConfig

            self._config = PredictorConfig()
            self.torch_seconds = time.perf_counter() - started
            log.info("torch imported in %.2f s", self.torch_seconds)
        except Exception as e:  # a broken installation: say so, keep serving document words
            log.exception("cannot import the model code")
            self.state, self.error = (
                "failed",
                f"nextword: cannot load the model code ({e}); completions use document words only. Reinstall nextword.",
            )
            self._say("error", self.error)
            return
        force, waiters = True, []
        while True:
            try:
                self._check(force)
            except Exception as e:  # noqa: BLE001 - keep watching whatever happens
                log.exception("model check failed")
                self.error = f"nextword: unexpected problem loading the model: {e}"
            for waiter in waiters:
                self._loop.call_soon_threadsafe(lambda w=waiter: w.done() or w.set_result(None))
            with self._cv:
                self._cv.wait_for(lambda: self._stop or self._force or self._recheck, timeout=POLL_SECONDS)
                if self._stop:
                    return
                force, self._force, self._recheck = self._force, False, False
                waiters, self._waiters = self._waiters, []

    def _wanted_path(self) -> Path:
        from nextword.model import resolve_model_path

        if self._override is not None:
            return self._override
        setting = self._setting.strip()
        if setting:
            path = Path(setting).expanduser()
            if not path.is_absolute() and self._base_dir is not None:
                path = self._base_dir / path
            return path
        return resolve_model_path(None)

    def _check(self, force: bool) -> None:
        from nextword.model import NextwordError, load_checkpoint, user_model_path

        path = self._wanted_path()
        self.wanted = path
        signature = _signature(path)
        loaded = self.loaded
        if not force:
            if loaded is not None and loaded.path == path and loaded.signature == signature:
                return
            if self._failed == (path, signature):
                return  # the same broken or missing file: said already
            if signature is not None and 0 <= time.time_ns() - signature[0] < SETTLE_NS:
                return  # just written: perhaps not finished yet; look again next time
        keep = (
            f" Keeping the model already loaded ({loaded.path})."
            if loaded is not None
            else " Completions use the words of each document meanwhile."
        )
        if signature is None:
            if path.is_dir():
                message = (
                    f"nextword: {path} is a folder; the model setting must name the .safetensors file itself.{keep}"
                )
            elif self._override is not None:
                message = f"nextword: the model just trained ({path}) has disappeared; run nextword.trainWorkspace again or reload.{keep}"
            elif self._from_flag:
                message = f"nextword: model file {path} does not exist; start the server with --model naming an existing .safetensors file.{keep}"
            elif self._setting.strip():
                message = f"nextword: model file {path} does not exist; set nextword.modelPath to an existing .safetensors file, or clear it to use the default.{keep}"
            else:
                message = (
                    f"nextword: no language model found (looked for your trained model at {user_model_path()} and the shipped one at {path}); "
                    f"train one with `nextword train NOTES` or the nextword.trainWorkspace command.{keep}"
                )
            self._fail(path, signature, "missing", message)
            return
        self.state = "loading" if loaded is None else self.state
        started = time.perf_counter()
        try:
            # The compact forms prediction reads (most of a loaded model's memory) are built
            # once the old model is gone, below: a reload never holds two whole models.
            checkpoint = load_checkpoint(path, for_prediction=True, prepare=False)
        except NextwordError as e:
            self._fail(path, signature, "failed", f"nextword: {e}.{keep}".replace("..", "."))
            return
        except Exception as e:  # noqa: BLE001 - a file that is not a model must not stop the server
            log.exception("loading %s failed", path)
            self._fail(
                path,
                signature,
                "failed",
                f"nextword: {path} could not be loaded ({type(e).__name__}: {e}); pass a model written by `nextword train`.{keep}",
            )
            return
        self._generation += 1
        new = _Loaded(checkpoint, path, signature, 0.0, time.time(), self._generation)
        previous = loaded.path if loaded is not None else None
        self.worker.submit(self._install, new).result()
        del loaded  # the old model: nothing refers to it any more
        _collect_old_model()
        try:
            # On the worker, so that no request reads the model while it is being built; the
            # requests that come meanwhile wait for it (a few tenths of a second, once).
            self.worker.submit(self._warm_up, checkpoint).result()
        except Exception as e:  # noqa: BLE001 - out of memory, say: document words meanwhile
            log.exception("preparing %s failed", path)
            self.worker.submit(self._uninstall, new).result()
            self._fail(
                path,
                signature,
                "failed",
                f"nextword: {path} could not be prepared for prediction ({type(e).__name__}: {e}); completions use the words of each document. Reload the model to try again.",
            )
            return
        new.seconds = seconds = time.perf_counter() - started
        _settle_memory()
        self.state, self.error, self._failed = "ready", "", None
        what = "reloaded" if previous == path else "using"
        log.info("%s model %s (%d tokens) in %.2f s", what, path, len(checkpoint.vocab), seconds)
        self._say("log", f"nextword: {what} model {path} ({len(checkpoint.vocab)} words, loaded in {seconds:.1f} s)")
        if previous is not None and previous != path:
            self._say("info", f"nextword: now using model {path}.")

    def _uninstall(self, loaded: _Loaded) -> None:
        """Take back a model that could not be prepared (on the worker)."""
        if self.loaded is loaded:
            for doc in self._docs.values():
                doc.free()
            self.loaded = None

    def _warm_up(self, checkpoint: Any) -> None:
        """Build the new model's compact forms and run it once, both ways it reads text (one
        step per token, and a run of tokens in one batched call, whose first use sets up
        about 15 ms of library state), so the first keystroke and the first document opened
        pay no start-up."""
        from nextword.model import Predictor

        checkpoint.model.prepare_for_inference()
        predictor = Predictor(checkpoint.model, checkpoint.vocab, self._config)
        predictor.predict(WARM_UP_TEXT, "", 1)
        predictor.predict(WARM_UP_TEXT + " The", "", 1)
        predictor.reset()

    def _fail(self, path: Path, signature: Any, state: str, message: str) -> None:
        self._failed = (path, signature)
        self.error = message
        if self.loaded is None:
            self.state = state
        log.warning("%s", message)
        self._say("warning" if state == "missing" else "error", message)

    def _say(self, level: str, message: str) -> None:
        self._loop.call_soon_threadsafe(self._report, level, message)

    # ----- status --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        loaded = self.loaded
        out: dict[str, Any] = {
            "state": self.state,
            "model": str(loaded.path) if loaded else None,
            "wanted": str(self.wanted) if self.wanted else None,
            "vocabularySize": len(loaded.checkpoint.vocab) if loaded else 0,
            # int8, fp16 or fp32; None until the worker has prepared the model (asking would
            # prepare it here, on the event loop, beside the worker doing the same).
            "predictionWeights": loaded.checkpoint.model.inference_precision
            if loaded and loaded.checkpoint.model.prepared
            else None,
            # whose products run: nextword's C kernels, fbgemm or torch (None until prepared)
            "predictionKernels": loaded.checkpoint.model.inference_kernels
            if loaded and loaded.checkpoint.model.prepared
            else None,
            "loadSeconds": round(loaded.seconds, 3) if loaded else None,
            "loads": loaded.generation if loaded else 0,  # models loaded so far (reloads count)
            "loadedAt": datetime.fromtimestamp(loaded.at, UTC).isoformat(timespec="seconds") if loaded else None,
            "torchImportSeconds": round(self.torch_seconds, 3),
            "liveDocuments": len(self._docs),
            "maxLiveDocuments": self.max_live,
            "error": self.error or None,
        }
        if loaded is not None:
            out["modelInfo"] = loaded.checkpoint.info  # how the model was trained, as its checkpoint says
        return out
