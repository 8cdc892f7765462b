"""A personal model's own notes beside the workspace's (server/loaded_model.py): kept where the
workspace adds to them, counted once where the workspace holds every note it was trained on."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from nextword.model import PredictorConfig
from nextword.model.model_file import learned_files
from nextword.model.prediction_model import load_for_prediction
from nextword.server.cli import main
from nextword.server.loaded_model import LoadedModel
from nextword.server.workspace_store import FolderStore
from nextword.training.corpus import content_digest
from nextword.training.split import is_test_file, is_validation_file

NOTE = "Deploy with kubectl apply and check with kubectl get pods. The kubectl logs say why.\n"


@pytest.fixture
def personal(tiny_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A model fine-tuned (briefly) from the tiny model on a folder of notes, and the folder."""
    monkeypatch.setattr("nextword.model.default_model_path", lambda: tiny_model_path)
    monkeypatch.setenv("NEXTWORD_DATA_DIR", str(tmp_path / "data"))
    notes = tmp_path / "notes"
    notes.mkdir()
    names = [n for n in (f"n{i}.md" for i in range(100)) if not is_test_file(n) and not is_validation_file(n)][:3]
    for name in names:
        (notes / name).write_text(f"# {name}\n" + NOTE * 3, encoding="utf-8")
    out = tmp_path / "personal.safetensors"
    assert main(["train", str(notes), "--epochs", "1", "--progress", "none", "-o", str(out)]) == 0
    return out, notes


def loaded(path: Path) -> LoadedModel:
    model = LoadedModel(load_for_prediction(path), path, None, 1, PredictorConfig())
    model.network()
    return model


def store_of(folder: Path) -> FolderStore:
    store = FolderStore(folder)
    for path in sorted(folder.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        stat = path.stat()
        store.learn(path.name, text, stat.st_mtime_ns, stat.st_size)
    return store


def test_trained_notes_stay_beside_new_ones_and_count_once_when_the_workspace_holds_them(
    personal: tuple[Path, Path], tmp_path: Path
) -> None:
    path, notes = personal
    model = loaded(path)
    trained = model.notes.current
    assert trained is not None and not trained.from_workspace
    kubectl = model.vocab.id("kubectl")
    assert kubectl != model.vocab.unk_id
    per_file = NOTE.count("kubectl") * 3
    # The files it trained on (the rest validated it): their tokens are its notes.
    trained_count = per_file * sum(part == "train" for part in learned_files(model.info).values())
    assert trained_count > 0

    # Other notes: they add to what the model was trained on.
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.md").write_text("Check the kubectl config first.\n", encoding="utf-8")
    store = store_of(other)
    model.learn([store.token_table()], {f.digest for f in store.files.values()})
    both = model.notes.current
    assert both is not None and both.from_workspace and both.count(kubectl) == trained_count + 1

    # The very notes it was trained on: counted once, not twice.
    store = store_of(notes)
    digests = {f.digest for f in store.files.values()}
    assert digests == {content_digest(p.read_text(encoding="utf-8")) for p in notes.glob("*.md")}
    model.learn([store.token_table()], digests)
    once = model.notes.current
    assert once is not None and once.count(kubectl) == per_file * 3  # the workspace's three files

    # Nothing learned: the trained notes alone again.
    model.learn([], set())
    assert model.notes.current is trained


def test_the_warm_up_of_a_model_with_words_in_parts_loads_what_korean_typing_needs():
    """The first Korean keystroke finds the segmentation and the table of Hangul keys loaded:
    the warm-up (on the loader's thread, before the model serves) read Korean."""
    script = textwrap.dedent(
        """
        from nextword.model import PredictorConfig, default_model_path, hangul, pieces
        from nextword.model.prediction_model import load_for_prediction
        from nextword.server.loaded_model import LoadedModel

        path = default_model_path()
        LoadedModel(load_for_prediction(path), path, None, 1, PredictorConfig()).warm_up()
        print(hangul._translation.cache_info().currsize, pieces._processor.cache_info().currsize)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["1", "1"]
