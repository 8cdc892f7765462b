"""What a safetensors file says of itself, read from its header alone (no tensor is read,
and nothing heavier than the standard library is imported)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def header_format(path: str | os.PathLike[str]) -> str | None:
    """The ``format`` a safetensors file's header metadata names (None when ``path`` is not a
    regular file with a readable header), judged by the header alone: a file damaged further
    on still has one."""
    path = Path(path)
    try:
        if not path.is_file():
            return None
        with path.open("rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if not 2 <= size <= 100_000_000:  # safetensors' own limit on a header
                return None
            header = json.loads(f.read(size))
    except (OSError, ValueError):
        return None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    found = metadata.get("format") if isinstance(metadata, dict) else None
    return found if isinstance(found, str) else None
