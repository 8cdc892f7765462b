"""Editor mode: what a writer sees and feels, measured through the real language server.

Starts ``python -m nextword.server --model FILE`` over stdio as an editor does (settings at
their defaults unless ``--settings`` says otherwise), waits for the model, then opens each
test file of CORPUS (its test split, as ``nextword eval`` selects it) as an empty Markdown
document and types its first N words key by key, as shared/eval-protocol.md's editor mode
says: after each key a ``didChange``; an invoked completion request inside a word as it is
typed, a trigger-character request right after one of the trigger characters the server
announced in its answer to ``initialize`` (an editor asks after each; the server opens lists
only after those of its ``triggerCharacters`` setting, and the popup rate after those alone is
printed beside), no completion request otherwise; and after every key an inline-completion (ghost text)
request, as an editor with inline suggestions asks. Positions are UTF-16 (the server's
default); a ``\\r\\n`` line break is one key press. Keys are counted as the protocol counts
them (a Hangul syllable costs its 2-set keys), but each character is sent whole, once typed.

Prints KSR@1/3/5 from the lists the editor shows, the protocol's KSR (every position; run
in this process through ``nextword.training.evaluate.ModelSystem``, as ``nextword eval``
runs it, on the same files and word limit), popup rate, popup precision@3, repeat rate,
open at word end and at line end, and the ghost-text figures; each with its counts.

    python benchmarks/editor_mode.py                          # the shipped model, simonw-til
    python benchmarks/editor_mode.py --model FILE CORPUS --limit-words 400 --files 10 --json
    python benchmarks/editor_mode.py --settings '{"minProbability": 0.2}'
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from editor_typist import INVOKED, Answer, Trace, figures, key_at, ksr_figures, typing_plan
from nextword.training.typist import DEFAULT_MAX_WORDS
from server_latency import Client

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "notes" / "simonw-til"
# The figures to reach (editor mode, simonw-til's test split, the shipped model):
# (figure, at least or at most, value).
TARGETS = (
    ("editor ksr@3", ">=", 0.32),
    ("protocol ksr@3", ">=", 0.35),
    ("popup precision@3", ">=", 0.60),
    ("repeat rate", "<=", 0.01),
    ("open at word end", "<=", 0.15),
    ("open at line end", "<=", 0.10),
)


# ----- positions, as the client keeps them --------------------------------------------------------
def units(text: str) -> int:
    """Length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class Typed:
    """The client's copy of the document: the text typed so far and where its lines start."""

    def __init__(self, text: str):
        self.text = text  # the whole file; ``self.end`` characters of it are typed
        self.end = 0
        self.line_starts = [0]

    def position(self, offset: int) -> dict[str, int]:
        """The LSP position (UTF-16) of ``offset`` in the typed text."""
        line = bisect.bisect_right(self.line_starts, offset) - 1
        return {"line": line, "character": units(self.text[self.line_starts[line] : offset])}

    def cursor(self) -> dict[str, int]:
        line = len(self.line_starts) - 1
        return {"line": line, "character": units(self.text[self.line_starts[line] : self.end])}

    def type(self, key: str) -> None:
        self.end += len(key)
        if key in ("\r\n", "\n") or (key == "\r" and not self.text.startswith("\n", self.end)):
            self.line_starts.append(self.end)
        # A "\r" followed by "\n" is typed as one key "\r\n" (``key_at``), never alone.

    def offset(self, position: dict[str, int]) -> int:
        """The offset of an LSP position in the typed text (the inverse of ``position``)."""
        start = self.line_starts[position["line"]]
        line_end = self.line_starts[position["line"] + 1] if position["line"] + 1 < len(self.line_starts) else self.end
        count = 0
        for offset in range(start, line_end):
            if count >= position["character"]:
                return offset
            count += units(self.text[offset])
        return line_end


