"""Array primitives of the rule table: structure, contractions, reductions, linear algebra.

Each primitive is registered into :data:`dualdiff.rules.TABLE` with its
derivative written once, for both modes:

* :class:`~dualdiff.rules.Linear` rules (transpose, cumsum, diagonal, ...)
  give the map ``fn(x, nbatch, *params)`` and its transpose
  ``transpose(g, x_shape, nbatch, *params)``; both see plain arrays only.
* :class:`~dualdiff.rules.General` rules (matmul, tensordot, einsum, where,
  concatenate, prod, max/min, inv, solve, det, log|det|) give, per argument,
  the forward map of its tangent and the transpose of that map. Their
  arguments may be lifted values of a lower level (nesting), so the maps are
  written with NumPy functions that dispatch back into this table.

Tangents and cotangents may carry ``nbatch`` trailing *direction* axes (a
chunk of a Jacobian); every map here leaves those axes alone, in last
position.

Variadic rules (einsum, concatenate) have ``nin = -1``: their per-argument
maps are :class:`PerArgument` objects, ``maps[i] = fn(i, ...)``.

Policy at ties: ``max``/``min`` split the derivative evenly among the tied
elements (the midpoint policy of :mod:`dualdiff.rules`).

>>> import numpy as np
>>> MATMUL.fn(np.eye(2), np.array([1.0, 2.0]))
array([1., 2.])
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from typing import Any

import numpy as np

from .kinds import General, Linear, register
from .structural import _batch_shape, sum_to_shape

Map = Callable[..., Any]


class PerArgument:
    """The per-argument maps of a variadic rule: ``self[i]`` is ``fn(i, ...)``.

    >>> m = PerArgument(lambda i, t: (i, t))
    >>> m[3]("t")
    (3, 't')
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Map) -> None:
        self.fn = fn

    def __getitem__(self, i: int) -> Map:
        return functools.partial(self.fn, i)

    def __iter__(self) -> Any:
        raise TypeError("the maps of a variadic rule cannot be listed; index them by argument position")


def _linear(name: str, template: str, fn: Map, transpose: Map) -> Linear:
    return register(Linear(name, 1, template, fn=fn, transpose=transpose))


def _general(
    name: str,
    nin: int,
    template: str,
    fn: Map,
    linear_maps: Any,
    transposes: Any,
    joint_map: Map | None = None,
    nondiff_args: tuple[int, ...] = (),
    linear_in: Any = (),
) -> General:
    return register(
        General(
            name,
            nin,
            template,
            fn=fn,
            linear_maps=linear_maps,
            transposes=transposes,
            joint_map=joint_map,
            nondiff_args=nondiff_args,
            linear_in=linear_in,
        )
    )


def _core_ndim(v: Any, nbatch: int) -> int:
    return np.ndim(v) - nbatch


def _expand_batch(w: Any, nbatch: int) -> Any:
    """``w`` with ``nbatch`` trailing unit axes, to broadcast against directions."""
    if not nbatch or np.ndim(w) == 0:
        return w
    return np.reshape(w, np.shape(w) + (1,) * nbatch)


def _reshape(v: Any, shape: tuple[int, ...]) -> Any:
    return v if np.shape(v) == shape else np.reshape(v, shape)


# ==========================================================================
# Linear and structural rules
# ==========================================================================


def _full_perm(axes: tuple[int, ...], nbatch: int) -> tuple[int, ...]:
    n = len(axes)
    return tuple(axes) + tuple(range(n, n + nbatch))


TRANSPOSE = _linear(
    "transpose",
    "transpose({0})",
    fn=lambda x, nbatch, axes: np.transpose(x, _full_perm(axes, nbatch)) if nbatch else np.transpose(x, axes),
    transpose=lambda g, x_shape, nbatch, axes: np.transpose(g, _full_perm(tuple(np.argsort(axes)), nbatch)),
)


