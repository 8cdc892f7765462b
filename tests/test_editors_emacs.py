"""Emacs end to end: Emacs in batch mode loads exactly the user's snippet
(editors/emacs/nextword.el: eglot + `nextword serve`), opens a Markdown file (a plain-text one
when markdown-mode is not installed), types as keystrokes, and asks eglot's completion at point:
the candidates are nextword's, in the model's order with their probabilities, and accepting one
inserts it, in English and in Korean after an emoji.

Needs Emacs with eglot: Emacs 29+, or Debian's emacs-nox 28 with elpa-eglot
(`apt-get install emacs-nox elpa-eglot elpa-markdown-mode`). Skipped, with the reason, otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from editors.support import EDITORS, Expected, build_model, editor_env

EMACS = shutil.which("emacs")
SNIPPET = EDITORS / "emacs" / "nextword.el"
DRIVER = Path(__file__).parent / "editors" / "emacs_e2e.el"
INSTALL = "apt-get install emacs-nox elpa-eglot elpa-markdown-mode"


def probe() -> dict | None:
    """What this Emacs has: eglot (required) and markdown-mode (optional)."""
    if EMACS is None:
        return None
    code = (
        '(progn (require \'package) (package-activate-all) (princ (format "%s %s" (if (require \'eglot nil t) "eglot" "none")'
        ' (if (eq (assoc-default "x.md" auto-mode-alist \'string-match) \'markdown-mode) "markdown" "none"))))'
    )
    done = subprocess.run([EMACS, "--batch", "--eval", code], capture_output=True, text=True, timeout=120)
    words = done.stdout.split()
    return {"eglot": "eglot" in words, "markdown": "markdown" in words}


FOUND = probe()
pytestmark = pytest.mark.skipif(
    not (FOUND and FOUND["eglot"]),
    reason=f"Emacs with eglot is not installed ({'no emacs' if FOUND is None else 'emacs has no eglot'}): {INSTALL}",
)


def test_emacs_eglot_completes_in_the_models_order_and_accepts(tmp_path: Path) -> None:
    assert FOUND is not None
    model = build_model(tmp_path / "editors.safetensors")
    expected = Expected(model)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / ".git").mkdir()  # the project root, as a notes repository would have
    name = "note.md" if FOUND["markdown"] else "note.txt"
    note = notes / name
    note.write_text("", encoding="utf-8")

    context1, prefix1 = "The model reads the text. The ", "mo"
    ranked1 = expected.ranked(context1, prefix1, 10)
    line1 = context1 + ranked1[1].word
    context2 = "🙂 오늘은 "
    prefix2 = "공"
    ranked2 = expected.ranked(line1 + "\n" + context2, prefix2, 10)
    assert len(ranked1) >= 3 and len(ranked2) >= 3
    plan = {
        "file": str(note),
        "settings": {"modelPath": str(model), "minProbability": 0},
        "steps": [
            {"type": context1 + prefix1, "accept": 1},
            {"type": "\n" + context2 + prefix2, "accept": 2},
        ],
    }
    plan_file, report_file = tmp_path / "plan.json", tmp_path / "report.json"
    plan_file.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    home = tmp_path / "home"
    env = editor_env(home, HOME=str(home))
    done = subprocess.run(
        [EMACS, "--batch", "-l", str(SNIPPET), "-l", str(DRIVER), str(plan_file), str(report_file)],
        env=env,
        cwd=notes,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(report_file.read_text(encoding="utf-8")) if report_file.exists() else {}
    assert done.returncode == 0 and report.get("ok"), f"Emacs failed: {report.get('failure')}\n{done.stderr[-4000:]}"

    assert report["mode"] == ("markdown-mode" if FOUND["markdown"] else "text-mode")
    steps = report["steps"]
    for step, ranked in zip(steps, (ranked1, ranked2)):
        assert [c["word"] for c in step["candidates"]] == [r.word for r in ranked]
        assert [c["annotation"] for c in step["candidates"]] == [f"{r.shown} · nextword" for r in ranked]
    assert steps[0]["line"] == line1
    assert steps[1]["line"] == context2 + ranked2[2].word
    # (text-mode adds a final newline on save: require-final-newline)
    assert note.read_text(encoding="utf-8").rstrip("\n") == line1 + "\n" + context2 + ranked2[2].word
    assert report["eglot"] is True
