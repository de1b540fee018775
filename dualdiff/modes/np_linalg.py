"""NumPy's linear algebra on lifted values: inverses, solves, determinants, norms.

``inv``, ``solve``, ``det`` and ``log|det|`` are general rules with their
standard derivative formulas; norms are compositions of sums, ``abs``,
``max``/``min`` and roots.

>>> import numpy as np, dualdiff as dd
>>> dd.grad(np.linalg.det)(np.eye(2))
array([[1., 0.],
       [0., 1.]])
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ..errors import NoRuleError
from ..rules import arrays as ar
from ..rules import linalg as lg
from ..rules.elementwise import MUL, POW, SQRT0, SUB, TRUEDIV
from ..rules.indices import SLOGDET_SIGN
from ..rules.linalg import svd_shapes, unpack
from ..rules.shaping import HERMITIAN
from ..rules.structural import SUM
from ..rules.values import GREATER, NOT_EQUAL
from .core import apply1, apply2, apply_general, apply_linear, apply_nondiff, decided, strip_all
from .np_common import _as_operand, _ndim, _one_axis, _real_only, _refuse_out, _shape
from .np_products import matmul
from .np_shaping import (
    concatenate,
    diagonal,
    expand_dims,
    matrix_transpose,
    moveaxis,
    ravel,
    reshape,
    squeeze,
    swapaxes,
    transpose,
    where,
)
from .np_ufuncs import abs2, absolute, conj, real


def _square_matrices(name: str, a: Any) -> None:
    s = _shape(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise np.linalg.LinAlgError(f"{name}: last 2 dimensions of the array must be square, got shape {s}")


def inv(a: Any) -> Any:
    """``np.linalg.inv``: the general rule ``inv``."""
    _square_matrices("np.linalg.inv", a)
    return apply_general(ar.INV, (a,))


def solve(a: Any, b: Any) -> Any:
    """``np.linalg.solve``: the general rule ``solve``."""
    _square_matrices("np.linalg.solve", a)
    return apply_general(ar.SOLVE, (_as_operand(a), _as_operand(b)))


def det(a: Any) -> Any:
    """``np.linalg.det``: the general rule ``det``."""
    _square_matrices("np.linalg.det", a)
    return apply_general(ar.DET, (a,))


class SlogdetResult(NamedTuple):
    """``(sign, logabsdet)`` as ``np.linalg.slogdet`` returns; the sign is a constant."""

    sign: Any
    logabsdet: Any


def slogdet(a: Any) -> SlogdetResult:
    """``np.linalg.slogdet`` of real matrices: the sign (constant) and the rule ``logabsdet``."""
    _square_matrices("np.linalg.slogdet", a)
    _real_only("np.linalg.slogdet", a)
    sign = decided(apply_nondiff(SLOGDET_SIGN, (a,), ((),)))  # a constant, but one a recorded program checks
    return SlogdetResult(sign, apply_general(ar.LOGABSDET, (a,)))


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """``np.linalg.norm``, composed from sums, moduli, max/min, roots and singular values.

    Vector norms: any ``ord`` (``ord=0``, the count of nonzeros, is piecewise
    constant: returned as a constant). Matrix norms: ``'fro'``, ``'nuc'``,
    1, -1, 2, -2, inf, -inf (2, -2 and ``'nuc'`` from the singular values).
    Complex arrays are differentiated as real-valued functions of complex
    numbers (see :mod:`.np_ufuncs`).
    """
    x = _as_operand(x)
    n = _ndim(x)
    if axis is None:
        if ord is None or (ord == "fro" and n == 2):
            return _two_norm(x, tuple(range(n)), keepdims)
        if n == 1:
            axes: tuple[int, ...] = (0,)
        elif n == 2:
            axes = (0, 1)
        else:
            raise ValueError("Improper number of dimensions to norm.")
    else:
        axes = tuple(_one_axis(a, n) for a in ((axis,) if isinstance(axis, (int, np.integer)) else axis))
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        if axes[0] == axes[1]:
            raise ValueError("Duplicate axes given.")
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError("Improper number of dimensions to norm.")


def _two_norm(x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    # sqrt0: the norm of zeros has derivative 0 (a cone's tip), as hypot at the origin
    return apply1(SQRT0, apply_linear(SUM, abs2(x), axes, keepdims))


def _vector_norm(x: Any, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    if ord is None or ord == 2:
        return _two_norm(x, axes, keepdims)
    if ord == 0:  # the number of nonzeros: piecewise constant (which are nonzero: a decision, guarded)
        nonzero = np.asarray(decided(apply_nondiff(NOT_EQUAL, (x, 0))), dtype=float)
        return np.linalg.norm(nonzero, 0, axes[0], keepdims)
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    ax = absolute(x)
    if ord == np.inf:
        return apply_general(ar.MAX, (ax,), (axes, keepdims))
    if ord == -np.inf:
        return apply_general(ar.MIN, (ax,), (axes, keepdims))
    if ord == 1:
        return apply_linear(SUM, ax, axes, keepdims)
    return _p_norm(ax, ord, axes, keepdims)


def _p_norm(ax: Any, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """``sum(|x|**p) ** (1/p)``, with derivative 0 where the whole vector is 0.

    A zero vector is a cone's tip, as for the 2-norm (``sqrt0``): the midpoint of
    the one-sided derivatives is 0, where ``0 ** (1/p)`` alone would give an
    infinite partial times a zero tangent, nan. The zero vectors' elements are
    replaced by 1 before the powers, so no branch holds an infinite partial.
    """

    def norm(a: Any) -> Any:
        return apply2(POW, apply_linear(SUM, apply2(POW, a, ord), axes, keepdims), 1.0 / ord)

    zero = np.all(ax == 0, axis=axes, keepdims=True)
    if not np.any(zero):
        return norm(ax)
    return where(np.all(ax == 0, axis=axes, keepdims=keepdims), 0.0, norm(where(zero, 1.0, ax)))


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    row, col = axes
    if ord is None or ord == "fro":
        return _two_norm(x, axes, keepdims)
    if ord in (2, -2, "nuc"):
        s = svd(moveaxis(x, (row, col), (-2, -1)), compute_uv=False)
        if ord == "nuc":
            r = apply_linear(SUM, s, (_ndim(s) - 1,), False)
        else:
            r = apply_general(ar.MAX if ord == 2 else ar.MIN, (s,), ((_ndim(s) - 1,), False))
        return expand_dims(r, axes) if keepdims else r
    if ord in (1, -1, np.inf, -np.inf):
        summed, over = (row, col) if ord in (1, -1) else (col, row)
        s = apply_linear(SUM, absolute(x), (summed,), True)
        r = apply_general(ar.MAX if ord > 0 else ar.MIN, (s,), ((over,), True))
        if not keepdims:
            r = squeeze(r, axes)
        return r
    raise ValueError(f"Invalid norm order {ord!r} for matrices")


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    """``np.linalg.matrix_norm``: :func:`norm` over the last two axes."""
    return norm(x, ord, (-2, -1), keepdims)


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """``np.linalg.vector_norm``: :func:`norm` of vectors (all axes flattened when axis is None)."""
    x = _as_operand(x)
    if axis is None:
        r = _vector_norm(ravel(x), ord, (0,), False)
        return reshape(r, (1,) * _ndim(x)) if keepdims else r
    if isinstance(axis, tuple) and len(axis) > 1:  # several axes: moved last and flattened
        n = _ndim(x)
        ax = tuple(_one_axis(a, n) for a in axis)
        rest = [i for i in range(n) if i not in ax]
        moved = transpose(x, rest + list(ax))
        flat = reshape(moved, tuple(_shape(x)[i] for i in rest) + (-1,))
        r = _vector_norm(flat, ord, (len(rest),), False)
        return expand_dims(r, ax) if keepdims else r
    return _vector_norm(x, ord, (_one_axis(axis if not isinstance(axis, tuple) else axis[0], _ndim(x)),), keepdims)


# ==========================================================================
# decompositions: general rules with packed factors
# ==========================================================================

SVDResult = type(np.linalg.svd(np.eye(1)))
EighResult = type(np.linalg.eigh(np.eye(1)))
EigResult = type(np.linalg.eig(np.eye(1)))
QRResult = type(np.linalg.qr(np.eye(1)))


def _matrices(name: str, a: Any) -> None:
    if _ndim(a) < 2:
        raise np.linalg.LinAlgError(
            f"{name}: {_ndim(a)}-dimensional array given. Array must be at least two-dimensional"
        )


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False) -> Any:
    """``np.linalg.svd``: the rule ``svd`` (thin; ``full_matrices`` for square matrices only).

    ``hermitian=True`` computes it as NumPy does, from ``eigh``.
    """
    a = _as_operand(a)
    _matrices("np.linalg.svd", a)
    m, n = _shape(a)[-2:]
    if compute_uv and full_matrices and m != n:
        raise NoRuleError(
            "np.linalg.svd with full_matrices=True of a non-square matrix has no derivative rule in dualdiff "
            "(the extra singular vectors are not unique); pass full_matrices=False"
        )
    if hermitian:
        return _hermitian_svd(a, compute_uv)
    u, s, vh = unpack(apply_general(lg.SVD, (a,)), svd_shapes(m, n))
    s = real(s)
    if not compute_uv:
        return s
    return SVDResult(u, s, vh)


def _hermitian_svd(a: Any, compute_uv: bool) -> Any:
    w, v = eigh(a)
    sgn = decided(np.sign(w))  # the signs and the order are decisions: a recorded program checks them
    s = absolute(w)
    order = np.asarray(decided(np.argsort(s, axis=-1)))[..., ::-1]
    s = np.take_along_axis(s, order, -1)
    if not compute_uv:
        return s
    sgn = np.take_along_axis(sgn, order, -1)
    u = np.take_along_axis(v, order[..., None, :], -1)
    vh = conj(swapaxes(apply2(MUL, u, np.expand_dims(sgn, -2)), -1, -2))
    return SVDResult(u, s, vh)


def svdvals(x: Any, /) -> Any:
    """``np.linalg.svdvals``: the singular values of the rule ``svd``."""
    return svd(x, compute_uv=False)


def _uplo(UPLO: str) -> bool:
    if UPLO not in ("L", "U"):
        raise ValueError("UPLO argument must be 'L' or 'U'")
    return UPLO == "L"


def eigh(a: Any, UPLO: str = "L") -> Any:
    """``np.linalg.eigh``: the Hermitian matrix read from one triangle, then the rule ``eigh``."""
    a = _as_operand(a)
    _square_matrices("np.linalg.eigh", a)
    n = _shape(a)[-1]
    lower = _uplo(UPLO)
    h = apply_linear(HERMITIAN, a, lower)
    w, v = unpack(apply_general(lg.EIGH, (h,), (lower,)), [(n,), (n, n)])
    return EighResult(real(w), v)


def eigvalsh(a: Any, UPLO: str = "L") -> Any:
    """``np.linalg.eigvalsh``: the eigenvalues of :func:`eigh`."""
    return eigh(a, UPLO).eigenvalues


def eig(a: Any) -> Any:
    """``np.linalg.eig``: the rule ``eig`` (LAPACK's normalisation of the eigenvectors)."""
    a = _as_operand(a)
    _square_matrices("np.linalg.eig", a)
    n = _shape(a)[-1]
    w, v = unpack(apply_general(lg.EIG, (a,)), [(n,), (n, n)])
    return EigResult(w, v)


def eigvals(a: Any) -> Any:
    """``np.linalg.eigvals``: the eigenvalues of :func:`eig`."""
    return eig(a).eigenvalues


def cholesky(a: Any, /, *, upper: bool = False) -> Any:
    """``np.linalg.cholesky``: the Hermitian matrix read from one triangle, then the rule ``cholesky``."""
    a = _as_operand(a)
    _square_matrices("np.linalg.cholesky", a)
    low = apply_general(lg.CHOLESKY, (apply_linear(HERMITIAN, a, not upper),))
    return conj(swapaxes(low, -1, -2)) if upper else low


def qr(a: Any, mode: str = "reduced") -> Any:
    """``np.linalg.qr``: the rule ``qr`` for m >= n; wide matrices as ``Q R`` of their first m columns."""
    a = _as_operand(a)
    _matrices("np.linalg.qr", a)
    m, n = _shape(a)[-2:]
    if mode not in ("reduced", "complete", "r", "raw"):
        raise ValueError(f"Unrecognized mode '{mode}'")
    if mode == "raw" or (mode == "complete" and m > n):
        raise NoRuleError(
            f"np.linalg.qr with mode={mode!r} has no derivative rule in dualdiff "
            "(the extra columns of a complete Q are not unique); use mode='reduced'"
        )
    if m >= n:
        q, r = unpack(apply_general(lg.QR, (a,)), [(m, n), (n, n)])
    else:  # A = [X Y] with X square: Q R_X = X, R = [R_X, Q^H Y] (what Householder computes)
        q, rx = qr(a[..., :, :m])
        r = concatenate([rx, matmul(conj(swapaxes(q, -1, -2)), a[..., :, m:])], -1)
    if mode == "r":
        return r
    return QRResult(q, r)


def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = np._NoValue) -> Any:
    """``np.linalg.pinv``: the rule ``pinv`` (differentiable where the rank is locally constant)."""
    a = _as_operand(a)
    _matrices("np.linalg.pinv", a)
    if rcond is None:
        if rtol is np._NoValue:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(_shape(a)[-2:]) * np.finfo(np.result_type(strip_all(a), 1.0)).eps
        else:
            rcond = rtol
    elif rtol is not np._NoValue:
        raise ValueError("`rtol` and `rcond` can't be both set.")
    if hermitian:
        a = apply_linear(HERMITIAN, a, True)
    return apply_general(lg.PINV, (a,), (rcond, bool(hermitian)))


