"""The model worker and host in-process: quick jobs on the caller's thread never overlap the
worker's; suggestions inside a word (from the distribution already computed) and at word
boundaries while typing at the end are the same as a fresh Predictor gives, without a trip
to the worker; a loaded model's objects are frozen out of garbage collections."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from pathlib import Path

import pytest
from nextword.model import Predictor, PredictorConfig, load_checkpoint
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


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")


async def ready_host(model: Path) -> ModelHost:
    """A model host with ``model`` loaded and its memory settled."""
    host = ModelHost(asyncio.get_running_loop(), lambda level, message: None)
    host.configure(str(model), None, 16, from_flag=True)
    host.start()
    deadline = time.monotonic() + 60
    while host.state != "ready":
        assert time.monotonic() < deadline and host.state not in ("failed", "missing"), host.error
        await asyncio.sleep(0.02)
    return host


async def test_typing_at_the_end_skips_the_worker(tiny_model: Path) -> None:
    host = await ready_host(tiny_model)
    try:
        # The objects alive once the model is in are set aside from garbage collections.
        assert gc.get_freeze_count() > 10_000
        submitted: list[str] = []
        submit = host.worker.submit
        host.worker.submit = lambda fn, *args: (submitted.append(fn.__name__), submit(fn, *args))[1]  # type: ignore[method-assign]
        checkpoint = load_checkpoint(tiny_model)
        fresh = Predictor(checkpoint.model, checkpoint.vocab, PredictorConfig())
        text = "the theory of the cat and the dog. the cat sat on the th"
        snapshot = Snapshot(text, "")
        start = len(text) - 2
        at_boundary = await host.suggest("file:///a.md", snapshot, start, "", 5)
        assert submitted == ["_suggest"]  # the network had to run
        assert at_boundary == fresh.predict(text[:start], "", 5)
        for prefix in ("t", "th", "the"):
            found = await host.suggest("file:///a.md", snapshot, start, prefix, 5)
            assert found == fresh.predict(text[:start], prefix, 5)
            assert found and all(s.word.startswith(prefix) for s in found)
        assert submitted == ["_suggest"]  # the rest were filters of the same distribution
        # Typing on at the end (the same head string, a longer tail): a few network steps,
        # taken on the caller's thread too, with the same result as from scratch.
        for typed in ("eory ", "eory of ", "eory of the cat, "):
            longer = Snapshot(text, typed)
            found = await host.suggest("file:///a.md", longer, len(longer), "", 5)
            assert found == fresh.predict(text + typed, "", 5)
        assert submitted == ["_suggest"]
        # A context that does not continue the last one (another head: an edit further back,
        # or a document opened again) goes to the worker.
        other = Snapshot("A different document about the dog. The ", "")
        assert await host.suggest("file:///a.md", other, len(other), "", 5) == fresh.predict(str(other), "", 5)
        assert submitted == ["_suggest", "_suggest"]
    finally:
        host.stop()
        gc.unfreeze()


async def test_a_word_typed_at_a_persons_pace_is_read_ahead(tiny_model: Path) -> None:
    """Edits a person's pause apart: after each, the worker catches the document up and reads
    the word being typed ahead, so the key that ends it finds the steps done (the same
    suggestions as from scratch), whether the editor asked for completions on the way or not.
    Edits back to back (a burst): nothing is read ahead, so no request waits behind it."""
    host = await ready_host(tiny_model)
    try:
        checkpoint = load_checkpoint(tiny_model)
        fresh = Predictor(checkpoint.model, checkpoint.vocab, PredictorConfig())
        head = "the theory of the cat and the dog. the cat sat on "

        async def type_word(uri: str, pause: float, ask: bool) -> int:
            """Type "the " after ``head``; the network reads the boundary's context made."""
            host.warm(uri, head, len(head))
            for typed in ("", "t", "th", "the", "the "):
                snapshot = Snapshot(head, typed)
                host.prepare(uri, snapshot, len(snapshot))  # as after each didChange
                if ask or typed.endswith(" "):
                    prefix = typed.rstrip(" ") if not typed.endswith(" ") else ""
                    context_end = len(snapshot) if typed.endswith(" ") else len(head)
                    assert await host.suggest(uri, snapshot, context_end, prefix, 5) == fresh.predict(
                        str(snapshot)[:context_end], prefix, 5
                    )
                await asyncio.sleep(pause)
            return host._docs[uri].predictor.read_ahead_hits

        assert await type_word("file:///paced.md", 0.06, ask=True) >= 1
        assert await type_word("file:///quiet-editor.md", 0.06, ask=False) >= 1  # asks only at the space
        host._key_times.clear()
        assert await type_word("file:///burst.md", 0.0, ask=True) == 0
    finally:
        host.stop()
        gc.unfreeze()


async def test_a_document_closed_while_it_is_read_is_not_read_on(tiny_model: Path) -> None:
    """Closing a document while a slice of it is being read: the slice scheduled after it
    finds the document gone and stops, instead of bringing its state back."""
    host = await ready_host(tiny_model)
    try:
        loop = asyncio.get_running_loop()
        closed = threading.Event()
        guarded = host._guarded
        slices: list[int] = []

        def first_slice_closes(doc, work):  # runs on the worker, inside a slice
            slices.append(1)
            if len(slices) == 1:
                loop.call_soon_threadsafe(lambda: (host.forget("file:///long.md"), closed.set()))
                assert closed.wait(10)
            return guarded(doc, work)

        host._guarded = first_slice_closes  # type: ignore[method-assign]
        text = "the cat sat on the dog and the dog sat on the cat. " * 200  # several slices
        host.warm("file:///long.md", text, len(text))
        deadline = time.monotonic() + 10
        while not closed.is_set():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        # Requests go before idle work: this one runs once the first slice (and the closing)
        # are done; then whatever idle work followed them.
        await asyncio.wrap_future(host.worker.submit(lambda: None))
        worker = host.worker
        while worker._idle or worker._busy or worker.pending:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        assert closed.is_set()
        assert "file:///long.md" not in host._docs
        assert len(slices) == 1
    finally:
        host.stop()
        gc.unfreeze()


async def test_a_model_built_only_after_the_swap_and_one_that_fails_there(
    tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compact forms of a new model are built once the old model is gone (so that a
    reload never holds two whole models), on the worker; if that fails (memory, say), the
    host says so and serves no model rather than a half-built one."""
    from nextword.model.network import LanguageModel

    host = await ready_host(tiny_model)
    try:
        assert host.loaded is not None and host.loaded.checkpoint.model.prepared
        assert host.status()["predictionWeights"] in ("int8", "fp16", "fp32")
        built_on: list[str] = []
        prepare = LanguageModel.prepare_for_inference

        def failing(self: LanguageModel) -> LanguageModel:
            built_on.append(threading.current_thread().name)
            raise MemoryError("no room")

        monkeypatch.setattr(LanguageModel, "prepare_for_inference", failing)
        await host.reload()
        assert built_on and all(name == "nextword-model" for name in built_on)  # the worker's thread
        assert host.loaded is None and host.state == "failed"
        assert "could not be prepared" in host.error and "MemoryError" in host.error
        monkeypatch.setattr(LanguageModel, "prepare_for_inference", prepare)
        await host.reload()  # reloading tries again
        assert host.state == "ready" and host.loaded is not None and host.loaded.checkpoint.model.prepared
        found = await host.suggest(
            "file:///a.md", Snapshot("the cat sat on the ", ""), len("the cat sat on the "), "", 3
        )
        assert found
    finally:
        host.stop()
