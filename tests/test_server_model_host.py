"""The model worker and host in-process, with a real (tiny) model: quick jobs on the caller's
thread never overlap the worker's; suggestions inside a word (from the distribution already
computed) and at word boundaries while typing at the end are the same as a fresh Predictor
gives, without a trip to the worker; a request overtaken before it runs is not computed; the
word being typed is read ahead at a person's pace; documents keep state within the limit,
and a closed one is not read on; a reload builds the network only once the old model is
gone; a loaded model's objects are frozen out of garbage collections."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from pathlib import Path

import pytest
from nextword.model import InferenceNetwork, Predictor, PredictorConfig, load_checkpoint
from nextword.server.documents import Snapshot
from nextword.server.model_host import ModelHost
from nextword.server.worker import ModelWorker
from server_support import build_tiny_model


def test_try_now_runs_on_the_callers_thread_when_the_worker_is_free() -> None:
    worker = ModelWorker()
    try:
        assert worker.try_now(lambda: threading.current_thread().name) == (True, threading.current_thread().name)
    finally:
        worker.stop()


def test_try_now_never_overlaps_a_job_nor_jumps_the_queue() -> None:
    worker = ModelWorker()
    started, release = threading.Event(), threading.Event()
    try:
        running = worker.submit(lambda: (started.set(), release.wait(10)))
        assert started.wait(10)
        assert worker.try_now(lambda: "ran") == (False, None)  # a job is running
        waiting = worker.submit(lambda: "queued")
        release.set()
        running.result(10)
        assert waiting.result(10) == "queued"
        # While a quick job runs, the worker waits for it.
        log: list[str] = []

        def quick() -> None:
            log.append("quick starts")
            worker.submit(lambda: log.append("job"))
            time.sleep(0.05)
            log.append("quick ends")

        assert worker.try_now(quick)[0]
        deadline = time.monotonic() + 10
        while len(log) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert log == ["quick starts", "quick ends", "job"]
    finally:
        release.set()
        worker.stop()
    assert worker.try_now(lambda: "ran") == (False, None)  # stopped


def test_settled_counts_background_work() -> None:
    worker = ModelWorker()
    release = threading.Event()
    try:
        assert worker.settled
        worker.submit(release.wait, 10)
        worker.submit_idle("key", lambda: None)
        assert not worker.settled
        release.set()
        deadline = time.monotonic() + 10
        while not worker.settled:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        release.set()
        worker.stop()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture(scope="module")
def fresh(tiny_model: Path) -> Predictor:
    """A Predictor of the tiny model that no host touches: the reference suggestions."""
    checkpoint = load_checkpoint(tiny_model)
    return Predictor(InferenceNetwork.build(checkpoint.model), checkpoint.vocab, PredictorConfig())


async def ready_host(model: Path, max_live: int = 16) -> ModelHost:
    """A model host with ``model`` loaded and its memory settled."""
    host = ModelHost(asyncio.get_running_loop(), lambda level, message: None)
    host.configure(str(model), None, max_live, from_flag=True)
    host.start()
    deadline = time.monotonic() + 60
    while host.state != "ready":
        assert time.monotonic() < deadline and host.state not in ("failed", "missing"), host.error
        await asyncio.sleep(0.02)
    return host


async def settled(host: ModelHost) -> None:
    """Until the host's worker has nothing running or waiting."""
    deadline = time.monotonic() + 10
    while not host.worker.settled:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


async def test_typing_at_the_end_skips_the_worker(tiny_model: Path, fresh: Predictor) -> None:
    host = await ready_host(tiny_model)
    try:
        # The objects alive once the model is in are set aside from garbage collections.
        assert gc.get_freeze_count() > 10_000
        submitted: list[str] = []
        submit = host.worker.submit
        host.worker.submit = lambda fn, *args: (submitted.append("job"), submit(fn, *args))[1]  # type: ignore[method-assign]
        text = "the theory of the cat and the dog. the cat sat on the th"
        snapshot = Snapshot(text, "")
        start = len(text) - 2
        at_boundary = await host.suggest("file:///a.md", snapshot, start, "", 5)
        assert len(submitted) == 1  # the network had to run
        assert at_boundary == fresh.predict(text[:start], "", 5)
        for prefix in ("t", "th", "the"):
            found = await host.suggest("file:///a.md", snapshot, start, prefix, 5)
            assert found == fresh.predict(text[:start], prefix, 5)
            assert found and all(s.word.startswith(prefix) for s in found)
        assert len(submitted) == 1  # the rest were filters of the same distribution
        # Typing on at the end (the same head string, a longer tail): a few network steps,
        # taken on the caller's thread too, with the same result as from scratch.
        for typed in ("eory ", "eory of ", "eory of the cat, "):
            longer = Snapshot(text, typed)
            found = await host.suggest("file:///a.md", longer, len(longer), "", 5)
            assert found == fresh.predict(text + typed, "", 5)
        assert len(submitted) == 1
        # A context that does not continue the last one (another head: an edit further back,
        # or a document opened again) goes to the worker.
        other = Snapshot("A different document about the dog. The ", "")
        assert await host.suggest("file:///a.md", other, len(other), "", 5) == fresh.predict(str(other), "", 5)
        assert len(submitted) == 2
    finally:
        host.stop()
        gc.unfreeze()


