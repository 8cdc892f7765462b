"""``workspace/executeCommand`` commands: status, reloadModel, trainWorkspace, cancelTraining,
forgetWorkspace."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcServerNotInitialized
from pygls.uris import to_fs_path

if TYPE_CHECKING:
    from .lsp_server import NextwordServer
    from .model_host import ModelHost

STATUS = "nextword.status"
RELOAD = "nextword.reloadModel"
TRAIN = "nextword.trainWorkspace"
CANCEL_TRAINING = "nextword.cancelTraining"
FORGET_WORKSPACE = "nextword.forgetWorkspace"
COMMANDS = (STATUS, RELOAD, TRAIN, CANCEL_TRAINING, FORGET_WORKSPACE)


@functools.cache
def package_version() -> str:
    """nextword's version. Asked for only when needed, and read once: reading package
    metadata takes imports and file reads that the answer to ``initialize`` should not wait
    for (so the server's initialize result names no version)."""
    try:
        from importlib.metadata import version

        return version("nextword")
    except Exception:  # noqa: BLE001 - running from a source tree
        return "0+unknown"


log = logging.getLogger(__name__)


def _host(ls: NextwordServer) -> ModelHost:
    if ls.host is None:
        raise JsonRpcServerNotInitialized("nextword: the server is not initialized yet; send initialize first")
    return ls.host


def status(ls: NextwordServer) -> dict[str, Any]:
    """Which model, its vocabulary size, load time, documents open, settings, training."""
    out = _host(ls).status()
    out.update(
        {
            "version": package_version(),
            "documentsOpen": len(ls.documents),
            "positionEncoding": ls.documents.encoding.name,
            "settings": ls.settings_json(),
            "training": ls.trainer.job.status() if ls.trainer.job else None,
        }
    )
    learning = ls.learning
    out["workspaces"] = learning.status() if learning is not None else []
    loaded = ls.host.loaded if ls.host is not None else None
    out["learning"] = {
        "pending": learning.pending if learning is not None else 0,  # jobs queued or running
        "notesTokens": loaded.notes_tokens if loaded is not None else 0,  # tokens mixed into the model's
    }
    return out


async def reload_model(ls: NextwordServer) -> dict[str, Any]:
    """Look for the model again and load it, even if its file did not change."""
    await _host(ls).reload()
    return status(ls)


def _folder_from(argument: Any) -> Path | None:
    if isinstance(argument, dict):  # a WorkspaceFolder or {"uri": ...} / {"path": ...}
        argument = argument.get("uri") or argument.get("path")
    if not isinstance(argument, str) or not argument:
        return None
    if "://" in argument:
        path = to_fs_path(argument)
        return Path(path) if path else None
    return Path(argument).expanduser()


async def forget_workspace(ls: NextwordServer, args: tuple[Any, ...]) -> dict[str, Any]:
    """Delete what was learned from a workspace folder (the argument: its URI or path; none:
    every workspace folder): its store and what the server holds of it."""
    folders = None
    if args and args[0] is not None:
        folder = _folder_from(args[0])
        if folder is None:
            raise JsonRpcInvalidParams(f"{FORGET_WORKSPACE} takes a folder path or URI, not {str(args[0])[:80]!r}")
        folders = [folder.absolute()]
    if ls.learning is None:
        raise JsonRpcServerNotInitialized("nextword: the server is not initialized yet; send initialize first")
    forgotten = await ls.learning.forget(folders)
    return {"forgotten": forgotten, "workspaces": ls.learning.status()}


def workspace_folder(ls: NextwordServer, args: tuple[Any, ...]) -> Path:
    if args:
        folder = _folder_from(args[0])
        if folder is None:
            raise JsonRpcInvalidParams(f"{TRAIN} takes a folder path or URI, not {str(args[0])[:80]!r}")
        return folder
    folders = list(ls.workspace.folders.values())
    if folders:
        path = to_fs_path(folders[0].uri)
        if path:
            return Path(path)
    if ls.workspace.root_path:
        return Path(ls.workspace.root_path)
    raise JsonRpcInvalidParams(f"{TRAIN}: no workspace folder is open; open a folder or pass one as the argument")


async def train_workspace(
    ls: NextwordServer, args: tuple[Any, ...], work_done_token: types.ProgressToken | None
) -> dict[str, Any]:
    """Start training on the workspace folder (or the folder given); returns at once."""
    if ls.trainer.running:
        ls.show(types.MessageType.Info, "nextword: a training is already running; cancel it first to start another.")
        return {"started": False, "reason": "a training is already running", "training": ls.trainer.job.status()}  # type: ignore[union-attr]
    folder = workspace_folder(ls, args)
    if not folder.is_dir():
        message = f"nextword: cannot train on {folder}: it is not a folder."
        ls.show(types.MessageType.Error, message)
        return {"started": False, "reason": message}
    from nextword.model import default_model_path, user_model_path  # by now the model code is loaded

    out = user_model_path()
    # Fine-tune the user's own model (the trainer then learns only new and changed notes),
    # else the shipped one; with neither, train a new model.
    base = next((p for p in (out, default_model_path()) if p.is_file()), None)
    try:
        job = await ls.trainer.start(folder, out, work_done_token, base, ls.settings.training.max_minutes)
    except RuntimeError as e:
        ls.show(types.MessageType.Error, str(e))
        return {"started": False, "reason": str(e)}
    return {"started": True, "folder": str(folder), "output": str(out), "token": job.token}


def cancel_training(ls: NextwordServer) -> dict[str, Any]:
    return {"cancelled": ls.trainer.cancel()}