# ==========================================================================
# compositions
# ==========================================================================


def matrix_power(a: Any, n: int) -> Any:
    """``np.linalg.matrix_power``: repeated squaring with matmul (an inverse first for n < 0)."""
    _square_matrices("np.linalg.matrix_power", a)
    n = operator.index(n)
    if n == 0:
        return np.broadcast_to(np.eye(_shape(a)[-1], dtype=np.result_type(strip_all(a))), _shape(a)).copy()
    if n < 0:
        a, n = inv(a), -n
    result = None
    z = a
    while True:  # binary decomposition of n, as NumPy does it
        if n & 1:
            result = z if result is None else matmul(result, z)
        n >>= 1
        if not n:
            return result
        z = matmul(z, z)


def multi_dot(arrays: Sequence[Any], *, out: Any = None) -> Any:
    """``np.linalg.multi_dot``: the products left to right (vectors at the ends as row and column)."""
    _refuse_out("np.linalg.multi_dot", out)
    ops = [_as_operand(a) for a in arrays]
    if len(ops) < 2:
        raise ValueError("Expecting at least two arrays.")
    first_vec, last_vec = _ndim(ops[0]) == 1, _ndim(ops[-1]) == 1
    if first_vec:
        ops[0] = reshape(ops[0], (1, -1))
    if last_vec:
        ops[-1] = reshape(ops[-1], (-1, 1))
    result = ops[0]
    for b in ops[1:]:
        result = matmul(result, b)
    if first_vec and last_vec:
        return reshape(result, ())
    if first_vec:
        return reshape(result, (-1,))
    if last_vec:
        return reshape(result, (-1,))
    return result


