"""Shared pieces of the real-editor tests (VS Code, Neovim, Emacs): a tiny deterministic
model over English and Korean notes, the order the model ranks words in (computed in this
process, the way the server ranks them), and where the `nextword` program is."""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EDITORS = REPO / "editors"

CORPUS = """\
The quick brown fox jumps over the lazy dog. The dog sleeps in the sun all day.
A language model predicts the next word from the words before it. The model reads
the text one word at a time and keeps a state for the context. The next word is
often the one the model likes best, and the model is often right about the next word.
Notes about the model: the server offers words while you type, and the words come
with their probabilities. More models, more modes, more money, most moments.
오늘은 날씨가 좋다. 오늘은 공부를 한다. 공원에서 공책을 읽는다. 공부를 하면 공상도 한다.
우리는 모델을 만든다. 모델은 다음 단어를 고른다.
"""


def build_model(path: Path, seed: int = 0) -> Path:
    """A small random-weight model on ``CORPUS``'s words; the same weights for the same seed."""

    import torch
    from nextword.model import LanguageModel, ModelConfig, Vocabulary, save_checkpoint, tokenize
    from nextword.model.word_parts import count_parts

    torch.set_num_threads(1)
    tokens = tokenize(CORPUS)
    vocab = Vocabulary.build(Counter(tokens), min_count=1, max_size=2000)
    torch.manual_seed(seed)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), emb_dim=32, hidden_dim=64, num_layers=2, proj_dim=0))
    # How the corpus's Korean words in parts go on, as training counts it.
    model.set_word_parts(torch.from_numpy(count_parts(vocab.encode(tokens), vocab)))
    save_checkpoint(path, model, vocab, info={"seed": seed, "corpus": "tests/editors"})
    return path


@dataclass(frozen=True)
class Ranked:
    word: str
    probability: float

    @property
    def shown(self) -> str:
        """The probability as the server shows it (``detail``/``labelDetails``)."""
        from nextword.server.completion import percent

        return percent(self.probability)


class Expected:
    """The model's ranking, from an in-process Predictor on the same checkpoint."""

    def __init__(self, model_path: Path):
        from nextword.model import load_checkpoint

        self.checkpoint = load_checkpoint(model_path)

    def ranked(self, context: str, prefix: str, k: int, composing: bool = True) -> list[Ranked]:
        from nextword.model import InferenceNetwork, Predictor

        predictor = Predictor(InferenceNetwork.build(self.checkpoint.model), self.checkpoint.vocab)
        # As the server asks (``hangulComposing``): by default the last Hangul syllable may be
        # one being composed; a terminal editor's set-up turns that off.
        return [Ranked(s.word, s.probability) for s in predictor.predict(context, prefix, k, composing=composing)]

    def words(self, context: str, prefix: str, k: int) -> list[str]:
        return [r.word for r in self.ranked(context, prefix, k)]


def nextword_bin_dir() -> Path | None:
    """The folder holding the `nextword` program of the Python running the tests."""
    here = Path(sys.executable).parent
    if (here / "nextword").exists():
        return here
    found = shutil.which("nextword")
    return Path(found).parent if found else None


def editor_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment for an editor under test: `nextword` first on PATH, and every folder an
    editor or the server writes (config, data, state, cache, the server's data) inside ``home``."""
    env = dict(os.environ)
    bin_dir = nextword_bin_dir()
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"):
        folder = home / name.lower()
        folder.mkdir(parents=True, exist_ok=True)
        env[name] = str(folder)
    (home / "nextword-data").mkdir(parents=True, exist_ok=True)
    env["NEXTWORD_DATA_DIR"] = str(home / "nextword-data")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env
