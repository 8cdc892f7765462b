"""Where models live: the shipped default inside the package, the user's own in the data folder."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "nextword"
MODEL_FILENAME = "model.safetensors"


def data_dir() -> Path:
    """The user's nextword data folder (``NEXTWORD_DATA_DIR`` overrides the platform default)."""
    override = os.environ.get("NEXTWORD_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    """Where logs go (``NEXTWORD_LOG_DIR`` overrides the platform default)."""
    override = os.environ.get("NEXTWORD_LOG_DIR")
    return Path(override) if override else Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Where nextword keeps what it can always rebuild (``NEXTWORD_CACHE_DIR`` overrides the
    platform default)."""
    override = os.environ.get("NEXTWORD_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def user_model_path() -> Path:
    """The model ``nextword train`` writes by default and the server prefers over the shipped one."""
    return data_dir() / MODEL_FILENAME


def default_model_path() -> Path:
    """The model that ships inside the package, trained on public technical English and Korean."""
    return Path(__file__).resolve().parent / "data" / "default.safetensors"


def resolve_model_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The model to use: ``explicit`` if given, else the user's trained model, else the default."""
    if explicit:
        return Path(explicit).expanduser()
    user = user_model_path()
    return user if user.is_file() else default_model_path()


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name the same file (through links too); False when either
    cannot be looked at."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except (OSError, RuntimeError):  # RuntimeError: a loop of symbolic links
        return False
