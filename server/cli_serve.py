"""``nextword serve``: the language server, over stdio (the default) or TCP."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from typing import BinaryIO

log = logging.getLogger(__name__)

DESCRIPTION = (
    "Run the nextword language server. Editors start it and speak LSP over its stdin and "
    "stdout; --tcp serves one client on a TCP port instead. Logs go to stderr or --log-file, "
    "never to stdout."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stdio", action="store_true", help="speak LSP over stdin/stdout (the default)")
    parser.add_argument("--tcp", action="store_true", help="serve over TCP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind with --tcp (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=2087, help="port to listen on with --tcp (default: 2087)")
    parser.add_argument("--model", metavar="FILE", help="model file to use; wins over the modelPath setting")
    parser.add_argument("--log-file", metavar="FILE", help="append logs to FILE instead of stderr")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("error", "warning", "info", "debug", "trace"),
        help="log level until the logLevel setting arrives (trace also logs document text)",
    )


class ClientOutput:
    """Stdout as pygls's writer writes to it, quiet once the client is gone.

    pygls logs a traceback for each message it cannot send, and raises again in the callback
    that sends a request's answer: once the client has gone away (a broken pipe) or the
    server has closed stdout at ``exit``, every answer still under way would print two. Here
    the first broken pipe points stdout at the null device, and what is left is dropped."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self._closed = False

    def write(self, data: bytes) -> None:
        if not self._closed:
            self._unless_gone(self._stream.write, data)

    def flush(self) -> None:
        if not self._closed:
            self._unless_gone(self._stream.flush)

    def close(self) -> None:
        self._closed = True
        self._unless_gone(self._stream.close)

    def _unless_gone(self, call: Callable[..., object], *args: object) -> None:
        try:
            call(*args)
        except BrokenPipeError:
            log.info("the client has gone away; nothing more is sent to it")
            self._closed = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())  # the buffered rest is flushed there at exit
            os.close(devnull)


def run(args: argparse.Namespace) -> int:
    import gc
    import sys

    from . import logs
    from .model_loader import collections_held

    # What the imports make lives as long as the server: set aside from garbage collection
    # once made, or each later full collection would traverse all of it.
    with collections_held():
        logs.setup(args.log_level, args.log_file)
        from .model_host import use_one_thread

        use_one_thread()  # before torch is imported
        from .lsp_server import create_server

        server = create_server(args.model, args.log_level)
        gc.freeze()
    if args.tcp:
        if not 0 < args.port < 65536:
            raise SystemExit("nextword serve: --port must be from 1 to 65535")
        log.info("opening %s:%d for one LSP client", args.host, args.port)
        try:
            server.start_tcp(args.host, args.port)
        except OSError as e:  # the port taken, an address this machine does not have
            from nextword.model.errors import NextwordError

            raise NextwordError(
                f"cannot listen on {args.host}:{args.port}: {e.strerror or e}; choose another --port (another server may be using this one) or a --host of this machine"
            ) from None
        return server.exit_status
    from .stdio_transport import start_io

    stdout = ClientOutput(sys.stdout.buffer)
    sys.stdout = sys.stderr  # stdout carries the protocol: a stray print must not break it
    start_io(server, sys.stdin.buffer, stdout)
    return server.exit_status
