"""What every subcommand of the ``dualdiff`` command shares."""

from __future__ import annotations

from typing import Any

#: What ``add_subparsers`` returns; each ``register_*`` function receives it.
Subparsers = Any


class CommandError(Exception):
    """A failure to report as one line ``dualdiff <command>: error: <message>``, with an exit status.

    >>> CommandError("bad --at", status=2).status
    2
    """

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
