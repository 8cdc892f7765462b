"""The nextword language server: one pygls server object and thin handlers.

The server object holds the state (documents, settings, the model host, the trainer); the
handlers at the bottom only route LSP messages to it. The logic lives in small modules:
``documents`` (text and positions), ``completion`` (sites and items), ``model_host`` (the
model and its worker thread), ``buffer_words`` (completion before a model is ready),
``configuration`` and ``settings``, ``commands`` and ``training_job``.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer

from . import commands, completion, configuration, learning_events, logs
from .buffer_words import BufferWords
from .documents import Document, DocumentStore
from .model_host import ModelHost
from .positions import PositionEncoding
from .protocol import NextwordProtocol, work_done_token
from .settings import Settings, to_json
from .training_job import Trainer
from .wordsyntax import typed_word_start

if TYPE_CHECKING:
    from .workspace_learning import WorkspaceLearning

log = logging.getLogger(__name__)


def _quiet_cancellations(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's error report, less handlers cancelled because the server exits.

    pygls runs a handler that a built-in one calls (``initialized``, a command) and reads its
    result in a done callback; when the server exits while it still runs, the cancelled
    future raises ``CancelledError`` in that callback, which asyncio reports with a traceback."""
    if not isinstance(context.get("exception"), asyncio.CancelledError):
        loop.default_exception_handler(context)


