"""``nextword.trainWorkspace``: train on a folder in a separate process, with progress.

The trainer is ``nextword train FOLDER --out TEMP --progress json`` run by this same
Python, at a lower CPU priority so typing stays responsive; it fine-tunes the user's model
if there is one, else the shipped one (``--from``), trains a new one only when there is
neither (``--from-scratch``), and stops after the ``training.maxMinutes`` setting.
It prints one JSON object per line: ``{"event": "progress", "fraction": 0.42, "message":
"..."}`` and at the end ``{"event": "done", "path": "..."}``; anything else is ignored. The
environment variable ``NEXTWORD_TRAIN_COMMAND`` (a JSON list, in which ``{python}``,
``{folder}`` and ``{out}`` stand for this Python, the folder and the model file to write)
replaces the command, for trainers of your own and for tests.

The trainer writes to a temporary file beside the user's model (it saves its best model so
far as it goes, and a half-trained model must not replace the one in use); only when it
finishes is that file renamed over the user's model, which the server then switches to.
Progress goes to the client as ``$/progress`` work-done progress; cancelling it (or the
``nextword.cancelTraining`` command) stops the trainer and deletes the temporary file, so
the model in use is unchanged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types

log = logging.getLogger(__name__)

TRAIN_COMMAND_ENV = "NEXTWORD_TRAIN_COMMAND"
NICENESS = 10  # the trainer runs at this lower priority
REPORT_EVERY = 0.25  # seconds between two progress reports at most
KILL_AFTER = 5.0  # seconds a cancelled trainer gets to exit before it is killed


def train_command(folder: Path, out: Path, base: Path | None = None, max_minutes: float = 0.0) -> list[str]:
    custom = os.environ.get(TRAIN_COMMAND_ENV)
    if custom:
        parts = json.loads(custom)
        if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
            raise ValueError(f"{TRAIN_COMMAND_ENV} must be a JSON list of strings")
        return [
            p.replace("{folder}", str(folder)).replace("{out}", str(out)).replace("{python}", sys.executable)
            for p in parts
        ]
    command = [
        sys.executable,
        "-m",
        "nextword.server.cli",
        "train",
        str(folder),
        "--out",
        str(out),
        "--progress",
        "json",
    ]
    command += ["--from", str(base)] if base is not None else ["--from-scratch"]
    if max_minutes > 0:
        command += ["--max-minutes", f"{max_minutes:g}"]
    return command


@dataclass
class TrainingJob:
    """One run of the trainer."""

    folder: Path
    out: Path  # the model file to replace when training succeeds
    temp: Path  # where the trainer writes
    token: types.ProgressToken | None = None
    started: float = field(default_factory=time.time)
    fraction: float = 0.0
    message: str = "starting"
    result_path: Path | None = None
    cancelled: bool = False
    process: asyncio.subprocess.Process | None = None
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    error_event: str = ""

    def status(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "output": str(self.out),
            "fraction": round(self.fraction, 4),
            "message": self.message,
            "runningSeconds": round(time.time() - self.started, 1),
            "pid": self.process.pid if self.process else None,
        }

    def cancel(self) -> None:
        """Stop the trainer (its whole process group), killing it if it lingers."""
        self.cancelled = True
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        _signal_group(proc, signal.SIGTERM)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # at exit: no loop left to wait with
            return

        def kill() -> None:
            if proc.returncode is None:
                _signal_group(proc, signal.SIGKILL)

        loop.call_later(KILL_AFTER, kill)

    def handle_line(self, raw: bytes) -> bool:
        """Take in one line of the trainer's stdout; True if it changed the progress."""
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("{"):
            log.debug("trainer: %s", line[:200])
            return False
        try:
            event = json.loads(line)
        except ValueError:
            log.debug("trainer printed a line that is not JSON")
            return False
        if not isinstance(event, dict):
            return False
        kind = event.get("event")
        message = event.get("message")
        if isinstance(message, str) and message:
            self.message = message[:200]
        if kind == "progress":
            fraction = event.get("fraction")
            if isinstance(fraction, (int, float)) and not isinstance(fraction, bool) and fraction == fraction:
                self.fraction = min(1.0, max(self.fraction, float(fraction)))
            return True
        if kind == "done":
            path = event.get("path")
            self.result_path = Path(path) if isinstance(path, str) and path else self.temp
            return True
        if kind == "error":
            self.error_event = self.message
            return True
        return isinstance(message, str)


def _signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


