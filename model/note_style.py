"""The note's own way of ending its words: its continuations (the parts after a word's first,
``pieces.py``) mixed into how any part goes on, whatever part they followed. A note in the
plain style ends its sentences ``~다`` where the documentation the model learned from says
``~니다``; the more continuations the note holds, the more they weigh.
"""

from __future__ import annotations

import numpy as np

from .whole_words import FANOUT, Row
from .word_parts import END

# The note's continuations take up to this share of a part's way on, half of it once it has this many.
NOTE_STYLE = 0.5
NOTE_STYLE_RAMP = 20


def note_continuations(counts: np.ndarray, total: int) -> list[tuple[int, float]]:
    """The note's most frequent continuations and their shares of all it holds."""
    held = np.flatnonzero(counts > 0)
    return [(int(i), float(counts[i]) / total) for i in held[np.argsort(-counts[held], kind="stable")[:FANOUT]]]


def with_note(row: Row, note: list[tuple[int, float]], total: int) -> Row:
    """``row`` with the note's continuations (``note_continuations`` of ``total``) mixed into
    its share of going on (its END kept)."""
    ids, probs = row
    end = next((p for i, p in zip(ids, probs) if i == END), 0.0)
    share = NOTE_STYLE * total / (total + NOTE_STYLE_RAMP)
    goes_on = 1.0 - end
    mixed = {i: (1.0 - share) * p for i, p in zip(ids, probs) if i != END}
    for i, fraction in note:
        mixed[i] = mixed.get(i, 0.0) + share * goes_on * fraction
    ordered = sorted(mixed.items(), key=lambda item: -item[1])[:FANOUT]
    ranked = sorted([(END, end), *ordered], key=lambda item: -item[1])
    return [i for i, _ in ranked], [p for _, p in ranked]
