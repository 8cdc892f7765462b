"""The language server over stdin and stdout, with stdin read by the event loop itself.

pygls 2.1's ``start_io`` reads stdin through ``run_in_executor``: each header line and each
body is a trip to a worker thread and back through the event loop's wake-up pipe, three a
message and six a keystroke (its change and its completion request), each trip waiting on
the interpreter lock while the model works. Where stdin is a pipe or a socket (as an editor
starts a server), it is watched by the event loop instead (an asyncio pipe transport) and
the messages go through pygls's own loop (``pygls.io_.run_async``); where it cannot be
watched so (a file, ``/dev/null``, a terminal, Windows), pygls's ``start_io`` serves.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
from typing import Any, BinaryIO

from pygls.io_ import StdoutWriter, run_async

log = logging.getLogger(__name__)


class _PipeReader:
    """What ``run_async`` reads messages from: a stream the event loop fills, its end (also in
    the middle of a message, the client gone) an empty read."""

    def __init__(self, stream: asyncio.StreamReader):
        self._stream = stream

    async def readline(self) -> bytes:
        try:
            return await self._stream.readline()
        except ValueError:  # a header line longer than the stream's limit: not LSP
            log.error("the client sent a header line too long to be one; stopping")
            return b""

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self._stream.readexactly(n)
        except asyncio.IncompleteReadError:
            return b""


def watchable(stream: BinaryIO) -> bool:
    """Whether the event loop can watch ``stream`` for input: a pipe or a socket, on a POSIX
    system (Windows' event loop reads pipes its own way)."""
    if os.name != "posix":
        return False
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def start_io(server: Any, stdin: BinaryIO, stdout: Any) -> None:
    """Serve ``server`` (a pygls ``LanguageServer``) over ``stdin`` and ``stdout`` until the
    client exits or goes away, as pygls's ``start_io`` does."""
    if not watchable(stdin):
        server.start_io(stdin, stdout)
        return

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        stream = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), stdin)
        await run_async(threading.Event(), _PipeReader(stream), server.protocol, log, server.report_server_error)

    server.protocol.set_writer(StdoutWriter(stdout))
    try:
        asyncio.run(serve())
    except BrokenPipeError:
        log.info("the client has gone away; stopping")
    except (KeyboardInterrupt, SystemExit):
        pass  # ``exit``: the server's exit_status says how
    finally:
        server.shutdown()