# ----- answers -------------------------------------------------------------------------------------
def completion_words(result: Any, typed: Typed, word_start: int) -> tuple[list[str], bool]:
    """The words of a completion answer, in the server's order (its ``sortText``), and whether
    any item's edit is not exactly the typed part of the word."""
    items = result.get("items", []) if isinstance(result, dict) else (result or [])
    items = sorted(items, key=lambda item: item.get("sortText") or item["label"])
    words, misplaced = [], False
    expected = {"start": typed.position(word_start), "end": typed.cursor()}
    for item in items:
        edit = item.get("textEdit")
        if edit is not None:  # a TextEdit, or an InsertReplaceEdit (whose insert range is the typed part)
            misplaced |= edit.get("range", edit.get("insert")) != expected
            words.append(edit["newText"])
        else:
            words.append(item.get("insertText") or item["label"])
    return words, misplaced


def ghost_phrase(result: Any, typed: Typed) -> tuple[str, bool]:
    """The ghost text an editor shows after the cursor for an inline-completion answer, and
    whether its range was out of place (not ending at the cursor, or its text not going on
    from what it replaces)."""
    items = result.get("items", []) if isinstance(result, dict) else (result or [])
    if not items:
        return "", False
    item = items[0]
    text = item["insertText"] if isinstance(item["insertText"], str) else item["insertText"].get("value", "")
    range_ = item.get("range")
    replaced = ""
    if range_ is not None:
        if range_["end"] != typed.cursor():
            return "", True
        replaced = typed.text[typed.offset(range_["start"]) : typed.end]
    if not text.startswith(replaced):
        return "", True
    return text[len(replaced) :], False


# ----- typing through the server -------------------------------------------------------------------
def exchange(client: Client, messages: list[dict[str, Any]], ids: list[int]) -> dict[int, Any]:
    """Write ``messages`` at once and wait for the results of the requests ``ids``."""
    client.write(*messages)
    results: dict[int, Any] = {}
    while len(results) < len(ids):
        message = client.read()
        if "method" in message and "id" in message:  # a request from the server: answer empty
            client.write({"jsonrpc": "2.0", "id": message["id"], "result": None})
        elif message.get("id") in ids and "method" not in message:
            if "error" in message:
                raise RuntimeError(f"request failed: {message['error']}")
            results[message["id"]] = message.get("result")
    return results


def type_file(
    client: Client, uri: str, name: str, text: str, max_words: int, triggers: Sequence[str], ghost: bool = True
) -> Trace:
    """Open ``uri`` empty, type ``text``'s first ``max_words`` words key by key (asking for
    ghost text after each key when ``ghost``), close it."""
    span, plan = typing_plan(text, max_words, triggers)
    trace = Trace(name, text, span)
    client.notify(
        "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "markdown", "version": 1, "text": ""}}
    )
    typed = Typed(text)
    while typed.end < span:
        key = key_at(text, typed.end)
        start = typed.cursor()
        typed.type(key)
        change = {
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {
                "textDocument": {"uri": uri, "version": typed.end + 1},
                "contentChanges": [{"range": {"start": start, "end": start}, "text": key}],
            },
        }
        document, position = {"uri": uri}, typed.cursor()
        asked, word_start = plan.get(typed.end, ("", typed.end))
        messages: list[dict[str, Any]] = [change]
        if asked:
            context = {"triggerKind": 1} if asked == INVOKED else {"triggerKind": 2, "triggerCharacter": key}
            messages.append(
                client.request_message(
                    "textDocument/completion", {"textDocument": document, "position": position, "context": context}
                )
            )
        if ghost:
            inline = {"textDocument": document, "position": position, "context": {"triggerKind": 2}}
            messages.append(client.request_message("textDocument/inlineCompletion", inline))
        results = exchange(client, messages, [m["id"] for m in messages if "id" in m])
        answer = Answer(typed.end, asked)
        if asked:
            answer.items, answer.misplaced = completion_words(results[messages[1]["id"]], typed, word_start)
        if ghost:
            answer.phrase, misplaced = ghost_phrase(results[messages[-1]["id"]], typed)
            answer.misplaced |= misplaced
        trace.answers[typed.end] = answer
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    return trace


