"""Type-through evaluation, by the protocol in shared/eval-protocol.md: each system's
keystroke savings on the test split of a corpus (the simulated typist is in ``typist``), and
each model's perplexity on its own tokens.

The systems: the model given, your model, the shipped one (each through the Predictor, as
the server runs it), and the protocol's two baselines (``baselines``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from nextword.model import (
    Checkpoint,
    InferenceNetwork,
    NextwordError,
    Predictor,
    default_model_path,
    load_checkpoint,
    resolve_model_path,
    user_model_path,
)
from nextword.model.prediction_model import PredictionModel
from tqdm import tqdm

from .baselines import BufferWords, UnigramWords
from .corpus import Document
from .eval_corpus import Split, load_split
from .perplexity import Perplexity, perplexity
from .typist import DEFAULT_MAX_WORDS, System, TypeThrough, evaluated_words, type_through


class ModelSystem:
    """The model's Predictor as an evaluated system; one Predictor, reset between files, so
    its incremental state follows the typist through a file."""

    name = "model"

    def __init__(self, checkpoint: Checkpoint | PredictionModel):
        self.predictor = Predictor(InferenceNetwork.build(checkpoint.model), checkpoint.vocab)

    def reset(self) -> None:
        self.predictor.reset()

    def suggest(self, context: str, prefix: str, k: int) -> list[str]:
        return [s.word for s in self.predictor.predict(context, prefix, k)]


# The MODEL given (else the one the server uses), yours, the shipped one.
MODEL_SYSTEMS = ("model", "personal", "default")
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
    """The figures of every system evaluated, and what qualifies them."""

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

    def as_dict(self) -> dict[str, Any]:
        first = next(iter(self.results.values()))
        systems: dict[str, dict[str, Any]] = {name: r.as_dict() for name, r in self.results.items()}
        report: dict[str, Any] = {
            "corpus": self.corpus,
            "model": self.model,
            "max_words": self.max_words,
            "files": first.files,
            "words": first.words,
            "keystrokes_without": first.keystrokes_without,
            "systems": systems,
        }
        for name, ppl in self.perplexities.items():
            systems[name] |= {
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
    systems = _checked_systems(systems, model_path, max_words)
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
    report.warnings = _warnings(split, checkpoints, total)
    tty = sys.stderr.isatty()
    with _one_torch_thread():
        for number, name in enumerate(systems, 1):
            system = _system(name, checkpoints, split)
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
    return report


def _checked_systems(systems: Sequence[str] | None, model_path: str | Path | None, max_words: int) -> list[str]:
    """The systems to evaluate, once the request makes sense and their model files exist."""
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
    return systems


def _warnings(split: Split, checkpoints: dict[str, Checkpoint], total: int) -> list[str]:
    """What makes the figures less trustworthy: too little text, or a model that learned the test files."""
    warnings = []
    files = len(split.test)
    if files < NOISY_FILES or total < NOISY_WORDS:
        warnings.append(
            f"only {files} test file{'' if files == 1 else 's'} ({total} words): the figures are noisy "
            f"(a few points either way); a corpus of a hundred files or more gives about {NOISY_FILES} test files"
        )
    for name, checkpoint in checkpoints.items():
        if seen := learned_test_files(checkpoint, split.test):
            warnings.append(
                f"{name}'s model ({checkpoint.path}) was trained on {seen} of the {files} test files, so its figures are too good; "
                "evaluate the folder it was trained on (the split goes by paths relative to that folder)"
            )
    return warnings


def _system(name: str, checkpoints: dict[str, Checkpoint], split: Split) -> System:
    if name in checkpoints:
        return ModelSystem(checkpoints[name])
    if name == "buffer":
        return BufferWords()
    return UnigramWords.from_texts(doc.text for doc in split.train)


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    # One thread: a one-token step is too small to share out, and on a busy machine a pool
    # of spinning threads stalls the typist and perplexity many times over.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
