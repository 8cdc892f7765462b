"""pygls's LSP protocol, with our document store and fixes for three pygls defects.

- Document sync (didOpen/didChange/didClose) goes to ``documents.DocumentStore``. pygls's
  own document rebuilds the whole text line by line on every edit and splits it into lines
  again on every position lookup: in a long document that is a rebuild per keystroke, where
  our store copies a short tail. pygls has no way to plug in another document class, so
  its three sync methods are replaced (its workspace keeps no documents).
- A request whose params do not fit the method's schema gets an ``InvalidParams`` error
  answer. (pygls raises while parsing it, logs the error and never answers, leaving the
  client to wait forever.) A malformed notification is logged and dropped.
- A request after ``shutdown`` gets an ``InvalidRequest`` error answer, as LSP asks. (pygls
  drops it unanswered.)
- ``workspace/executeCommand`` handlers can read the request's ``workDoneToken`` from
  ``work_done_token``. (pygls hands a command only its arguments.)
- The three sync methods call the server's (synchronous) handlers themselves rather than
  yield to them as pygls's do: pygls files the future of a notification whose built-in
  handler is a generator among its pending requests, under an id no answer ever removes,
  so every keystroke would keep one for as long as the server runs.
- A keystroke's two messages (``didChange`` and a completion request) go straight to
  pygls's handling of a notification and of a request. pygls tells the kinds apart by
  ``isinstance`` against typing Protocols, which Python 3.11 checks attribute by attribute
  at every call: three such checks a keystroke, each dearer than the document's edit.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from .documents import DocumentStore

log = logging.getLogger(__name__)

# The workDoneToken of the executeCommand request being handled. pygls handles each message
# in its own context, so requests never see each other's.
work_done_token: contextvars.ContextVar[Any] = contextvars.ContextVar("work_done_token", default=None)


class _Answered:
    """A malformed message, already answered or dropped while it was parsed."""


_ANSWERED = _Answered()


def _explain(error: BaseException) -> str:
    """What is wrong with the params, in a line (from cattrs's error, where there is one)."""
    cause = error.__cause__
    if cause is None:
        return str(error)[:500]
    try:
        from cattrs import transform_error

        return "; ".join(transform_error(cause, path="params"))[:500]
    except Exception:  # noqa: BLE001 - not a structuring error: say what it is
        return f"{type(cause).__name__}: {cause}"[:500]


class NextwordProtocol(LanguageServerProtocol):
    """pygls's protocol, with the changes the module's docstring lists."""

    def __init__(self, server: Any, converter: Any):
        self.documents = DocumentStore()  # the open documents, which the server reads
        super().__init__(server, converter)

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if "method" not in data:
                raise
            method, reason = data["method"], _explain(error)
            if "id" in data:
                log.warning("answering request %r for %s with invalid params: %s", data["id"], method, reason)
                self._send_response(
                    data["id"], error=JsonRpcInvalidParams(f"invalid params for {method}: {reason}").to_response_error()
                )
            else:
                log.error("dropped a %s notification with invalid params: %s", method, reason)
            return _ANSWERED

    def handle_message(self, message: Any) -> None:
        if message is _ANSWERED:
            return
        # `_shutdown` is pygls's own flag, under which it drops every message but `exit`.
        if self._shutdown and hasattr(message, "id") and getattr(message, "method", types.EXIT) != types.EXIT:
            error = JsonRpcInvalidRequest("the server is shutting down: no requests after shutdown")
            self._send_response(message.id, error=error.to_response_error())
            return
        kind = type(message)
        if message.jsonrpc == self.VERSION and not self._shutdown:
            if kind is types.DidChangeTextDocumentNotification:
                contextvars.copy_context().run(self._handle_notification, message.method, message.params)
                return
            if kind is types.CompletionRequest:
                contextvars.copy_context().run(self._handle_request, message.id, message.method, message.params)
                return
        super().handle_message(message)

    # ----- document sync -------------------------------------------------------------------
    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams):
        item = params.text_document
        self.documents.open(item.uri, item.text, item.version, item.language_id)
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            handler(params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        doc = self.documents.get(params.text_document.uri)
        if doc is None:
            log.warning("change to a document that is not open (%s) ignored", params.text_document.uri)
            return
        for change in params.content_changes:
            doc.apply_change(change)
        doc.version = params.text_document.version
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            handler(params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams):
        self.documents.close(params.text_document.uri)
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            handler(params)

    # ----- commands ------------------------------------------------------------------------
    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams):
        work_done_token.set(params.work_done_token)
        return (yield from super().lsp_workspace__execute_command(params))
