"""The exceptions dualdiff raises, so users can catch them by name."""

from __future__ import annotations


class DomainError(ValueError):
    """A real argument lies outside a function's real domain.

    Raised for every number type alike (floats, mpmath reals, NumPy arrays):
    ``dd.log(-1.0)``, ``dd.sqrt(np.array([-1.0]))``. Complex arguments use
    the principal branch and never raise this.

    >>> import dualdiff as dd
    >>> try:
    ...     dd.log(-1.0)
    ... except dd.DomainError as e:
    ...     print(e)
    log: argument -1.0 is outside the domain x >= 0
    """


class NoRuleError(TypeError):
    """A function has no derivative rule in dualdiff.

    >>> import numpy as np, dualdiff as dd
    >>> try:
    ...     dd.jvp(np.fft.fft, np.ones(4), np.ones(4))
    ... except dd.NoRuleError as e:
    ...     print(e)
    np.fft.fft has no derivative rule in dualdiff
    """
