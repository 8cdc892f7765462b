"""The ``nextword`` command: the one registry of its subcommands, and its entry point.

Each subcommand is named here with its one-line summary and the module that runs it, as
pip's command registry does. A module is imported only when its command runs (or its own
``--help`` is asked), so ``nextword --help`` lists every command without importing any of
them, and so without torch. A subcommand's module has ``add_arguments(parser)`` and
``run(args) -> int``, and may have a longer ``DESCRIPTION`` for its own ``--help``; it imports
torch only inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from nextword.training.command import prepare_process, run_subcommand

__all__ = ["COMMANDS", "Subcommand", "build_parser", "main", "run_subcommand"]


@dataclass(frozen=True)
class Subcommand:
    """One subcommand of ``nextword``."""

    module: str  # the module that adds its arguments and runs it
    summary: str  # one line, shown by `nextword --help`


COMMANDS: dict[str, Subcommand] = {
    "predict": Subcommand(
        "nextword.server.cli_predict", "suggest the next word (or complete the word being typed) for some text"
    ),
    "generate": Subcommand("nextword.server.cli_generate", "continue a piece of text by sampling from the model"),
    "info": Subcommand("nextword.server.cli_info", "describe a model file and show where nextword keeps its models"),
    "train": Subcommand(
        "nextword.training.cli_train", "train the model on your notes (by default it becomes the model the server uses)"
    ),
    "eval": Subcommand(
        "nextword.training.cli_eval",
        "measure the keystrokes a model saves on the test split of a corpus (type-through protocol)",
    ),
    "serve": Subcommand("nextword.server.cli_serve", "run the language server (stdio by default)"),
    "forget": Subcommand(
        "nextword.server.cli_forget",
        "delete your trained model, its training state, what the server learned from your workspaces, and caches (after listing them)",
    ),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``nextword``, every subcommand listed with its summary; only ``command``'s
    module is imported, to add its arguments."""
    parser = argparse.ArgumentParser(
        prog="nextword",
        description="Local next-word autocomplete: a small LSTM language model, trainable on your own notes, "
        "served over the Language Server Protocol.",
        epilog="Run `nextword COMMAND --help` for the options of one command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, entry in COMMANDS.items():
        if name != command:
            sub.add_parser(name, help=entry.summary)
            continue
        module = importlib.import_module(entry.module)
        own = sub.add_parser(name, help=entry.summary, description=getattr(module, "DESCRIPTION", entry.summary))
        module.add_arguments(own)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    prepare_process()
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    args = build_parser(command).parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command].module)
    return run_subcommand(args.command, module.run, args)


if __name__ == "__main__":
    sys.exit(main())
