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
import subprocess
import typing
import zipfile
from typing import Any

import pytest
from editors.support import EDITORS
from editors.vscode_build import VSCODE, install_packages, npm, npm_missing, package_vsix
from nextword.server.settings import SECTION, LearningSettings, Settings, camel

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
    assert prop["default"] == default and type(prop["default"]) in (
        type(default),
        int if kind is float else type(default),
    ), f"{key}: default {prop['default']!r}, server {default!r}"
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
        assert name in SERVER or name.split(".")[0] in client_only, (
            f"{key} is neither a server setting nor one of the extension's own ({client_only})"
        )
        assert (prop.get("markdownDescription") or prop.get("description") or "").strip(), f"{key} has no description"
    assert PROPERTIES["nextword.serverCommand"]["default"] == "nextword"
    assert PROPERTIES["nextword.serverArgs"]["default"] == ["serve"]
    assert PROPERTIES["nextword.languages"]["default"] == ["markdown", "plaintext"]


def test_manifest_basics() -> None:
    assert (
        MANIFEST["engines"]["vscode"] == "^1.91.0"
    )  # vscode-languageclient 11 needs 1.91; code-server 4.100.3 is 1.100.3
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


def test_learning_settings_and_the_forget_command_are_contributed() -> None:
    """Every learning.* setting of the server is in the Settings editor at its default; the
    palette's forget command is declared, registered, shown only with a folder open, and asks
    the server's nextword.forgetWorkspace with the folder's URI."""
    defaults = LearningSettings()
    for f in dataclasses.fields(LearningSettings):
        key = f"{SECTION}.learning.{camel(f.name)}"
        assert PROPERTIES[key]["default"] == getattr(defaults, f.name), key
    assert PROPERTIES["nextword.learning.enabled"]["default"] is True
    [forget] = [c for c in MANIFEST["contributes"]["commands"] if c["command"] == "nextword.forgetThisWorkspace"]
    assert forget["title"] == "Forget What It Learned From This Workspace" and forget["category"] == "nextword"
    palette = {m["command"]: m["when"] for m in MANIFEST["contributes"]["menus"]["commandPalette"]}
    assert palette["nextword.forgetThisWorkspace"] == "workspaceFolderCount > 0"
    source = (VSCODE / "src" / "extension.ts").read_text(encoding="utf-8")
    assert "registerCommand('nextword.forgetThisWorkspace'" in source
    assert "FORGET_WORKSPACE = 'nextword.forgetWorkspace'" in source
    assert "this.execute<{ forgotten?: unknown[] } | null>(client, FORGET_WORKSPACE, [folder.uri.toString()])" in source
    readme = (VSCODE / "README.md").read_text(encoding="utf-8")
    for f in dataclasses.fields(LearningSettings):
        assert f"`nextword.learning.{camel(f.name)}`" in readme, f.name
    assert "Forget What It Learned From This Workspace" in readme


def test_prose_defaults_leave_enter_to_the_line_break() -> None:
    """In Markdown and plain text Enter never accepts a suggestion (Tab does), and Escape with
    the list and ghost text both showing is bound to the command that takes both away."""
    defaults = MANIFEST["contributes"]["configurationDefaults"]
    for language in ("[markdown]", "[plaintext]"):
        assert defaults[language]["editor.acceptSuggestionOnEnter"] == "off", defaults[language]
    [binding] = [b for b in MANIFEST["contributes"]["keybindings"] if b["key"] == "escape"]
    assert binding["command"] == "nextword.dismiss"
    when = binding["when"]
    assert "suggestWidgetVisible" in when and "inlineSuggestionVisible" in when, when
    assert "editorLangId in nextword.languages" in when, when
    source = (VSCODE / "src" / "extension.ts").read_text(encoding="utf-8")
    assert "'setContext', 'nextword.languages'" in source


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


