"""NumPy's shaping functions on lifted values: reshapes, axes, stacking, splitting, selection, diagonals.

Each is a linear rule (``reshape``, ``transpose``, ``getitem``,
``broadcast_to``, ``diagonal``, ...), a general rule (``concatenate``,
``where``) or an exact composition of them (``flip`` is indexing with
reversed slices, ``stack`` new axes then one concatenation).

>>> import numpy as np, dualdiff as dd
>>> dd.jacfwd(lambda x: np.flip(x))(np.array([1.0, 2.0]))
array([[0., 1.],
       [1., 0.]])
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from ..rules import arrays as ar
from ..rules.elementwise import ADD, MAXIMUM, MINIMUM
from ..rules.structural import BROADCAST_TO, GETITEM, RESHAPE
from ..rules.values import VALUE_FUNCTIONS
from .core import LiftedBase as Lifted
from .core import apply2, apply_general, apply_linear, strip_all
from .np_common import _as_operand, _axis_tuple, _AxisError, _ndim, _one_axis, _refuse, _shape, _value_function


def reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None, copy: Any = None) -> Any:
    """``np.reshape`` (C order)."""
    if shape is None:
        shape = newshape
    if order != "C":
        raise TypeError(f"np.reshape on lifted values supports order='C' only, got order={order!r}")
    shape = (operator.index(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not isinstance(a, Lifted):
        return np.reshape(a, shape)
    return apply_linear(RESHAPE, a, _reshape_target(shape, _shape(a)))


def _reshape_target(shape: tuple[int, ...], old: tuple[int, ...]) -> tuple[int, ...]:
    """The reshape target with -1 resolved, validated the way NumPy does it."""
    return np.reshape(np.broadcast_to(np.zeros((), dtype=bool), old), shape).shape


def ravel(a: Any, order: str = "C") -> Any:
    """``np.ravel`` (C order)."""
    return reshape(a, (-1,), order)


def transpose(a: Any, axes: Any = None) -> Any:
    """``np.transpose``: the linear rule ``transpose``."""
    n = _ndim(a)
    perm = tuple(reversed(range(n))) if axes is None else tuple(a_ % n for a_ in map(operator.index, axes))
    if sorted(perm) != list(range(n)):
        raise ValueError(f"axes {axes!r} don't match array of dimension {n}")
    if perm == tuple(range(n)):
        return a
    return apply_linear(ar.TRANSPOSE, a, perm)


def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    """``np.swapaxes``."""
    n = _ndim(a)
    perm = list(range(n))
    i, j = _one_axis(axis1, n), _one_axis(axis2, n)
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, perm)


def moveaxis(a: Any, source: Any, destination: Any) -> Any:
    """``np.moveaxis``."""
    n = _ndim(a)
    src = [_one_axis(s, n) for s in np.atleast_1d(source)]
    dst = [_one_axis(d, n) for d in np.atleast_1d(destination)]
    if len(src) != len(dst):
        raise ValueError("`source` and `destination` arguments must have the same number of elements")
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


def squeeze(a: Any, axis: Any = None) -> Any:
    """``np.squeeze``: a reshape."""
    return reshape(a, np.squeeze(np.broadcast_to(np.zeros((), dtype=bool), _shape(a)), axis).shape)


def expand_dims(a: Any, axis: Any) -> Any:
    """``np.expand_dims``: a reshape."""
    return reshape(a, np.expand_dims(np.broadcast_to(np.zeros((), dtype=bool), _shape(a)), axis).shape)


def atleast_1d(*arys: Any) -> Any:
    """``np.atleast_1d``."""
    res = [a if _ndim(a) >= 1 else reshape(a, (1,)) for a in arys]
    return res[0] if len(res) == 1 else tuple(res)


def atleast_2d(*arys: Any) -> Any:
    """``np.atleast_2d``."""
    res = [a if _ndim(a) >= 2 else reshape(a, (1, -1) if _ndim(a) else (1, 1)) for a in arys]
    return res[0] if len(res) == 1 else tuple(res)


def broadcast_to(a: Any, shape: Any, subok: bool = False) -> Any:
    """``np.broadcast_to``: the linear rule ``broadcast_to``."""
    shape = (operator.index(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
    np.broadcast_shapes(_shape(a), shape)  # NumPy's own error if it cannot
    return apply_linear(BROADCAST_TO, a, shape)


def flip(m: Any, axis: Any = None) -> Any:
    """``np.flip``: indexing with reversed slices."""
    axes = _axis_tuple(axis, _ndim(m))
    return m[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(_ndim(m)))]


def concatenate(arrays: Sequence[Any], axis: Any = 0, out: Any = None, dtype: Any = None, casting: Any = None) -> Any:
    """``np.concatenate``: the general rule ``concatenate`` (one pass for all tangents)."""
    _refuse("np.concatenate", out=out, dtype=dtype)
    arrays = [_as_operand(a) for a in arrays]
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    ax = _one_axis(axis, _ndim(arrays[0]))
    return apply_general(ar.CONCATENATE, tuple(arrays), (ax,))


def stack(arrays: Sequence[Any], axis: int = 0, out: Any = None, dtype: Any = None, casting: Any = None) -> Any:
    """``np.stack``: new axes, then one concatenation."""
    _refuse("np.stack", out=out, dtype=dtype)
    arrays = [_as_operand(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {_shape(a) for a in arrays}
    if len(shapes) != 1:
        raise ValueError("all input arrays must have the same shape")
    ax = _one_axis(axis, _ndim(arrays[0]) + 1)
    return concatenate([expand_dims(a, ax) for a in arrays], ax)


def vstack(tup: Sequence[Any], *, dtype: Any = None, casting: Any = None) -> Any:
    """``np.vstack``."""
    return concatenate([atleast_2d(_as_operand(a)) for a in tup], 0, dtype=dtype)


def hstack(tup: Sequence[Any], *, dtype: Any = None, casting: Any = None) -> Any:
    """``np.hstack``."""
    arrs = [atleast_1d(_as_operand(a)) for a in tup]
    return concatenate(arrs, 0 if arrs and _ndim(arrs[0]) == 1 else 1, dtype=dtype)


def _split_with(splitter: Callable[..., Any]) -> Callable[..., Any]:
    def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
        ax = _one_axis(axis, _ndim(ary))
        pieces = splitter(np.arange(_shape(ary)[ax]), indices_or_sections)  # NumPy's own rules and errors
        out = []
        for p in pieces:
            start = int(p[0]) if len(p) else 0
            idx = (slice(None),) * ax + (slice(start, start + len(p)),)
            out.append(apply_linear(GETITEM, ary, idx))
        return out

    split.__name__ = splitter.__name__
    split.__doc__ = f"``np.{splitter.__name__}``: one slice per piece."
    return split


split = _split_with(np.split)
array_split = _split_with(np.array_split)


def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """``np.where``: the general rule ``where`` (the condition carries no derivative)."""
    if x is None and y is None:
        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("either both or neither of x and y should be given")
    if not isinstance(condition, Lifted):
        condition = np.asarray(condition, dtype=bool)
    return apply_general(ar.WHERE, (condition, x, y))


def clip(a: Any, a_min: Any = np._NoValue, a_max: Any = np._NoValue, out: Any = None, **kw: Any) -> Any:
    """``np.clip``: ``minimum(maximum(a, lo), hi)``, ties at the bounds split 1/2 and 1/2."""
    lo = kw.pop("min", np._NoValue) if a_min is np._NoValue else a_min
    hi = kw.pop("max", np._NoValue) if a_max is np._NoValue else a_max
    _refuse("np.clip", out=out, **kw)
    if lo is not None and lo is not np._NoValue:
        a = apply2(MAXIMUM, a, lo)
    if hi is not None and hi is not np._NoValue:
        a = apply2(MINIMUM, a, hi)
    return a


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """``np.diagonal``: the linear rule ``diagonal``."""
    n = _ndim(a)
    return apply_linear(ar.DIAGONAL, a, operator.index(offset), _one_axis(axis1, n), _one_axis(axis2, n))


def diag(v: Any, k: int = 0) -> Any:
    """``np.diag``: a diagonal of a matrix, or a matrix with a vector on its diagonal."""
    n = _ndim(v)
    if n == 1:
        return apply_linear(ar.DIAG_EMBED, v, operator.index(k))
    if n == 2:
        return diagonal(v, k)
    raise ValueError("Input must be 1- or 2-d.")


def nonzero(a: Any) -> Any:
    """``np.nonzero``: a function of values (a tuple of index arrays)."""
    return _value_function(VALUE_FUNCTIONS[np.nonzero])(a)


def copy(a: Any, order: str = "K", subok: bool = False) -> Any:
    """``np.copy``: the value itself (lifted values are immutable)."""
    return a


def rollaxis(a: Any, axis: int, start: int = 0) -> Any:
    """``np.rollaxis``: a transpose, with NumPy's rules for ``start``."""
    n = _ndim(a)
    axis = _one_axis(axis, n)
    if start < 0:
        start += n
    if not 0 <= start < n + 1:
        raise _AxisError(f"'start' arg requires {-n} <= start < {n + 1}")
    if axis < start:
        start -= 1
    if axis == start:
        return a
    axes = list(range(n))
    axes.remove(axis)
    axes.insert(start, axis)
    return transpose(a, axes)


