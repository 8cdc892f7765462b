"""Language-server latency, measured through the real protocol over stdio.

Starts ``python -m nextword.server`` as an editor would, then for documents of 1,000,
10,000 and 100,000 words of real text (../shared/corpora/base) opens the document, asks
for a completion at its end at once (the first completion after opening), and types a
paragraph at the end one character at a time: each keystroke sends ``didChange`` and a
``completion`` request in one write and waits for the answer. Prints completion latency
(p50, p99, max) per size, and apart for the keystrokes that end a word (a space or a mark:
the network reads the word), the first completion, the time to the ``initialize`` answer
and until the model is ready (both from process start), and the server's peak memory.

``--language ko`` opens Korean text instead (../shared/corpora/base-ko) and types a Korean
paragraph as an editor receives it from an input method, one whole syllable per change; the
keys column counts the keys the protocol counts (a syllable its 2-set keys), the latencies
are per change. ``--corpus DIR`` opens another folder's text.

By default the keys go back to back, each as soon as the last answer is in: the server
never has a pause. ``--pause-ms 50`` waits that long between keys, as a (very fast) typist
does; the server then reads each word ahead while the typist pauses (see
``server/read_ahead.py``), so the key that ends the word finds that work done; the tokens
found read ahead are printed per size.

    python benchmarks/server_latency.py                     # the shipped model, if present
    python benchmarks/server_latency.py --model FILE.safetensors
    python benchmarks/server_latency.py --untrained         # a default-shaped untrained model
    python benchmarks/server_latency.py --pause-ms 50       # a typist's pause between keys
    python benchmarks/server_latency.py --documents 200     # memory with 200 notes open at once
    python benchmarks/server_latency.py --language ko       # Korean documents, Korean typed

``--documents N`` measures memory rather than speed: it opens N small notes (the test split
of ../shared/corpora/notes/simonw-til, then more of its notes if that holds fewer; with
``--language ko`` the small files of ../shared/corpora/base-ko), each cut halfway, types the next sentence or so into each without closing any, and prints the
server's RSS (peak and now), then its peak across model reloads with all of them open.

Without a shipped model (or with --untrained) it builds a model of the default shape
(256-dim embeddings, 2-layer LSTM of 512, 30,000 tokens) with random weights: the same
work per keystroke as a trained one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import machine
from latency_documents import (
    LANGUAGES,
    PARAGRAPH,
    SERVER_CORPUS,
    WORD_RE,
    corpus_text,
    first_words,
    protocol_keys,
    small_notes,
)

REPO = Path(__file__).resolve().parents[1]
TRIGGERS = set(' (["“/')
TARGETS = {"p50_ms": 2.0, "p99_ms": 8.0, "first_ms": 100.0, "initialize_s": 1.0, "ready_s": 5.0, "rss_mb": 400.0}


# ----- a bare LSP client ------------------------------------------------------------------------
class Client:
    """Frames JSON-RPC over the server's stdin/stdout; nothing else in the way."""

    def __init__(self, command: list[str], env: dict[str, str]):
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, bufsize=0
        )
        self.buffer = b""
        self.next_id = 0

    @staticmethod
    def frame(message: dict[str, Any]) -> bytes:
        body = json.dumps(message, ensure_ascii=False).encode()
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    def write(self, *messages: dict[str, Any]) -> None:
        self.proc.stdin.write(b"".join(self.frame(m) for m in messages))  # type: ignore[union-attr]

    def request_message(self, method: str, params: Any) -> dict[str, Any]:
        self.next_id += 1
        return {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}

    def read(self) -> dict[str, Any]:
        fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end >= 0:
                length = int(re.search(rb"Content-Length: (\d+)", self.buffer[:head_end]).group(1))  # type: ignore[union-attr]
                end = head_end + 4 + length
                if len(self.buffer) >= end:
                    body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
                    return json.loads(body)
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise RuntimeError("the server closed its stdout")
            self.buffer += chunk

    def wait_for(self, request_id: int) -> dict[str, Any]:
        while True:
            message = self.read()
            if message.get("id") == request_id and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"request failed: {message['error']}")
                return message
            if "method" in message and "id" in message:  # server-to-client request: answer empty
                self.write({"jsonrpc": "2.0", "id": message["id"], "result": None})

    def request(self, method: str, params: Any) -> Any:
        message = self.request_message(method, params)
        self.write(message)
        return self.wait_for(message["id"])["result"]

    def notify(self, method: str, params: Any) -> None:
        self.write({"jsonrpc": "2.0", "method": method, "params": params})

    def peak_rss_mb(self, field: str = "VmHWM") -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def rss_mb(self) -> float:
        return self.peak_rss_mb("VmRSS")

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.proc.wait(10)
        except Exception:  # noqa: BLE001 - measuring is done; make sure it is gone
            self.proc.kill()


