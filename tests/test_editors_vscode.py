"""The VS Code extension (editors/vscode): it type-checks and bundles, lints clean, packages into
a .vsix with one command, and its manifest's settings are exactly the server's settings (names,
types, defaults, limits), so the two cannot drift apart.

The build steps need node and npm (skipped with the reason when absent); the manifest checks
need neither.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
import zipfile
from typing import Any

import pytest

from editors.support import EDITORS
from editors.vscode_build import VSCODE, npm, npm_missing, package_vsix

from nextword.server.settings import SECTION, Settings, camel

MANIFEST = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
PROPERTIES: dict[str, dict[str, Any]] = MANIFEST["contributes"]["configuration"]["properties"]


def client_only_keys() -> list[str]:
    """The settings the extension keeps to itself (src/settings.ts, CLIENT_ONLY)."""
    source = (VSCODE / "src" / "settings.ts").read_text(encoding="utf-8")
    match = re.search(r"CLIENT_ONLY = \[([^\]]*)\]", source)
    assert match, "src/settings.ts has no CLIENT_ONLY list"
    return re.findall(r"'([^']+)'", match.group(1))


def server_settings(cls: type = Settings, prefix: str = "") -> dict[str, tuple[Any, Any, dict[str, Any]]]:
    """Every leaf setting of the server: dotted camelCase name -> (type, default, metadata)."""
    out: dict[str, tuple[Any, Any, dict[str, Any]]] = {}
    hints = typing.get_type_hints(cls)
    defaults = cls()
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        name = prefix + camel(f.name)
        if dataclasses.is_dataclass(kind):
            out.update(server_settings(kind, name + "."))
        else:
            out[name] = (kind, getattr(defaults, f.name), dict(f.metadata))
    return out


SERVER = server_settings()
JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


@pytest.mark.parametrize("name", sorted(SERVER))
def test_manifest_mirrors_server_setting(name: str) -> None:
    kind, default, meta = SERVER[name]
    key = f"{SECTION}.{name}"
    assert key in PROPERTIES, f"package.json contributes.configuration lacks {key} (server setting {name})"
    prop = PROPERTIES[key]
    if typing.get_origin(kind) is list:
        assert prop["type"] == "array" and prop["items"]["type"] == "string", key
    else:
        assert prop["type"] == JSON_TYPES[kind], f"{key}: type {prop['type']}, server {kind.__name__}"
    assert prop["default"] == default and type(prop["default"]) in (type(default), int if kind is float else type(default)), f"{key}: default {prop['default']!r}, server {default!r}"
    if meta.get("min") is not None:
        assert prop.get("minimum") == meta["min"], f"{key}: minimum {prop.get('minimum')}, server {meta['min']}"
    if meta.get("max") is not None:
        assert prop.get("maximum") == meta["max"], f"{key}: maximum {prop.get('maximum')}, server {meta['max']}"
    if meta.get("choices"):
        assert prop.get("enum") == list(meta["choices"]), f"{key}: enum {prop.get('enum')}, server {meta['choices']}"
        assert len(prop.get("enumDescriptions", [])) == len(meta["choices"]), key
    assert (prop.get("markdownDescription") or prop.get("description") or "").strip(), f"{key} has no description"


def test_manifest_has_no_setting_the_server_lacks() -> None:
    client_only = client_only_keys()
    assert client_only == ["serverCommand", "serverArgs", "languages", "trace"]
    for key, prop in PROPERTIES.items():
        assert key.startswith(SECTION + "."), key
        name = key[len(SECTION) + 1 :]
        assert name in SERVER or name.split(".")[0] in client_only, f"{key} is neither a server setting nor one of the extension's own ({client_only})"
        assert (prop.get("markdownDescription") or prop.get("description") or "").strip(), f"{key} has no description"
    assert PROPERTIES["nextword.serverCommand"]["default"] == "nextword"
    assert PROPERTIES["nextword.serverArgs"]["default"] == ["serve"]
    assert PROPERTIES["nextword.languages"]["default"] == ["markdown", "plaintext"]


def test_manifest_basics() -> None:
    assert MANIFEST["engines"]["vscode"] == "^1.91.0"  # vscode-languageclient 11 needs 1.91; code-server 4.100.3 is 1.100.3
    assert MANIFEST["dependencies"]["vscode-languageclient"].lstrip("^~").split(".")[0] == "11"
    assert MANIFEST["main"] == "./dist/extension.js"
    assert {"onLanguage:markdown", "onLanguage:plaintext"} <= set(MANIFEST["activationEvents"])
    for script in ("compile", "lint", "package"):
        assert script in MANIFEST["scripts"], script
    # Every palette command is registered by the extension, and none takes a server command's
    # name (vscode-languageclient registers those itself: a second registration would fail).
    source = "\n".join(p.read_text(encoding="utf-8") for p in (VSCODE / "src").glob("*.ts"))
    registered = set(re.findall(r"registerCommand\('([^']+)'", source))
    contributed = {c["command"] for c in MANIFEST["contributes"]["commands"]}
    assert contributed == registered
    from nextword.server import commands

    assert not contributed & set(commands.COMMANDS)
    titles = {c["title"] for c in MANIFEST["contributes"]["commands"]}
    assert {"Train on This Workspace", "Reload Model", "Show Status"} <= titles
    assert (VSCODE / "package-lock.json").is_file()
    assert (VSCODE / "README.md").is_file()


# ----- building (node and npm) ---------------------------------------------------------------
needs_npm = pytest.mark.skipif(npm_missing() is not None, reason=npm_missing() or "")


@needs_npm
def test_compiles() -> None:
    """Type-checks (tsc --noEmit, strict) and bundles with esbuild."""
    out = npm("run", "compile")
    assert (VSCODE / "dist" / "extension.js").is_file(), out


@needs_npm
def test_lints_clean() -> None:
    npm("run", "lint")


@needs_npm
def test_packages_into_a_vsix() -> None:
    vsix = package_vsix()
    with zipfile.ZipFile(vsix) as z:
        names = set(z.namelist())
        packaged = json.loads(z.read("extension/package.json"))
        bundle = z.read("extension/dist/extension.js")
    assert "extension/dist/extension.js" in names
    assert not any("node_modules/" in n or n.startswith("extension/src/") for n in names), sorted(names)
    # The bundle carries the language client; the packaged manifest is the one tested above.
    assert b"vscode-languageclient" in bundle or b"LanguageClient" in bundle
    assert packaged["contributes"]["configuration"] == MANIFEST["contributes"]["configuration"]
    assert packaged["version"] == MANIFEST["version"]
    assert (EDITORS / "vscode" / "nextword.vsix").samefile(vsix)
