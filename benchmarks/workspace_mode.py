"""The protocol's workspace and continual modes, measured through the real language server.

Starts ``python -m nextword.server --model FILE`` over stdio as an editor does, with a data
folder of its own (a temporary one, so your stores are untouched, or ``--data-dir``) and, as its
one workspace folder, a folder holding CORPUS's train split (the files ``nextword eval`` and
``nextword train`` keep out of the test split, copied byte for byte) or nothing
(``--start empty``). From the moment ``initialize`` is sent it types a paragraph into a note
outside the folder, a key every ``--pause-ms``, asking for completions as an editor does, and
polls ``nextword.status`` until the model is loaded, every entry of its ``workspaces`` is
``ready`` and ``learning.pending`` is 0: the time that took is "time to ready", and the
completion latencies are reported apart for the keys typed while the model loaded, while
the notes were read, and once ready (``--after-keys`` more, at the same pace: the same typing
with nothing being read, on the machine as it is at the time).

Then it types the test split through ``textDocument/completion`` by the type-through protocol
(shared/eval-protocol.md; ``nextword.training.typist``): each test file, in path order, is
opened empty at its place in the workspace folder, and at every position the typist looks at
the document holds the text before the word and the typed part of it (appended as
``didChange``s, as typed) and an invoked completion request is answered; the lists' words are
the typist's suggestions. In continual mode each file, once typed, is completed in the
document, written into the folder, ``didSave``d and closed, and the next starts once
``learning.pending`` is 0 again. ``--mode none`` starts the server with no workspace folder: the
same typist through the same server, with nothing to learn from.

Prints KSR@1/3/5, next-word acc@1/3/5, time to ready, the completion latencies while it read
and the server's RSS (peak and at the end, /proc/PID/status VmHWM and VmRSS). Settings are the
server's defaults except ``hangulComposing`` off: the typist types whole characters, as
``nextword eval`` does (``--settings`` changes any).

    python benchmarks/workspace_mode.py                                  # simonw-til, workspace mode
    python benchmarks/workspace_mode.py ../shared/corpora/notes-ko/namjunemy-til
    python benchmarks/workspace_mode.py --mode continual --start empty --max-words 300
    python benchmarks/workspace_mode.py --data-dir /tmp/nw --ready-only  # twice: a second start
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from editor_mode import DEFAULT_CORPUS, Typed, code_state, completion_words, exchange, settings_argument
from editor_typist import key_at
from latency_documents import HANGUL_RE, PARAGRAPH
from nextword.model import NextwordError
from nextword.training.corpus import find_files
from nextword.training.split import is_test_file
from nextword.training.typist import DEFAULT_MAX_WORDS, TypeThrough, type_through
from server_latency import TRIGGERS, Client, percentile
from tqdm import tqdm

MODES = ("workspace", "continual", "none")
STARTS = ("train", "empty")
MARKER = ".nextword-benchmark"  # hidden: the server's reading rules skip it
DEFAULT_SETTINGS = {"hangulComposing": False}
POLL_S = 0.05  # how often nextword.status is asked while the server reads


# ----- the workspace folder ------------------------------------------------------------------------
def split_files(corpus: Path) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """(file, relative path) of the corpus's train and test splits, by the protocol's rule."""
    files = find_files([corpus])
    if not files:
        raise SystemExit(f"error: no text files found in {corpus}; pass a folder of notes")
    train = [(path, rel) for path, rel in files if not is_test_file(rel)]
    test = [(path, rel) for path, rel in files if is_test_file(rel)]
    if not test:
        raise SystemExit(
            f"error: none of the {len(files)} files of {corpus} falls in the test split; pass a larger corpus"
        )
    return train, test


def prepare_folder(folder: Path, files: Sequence[tuple[Path, str]]) -> None:
    """Make ``folder`` hold exactly ``files`` at their relative paths. Files already there with
    the same bytes are left alone (their modification times too), so that a second start on
    it finds them unchanged. Only an empty or missing folder, or one this benchmark made
    (holding its marker), is touched."""
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).is_file():
        raise SystemExit(f"error: {folder} is not a folder this benchmark made; pass an empty or new folder")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("a workspace folder of benchmarks/workspace_mode.py\n")
    wanted = {rel: path for path, rel in files}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel != MARKER and rel not in wanted:
            path.unlink()
    for rel, source in wanted.items():
        target = folder / rel
        if target.is_file() and target.read_bytes() == source.read_bytes():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


# ----- the server ----------------------------------------------------------------------------------
class Watcher(Client):
    """The bare client of server_latency.py, noting the ``$/progress`` values it reads."""

    def __init__(self, command: list[str], env: dict[str, str]):
        super().__init__(command, env)
        self.progress: list[dict[str, Any]] = []

    def read(self) -> dict[str, Any]:
        message = super().read()
        if message.get("method") == "$/progress":
            self.progress.append(message["params"]["value"])
        return message


def start_server(
    model: Path, folder: Path | None, data_dir: Path, settings: dict[str, Any]
) -> tuple[Watcher, float, dict[str, Any]]:
    """The server started and initialized with ``folder`` as its workspace folder (if any); the
    moment ``initialize`` was sent (perf_counter) and its answer."""
    env = dict(os.environ, NEXTWORD_DATA_DIR=str(data_dir))
    client = Watcher([sys.executable, "-m", "nextword.server", "--model", str(model)], env)
    capabilities = {
        "general": {"positionEncodings": ["utf-16"]},
        "window": {"workDoneProgress": True},
        "workspace": {"workspaceFolders": True},
    }
    uri = folder.as_uri() if folder else None
    sent = time.perf_counter()
    answer = client.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": uri,
            "workspaceFolders": [{"uri": uri, "name": folder.name}] if folder else None,
            "capabilities": capabilities,
            "initializationOptions": {"nextword": settings},
        },
    )
    client.notify("initialized", {})
    return client, sent, answer


def server_status(client: Client) -> dict[str, Any]:
    return client.request("workspace/executeCommand", {"command": "nextword.status"})


def learning_done(status: dict[str, Any], folders: bool) -> bool:
    """Whether the model is loaded and, with ``folders``, every workspace folder read and
    nothing waiting to be learned. Stops the run where the server cannot get there."""
    if status["state"] in ("failed", "missing"):
        raise SystemExit(f"error: the model did not load: {status.get('error')}")
    if status["state"] != "ready":
        return False
    if not folders:
        return True
    if "workspaces" not in status or "learning" not in status:
        raise SystemExit("error: this server's nextword.status reports no workspaces: it does not learn from them")
    for entry in status["workspaces"]:
        if entry.get("error") or entry["state"] == "off":
            raise SystemExit(f"error: the server does not learn {entry['folder']}: {entry.get('error') or 'off'}")
    return (
        bool(status["workspaces"])
        and all(e["state"] == "ready" for e in status["workspaces"])
        and (status["learning"]["pending"] == 0)
    )


def wait_learned(client: Client) -> float:
    """Poll until nothing waits to be learned; the seconds it took."""
    started = time.perf_counter()
    while not learning_done(server_status(client), True):
        time.sleep(0.01)
    return time.perf_counter() - started


def change_message(uri: str, version: int, at: dict[str, int], text: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "method": "textDocument/didChange",
        "params": {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": {"start": at, "end": at}, "text": text}],
        },
    }


def open_empty(client: Client, uri: str) -> None:
    document = {"uri": uri, "languageId": "markdown", "version": 1, "text": ""}
    client.notify("textDocument/didOpen", {"textDocument": document})


# ----- until ready: typing while the server loads and reads ---------------------------------------
def phase(status: dict[str, Any]) -> str:
    """What the server is doing: "reading" (the notes) or "loading" (the model only), with
    "+model" once the model is loaded."""
    reading = any(e.get("state") == "reading" for e in status.get("workspaces") or []) or bool(
        (status.get("learning") or {}).get("pending")
    )
    return ("reading" if reading else "loading") + ("+model" if status["state"] == "ready" else "")


@dataclass
class UntilReady:
    """What typing until ready measured."""

    ready_s: float = 0.0  # from initialize sent until learning_done
    model_loaded_s: float | None = None  # until the model was loaded
    notes_read_s: float | None = None  # until no folder was reading and nothing waited to be learned
    latencies: dict[str, list[float]] = field(default_factory=dict)  # by ``phase`` when the key was typed
    status: dict[str, Any] = field(default_factory=dict)  # at ready


def type_until_ready(
    client: Client, sent: float, paragraph: str, pause: float, folders: bool, after: int = 0
) -> UntilReady:
    """Type ``paragraph`` (again and again) into a note outside the folder, a key every
    ``pause`` seconds, each a ``didChange`` and a completion request in one write, asking
    ``nextword.status`` every POLL_S, until ``learning_done``; then ``after`` keys more, their
    latencies apart ("ready"): the same typing with nothing being read, to compare."""
    out = UntilReady()
    notes = 0
    uri, typed = "", Typed(paragraph)
    status = server_status(client)
    polled = time.perf_counter()
    ready = False
    while True:
        if not ready and learning_done(status, folders):
            ready, out.ready_s = True, time.perf_counter() - sent
        if ready and len(out.latencies.get("ready", [])) >= after:
            break
        if typed.end >= len(paragraph) or not uri:
            if uri:
                client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            notes += 1
            uri, typed = f"file:///nextword-benchmark/typing-{notes}.md", Typed(paragraph)
            open_empty(client, uri)
        key = key_at(paragraph, typed.end)
        at = typed.cursor()
        typed.type(key)
        context = {"triggerKind": 2, "triggerCharacter": key} if key in TRIGGERS else {"triggerKind": 3}
        request = client.request_message(
            "textDocument/completion", {"textDocument": {"uri": uri}, "position": typed.cursor(), "context": context}
        )
        began = time.perf_counter()
        exchange(client, [change_message(uri, typed.end + 1, at, key), request], [request["id"]])
        out.latencies.setdefault("ready" if ready else phase(status), []).append(time.perf_counter() - began)
        time.sleep(max(0.0, pause - (time.perf_counter() - began)))
        if not ready and time.perf_counter() - polled >= POLL_S:
            status, polled = server_status(client), time.perf_counter()
            if out.model_loaded_s is None and status["state"] == "ready":
                out.model_loaded_s = polled - sent
            if out.notes_read_s is None and folders and status.get("workspaces") and phase(status) == "loading":
                out.notes_read_s = polled - sent
    out.model_loaded_s = out.model_loaded_s or out.ready_s
    out.notes_read_s = (out.notes_read_s or out.ready_s) if folders else None
    out.status = status
    if uri:
        client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    return out


# ----- the typist through the server ---------------------------------------------------------------
class ServerTypist:
    """A typist's system (``nextword.training.typist.System``) that asks the server: each file
    an empty document at its place in the folder, grown to the text before the word and its
    typed part, then an invoked completion request. With ``save``, a file typed is completed,
    written into the folder, saved and closed, and learned before the next starts."""

    name = "server"

    def __init__(self, client: Client, folder: Path, documents: Sequence[tuple[Path, str, str]], save: bool):
        self.client, self.folder, self.documents, self.save = client, folder, documents, save
        self.index = -1
        self.typed = Typed("")
        self.version = 1
        self.requests = self.misplaced = 0
        self.learn_seconds: list[float] = []

    @property
    def uri(self) -> str:
        return (self.folder / self.documents[self.index][1]).as_uri()

    def reset(self) -> None:
        self.finish()
        self.index += 1
        self.typed, self.version = Typed(self.documents[self.index][2]), 1
        open_empty(self.client, self.uri)

    def finish(self) -> None:
        """Close the file being typed; with ``save``, once it is whole, on disk and learned."""
        if self.index < 0:
            return
        source, relative, text = self.documents[self.index]
        if self.save:
            if self.typed.end < len(text):
                self.version += 1
                rest = change_message(self.uri, self.version, self.typed.cursor(), text[self.typed.end :])
                self.client.write(rest)
            target = self.folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            self.client.notify("textDocument/didSave", {"textDocument": {"uri": self.uri}})
        self.client.notify("textDocument/didClose", {"textDocument": {"uri": self.uri}})
        if self.save:
            self.learn_seconds.append(wait_learned(self.client))

    def suggest(self, context: str, prefix: str, k: int) -> list[str]:
        typed, text = self.typed, self.typed.text
        begin, at, target = typed.end, typed.cursor(), len(context) + len(prefix)
        while typed.end < target:
            typed.type(key_at(text, typed.end))
        if typed.end != target or not text.startswith(prefix, len(context)):
            raise RuntimeError(f"the typist asked at {target}, not ahead of the document's end {begin}")
        messages = []
        if typed.end > begin:
            self.version += 1
            messages.append(change_message(self.uri, self.version, at, text[begin : typed.end]))
        request = self.client.request_message(
            "textDocument/completion",
            {"textDocument": {"uri": self.uri}, "position": typed.cursor(), "context": {"triggerKind": 1}},
        )
        answers = exchange(self.client, [*messages, request], [request["id"]])
        words, misplaced = completion_words(answers[request["id"]], typed, len(context))
        self.requests += 1
        self.misplaced += misplaced
        return words


# ----- a run ---------------------------------------------------------------------------------------
def milliseconds(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50_ms": 1e3 * statistics.median(values), "p99_ms": 1e3 * percentile(values, 0.99)}


def run(args: argparse.Namespace, data_dir: Path, folder: Path) -> dict[str, Any]:
    train, test = split_files(args.corpus)
    test = test[: args.files] if args.files else test
    documents = [(path, rel, text) for path, rel in test if (text := read_utf8(path)) is not None]
    folders = args.mode != "none"
    if folders:
        prepare_folder(folder, train if args.start == "train" else [])
    language = "ko" if any(HANGUL_RE.search(text) for _, _, text in documents) else "en"
    settings = DEFAULT_SETTINGS | (args.settings or {})
    client, sent, _ = start_server(args.model, folder if folders else None, data_dir, settings)
    try:
        ready = type_until_ready(client, sent, PARAGRAPH[language], args.pause_ms / 1e3, folders, args.after_keys)
        results: dict[str, Any] = {
            "time_to_ready_s": ready.ready_s,
            "model_loaded_s": ready.model_loaded_s,
            "notes_read_s": ready.notes_read_s,
            "latency": {name: milliseconds(values) for name, values in sorted(ready.latencies.items())},
            "workspaces_at_ready": ready.status.get("workspaces"),
            "rss_at_ready_mb": client.rss_mb(),
            "progress": progress_summary(client.progress),
            "model": ready.status.get("model"),
        }
        if not args.ready_only:
            typist = ServerTypist(client, folder, documents, save=args.mode == "continual")
            words = sum(min(len(_words(text)), args.max_words or len(text)) for _, _, text in documents)
            with tqdm(total=words, unit="word", file=sys.stderr, mininterval=2, disable=None) as bar:
                figures: TypeThrough = type_through(typist, [t for _, _, t in documents], args.max_words, progress=bar)
                typist.finish()
            results |= {
                "figures": figures.as_dict(),
                "requests": typist.requests,
                "misplaced_edits": typist.misplaced,
                "learned_after_save": milliseconds(typist.learn_seconds),
                "workspaces_at_end": server_status(client).get("workspaces"),
            }
        results |= {"rss_peak_mb": client.peak_rss_mb(), "rss_end_mb": client.rss_mb()}
    finally:
        client.close()
    return results | {"train_files": len(train), "test_files": len(documents), "settings": settings}


def progress_summary(values: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``$/progress`` values seen: how many, the titles begun, the last message."""
    titles = [v.get("title") for v in values if v.get("kind") == "begin"]
    messages = [v["message"] for v in values if v.get("message")]
    return {"reports": len(values), "titles": titles, "last_message": messages[-1] if messages else None}


