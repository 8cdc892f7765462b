"""Type-through evaluation, by the protocol in shared/eval-protocol.md: a simulated typist
goes through the test split of a corpus with each system's suggestions, and the keystrokes
saved are counted; plus the model's perplexity on its own tokens.

A system is any object with ``name``, ``reset()`` (a new file begins) and
``suggest(context, prefix, k) -> list[str]`` (ranked words for the text before the word and
the part of the word typed so far).
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from nextword.model import (
    Checkpoint,
    LanguageModel,
    NextwordError,
    Predictor,
    Vocabulary,
    default_model_path,
    load_checkpoint,
    resolve_model_path,
    user_model_path,
)
from nextword.model.tokenize import PARAGRAPH, WORD_RE, tokenize
from tqdm import tqdm

from .baselines import BufferWords, UnigramWords
from .corpus import DEFAULT_EXTENSIONS, Document, find_files, read_text
from .split import is_test_file

KS = (1, 3, 5)  # the suggestion-list lengths reported; 3 is the headline
DEFAULT_MAX_WORDS = 400


class System(Protocol):
    name: str

    def reset(self) -> None: ...

    def suggest(self, context: str, prefix: str, k: int) -> list[str]: ...


class ModelSystem:
    """The model's Predictor as an evaluated system; one Predictor, reset between files, so
    its incremental state follows the typist through a file."""

    name = "model"

    def __init__(self, checkpoint: Checkpoint):
        self.predictor = Predictor(checkpoint.model, checkpoint.vocab)

    def reset(self) -> None:
        self.predictor.reset()

    def suggest(self, context: str, prefix: str, k: int) -> list[str]:
        return [s.word for s in self.predictor.predict(context, prefix, k)]


# ----- the corpus ---------------------------------------------------------------------------------
@dataclass
class Split:
    """A corpus's documents by the protocol's split, and the files that could not be read."""

    test: list[Document] = field(default_factory=list)
    train: list[Document] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> number of files
    found: int = 0  # text files in the corpus, test and training


def load_split(corpus: str | Path, read_train: bool = True) -> Split:
    """Read the test files of ``corpus`` (a folder, or one file whose relative path is its
    name), and its training files when ``read_train``; warn on stderr about unreadable files."""
    files = find_files([corpus])
    if not files:
        raise NextwordError(
            f"no text files ({', '.join(DEFAULT_EXTENSIONS)}) found in {corpus}; point at a folder of notes"
        )
    split = Split(found=len(files))
    tests = [(path, rel) for path, rel in files if is_test_file(rel)]
    if not tests:
        raise NextwordError(
            f"none of the {len(files)} text file(s) in {corpus} falls in the test split (about one file in ten, "
            "chosen by a hash of its path); evaluate a larger corpus"
        )
    for path, relative in files:
        test = is_test_file(relative)
        if not (test or read_train):
            continue
        text, problem = read_text(path)
        if text is None:
            split.skipped[problem] += 1
            continue
        (split.test if test else split.train).append(Document(path, relative, text))
    if split.skipped:
        print(
            f"warning: skipped {', '.join(f'{n} {why}' for why, n in sorted(split.skipped.items()))} file(s) of {corpus}",
            file=sys.stderr,
        )
    if not split.test:
        raise NextwordError(
            f"none of the {len(tests)} test file(s) of {corpus} could be read as UTF-8 text; evaluation needs UTF-8 text files"
        )
    return split


# ----- the simulated typist -----------------------------------------------------------------------
@dataclass
class TypeThrough:
    """Keystroke counts of one system over some files; ``with_suggestions[k]`` and
    ``found_first[k]`` (words among the first k suggestions at i = 0) for each k."""

    files: int = 0
    words: int = 0
    keystrokes_without: int = 0
    with_suggestions: dict[int, int] = field(default_factory=dict)
    found_first: dict[int, int] = field(default_factory=dict)

    def ksr(self, k: int) -> float:
        """Keystroke savings rate with ``k`` suggestions shown."""
        return 1.0 - self.with_suggestions[k] / self.keystrokes_without if self.keystrokes_without else 0.0

    def accuracy(self, k: int) -> float:
        """Next-word accuracy: the share of words among the first ``k`` suggestions at i = 0."""
        return self.found_first[k] / self.words if self.words else 0.0

    def as_dict(self) -> dict:
        figures = {f"ksr@{k}": self.ksr(k) for k in sorted(self.with_suggestions)}
        figures |= {f"acc@{k}": self.accuracy(k) for k in sorted(self.found_first)}
        return figures | {
            "keystrokes_without": self.keystrokes_without,
            "keystrokes_with": {str(k): v for k, v in sorted(self.with_suggestions.items())},
            "words": self.words,
            "files": self.files,
        }


def evaluated_words(text: str, max_words: int = DEFAULT_MAX_WORDS) -> list[tuple[int, str]]:
    """``(start, word)`` for the first ``max_words`` target words of ``text`` (0: all)."""
    found = []
    for match in WORD_RE.finditer(text):
        if max_words and len(found) == max_words:
            break
        found.append((match.start(), match.group()))
    return found


def word_ranks(system: System, context: str, word: str, k: int) -> list[int | None]:
    """The word's rank (0-based, None when absent) among the first ``k`` suggestions at
    ``i = 0, 1, ...``; stops once it is first, since every list length accepts it there."""
    ranks: list[int | None] = []
    for i in range(len(word)):
        prefix = word[:i]
        shown = [w for w in system.suggest(context, prefix, k) if w.startswith(prefix)][:k]
        rank = shown.index(word) if word in shown else None
        ranks.append(rank)
        if rank == 0:
            break
    return ranks


def accepted_after(ranks: list[int | None], k: int) -> int | None:
    """How many characters the typist types before accepting the word, shown ``k``
    suggestions (``ranks`` as ``word_ranks`` gives them); None if never."""
    return next((i for i, r in enumerate(ranks) if r is not None and r < k), None)


# Told of each target word as the typist meets it: the file's text, where the word starts,
# the word, and its ranks (``word_ranks``).
WordObserver = Callable[[str, int, str, list[int | None]], None]


def type_through(
    system: System,
    texts: Iterable[str],
    max_words: int = DEFAULT_MAX_WORDS,
    ks: Sequence[int] = KS,
    progress: tqdm | None = None,
    on_word: WordObserver | None = None,
) -> TypeThrough:
    """Run the typist over ``texts`` (one per file, in order) with ``system``'s suggestions.

    The evaluated span of a file runs from its first character to the end of its last
    evaluated word (the Nth, or the file's last in a shorter file): text before the first
    word counts, text after the last is typed in neither condition (this reading reproduces
    the protocol's reference baseline figures). Without
    suggestions every character of the span costs a keystroke; with them, a word accepted
    after typing ``i`` characters costs ``i + 1``, and a word never accepted ``len(word)``.
    The suggestions at ``(s, i)`` do not depend on ``k``, so one query per step serves every ``k``.
    """
    result = TypeThrough(with_suggestions=dict.fromkeys(ks, 0), found_first=dict.fromkeys(ks, 0))
    for text in texts:
        words = evaluated_words(text, max_words)
        system.reset()
        result.files += 1
        if not words:
            continue
        start, last = words[-1]
        span = start + len(last)
        typed_by_hand = span - sum(len(w) for _, w in words)
        result.keystrokes_without += span
        for k in ks:
            result.with_suggestions[k] += typed_by_hand
        for start, word in words:
            ranks = word_ranks(system, text[:start], word, max(ks))
            for k in ks:
                accepted = accepted_after(ranks, k)
                result.with_suggestions[k] += len(word) if accepted is None else accepted + 1
                result.found_first[k] += ranks[0] is not None and ranks[0] < k
            if on_word is not None:
                on_word(text, start, word, ranks)
            if progress is not None:
                progress.update(1)
        result.words += len(words)
    return result


# ----- perplexity -------------------------------------------------------------------------------------
@dataclass
class Perplexity:
    """The model's cross-entropy on its own tokens, and how many of them were unknown."""

    tokens: int = 0
    unknown: int = 0
    loss: float = 0.0  # summed over tokens, in nats

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss / self.tokens) if self.tokens else float("nan")

    @property
    def oov_rate(self) -> float:
        return self.unknown / self.tokens if self.tokens else 0.0


def perplexity(model: LanguageModel, vocab: Vocabulary, texts: Iterable[str], chunk: int = 512) -> Perplexity:
    """Perplexity over whole ``texts``: each starts after the paragraph token, as the
    Predictor does, and runs in chunks of ``chunk`` tokens that carry the state over.
    Unknown tokens are predicted like any other (as ``<unk>``)."""
    model.eval()
    result = Perplexity()
    with torch.inference_mode():
        for text in texts:
            ids = vocab.encode(tokenize(text))
            if not ids:
                continue
            inputs = torch.tensor([vocab.id(PARAGRAPH)] + ids[:-1])
            targets = torch.tensor(ids)
            state = None
            for at in range(0, len(ids), chunk):
                hidden, state = model(inputs[at : at + chunk, None], state)
                result.loss += float(model.full_loss(hidden, targets[at : at + chunk, None], reduction="sum"))
            result.tokens += len(ids)
            result.unknown += ids.count(vocab.unk_id)
    return result


# ----- everything at once -----------------------------------------------------------------------------
MODEL_SYSTEMS = (
    "model",
    "personal",
    "default",
)  # the MODEL given (else the one the server uses), yours, the shipped one
SYSTEMS = MODEL_SYSTEMS + ("buffer", "unigram")


def default_systems(model_path: str | Path | None = None) -> list[str]:
    """With a MODEL named: it and the baselines. Without: your model beside the shipped one
    (so the table shows what training bought you) when you have one, and the baselines."""
    if model_path:
        return ["model", "buffer", "unigram"]
    if user_model_path().is_file():
        return ["personal", "default", "buffer", "unigram"]
    return ["default", "buffer", "unigram"]


def check_model_file(path: Path) -> None:
    """Refuse, before the corpus is read, a model path that is missing or a folder."""
    if not path.exists():
        raise NextwordError(
            f"model file {path} does not exist; pass an existing .safetensors file, or train one with `nextword train NOTES`"
        )
    if not path.is_file():
        raise NextwordError(f"model path {path} is not a file; pass the .safetensors file itself")


def learned_test_files(checkpoint: Checkpoint, test: Sequence[Document]) -> int:
    """How many of the ``test`` files the model was trained on (by its manifest of learned files)."""
    learned = checkpoint.info.get("learned") if isinstance(checkpoint.info, dict) else None
    if not isinstance(learned, dict):
        return 0
    return sum(1 for doc in test if learned.get(doc.digest) == "train")


NOISY_FILES = 10  # fewer test files than this, or fewer words than NOISY_WORDS: the figures are noisy
NOISY_WORDS = 1000


def model_path_of(system: str, model_path: str | Path | None = None) -> Path:
    if system == "personal":
        path = user_model_path()
        if not path.is_file():
            raise NextwordError(
                f"there is no personal model yet ({path} does not exist); train one with `nextword train NOTES`, or leave 'personal' out of --systems"
            )
        return path
    if system == "default":
        return default_model_path()
    return resolve_model_path(model_path)


@dataclass
class Report:
    corpus: str
    max_words: int
    results: dict[str, TypeThrough]
    model: str | None = None  # the first model system's file
    perplexity: Perplexity | None = None  # the first model system's
    models: dict[str, str] = field(default_factory=dict)  # model system -> its file
    perplexities: dict[str, Perplexity] = field(default_factory=dict)  # model system -> its perplexity
    # Not in ``as_dict`` (the JSON stays as it was): for the table and stderr.
    corpus_files: int = 0  # text files found in the corpus, test and training
    train_files: int | None = None  # training files read (for the unigram baseline), None if not read
    warnings: list[str] = field(default_factory=list)  # what makes the figures less trustworthy

    def as_dict(self) -> dict:
        first = next(iter(self.results.values()))
        report = {
            "corpus": self.corpus,
            "model": self.model,
            "max_words": self.max_words,
            "files": first.files,
            "words": first.words,
            "keystrokes_without": first.keystrokes_without,
            "systems": {name: r.as_dict() for name, r in self.results.items()},
        }
        for name, ppl in self.perplexities.items():
            report["systems"][name] |= {
                "model": self.models[name],
                "perplexity": ppl.perplexity,
                "oov_rate": ppl.oov_rate,
            }
        if self.perplexity is not None:
            report |= {
                "perplexity": self.perplexity.perplexity,
                "oov_rate": self.perplexity.oov_rate,
                "tokens": self.perplexity.tokens,
            }
        return report


def evaluate(
    corpus: str | Path,
    systems: Sequence[str] | None = None,
    model_path: str | Path | None = None,
    max_words: int = DEFAULT_MAX_WORDS,
) -> Report:
    """Evaluate ``systems`` (names from ``SYSTEMS``; default: ``default_systems``) on the
    test split of ``corpus``.

    ``model_path`` is the checkpoint for the ``model`` system (default: the one the server
    would use); ``personal`` is your trained model and ``default`` the shipped one."""
    systems = list(dict.fromkeys(systems if systems is not None else default_systems(model_path)))
    unknown = [name for name in systems if name not in SYSTEMS]
    if unknown or not systems:
        raise NextwordError(f"unknown system {', '.join(unknown) or '(none given)'}; choose among {', '.join(SYSTEMS)}")
    if max_words < 0:
        raise NextwordError(f"--max-words must be 0 (every word) or more, not {max_words}")
    if model_path and "model" not in systems:
        raise NextwordError(
            f"MODEL {model_path} is given but --systems ({','.join(systems)}) has no 'model', so it would not be evaluated; "
            "add 'model' to --systems, or leave MODEL out"
        )
    for name in systems:
        if name in MODEL_SYSTEMS:
            check_model_file(model_path_of(name, model_path))
    split = load_split(corpus, read_train="unigram" in systems)
    checkpoints = {name: load_checkpoint(model_path_of(name, model_path)) for name in systems if name in MODEL_SYSTEMS}
    texts = [doc.text for doc in split.test]
    total = sum(len(evaluated_words(t, max_words)) for t in texts)
    if not total:
        raise NextwordError(
            f"the {len(texts)} test file(s) of {corpus} contain no words to type; evaluate a corpus of prose notes"
        )
    first = next(iter(checkpoints.values()), None)
    report = Report(corpus=str(corpus), max_words=max_words, results={}, model=str(first.path) if first else None)
    report.corpus_files = split.found
    report.train_files = len(split.train) if "unigram" in systems else None
    if len(texts) < NOISY_FILES or total < NOISY_WORDS:
        report.warnings.append(
            f"only {len(texts)} test file{'' if len(texts) == 1 else 's'} ({total} words): the figures are noisy "
            f"(a few points either way); a corpus of a hundred files or more gives about {NOISY_FILES} test files"
        )
    for name, checkpoint in checkpoints.items():
        if seen := learned_test_files(checkpoint, split.test):
            report.warnings.append(
                f"{name}'s model ({checkpoint.path}) was trained on {seen} of the {len(texts)} test files, so its figures are too good; "
                "evaluate the folder it was trained on (the split goes by paths relative to that folder)"
            )
    tty = sys.stderr.isatty()
    threads = torch.get_num_threads()
    # One thread: a one-token step is too small to share out, and on a busy machine a pool
    # of spinning threads stalls (here, both the typist and perplexity ran 3 to 30 times slower).
    torch.set_num_threads(1)
    try:
        for number, name in enumerate(systems, 1):
            if name in checkpoints:
                system = ModelSystem(checkpoints[name])
            elif name == "buffer":
                system = BufferWords()
            else:
                system = UnigramWords.from_texts(doc.text for doc in split.train)
            desc = f"{name} ({number}/{len(systems)})"
            with tqdm(
                total=total, desc=desc, unit="word", file=sys.stderr, disable=not tty, leave=False, dynamic_ncols=True
            ) as bar:
                report.results[name] = type_through(system, texts, max_words, progress=bar)
        for name, checkpoint in checkpoints.items():
            report.models[name] = str(checkpoint.path)
            files = tqdm(
                texts,
                desc=f"{name} perplexity",
                unit="file",
                file=sys.stderr,
                disable=not tty,
                leave=False,
                dynamic_ncols=True,
            )
            report.perplexities[name] = perplexity(checkpoint.model, checkpoint.vocab, files)
        if first is not None:
            report.perplexity = next(iter(report.perplexities.values()))
    finally:
        torch.set_num_threads(threads)
    return report