# ----- text -------------------------------------------------------------------------------------
def position_of_end(text: str) -> dict[str, int]:
    line = text.count("\n")
    last = text[text.rfind("\n") + 1 :]
    return {"line": line, "character": len(last.encode("utf-16-le")) // 2}


def untrained_model(folder: Path) -> Path:
    """A default-shaped model with random weights over the corpus's 30,000 commonest tokens."""
    from collections import Counter

    import torch
    from nextword.model import LanguageModel, ModelConfig, Vocabulary, save_checkpoint, tokenize

    counts = Counter(tokenize(corpus_text(SERVER_CORPUS["en"], 2_000_000)))
    vocab = Vocabulary.build(counts, min_count=1, max_size=30000)
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab)))
    return save_checkpoint(folder / "untrained.safetensors", model, vocab, info={"note": "untrained, for benchmarks"})


def type_keys(client: Client, uri: str, body: str, typed: str, pause: float = 0.0) -> list[float]:
    """Type ``typed`` at the end of the open document ``body`` one character at a time, each
    key a ``didChange`` and a ``completion`` request in one write; the seconds each answer took."""
    latencies = []
    version = 1
    # The end of the text, kept up to date as an editor does, rather than found again in the
    # whole text per keystroke: at 100,000 words that search (and a copy of the text per
    # character) would be the client's own work, crowding the server's cache.
    end = position_of_end(body)
    for ch in typed:
        start = end
        end = (
            {"line": end["line"] + 1, "character": 0}
            if ch == "\n"
            else {"line": end["line"], "character": end["character"] + len(ch.encode("utf-16-le")) // 2}
        )
        version += 1
        change = {
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"range": {"start": start, "end": start}, "text": ch}],
            },
        }
        context = {"triggerKind": 2, "triggerCharacter": ch} if ch in TRIGGERS else {"triggerKind": 3}
        completion = client.request_message(
            "textDocument/completion", {"textDocument": {"uri": uri}, "position": end, "context": context}
        )
        started = time.perf_counter()
        client.write(change, completion)
        client.wait_for(completion["id"])
        latencies.append(time.perf_counter() - started)
        if pause:
            time.sleep(pause)
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# ----- the measurement --------------------------------------------------------------------------
def start_server(model: Path, entry: str) -> tuple[Client, dict[str, Any]]:
    """A server started as an editor starts it, initialized, with its model loaded; and the
    start-up figures."""
    env = dict(os.environ)
    env["NEXTWORD_DATA_DIR"] = tempfile.mkdtemp(prefix="nextword-bench-")
    command = (
        [sys.executable, "-m", "nextword.server"]
        if entry == "module"
        else [str(Path(sys.executable).with_name("nextword")), "serve"]
    )
    client = Client([*command, "--model", str(model)], env)
    client.request(
        "initialize",
        {"processId": os.getpid(), "rootUri": None, "capabilities": {"general": {"positionEncodings": ["utf-16"]}}},
    )
    initialize_s = time.perf_counter() - client.started
    client.notify("initialized", {})
    while (status := client.request("workspace/executeCommand", {"command": "nextword.status"}))["state"] not in (
        "ready",
        "failed",
        "missing",
    ):
        time.sleep(0.01)
    ready_s = time.perf_counter() - client.started
    if status["state"] != "ready":
        raise SystemExit(f"the model did not load: {status['error']}")
    return client, {
        "initialize_s": initialize_s,
        "ready_s": ready_s,
        "model": status["model"],
        "vocabulary": status["vocabularySize"],
    }


def reload_and_close(client: Client, results: dict[str, Any], reloads: int) -> dict[str, Any]:
    """Swap the model in again ``reloads`` times, as after `nextword train`, note the server's
    RSS across the reloads in ``results``, close the server; ``results``."""
    for _ in range(reloads):
        client.request("workspace/executeCommand", {"command": "nextword.reloadModel"})
    results["reloads"] = reloads
    results["rss_after_reloads_peak_mb"] = client.peak_rss_mb()
    results["rss_after_reloads_now_mb"] = client.rss_mb()
    client.close()
    return results


