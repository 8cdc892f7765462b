"""The editor-mode benchmark (benchmarks/editor_mode.py): its figures, by their definitions in
shared/eval-protocol.md, on a case worked out by hand; and its typing through the real server
(UTF-16 positions, CRLF, text beyond the Basic Multilingual Plane), whose recorded lists are
what the server answers for the same text opened whole."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import editor_mode  # noqa: E402
from editor_typist import TRIGGER, Answer, Trace, figures, typing_plan  # noqa: E402
from nextword.model.tokenize import WORD_RE  # noqa: E402

# Two spaces after "cat.": the first is a trigger character where no word starts.
TEXT = "The cat.  The dog\nran"


def at(word: str, nth: int = 0) -> int:
    """Where the ``nth`` (0-based) occurrence of ``word`` starts in TEXT."""
    offset = -1
    for _ in range(nth + 1):
        offset = TEXT.index(word, offset + 1)
    return offset


def hand_trace() -> Trace:
    """TEXT typed, with lists and phrases chosen by hand at a few offsets (empty elsewhere)."""
    span, plan = typing_plan(TEXT, 0, [" "])
    trace = Trace("hand.md", TEXT, span)
    for offset in range(1, span + 1):
        trace.answers[offset] = Answer(offset, plan.get(offset, ("", 0))[0])
    lists = {
        1: ["Th", "The"],  # "The" second after "T"
        2: ["The"],  # and first after "Th"
        3: ["There"],  # "The" typed whole: a list still open
        at("cat"): ["The", "cat", "dog"],  # after a space: holds "cat"; first is "The", the word just typed
        at("cat") + 3: [],  # "cat" typed whole: closed
        at("cat") + 5: ["the"],  # the stray space: a list where no word starts
        at("The", 1): [],  # after the space: no list
        at("The", 1) + 3: ["These"],  # open at the word's end
        at("dog"): ["dog"],  # after a space: "dog" first
        at("dog") + 3: ["dogs"],  # open at a line's end
    }
    for offset, items in lists.items():
        trace.answers[offset].items = items
    phrases = {at("cat"): "cat.  The", at("dog"): "dog", at("ran"): "runs"}  # right, right (beside a list), wrong
    for offset, phrase in phrases.items():
        trace.answers[offset].phrase = phrase
    return trace


def test_plan_asks_as_an_editor_asks():
    span, plan = typing_plan(TEXT, 0, [" "])
    assert span == len(TEXT)
    assert plan[at("cat")] == (TRIGGER, at("cat"))
    assert plan[at("cat") + 2] == ("invoked", at("cat"))
    assert at("ran") not in plan  # after a line break: no request at the word's start
    assert at("cat") + 4 not in plan  # after ".": none either
    assert typing_plan(TEXT, 2, [" "])[0] == at("cat") + 3  # two words: typed up to the end of the second
    assert typing_plan("(b' c", 0, ["'", " "])[1][3] == (TRIGGER, 1)  # "b'" may go on: items replace it


def test_figures_by_hand():
    result = figures([hand_trace()], 0, [" "])
    lists, editor, ghost = result["lists"], result["editor"], result["ghost"]
    # Requests after a trigger at a word's start: before "cat", the second "The", "dog".
    assert lists["popup_rate"] == {"rate": 2 / 3, "count": 2, "n": 3}
    assert lists["popup_rate_after_setting_triggers"] == lists["popup_rate"]
    assert lists["popup_precision@3"] == {"rate": 1.0, "count": 2, "n": 2}
    assert lists["repeat_rate"] == {"rate": 0.5, "count": 1, "n": 2}  # "The" first before "cat"
    assert lists["open_at_word_end"] == {"rate": 3 / 5, "count": 3, "n": 5}  # The, The, dog
    assert lists["open_at_line_end"] == {"rate": 1.0, "count": 1, "n": 1}  # dog
    assert lists["lists_after_trigger_without_word"] == {"rate": 1.0, "count": 1, "n": 1}
    # KSR: 21 keys by hand, 6 of them not in words. With 1 shown: The 3 (first after "Th"),
    # cat 3, The 3, dog 1, ran 3; with 3 shown: The 2 ("The" second after "T"), cat 1.
    assert editor["keystrokes_without"] == 21
    assert editor["keystrokes_with"] == {"1": 19, "3": 16, "5": 16}
    assert editor["ksr@3"] == pytest.approx(1 - 16 / 21)
    # Ghost text: asked after each of the 21 keys, shown 3 times, right twice, saving
    # 8 + 2 keys; beside a list both times it was right.
    assert ghost["requests"] == 21
    assert ghost["shown"] == {"rate": 3 / 21, "count": 3, "n": 21}
    assert ghost["right"] == {"rate": 2 / 3, "count": 2, "n": 3}
    assert ghost["keys_saved"] == {"count": 10, "per_right_phrase": 5.0, "n": 2}
    assert ghost["words_per_phrase"] == pytest.approx(4 / 3)
    assert ghost["beside_list"] == {"rate": 2 / 3, "count": 2, "n": 3}
    # Tab wherever right: "The " by hand (4), Tab (1), " " (1), Tab for "dog" (1), "\n" (1), "ran" (3).
    assert ghost["tab_typist_ksr"] == {"rate": 1 - 11 / 21, "keys_with": 11, "keys_without": 21}


def test_korean_keys_by_hand():
    text = "모델을 봐"
    span, plan = typing_plan(text, 0, [" "])
    trace = Trace("ko.md", text, span, {o: Answer(o, plan.get(o, ("", 0))[0]) for o in range(1, span + 1)})
    trace.answers[1].items = ["모델을"]  # offered once 모 is typed
    trace.answers[4].phrase = "봐"  # ghost text after the space, right
    result = figures([trace], 0, [" "])
    editor, ghost = result["editor"], result["ghost"]
    # By hand: 모델을 ㅁㅗ ㄷㅔㄹ ㅇㅡㄹ 8, a space, 봐 ㅂㅗㅏ 3. With the list: 모 (2 keys) and
    # one to accept, the space, 봐 typed (no list after the space).
    assert editor["keystrokes_without"] == 12
    assert editor["keystrokes_with"] == dict.fromkeys(("1", "3", "5"), 2 + 1 + 1 + 3)
    # Tab on 봐's ghost text saves its 3 keys less the Tab; the rest is typed: 8 + 1 + Tab.
    assert ghost["keys_saved"] == {"count": 2, "per_right_phrase": 2.0, "n": 1}
    assert ghost["tab_typist_ksr"] == {"rate": 1 - 10 / 12, "keys_with": 10, "keys_without": 12}


def test_popup_rate_counts_every_trigger_the_editor_asks_after():
    """An editor asks after every character the server announces; the setting's are counted apart."""
    span, plan = typing_plan("a.b c", 0, [".", " "])
    trace = Trace("t.md", "a.b c", span, {o: Answer(o, plan.get(o, ("", 0))[0]) for o in range(1, span + 1)})
    trace.answers[4].items = ["c"]
    lists = figures([trace], 0, [" "])["lists"]
    assert lists["popup_rate"] == {"rate": 0.5, "count": 1, "n": 2}
    assert lists["popup_rate_after_setting_triggers"] == {"rate": 1.0, "count": 1, "n": 1}


