"""NumPy's rearranging functions on lifted values: flips, rolls, tiles, repeats, pads, sorts, gathers.

Every one of them moves or copies elements without arithmetic, so each is
an exact composition of the structural rules, chosen for speed:

* views and slices (``getitem`` with basic indices): ``flipud``, ``fliplr``, ``rot90``;
* a broadcast and a reshape, whose transpose is a sum: ``tile``, ``repeat``;
* linear rules of their own: ``roll``, ``tril``, ``triu``, zero ``pad``;
* a gather (``getitem`` with index arrays, transposed by a scatter-add)
  whose indices NumPy computes itself, by applying the very function to an
  array of element numbers: ``insert``, ``delete``, ``resize``, ``pad``'s
  ``edge``/``reflect``/``symmetric``/``wrap`` modes, ``sort`` and
  ``partition`` (through ``argsort``/``argpartition``), ``take``,
  ``take_along_axis``, ``choose``, ``compress``, ``extract``.

``sort`` follows the permutation of a stable ``argsort``: at ties, each
output element takes the derivative of the input element NumPy placed there.

>>> import numpy as np, dualdiff as dd
>>> dd.jacfwd(lambda x: np.roll(x, 1))(np.array([1.0, 2.0, 3.0]))
array([[0., 0., 1.],
       [1., 0., 0.],
       [0., 1., 0.]])
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ..errors import NoRuleError
from ..rules import arrays as ar
from ..rules.shaping import PAD, ROLL, TRIL, TRIU
from ..rules.structural import GETITEM
from ..rules.values import NOT_EQUAL
from .core import LiftedBase as Lifted
from .core import apply_general, apply_linear, apply_nondiff, decided, strip_all
from .np_common import _as_operand, _ndim, _one_axis, _refuse, _shape
from .np_shaping import broadcast_to, diag, expand_dims, flip, ravel, reshape, stack, transpose


def _getitem(a: Any, index: Any) -> Any:
    return apply_linear(GETITEM, a, index)


def _numbers(shape: tuple[int, ...]) -> np.ndarray:
    """Element numbers 0 .. size-1 laid out in ``shape``: what NumPy rearranges to give us the gather."""
    return np.arange(int(np.prod(shape, dtype=int)), dtype=np.intp).reshape(shape)


def _gather(a: Any, numbers: np.ndarray) -> Any:
    """The elements of ``a`` with the given element numbers, in their shape (one gather)."""
    return _getitem(ravel(a), numbers)


# ==========================================================================
# flips, rotations, rolls
# ==========================================================================


def flipud(m: Any) -> Any:
    """``np.flipud``: a reversed slice of the first axis."""
    if _ndim(m) < 1:
        raise ValueError("Input must be >= 1-d.")
    return _getitem(m, (slice(None, None, -1),))


def fliplr(m: Any) -> Any:
    """``np.fliplr``: a reversed slice of the second axis."""
    if _ndim(m) < 2:
        raise ValueError("Input must be >= 2-d.")
    return _getitem(m, (slice(None), slice(None, None, -1)))


def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Any:
    """``np.rot90``: flips and a transpose, as NumPy composes it."""
    n = _ndim(m)
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    a0, a1 = _one_axis(axes[0], n), _one_axis(axes[1], n)
    if a0 == a1:
        raise ValueError("Axes must be different.")
    k = operator.index(k) % 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    perm = list(range(n))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return transpose(flip(m, a1), perm)
    return flip(transpose(m, perm), a1)


def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    """``np.roll``: the linear rule ``roll`` (axis=None rolls the flattened array)."""
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), _shape(a))
    n = _ndim(a)
    shifts: dict[int, int] = {}
    for s, ax in zip(*np.broadcast_arrays(np.atleast_1d(shift), np.atleast_1d(axis))):  # NumPy's pairing rules
        ax = _one_axis(int(ax), n)
        shifts[ax] = shifts.get(ax, 0) + int(s)
    axes = tuple(sorted(shifts))
    return apply_linear(ROLL, a, tuple(shifts[ax] for ax in axes), axes)


# ==========================================================================
# triangles and diagonals
# ==========================================================================


def _triangle(rule: Any, name: str) -> Any:
    def tri(m: Any, k: int = 0) -> Any:
        m = _as_operand(m)
        if _ndim(m) == 0:
            raise ValueError(f"{name} of a scalar")
        if _ndim(m) == 1:  # NumPy makes a vector the rows of a square matrix
            n = _shape(m)[0]
            m = broadcast_to(m, (n, n))
        return apply_linear(rule, m, operator.index(k))

    tri.__name__ = name.split(".")[-1]
    tri.__doc__ = f"``{name}``: the linear rule ``{rule.name}`` of the last two axes."
    return tri


tril = _triangle(TRIL, "np.tril")
triu = _triangle(TRIU, "np.triu")


def diagflat(v: Any, k: int = 0) -> Any:
    """``np.diagflat``: the flattened input on a diagonal."""
    return diag(ravel(v), k)


# ==========================================================================
# tiles and repeats: a broadcast and a reshape
# ==========================================================================


def tile(A: Any, reps: Any) -> Any:
    """``np.tile``: ``A`` broadcast along new interleaved axes, then reshaped."""
    tup = (operator.index(reps),) if np.ndim(reps) == 0 else tuple(operator.index(r) for r in reps)
    shape = _shape(A)
    d = max(len(tup), len(shape))
    shape = (1,) * (d - len(shape)) + shape
    tup = (1,) * (d - len(tup)) + tup
    interleaved = tuple(x for s in shape for x in (1, s))
    target = tuple(x for r, s in zip(tup, shape) for x in (r, s))
    x = broadcast_to(reshape(A, interleaved), target)
    return reshape(x, tuple(r * s for r, s in zip(tup, shape)))


def repeat(a: Any, repeats: Any, axis: Any = None) -> Any:
    """``np.repeat``: a broadcast along a new axis and a reshape (one count); a gather (several)."""
    if axis is None:
        a, axis = ravel(a), 0
    n = _ndim(a)
    ax = _one_axis(axis, n)
    shape = _shape(a)
    counts = np.asarray(repeats)
    if counts.size == 1:
        r = int(counts.reshape(()))
        if r < 0:
            raise ValueError("negative dimensions are not allowed")
        x = broadcast_to(expand_dims(a, ax + 1), shape[: ax + 1] + (r,) + shape[ax + 1 :])
        return reshape(x, shape[:ax] + (shape[ax] * r,) + shape[ax + 1 :])
    index = np.repeat(np.arange(shape[ax]), counts)  # NumPy's own checks of the counts
    return _getitem(a, (slice(None),) * ax + (index,))


def resize(a: Any, new_shape: Any) -> Any:
    """``np.resize``: the flattened input repeated to fill ``new_shape`` (a gather)."""
    numbers = np.resize(_numbers(_shape(a)), new_shape)
    if np.size(_shape(a)) and int(np.prod(_shape(a))) == 0:
        return np.zeros(numbers.shape, dtype=np.result_type(strip_all(a)))
    return _gather(a, numbers)


# ==========================================================================
# padding
# ==========================================================================


def _as_pairs(x: Any, ndim: int) -> tuple[tuple[Any, Any], ...]:
    """``(before, after)`` per axis from NumPy's forms of ``pad_width`` and ``constant_values``."""
    arr = np.asarray(x)
    if arr.ndim < 3:
        if arr.size == 1:
            v = arr.ravel()[0]
            return ((v, v),) * ndim
        if arr.size == 2 and arr.shape != (2, 1):
            v = arr.ravel()
            return ((v[0], v[1]),) * ndim
    return tuple((p[0], p[1]) for p in np.broadcast_to(arr, (ndim, 2)).tolist())