class Trainer:
    """Runs at most one TrainingJob at a time and reports it to the client."""

    def __init__(self, server: Any, on_trained: Callable[[Path], Any]):
        self.server = server
        self.on_trained = on_trained
        self.job: TrainingJob | None = None

    @property
    def running(self) -> bool:
        return self.job is not None

    async def start(
        self,
        folder: Path,
        out: Path,
        work_done_token: types.ProgressToken | None,
        base: Path | None = None,
        max_minutes: float = 0.0,
    ) -> TrainingJob:
        temp = out.parent / f".{out.stem}.training-{os.getpid()}-{int(time.time())}{out.suffix}"
        job = self.job = TrainingJob(folder, out, temp, work_done_token)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            command = train_command(folder, temp, base, max_minutes)
            from .model_host import SET_FOR_THIS_PROCESS

            env = {
                k: v for k, v in os.environ.items() if k not in SET_FOR_THIS_PROCESS
            }  # the trainer may use every core
            job.process = await asyncio.create_subprocess_exec(
                *command,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group: cancelling stops its helpers too
            )
        except (OSError, ValueError) as e:
            self.job = None
            raise RuntimeError(f"nextword: could not start training ({e}).") from None
        try:
            os.setpriority(os.PRIO_PROCESS, job.process.pid, NICENESS)
        except (OSError, AttributeError):
            pass
        log.info("training on %s started (pid %d): %s", folder, job.process.pid, " ".join(command))
        await self._begin_progress(job)
        asyncio.ensure_future(self._follow(job))
        return job

    def cancel(self) -> bool:
        if self.job is None:
            return False
        self.job.cancel()
        return True

    # ----- progress ------------------------------------------------------------------------
    async def _begin_progress(self, job: TrainingJob) -> None:
        ls = self.server
        progress = ls.work_done_progress
        if job.token is None and ls.client_supports_progress:
            token = f"nextword-train-{uuid.uuid4().hex[:8]}"
            try:
                await asyncio.wait_for(progress.create_async(token), 5.0)
                job.token = token
            except Exception as e:  # noqa: BLE001 - no progress bar then; training goes on
                log.warning("the client refused a progress token: %s", e)
        if job.token is None:
            ls.show(
                types.MessageType.Info,
                f"nextword: training on {job.folder}; you can keep typing. Run nextword.cancelTraining to stop it.",
            )
            return
        progress.begin(
            job.token,
            types.WorkDoneProgressBegin(
                title="nextword: training",
                message=f"on {job.folder.name or job.folder}",
                percentage=0,
                cancellable=True,
            ),
        )
        cancel_future = progress.tokens.get(job.token)
        if cancel_future is not None:

            def cancelled(future: Any) -> None:
                if future.cancelled():
                    job.cancel()

            cancel_future.add_done_callback(cancelled)

    def _report(self, job: TrainingJob) -> None:
        if job.token is not None:
            self.server.work_done_progress.report(
                job.token,
                types.WorkDoneProgressReport(message=job.message, percentage=int(job.fraction * 100), cancellable=True),
            )

    def _end(self, job: TrainingJob, message: str) -> None:
        if job.token is not None:
            self.server.work_done_progress.end(job.token, types.WorkDoneProgressEnd(message=message))
            self.server.work_done_progress.tokens.pop(job.token, None)

    # ----- following the process -----------------------------------------------------------
    async def _follow(self, job: TrainingJob) -> None:
        proc = job.process
        assert proc is not None and proc.stdout is not None and proc.stderr is not None
        stderr_task = asyncio.ensure_future(self._drain_stderr(job, proc.stderr))
        last_report = 0.0
        try:
            while line := await proc.stdout.readline():
                if job.handle_line(line) and time.monotonic() - last_report >= REPORT_EVERY:
                    last_report = time.monotonic()
                    self._report(job)
            code = await proc.wait()
            await stderr_task
        except Exception:  # noqa: BLE001 - whatever happens, end the progress and free the slot
            log.exception("following the trainer failed")
            code = -1
        finally:
            self.job = None
        await self._finish(job, code)

    async def _drain_stderr(self, job: TrainingJob, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                job.stderr_tail.append(text)
                log.debug("trainer stderr: %s", text[:300])

    async def _finish(self, job: TrainingJob, code: int) -> None:
        ls = self.server
        minutes = (time.time() - job.started) / 60
        if job.cancelled:
            log.info("training cancelled")
            job.temp.unlink(missing_ok=True)
            self._end(job, "cancelled")
            ls.show(types.MessageType.Info, "nextword: training cancelled; the model in use is unchanged.")
            return
        result = job.result_path or (job.temp if code == 0 else None)
        if code == 0 and result is not None and result.is_file():
            try:
                os.replace(result, job.out)  # atomic: the watcher sees the old model or the new
            except OSError as e:
                reason = f"could not move the new model to {job.out} ({e})"
            else:
                self._end(job, f"done in {minutes:.1f} min")
                log.info("training finished in %.1f min: %s", minutes, job.out)
                await self.on_trained(job.out)
                return
        else:
            reason = job.error_event or (
                job.stderr_tail[-1] if job.stderr_tail else f"the trainer exited with code {code}"
            )
        job.temp.unlink(missing_ok=True)
        self._end(job, "failed")
        log.warning("training failed (exit code %s): %s", code, reason)
        ls.show(
            types.MessageType.Error,
            f"nextword: training on {job.folder} failed: {reason[:300]}. The model in use is unchanged.",
        )
