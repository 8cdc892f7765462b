"""End to end: bad requests get an error response or an empty answer and never stop the
server; stdout carries nothing but protocol; TCP; exit when the client goes away."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from server_support import (
    SAMPLE,
    RawClient,
    build_tiny_model,
    command,
    complete,
    lsp_client,
    open_doc,
    server_command,
    server_env,
    wait_ready,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")


INIT = {"processId": None, "rootUri": None, "capabilities": {}}
# A client that can be asked for its settings: the server asks at once, and waits for the answer.
INIT_PULLING = {"processId": None, "rootUri": None, "capabilities": {"workspace": {"configuration": True}}}


async def raw_server(model: Path, data_dir: Path, stderr: int) -> RawClient:
    """A server subprocess on ``model`` and a bare client of it (``client.proc``: the process)."""
    proc = await asyncio.create_subprocess_exec(
        *server_command("--model", str(model)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
        env=server_env(data_dir),
    )
    client = RawClient(proc.stdout, proc.stdin)  # type: ignore[arg-type]
    client.proc = proc  # type: ignore[attr-defined]
    return client


@pytest_asyncio.fixture(loop_scope="module")
async def raw(tiny_model: Path, tmp_path: Path):
    client = await raw_server(tiny_model, tmp_path, asyncio.subprocess.DEVNULL)
    proc = client.proc  # type: ignore[attr-defined]
    result = await client.request("initialize", INIT)
    assert result["result"]["capabilities"]["positionEncoding"] == "utf-16"
    client.notify("initialized", {})
    yield client
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


async def test_malformed_params_get_an_error_response(raw: RawClient) -> None:
    bad = [
        ("textDocument/completion", {"textDocument": 5}),
        (
            "textDocument/completion",
            {"textDocument": {"uri": "file:///x.md"}, "position": {"line": "one", "character": 0}},
        ),
        ("textDocument/inlineCompletion", None),
        ("workspace/executeCommand", {"command": 42}),
    ]
    for method, params in bad:
        response = await raw.request(method, params)
        assert response["error"]["code"] == types.ErrorCodes.InvalidParams, (method, response)
    unknown = await raw.request("nextword/noSuchMethod", {})
    assert unknown["error"]["code"] == types.ErrorCodes.MethodNotFound
    raw.send(b"{this is not json")
    raw.notify("textDocument/didChange", {"textDocument": {"uri": 3}})
    status = await raw.request("workspace/executeCommand", {"command": "nextword.status"})
    assert status["result"]["documentsOpen"] == 0  # still answering


async def test_stdout_carries_only_protocol(raw: RawClient) -> None:
    raw.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": "file:///a.md", "languageId": "markdown", "version": 1, "text": SAMPLE + "The mo"}},
    )
    for _ in range(50):
        status = await raw.request("workspace/executeCommand", {"command": "nextword.status"})
        if status["result"]["state"] == "ready":
            break
        await asyncio.sleep(0.1)
    lines = SAMPLE.count("\n")
    response = await raw.request(
        "textDocument/completion",
        {"textDocument": {"uri": "file:///a.md"}, "position": {"line": lines, "character": 6}},
    )
    assert response["result"]["items"]
    assert (await raw.request("shutdown", None))["result"] is None
    late = await raw.request("workspace/executeCommand", {"command": "nextword.status"})
    assert late["error"]["code"] == types.ErrorCodes.InvalidRequest  # answered, not dropped
    raw.notify("exit", None)
    proc = raw.proc  # type: ignore[attr-defined]
    rest = await asyncio.wait_for(proc.stdout.read(), 10)
    assert await asyncio.wait_for(proc.wait(), 10) == 0
    assert rest == b""  # and every byte before was read as a framed message by `receive`


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc to see the server's libraries")
async def test_the_server_predicts_without_loading_pytorch(raw: RawClient) -> None:
    """On nextword's C kernels the server reads the model and predicts without PyTorch, whose
    import alone takes seconds and whose libraries hold memory: none of them is mapped."""
    raw.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": "file:///a.md", "languageId": "markdown", "version": 1, "text": SAMPLE}},
    )
    for _ in range(100):
        status = (await raw.request("workspace/executeCommand", {"command": "nextword.status"}))["result"]
        if status["state"] == "ready":
            break
        await asyncio.sleep(0.1)
    if status["predictionKernels"] != "nextword":
        pytest.skip("the C kernels do not run here: the portable path runs on PyTorch")
    lines = SAMPLE.count("\n")
    response = await raw.request(
        "textDocument/completion",
        {"textDocument": {"uri": "file:///a.md"}, "position": {"line": lines, "character": 0}},
    )
    assert response["result"]["items"]
    maps = Path(f"/proc/{raw.proc.pid}/maps").read_text()  # type: ignore[attr-defined]
    assert "libtorch" not in maps and "/torch/" not in maps


RELOAD = {
    "jsonrpc": "2.0",
    "id": 99,
    "method": "workspace/executeCommand",
    "params": {"command": "nextword.reloadModel"},
}


async def stopped_with_settings_asked(model: Path, data_dir: Path, stop) -> tuple[int, str]:
    """Start a server, let it ask for the settings, leave it unanswered, ask it to reload its
    model, and ``stop(client)`` at once: the exit status and stderr. (The handlers still at
    work are cancelled as the server exits, and their answers cannot be sent.)"""
    client = await raw_server(model, data_dir, asyncio.subprocess.PIPE)
    proc = client.proc  # type: ignore[attr-defined]
    assert "result" in await client.request("initialize", INIT_PULLING)
    client.notify("initialized", {})
    asked = await asyncio.wait_for(client.receive(), 20)
    assert asked["method"] == "workspace/configuration"
    client.send(RELOAD)
    stop(client)
    status = await asyncio.wait_for(proc.wait(), 20)
    return status, (await proc.stderr.read()).decode()  # type: ignore[union-attr]


async def test_exit_without_shutdown_exits_with_status_1(tiny_model: Path, tmp_path: Path) -> None:
    status, stderr = await stopped_with_settings_asked(tiny_model, tmp_path, lambda c: c.notify("exit", None))
    assert status == 1  # LSP: exit before shutdown is 1
    assert "Traceback" not in stderr, stderr


async def test_exits_when_the_client_goes_away(tiny_model: Path, tmp_path: Path) -> None:
    status, stderr = await stopped_with_settings_asked(tiny_model, tmp_path, lambda c: c.writer.close())
    assert status == 0 and "Traceback" not in stderr, stderr


async def test_exits_when_the_client_goes_away_in_the_middle_of_a_message(tiny_model: Path, tmp_path: Path) -> None:
    def half_a_message(client: RawClient) -> None:
        client.writer.write(b'Content-Length: 200\r\n\r\n{"jsonrpc": "2.0", "method": "initi')
        client.writer.close()

    status, stderr = await stopped_with_settings_asked(tiny_model, tmp_path, half_a_message)
    assert status == 0 and "Traceback" not in stderr, stderr


async def test_a_header_line_too_long_to_be_one_stops_the_server_quietly(tiny_model: Path, tmp_path: Path) -> None:
    def no_end_of_line(client: RawClient) -> None:
        client.writer.write(b"X" * 200_000)
        client.writer.close()

    status, stderr = await stopped_with_settings_asked(tiny_model, tmp_path, no_end_of_line)
    assert status == 0 and "Traceback" not in stderr, stderr
    assert "header line too long" in stderr


async def test_the_event_loop_watches_pipes_and_sockets_not_files(tmp_path: Path) -> None:
    from nextword.server.stdio_transport import watchable

    read_end, write_end = os.pipe()
    with open(read_end, "rb") as pipe, open(write_end, "wb"), socket.socket() as sock:
        assert watchable(pipe) and watchable(sock.makefile("rb"))
    (tmp_path / "f").write_bytes(b"")
    with open(tmp_path / "f", "rb") as file, open(os.devnull, "rb") as devnull:
        assert not watchable(file) and not watchable(devnull)


async def test_no_traceback_when_the_client_goes_away_owed_answers(tiny_model: Path, tmp_path: Path) -> None:
    """The client closes both pipes with requests under way: the answers are dropped quietly."""
    stderr = tmp_path / "stderr"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            server_command("--model", str(tiny_model)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env=server_env(tmp_path),
        )
    assert proc.stdin is not None and proc.stdout is not None
    text = SAMPLE * 40 + "The mo"
    messages = [
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": "file:///a.md", "languageId": "markdown", "version": 1, "text": text}},
        },
        *(
            {
                "jsonrpc": "2.0",
                "id": 10 + i,
                "method": "textDocument/completion",
                "params": {
                    "textDocument": {"uri": "file:///a.md"},
                    "position": {"line": text.count("\n"), "character": 6},
                },
            }
            for i in range(5)
        ),
        RELOAD,
    ]
    for message in [{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INIT}, *messages]:
        body = json.dumps(message).encode()
        proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        proc.stdin.flush()
        if message["method"] == "initialize":
            assert proc.stdout.readline().startswith(b"Content-Length")  # started, and answering
    proc.stdout.close()
    proc.stdin.close()
    assert proc.wait(20) == 0
    assert "Traceback" not in stderr.read_text(), stderr.read_text()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    async with lsp_client("--model", str(tiny_model), data_dir=tmp_path_factory.mktemp("data")) as c:
        await wait_ready(c)
        yield c


async def test_unknown_document_and_positions_past_the_end(client) -> None:
    assert not (await complete(client, "file:///never-opened.md", 0, 0)).items
    inline = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            text_document=types.TextDocumentIdentifier("file:///never-opened.md"),
            position=types.Position(0, 0),
        )
    )
    assert inline is None
    open_doc(client, "file:///short.md", "one line\nThe mo")
    assert not (await complete(client, "file:///short.md", 7, 0)).items
    # A character past the end of its line means the end of the line.
    assert [i.label for i in (await complete(client, "file:///short.md", 1, 999)).items]
    # Changes to a document that is not open, or past its end, do not break anything.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri="file:///ghost.md", version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="boo")],
        )
    )
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri="file:///short.md", version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(40, 0), types.Position(41, 3)), text="del"
                )
            ],
        )
    )
    # The change past the end was appended: the line reads "The model" now, so inside the word
    # "mod" is typed (a line of "The mo" would end at character 6).
    result = await complete(client, "file:///short.md", 1, 7)
    assert result.items and all(i.label.startswith("mod") for i in result.items)
    assert result.items[0].text_edit.range == types.Range(types.Position(1, 4), types.Position(1, 7))
    status = await command(client, "nextword.status")
    assert status["documentsOpen"] == 1
    with pytest.raises(JsonRpcException):
        await command(client, "nextword.noSuchCommand")


async def test_cancelled_and_overtaken_requests(client) -> None:
    text = SAMPLE * 20 + "The mo"
    open_doc(client, "file:///burst.md", text)
    line = text.count("\n")
    # A burst of requests for one document: each gets an answer, the last a full one.
    results = await asyncio.gather(*(complete(client, "file:///burst.md", line, 6) for _ in range(20)))
    assert results[-1].items and all(isinstance(r, types.CompletionList) for r in results)
    # $/cancelRequest: a request still waiting for the model is answered as cancelled.
    busy = [f"file:///busy/{i}.md" for i in range(10)]
    for uri in busy:
        open_doc(client, uri, SAMPLE * 6 + f" {uri} ")  # under 4096 characters: read whole, slowly
    pending = [asyncio.ensure_future(complete(client, uri, SAMPLE.count("\n") * 6, 10, invoked=True)) for uri in busy]
    # A long document just opened keeps the model busy reading it, so a request for it waits;
    # one typed at the end of a document whose state is ready may be answered at once.
    long_text = SAMPLE * 200 + "The mo"
    open_doc(client, "file:///long.md", long_text)
    future = client.protocol.send_request(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier("file:///long.md"),
            position=types.Position(long_text.count("\n"), 6),
        ),
        msg_id="to-cancel",
    )
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="to-cancel"))
    with pytest.raises(Exception) as error:
        await asyncio.wrap_future(future)
    assert (
        getattr(error.value, "code", None) == types.LSPErrorCodes.RequestCancelled
        or "cancel" in str(error.value).lower()
    )
    await asyncio.gather(*pending)
    assert (await complete(client, "file:///burst.md", line, 6)).items


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_tcp(tiny_model: Path, tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            *server_command("--tcp", "--port", str(port), "--model", str(tiny_model)),
            "--log-file",
            str(tmp_path / "log"),
        ],
        env=server_env(tmp_path),
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "the TCP server never listened"
                await asyncio.sleep(0.05)
        client = RawClient(reader, writer)
        result = await client.request("initialize", INIT)
        assert "completionProvider" in result["result"]["capabilities"]
        client.notify("initialized", {})
        client.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": "file:///t.md",
                    "languageId": "markdown",
                    "version": 1,
                    "text": "the theory the th",
                }
            },
        )
        response = await client.request(
            "textDocument/completion",
            {"textDocument": {"uri": "file:///t.md"}, "position": {"line": 0, "character": 17}},
        )
        assert isinstance(response["result"]["items"], list)
        await client.request("shutdown", None)
        client.notify("exit", None)
        writer.close()
    finally:
        proc.terminate()
        proc.wait(10)
    assert "127.0.0.1" in (tmp_path / "log").read_text()


async def test_a_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*server_command("--tcp", "--port", str(port))],
            env=server_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "choose another --port" in result.stderr


async def test_stdin_at_its_end_and_a_log_file_that_cannot_be_written(tmp_path: Path) -> None:
    """/dev/null as stdin: the server sees the end of its input and exits. A folder given as
    the log file: said, and the logs go to stderr."""
    with open(os.devnull, "rb") as devnull:
        result = subprocess.run(
            [*server_command("--log-file", str(tmp_path))],
            stdin=devnull,
            env=server_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert f"cannot write the log file {tmp_path}" in result.stderr
