"""The model the server predicts with: found, loaded in the background, watched, swapped.

A loader thread imports the model code, finds the model (the ``modelPath`` setting, else the user's
trained model, else the shipped default), loads it, and then checks about once a second
whether the file changed on disk or another one should be used. A changed file is read
beside the model serving; then the old model goes, between two requests on the worker, and
the network prediction runs (most of a loaded model's memory) is built from the new one on
the loader thread, so a reload never holds two whole models and no request waits for the
build (the documents' words answer meanwhile); then the new model is swapped in. A file
that cannot be read leaves the model already loaded in place, and the problem is said in
one sentence.

The model once read is a ``LoadedModel`` (``loaded_model.py``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .loaded_model import LoadedModel, Signature
from .worker import ModelWorker

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how often the model file is checked for changes
SETTLE_NS = 400_000_000  # a model file is read once it has not changed for this long

Report = Callable[[str, str], None]  # (level: "error" | "warning" | "info" | "log", message)


@contextmanager
def collections_held() -> Iterator[None]:
    """No automatic garbage collection while the objects that live as long as the server (its
    modules, a model read, built and warmed up) are made: they set off full collections, each
    holding the interpreter (and a keystroke's answer) for tens of milliseconds. The caller
    freezes what lives once they are made (``gc.freeze``)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _return_large_blocks() -> None:
    """Have the C allocator hand every block of a megabyte or more straight back to the system
    when it is freed (where the C library is glibc).

    By default glibc raises that threshold to the size of the largest block freed so far, so
    once a model has loaded, the copies made while the next one loads (a reload, beside the
    model serving) stay in the process after they are freed, and each reload leaves it bigger;
    with many documents open, the peak of a reload then passes the server's memory target.
    Fixing that threshold also fixes the one for giving back the top of the heap: it is set
    high, as glibc would have raised it, so that a keystroke's arrays are not handed back and
    faulted in again at every key."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: its allocator is tuned otherwise, or not at all
        return
    if hasattr(libc, "mallopt"):
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters
        libc.mallopt(M_MMAP_THRESHOLD, 1 << 20)
        libc.mallopt(M_TRIM_THRESHOLD, 32 << 20)


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _signature(path: Path) -> Signature | None:
    """What changes when the file is rewritten (an atomic replace changes the inode)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino) if os.path.isfile(path) else None


