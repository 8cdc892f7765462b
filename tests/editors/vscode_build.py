"""Building the VS Code extension from the tests: npm ci when node_modules is missing, and the
packaged .vsix (built once per test session)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from .support import EDITORS

VSCODE = EDITORS / "vscode"
VSIX = VSCODE / "nextword.vsix"


def npm_missing() -> str | None:
    """Why the extension cannot be built here, or None."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return (
                f"{tool} is not installed (Node.js 20 and npm build the VS Code extension: apt-get install nodejs npm)"
            )
    return None


def npm(*args: str, timeout: float = 600) -> str:
    """Run npm in editors/vscode (installing its packages first if needed); its output."""
    install_packages()
    return _run(["npm", *args], timeout)


def _run(command: list[str], timeout: float) -> str:
    env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false", npm_config_audit="false")
    done = subprocess.run(command, cwd=VSCODE, env=env, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({done.returncode}):\n{output[-6000:]}")
    return output


@functools.cache
def install_packages() -> None:
    if not (VSCODE / "node_modules" / ".bin" / "vsce").exists():
        _run(["npm", "ci"], 900)


@functools.cache
def package_vsix() -> Path:
    """`npm run package`: the .vsix, built once per session."""
    npm("run", "package")
    assert VSIX.is_file()
    return VSIX