def measure(
    model: Path,
    sizes: list[int],
    repeats: int,
    entry: str,
    reloads: int = 2,
    pause: float = 0.0,
    corpus: Path = SERVER_CORPUS["en"],
    paragraph: str = PARAGRAPH["en"],
) -> dict[str, Any]:
    """Open a document of each size cut from ``corpus``'s text and type ``paragraph`` at its end."""
    text = corpus_text(corpus, max(sizes) + 1000)
    client, results = start_server(model, entry)
    results["sizes"] = {}
    for size in sizes:
        latencies: list[float] = []
        ends: list[float] = []  # the keystrokes that end a word
        firsts: list[float] = []
        read_ahead = 0  # tokens the server found read ahead (nextword.status, before each close)
        for run in range(repeats):
            uri = f"file:///bench/{size}-{run}.md"
            body = first_words(text, size)
            client.notify(
                "textDocument/didOpen",
                {"textDocument": {"uri": uri, "languageId": "markdown", "version": 1, "text": body}},
            )
            started = time.perf_counter()
            client.request(
                "textDocument/completion",
                {"textDocument": {"uri": uri}, "position": position_of_end(body), "context": {"triggerKind": 1}},
            )
            firsts.append(time.perf_counter() - started)
            for ch, latency in zip(paragraph, type_keys(client, uri, body, paragraph, pause), strict=True):
                latencies.append(latency)
                if not WORD_RE.match(ch):
                    ends.append(latency)
            status = client.request("workspace/executeCommand", {"command": "nextword.status"})
            read_ahead += status.get("readAheadHits", 0)
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        results["sizes"][size] = {
            "keystrokes": repeats * protocol_keys(paragraph),
            "changes": len(latencies),
            "p50_ms": 1e3 * statistics.median(latencies),
            "p99_ms": 1e3 * percentile(latencies, 0.99),
            "max_ms": 1e3 * max(latencies),
            "word_end_p50_ms": 1e3 * statistics.median(ends),
            "word_end_p99_ms": 1e3 * percentile(ends, 0.99),
            "first_ms": 1e3 * max(firsts),
            "first_median_ms": 1e3 * statistics.median(firsts),
            "read_ahead_hits": read_ahead,
            "slowest": sorted(
                (
                    (round(1e3 * t, 2), i % len(paragraph), paragraph[i % len(paragraph)])
                    for i, t in enumerate(latencies)
                ),
                reverse=True,
            )[:5],
        }
    results["rss_mb"] = client.peak_rss_mb()
    return reload_and_close(client, results, reloads)


