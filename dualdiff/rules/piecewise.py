"""Piecewise-smooth arithmetic: remainders, floor division and truncation (elementwise rules).

``remainder(a, b) = a - floor(a / b) * b`` (NumPy's ``%``, the sign of ``b``)
and ``fmod(a, b) = a - trunc(a / b) * b`` (C's, the sign of ``a``) have
partials 1 and ``-q`` where ``q`` is the integer quotient, held fixed
between the jumps. The partial with respect to ``b`` is computed from the
value itself, ``(y - a) / b`` rounded to the integer it is, so that it is
consistent with the value even where ``a / b`` rounds across an integer.
``floor_divide`` and ``trunc`` are piecewise constant: derivative 0. At the
jumps the one-sided derivatives of the remainders agree (both are 1 in
``a``), so no midpoint is needed there.

>>> REMAINDER.impl[0](-1.0, 3.0), FMOD.impl[0](-1.0, 3.0)
(2.0, -1.0)
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np

from .backends import COMPLEX, FLOAT, MP, NUMPY, Backend
from .kinds import Elementwise, register


def _complex_refused(name: str) -> Any:
    def refuse(*args: Any) -> Any:
        raise TypeError(f"{name} is not defined for complex arguments; got {', '.join(repr(a) for a in args)}")

    return refuse


def _by_backend(name: str, float_fn: Any, mp_fn: Any, numpy_fn: Any) -> Any:
    """``evaluate(m, *args)``: the function of namespace ``m`` (nested levels dispatch through the rule)."""
    table = {FLOAT.name: float_fn, MP.name: mp_fn, NUMPY.name: numpy_fn, COMPLEX.name: _complex_refused(name)}

    def evaluate(m: Backend, *args: Any) -> Any:
        return table[m.name](*args)

    return evaluate


def _mp_remainder(a: Any, b: Any) -> Any:
    return mpmath.fmod(a, b)  # mpmath's fmod takes the sign of b, as NumPy's remainder


def _mp_fmod(a: Any, b: Any) -> Any:
    r = mpmath.fmod(a, b)
    return r - b if r != 0 and (r < 0) != (a < 0) else r  # the sign of a, as C's fmod


def _mp_trunc(x: Any) -> Any:
    return mpmath.floor(x) if x >= 0 else mpmath.ceil(x)


def _one(m: Any, y: Any, a: Any, b: Any) -> Any:
    return m.zero(y) + 1


def _minus_quotient(m: Any, y: Any, a: Any, b: Any) -> Any:
    return m.round((y - a) / b)


def _zero(m: Any, y: Any, *args: Any) -> Any:
    return m.zero(y)


def _rule(name: str, template: str, evaluate: Any, partials: tuple[Any, ...], ufunc: Any, **kw: Any) -> Elementwise:
    rule = Elementwise(
        name, len(partials), template, partials=partials, evaluate=evaluate, ufunc=ufunc, holomorphic=False, **kw
    )
    return register(rule)


#: ``a % b`` and ``np.remainder`` / ``np.mod`` (the sign of ``b``).
REMAINDER = _rule(
    "remainder",
    "{0} mod {1}",
    _by_backend("remainder", lambda a, b: a % b, _mp_remainder, np.remainder),
    (_one, _minus_quotient),
    np.remainder,
    domain="divisor != 0",
    latex=r"\operatorname{{mod}}",
)
#: ``np.fmod`` (C's remainder, the sign of ``a``).
FMOD = _rule(
    "fmod",
    "fmod({0}, {1})",
    _by_backend("fmod", math.fmod, _mp_fmod, np.fmod),
    (_one, _minus_quotient),
    np.fmod,
    domain="divisor != 0",
)
#: ``a // b`` and ``np.floor_divide``: piecewise constant.
FLOOR_DIVIDE = _rule(
    "floor_divide",
    "{0} // {1}",
    _by_backend("floor_divide", lambda a, b: a // b, lambda a, b: mpmath.floor(a / b), np.floor_divide),
    (_zero, _zero),
    np.floor_divide,
    domain="divisor != 0",
    piecewise_constant=True,
)
#: ``np.trunc`` and ``np.fix``: piecewise constant.
TRUNC = _rule(
    "trunc",
    "trunc({0})",
    _by_backend("trunc", lambda x: float(math.trunc(x)), _mp_trunc, np.trunc),
    (_zero,),
    np.trunc,
    piecewise_constant=True,
)

__all__ = ["FLOOR_DIVIDE", "FMOD", "REMAINDER", "TRUNC"]