_GATHER_MODES = ("edge", "reflect", "symmetric", "wrap")


def pad(array: Any, pad_width: Any, mode: Any = "constant", **kwargs: Any) -> Any:
    """``np.pad``: zeros by the linear rule ``pad``; constants by a ``where``; the modes that
    copy elements (edge, reflect, symmetric, wrap) by a gather NumPy computes."""
    array = _as_operand(array)
    n = _ndim(array)
    if mode == "constant":
        values = kwargs.pop("constant_values", 0)
        _refuse("np.pad", **kwargs)
        widths = tuple((operator.index(lo), operator.index(hi)) for lo, hi in _as_pairs(pad_width, n))
        if any(lo < 0 or hi < 0 for lo, hi in widths):
            raise ValueError("index can't contain negative values")
        padded = apply_linear(PAD, array, widths)
        shape = _shape(array)
        inside = np.pad(np.ones(shape, dtype=bool), widths)
        if isinstance(values, Lifted):  # one lifted constant: the border carries its derivative
            if _ndim(values) != 0:
                raise TypeError("np.pad on lifted values takes a lifted constant_values only as a scalar")
            return apply_general(ar.WHERE, (inside, padded, values))
        if np.all(np.asarray(values) == 0):
            return padded
        border = np.pad(np.zeros(shape, dtype=np.result_type(strip_all(array))), widths, constant_values=values)
        return apply_general(ar.WHERE, (inside, padded, border))
    if mode in _GATHER_MODES:
        if kwargs.get("reflect_type", "even") != "even":
            raise NoRuleError("np.pad with reflect_type='odd' has no derivative rule in dualdiff")
        kwargs.pop("reflect_type", None)
        _refuse("np.pad", **kwargs)
        return _gather(array, np.pad(_numbers(_shape(array)), pad_width, mode=mode))
    raise NoRuleError(
        f"np.pad with mode={mode!r} has no derivative rule in dualdiff; "
        f"use 'constant' or one of {', '.join(_GATHER_MODES)}"
    )


