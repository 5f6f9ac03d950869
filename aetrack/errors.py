"""The one exception type for problems a user can cause (bad files, bad settings)."""


class AetrackError(Exception):
    """A user-facing error; the CLI prints its message on one line and exits non-zero."""
