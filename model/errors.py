"""The error type for problems a user can cause and fix (a missing file, a bad setting)."""


class NextwordError(Exception):
    """One clear sentence naming the problem and the fix; shown to the user without a traceback."""