# ==========================================================================
# gathers: take, take_along_axis, sort, partition, choose, compress, extract
# ==========================================================================


def take(a: Any, indices: Any, axis: Any = None, out: Any = None, mode: str = "raise") -> Any:
    """``np.take``: indexing with an index array along one axis."""
    _refuse("np.take", out=out)
    if axis is None:
        a, axis = ravel(a), 0
    ax = _one_axis(axis, _ndim(a))
    idx = indices if isinstance(indices, Lifted) else np.asarray(indices)  # a recorded index stays guarded
    size = _shape(a)[ax]
    if mode == "wrap":  # indices computed from values are decisions: decided() keeps them guarded
        idx = np.mod(decided(idx), size)
    elif mode == "clip":
        idx = np.clip(decided(idx), 0, size - 1)
    return _getitem(a, (slice(None),) * ax + (idx,))


def _along_axis_index(indices: Any, axis: int) -> tuple[Any, ...]:
    """The index tuple that picks ``indices`` along ``axis`` and every position along the others."""
    shape = np.shape(strip_all(indices))
    out: list[Any] = []
    for i, n in enumerate(shape):
        if i == axis:
            out.append(indices)
        else:
            out.append(np.arange(n).reshape((1,) * i + (n,) + (1,) * (len(shape) - i - 1)))
    return tuple(out)


def take_along_axis(arr: Any, indices: Any, axis: Any = -1) -> Any:
    """``np.take_along_axis``: one gather with broadcast index arrays."""
    raw = indices if isinstance(indices, Lifted) else np.asarray(indices)  # a recorded index stays guarded
    idx = np.asarray(decided(indices))
    if axis is None:
        return _getitem(ravel(arr), raw)
    ax = _one_axis(axis, _ndim(arr))
    if idx.ndim != _ndim(arr):
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    shape = np.broadcast_shapes(tuple(s if i != ax else 1 for i, s in enumerate(_shape(arr))), idx.shape)
    full_shape = shape[:ax] + (idx.shape[ax],) + shape[ax + 1 :]
    full = raw if idx.shape == full_shape else np.broadcast_to(idx, full_shape)
    return _getitem(arr, _along_axis_index(full, ax))


def sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: Any = None) -> Any:
    """``np.sort``: the permutation of a stable ``argsort`` of the values, as a gather."""
    _refuse("np.sort", order=order)
    if axis is None:
        a, axis = ravel(a), 0
    ax = _one_axis(axis, _ndim(a))
    return take_along_axis(a, np.argsort(a, axis=ax, kind="stable"), ax)


def partition(a: Any, kth: Any, axis: Any = -1, kind: Literal["introselect"] = "introselect", order: Any = None) -> Any:
    """``np.partition``: the permutation of ``argpartition`` of the values, as a gather."""
    _refuse("np.partition", order=order)
    if axis is None:
        a, axis = ravel(a), 0
    ax = _one_axis(axis, _ndim(a))
    return take_along_axis(a, np.argpartition(a, kth, axis=ax, kind=kind), ax)


