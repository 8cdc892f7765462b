"""VS Code end to end: code-server 4.100.3 (VS Code 1.100.3) with the packaged nextword.vsix
installed, driven by headless Chromium through playwright-core, as a user: open a Markdown file
from the explorer, wait for the status bar to show the model, type, see nextword's words in the
suggest widget in the model's order with their probabilities, accept one (Tab), press Enter with
a list open (a line break), save, and run "nextword: Show Status" from the palette; write a note
with the shipped model (every Enter a line break, no list where the model is unsure, Escape
takes ghost text away); and, with no server, choose it in the file dialog the error offers.
The extension starts `nextword serve` from PATH, as it does for a user.

Needs code-server and playwright-core from npm and Debian's chromium:
`bash editors/vscode/scripts/install-e2e.sh` installs them (into $NEXTWORD_E2E_DIR, default
~/.cache/nextword-e2e). Skipped, with the reason, when they are absent.

With NEXTWORD_E2E_SCREENSHOT set (to editors/vscode/screenshots/suggest.png to refresh the
one the extension's README shows), copies the suggest widget's screenshot there; otherwise a
test run leaves the checkout as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from editors.support import CORPUS, EDITORS, Expected, build_model, editor_env, nextword_bin_dir
from editors.vscode_build import npm_missing, package_vsix

E2E_DIR = Path(os.environ.get("NEXTWORD_E2E_DIR", Path.home() / ".cache" / "nextword-e2e"))
CODE_SERVER = E2E_DIR / "node_modules" / ".bin" / "code-server"
PLAYWRIGHT = E2E_DIR / "node_modules" / "playwright-core"
CHROMIUM = os.environ.get("NEXTWORD_E2E_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = Path(__file__).parent / "editors" / "vscode_e2e.mjs"
SCREENSHOT = os.environ.get("NEXTWORD_E2E_SCREENSHOT")
INSTALL = "bash editors/vscode/scripts/install-e2e.sh"
MANIFEST = json.loads((EDITORS / "vscode" / "package.json").read_text(encoding="utf-8"))
MACHINE_SCOPED = {
    k
    for k, p in MANIFEST["contributes"]["configuration"]["properties"].items()
    if p.get("scope", "").startswith("machine")
}
# The real trainer, from scratch and for a few seconds, whether or not a shipped model exists.
TRAINER = {
    "NEXTWORD_TRAIN_COMMAND": json.dumps(
        [
            "{python}",
            "-m",
            "nextword.server.cli",
            "train",
            "{folder}",
            "--out",
            "{out}",
            "--progress",
            "json",
            "--from-scratch",
            "--max-minutes",
            "0.25",
        ]
    )
}


def missing() -> str | None:
    if reason := npm_missing():
        return reason
    if not CODE_SERVER.exists():
        return f"code-server is not installed in {E2E_DIR}: run {INSTALL}"
    if not (PLAYWRIGHT / "package.json").exists():
        return f"playwright-core is not installed in {E2E_DIR}: run {INSTALL}"
    if not Path(CHROMIUM).exists():
        return f"chromium is not installed: apt-get install chromium (or run {INSTALL})"
    return None


pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def code_server(home: Path, folder: Path, settings: dict, vsix: Path, nextword_on_path: bool = True):
    """code-server serving ``folder`` with the extension installed; yields its URL. With
    ``nextword_on_path`` false, no folder on PATH holds a `nextword` program."""
    user_data, extensions = home / "user-data", home / "extensions"
    # code-server is a remote window: settings of machine scope (nextword.serverCommand,
    # serverArgs, modelPath) apply from the Remote settings (user-data/Machine), the rest from User.
    machine = {key: value for key, value in settings.items() if key in MACHINE_SCOPED}
    for folder, values in (("User", {k: v for k, v in settings.items() if k not in machine}), ("Machine", machine)):
        (user_data / folder).mkdir(parents=True)
        (user_data / folder / "settings.json").write_text(
            json.dumps(values, indent=2, ensure_ascii=False), encoding="utf-8"
        )
    config = home / "code-server.yaml"
    config.write_text("auth: none\ncert: false\n", encoding="utf-8")
    tmp = home / "tmp"
    tmp.mkdir()
    env = editor_env(
        home, HOME=str(home), TMPDIR=str(tmp), SHELL="/bin/bash", VSCODE_CLI_DISABLE_TELEMETRY="1", **TRAINER
    )
    if not nextword_on_path:
        env["PATH"] = os.pathsep.join(
            d for d in env["PATH"].split(os.pathsep) if d and not Path(d, "nextword").exists()
        )
    # VS Code takes the extension host's environment from a login shell (`$SHELL -ilc env`), so,
    # as for a user who installed nextword with pipx or pip --user, PATH comes from the profile.
    profile = f'export PATH="{env["PATH"].split(os.pathsep)[0]}:$PATH"\n' if nextword_on_path else ""
    for name in (".profile", ".bashrc"):
        (home / name).write_text(profile, encoding="utf-8")
    for name in ("VSCODE_IPC_HOOK_CLI", "VSCODE_CWD", "VSCODE_NLS_CONFIG"):
        env.pop(name, None)
    common = ["--user-data-dir", str(user_data), "--extensions-dir", str(extensions), "--config", str(config)]
    done = subprocess.run(
        [str(CODE_SERVER), *common, "--install-extension", str(vsix)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0 and "nextword" in (done.stdout + done.stderr), done.stdout + done.stderr
    port = free_port()
    log = open(home / "code-server.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(CODE_SERVER),
            "--bind-addr",
            f"127.0.0.1:{port}",
            "--auth",
            "none",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            "--disable-getting-started-override",
            *common,
            str(folder),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its extension hosts and language servers stop with it
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"code-server did not answer: {(home / 'code-server.log').read_text(errors='replace')[-3000:]}"
                    ) from None
                time.sleep(0.3)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        log.close()


# Settings every session starts with: no trust prompt, welcome page or telemetry in the way.
QUIET_SETTINGS = {
    "security.workspace.trust.enabled": False,
    "workbench.startupEditor": "none",
    "telemetry.telemetryLevel": "off",
}


def run_plan(tmp_path: Path, plan: dict, timeout: int, explain=lambda report: json.dumps(report)) -> dict:
    """Drive the browser through ``plan`` (``driver.mjs``; the browser to drive is added
    here); its report, asserting it succeeded (``explain(report)`` says more where not)."""
    plan = {"playwright": str(PLAYWRIGHT), "chromium": CHROMIUM, **plan}
    plan_file, report_file = tmp_path / "plan.json", tmp_path / "report.json"
    plan_file.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run(
        ["node", str(DRIVER), str(plan_file), str(report_file)], capture_output=True, text=True, timeout=timeout
    )
    report = json.loads(report_file.read_text(encoding="utf-8")) if report_file.exists() else {}
    assert done.returncode == 0 and report.get("ok"), (
        f"{report.get('failure') or done.stderr[-3000:]}\n{explain(report)}"
    )
    return report


def test_vscode_suggests_in_the_models_order_and_accepts(tmp_path: Path) -> None:
    vsix = package_vsix()
    model = build_model(tmp_path / "editors.safetensors")
    expected = Expected(model)
    notes = tmp_path / "notes"
    notes.mkdir()
    note = notes / "note.md"
    note.write_text("", encoding="utf-8")
    for i in range(8):  # something to train on (files, as the evaluation protocol holds some out)
        (notes / f"ideas-{i}.md").write_text(CORPUS * 2, encoding="utf-8")
    settings = {
        **QUIET_SETTINGS,
        "update.mode": "none",
        "extensions.ignoreRecommendations": True,
        "workbench.tips.enabled": False,
        "chat.commandCenter.enabled": False,
        "workbench.secondarySideBar.defaultVisibility": "hidden",
        "editor.minimap.enabled": False,
        "editor.fontSize": 15,
        "nextword.modelPath": str(model),
        "nextword.minProbability": 0,  # the next-word list after every space, whatever this random model thinks
        # The model's own order: the notes beside the note are for training, not learned here
        # (learning from the workspace has tests of its own).
        "nextword.learning.enabled": False,
        # The server's DEBUG lines, in the nextword channel at its default level (Info), and
        # the LSP messages in their own channel.
        "nextword.logLevel": "debug",
        "nextword.trace.server": "messages",
    }
    k = 10
    context1, prefix1 = "The model reads the text. The ", "mo"
    ranked1 = expected.ranked(context1, prefix1, k)
    line = context1 + ranked1[1].word + " "
    ranked2 = expected.ranked(line, "", k)
    line += ranked2[0].word + "\n"
    context3, prefix3 = "🙂 오늘은 ", "공"
    ranked3 = expected.ranked(line + context3, prefix3, k)
    assert len(ranked1) >= 3 and len(ranked2) >= 3 and len(ranked3) >= 3
    # Then maxItems goes down to 3 in the settings: the next list has 3 items, no restart needed.
    context4, prefix4 = line + context3 + ranked3[2].word + " ", "mo"
    ranked4 = expected.ranked(context4, prefix4, 3)
    # Last, Enter with the list open on part of a word and nothing chosen: a line break, the
    # letters as typed (in Markdown, Tab accepts and Enter never does).
    context5, prefix5 = context4 + ranked4[0].word + " ", "mo"
    ranked5 = expected.ranked(context5, prefix5, 3)
    screenshot_dir = tmp_path / "screenshots"
    screenshot_dir.mkdir()
    shot = screenshot_dir / "suggest.png"

    home = tmp_path / "home"
    with code_server(home, notes, settings, vsix) as url:
        plan = {
            "url": f"{url}?folder={notes}",
            "file": note.name,
            "modelName": model.name,
            "screenshotDir": str(screenshot_dir),
            "statusCommand": True,
            "train": {"modelName": "model.safetensors"},
            "stopIdle": "no training is running",
            "steps": [
                {
                    "type": context1 + prefix1,
                    "expectWords": [r.word for r in ranked1],
                    "accept": 1,
                    "screenshot": str(shot),
                },
                {"type": " ", "expectWords": [r.word for r in ranked2], "accept": 0, "then": "\n"},
                {"type": context3 + prefix3, "expectWords": [r.word for r in ranked3], "accept": 2},
                {
                    "setting": {"key": "nextword.maxItems", "value": 3},
                    "type": " " + prefix4,
                    "expectWords": [r.word for r in ranked4],
                    "accept": 0,
                },
                {"type": " " + prefix5, "expectWords": [r.word for r in ranked5], "then": "\n"},
            ],
        }
        report = run_plan(
            tmp_path,
            plan,
            420,
            lambda report: (
                f"steps: {json.dumps(report.get('steps'), ensure_ascii=False)[:3000]}\n"
                f"status bar: {report.get('statusBar')}\nconsole: {report.get('console', [])[-30:]}\n"
                f"screenshots of failures: {sorted(p.name for p in screenshot_dir.iterdir())} in {screenshot_dir}\n"
                f"code-server log: {(home / 'code-server.log').read_text(errors='replace')[-2000:]}"
            ),
        )
        logs = home / "user-data" / "logs"
        server_log = "\n".join(p.read_text(errors="replace") for p in logs.rglob("nextword.nextword/nextword.log"))
        trace_log = "\n".join(p.read_text(errors="replace") for p in logs.rglob("*nextword (LSP trace).log"))

    # nextword.logLevel debug: the server's DEBUG lines are in the channel, marked as such; the
    # LSP trace is in its own channel, not in the server's log.
    assert any("[debug] " in line and "opened" in line for line in server_log.splitlines()), server_log[-3000:]
    assert "Sending request 'textDocument/completion" in trace_log, trace_log[-3000:]
    assert "Sending request" not in server_log
    steps = report["steps"]
    assert len(steps) == 5
    for step, ranked in zip(steps, (ranked1, ranked2, ranked3, ranked4, ranked5)):
        rows = step["rows"]
        # Every row is nextword's, in the model's order, showing its probability.
        assert [r["label"] for r in rows] == [r.word for r in ranked]
        assert [r["detail"] for r in rows] == [r.shown for r in ranked], rows
    assert steps[0]["focusedBeforeAccept"] == ranked1[1].word
    # What was accepted is in the file, in place of what was typed before it.
    assert note.read_text(encoding="utf-8") == context5 + prefix5 + "\n"
    # The status bar showed the model by name once it was ready; the palette's status said so too.
    assert any(model.name in text for text in report["statusBar"]), report["statusBar"]
    assert any(model.name in text and "ready" in text for text in report["notifications"]), report["notifications"]
    # Training from the palette: progress shown while the server trained, then the new model in use.
    training = report["training"]
    assert any("nextword: training" in text for text in training["notifications"]), training
    assert any("training" in text and "%" in text for text in training["statusBar"]), training
    assert any("model.safetensors" in text for text in training["statusBar"]), training
    assert (home / "nextword-data" / "model.safetensors").is_file()
    assert "nextword: no training is running" in report["stopIdle"]
    assert shot.stat().st_size > 5000
    if SCREENSHOT:
        Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)


def test_vscode_says_clearly_when_the_server_is_missing(tmp_path: Path) -> None:
    """With no `nextword` to start: an error naming the command and the fix, a status bar item
    that says so, and an "Open README" button that opens the extension's README."""
    vsix = package_vsix()
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "note.md").write_text("Some notes.\n", encoding="utf-8")
    settings = {
        **QUIET_SETTINGS,
        "nextword.serverCommand": "nextword-not-installed",
    }
    screenshot_dir = tmp_path / "screenshots"
    screenshot_dir.mkdir()
    home = tmp_path / "home"
    with code_server(home, notes, settings, vsix) as url:
        plan = {
            "url": f"{url}?folder={notes}",
            "file": "note.md",
            "screenshotDir": str(screenshot_dir),
            "missingServer": {"text": "or on PATH", "button": "Open README", "tab": "readme"},
            "quietBeforeOpenMs": 8000,
        }
        report = run_plan(tmp_path, plan, 300)
    # No server, and so no error, before a Markdown file was open.
    assert not any(
        "nextword" in text for text in report["beforeOpen"]["notifications"] + report["beforeOpen"]["statusBar"]
    ), report["beforeOpen"]
    assert '"nextword-not-installed"' in report["error"]
    assert "nextword.serverCommand" in report["error"] and "Install nextword" in report["error"]
    assert "pipx install ./nextword" in report["error"] and "pipx install nextword" not in report["error"]
    assert any("no server" in text for text in report["statusBar"]), report["statusBar"]
    assert "readme" in report["openedTab"].lower()


