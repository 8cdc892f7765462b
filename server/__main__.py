"""``python -m nextword.server``: the language server, as ``nextword serve``.

It goes straight to the ``serve`` subcommand rather than through ``cli.main``, which first
imports every subcommand's module to build its parsers (some tens of milliseconds of a
start-up whose answer to ``initialize`` an editor waits for).
"""

import argparse
import sys

from . import cli_serve
from .cli import run_subcommand

parser = argparse.ArgumentParser(prog="python -m nextword.server", description=cli_serve.DESCRIPTION)
cli_serve.add_arguments(parser)
sys.exit(run_subcommand("serve", cli_serve.run, parser.parse_args()))