def start_server(model: Path, settings: dict[str, Any] | None, data_dir: Path) -> tuple[Client, dict[str, Any]]:
    """A server started as an editor starts it, with ``data_dir`` for its data (no trained
    model, no stores), initialized (with ``settings`` as its initialization options, if any),
    its model loaded; and its status, with the trigger
    characters it announced (``triggerCharacters``): after those an editor asks."""
    env = dict(os.environ)
    env["NEXTWORD_DATA_DIR"] = str(data_dir)
    client = Client([sys.executable, "-m", "nextword.server", "--model", str(model)], env)
    initialized = client.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": None,
            "capabilities": {"general": {"positionEncodings": ["utf-16"]}},
            "initializationOptions": {"nextword": settings} if settings else None,
        },
    )
    client.notify("initialized", {})
    while (status := client.request("workspace/executeCommand", {"command": "nextword.status"}))["state"] not in (
        "ready",
        "failed",
        "missing",
    ):
        time.sleep(0.02)
    if status["state"] != "ready":
        client.close()
        raise SystemExit(f"the model did not load: {status.get('error')}")
    status["triggerCharacters"] = initialized["capabilities"]["completionProvider"]["triggerCharacters"]
    return client, status


def trigger_characters(settings: dict[str, Any] | None) -> list[str]:
    """The characters of the triggerCharacters setting under ``settings`` (the server's default
    unless they change it): after those the server may open a list of next words."""
    from nextword.server.settings import parse_settings

    parsed, problems, unknown = parse_settings(settings or {})
    if problems or unknown:
        raise SystemExit("error: " + " ".join(problems + [f"nextword: unknown setting {key}." for key in unknown]))
    return list(parsed.trigger_characters)


Progress = Callable[[int, int, str], None]


def run_editor_mode(
    model: Path,
    documents: Sequence[tuple[str, str]],
    max_words: int = DEFAULT_MAX_WORDS,
    settings: dict[str, Any] | None = None,
    progress: Progress | None = None,
    ghost: bool = True,
) -> tuple[list[Trace], dict[str, Any]]:
    """Type ``documents`` ((relative path, text) pairs) through a server running ``model``;
    the traces and the editor-mode figures (without the ghost text's unless ``ghost``)."""
    offered = trigger_characters(settings)
    traces = []
    with tempfile.TemporaryDirectory(prefix="nextword-editor-mode-") as data_dir:
        client, status = start_server(model, settings, Path(data_dir))
        triggers = status["triggerCharacters"]
        try:
            for number, (name, text) in enumerate(documents, 1):
                if progress is not None:
                    progress(number, len(documents), name)
                uri = (PurePosixPath("/editor-mode") / name).as_uri()
                traces.append(type_file(client, uri, name, text, max_words, triggers, ghost))
        finally:
            client.close()
    results = figures(traces, max_words, offered)
    if not ghost:
        del results["ghost"]
    results |= {
        "model": status.get("model"),
        "trigger_characters": triggers,
        "setting_trigger_characters": offered,
        "settings": settings or {},
    }
    return traces, results


def protocol_ksr(model: Path, texts: Sequence[str], max_words: int) -> dict[str, Any]:
    """The protocol's KSR (every position), in this process, as ``nextword eval`` runs it."""
    import torch
    from nextword.model import load_checkpoint
    from nextword.training.evaluate import ModelSystem
    from nextword.training.typist import type_through

    torch.set_num_threads(1)  # as nextword eval: a one-token step is too small to share out
    return ksr_figures(type_through(ModelSystem(load_checkpoint(model)), texts, max_words))


