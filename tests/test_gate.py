"""The next-word gate (``nextword.server.completion.list_probability`` against the
``minProbability`` setting): a list after a trigger character opens only when its first three
items hold most of its probability, so that the next word, if the list holds it, is likely
among the ones read at a glance."""

import pytest
from nextword.model.suggestions import Suggestion, Suggestions
from nextword.server.completion import list_probability
from nextword.server.settings import Settings


def ranked(*probabilities: float) -> Suggestions:
    return Suggestions([Suggestion(f"w{i}", p) for i, p in enumerate(probabilities)])


def test_the_gate_is_the_first_three_words_share_of_the_list():
    # Equally likely first three: what counts is how they stand against the rest of the list.
    standing_out = ranked(0.2, 0.1, 0.05, 0.02, 0.01, 0.01, 0.01)
    one_among_many = ranked(0.2, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05)
    assert list_probability(standing_out) == pytest.approx(0.35 / 0.4)
    assert list_probability(one_among_many) == pytest.approx(0.35 / 0.7)
    default = Settings().min_probability
    assert list_probability(standing_out) >= default > list_probability(one_among_many)


def test_a_short_list_and_no_list():
    assert list_probability(ranked(0.01, 0.005)) == pytest.approx(1.0)
    assert list_probability(ranked()) == 0.0
    assert list_probability(ranked(0.0, 0.0)) == 0.0


@pytest.fixture(scope="module")
def predictor(shipped_predictor):
    return shipped_predictor


@pytest.mark.parametrize(
    "context, opens",
    [
        ("It is one of ", True),  # the, these, its
        ("Edit the README.", True),  # a file's extension: the period is a default trigger
        ("See [the docs](", True),  # https
        ("# ", False),  # a heading's first word: anything
        ("The model runs ", False),  # in, for, with, by, ... alike
    ],
)
def test_the_default_gate_on_the_shipped_model(predictor, context, opens):
    found = predictor().predict(context, "", Settings().max_items)
    assert (list_probability(found) >= Settings().min_probability) == opens


def test_the_default_triggers_take_a_period_and_a_hyphen():
    assert {".", "-"} <= set(Settings().trigger_characters)
