"""Mixing and ranking: the network's distribution, the notes' n-gram and the document caches
made one distribution, and the most probable whole words picked out of it by prefix.

The distribution for a context is computed once and then only filtered by prefix, so
keystrokes inside a word never run the network. A personal model's n-gram of the notes it
learned (``ngram.py``) is mixed into the network's distribution first, then the document's
word counts and continuous cache (``doc_cache.py``) each take their share; the words of the
document that the vocabulary lacks share the unknown token's probability by their counts,
plus their share of the caches.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .config import PredictorConfig
from .hangul import Typed, typed_ranges
from .notes import Notes, NotesSource
from .pieces import has_hangul
from .suggestions import Suggestion, Suggestions, top_indices
from .tokenize import worth_offering
from .vocab import Vocabulary
from .whole_words import FANOUT, Parts, Row, Spelled, Spellings, end_and_next, search, word_probability
from .word_parts import END, NEAR, WordParts

if TYPE_CHECKING:
    from .context import Context, Entry
    from .read_ahead import Reader

# How a first part went on in the note weighs as much as the table's word once the note has it this often.
NOTE_PARTS_RAMP = 1
# Rankings kept per context (by k and prefix) before they are dropped all at once.
_MAX_RANKINGS = 256


def _filled(words: int, ramp: int) -> float:
    """How much of their share the word counts take, holding ``words`` words: half at
    ``ramp`` words, growing towards all of it."""
    return words / (words + ramp) if ramp > 0 else float(words > 0)


def _newest_word(entries: list[Entry]) -> int:
    """The index of the word just read: the last entry, or the word the last few marks follow
    on its line (``simonw/``, ``model,``); -1 if none."""
    for index in range(len(entries) - 1, max(-1, len(entries) - 4), -1):
        if entries[index].word:
            return index
        if entries[index].token.text.startswith("\n"):
            break
    return -1


class Ranking:
    """The mixed distribution of one context and its rankings, computed when first asked
    for; ``clear`` when the context changes."""

    def __init__(
        self,
        vocab: Vocabulary,
        config: PredictorConfig,
        notes: NotesSource,
        context: Context,
        reader: Reader,
        parts: WordParts | None = None,
    ):
        """``notes``: the person's notes to mix in (``notes.py``; those of this vocabulary);
        ``parts``: how the model's words in parts go on (``whole_words.py``); a model without
        the table still offers the note's own words in parts whole."""
        self._vocab, self._config, self._source = vocab, config, notes
        self._context, self._reader = context, reader
        empty = WordParts(np.zeros((0, 3), np.int64))
        self._parts = Parts(parts if parts is not None else empty, vocab)
        self._continuation_ids = np.flatnonzero(vocab.continuation_mask)
        self._spelled = Spellings(vocab)  # words' spellings in parts, any context
        self.clear()

    def clear(self) -> None:
        self._dist: np.ndarray | None = None
        self._notes: Notes | None = None  # the notes mixed into ``_dist``
        self._mixed_from: Notes | None = None  # the source's notes when ``_dist`` was mixed
        self._new = np.zeros(0)  # the probabilities of the notes' words the vocabulary lacks (``Notes.new_words``)
        self._p_unk = 0.0  # the network's (and notes') probability of the unknown token
        self._shares = (1.0, 0.0, 0.0)  # network, word counts, continuous cache
        self._continuous_oov: dict[str, float] = {}  # the continuous cache's weights of words the vocabulary lacks
        self._echo_oov: str | None = None  # the word just read, when the vocabulary lacks it
        self._ranked: dict[str, Suggestions] = {}
        self._probabilities: dict[str, float] = {}  # ``probability``'s, for this context
        # How first parts go on in this context, by the network (``_first_rows``).
        self._first_rows: dict[int, Row] = {}
        self._rows: dict[int, Row | None] = {}  # the table's, kept: ``end_and_next`` for this context
        self._korean = False  # whether the text just before is Korean (words may take particles)

    @property
    def has_distribution(self) -> bool:
        self._drop_if_relearned()
        return self._dist is not None

    def _drop_if_relearned(self) -> None:
        """The notes were learned anew since this context's distribution was mixed (a note was
        saved, say): what was worked out from it is dropped, to be mixed again."""
        if self._dist is not None and self._source.current is not self._mixed_from:
            self.clear()

    def distribution(self) -> np.ndarray:
        """Probabilities over the vocabulary for the next token, with the notes and the
        document caches mixed in."""
        self._drop_if_relearned()
        if self._dist is None:
            self._mixed_from = self._source.current
            config, caches = self._config, self._context.caches
            state, output = self._context.current()
            probs = self._reader.probs(state, output).copy()  # mixed below; the network's own is kept as it is
            new = self._mix_notes(probs)  # of the notes' new words, scaled below as the network's
            self._p_unk = float(probs[self._vocab.unk_id])
            # The word counts' share grows with the words they hold (``_filled``) and the
            # continuous cache's with how much its words have to say: a new note's few words
            # say little about the next one, and with a whole share they would echo them.
            counts_share = config.cache_weight * _filled(caches.total, config.cache_ramp)
            entries = self._context.entries
            newest = _newest_word(entries)
            continuous = caches.continuous(output, newest)
            continuous_share = config.neural_cache_weight * continuous[3] if continuous is not None else 0.0
            self._shares = (1.0 - counts_share - continuous_share, counts_share, continuous_share)
            # The word just read takes nothing from the caches (what they would give it goes to
            # the rest): whether it comes again at once is the network's call, not an echo.
            echo = entries[newest].id if newest >= 0 else self._vocab.unk_id
            self._echo_oov = entries[newest].token.text if newest >= 0 and echo == self._vocab.unk_id else None
            own = float(probs[echo])
            if counts_share or continuous_share:
                probs *= self._shares[0]
                new *= self._shares[0]
            if counts_share:
                probs += (counts_share / caches.total) * caches.counts
            self._continuous_oov = {}
            if continuous is not None:
                ids, weights, self._continuous_oov, _ = continuous
                np.add.at(probs, ids, continuous_share * weights)
            if echo != self._vocab.unk_id and probs[echo] > own * self._shares[0]:
                taken = float(probs[echo]) - own * self._shares[0]
                probs[echo] = own * self._shares[0]
                probs /= 1.0 - taken  # the rest, in proportion
                new /= 1.0 - taken
            # The next token starts a word (the text before it ends in a space or a mark), so
            # no continuation can come: their share goes to the rest.
            taken = float(probs[self._continuation_ids].sum())
            probs[self._continuation_ids] = 0.0
            if 0.0 < taken < 1.0:
                probs /= 1.0 - taken
                new /= 1.0 - taken
            self._new = new
            self._korean = any(has_hangul(entry.token.text) for entry in entries[-NEAR:])
            self._dist = probs
        return self._dist

    def _mix_notes(self, probs: np.ndarray) -> np.ndarray:
        """Mix the notes' n-gram into ``probs`` (the network's, in place): their share
        (``notes_weight``, ``workspace_notes_weight``) of the vocabulary's words, and the probabilities of the notes' own
        words the vocabulary lacks, returned."""
        notes, config = self._mixed_from, self._config
        weight = config.workspace_notes_weight if notes is not None and notes.from_workspace else config.notes_weight
        if notes is None or notes.ngram is None or notes.vocab is not self._vocab or weight <= 0:
            self._notes = None
            return np.zeros(0)
        self._notes = notes
        n = notes.ngram.order - 1
        ids = self._context.recent_ids(n)
        texts = [entry.token.text for entry in self._context.entries[-n:]] if n else []
        mixed = notes.ngram.distribution(notes.context_ids(ids, [""] * (len(ids) - len(texts)) + texts))
        size = len(probs)
        probs *= 1.0 - weight
        probs += weight * mixed[:size]
        return weight * mixed[size:]

    def ranked(self, prefix: str, k: int, typed: bool, composing: bool = False) -> Suggestions:
        """The ``k`` most probable words starting with ``prefix``: only those worth offering
        (``tokenize.worth_offering``: not ``prefix`` itself, nor a word one plain key away),
        unless ``typed``, for a phrase, which may begin by ending the word as typed.
        ``composing``: ``prefix``'s last character may be a Hangul syllable an input method is
        still composing (``몯`` on the way to ``모델``): words are matched by their keys there."""
        self._drop_if_relearned()
        key = f"{k}\0{int(typed)}\0{int(composing)}\0{prefix}"
        cached = self._ranked.get(key)
        if cached is not None:
            return cached
        vocab, dist = self._vocab, self.distribution()
        likeliest = None
        if not self._korean and not prefix:
            # Before a word's first key: should a Hangul first part be among the likeliest, it
            # may be a word in parts, so every word is ranked whole (it cannot beat them else).
            likeliest = top_indices(dist, k, vocab.word_mask)
        if self._korean or has_hangul(prefix) or (likeliest is not None and self._parts.hangul[likeliest].any()):
            result = self._ranked_in_parts(prefix, k, typed, composing and has_hangul(prefix[-1:]))
            self._keep(key, result)
            return result
        typed_probability = prefix_probability = 0.0
        if prefix:
            lo, hi = vocab.word_range(prefix)
            ids = vocab.sorted_word_ids[lo:hi]
            typed_probability = self.probability(prefix)
            prefix_probability = float(dist[ids].sum()) + (typed_probability if prefix not in vocab.index else 0.0)
            if self._notes is not None:
                first, last = self._notes.new_words_between(prefix, prefix + "\U0010ffff")
                prefix_probability += float(self._new[first:last].sum()) - self._new_probability(prefix)
            if not typed:
                lengths, n = vocab.sorted_word_lengths[lo:hi], len(prefix)
                ids = ids[(lengths > n + 1) | ((lengths == n + 1) & ~vocab.sorted_word_plain_end[lo:hi])]
            ids = ids[top_indices(dist[ids], k)]
        else:  # every word: leaving out the rest is cheaper than gathering the words
            ids = likeliest if likeliest is not None else top_indices(dist, k, vocab.word_mask)
        found = [Suggestion(vocab.tokens[i], float(p)) for i, p in zip(ids.tolist(), dist[ids].tolist()) if p > 0.0]
        found.extend(self._oov_suggestions(prefix, k, typed))
        found.sort(key=lambda s: (-s.probability, s.word))
        result = Suggestions(found[:k], typed_probability, prefix_probability)
        self._keep(key, result)
        return result

    def _keep(self, key: str, result: Suggestions) -> None:
        if len(self._ranked) > _MAX_RANKINGS:
            self._ranked.clear()
        self._ranked[key] = result

    def _ranked_in_parts(self, prefix: str, k: int, typed: bool, composing: bool) -> Suggestions:
        """``ranked`` where words may come in parts: each a whole word from a short search."""
        vocab, dist = self._vocab, self.distribution()
        matches: Callable[[str], bool]
        fits: Callable[[str], bool]
        if composing:
            composed = Typed(prefix)
            matches, fits = composed.matches, composed.fits
            spans = typed_ranges(prefix)
        else:
            matches = lambda w: w.startswith(prefix)  # noqa: E731
            fits = lambda w: w.startswith(prefix) or prefix.startswith(w)  # noqa: E731
            spans = ((prefix, prefix + "\U0010ffff"),)
        prefix_probability = 0.0
        if prefix:
            ids = np.concatenate([vocab.sorted_word_ids[slice(*vocab.word_range_between(lo, hi))] for lo, hi in spans])
            prefix_probability = float(dist[ids].sum())
            starts = ids[top_indices(dist[ids], k + 16)].tolist()
            # First parts the typed part already goes past (``모델`` for a typed ``모델으``).
            starts += [i for n in range(1, len(prefix)) if (i := vocab.index.get(prefix[:n])) and vocab.word_flags[i]]
        else:
            starts = top_indices(dist, k + 16, vocab.word_mask).tolist()
        offered = (lambda w: True) if typed or not prefix else (lambda w: worth_offering(w, prefix))  # noqa: E731
        self._read_first_parts(prefix)
        found = search(self._parts, dist, starts, prefix, k, self._korean, offered, matches, fits, self._row_of)
        # The note's own words: the most frequent of its words in parts, and those the vocabulary lacks.
        caches = self._context.caches
        noted = [w for lo, hi in spans for w in caches.part_words_between(lo, hi) if matches(w) and offered(w)]
        words = {*found, *heapq.nlargest(k, noted, key=caches.part_word_count)}
        if (notes := self._notes) is not None:  # and the person's notes' most frequent
            words.update(notes.top_part_words(spans, k, lambda w: matches(w) and offered(w)))
        if composing:  # the note's unknown words by their keys, as the rest
            unknown = [w for lo, hi in spans for w in caches.oov_between(lo, hi) if matches(w) and offered(w)]
            words.update(heapq.nlargest(k, unknown, key=caches.oov_count))
        else:
            words.update(s.word for s in self._oov_suggestions(prefix, k, typed))
        # Each as likely as the table and the note together make it (the search used the table alone).
        suggestions = [Suggestion(w, p) for w in words if (p := self.probability(w)) > 0.0]
        suggestions.sort(key=lambda s: (-s.probability, s.word))
        typed_probability = self.probability(prefix) if prefix else 0.0
        return Suggestions(suggestions[:k], typed_probability, max(prefix_probability, typed_probability))

    def probability(self, word: str) -> float:
        """The probability that the next word is ``word`` exactly (the word as typed, finished)."""
        self._drop_if_relearned()
        found = self._probabilities.get(word)  # kept only beside the distribution they came from
        if found is None:
            found = self._probabilities[word] = self._word_probability(self.distribution(), word)
        return found

    def _word_probability(self, dist: np.ndarray, word: str) -> float:
        index = self._vocab.index.get(word)
        if self._korean or has_hangul(word):
            spelled = self._spelled(word)
            if len(spelled.tokens) > 1 or spelled.ids[0] != self._vocab.unk_id:
                return self._word_in_parts(word, spelled)
        if index is not None and index != self._vocab.unk_id:
            return float(dist[index])
        return self._oov_probability(word)

    def _row_of(self, token_id: int, first: bool) -> Row | None:
        """How ``token_id`` goes on inside a word here: the network's row for a first part
        it read (``_read_first_parts``), else the table's."""
        row = self._first_rows.get(token_id) if first else None
        if row is None:
            try:
                row = self._rows[token_id]
            except KeyError:
                row = self._rows[token_id] = end_and_next(self._parts, token_id, self._korean)
        return row

    def _read_first_parts(self, prefix: str) -> None:
        """How each first part the typed part already holds goes on, by the network in this
        context: the table knows only how a part went on in the training text on the whole
        (``있`` went on as the documentation's ``있나요``; a note's sentence ends ``있다``). A part
        read ahead as the word typed so far (the server does, between keys) costs nothing more;
        one that was not, a network step."""
        vocab = self._vocab
        state = self._context.current()[0]
        for n in range(1, len(prefix) + 1):
            token_id = vocab.index.get(prefix[:n])
            if token_id is None or token_id in self._first_rows or not vocab.word_flags[token_id]:
                continue
            table = end_and_next(self._parts, token_id, self._korean)
            if table is None:
                continue  # never goes on: the word ends there
            # The continuations' scores alone: which way the word goes on is all that is asked.
            logits = self._reader.after_among(state, token_id, self._continuation_ids)
            keep = np.argsort(-logits)[:FANOUT]
            probs = np.exp(logits[keep] - logits[keep[0]])
            # Whether the word goes on at all, the table's word (a whole corpus's counts); which
            # way it goes on, the network's (this context).
            end = dict(zip(*table)).get(END, 0.0)
            row = (
                [END, *self._continuation_ids[keep].tolist()],
                [end, *(probs * ((1.0 - end) / probs.sum())).tolist()],
            )
            order = sorted(range(len(row[0])), key=lambda i: -row[1][i])
            self._first_rows[token_id] = ([row[0][i] for i in order], [row[1][i] for i in order])
            # Words that may begin with this part were reckoned by the table's row.
            part = prefix[:n]
            self._probabilities = {w: p for w, p in self._probabilities.items() if not w.startswith(part)}

    def _word_in_parts(self, word: str, spelled: Spelled) -> float:
        """``probability`` of a word by its parts: its first part's probability (the note's
        unknown words share the unknown token's), times how the word goes on from there, by
        the table mixed with how that first part went on in the note itself (which weighs
        more the more often the note has it)."""
        dist, (tokens, ids, other_spellings) = self._dist, spelled
        assert dist is not None
        unknown = ids[0] == self._vocab.unk_id
        first = self._oov_probability(tokens[0]) if unknown else float(dist[ids[0]])
        rest = word_probability(self._parts, dist, ids, self._korean, 1.0, self._row_of)
        caches = self._context.caches
        seen = caches.oov_count(tokens[0]) if unknown else int(caches.counts[ids[0]])
        went_on = caches.part_word_count(word) if len(tokens) > 1 else seen - caches.continued(tokens[0])
        if (notes := self._notes) is not None:  # the person's notes count as the note's own
            noted = notes.count(notes.new_index.get(tokens[0], 0) if unknown else ids[0])
            seen += noted
            went_on += notes.part_words.get(word, 0) if len(tokens) > 1 else noted - notes.first_parts.get(tokens[0], 0)
        if seen:
            share = seen / (seen + NOTE_PARTS_RAMP)
            rest = (1.0 - share) * rest + share * max(0, went_on) / seen
        # The word's other spellings in parts (모델 then 을, for the token 모델을): the network
        # learned only the tokenizer's, but a stem it knows well may go on as Korean words do.
        others = sum(
            word_probability(self._parts, dist, path, self._korean, None, self._row_of) for path in other_spellings
        )
        return first * rest + others

    def _oov_probability(self, word: str) -> float:
        """A word the vocabulary lacks: the notes' probability of it, and, a document word, its
        share of the unknown token's probability by its count, plus its share of the caches."""
        caches = self._context.caches
        count = caches.oov_count(word)
        found = self._new_probability(word)
        if not count or word == self._echo_oov:
            # The word just read: the network cannot tell it from other unknown words, and
            # the note's counts and caches would only echo it (a vocabulary word keeps the
            # network's own probability, ``distribution``).
            return found
        network, counts_share, continuous_share = self._shares
        found += network * self._p_unk * count / caches.oov_total + counts_share * count / caches.total
        return float(found + continuous_share * self._continuous_oov.get(word, 0.0))

    def _new_probability(self, word: str) -> float:
        """The notes' probability of ``word``, one of their words the vocabulary lacks (else 0)."""
        index = self._notes.new_index.get(word) if self._notes is not None else None
        return float(self._new[index - len(self._vocab)]) if index is not None else 0.0

    def _oov_suggestions(self, prefix: str, k: int, typed: bool) -> list[Suggestion]:
        """The ``k`` most probable words the vocabulary lacks that start with ``prefix``: the
        document's and the notes' (more on ties)."""
        words = set(self._context.caches.oov_candidates(prefix, k, typed, self._continuous_oov))
        if self._notes is not None and len(self._new):
            lo, hi = self._notes.new_words_between(prefix, prefix + "\U0010ffff")
            offered = (lambda w: True) if typed or not prefix else (lambda w: worth_offering(w, prefix))  # noqa: E731
            chosen = lo + top_indices(self._new[lo:hi], k + 2)
            words.update(w for w in (self._notes.new_words[j] for j in chosen.tolist()) if offered(w))
        found = [Suggestion(word, self._oov_probability(word)) for word in words]
        return [s for s in found if s.probability > 0.0]
