"""Training throughput and validation perplexity per minute on the base corpus.

Trains the issue's reference shape (200-dim embeddings, 2 x 200 LSTM, 30,000-word
vocabulary) for the same number of minutes twice: with nextword's sampled softmax and
with the full softmax over the vocabulary (what pytorch/examples' word_language_model
does), and prints tokens per second and the validation perplexity each reached.

    python benchmarks/training_speed.py [--minutes 3] [--only sampled|full]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from nextword.model import ModelConfig  # noqa: E402
from nextword.training.config import TrainConfig  # noqa: E402
from nextword.training.corpus import load_corpus  # noqa: E402
from nextword.training.progress import Progress  # noqa: E402
from nextword.training.train import train  # noqa: E402

BASE = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "base"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="training minutes per variant")
    parser.add_argument("--only", choices=("sampled", "full"), help="run one variant")
    parser.add_argument("--corpus", default=str(BASE))
    args = parser.parse_args()

    t = time.perf_counter()
    corpus = load_corpus([args.corpus])
    print(
        f"read {len(corpus.train)} training and {len(corpus.valid)} validation files in {time.perf_counter() - t:.1f} s"
    )
    shape = ModelConfig(emb_dim=200, hidden_dim=200, num_layers=2, dropout=0.2)
    variants = {
        "sampled": TrainConfig(sampled=1024, batch_size=64, max_minutes=args.minutes, max_vocab=30000, epochs=1),
        "full": TrainConfig(sampled=0, batch_size=20, max_minutes=args.minutes, max_vocab=30000, epochs=1),
    }
    print(f"{'softmax':>8} {'tokens/s':>9} {'tokens':>10} {'valid ppl':>10}  (after {args.minutes:g} min)")
    for name, config in variants.items():
        if args.only and name != args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            result = train(corpus, Path(tmp) / "m.safetensors", config, shape, progress=Progress("none"))
        tokens = result.tokens_per_second * args.minutes * 60
        print(
            f"{name:>8} {result.tokens_per_second:>9,.0f} {tokens:>10,.0f} {result.valid_perplexity:>10.1f}", flush=True
        )


if __name__ == "__main__":
    main()
