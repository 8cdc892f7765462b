"""What the server announces in its answer to ``initialize``, as plain JSON.

pygls computes the same answer from the registered features, but only once the protocol
types are imported (most of a second on a slow machine); this module needs nothing but the
standard library and ``settings``, so ``early_initialize`` can answer from it at once. The
server checks, each time it starts, that pygls's own answer says the same (see
``protocol.NextwordProtocol``), and the tests check it for many kinds of client.
"""

from __future__ import annotations

import string
from typing import Any

from .settings import Settings, parse_settings, section_of

STATUS = "nextword.status"
RELOAD = "nextword.reloadModel"
TRAIN = "nextword.trainWorkspace"
CANCEL_TRAINING = "nextword.cancelTraining"
COMMANDS = (STATUS, RELOAD, TRAIN, CANCEL_TRAINING)

# Characters announced as completion triggers, beyond those the settings ask for, so that a
# change of `triggerCharacters` takes effect without a restart: the handler answers only
# for the characters the settings name at the time. Clients learn the list once, at start;
# a character outside it takes effect only when the server starts with it in the
# initializationOptions. (The underscore is a word character: typing it continues a word.)
ANNOUNCED_TRIGGERS = tuple(" " + string.punctuation.replace("_", "") + "“‘«„¿¡")

# The position encodings pygls can serve, and the one LSP assumes when the client names none.
ENCODINGS = ("utf-8", "utf-16", "utf-32")
DEFAULT_ENCODING = "utf-16"

# Incremental document sync (LSP's TextDocumentSyncKind.Incremental).
INCREMENTAL_SYNC = 2


def completion_triggers(settings: Settings) -> list[str]:
    """The trigger characters to announce: those of the settings, then the usual ones."""
    return list(dict.fromkeys([*settings.trigger_characters, *ANNOUNCED_TRIGGERS]))


def _member(obj: Any, path: str) -> Any:
    for name in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(name)
    return obj


def position_encoding(client_capabilities: Any) -> str:
    """The first encoding the client offers that the server can serve; else UTF-16."""
    offered = _member(client_capabilities, "general.positionEncodings")
    for encoding in offered if isinstance(offered, list) else ():
        if encoding in ENCODINGS:
            return encoding
    return DEFAULT_ENCODING


def initialize_result(params: dict[str, Any]) -> dict[str, Any]:
    """The ``InitializeResult`` (as JSON) for the params of an ``initialize`` request."""
    client = params.get("capabilities")
    settings, _, _ = parse_settings(section_of(params.get("initializationOptions")) or {})
    sync: dict[str, Any] = {"openClose": True, "change": INCREMENTAL_SYNC}
    # pygls answers "not supported" for the will-save notifications a client names.
    for name in ("willSave", "willSaveWaitUntil"):
        if _member(client, f"textDocument.synchronization.{name}") is not None:
            sync[name] = False
    sync["save"] = False
    return {
        "capabilities": {
            "positionEncoding": position_encoding(client),
            "textDocumentSync": sync,
            "completionProvider": {"triggerCharacters": completion_triggers(settings), "resolveProvider": False},
            "executeCommandProvider": {"commands": list(COMMANDS)},
            "inlineCompletionProvider": {},
            "workspace": {"workspaceFolders": {"supported": True, "changeNotifications": True}, "fileOperations": {}},
        },
        "serverInfo": {"name": "nextword"},
    }


def same_result(a: Any, b: Any) -> bool:
    """Whether two initialize results say the same (trigger characters in any order)."""

    def normal(result: Any) -> Any:
        triggers = _member(result, "capabilities.completionProvider.triggerCharacters")
        if isinstance(triggers, list):
            result = {
                **result,
                "capabilities": {
                    **result["capabilities"],
                    "completionProvider": {
                        **result["capabilities"]["completionProvider"],
                        "triggerCharacters": sorted(triggers),
                    },
                },
            }
        return result

    return normal(a) == normal(b)
