"""The ``nextword`` command: parses arguments and hands each subcommand to its module.

Subcommand modules expose ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``, and
import torch only inside ``run`` so that ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

SUBCOMMANDS = {
    "predict": "nextword.server.cli_predict",
    "generate": "nextword.server.cli_generate",
    "info": "nextword.server.cli_info",
    "train": "nextword.training.cli_train",
    "eval": "nextword.training.cli_eval",
    "serve": "nextword.server.cli_serve",
    "forget": "nextword.training.cli_forget",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nextword",
        description="Local next-word autocomplete: a small LSTM language model, trainable on your own notes, served over the Language Server Protocol.",
        epilog="Run `nextword COMMAND --help` for the options of one command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name != module_name:
                raise
            continue  # a subcommand not built yet
        p = sub.add_parser(name, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP))
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Idle OpenMP threads that spin starve everything else on a busy laptop (and themselves:
    # ten times slower training when another program wants a core). Must precede torch's import.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_subcommand(args.command, args._module.run, args)


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


if __name__ == "__main__":
    sys.exit(main())
