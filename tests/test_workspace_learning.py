"""Learning the workspace's notes through the real server: read at start by train's rules,
kept between sessions, learned on save and on changes on disk, forgotten, turned off."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from server_support import command, complete, lsp_client, open_doc, wait_status

pytestmark = pytest.mark.asyncio(loop_scope="function")

WORD = "zorblaxite"  # made up: no model's vocabulary has it
NOTE = f"We grew the {WORD} crystal today. The {WORD} crystal shines at night. A {WORD} lamp.\n"


def settled(status: dict[str, Any]) -> bool:
    """Every folder read and mixed in, nothing left to learn, the model ready."""
    return (
        status["state"] == "ready"
        and status["learning"]["pending"] == 0
        and all(w["state"] in ("ready", "off") for w in status["workspaces"])
    )


async def offered(client: Any, folder: Path, prefix: str) -> list[str]:
    """The words offered for ``prefix`` typed in a new note of ``folder``."""
    uri = (folder / f"new-{prefix}.md").as_uri()
    text = f"Notes of the day: the {prefix}"
    open_doc(client, uri, text)
    items = await complete(client, uri, 0, len(text))
    return [item.label for item in items.items]


async def wait_for_word(client: Any, folder: Path, prefix: str, word: str, timeout: float = 30.0) -> None:
    """Until ``word`` is offered for ``prefix`` (a change on disk is learned once told)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while word not in await offered(client, folder, prefix):
        assert asyncio.get_running_loop().time() < deadline, f"{word} never offered"
        await asyncio.sleep(0.2)


async def save(client: Any, path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(path.as_uri())))


def notes_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    (folder / ".hidden").mkdir(parents=True)
    (folder / "private").mkdir()
    (folder / "a.md").write_text(NOTE, encoding="utf-8")
    (folder / ".hidden" / "b.md").write_text("the hiddenword hiddenword hiddenword\n", encoding="utf-8")
    (folder / "private" / "c.md").write_text("the ignoredword ignoredword ignoredword\n", encoding="utf-8")
    (folder / ".nextwordignore").write_text("private/\n", encoding="utf-8")
    (folder / "binary.md").write_bytes(b"\x00\x01\x02 not text \xff\xfe" * 20)
    (folder / "large.md").write_text("the largeword " * 200, encoding="utf-8")  # over 1 kB
    return folder


async def test_reads_the_workspace_by_train_rules_and_keeps_it(tmp_path: Path, tiny_model_path: Path) -> None:
    folder, data = notes_folder(tmp_path), tmp_path / "data"
    options = {"learning": {"maxFileKb": 1}}
    async with lsp_client("--model", str(tiny_model_path), data_dir=data, root=folder, init_options=options) as client:
        status = await wait_status(client, settled, 60)
        [entry] = status["workspaces"]
        assert entry["folder"] == str(folder) and entry["state"] == "ready"
        assert entry["files"] == 1 and entry["newWords"] >= 1 and entry["words"] > 10
        assert entry["skipped"] == {"binary": 1, "larger than 1 kB": 1, "excluded": 1}, entry["skipped"]
        assert WORD in await offered(client, folder, "zorb")
        assert await offered(client, folder, "hiddenw") == []
        assert await offered(client, folder, "ignoredw") == []
        assert await offered(client, folder, "largew") == []
    stores = list((data / "workspaces").iterdir())
    assert len(stores) == 1 and stores[0].suffix == ".safetensors"
    [notes] = (data / "notes").iterdir()  # the notes built from it
    built = notes.stat().st_mtime_ns
    # A second start reads the store and the notes: the word is there as soon as the folder is ready.
    (folder / "a.md").touch()
    async with lsp_client("--model", str(tiny_model_path), data_dir=data, root=folder, init_options=options) as client:
        status = await wait_status(client, settled, 60)
        assert status["workspaces"][0]["files"] == 1
        assert WORD in await offered(client, folder, "zorb")
    assert notes.stat().st_mtime_ns == built  # read, not built again