# ----- the extension's modules, run in node ---------------------------------------------------
# A stand-in for the `vscode` module, as much of it as the modules tested below use: settings
# from a global the test sets, output channels that record what is written to them.
VSCODE_STUB = """
const listeners = [];
globalThis.settings = {};
globalThis.channels = [];
class EventEmitter {
  constructor() { this.handlers = []; this.event = (h) => { this.handlers.push(h); return { dispose() {} }; }; }
  fire(value) { for (const h of this.handlers) h(value); }
  dispose() {}
}
class ThemeColor { constructor(id) { this.id = id; } }
class MarkdownString {
  constructor(value) { this.value = value ?? ''; }
  appendMarkdown(text) { this.value += text; return this; }
  appendText(text) { this.value += text; return this; }
}
globalThis.statusItems = [];
module.exports = {
  EventEmitter,
  ThemeColor,
  MarkdownString,
  StatusBarAlignment: { Left: 1, Right: 2 },
  ConfigurationTarget: { 1: 'Global', 2: 'Workspace', 3: 'WorkspaceFolder', Global: 1, Workspace: 2, WorkspaceFolder: 3 },
  LogLevel: { Off: 0, Trace: 1, Debug: 2, Info: 3, Warning: 4, Error: 5 },
  workspace: {
    getConfiguration: (section) => ({ get: (key, fallback) => (`${section}.${key}` in globalThis.settings ? globalThis.settings[`${section}.${key}`] : fallback) }),
    onDidChangeConfiguration: (listener) => { listeners.push(listener); return { dispose() {} }; },
    changeSettings: (values) => {
      Object.assign(globalThis.settings, values);
      for (const l of listeners) l({ affectsConfiguration: (key) => Object.keys(values).some((k) => k === key || k.startsWith(key + '.')) });
    },
  },
  window: {
    createStatusBarItem: (id) => {
      const item = { id, text: '', tooltip: undefined, show() {}, hide() {}, dispose() {} };
      globalThis.statusItems.push(item);
      return item;
    },
    createOutputChannel: (name) => {
      const channel = { name, lines: [], appendLine(line) { this.lines.push(line); }, append(t) { this.lines.push(t); }, show() {}, hide() {}, clear() {}, replace() {}, dispose() {} };
      globalThis.channels.push(channel);
      return channel;
    },
  },
};
"""


