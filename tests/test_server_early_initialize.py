"""End to end: ``initialize`` is answered before the server has finished starting, and that
answer says what pygls's own would (the server logs a warning where they differ); the
messages behind it, unsound params and stdin from a file still reach the server intact."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from nextword.server.capabilities import initialize_result
from nextword.server.early_initialize import EarlyInitialize
from server_support import RawClient, build_tiny_model, server_command, server_env

EARLY = "answered initialize before the server finished starting"
DIFFERENT = "answered early with"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


async def start(tiny_model: Path, tmp_path: Path) -> tuple[asyncio.subprocess.Process, RawClient, Path]:
    log = tmp_path / "server.log"
    proc = await asyncio.create_subprocess_exec(
        *server_command("--model", str(tiny_model), "--log-level", "debug", "--log-file", str(log)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=server_env(tmp_path),
    )
    return proc, RawClient(proc.stdout, proc.stdin), log  # type: ignore[arg-type]


async def stop(proc: asyncio.subprocess.Process, client: RawClient) -> None:
    assert "error" not in await client.request("shutdown", None)
    client.notify("exit", None)
    assert await asyncio.wait_for(proc.wait(), 20) == 0


# Clients of many kinds: what each offers decides the position encoding, the will-save
# answers and the trigger characters.
CLIENTS: dict[str, dict[str, Any]] = {
    "bare": {"processId": None, "rootUri": None, "capabilities": {}},
    "utf-8 first": {
        "processId": 1,
        "rootUri": None,
        "capabilities": {"general": {"positionEncodings": ["utf-8", "utf-16"]}},
    },
    "utf-32 only": {"processId": None, "capabilities": {"general": {"positionEncodings": ["utf-32"]}}},
    "unknown encodings": {"processId": None, "capabilities": {"general": {"positionEncodings": ["latin-1", "ebcdic"]}}},
    "empty general": {"processId": None, "capabilities": {"general": {}}},
    "will save": {
        "processId": None,
        "capabilities": {
            "textDocument": {"synchronization": {"willSave": True, "willSaveWaitUntil": False, "didSave": True}}
        },
    },
    "will save wait only": {
        "processId": None,
        "capabilities": {"textDocument": {"synchronization": {"willSaveWaitUntil": True}}},
    },
    "notebooks and file operations": {
        "processId": None,
        "capabilities": {
            "notebookDocument": {"synchronization": {"dynamicRegistration": False}},
            "workspace": {
                "fileOperations": {"didCreate": True, "willRename": True},
                "configuration": True,
                "workspaceFolders": True,
            },
        },
        "workspaceFolders": [{"uri": "file:///tmp/notes", "name": "notes"}],
    },
    "trigger settings": {
        "processId": None,
        "capabilities": {},
        "initializationOptions": {"nextword": {"triggerCharacters": ["@", " ", "("]}},
    },
    "flat settings": {
        "processId": None,
        "capabilities": {},
        "initializationOptions": {"triggerCharacters": ["%"], "maxItems": 3},
    },
    "bad settings": {
        "processId": None,
        "capabilities": {},
        "initializationOptions": {"nextword": {"triggerCharacters": "not a list", "maxItems": -4}},
    },
    "options not an object": {"processId": None, "capabilities": {}, "initializationOptions": [1, 2]},
    "root path": {"processId": None, "rootPath": "/tmp", "capabilities": {"window": {"workDoneProgress": True}}},
}


@pytest.mark.parametrize("name", CLIENTS)
async def test_the_early_answer_is_the_servers_own(tiny_model: Path, tmp_path: Path, name: str) -> None:
    params = CLIENTS[name]
    proc, client, log = await start(tiny_model, tmp_path)
    answer = await client.request("initialize", params)
    assert answer["result"] == initialize_result(params)
    client.notify("initialized", {})
    await stop(proc, client)
    text = log.read_text()
    assert EARLY in text
    assert DIFFERENT not in text and "refused" not in text, text[-2000:]


async def test_an_answer_and_the_messages_behind_it_in_one_write(tiny_model: Path, tmp_path: Path) -> None:
    """The client sends initialize, initialized and a document in one go: the early reader
    takes them all from the pipe, and the server must still see the ones it did not answer."""
    proc, client, log = await start(tiny_model, tmp_path)
    text = "alpha beta gamma alpha beta gamma alp"
    client.writer.write(
        frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": CLIENTS["bare"]})
        + frame({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        + frame(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {
                    "textDocument": {"uri": "file:///a.md", "languageId": "markdown", "version": 1, "text": text}
                },
            }
        )
    )
    first = await asyncio.wait_for(client.receive(), 30)
    assert first["id"] == 1 and "capabilities" in first["result"]
    client.next_id = 1
    items = (
        await client.request(
            "textDocument/completion",
            {"textDocument": {"uri": "file:///a.md"}, "position": {"line": 0, "character": len(text)}},
        )
    )["result"]["items"]
    assert "alpha" in [item["label"] for item in items]
    await stop(proc, client)
    assert client.stdout.count(b'"id":1,') + client.stdout.count(b'"id": 1,') == 1  # answered once
    assert EARLY in log.read_text()


async def test_params_the_server_cannot_read_still_start_it(tiny_model: Path, tmp_path: Path) -> None:
    """Params that look sound to the early reader but not to the protocol's schema: the
    client already has its answer, so the server starts from what that answer used."""
    params = {
        "processId": None,
        "capabilities": {"general": {"positionEncodings": ["utf-8"]}},
        "workspaceFolders": "not a list",
    }
    proc, client, log = await start(tiny_model, tmp_path)
    answer = await client.request("initialize", params)
    assert answer["result"]["capabilities"]["positionEncoding"] == "utf-8"
    client.notify("initialized", {})
    status = (await client.request("workspace/executeCommand", {"command": "nextword.status", "arguments": []}))[
        "result"
    ]
    assert status["positionEncoding"] == "utf-8"
    await stop(proc, client)
    assert "do not fit the protocol" in log.read_text()


@pytest.mark.parametrize(
    "params, refused",
    [
        (None, True),
        ({"processId": None}, True),
        ({"processId": "me", "capabilities": {}}, True),
        ({"processId": None, "capabilities": {"general": {"positionEncodings": "utf-8"}}}, False),
    ],
    ids=["none", "no capabilities", "process id text", "encodings not a list"],
)
async def test_unsound_params_are_left_to_the_server(
    tiny_model: Path, tmp_path: Path, params: Any, refused: bool
) -> None:
    proc, client, log = await start(tiny_model, tmp_path)
    answer = await client.request("initialize", params)
    if refused:
        assert answer["error"]["code"] == -32602  # InvalidParams, from the server itself
    else:
        assert answer["result"]["capabilities"]["positionEncoding"] == "utf-16"
    assert EARLY not in log.read_text()
    proc.kill()
    await proc.wait()


def test_stdin_from_a_file(tiny_model: Path, tmp_path: Path) -> None:
    """Not a pipe: the server reads the rest of stdin on a thread, after the early reader's bytes."""
    script = tmp_path / "session.jsonrpc"
    script.write_bytes(
        frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": CLIENTS["utf-8 first"]})
        + frame({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        + frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None})
        + frame({"jsonrpc": "2.0", "method": "exit", "params": None})
    )
    with script.open("rb") as stdin:
        done = subprocess.run(
            server_command("--model", str(tiny_model)),
            stdin=stdin,
            capture_output=True,
            env=server_env(tmp_path),
            timeout=60,
        )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    bodies = [json.loads(part[part.index(b"{") :]) for part in done.stdout.split(b"Content-Length")[1:]]
    answers = [b for b in bodies if "id" in b and "method" not in b]
    assert [a["id"] for a in answers] == [1, 2]
    assert answers[0]["result"] == initialize_result(CLIENTS["utf-8 first"])


