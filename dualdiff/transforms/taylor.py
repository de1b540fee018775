"""Taylor mode transforms: ``taylor`` (the coefficients of f along a line) and ``derivatives``.

One pass of f on :class:`~dualdiff.modes.taylor.Taylor` numbers of a fresh
level gives every coefficient ``y_0 ... y_d`` of ``t -> f(x + t v)``, at
O(d^2) operations per primitive; nesting ``derivative`` d times costs
O(2^d). Like every transform, f is called as ``f(x)`` and the call nests
with the others (derivatives of Taylor coefficients, Taylor coefficients of
derivatives) without perturbation confusion.
"""

from __future__ import annotations

import math
from typing import Any, cast

import mpmath
import numpy as np

from ..modes.core import LiftedBase, new_level
from ..modes.taylor import Taylor
from ..modes.tree import check_input, check_like, leaves, output_leaves, rebuild
from ..rules.backends import backend_of
from .common import Function, check_f

__all__ = ["derivatives", "taylor"]


def taylor(f: Function, x: Any, v: Any = None, order: int = 2) -> tuple[Any, ...]:
    """The Taylor coefficients ``(y_0, y_1, ..., y_d)`` of ``t -> f(x + t v)`` at ``t = 0``.

    ``y_k`` is the k-th derivative along ``v`` divided by ``k!``, shaped like
    ``f(x)`` (a number, an array, or a tuple of these). ``x`` and ``v`` are
    numbers, arrays or tuples of these, ``v`` shaped like ``x``; for a scalar
    ``x``, ``v`` defaults to 1. Floats, complex numbers, mpmath numbers (at
    the current precision) and arrays of any shape. One pass of f.

    >>> import dualdiff as dd
    >>> dd.taylor(lambda x: x ** 3, 2.0, order=3)        # (2 + t)^3
    (8.0, 12.0, 6.0, 1.0)
    >>> [round(c, 6) for c in dd.taylor(dd.sin, 0.0, order=5)]
    [0.0, 1.0, 0.0, -0.166667, 0.0, 0.008333]
    >>> import numpy as np
    >>> dd.taylor(lambda x: x[0] * x[1], np.array([1.0, 2.0]), np.array([1.0, 1.0]), order=2)
    (np.float64(2.0), np.float64(3.0), np.float64(1.0))
    """
    check_f(f, "taylor")
    d = _check_order(order)
    x = check_input("x", x)
    if v is None:
        if isinstance(x, (tuple, list)) or np.ndim(x) != 0:
            shape = "a tuple" if isinstance(x, (tuple, list)) else f"shape {np.shape(x)}"
            raise ValueError(f"taylor needs a direction v for x of {shape}: pass v shaped like x")
        v = _one_like(x)
    else:
        v = check_input("v", v)
        check_like("v", v, "x", x)
    level = new_level()
    inputs = [Taylor._new(_line(xi, vi, d), level) for xi, vi in zip(leaves(x), leaves(v))]
    out = f(rebuild(x, inputs))
    outs = output_leaves(out)
    per_leaf = [_coefficients_at(o, level, d) for o in outs]
    return tuple(rebuild(out, [c[k] for c in per_leaf]) for k in range(d + 1))


def derivatives(f: Function, order: int = 2) -> Function:
    """``x -> (f(x), f'(x), ..., f^(d)(x))`` for scalar ``x`` (output of any shape), in one Taylor pass.

    ``f^(k)(x) = k! y_k`` with ``y_k`` from :func:`taylor`.

    >>> import dualdiff as dd
    >>> dd.derivatives(lambda x: x ** 3, order=3)(2.0)
    (8.0, 12.0, 12.0, 6.0)
    >>> f0, f1, f2 = dd.derivatives(lambda x: dd.exp(-x * x), order=2)(0.5)
    >>> abs(f2 - (4 * 0.5**2 - 2) * f0) < 1e-15
    True
    """
    check_f(f, "derivatives")
    d = _check_order(order)

    def df(x: Any) -> tuple[Any, ...]:
        x = check_input("x", x)
        if isinstance(x, (tuple, list)) or np.ndim(x) != 0:
            got = "a tuple" if isinstance(x, (tuple, list)) else f"shape {np.shape(x)}"
            raise ValueError(
                f"derivatives needs a scalar x, got {got}; use dd.taylor(f, x, v, order) for directional derivatives"
            )
        ys = taylor(f, x, _one_like(x), order=d)
        return tuple(_times(math.factorial(k), y) for k, y in enumerate(ys))

    return df


def _check_order(order: Any) -> int:
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 0:
        raise ValueError(f"order must be a non-negative int, got {order!r}")
    return int(order)


def _one_like(x: Any) -> Any:
    """1 in x's own number type (an mpf seed keeps every coefficient an mpf)."""
    backend = backend_of(x)
    return 1.0 if backend is None or isinstance(x, LiftedBase) else backend.const(x, 1)


def _line(x: Any, v: Any, d: int) -> list[Any]:
    """The series of ``x + t v`` to order d."""
    if not d:
        return [x]
    return [x, v] + [_zero_like(v)] * (d - 1)


def _zero_like(v: Any) -> Any:
    """A zero coefficient of v's kind: the direction's higher terms (x + t v has no t^2, ...)."""
    if isinstance(v, np.ndarray):
        return np.zeros_like(v)
    w = cast(Any, v)  # the operators below belong to the lifted types (Lifted) and NumPy's scalars, not their bases
    if isinstance(v, LiftedBase):
        return 0 * w
    if isinstance(v, (mpmath.mpf, mpmath.mpc)):
        return v * 0
    return w * 0 if isinstance(v, (complex, np.generic)) else 0.0


def _coefficients_at(value: Any, level: int, d: int) -> list[Any]:
    """The d + 1 coefficients of an output at ``level``; a value that does not depend on x has zeros."""
    if type(value) is Taylor and value.level == level:
        shape = np.shape(value.primal)
        out = []
        for c in value.series:
            if np.shape(c) != shape:
                c = np.broadcast_to(c, shape)
            if isinstance(c, np.ndarray) and not c.flags.writeable:
                c = c.copy()
            out.append(c)
        return out
    if isinstance(value, np.ndarray) and value.dtype == object:
        parts = [_coefficients_at(v, level, d) for v in value.ravel()]
        return [_assemble([p[k] for p in parts], value.shape) for k in range(d + 1)]
    zero = _zero_output(value)
    return [value] + [zero] * d


def _assemble(items: list[Any], shape: tuple[int, ...]) -> Any:
    if any(isinstance(i, LiftedBase) for i in items):
        arr = np.empty(len(items), dtype=object)
        arr[:] = items
        return arr.reshape(shape)
    return np.array(items).reshape(shape)


def _zero_output(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return np.zeros(value.shape, dtype=np.result_type(value, float))
    if isinstance(value, (mpmath.mpf, mpmath.mpc)):
        return mpmath.mpf(0)
    return 0j if isinstance(value, complex) else 0.0


def _times(c: int, y: Any) -> Any:
    if isinstance(y, (tuple, list)):
        return type(y)(_times(c, yi) for yi in y)
    return c * y
