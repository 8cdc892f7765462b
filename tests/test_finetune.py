"""Fine-tuning on a person's notes: vocabulary growth that keeps old rows, the manifest that
makes re-runs incremental, resuming an interrupted run, the personal/default comparison of
`nextword eval`, and clear messages for bad corpora. Tiny models, tiny data."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch
from nextword.model import InferenceNetwork, load_checkpoint, save_checkpoint
from nextword.model.model_file import learned_files
from nextword.server.cli import main
from nextword.server.cli_info import PRECISION_WORDS
from nextword.training.batches import encode_documents
from nextword.training.config import TrainConfig
from nextword.training.corpus import load_corpus
from nextword.training.finetune import grow_vocabulary, new_words, select
from nextword.training.progress import Progress
from nextword.training.resume import RunRequest, load_state, resume_path
from nextword.training.split import is_test_file, is_validation_file
from nextword.training.train import train

JARGON = "The kubectl tool talks to the cluster. Run kubectl apply, then kubectl get pods. Helm charts wrap kubectl.\n"


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("NEXTWORD_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def shipped(tiny_model_path, monkeypatch) -> Path:
    """The tiny model stands in for the shipped default."""
    monkeypatch.setattr("nextword.model.default_model_path", lambda: tiny_model_path)
    monkeypatch.setattr("nextword.training.evaluate.default_model_path", lambda: tiny_model_path)
    return tiny_model_path


def training_names(n: int, prefix: str = "n") -> list[str]:
    """File names that land in the training part of the split (neither test nor validation)."""
    names = (f"{prefix}{i}.md" for i in range(1000))
    return [name for name in names if not is_test_file(name) and not is_validation_file(name)][:n]


def valid_name() -> str:
    return next(n for n in (f"v{i}.md" for i in range(1000)) if is_validation_file(n) and not is_test_file(n))


def write_notes(root: Path, texts: dict[str, str]) -> Path:
    for name, text in texts.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


# ----- vocabulary growth ----------------------------------------------------------------------------
def test_growing_keeps_old_rows_and_initialises_new_ones(tiny_model_path, tmp_path):
    base = load_checkpoint(tiny_model_path)
    words = new_words([JARGON, JARGON, "Once: zeppelin."], base.vocab)
    assert words[0] == "kubectl" and "Helm" in words and "zeppelin" not in words  # seen once
    assert new_words([JARGON], base.vocab) == ["kubectl"]  # the others are seen once
    assert all(w not in base.vocab for w in words)
    model, vocab = grow_vocabulary(base.model, base.vocab, words, seed=1)
    n = len(base.vocab)
    assert vocab.tokens[:n] == base.vocab.tokens and vocab.tokens[n:] == words
    assert model.config.vocab_size == len(vocab) == n + len(words)
    old, new = base.model.state_dict(), model.state_dict()
    assert torch.equal(new["embedding.weight"][:n], old["embedding.weight"])
    assert torch.equal(new["out_bias"][:n], old["out_bias"])
    for name in old:
        if name not in ("embedding.weight", "out_bias"):
            assert torch.equal(new[name], old[name]), name
    # New rows: near the mean of the old ones, distinct from each other; bias of a rare word.
    rows = new["embedding.weight"][n:]
    mean = old["embedding.weight"].mean(0)
    assert (rows - mean).norm(dim=1).max() < old["embedding.weight"].std(0).norm()
    assert not torch.equal(rows[0], rows[1])
    assert torch.all(new["out_bias"][n:] <= old["out_bias"].max())
    # The grown model is a valid checkpoint.
    from nextword.model import Predictor, save_checkpoint

    path = save_checkpoint(tmp_path / "grown.safetensors", model, vocab)
    loaded = load_checkpoint(path)
    assert loaded.model.config.vocab_size == len(vocab)
    assert any(
        s.word == "kubectl"
        for s in Predictor(InferenceNetwork.build(loaded.model), loaded.vocab).predict("Run ", "kub", 5)
    )


def test_cli_fine_tunes_the_shipped_model_and_grows_its_vocabulary(shipped, data_dir, tmp_path, capsys):
    notes = write_notes(
        tmp_path / "notes",
        {name: f"# {name}\n" + JARGON * 4 for name in training_names(3)} | {valid_name(): JARGON * 2},
    )
    assert main(["train", str(notes), "--epochs", "2", "--progress", "json"]) == 0
    captured = capsys.readouterr()
    start = events(captured.out)[0]
    assert start["event"] == "start" and start["new_words"] > 0 and math.isfinite(start["start_perplexity"])
    out = data_dir / "model.safetensors"
    assert out.is_file() and "new words" in captured.err
    base, tuned = load_checkpoint(shipped), load_checkpoint(out)
    assert tuned.vocab.tokens[: len(base.vocab)] == base.vocab.tokens
    assert "kubectl" in tuned.vocab and tuned.model.config.vocab_size == len(tuned.vocab)
    assert tuned.info["base_model"] == str(shipped) and tuned.info["new_words"] == start["new_words"]
    assert tuned.info["complete"] is True and len(learned_files(tuned.info)) == 4
    assert tuned.info["valid_perplexity"] < tuned.info["start_perplexity"]
    assert tuned.info["train_config"]["max_minutes"] == 9.0  # fine-tuning's default time limit
    # The notes' n-gram holds exactly the training files, as the grown vocabulary reads them.
    corpus = load_corpus([notes])
    assert torch.equal(tuned.model.notes_tokens.long(), encode_documents([d.text for d in corpus.train], tuned.vocab))
    assert InferenceNetwork.build(tuned.model).notes_ngram is not None
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["notes_tokens"] == tuned.model.notes_tokens.numel()
    assert info["prediction_weights"] == InferenceNetwork.build(tuned.model).precision
    assert main(["info", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "notes n-gram" in shown
    assert re.search(
        rf"^prediction +{re.escape(PRECISION_WORDS[InferenceNetwork.build(tuned.model).precision])}, multiplied by ",
        shown,
        re.M,
    )


# ----- the manifest: incremental re-runs -----------------------------------------------------------
def test_rerun_skips_unchanged_files_and_catches_changed_and_new_ones(shipped, data_dir, tmp_path, capsys):
    names = training_names(4)
    notes = write_notes(
        tmp_path / "notes", {name: f"# {name}\n" + JARGON * 3 for name in names} | {valid_name(): JARGON}
    )
    out = data_dir / "model.safetensors"
    assert main(["train", str(notes), "--epochs", "1", "--progress", "json"]) == 0
    capsys.readouterr()
    first_notes = load_checkpoint(out).model.notes_tokens

    # Nothing changed (a touched file keeps its content): nothing to learn, model untouched.
    before = out.read_bytes()
    os.utime(notes / names[0])
    assert main(["train", str(notes), "--progress", "json"]) == 0
    captured = capsys.readouterr()
    assert "nothing new to learn" in captured.err and events(captured.out)[-1]["reason"] == "nothing new to learn"
    assert out.read_bytes() == before

    # One file changed, one added: only those two are trained on, from the personal model.
    (notes / names[1]).write_text(
        f"# {names[1]}\n" + JARGON * 3 + "A helm release pins the kubectl version. Helm again.\n", encoding="utf-8"
    )
    added = training_names(1, prefix="new")[0]
    (notes / added).write_text("Terraform plans the cluster; terraform applies the plan.\n" * 3, encoding="utf-8")
    assert main(["train", str(notes), "--epochs", "1", "--progress", "json"]) in (0, 1)
    start = events(capsys.readouterr().out)[0]
    assert (start["files"], start["already_learned"]) == (2, 3)
    if out.read_bytes() != before:  # saved: the manifest now holds the changed and new files
        personal = load_checkpoint(out)
        learned = learned_files(personal.info)
        corpus = load_corpus([notes])
        assert all(learned.get(d.digest) == "train" for d in corpus.train)
        # The notes' n-gram: the earlier files, then the changed and the new one.
        run = encode_documents([d.text for d in corpus.train if d.path.name in (names[1], added)], personal.vocab)
        assert torch.equal(personal.model.notes_tokens.long(), torch.cat([first_notes.long(), run]))
        assert main(["train", str(notes), "--progress", "json"]) == 0
        assert "nothing new" in capsys.readouterr().err

    # --full trains on everything again, from the shipped model.
    assert main(["train", str(notes), "--full", "--epochs", "1", "--progress", "json"]) == 0
    start = events(capsys.readouterr().out)[0]
    assert (start["files"], start["already_learned"]) == (5, 0)
    rebuilt = load_checkpoint(out)
    assert rebuilt.info["started_from"] == str(shipped)
    everything = encode_documents([d.text for d in load_corpus([notes]).train], rebuilt.vocab)
    assert torch.equal(rebuilt.model.notes_tokens.long(), everything)  # started over, no duplicates


def test_selection_judges_incremental_runs_on_new_material_too(tmp_path):
    names = training_names(3)
    notes = write_notes(tmp_path / "notes", {name: f"{name} text\n" for name in names} | {valid_name(): "valid text\n"})
    corpus = load_corpus([notes])
    everything = select(corpus, {})
    assert len(everything.train) == 3 and not everything.incremental and not everything.fresh_valid
    learned = everything.manifest({})
    assert select(corpus, learned).train == []
    (notes / names[2]).write_text("changed\n", encoding="utf-8")
    again = select(load_corpus([notes]), learned)
    assert [d.relative_path for d in again.train] == [names[2]] and again.incremental and again.already == 2
    assert len(again.valid) == 1 and again.fresh_valid == []  # the validation file is not new
    assert len(select(load_corpus([notes]), learned, full=True).train) == 3


# ----- resume ------------------------------------------------------------------------------------------
class StopAfter(Progress):
    """Interrupts training (as Ctrl-C would) after ``steps`` steps."""

    def __init__(self, steps: int):
        super().__init__("none")
        self.steps, self.seen = steps, 0

    def update(self, *args, **kwargs) -> None:
        self.seen += 1
        if self.seen == self.steps:
            raise KeyboardInterrupt


def test_resume_continues_where_it_stopped(notes_folder, tiny_model_path, tmp_path):
    corpus = load_corpus([notes_folder], include_test_split=True)
    config = TrainConfig(epochs=3, batch_size=4, bptt=10, lr=5e-3, sampled=0, patience=5, warmup_steps=3, seed=3)

    def run(out: Path, progress: Progress | None = None, resume=None):
        base = None if resume is not None else load_checkpoint(tiny_model_path)
        return train(
            corpus, out, config, base=base, progress=progress, resume=resume, run=RunRequest(paths=[str(notes_folder)])
        )

    whole = run(tmp_path / "whole.safetensors")
    assert not whole.interrupted and whole.path is not None
    out = tmp_path / "parts.safetensors"
    stopped = run(out, StopAfter(7))  # inside the first epoch
    assert stopped.interrupted and stopped.resume_path == resume_path(out) and resume_path(out).is_file()
    state = load_state(resume_path(out))
    assert state.position.step == 7 and state.position.epoch == 1 and state.optimizer["state"]
    assert state.hidden is not None  # the text streams' state, so the next step sees the same context
    finished = run(out, resume=state)
    assert not finished.interrupted and not resume_path(out).is_file()
    a, b = load_checkpoint(whole.path), load_checkpoint(out)
    assert a.vocab.tokens == b.vocab.tokens
    for name, tensor in a.model.state_dict().items():
        assert torch.allclose(tensor, b.model.state_dict()[name], atol=2e-3), name
    assert b.info["valid_perplexity"] == pytest.approx(a.info["valid_perplexity"], rel=1e-3)
    assert b.info["complete"] is True and learned_files(b.info)


def nextword(*args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nextword.server.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


def test_ctrl_c_leaves_a_resumable_state_and_resume_finishes(notes_folder, tiny_model_path, tmp_path):
    out = tmp_path / "model.safetensors"
    common = ["--out", str(out), "--progress", "json"]
    proc = nextword(
        "train",
        str(notes_folder),
        "--from",
        str(tiny_model_path),
        "--full",
        "--epochs",
        "400",
        "--batch-size",
        "2",
        "--bptt",
        "5",
        "--patience",
        "400",
        *common,
    )
    try:
        for line in proc.stdout:
            if '"event": "progress"' in line:
                break
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    state = load_state(resume_path(out))
    assert state.position.step > 0
    stopped_at = state.position.step

    # The run's own settings (400 epochs) come back with it: check it goes on from where it stopped.
    proc = nextword("train", "--resume", *common)
    try:
        first = None
        for line in proc.stdout:
            event = json.loads(line)
            if event["event"] == "start":
                first = event
            if event["event"] == "progress":
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert first is not None and first["resumed"] is True
    assert proc.returncode == 130 and "resuming the interrupted run" in err
    assert load_state(resume_path(out)).position.step > stopped_at


def test_resume_without_a_state_says_so(tmp_path, capsys):
    assert main(["train", "--resume", "--out", str(tmp_path / "m.safetensors")]) == 2
    assert "no interrupted training to resume" in capsys.readouterr().err


# ----- nextword eval: the personal model beside the shipped one --------------------------------
def test_eval_compares_the_personal_and_the_default_model(shipped, data_dir, tmp_path, capsys):
    corpus = tmp_path / "corpus"
    test_names = [n for n in (f"t{i}.md" for i in range(300)) if is_test_file(n)][:2]
    write_notes(
        corpus,
        {name: "Each value has an owner. The borrow checker checks the references.\n" for name in test_names}
        | {"train.md": "Each value has an owner.\n"},
    )
    assert main(["eval", str(corpus), "--json", "--max-words", "30"]) == 0
    assert set(json.loads(capsys.readouterr().out)["systems"]) == {"default", "buffer", "unigram"}
    base = load_checkpoint(shipped)
    from nextword.model import save_checkpoint

    save_checkpoint(data_dir / "model.safetensors", *grow_vocabulary(base.model, base.vocab, ["kubectl"]))
    assert main(["eval", str(corpus), "--max-words", "30"]) == 0
    table = capsys.readouterr().out
    rows = [line.split()[0] for line in table.splitlines() if "%" in line and "perplexity" not in line]
    assert rows == ["personal", "default", "buffer", "unigram"]
    # The legend names each model's file.
    assert re.search(rf"^personal +.*{re.escape(str(data_dir / 'model.safetensors'))}", table, re.M)
    assert re.search(rf"^default +.*{re.escape(str(shipped))}", table, re.M)
    assert main(["eval", str(corpus), "--json", "--systems", "personal,unigram"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["systems"]["personal"]["perplexity"] > 1 and report["model"] == str(data_dir / "model.safetensors")


# ----- bad corpora ---------------------------------------------------------------------------------
def _error(argv, capsys) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.err


def test_bad_corpora_get_clear_messages(shipped, data_dir, tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no text files" in _error(["train", str(empty)], capsys)
    blank = write_notes(tmp_path / "blank", {"a.md": "  \n\n", "b.md": ""})
    assert "no usable text" in _error(["train", str(blank)], capsys)
    binary = tmp_path / "binary"
    binary.mkdir()
    (binary / "a.md").write_bytes(b"\x00\x01binary" * 20)
    err = _error(["train", str(binary)], capsys)
    assert "no usable text" in err and "binary" in err
    latin = tmp_path / "latin"
    latin.mkdir()
    (latin / "a.md").write_bytes("caf\xe9 cr\xe8me br\xfbl\xe9e".encode("latin-1"))
    assert "UTF-8" in _error(["train", str(latin)], capsys)
    locked = write_notes(tmp_path / "locked", {"a.md": "secret"})
    real_read = Path.read_bytes

    def read_bytes(self):
        if self.name == "a.md" and self.parent == locked:
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    err = _error(["train", str(locked)], capsys)
    assert "unreadable" in err and "Permission denied" in err
    assert not (data_dir / "model.safetensors").exists()


# ----- nothing new to learn, options that do not apply -----------------------------------------------
def test_nothing_new_to_learn_names_the_model_and_copies_it_to_a_new_out(
    notes_folder, tiny_model_path, tmp_path, capsys
):
    base = load_checkpoint(tiny_model_path)
    corpus = load_corpus([notes_folder], include_test_split=True)
    learned = select(corpus, {}).manifest({})
    m1 = save_checkpoint(tmp_path / "m1.safetensors", base.model, base.vocab, info={"learned": learned, "note": "m1"})
    brandnew = tmp_path / "brandnew.safetensors"
    assert (
        main(
            [
                "train",
                str(notes_folder),
                "--from",
                str(m1),
                "--out",
                str(brandnew),
                "--include-test-split",
                "--progress",
                "json",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert f"all learned by {m1} already; copied it unchanged to {brandnew}" in captured.err
    assert events(captured.out)[-1]["path"] == str(brandnew)
    copy, original = load_checkpoint(brandnew), load_checkpoint(m1)
    assert copy.info == original.info and copy.vocab.tokens == original.vocab.tokens
    assert all(torch.equal(t, copy.model.state_dict()[k]) for k, t in original.model.state_dict().items())
    # Fine-tuning a model into itself: it stays as it is, and the message says so.
    before = m1.read_bytes()
    assert (
        main(
            [
                "train",
                str(notes_folder),
                "--from",
                str(m1),
                "--out",
                str(m1),
                "--include-test-split",
                "--progress",
                "none",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert f"all learned by {m1} already;" in err and "copied" not in err and m1.read_bytes() == before


def test_options_that_do_not_apply_are_named_in_a_warning(notes_folder, tiny_model_path, tmp_path, capsys):
    quick = ["--include-test-split", "--progress", "none", "--epochs", "1"]
    tuned = tmp_path / "tuned.safetensors"
    assert main(
        [
            "train",
            str(notes_folder),
            "--from",
            str(tiny_model_path),
            "--out",
            str(tuned),
            "--hidden-dim",
            "999",
            "--dropout",
            "0.5",
            *quick,
        ]
    ) in (0, 1)
    assert (
        "warning: --hidden-dim, --dropout apply only to a new model (with --from-scratch); ignored when fine-tuning"
        in capsys.readouterr().err
    )
    new = tmp_path / "new.safetensors"
    assert (
        main(
            [
                "train",
                str(notes_folder),
                "--from-scratch",
                "--out",
                str(new),
                "--emb-dim",
                "8",
                "--hidden-dim",
                "8",
                "--min-count",
                "1",
                "--max-new-words",
                "5",
                *quick,
            ]
        )
        == 0
    )
    assert (
        "warning: --max-new-words applies only when fine-tuning; ignored with --from-scratch" in capsys.readouterr().err
    )

    # --resume continues with the interrupted run's own settings, and says which options it ignores.
    corpus = load_corpus([notes_folder], include_test_split=True)
    config = TrainConfig(epochs=2, batch_size=4, bptt=10, lr=5e-3, sampled=0, patience=5, warmup_steps=3, seed=3)
    out = tmp_path / "m.safetensors"
    run = RunRequest(paths=[str(notes_folder.resolve())], include_test_split=True)
    assert train(corpus, out, config, base=load_checkpoint(tiny_model_path), progress=StopAfter(3), run=run).interrupted
    assert main(
        [
            "train",
            "--resume",
            "--out",
            str(out),
            "--lr",
            "0.1",
            "--max-minutes",
            "5",
            "--layers",
            "3",
            "--progress",
            "none",
        ]
    ) in (0, 1)
    err = capsys.readouterr().err
    assert (
        "warning: --resume continues the interrupted run with its own settings; ignoring --max-minutes, --lr, --layers"
        in err
    )
    assert "resuming the interrupted run" in err and not resume_path(out).exists()


# ----- runs that were killed, damaged states, two runs at once -------------------------------------
def _interrupted_state(notes_folder, tiny_model_path, out: Path) -> None:
    corpus = load_corpus([notes_folder], include_test_split=True)
    config = TrainConfig(epochs=3, batch_size=4, bptt=10, lr=5e-3, sampled=0, patience=5, warmup_steps=3, seed=3)
    run = RunRequest(paths=[str(notes_folder)], include_test_split=True)
    assert train(corpus, out, config, base=load_checkpoint(tiny_model_path), progress=StopAfter(3), run=run).interrupted
    assert resume_path(out).is_file()


def test_a_damaged_training_state_says_to_start_again(notes_folder, tiny_model_path, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    _interrupted_state(notes_folder, tiny_model_path, out)
    state = resume_path(out)
    state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])  # its header intact, its tensors cut short
    assert main(["train", "--resume", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"the training state {state} cannot be read" in err and "start the run again without --resume" in err
    # Doing what it says works: a new run discards the damaged state.
    assert main(
        [
            "train",
            str(notes_folder),
            "--out",
            str(out),
            "--include-test-split",
            "--epochs",
            "1",
            "--batch-size",
            "2",
            "--bptt",
            "5",
            "--progress",
            "none",
        ]
    ) in (0, 1)
    assert not state.exists()


def test_a_training_state_with_a_field_of_the_wrong_type_is_refused(notes_folder, tiny_model_path, tmp_path, capsys):
    """The position and the run's record are typed: each field is checked as it is read back."""
    out = tmp_path / "m.safetensors"
    _interrupted_state(notes_folder, tiny_model_path, out)
    path = resume_path(out)
    state = load_checkpoint(path)
    record = load_state(path).run
    assert record.request.include_test_split is True and record.config.bptt == 10 and record.data
    for field, value, named in (
        ("position", {**state.info["position"], "step": "seven"}, "position.step is 'seven', not of type int"),
        ("position", {"epoch": 1}, "position lacks start_loss"),
        ("run", {**state.info["run"], "train_config": {"epochs": "3"}}, "run.train_config.epochs is '3'"),
        ("run", {**state.info["run"], "paths": None}, "run.paths is 'None'"),
    ):
        info = {**state.info, field: value}
        save_checkpoint(path, state.model, state.vocab, info=info, dtype=torch.float32, extra=state.extra)
        assert main(["train", "--resume", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"the training state {path} is incomplete or from another version of nextword ({named}" in err, err
        assert "start the run again without --resume" in err and "Traceback" not in err


def test_resume_after_the_notes_were_moved_says_so(notes_folder, tiny_model_path, tmp_path, capsys):
    notes = tmp_path / "notes"
    notes.mkdir()
    for f in notes_folder.rglob("*.md"):
        (notes / f.relative_to(notes_folder)).parent.mkdir(parents=True, exist_ok=True)
        (notes / f.relative_to(notes_folder)).write_bytes(f.read_bytes())
    out = tmp_path / "m.safetensors"
    _interrupted_state(notes, tiny_model_path, out)
    notes.rename(tmp_path / "elsewhere")
    assert main(["train", "--resume", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"the interrupted run was training on {notes}, which no longer exists; put it back and resume" in err
    assert resume_path(out).is_file()


def test_two_runs_cannot_write_the_same_model_at_once(notes_folder, tiny_model_path, tmp_path, capsys):
    from nextword.training.lock import TrainingLock

    out = tmp_path / "m.safetensors"
    out.write_bytes(tiny_model_path.read_bytes())
    before = out.read_bytes()
    argv = [
        "train",
        str(notes_folder),
        "--out",
        str(out),
        "--full",
        "--from",
        str(tiny_model_path),
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--bptt",
        "5",
        "--progress",
        "none",
    ]
    other = TrainingLock(out).acquire()  # another run, holding the operating system's lock
    try:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"another `nextword train` (process {os.getpid()}) is writing {out} right now" in err and "--out" in err
        assert out.read_bytes() == before
    finally:
        other.release()
    # Once it has finished, a run goes ahead, and clears what killed runs' writes left behind.
    leftovers = [tmp_path / ".m.safetensors.k1ll3d.tmp", tmp_path / ".m.resume.safetensors.x_9.tmp"]
    for path in leftovers:
        path.write_bytes(b"half a model")
    assert main(argv) in (0, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


# ----- words in parts ----------------------------------------------------------------------------------
KOREAN_BASE = "RNN을 통해 토크나이저로 문장을 나눈다. 토크나이저의 역할은 RNN의 입력을 만드는 것이다.\n"
KOREAN_NOTES = "RNN을 쓰고 데이터셋으로 모델을 학습시킨다. 데이터셋의 크기가 중요하다. 토크나이저로 나눈다.\n"


def korean_base(path: Path) -> Path:
    """A small untrained model of ``KOREAN_BASE``'s tokens, with that text's table of word parts."""
    from nextword.model import LanguageModel, ModelConfig, Vocabulary, tokenize
    from nextword.model.word_parts import count_parts

    torch.manual_seed(0)
    tokens = tokenize(KOREAN_BASE * 3)
    vocab = Vocabulary.build(Counter(tokens), min_count=1)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), emb_dim=16, hidden_dim=24, num_layers=1, dropout=0.0))
    model.set_word_parts(torch.from_numpy(count_parts(encode_documents([KOREAN_BASE * 3], vocab).numpy(), vocab)))
    return save_checkpoint(path, model, vocab)


def test_growing_keeps_the_table_of_word_parts(tmp_path):
    base = load_checkpoint(korean_base(tmp_path / "base.safetensors"))
    table = base.model.word_parts
    assert table is not None and len(table) > 0
    words = new_words([KOREAN_NOTES, KOREAN_NOTES], base.vocab)
    assert "데이터셋" in words and "##으로" in words  # new first parts and continuations alike
    model, vocab = grow_vocabulary(base.model, base.vocab, words)
    assert model.word_parts is not None and torch.equal(model.word_parts, table)  # old ids are unchanged
    assert InferenceNetwork.build(model).word_parts is not None


def test_fine_tuning_adds_the_notes_word_parts_to_the_base_models(tmp_path, capsys):
    from nextword.model.word_parts import count_parts, merge_counts
    from nextword.training.finetune import NOTES_PARTS

    base_path = korean_base(tmp_path / "base.safetensors")
    notes = write_notes(
        tmp_path / "notes", {name: KOREAN_NOTES * 4 for name in training_names(3)} | {valid_name(): KOREAN_NOTES}
    )
    out = tmp_path / "tuned.safetensors"
    args = ["train", str(notes), "--from", str(base_path), "--out", str(out), "--epochs", "1", "--progress", "none"]
    assert main(args) == 0
    base, tuned = load_checkpoint(base_path), load_checkpoint(out)
    assert base.model.word_parts is not None and tuned.model.word_parts is not None
    # The notes' table, counted from the ids the run trained on, added to the base model's,
    # each of the notes' goings-on weighing as NOTES_PARTS of the base text's.
    notes_ids = tuned.model.notes_tokens.long().numpy()
    own = count_parts(notes_ids, tuned.vocab)
    own[:, 2] *= NOTES_PARTS
    expected = merge_counts(own, base.model.word_parts.numpy())
    assert tuned.model.word_parts.tolist() == expected.tolist()
    counts = {(a, b): c for a, b, c in tuned.model.word_parts.tolist()}
    rnn, particle = tuned.vocab.id("RNN"), tuned.vocab.id("##을")
    assert counts[(rnn, particle)] == 3 + 3 * 4 * NOTES_PARTS  # three times in the base text, four in each note
    assert counts[(tuned.vocab.id("데이터셋"), tuned.vocab.id("##으로"))] == 3 * 4 * NOTES_PARTS  # a new word's
