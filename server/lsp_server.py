"""The nextword language server: one pygls server object and thin handlers.

The server object holds the state (documents, settings, the model host, the trainer); the
handlers at the bottom only route LSP messages to it. The logic lives in small modules:
``documents`` (text and positions), ``completion`` (sites and items), ``model_host`` (the
model and its worker thread), ``buffer_words`` (completion before a model is ready),
``settings``, ``commands`` and ``training_job``.
"""

from __future__ import annotations

import asyncio
import atexit
import io
import logging
import os
import stat
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.io_ import StdinAsyncReader, StdoutWriter, run_async
from pygls.lsp.server import LanguageServer

from . import capabilities, code_cache, commands, completion, logs
from .buffer_words import BufferWords
from .documents import Document, DocumentStore
from .early_initialize import EarlyInitialize
from .model_host import ModelHost
from .positions import PositionEncoding
from .protocol import NextwordProtocol, work_done_token
from .settings import SECTION, Settings, merge, not_an_object, parse_settings, section_of, to_json
from .training_job import Trainer
from .wordsyntax import typed_word_start

log = logging.getLogger(__name__)


def _get(obj: Any, path: str) -> Any:
    for name in path.split("."):
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


def _pollable(source: Any) -> bool:
    """Whether the event loop can wait on ``source``: a pipe, a socket or a terminal. (Other
    character devices, such as /dev/null, pass asyncio's own check but cannot be polled.)"""
    try:
        mode = os.fstat(source.fileno()).st_mode
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(source.fileno())


