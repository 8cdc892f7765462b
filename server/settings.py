"""The server's settings: a tree of defaulted dataclasses, and the parser that fills it.

Settings arrive as JSON under the section ``nextword`` (from ``initializationOptions``,
``workspace/didChangeConfiguration`` or ``workspace/configuration``), with camelCase keys:
``maxItems`` fills ``max_items``, ``inline.maxWords`` fills ``inline.max_words``. A value of
the wrong type or out of range never stops the server: the parser keeps the default and
returns one sentence per problem, naming the setting and the default used.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Any

SECTION = "nextword"
LOG_LEVELS = ("error", "warning", "info", "debug", "trace")


def _limits(lo: float | None = None, hi: float | None = None, choices: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"min": lo, "max": hi, "choices": choices}


@dataclass
class InlineSettings:
    """Ghost-text phrases (``textDocument/inlineCompletion``)."""

    enabled: bool = True  # offer a phrase as ghost text, for editors that show it
    max_words: int = field(default=4, metadata=_limits(1, 16))  # longest phrase offered, in words
    min_probability: float = field(
        default=0.25, metadata=_limits(0.0, 1.0)
    )  # the phrase as a whole must be at least this likely


@dataclass
class TrainingSettings:
    """``nextword.trainWorkspace``."""

    max_minutes: float = field(
        default=30.0, metadata=_limits(0.0, 1440.0)
    )  # training on the workspace stops after this many minutes (0: no limit)


@dataclass
class LearningSettings:
    """Learning from the workspace's notes and what is written, with no training run."""

    enabled: bool = True  # read the workspace folders' notes and learn every file saved or changed
    outside_folders: bool = True  # learn files saved outside every workspace folder too (in a store of their own)
    max_words: int = field(
        default=5_000_000, metadata=_limits(0, 50_000_000)
    )  # the most words learned from all folders together; files past it are left out (and counted)
    max_file_kb: int = field(default=1024, metadata=_limits(1, 1_048_576))  # files larger than this are skipped


@dataclass
class Settings:
    """Everything a user can set; every field has a default."""

    model_path: str = (
        ""  # model file (.safetensors); empty: your trained model if there is one, else the shipped default
    )
    max_items: int = field(default=10, metadata=_limits(1, 100))  # most completion items offered at once
    min_probability: float = field(
        default=0.75, metadata=_limits(0.0, 1.0)
    )  # a next-word list opens after a space or a trigger character only when its first three words hold at least this share of the list's probability (the chance that the next word, if the list holds it, is among them)
    trigger_characters: list[str] = field(
        default_factory=lambda: [" ", "(", "[", '"', "“", "/", ".", "-"]
    )  # single characters after which next-word suggestions are offered
    # The last Hangul syllable typed may be one an input method is still composing (editors
    # that show it in the text: VS Code, Emacs, Sublime Text, Zed), so it is matched by its
    # keys (몯 on the way to 모델); editors in a terminal receive whole syllables: false there.
    hangul_composing: bool = True
    inline: InlineSettings = field(default_factory=InlineSettings)  # ghost-text phrases
    training: TrainingSettings = field(default_factory=TrainingSettings)  # training on the workspace
    learning: LearningSettings = field(default_factory=LearningSettings)  # learning from the workspace's notes
    log_level: str = field(
        default="info", metadata=_limits(choices=LOG_LEVELS)
    )  # error, warning, info, debug, or trace (only trace logs document text)
    max_live_documents: int = field(
        default=16, metadata=_limits(1, 256)
    )  # documents that keep model state at once; others recompute it when next used


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _describe(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + "..."


def _check(value: Any, kind: Any, meta: dict[str, Any]) -> tuple[Any, str | None]:
    """``value`` converted to ``kind``, or None and what was expected."""
    lo: Any = meta.get("min")  # set for every number setting
    hi: Any = meta.get("max")
    choices = meta.get("choices") or ()
    if kind is bool:
        return (value, None) if isinstance(value, bool) else (None, "true or false")
    if kind is int:
        expect = f"a whole number from {lo} to {hi}"
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            return None, expect
        return value, None
    if kind is float:
        expect = f"a number from {lo:g} to {hi:g}"
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not math.isfinite(value)
            or not lo <= value <= hi
        ):
            return None, expect
        return float(value), None
    if kind is str:
        if not isinstance(value, str):
            return None, f"one of {', '.join(choices)}" if choices else "a string"
        if choices:
            lowered = value.strip().lower()
            return (lowered, None) if lowered in choices else (None, f"one of {', '.join(choices)}")
        return value, None
    if typing.get_origin(kind) is list:  # list[str] of single characters
        expect = 'a list of single characters, like [" ", "("]'
        if not isinstance(value, list) or not all(isinstance(c, str) and len(c) == 1 for c in value):
            return None, expect
        return list(dict.fromkeys(value)), None
    raise TypeError(f"no parser for {kind}")


def _fill(cls: type, raw: dict[str, Any], prefix: str, problems: list[str], unknown: list[str]) -> Any:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    known = set()
    for f in dataclasses.fields(cls):
        key = camel(f.name)
        known.add(key)
        if key not in raw or raw[key] is None:
            continue
        kind, value, name = hints[f.name], raw[key], prefix + key
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            if isinstance(value, dict):
                values[f.name] = _fill(kind, value, name + ".", problems, unknown)
            else:
                problems.append(
                    f"nextword: setting {name} must be an object of settings, not {_describe(value)}; using the defaults."
                )
            continue
        checked, expected = _check(value, kind, dict(f.metadata))
        if expected is None:
            values[f.name] = checked
        else:
            default = getattr(cls(), f.name)
            problems.append(
                f"nextword: setting {name} must be {expected}, not {_describe(value)}; using the default {_describe(default)}."
            )
    unknown.extend(prefix + key for key in raw if key not in known)
    return cls(**values)


def parse_settings(raw: Any) -> tuple[Settings, list[str], list[str]]:
    """Settings from a JSON object, the sentences describing bad values, and unknown keys."""
    problems: list[str] = []
    unknown: list[str] = []
    if raw is None:
        return Settings(), problems, unknown
    if not isinstance(raw, dict):
        problems.append(f"nextword: settings must be an object, not {_describe(raw)}; using the defaults.")
        return Settings(), problems, unknown
    return _fill(Settings, raw, "", problems, unknown), problems, unknown


def not_an_object(value: Any) -> str:
    """The warning for a ``nextword`` settings section that is not an object."""
    return f"nextword: the nextword settings must be an object, not {_describe(value)}; using the defaults."


def section_of(raw: Any) -> dict[str, Any] | None:
    """The ``nextword`` settings in a configuration payload: either the payload itself or
    its ``nextword`` member (clients differ in which they send). None when absent."""
    if not isinstance(raw, dict):
        return None
    inner = raw.get(SECTION)
    if isinstance(inner, dict):
        return inner
    known = {camel(f.name) for f in dataclasses.fields(Settings)}
    return raw if known & raw.keys() else None


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` laid on top, nested objects merged key by key."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def to_json(settings: Any) -> dict[str, Any]:
    """Settings as the JSON a client would send (camelCase keys)."""
    return {
        camel(f.name): (to_json(v) if dataclasses.is_dataclass(v := getattr(settings, f.name)) else v)
        for f in dataclasses.fields(settings)
    }
