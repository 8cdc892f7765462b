"""A model file read, as the server predicts with it: the one place where the server builds
a network or a Predictor, reads what the network runs on, and gives the Predictors the
person's notes (those a personal model was trained on, and those learned from the
workspace, swapped in as they change).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

Signature = tuple[int, int, int]

# Text the warm-up reads: about as many tokens (some 300) as a fresh start on a long document
# reads in one batched call.
WARM_UP_TEXT = " ".join(
    [
        "The model reads these sentences before it serves, so that every way it reads text has run "
        "once: one token at a time while someone types, and a whole run of tokens in one call when "
        "a document is opened. The first document then pays no start-up."
    ]
    * 6
)
# A model with words in parts (Korean) also reads Korean once, a syllable being composed at
# its end: the segmentation's model and the table of Hangul keys load on first use.
WARM_UP_KOREAN = "모델을 학습하는 "


class LoadedModel:
    """A model file read, and the network prediction runs, built from it once (by the loader,
    before the model is swapped in)."""

    def __init__(self, checkpoint: Any, path: Path, signature: Signature | None, generation: int, config: Any) -> None:
        self.path = path
        self.signature = signature
        self.generation = generation  # models loaded so far, this one included (reloads count)
        self.config = config  # the PredictorConfig of every Predictor of this model
        self.vocab = checkpoint.vocab
        self.spacing = checkpoint.spacing  # how generated tokens are joined into text (phrases)
        self.info: dict[str, Any] = checkpoint.info  # how the model was trained, as its checkpoint says
        self.seconds = 0.0  # time to read the file and build the network
        self.at = time.time()  # when it was swapped in
        self._weights: Any = checkpoint.model  # the weights read (ModelWeights), until the network is built from them
        self._network: Any = None  # nextword.model.InferenceNetwork
        notes = checkpoint.model.notes_tokens
        # The token ids of the notes a personal model was trained on: mixed with the workspace's.
        self._trained_tokens = notes.copy() if notes is not None else None
        from nextword.model.model_file import learned_files

        # The content digests of the files those tokens are of.
        self._trained_files = {digest for digest, part in learned_files(self.info).items() if part == "train"}
        from nextword.model.notes import NotesSource

        self.notes = NotesSource()  # what every Predictor of this model mixes in
        self.notes_tokens = 0  # tokens of the workspace's notes mixed in
        self._notes_lock = threading.Lock()
        self._trained: Any = None  # Notes of the trained notes alone, once the network is built
        self._learned: Any = None  # Notes of the trained and the workspace's notes, once learned
        self._learned_key = ""  # what they were built from (notes_file.notes_key)
        self._vocab_digest: str | None = None  # the vocabulary's part of that key, once computed

    def network(self) -> Any:
        """The network prediction runs, built on first use (``warm_up``); the weights read
        are let go then: the network keeps what it needs of them."""
        if self._network is None:
            from nextword.model import InferenceNetwork
            from nextword.model.predictor import trained_notes

            self._network = InferenceNetwork.build(self._weights)
            self._weights = None
            with self._notes_lock:
                self._trained = trained_notes(self._network, self.vocab)
                self.notes.current = self._learned or self._trained
        return self._network

    def learn(self, tables: list[Any], digests: list[str], saved: Path | None = None) -> None:
        """Mix the workspace's notes into every Predictor of this model: ``tables`` (token
        strings and each file's ids, as ``FolderStore.token_table`` gives them; ``digests``,
        the files' content digests in the same order), with the notes the model was trained
        on, unless the workspace holds every one of them: counted twice, they would only skew
        the n-gram. Read from the notes file ``saved`` if it holds them, else built (in a
        process of their own when large) and written there; swapped in whole."""
        learned, key = None, ""
        tokens = sum(len(ids) for _, files in tables for ids in files)
        if tokens:
            from .notes_building import built_notes
            from .notes_file import notes_key, vocabulary_digest

            covered = bool(self._trained_files) and self._trained_files <= set(digests)
            trained = None if covered else self._trained_tokens
            if self._vocab_digest is None:
                self._vocab_digest = vocabulary_digest(self.vocab.tokens)
            key = notes_key(self._vocab_digest, digests, trained)
            if key == self._learned_key and self._learned is not None:
                return  # learned from the same files already: nothing to build or read
            learned = built_notes(self.vocab, tables, trained, saved, key)
        with self._notes_lock:
            self._learned, self._learned_key = learned, key
            self.notes_tokens = tokens
            self.notes.current = learned or self._trained

    def predictor(self) -> Any:
        """A new Predictor of this model (on the worker once the model is in)."""
        from nextword.model import Predictor

        return Predictor(self.network(), self.vocab, self.config, spacing=self.spacing, notes=self.notes)

    @property
    def precision(self) -> str | None:
        """Of the weights the network multiplies (int8 or fp32); None until it is built (asking
        would build it here, beside the worker doing the same)."""
        return self._network.precision if self._network is not None else None

    @property
    def kernels(self) -> str | None:
        """Whose arithmetic runs the network: nextword's C kernels or torch; None until built."""
        return self._network.kernels if self._network is not None else None

    def warm_up(self) -> None:
        """Build the network and run it once both ways it reads text (one step per token, and a
        run of tokens in one call, whose first use sets up library state), so that the first
        keystroke and the first document opened pay no start-up."""
        predictor = self.predictor()
        predictor.predict(WARM_UP_TEXT, "", 1)
        predictor.predict(WARM_UP_TEXT + " The", "", 1)
        if self.network().word_parts is not None:
            predictor.predict(WARM_UP_TEXT + " " + WARM_UP_KOREAN, "모", 1, composing=True)
