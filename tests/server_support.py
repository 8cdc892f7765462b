"""Helpers for the language-server tests: a tiny model, and a client talking to a real
``python -m nextword.server`` subprocess over stdio (pytest-lsp)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

SAMPLE = """\
The quick brown fox jumps over the lazy dog. The dog sleeps in the sun all day.
A language model predicts the next word from the words before it. The model reads
the text one word at a time and keeps a state for the context. The next word is
often the one the model likes best, and the model is often right about the next word.
Notes about the model: the server offers words while you type, and the words come
with their probabilities. The quick answer is the best answer when the answer is right.
"""


def build_tiny_model(path: Path, seed: int = 0, text: str = SAMPLE) -> Path:
    """A small random-weight model on ``text``'s vocabulary (deterministic per seed)."""
    import torch

    torch.set_num_threads(1)  # reference predictions here must not fight the server for the cores
    from nextword.model import LanguageModel, ModelConfig, Vocabulary, save_checkpoint, tokenize
    from nextword.model.word_parts import count_parts

    tokens = tokenize(text)
    vocab = Vocabulary.build(Counter(tokens), min_count=1, max_size=2000)
    torch.manual_seed(seed)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), emb_dim=32, hidden_dim=64, num_layers=2, proj_dim=0))
    model.set_word_parts(torch.from_numpy(count_parts(vocab.encode(tokens), vocab)))  # as training counts it
    save_checkpoint(path, model, vocab, info={"seed": seed, "corpus": "tests"})
    return path


def server_command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "nextword.server", *extra]


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["NEXTWORD_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def capabilities(position_encodings: list[str] | None = None, rich_items: bool = False) -> types.ClientCapabilities:
    """Neovim's capabilities, optionally with the given position encodings offered, and
    with ``rich_items`` the completion items of VS Code (label details, insert/replace)."""
    caps = client_capabilities("neovim")
    if position_encodings is not None:
        caps.general = caps.general or types.GeneralClientCapabilities()
        caps.general.position_encodings = position_encodings  # type: ignore[assignment]
    if rich_items:
        item = caps.text_document.completion.completion_item  # type: ignore[union-attr]
        item.label_details_support = True
        item.insert_replace_support = True
    return caps


@contextlib.asynccontextmanager
async def lsp_client(
    *args: str,
    data_dir: Path,
    init_options: Any = None,
    caps: types.ClientCapabilities | None = None,
    configuration: dict[str, Any] | None = None,
    root: Path | None = None,
    env: dict[str, str] | None = None,
    folders: list[Path] | None = None,
) -> AsyncIterator[LanguageClient]:
    """A client connected to a fresh server, initialized, shut down afterwards; its workspace
    folders are ``folders``, else ``root``."""
    folders = folders if folders is not None else [root] if root else None
    config = ClientServerConfig(server_command=server_command(*args), server_env=server_env(data_dir, **(env or {})))
    client: LanguageClient = await config.start()  # type: ignore[assignment]
    if configuration is not None:
        client.set_configuration(configuration)
    try:
        client.initialize_result = await client.initialize_session(  # type: ignore[attr-defined]
            types.InitializeParams(
                capabilities=caps or capabilities(),
                initialization_options=init_options,
                root_uri=root.as_uri() if root else None,
                workspace_folders=[types.WorkspaceFolder(uri=f.as_uri(), name=f.name) for f in folders]
                if folders
                else None,
            )
        )
        yield client
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 10)
        with contextlib.suppress(Exception):
            await client.stop()


async def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


async def command(client: LanguageClient, name: str, *arguments: Any) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(arguments) or None)
    )


async def wait_status(
    client: LanguageClient, check: Callable[[dict[str, Any]], bool], timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = await command(client, "nextword.status")
        if check(status):
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"server status never matched: {status}")
        await asyncio.sleep(0.1)


async def wait_ready(client: LanguageClient, model: Path | None = None, timeout: float = 30.0) -> dict[str, Any]:
    return await wait_status(
        client, lambda s: s["state"] == "ready" and (model is None or s["model"] == str(model)), timeout
    )


def open_doc(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="markdown", version=version, text=text)
        )
    )


def change(
    client: LanguageClient, uri: str, version: int, start: tuple[int, int], end: tuple[int, int], text: str
) -> None:
    rng = types.Range(types.Position(*start), types.Position(*end))
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=rng, text=text)],
        )
    )


async def complete(
    client: LanguageClient, uri: str, line: int, character: int, trigger: str | None = None, invoked: bool = False
) -> types.CompletionList:
    if trigger is not None:
        context = types.CompletionContext(
            trigger_kind=types.CompletionTriggerKind.TriggerCharacter, trigger_character=trigger
        )
    elif invoked:
        context = types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked)
    else:
        context = types.CompletionContext(trigger_kind=types.CompletionTriggerKind.TriggerForIncompleteCompletions)
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line, character),
            context=context,
        )
    )
    assert isinstance(result, types.CompletionList), result
    return result


def end_position(text: str) -> tuple[int, int]:
    """The LSP position (UTF-16) of the end of ``text``."""
    lines = text.split("\n")
    return len(lines) - 1, len(lines[-1].encode("utf-16-le")) // 2


class RawClient:
    """A bare JSON-RPC client over a byte stream, to send what a well-behaved client would not."""

    def __init__(self, reader: asyncio.StreamReader, writer: Any):
        self.reader, self.writer = reader, writer
        self.next_id = 0
        self.stdout = bytearray()  # every byte the server wrote

    def send(self, message: dict[str, Any] | bytes) -> None:
        body = message if isinstance(message, bytes) else json.dumps(message).encode()
        self.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def receive(self) -> dict[str, Any]:
        length = None
        while True:
            line = await self.reader.readline()
            self.stdout += line
            assert line.endswith(b"\r\n"), f"not a protocol header: {line!r}"
            if line == b"\r\n":
                break
            name, _, value = line.decode("ascii").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        assert length is not None, "a message without Content-Length"
        body = await self.reader.readexactly(length)
        self.stdout += body
        return json.loads(body)

    async def request(self, method: str, params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self.receive(), 30)
            if message.get("id") == self.next_id and "method" not in message:
                return message
            if "method" in message and "id" in message:  # a request from the server: answer it
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})