def run_in_node(tmp_path: Any, script: str) -> Any:
    """Bundles `script` (TypeScript that imports the extension's modules as `@src/...`) with
    esbuild, runs it in node with the stand-in `vscode`, and returns what it prints, as JSON."""
    install_packages()
    stub = tmp_path / "node_modules" / "vscode"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "index.js").write_text(VSCODE_STUB, encoding="utf-8")
    entry, bundle = tmp_path / "entry.ts", tmp_path / "entry.js"
    entry.write_text(script.replace("@src/", (VSCODE / "src").as_posix() + "/"), encoding="utf-8")
    esbuild = VSCODE / "node_modules" / ".bin" / "esbuild"
    built = subprocess.run(
        [
            str(esbuild),
            str(entry),
            "--bundle",
            "--platform=node",
            "--format=cjs",
            "--external:vscode",
            f"--outfile={bundle}",
            "--log-level=error",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    done = subprocess.run(["node", str(bundle)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@needs_npm
def test_server_command_is_relative_to_the_workspace_folder(tmp_path: Any) -> None:
    """`.venv/bin/nextword` in a workspace setting is the workspace's, not the extension host's
    working directory's; `${workspaceFolder}` stands for the folder."""
    workspace, elsewhere = tmp_path / "notes", tmp_path / "elsewhere"
    program = workspace / ".venv" / "bin" / "nextword"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n", encoding="utf-8")
    program.chmod(0o755)
    (elsewhere / ".venv" / "bin").mkdir(parents=True)
    on_path = tmp_path / "bin"
    on_path.mkdir()
    (on_path / "nextword").write_text("#!/bin/sh\n", encoding="utf-8")
    (on_path / "nextword").chmod(0o755)
    found = run_in_node(
        tmp_path,
        f"""
import {{ findCommand }} from '@src/findCommand';
const workspace = {json.dumps(str(workspace))}, elsewhere = {json.dumps(str(elsewhere))};
process.chdir(workspace);  // the extension host's directory is never the one meant
console.log(JSON.stringify({{
  relative: findCommand('.venv/bin/nextword', workspace),
  dotted: findCommand('./.venv/bin/nextword', workspace),
  variable: findCommand('${{workspaceFolder}}/.venv/bin/nextword', workspace),
  otherFolder: findCommand('.venv/bin/nextword', elsewhere) ?? null,
  variableNoFolder: findCommand('${{workspaceFolder}}/.venv/bin/nextword', undefined) ?? null,
  absolute: findCommand({json.dumps(str(program))}, elsewhere),
  onPath: findCommand('nextword', elsewhere, {{ PATH: {json.dumps(str(on_path))} }}),
  notOnPath: findCommand('nextword-not-installed', workspace, {{ PATH: {json.dumps(str(on_path))} }}) ?? null,
}}));
""",
    )
    assert found == {
        "relative": str(program),
        "dotted": str(program),
        "variable": str(program),
        "otherFolder": None,
        "variableNoFolder": None,
        "absolute": str(program),
        "onPath": str(on_path / "nextword"),
        "notOnPath": None,
    }


@needs_npm
def test_server_command_found_in_the_workspaces_virtual_environment(tmp_path: Any) -> None:
    """The default `nextword` is found in a workspace folder's .venv (or venv) before PATH, in
    the first folder that has one; a path, or a name no environment holds, is looked up as before."""
    first, second, plain = tmp_path / "first", tmp_path / "second", tmp_path / "plain"
    programs = {}
    for folder, venv in ((first, "venv"), (second, ".venv"), (plain, None)):
        folder.mkdir()
        if venv:
            program = folder / venv / "bin" / "nextword"
            program.parent.mkdir(parents=True)
            program.write_text("#!/bin/sh\n", encoding="utf-8")
            program.chmod(0o755)
            programs[folder.name] = str(program)
    (second / "venv" / "bin").mkdir(parents=True)
    not_executable = second / "venv" / "bin" / "nextword"
    not_executable.write_text("", encoding="utf-8")  # not runnable: passed over
    on_path = tmp_path / "bin"
    on_path.mkdir()
    (on_path / "nextword").write_text("#!/bin/sh\n", encoding="utf-8")
    (on_path / "nextword").chmod(0o755)
    path = json.dumps(str(on_path))
    found = run_in_node(
        tmp_path,
        f"""
import {{ findCommand, isProgram }} from '@src/findCommand';
const [first, second, plain] = {json.dumps([str(first), str(second), str(plain)])};
const env = {{ PATH: {path} }};
console.log(JSON.stringify({{
  second: findCommand('nextword', second, env),
  first: findCommand('nextword', first, env),
  both: findCommand('nextword', plain, env, [plain, second, first]),
  plain: findCommand('nextword', plain, env),
  noFolder: findCommand('nextword', undefined, env),
  other: findCommand('nextword-not-installed', second, env) ?? null,
  explicit: findCommand({json.dumps(str(on_path / "nextword"))}, second, env),
  runnable: [isProgram({json.dumps(programs["second"])}), isProgram({json.dumps(str(not_executable))}), isProgram({json.dumps(str(second))})],
}}));
""",
    )
    assert found == {
        "second": programs["second"],
        "first": programs["first"],
        "both": programs["second"],
        "plain": str(on_path / "nextword"),
        "noFolder": str(on_path / "nextword"),
        "other": None,
        "explicit": str(on_path / "nextword"),
        "runnable": [True, False, False],
    }


@needs_npm
def test_a_chosen_server_program_is_stored_where_the_setting_applies(tmp_path: Any) -> None:
    """The user's settings (VS Code sends a machine-scoped one to the Remote settings in a remote
    window), unless a workspace or folder value is in force and would hide it."""
    out = run_in_node(
        tmp_path,
        """
import { commandTarget } from '@src/settings';
console.log(JSON.stringify([
  commandTarget(undefined),
  commandTarget({}),
  commandTarget({ workspaceValue: 'nextword' }),
  commandTarget({ workspaceValue: 'a', workspaceFolderValue: 'b' }),
]));
""",
    )
    assert out == [1, 1, 2, 3]  # Global, Global, Workspace, WorkspaceFolder


@needs_npm
@pytest.mark.parametrize("channel_level", [3, 1])
def test_server_log_lines_show_at_every_level_the_server_sends(tmp_path: Any, channel_level: int) -> None:
    """The server's DEBUG and TRACE lines (sent only when nextword.logLevel asks for them) reach
    the channel even at its default level, Info (3), with their level in the text; at Trace (1)
    they keep their own. The last line is kept, for the message when the server stops."""
    lines = [
        "2025-01-01 12:00:00,000 INFO nextword.server: started",
        "2025-01-01 12:00:00,001 DEBUG nextword.server: opened file:///a.md (12 characters)",
        "2025-01-01 12:00:00,002 TRACE nextword.server: text 'Hello'",
        "2025-01-01 12:00:00,003 WARNING nextword.server: careful",
        "2025-01-01 12:00:00,004 ERROR nextword.server: broken",
        "Traceback line",
        "",
    ]
    out = run_in_node(
        tmp_path,
        f"""
import {{ Readable }} from 'stream';
import {{ pipeServerLog }} from '@src/serverLog';
const calls: string[][] = [];
const record = (method: string) => (text: string) => {{ calls.push([method, text]); }};
const channel = {{ logLevel: {channel_level}, trace: record('trace'), debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') }};
const seen: string[] = [];
void pipeServerLog(Readable.from([{json.dumps(chr(10).join(lines) + chr(10))}]), channel as any, (line) => seen.push(line)).then(() => {{
  console.log(JSON.stringify({{ calls, last: seen.at(-1) }}));
}});
""",
    )
    low = (
        [["debug", "nextword.server: opened file:///a.md (12 characters)"], ["trace", "nextword.server: text 'Hello'"]]
        if channel_level == 1
        else [
            ["info", "[debug] nextword.server: opened file:///a.md (12 characters)"],
            ["info", "[trace] nextword.server: text 'Hello'"],
        ]
    )
    assert out["calls"] == [
        ["info", "nextword.server: started"],
        *low,
        ["warn", "nextword.server: careful"],
        ["error", "nextword.server: broken"],
        ["error", "Traceback line"],
        ["error", ""],
    ]
    assert out["last"] == "Traceback line"


@needs_npm
def test_trigger_characters_that_need_a_restart(tmp_path: Any) -> None:
    """The extension's copy of the characters the server always announces is the server's; a
    character outside them needs a server started with it, and only then a restart."""
    from nextword.server.configuration import ANNOUNCED_TRIGGERS

    out = run_in_node(
        tmp_path,
        """
import { ANNOUNCED_TRIGGERS, needsNewTriggers } from '@src/settings';
console.log(JSON.stringify({
  announced: ANNOUNCED_TRIGGERS,
  punctuation: needsNewTriggers([' '], [' ', '(', '“', '¿', ':']),
  newCharacter: needsNewTriggers([' ', '('], [' ', '(', '»']),
  startedWithIt: needsNewTriggers([' ', '»'], ['»']),
  removed: needsNewTriggers([' ', '»', '→'], [' ']),
}));
""",
    )
    assert out["announced"] == list(ANNOUNCED_TRIGGERS)
    assert out == {
        "announced": list(ANNOUNCED_TRIGGERS),
        "punctuation": False,
        "newCharacter": True,
        "startedWithIt": False,
        "removed": False,
    }


@needs_npm
def test_trace_channel_follows_the_trace_setting(tmp_path: Any) -> None:
    """vscode-languageclient traces only while its trace channel's level is Trace: this channel's
    level is nextword.trace.server (off: Off; messages, verbose: Trace), it says when that changes,
    and it writes to its own output channel, "nextword (LSP trace)", made when first written to."""
    out = run_in_node(
        tmp_path,
        """
import * as vscode from 'vscode';
import { TraceChannel } from '@src/traceChannel';
const channel = new TraceChannel();
const levels: number[] = [];
channel.onDidChangeLogLevel((level) => levels.push(level));
const before = channel.logLevel;
const channelsBefore = (globalThis as any).channels.length;
(vscode.workspace as any).changeSettings({ 'nextword.trace.server': 'messages' });
const on = channel.logLevel;
(vscode.workspace as any).changeSettings({ 'nextword.maxItems': 3 });
channel.trace("Sending request 'textDocument/completion - (1)'.");
(vscode.workspace as any).changeSettings({ 'nextword.trace.server': 'off' });
console.log(JSON.stringify({ before, on, after: channel.logLevel, levels, channelsBefore, channels: (globalThis as any).channels }));
""",
    )
    assert (out["before"], out["on"], out["after"]) == (0, 1, 0)
    assert out["levels"] == [1, 0]  # one event per change of nextword.trace.server, none for others
    assert out["channelsBefore"] == 0
    [channel] = out["channels"]
    assert channel["name"] == "nextword (LSP trace)"
    assert len(channel["lines"]) == 1 and channel["lines"][0].endswith(
        "[trace] Sending request 'textDocument/completion - (1)'."
    )


@needs_npm
def test_status_item_shows_what_is_learned_from_the_notes(tmp_path: Any) -> None:
    """The server's "Reading your notes" progress moves the status item's count (several folders
    add up; training's progress is left alone); the tooltip has a line per folder with its files,
    words and new words, what was skipped and left out; learning off says so."""
    notes, journal = "/home/me/notes", "/home/me/journal"
    out = run_in_node(
        tmp_path,
        f"""
import {{ ReadingProgress }} from '@src/learning';
import {{ describe, StatusItem }} from '@src/status';
const item = new StatusItem();
const shown = (globalThis as any).statusItems[0];
const reading = new ReadingProgress();
const texts: string[] = [];
const step = (token: string, value: any) => {{ if (reading.update(token, value)) item.setReading(reading.current()); texts.push(shown.text); }};
const status: any = {{
  state: 'ready', model: '/m/default.safetensors', settings: {{ learning: {{ enabled: true }} }},
  workspaces: [
    {{ folder: {json.dumps(notes)}, state: 'reading', files: 120, words: 51234, newWords: 310, skipped: {{ binary: 2, tooLarge: 1 }} }},
    {{ folder: {json.dumps(journal)}, state: 'ready', files: 4, words: 1000, newWords: 1, leftOut: 3 }},
    {{ folder: null, state: 'ready', files: 1, words: 20, newWords: 0 }},
  ],
}};
item.show('running', status);
texts.push(shown.text);
step('a', {{ kind: 'begin', title: 'Reading your notes', message: '0 of 490 files' }});
step('t', {{ kind: 'begin', title: 'Training on notes', message: '1 of 9 epochs' }});
step('a', {{ kind: 'report', message: '120 of 490 files' }});
step('b', {{ kind: 'begin', title: 'Reading your notes', message: '5 of 10 files' }});
step('b', {{ kind: 'report' }});
step('b', {{ kind: 'end' }});
const tooltip = shown.tooltip.value;
step('a', {{ kind: 'end', message: 'done' }});
const ready = {{ ...status, workspaces: status.workspaces.map((w: any) => ({{ ...w, state: 'ready' }})) }};
item.show('running', ready);
texts.push(shown.text);
item.show('running', {{ ...ready, settings: {{ learning: {{ enabled: false }} }}, workspaces: [{{ folder: {json.dumps(notes)}, state: 'off' }}] }});
texts.push(shown.text);
const offTooltip = shown.tooltip.value;
console.log(JSON.stringify({{ texts, tooltip, offTooltip, describe: describe(ready) }}));
""",
    )
    model = "$(check) nextword: default.safetensors"
    assert out["texts"] == [
        f"{model} · reading your notes",  # a folder reads, no count yet
        f"{model} · reading your notes 0/490",
        f"{model} · reading your notes 0/490",  # training's progress changes nothing here
        f"{model} · reading your notes 120/490",
        f"{model} · reading your notes 125/500",
        f"{model} · reading your notes 125/500",  # a report without a count keeps the last
        f"{model} · reading your notes 120/490",
        f"{model} · reading your notes",  # the status still says reading until asked again
        model,
        f"{model} · learning off",
    ]
    tooltip = out["tooltip"]
    assert "Learning from your notes (reading your notes 120/490):" in tooltip
    assert "notes: reading, 120 files, 51,234 words, 310 new words; skipped: 2 binary, 1 tooLarge" in tooltip
    assert (
        "journal: ready, 4 files, 1,000 words, 1 new word; 3 files left out (nextword.learning.maxWords reached)"
        in tooltip
    )
    assert "files outside the workspace folders: ready, 1 file, 20 words, 0 new words" in tooltip
    assert "notes: off" in out["offTooltip"] and "(learning off)" in out["offTooltip"]
    assert "learned from 2 folders: 125 files, 52,254 words (311 new)" in out["describe"]