def read_utf8(path: Path) -> str | None:
    from nextword.training.corpus import read_text

    return read_text(path)[0]


def _words(text: str) -> list[str]:
    from nextword.model.tokenize import WORD_RE

    return WORD_RE.findall(text)


# ----- the report ----------------------------------------------------------------------------------
def describe_mode(args: argparse.Namespace) -> str:
    if args.mode == "none":
        return "no workspace folder (the model alone, through the server)"
    start = "the train split" if args.start == "train" else "nothing"
    saved = "; each test file saved into it once typed" if args.mode == "continual" else ""
    return f"{args.mode} mode: the workspace folder holds {start} at start{saved}"


PHASES = {
    "reading+model": "while the notes were read, the model loaded",
    "reading": "while the notes were read, the model still loading (answers from the document's words)",
    "loading": "while the model loaded, no notes being read",
    "ready": "once ready (the same typing, nothing being read)",
}


def latency_line(figure: dict[str, Any]) -> str:
    if not figure["n"]:
        return "no keys typed then"
    return f"p50 {figure['p50_ms']:.2f} ms, p99 {figure['p99_ms']:.2f} ms ({figure['n']:,} {'key' if figure['n'] == 1 else 'keys'})"


def describe_workspaces(entries: list[dict[str, Any]] | None) -> str:
    if not entries:
        return "none"
    keys = ("files", "words", "newWords", "skipped", "leftOut")
    return "; ".join(
        f"{Path(str(e.get('folder'))).name}: {e.get('state')}, "
        + ", ".join(f"{key} {json.dumps(e[key], ensure_ascii=False)}" for key in keys if key in e)
        for e in entries
    )


