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
from ..rules.elementwise import ADD, MAXIMUM, MINIMUM, MUL, SQRT0, SUB, TRUEDIV
from ..rules.scans import CUMPROD
from ..rules.structural import SUM
from ..rules.values import ISNAN
from .core import apply1, apply2, apply_general, apply_linear, apply_nondiff, decided, strip_all
from .np_common import _as_operand, _axis_tuple, _ndim, _one_axis, _refuse, _shape
from .np_shaping import diagonal, expand_dims, ravel, reshape, swapaxes
from .np_ufuncs import abs2, conj, real


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
    """``np.var``: the mean square deviation, ``sum(|a - mean(a)|**2) / (n - ddof)`` (real for complex ``a``)."""
    correction = kw.pop("correction", None)
    _refuse("np.var", dtype=dtype, out=out, **kw)
    if correction is not None:
        ddof = correction
    axes = _axis_tuple(axis, _ndim(a))
    d = apply2(SUB, a, mean(a, axes, keepdims=True))
    # |d|**2: Re(d)**2 + Im(d)**2 for complex values, as NumPy computes it
    return apply2(MUL, apply_linear(SUM, abs2(d), axes, bool(keepdims)), 1.0 / (_count(a, axes) - ddof))


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


# ==========================================================================
# NaN-ignoring reductions: the NaNs replaced by the neutral element (constants)
# ==========================================================================


def _without_nan(a: Any, fill: float) -> Any:
    return apply_general(ar.WHERE, (apply_nondiff(ISNAN, (a,)), fill, a))


