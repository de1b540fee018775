"""NumPy reductions on lifted values: sums, means, variances, products, extremes, running sums.

Each is the linear rule ``sum``, a general rule (``prod``, ``max``, ``min``)
or an exact composition of rules (``mean`` is a sum times ``1/n``, ``var`` a
mean of squared deviations, ``std`` its root with derivative 0 at 0).

>>> import numpy as np, dualdiff as dd
>>> dd.grad(lambda x: np.mean(x * x))(np.array([1.0, 2.0]))
array([1., 2.])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..rules import arrays as ar
from ..rules.elementwise import MUL, SQRT0, SQUARE, SUB
from ..rules.structural import SUM
from .core import apply1, apply2, apply_general, apply_linear
from .np_common import _axis_tuple, _ndim, _one_axis, _real_only, _refuse, _shape
from .np_shaping import diagonal, ravel


def sum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    """``np.sum``: the linear rule ``sum``."""
    _refuse("np.sum", dtype=dtype, out=out, **kw)
    return apply_linear(SUM, a, _axis_tuple(axis, _ndim(a)), bool(keepdims))


def _count(a: Any, axes: tuple[int, ...]) -> int:
    shape = _shape(a)
    n = 1
    for i in axes:
        n *= shape[i]
    return n


def mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    """``np.mean``: a sum times ``1/n``."""
    _refuse("np.mean", dtype=dtype, out=out, **kw)
    axes = _axis_tuple(axis, _ndim(a))
    return apply2(MUL, apply_linear(SUM, a, axes, bool(keepdims)), 1.0 / _count(a, axes))


def var(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: float = 0,
    keepdims: bool = False,
    **kw: Any,
) -> Any:
    """``np.var``: the mean square deviation, ``sum((a - mean(a))**2) / (n - ddof)``."""
    correction = kw.pop("correction", None)
    _refuse("np.var", dtype=dtype, out=out, **kw)
    _real_only("np.var", a)
    if correction is not None:
        ddof = correction
    axes = _axis_tuple(axis, _ndim(a))
    d = apply2(SUB, a, mean(a, axes, keepdims=True))
    return apply2(MUL, apply_linear(SUM, apply1(SQUARE, d), axes, bool(keepdims)), 1.0 / (_count(a, axes) - ddof))


def std(
    a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False, **kw: Any
) -> Any:
    """``np.std``: the square root of :func:`var`, with derivative 0 where the variance is 0.

    A zero variance (one element, or all equal) is a cone's tip: the midpoint
    of the one-sided derivatives is 0, as for ``abs`` at 0.
    """
    return apply1(SQRT0, var(a, axis, dtype, out, ddof, keepdims, **kw))


def prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    """``np.prod``: the general rule ``prod``."""
    _refuse("np.prod", dtype=dtype, out=out, **kw)
    return apply_general(ar.PROD, (a,), (_axis_tuple(axis, _ndim(a)), bool(keepdims)))


def _extreme(rule: Any, name: str) -> Callable[..., Any]:
    def reduce(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
        _refuse(name, out=out, **kw)
        return apply_general(rule, (a,), (_axis_tuple(axis, _ndim(a)), bool(keepdims)))

    reduce.__name__ = name.split(".")[-1]
    reduce.__doc__ = f"``{name}``: ties share the derivative evenly."
    return reduce


amax = _extreme(ar.MAX, "np.max")
amin = _extreme(ar.MIN, "np.min")

_REDUCERS: dict[Any, Callable[..., Any]] = {
    np.add: sum,
    np.multiply: prod,
    np.maximum: amax,
    np.minimum: amin,
}


def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """``np.cumsum``: the linear rule ``cumsum`` (axis=None runs over the flattened array)."""
    _refuse("np.cumsum", dtype=dtype, out=out)
    if axis is None:
        a, axis = ravel(a), 0
    return apply_linear(ar.CUMSUM, a, _one_axis(axis, _ndim(a)))


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None, out: Any = None) -> Any:
    """``np.trace``: the sum of a diagonal."""
    _refuse("np.trace", dtype=dtype, out=out)
    d = diagonal(a, offset, axis1, axis2)
    return sum(d, _ndim(d) - 1)
