"""Learning the workspace's notes with no training run: read at start, learned as they are
written, kept between sessions, mixed into every suggestion.

Each workspace folder has a store (``workspace_store``) brought up to date with the folder
in the background (``workspace_scan``), and files saved outside every folder have one of
their own. After every change the stores' tokens are made into ``Notes`` for the model in
use (its n-gram, the words its vocabulary lacks) and swapped into the Predictors whole, so
suggestions never wait for learning: they use the notes learned so far.

All learning runs on one thread of its own, one job at a time; the event loop only queues
jobs and reads the state for ``nextword.status``.
"""

from __future__ import annotations

import asyncio
import logging
import operator
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nextword.model import NextwordError

from .learned_folder import Folder
from .notes_file import delete_notes_files, notes_path
from .reading_progress import ReadingProgress
from .settings import LearningSettings
from .tokenizing_process import tokenizing_process
from .workspace_scan import key_of, learn_file, outside_key, scan
from .workspace_store import FolderStore, StoreDamaged

log = logging.getLogger(__name__)

Report = Callable[[str, str], None]  # (level, message), as the model host reports

# Learning shares the interpreter with the worker thread: a keystroke's work that needs the
# GIL waits until the learning thread is made to let go of it, after 5 ms by default. A
# shorter interval bounds that wait while notes are read; uncontended, it costs nothing.
SWITCH_INTERVAL = 0.0005
MODEL_WAIT_SECONDS = 30.0  # the longest reading waits for the model to load
REQUEST_WAIT_SECONDS = 0.2  # the longest learning waits for a request between two files


