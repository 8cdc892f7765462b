"""SplitText: a text in two pieces behaves as the joined string, and the Predictor's scan of
it gives the tokens the joined string gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from nextword.model.context import tokens_between
from nextword.model.text import SplitText, common_prefix_length
from nextword.model.tokenize import iter_tokens

_pieces = st.lists(
    st.sampled_from(["a", "b", " ", "\n", "\n\n", "'", "don't", "...", "한", "😋", "e\u0301", "\t"]), max_size=14
).map("".join)


@given(head=_pieces, tail=_pieces, data=st.data())
def test_split_text_reads_as_the_joined_string(head: str, tail: str, data: st.DataObject) -> None:
    text, joined = SplitText(head, tail), head + tail
    assert len(text) == len(joined) and str(text) == joined
    assert [text.char(i) for i in range(len(joined))] == list(joined)
    start = data.draw(st.integers(0, len(joined)))
    end = data.draw(st.integers(start, len(joined)))
    assert text.slice(start, end) == joined[start:end]
    cut = text.prefix(end)
    assert str(cut) == joined[:end]
    if end >= len(head):
        assert cut.head is head  # typing at the end: the head is never copied


@given(a=_pieces, b=_pieces, head=_pieces, shared=st.booleans())
def test_comparisons_match_the_joined_strings(a: str, b: str, head: str, shared: bool) -> None:
    first = SplitText(head, a)
    # The same head object (typing at the end of a document), or texts cut elsewhere.
    second = SplitText(head, b) if shared else SplitText(head + b[:3], b[3:])
    x, y = str(first), str(second)
    assert first.same(second) == (x == y)
    assert first.common_prefix_length(second) == common_prefix_length(x, y)
    n = common_prefix_length(x, y)
    assert x[:n] == y[:n] and (n == min(len(x), len(y)) or x[n] != y[n])


@given(head=_pieces, tail=_pieces, data=st.data())
def test_tokens_from_a_token_end_match_the_joined_scan(head: str, tail: str, data: st.DataObject) -> None:
    joined = head + tail
    ends = [0, *(token.end for token in iter_tokens(joined))]
    pos = data.draw(st.sampled_from(ends))
    assert tokens_between(SplitText(head, tail), pos, len(joined)) == list(iter_tokens(joined, pos))
