"""Running products: ``cumprod`` as a general rule.

``y_i = prod_{k <= i} x_k`` along one axis. Its derivative is
``dy_i = sum_{j <= i} (prod_{k <= i, k != j} x_k) dx_j``: without zero
factors that is ``y * cumsum(dx / x)`` (and the transpose ``reverse cumsum
(g * y) / x``); with a zero factor, division is wrong, so the exclusive
products are formed explicitly (``O(n^2)`` along the axis, only then).

>>> CUMPROD.fn(np.array([1.0, 2.0, 3.0]), 0)
array([1., 2., 6.])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .kinds import General, register


def _plain(v: Any) -> Any:
    while hasattr(v, "primal") and hasattr(v, "level"):
        v = v.primal
    return v


def _expand(w: Any, nbatch: int) -> Any:
    return np.reshape(w, np.shape(w) + (1,) * nbatch) if nbatch else w


def _rcumsum(g: Any, axis: int) -> Any:
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


def _exclusive(x: Any, axis: int) -> Any:
    """``D[..., i, j] = prod_{k <= i, k != j} x_k`` for ``j <= i`` (0 above), ``x``'s axis moved last."""
    xm = np.moveaxis(x, axis, -1)
    n = np.shape(xm)[-1]
    j, k = np.arange(n)[:, None], np.arange(n)[None, :]
    rows = np.expand_dims(xm, -2)  # (..., 1, n): row j will hold x_k for k > j and 1 elsewhere
    after = np.cumprod(np.where(k > j, rows, 1.0), axis=-1)  # [..., j, i] = prod_{j < k <= i} x_k
    before = np.cumprod(np.concatenate([np.ones_like(xm[..., :1]), xm[..., :-1]], axis=-1), axis=-1)
    lower = np.arange(n)[:, None] >= np.arange(n)[None, :]  # [i, j]: j <= i
    return np.where(lower, np.swapaxes(after, -1, -2) * np.expand_dims(before, -2), 0.0)


def _has_zero(x: Any) -> bool:
    return bool(np.any(np.asarray(_plain(x)) == 0))


def _jvp(t: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
    x, (axis,) = args[0], params
    if not _has_zero(x):
        return _expand(y, nbatch) * np.cumsum(t / _expand(x, nbatch), axis=axis)
    d = _exclusive(x, axis)  # (..., n, n)
    tm = np.moveaxis(t, axis, np.ndim(t) - 1 - nbatch)  # the axis last among the core axes
    if nbatch:
        tm = np.moveaxis(tm, -1, 0)  # directions in front, a stack axis for the product
        r = np.moveaxis((d @ np.expand_dims(tm, -1))[..., 0], 0, -1)
    else:
        r = (d @ np.expand_dims(tm, -1))[..., 0]
    return np.moveaxis(r, np.ndim(r) - 1 - nbatch, axis)


def _vjp(g: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
    x, (axis,) = args[0], params
    if not _has_zero(x):
        return _rcumsum(g * _expand(y, nbatch), axis) / _expand(x, nbatch)
    d = np.swapaxes(_exclusive(x, axis), -1, -2)
    gm = np.moveaxis(g, axis, np.ndim(g) - 1 - nbatch)
    if nbatch:
        gm = np.moveaxis(gm, -1, 0)
        r = np.moveaxis((d @ np.expand_dims(gm, -1))[..., 0], 0, -1)
    else:
        r = (d @ np.expand_dims(gm, -1))[..., 0]
    return np.moveaxis(r, np.ndim(r) - 1 - nbatch, axis)


#: ``np.cumprod(x, axis)`` with a non-negative ``axis`` (dispatch ravels for axis=None).
CUMPROD = register(
    General(
        "cumprod",
        1,
        "cumprod({0})",
        fn=lambda x, axis: np.cumprod(x, axis=axis),
        linear_maps=(_jvp,),
        transposes=(_vjp,),
    )
)

__all__ = ["CUMPROD"]
