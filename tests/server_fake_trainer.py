"""A stand-in for ``nextword train --progress json`` in the server's tests.

Usage: server_fake_trainer.py FOLDER OUT. The file FOLDER/.fake-trainer-mode says what to
do: ok (the default), slow, fail or noise; FAKE_TRAINER_MODEL (environment) is the model
file it "trains" (copies to OUT). It writes its pid to FOLDER/.fake-trainer-pid and prints
the same JSON lines as the real trainer.
"""

import json
import os
import shutil
import sys
import time
from pathlib import Path


def event(kind: str, **fields) -> None:
    print(json.dumps({"event": kind, **fields}), flush=True)


def main() -> int:
    folder, out = Path(sys.argv[1]), Path(sys.argv[2])
    if not folder.is_dir():
        print(f"nextword train: error: {folder} is not a folder", file=sys.stderr)
        return 2
    mode_file = folder / ".fake-trainer-mode"
    mode = mode_file.read_text().strip() if mode_file.exists() else "ok"
    (folder / ".fake-trainer-pid").write_text(str(os.getpid()))
    if mode == "noise":
        print("loading corpus...", flush=True)
        print("{not json", flush=True)
        print(json.dumps([1, 2]), flush=True)
        event("progress", fraction="half")
        event("note", message="3 files, 1,234 words")
    if mode == "fail":
        event("progress", fraction=0.1, message="epoch 1")
        print("nextword train: error: the notes hold too few words to train on", file=sys.stderr)
        return 2
    for i in range(1, 5):
        event("progress", fraction=i / 4, message=f"epoch {i}, loss {5 - i:.3f}")
        time.sleep(0.1)
        if mode == "slow":
            time.sleep(60)
    shutil.copyfile(os.environ["FAKE_TRAINER_MODEL"], out)
    event("done", path=str(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