# ----- the report ----------------------------------------------------------------------------------
def share(figure: dict[str, Any], what: str) -> str:
    """``41.3% (512 of 1,240 <what>)``; ``-`` where nothing was counted."""
    rate = "-" if figure["rate"] is None else f"{figure['rate']:.1%}"
    return f"{rate} ({figure['count']:,} of {figure['n']:,} {what})"


def target_marks(results: dict[str, Any]) -> dict[str, str]:
    values = {
        "editor ksr@3": results["editor"]["ksr@3"],
        "protocol ksr@3": results.get("protocol", {}).get("ksr@3"),
        "popup precision@3": results["lists"]["popup_precision@3"]["rate"],
        "repeat rate": results["lists"]["repeat_rate"]["rate"],
        "open at word end": results["lists"]["open_at_word_end"]["rate"],
        "open at line end": results["lists"]["open_at_line_end"]["rate"],
    }
    marks = {}
    for name, op, goal in TARGETS:
        value = values[name]
        if value is not None:
            met = value >= goal if op == ">=" else value <= goal
            marks[name] = f"[{'ok' if met else 'MISSED'}: target {'≥' if op == '>=' else '≤'} {goal:.0%}]"
    return marks


def report(results: dict[str, Any]) -> None:
    marks = target_marks(results)
    editor, lists = results["editor"], results["lists"]
    limit = f"the first {results['max_words']} words of each" if results["max_words"] else "every word"
    print(f"corpus: {results['corpus']} (test split: {editor['files']} files, {editor['words']:,} words, {limit})")
    print(f"model: {results['model']}; settings: {json.dumps(results['settings'])}")
    announced, offered = ("".join(results[key]) for key in ("trigger_characters", "setting_trigger_characters"))
    print(
        f"trigger characters: the server announces {json.dumps(announced, ensure_ascii=False)} (the editor asks after "
        f"each); its triggerCharacters setting: {json.dumps(offered, ensure_ascii=False)}"
    )
    keys = f"{editor['keystrokes_without']:,} keys by hand"
    print(
        f"KSR@1/3/5, editor mode (the lists the editor shows): {editor['ksr@1']:.1%} / {editor['ksr@3']:.1%} / "
        f"{editor['ksr@5']:.1%} ({keys}) {marks.get('editor ksr@3', '')}"
    )
    if "protocol" in results:
        p = results["protocol"]
        print(
            f"KSR@1/3/5, the protocol's (every position, in process): {p['ksr@1']:.1%} / {p['ksr@3']:.1%} / "
            f"{p['ksr@5']:.1%} ({p['keystrokes_without']:,} keys by hand) {marks.get('protocol ksr@3', '')}"
        )
    print(f"popup rate: {share(lists['popup_rate'], 'requests after a trigger character at a word start')}")
    print(
        "  after a character of the triggerCharacters setting: "
        + share(lists["popup_rate_after_setting_triggers"], "requests")
    )
    print(f"popup precision@3: {share(lists['popup_precision@3'], 'lists')} {marks.get('popup precision@3', '')}")
    print(f"repeat rate: {share(lists['repeat_rate'], 'lists')} {marks.get('repeat rate', '')}")
    print(f"open at word end: {share(lists['open_at_word_end'], 'words')} {marks.get('open at word end', '')}")
    print(
        f"open at line end: {share(lists['open_at_line_end'], 'words before a line break')} "
        f"{marks.get('open at line end', '')}"
    )
    print(
        "lists after a trigger character where no word starts: "
        + share(lists["lists_after_trigger_without_word"], "requests")
    )
    if "ghost" in results:
        report_ghost(results["ghost"])
    if lists["misplaced_edits"]:
        print(f"WARNING: {lists['misplaced_edits']} answers had an edit range not at the typed word")
    print(f"measured {results['measured']} in {results['seconds']:.0f} s, code {results['code']}")


