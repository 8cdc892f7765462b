"""``python -m nextword.server``: the language server, as ``nextword serve``."""

import sys

from .cli import main

sys.exit(main(["serve", *sys.argv[1:]]))
