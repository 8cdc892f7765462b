"""The protocol's split of a corpus: which files are test data (never trained on), and which
training files are held out for validation while training."""

from __future__ import annotations

import hashlib


def _bucket(key: str, buckets: int) -> int:
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % buckets


def is_test_file(relative_path: str) -> bool:
    """A tenth of the files, chosen by the SHA-1 of their relative path ('/' separators)."""
    return _bucket(relative_path, 10) == 0


def is_validation_file(relative_path: str) -> bool:
    """About a twentieth of the training files, held out to measure progress while training."""
    return _bucket(f"valid:{relative_path}", 20) == 0
