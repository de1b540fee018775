"""The structural primitives: indexing, sums, reshapes and broadcasting (linear rules).

Each is a :class:`~dualdiff.rules.kinds.Linear` rule: the map (its own
tangent map) and its transpose, written once for every mode. The maps see
plain arrays whose last ``nbatch`` axes are directions they leave alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .kinds import Linear, register


def _normalize_index(index: Any, ndim: int) -> tuple[Any, ...]:
    """Turn an index into a tuple that addresses the leading ``ndim`` axes only.

    An Ellipsis is expanded so that a trailing direction axis on a tangent is
    never addressed by the user's index.
    """
    idx = index if isinstance(index, tuple) else (index,)
    if any(i is Ellipsis for i in idx):
        k = next(j for j, i in enumerate(idx) if i is Ellipsis)
        used = sum(1 for i in idx if i is not None and i is not Ellipsis and not _is_bool_array(i))
        used += sum(np.ndim(i) for i in idx if _is_bool_array(i))
        fill = (slice(None),) * max(ndim - used, 0)
        idx = idx[:k] + fill + idx[k + 1 :]
    return idx


def _is_bool_array(i: Any) -> bool:
    return isinstance(i, np.ndarray) and i.dtype == bool


def _has_array_index(idx: tuple[Any, ...]) -> bool:
    """Advanced indexing: an array, a list or a tuple among the items (``A[(0, 1, 1), (2, 0, 0)]``)."""
    return any(isinstance(i, (np.ndarray, list, tuple)) for i in idx)


def _getitem_fn(x: Any, nbatch: int, index: Any) -> Any:
    return x[_normalize_index(index, np.ndim(x) - nbatch) if nbatch else index]


def _getitem_transpose(g: Any, x_shape: tuple[int, ...], nbatch: int, index: Any) -> Any:
    g = np.asarray(g)
    batch = g.shape[g.ndim - nbatch :] if nbatch else ()
    out = np.empty(x_shape + batch, dtype=g.dtype)
    out.fill(0)  # not np.zeros: calloc maps fresh pages for large arrays, malloc reuses freed ones
    return getitem_add(out, g, len(x_shape), index, fresh=True)


def getitem_add(out: np.ndarray, g: Any, ndim: int, index: Any, fresh: bool = False) -> np.ndarray:
    """Add ``g`` into ``out[index]`` in place: the transpose of getitem, accumulated.

    ``ndim`` is the primal's number of axes (``out`` may have direction axes
    after them). ``fresh`` says ``out`` is all zeros, so basic indexing may
    assign instead of add. The reverse sweep uses this to scatter straight
    into an adjoint it already holds, touching only the indexed elements.

    >>> getitem_add(np.zeros(3), np.ones(2), 1, np.array([0, 0]))
    array([2., 0., 0.])
    """
    idx = _normalize_index(index, ndim)
    if _has_array_index(idx):
        np.add.at(out, idx, g)  # scatter-add: repeated indices accumulate
    elif fresh:
        out[idx] = g  # basic indexing never repeats an element
    else:
        out[idx] += g
    return out


GETITEM = register(Linear("getitem", 1, "{0}[{1}]", fn=_getitem_fn, transpose=_getitem_transpose))


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """Normalize an ``axis`` argument to non-negative axes of the primal."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(sorted(a % ndim for a in axis))
    return (axis % ndim,)


def _batch_shape(v: Any, nbatch: int) -> tuple[int, ...]:
    s = np.shape(v)
    return s[len(s) - nbatch :] if nbatch else ()


def sum_to_shape(v: Any, shape: tuple[int, ...], nbatch: int = 0) -> Any:
    """Sum ``v`` over the axes broadcasting added to an array of ``shape``.

    The transpose of broadcasting; ``nbatch`` trailing axes are left alone.

    >>> sum_to_shape(np.ones((2, 3)), (3,))
    array([2., 2., 2.])
    """
    vshape = np.shape(v)
    core = vshape[: len(vshape) - nbatch]
    if core == shape:
        return v
    lead = len(core) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and core[lead + i] != 1)
    return np.reshape(np.sum(v, axis=axes), shape + _batch_shape(v, nbatch))


def _sum_fn(x: Any, nbatch: int, axis: Any = None, keepdims: bool = False) -> Any:
    if not nbatch:
        if type(x) is np.ndarray and x.dtype.kind in "fc":
            # np.sum's own reduction, without its wrapper (NumPy's stubs overload keepdims on literals only)
            return np.add.reduce(x, axis=axis, keepdims=keepdims)  # type: ignore[call-overload]
        return np.sum(x, axis=axis, keepdims=keepdims)
    return np.sum(x, axis=_axes(axis, np.ndim(x) - nbatch), keepdims=keepdims)


def _sum_transpose(g: Any, x_shape: tuple[int, ...], nbatch: int, axis: Any, keepdims: bool) -> Any:
    if not nbatch and np.ndim(g) == 0:
        # a full sum: every element gets g -- a read-only view of it, as np.broadcast_to
        # gives, made directly (broadcast_to's Python wrapper costs more than small sums)
        g = np.asarray(g)
        view = np.ndarray(x_shape, g.dtype, g, 0, (0,) * len(x_shape))
        view.flags.writeable = False
        return view
    batch = _batch_shape(g, nbatch)
    axes = _axes(axis, len(x_shape))
    kept = tuple(1 if i in axes else s for i, s in enumerate(x_shape))
    return np.broadcast_to(np.reshape(g, kept + batch), x_shape + batch)


SUM = register(
    Linear(
        "sum",
        1,
        "sum({0})",
        fn=_sum_fn,
        transpose=_sum_transpose,
    )
)
RESHAPE = register(
    Linear(
        "reshape",
        1,
        "reshape({0})",
        fn=lambda x, nbatch, shape: np.reshape(x, _resolve_shape(shape, np.shape(x), nbatch) + _batch_shape(x, nbatch)),
        transpose=lambda g, x_shape, nbatch, shape: np.reshape(g, x_shape + _batch_shape(g, nbatch)),
    )
)
BROADCAST_TO = register(
    Linear(
        "broadcast_to",
        1,
        "broadcast_to({0})",
        fn=lambda x, nbatch, shape: np.broadcast_to(
            np.reshape(x, (1,) * (len(shape) - np.ndim(x) + nbatch) + np.shape(x)) if nbatch else x,
            tuple(shape) + _batch_shape(x, nbatch),
        ),
        transpose=lambda g, x_shape, nbatch, shape: sum_to_shape(g, x_shape, nbatch),
    )
)


def _resolve_shape(shape: Any, full: tuple[int, ...], nbatch: int) -> tuple[int, ...]:
    """A reshape target with any -1 worked out against the primal's size."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    size = int(np.prod(full[: len(full) - nbatch]))
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        shape = tuple(size // known if s == -1 else s for s in shape)
    return shape