def cond(x: Any, p: Any = None) -> Any:
    """``np.linalg.cond``: a ratio of singular values (p = None, 2, -2), else ``norm(x) * norm(inv(x))``."""
    x = _as_operand(x)
    if p is None or p == 2 or p == -2:
        s = svd(x, compute_uv=False)
        big, small = s[..., 0], s[..., -1]
        return apply2(TRUEDIV, small, big) if p == -2 else apply2(TRUEDIV, big, small)
    _square_matrices("np.linalg.cond", x)
    return apply2(MUL, norm(x, p, axis=(-2, -1)), norm(inv(x), p, axis=(-2, -1)))


def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple[Any, Any, Any, Any]:
    """``np.linalg.lstsq``: ``x = pinv(a) @ b`` (the minimum-norm least-squares solution), residuals,
    rank (a value) and singular values, for matrices of locally constant rank."""
    a, b = _as_operand(a), _as_operand(b)
    if _ndim(a) != 2:
        raise np.linalg.LinAlgError(f"{_ndim(a)}-dimensional array given. Array must be two-dimensional")
    m, n = _shape(a)
    if rcond is None:
        rcond = np.finfo(np.result_type(strip_all(a), 1.0)).eps * max(m, n)
    s = svd(a, compute_uv=False)
    # the rank (which singular values count) is a decision: a recorded program checks it again
    rank = int(np.sum(decided(apply_nondiff(GREATER, (s, apply2(MUL, rcond, np.max(s))))))) if _shape(s)[-1] else 0
    x = matmul(pinv(a, rcond=rcond), b)
    if rank == n and m > n:
        r = apply2(SUB, b, matmul(a, x))
        resid = apply_linear(SUM, abs2(r), (0,), False)
        if _ndim(b) == 1:
            resid = reshape(resid, (1,))
    else:
        resid = np.empty((0,), dtype=np.result_type(np.real(strip_all(a))))
    return x, resid, rank, s


