"""Where a model's suggestions still cost keystrokes, by what the model could know of each word.

    python benchmarks/lost_keystrokes.py [MODEL] [--corpus DIR] [--k 3] [--max-words 400] [--json]

The type-through protocol (`../shared/eval-protocol.md`) on the corpus's test split, as
`nextword eval` runs it: a target word accepted after typing ``i`` of its characters costs
their keys and one more, one never accepted the keys of all its characters (keys as the
protocol counts them: one a character, a Hangul syllable its 2-set keys). What a word costs
beyond the one keystroke that accepts it is lost, and each word is counted under one of:

- vocabulary: a word of the model's vocabulary;
- document: not in it, but earlier in the same file (the document caches can offer it);
- notes: not in it, seen in the corpus's train split (once, or more often);
- unseen: none of these: no word-level model offers it before it is typed whole.

Words made of digits only are counted apart within each. A lift that only a personal model
gets has to come from its vocabulary's words and the notes' words; what helps unseen words
helps every model alike.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from nextword.model import NextwordError, resolve_model_path
from nextword.model.hangul import key_count
from nextword.model.prediction_model import load_for_prediction
from nextword.training.eval_corpus import load_split
from nextword.training.evaluate import ModelSystem
from nextword.training.typist import (
    DEFAULT_MAX_WORDS,
    accepted_after,
    evaluated_words,
    type_through,
    word_keystrokes,
)

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared/corpora/notes/simonw-til"
CATEGORIES = ("vocabulary", "document", "notes, once", "notes, more often", "unseen")


def category(word: str, in_vocabulary: bool, earlier: set[str], notes: Counter[str]) -> str:
    if in_vocabulary:
        return "vocabulary"
    if word in earlier:
        return "document"
    if notes[word]:
        return "notes, once" if notes[word] == 1 else "notes, more often"
    return "unseen"


def measure(model: Path, corpus: Path, k: int, max_words: int) -> dict:
    checkpoint = load_for_prediction(model)
    split = load_split(corpus)
    notes: Counter[str] = Counter(word for doc in split.train for _, word in evaluated_words(doc.text, 0))
    rows: dict[tuple[str, bool], Counter[str]] = {
        (name, digits): Counter() for name in CATEGORIES for digits in (False, True)
    }
    accepted_at: Counter[str] = Counter()  # vocabulary words: after how many characters
    earlier: set[str] = set()  # the words met so far in the file being typed
    typing = ""  # that file's text

    def on_word(text: str, start: int, word: str, ranks: list[int | None]) -> None:
        nonlocal typing
        if text is not typing:
            typing = text
            earlier.clear()
        accepted = accepted_after(ranks, k)
        name = category(word, checkpoint.vocab.index.get(word) is not None, earlier, notes)
        row = rows[(name, word.isdigit())]
        row["words"] += 1
        row["keys"] += key_count(word)
        row["lost"] += word_keystrokes(word, accepted) - 1
        if name == "vocabulary":
            accepted_at["never" if accepted is None else str(min(accepted, 3))] += 1
        earlier.add(word)

    result = type_through(ModelSystem(checkpoint), [doc.text for doc in split.test], max_words, (k,), on_word=on_word)
    return {
        "model": str(model),
        "corpus": str(corpus),
        "k": k,
        "keystrokes_without": result.keystrokes_without,
        "keystrokes_with": result.with_suggestions[k],
        "ksr": result.ksr(k),
        "rows": [{"category": name, "digits": digits, **row} for (name, digits), row in rows.items() if row],
        "vocabulary_accepted_after": dict(accepted_at),
    }


def report(result: dict) -> str:
    lost = sum(row["lost"] for row in result["rows"])
    lines = [
        f"{result['model']} on {result['corpus']}, k={result['k']}: KSR@{result['k']} {100 * result['ksr']:.2f}% "
        f"({result['keystrokes_with']:,} of {result['keystrokes_without']:,} keystrokes)",
        f"{'category':<30} {'words':>7} {'keys':>8} {'lost':>8} {'share':>7}",
    ]
    for row in result["rows"]:
        name = row["category"] + (" (digits)" if row["digits"] else "")
        lines.append(
            f"{name:<30} {row['words']:>7,} {row['keys']:>8,} {row['lost']:>8,} {100 * row['lost'] / max(1, lost):>6.1f}%"
        )
    lines.append(
        f"{'all':<30} {sum(r['words'] for r in result['rows']):>7,} {sum(r['keys'] for r in result['rows']):>8,} {lost:>8,}"
    )
    after = result["vocabulary_accepted_after"]
    order = ["0", "1", "2", "3", "never"]
    lines.append(
        "vocabulary words accepted after typing "
        + ", ".join(f"{key if key != '3' else '3 or more'}: {after.get(key, 0):,}" for key in order)
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="model file (default: your trained model, else the shipped one)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"corpus folder (default {DEFAULT_CORPUS})")
    parser.add_argument("--k", type=int, default=3, help="suggestions shown (default 3, the headline)")
    parser.add_argument(
        "--max-words",
        type=int,
        default=DEFAULT_MAX_WORDS,
        help=f"words evaluated per file (default {DEFAULT_MAX_WORDS}, 0: all)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    if args.k < 1:
        parser.error("--k must be at least 1")
    try:
        result = measure(resolve_model_path(args.model), args.corpus, args.k, args.max_words)
    except NextwordError as e:
        print(f"lost_keystrokes: {e}", file=sys.stderr)
        return 1
    print(report(result))
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