class NextwordServer(LanguageServer):
    """The server's state, and what its handlers do with it."""

    protocol: NextwordProtocol

    def __init__(self, model_override: str | None = None, log_level: str = "info"):
        super().__init__("nextword", None, protocol_cls=NextwordProtocol)  # type: ignore[arg-type]
        self.documents: DocumentStore = self.protocol.documents
        self.settings = Settings()
        self.configuration = configuration.Configuration()
        self.model_override = model_override  # the --model flag: wins over modelPath
        self.default_log_level = log_level  # the --log-level flag: used while logLevel is unset
        self.host: ModelHost | None = None
        self.learning: WorkspaceLearning | None = None  # the workspace's notes, learned (from `initialized`)
        self.trainer = Trainer(self, self._use_trained)
        self.support = completion.ClientSupport()
        self.client_supports_progress = False
        self.client_supports_configuration = False
        self.shut_down = False  # the client sent `shutdown`
        self.exit_status = 0  # for `exit`: 1 when it came without `shutdown` first, as LSP asks
        self._words: dict[str, BufferWords] = {}  # document-word indexes, while no model is ready
        atexit.register(self.trainer.cancel)

    # ----- messages to the user ------------------------------------------------------------
    def show(self, kind: types.MessageType, message: str) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def report(self, level: str, message: str) -> None:
        """Messages from the model host (called on the event loop)."""
        if level == "log":
            self.window_log_message(types.LogMessageParams(type=types.MessageType.Info, message=message))
            return
        kinds = {"error": types.MessageType.Error, "warning": types.MessageType.Warning}
        self.show(kinds.get(level, types.MessageType.Info), message)

    # ----- lifecycle -----------------------------------------------------------------------
    def initialize(self, params: types.InitializeParams) -> None:
        asyncio.get_running_loop().set_exception_handler(_quiet_cancellations)  # pygls's loop, from now on
        caps = params.capabilities
        self.support = completion.ClientSupport.of(caps)
        self.client_supports_progress = bool(get_capability(caps, "window.work_done_progress", False))
        self.client_supports_configuration = bool(get_capability(caps, "workspace.configuration", False))
        self.documents.encoding = PositionEncoding(self.workspace.position_encoding)
        configuration.initial(self, params.initialization_options)
        self.host = ModelHost(asyncio.get_running_loop(), self.report)
        configuration.apply(self)
        # pygls builds the answer to initialize from the registered features' options once
        # this handler returns: the trigger characters depend on the initial settings.
        self.protocol.fm.feature_options[types.TEXT_DOCUMENT_COMPLETION] = types.CompletionOptions(
            trigger_characters=self.configuration.announce_triggers(self.settings), resolve_provider=False
        )
        # Start loading once the answer to initialize is on its way.
        asyncio.get_running_loop().call_soon(self.host.start)
        log.info(
            "initialized: position encoding %s, %s",
            self.documents.encoding.name,
            "settings pulled" if self.client_supports_configuration else "settings pushed",
        )

    def stop_work(self) -> None:
        """Stop training and model work (the client asked to shut down, or went away)."""
        self.trainer.cancel()
        if self.learning is not None:
            self.learning.stop()
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
        end of the last change) while the typist pauses; before a model is in, once it is."""
        host = self.host
        doc = self.documents.get(params.text_document.uri)
        if host is None or doc is None or not params.content_changes:
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
    async def complete(self, params: types.CompletionParams) -> types.CompletionList:
        empty = completion.completion_list([], incomplete=False)
        doc = self.documents.get(params.text_document.uri)
        if doc is None:
            log.warning("completion asked in a document that is not open: %s", params.text_document.uri)
            return empty
        site = completion.site_at(doc, params.position)
        if site is None or site.cut:  # past the end; or a word too long to be one: nothing to offer
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
        suggestions = await host.suggest(
            doc.uri, site.snapshot, site.start, prefix, settings.max_items, composing=settings.hangul_composing
        )
        if suggestions is None:  # overtaken by a newer request, or the model went away
            return completion.completion_list([])
        if not self.list_shown(prefix, kind, suggestions):
            return completion.completion_list([])  # incomplete: asked again at the next key
        return completion.completion_list(completion.from_suggestions(site, suggestions, self.support))

    def list_shown(self, prefix: str, kind: types.CompletionTriggerKind, suggestions: Any) -> bool:
        """Whether a completion request answers with these suggestions. Inside a word: unless
        the word is typed whole (``completion.word_typed_whole``). After a trigger character:
        only when the next word, if the list holds it, is likely among its first three
        (``minProbability``, ``completion.list_probability``), so that a popup
        does not open on every space; asked for explicitly, it always shows."""
        if not suggestions:
            return False
        if prefix:
            return not completion.word_typed_whole(suggestions)
        return (
            kind == types.CompletionTriggerKind.Invoked
            or completion.list_probability(suggestions) >= self.settings.min_probability
        )

    async def _list_would_show(self, doc: Document, site: completion.Site) -> bool:
        """Whether the editor, asking for completions here as it does while typing, gets a list:
        inside a word it asks at every key; at a word's start only after a trigger character."""
        prefix, kind = site.prefix, types.CompletionTriggerKind.Invoked
        if not prefix:
            if site.char_before not in self.settings.trigger_characters or completion.after_mark(site):
                return False
            kind = types.CompletionTriggerKind.TriggerCharacter
        assert self.host is not None
        found = await self.host.suggest(
            doc.uri,
            site.snapshot,
            site.start,
            prefix,
            self.settings.max_items,
            kind="phrase",
            composing=self.settings.hangul_composing,
        )
        return found is None or self.list_shown(prefix, kind, found)

    async def inline_complete(self, params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
        settings = self.settings.inline
        host = self.host
        doc = self.documents.get(params.text_document.uri)
        if not settings.enabled or host is None or not host.ready or doc is None:
            return None
        site = completion.site_at(doc, params.position)
        if site is None or site.cut or not completion.phrase_allowed(site):
            return None
        # One or the other: ghost text only where no list shows (the list, of several words,
        # is the surer help where there is one; ghost text speaks where it is silent: at a line's
        # start, after a word typed whole, after a space where no list pays).
        if params.context is not None and params.context.selected_completion_info is not None:
            return None  # the editor has a list open here
        if await self._list_would_show(doc, site):
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


def create_server(model_override: str | None = None, log_level: str = "info") -> NextwordServer:
    """A server with its handlers registered."""
    server = NextwordServer(model_override, log_level)

    @server.feature(types.INITIALIZE)
    def on_initialize(ls: NextwordServer, params: types.InitializeParams) -> None:
        ls.initialize(params)

    @server.feature(types.INITIALIZED)
    async def on_initialized(ls: NextwordServer, params: types.InitializedParams) -> None:
        if ls.client_supports_configuration:
            await configuration.pull(ls)
        await learning_events.start(ls)  # once the settings are known

    learning_events.register(server)

    @server.feature(types.SHUTDOWN)
    def on_shutdown(ls: NextwordServer, params: None) -> None:
        ls.shut_down = True
        ls.stop_work()

    @server.feature(types.EXIT)
    def on_exit(ls: NextwordServer, params: None) -> None:
        # pygls exits with this status too, but its start_io swallows the SystemExit.
        ls.exit_status = 0 if ls.shut_down else 1

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
    async def on_completion(ls: NextwordServer, params: types.CompletionParams) -> types.CompletionList:
        return await ls.complete(params)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def on_inline_completion(
        ls: NextwordServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        return await ls.inline_complete(params)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration(ls: NextwordServer, params: types.DidChangeConfigurationParams) -> None:
        await configuration.changed(ls, params)

    @server.command(commands.STATUS)
    def on_status(ls: NextwordServer, *args: Any) -> dict[str, Any]:
        return commands.status(ls)

    @server.command(commands.RELOAD)
    async def on_reload(ls: NextwordServer, *args: Any) -> dict[str, Any]:
        return await commands.reload_model(ls)

    @server.command(commands.TRAIN)
    async def on_train(ls: NextwordServer, *args: Any) -> dict[str, Any]:
        return await commands.train_workspace(ls, args, work_done_token.get())

    @server.command(commands.FORGET_WORKSPACE)
    async def on_forget_workspace(ls: NextwordServer, *args: Any) -> dict[str, Any]:
        return await commands.forget_workspace(ls, args)

    @server.command(commands.CANCEL_TRAINING)
    def on_cancel_training(ls: NextwordServer, *args: Any) -> dict[str, Any]:
        return commands.cancel_training(ls)

    return server