def test_vscode_says_once_why_the_server_did_not_start_and_recovers(tmp_path: Path) -> None:
    """A server command that exits as it starts: it runs once (no respawns), one error quotes
    the last line it wrote and offers the settings (no notifications of vscode-languageclient's
    own), and fixing the setting while that error is still open starts the server."""
    vsix = package_vsix()
    model = build_model(tmp_path / "editors.safetensors")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "note.md").write_text("Some notes.\n", encoding="utf-8")
    runs = tmp_path / "runs.log"
    broken = tmp_path / "broken-nextword"
    broken.write_text(
        f'#!/bin/sh\necho "$*" >> "{runs}"\necho "Traceback (most recent call last):" >&2\n'
        'echo "RuntimeError: nextword: something is broken" >&2\nexit 3\n',
        encoding="utf-8",
    )
    broken.chmod(0o755)
    settings = {
        **QUIET_SETTINGS,
        "nextword.serverCommand": str(broken),
        "nextword.modelPath": str(model),
    }
    screenshot_dir = tmp_path / "screenshots"
    screenshot_dir.mkdir()
    home = tmp_path / "home"
    with code_server(home, notes, settings, vsix) as url:
        plan = {
            "url": f"{url}?folder={notes}",
            "file": "note.md",
            "modelName": model.name,
            "screenshotDir": str(screenshot_dir),
            "failingServer": {
                "text": "something is broken",
                "button": "Open Settings",
                "settingsFile": str(home / "user-data" / "Machine" / "settings.json"),
                "fixedSettings": {"nextword.serverCommand": "nextword", "nextword.modelPath": str(model)},
            },
        }
        report = run_plan(tmp_path, plan, 300)
    error = report["error"]
    assert (
        str(broken) in error
        and "exited as it started" in error
        and "RuntimeError: nextword: something is broken" in error
    ), error
    assert "nextword.serverCommand" in error and "nextword.serverArgs" in error, error
    # That error is the only one: no "write EPIPE", no "couldn't create connection", no "crashed 5 times".
    ours = [
        text
        for text in report["notifications"]
        if any(word in text for word in ("nextword", "EPIPE", "connection", "server"))
    ]
    assert ours == [error], report["notifications"]
    assert runs.read_text(encoding="utf-8").count("\n") == 1, runs.read_text(encoding="utf-8")
    assert any(model.name in text for text in report["statusBar"]), report["statusBar"]
    assert "Settings" in report["openedTab"]