def _cumsum_fn(x: Any, nbatch: int, axis: int) -> Any:
    return np.cumsum(x, axis=axis)


def _cumsum_transpose(g: Any, x_shape: tuple[int, ...], nbatch: int, axis: int) -> Any:
    # the transpose of a running sum is the running sum from the other end
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


#: ``axis`` is a non-negative axis of the primal (dispatch ravels for axis=None).
CUMSUM = _linear("cumsum", "cumsum({0})", fn=_cumsum_fn, transpose=_cumsum_transpose)


def _diagonal_index(n: int, offset: int) -> tuple[Any, Any]:
    i = np.arange(n)
    return i + max(-offset, 0), i + max(offset, 0)


def _take_diagonal(x: Any, nbatch: int, offset: int, axis1: int, axis2: int) -> Any:
    """The diagonal of axes (axis1, axis2), as NumPy's ``diagonal``: it becomes the last core axis."""
    d = np.diagonal(x, offset, axis1, axis2)
    return np.moveaxis(d, -1, np.ndim(d) - 1 - nbatch) if nbatch else d


def _place_diagonal(d: Any, shape: tuple[int, ...], nbatch: int, offset: int, axis1: int, axis2: int) -> Any:
    """Zeros of ``shape`` (plus directions) with ``d`` on the diagonal: the transpose of taking it."""
    batch = _batch_shape(d, nbatch)
    out = np.zeros(tuple(shape) + batch, dtype=np.result_type(d))
    view = np.moveaxis(out, (axis1, axis2), (0, 1))
    i, j = _diagonal_index(np.shape(d)[np.ndim(d) - 1 - nbatch], offset)
    view[i, j] = np.moveaxis(d, np.ndim(d) - 1 - nbatch, 0)
    return out


DIAGONAL = _linear(
    "diagonal",
    "diagonal({0})",
    fn=_take_diagonal,
    transpose=lambda g, x_shape, nbatch, offset, axis1, axis2: _place_diagonal(
        g, x_shape, nbatch, offset, axis1, axis2
    ),
)


def _diag_embed_fn(v: Any, nbatch: int, offset: int) -> Any:
    n = np.shape(v)[0] + abs(offset)
    return _place_diagonal(v, (n, n), nbatch, offset, 0, 1)


#: ``np.diag`` of a vector: a square matrix with the vector on diagonal ``offset``.
DIAG_EMBED = _linear(
    "diag_embed",
    "diag({0})",
    fn=_diag_embed_fn,
    transpose=lambda g, x_shape, nbatch, offset: _take_diagonal(g, nbatch, offset, 0, 1),
)

#: Complex conjugation (R-linear; dispatch skips it for real values).
CONJ = _linear(
    "conj",
    "conj({0})",
    fn=lambda x, nbatch: np.conj(x),
    transpose=lambda g, x_shape, nbatch: np.conj(g),
)


def _as_complex(g: Any) -> Any:
    g = np.asarray(g)
    return g.astype(np.result_type(g, np.complex64))


#: The real part (R-linear). Its output is real, so the cotangent that reaches it
#: counts by its real part (as at a real input, see
#: :func:`dualdiff.modes.tape.real_cotangent`); the transpose embeds that as a
#: complex cotangent, as JAX's does: ``g -> Re(g) + 0i``.
REAL = _linear(
    "real",
    "Re({0})",
    fn=lambda x, nbatch: np.real(x),
    transpose=lambda g, x_shape, nbatch: _as_complex(np.real(g)),
)

#: The imaginary part (R-linear); its transpose is ``g -> -i Re(g)`` (JAX's convention).
IMAG = _linear(
    "imag",
    "Im({0})",
    fn=lambda x, nbatch: np.imag(x),
    transpose=lambda g, x_shape, nbatch: -1j * _as_complex(np.real(g)),
)


# ==========================================================================
# Products: matmul, tensordot, einsum
# ==========================================================================


