"""Taylor mode's special cases: elementwise rules with a coefficient recurrence of their own.

Every elementwise rule works in Taylor mode without an entry here: the
generic route (:func:`dualdiff.modes.taylor.generic_series`) gets the
coefficients from the rule's partials alone. An entry exists only where that
route would cost more than O(d^2) operations per application or lose
accuracy:

* the partial needs the rule's own value ``y`` (exp: ``y``; division:
  ``-y/b``; sqrt: ``0.5/y``; tan, tanh, sigmoid, cbrt, exp2, hypot), which the
  generic route can only build order by order, in O(d^3);
* the partial's own series would recurse through d levels (sin needs cos,
  which needs sin, ...; powers need lower powers);
* the product, square and quotient, which every other series uses.

A kernel ``kernel(m, y0, xs, series)`` gets the math namespace ``m`` of the
values, the value ``y0`` the rule computed (so domain errors, IEEE limits and
the rule's accurate algorithm for the value apply), the arguments' values
``xs`` and, per argument, its full coefficient list or None for a constant.
It returns the output's coefficient list ``[y0, y1, ..., yd]``, or None to
hand the case to the generic route (a power at a zero base, say, where the
recurrence would divide by zero but the rule's policy gives exact values).
Each is tested against the generic route and against mpmath.

Kernels are keyed by rule object: a rule registered under a built-in's name
(``replace=True``) is a new rule, and the generic route follows its partials.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np

from ..rules import elementwise as ew
from ..rules.kinds import Elementwise
from . import series as sr
from .core import strip_all

Kernel = Callable[[Any, Any, list[Any], list[Any]], Any]


def _nonzero(v: Any) -> bool:
    """True where ``v`` has no zero element (plain comparisons on Python floats)."""
    if type(v) is float:
        return v != 0.0
    return bool(np.all(v != 0))


def _log_safe(v: Any) -> bool:
    """True where the principal log of ``v`` is finite and, for real values, real."""
    if type(v) is float:
        return v > 0.0
    inner = strip_all(v)
    if isinstance(inner, mpmath.mpc) or np.iscomplexobj(inner):
        return _nonzero(v)
    return bool(np.all(v > 0))


def _with_y0(ys: list[Any], y0: Any) -> list[Any]:
    ys[0] = y0
    return ys


# -- arithmetic ------------------------------------------------------------


def _mul(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    a, b = s
    if b is None:
        return _with_y0(sr.scale(a, xs[1]), y0)
    if a is None:
        return _with_y0([xs[0] * bk for bk in b], y0)
    return _with_y0(sr.mul(a, b), y0)


def _truediv(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    a, b = s
    if b is None:
        c = xs[1]
        return _with_y0([ak / c for ak in a], y0)
    return sr.divide(a, b, y0)


def _reciprocal(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    return sr.divide(None, s[0], y0)


def _square(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    return _with_y0(sr.square(s[0]), y0)


def _integer(e: Any) -> int | None:
    """A constant exponent that is a non-negative Python/NumPy integer (or an integral float)."""
    if isinstance(e, (bool, np.bool_)):
        return None
    if isinstance(e, (int, np.integer)):
        return int(e) if e >= 0 else None
    if isinstance(e, (float, np.floating)) and float(e).is_integer() and 0 <= e <= 2**31:
        return int(e)
    return None


def _pow(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    a, b = s
    if b is None:  # a constant exponent
        e = xs[1]
        n = _integer(e)
        if n is not None:  # repeated squaring: exact at a zero base too
            if n == 0:
                z = m.zero(y0)
                return [y0] + [z] * (len(a) - 1)
            return _with_y0(sr.integer_power(a, n), y0)
        if _nonzero(xs[0]):
            return sr.power_series(a, y0, e)
        return None  # a zero base: the rule's policy (dpow) via the generic route
    # a variable exponent: a ** b = exp(b log a), where log a is defined
    if not _log_safe(xs[0]):
        return None
    if a is None:
        z = sr.scale(b, m.log(xs[0]))
    else:
        z = sr.mul(b, sr.log_series(a, m.log(xs[0])))
    return sr.exp_series(z, y0)


# -- roots, exponentials, logarithms ---------------------------------------


def _sqrt(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    return sr.sqrt_series(s[0], y0)


def _sqrt0(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    # at 0 the rule's policy (derivative 0) comes from the generic route
    return sr.sqrt_series(s[0], y0) if _nonzero(y0) else None


def _cbrt(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    if not _nonzero(xs[0]):
        return None  # the infinite slope at 0: the rule's policy via the generic route
    return sr.power_series(s[0], y0, m.const(xs[0], 1) / 3)


def _exp(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    return sr.exp_series(s[0], y0)


def _exp2(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    return sr.exp_series(s[0], y0, m.log(m.const(xs[0], 2)))


def _expm1(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    return sr.expm1_series(s[0], y0, m.exp(xs[0]))


def _log(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    return sr.log_series(s[0], y0)


def _log_base(base: int) -> Kernel:
    def kernel(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
        ys = sr.log_series(s[0], y0)
        c = m.log(m.const(xs[0], base))
        return [y0] + [yk / c for yk in ys[1:]]

    return kernel


def _log1p(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    return sr.log_series(s[0], y0, 1 + xs[0])


# -- trigonometric and hyperbolic ------------------------------------------


def _sin(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    return sr.sin_cos(s[0], y0, m.cos(xs[0]))[0]


def _cos(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    return sr.sin_cos(s[0], m.sin(xs[0]), y0)[1]


def _sinh(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    return sr.sin_cos(s[0], y0, m.cosh(xs[0]), hyperbolic=True)[0]


def _cosh(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    return sr.sin_cos(s[0], m.sinh(xs[0]), y0, hyperbolic=True)[1]


def _tan(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    return sr.riccati(s[0], y0, 1 + y0 * y0, 1)


def _tanh(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    # tanh' = sech^2 at the point, not 1 - y0^2 (which cancels where |y0| is near 1)
    return sr.riccati(s[0], y0, m.reciprocal(m.square(m.cosh(xs[0]))), -1)


def _sigmoid(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    # s' = s(x) s(-x) at the point, not y0 (1 - y0), which cancels where y0 is near 1
    return sr.logistic(s[0], y0, y0 * m.sigmoid(-xs[0]))


def _hypot(m: Any, y0: Any, xs: list[Any], s: list[Any]) -> Any:
    """``|b| sqrt(1 + (a/b)^2)`` with ``b`` the larger argument at the point (elementwise).

    The plain ``sqrt(a^2 + b^2)`` recurrence cancels where one argument
    dominates: its higher coefficients are O(a^2) differences of O(1) terms.
    The ratio form keeps every term at the size of the result.
    """
    if not _nonzero(y0):
        return None  # the origin: the rule's policy (zero partials) via the generic route
    n = len(s[0] if s[0] is not None else s[1])
    a, b = (x if x is not None else [c] + [0 * c] * (n - 1) for x, c in zip(s, xs))
    swap = abs(xs[0]) >= abs(xs[1])  # put the larger argument in the denominator
    big = [_select(swap, p, q) for p, q in zip(a, b)]
    small = [_select(swap, q, p) for p, q in zip(a, b)]
    r = sr.divide(small, big, small[0] / big[0])
    u = sr.square(r)
    root = sr.sqrt_series([1 + u[0], *u[1:]], m.sqrt(1 + u[0]))
    sign = _select(big[0] < 0, -1, 1)
    ys = sr.mul([sign * c for c in big], root)
    ys[0] = y0
    return ys


def _select(cond: Any, p: Any, q: Any) -> Any:
    """``p`` where ``cond`` holds, else ``q``: a Python choice for one condition, ``np.where`` for arrays."""
    if isinstance(cond, (bool, np.bool_)):
        return p if cond else q
    return np.where(cond, p, q)


#: The special cases, by rule object.
KERNELS: dict[Elementwise, Kernel] = {
    ew.MUL: _mul,
    ew.TRUEDIV: _truediv,
    ew.RECIPROCAL: _reciprocal,
    ew.SQUARE: _square,
    ew.POW: _pow,
    ew.SQRT: _sqrt,
    ew.SQRT0: _sqrt0,
    ew.CBRT: _cbrt,
    ew.EXP: _exp,
    ew.EXP2: _exp2,
    ew.EXPM1: _expm1,
    ew.LOG: _log,
    ew.LOG2: _log_base(2),
    ew.LOG10: _log_base(10),
    ew.LOG1P: _log1p,
    ew.SIN: _sin,
    ew.COS: _cos,
    ew.SINH: _sinh,
    ew.COSH: _cosh,
    ew.TAN: _tan,
    ew.TANH: _tanh,
    ew.SIGMOID: _sigmoid,
    ew.HYPOT: _hypot,
}