def matrix_transpose(x: Any, /) -> Any:
    """``np.matrix_transpose``: the last two axes swapped."""
    if _ndim(x) < 2:
        raise ValueError("Input array must be at least 2-dimensional")
    return swapaxes(x, -1, -2)


def broadcast_arrays(*args: Any, subok: bool = False) -> tuple[Any, ...]:
    """``np.broadcast_arrays``: each argument broadcast to the common shape."""
    ops = [_as_operand(a) for a in args]
    shape = np.broadcast_shapes(*(_shape(a) for a in ops))
    return tuple(a if _shape(a) == shape else broadcast_to(a, shape) for a in ops)


def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> tuple[Any, ...]:
    """``np.meshgrid``: reshapes, then (unless ``sparse``) broadcasts."""
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    ndim = len(xi)
    s0 = (1,) * ndim
    out = [reshape(_as_operand(x), s0[:i] + (-1,) + s0[i + 1 :]) for i, x in enumerate(xi)]
    if indexing == "xy" and ndim > 1:
        out[0] = reshape(out[0], (1, -1) + s0[2:])
        out[1] = reshape(out[1], (-1, 1) + s0[2:])
    if not sparse:
        out = list(broadcast_arrays(*out))
    return tuple(out)


HANDLERS = {
    np.rollaxis: rollaxis,
    np.broadcast_arrays: broadcast_arrays,
    np.meshgrid: meshgrid,
}
if hasattr(np, "matrix_transpose"):  # NumPy >= 2.0
    HANDLERS[np.matrix_transpose] = matrix_transpose