NOTES = [
    ("a.md", "# Ownership\r\n\r\nEach value has an owner. The borrow checker checks the references\r\n"),
    ("b/ü.md", "Each value 🦀 has an owner (the borrow checker) — “each value” has a type\nThe compiler checks"),
    ("c.md", "Références: the owner 👍🏽 goes out of scope, the value is dropped\r\nEach value has an owner."),
]


@pytest.fixture(scope="module")
def typed(tiny_model_path):
    return editor_mode.run_editor_mode(tiny_model_path, NOTES, max_words=0)


def test_through_the_server_counts_every_word(typed):
    traces, results = typed
    words = [m for _, text in NOTES for m in WORD_RE.finditer(text)]
    triggers = results["trigger_characters"]  # as the server announced them
    assert set(results["setting_trigger_characters"]) < set(triggers)
    after_trigger = [m for m in words if m.start() > 0 and m.string[m.start() - 1] in triggers]
    before_break = [m for m in words if m.string.startswith(("\n", "\r"), m.end())]
    lists = results["lists"]
    assert results["editor"]["words"] == len(words)
    assert lists["open_at_word_end"]["n"] == len(words)
    assert lists["popup_rate"]["n"] == len(after_trigger)
    assert lists["open_at_line_end"]["n"] == len(before_break) == 4
    assert lists["misplaced_edits"] == 0  # every item's range is the typed word, in UTF-16
    assert lists["open_at_word_end"]["count"] > 0  # the model answers
    assert results["ghost"]["requests"] == sum(len(t.answers) for t in traces)
    # "\r\n" is typed as one key: nothing is asked between its two characters.
    assert all(
        offset not in t.answers
        for t in traces
        for offset in range(1, len(t.text))
        if t.text[offset - 1 : offset + 1] == "\r\n"
    )


