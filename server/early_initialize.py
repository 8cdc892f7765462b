"""Answering ``initialize`` over stdio while the server is still starting.

An editor waits for the answer to ``initialize`` before it sends anything else, and the
protocol types pygls is built on take most of a second to import on a slow machine. So the
server reads the first message itself, on a thread, as soon as the process starts; when it
is an ``initialize`` request whose params look sound, the answer (from ``capabilities``) goes
out at once. pygls later gets the same bytes to read, handles ``initialize`` as usual (the
workspace, the client's capabilities, the settings) and its own answer is dropped after a
check that it says the same. Anything else (another first message, unsound params, a
closed stdin) is left to pygls untouched.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

log = logging.getLogger(__name__)

# A first message larger than this is left to pygls (an initialize request is a few kB).
MAX_MESSAGE = 1 << 22


def _sound(params: Any) -> bool:
    """Whether pygls will read these initialize params without complaint, as far as the
    early answer depends on them (anything doubtful is left to pygls)."""
    if not isinstance(params, dict) or not isinstance(params.get("capabilities"), dict):
        return False
    if not isinstance(params.get("processId"), (int, type(None))) or isinstance(params.get("processId"), bool):
        return False
    general = params["capabilities"].get("general")
    if general is not None:
        encodings = general.get("positionEncodings") if isinstance(general, dict) else None
        if not isinstance(general, dict) or not (
            encodings is None or (isinstance(encodings, list) and all(isinstance(e, str) for e in encodings))
        ):
            return False
    return True


def _split_message(data: bytes) -> tuple[dict[str, Any] | None, bool]:
    """The first complete message in ``data`` (None if it is not JSON, or not all there),
    and whether more bytes are needed to tell."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return None, len(data) < 8192
    length = None
    for line in data[:head_end].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value)
    if length is None or length > MAX_MESSAGE:
        return None, False
    body_end = head_end + 4 + length
    if len(data) < body_end:
        return None, True
    try:
        message = json.loads(data[head_end + 4 : body_end])
    except (ValueError, UnicodeDecodeError):
        return None, False
    return (message if isinstance(message, dict) else None), False


class EarlyInitialize:
    """Reads stdin up to the end of the first message, and answers it if it is ``initialize``."""

    def __init__(self, in_fd: int = 0, out_fd: int = 1):
        self._in, self._out = in_fd, out_fd
        self._read = b""
        self.answered: dict[str, Any] | None = None  # the id and result sent, once sent
        self._thread = threading.Thread(target=self._run, name="nextword-early-initialize", daemon=True)

    def start(self) -> EarlyInitialize:
        self._thread.start()
        return self

    def finish(self) -> bytes:
        """Wait for the first message and return every byte read from stdin, which the
        server's reader must see first."""
        self._thread.join()
        return self._read

    def _run(self) -> None:
        try:
            message = self._first_message()
            if message is not None:
                self._answer(message)
        except Exception:  # noqa: BLE001 - pygls will read the message and answer it itself
            log.exception("could not answer initialize early; the server answers it once started")

    def _first_message(self) -> dict[str, Any] | None:
        while True:
            message, more = _split_message(self._read)
            if not more:
                return message
            chunk = os.read(self._in, 65536)
            if not chunk:
                return None
            self._read += chunk

    def _answer(self, message: dict[str, Any]) -> None:
        msg_id = message.get("id")
        if message.get("method") != "initialize" or not isinstance(msg_id, (int, str)) or isinstance(msg_id, bool):
            return
        if not _sound(message.get("params")):
            return
        from .capabilities import initialize_result

        result = initialize_result(message["params"])
        body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "result": result}, separators=(",", ":")).encode()
        data = b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
        while data:
            data = data[os.write(self._out, data) :]
        self.answered = {"id": msg_id, "result": result}
        log.debug("answered initialize before the server finished starting")