def tensorinv(a: Any, ind: int = 2) -> Any:
    """``np.linalg.tensorinv``: a reshape, ``inv``, a reshape."""
    shape = _shape(a)
    if ind <= 0:
        raise ValueError("Invalid ind argument.")
    prod = int(np.prod(shape[:ind]))
    return reshape(inv(reshape(a, (prod, -1))), shape[ind:] + shape[:ind])


def tensorsolve(a: Any, b: Any, axes: Any = None) -> Any:
    """``np.linalg.tensorsolve``: a reshape, ``solve``, a reshape."""
    a, b = _as_operand(a), _as_operand(b)
    if axes is not None:
        n = _ndim(a)
        moved = [_one_axis(k, n) for k in axes]
        a = transpose(a, [k for k in range(n) if k not in moved] + moved)
    old = _shape(a)[_ndim(b) :]
    prod = int(np.prod(old))
    return reshape(solve(reshape(a, (-1, prod)), ravel(b)), old)


def linalg_diagonal(x: Any, /, *, offset: int = 0) -> Any:
    """``np.linalg.diagonal``: the diagonal of the last two axes."""
    return diagonal(x, offset, -2, -1)


def linalg_trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    """``np.linalg.trace``: the trace of the last two axes."""
    _refuse_out("np.linalg.trace", None)
    if dtype is not None:
        raise TypeError("np.linalg.trace on lifted values does not support the argument(s) dtype")
    d = diagonal(x, offset, -2, -1)
    return apply_linear(SUM, d, (_ndim(d) - 1,), False)


HANDLERS: dict[Any, Any] = {
    np.linalg.svd: svd,
    np.linalg.eigh: eigh,
    np.linalg.eigvalsh: eigvalsh,
    np.linalg.eig: eig,
    np.linalg.eigvals: eigvals,
    np.linalg.cholesky: cholesky,
    np.linalg.qr: qr,
    np.linalg.pinv: pinv,
    np.linalg.matrix_power: matrix_power,
    np.linalg.multi_dot: multi_dot,
    np.linalg.cond: cond,
    np.linalg.lstsq: lstsq,
    np.linalg.tensorinv: tensorinv,
    np.linalg.tensorsolve: tensorsolve,
}
for _name, _fn in (
    ("svdvals", svdvals),
    ("matrix_norm", matrix_norm),
    ("vector_norm", vector_norm),
    ("diagonal", linalg_diagonal),
    ("trace", linalg_trace),
    ("matrix_transpose", matrix_transpose),
):
    if hasattr(np.linalg, _name):  # NumPy >= 2.0
        HANDLERS[getattr(np.linalg, _name)] = _fn
