"""Making a trained model the one nextword ships.

    python -m nextword.training.ship MODEL CORPUS... --out FILE

counts the tables stored beside the weights (the spacing of the text, ``model/spacing.py``,
and how words in parts go on, ``model/word_parts.py``) afresh from the training files of
CORPUS (the files ``nextword train CORPUS`` trains on), drops the notes a fine-tuning run
records for a personal model's n-gram (the shipped model has no person's notes: a model
fine-tuned from an earlier shipped one on the public corpora records those corpora), puts
the vocabulary back in order of frequency in CORPUS (fine-tuning appends the words it adds,
and prediction scores the most frequent rows exactly: ``model/output_layer.py``), and writes
FILE with the same weights, row for row. Run it on the model a run on the
shipped model's corpora wrote, before copying it to ``model/data/default.safetensors``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch
from nextword.model import LanguageModel, NextwordError, Vocabulary, load_checkpoint, save_checkpoint
from nextword.model.vocab import SPECIALS
from nextword.model.word_parts import count_parts

from .batches import encode_documents
from .corpus import add_corpus_arguments, load_named_corpus
from .spacing import learn_spacing


@torch.no_grad()
def by_frequency(
    model: LanguageModel, vocab: Vocabulary, ids: torch.Tensor
) -> tuple[LanguageModel, Vocabulary, torch.Tensor]:
    """``model`` and ``vocab`` with the tokens in order of their frequency in ``ids`` (the
    special tokens first, as always; ties and unseen tokens in their old order), each token
    keeping its own rows; and the order (new id -> old id)."""
    counts = torch.bincount(ids, minlength=len(vocab))
    specials = len(SPECIALS)
    rest = sorted(range(specials, len(vocab)), key=lambda i: (-int(counts[i]), i))
    order = torch.tensor(list(range(specials)) + rest)
    state = model.state_dict()
    state["embedding.weight"] = state["embedding.weight"][order]
    state["out_bias"] = state["out_bias"][order]
    reordered = LanguageModel(model.config)
    reordered.load_state_dict(state)
    return reordered, Vocabulary([vocab.tokens[i] for i in order.tolist()]), order


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nextword.training.ship",
        description="Count MODEL's spacing and word-parts tables from CORPUS, drop its recorded notes, write FILE.",
    )
    parser.add_argument("model", metavar="MODEL", help="the trained model file")
    add_corpus_arguments(parser, "the folders the model was trained on")
    parser.add_argument("--out", metavar="FILE", required=True, help="where to write the model to ship")
    args = parser.parse_args(argv)
    try:
        checkpoint = load_checkpoint(args.model)
        corpus = load_named_corpus(args)
        if not corpus.train:
            raise NextwordError(
                f"no training files under {', '.join(args.corpus)}; name the folders MODEL was trained on"
            )
        ids = encode_documents([d.text for d in corpus.train], checkpoint.vocab)
        model, vocab, order = by_frequency(checkpoint.model, checkpoint.vocab, ids)
        ids = torch.argsort(order)[ids]  # each token's id in the new order
        model.set_word_parts(torch.from_numpy(count_parts(ids.numpy(), vocab)))
        model.set_notes(None)
        info = {key: value for key, value in checkpoint.info.items() if key != "learned"}
        info["shipped_from"] = {"corpus": list(args.corpus), "files": len(corpus.train)}
        out = save_checkpoint(args.out, model, vocab, info=info, spacing=learn_spacing(corpus.train))
    except (NextwordError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    parts = model.word_parts
    print(
        f"counted {0 if parts is None else len(parts):,} word-part pairs and the spacing of {len(corpus.train)} "
        f"training files; wrote {out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
