"""A bytecode cache for the code that attrs and cattrs generate, so the server starts fast.

``lsprotocol.types`` defines some 550 attrs classes; attrs writes each one's ``__init__``,
``__eq__`` and ``__repr__`` as source text and compiles it at import time, and cattrs does
the same for every converter it builds. Compiling is most of the 0.35 s that importing the
protocol types takes, and it happens again in every new server process, although the
source is the same each time.

This module gives those libraries a ``compile`` that remembers its results: a code object
is stored (marshalled, as in a ``.pyc`` file) under a hash of the source, file name and
mode, in one file per Python version in the user's cache folder. Evaluation is untouched:
the libraries still run the code in their own namespaces, so a cached code object behaves
exactly as a freshly compiled one. A missing, unreadable or foreign cache file only means
compiling as before.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import marshal
import os
import sys
import tempfile
import threading
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

log = logging.getLogger(__name__)

# The modules whose calls of ``compile`` go through the cache (the name is looked up in the
# module's globals before the builtins, so a global of that name takes the calls).
GENERATORS = ("attr._make", "cattrs.gen", "cattrs.gen.typeddicts")
# Bytecode is specific to the interpreter version (``cpython-311``, say).
_TAG = sys.implementation.cache_tag or "python"
_MAGIC = b"nextword-code-cache-1\n"
# Entries kept beyond those this process used (the protocol types and their converters make
# about 600): room for those of other library versions, while the file stays bounded (a few
# generated sources differ in every process: attrs writes a per-process hash salt into them).
MAX_ENTRIES = 2048


class CodeCache:
    """Compiled code by the hash of what was compiled, loaded from and saved to ``path``."""

    def __init__(self, path: Path):
        self.path = path
        self._code: dict[bytes, CodeType] = {}
        self._added = 0
        self._used: set[bytes] = set()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def load(self) -> None:
        try:
            data = self.path.read_bytes()
        except OSError:
            return
        if not data.startswith(_MAGIC):
            return
        try:
            code = marshal.loads(data[len(_MAGIC) :])
        except (EOFError, ValueError, TypeError):
            log.debug("ignoring a damaged code cache %s", self.path)
            return
        if isinstance(code, dict):
            self._code = {k: v for k, v in code.items() if isinstance(k, bytes) and isinstance(v, CodeType)}

    def compile(self, source: Any, filename: Any, mode: str, *args: Any, **kwargs: Any) -> Any:
        """``builtins.compile``, answered from the cache for plain source text."""
        if args or kwargs or not isinstance(source, str) or not isinstance(filename, str):
            return builtins.compile(source, filename, mode, *args, **kwargs)
        key = hashlib.blake2b(f"{mode}\0{filename}\0{source}".encode("utf-8", "surrogatepass"), digest_size=16).digest()
        code = self._code.get(key)
        if code is not None:
            self.hits += 1
            self._used.add(key)
            return code
        self.misses += 1
        code = builtins.compile(source, filename, mode)
        with self._lock:
            self._code[key] = code
            self._used.add(key)
            self._added += 1
        return code

    def save(self) -> None:
        """Write the cache if it learned something new (atomically; failures are only logged)."""
        with self._lock:
            if not self._added:
                return
            # What this process used first, then older entries while there is room.
            snapshot = {key: self._code[key] for key in self._used}
            for key, code in self._code.items():
                if len(snapshot) >= MAX_ENTRIES:
                    break
                snapshot.setdefault(key, code)
            self._added = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                dir=self.path.parent, prefix=self.path.name, suffix=".tmp", delete=False
            ) as out:
                out.write(_MAGIC + marshal.dumps(snapshot))
            os.replace(out.name, self.path)
        except OSError as exc:
            log.debug("could not save the code cache %s: %s", self.path, exc)
            try:
                os.unlink(out.name)
            except (OSError, UnboundLocalError):
                pass


_installed: CodeCache | None = None


def default_path() -> Path:
    from nextword.model.paths import cache_dir

    return cache_dir() / f"generated-code.{_TAG}.bin"


def install(path: Path | None = None) -> CodeCache:
    """Route the generators' ``compile`` through a cache loaded from ``path``; call before
    importing ``lsprotocol.types``. Installing twice returns the first cache."""
    global _installed
    if _installed is not None:
        return _installed
    import importlib

    cache = CodeCache(path or default_path())
    cache.load()
    for name in GENERATORS:
        try:
            module: ModuleType = importlib.import_module(name)
        except ImportError:
            continue
        module.compile = cache.compile  # type: ignore[attr-defined]
    _installed = cache
    return cache


def save() -> None:
    """Save the installed cache, if any, with what it learned since it was loaded."""
    if _installed is not None:
        _installed.save()