def measure_documents(
    model: Path, count: int, entry: str, reloads: int, typed_chars: int, pause: float = 0.0, language: str = "en"
) -> dict[str, Any]:
    """Open ``count`` notes, each cut halfway (at a space), and type the next ``typed_chars``
    characters of each at that end, asking for completions, closing none; the server's RSS."""
    client, results = start_server(model, entry)
    keys = changes = 0
    for n, (relative, text) in enumerate(small_notes(language, count)):
        half = text.rfind(" ", 0, len(text) // 2) + 1
        body, typed = text[:half], text[half : half + typed_chars]
        uri = f"file:///notes/{n}/{relative}"
        client.notify(
            "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "markdown", "version": 1, "text": body}}
        )
        client.request(
            "textDocument/completion",
            {"textDocument": {"uri": uri}, "position": position_of_end(body), "context": {"triggerKind": 1}},
        )
        changes += len(type_keys(client, uri, body, typed, pause))
        keys += protocol_keys(typed)
    status = client.request("workspace/executeCommand", {"command": "nextword.status"})
    results.update(
        documents=count,
        keystrokes=keys,
        changes=changes,
        live_documents=status.get("liveDocuments"),
        rss_mb=client.peak_rss_mb(),
        rss_now_mb=client.rss_mb(),
    )
    return reload_and_close(client, results, reloads)


def report_documents(results: dict[str, Any]) -> None:
    def mark(value: float) -> str:
        return "ok" if value <= TARGETS["rss_mb"] else "MISSED"

    print(f"model: {results['model']} ({results['vocabulary']} tokens)")
    print(
        f"{results['documents']} notes open, {results['keystrokes']} keys typed into them "
        f"({results['live_documents']} keep model state)"
    )
    peak = results["rss_mb"]
    print(
        f"peak RSS {peak:.0f} MB ({mark(peak)}, target {TARGETS['rss_mb']:.0f} MB), now {results['rss_now_mb']:.0f} MB"
    )
    if results["reloads"]:
        peak = results["rss_after_reloads_peak_mb"]
        print(
            f"after {results['reloads']} model reloads with them open: RSS {results['rss_after_reloads_now_mb']:.0f} MB, "
            f"peak {peak:.0f} MB ({mark(peak)})"
        )


def report(results: dict[str, Any]) -> None:
    def mark(value: float, target: float) -> str:
        return "ok" if value <= target else "MISSED"

    print(f"model: {results['model']} ({results['vocabulary']} tokens)")
    print("before: " + results["machine"][0])
    print("after:  " + results["machine"][1])
    pace = f"{results['pause_ms']:g} ms between keys" if results["pause_ms"] else "keys back to back"
    print(f"typing: {pace}")
    if results["text"]:
        r = next(iter(results["sizes"].values()))
        print(
            f"text: {results['text']}; {r['changes']} changes timed per size (one character each), {r['keystrokes']} keys"
        )
    print(
        f"{'words':>8} {'keys':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'word end p50':>13} {'p99':>6} {'first ms':>9}"
    )
    for size, r in results["sizes"].items():
        print(
            f"{size:>8} {r['keystrokes']:>5} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['max_ms']:>8.2f} {r['word_end_p50_ms']:>13.2f} {r['word_end_p99_ms']:>6.2f} {r['first_ms']:>9.1f}"
            f"   p50 {mark(r['p50_ms'], TARGETS['p50_ms'])}, p99 {mark(r['p99_ms'], TARGETS['p99_ms'])}"
        )
    for size, r in results["sizes"].items():
        print(f"slowest keystrokes at {size} words (ms, index, character): {r['slowest']}")
        print(f"tokens found read ahead at {size} words: {r['read_ahead_hits']}")
    largest = max(results["sizes"])
    first = results["sizes"][largest]["first_ms"]
    print(
        f"first completion after opening the {largest:,}-word document: {first:.1f} ms ({mark(first, TARGETS['first_ms'])}, target {TARGETS['first_ms']:.0f} ms)"
    )
    print(
        f"initialize answered {results['initialize_s']:.3f} s after start ({mark(results['initialize_s'], TARGETS['initialize_s'])}, target {TARGETS['initialize_s']} s)"
    )
    print(
        f"model ready {results['ready_s']:.2f} s after start ({mark(results['ready_s'], TARGETS['ready_s'])}, target {TARGETS['ready_s']} s)"
    )
    print(
        f"peak RSS {results['rss_mb']:.0f} MB ({mark(results['rss_mb'], TARGETS['rss_mb'])}, target {TARGETS['rss_mb']:.0f} MB)"
    )
    if results["reloads"]:
        print(
            f"after {results['reloads']} model reloads: RSS {results['rss_after_reloads_now_mb']:.0f} MB, peak {results['rss_after_reloads_peak_mb']:.0f} MB (the new model loads while the old one serves)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", type=Path, help="model file (default: the shipped model, else an untrained one of its shape)"
    )
    parser.add_argument("--untrained", action="store_true", help="use an untrained model of the default shape")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000], help="document sizes in words")
    parser.add_argument("--repeats", type=int, default=1, help="documents typed into per size")
    parser.add_argument(
        "--entry",
        choices=("module", "script"),
        default="module",
        help="start `python -m nextword.server` (module) or `nextword serve` (script)",
    )
    parser.add_argument("--reloads", type=int, default=2, help="model reloads at the end, to see memory across them")
    parser.add_argument(
        "--pause-ms", type=float, default=0.0, help="pause between keys, as a typist's (default 0: back to back)"
    )
    parser.add_argument(
        "--documents", type=int, default=0, help="memory mode: open this many notes and type into each, closing none"
    )
    parser.add_argument("--typed-chars", type=int, default=120, help="with --documents: characters typed into each")
    parser.add_argument(
        "--language", choices=LANGUAGES, default="en", help="the documents' and the typed text's language (en, ko)"
    )
    parser.add_argument("--corpus", type=Path, help="folder whose text the documents are cut from (default: base[-ko])")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    model = args.model
    shipped = REPO / "model" / "data" / "default.safetensors"
    with tempfile.TemporaryDirectory() as tmp:
        if model is None:
            if args.untrained or not shipped.is_file():
                if args.language != "en":
                    raise SystemExit("an untrained model holds English tokens only; pass --model with a Korean model")
                model = untrained_model(Path(tmp))
            else:
                model = shipped
        if args.documents:
            results = measure_documents(
                model, args.documents, args.entry, args.reloads, args.typed_chars, args.pause_ms / 1000, args.language
            )
            report_documents(results)
        else:
            corpus = args.corpus or SERVER_CORPUS[args.language]
            paragraph = PARAGRAPH[args.language]
            before = machine.describe()
            results = measure(
                model, args.sizes, args.repeats, args.entry, args.reloads, args.pause_ms / 1000, corpus, paragraph
            )
            default = args.language == "en" and args.corpus is None
            results["text"] = "" if default else f"{args.language} typed into documents of {corpus}"
            results["pause_ms"] = args.pause_ms
            results["machine"] = [before, machine.describe()]
            report(results)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
