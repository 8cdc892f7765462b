"""What a run starts from and learns: the starting model and its vocabulary (a new one, a base
model grown by the notes' new words, or an interrupted run's), and the text as training
batches and validation sets.

Validation: the corpus's validation files, all of them, whatever a run trains on, so a
fine-tuning run that learns new notes by forgetting the old ones is caught. An incremental
run (one that skips files the model has already learned) is also judged on held-out new
material: the validation files among the new ones, or, when those are too few, the end of
the new text, held out; the figure that decides is then the mean of the two losses, so the
new is learned as long as the old is not paid for it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch
from nextword.model import Checkpoint, LanguageModel, ModelConfig, NextwordError, Vocabulary
from nextword.model.tokenize import is_word, tokenize

from .batches import encode_documents
from .config import TrainConfig
from .corpus import Document
from .distributed import World
from .finetune import Selection, grow_vocabulary, new_words
from .resume import TrainingState
from .validation import ValidationSet, shard

MAX_VALID_TOKENS = 50_000  # validation is exact (full softmax); this bounds its cost
MIN_FRESH_TOKENS = 2_000  # an incremental run's new validation text, below which the new text's end is held out


def build_vocabulary(documents: list[Document], config: TrainConfig) -> Vocabulary:
    counts: Counter[str] = Counter()
    for doc in documents:
        counts.update(tokenize(doc.text))
    return Vocabulary.build(counts, min_count=config.min_count, max_size=config.max_vocab)


def starting_model(
    selection: Selection,
    config: TrainConfig,
    model_config: ModelConfig | None,
    base: Checkpoint | None,
    resume: TrainingState | None,
    starting_over: bool,
) -> tuple[LanguageModel, Vocabulary, int]:
    """The model a run starts from, its vocabulary, and how many words the run added to it.

    ``starting_over``: the base model's notes are dropped (a run on every file again, or a
    model that does not record the files it learned)."""
    if resume is not None:
        return resume.model, resume.vocab, resume.position.new_words
    if base is not None:
        model, vocab, added = base.model, base.vocab, 0
        if starting_over:
            model.set_notes(None)
        if config.new_word_min_count > 0:
            words = new_words((d.text for d in selection.train), vocab, config.new_word_min_count, config.max_new_words)
            model, vocab = grow_vocabulary(model, vocab, words, seed=config.seed)
            added = len(words)
        return model, vocab, added
    vocab = build_vocabulary(selection.train, config)
    if not any(is_word(t) for t in vocab.tokens):
        raise NextwordError(
            f"no word occurs {config.min_count:,} times or more in the notes, so a new model would know no words; "
            f"the notes are too small for --min-count {config.min_count}: lower it (or add notes)"
        )
    model = LanguageModel(ModelConfig(**{**(model_config or ModelConfig()).to_dict(), "vocab_size": len(vocab)}))
    return model, vocab, 0


@dataclass
class TrainingData:
    """A run's text, encoded by its vocabulary."""

    train: torch.Tensor  # this process's streams, [steps, streams]
    validation: list[ValidationSet]  # what decides which model is best
    unigram: torch.Tensor  # the training tokens' frequencies: sampled softmax draws its negatives by them
    notes: torch.Tensor  # every training token of the run, for the notes' n-gram
    tokens: int  # training tokens, every process's together

    @property
    def validation_tokens(self) -> int:
        return sum(s.tokens for s in self.validation)


def _encode(documents: list[Document], vocab: Vocabulary) -> torch.Tensor:
    return encode_documents([d.text for d in documents], vocab) if documents else torch.zeros(0, dtype=torch.long)


def _mixed(documents: list[Document]) -> list[Document]:
    """``documents`` in an order unrelated to their folders (by content digest), so the
    validation tokens kept (``MAX_VALID_TOKENS``) sample every folder of a corpus, not its first
    one: notes in two languages are judged on both."""
    return sorted(documents, key=lambda d: d.digest)


def prepare_data(selection: Selection, vocab: Vocabulary, config: TrainConfig, world: World) -> TrainingData:
    """The selection's text as this process's training streams and the validation sets."""
    train_ids = encode_documents([d.text for d in selection.train], vocab)
    notes = train_ids  # the notes' n-gram learns all of this run's training files
    if len(train_ids) < 16:
        raise NextwordError(
            f"too little text to train on ({len(train_ids)} tokens); give nextword a folder with more notes"
        )
    valid_ids = _encode(_mixed(selection.valid), vocab)
    fresh_ids = None
    if selection.incremental:
        fresh_ids = _encode(_mixed(selection.fresh_valid), vocab)
        if len(fresh_ids) < MIN_FRESH_TOKENS:
            cut = min(MAX_VALID_TOKENS, max(8, len(train_ids) // 10))
            fresh_ids, train_ids = torch.cat([fresh_ids, train_ids[-cut - 1 :]]), train_ids[:-cut]
    if len(valid_ids) < 16:
        # One small document: hold out its end for validation.
        cut = max(8, len(train_ids) // 10)
        train_ids, valid_ids = train_ids[:-cut], train_ids[-cut - 1 :]
    sets = [ValidationSet("notes" if fresh_ids is None else "all notes", valid_ids[:MAX_VALID_TOKENS], world)]
    if fresh_ids is not None:
        sets.append(ValidationSet("new notes", fresh_ids[:MAX_VALID_TOKENS], world))

    train_data = shard(train_ids, config.batch_size, world)
    if train_data is None:
        raise NextwordError(
            f"too little text ({len(train_ids)} tokens) to share among {world.size} training processes; "
            "train with fewer processes or more notes"
        )
    counts = torch.bincount(train_ids, minlength=len(vocab)).float()
    return TrainingData(
        train=train_data.to(world.device),
        validation=sets,
        unigram=(counts / counts.sum()).to(world.device),
        notes=notes,
        tokens=len(train_ids),
    )