async def test_a_request_overtaken_before_it_runs_is_not_computed(tiny_model: Path, fresh: Predictor) -> None:
    """Two completions in one document while the worker is busy: the older is answered None
    (superseded), the newer is computed."""
    host = await ready_host(tiny_model)
    try:
        release = threading.Event()
        host.worker.submit(release.wait, 10)  # the worker busy with something else
        text = "the cat sat on the "
        snapshot = Snapshot(text, "")
        older = asyncio.ensure_future(host.suggest("file:///o.md", snapshot, len(text), "", 3))
        await asyncio.sleep(0)
        newer = asyncio.ensure_future(host.suggest("file:///o.md", snapshot, len(text), "d", 3))
        await asyncio.sleep(0)
        release.set()
        assert await older is None
        assert await newer == fresh.predict(text, "d", 3)
    finally:
        host.stop()
        gc.unfreeze()


async def type_word(host: ModelHost, fresh: Predictor, uri: str, pause: float, ask: bool) -> int:
    """Type "the " after a line of text, ``pause`` seconds between keys, asking for completions
    at each key if ``ask`` (else only at the space); the tokens found read ahead meanwhile."""
    head = "the theory of the cat and the dog. the cat sat on "
    hits = host.status()["readAheadHits"]
    host.warm(uri, head, len(head))
    for typed in ("", "t", "th", "the", "the "):
        snapshot = Snapshot(head, typed)
        host.prepare(uri, snapshot, len(snapshot))  # as after each didChange
        if ask or typed.endswith(" "):
            prefix = typed.rstrip(" ") if not typed.endswith(" ") else ""
            context_end = len(snapshot) if typed.endswith(" ") else len(head)
            found = await host.suggest(uri, snapshot, context_end, prefix, 5)
            assert found == fresh.predict(str(snapshot)[:context_end], prefix, 5)
        await asyncio.sleep(pause)
    return host.status()["readAheadHits"] - hits


async def test_a_word_typed_at_a_persons_pace_is_read_ahead(tiny_model: Path, fresh: Predictor) -> None:
    """Edits a person's pause apart: after each, the worker catches the document up and reads
    the word being typed ahead, so the key that ends it finds the steps done (the same
    suggestions as from scratch), whether the editor asked for completions on the way or not."""
    host = await ready_host(tiny_model)
    try:
        assert await type_word(host, fresh, "file:///paced.md", 0.06, ask=True) >= 1
        assert await type_word(host, fresh, "file:///quiet-editor.md", 0.06, ask=False) >= 1  # asks only at the space
    finally:
        host.stop()
        gc.unfreeze()


async def test_a_word_typed_in_a_burst_is_not_read_ahead(tiny_model: Path, fresh: Predictor) -> None:
    """Edits back to back (a paste, a macro): nothing is read ahead, so no request waits behind it."""
    host = await ready_host(tiny_model)
    try:
        assert await type_word(host, fresh, "file:///burst.md", 0.0, ask=True) == 0
    finally:
        host.stop()
        gc.unfreeze()


async def test_documents_opened_and_typed_into_before_the_model_are_read_when_it_comes(
    tiny_model: Path, fresh: Predictor
) -> None:
    """Documents opened, and typed into, while the model loads are read once it is in, up to
    where the typing is: the next key there runs no network on the worker."""
    host = ModelHost(asyncio.get_running_loop(), lambda level, message: None)
    host.configure(str(tiny_model), None, 16, from_flag=True)
    typed = Snapshot("the cat sat on the mat. the dog sat on the ", "")
    host.warm("file:///opened.md", "the theory of the cat.", len("the theory of the cat."))
    host.warm("file:///typed.md", "the cat", 0)
    host.prepare("file:///typed.md", typed, len(typed))  # its latest text wins
    host.warm("file:///closed.md", "the dog sat.", 0)
    host.forget("file:///closed.md")
    host.start()
    try:
        while host.state != "ready":
            await asyncio.sleep(0.02)
        await settled(host)
        assert host.status()["liveDocuments"] == 2  # the closed one is not read
        submitted: list[str] = []
        submit = host.worker.submit
        host.worker.submit = lambda fn, *args: (submitted.append("job"), submit(fn, *args))[1]  # type: ignore[method-assign]
        found = await host.suggest("file:///typed.md", typed, len(typed), "", 5)
        assert found == fresh.predict(str(typed), "", 5) and not submitted
    finally:
        host.stop()
        gc.unfreeze()


