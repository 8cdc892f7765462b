"""The configuration snippets for Helix, Sublime Text, Zed, Kakoune and Emacs parse, start
`nextword serve`, cover Markdown, and name only real server settings, with the server's
defaults, so that a copied snippet never carries a setting the server does not know."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pytest
from editors.support import EDITORS
from nextword.server.settings import Settings, parse_settings, to_json


def jsonc(text: str) -> Any:
    """JSON with // comments (Sublime Text's and Zed's settings files)."""
    return json.loads(re.sub(r'^\s*//.*$|(?<=[,{\[\s])//[^"\n]*$', "", text, flags=re.M))


def check_settings(raw: dict[str, Any], terminal: bool = False) -> None:
    """``raw`` holds only known server settings, each at its default (a ``terminal`` editor's
    set-up turns ``hangulComposing`` off: it receives whole Hangul syllables)."""
    settings, problems, unknown = parse_settings(raw)
    assert not problems and not unknown, (problems, unknown)
    defaults = to_json(Settings(hangul_composing=not terminal))
    assert not terminal or raw.get("hangulComposing") is False
    for key, value in raw.items():
        assert value == defaults[key], f"{key}: {value!r} in the snippet, {defaults[key]!r} in the server"


def test_helix() -> None:
    config = tomllib.loads((EDITORS / "helix" / "languages.toml").read_text(encoding="utf-8"))
    server = config["language-server"]["nextword"]
    assert server["command"] == "nextword" and server["args"] == ["serve"]
    check_settings(server["config"]["nextword"], terminal=True)
    languages = {lang["name"]: lang for lang in config["language"]}
    assert "nextword" in languages["markdown"]["language-servers"]
    assert "nextword" in languages["text"]["language-servers"]


def test_sublime() -> None:
    config = jsonc((EDITORS / "sublime" / "LSP.sublime-settings").read_text(encoding="utf-8"))
    client = config["clients"]["nextword"]
    assert client["command"] == ["nextword", "serve"]
    assert "text.html.markdown" in client["selector"] and "text.plain" in client["selector"]
    dotted = client["settings"]
    assert all(key.startswith("nextword.") for key in dotted)
    check_settings({key.removeprefix("nextword."): value for key, value in dotted.items()})
    prefs = jsonc((EDITORS / "sublime" / "Preferences.sublime-settings").read_text(encoding="utf-8"))
    assert "text.html.markdown" in prefs["auto_complete_selector"]


def test_zed() -> None:
    extension = tomllib.loads((EDITORS / "zed" / "extension.toml").read_text(encoding="utf-8"))
    assert "Markdown" in extension["language_servers"]["nextword"]["languages"]
    cargo = tomllib.loads((EDITORS / "zed" / "Cargo.toml").read_text(encoding="utf-8"))
    assert cargo["lib"]["crate-type"] == ["cdylib"] and "zed_extension_api" in cargo["dependencies"]
    assert '"serve"' in (EDITORS / "zed" / "src" / "lib.rs").read_text(encoding="utf-8")
    settings = jsonc((EDITORS / "zed" / "settings.json").read_text(encoding="utf-8"))
    check_settings(settings["lsp"]["nextword"]["settings"]["nextword"])
    assert "nextword" in settings["languages"]["Markdown"]["language_servers"]


def test_kakoune() -> None:
    text = (EDITORS / "kakoune" / "nextword.kak").read_text(encoding="utf-8")
    block = re.search(r"lsp_servers %\{\n(.*?)\n    \}", text, re.S)
    assert block, "no lsp_servers block"
    config = tomllib.loads(block.group(1))
    server = config["nextword"]
    assert server["command"] == "nextword" and server["args"] == ["serve"]
    assert server["settings_section"] == "nextword"
    check_settings(server["settings"]["nextword"], terminal=True)
    assert "filetype=markdown" in text


def test_emacs() -> None:
    text = (EDITORS / "emacs" / "nextword.el").read_text(encoding="utf-8")
    assert '("nextword" "serve")' in text and "markdown-mode" in text and "eglot-ensure" in text
    plist = re.search(r"'\(:nextword \((.*?)\)\)", text)
    assert plist, "no :nextword settings"
    pairs = re.findall(r':(\w+) ("[^"]*"|[\d.]+)', plist.group(1))
    check_settings({key: json.loads(value) for key, value in pairs})


@pytest.mark.parametrize("editor", ["helix", "sublime", "zed", "kakoune", "emacs", "nvim", "vscode"])
def test_each_editor_has_a_readme_section(editor: str) -> None:
    readme = (EDITORS / "README.md").read_text(encoding="utf-8")
    names = {
        "helix": "Helix",
        "sublime": "Sublime Text",
        "zed": "Zed",
        "kakoune": "Kakoune",
        "emacs": "Emacs",
        "nvim": "Neovim",
        "vscode": "VS Code",
    }
    assert re.search(rf"^## {names[editor]}\b", readme, re.M), f"editors/README.md has no section for {names[editor]}"