def _not_nan_count(a: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    nan = decided(apply_nondiff(ISNAN, (a,)))  # where the NaNs are: a recorded program checks it again
    return np.sum(~np.asarray(nan), axis=axes, keepdims=keepdims)


def nansum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    """``np.nansum``: a sum with NaNs as 0."""
    _refuse("np.nansum", dtype=dtype, out=out, **kw)
    return sum(_without_nan(a, 0.0), axis, keepdims=keepdims)


def nanprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    """``np.nanprod``: a product with NaNs as 1."""
    _refuse("np.nanprod", dtype=dtype, out=out, **kw)
    return prod(_without_nan(a, 1.0), axis, keepdims=keepdims)


def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    """``np.nanmean``: the sum of the numbers over their count."""
    _refuse("np.nanmean", dtype=dtype, out=out, **kw)
    axes = _axis_tuple(axis, _ndim(a))
    total = apply_linear(SUM, _without_nan(a, 0.0), axes, bool(keepdims))
    return apply2(TRUEDIV, total, _not_nan_count(a, axes, bool(keepdims)))


def nanvar(
    a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False, **kw: Any
) -> Any:
    """``np.nanvar``: the variance of the numbers (NaNs left out)."""
    _refuse("np.nanvar", dtype=dtype, out=out, **kw)
    axes = _axis_tuple(axis, _ndim(a))
    nan = apply_nondiff(ISNAN, (a,))
    # the NaNs replaced before subtracting: no NaN partial meets a zero cotangent (that would give NaN)
    d = apply2(SUB, apply_general(ar.WHERE, (nan, 0.0, a)), nanmean(a, axes, keepdims=True))
    total = apply_linear(SUM, apply_general(ar.WHERE, (nan, 0.0, abs2(d))), axes, bool(keepdims))
    return apply2(TRUEDIV, total, _not_nan_count(a, axes, bool(keepdims)) - ddof)


def nanstd(
    a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False, **kw: Any
) -> Any:
    """``np.nanstd``: the root of :func:`nanvar` (derivative 0 where it is 0)."""
    return apply1(SQRT0, nanvar(a, axis, dtype, out, ddof, keepdims, **kw))


def _nan_extreme(reduce: Callable[..., Any], fill: float, name: str) -> Callable[..., Any]:
    def fn(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
        _refuse(name, out=out, **kw)
        r = reduce(_without_nan(a, fill), axis, keepdims=keepdims)
        plain = strip_all(a)
        if np.any(np.all(np.isnan(plain), axis=_axis_tuple(axis, np.ndim(plain)))):  # NaN where all are NaN
            r = apply_general(ar.WHERE, (np.all(np.isnan(plain), axis=axis, keepdims=keepdims), np.nan, r))
        return r

    fn.__name__ = name.split(".")[-1]
    fn.__doc__ = f"``{name}``: the extreme of the numbers (NaNs left out; NaN where all are NaN)."
    return fn


nanmax = _nan_extreme(amax, -np.inf, "np.nanmax")
nanmin = _nan_extreme(amin, np.inf, "np.nanmin")


def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """``np.cumprod``: the general rule ``cumprod`` (axis=None runs over the flattened array)."""
    _refuse("np.cumprod", dtype=dtype, out=out)
    if axis is None:
        a, axis = ravel(a), 0
    return apply_general(CUMPROD, (a,), (_one_axis(axis, _ndim(a)),))


def _cumulative(scan: Callable[..., Any], neutral: float, name: str) -> Callable[..., Any]:
    def fn(x: Any, /, *, axis: Any = None, dtype: Any = None, out: Any = None, include_initial: bool = False) -> Any:
        _refuse(name, dtype=dtype, out=out)
        if axis is None:
            if _ndim(x) > 1:
                raise ValueError(f"{name}: axis is required for arrays of more than one dimension")
            axis = 0
        ax = _one_axis(axis, _ndim(x))
        r = scan(x, ax)
        if include_initial:
            from .np_shaping import concatenate

            shape = list(_shape(x))
            shape[ax] = 1
            r = concatenate([np.full(shape, neutral, dtype=np.result_type(strip_all(x), 0.0)), r], ax)
        return r

    fn.__name__ = name.split(".")[-1]
    fn.__doc__ = f"``{name}``: the running scan along ``axis`` (``include_initial``: the neutral value first)."
    return fn


cumulative_sum = _cumulative(lambda x, ax: cumsum(x, ax), 0.0, "np.cumulative_sum")
cumulative_prod = _cumulative(lambda x, ax: cumprod(x, ax), 1.0, "np.cumulative_prod")


def nancumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """``np.nancumprod``: a running product with NaNs as 1."""
    _refuse("np.nancumprod", dtype=dtype, out=out)
    return cumprod(_without_nan(a, 1.0), axis)


def nancumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """``np.nancumsum``: a running sum with NaNs as 0."""
    _refuse("np.nancumsum", dtype=dtype, out=out)
    return cumsum(_without_nan(a, 0.0), axis)


# ==========================================================================
# weighted means, ranges, order statistics, covariances
# ==========================================================================


def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *, keepdims: Any = False) -> Any:
    """``np.average``: ``sum(a * w) / sum(w)`` (the weights may carry derivatives too)."""
    a = _as_operand(a)
    keep = bool(keepdims)
    if weights is None:
        r = mean(a, axis, keepdims=keep)
        if not returned:
            return r
        axes = _axis_tuple(axis, _ndim(a))
        return r, np.full(np.shape(strip_all(r)), float(_count(a, axes)))
    w = _as_operand(weights)
    if _shape(w) != _shape(a):
        if axis is None or _ndim(w) != 1:
            raise TypeError("Axis must be specified when shapes of a and weights differ.")
        ax = _one_axis(axis, _ndim(a))
        w = reshape(w, tuple(_shape(w)[0] if i == ax else 1 for i in range(_ndim(a))))
        w = apply2(ADD, w, np.zeros(_shape(a)))
    total_w = sum(w, axis, keepdims=keep)
    r = apply2(TRUEDIV, sum(apply2(MUL, a, w), axis, keepdims=keep), total_w)
    return (r, total_w) if returned else r


def ptp(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    """``np.ptp``: ``max - min``."""
    _refuse("np.ptp", out=out)
    return apply2(SUB, amax(a, axis, keepdims=keepdims), amin(a, axis, keepdims=keepdims))


def _sorted_along(a: Any, axis: Any) -> tuple[Any, int]:
    from .np_rearranging import sort

    if axis is None:
        return sort(ravel(a), 0), 0
    ax = _one_axis(axis, _ndim(a))
    return sort(a, ax), ax


def quantile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
    interpolation: Any = None,
) -> Any:
    """``np.quantile`` with ``method='linear'``: the sorted values, interpolated between neighbours."""
    _refuse("np.quantile", out=out, weights=weights, interpolation=interpolation)
    if method != "linear":
        raise TypeError(f"np.quantile on lifted values supports method='linear' only, got {method!r}")
    a = _as_operand(a)
    qs = np.asarray(q, dtype=float)
    if np.any((qs < 0) | (qs > 1)):
        raise ValueError("Quantiles must be in the range [0, 1]")
    srt, ax = _sorted_along(a, axis)
    n = _shape(srt)[ax]
    pos = qs * (n - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    moved = np.moveaxis(srt, ax, 0) if _ndim(srt) > 1 else srt
    below, above = moved[lo], moved[hi]  # the q axes lead, as NumPy's result does
    t = np.reshape(frac, frac.shape + (1,) * (_ndim(moved) - 1))
    # NumPy's lerp: below + (above - below) t, from the other end for t >= 1/2
    diff = apply2(SUB, above, below)
    r = apply_general(
        ar.WHERE,
        (t >= 0.5, apply2(SUB, above, apply2(MUL, diff, 1 - t)), apply2(ADD, below, apply2(MUL, diff, t))),
    )
    if keepdims:
        shape = list(_shape(a)) if axis is not None else [1] * _ndim(a)
        if axis is not None:
            shape[ax] = 1
        r = reshape(r, qs.shape + tuple(shape))
    return r


def percentile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    **kw: Any,
) -> Any:
    """``np.percentile``: :func:`quantile` of ``q / 100``."""
    return quantile(a, np.asarray(q, dtype=float) / 100, axis, out, overwrite_input, method, keepdims, **kw)


def median(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False, keepdims: bool = False) -> Any:
    """``np.median``: the middle of the sorted values (the mean of the two middle ones)."""
    _refuse("np.median", out=out)
    a = _as_operand(a)
    srt, ax = _sorted_along(a, axis)
    n = _shape(srt)[ax]
    if n == 0:
        raise ValueError("median of an empty axis")
    lo, hi = (n - 1) // 2, n // 2
    pick = (slice(None),) * ax
    r = srt[pick + (lo,)] if lo == hi else mean(srt[pick + (slice(lo, hi + 1),)], ax)
    if keepdims:
        r = expand_dims(r, _axis_tuple(axis, _ndim(a))) if axis is not None else reshape(r, (1,) * _ndim(a))
    return r


def cov(
    m: Any,
    y: Any = None,
    rowvar: bool = True,
    bias: bool = False,
    ddof: Any = None,
    fweights: Any = None,
    aweights: Any = None,
    *,
    dtype: Any = None,
) -> Any:
    """``np.cov`` (without weights): centred rows, ``X @ X^H / (N - ddof)``, as NumPy computes it."""
    _refuse("np.cov", fweights=fweights, aweights=aweights, dtype=dtype)
    from .np_products import matmul
    from .np_shaping import concatenate

    x = _as_operand(m)
    if _ndim(x) > 2:
        raise ValueError("m has more than 2 dimensions")
    x = reshape(x, (1, -1)) if _ndim(x) < 2 else x
    if not rowvar and _shape(x)[0] != 1:
        x = swapaxes(x, 0, 1)
    if y is not None:
        yy = _as_operand(y)
        yy = reshape(yy, (1, -1)) if _ndim(yy) < 2 else yy
        if not rowvar and _shape(yy)[0] != 1:
            yy = swapaxes(yy, 0, 1)
        x = concatenate([x, yy], 0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = _shape(x)[1]
    centred = apply2(SUB, x, mean(x, 1, keepdims=True))
    c = apply2(MUL, matmul(centred, conj(swapaxes(centred, 0, 1))), 1.0 / (n - ddof))
    return reshape(c, ()) if _shape(c) == (1, 1) else c


def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Any:
    """``np.corrcoef``: the covariance scaled by the standard deviations (clipped to [-1, 1] for reals)."""
    c = cov(x, y, rowvar, dtype=dtype)
    if _ndim(c) == 0:
        return apply2(TRUEDIV, c, c)
    d = real(diagonal(c))
    sd = apply1(SQRT0, d)
    c = apply2(TRUEDIV, apply2(TRUEDIV, c, expand_dims(sd, 1)), expand_dims(sd, 0))
    if np.iscomplexobj(strip_all(c)):
        return c
    return apply2(MINIMUM, apply2(MAXIMUM, c, -1.0), 1.0)


HANDLERS: dict[Any, Any] = {
    np.nansum: nansum,
    np.nanprod: nanprod,
    np.nanmean: nanmean,
    np.nanvar: nanvar,
    np.nanstd: nanstd,
    np.nanmax: nanmax,
    np.nanmin: nanmin,
    np.nancumsum: nancumsum,
    np.cumprod: cumprod,
    np.nancumprod: nancumprod,
    **(
        {np.cumulative_sum: cumulative_sum, np.cumulative_prod: cumulative_prod}
        if hasattr(np, "cumulative_sum")
        else {}
    ),
    np.average: average,
    np.ptp: ptp,
    np.quantile: quantile,
    np.percentile: percentile,
    np.median: median,
    np.cov: cov,
    np.corrcoef: corrcoef,
}