def _quiet_cancellations(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's error report, less handlers cancelled because the server exits
    (pygls's callbacks read their cancelled futures and would print a traceback)."""
    if not isinstance(context.get("exception"), asyncio.CancelledError):
        loop.default_exception_handler(context)


class NextwordServer(LanguageServer):
    def __init__(self, model_override: str | None = None, log_level: str = "info"):
        super().__init__("nextword", None, protocol_cls=NextwordProtocol)  # type: ignore[arg-type]
        self.documents = DocumentStore()
        self.settings = Settings()
        self.model_override = model_override  # the --model flag: wins over modelPath
        self.default_log_level = log_level  # the --log-level flag: used while logLevel is unset
        self.host: ModelHost | None = None
        self.trainer = Trainer(self, self._use_trained)
        self.support = completion.ClientSupport()
        self.client_supports_progress = False
        self.client_supports_configuration = False
        self._init_raw: dict[str, Any] = {}
        self._config_raw: dict[str, Any] = {}
        self._problems: set[str] = set()  # settings problems already shown
        self._announced_triggers: list[str] = []  # the completion triggers the client was told
        self._words: dict[str, BufferWords] = {}  # document-word indexes, while no model is ready
        atexit.register(self.trainer.cancel)

    # ----- transport -----------------------------------------------------------------------
    def start_io(
        self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None, early: EarlyInitialize | None = None
    ) -> int:
        """Serve over stdin/stdout, reading stdin on the event loop itself.

        pygls reads stdin through its thread pool: every header line and body is a round
        trip to another thread, four per message, each costing a thread wake-up per
        keystroke. A pipe read by the event loop costs none; anything else (a file, a
        console on Windows) falls back to pygls's reader. ``early``, if given, has read the
        first message (and maybe answered it): its bytes are read first. Returns the exit
        status: 1 when the client sent ``exit`` without ``shutdown`` first, as LSP asks."""
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        source = stdin or sys.stdin.buffer
        already_read = early.finish() if early is not None else b""
        if early is not None:
            self.protocol.answered_early = early.answered  # type: ignore[attr-defined]

        async def serve() -> None:
            loop = asyncio.get_running_loop()
            loop.set_exception_handler(_quiet_cancellations)
            reader: Any
            try:
                if not _pollable(source):
                    raise ValueError("neither a pipe, a socket nor a terminal")
                stream = asyncio.StreamReader(limit=1 << 20, loop=loop)
                stream.feed_data(already_read)
                await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream, loop=loop), source)
                reader = _PipeReader(stream)
            except (ValueError, OSError, NotImplementedError) as e:
                log.debug("stdin is not a pipe (%s); reading it on a thread", e)
                reader = StdinAsyncReader(
                    _Prepended(already_read, source) if already_read else source, self.thread_pool
                )
            await run_async(
                stop_event=self._stop_event,
                reader=reader,
                protocol=self.protocol,
                logger=logging.getLogger("pygls.server"),
                error_handler=self.report_server_error,
            )

        try:
            asyncio.run(serve())
        except BrokenPipeError:
            log.error("the connection to the client is lost; shutting down")
        except KeyboardInterrupt:
            pass
        except SystemExit as e:  # the exit notification: 0 after shutdown, else 1
            return e.code if isinstance(e.code, int) else int(e.code is not None)
        finally:
            self.shutdown()
        return 0

    # ----- messages to the user ------------------------------------------------------------
    def show(self, kind: types.MessageType, message: str) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def _report(self, level: str, message: str) -> None:
        """Messages from the model host (called on the event loop)."""
        if level == "log":
            self.window_log_message(types.LogMessageParams(type=types.MessageType.Info, message=message))
            return
        kinds = {"error": types.MessageType.Error, "warning": types.MessageType.Warning}
        self.show(kinds.get(level, types.MessageType.Info), message)

    # ----- lifecycle -----------------------------------------------------------------------
    def initialize(self, params: types.InitializeParams) -> None:
        caps = params.capabilities
        self.support = completion.ClientSupport.of(caps)
        self.client_supports_progress = bool(_get(caps, "window.work_done_progress"))
        self.client_supports_configuration = bool(_get(caps, "workspace.configuration"))
        self.documents.encoding = PositionEncoding(self.workspace.position_encoding)
        options = params.initialization_options
        self._init_raw = section_of(options) or {}
        if options is not None and not isinstance(options, dict):
            self.show(
                types.MessageType.Warning,
                "nextword: initializationOptions must be an object of settings; using the defaults.",
            )
        self.host = ModelHost(asyncio.get_running_loop(), self._report)
        self.apply_settings()
        self._announced_triggers = capabilities.completion_triggers(self.settings)
        self.protocol.fm.feature_options[types.TEXT_DOCUMENT_COMPLETION] = types.CompletionOptions(
            trigger_characters=self._announced_triggers, resolve_provider=False
        )
        # Start loading once the answer to initialize is on its way.
        asyncio.get_running_loop().call_soon(self.host.start)
        log.info(
            "initialized: position encoding %s, %s",
            self.documents.encoding.name,
            "settings pulled" if self.client_supports_configuration else "settings pushed",
        )

    async def initialized(self) -> None:
        loop = asyncio.get_running_loop()
        loop.call_soon(self.protocol.warm_converters)  # type: ignore[attr-defined]
        # By now the converters for the first messages exist too; keep them for the next start.
        loop.call_later(1.0, loop.run_in_executor, None, code_cache.save)
        if self.client_supports_configuration:
            await self.pull_configuration()

    def stop_work(self) -> None:
        """Stop training and model work (the client asked to shut down, or went away)."""
        self.trainer.cancel()
        if self.host is not None:
            self.host.stop()

    def shutdown(self) -> None:
        """pygls's end of the transport: stop our work too."""
        self.stop_work()
        super().shutdown()

    # ----- settings ------------------------------------------------------------------------
    def settings_json(self) -> dict[str, Any]:
        return to_json(self.settings)

    def workspace_root(self) -> Path | None:
        try:
            root = self.workspace.root_path
        except RuntimeError:
            return None
        return Path(root) if root else None

    def apply_settings(self) -> None:
        raw = merge(self._init_raw, self._config_raw)
        settings, problems, unknown = parse_settings(raw)
        unannounced = [
            c for c in settings.trigger_characters if self._announced_triggers and c not in self._announced_triggers
        ]
        if unannounced:
            problems.append(
                f"nextword: setting triggerCharacters: the editor learns the trigger characters when the server starts, "
                f"and {', '.join(map(repr, unannounced))} was not among them; restart the language server for it to take effect "
                f"(the editor must send the settings in initializationOptions, as nextword's Neovim and VS Code set-ups do)."
            )
        for problem in problems:
            if problem not in self._problems:
                self.show(types.MessageType.Warning, problem)
        self._problems = set(problems)
        if unknown:
            log.info("ignoring unknown settings: %s", ", ".join(unknown))
        self.settings = settings
        level_set = isinstance(raw.get("logLevel"), str) and not any(" logLevel " in p for p in problems)
        logs.set_level(settings.log_level if level_set else self.default_log_level)
        if self.host is not None:
            model = self.model_override or settings.model_path
            self.host.configure(
                model, self.workspace_root(), settings.max_live_documents, from_flag=bool(self.model_override)
            )

    async def pull_configuration(self) -> None:
        try:
            result = await asyncio.wait_for(
                self.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section="nextword")])
                ),
                10.0,
            )
        except Exception as e:  # noqa: BLE001 - a client that cannot answer keeps what it pushed
            log.warning("workspace/configuration failed: %s", e)
            return
        value = result[0] if isinstance(result, (list, tuple)) and result else None
        if value is None:
            return
        if not isinstance(value, dict):
            self.show(types.MessageType.Warning, not_an_object(value))
            value = {}
        self._config_raw = value
        self.apply_settings()

    async def configuration_changed(self, params: types.DidChangeConfigurationParams) -> None:
        pushed = section_of(params.settings)
        named = params.settings.get(SECTION) if isinstance(params.settings, dict) else None
        if pushed is None and named is not None:  # {"nextword": 5}
            self.show(types.MessageType.Warning, not_an_object(named))
            pushed = {}
        if pushed is not None:
            self._config_raw = pushed
            self.apply_settings()
        elif self.client_supports_configuration:
            await self.pull_configuration()

    # ----- documents -----------------------------------------------------------------------
    def opened(self, uri: str) -> None:
        self._words.pop(uri, None)  # opened again without a close: count its words afresh
        doc = self.documents.get(uri)
        if doc is None or self.host is None:
            return
        if logs.text_allowed():
            log.debug("opened %s: %r", uri, doc.text[:2000])
        else:
            log.debug("opened %s (%d characters)", uri, len(doc.text))
        # Read the document's end in the background: where notes usually grow.
        text = doc.text
        self.host.warm(uri, text, typed_word_start(text, len(text), text.rfind("\n") + 1))

    def changed(self, params: types.DidChangeTextDocumentParams) -> None:
        """After an edit, let the model get ready for the next question at the cursor (the
        end of the last change) while the typist pauses."""
        host = self.host
        doc = self.documents.get(params.text_document.uri)
        if host is None or not host.ready or doc is None or not params.content_changes:
            return
        change = params.content_changes[-1]
        where = getattr(change, "range", None)  # None: the whole text replaced
        start = doc.offset_at(where.start.line, where.start.character) if where is not None else None
        if start is not None:
            host.prepare(doc.uri, doc.snapshot(), start + len(change.text))

    def closed(self, uri: str) -> None:
        self._words.pop(uri, None)  # its document is gone, and the listener with it
        if self.host is not None:
            self.host.forget(uri)

    def _buffer_words(self, doc: Document) -> BufferWords:
        words = self._words.get(doc.uri)
        if words is None:
            words = self._words[doc.uri] = BufferWords(doc.text).attach(doc)
        return words

    def _drop_buffer_words(self) -> None:
        for uri, words in self._words.items():
            doc = self.documents.get(uri)
            if doc is not None:
                words.detach(doc)
        self._words.clear()

    # ----- completion ----------------------------------------------------------------------
    async def complete(self, params: types.CompletionParams) -> completion.WireJson:
        empty = completion.completion_list([], incomplete=False)
        doc = self.documents.get(params.text_document.uri)
        if doc is None:
            log.warning("completion asked in a document that is not open: %s", params.text_document.uri)
            return empty
        site = completion.site_at(doc, params.position)
        if site is None:
            return empty
        context = params.context
        kind = context.trigger_kind if context else types.CompletionTriggerKind.Invoked
        settings = self.settings
        prefix = site.prefix
        if not prefix:
            if (
                kind == types.CompletionTriggerKind.TriggerCharacter
                and context
                and context.trigger_character not in settings.trigger_characters
            ):
                return empty
            if completion.after_mark(site):
                # Inside a word whose combining mark the word pattern does not take (an
                # accent typed apart, a virama): a next word here would be glued onto it.
                return completion.completion_list([])
        if logs.text_allowed():
            log.debug("complete %r after %r", prefix, doc.slice(max(0, site.start - 80), site.start))
        host = self.host
        if host is None or not host.ready:
            if not prefix:
                return completion.completion_list([])
            words = self._buffer_words(doc).complete(prefix, settings.max_items, exclude=site.word)
            return completion.completion_list(completion.from_buffer_words(site, words, self.support))
        if self._words:
            self._drop_buffer_words()
        suggestions = await host.suggest(doc.uri, site.snapshot, site.start, prefix, settings.max_items)
        if suggestions is None:  # overtaken by a newer request, or the model went away
            return completion.completion_list([])
        if not prefix and kind != types.CompletionTriggerKind.Invoked:
            # Next-word suggestions: only when the model is confident enough, so that a
            # popup does not open on every space. Asked for explicitly, they always show.
            if not suggestions or suggestions[0].probability < settings.min_probability:
                return completion.completion_list([])
        return completion.completion_list(completion.from_suggestions(site, suggestions, self.support))

    async def inline_complete(self, params: types.InlineCompletionParams) -> completion.WireJson | None:
        settings = self.settings.inline
        host = self.host
        doc = self.documents.get(params.text_document.uri)
        if not settings.enabled or host is None or not host.ready or doc is None:
            return None
        site = completion.site_at(doc, params.position)
        if site is None or not completion.phrase_allowed(site):
            return None
        result = await host.phrase(
            doc.uri, site.snapshot, site.start, site.prefix, settings.max_words, settings.min_probability
        )
        if not result or not result[0]:
            return None
        return completion.inline_items(site, result[0])

    # ----- commands ------------------------------------------------------------------------
    async def _use_trained(self, path: Path) -> None:
        assert self.host is not None
        self.host.use_trained(path)
        await self.host.reload()
        if self.host.loaded is not None and self.host.loaded.path == path:
            self.show(types.MessageType.Info, f"nextword: training done; now using {path}.")


