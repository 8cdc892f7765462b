"""End to end: settings from initializationOptions, didChangeConfiguration and
workspace/configuration; bad values; the --model flag; logs without document text."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lsprotocol import types
from server_support import (
    SAMPLE,
    build_tiny_model,
    command,
    complete,
    end_position,
    lsp_client,
    open_doc,
    wait_for,
    wait_ready,
    wait_status,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET = "Quixotically"  # a word that appears only in a document, never in settings or messages


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {
        "a": build_tiny_model(folder / "a.safetensors", seed=0),
        "b": build_tiny_model(folder / "b.safetensors", seed=3, text=SAMPLE + " zebra zone " * 5),
    }


def warnings_of(client) -> list[str]:
    return [m.message for m in client.messages if m.type in (types.MessageType.Warning, types.MessageType.Error)]


async def test_bad_initialization_options_are_named_and_defaults_used(models: dict[str, Path], tmp_path: Path) -> None:
    init = {
        "modelPath": str(models["a"]),
        "maxItems": "lots",
        "inline": {"maxWords": 0},
        "logLevel": "loud",
        "minProbability": 0.5,
    }
    async with lsp_client(data_dir=tmp_path, init_options=init) as client:
        status = await wait_ready(client)
        shown = warnings_of(client)
        assert any("maxItems" in m and "default 10" in m for m in shown)
        assert any("inline.maxWords" in m and "default 4" in m for m in shown)
        assert any("logLevel" in m and 'default "info"' in m for m in shown)
        assert status["settings"]["maxItems"] == 10 and status["settings"]["minProbability"] == 0.5
        assert status["model"] == str(models["a"])


async def test_pushed_and_pulled_settings(models: dict[str, Path], tmp_path: Path) -> None:
    configuration = {"nextword": {"maxItems": 4}}
    async with lsp_client(
        "--log-file",
        str(tmp_path / "server.log"),
        data_dir=tmp_path,
        configuration=configuration,
        init_options={"modelPath": str(models["a"])},
    ) as client:
        await wait_ready(client)
        # Pulled at start (workspace/configuration) and laid over the initializationOptions.
        status = await wait_status(client, lambda s: s["settings"]["maxItems"] == 4)
        assert status["model"] == str(models["a"])
        text = SAMPLE + "The "
        open_doc(client, "file:///s.md", text)
        assert len((await complete(client, "file:///s.md", *end_position(text), invoked=True)).items) == 4
        # Pushed: the settings in the notification itself.
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"nextword": {"maxItems": 2, "modelPath": str(models["a"])}})
        )
        await wait_status(client, lambda s: s["settings"]["maxItems"] == 2)
        assert len((await complete(client, "file:///s.md", *end_position(text), invoked=True)).items) == 2
        # A notification without settings: the server asks for them.
        client.set_configuration({"nextword": {"maxItems": 3, "modelPath": str(models["b"])}})
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        status = await wait_ready(client, models["b"])
        assert status["settings"]["maxItems"] == 3
        # A bad pushed value: named, with the default used, and the server carries on.
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={"nextword": {"minProbability": "high", "modelPath": str(models["b"])}}
            )
        )
        await wait_for(lambda: any("minProbability" in m and "default 0.75" in m for m in warnings_of(client)))
        assert (await command(client, "nextword.status"))["settings"]["minProbability"] == 0.75
        # A folder where the model file should be: said, and the loaded model stays.
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"nextword": {"modelPath": str(tmp_path)}})
        )
        await wait_for(
            lambda: any("is a folder" in m and "Keeping the model already loaded" in m for m in warnings_of(client))
        )
        status = await command(client, "nextword.status")
        assert status["model"] == str(models["b"]) and status["state"] == "ready"
        # A section that is not an object at all: said too.
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"nextword": [1, 2]}))
        await wait_for(lambda: any("settings must be an object, not [1, 2]" in m for m in warnings_of(client)))
        assert (await command(client, "nextword.status"))["settings"]["maxItems"] == 10
        # Any ASCII punctuation can become a trigger at once (the editor was told them all at
        # start); another character only when the server starts with it: said.
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"nextword": {"triggerCharacters": [" ", "@", "§"]}})
        )
        await wait_for(
            lambda: any("triggerCharacters" in m and "'§'" in m and "'@'" not in m for m in warnings_of(client))
        )


async def test_relative_model_path_and_the_model_flag(models: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "workspace"
    root.mkdir()
    shutil.copyfile(models["b"], root / "mine.safetensors")
    async with lsp_client(data_dir=tmp_path, root=root, init_options={"modelPath": "mine.safetensors"}) as client:
        await wait_ready(client, root / "mine.safetensors")
    async with lsp_client(
        "--model", str(models["a"]), data_dir=tmp_path, root=root, init_options={"modelPath": "mine.safetensors"}
    ) as client:
        status = await wait_ready(client)
        assert status["model"] == str(models["a"])  # the flag wins


async def test_document_text_is_logged_only_when_tracing(models: dict[str, Path], tmp_path: Path) -> None:
    log_file = tmp_path / "server.log"
    init = {"modelPath": str(models["a"]), "logLevel": "debug"}
    async with lsp_client("--log-file", str(log_file), data_dir=tmp_path, init_options=init) as client:
        await wait_ready(client)

        async def work(uri: str) -> None:
            text = f"{SECRET} notes: the model reads the {SECRET.lower()} q"
            open_doc(client, uri, text)
            await complete(client, uri, 0, len(text))
            await complete(client, uri, 0, 5)
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=text + f" {SECRET}")],
                )
            )
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3), content_changes=[]
                )
            )
            await command(client, "nextword.status")

        await work("file:///quiet.md")
        quiet = log_file.read_text()
        assert "nextword" in quiet and "opened file:///quiet.md" in quiet  # it did log, at debug
        assert SECRET not in quiet and SECRET.lower() not in quiet
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"nextword": {**init, "logLevel": "trace"}})
        )
        await wait_status(client, lambda s: s["settings"]["logLevel"] == "trace")
        await work("file:///traced.md")
    assert SECRET in log_file.read_text()
