"""pygls's protocol with three changes: our own document store, answers to bad requests,
and results already in JSON form sent as they are.

- Document sync (didOpen/didChange/didClose) goes to ``documents.DocumentStore``, whose
  edits cost a slice copy instead of a rebuild of the whole text line by line.
- A request whose params do not fit the method's schema gets an ``InvalidParams`` error
  response. (pygls would fail while parsing it and never answer, leaving the client to
  wait forever.) A malformed notification is logged and dropped.
- A handler's ``WireJson`` result (completion lists, built in their JSON form) is written
  without pygls's converter, which would copy it value by value.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from .completion import WireJson

log = logging.getLogger(__name__)


class _Handled:
    """A message already answered while it was being parsed; nothing more to do."""

    jsonrpc = "handled"


_HANDLED = _Handled()

# The workDoneToken of the executeCommand request being handled (pygls passes commands only
# their arguments). Each message is handled in its own context, so requests never mix.
work_done_token: contextvars.ContextVar[Any] = contextvars.ContextVar("work_done_token", default=None)


def _explain(error: BaseException) -> str:
    cause = error.__cause__
    if cause is not None:
        try:
            from cattrs import transform_error

            return "; ".join(transform_error(cause, path="params"))[:500]  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - not a structuring error: say what it is
            return f"{type(cause).__name__}: {cause}"[:500]
    return str(error)[:500]


class NextwordProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if "jsonrpc" not in data or "method" not in data:
                raise
            method = data.get("method")
            reason = _explain(error)
            if "id" in data:
                log.warning("answering request %r for %s with invalid params: %s", data["id"], method, reason)
                self._send_response(data["id"], error=JsonRpcInvalidParams(f"invalid params for {method}: {reason}").to_response_error())
            else:
                log.error("dropped a %s notification with invalid params: %s", method, reason)
            return _HANDLED

    def handle_message(self, message: Any) -> None:
        if message is _HANDLED:
            return
        super().handle_message(message)

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        # pygls 2 wraps every result in its typed response class and unstructures that with
        # cattrs; a WireJson result is already the JSON it would produce.
        if error is None and isinstance(result, WireJson):
            self._result_types.pop(msg_id, None)
            self._send_data({"jsonrpc": self.VERSION, "id": msg_id, "result": result})
            return
        super()._send_response(msg_id, result, error)

    # ----- document sync -------------------------------------------------------------------
    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams):
        item = params.text_document
        self._server.documents.open(item.uri, item.text, item.version, item.language_id)  # type: ignore[attr-defined]
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        doc = self._server.documents.get(params.text_document.uri)  # type: ignore[attr-defined]
        if doc is None:
            log.warning("change to a document that is not open (%s) ignored", params.text_document.uri)
            return
        for change in params.content_changes:
            doc.apply_change(change)
        doc.version = params.text_document.version
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams):
        self._server.documents.close(params.text_document.uri)  # type: ignore[attr-defined]
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None

    # ----- commands ------------------------------------------------------------------------
    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams):
        work_done_token.set(params.work_done_token)
        return (yield from super().lsp_workspace__execute_command(params))
