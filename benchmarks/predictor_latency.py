"""Predictor latency: a simulated typist at the end of a 100-word and a 100,000-word document.

For each word typed: one query at the word boundary (nothing typed yet: the network runs
for the new tokens) and one per further character (inside the word: the distribution is
only filtered by prefix). Prints the median and 99th percentile of each kind.

Each document is typed twice: with the queries back to back, and as the language server
serves a person, who pauses between keys: after each key the word typed so far is read
ahead as if finished (``Predictor.look_ahead``, untimed: it runs in the pause), so the query
after the word ends finds the network's steps done when the word (and the mark after it, if
it is one of the few the network found likeliest) is what the look-ahead read.

With ``--cold``, the machine's caches are emptied before every word boundary (64 MB read
through, more than its shared cache holds): the boundary then reads the weights, the
caches' tables and the interpreter's own code and data from memory, as it does on a busy
machine whose other tenants evict them between words. It takes out how much of the cache
those tenants leave; how fast the memory itself runs still changes by the hour. With
``--busy``, another process streams memory on the other core the whole time (a noisy
neighbour: the memory bus shared and the cache evicted, a slow spell on demand); the two
together are the worst case.

``--language ko`` types Korean into Korean documents (../shared/corpora/base-ko/python-docs-ko
rather than base/python-peps), a whole syllable per character as an editor receives it from an
input method; ``--corpus DIR`` takes another folder's text. Queries ask as the language server
does, with the last syllable possibly still being composed.

``NEXTWORD_KERNELS=torch`` in the environment measures PyTorch's kernels instead of the
project's C kernels.

    python benchmarks/predictor_latency.py [--model FILE] [--words 200] [--threads 1] [--cold] [--busy]
        [--language en|ko] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import machine  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from latency_documents import LANGUAGES, PREDICTOR_CORPUS, corpus_text  # noqa: E402
from nextword.model import InferenceNetwork, Predictor, resolve_model_path  # noqa: E402
from nextword.model.prediction_model import load_for_prediction  # noqa: E402
from nextword.model.text import SplitText  # noqa: E402
from nextword.model.tokenize import WORD_RE  # noqa: E402
from nextword.server.read_ahead import LOOK_AHEAD_MARKS  # noqa: E402


def take_words(text: str, n: int) -> str:
    matches = list(WORD_RE.finditer(text[: n * 12]))
    return text[: matches[n - 1].end()] if len(matches) >= n else text


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(
    predictor: Predictor, document: str, typed: str, k: int, ahead: bool = False, flush: np.ndarray | None = None
) -> tuple[list[float], list[float], float, list[float], list[float]]:
    """Query latencies at word boundaries and inside words, the first query's, those of the
    boundaries that had to run the network (all of them unless ``ahead``), and the time each
    look-ahead took (in the pause, not in any query); ``flush`` is read through before each
    boundary, untimed, to empty the caches."""
    boundary: list[float] = []
    inside: list[float] = []
    stepped: list[float] = []
    looked: list[float] = []
    start = time.perf_counter()
    predictor.predict(document, "", k)
    first = time.perf_counter() - start
    for match in WORD_RE.finditer(typed):
        # In two pieces, as the language server hands a document over: the long head string
        # stays the same object while the typing grows the tail.
        context = SplitText(document, typed[: match.start()])
        word = match.group()
        for i in range(len(word)):
            reads = predictor.network_reads
            if i == 0 and flush is not None:
                flush.sum()
            t = time.perf_counter()
            predictor.predict(context, word[:i], k, composing=True)
            (boundary if i == 0 else inside).append(time.perf_counter() - t)
            if i == 0 and predictor.network_reads > reads:
                stepped.append(boundary[-1])
            if ahead:  # the pause after the typist's next key
                t = time.perf_counter()
                predictor.look_ahead(word[: i + 1], LOOK_AHEAD_MARKS)
                looked.append(time.perf_counter() - t)
    return boundary, inside, first, stepped, looked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model file (default: the one nextword uses)")
    parser.add_argument("--words", type=int, default=200, help="words to type into each document")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the language server runs)")
    parser.add_argument(
        "--cold", action="store_true", help="empty the caches before every word boundary (64 MB read through)"
    )
    parser.add_argument(
        "--busy", action="store_true", help="stream memory on the other core the whole time (a noisy neighbour)"
    )
    parser.add_argument("--language", choices=LANGUAGES, default="en", help="the documents' and typed text's language")
    parser.add_argument("--corpus", type=Path, help="folder the documents and typed text come from")
    args = parser.parse_args()
    with machine.noisy_neighbour() if args.busy else contextlib.nullcontext():
        run(args)


def run(args: argparse.Namespace) -> None:
    flush = np.ones(64 * 2**20 // 8) if args.cold else None
    torch.set_num_threads(args.threads)
    checkpoint = load_for_prediction(resolve_model_path(args.model))
    corpus = args.corpus or PREDICTOR_CORPUS[args.language]
    text = corpus_text(corpus, 110_000, WORD_RE)
    typed = take_words(corpus_text(corpus, 2_000, WORD_RE)[-40_000:], args.words)
    print(machine.describe())
    cold = ", caches emptied before every word boundary" if args.cold else ""
    busy = ", memory streamed on the other core" if args.busy else ""
    network = InferenceNetwork.build(checkpoint.model)
    # As the server does once its model is in: what lives from here on (the model, the texts)
    # is set aside from garbage collection, or a full collection traversing it all would land
    # in some query.
    gc.collect()
    gc.freeze()
    kernels = network.kernels
    print(
        f"model {checkpoint.path.name}: vocabulary {len(checkpoint.vocab)}, typing {args.words} words, k={args.k}, {args.threads} thread(s){cold}{busy}, kernels: {kernels}"
    )
    if args.language != "en" or args.corpus:
        print(f"text: {args.language}, from {corpus}")
    print(
        f"{'document':>16} {'typing':>16} {'boundary p50':>13} {'p99':>8} {'in-word p50':>12} {'p99':>8} {'first query':>12}"
    )
    for words in (100, 100_000):
        document = take_words(text, words) + "\n\n"
        for ahead in (False, True):
            predictor = Predictor(network, checkpoint.vocab)
            measure(predictor, document, typed[:2000], args.k, ahead, flush)  # warm up
            predictor.reset()
            boundary, inside, first, stepped, looked = measure(predictor, document, typed, args.k, ahead, flush)
            ms = lambda s: f"{s * 1000:.3f} ms"  # noqa: E731
            mode = "read ahead" if ahead else "back to back"
            print(
                f"{words:>10,} words {mode:>16} {ms(statistics.median(boundary)):>13} {ms(percentile(boundary, 0.99)):>8} {ms(statistics.median(inside)):>12} {ms(percentile(inside, 0.99)):>8} {ms(first):>12}"
            )
            if ahead and stepped:
                print(
                    f"{'':>16} {'':>16} {len(boundary) - len(stepped)} of {len(boundary)} boundaries found every step read ahead; the other {len(stepped)}: p50 {ms(statistics.median(stepped))}"
                )
                print(
                    f"{'':>16} {'':>16} reading ahead after a key (the word and up to {LOOK_AHEAD_MARKS} marks, in the pause): p50 {ms(statistics.median(looked))}"
                )


if __name__ == "__main__":
    main()