def report(results: dict[str, Any]) -> None:
    print(
        f"corpus: {results['corpus']} ({results['train_files']} train files, {results['test_files']} test files typed)"
    )
    print(f"{results['description']}; model {results['model']}; settings {json.dumps(results['settings'])}")
    print(f"data folder: {results['data_dir']}; workspace folder: {results['folder']}")
    notes = "" if results["notes_read_s"] is None else f", notes read at {results['notes_read_s']:.2f} s"
    print(
        f"time to ready (from initialize sent): {results['time_to_ready_s']:.2f} s "
        f"(model loaded at {results['model_loaded_s']:.2f} s{notes})"
    )
    print(f"completion latency, a key every {results['pause_ms']:g} ms:")
    for name, figure in results["latency"].items():
        print(f"  {PHASES.get(name, name)}: {latency_line(figure)}")
    progress = results["progress"]
    print(
        f"$/progress: {progress['reports']} reports, titled {', '.join(map(str, progress['titles'])) or '-'}, "
        f"last {progress['last_message']!r}"
    )
    print(f"at ready: {describe_workspaces(results['workspaces_at_ready'])}")
    if "figures" in results:
        f = results["figures"]
        limit = f"the first {results['max_words']} words of each" if results["max_words"] else "every word"
        print(f"typed: {f['files']} files, {f['words']:,} words ({limit}), {f['keystrokes_without']:,} keys by hand")
        print(f"KSR@1/3/5: {f['ksr@1']:.1%} / {f['ksr@3']:.1%} / {f['ksr@5']:.1%}")
        print(f"next-word acc@1/3/5: {f['acc@1']:.1%} / {f['acc@3']:.1%} / {f['acc@5']:.1%}")
        print(f"completion requests: {results['requests']:,}")
        if results["learned_after_save"]["n"]:
            print(f"learned after each save: {latency_line(results['learned_after_save'])}".replace("keys", "saves"))
        print(f"at the end: {describe_workspaces(results['workspaces_at_end'])}")
        if results["misplaced_edits"]:
            print(f"note: {results['misplaced_edits']} lists replaced another span than the protocol's typed prefix")
    print(
        f"server RSS: {results['rss_at_ready_mb']:.0f} MB at ready, {results['rss_end_mb']:.0f} MB at the end, "
        f"peak {results['rss_peak_mb']:.0f} MB"
    )
    print(f"measured {results['measured']} in {results['seconds']:.0f} s, code {results['code']}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "corpus", nargs="?", type=Path, default=DEFAULT_CORPUS, help="folder of notes (default: %(default)s)"
    )
    parser.add_argument("--mode", choices=MODES, default="workspace", help="workspace (default), continual or none")
    parser.add_argument("--start", choices=STARTS, default="train", help="what the folder holds at start")
    parser.add_argument("--model", type=Path, help="model file (default: the shipped model)")
    parser.add_argument(
        "--max-words",
        type=int,
        default=DEFAULT_MAX_WORDS,
        metavar="N",
        help="words typed per test file, 0: all (default %(default)s, as nextword eval)",
    )
    parser.add_argument("--files", type=int, default=0, metavar="N", help="type only the first N test files")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="the server's data folder, kept (default: a temporary one); run twice: a second start",
    )
    parser.add_argument(
        "--workspace", type=Path, help="the workspace folder (default: DATA_DIR/workspace, else a temporary one)"
    )
    parser.add_argument("--pause-ms", type=float, default=50.0, help="pause between keys until ready (default 50)")
    parser.add_argument("--ready-only", action="store_true", help="stop once ready: time to ready, latency, RSS")
    parser.add_argument(
        "--after-keys",
        type=int,
        default=200,
        metavar="N",
        help="keys typed once ready, at the same pace, to compare their latency (default 200)",
    )
    parser.add_argument("--settings", type=settings_argument, help="server settings as JSON, over the defaults")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    if args.max_words < 0 or args.files < 0 or args.pause_ms < 0:
        parser.error("--max-words, --files and --pause-ms must be 0 or more")
    if args.mode == "workspace" and args.start == "empty":
        parser.error("--start empty is for continual mode: workspace mode with an empty folder learns nothing")
    if not args.corpus.is_dir():
        parser.error(f"the corpus folder {args.corpus} does not exist; pass a folder of notes")
    if args.model is None:
        from nextword.model import default_model_path

        args.model = default_model_path()
    if not args.model.is_file():
        parser.error(f"model file {args.model} does not exist; pass --model FILE.safetensors")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nextword-workspace-mode-") as tmp:
        data_dir = (args.data_dir or Path(tmp) / "data").absolute()
        default_folder = data_dir / "workspace" if args.data_dir else Path(tmp) / "workspace"
        folder = (args.workspace or default_folder).absolute()
        try:
            results = run(args, data_dir, folder)
        except NextwordError as error:
            raise SystemExit(f"error: {error}") from None
    results |= {
        "corpus": str(args.corpus),
        "mode": args.mode,
        "start": args.start if args.mode != "none" else None,
        "description": describe_mode(args),
        "max_words": args.max_words,
        "pause_ms": args.pause_ms,
        "data_dir": str(data_dir) if args.data_dir else "a temporary one",
        "folder": str(folder) if args.data_dir or args.workspace else "a temporary one",
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
