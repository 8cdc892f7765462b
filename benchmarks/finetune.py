"""Fine-tuning benchmark: `nextword train` on a corpus's train split with default settings,
then `nextword eval` on its test split, the fine-tuned model beside the shipped one and the
two baselines; prints the figures, the training run's wall-clock and CPU time, and whether
the targets are met.

    python benchmarks/finetune.py [--corpus DIR] [--korean] [--only-korean] [--keep DIR] [-- TRAIN FLAGS...]

Targets (issue 4), on ../shared/corpora/notes/simonw-til: KSR@3 >= 40% and next-word acc@3
>= 36%, at least 8 points of KSR@3 above the shipped model, and the whole `nextword train`
run within 10 minutes; on ../shared/corpora/notes-ko/rust-book-ko (Korean, with --korean):
KSR@3 at least 10 points above the unigram baseline. Training runs as a separate
`nextword train` process, exactly as a user would start it, with NEXTWORD_DATA_DIR pointing
at a temporary folder so your own model is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nextword.training.cli_eval import format_report
from nextword.training.evaluate import evaluate

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
NOTES = CORPORA / "notes" / "simonw-til"
KOREAN = CORPORA / "notes-ko" / "rust-book-ko"
TRAIN_MINUTES = 10


def train(corpus: Path, out: Path, extra: list[str]) -> dict:
    """Run `nextword train` as a user would; its wall-clock and CPU seconds and its last event."""
    env = {**os.environ, "NEXTWORD_DATA_DIR": str(out.parent / "data")}
    command = [
        sys.executable,
        "-m",
        "nextword.server.cli",
        "train",
        str(corpus),
        "--out",
        str(out),
        "--progress",
        "json",
        *extra,
    ]
    print("$ nextword train " + " ".join(command[4:]), file=sys.stderr, flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    last: dict = {}
    for line in proc.stdout:  # type: ignore[union-attr]
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if event["event"] in ("start", "validation", "done"):
            print("  " + json.dumps({k: v for k, v in event.items() if k != "message"}), file=sys.stderr, flush=True)
            last = event
    code = proc.wait()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if code != 0:
        raise SystemExit(f"nextword train failed with exit code {code}")
    return {"wall_seconds": wall, "cpu_seconds": cpu, "done": last}


def run(corpus: Path, keep: Path | None, extra: list[str], max_words: int) -> tuple[dict, dict]:
    folder = keep or Path(tempfile.mkdtemp(prefix="nextword-finetune-"))
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{corpus.name}.safetensors"
    timing = train(corpus, out, extra)
    print(
        f"nextword train: {timing['wall_seconds'] / 60:.2f} min wall-clock, {timing['cpu_seconds'] / 60:.2f} min CPU time",
        flush=True,
    )
    started = time.perf_counter()
    report = evaluate(corpus, ["model", "default", "buffer", "unigram"], model_path=out, max_words=max_words).as_dict()
    print(format_report(report), flush=True)
    print(f"(evaluation {time.perf_counter() - started:.0f} s)\n", flush=True)
    return timing, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=NOTES, help=f"the notes corpus (default {NOTES})")
    parser.add_argument("--korean", action="store_true", help=f"also run the Korean corpus ({KOREAN})")
    parser.add_argument("--only-korean", action="store_true", help="run the Korean corpus only")
    parser.add_argument("--keep", type=Path, help="keep the trained models in this folder")
    parser.add_argument("--max-words", type=int, default=400, help="words typed per test file (default 400)")
    parser.add_argument("train_flags", nargs="*", help="extra `nextword train` flags, after --")
    args = parser.parse_args()
    missed: list[str] = []
    if not args.only_korean:
        timing, report = run(args.corpus, args.keep, args.train_flags, args.max_words)
        figures = report["systems"]
        ksr, acc, default = figures["model"]["ksr@3"], figures["model"]["acc@3"], figures["default"]["ksr@3"]
        if args.corpus.resolve() == NOTES.resolve() and args.max_words == 400:
            checks = [
                (ksr >= 0.40, f"KSR@3 {ksr:.1%} (target >= 40%)"),
                (acc >= 0.36, f"next-word acc@3 {acc:.1%} (target >= 36%)"),
                (
                    ksr - default >= 0.08,
                    f"KSR@3 {100 * (ksr - default):+.1f} points over the shipped model (target >= +8)",
                ),
                (
                    timing["wall_seconds"] <= TRAIN_MINUTES * 60,
                    f"training {timing['wall_seconds'] / 60:.1f} min wall-clock, {timing['cpu_seconds'] / 60:.1f} min CPU (target <= {TRAIN_MINUTES} min)",
                ),
            ]
            for ok, text in checks:
                print(f"{'ok  ' if ok else 'MISS'} {text}")
                if not ok:
                    missed.append(text)
    if args.korean or args.only_korean:
        timing, report = run(KOREAN, args.keep, args.train_flags, args.max_words)
        figures = report["systems"]
        gap = figures["model"]["ksr@3"] - figures["unigram"]["ksr@3"]
        ok = gap >= 0.10
        text = f"Korean: KSR@3 {figures['model']['ksr@3']:.1%}, {100 * gap:+.1f} points over unigram (target >= +10); training {timing['wall_seconds'] / 60:.1f} min"
        print(f"{'ok  ' if ok else 'MISS'} {text}")
        if not ok:
            missed.append(text)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
