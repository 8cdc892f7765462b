"""Training progress for people (a progress bar with tokens per second, loss and ETA) or for
programs (``--progress json``: one JSON object a line on stdout), or nothing."""

from __future__ import annotations

import json
import sys
import time
from typing import Any


class Progress:
    """Reports training events; ``mode`` is "bar", "json" or "none"."""

    def __init__(self, mode: str = "bar"):
        if mode not in ("bar", "json", "none"):
            raise ValueError(f"unknown progress mode {mode!r}")
        self.mode = mode
        self._bar = None
        self._last_json = 0.0

    def start_epoch(self, epoch: int, epochs: int, total_tokens: int) -> None:
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(
                total=total_tokens,
                desc=f"epoch {epoch}/{epochs}",
                unit="tok",
                unit_scale=True,
                file=sys.stderr,
                dynamic_ncols=True,
                leave=True,
            )

    def update(
        self, tokens: int, fraction: float, loss: float, tokens_per_second: float, eta_seconds: float | None, epoch: int
    ) -> None:
        if self._bar is not None:
            self._bar.update(tokens)
            self._bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tokens_per_second:,.0f}", refresh=False)
        elif self.mode == "json" and time.monotonic() - self._last_json >= 0.5:
            self._last_json = time.monotonic()
            self.event(
                "progress",
                fraction=round(fraction, 4),
                epoch=epoch,
                loss=round(loss, 4),
                tokens_per_second=round(tokens_per_second),
                eta_seconds=None if eta_seconds is None else round(eta_seconds),
                message=f"epoch {epoch}, loss {loss:.3f}, {tokens_per_second:,.0f} tokens/s",
            )

    def end_epoch(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def note(self, message: str, **fields: Any) -> None:
        """A line for people (stderr) or a JSON event ``note``."""
        if self.mode == "json":
            self.event("note", message=message, **fields)
        elif self.mode == "bar":
            (self._bar.write if self._bar is not None else lambda m: print(m, file=sys.stderr))(message)

    def event(self, kind: str, **fields: Any) -> None:
        if self.mode == "json":
            print(json.dumps({"event": kind, **fields}, ensure_ascii=False), flush=True)
