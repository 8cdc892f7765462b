"""Logging for the server: to stderr or a file, never stdout (stdout carries the protocol).

Levels are ``error``, ``warning``, ``info``, ``debug`` and ``trace``. Document text (and
everything that may contain it: message bodies, request params, completion words) is
logged only at ``trace``: at any other level pygls's own logs, which print whole messages,
are held to warnings, and the arguments of those are withheld unless they are short
identifiers such as method names and request ids.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

_LEVELS = {
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": logging.DEBUG,
}
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_state = {"trace": False}


def text_allowed() -> bool:
    """Whether document text may be logged (log level ``trace``)."""
    return _state["trace"]


class _Redact(logging.Filter):
    """Withholds the arguments of pygls's records unless tracing."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _state["trace"] or not record.name.startswith("pygls") or not record.args:
            return True
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        record.args = tuple(a if _harmless(a) else "<withheld; set nextword.logLevel to trace to see it>" for a in args)
        return True


def _harmless(value: object) -> bool:
    if value is None or isinstance(value, (bool, int, float)):
        return True
    return isinstance(value, str) and len(value) <= 80 and not any(c.isspace() for c in value)


def setup(level: str = "info", log_file: str | Path | None = None) -> None:
    """Send the logs of nextword and pygls to ``log_file`` (appended) or stderr."""
    handler: logging.Handler | None = None
    if log_file:
        path = Path(log_file).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(path, encoding="utf-8")
        except OSError as e:
            # The server is still useful without its log file: say so where it can be seen.
            print(
                f"nextword: cannot write the log file {path} ({e.strerror or e}); logging to stderr instead. Give --log-file a file in a folder you can write.",
                file=sys.stderr,
            )
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(_Redact())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    set_level(level)


def set_level(level: str) -> None:
    level = level if level in _LEVELS else "info"
    _state["trace"] = level == "trace"
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("nextword").setLevel(_LEVELS[level])
    # pygls logs every message body at info and debug: only when tracing.
    logging.getLogger("pygls").setLevel(logging.DEBUG if level == "trace" else max(logging.WARNING, _LEVELS[level]))
