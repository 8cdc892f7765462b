"""End to end: the commands (status, reloadModel, trainWorkspace with progress and cancel),
hot reload of a changed model file, and missing or broken models."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest
import pytest_asyncio
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

OTHER_TEXT = "Zebras graze quietly near the river while zebras watch the horizon. " * 3
FAKE_TRAINER = Path(__file__).with_name("server_fake_trainer.py")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {
        "a": build_tiny_model(folder / "a.safetensors", seed=0),
        "b": build_tiny_model(folder / "b.safetensors", seed=1, text=SAMPLE + OTHER_TEXT),
    }


def predict(model: Path, context: str, prefix: str, k: int = 10) -> list[str]:
    from nextword.model import InferenceNetwork, Predictor, load_checkpoint

    checkpoint = load_checkpoint(model)
    return [
        s.word
        for s in Predictor(InferenceNetwork.build(checkpoint.model), checkpoint.vocab).predict(context, prefix, k)
    ]


def words_of(result: types.CompletionList) -> list[str]:
    return [item.label for item in result.items]


async def test_status_and_reload(models: dict[str, Path], tmp_path: Path) -> None:
    async with lsp_client("--model", str(models["a"]), data_dir=tmp_path) as client:
        status = await wait_ready(client)
        from nextword.model import InferenceNetwork, load_checkpoint

        checkpoint = load_checkpoint(models["a"])
        assert status["model"] == str(models["a"]) and status["vocabularySize"] == len(checkpoint.vocab)
        assert status["predictionWeights"] == InferenceNetwork.build(checkpoint.model).precision
        assert status["predictionKernels"] == InferenceNetwork.build(checkpoint.model).kernels
        assert (
            status["loadSeconds"] > 0
            and status["loadedAt"]
            and status["error"] is None
            and status["modelInfo"]["seed"] == 0
        )
        open_doc(client, "file:///one.md", "one")
        open_doc(client, "file:///two.md", "two")
        status = await wait_status(client, lambda s: s["documentsOpen"] == 2)
        reloaded = await command(client, "nextword.reloadModel")
        assert reloaded["state"] == "ready" and reloaded["loads"] == status["loads"] + 1


async def test_hot_reload_without_dropping_requests(models: dict[str, Path], tmp_path: Path) -> None:
    model = tmp_path / "live.safetensors"
    shutil.copyfile(models["a"], model)
    async with lsp_client("--model", str(model), data_dir=tmp_path) as client:
        status = await wait_ready(client)
        text = SAMPLE + "The z"
        open_doc(client, "file:///hot.md", text)
        position = end_position(text)
        assert words_of(await complete(client, "file:///hot.md", *position)) == predict(
            models["a"], SAMPLE + "The ", "z"
        )
        # Replace the file the way `nextword train` does (write beside it, then rename).
        temp = tmp_path / "live.tmp"
        shutil.copyfile(models["b"], temp)
        os.replace(temp, model)
        answered = 0
        while True:  # keep asking while the new model loads: every request gets an answer
            result = await complete(client, "file:///hot.md", *position)
            assert isinstance(result, types.CompletionList)
            answered += 1
            status = await command(client, "nextword.status")
            if status["loads"] > 1:
                break
            assert answered < 400, "the changed model was never loaded"
            await asyncio.sleep(0.02)
        assert words_of(await complete(client, "file:///hot.md", *position)) == predict(
            models["b"], SAMPLE + "The ", "z"
        )


async def test_missing_model_then_it_appears(models: dict[str, Path], tmp_path: Path) -> None:
    model = tmp_path / "later.safetensors"
    async with lsp_client("--model", str(model), data_dir=tmp_path) as client:
        await wait_for(lambda: any(str(model) in m.message for m in client.messages))
        message = next(m for m in client.messages if str(model) in m.message)
        assert message.type == types.MessageType.Warning and "does not exist" in message.message
        status = await wait_status(client, lambda s: s["state"] == "missing")
        assert status["model"] is None
        # Meanwhile: the words of the document, most frequent first, never an error.
        text = "the theory then the theme the t"
        open_doc(client, "file:///words.md", text)
        result = await complete(client, "file:///words.md", 0, len(text))
        assert words_of(result) == ["the", "theme", "then", "theory"]
        assert all(item.text_edit.range.start.character == len(text) - 1 for item in result.items)
        assert not (await complete(client, "file:///words.md", 0, 4, trigger=" ")).items
        shutil.copyfile(models["a"], model)
        await wait_ready(client, model)
        assert words_of(await complete(client, "file:///words.md", 0, len(text))) == predict(
            models["a"], text[:-1], "t"
        )


async def test_a_broken_model_file_keeps_the_loaded_model(models: dict[str, Path], tmp_path: Path) -> None:
    model = tmp_path / "fragile.safetensors"
    shutil.copyfile(models["a"], model)
    async with lsp_client("--model", str(model), data_dir=tmp_path) as client:
        status = await wait_ready(client)
        model.write_bytes(b"this is not a model")
        await wait_for(
            lambda: any(
                "fragile.safetensors" in m.message and m.type == types.MessageType.Error for m in client.messages
            )
        )
        message = next(m for m in client.messages if "fragile.safetensors" in m.message).message
        assert "Keeping the model already loaded" in message and "Traceback" not in message
        after = await command(client, "nextword.status")
        assert after["state"] == "ready" and after["loads"] == status["loads"] and after["error"]
        text = SAMPLE + "The mo"
        open_doc(client, "file:///f.md", text)
        assert words_of(await complete(client, "file:///f.md", *end_position(text))) == predict(
            models["a"], SAMPLE + "The ", "mo"
        )


async def test_the_users_model_in_the_data_folder_is_found(models: dict[str, Path], tmp_path: Path) -> None:
    shutil.copyfile(models["b"], tmp_path / "model.safetensors")
    async with lsp_client(data_dir=tmp_path) as client:
        status = await wait_ready(client)
        assert status["model"] == str(tmp_path / "model.safetensors")


# ----- trainWorkspace -----------------------------------------------------------------------
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def trainer_client(models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("train-data")
    workspace = tmp_path_factory.mktemp("workspace")
    (workspace / "note.md").write_text(SAMPLE)
    env = {
        "NEXTWORD_TRAIN_COMMAND": json.dumps(["{python}", str(FAKE_TRAINER), "{folder}", "{out}"]),
        "FAKE_TRAINER_MODEL": str(models["b"]),
    }
    async with lsp_client(
        data_dir=data, root=workspace, env=env, init_options={"modelPath": str(models["a"])}
    ) as client:
        await wait_ready(client)
        client.workspace = workspace  # type: ignore[attr-defined]
        client.data = data  # type: ignore[attr-defined]
        yield client


def progress_kinds(client, token) -> list[str]:
    return [type(v).__name__.replace("WorkDoneProgress", "").lower() for v in client.progress_reports.get(token, [])]


async def train(client, mode: str) -> tuple[dict, str]:
    (client.workspace / ".fake-trainer-mode").write_text(mode)
    (client.workspace / ".fake-trainer-pid").unlink(missing_ok=True)
    client.messages.clear()
    result = await command(client, "nextword.trainWorkspace")
    assert result["started"], result
    return result, result["token"]


async def test_train_with_progress_then_switch(trainer_client, models: dict[str, Path]) -> None:
    client = trainer_client
    before = await command(client, "nextword.status")
    result, token = await train(client, "noise")
    assert result["folder"] == str(client.workspace) and result["output"] == str(client.data / "model.safetensors")
    await wait_for(lambda: "end" in progress_kinds(client, token))
    kinds = progress_kinds(client, token)
    assert kinds[0] == "begin" and kinds[-1] == "end" and "report" in kinds
    begin = client.progress_reports[token][0]
    assert begin.cancellable and begin.title.startswith("nextword")
    percentages = [v.percentage for v in client.progress_reports[token][1:-1]]
    assert percentages == sorted(percentages) and all(0 <= p <= 100 for p in percentages)
    status = await wait_status(client, lambda s: s["model"] == str(client.data / "model.safetensors"))
    assert status["loads"] > before["loads"] and status["training"] is None
    await wait_for(lambda: any("training done" in m.message for m in client.messages))
    assert not list(client.data.glob(".*training*"))  # no temporary file left behind


async def test_cancel_training(trainer_client) -> None:
    client = trainer_client
    before = await command(client, "nextword.status")
    _, token = await train(client, "slow")
    await wait_for(lambda: "report" in progress_kinds(client, token))
    pid = int(await wait_for(lambda: (client.workspace / ".fake-trainer-pid").read_text() or None))
    running = await command(client, "nextword.status")
    assert running["training"]["pid"] == pid
    busy = await command(client, "nextword.trainWorkspace")
    assert not busy["started"]  # one at a time
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    await wait_for(lambda: "end" in progress_kinds(client, token))
    assert client.progress_reports[token][-1].message == "cancelled"
    await wait_for(lambda: not _alive(pid), timeout=10)
    await wait_for(lambda: any("cancelled" in m.message for m in client.messages))
    after = await command(client, "nextword.status")
    assert after["model"] == before["model"] and after["loads"] == before["loads"] and after["training"] is None
    assert not list(client.data.glob(".*training*"))


async def test_failed_training_says_why(trainer_client) -> None:
    client = trainer_client
    before = await command(client, "nextword.status")
    _, token = await train(client, "fail")
    await wait_for(lambda: "end" in progress_kinds(client, token))
    await wait_for(lambda: any(m.type == types.MessageType.Error for m in client.messages))
    message = next(m for m in client.messages if m.type == types.MessageType.Error).message
    assert "too few words" in message and "unchanged" in message
    assert (await command(client, "nextword.status"))["loads"] == before["loads"]


async def test_cancel_training_command_and_bad_folder(trainer_client, tmp_path: Path) -> None:
    client = trainer_client
    assert (await command(client, "nextword.cancelTraining")) == {"cancelled": False}
    result = await command(client, "nextword.trainWorkspace", str(tmp_path / "nowhere"))
    assert not result["started"] and "not a folder" in result["reason"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _real_trainer_available() -> bool:
    try:
        import nextword.training.cli_train  # noqa: F401
        import nextword.training.train  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _real_trainer_available(), reason="nextword train (nextword.training) is not installed yet")
async def test_train_with_the_real_trainer(models: dict[str, Path], tmp_path: Path) -> None:
    workspace = tmp_path / "notes"
    workspace.mkdir()
    for i in range(12):
        (workspace / f"note{i}.md").write_text((SAMPLE + OTHER_TEXT) * 3)
    init = {"modelPath": str(models["a"]), "training": {"maxMinutes": 0.2}}
    async with lsp_client(data_dir=tmp_path / "data", root=workspace, init_options=init) as client:
        await wait_ready(client)
        result = await command(client, "nextword.trainWorkspace")
        assert result["started"], result
        token = result["token"]
        await wait_for(lambda: "end" in progress_kinds(client, token), timeout=120)
        end = client.progress_reports[token][-1].message
        if end == "failed":
            errors = [m.message for m in client.messages if m.type == types.MessageType.Error]
            pytest.fail(f"the real trainer failed: {errors}")
        status = await wait_status(client, lambda s: s["model"] == str(tmp_path / "data" / "model.safetensors"))
        assert status["state"] == "ready"
