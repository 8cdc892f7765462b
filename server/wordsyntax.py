"""What a word is, for the server, without importing torch.

The one definition of a word lives in ``nextword.model.tokenize``. Importing it the usual
way runs ``nextword.model/__init__``, which imports torch (1-2 s), and the server must
answer ``initialize`` long before that. So this module loads that same file on its own and
registers it under its real name: when the model package is imported later (in the
background), Python finds the module already loaded and uses this very copy. There is one
tokenizer in the process, never a second definition.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

_NAME = "nextword.model.tokenize"


def _load_tokenize() -> ModuleType:
    module = sys.modules.get(_NAME)
    if module is not None:
        return module
    # find_spec on the package imports its parent (`nextword`) but does not run the package itself.
    package = importlib.util.find_spec("nextword.model")
    if package is None or not package.submodule_search_locations:
        raise ImportError("nextword.model is not installed")
    path = Path(list(package.submodule_search_locations)[0]) / "tokenize.py"
    spec = importlib.util.spec_from_file_location(_NAME, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_NAME]
        raise
    return module


tokenize = _load_tokenize()

WORD_PATTERN: str = tokenize.WORD_PATTERN
WORD_RE: re.Pattern[str] = tokenize.WORD_RE

APOSTROPHES = "'’"
# The word being typed ends at the cursor. It may end in an apostrophe ("don'" on the way to
# "don't"), which the word pattern alone cannot match.
TYPED_WORD_RE = re.compile(rf"(?:{WORD_PATTERN})[{APOSTROPHES}]?\Z")
# A word character right after the cursor means the cursor is inside a word.
WORD_CHAR_RE = re.compile(r"\w")
# Longest stretch before the cursor searched for the typed word; real words are far shorter.
MAX_WORD_LENGTH = 200


def typed_word_start(text: str, cursor: int, line_start: int = 0) -> int:
    """Offset where the word being typed at ``cursor`` starts (``cursor`` when none is)."""
    lo = max(line_start, cursor - MAX_WORD_LENGTH)
    match = TYPED_WORD_RE.search(text, lo, cursor)
    return match.start() if match else cursor


def is_word_char(ch: str) -> bool:
    return bool(ch) and WORD_CHAR_RE.match(ch) is not None