def bmm(a: Any, b: Any, nba: int = 0, nbb: int = 0) -> Any:
    """``a @ b`` where ``a`` or ``b`` carries ``nba``/``nbb`` (0 or 1) trailing direction axes.

    The result carries them trailing too. One BLAS call in the common cases.

    >>> bmm(np.eye(2), np.ones((2, 3)), 0, 1).shape   # a (2,2) @ b (2,) with 3 directions
    (2, 3)
    """
    if not nba and not nbb:
        return np.matmul(a, b)
    if nba and nbb:
        raise ValueError("bmm: only one operand may carry directions")
    if nbb:
        if np.ndim(b) - nbb == 1:  # (n, k) acts as a matrix of k columns
            return np.matmul(a, b)
        s = np.shape(b)
        r = np.matmul(a, np.reshape(b, s[:-2] + (s[-2] * s[-1],)))
        return np.reshape(r, np.shape(r)[:-1] + s[-2:])
    if np.ndim(b) == 1:  # (..., m, n, k) -> (..., m, k, n) @ (n,)
        return np.matmul(np.swapaxes(a, -1, -2), b)
    bt = np.swapaxes(b, -1, -2)
    if np.ndim(a) - nba == 1:  # a (n, k): (..., p, n) @ (n, k)
        return np.matmul(bt, a)
    return np.matmul(np.expand_dims(bt, -3), a)  # (..., 1, p, n) @ (..., m, n, k)


def _matmul_promoted(g: Any, nbatch: int, a: Any, b: Any) -> tuple[Any, Any, Any]:
    """View vectors in a matmul as a row (a) or a column (b), with g to match."""
    core = _core_ndim(g, nbatch)
    if np.ndim(b) == 1:
        g = np.expand_dims(g, core)
        core += 1
        b = np.reshape(b, (-1, 1))
    if np.ndim(a) == 1:
        g = np.expand_dims(g, core - 1)
        a = np.reshape(a, (1, -1))
    return g, a, b


