"""A workspace folder (or the store of files outside every folder) as learning holds it: its
store once loaded, its state, and what ``nextword.status`` says of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .workspace_store import FolderStore, outside_store_path, store_path


class Folder:
    """A workspace folder and what was learned from it (``path`` None: the outside store)."""

    def __init__(self, path: Path | None):
        self.path = path
        self.store: FolderStore | None = None
        self.state = "reading"
        self.error = ""
        self.new_words = 0  # words the vocabulary in use lacks, as last mixed
        self.cap_said = False  # the person was told that learning.maxWords left files out

    @property
    def store_file(self) -> Path:
        return outside_store_path() if self.path is None else store_path(self.path)

    def entry(self, enabled: bool) -> dict[str, Any]:
        store = self.store
        return {
            "folder": str(self.path) if self.path is not None else None,
            "state": self.state if enabled else "off",
            "files": store.file_count if store else 0,
            "words": store.word_count if store else 0,
            "newWords": self.new_words if store else 0,
            "skipped": dict(store.skipped) if store else {},
            "leftOut": store.left_out if store else 0,
            "error": self.error or None,
        }
