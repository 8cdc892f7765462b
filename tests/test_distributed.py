"""`torchrun --nproc_per_node 2 -m nextword.training ...`: two processes on loopback (gloo),
each on its share of the text, write one checkpoint that loads and has learned."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from nextword.model import load_checkpoint


def test_two_processes_train_one_model(notes_folder, tiny_model_path, tmp_path):
    out = tmp_path / "model.safetensors"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "NEXTWORD_DATA_DIR": str(tmp_path / "data"),
        "MASTER_ADDR": "127.0.0.1",
    }
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nnodes",
        "1",
        "--nproc_per_node",
        "2",
        "-m",
        "nextword.training",
        str(notes_folder),
        "--from",
        str(tiny_model_path),
        "--full",
        "--out",
        str(out),
        "--include-test-split",
        "--epochs",
        "6",
        "--batch-size",
        "2",
        "--bptt",
        "10",
        "--lr",
        "0.01",
        "--patience",
        "6",
        "--sampled",
        "0",
        "--progress",
        "json",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    # Only process 0 reports: one start, one done.
    assert [e["event"] for e in events].count("start") == 1 and [e["event"] for e in events].count("done") == 1
    start, done = events[0], events[-1]
    assert start["processes"] == 2
    assert done["path"] == str(out) and done["perplexity"] < done["start_perplexity"]
    checkpoint = load_checkpoint(out)
    assert checkpoint.info["processes"] == 2 and checkpoint.info["complete"] is True
    assert checkpoint.info["valid_perplexity"] < checkpoint.info["start_perplexity"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".safetensors")] == ["model.safetensors"]
