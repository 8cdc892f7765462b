"""``python -m nextword.server``: the language server, as ``nextword serve``.

It goes straight to the ``serve`` subcommand rather than through ``cli.main``: the server
must answer ``initialize`` within half a second of starting, and ``cli.main`` imports the
model package (and with it torch, 1-2 s) before it parses anything.
"""

import argparse
import sys

from . import cli_serve

parser = argparse.ArgumentParser(prog="python -m nextword.server", description=cli_serve.DESCRIPTION)
cli_serve.add_arguments(parser)
sys.exit(cli_serve.run(parser.parse_args()))
