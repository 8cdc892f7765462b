"""Where the server's settings come from, and what it does when they change.

Settings arrive in ``initializationOptions``, are pushed with
``workspace/didChangeConfiguration`` or pulled with ``workspace/configuration``; the pushed
or pulled ones lie on top of the initial ones. Each problem with them is shown to the user
once (until it is fixed and made again), and the new settings go to the log level and the
model host at once.
"""

from __future__ import annotations

import asyncio
import logging
import string
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from . import logs
from .settings import SECTION, Settings, merge, not_an_object, parse_settings, section_of

if TYPE_CHECKING:
    from .lsp_server import NextwordServer

log = logging.getLogger(__name__)

# Characters announced as completion triggers, beyond those the settings ask for, so that a
# change of `triggerCharacters` takes effect without a restart: the handler answers only
# for the characters the settings name at the time. Clients learn the list once, at start;
# a character outside it takes effect only when the server starts with it in the
# initializationOptions. (The underscore is a word character: typing it continues a word.)
ANNOUNCED_TRIGGERS = tuple(" " + string.punctuation.replace("_", "") + "“‘«„¿¡")
# How long the client has to answer workspace/configuration.
PULL_TIMEOUT = 10.0


class Configuration:
    """The settings as the client sent them, and the problems already shown."""

    def __init__(self) -> None:
        self.initial: dict[str, Any] = {}  # from initializationOptions
        self.workspace: dict[str, Any] = {}  # pushed or pulled since
        self.announced_triggers: list[str] = []  # the completion triggers the client was told
        self.shown: set[str] = set()  # the problems shown to the user, not to be shown again

    def announce_triggers(self, settings: Settings) -> list[str]:
        """The trigger characters to announce: those of the settings, then the usual ones."""
        self.announced_triggers = list(dict.fromkeys([*settings.trigger_characters, *ANNOUNCED_TRIGGERS]))
        return self.announced_triggers

    def parse(self) -> tuple[Settings, list[str], list[str], bool]:
        """The settings, their problems, the unknown keys, and whether ``logLevel`` was set."""
        raw = merge(self.initial, self.workspace)
        settings, problems, unknown = parse_settings(raw)
        announced = self.announced_triggers
        unannounced = [c for c in settings.trigger_characters if announced and c not in announced]
        if unannounced:
            problems.append(
                f"nextword: setting triggerCharacters: the editor learns the trigger characters when the server starts, "
                f"and {', '.join(map(repr, unannounced))} was not among them; restart the language server for it to take effect "
                f"(the editor must send the settings in initializationOptions, as nextword's Neovim and VS Code set-ups do)."
            )
        level_set = isinstance(raw.get("logLevel"), str) and not any(" logLevel " in p for p in problems)
        return settings, problems, unknown, level_set


def initial(ls: NextwordServer, options: Any) -> None:
    """Take the settings of ``initializationOptions``."""
    ls.configuration.initial = section_of(options) or {}
    if options is not None and not isinstance(options, dict):
        ls.show(
            types.MessageType.Warning,
            "nextword: initializationOptions must be an object of settings; using the defaults.",
        )


def apply(ls: NextwordServer) -> None:
    """Put the settings the client sent into force, showing each new problem."""
    settings, problems, unknown, level_set = ls.configuration.parse()
    for problem in problems:
        if problem not in ls.configuration.shown:
            ls.show(types.MessageType.Warning, problem)
    ls.configuration.shown = set(problems)
    if unknown:
        log.info("ignoring unknown settings: %s", ", ".join(unknown))
    ls.settings = settings
    logs.set_level(settings.log_level if level_set else ls.default_log_level)
    if ls.learning is not None:
        ls.learning.configure(settings.learning)
    if ls.host is not None:
        model = ls.model_override or settings.model_path
        ls.host.configure(model, ls.workspace_root(), settings.max_live_documents, from_flag=bool(ls.model_override))


async def pull(ls: NextwordServer) -> None:
    """Ask the client for the ``nextword`` settings (``workspace/configuration``)."""
    try:
        result = await asyncio.wait_for(
            ls.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
            ),
            PULL_TIMEOUT,
        )
    except Exception as e:  # noqa: BLE001 - a client that cannot answer keeps what it pushed
        log.warning("workspace/configuration failed: %s", e)
        return
    value = result[0] if isinstance(result, (list, tuple)) and result else None
    if value is None:
        return
    if not isinstance(value, dict):
        ls.show(types.MessageType.Warning, not_an_object(value))
        value = {}
    ls.configuration.workspace = value
    apply(ls)


async def changed(ls: NextwordServer, params: types.DidChangeConfigurationParams) -> None:
    """``workspace/didChangeConfiguration``: settings pushed, or a hint to pull them."""
    pushed = section_of(params.settings)
    named = params.settings.get(SECTION) if isinstance(params.settings, dict) else None
    if pushed is None and named is not None:  # {"nextword": 5}
        ls.show(types.MessageType.Warning, not_an_object(named))
        pushed = {}
    if pushed is not None:
        ls.configuration.workspace = pushed
        apply(ls)
    elif ls.client_supports_configuration:
        await pull(ls)