def test_the_early_reader_hands_over_every_byte(tmp_path: Path) -> None:
    """In-process, over pipes: a first message split across writes is answered once it is
    whole, and everything read (the rest of the next message too) is handed over."""
    client_to_server, server_in = os.pipe()
    server_out, client_from_server = os.pipe()
    request = frame({"jsonrpc": "2.0", "id": "init-1", "method": "initialize", "params": CLIENTS["trigger settings"]})
    following = frame({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    early = EarlyInitialize(client_to_server, client_from_server).start()
    os.write(server_in, request[:10])
    os.write(server_in, request[10:] + following[:7])
    read = early.finish()
    assert read == request + following[:7]
    assert early.answered is not None and early.answered["id"] == "init-1"
    answer = os.read(server_out, 1 << 16)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head == b"Content-Length: %d" % len(body)
    message = json.loads(body)
    assert message == {"jsonrpc": "2.0", "id": "init-1", "result": initialize_result(CLIENTS["trigger settings"])}
    assert message["result"]["capabilities"]["completionProvider"]["triggerCharacters"][:2] == ["@", " "]
    for fd in (client_to_server, server_in, server_out, client_from_server):
        os.close(fd)


@pytest.mark.parametrize(
    "first",
    [
        frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
        frame({"jsonrpc": "2.0", "id": True, "method": "initialize", "params": CLIENTS["bare"]}),
        b"Content-Length: 5\r\n\r\n{nope",
        b"Content-Type: x\r\n\r\n{}",
        b"",
    ],
    ids=["not initialize", "odd id", "not json", "no length", "closed"],
)
def test_the_early_reader_answers_nothing_else(first: bytes) -> None:
    client_to_server, server_in = os.pipe()
    server_out, client_from_server = os.pipe()
    early = EarlyInitialize(client_to_server, client_from_server).start()
    os.write(server_in, first)
    os.close(server_in)
    assert early.finish() == first
    assert early.answered is None
    os.close(client_from_server)
    assert os.read(server_out, 1024) == b""
    os.close(client_to_server)
    os.close(server_out)