def test_vscode_offers_to_choose_the_missing_server(tmp_path: Path) -> None:
    """No `nextword` on PATH and no setting (the User tab shows none): the error offers a file
    dialog; the program chosen there is stored where the setting applies in code-server, the
    Remote (Machine) settings, not the User ones, and the server starts with it."""
    vsix = package_vsix()
    model = build_model(tmp_path / "editors.safetensors")
    program = nextword_bin_dir()
    assert program is not None
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "note.md").write_text("Some notes.\n", encoding="utf-8")
    settings = {**QUIET_SETTINGS, "nextword.modelPath": str(model)}
    screenshot_dir = tmp_path / "screenshots"
    screenshot_dir.mkdir()
    home = tmp_path / "home"
    with code_server(home, notes, settings, vsix, nextword_on_path=False) as url:
        plan = {
            "url": f"{url}?folder={notes}",
            "file": "note.md",
            "modelName": model.name,
            "screenshotDir": str(screenshot_dir),
            "missingServer": {
                "text": "or on PATH",
                "button": "Choose the Program…",
                "choose": str(program / "nextword"),
            },
        }
        report = run_plan(tmp_path, plan, 300)
    assert '"nextword"' in report["error"] and ".venv" in report["error"], report["error"]
    machine = json.loads((home / "user-data" / "Machine" / "settings.json").read_text(encoding="utf-8"))
    user = json.loads((home / "user-data" / "User" / "settings.json").read_text(encoding="utf-8"))
    assert machine.get("nextword.serverCommand") == str(program / "nextword"), machine
    assert "nextword.serverCommand" not in user, user
    assert any(model.name in text for text in report["statusBar"]), report["statusBar"]


