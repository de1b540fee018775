"""What generated code raises to its caller: a guard that went the other way, or a case for eager mode."""

from __future__ import annotations

__all__ = ["Fallback", "GuardFailed"]


class GuardFailed(Exception):
    """Raised by generated code where a guard of the program goes the other way (a retrace is due)."""


class Fallback(Exception):
    """Raised by generated code where only eager mode knows the answer (a domain error, say)."""
