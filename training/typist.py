"""The simulated typist of the type-through protocol (shared/eval-protocol.md): it goes through
each file word by word with a system's suggestions, accepts a word as soon as it is shown, and
counts the keystrokes that costs against typing everything by hand.

Keystrokes are counted as the protocol counts them (``nextword.model.hangul.key_count``): a
character is one key, but a Hangul syllable is the keys a Korean 2-set typist presses for
it (``모델을`` is 8), so text without Hangul costs its length. The typist still types whole
characters: a syllable appears in the prefix once all its keys are pressed.

A system is any object with ``name``, ``reset()`` (a new file begins) and
``suggest(context, prefix, k) -> list[str]`` (ranked words for the text before the word and
the part of the word typed so far).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from nextword.model.hangul import key_count
from nextword.model.tokenize import WORD_RE
from tqdm import tqdm

KS = (1, 3, 5)  # the suggestion-list lengths reported; 3 is the headline
DEFAULT_MAX_WORDS = 400


class System(Protocol):
    """What the typist needs of a system it types with."""

    name: str

    def reset(self) -> None: ...

    def suggest(self, context: str, prefix: str, k: int) -> list[str]: ...


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
    found: list[tuple[int, str]] = []
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


def word_keystrokes(word: str, accepted: int | None) -> int:
    """What typing ``word`` costs when the typist accepts it after typing ``accepted`` of its
    characters (their keys, and one to accept), or never (None: the keys of the whole word)."""
    return key_count(word) if accepted is None else key_count(word[:accepted]) + 1


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
    suggestions the span costs the keys of every character; with them, a word accepted
    after typing ``i`` characters costs their keys and one more, and a word never accepted
    the keys of all its characters (``word_keystrokes``).
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
        span_keys = key_count(text[: start + len(last)])
        result.keystrokes_without += span_keys
        between_words = span_keys - sum(key_count(w) for _, w in words)  # typed by hand either way
        for k in ks:
            result.with_suggestions[k] += between_words
        for start, word in words:
            ranks = word_ranks(system, text[:start], word, max(ks))
            for k in ks:
                accepted = accepted_after(ranks, k)
                result.with_suggestions[k] += word_keystrokes(word, accepted)
                result.found_first[k] += ranks[0] is not None and ranks[0] < k
            if on_word is not None:
                on_word(text, start, word, ranks)
            if progress is not None:
                progress.update(1)
        result.words += len(words)
    return result
