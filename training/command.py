"""Running one subcommand of ``nextword``: its exit status, and a problem the user can fix said
in one line rather than a traceback.

The ``nextword`` command (server/cli.py) and ``python -m nextword.training`` both run their
subcommands through here, so training can run without the server package.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable


def prepare_process() -> None:
    """Settings a command's process needs before torch is imported."""
    # Idle OpenMP threads that spin starve everything else on a busy laptop, and themselves:
    # training slows many times over when another program wants a core.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def run_subcommand(command: str, run: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """``run(args)``'s exit status, with a problem the user can fix said in one line."""
    from nextword.model.errors import NextwordError

    try:
        return int(run(args) or 0)
    except NextwordError as e:
        print(f"nextword {command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nextword {command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
