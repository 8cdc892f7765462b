"""The nextword language server (pygls) and the ``nextword`` command line."""
