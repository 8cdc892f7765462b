"""The word-end rule and the next-word gate of the server (``nextword.server.completion``) on
the shipped model: a word typed whole closes the list; a list after a space opens only when its
first three words likely hold the next one."""

import pytest
from nextword.model.suggestions import Suggestion, Suggestions
from nextword.server.completion import word_typed_whole


@pytest.fixture(scope="module")
def predictor(shipped_predictor):
    return shipped_predictor


@pytest.mark.parametrize(
    "context, word",
    [
        ("## Setting up the ", "debugger"),
        ("I wrote a short ", "note"),
        ("We trained the ", "model"),
        ("Run the ", "test"),
    ],
)
def test_a_word_typed_whole_closes_the_list(predictor, context, word):
    """Words with longer, rarer forms (``debugger_visualizer``, ``noteworthy``, ``modeling``):
    typed whole, the list of those longer forms would only stand in the way of Enter."""
    found = predictor().predict(context, word, 10)
    assert found, "longer forms exist"
    assert found.typed_probability > 0 and word_typed_whole(found)


@pytest.mark.parametrize(
    "context, prefix", [("Run the ", "tes"), ("We trained the ", "mod"), ("I wrote a short ", "n")]
)
def test_a_word_on_its_way_keeps_its_list(predictor, context, prefix):
    found = predictor().predict(context, prefix, 10)
    assert found and not word_typed_whole(found)


def test_the_rule_asks_a_clear_lead_over_every_longer_word():
    """Typed ``the`` ahead of ``these``, but not twice as likely: the list stays; twice as
    likely and most of the words starting with it: it closes."""
    longer = [Suggestion("these", 0.2), Suggestion("their", 0.1)]
    assert not word_typed_whole(Suggestions(longer, typed_probability=0.3, prefix_probability=0.6))
    assert word_typed_whole(Suggestions(longer, typed_probability=0.45, prefix_probability=0.75))
    # Likely against its longer forms but a small part of what the typed letters start: open.
    assert not word_typed_whole(Suggestions(longer[1:], typed_probability=0.25, prefix_probability=1.0))
    assert not word_typed_whole(Suggestions(longer, typed_probability=0.0, prefix_probability=0.3))