def choose(a: Any, choices: Any, out: Any = None, mode: str = "raise") -> Any:
    """``np.choose``: the choices stacked, then a gather along the new first axis."""
    _refuse("np.choose", out=out)
    idx = np.asarray(decided(a))  # the choices made: guarded in a recorded program
    ops = [_as_operand(c) for c in choices]
    shape = np.broadcast_shapes(idx.shape, *(_shape(c) for c in ops))
    n = len(ops)
    if mode == "wrap":
        idx = np.mod(idx, n)
    elif mode == "clip":
        idx = np.clip(idx, 0, n - 1)
    elif np.any((idx < 0) | (idx >= n)):
        raise ValueError("invalid entry in choice array")
    stacked = stack([broadcast_to(c, shape) for c in ops])
    return take_along_axis(stacked, np.broadcast_to(idx, shape)[None], 0)[0]


def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Any:
    """``np.select``: ``where`` from the last condition to the first (the first true one wins)."""
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if len(condlist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    result = _as_operand(default)
    for cond, choice in zip(reversed(condlist), reversed(choicelist)):
        c = cond if isinstance(cond, Lifted) else np.asarray(cond)
        if not isinstance(c, Lifted) and c.dtype != bool:
            raise TypeError(f"invalid entry in condlist: should be boolean ndarray, got {c.dtype}")
        result = apply_general(ar.WHERE, (c, _as_operand(choice), result))
    return result


def compress(condition: Any, a: Any, axis: Any = None, out: Any = None) -> Any:
    """``np.compress``: indexing with the positions where ``condition`` holds."""
    _refuse("np.compress", out=out)
    return take(a, np.flatnonzero(condition), axis)


def extract(condition: Any, arr: Any) -> Any:
    """``np.extract``: the flattened elements where ``condition`` holds."""
    return take(ravel(arr), np.flatnonzero(condition))


def trim_zeros(filt: Any, trim: str = "fb", axis: Any = None) -> Any:
    """``np.trim_zeros`` of a vector: a slice between the first and last nonzero values."""
    if _ndim(filt) != 1 or axis not in (None, 0, -1):
        raise NoRuleError("np.trim_zeros has a derivative rule in dualdiff for vectors only")
    nz = np.flatnonzero(np.asarray(decided(apply_nondiff(NOT_EQUAL, (filt, 0)))))  # where it starts and stops: guarded
    trim = trim.lower()
    if not len(nz):
        return _getitem(filt, (slice(0, 0),))
    start = int(nz[0]) if "f" in trim else 0
    stop = int(nz[-1]) + 1 if "b" in trim else _shape(filt)[0]
    return _getitem(filt, (slice(start, stop),))


# ==========================================================================
# insert, delete: gathers from the input (and the inserted values)
# ==========================================================================


def delete(arr: Any, obj: Any, axis: Any = None) -> Any:
    """``np.delete``: the elements NumPy keeps, as a gather."""
    return _gather(arr, np.delete(_numbers(_shape(arr)), obj, axis))


def insert(arr: Any, obj: Any, values: Any, axis: Any = None) -> Any:
    """``np.insert``: NumPy inserts element numbers; the result gathers from ``arr`` and ``values``."""
    arr, values = _as_operand(arr), _as_operand(values)
    shape_a, shape_v = _shape(arr), _shape(values)
    size_a = int(np.prod(shape_a, dtype=int))
    tags = np.insert(_numbers(shape_a), obj, -1 - _numbers(shape_v), axis)
    from_arr = tags >= 0
    a_part = _gather(arr, np.where(from_arr, tags, 0)) if size_a else np.zeros(tags.shape)
    v_part = _gather(values, np.where(from_arr, 0, -1 - tags)) if np.any(~from_arr) else np.zeros(tags.shape)
    return apply_general(ar.WHERE, (from_arr, a_part, v_part))


HANDLERS = {
    np.flipud: flipud,
    np.fliplr: fliplr,
    np.rot90: rot90,
    np.roll: roll,
    np.tril: tril,
    np.triu: triu,
    np.diagflat: diagflat,
    np.tile: tile,
    np.repeat: repeat,
    np.resize: resize,
    np.pad: pad,
    np.take: take,
    np.take_along_axis: take_along_axis,
    np.sort: sort,
    np.partition: partition,
    np.choose: choose,
    np.select: select,
    np.compress: compress,
    np.extract: extract,
    np.trim_zeros: trim_zeros,
    np.delete: delete,
    np.insert: insert,
}

__all__ = ["HANDLERS"]