def report_ghost(ghost: dict[str, Any]) -> None:
    saved = ghost["keys_saved"]
    per = "-" if saved["per_right_phrase"] is None else f"{saved['per_right_phrase']:.1f}"
    words = "-" if ghost["words_per_phrase"] is None else f"{ghost['words_per_phrase']:.1f}"
    tab = ghost["tab_typist_ksr"]
    print(f"ghost text shown: {share(ghost['shown'], 'characters typed')}, {words} words a phrase")
    print(f"ghost text right (the text goes on with the whole phrase): {share(ghost['right'], 'phrases shown')}")
    print(f"ghost text keys saved by Tab where right: {saved['count']:,} ({per} a right phrase, n={saved['n']:,})")
    tab_rate = "-" if tab["rate"] is None else f"{tab['rate']:.1%}"
    print(
        f"ghost text alone, Tab wherever right: KSR {tab_rate} ({tab['keys_with']:,} of {tab['keys_without']:,} keys)"
    )
    print(f"ghost text beside a list with items: {share(ghost['beside_list'], 'phrases shown')} [target: never]")


def code_state() -> str:
    """The checkout measured: its commit, and the files of the packages changed since."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "model", "server", "training"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    files = [line[3:] for line in changed if line.strip()]
    return commit + (f" with uncommitted changes to {', '.join(files)}" if files else "")


def corpus_documents(corpus: Path, files: int) -> list[tuple[str, str]]:
    """(relative path, text) of the corpus's test split, in path order; the first ``files`` (0: all)."""
    from nextword.model import NextwordError
    from nextword.training.eval_corpus import load_split

    try:
        split = load_split(corpus, read_train=False)
    except NextwordError as error:
        raise SystemExit(f"error: {error}") from None
    chosen = split.test[:files] if files else split.test
    return [(doc.relative_path, doc.text) for doc in chosen]


def settings_argument(value: str) -> dict[str, Any]:
    """``--settings``: a JSON object of server settings."""
    try:
        settings = json.loads(value)
    except json.JSONDecodeError:
        settings = None
    if not isinstance(settings, dict):
        raise argparse.ArgumentTypeError(
            f"must be a JSON object of settings, like '{{\"maxItems\": 5}}', not {value!r}"
        )
    return settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "corpus", nargs="?", type=Path, default=DEFAULT_CORPUS, help="folder of notes (default: %(default)s)"
    )
    parser.add_argument("--model", type=Path, help="model file (default: the shipped model)")
    parser.add_argument(
        "--limit-words",
        type=int,
        default=DEFAULT_MAX_WORDS,
        metavar="N",
        help="words typed per file, 0: all (default %(default)s, as nextword eval)",
    )
    parser.add_argument(
        "--files", type=int, default=0, metavar="N", help="type only the first N test files (default: all)"
    )
    parser.add_argument(
        "--settings", type=settings_argument, help="server settings as JSON, e.g. '{\"minProbability\": 0.2}'"
    )
    parser.add_argument(
        "--no-ghost", action="store_true", help="ask for no ghost text (quicker; no ghost-text figures)"
    )
    parser.add_argument("--no-protocol", action="store_true", help="skip the protocol's KSR (every position)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    from nextword.model import default_model_path

    model = args.model or default_model_path()
    if not model.is_file():
        raise SystemExit(f"error: model file {model} does not exist; pass --model FILE.safetensors")
    if args.limit_words < 0:
        raise SystemExit(f"error: --limit-words must be 0 (every word) or more, not {args.limit_words}")
    documents = corpus_documents(args.corpus, args.files)
    started = time.perf_counter()

    def progress(number: int, total: int, name: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{number}/{total} {name[:60]:<60}", end="", file=sys.stderr, flush=True)

    _, results = run_editor_mode(model, documents, args.limit_words, args.settings, progress, not args.no_ghost)
    if not args.no_protocol:
        results["protocol"] = protocol_ksr(model, [text for _, text in documents], args.limit_words)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    results |= {
        "corpus": str(args.corpus),
        "max_words": args.limit_words,
        "seconds": time.perf_counter() - started,
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "code": code_state(),
    }
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
