"""Unit tests of the server's pieces that need no model and no subprocess: positions,
documents and their incremental edits, settings parsing, document-word counts."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types
from nextword.server.buffer_words import BufferWords
from nextword.server.completion import ClientSupport, from_suggestions, inline_items, percent, phrase_allowed, site_at
from nextword.server.documents import Document
from nextword.server.positions import PositionEncoding
from nextword.server.settings import Settings, merge, parse_settings, section_of
from nextword.server.wordsyntax import MAX_WORD_LENGTH, WORD_RE, typed_word_start, word_goes_on_before


# ----- positions ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "encoding, line, units, expected",
    [
        ("utf-16", "a😋b", 1, 1),
        ("utf-16", "a😋b", 3, 2),  # after the emoji's two UTF-16 units
        ("utf-16", "a😋b", 2, 1),  # half an emoji rounds down to its start
        ("utf-16", "한국어 단어", 3, 3),  # Hangul syllables are one unit each
        ("utf-8", "한국어", 3, 1),
        ("utf-8", "한국어", 4, 1),
        ("utf-8", "a😋b", 5, 2),
        ("utf-32", "a😋b", 2, 2),
        ("utf-16", "abc", 99, 3),  # past the end: the end of the line
        ("utf-16", "e\u0301x", 2, 2),  # a combining mark is its own code point
    ],
)
def test_code_points(encoding: str, line: str, units: int, expected: int) -> None:
    assert PositionEncoding(encoding).code_points(line, units) == expected


@pytest.mark.parametrize("encoding, expected", [("utf-16", 6), ("utf-8", 11), ("utf-32", 5)])
def test_units(encoding: str, expected: int) -> None:
    assert PositionEncoding(encoding).units("한a😋e\u0301") == expected


def test_unknown_encoding_is_utf16() -> None:
    assert PositionEncoding("ebcdic").name == "utf-16"
    assert PositionEncoding(types.PositionEncodingKind.Utf8).name == "utf-8"


# ----- documents ----------------------------------------------------------------------------
def _lsp_lines(text: str) -> list[int]:
    starts = [0]
    for m in re.finditer(r"\r\n|\r|\n", text):
        starts.append(m.end())
    return starts


def test_line_starts_all_breaks() -> None:
    text = "a\nb\r\nc\rd\u2028e\n"
    doc = Document("u", text)
    assert doc.line_starts == _lsp_lines(text)  # \u2028 is not an LSP line break
    assert doc.line_span(1) == (2, 3)  # "\r\n" is not part of the line
    assert doc.offset_at(3, 99) == text.index("\n", 8)  # past the end of line 3: its end
    assert doc.offset_at(9, 0) == len(text)
    assert doc.offset_at(9, 0, clamp=False) is None


_pieces = st.lists(st.sampled_from(["a", "b", " ", "\n", "\r", "\r\n", "한", "😋", "e\u0301", "'"]), max_size=12).map(
    "".join
)


@settings(max_examples=300, deadline=None)
@given(text=_pieces, edits=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40), _pieces), max_size=8))
def test_edits_keep_line_starts_right(text: str, edits: list[tuple[int, int, str]]) -> None:
    doc = Document("u", text)
    expected = text
    for a, b, new in edits:
        a, b = sorted((min(a, len(expected)), min(b, len(expected))))
        expected = expected[:a] + new + expected[b:]
        doc.replace(a, b, new)
        # Read without joining the text, so that edits keep landing in the tail.
        assert len(doc) == len(expected) and doc.slice(0, len(doc)) == expected
        assert [doc.char(i) for i in range(len(doc) + 1)] == [*expected, ""]
        assert str(doc.snapshot().prefix(len(expected) // 2)) == expected[: len(expected) // 2]
        assert doc.line_starts == _lsp_lines(expected)
    assert doc.text == expected


def test_typing_at_the_end_copies_only_the_tail() -> None:
    doc = Document("u", "x" * 100_000 + "\n")
    before = doc.snapshot()
    for ch in "hello world\nnext line":
        doc.replace(len(doc), len(doc), ch)
    # The long head is the very string it was: the Predictor, holding it, compares nothing.
    after = doc.snapshot()
    assert after.head is before.head and after.tail == "hello world\nnext line"
    assert doc.line_starts == [0, 100_001, 100_013] and doc.text.endswith("next line")


@settings(max_examples=200, deadline=None)
@given(
    text=_pieces,
    a=st.integers(0, 40),
    b=st.integers(0, 40),
    new=_pieces,
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-32"]),
)
def test_change_by_position_round_trips(text: str, a: int, b: int, new: str, encoding: str) -> None:
    doc = Document("u", text, encoding=PositionEncoding(encoding))
    a, b = sorted((min(a, len(text)), min(b, len(text))))
    # Positions never point inside a "\r\n" pair or a character: move to a clean boundary.
    while 0 < a < len(text) and text[a - 1] == "\r" and text[a] == "\n":
        a -= 1
    while 0 < b < len(text) and text[b - 1] == "\r" and text[b] == "\n":
        b += 1
    start, end = doc.position_at(a), doc.position_at(b)
    rng = types.Range(types.Position(*start), types.Position(*end))
    doc.apply_change(types.TextDocumentContentChangePartial(range=rng, text=new))
    assert doc.text == text[:a] + new + text[b:]


def test_ranged_and_full_changes() -> None:
    doc = Document("u", "one two")
    doc.apply_change(
        types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(0, 4), types.Position(0, 7)), text="three"
        )
    )
    assert doc.text == "one three"
    doc.apply_change(types.TextDocumentContentChangeWholeDocument(text="new\ntext"))
    assert doc.line_starts == [0, 4] and doc.text == "new\ntext"


# ----- the word being typed -----------------------------------------------------------------
@pytest.mark.parametrize(
    "text, prefix",
    [
        ("the mo", "mo"),
        ("the ", ""),
        ("don'", "don'"),
        ("(hel", "hel"),
        ("next-wo", "wo"),
        ("a''", ""),
        ("", ""),
        ("한국", "한국"),
        ("it's", "it's"),
    ],
)
def test_typed_word(text: str, prefix: str) -> None:
    assert text[typed_word_start(text, len(text)) :] == prefix


@pytest.mark.parametrize(
    "text, cut",
    [
        ("a" * (MAX_WORD_LENGTH + 50), True),
        ("x'" + "a" * MAX_WORD_LENGTH, True),  # an apostrophe inside the word
        ("a" * MAX_WORD_LENGTH, False),  # the line's start
        (" " + "a" * MAX_WORD_LENGTH, False),
        (" '" + "a" * MAX_WORD_LENGTH, False),  # a quote, not a word's apostrophe
        ("b " + "a" * (MAX_WORD_LENGTH - 1), False),
    ],
)
def test_a_word_longer_than_the_look_back_is_known_cut(text: str, cut: bool) -> None:
    start = typed_word_start(text, len(text))
    assert word_goes_on_before(text, start, len(text)) is cut
    site = site_at(Document("u", "first line\n" + text), types.Position(1, len(text)))
    assert site is not None and site.cut is cut


def test_site_ranges_in_utf16() -> None:
    text = "😋 한국어 café wor"
    doc = Document("u", text)
    site = site_at(doc, types.Position(0, 99))
    assert site is not None and site.prefix == "wor"
    assert (site.start_character, site.cursor_character) == (12, 15)  # the emoji counts two
    assert site_at(doc, types.Position(1, 0)) is None
    inside = site_at(doc, types.Position(0, 13))
    assert inside is not None and inside.prefix == "w" and inside.inside_word and inside.word_end_character == 15


def test_items_keep_order_and_replace_prefix() -> None:
    class S:
        def __init__(self, word: str, probability: float):
            self.word, self.probability = word, probability

    doc = Document("u", "say wo")
    site = site_at(doc, types.Position(0, 6))
    assert site is not None
    items = from_suggestions(
        site, [S("word", 0.5), S("world", 0.02), S("wonder", 0.00001)], ClientSupport(label_details=True)
    )
    assert [i.label for i in items] == ["word", "world", "wonder"]
    assert [i.sort_text for i in items] == sorted(i.sort_text for i in items)
    assert [i.label_details.description for i in items] == ["50%", "2.0%", "<0.01%"]  # type: ignore[union-attr]
    assert [i.data for i in items] == [{"probability": 0.5}, {"probability": 0.02}, {"probability": 0.00001}]
    for item in items:
        assert item.text_edit == types.TextEdit(types.Range(types.Position(0, 4), types.Position(0, 6)), item.label)
    # Without label details, the probability shows in the detail alone.
    (plain,) = from_suggestions(site, [S("word", 0.5)], ClientSupport())
    assert plain.label_details is None and plain.detail == "50% · nextword"


def test_inline_items_are_an_inline_completion_list() -> None:
    doc = Document("u", "한 😋 say wo")
    site = site_at(doc, types.Position(0, 11))
    assert site is not None and site.prefix == "wo"
    (item,) = inline_items(site, "rld is round").items
    assert item.insert_text == "world is round"
    assert item.range == types.Range(types.Position(0, 9), types.Position(0, 11))  # UTF-16: the emoji counts two


def test_percent() -> None:
    assert [percent(p) for p in (1.0, 0.42, 0.031, 0.0025, 0.00001)] == ["100%", "42%", "3.1%", "0.25%", "<0.01%"]


def test_phrase_allowed() -> None:
    def site(text: str, at: int):
        s = site_at(Document("u", text), types.Position(0, at))
        assert s is not None
        return s

    assert phrase_allowed(site("the mo", 6))
    assert phrase_allowed(site("the ", 4))
    assert phrase_allowed(site("(", 1))
    assert not phrase_allowed(site("end.", 4))
    assert not phrase_allowed(site("model", 2))


# ----- settings -----------------------------------------------------------------------------
def test_settings_defaults_and_values() -> None:
    settings, problems, unknown = parse_settings(
        {"maxItems": 5, "inline": {"maxWords": 2, "enabled": False}, "logLevel": "DEBUG", "trace": {"server": "off"}}
    )
    assert problems == [] and unknown == ["trace"]
    assert (
        settings.max_items == 5
        and settings.inline.max_words == 2
        and not settings.inline.enabled
        and settings.log_level == "debug"
    )
    assert settings.min_probability == Settings().min_probability


@pytest.mark.parametrize(
    "raw, name",
    [
        ({"maxItems": "ten"}, "maxItems"),
        ({"maxItems": 0}, "maxItems"),
        ({"maxItems": True}, "maxItems"),
        ({"minProbability": 2}, "minProbability"),
        ({"triggerCharacters": ["ab"]}, "triggerCharacters"),
        ({"inline": {"maxWords": -1}}, "inline.maxWords"),
        ({"inline": 3}, "inline"),
        ({"logLevel": "loud"}, "logLevel"),
        ({"modelPath": 7}, "modelPath"),
    ],
)
def test_bad_settings_name_the_setting_and_the_default(raw: dict, name: str) -> None:
    settings, problems, _ = parse_settings(raw)
    assert len(problems) == 1 and f" {name} " in problems[0] and "default" in problems[0]
    assert settings == Settings()


def test_settings_sections() -> None:
    assert section_of({"nextword": {"maxItems": 3}}) == {"maxItems": 3}
    assert section_of({"maxItems": 3}) == {"maxItems": 3}
    assert section_of({"python": {}}) is None and section_of(None) is None
    assert merge({"a": 1, "inline": {"x": 1}}, {"inline": {"y": 2}}) == {"a": 1, "inline": {"x": 1, "y": 2}}
    assert parse_settings("nonsense")[1]


# ----- document words -----------------------------------------------------------------------
def _recount(text: str) -> Counter[str]:
    return Counter(m.group() for m in WORD_RE.finditer(text))


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(st.sampled_from(["the", "then", "cat's", " ", "\n", "'", "-", "한국", "x"]), max_size=15).map(
        "".join
    ),
    edits=st.lists(
        st.tuples(
            st.integers(0, 60), st.integers(0, 60), st.sampled_from(["", " ", "the", "s", "'", "'t", "\n", "x y"])
        ),
        max_size=6,
    ),
)
def test_buffer_words_follow_edits(text: str, edits: list[tuple[int, int, str]]) -> None:
    doc = Document("u", text)
    words = BufferWords(doc.text).attach(doc)
    for a, b, new in edits:
        a, b = sorted((min(a, len(doc.text)), min(b, len(doc.text))))
        doc.replace(a, b, new)
        assert words.counts == _recount(doc.text)
        assert words.sorted == sorted(words.counts)


def test_buffer_words_complete() -> None:
    words = BufferWords("then the theory the the thesis th")
    # Neither the typed part itself ("th") nor a word one plain key away ("the") is offered:
    # accepting it would save nothing.
    assert words.complete("th", 3) == [("then", 1), ("theory", 1), ("thesis", 1)]
    assert words.complete("t", 3) == [("the", 3), ("then", 1), ("theory", 1)]  # not "th"
    # The word being typed (the cursor inside "thesis") does not count its own occurrence.
    assert words.complete("th", 10, exclude="thesis") == [("then", 1), ("theory", 1)]
    assert words.complete("t", 10, exclude="the") == [("the", 2), ("then", 1), ("theory", 1), ("thesis", 1)]
    assert words.complete("x", 3) == []


def test_an_edit_hands_the_cursor_after_it_to_the_model_host() -> None:
    """After each change the host is told where the cursor now is (the end of the inserted
    text, in string offsets whatever the client's units), to read the word there ahead."""
    from nextword.server.lsp_server import create_server

    server = create_server()
    told: list[tuple[str, str, int]] = []

    class Host:
        ready = True

        def prepare(self, uri: str, text, cursor: int) -> None:
            told.append((uri, str(text), cursor))

    server.host = Host()  # type: ignore[assignment]
    doc = server.documents.open("file:///k.md", "😋 한국어\ncafé wo", 1)

    def change(start: tuple[int, int], end: tuple[int, int], text: str) -> None:
        rng = types.Range(types.Position(*start), types.Position(*end))
        params = types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=doc.uri, version=2),
            content_changes=[types.TextDocumentContentChangePartial(range=rng, text=text)],
        )
        for piece in params.content_changes:
            doc.apply_change(piece)
        server.changed(params)

    change((1, 7), (1, 7), "r")  # typing at the end
    assert told[-1] == ("file:///k.md", "😋 한국어\ncafé wor", len("😋 한국어\ncafé wor"))
    change((0, 2), (0, 2), "큰 ")  # after the emoji (two UTF-16 units)
    assert told[-1][1].startswith("😋큰  한국어") and told[-1][2] == len("😋큰 ")
    server.changed(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=doc.uri, version=3),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="new text")],
        )
    )
    assert len(told) == 2  # the whole text replaced: no cursor to speak of