class ModelLoader:
    """Finds, loads, watches and swaps the model; ``loaded`` is the one in use.

    ``swapped(new)`` runs on the worker, between two requests, just before ``loaded`` becomes
    ``new`` (None: the old model goes before a new one is built, or none could be), so the
    per-document states can start over."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        report: Report,
        worker: ModelWorker,
        swapped: Callable[[LoadedModel | None], None],
    ) -> None:
        self._loop, self._report, self._worker, self._swapped = loop, report, worker, swapped
        # Settings, set from the event loop.
        self._setting = ""  # the modelPath setting
        self._base_dir: Path | None = None  # relative modelPath settings are relative to this
        self._from_flag = False  # the model path came from --model, not from the modelPath setting
        self._override: Path | None = None  # a model just trained by trainWorkspace
        # State, written by the loader and worker threads, read anywhere.
        self.state = "starting"  # starting, loading, ready, missing, failed
        self.error = ""  # the last problem, one sentence
        self.wanted: Path | None = None  # the model file the settings ask for
        self.loaded: LoadedModel | None = None
        self.import_seconds = 0.0  # to import the model code (PyTorch only where the portable path runs)
        self._config: Any = None  # the PredictorConfig, once the model code is in
        self._generation = 0
        self._failed: tuple[Path, Signature | None] | None = None  # the file (and version) that last failed
        # Loader thread control.
        self._cv = threading.Condition()
        self._force = False  # load even if nothing changed
        self._recheck = False  # look again now rather than at the next poll
        self._waiters: list[asyncio.Future[None]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="nextword-loader", daemon=True)

    # ----- control (event loop) ------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()

    def configure(self, model_path: str, base_dir: Path | None, from_flag: bool) -> None:
        self._from_flag = from_flag
        changed = (model_path, base_dir) != (self._setting, self._base_dir)
        if changed and model_path != self._setting:
            self._override = None  # an explicit choice wins over the last trained model
        self._setting, self._base_dir = model_path, base_dir
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

    # ----- loader thread -------------------------------------------------------------------
    def _run(self) -> None:
        _return_large_blocks()
        with collections_held():
            if not self._import_model_code():
                return
            gc.freeze()  # the model code lives as long as the server (see collections_held)
        force, waiters = True, list[asyncio.Future[None]]()
        while True:
            try:
                self._check(force)
            except CancelledError:  # the worker stopped: the server is shutting down
                return
            except Exception as e:  # noqa: BLE001 - keep watching whatever happens
                log.exception("model check failed")
                self.error = f"nextword: unexpected problem loading the model: {e}"
            for waiter in waiters:
                self._loop.call_soon_threadsafe(_release, waiter)
            with self._cv:
                self._cv.wait_for(lambda: self._stop or self._force or self._recheck, timeout=POLL_SECONDS)
                if self._stop:
                    return
                force, self._force, self._recheck = self._force, False, False
                waiters, self._waiters = self._waiters, []

    def _import_model_code(self) -> bool:
        """Import the model code, once; False, said to the user, when the installation is
        broken. PyTorch comes in only where the C kernels do not run: it takes seconds."""
        try:
            started = time.perf_counter()
            from nextword.model import PredictorConfig, compiled

            if not compiled.available():
                import torch

                if os.environ.get("OMP_NUM_THREADS") == "1":  # as model_host.use_one_thread sets it
                    torch.set_num_threads(1)
            self._config = PredictorConfig()
            self.import_seconds = time.perf_counter() - started
            log.info("model code imported in %.2f s", self.import_seconds)
            return True
        except Exception as e:  # a broken installation: say so, keep serving document words
            log.exception("cannot import the model code")
            self.state, self.error = (
                "failed",
                f"nextword: cannot load the model code ({e}); completions use document words only. Reinstall nextword.",
            )
            self._say("error", self.error)
            return False

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
        """Load the model the settings ask for if it is another one, or changed, or ``force``."""
        path = self.wanted = self._wanted_path()
        signature = _signature(path)
        loaded = self.loaded
        if not force:
            if loaded is not None and loaded.path == path and loaded.signature == signature:
                return
            if self._failed == (path, signature):
                return  # the same broken or missing file: said already
            if signature is not None and 0 <= time.time_ns() - signature[0] < SETTLE_NS:
                return  # just written: perhaps not finished yet; look again next time
        previous = loaded.path if loaded is not None else None
        del loaded  # the old model must be let go once swapped out
        if signature is None:
            self._fail(path, signature, "missing", self._missing(path))
            return
        self.state = "loading" if self.loaded is None else self.state
        started = time.perf_counter()
        with collections_held():
            checkpoint = self._read(path, signature)
            if checkpoint is None:
                return
            self._generation += 1
            new = LoadedModel(checkpoint, path, signature, self._generation, self._config)
            del checkpoint
            if not self._swap_in(new):
                return
            new.seconds = seconds = time.perf_counter() - started
            gc.freeze()  # see _swap_in
        self.state, self.error, self._failed = "ready", "", None
        what = "reloaded" if previous == path else "using"
        log.info("%s model %s (%d tokens) in %.2f s", what, path, len(new.vocab), seconds)
        self._say("log", f"nextword: {what} model {path} ({len(new.vocab)} words, loaded in {seconds:.1f} s)")
        if previous is not None and previous != path:
            self._say("info", f"nextword: now using model {path}.")

    def _keeping(self) -> str:
        loaded = self.loaded
        return (
            f" Keeping the model already loaded ({loaded.path})."
            if loaded
            else " Completions use the words of each document meanwhile."
        )

    def _missing(self, path: Path) -> str:
        """What to say when the model file ``path`` is not there."""
        from nextword.model import user_model_path

        keep = self._keeping()
        if path.is_dir():
            return f"nextword: {path} is a folder; the model setting must name the .safetensors file itself.{keep}"
        if self._override is not None:
            return f"nextword: the model just trained ({path}) has disappeared; run nextword.trainWorkspace again or reload.{keep}"
        if self._from_flag:
            return f"nextword: model file {path} does not exist; start the server with --model naming an existing .safetensors file.{keep}"
        if self._setting.strip():
            return f"nextword: model file {path} does not exist; set nextword.modelPath to an existing .safetensors file, or clear it to use the default.{keep}"
        return (
            f"nextword: no language model found (looked for your trained model at {user_model_path()} and the shipped one at {path}); "
            f"train one with `nextword train NOTES` or the nextword.trainWorkspace command.{keep}"
        )

    def _read(self, path: Path, signature: Signature) -> Any:
        """The checkpoint at ``path``, its weights as the file stores them and no network built
        yet (that waits for the old model to go: see ``_swap_in``); None, said, if it cannot be read."""
        from nextword.model import NextwordError
        from nextword.model.prediction_model import load_for_prediction

        try:
            return load_for_prediction(path)
        except NextwordError as e:
            self._fail(path, signature, "failed", f"nextword: {e}.{self._keeping()}".replace("..", "."))
        except Exception as e:  # noqa: BLE001 - a file that is not a model must not stop the server
            log.exception("loading %s failed", path)
            self._fail(
                path,
                signature,
                "failed",
                f"nextword: {path} could not be loaded ({type(e).__name__}: {e}); pass a model written by `nextword train`.{self._keeping()}",
            )
        return None

    def _swap_in(self, new: LoadedModel) -> bool:
        """Let the old model go (on the worker, between two requests), build the new one's
        network and warm it up here, then swap it in on the worker; False, said, if the build
        fails (no model is served then, rather than a half-built one).

        Built here, not on the worker, so that the requests meanwhile are answered from the
        documents' words instead of waiting for it; built once the old model is gone, so
        that a reload never holds two whole models. The objects alive once a model is in
        (the model, the protocol types) are set aside from garbage collection once it is
        ready (``gc.freeze``), or every full collection would traverse them all, holding the
        event loop at some keystroke. The old model goes by reference counting alone (no
        collection, which would hold a keystroke as long): nothing of a model lives in a
        reference cycle."""
        if self.loaded is not None:
            self._worker.submit(self._install, None).result()
        try:
            new.warm_up()
        except Exception as e:  # noqa: BLE001 - out of memory, say: document words meanwhile
            log.exception("preparing %s failed", new.path)
            self._fail(
                new.path,
                new.signature,
                "failed",
                f"nextword: {new.path} could not be prepared for prediction ({type(e).__name__}: {e}); completions use the words of each document. Reload the model to try again.",
            )
            return False
        self._worker.submit(self._install, new).result()
        return True

    def _install(self, new: LoadedModel | None) -> None:
        """On the worker: the new model in (or none), the old one's per-document states gone."""
        self._swapped(new)
        self.loaded = new

    def _fail(self, path: Path, signature: Signature | None, state: str, message: str) -> None:
        self._failed = (path, signature)
        self.error = message
        if self.loaded is None:
            self.state = state
        log.warning("%s", message)
        self._say("warning" if state == "missing" else "error", message)

    def _say(self, level: str, message: str) -> None:
        self._loop.call_soon_threadsafe(self._report, level, message)
