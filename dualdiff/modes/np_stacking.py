"""NumPy's stacking and splitting functions beyond ``concatenate``/``stack``/``split``.

Each is NumPy's own composition: new axes (a ``reshape``) and one
``concatenate`` to stack; slices (``getitem``) to split. Lists and tuples
that hold lifted values are stacked into one lifted array first, so
``np.append([x, y], z)`` works as NumPy's would.

>>> import numpy as np, dualdiff as dd
>>> dd.jacfwd(lambda x: np.column_stack([x, 2 * x]))(np.array([1.0, 2.0])).shape
(2, 2, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .np_common import _as_operand, _ndim, _one_axis, _shape
from .np_shaping import concatenate, moveaxis, ravel, reshape, split, vstack


def atleast_3d(*arys: Any) -> Any:
    """``np.atleast_3d``: a scalar as (1, 1, 1), a vector as (1, n, 1), a matrix as (r, c, 1)."""
    res = []
    for a in arys:
        a = _as_operand(a)
        n = _ndim(a)
        if n == 0:
            a = reshape(a, (1, 1, 1))
        elif n == 1:
            a = reshape(a, (1, _shape(a)[0], 1))
        elif n == 2:
            a = reshape(a, _shape(a) + (1,))
        res.append(a)
    return res[0] if len(res) == 1 else tuple(res)


def column_stack(tup: Sequence[Any]) -> Any:
    """``np.column_stack``: vectors as columns, then a concatenation along axis 1."""
    arrs = []
    for a in tup:
        a = _as_operand(a)
        if _ndim(a) < 2:
            a = reshape(a, (-1, 1)) if _ndim(a) else reshape(a, (1, 1))
        arrs.append(a)
    return concatenate(arrs, 1)


def dstack(tup: Sequence[Any]) -> Any:
    """``np.dstack``: a concatenation along the third axis."""
    arrs = atleast_3d(*tup)
    return concatenate(arrs if isinstance(arrs, tuple) else [arrs], 2)


def _depth(x: Any) -> int:
    return 1 + _depth(x[0]) if isinstance(x, list) and x else (1 if isinstance(x, list) else 0)


def block(arrays: Any) -> Any:
    """``np.block``: nested lists concatenated along the last axes, innermost first."""
    depth = _depth(arrays)

    def leaves(x: Any) -> list[Any]:
        return [v for item in x for v in leaves(item)] if isinstance(x, list) else [x]

    ndim = max([depth] + [_ndim(_as_operand(v)) for v in leaves(arrays)])

    def build(x: Any, level: int) -> Any:
        if not isinstance(x, list):
            a = _as_operand(x)
            return reshape(a, (1,) * (ndim - _ndim(a)) + _shape(a)) if _ndim(a) < ndim else a
        return concatenate([build(v, level + 1) for v in x], ndim - depth + level)

    if depth == 0:
        return _as_operand(arrays)
    return build(arrays, 0)


def append(arr: Any, values: Any, axis: Any = None) -> Any:
    """``np.append``: a concatenation (of the flattened arrays when axis is None)."""
    arr, values = _as_operand(arr), _as_operand(values)
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], 0)
    return concatenate([arr, values], axis)


def _split_along(axis: int, name: str, min_ndim: int) -> Any:
    def splitter(ary: Any, indices_or_sections: Any) -> list[Any]:
        if _ndim(ary) < min_ndim:
            raise ValueError(f"{name} only works on arrays of {min_ndim} or more dimensions")
        ax = axis if not (name == "hsplit" and _ndim(ary) == 1) else 0
        return split(ary, indices_or_sections, ax)

    splitter.__name__ = name
    splitter.__doc__ = f"``np.{name}``: ``np.split`` along its axis."
    return splitter


vsplit = _split_along(0, "vsplit", 2)
hsplit = _split_along(1, "hsplit", 1)
dsplit = _split_along(2, "dsplit", 3)


def unstack(x: Any, /, *, axis: int = 0) -> tuple[Any, ...]:
    """``np.unstack``: the slices along one axis."""
    moved = moveaxis(x, _one_axis(axis, _ndim(x)), 0)
    return tuple(moved[i] for i in range(_shape(moved)[0]))


HANDLERS = {
    np.atleast_3d: atleast_3d,
    np.column_stack: column_stack,
    np.dstack: dstack,
    np.block: block,
    np.append: append,
    np.vsplit: vsplit,
    np.hsplit: hsplit,
    np.dsplit: dsplit,
}
if hasattr(np, "row_stack"):  # removed in NumPy 2.x
    HANDLERS[np.row_stack] = vstack
if hasattr(np, "unstack"):  # NumPy >= 2.1
    HANDLERS[np.unstack] = unstack
if hasattr(np, "concat"):  # NumPy >= 2.0
    HANDLERS[np.concat] = concatenate

__all__ = ["HANDLERS"]