async def test_a_damaged_store_is_said_and_rebuilt(tmp_path: Path, tiny_model_path: Path) -> None:
    folder, data = notes_folder(tmp_path), tmp_path / "data"
    async with lsp_client("--model", str(tiny_model_path), data_dir=data, root=folder) as client:
        await wait_status(client, settled, 60)
    [store] = (data / "workspaces").iterdir()
    store.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    async with lsp_client("--model", str(tiny_model_path), data_dir=data, root=folder) as client:
        status = await wait_status(client, settled, 60)
        warnings = [m.message for m in client.messages if m.type == types.MessageType.Warning]
        assert any("damaged" in m and "rebuild" in m and str(store) in m for m in warnings), warnings
        assert status["workspaces"][0]["files"] == 2  # a.md, large.md
        assert WORD in await offered(client, folder, "zorb")
    async with lsp_client("--model", str(tiny_model_path), data_dir=data, root=folder) as client:
        await wait_status(client, settled, 60)
        assert not [m for m in client.messages if m.type == types.MessageType.Warning]  # saved sound


async def test_learns_saves_and_changes_on_disk_and_forgets_deleted_files(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    folder, data = notes_folder(tmp_path), tmp_path / "data"
    async with lsp_client("--model", str(tiny_model_path), data_dir=data, root=folder) as client:
        await wait_status(client, settled, 60)
        assert "quixotrel" not in await offered(client, folder, "quix")
        saved = folder / "saved.md"
        await save(client, saved, "The quixotrel engine hums. A quixotrel engine again.\n")
        status = await wait_status(client, settled, 30)
        assert status["workspaces"][0]["files"] == 3  # a.md, large.md, saved.md
        assert "quixotrel" in await offered(client, folder, "quix")
        # Written by another program, and told by the client's file watcher.
        other = folder / "sub" / "other.md"
        other.parent.mkdir()
        other.write_text("The plumbaxe tool and the plumbaxe handle.\n", encoding="utf-8")
        changes = [types.FileEvent(other.as_uri(), types.FileChangeType.Created)]
        client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes))
        await wait_status(client, lambda s: settled(s) and s["workspaces"][0]["files"] == 4, 30)
        assert "plumbaxe" in await offered(client, folder, "plumb")
        # Changed on disk: what it says now is learned, what it no longer says forgotten.
        other.write_text("The crumblewick tool and the crumblewick handle.\n", encoding="utf-8")
        changes = [types.FileEvent(other.as_uri(), types.FileChangeType.Changed)]
        client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes))
        await wait_status(client, lambda s: settled(s) and s["learning"]["notesTokens"] > 0, 30)
        await wait_for_word(client, folder, "crumb", "crumblewick")
        assert "plumbaxe" not in await offered(client, folder, "plumb")
        other.unlink()
        changes = [types.FileEvent(other.as_uri(), types.FileChangeType.Deleted)]
        client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes))
        await wait_status(client, lambda s: settled(s) and s["workspaces"][0]["files"] == 3, 30)
        assert "plumbaxe" not in await offered(client, folder, "plumb")


async def test_files_outside_the_folders_have_a_store_of_their_own(tmp_path: Path, tiny_model_path: Path) -> None:
    folder, data = notes_folder(tmp_path), tmp_path / "data"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    async with lsp_client("--model", str(tiny_model_path), data_dir=data, root=folder) as client:
        await wait_status(client, settled, 60)
        await save(client, elsewhere / "loose.md", "The glimmerfox ran. A glimmerfox again.\n")
        status = await wait_status(client, lambda s: settled(s) and len(s["workspaces"]) == 2, 30)
        outside = status["workspaces"][1]
        assert outside["folder"] is None and outside["files"] == 1
        assert "glimmerfox" in await offered(client, folder, "glimm")
    options = {"learning": {"outsideFolders": False}}
    async with lsp_client("--model", str(tiny_model_path), data_dir=data, root=folder, init_options=options) as client:
        await wait_status(client, settled, 60)
        await save(client, elsewhere / "loose2.md", "The brandlewick burned. A brandlewick again.\n")
        status = await wait_status(client, settled, 30)
        assert [w["folder"] for w in status["workspaces"]] == [str(folder)]
        assert "brandlewick" not in await offered(client, folder, "brandl")
        assert "glimmerfox" not in await offered(client, folder, "glimm")


