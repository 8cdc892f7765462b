"""End to end: completions from a real server subprocess compared with a Predictor run in
this process on the same tiny model (same words, same order, same probabilities)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from nextword.server.wordsyntax import MAX_WORD_LENGTH
from server_support import (
    SAMPLE,
    build_tiny_model,
    capabilities,
    change,
    command,
    complete,
    end_position,
    lsp_client,
    open_doc,
    wait_ready,
    wait_status,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture(scope="module")
def reference(tiny_model: Path):
    """A fresh in-process Predictor per question, on the same model."""
    from nextword.model import InferenceNetwork, Predictor, PredictorConfig, load_checkpoint

    checkpoint = load_checkpoint(tiny_model)

    def predictor() -> Predictor:
        return Predictor(InferenceNetwork.build(checkpoint.model), checkpoint.vocab, PredictorConfig())

    return predictor


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("data")
    async with lsp_client(
        "--model", str(tiny_model), data_dir=data, caps=capabilities(["utf-16"], rich_items=True)
    ) as c:
        await wait_ready(c)
        yield c


async def set_settings(client, **values) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"nextword": values}))
    await wait_status(client, lambda s: all(s["settings"].get(k) == v for k, v in values.items()), timeout=10)


def words_of(result: types.CompletionList) -> list[str]:
    return [item.label for item in result.items]


def probabilities_of(result: types.CompletionList) -> list[float]:
    return [item.data["probability"] for item in result.items]


async def test_ranked_words_and_probabilities_match_the_predictor(client, reference) -> None:
    uri = "file:///ranked.md"
    text = SAMPLE + "The model is "
    open_doc(client, uri, text)
    for typed in ["t", "th", "the", "w", "mo", "T"]:
        body = text + typed
        change(client, uri, 2, end_position(text), end_position(text), typed) if typed == "t" else None
        if typed != "t":
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=body)],
                )
            )
        line, character = end_position(body)
        result = await complete(client, uri, line, character)
        expected = reference().predict(text, typed, 10)
        if typed == "the":  # a word typed whole: no list, asked again at the next key
            assert expected.typed_probability > 2 * expected[0].probability
            assert not result.items and result.is_incomplete
            continue
        assert words_of(result) == [s.word for s in expected], typed
        assert probabilities_of(result) == pytest.approx([s.probability for s in expected], rel=1e-12)
        assert result.is_incomplete
        assert [i.sort_text for i in result.items] == sorted(i.sort_text for i in result.items)
        assert all(i.detail and "%" in i.detail and i.label_details.description.endswith("%") for i in result.items)


async def test_document_words_outside_the_vocabulary_are_mixed_in(client, reference) -> None:
    uri = "file:///oov.md"
    text = SAMPLE + "Quixote met Quixotic people. Quixote said the model is quick. The Qu"
    open_doc(client, uri, text)
    result = await complete(client, uri, *end_position(text))
    expected = reference().predict(text[:-2], "Qu", 10)
    assert words_of(result) == [s.word for s in expected]
    assert {"Quixote", "Quixotic"} <= set(words_of(result))


async def test_text_edit_replaces_exactly_the_typed_part(client) -> None:
    uri = "file:///edit.md"
    text = "The quick brown fox.\n  The mo"
    open_doc(client, uri, text)
    result = await complete(client, uri, 1, 8)
    assert result.items
    for item in result.items:
        assert isinstance(item.text_edit, types.TextEdit)
        assert item.text_edit.range == types.Range(types.Position(1, 6), types.Position(1, 8))
        assert item.text_edit.new_text == item.label and item.label.startswith("mo")
    # Inside a word, with a client that can: insert over the typed part, or replace the word.
    text = "The mouse"
    open_doc(client, "file:///inside.md", text)
    result = await complete(client, "file:///inside.md", 0, 6)
    assert result.items
    for item in result.items:
        edit = item.text_edit
        assert isinstance(edit, types.InsertReplaceEdit) and edit.new_text == item.label
        assert edit.insert == types.Range(types.Position(0, 4), types.Position(0, 6))
        assert edit.replace == types.Range(types.Position(0, 4), types.Position(0, 9))


async def test_a_word_longer_than_the_look_back_is_not_offered(client) -> None:
    """The typed word is looked for at most MAX_WORD_LENGTH characters back: a longer one is
    seen only in its end, and an item replacing that end with a whole word of the document
    would write the word's start twice. Such a word gets nothing; one of that length, its
    completion, which replaces exactly the typed word."""
    uri = "file:///long-word.md"
    long_word, word = "a" * (MAX_WORD_LENGTH + 50), "b" * MAX_WORD_LENGTH
    text = SAMPLE + f"{long_word}xyz {word}xyz\n"
    line = text.count("\n")
    open_doc(client, uri, text + long_word)
    assert not (await complete(client, uri, line, len(long_word))).items
    change(client, uri, 2, (line, 0), (line, len(long_word)), word)
    result = await complete(client, uri, line, len(word))
    assert f"{word}xyz" in words_of(result)
    for item in result.items:
        assert isinstance(item.text_edit, types.TextEdit)
        assert item.text_edit.range == types.Range(types.Position(line, 0), types.Position(line, len(word)))
        assert item.text_edit.new_text == item.label


async def test_next_word_needs_the_threshold_and_an_active_trigger(client, reference) -> None:
    uri = "file:///next.md"
    text = SAMPLE + "The dog "
    open_doc(client, uri, text)
    line, character = end_position(text)
    # The gate: the share of the list's probability (its ten items, maxItems) that its first
    # three hold.
    ranked = [s.probability for s in reference().predict(text, "", 10)]
    share = sum(ranked[:3]) / sum(ranked)
    await set_settings(client, minProbability=round(min(share + 0.001, 1.0), 6))
    assert not (await complete(client, uri, line, character, trigger=" ")).items
    # Asked for explicitly, next-word suggestions show whatever the threshold.
    invoked = await complete(client, uri, line, character, invoked=True)
    assert words_of(invoked) == [s.word for s in reference().predict(text, "", 10)]
    await set_settings(client, minProbability=round(max(share - 0.001, 0.0), 6))
    shown = await complete(client, uri, line, character, trigger=" ")
    assert words_of(shown) == words_of(invoked)
    assert all(i.text_edit.range.start == i.text_edit.range.end == types.Position(line, character) for i in shown.items)
    # A period and a hyphen are among the default triggers (a file name's extension, a
    # hyphenated word's next part): with the gate open, a list.
    await set_settings(client, minProbability=0.0)
    for mark in ".-":
        marked = SAMPLE + "The dog" + mark
        open_doc(client, f"file:///mark{ord(mark)}.md", marked)
        assert (await complete(client, f"file:///mark{ord(mark)}.md", *end_position(marked), trigger=mark)).items
    # A character that is not among the triggerCharacters setting: no popup.
    colon_text = SAMPLE + "The dog:"
    open_doc(client, "file:///colon.md", colon_text)
    assert not (await complete(client, "file:///colon.md", *end_position(colon_text), trigger=":")).items
    await set_settings(client, triggerCharacters=[" ", ":"], minProbability=0.0)
    assert (await complete(client, "file:///colon.md", *end_position(colon_text), trigger=":")).items
    await set_settings(client, triggerCharacters=[" ", "(", "[", '"', "“", "/", ".", "-"], minProbability=0.75)


async def test_a_trigger_character_inside_a_word_completes_the_word(client, reference) -> None:
    # The apostrophe is announced as a trigger (for quotes) but is not among the
    # triggerCharacters setting: typed inside "You'", the word is still completed.
    uri = "file:///apostrophe.md"
    text = SAMPLE + "You're right. You'"
    open_doc(client, uri, text)
    line, character = end_position(text)
    result = await complete(client, uri, line, character, trigger="'")
    assert "You're" in words_of(result)
    assert all(i.text_edit.range.start == types.Position(line, character - 4) for i in result.items)
    assert words_of(result) == words_of(await complete(client, uri, line, character))


async def test_no_next_word_inside_a_word_after_a_combining_mark(client) -> None:
    # "cafe" and a combining acute accent: the word pattern stops before the mark, but the
    # cursor is inside a word, where a next word would be glued on.
    uri = "file:///marks.md"
    text = SAMPLE + "The cafe\u0301"
    open_doc(client, uri, text)
    line, character = end_position(text)
    assert not (await complete(client, uri, line, character, invoked=True)).items
    spaced = text + " "
    open_doc(client, "file:///marks-spaced.md", spaced)
    assert (await complete(client, "file:///marks-spaced.md", *end_position(spaced), invoked=True)).items


def inline_params(uri: str, line: int, character: int, selected: bool = False) -> types.InlineCompletionParams:
    info = types.SelectedCompletionInfo(types.Range(types.Position(line, 0), types.Position(line, 0)), "x")
    return types.InlineCompletionParams(
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Automatic,
            selected_completion_info=info if selected else None,
        ),
        text_document=types.TextDocumentIdentifier(uri),
        position=types.Position(line, character),
    )


async def test_inline_completion_only_where_no_list_shows(client, reference) -> None:
    """Ghost text or a list, never both: at a line's start (no list is asked for there) a
    phrase; inside a word being typed, where the list shows, none; none either while the
    editor reports a list open."""
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"nextword": {"inline": {"minProbability": 0.0, "maxWords": 3}}})
    )
    await wait_status(client, lambda s: s["settings"]["inline"]["maxWords"] == 3)
    uri = "file:///inline.md"
    text = SAMPLE + "The next word.\n"
    open_doc(client, uri, text)
    line, character = end_position(text)
    result = await client.text_document_inline_completion_async(inline_params(uri, line, character))
    rest, _ = reference().complete_phrase(text, "", 3, 0.0)
    assert rest and isinstance(result, types.InlineCompletionList) and len(result.items) == 1
    item = result.items[0]
    assert item.insert_text == rest and len(rest.split()) <= 3
    assert item.range == types.Range(types.Position(line, character), types.Position(line, character))
    selected = inline_params(uri, line, character, selected=True)
    assert await client.text_document_inline_completion_async(selected) is None
    typing = SAMPLE + "The next wo"
    open_doc(client, "file:///inline-word.md", typing)
    assert (await complete(client, "file:///inline-word.md", *end_position(typing))).items
    word_params = inline_params("file:///inline-word.md", *end_position(typing))
    assert await client.text_document_inline_completion_async(word_params) is None
    # A word typed whole closes the list: what follows it comes as ghost text.
    whole = SAMPLE + "The model is the"
    open_doc(client, "file:///inline-whole.md", whole)
    assert not (await complete(client, "file:///inline-whole.md", *end_position(whole))).items
    found = await client.text_document_inline_completion_async(
        inline_params("file:///inline-whole.md", *end_position(whole))
    )
    rest, _ = reference().complete_phrase(SAMPLE + "The model is ", "the", 3, 0.0)
    assert rest.startswith(" ") and found is not None and found.items[0].insert_text == "the" + rest
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"nextword": {"inline": {"enabled": False}}})
    )
    await wait_status(client, lambda s: not s["settings"]["inline"]["enabled"])
    assert await client.text_document_inline_completion_async(inline_params(uri, line, character)) is None
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"nextword": {}}))
    await wait_status(client, lambda s: s["settings"]["inline"]["enabled"])


async def test_korean_and_emoji_positions_in_utf16(client, reference) -> None:
    uri = "file:///unicode.md"
    head = SAMPLE + "😋👍🏽 한국어 e\u0301 The "
    text = head + "mo"
    open_doc(client, uri, text)
    line, character = end_position(text)
    result = await complete(client, uri, line, character)
    assert words_of(result) == [s.word for s in reference().predict(head, "mo", 10)]
    last_line = text.split("\n")[-1]
    start = len(last_line[:-2].encode("utf-16-le")) // 2
    assert all(
        i.text_edit.range == types.Range(types.Position(line, start), types.Position(line, character))
        for i in result.items
    )
    # Korean words of the document (not in the vocabulary) are offered, ranges in UTF-16.
    korean = "😋 한국어 문서입니다. 한국어는 한글로 씁니다. 한"
    open_doc(client, "file:///ko.md", korean)
    result = await complete(client, "file:///ko.md", 0, len(korean.encode("utf-16-le")) // 2)
    assert {"한국어", "한글로"} <= set(words_of(result))
    assert words_of(result) == [s.word for s in reference().predict(korean[:-1], "한", 10)]
    assert all(i.text_edit.range.start.character == len(korean.encode("utf-16-le")) // 2 - 1 for i in result.items)
    # An edit after the emoji lands where UTF-16 says it does.
    change(client, uri, 2, (line, character), (line, character), "del i")
    result = await complete(client, uri, line, character + 5)
    assert words_of(result) == [s.word for s in reference().predict(head + "model ", "i", 10)]


async def test_a_syllable_being_composed_offers_the_words_it_grows_into(client) -> None:
    """An editor shows the syllable an input method is composing (몯 on the way to 모델): the
    note's 모델을 is offered, its edit replaces exactly the typed 몯 (UTF-16), and its filter
    text starts with what is typed, so an editor filtering by it keeps the item."""
    uri = "file:///composing.md"
    text = "😋 모델을 만든다. 모델을 쓴다. 그리고 몯"
    open_doc(client, uri, text)
    character = len(text.encode("utf-16-le")) // 2
    result = await complete(client, uri, 0, character)
    items = {i.label: i for i in result.items}
    assert "모델을" in items
    item = items["모델을"]
    assert item.text_edit.range == types.Range(types.Position(0, character - 1), types.Position(0, character))
    assert item.text_edit.new_text == "모델을" and item.filter_text.startswith("몯")
    # Typed as a whole syllable of its own, the same word is offered and filtered as itself.
    change(client, uri, 2, (0, character - 1), (0, character), "모")
    result = await complete(client, uri, 0, character)
    assert {i.label: i.filter_text for i in result.items}.get("모델을") == "모델을"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-32"])
async def test_offered_position_encodings(tmp_path: Path, encoding: str) -> None:
    # No model (the file does not exist): the document's own words come back at once.
    async with lsp_client(
        "--model", str(tmp_path / "none.safetensors"), data_dir=tmp_path, caps=capabilities([encoding, "utf-16"])
    ) as c:
        assert c.initialize_result.capabilities.position_encoding == encoding  # type: ignore[attr-defined]
        text = "😋 한국어 monkey mouse moose The mo"
        open_doc(c, "file:///enc.md", text)
        units = len(text.encode(encoding.replace("utf-32", "utf-32-le"))) // (4 if encoding == "utf-32" else 1)
        result = await complete(c, "file:///enc.md", 0, units)
        assert sorted(words_of(result)) == ["monkey", "moose", "mouse"]
        assert all(
            i.text_edit.range == types.Range(types.Position(0, units - 2), types.Position(0, units))
            for i in result.items
        )
        # An edit after the emoji, in the client's units.
        change(c, "file:///enc.md", 2, (0, units), (0, units), "use mon")
        result = await complete(c, "file:///enc.md", 0, units + 7)
        assert words_of(result) == ["monkey"]


async def test_edits_in_the_middle(client, reference) -> None:
    uri = "file:///middle.md"
    lines = SAMPLE.splitlines()
    text = "\n".join(lines) + "\nThe "
    open_doc(client, uri, text)
    line, character = end_position(text)
    await complete(client, uri, line, character, invoked=True)  # the server now holds state for the end
    # Insert a sentence in the middle, then replace a word on line 1.
    change(client, uri, 2, (2, 0), (2, 0), "The dog reads the model.\n")
    change(client, uri, 3, (1, 4), (1, 12), "answer")
    new_text = (
        "\n".join(lines[:1] + [lines[1][:4] + "answer" + lines[1][12:]] + ["The dog reads the model."] + lines[2:])
        + "\nThe "
    )
    line, character = end_position(new_text)
    result = await complete(client, uri, line, character, invoked=True)
    assert words_of(result) == [s.word for s in reference().predict(new_text, "", 10)]
    # And completion in the middle of the document, inside a word.
    result = await complete(client, uri, 2, 6)
    context = "\n".join(new_text.split("\n")[:2]) + "\nThe "
    assert words_of(result) == [s.word for s in reference().predict(context, "do", 10)]


async def test_typing_one_character_at_a_time(client, reference) -> None:
    uri = "file:///typing.md"
    text = SAMPLE
    open_doc(client, uri, text)
    version = 1
    for ch in "The model reads":
        line, character = end_position(text)
        version += 1
        change(client, uri, version, (line, character), (line, character), ch)
        text += ch
        start = len(text) - len(text.split(" ")[-1].split("\n")[-1])
        result = await complete(client, uri, *end_position(text), invoked=True)
        assert words_of(result) == [s.word for s in reference().predict(text[:start], text[start:], 10)], text[-20:]


async def test_many_documents(client, reference) -> None:
    texts = {f"file:///many/{i}.md": SAMPLE[i * 7 :] + f" note {i} the " for i in range(40)}
    for uri, text in texts.items():
        open_doc(client, uri, text)
    results = await asyncio.gather(
        *(complete(client, uri, *end_position(text), invoked=True) for uri, text in texts.items())
    )
    for (uri, text), result in zip(texts.items(), results):
        assert words_of(result) == [s.word for s in reference().predict(text, "", 10)], uri
    status = await command(client, "nextword.status")
    assert status["liveDocuments"] <= status["maxLiveDocuments"] == 16
    assert status["documentsOpen"] >= 40
    for uri in texts:
        client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    status = await wait_status(client, lambda s: s["documentsOpen"] < 40)
    assert status["liveDocuments"] <= 16
    # Back to a document whose state was dropped: still right.
    uri = "file:///ranked.md"
    result = await complete(client, uri, *end_position(SAMPLE + "The model is T"))
    assert words_of(result) == [s.word for s in reference().predict(SAMPLE + "The model is ", "T", 10)]
