"""The one exception type the CLI turns into a readable line on stderr."""


class OffSimError(Exception):
    """Bad input or an unusable file; the message names what failed and how to fix it."""
