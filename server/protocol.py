"""pygls's protocol with six changes: our own document store, answers to bad requests
and to requests after shutdown, results already in JSON form sent as they are, an ``initialize`` answered early, and
messages routed without pygls's slow type checks.

- Document sync (didOpen/didChange/didClose) goes to ``documents.DocumentStore``, whose
  edits cost a slice copy instead of a rebuild of the whole text line by line.
- A request whose params do not fit the method's schema gets an ``InvalidParams`` error
  response. (pygls would fail while parsing it and never answer, leaving the client to
  wait forever.) A malformed notification is logged and dropped.
- A handler's ``WireJson`` result (completion lists, built in their JSON form) is written
  without pygls's converter, which would copy it value by value.
- A request after ``shutdown`` gets an ``InvalidRequest`` error, as the protocol asks
  (pygls would drop it unanswered).
- When ``early_initialize`` has already answered ``initialize``, pygls's answer is not sent
  again; it is compared with the early one, and a difference is logged as a warning.
"""

from __future__ import annotations

import contextvars
import json
import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from . import capabilities
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


# One message of each kind that typing sends: their converters are built at start-up.
_TYPING_MESSAGES: tuple[dict[str, Any], ...] = (
    {
        "jsonrpc": "2.0",
        "method": types.TEXT_DOCUMENT_DID_OPEN,
        "params": {"textDocument": {"uri": "file:///warm-up.md", "languageId": "markdown", "version": 1, "text": "a"}},
    },
    {
        "jsonrpc": "2.0",
        "method": types.TEXT_DOCUMENT_DID_CHANGE,
        "params": {
            "textDocument": {"uri": "file:///warm-up.md", "version": 2},
            "contentChanges": [
                {"range": {"start": {"line": 0, "character": 1}, "end": {"line": 0, "character": 1}}, "text": " "}
            ],
        },
    },
    {
        "jsonrpc": "2.0",
        "id": 0,
        "method": types.TEXT_DOCUMENT_COMPLETION,
        "params": {
            "textDocument": {"uri": "file:///warm-up.md"},
            "position": {"line": 0, "character": 2},
            "context": {"triggerKind": 2, "triggerCharacter": " "},
        },
    },
    {
        "jsonrpc": "2.0",
        "id": 0,
        "method": types.TEXT_DOCUMENT_INLINE_COMPLETION,
        "params": {
            "textDocument": {"uri": "file:///warm-up.md"},
            "position": {"line": 0, "character": 2},
            "context": {"triggerKind": 2},
        },
    },
    {"jsonrpc": "2.0", "method": types.CANCEL_REQUEST, "params": {"id": 0}},
    {
        "jsonrpc": "2.0",
        "method": types.TEXT_DOCUMENT_DID_CLOSE,
        "params": {"textDocument": {"uri": "file:///warm-up.md"}},
    },
)


def _plain_initialize(params: dict[str, Any]) -> dict[str, Any]:
    """Initialize params with only what the early answer read from them (and the settings)."""
    return {
        "processId": None,
        "rootUri": params["rootUri"] if isinstance(params.get("rootUri"), str) else None,
        "capabilities": {
            "general": {"positionEncodings": [capabilities.position_encoding(params.get("capabilities"))]}
        },
        "initializationOptions": params.get("initializationOptions"),
    }


class NextwordProtocol(LanguageServerProtocol):
    # The id and result of the initialize request early_initialize answered, until pygls's
    # own answer to it comes and is dropped.
    answered_early: dict[str, Any] | None = None

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if "jsonrpc" not in data or "method" not in data:
                raise
            method = data.get("method")
            reason = _explain(error)
            if self._is_answered_early(data.get("id")) and method == types.INITIALIZE:
                # Too late to refuse: the client has its answer. Read what the answer used.
                log.warning(
                    "the initialize params do not fit the protocol (%s); reading only the position encodings and settings",
                    reason,
                )
                return super().structure_message({**data, "params": _plain_initialize(data["params"])})
            if "id" in data:
                log.warning("answering request %r for %s with invalid params: %s", data["id"], method, reason)
                self._send_response(
                    data["id"], error=JsonRpcInvalidParams(f"invalid params for {method}: {reason}").to_response_error()
                )
            else:
                log.error("dropped a %s notification with invalid params: %s", method, reason)
            return _HANDLED

    def handle_message(self, message: Any) -> None:
        if message is _HANDLED:
            return
        # pygls tells a request from a notification by isinstance against runtime-checkable
        # Protocols, which walks the class's members on every call: a tenth of the handling
        # of a keystroke's messages. The message classes say it by their fields.
        method = getattr(message, "method", None)
        if self._shutdown and method not in (None, types.EXIT) and hasattr(message, "id"):
            # pygls drops it; the client would wait for an answer forever.
            self._send_response(
                message.id, error=JsonRpcInvalidRequest("the server is shutting down: no requests after shutdown")
            )
            return
        if method is None or message.jsonrpc != "2.0" or self._shutdown:
            super().handle_message(message)  # answers, errors, and pygls's own checks
        elif hasattr(message, "id"):
            contextvars.copy_context().run(self._handle_request, message.id, method, message.params)
        else:
            contextvars.copy_context().run(self._handle_notification, method, message.params)

    def warm_converters(self) -> None:
        """Build the converters of the messages typing sends, which cattrs writes for each
        message type when it first meets one (3-9 ms each), so that the first keystrokes do
        not wait for them. Nothing is handled."""
        for message in _TYPING_MESSAGES:
            super().structure_message(message)

    def _is_answered_early(self, msg_id: Any) -> bool:
        early = self.answered_early
        return early is not None and type(msg_id) is type(early["id"]) and msg_id == early["id"]

    def _drop_second_answer(self, result: Any, error: Any) -> None:
        early, self.answered_early = self.answered_early, None
        assert early is not None
        if error is not None:
            log.warning("initialize was answered early, but the server refused it: %s", error)
            return
        ours = json.loads(json.dumps(result, default=self._serialize_message))
        if not capabilities.same_result(ours, early["result"]):
            log.warning(
                "initialize was answered early with %s, but the server's own answer is %s",
                json.dumps(early["result"]),
                json.dumps(ours),
            )

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        if self._is_answered_early(msg_id):
            self._result_types.pop(msg_id, None)
            self._drop_second_answer(result, error)
            return
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