def test_a_keystrokes_messages_are_handled_without_pygls_protocol_checks(monkeypatch) -> None:
    """A didChange and a completion request reach their handlers without pygls's isinstance
    checks against typing Protocols (slow on Python 3.11); other messages still take them."""
    from nextword.server.lsp_server import create_server
    from pygls.protocol import json_rpc

    checked: list[str] = []

    class Counted(type):
        def __instancecheck__(cls, instance: object) -> bool:
            checked.append(type(instance).__name__)
            return hasattr(instance, "id") and hasattr(instance, "method")

    monkeypatch.setattr(json_rpc, "RPCRequest", Counted("RPCRequest", (), {}))
    server = create_server()
    protocol = server.protocol
    answers: list[object] = []
    monkeypatch.setattr(protocol, "_send_data", answers.append)

    def handle(message: dict) -> None:
        protocol.handle_message(protocol.structure_message({"jsonrpc": "2.0", **message}))

    async def type_a_key() -> None:
        uri = "file:///typed.md"
        handle(
            {
                "method": "textDocument/didOpen",
                "params": {"textDocument": {"uri": uri, "languageId": "markdown", "version": 1, "text": "a"}},
            }
        )
        assert checked == ["DidOpenTextDocumentNotification"]
        where = {"line": 0, "character": 1}
        change = {"range": {"start": where, "end": where}, "text": "b"}
        handle(
            {
                "method": "textDocument/didChange",
                "params": {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [change]},
            }
        )
        assert protocol.documents.get(uri).text == "ab"
        handle(
            {
                "id": 7,
                "method": "textDocument/completion",
                "params": {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 2}},
            }
        )
        await asyncio.sleep(0.05)  # the request is answered on the event loop
        assert checked == ["DidOpenTextDocumentNotification"]

    asyncio.run(type_a_key())
    assert [getattr(a, "id", None) for a in answers] == [7]  # answered (the model is not loaded: an empty list)


def test_notifications_leave_no_futures_behind() -> None:
    """Each didChange (a keystroke) handled leaves nothing behind. pygls 2.1 files the future
    of a notification whose built-in handler is a generator among its pending requests, under
    a fresh id that no answer ever removes: a future kept per keystroke, for as long as the
    server runs (the protocol's sync methods call the handlers instead)."""
    import gc
    from concurrent.futures import Future

    from nextword.server.lsp_server import create_server

    protocol = create_server().protocol

    def handle(method: str, params: dict) -> None:
        protocol.handle_message(protocol.structure_message({"jsonrpc": "2.0", "method": method, "params": params}))

    def futures() -> int:
        gc.collect()
        return sum(type(o) is Future for o in gc.get_objects())

    uri = "file:///typed.md"
    handle("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "markdown", "version": 1, "text": ""}})
    before = futures()
    for n in range(200):
        where = {"line": 0, "character": n}
        handle(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": n + 2},
                "contentChanges": [{"range": {"start": where, "end": where}, "text": "a"}],
            },
        )
    assert protocol.documents.get(uri).text == "a" * 200
    handle("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert futures() - before < 10
