"""Convolution, correlation, interpolation and polynomials on lifted values.

* ``correlate(a, v)``: a sum of shifted slices, ``sum_n a[n + k] conj(v[n])``,
  one slice per element of the shorter vector (NumPy's swap rule for a longer
  ``v``: the reversed conjugate); ``convolve`` is a correlation with ``v``
  reversed, as NumPy computes it. Both are bilinear in ``a`` and ``v``.
* ``interp``: the segment's linear interpolation, ``fp[j] + t (fp[j+1] - fp[j])``;
  differentiable in ``x``, ``xp`` and ``fp``. At a breakpoint the derivative
  in ``x`` is the midpoint of the two slopes (the policy at kinks); outside
  the range, ``left``/``right`` (constants or lifted) hold.
* ``polyval``: Horner's scheme, exactly NumPy's.

>>> import numpy as np, dualdiff as dd
>>> dd.jacfwd(lambda v: np.convolve(np.array([1.0, 2.0]), v))(np.array([1.0, 0.0]))
array([[1., 0.],
       [2., 1.],
       [0., 2.]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import NoRuleError
from ..rules import arrays as ar
from ..rules.elementwise import ADD, MUL, SUB, TRUEDIV
from ..rules.indices import VALUE_FUNCTIONS_MORE
from ..rules.shaping import PAD
from .core import apply2, apply_general, apply_linear, apply_nondiff, decided, strip_all
from .np_common import _as_operand, _ndim, _shape
from .np_shaping import ravel
from .np_ufuncs import conj


def _vector(name: str, a: Any) -> Any:
    a = _as_operand(a)
    if _ndim(a) == 0:
        from .np_shaping import reshape

        a = reshape(a, (1,))
    if _ndim(a) != 1:
        raise ValueError(f"{name}: object too deep for desired array")
    return a


def _correlate_long_short(a: Any, v: Any, mode: str) -> Any:
    """``correlate`` for ``len(a) >= len(v)``: the sum over n of a shifted slice of ``a`` times ``conj(v[n])``."""
    n, m = _shape(a)[0], _shape(v)[0]
    if mode == "full":
        lo, length = 0, n + m - 1
    elif mode == "same":
        lo, length = (m - 1) - m // 2, n
    elif mode == "valid":
        lo, length = m - 1, n - m + 1
    else:
        raise ValueError(f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})")
    padded = apply_linear(PAD, a, ((m - 1, m - 1),))  # index k' of the full result starts at padded[k']
    cv = conj(v)
    total: Any = None
    for j in range(m):
        term = apply2(MUL, padded[lo + j : lo + j + length], cv[j])
        total = term if total is None else apply2(ADD, total, term)
    return total


def correlate(a: Any, v: Any, mode: str = "valid") -> Any:
    """``np.correlate``: ``c[k] = sum_n a[n + k] conj(v[n])``, bilinear, as shifted slices."""
    a, v = _vector("correlate", a), _vector("correlate", v)
    if _shape(a)[0] == 0 or _shape(v)[0] == 0:
        raise ValueError("v cannot be empty" if _shape(v)[0] == 0 else "a cannot be empty")
    if _shape(v)[0] > _shape(a)[0]:  # NumPy: the reversed conjugate of the swapped correlation
        return conj(_correlate_long_short(v, a, mode)[::-1])
    return _correlate_long_short(a, v, mode)


def convolve(a: Any, v: Any, mode: str = "full") -> Any:
    """``np.convolve``: a correlation with the shorter vector reversed (NumPy's own reduction)."""
    a, v = _vector("convolve", a), _vector("convolve", v)
    if _shape(v)[0] > _shape(a)[0]:
        a, v = v, a
    if _shape(v)[0] == 0:
        raise ValueError("v cannot be empty")
    return _correlate_long_short(a, conj(v)[::-1], mode)


SEARCHSORTED = VALUE_FUNCTIONS_MORE[np.searchsorted]


def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None, period: Any = None) -> Any:
    """``np.interp``: piecewise linear through ``(xp, fp)``; the midpoint of the slopes at a breakpoint."""
    if period is not None:
        raise NoRuleError("np.interp with period= has no derivative rule in dualdiff")
    x, xp, fp = _as_operand(x), _vector("interp", xp), _vector("interp", fp)
    if _ndim(fp) != 1 or _shape(fp) != _shape(xp):
        raise ValueError("fp and xp are not of the same length.")
    if np.iscomplexobj(strip_all(fp)):
        raise NoRuleError("np.interp of complex fp has no derivative rule in dualdiff")
    n = _shape(xp)[0]
    xs, xps = np.asarray(strip_all(x)), np.asarray(strip_all(xp))
    # Every branch below follows from where x falls among xp: how many xp lie below each x and how
    # many at or below it. Read as decisions, a recorded program checks them again at every point.
    for side in ("left", "right"):
        decided(apply_nondiff(SEARCHSORTED, (xp, x), ((("side", side),),)))
    if n == 1:
        seg = _where(xs < xps[0], fp[0] if left is None else left, fp[0] if right is None else right)
        return _where(xs == xps[0], apply2(ADD, fp[0], 0 * xs), seg)
    j = np.clip(np.searchsorted(xps, xs, side="right") - 1, 0, n - 2)
    jl = np.clip(j - 1, 0, n - 2)  # the segment on the left, for breakpoints (the midpoint policy)

    def line(k: Any) -> Any:
        x0, x1, f0, f1 = xp[k], xp[k + 1], fp[k], fp[k + 1]
        slope = apply2(TRUEDIV, apply2(SUB, f1, f0), apply2(SUB, x1, x0))
        return apply2(ADD, apply2(MUL, slope, apply2(SUB, x, x0)), f0)

    inside = line(j)
    knot = (xs == xps[j]) & (j > 0)  # an interior breakpoint: average the two segments' lines
    if np.any(knot):
        inside = _where(knot, apply2(MUL, apply2(ADD, inside, line(jl)), 0.5), inside)
    lo = fp[0] if left is None else left
    hi = fp[-1] if right is None else right
    below, above = xs < xps[0], xs > xps[-1]
    at_first, at_last = xs == xps[0], xs == xps[-1]
    if np.any(at_first) and left is None:  # the kink between the constant left part and the first slope
        inside = _where(at_first, apply2(MUL, apply2(ADD, inside, apply2(ADD, fp[0], 0 * xs)), 0.5), inside)
    if np.any(at_last):
        end = line(np.full(np.shape(xs), n - 2))
        at_end = end if right is not None else apply2(MUL, apply2(ADD, end, apply2(ADD, fp[-1], 0 * xs)), 0.5)
        inside = _where(at_last, at_end, inside)
    return _where(below, lo, _where(above, hi, inside))


def _where(cond: Any, a: Any, b: Any) -> Any:
    return apply_general(ar.WHERE, (np.asarray(cond, dtype=bool), a, b))


def polyval(p: Any, x: Any) -> Any:
    """``np.polyval``: Horner's scheme, ``y = y * x + p[i]``, as NumPy computes it."""
    p, x = _as_operand(p), _as_operand(x)
    y: Any = np.zeros(np.shape(strip_all(x)), dtype=np.result_type(strip_all(x), strip_all(p)))
    for i in range(_shape(p)[0]):
        y = apply2(ADD, apply2(MUL, y, x), p[i])
    return y


def polyder(p: Any, m: int = 1) -> Any:
    """``np.polyder``: the coefficients times their powers (linear in ``p``)."""
    p = ravel(_as_operand(p))
    for _ in range(m):
        n = _shape(p)[0] - 1
        if n <= 0:  # a constant: the zero polynomial
            return apply2(MUL, p[:1], 0.0)
        p = apply2(MUL, p[:-1], np.arange(n, 0, -1, dtype=float))
    return p


HANDLERS: dict[Any, Any] = {
    np.correlate: correlate,
    np.convolve: convolve,
    np.interp: interp,
    np.polyval: polyval,
    np.polyder: polyder,
}
