"""Evenly spaced values from lifted end points: linspace, logspace, geomspace.

``linspace`` is affine in ``start`` and ``stop``: NumPy's formula
``arange(num) * step + start`` with the last value set to ``stop``;
``logspace`` and ``geomspace`` are powers of it.

>>> import numpy as np, dualdiff as dd
>>> dd.jacfwd(lambda x: np.linspace(x[0], x[1], 3))(np.array([0.0, 1.0]))
array([[1. , 0. ],
       [0.5, 0.5],
       [0. , 1. ]])
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..rules.elementwise import ADD, MUL, POW, SUB, TRUEDIV
from .core import apply2, strip_all
from .np_common import _as_operand, _ndim, _one_axis, _refuse
from .np_shaping import concatenate, expand_dims, moveaxis


def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
    *,
    device: Any = None,
) -> Any:
    """``np.linspace``: ``arange(num) * step + start``, the last value ``stop`` (NumPy's formula)."""
    _refuse("np.linspace", dtype=dtype, device=device)
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    start, stop = _as_operand(start), _as_operand(stop)
    div = (num - 1) if endpoint else num
    delta = apply2(SUB, stop, start)
    nd = max(_ndim(start), _ndim(stop))
    ramp = np.arange(0, num, dtype=float).reshape((-1,) + (1,) * nd)
    step: Any = np.nan
    if div > 0:
        step = apply2(TRUEDIV, delta, div)
        if np.any(strip_all(step) == 0):  # NumPy's care for denormal steps
            y = apply2(MUL, ramp / div, delta)
        else:
            y = apply2(MUL, ramp, step)
    else:
        y = apply2(MUL, ramp, delta)
    y = apply2(ADD, y, start)
    if endpoint and num > 1:
        y = concatenate([y[:-1], expand_dims(apply2(ADD, stop, 0 * strip_all(y[-1])), 0)], 0)
    if axis != 0:
        y = moveaxis(y, 0, _one_axis(axis, _ndim(y)))
    return (y, step) if retstep else y


def logspace(
    start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: Any = 10.0, dtype: Any = None, axis: int = 0
) -> Any:
    """``np.logspace``: ``base ** linspace(start, stop)``."""
    _refuse("np.logspace", dtype=dtype)
    y = linspace(start, stop, num=num, endpoint=endpoint, axis=axis)
    return apply2(POW, base, y)


def geomspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None, axis: int = 0) -> Any:
    """``np.geomspace`` of real end points of one sign: ``sign * 10 ** linspace(log10|start|, log10|stop|)``,
    the end values set to ``start`` and ``stop`` exactly, as NumPy does."""
    _refuse("np.geomspace", dtype=dtype)
    s0, s1 = strip_all(start), strip_all(stop)
    if np.iscomplexobj(s0) or np.iscomplexobj(s1):
        from ..errors import NoRuleError

        raise NoRuleError("np.geomspace of complex end points has no derivative rule in dualdiff")
    if np.any(np.asarray(s0) == 0) or np.any(np.asarray(s1) == 0):
        raise ValueError("Geometric sequence cannot include zero")
    sign = np.sign(s0)
    if np.any(np.sign(s1) != sign):
        raise ValueError("geomspace of end points of different signs has no real values")
    lo = np.log10(apply2(MUL, start, sign))
    hi = np.log10(apply2(MUL, stop, sign))
    y = apply2(MUL, logspace(lo, hi, num=num, endpoint=endpoint, base=10.0), sign)
    if num > 0:
        parts = [expand_dims(apply2(ADD, start, 0 * strip_all(y[0])), 0)]
        if num > 1:
            inner = y[1:-1] if endpoint else y[1:]
            parts.append(inner)
            if endpoint:
                parts.append(expand_dims(apply2(ADD, stop, 0 * strip_all(y[-1])), 0))
        y = concatenate(parts, 0)
    if axis != 0:
        y = moveaxis(y, 0, _one_axis(axis, _ndim(y)))
    return y


HANDLERS: dict[Any, Any] = {np.linspace: linspace, np.logspace: logspace, np.geomspace: geomspace}