class _Prepended:
    """A binary stream that yields ``first`` and then what ``rest`` yields."""

    def __init__(self, first: bytes, rest: BinaryIO):
        self._first, self._rest = io.BytesIO(first), rest

    def readline(self) -> bytes:
        line = self._first.readline()
        return line if line.endswith(b"\n") else line + self._rest.readline()

    def read(self, n: int = -1) -> bytes:
        data = self._first.read(n)
        if n < 0:
            return data + self._rest.read()
        while len(data) < n:
            chunk = self._rest.read(n - len(data))
            if not chunk:
                break
            data += chunk
        return data


class _PipeReader:
    """An asyncio stream with the reader interface pygls's message loop expects."""

    def __init__(self, stream: asyncio.StreamReader):
        self._stream = stream

    async def readline(self) -> bytes:
        return await self._stream.readline()

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self._stream.readexactly(n)
        except asyncio.IncompleteReadError:
            return b""  # the client went away: the loop ends


def create_server(model_override: str | None = None, log_level: str = "info") -> NextwordServer:
    """A server with its handlers registered."""
    server = NextwordServer(model_override, log_level)

    @server.feature(types.INITIALIZE)
    def on_initialize(ls: NextwordServer, params: types.InitializeParams) -> None:
        ls.initialize(params)

    @server.feature(types.INITIALIZED)
    async def on_initialized(ls: NextwordServer, params: types.InitializedParams) -> None:
        await ls.initialized()

    @server.feature(types.SHUTDOWN)
    def on_shutdown(ls: NextwordServer, params: None) -> None:
        ls.stop_work()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def on_open(ls: NextwordServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.opened(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(ls: NextwordServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.changed(params)  # the protocol applied the edits

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(ls: NextwordServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.closed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[" "]))
    async def on_completion(ls: NextwordServer, params: types.CompletionParams) -> completion.WireJson:
        return await ls.complete(params)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def on_inline_completion(
        ls: NextwordServer, params: types.InlineCompletionParams
    ) -> completion.WireJson | None:
        return await ls.inline_complete(params)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration(ls: NextwordServer, params: types.DidChangeConfigurationParams) -> None:
        await ls.configuration_changed(params)

    @server.command(commands.STATUS)
    def on_status(ls: NextwordServer, *args: Any) -> dict[str, Any]:
        return commands.status(ls)

    @server.command(commands.RELOAD)
    async def on_reload(ls: NextwordServer, *args: Any) -> dict[str, Any]:
        return await commands.reload_model(ls)

    @server.command(commands.TRAIN)
    async def on_train(ls: NextwordServer, *args: Any) -> dict[str, Any]:
        return await commands.train_workspace(ls, args, work_done_token.get())

    @server.command(commands.CANCEL_TRAINING)
    def on_cancel_training(ls: NextwordServer, *args: Any) -> dict[str, Any]:
        return commands.cancel_training(ls)

    return server
