"""Finite differences and sums of NumPy arrays on lifted values: diff, ediff1d, gradient, trapezoid.

Each is NumPy's own formula written with slices (``getitem``), differences,
products and sums, so its value is NumPy's and its derivative exact.

>>> import numpy as np, dualdiff as dd
>>> dd.jacfwd(lambda x: np.diff(x))(np.array([1.0, 4.0, 9.0]))
array([[-1.,  1.,  0.],
       [ 0., -1.,  1.]])
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..rules.elementwise import ADD, MUL, SUB, TRUEDIV
from .core import apply2
from .np_common import _as_operand, _axis_tuple, _AxisError, _ndim, _one_axis, _shape
from .np_reductions import sum
from .np_shaping import broadcast_to, concatenate, ravel, reshape


def _along(axis: int, ndim: int, index: Any) -> tuple[Any, ...]:
    return (slice(None),) * axis + (index,) + (slice(None),) * (ndim - axis - 1)


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = np._NoValue, append: Any = np._NoValue) -> Any:
    """``np.diff``: ``a[1:] - a[:-1]`` along ``axis``, ``n`` times (after ``prepend``/``append``)."""
    n = operator.index(n)
    if n == 0:
        return a
    if n < 0:
        raise ValueError("order must be non-negative but got " + repr(n))
    a = _as_operand(a)
    nd = _ndim(a)
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    ax = _one_axis(axis, nd)
    parts = []
    for extra in (prepend, None, append):
        if extra is None:
            parts.append(a)
        elif extra is not np._NoValue:
            e = _as_operand(extra)
            if _ndim(e) == 0:
                shape = list(_shape(a))
                shape[ax] = 1
                e = broadcast_to(e, tuple(shape))
            parts.append(e)
    if len(parts) > 1:
        a = concatenate(parts, ax)
    for _ in range(n):
        a = apply2(SUB, a[_along(ax, nd, slice(1, None))], a[_along(ax, nd, slice(None, -1))])
    return a


def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Any:
    """``np.ediff1d``: the differences of the flattened array, with values before and after."""
    d = diff(ravel(_as_operand(ary)))
    parts = [ravel(_as_operand(to_begin))] if to_begin is not None else []
    parts.append(d)
    if to_end is not None:
        parts.append(ravel(_as_operand(to_end)))
    return concatenate(parts, 0) if len(parts) > 1 else d


def _spacings(varargs: tuple[Any, ...], f_shape: tuple[int, ...], axes: tuple[int, ...]) -> list[Any]:
    """Per axis: a scalar step, or the differences of the coordinates (NumPy's rules)."""
    if not varargs:
        return [1.0] * len(axes)
    if len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        return [varargs[0]] * len(axes)
    if len(varargs) != len(axes):
        raise TypeError("invalid number of arguments")
    out = []
    for ax, d in zip(axes, varargs):
        d = np.asarray(d)
        if d.ndim == 0:
            out.append(d[()])
            continue
        if d.ndim != 1:
            raise ValueError("distances must be either scalars or 1d")
        if len(d) != f_shape[ax]:
            raise ValueError("when 1d, distances must match the length of the corresponding dimension")
        d = np.diff(d.astype(np.float64) if np.issubdtype(d.dtype, np.integer) else d)
        out.append(d[0] if np.all(d == d[0]) else d)
    return out


def _column(c: Any, ax: int, nd: int) -> Any:
    """Coefficients along ``ax``, shaped to broadcast against the array."""
    return np.reshape(c, (1,) * ax + (-1,) + (1,) * (nd - ax - 1))


def _combine(f: Any, coeffs: tuple[Any, Any, Any], picks: tuple[Any, Any, Any]) -> Any:
    a, b, c = coeffs
    p, q, r = picks
    return apply2(ADD, apply2(ADD, apply2(MUL, a, f[p]), apply2(MUL, b, f[q])), apply2(MUL, c, f[r]))


def _gradient_axis(f: Any, ax: int, nd: int, dx: Any, edge_order: int) -> Any:
    if _shape(f)[ax] < edge_order + 1:
        raise ValueError(
            "Shape of array too small to calculate a numerical gradient, "
            "at least (edge_order + 1) elements are required."
        )
    at = lambda i: _along(ax, nd, i)
    uniform = np.ndim(dx) == 0
    if uniform:
        inner = apply2(TRUEDIV, apply2(SUB, f[at(slice(2, None))], f[at(slice(None, -2))]), 2.0 * dx)
    else:
        dx1, dx2 = dx[:-1], dx[1:]
        a = -dx2 / (dx1 * (dx1 + dx2))
        b = (dx2 - dx1) / (dx1 * dx2)
        c = dx1 / (dx2 * (dx1 + dx2))
        coeffs = (_column(a, ax, nd), _column(b, ax, nd), _column(c, ax, nd))
        inner = _combine(f, coeffs, (at(slice(None, -2)), at(slice(1, -1)), at(slice(2, None))))
    if edge_order == 1:
        first = apply2(TRUEDIV, apply2(SUB, f[at(slice(1, 2))], f[at(slice(0, 1))]), dx if uniform else dx[0])
        last = apply2(TRUEDIV, apply2(SUB, f[at(slice(-1, None))], f[at(slice(-2, -1))]), dx if uniform else dx[-1])
    else:
        if uniform:
            c0: tuple[Any, Any, Any] = (-1.5 / dx, 2.0 / dx, -0.5 / dx)
            cn: tuple[Any, Any, Any] = (0.5 / dx, -2.0 / dx, 1.5 / dx)
        else:
            d1, d2 = dx[0], dx[1]
            c0 = (-(2.0 * d1 + d2) / (d1 * (d1 + d2)), (d1 + d2) / (d1 * d2), -d1 / (d2 * (d1 + d2)))
            d1, d2 = dx[-2], dx[-1]
            cn = (d2 / (d1 * (d1 + d2)), -(d2 + d1) / (d1 * d2), (2.0 * d2 + d1) / (d2 * (d1 + d2)))
        first = _combine(f, c0, (at(slice(0, 1)), at(slice(1, 2)), at(slice(2, 3))))
        last = _combine(f, cn, (at(slice(-3, -2)), at(slice(-2, -1)), at(slice(-1, None))))
    return concatenate([first, inner, last], ax)


def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int = 1) -> Any:
    """``np.gradient``: central differences inside, one-sided ones at the edges (NumPy's formulas)."""
    f = _as_operand(f)
    nd = _ndim(f)
    axes = _axis_tuple(axis, nd) if axis is None or isinstance(axis, tuple) else (_one_axis(axis, nd),)
    if isinstance(axis, tuple) and len(set(a % nd for a in axis)) != len(axis):
        raise _AxisError("repeated axis")
    if isinstance(axis, tuple):  # keep the order the caller gave
        axes = tuple(_one_axis(a, nd) for a in axis)
    if edge_order > 2:
        raise ValueError("'edge_order' greater than 2 not supported")
    dxs = _spacings(varargs, _shape(f), axes)
    out = [_gradient_axis(f, ax, nd, dx, edge_order) for ax, dx in zip(axes, dxs)]
    return out[0] if len(out) == 1 else tuple(out)


def trapezoid(y: Any, x: Any = None, dx: float = 1.0, axis: int = -1) -> Any:
    """``np.trapezoid``: ``sum(d * (y[1:] + y[:-1]) / 2)`` along ``axis``."""
    y = _as_operand(y)
    nd = _ndim(y)
    ax = _one_axis(axis, nd)
    if x is None:
        d: Any = dx
    else:
        x = _as_operand(x)
        if _ndim(x) == 1:
            d = diff(x)
            shape = [1] * nd
            shape[ax] = _shape(d)[0]
            d = reshape(d, tuple(shape))
        else:
            d = diff(x, axis=ax)
    mid = apply2(ADD, y[_along(ax, nd, slice(1, None))], y[_along(ax, nd, slice(None, -1))])
    return sum(apply2(TRUEDIV, apply2(MUL, d, mid), 2.0), ax)


HANDLERS: dict[Any, Any] = {
    np.diff: diff,
    np.ediff1d: ediff1d,
    np.gradient: gradient,
}
if hasattr(np, "trapezoid"):  # NumPy >= 2.0
    HANDLERS[np.trapezoid] = trapezoid