if hasattr(np, "permute_dims"):  # NumPy >= 2.0
    HANDLERS[np.permute_dims] = transpose


def full_like(
    a: Any,
    fill_value: Any,
    dtype: Any = None,
    order: Literal["C", "F", "A", "K"] = "K",
    subok: bool = True,
    shape: Any = None,
    **kw: Any,
) -> Any:
    """``np.full_like``: a lifted fill value is broadcast (a linear rule), so its derivative is kept.

    The result has ``a``'s shape (or ``shape``) and the promoted type of
    ``a``'s dtype (or ``dtype``) and the fill value; a plain fill value gives
    the plain array NumPy makes (its derivative is zero).
    """
    if not isinstance(fill_value, Lifted):
        return np.full_like(strip_all(a), fill_value, dtype, order, subok, shape, **kw)
    target = _shape(a) if shape is None else ((shape,) if isinstance(shape, (int, np.integer)) else tuple(shape))
    want = np.dtype(dtype) if dtype is not None else np.asarray(strip_all(a)).dtype
    if want.kind not in "fc":
        if dtype is not None:
            raise TypeError(
                f"np.full_like with dtype={want} would drop the derivative of the fill value; "
                "use a floating or complex dtype"
            )
        want = np.asarray(strip_all(fill_value)).dtype  # an integer template: the fill value's type
    out = broadcast_to(fill_value, target)
    if np.result_type(strip_all(fill_value), want) != np.asarray(strip_all(fill_value)).dtype:
        out = apply2(ADD, np.zeros(target, dtype=want), out)  # promote as NumPy would (zeros + fill)
    return out


def copyto(dst: Any, src: Any, casting: str = "same_kind", where: Any = True) -> None:
    """``np.copyto`` of lifted values: only into an object array (``np.full(shape, x)`` builds one).

    A float array cannot hold derivatives, so copying lifted values into it
    raises instead of dropping them.
    """
    if isinstance(dst, np.ndarray) and dst.dtype.kind == "O" and not isinstance(where, Lifted):
        values = broadcast_to(src, dst.shape) if isinstance(src, Lifted) else np.broadcast_to(src, dst.shape)
        mask = np.broadcast_to(np.asarray(where, dtype=bool), dst.shape)
        for idx in np.ndindex(dst.shape):
            if mask[idx]:
                dst[idx] = values[idx]
        return
    raise TypeError(
        "np.copyto cannot store lifted values (Duals, tape values) into a plain array: that would drop "
        "their derivatives. np.full_like(plain, x) and np.full(shape, x, dtype=float) do this; use "
        "np.full_like(x_lifted, x), np.broadcast_to(x, shape) or np.zeros(shape) + x instead"
    )