def _matmul_t0(g: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
    a, b = args
    if not nbatch and np.ndim(a) == 2 and np.ndim(b) == 2:  # the common case, directly
        return np.matmul(g, np.transpose(b))
    g2, a2, b2 = _matmul_promoted(g, nbatch, a, b)
    ga = sum_to_shape(bmm(g2, np.swapaxes(b2, -1, -2), nbatch, 0), np.shape(a2), nbatch)
    return _reshape(ga, np.shape(a) + _batch_shape(g, nbatch))


def _matmul_t1(g: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
    a, b = args
    if not nbatch and np.ndim(a) == 2 and np.ndim(b) == 2:  # the common case, directly
        return np.matmul(np.transpose(a), g)
    g2, a2, b2 = _matmul_promoted(g, nbatch, a, b)
    gb = sum_to_shape(bmm(np.swapaxes(a2, -1, -2), g2, 0, nbatch), np.shape(b2), nbatch)
    return _reshape(gb, np.shape(b) + _batch_shape(g, nbatch))


MATMUL = _general(
    "matmul",
    2,
    "{0} @ {1}",
    fn=np.matmul,
    linear_maps=(
        lambda t, nbatch, y, args, params: bmm(t, args[1], nbatch, 0),
        lambda t, nbatch, y, args, params: bmm(args[0], t, 0, nbatch),
    ),
    transposes=(_matmul_t0, _matmul_t1),
    linear_in="each",
)


def _free(ndim: int, axes: tuple[int, ...]) -> list[int]:
    return [i for i in range(ndim) if i not in axes]


def _tensordot_t0(g: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
    a, b = args
    axes_a, axes_b = params
    na, nb = np.ndim(a), np.ndim(b)
    free_a, free_b = _free(na, axes_a), _free(nb, axes_b)
    g_free_b = list(range(len(free_a), len(free_a) + len(free_b)))
    r = np.tensordot(g, b, (g_free_b, free_b))
    # r axes: free_a, directions, then b's contracted axes in b's order
    pair = dict(zip(axes_b, axes_a))
    labels = free_a + [na + i for i in range(nbatch)] + [pair[j] for j in sorted(axes_b)]
    return np.transpose(r, np.argsort(labels))


def _tensordot_t1(g: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
    a, b = args
    axes_a, axes_b = params
    na, nb = np.ndim(a), np.ndim(b)
    free_a, free_b = _free(na, axes_a), _free(nb, axes_b)
    r = np.tensordot(a, g, (free_a, list(range(len(free_a)))))
    # r axes: a's contracted axes in a's order, free_b, directions
    pair = dict(zip(axes_a, axes_b))
    labels = [pair[i] for i in sorted(axes_a)] + free_b + [nb + i for i in range(nbatch)]
    return np.transpose(r, np.argsort(labels))


def _tensordot_f0(t: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
    r = np.tensordot(t, args[1], params)
    if not nbatch:
        return r
    n_free_a = np.ndim(args[0]) - len(params[0])
    return np.moveaxis(r, n_free_a, -1)


#: ``params = (axes_a, axes_b)``: tuples of non-negative axes, paired in order.
TENSORDOT = _general(
    "tensordot",
    2,
    "tensordot({0}, {1})",
    fn=lambda a, b, axes_a, axes_b: np.tensordot(a, b, (axes_a, axes_b)),
    linear_maps=(
        lambda t, nbatch, y, args, params: _tensordot_f0(t, nbatch, y, args, params),
        lambda t, nbatch, y, args, params: np.tensordot(args[0], t, params),
    ),
    transposes=(_tensordot_t0, _tensordot_t1),
    linear_in="each",
)


def _einsum_call(spec: str, *operands: Any) -> Any:
    big = len(operands) > 2 or sum(int(np.size(o)) for o in operands) > 4096
    return np.einsum(spec, *operands, optimize="greedy" if big else False)


def _spare_letter(ins: tuple[str, ...], out: str) -> str:
    used = set("".join(ins) + out)
    return next(c for c in string.ascii_letters if c not in used)


def _einsum_fn(*xs: Any) -> Any:
    *ops, ins, out = xs
    return _einsum_call(",".join(ins) + "->" + out, *ops)


def _einsum_f(i: int, t: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
    ins, out = params
    z = _spare_letter(ins, out) * nbatch
    subs = [s + z if j == i else s for j, s in enumerate(ins)]
    ops = [t if j == i else a for j, a in enumerate(args)]
    return _einsum_call(",".join(subs) + "->" + out + z, *ops)


def _einsum_t(i: int, g: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
    ins, out = params
    z = _spare_letter(ins, out) * nbatch
    others = [(s, a) for j, (s, a) in enumerate(zip(ins, args)) if j != i]
    have = set(out).union(*(s for s, _ in others))
    target = ins[i]
    got = "".join(c for c in target if c in have)
    spec = ",".join([out + z] + [s for s, _ in others]) + "->" + got + z
    r = _einsum_call(spec, g, *(a for _, a in others))
    if got != target:  # letters summed inside operand i alone: broadcast back over them
        shape = np.shape(args[i])
        r = np.reshape(r, tuple(shape[k] if c in have else 1 for k, c in enumerate(target)) + _batch_shape(g, nbatch))
        r = np.broadcast_to(r, tuple(shape) + _batch_shape(g, nbatch))
    return r


#: ``params = (input subscripts, output subscripts)``, explicit, no repeated
#: letter inside one operand (dispatch takes such diagonals first).
EINSUM = _general(
    "einsum",
    -1,
    "einsum({0}, ...)",
    fn=_einsum_fn,
    linear_maps=PerArgument(_einsum_f),
    transposes=PerArgument(_einsum_t),
    linear_in="each",
)


# ==========================================================================
# Selection and assembly: where, concatenate
# ==========================================================================


def _plain(v: Any) -> Any:
    """The value under any lifted levels: for arguments that carry no derivative (a mask)."""
    while hasattr(v, "primal") and hasattr(v, "level"):
        v = v.primal
    return v


def _where_joint(ts: list[Any], nbatch: int, y: Any, args: Any, params: Any) -> Any:
    cond = _expand_batch(_plain(args[0]), nbatch)
    _, ta, tb = ts
    t = np.where(cond, 0 if ta is None else ta, 0 if tb is None else tb)
    # a constant branch larger than the lifted one (or the condition) sets the output's shape
    want = np.shape(y) + _batch_shape(ta if ta is not None else tb, nbatch)
    return t if np.shape(t) == want else np.broadcast_to(t, want)


def _where_t(i: int, g: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
    cond = _expand_batch(_plain(args[0]), nbatch)
    v = np.where(cond, g, 0) if i == 1 else np.where(cond, 0, g)
    return sum_to_shape(v, np.shape(args[i]), nbatch)


#: ``where(cond, a, b)``: the condition is an argument that carries no derivative.
WHERE = _general(
    "where",
    3,
    "where({0}, {1}, {2})",
    fn=np.where,
    linear_maps=(
        None,
        lambda t, nbatch, y, args, params: _where_joint([None, t, None], nbatch, y, args, params),
        lambda t, nbatch, y, args, params: _where_joint([None, None, t], nbatch, y, args, params),
    ),
    transposes=PerArgument(_where_t),
    joint_map=_where_joint,
    nondiff_args=(0,),
    linear_in=(1, 2),
)


def _concat_joint(ts: list[Any], nbatch: int, y: Any, args: Any, params: Any) -> Any:
    axis = params[0]
    present = [t for t in ts if t is not None]
    batch = _batch_shape(present[0], nbatch)
    dtype = np.result_type(*(t.dtype if hasattr(t, "dtype") else np.result_type(t) for t in present))
    parts = [np.zeros(np.shape(a) + batch, dtype=dtype) if t is None else t for t, a in zip(ts, args)]
    return np.concatenate(parts, axis=axis)


def _concat_t(i: int, g: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
    axis = params[0]
    start = sum(np.shape(a)[axis] for a in args[:i])
    stop = start + np.shape(args[i])[axis]
    return g[(slice(None),) * axis + (slice(start, stop),)]


#: ``concatenate(arrays, axis)``: ``params = (axis,)``, a non-negative axis.
CONCATENATE = _general(
    "concatenate",
    -1,
    "concatenate({0}, ...)",
    fn=lambda *xs: np.concatenate(xs[:-1], axis=xs[-1]),
    linear_maps=PerArgument(
        lambda i, t, nbatch, y, args, params: _concat_joint(
            [t if j == i else None for j in range(len(args))], nbatch, y, args, params
        )
    ),
    transposes=PerArgument(_concat_t),
    joint_map=_concat_joint,
    linear_in="all",
)


# ==========================================================================
# Reductions that are not linear: prod, max, min
# ==========================================================================


def _keep(y: Any, x_shape: tuple[int, ...], axes: tuple[int, ...], nbatch: int = 0) -> Any:
    """``y`` reduced over ``axes`` (with or without keepdims), reshaped to keep them as 1s."""
    kept = tuple(1 if i in axes else s for i, s in enumerate(x_shape))
    return _reshape(y, kept + _batch_shape(y, nbatch))


def _reduce_fwd(w: Any, t: Any, nbatch: int, axes: tuple[int, ...], keepdims: bool) -> Any:
    return np.sum(_expand_batch(w, nbatch) * t, axis=axes, keepdims=keepdims)


def _reduce_t(w: Any, g: Any, nbatch: int, x_shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    return _expand_batch(w, nbatch) * _keep(g, x_shape, axes, nbatch)


def _extreme_weights(x: Any, y: Any, axes: tuple[int, ...]) -> Any:
    """Where the max (min) is attained, ties sharing the derivative evenly: a plain array."""
    xv = np.asarray(_plain(x))
    hit = xv == _keep(_plain(y), xv.shape, axes)
    return (hit / np.sum(hit, axis=axes, keepdims=True)).astype(xv.dtype, copy=False)


def _extreme(name: str, fn: Map) -> General:
    return _general(
        name,
        1,
        name + "({0})",
        fn=lambda x, axes, keepdims: fn(x, axis=axes, keepdims=keepdims),
        linear_maps=(
            lambda t, nbatch, y, args, params: _reduce_fwd(
                _extreme_weights(args[0], y, params[0]), t, nbatch, params[0], params[1]
            ),
        ),
        transposes=(
            lambda g, nbatch, y, args, params: _reduce_t(
                _extreme_weights(args[0], y, params[0]), g, nbatch, np.shape(args[0]), params[0]
            ),
        ),
    )


#: ``params = (axes, keepdims)`` with ``axes`` a tuple of non-negative axes.
MAX = _extreme("max", np.max)
MIN = _extreme("min", np.min)


def _prod_others(x: Any, y: Any, axes: tuple[int, ...]) -> Any:
    """The product of the other factors, for each factor: d prod / d x_i."""
    if not np.any(x == 0):  # comparisons look at primal values
        return _keep(y, np.shape(x), axes) / x
    # with zero factors: exclusive products, along the reduced axes flattened into one
    rest = _free(np.ndim(x), axes)
    xt = np.transpose(x, rest + list(axes))
    st = np.shape(xt)
    flat = np.reshape(xt, st[: len(rest)] + (-1,))
    n = np.shape(flat)[-1]
    if isinstance(x, np.ndarray):  # O(n): running products from both ends
        ones = np.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        others = left * right
    else:  # lifted (higher derivatives): O(n^2), every product written with dispatching rules
        rows = np.broadcast_to(np.expand_dims(flat, -2), np.shape(flat)[:-1] + (n, n))
        others = np.prod(np.where(np.eye(n, dtype=bool), 1.0, rows), axis=-1)
    return np.transpose(np.reshape(others, st), np.argsort(rest + list(axes)))


#: ``params = (axes, keepdims)``.
PROD = _general(
    "prod",
    1,
    "prod({0})",
    fn=lambda x, axes, keepdims: np.prod(x, axis=axes, keepdims=keepdims),
    linear_maps=(
        lambda t, nbatch, y, args, params: _reduce_fwd(
            _prod_others(args[0], y, params[0]), t, nbatch, params[0], params[1]
        ),
    ),
    transposes=(
        lambda g, nbatch, y, args, params: _reduce_t(
            _prod_others(args[0], y, params[0]), g, nbatch, np.shape(args[0]), params[0]
        ),
    ),
)


# ==========================================================================
# Linear algebra: inv, solve, det, log|det|
# ==========================================================================


def _mT(a: Any) -> Any:
    return np.swapaxes(a, -1, -2)


INV = _general(
    "inv",
    1,
    "inv({0})",
    fn=np.linalg.inv,
    linear_maps=(lambda t, nbatch, y, args, params: -bmm(bmm(y, t, 0, nbatch), y, nbatch, 0),),
    transposes=(lambda g, nbatch, y, args, params: -bmm(bmm(_mT(y), g, 0, nbatch), _mT(y), nbatch, 0),),
)


def _solve_batched(a: Any, rhs: Any, nbatch: int, vector: bool) -> Any:
    """``solve(a, rhs)`` where rhs carries ``nbatch`` trailing directions (``vector``: b is 1-D).

    In the vector case rhs is a (stack of) vector(s) ``(..., n)``: each is solved as a column.
    """
    if vector:
        r = _solve_batched(a, np.expand_dims(rhs, _core_ndim(rhs, nbatch)), nbatch, False)
        return np.squeeze(r, _core_ndim(r, nbatch) - 1)  # a's stack axes may have joined in front
    if not nbatch:
        return np.linalg.solve(a, rhs)
    s = np.shape(rhs)
    r = np.linalg.solve(a, np.reshape(rhs, s[:-2] + (s[-2] * s[-1],)))
    return np.reshape(r, np.shape(r)[:-1] + s[-2:])


def _solve_f0(t: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
    a, b = args
    if np.ndim(b) == 1:  # y holds vectors: view them as columns
        r = _solve_batched(a, bmm(t, np.expand_dims(y, -1), nbatch, 0), nbatch, False)
        return -np.squeeze(r, _core_ndim(r, nbatch) - 1)
    return -_solve_batched(a, bmm(t, y, nbatch, 0), nbatch, False)


def _solve_gb(g: Any, nbatch: int, a: Any, b: Any) -> Any:
    """The cotangent of b before un-broadcasting (shaped like the solution)."""
    return _solve_batched(_mT(a), g, nbatch, np.ndim(b) == 1)


def _solve_t0(g: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
    a, b = args
    gb, x = _solve_gb(g, nbatch, a, b), y
    if np.ndim(b) == 1:  # outer product: view the vectors as columns
        gb = np.expand_dims(gb, _core_ndim(gb, nbatch))
        x = np.expand_dims(x, -1)
    return sum_to_shape(-bmm(gb, _mT(x), nbatch, 0), np.shape(a), nbatch)


SOLVE = _general(
    "solve",
    2,
    "solve({0}, {1})",
    fn=np.linalg.solve,
    linear_maps=(
        _solve_f0,
        lambda t, nbatch, y, args, params: _solve_batched(args[0], t, nbatch, np.ndim(args[1]) == 1),
    ),
    transposes=(
        _solve_t0,
        lambda g, nbatch, y, args, params: sum_to_shape(_solve_gb(g, nbatch, *args), np.shape(args[1]), nbatch),
    ),
    linear_in=(1,),
)


def _logdet_fwd(t: Any, nbatch: int, a: Any) -> Any:
    """d log det(a) = trace(inv(a) @ t) = sum(inv(a).T * t) over the matrix axes."""
    return _trace_product(np.linalg.inv(a), t, nbatch, a)


def _logdet_t(g: Any, nbatch: int, a: Any) -> Any:
    return _outer_with(np.linalg.inv(a), g, nbatch)


def _trace_product(w: Any, t: Any, nbatch: int, a: Any) -> Any:
    """``trace(w @ t)`` per matrix of the stack, i.e. ``sum(w.T * t)`` over the matrix axes."""
    nd = np.ndim(a)
    return np.sum(_expand_batch(_mT(w), nbatch) * t, axis=(nd - 2, nd - 1))


def _outer_with(w: Any, g: Any, nbatch: int) -> Any:
    """``g * w.T`` with ``g`` (one value per matrix, plus directions) spread over the matrix axes."""
    core = _core_ndim(g, nbatch)
    g = np.reshape(g, np.shape(g)[:core] + (1, 1) + _batch_shape(g, nbatch))
    return _expand_batch(_mT(w), nbatch) * g


def _exclusive_products(s: np.ndarray) -> np.ndarray:
    """``p[..., i] = prod(s[..., j] for j != i)``, exact where some ``s`` are 0 (no division)."""
    ones = np.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    left = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return left * right


#: Matrices at least this ill-conditioned take the cofactor formula for the adjugate
#: when they are lifted (nested derivatives): ``det(a) inv(a)`` differentiated
#: there would cancel about log10(cond) digits.
_COFACTOR_COND = 1e6


def adjugate(a: Any) -> Any:
    """The adjugate ``adj(a)`` of a (stack of) square matrices: ``det(a) inv(a)`` where that exists.

    ``d det(a) = trace(adj(a) @ da)`` holds everywhere, singular matrices
    included, so the derivative of ``det`` is written with it. Plain arrays
    use the SVD ``a = u diag(s) vh``: ``adj(a) = det(u) det(vh) vh^H
    diag(prod_{j != i} s_j) u^H``, exact at singular matrices. Lifted matrices
    (nested derivatives) need a formula that can be differentiated again:
    ``det(a) inv(a)`` where ``a`` is well conditioned, else the cofactors,
    determinants of the minors, which dispatch back into this table.

    >>> adjugate(np.array([[1.0, 2.0], [2.0, 4.0]])).round(12)
    array([[ 4., -2.],
           [-2.,  1.]])
    """
    n = np.shape(a)[-1]
    plain = np.asarray(_plain(a))
    if n == 0:
        return np.zeros(plain.shape, dtype=np.result_type(plain, 1.0))
    if plain is a or not _is_lifted(a):
        u, s, vh = np.linalg.svd(plain)
        scale = np.linalg.det(u) * np.linalg.det(vh)
        w = _mH(vh) * np.expand_dims(_exclusive_products(s).astype(u.dtype), -2)
        return np.expand_dims(scale, (-1, -2)) * np.matmul(w, _mH(u))
    with np.errstate(all="ignore"):
        cond = np.linalg.cond(plain)
    if np.all(np.isfinite(cond)) and np.max(cond, initial=0.0) < _COFACTOR_COND:
        return np.expand_dims(np.linalg.det(a), (-1, -2)) * np.linalg.inv(a)
    return _cofactors_transposed(a, n)


def _cofactors_transposed(a: Any, n: int) -> Any:
    """``adj(a)`` as the transposed matrix of cofactors ``(-1)^(i+j) det(minor_ij)`` (lifted ``a``)."""
    if n == 1:
        return np.ones(np.shape(a), dtype=np.result_type(_plain(a), 1.0))
    lead = np.ndim(a) - 2
    entries = []
    for j in range(n):  # row j of adj(a) holds the cofactors of column j of a
        others_j = [c for c in range(n) if c != j]
        for i in range(n):
            others_i = [r for r in range(n) if r != i]
            minor = a[(slice(None),) * lead + (np.array(others_i)[:, None], np.array(others_j)[None, :])]
            d = np.linalg.det(minor)
            entries.append(np.expand_dims(-d if (i + j) % 2 else d, -1))
    return np.reshape(np.concatenate(entries, axis=-1), np.shape(a))


def _is_lifted(v: Any) -> bool:
    return hasattr(v, "primal") and hasattr(v, "level")


def _mH(a: Any) -> Any:
    return np.conj(np.swapaxes(a, -1, -2))


#: ``det(a)``; its derivative is ``trace(adj(a) @ da)``, which holds at singular matrices too.
DET = _general(
    "det",
    1,
    "det({0})",
    fn=np.linalg.det,
    linear_maps=(lambda t, nbatch, y, args, params: _trace_product(adjugate(args[0]), t, nbatch, args[0]),),
    transposes=(lambda g, nbatch, y, args, params: _outer_with(adjugate(args[0]), g, nbatch),),
)

#: ``log|det(a)|`` for real matrices (the second output of ``slogdet``).
LOGABSDET = _general(
    "logabsdet",
    1,
    "log|det({0})|",
    fn=lambda a: np.linalg.slogdet(a)[1],
    linear_maps=(lambda t, nbatch, y, args, params: _logdet_fwd(t, nbatch, args[0]),),
    transposes=(lambda g, nbatch, y, args, params: _logdet_t(g, nbatch, args[0]),),
)


__all__ = [
    "CONCATENATE",
    "CONJ",
    "CUMSUM",
    "DET",
    "DIAGONAL",
    "DIAG_EMBED",
    "EINSUM",
    "IMAG",
    "INV",
    "LOGABSDET",
    "MATMUL",
    "MAX",
    "MIN",
    "PROD",
    "REAL",
    "SOLVE",
    "TENSORDOT",
    "TRANSPOSE",
    "WHERE",
    "PerArgument",
    "bmm",
]