SHIPPED_MODEL = EDITORS.parent / "model" / "data" / "default.safetensors"
# Lines a person writes in a note, each ending in a word the shipped model knows longer forms
# of (debugger_visualizer, notebook, modeling, testing): Enter after each must write a line
# break and leave the word as typed, whatever list is open.
PROSE_LINES = ["## Setting up the debugger", "Write a short note", "Train the model", "Run the test"]
# After these words the shipped model is unsure of the next one (its first three words together
# are less than 20% likely): no list may cover the text.
UNSURE = "Our garden "
# Where the model is sure of a phrase, ghost text shows (`Thanks` → ` to`, a word typed whole,
# with no list; `according ` → `to the`, beside a list where the server shows both): tried in
# turn until ghost text shows, and Escape must dismiss it.
SURE = ["Thanks", "according "]


@pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason=f"the shipped model {SHIPPED_MODEL} is absent")
def test_vscode_enter_writes_a_line_break_in_prose(tmp_path: Path) -> None:
    """A note written with the shipped model and the default settings, as a new user writes it:
    every Enter is a line break, every word stays as typed, and after a space where the model
    is unsure no list opens (screenshot: prose.png)."""
    vsix = package_vsix()
    expected = Expected(SHIPPED_MODEL)
    text = "".join(line + "\n" for line in PROSE_LINES)
    for line in PROSE_LINES:
        head, _, last = line.rpartition(" ")
        longer = expected.words(text[: text.index(line)] + head + " ", last, 10)
        assert any(w != last and w.startswith(last) for w in longer), (last, longer)
    top = expected.ranked(text + UNSURE, "", 3)
    assert sum(r.probability for r in top) < 0.2, top
    notes = tmp_path / "notes"
    notes.mkdir()
    note = notes / "note.md"
    note.write_text("", encoding="utf-8")
    settings = {**QUIET_SETTINGS, "editor.minimap.enabled": False, "nextword.modelPath": str(SHIPPED_MODEL)}
    screenshot_dir = tmp_path / "screenshots"
    screenshot_dir.mkdir()
    shot = screenshot_dir / "prose.png"
    home = tmp_path / "home"
    with code_server(home, notes, settings, vsix) as url:
        plan = {
            "url": f"{url}?folder={notes}",
            "file": note.name,
            "modelName": SHIPPED_MODEL.name,
            "screenshotDir": str(screenshot_dir),
            "prose": {"lines": PROSE_LINES, "unsure": UNSURE, "screenshot": str(shot), "ghost": SURE},
            "steps": [],
        }
        report = run_plan(tmp_path, plan, 420, lambda report: json.dumps(report.get("prose"), ensure_ascii=False))
    prose = report["prose"]
    # Every line break is there and every word as typed, whatever the list showed at Enter.
    tried = "".join("\n" + seen["typed"] for seen in prose["ghost"])
    assert note.read_text(encoding="utf-8") == text + UNSURE + tried, (note.read_text(encoding="utf-8"), prose)
    assert prose["unsure"]["list"] is None, prose["unsure"]
    assert shot.stat().st_size > 2000
    # Escape leaves no ghost text behind.
    assert prose["unsure"]["ghostAfterEscape"] is None, prose["unsure"]
    assert prose["ghost"][-1]["ghost"], prose["ghost"]
    assert prose["ghost"][-1]["ghostAfterEscape"] is None, prose["ghost"]
    if SCREENSHOT:
        shutil.copyfile(shot, Path(SCREENSHOT).parent / "prose.png")