async def test_forget_deletes_the_store_and_what_is_held(tmp_path: Path, tiny_model_path: Path) -> None:
    folder, data = notes_folder(tmp_path), tmp_path / "data"
    options = {"learning": {"enabled": True}}
    async with lsp_client("--model", str(tiny_model_path), data_dir=data, root=folder, init_options=options) as client:
        await wait_status(client, settled, 60)
        [store] = (data / "workspaces").iterdir()
        (folder / "a.md").unlink()  # what it learned from stays until forgotten
        assert WORD in await offered(client, folder, "zorb")
        answer = await command(client, "nextword.forgetWorkspace", folder.as_uri())
        assert answer["forgotten"] == [str(folder)]
        status = await wait_status(client, settled, 30)
        assert status["workspaces"][0]["files"] == 1  # read again: large.md is all that is left
        assert WORD not in await offered(client, folder, "zorb")
        assert not store.exists() or WORD not in store.read_bytes().decode("utf-8", "replace")
        for notes in (data / "notes").iterdir():  # no copy of the forgotten notes is left
            assert WORD not in notes.read_bytes().decode("utf-8", "replace")
        with pytest.raises(Exception, match="folder path or URI"):
            await command(client, "nextword.forgetWorkspace", 42)


async def test_learning_off(tmp_path: Path, tiny_model_path: Path) -> None:
    folder, data = notes_folder(tmp_path), tmp_path / "data"
    options = {"learning": {"enabled": False}}
    async with lsp_client("--model", str(tiny_model_path), data_dir=data, root=folder, init_options=options) as client:
        status = await wait_status(client, settled, 60)
        assert [w["state"] for w in status["workspaces"]] == ["off"]
        assert WORD not in await offered(client, folder, "zorb")
        await save(client, folder / "saved.md", "The quixotrel engine hums.\n")
        await wait_status(client, settled, 30)
        assert "quixotrel" not in await offered(client, folder, "quix")
        assert not (data / "workspaces").exists() or not list((data / "workspaces").iterdir())
        # Turned on while running: the folder is read.
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"nextword": {"learning": {"enabled": True}}})
        )
        status = await wait_status(client, lambda s: settled(s) and s["workspaces"][0]["state"] == "ready", 60)
        assert WORD in await offered(client, folder, "zorb")


async def test_two_folders(tmp_path: Path, tiny_model_path: Path) -> None:
    first, second, data = notes_folder(tmp_path), tmp_path / "second", tmp_path / "data"
    second.mkdir()
    (second / "x.md").write_text("The vantablorp shade. A vantablorp wall.\n", encoding="utf-8")
    async with lsp_client("--model", str(tiny_model_path), data_dir=data, folders=[first, second]) as client:
        status = await wait_status(client, settled, 60)
        assert [(w["folder"], w["state"], w["files"]) for w in status["workspaces"]] == [
            (str(first), "ready", 2),
            (str(second), "ready", 1),
        ]
        assert WORD in await offered(client, second, "zorb")
        assert "vantablorp" in await offered(client, first, "vantab")
        assert len(list((data / "workspaces").iterdir())) == 2


async def test_past_the_word_cap_files_are_left_out_and_said(tmp_path: Path, tiny_model_path: Path) -> None:
    folder, data = notes_folder(tmp_path), tmp_path / "data"
    (folder / "b.md").write_text("The quixotrel engine hums. " * 20, encoding="utf-8")
    options = {"learning": {"maxWords": 30}}  # a.md's 16 words fit; b.md's and large.md's do not
    async with lsp_client("--model", str(tiny_model_path), data_dir=data, root=folder, init_options=options) as client:
        status = await wait_status(client, settled, 60)
        [entry] = status["workspaces"]
        assert (entry["files"], entry["leftOut"]) == (1, 2) and entry["words"] <= 30
        warnings = [m.message for m in client.messages if m.type == types.MessageType.Warning]
        assert any("learning.maxWords" in m and "2 files" in m for m in warnings), warnings
        assert WORD in await offered(client, folder, "zorb")
        assert "quixotrel" not in await offered(client, folder, "quix")