class WorkspaceLearning:
    """The stores of the workspace folders (and of files outside them), kept learned."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        report: Report,
        progress: Any | None = None,
        model_settled: Callable[[], bool] = lambda: True,
        answering: Callable[[], bool] = lambda: False,
    ):
        """``progress``: pygls's ``work_done_progress`` when the client shows progress;
        ``model_settled``: whether the model has loaded (or cannot be): reading waits for it;
        ``answering``: whether a request is being answered: learning pauses between files."""
        self._loop, self._report, self.progress = loop, report, progress
        self._model_settled, self._answering = model_settled, answering
        self.model: Any = None  # the LoadedModel in use, whose Predictors get the notes
        self.settings = LearningSettings()
        self.folders: dict[Path, Folder] = {}
        self.outside = Folder(None)
        self._wanted: list[Path] = []  # the workspace folders, as the client last said
        self._started = False
        self._stopping = False
        self._pending = 0
        self._lock = threading.Lock()
        self._remix_queued = False
        # What the last remix mixed (``_remix``): the objects, and the stores' revisions.
        self._mixed: tuple[tuple[Any, ...], tuple[list[int], bool]] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nextword-learning")
        sys.setswitchinterval(SWITCH_INTERVAL)

    # ----- control (event loop) ------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    @property
    def pending(self) -> int:
        """Jobs queued or running: 0 once everything known is learned and mixed in."""
        return self._pending

    def configure(self, settings: LearningSettings) -> None:
        """New settings; learning turned on reads the folders, turned off forgets what is held."""
        old, self.settings = self.settings, settings
        if not self._started:
            return
        if settings.enabled and not old.enabled:
            self._read_all()
        elif not settings.enabled and old.enabled:
            self._submit(self._drop_all)
        elif settings.enabled and (settings.max_words, settings.max_file_kb) != (old.max_words, old.max_file_kb):
            self._read_all()  # what the caps left out, or skipped, may now be learned
        elif settings.outside_folders != old.outside_folders:
            self._read_all()  # the outside store mixed in, or left out

    def start(self, folders: list[Path]) -> None:
        """Begin (once the settings are known): read every workspace folder."""
        self._started = True
        self._wanted = folders
        if self.enabled:
            self._read_all()

    def set_folders(self, folders: list[Path]) -> None:
        """The workspace folders changed: read the new ones, let go of those removed."""
        self._wanted = folders
        if self._started and self.enabled:
            self._read_all()

    def saved(self, path: Path) -> None:
        """A document was saved: learn it now."""
        if self._started and self.enabled:
            self._submit(self._learn_path, path)

    def changed_on_disk(self, path: Path) -> None:
        """A file was created, changed or deleted on disk: learn or forget it."""
        self.saved(path)

    async def forget(self, folders: list[Path] | None) -> list[str]:
        """Delete the stores of ``folders`` (None: every workspace folder) and what is held of
        them; the folders are read again while learning is on. The paths forgotten."""
        future = self._submit(self._forget, folders)
        forgotten: list[str] = await asyncio.wrap_future(future)
        if self.enabled and self._started:
            self._read_all()
        return forgotten

    def model_changed(self, model: Any) -> None:
        """``model`` (a LoadedModel, or None) is about to be used: its Predictors get the notes
        made for its vocabulary. Called from any thread."""
        self.model = model
        if model is not None:
            self._queue_remix()

    def stop(self) -> None:
        self._stopping = True
        self._thread.shutdown(wait=False, cancel_futures=True)

    def status(self) -> list[dict[str, Any]]:
        """``nextword.status``'s ``workspaces``: each folder, then the outside store if used."""
        enabled = self.enabled
        entries = [
            self.folders[p].entry(enabled) if p in self.folders else Folder(p).entry(enabled) for p in self._wanted
        ]
        if self.outside.store is not None and (self.outside.store.file_count or self.outside.error):
            entries.append(self.outside.entry(enabled and self.settings.outside_folders))
        return entries

    # ----- queueing ------------------------------------------------------------------------
    def _submit(self, job: Callable[..., Any], *args: Any) -> Future[Any]:
        with self._lock:
            self._pending += 1
        try:
            future = self._thread.submit(self._run, job, *args)
        except RuntimeError:  # stopped
            with self._lock:
                self._pending -= 1
            done: Future[Any] = Future()
            done.set_result([])
            return done
        return future

    def _run(self, job: Callable[..., Any], *args: Any) -> Any:
        try:
            if not self._stopping:
                return job(*args)
            return []
        except Exception:  # noqa: BLE001 - one job's failure must not end learning
            log.exception("learning from the notes failed")
            return []
        finally:
            with self._lock:
                self._pending -= 1

    def _queue_remix(self) -> None:
        with self._lock:
            if self._remix_queued:
                return
            self._remix_queued = True
        self._submit(self._remix)

    def _read_all(self) -> None:
        self._submit(self._open_outside)
        for path in self._wanted:
            self._submit(self._read, path)
        self._submit(self._let_go_of_removed)

    # ----- the learning thread -------------------------------------------------------------
    def _open(self, folder: Folder) -> FolderStore:
        """The folder's store, loaded from its file the first time (a damaged one is said and rebuilt)."""
        if folder.store is None:
            try:
                folder.store = FolderStore.load(folder.store_file, folder.path)
            except StoreDamaged as e:
                self._say("warning", f"nextword: {e}.")
                folder.store = FolderStore(folder.path)
                folder.store.revision += 1  # saved over the damaged file once read
            except NextwordError as e:
                self._say("warning", f"nextword: {e}")
                folder.store = FolderStore(folder.path)
        return folder.store

    def _open_outside(self) -> None:
        """The store of files outside the folders, as it was left, if there is one."""
        outside = self.outside
        if self.enabled and self.settings.outside_folders and outside.store is None and outside.store_file.exists():
            self._open(outside)
            outside.state = "ready"

    def _read(self, path: Path) -> None:
        folder = self.folders.setdefault(path, Folder(path))
        if not self.enabled or path not in self._wanted:
            return
        self._wait_for_the_model()
        store = self._open(folder)
        folder.state, folder.error = "reading", ""
        progress = ReadingProgress(self._loop, self.progress, path.name or str(path))
        progress.begin()
        try:
            with tokenizing_process() as reader:
                result = scan(
                    path,
                    store,
                    max_file_bytes=self.settings.max_file_kb * 1024,
                    max_words=self.settings.max_words,
                    words_elsewhere=self._words_except(store),
                    should_stop=lambda: self._stopping or not self.enabled,
                    progress=lambda done, total: self._after_a_file(progress, done, total),
                    reader=reader,
                )
        except NextwordError as e:
            folder.error = str(e)
            progress.end("could not read the folder")
            folder.state = "ready"
            self._say("warning", f"nextword: {e}.")
            return
        self._save(folder)
        left = f"; {result.left_out:,} left out (learning.maxWords)" if result.left_out else ""
        progress.end(f"{store.file_count:,} files, {store.word_count:,} words{left}")
        if result.left_out and not folder.cap_said:
            folder.cap_said = True  # once a session: the status keeps counting
            self._say(
                "warning",
                f"nextword: learned {self.settings.max_words:,} words from your notes, the most learning.maxWords "
                f"allows; {result.left_out:,} files of {path} were left out. Raise learning.maxWords to learn them "
                "(each million words takes some 60 MB of memory).",
            )
        self._remix()
        folder.state = "ready"

    def _wait_for_the_model(self) -> None:
        """Reading competes with loading the model for the processor and the interpreter, and
        what is read is of no use before the model is there: it waits, a while at most."""
        waited = 0.0
        while not self._model_settled() and not self._stopping and waited < MODEL_WAIT_SECONDS:
            time.sleep(0.05)
            waited += 0.05

    def _after_a_file(self, progress: ReadingProgress, done: int, total: int) -> None:
        progress.report(done, total)
        self._let_requests_run()

    def _let_requests_run(self) -> None:
        """Wait while a request is answered (a while at most). Beside it, learning would take
        the interpreter from it at every switch interval and double its time."""
        waited = 0.0
        while self._answering() and waited < REQUEST_WAIT_SECONDS:
            time.sleep(0.001)
            waited += 0.001

    def _learn_path(self, path: Path) -> None:
        folder, key = self._folder_of(path)
        if folder is None or key is None:
            return
        store = self._open(folder)
        before = store.revision
        why = learn_file(
            store,
            key,
            path,
            self.settings.max_file_kb * 1024,
            max_words=self.settings.max_words,
            words_elsewhere=self._words_except(store),
        )
        if why is not None:
            store.skipped[why] += 1
            log.info("not learned: %s (%s)", path, why)
        if store.revision != before:
            self._save(folder)
            self._queue_remix()

    def _folder_of(self, path: Path) -> tuple[Folder | None, str | None]:
        """The folder whose store learns ``path`` (the innermost holding it), and its key there."""
        for root in sorted(self._wanted, key=lambda p: len(p.parts), reverse=True):
            if path.is_relative_to(root) or path.absolute().is_relative_to(root):
                folder = self.folders.get(root)
                return (folder, key_of(root, path)) if folder is not None else (None, None)
        if not self.settings.outside_folders:
            return None, None
        self.outside.state = "ready"
        return self.outside, outside_key(path)

    def _forget(self, paths: list[Path] | None) -> list[str]:
        chosen = [self.folders.get(p) or Folder(p) for p in (self._wanted if paths is None else paths)]
        forgotten = []
        for folder in chosen:
            existed = folder.store_file.exists() or (folder.store is not None and folder.store.file_count > 0)
            try:
                folder.store_file.unlink(missing_ok=True)
            except OSError as e:
                self._say("error", f"nextword: could not delete {folder.store_file} ({e.strerror}); delete it by hand.")
                continue
            folder.store = None
            folder.new_words = 0
            if existed:
                forgotten.append(str(folder.path))
        delete_notes_files()  # copies of what the stores held, the forgotten ones' too
        self._remix()
        return forgotten

    def _drop_all(self) -> None:
        """Learning turned off: let go of every store (their files stay for when it is back on)."""
        for folder in self.folders.values():
            folder.store = None
        self.outside.store = None
        self._remix()

    def _let_go_of_removed(self) -> None:
        for path in [p for p in self.folders if p not in self._wanted]:
            del self.folders[path]
        self._remix()

    def _remix(self) -> None:
        with self._lock:
            self._remix_queued = False
        self._let_requests_run()
        folders = list(self.folders.values())
        if self.settings.outside_folders:
            folders.append(self.outside)
        stores = [f.store for f in folders if f.store is not None and f.store.file_count] if self.enabled else []
        model = self.model
        if model is None:
            return
        # The same model, folders, stores and revisions as last time: nothing to mix again (a
        # workspace read at start is remixed once read, and again as its reading ends).
        held, revisions = (model, *folders, *(f.store for f in folders)), ([s.revision for s in stores], self.enabled)
        if self._mixed is not None and self._mixed[1] == revisions and _same_objects(held, self._mixed[0]):
            return
        self._mixed = (held, revisions)
        saved = notes_path(f.store_file for f in folders if f.store is not None and f.store.file_count)
        model.learn([s.token_table() for s in stores], [f.digest for s in stores for f in s.files.values()], saved)
        for folder in folders:
            store = folder.store
            if store is not None and self.enabled:
                folder.new_words = store.new_word_count(model.vocab.index)

    def _save(self, folder: Folder) -> None:
        store = folder.store
        if store is None or not store.unsaved:
            return
        try:
            store.save(folder.store_file)
            folder.error = ""
        except NextwordError as e:
            if folder.error != str(e):
                self._say("warning", f"nextword: {e}")
            folder.error = str(e)

    def _words_except(self, store: FolderStore) -> int:
        stores = [f.store for f in [*self.folders.values(), self.outside] if f.store is not None]
        return sum(s.word_count for s in stores if s is not store)

    def _say(self, level: str, message: str) -> None:
        log.warning("%s", message)
        self._loop.call_soon_threadsafe(self._report, level, message)


def _same_objects(these: tuple[Any, ...], those: tuple[Any, ...]) -> bool:
    return len(these) == len(those) and all(map(operator.is_, these, those))
