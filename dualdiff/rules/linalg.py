"""Matrix decompositions as general rules: svd, eigh, eig, cholesky, qr, pinv.

Each rule's derivative is the standard one (forward: the perturbation
formulas; reverse: their exact transposes for the pairing ``<a, b> = Re
sum(a * b)``, JAX's), written once with NumPy functions that dispatch, so the
same code differentiates again at nested levels. Every map works on stacks of
matrices (leading axes); a tangent's or cotangent's trailing direction axis
is moved in front for the computation, where it is one more stack axis.

**Several outputs, one rule.** A rule has one output, so a decomposition
returns its factors *packed* along one last axis (``svd``: ``U``, ``s``,
``Vh`` flattened side by side); the NumPy functions (:mod:`dualdiff.modes.np_linalg`)
slice them back out with ``getitem`` and ``reshape``, which are linear rules.
A factor that the function ignores gets a zero cotangent.

**Inputs read from one triangle.** ``eigh`` and ``cholesky`` read only one
triangle of their argument, as LAPACK does; dispatch applies the linear rule
``hermitian`` first (:data:`dualdiff.rules.shaping.HERMITIAN`), so these
rules always see Hermitian matrices, and the derivative with respect to the
unread triangle is zero, as it is for NumPy's function.

**Gauges.** Eigenvectors and singular vectors are unique only up to a
phase (a sign for real matrices). ``eig`` follows LAPACK's normalisation
(unit norm, largest component real), so its derivative is that of NumPy's
result. ``eigh`` and ``svd`` fix the phase derivative at zero (``Im
diag(V^H dV) = 0``); a function of the vectors that does not depend on their
phase (``abs(v)``, ``U @ diag(s) @ Vh``, projectors) has the same derivative
in every gauge.

**Policy where values repeat.** Eigenvalues and singular values are
differentiated by the first-order formulas (``dw = diag(V^H dA V)``) at every
point. The derivatives of eigenvectors (singular vectors) couple pairs of
values through ``1 / (w_j - w_i)`` (``1 / (s_j^2 - s_i^2)``); where two values
are equal those vectors are not differentiable (any basis of the eigenspace
is as good), and the coupling is infinite, as in JAX: derivatives through the
vectors there are inf or nan. ``svd`` of a non-square matrix, ``qr`` and
``pinv`` need full rank (``pinv``: constant rank near the point).

>>> a = np.array([[2.0, 1.0], [1.0, 3.0]])
>>> y = EIGH.fn(a)
>>> y.shape  # two eigenvalues, then the 2 x 2 eigenvectors
(6,)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .kinds import General, register

Map = Callable[..., Any]


# -- helpers: conjugate transposes, diagonals, packing, direction axes ---------


def _plain(v: Any) -> Any:
    while hasattr(v, "primal") and hasattr(v, "level"):
        v = v.primal
    return v


def is_complex(v: Any) -> bool:
    """True when ``v`` (under any lifted levels) holds complex numbers."""
    return bool(np.iscomplexobj(_plain(v)))


def _conj(a: Any) -> Any:
    return np.conj(a) if is_complex(a) else a


def _mT(a: Any) -> Any:
    return np.swapaxes(a, -1, -2)


def _mH(a: Any) -> Any:
    return _conj(_mT(a))


def _diag(a: Any) -> Any:
    return np.diagonal(a, axis1=-2, axis2=-1)


def _diag_embed(v: Any) -> Any:
    n = np.shape(v)[-1]
    return np.expand_dims(v, -1) * np.eye(n)


def _cols(a: Any, v: Any) -> Any:
    """``a @ diag(v)``: column j of ``a`` times ``v[j]``."""
    return a * np.expand_dims(v, -2)


def _rows(v: Any, a: Any) -> Any:
    """``diag(v) @ a``: row i of ``a`` times ``v[i]``."""
    return np.expand_dims(v, -1) * a


def _inverse_gaps(w: Any, square: bool) -> Any:
    """``F[i, j] = 1 / (w_j - w_i)`` (of squares, ``square``), 0 on the diagonal; inf where values repeat."""
    if square:
        w = w * w
    gaps = np.expand_dims(w, -2) - np.expand_dims(w, -1)
    n = np.shape(w)[-1]
    eye = np.eye(n, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, gaps))


def pack(*parts: tuple[Any, int]) -> Any:
    """Factors ``(value, number of core axes)`` flattened side by side along one last axis.

    >>> pack((np.ones((2, 2)), 2), (np.zeros(2), 1)).shape
    (6,)
    """
    flat = []
    for v, core in parts:
        s = np.shape(v)
        flat.append(np.reshape(v, s[: len(s) - core] + (-1,)))
    return np.concatenate(flat, axis=-1)


def unpack(y: Any, shapes: list[tuple[int, ...]]) -> list[Any]:
    """The factors of a packed ``y``, given their core shapes (the inverse of :func:`pack`).

    >>> [p.shape for p in unpack(np.arange(6.0), [(2, 2), (2,)])]
    [(2, 2), (2,)]
    """
    lead = np.shape(y)[:-1]
    out, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape, dtype=int))
        out.append(np.reshape(y[..., start : start + size], lead + tuple(shape)))
        start += size
    return out


def _directions_first(fn: Map) -> Map:
    """Run ``fn(v, y, args, params)`` with the trailing direction axis of ``v`` moved to the front."""

    def wrapped(v: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
        if not nbatch:
            return fn(v, y, args, params)
        return np.moveaxis(fn(np.moveaxis(v, -1, 0), y, args, params), 0, -1)

    return wrapped


def _real_for_real(g: Any, a: Any) -> Any:
    """The cotangent of a real argument is the real part of what flows back to it."""
    return np.real(g) if is_complex(g) and not is_complex(a) else g


def _general(name: str, fn: Map, linear_map: Map, transpose: Map) -> General:
    rule = General(
        name,
        1,
        name + "({0})",
        fn=fn,
        linear_maps=(_directions_first(linear_map),),
        transposes=(_directions_first(transpose),),
    )
    return register(rule)


# -- svd ---------------------------------------------------------------------


def svd_shapes(m: int, n: int) -> list[tuple[int, ...]]:
    """The core shapes of the packed factors ``U``, ``s``, ``Vh`` of a thin SVD of an m x n matrix."""
    k = min(m, n)
    return [(m, k), (k,), (k, n)]


def _svd_fn(a: Any) -> Any:
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return pack((u, 2), (s.astype(u.dtype), 1), (vh, 2))


def _svd_factors(y: Any, a: Any) -> tuple[Any, Any, Any, int, int, int]:
    m, n = np.shape(a)[-2:]
    u, s, vh = unpack(y, svd_shapes(m, n))
    return u, np.real(s), vh, m, n, min(m, n)


def _svd_jvp(t: Any, y: Any, args: Any, params: Any) -> Any:
    a = args[0]
    u, s, vh, m, n, k = _svd_factors(y, a)
    v = _mH(vh)
    f = _inverse_gaps(s, square=True)
    tv = t @ v
    p = _mH(u) @ tv
    ds = np.real(_diag(p))
    ku = f * (_cols(p, s) + _rows(s, _mH(p)))
    if is_complex(a):  # the phase of U's columns: all of Im(diag(P)) goes to U (V's is held)
        ku = ku + _diag_embed(1j * np.imag(_diag(p)) / s)
    du = u @ ku
    if m > k:
        du = du + _cols(tv - u @ (_mH(u) @ tv), 1.0 / s)
    dv = v @ (f * (_rows(s, p) + _cols(_mH(p), s)))
    if n > k:
        thu = _mH(t) @ u
        dv = dv + _cols(thu - v @ (vh @ thu), 1.0 / s)
    return pack((du, 2), (ds.astype(du.dtype) if is_complex(du) else ds, 1), (_mH(dv), 2))


def _svd_vjp(g: Any, y: Any, args: Any, params: Any) -> Any:
    a = args[0]
    u, s, vh, m, n, k = _svd_factors(y, a)
    gu, gs, gvh = unpack(g, svd_shapes(m, n))
    gs = np.real(gs)
    gv = _mH(gvh)
    f = _inverse_gaps(s, square=True)
    ut_gu = _mT(u) @ gu
    fu = f * ut_gu
    gp = _diag_embed(gs) + _cols(fu + _mH(fu), s)
    if is_complex(a):
        gp = gp + _diag_embed(1j * np.imag(_diag(ut_gu)) / s)
    conj_v, conj_vh = _mT(vh), _conj(vh)  # conj(V) and V^T
    vt_gv = conj_vh @ gv
    fv = f * vt_gv
    gp = gp + _rows(s, fv + _mH(fv))
    conj_u = _conj(u)
    ga = conj_u @ gp @ conj_vh
    if m > k:
        ga = ga + _cols(gu - conj_u @ ut_gu, 1.0 / s) @ conj_vh
    if n > k:
        ga = ga + conj_u @ _rows(1.0 / s, _mH(gv - conj_v @ vt_gv))
    return _real_for_real(ga, a)


#: The thin SVD ``a = U diag(s) Vh`` of a (stack of) m x n matrices, packed as
#: ``U`` (m x k), ``s`` (k), ``Vh`` (k x n), k = min(m, n).
SVD = _general("svd", _svd_fn, _svd_jvp, _svd_vjp)


# -- eigh --------------------------------------------------------------------


def _eigh_fn(a: Any, lower: bool = True) -> Any:
    w, v = np.linalg.eigh(a, "L" if lower else "U")  # the same LAPACK path as the user's call: the same signs
    return pack((w.astype(v.dtype), 1), (v, 2))


def _eigh_factors(y: Any, a: Any) -> tuple[Any, Any]:
    n = np.shape(a)[-1]
    w, v = unpack(y, [(n,), (n, n)])
    return np.real(w), v


def _eigh_jvp(t: Any, y: Any, args: Any, params: Any) -> Any:
    w, v = _eigh_factors(y, args[0])
    p = _mH(v) @ t @ v
    dw = np.real(_diag(p))
    dv = v @ (_inverse_gaps(w, square=False) * p)
    return pack((dw.astype(dv.dtype) if is_complex(dv) else dw, 1), (dv, 2))


def _eigh_vjp(g: Any, y: Any, args: Any, params: Any) -> Any:
    a = args[0]
    w, v = _eigh_factors(y, a)
    n = np.shape(a)[-1]
    gw, gv = unpack(g, [(n,), (n, n)])
    gp = _inverse_gaps(w, square=False) * (_mT(v) @ gv) + _diag_embed(np.real(gw))
    return _real_for_real(_conj(v) @ gp @ _mT(v), a)


#: ``np.linalg.eigh`` of a Hermitian (stack of) matrices: eigenvalues ``w``
#: (ascending), then eigenvectors ``V`` (columns), packed. ``params = (lower,)``:
#: which triangle LAPACK reads, so the eigenvectors' signs are NumPy's.
EIGH = _general("eigh", _eigh_fn, _eigh_jvp, _eigh_vjp)


# -- eig ---------------------------------------------------------------------


def _eig_fn(a: Any) -> Any:
    w, v = np.linalg.eig(a)
    dtype = np.result_type(w, v)
    return pack((w.astype(dtype), 1), (v.astype(dtype), 2))


def _eig_factors(y: Any, a: Any) -> tuple[Any, Any, Any]:
    n = np.shape(a)[-1]
    w, v = unpack(y, [(n,), (n, n)])
    return w, v, np.linalg.inv(v)


def _largest_component(v: Any) -> tuple[np.ndarray, Any]:
    """LAPACK's phase gauge: a one-hot mask of each column's largest component, and that component."""
    plain = np.asarray(_plain(v))
    p = np.argmax(np.abs(plain) ** 2, axis=-2)
    onehot = np.arange(plain.shape[-2])[:, None] == np.expand_dims(p, -2)
    return onehot, np.real(np.sum(v * onehot, axis=-2))


def _eig_jvp(t: Any, y: Any, args: Any, params: Any) -> Any:
    w, v, vinv = _eig_factors(y, args[0])
    p = vinv @ t @ v
    dw = _diag(p)
    e = v @ (_inverse_gaps(w, square=False) * p)
    c = -np.real(np.sum(_conj(v) * e, axis=-2))  # keeps every column at unit norm
    dv = e + _cols(v, c)
    if is_complex(v):  # keeps each column's largest component real, as LAPACK does
        onehot, vp = _largest_component(v)
        dv = dv - _cols(v, 1j * np.imag(np.sum(e * onehot, axis=-2)) / vp)
    return pack((dw, 1), (dv, 2))


def _eig_vjp(g: Any, y: Any, args: Any, params: Any) -> Any:
    a = args[0]
    w, v, vinv = _eig_factors(y, a)
    n = np.shape(a)[-1]
    gw, gv = unpack(g, [(n,), (n, n)])
    h = np.sum(v * gv, axis=-2)  # diag(V^T G)
    ge = gv - _cols(_conj(v), np.real(h))
    if is_complex(v):
        onehot, vp = _largest_component(v)
        ge = ge - onehot * np.expand_dims(1j * np.imag(h) / vp, -2)
    gp = _inverse_gaps(w, square=False) * (_mT(v) @ ge) + _diag_embed(gw)
    return _real_for_real(_mT(vinv) @ gp @ _mT(v), a)


#: ``np.linalg.eig`` of a (stack of) square matrices: eigenvalues ``w``, then
#: eigenvectors ``V`` (unit columns, largest component real), packed.
EIG = _general("eig", _eig_fn, _eig_jvp, _eig_vjp)


# -- cholesky ------------------------------------------------------------------


def _half_lower(n: int) -> np.ndarray:
    """The mask of ``Phi``: 1 below the diagonal, 1/2 on it, 0 above."""
    return np.tri(n, k=-1) + 0.5 * np.eye(n)


def _cholesky_jvp(t: Any, y: Any, args: Any, params: Any) -> Any:
    linv = np.linalg.inv(y)
    return y @ (_half_lower(np.shape(y)[-1]) * (linv @ t @ _mH(linv)))


def _cholesky_vjp(g: Any, y: Any, args: Any, params: Any) -> Any:
    linv = np.linalg.inv(y)
    gx = _half_lower(np.shape(y)[-1]) * (_mT(y) @ g)
    return _real_for_real(_mT(linv) @ gx @ _conj(linv), args[0])


#: ``np.linalg.cholesky`` of a Hermitian positive definite (stack of) matrices: lower ``L``.
CHOLESKY = _general("cholesky", np.linalg.cholesky, _cholesky_jvp, _cholesky_vjp)


# -- qr ----------------------------------------------------------------------


def _qr_fn(a: Any) -> Any:
    q, r = np.linalg.qr(a)
    return pack((q, 2), (r, 2))


def _qr_factors(y: Any, a: Any) -> tuple[Any, Any, Any, int, int]:
    m, n = np.shape(a)[-2:]
    q, r = unpack(y, [(m, n), (n, n)])
    return q, r, np.linalg.inv(r), m, n


def _qr_jvp(t: Any, y: Any, args: Any, params: Any) -> Any:
    a = args[0]
    q, r, rinv, m, n = _qr_factors(y, a)
    x1 = t @ rinv
    c = _mH(q) @ x1
    low = np.tril(c, -1)
    om = low - _mH(low)
    if is_complex(a):  # R's diagonal stays real
        om = om + _diag_embed(1j * np.imag(_diag(c)))
    dr = (c - om) @ r
    dq = q @ om
    if m > n:
        dq = dq + x1 - q @ c
    return pack((dq, 2), (dr, 2))


def _qr_vjp(g: Any, y: Any, args: Any, params: Any) -> Any:
    a = args[0]
    q, r, rinv, m, n = _qr_factors(y, a)
    gq, gr = unpack(g, [(m, n), (n, n)])
    gc = gr @ _mT(r)
    qt_gq = _mT(q) @ gq
    gom = qt_gq - gc
    gc = gc + np.tril(gom, -1) - np.tril(_mH(gom), -1)
    if is_complex(a):
        gc = gc + _diag_embed(1j * np.imag(_diag(gom)))
    conj_q = _conj(q)
    gx1 = conj_q @ gc
    if m > n:
        gx1 = gx1 + gq - conj_q @ qt_gq
    return _real_for_real(gx1 @ _mT(rinv), a)


#: ``np.linalg.qr`` (reduced) of a (stack of) m x n matrices with m >= n and full
#: rank: ``Q`` (m x n), ``R`` (n x n), packed. Dispatch reduces wide matrices to this.
QR = _general("qr", _qr_fn, _qr_jvp, _qr_vjp)


# -- pinv ----------------------------------------------------------------------


def _pinv_fn(a: Any, rcond: Any, hermitian: bool) -> Any:
    return np.linalg.pinv(a, rcond, hermitian)


def _pinv_jvp(t: Any, y: Any, args: Any, params: Any) -> Any:
    a, x = args[0], y
    th = _mH(t)
    term1 = -(x @ t @ x)
    term2 = x @ (_mH(x) @ (th - th @ (a @ x)))
    term3 = (th - (x @ a) @ th) @ (_mH(x) @ x)
    return term1 + term2 + term3


def _pinv_vjp(g: Any, y: Any, args: Any, params: Any) -> Any:
    a, x = args[0], y
    gh = _mH(g)
    xt, cx, ca = _mT(x), _conj(x), _conj(a)
    term1 = -(xt @ g @ xt)
    term2 = (gh - (ca @ cx) @ gh) @ (cx @ xt)
    term3 = (xt @ cx) @ (gh - gh @ (cx @ ca))
    return _real_for_real(term1 + term2 + term3, a)


#: ``np.linalg.pinv`` (``params = (rcond, hermitian)``, rcond resolved by dispatch); differentiable where the
#: rank is constant near the point (Golub and Pereyra's formula).
PINV = _general("pinv", _pinv_fn, _pinv_jvp, _pinv_vjp)


__all__ = ["CHOLESKY", "EIG", "EIGH", "PINV", "QR", "SVD", "pack", "svd_shapes", "unpack"]
