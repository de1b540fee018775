"""``sinc``, NumPy's normalised ``sin(pi x) / (pi x)`` (1 at 0), as an elementwise rule.

Its derivative ``(cos(pi x) - sinc(x)) / x`` is 0/0 at 0 and cancels
digits near it, so near 0 the partial is the Taylor series of the
derivative instead: exact at 0 for every derivative up to the series'
degree (second derivative ``-pi^2 / 3``, fourth ``pi^4 / 5``, ...). The
branch is taken on the value under any lifted levels.

>>> bool(SINC.impl[0](0.5) == np.sinc(0.5))
True
"""

from __future__ import annotations

import cmath
import math
from typing import Any

import mpmath
import numpy as np

from .backends import COMPLEX, FLOAT, MP, NUMPY, Backend
from .kinds import Elementwise, register

#: |x| below this uses the series of the derivative (|pi x| < 0.8: 16 terms reach 1e-17)
_SMALL = 0.25
_TERMS = 16


def _float_sinc(x: Any) -> Any:
    y = math.pi * (x if x != 0 else 1.0e-20)  # NumPy's own formula, so values agree to the bit
    return math.sin(y) / y


def _complex_sinc(x: Any) -> Any:
    y = math.pi * (x if x != 0 else 1.0e-20)
    return cmath.sin(y) / y


def _evaluate(m: Backend, x: Any) -> Any:
    if m is FLOAT:
        return _float_sinc(x)
    if m is COMPLEX:
        return _complex_sinc(x)
    if m is MP:
        return mpmath.sincpi(x)
    if m is NUMPY:
        return np.sinc(x)
    raise TypeError(f"sinc has no implementation for {m.name} values")


def _plain(v: Any) -> Any:
    while hasattr(v, "primal") and hasattr(v, "level"):
        v = v.primal
    return v


def _series(m: Any, x: Any) -> Any:
    """``sum_{k >= 1} (-1)^k 2k pi^2k x^(2k-1) / (2k+1)!``: the derivative of sinc near 0."""
    # mpmath values (also under nested levels, where m is the generic namespace) need more terms
    exact = isinstance(_plain(x), (mpmath.mpf, mpmath.mpc))
    terms = 16 + mpmath.mp.prec // 3 if exact else _TERMS
    pi2 = m.pi(x) * m.pi(x)
    x2 = x * x
    total = m.zero(x)
    power = x * pi2  # pi^2k x^(2k-1), k = 1
    for k in range(1, terms + 1):
        term = power * (2 * k) / math.factorial(2 * k + 1)  # integer coefficients: exact at any precision
        total = total - term if k % 2 else total + term
        power = power * pi2 * x2
    return total


def _near_zero(x: Any) -> Any:
    """|x| < _SMALL on the value (a bool, or a mask for arrays).

    A symbol (a trace's formula, the cost model's counter, generated code) has
    no value to decide with: refuse, so that the caller takes the partial by
    its value (traces, compiled code call this function) or estimates it.
    """
    v = _plain(x)
    if isinstance(v, (int, float, complex, np.ndarray, np.generic, mpmath.mpf, mpmath.mpc)):
        return np.abs(v) < _SMALL
    raise TypeError("sinc's derivative takes a series or a formula by the value of x: it has no symbolic form")


def _dsinc(m: Any, y: Any, x: Any) -> Any:
    small = _near_zero(x)
    if np.ndim(small) == 0:
        if small:
            return _series(m, x)
        return (m.cos(m.pi(x) * x) - y) / x
    plain = np.asarray(_plain(x))
    mask = small.astype(plain.dtype if plain.dtype.kind in "fc" else float)
    away = x + mask  # x where the formula is used, x + 1 (nonzero) where the series is
    z = m.pi(x) * away
    # the series at x * mask: 0 (not a huge power) where the formula is used
    return _series(m, x * mask) * mask + (m.cos(z) - m.sin(z) / z) / away * (1 - mask)


#: ``np.sinc`` (normalised: ``sin(pi x) / (pi x)``).
SINC = register(Elementwise("sinc", 1, "sinc({0})", partials=(_dsinc,), evaluate=_evaluate))

__all__ = ["SINC"]