def test_recorded_lists_are_the_servers_answers(typed, tiny_model_path, tmp_path):
    """The list recorded after a key is the one the server gives for that text opened whole:
    the typing sent the right edits and asked at the right positions."""
    traces, _ = typed
    client, _ = editor_mode.start_server(tiny_model_path, None, tmp_path)
    checked = 0
    try:
        for number, trace in enumerate(traces):
            _, plan = typing_plan(trace.text, 0, typed[1]["trigger_characters"])
            for offset, answer in trace.answers.items():
                if not answer.asked or offset % 3:
                    continue
                uri = f"file:///check/{number}/{offset}.md"
                document = editor_mode.Typed(trace.text)
                while document.end < offset:
                    document.type(editor_mode.key_at(trace.text, document.end))
                client.notify(
                    "textDocument/didOpen",
                    {"textDocument": {"uri": uri, "languageId": "markdown", "version": 1, "text": trace.text[:offset]}},
                )
                context = (
                    {"triggerKind": 2, "triggerCharacter": trace.text[offset - 1]}
                    if answer.asked == TRIGGER
                    else {"triggerKind": 1}
                )
                result = client.request(
                    "textDocument/completion",
                    {"textDocument": {"uri": uri}, "position": document.cursor(), "context": context},
                )
                words, misplaced = editor_mode.completion_words(result, document, plan[offset][1])
                assert (words, misplaced) == (answer.items, False), (trace.name, offset)
                client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
                checked += 1
    finally:
        client.close()
    assert checked > 20


def test_settings_reach_the_server(tiny_model_path):
    """With one item a list (maxItems 1) every list length saves the same keys; with no
    threshold for next-word lists (minProbability 0) every request after a trigger opens one."""
    settings = {"maxItems": 1, "minProbability": 0.0}
    _, results = editor_mode.run_editor_mode(tiny_model_path, NOTES[:1], max_words=0, settings=settings)
    ksr, popups = results["editor"], results["lists"]["popup_rate"]
    assert ksr["keystrokes_with"]["1"] == ksr["keystrokes_with"]["5"] < ksr["keystrokes_without"]
    assert popups["count"] == popups["n"] > 0
    assert results["settings"] == settings


def test_command_prints_json(tiny_model_path, tmp_path):
    """The command on a corpus folder: its test split typed, both KSRs, as JSON."""
    import json
    import subprocess

    from nextword.training.split import is_test_file

    names = [f"note{n}.md" for n in range(100)]
    tests = [name for name in names if is_test_file(name)][:2]
    for name, (_, text) in zip(tests, NOTES, strict=False):
        (tmp_path / name).write_bytes(text.encode())
    training = next(name for name in names if not is_test_file(name))
    (tmp_path / training).write_text("Not typed: a training file.", encoding="utf-8")
    script = Path(editor_mode.__file__)
    command = [sys.executable, str(script), str(tmp_path), "--model", str(tiny_model_path), "--json"]
    done = subprocess.run([*command, "--limit-words", "5"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert results["editor"]["files"] == results["protocol"]["files"] == 2
    assert results["editor"]["words"] == results["protocol"]["words"] == 10
    assert results["editor"]["keystrokes_without"] == results["protocol"]["keystrokes_without"]
    missing = subprocess.run(
        [*command[:3], "--model", str(tmp_path / "none.safetensors")], capture_output=True, text=True
    )
    assert missing.returncode != 0 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr


def test_ghost_text_read_in_utf16(tiny_model_path):
    """With every phrase let through (inline.minProbability 0), phrases are shown after text
    beyond the Basic Multilingual Plane, each read from its range as the editor reads it."""
    settings = {"inline": {"minProbability": 0.0}}
    traces, results = editor_mode.run_editor_mode(tiny_model_path, NOTES[1:], max_words=0, settings=settings)
    ghost = results["ghost"]
    assert ghost["shown"]["count"] > 0 and results["lists"]["misplaced_edits"] == 0
    after_emoji = [a for t in traces for o, a in t.answers.items() if a.phrase and t.text.find("🦀") in range(o)]
    assert after_emoji
    right = sum(t.text.startswith(a.phrase, o) for t in traces for o, a in t.answers.items() if a.phrase)
    assert ghost["right"]["count"] == right
