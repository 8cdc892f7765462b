"""What the client tells the server about files, turned into learning: the workspace folders
at start and as they change, documents saved, files created, changed or deleted on disk
(watched where the client lets the server register the watch itself).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from nextword.training.corpus import DEFAULT_EXTENSIONS
from pygls.capabilities import get_capability
from pygls.uris import to_fs_path

if TYPE_CHECKING:
    from .lsp_server import NextwordServer
    from .workspace_learning import WorkspaceLearning

log = logging.getLogger(__name__)

# Learning waits this long after a request is answered: a person typing asks again soon, and a
# file being learned when the next key comes would take the interpreter from its answer.
QUIET_AFTER_A_REQUEST = 0.015


def path_of(uri: str) -> Path | None:
    """The local file a URI names (None for other schemes)."""
    if not uri.startswith("file:"):
        return None
    path = to_fs_path(uri)
    return Path(path) if path else None


def workspace_folders(ls: NextwordServer) -> list[Path]:
    """The workspace folders (``workspaceFolders``, else ``rootUri``), local ones only."""
    folders = [path_of(folder.uri) for folder in ls.workspace.folders.values()]
    found = [p for p in folders if p is not None]
    if not found:
        root = ls.workspace_root()
        found = [root] if root is not None else []
    return list(dict.fromkeys(p.absolute() for p in found))


async def start(ls: NextwordServer) -> None:
    """Start learning: read the workspace folders, and have the client tell of files changed
    on disk. Once ``initialize`` is answered: its answer does not wait for the imports, and
    they run on a thread of their own: on the event loop they would hold the first keys."""
    learning_class = await asyncio.to_thread(_workspace_learning_class)
    host = ls.host
    if host is None or ls.learning is not None:
        return
    progress = ls.work_done_progress if ls.client_supports_progress else None
    learning = ls.learning = learning_class(
        asyncio.get_running_loop(),
        ls.report,
        progress,
        model_settled=lambda: host.state not in ("starting", "loading"),
        answering=lambda: host.in_flight > 0 or time.monotonic() - host.last_answered < QUIET_AFTER_A_REQUEST,
    )
    learning.configure(ls.settings.learning)
    host.on_model = learning.model_changed
    if host.loaded is not None:
        learning.model_changed(host.loaded)
    learning.start(workspace_folders(ls))
    await _watch_files(ls)


def _workspace_learning_class() -> type[WorkspaceLearning]:
    from .workspace_learning import WorkspaceLearning

    return WorkspaceLearning


async def _watch_files(ls: NextwordServer) -> None:
    """Register a watch of the notes' files where the client lets the server do it."""
    caps = ls.client_capabilities
    if not get_capability(caps, "workspace.did_change_watched_files.dynamic_registration", False):
        return
    pattern = "**/*.{" + ",".join(e.lstrip(".") for e in DEFAULT_EXTENSIONS) + "}"
    registration = types.Registration(
        id=f"nextword-notes-{uuid.uuid4().hex[:8]}",
        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=types.DidChangeWatchedFilesRegistrationOptions(
            watchers=[types.FileSystemWatcher(glob_pattern=pattern)]
        ),
    )
    try:
        await asyncio.wait_for(
            ls.client_register_capability_async(types.RegistrationParams(registrations=[registration])), 10
        )
    except Exception as e:  # noqa: BLE001 - saves are still learned
        log.info("the client did not take the watch of the notes' files: %s", e)


def register(server: NextwordServer) -> None:
    """The handlers of saves, file changes and workspace folders."""

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def on_save(ls: NextwordServer, params: types.DidSaveTextDocumentParams) -> None:
        saved(ls, params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def on_watched_files(ls: NextwordServer, params: types.DidChangeWatchedFilesParams) -> None:
        files_changed(ls, params)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def on_workspace_folders(ls: NextwordServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        folders_changed(ls)


def saved(ls: NextwordServer, uri: str) -> None:
    path = path_of(uri)
    if ls.learning is not None and path is not None:
        ls.learning.saved(path.absolute())


def files_changed(ls: NextwordServer, params: types.DidChangeWatchedFilesParams) -> None:
    for change in params.changes:
        path = path_of(change.uri)
        if ls.learning is not None and path is not None:
            ls.learning.changed_on_disk(path.absolute())


def folders_changed(ls: NextwordServer) -> None:
    if ls.learning is not None:
        ls.learning.set_folders(workspace_folders(ls))
