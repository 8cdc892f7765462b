"""Fine-tuning a trained model on a person's notes: growing its vocabulary with their words,
and the manifest of the files a model has learned, which makes re-runs incremental.

The manifest lives in the checkpoint's own info (``info["learned"]``: content digest to
``"train"`` or ``"valid"``), so it is written atomically with the weights it describes and
travels with the file when it is renamed. It holds digests only, never file names or text.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from nextword.model import LanguageModel, ModelConfig, Vocabulary, load_checkpoint, save_checkpoint
from nextword.model.pieces import is_continuation
from nextword.model.tokenize import is_word, tokenize
from nextword.model.word_parts import count_parts, merge_counts

from .corpus import Corpus, Document

RARE_SHARE = 0.1  # new words start with the output bias of the rarest tenth of the base vocabulary
NOTES_PARTS = 20  # how many of the base text's goings-on of a word in parts one of the notes' counts as
NOISE = 0.1  # new embedding rows: the mean row plus noise of this fraction of the rows' spread


# ----- vocabulary growth -------------------------------------------------------------------------
def new_words(texts: Iterable[str], vocab: Vocabulary, min_count: int = 2, max_new: int = 20000) -> list[str]:
    """Words of ``texts`` that ``vocab`` lacks, seen at least ``min_count`` times, most frequent
    first (ties alphabetical), at most ``max_new`` of them."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(t for t in tokenize(text) if t not in vocab.index)
    ranked = sorted(
        (w for w, c in counts.items() if c >= min_count and (is_word(w) or is_continuation(w))),
        key=lambda w: (-counts[w], w),
    )
    return ranked[: max(0, max_new)]


@torch.no_grad()
def grow_vocabulary(
    model: LanguageModel, vocab: Vocabulary, words: list[str], seed: int = 0
) -> tuple[LanguageModel, Vocabulary]:
    """A copy of ``model`` and ``vocab`` with rows for ``words`` appended.

    Old rows are kept exactly (ids unchanged). A new embedding row (also its output row:
    they are tied) is the mean of the old rows plus a little noise, so it starts as a
    "typical word" the context can then pull in its direction; its output bias is the
    median bias of the rarest tenth of the old vocabulary (vocabularies are built most
    frequent first), so a new word starts as likely as a rare known word rather than
    as likely as an average one."""
    if not words:
        return model, vocab
    grown_vocab = vocab.extend(words)
    added = len(grown_vocab) - len(vocab)
    config = ModelConfig(**{**model.config.to_dict(), "vocab_size": len(grown_vocab)})
    grown = LanguageModel(config)
    state = model.state_dict()
    old_emb, old_bias = state["embedding.weight"], state["out_bias"]
    generator = torch.Generator().manual_seed(seed)
    mean, spread = old_emb.mean(0), old_emb.std(0)
    noise = torch.randn(added, old_emb.shape[1], generator=generator) * spread * NOISE
    rare = old_bias[-max(1, int(len(old_bias) * RARE_SHARE)) :]
    state["embedding.weight"] = torch.cat([old_emb, mean + noise])
    state["out_bias"] = torch.cat([old_bias, torch.full((added,), float(rare.median()))])
    grown.load_state_dict(state)
    grown.set_notes(model.notes_tokens)  # ids of old tokens are unchanged
    grown.set_word_parts(model.word_parts)
    grown.train(model.training)
    return grown, grown_vocab


def learn_word_parts(ids: torch.Tensor, vocab: Vocabulary, base: torch.Tensor | None) -> torch.Tensor:
    """The counts of how words in parts go on (``model.word_parts``) in the token ids ``ids``,
    added to ``base``'s (the model fine-tuned from) if given, each of them as ``NOTES_PARTS``:
    a person's own way of ending words (a note's plain ``~다``) against the documentation the
    base model read (``~니다``), which holds twenty times the text."""
    counts = count_parts(ids.numpy(), vocab)
    if base is None:
        return torch.from_numpy(counts)
    counts[:, 2] *= NOTES_PARTS
    return torch.from_numpy(merge_counts(counts, base.numpy()))


# ----- the manifest of learned files -------------------------------------------------------------
@dataclass
class Selection:
    """What a run trains and validates on, given the files the starting model has learned."""

    train: list[Document] = field(default_factory=list)  # new or changed training files
    valid: list[Document] = field(default_factory=list)  # every validation file of the corpus
    fresh_valid: list[Document] = field(default_factory=list)  # validation files new to the model (incremental runs)
    already: int = 0  # training files skipped because the model has learned them
    incremental: bool = False  # whether any file was skipped as already learned

    def manifest(self, before: dict[str, str]) -> dict[str, str]:
        """The manifest once this run has finished: the old one plus this run's files."""
        after = dict(before)
        after.update({d.digest: "valid" for d in self.valid})
        after.update({d.digest: "train" for d in self.train})
        return after

    def digest(self) -> str:
        """A fingerprint of what a run trains and validates on, so --resume can tell the notes changed."""
        h = hashlib.sha256()
        for kind, docs in (("t", self.train), ("v", self.valid), ("f", self.fresh_valid)):
            for d in docs:
                h.update(f"{kind}\0{d.relative_path}\0{d.digest}\n".encode("utf-8", "surrogatepass"))
        return h.hexdigest()[:32]


def record_learned(path: Path, learned: dict[str, str], notes: torch.Tensor, stop_reason: str) -> None:
    """A finished run's best model, at ``path``, has now learned the files of ``learned`` (its
    manifest) and the text of the run's training files (``notes``, token ids) for its notes' n-gram."""
    final = load_checkpoint(path)
    info = {**final.info, "learned": learned, "complete": True, "stop_reason": stop_reason}
    earlier = final.model.notes_tokens
    final.model.set_notes(notes if earlier is None else torch.cat([earlier.long(), notes]))
    save_checkpoint(path, final.model, final.vocab, info=info, spacing=final.spacing)


def select(corpus: Corpus, learned: dict[str, str], full: bool = False) -> Selection:
    """Training files the model has not learned (every one with ``full``), and validation data.

    Validation always uses all of the corpus's validation files: it is the yardstick of
    the whole notes, which catches a run that learns the new files by forgetting the old.
    In an incremental run the validation files new to the model are also kept apart, so
    the run can be judged on the new material too (see ``train``)."""
    selection = Selection(valid=list(corpus.valid))
    for doc in corpus.train:
        if not full and learned.get(doc.digest) == "train":
            selection.already += 1
        else:
            selection.train.append(doc)
    selection.incremental = selection.already > 0
    if selection.incremental:
        selection.fresh_valid = [d for d in corpus.valid if d.digest not in learned]
    return selection