async def test_documents_keep_state_within_the_limit(tiny_model: Path) -> None:
    """Only the most recently used ``max_live`` documents keep a Predictor; closing one frees it."""
    host = await ready_host(tiny_model, max_live=2)
    try:
        snapshot = Snapshot("the cat sat on the ", "")
        for name in ("a", "b", "c"):
            assert await host.suggest(f"file:///{name}.md", snapshot, len(snapshot), "", 3)
        assert host.status()["liveDocuments"] == 2
        host.forget("file:///c.md")
        await settled(host)
        assert host.status()["liveDocuments"] == 1
    finally:
        host.stop()
        gc.unfreeze()


async def test_a_document_closed_while_it_is_read_is_not_read_on(tiny_model: Path) -> None:
    """Closing a document while a slice of it is being read: the slice scheduled after it
    finds the document gone and stops, instead of bringing its state back."""
    host = await ready_host(tiny_model)
    try:
        uri = "file:///long.md"
        text = Snapshot("the cat sat on the dog and the dog sat on the cat. " * 200, "")  # several slices

        def closed_during_the_first_slice() -> None:
            host.forget(uri)  # the editor's close, come while the worker reads the first slice
            host.read_ahead.read_slice(uri, text, len(text), opened=True)

        await asyncio.wrap_future(host.worker.submit(closed_during_the_first_slice))
        await settled(host)  # the close, then whatever reading followed it
        assert host.status()["liveDocuments"] == 0
    finally:
        host.stop()
        gc.unfreeze()


async def test_a_model_built_only_after_the_swap_and_one_that_fails_there(
    tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The network prediction runs is built from a new model once the old model is gone (so
    that a reload never holds two whole models), on the loader's thread, the documents'
    words answering meanwhile; if that fails (memory, say), the host says so and serves no
    model rather than a half-built one. No automatic garbage collection runs while a model
    loads (each full one holds the interpreter for tens of milliseconds); it runs again after,
    whether the load failed or not."""
    host = await ready_host(tiny_model)
    try:
        status = host.status()
        assert status["predictionWeights"] in ("int8", "fp32") and status["predictionKernels"] in ("nextword", "torch")
        built_on: list[tuple[str, object, bool]] = []
        building, may_fail = threading.Event(), threading.Event()

        def failing(cls: type[InferenceNetwork], model: object, kernels: str | None = None) -> InferenceNetwork:
            built_on.append((threading.current_thread().name, host.loaded, gc.isenabled()))
            building.set()
            may_fail.wait(30)
            raise MemoryError("no room")

        monkeypatch.setattr(InferenceNetwork, "build", classmethod(failing))
        reloading = asyncio.ensure_future(host.reload())
        assert await asyncio.to_thread(building.wait, 30)
        # While the new network is being built (it waits here), a request is answered at once:
        # no model (the server then offers the document's words), rather than after the build.
        text = "the cat sat on the mat, the cats c"
        assert await asyncio.wait_for(host.suggest("file:///b.md", Snapshot(text, ""), len(text), "c", 3), 10) is None
        assert host.loaded is None
        may_fail.set()
        await reloading
        assert built_on and all(name == "nextword-loader" and old is None for name, old, _ in built_on)
        assert not any(collecting for _, _, collecting in built_on) and gc.isenabled()
        assert host.loaded is None and host.state == "failed"
        assert "could not be prepared" in host.error and "MemoryError" in host.error
        assert host.status()["predictionWeights"] is None
        monkeypatch.undo()
        await host.reload()  # reloading tries again
        assert host.state == "ready" and host.status()["predictionWeights"] in ("int8", "fp32") and gc.isenabled()
        found = await host.suggest(
            "file:///a.md", Snapshot("the cat sat on the ", ""), len("the cat sat on the "), "", 3
        )
        assert found
    finally:
        host.stop()
