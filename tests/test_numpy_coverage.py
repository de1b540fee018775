"""The NumPy surface of issue 17, function by function, in both modes and to second order.

Every case draws its shapes and point with hypothesis (a shape, and a seed for
the values, so that decompositions see well-conditioned matrices) and checks:

1. forward mode (``dd.jvp``) against a central difference;
2. reverse mode (``dd.vjp``) against forward mode: ``<u, J v> = <J^T u, v>``
   for the pairing ``Re sum(a * b)``;
3. second order: the JVP of the VJP (forward over reverse) against a central
   difference of the VJP, the VJP of the VJP (reverse over reverse) against
   it, and the same for the JVP as a function of the point (forward over
   forward, reverse over forward);
4. for real inputs, batched directions: ``jacfwd`` (all directions in one
   pass) against ``jacrev`` (all cotangents in one sweep) and one at a time.

Complex inputs are drawn wherever NumPy's function takes them. The
decompositions are also checked against mpmath at 40 digits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dualdiff as dd

Case = Callable[[Any], tuple[Callable[[Any], Any], Any]]


# --------------------------------------------------------------------------
# the checker
# --------------------------------------------------------------------------


def _rand_like(rng: np.random.Generator, x: Any) -> Any:
    if isinstance(x, tuple):
        return tuple(_rand_like(rng, e) for e in x)
    shape = np.shape(x)
    r = rng.normal(size=shape)
    if np.iscomplexobj(x):
        r = r + 1j * rng.normal(size=shape)
    return r if shape else r.item()


def _axpy(a: float, v: Any, x: Any) -> Any:
    if isinstance(x, tuple):
        return tuple(_axpy(a, vi, xi) for vi, xi in zip(v, x))
    return x + a * v


def _flat(t: Any) -> np.ndarray:
    if isinstance(t, (tuple, list)):
        parts = [_flat(e) for e in t]
        return np.concatenate(parts) if parts else np.zeros(0)
    return np.ravel(np.asarray(t, dtype=complex))


def _pair(a: Any, b: Any) -> float:
    return float(np.real(np.sum(_flat(a) * _flat(b))))


def _central(f: Callable[[Any], Any], x: Any, v: Any, h: float = 1e-6) -> np.ndarray:
    return (_flat(f(_axpy(h, v, x))) - _flat(f(_axpy(-h, v, x)))) / (2 * h)


def _close(got: np.ndarray, want: np.ndarray, rtol: float, what: str) -> None:
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    err = float(np.max(np.abs(got - want), initial=0.0))
    assert err <= rtol * scale, f"{what}: max error {err:.3g} (scale {scale:.3g})"


def check_first(f: Callable[[Any], Any], x: Any, rng: np.random.Generator, what: str = "") -> None:
    """JVP against a central difference; VJP against the JVP (a dot product test)."""
    v = _rand_like(rng, x)
    y, t = dd.jvp(f, x, v)
    _close(_flat(t), _central(f, x, v), 2e-6, f"{what} jvp vs central difference")
    u = _rand_like(rng, y)
    x_bar = dd.vjp(f, x)[1](u)
    a, b = _pair(u, t), _pair(x_bar, v)
    assert abs(a - b) <= 1e-9 * max(1.0, abs(a)), f"{what} <u, Jv> = {a} but <J^T u, v> = {b}"


def check(f: Callable[[Any], Any], x: Any, seed: int, order: int = 2) -> None:
    """First order, then second order through both modes, then batched directions."""
    rng = np.random.default_rng(seed)
    check_first(f, x, rng)
    if order >= 2:
        u = _rand_like(rng, f(x))
        check_first(lambda p: dd.vjp(f, p)[1](u), x, rng, "vjp as a function:")
        v = _rand_like(rng, x)
        check_first(lambda p: dd.jvp(f, p, v)[1], x, rng, "jvp as a function:")
    if not isinstance(x, tuple) and not np.iscomplexobj(x) and np.size(x) <= 40:
        fwd = dd.jacfwd(f)(x)
        for other in (dd.jacrev(f)(x), dd.jacfwd(f, chunk=1)(x), dd.jacrev(f, chunk=2)(x)):
            np.testing.assert_allclose(other, fwd, rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------
# drawing points
# --------------------------------------------------------------------------


def shape_of(draw: Any, ndim: int, lo: int = 1, hi: int = 4) -> tuple[int, ...]:
    return tuple(draw(st.integers(lo, hi)) for _ in range(ndim))


def values(draw: Any, shape: tuple[int, ...], complex_: bool = False, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(draw(st.integers(0, 2**31), label="seed"))
    x = scale * rng.normal(size=shape)
    if complex_:
        x = x + 1j * scale * rng.normal(size=shape)
    return x


def spd(draw: Any, n: int, complex_: bool = False, batch: tuple[int, ...] = ()) -> np.ndarray:
    a = values(draw, batch + (n, n), complex_)
    return a @ np.conj(np.swapaxes(a, -1, -2)) + n * np.eye(n)


def hermitian(draw: Any, n: int, complex_: bool = False) -> np.ndarray:
    a = values(draw, (n, n), complex_)
    return a + np.conj(a.T)


def away_from_jumps(draw: Any, shape: tuple[int, ...], lo: float, hi: float, period: float = 1.0) -> np.ndarray:
    """Values in [lo, hi] at least 0.05 from the multiples of ``period``."""
    x = values(draw, shape)
    x = lo + (hi - lo) * (np.tanh(x) + 1) / 2
    k = np.round(x / period)
    near = np.abs(x - k * period) < 0.05
    return np.where(near, x + 0.1, x)


def flat_sum(parts: Any) -> Any:
    """A tuple of arrays as one vector (so a case returns one array)."""
    return np.concatenate([np.ravel(p) for p in parts])


def _abs_factors(parts: Any) -> Any:
    """Factors made independent of the phase (gauge) of complex singular/eigen vectors."""
    return flat_sum([np.abs(p) if np.iscomplexobj(p) else p for p in parts])


# --------------------------------------------------------------------------
# the cases: name -> draw -> (f, x)
# --------------------------------------------------------------------------

CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES[name] = fn
        return fn

    return register


# -- rearranging (real and complex) -------------------------------------------


@case("flips_rot90")
def _(draw):
    cx = draw(st.booleans())
    k = draw(st.integers(-2, 5))
    return lambda x: np.flipud(x) + np.fliplr(x) * 2 + np.rot90(x, k, (0, 1)).sum(), values(draw, (3, 3, 2), cx)


@case("roll")
def _(draw):
    shape = shape_of(draw, 2)
    s = draw(st.integers(-5, 5))
    axis = draw(st.sampled_from([None, 0, 1, (0, 1)]))
    shift = (s, 1) if axis == (0, 1) else s
    return lambda x: np.roll(x, shift, axis) * x, values(draw, shape, draw(st.booleans()))


@case("tril_triu")
def _(draw):
    k = draw(st.integers(-2, 2))
    shape = shape_of(draw, 2, 2) + ((2,) if draw(st.booleans()) else ())
    return lambda x: np.tril(x, k) ** 2 + np.triu(x, -k) * x + np.tril(x[0], k).sum(), values(draw, shape)


@case("tile_repeat_resize")
def _(draw):
    shape = shape_of(draw, 2, 1, 3)
    reps = draw(st.sampled_from([2, (2, 1), (1, 2, 2)]))
    r = draw(st.integers(0, 3))
    axis = draw(st.sampled_from([None, 0, 1]))
    counts = np.arange(shape[0]) % 3

    def f(x):
        return flat_sum([np.tile(x, reps), np.repeat(x, r, axis), np.repeat(x, counts, 0), np.resize(x, (5, 2)) ** 2])

    return f, values(draw, shape, draw(st.booleans()))


@case("pad")
def _(draw):
    mode = draw(st.sampled_from(["constant", "edge", "reflect", "symmetric", "wrap"]))
    width = draw(st.sampled_from([1, (1, 2), ((0, 1), (2, 1))]))
    kw = {"constant_values": 1.5} if mode == "constant" else {}
    return lambda x: np.pad(x, width, mode=mode, **kw) ** 2, values(draw, shape_of(draw, 2, 2), draw(st.booleans()))


@case("gathers")
def _(draw):
    n = draw(st.integers(3, 6))
    idx = np.array([2, 0, 2, 1]) % n

    def f(x):
        return flat_sum(
            [
                np.take(x, idx, axis=1),
                np.take_along_axis(x, np.argsort(x, axis=0), 0),
                np.compress([True, False, True], x, axis=0),
                np.extract(np.arange(x.size).reshape(x.shape) % 2 == 0, x),
                np.choose(np.array([[0, 1, 2], [2, 1, 0]]) % 3, [x[0, :3], x[1, :3], x[2, :3]]),
                np.delete(x, 1, axis=1),
                np.insert(x, 1, x[0] * 2, axis=0),
                np.diagflat(x[0]),
            ]
        )

    return f, values(draw, (3, n))


@case("sort_partition")
def _(draw):
    n = draw(st.integers(2, 7))
    kth = draw(st.integers(0, n - 1))
    return lambda x: flat_sum([np.sort(x) ** 2, np.partition(x, kth) * x, np.sort(x, axis=None)]), values(draw, (2, n))


@case("select_where_chain")
def _(draw):
    x = values(draw, (3, 4))
    c1, c2 = x > 0.5, x < -0.5
    return lambda x: np.select([c1, c2], [x**2, np.sin(x)], default=x * 3), x


@case("stacking")
def _(draw):
    n = draw(st.integers(1, 4))

    def f(x):
        return flat_sum(
            [
                np.column_stack([x, x**2]),
                np.dstack([x, 2 * x]),
                np.vstack([x, x]),
                np.block([[x, x], [x**2, x]]),
                np.append(x, x[:2]),
                np.append([x[0], x[-1]], 3.0),
                np.atleast_3d(x),
                np.stack(np.broadcast_arrays(x, x[:1])),
            ]
        )

    return f, values(draw, (n,), draw(st.booleans()))


@case("splitting")
def _(draw):
    def f(x):
        parts = np.vsplit(x, 2) + np.hsplit(x, [1]) + np.dsplit(x, 2)
        if hasattr(np, "unstack"):  # NumPy >= 2.1
            parts += list(np.unstack(x, axis=2))
        return flat_sum([p * (i + 1) for i, p in enumerate(parts)])

    return f, values(draw, (4, 3, 2), draw(st.booleans()))


@case("axes")
def _(draw):
    axis, start = draw(st.integers(0, 2)), draw(st.integers(0, 3))

    def f(x):
        return flat_sum([np.rollaxis(x, axis, start), np.matrix_transpose(x) ** 2, np.permute_dims(x, (2, 0, 1))])

    return f, values(draw, (2, 3, 4))


@case("meshgrid")
def _(draw):
    indexing = draw(st.sampled_from(["xy", "ij"]))
    sparse = draw(st.booleans())

    def f(x):
        g = np.meshgrid(x[:2], x[2:], indexing=indexing, sparse=sparse)
        return flat_sum([g[0] * g[1]])

    return f, values(draw, (5,))


@case("astype")
def _(draw):
    return lambda x: np.sin(x.astype(np.complex128)).real * x.astype(np.float64) + x.astype(complex).real, values(
        draw, (3,)
    )


# -- elementwise -----------------------------------------------------------------


@case("remainder_fmod")
def _(draw):
    a = away_from_jumps(draw, (4,), -3, 3)
    b = np.array([0.7, -1.3, 1.9, -0.8])
    a = np.where(np.abs(a / b - np.round(a / b)) < 0.05, a + 0.1, a)

    def f(x):
        p, q = x
        return flat_sum([np.remainder(p, q), np.fmod(p, q), p % q, np.floor_divide(p, q) * p, divmod(p, q)[1]])

    return f, (a, b)


@case("trunc_fix_round")
def _(draw):
    x = away_from_jumps(draw, (5,), -4, 4, 0.5)
    return lambda x: np.trunc(x) * x + np.fix(x) + np.round(x, 1) + np.round(x, -1) * x, x


@case("sinc")
def _(draw):
    x = values(draw, (5,), draw(st.booleans()))
    x[0] = 0.0
    return np.sinc, x


@case("angles_and_logs")
def _(draw):
    def f(x):
        return flat_sum([np.deg2rad(x), np.radians(x), np.rad2deg(x), np.degrees(x), np.logaddexp2(x, 1.0 - x)])

    return f, values(draw, (4,))


@case("fmax_fmin_nan_to_num")
def _(draw):
    x = values(draw, (2, 4))
    c = np.array([np.nan, 0.3, -0.2, np.nan])
    return lambda x: flat_sum([np.fmax(x, c), np.fmin(c, x), np.nan_to_num(x + c)]), x


@case("complex_parts")
def _(draw):
    def f(z):
        return flat_sum([np.abs(z), np.real(z), np.imag(z), np.angle(z), np.angle(z, deg=True), abs(z) ** 2, z.real])

    return f, values(draw, (4,), True)


@case("real_if_close_conj")
def _(draw):
    return lambda z: np.real_if_close(z * np.conj(z)) + np.conjugate(z) * z, values(draw, (3,), True)


# -- reductions --------------------------------------------------------------------


@case("var_std_complex")
def _(draw):
    axis = draw(st.sampled_from([None, 0, 1]))
    ddof = draw(st.integers(0, 1))

    def f(x):
        return flat_sum([np.var(x, axis, ddof=ddof), np.std(x, axis, keepdims=True)])

    return f, values(draw, (3, 4), draw(st.booleans()))


@case("nan_reductions")
def _(draw):
    mask = np.array([[1, np.nan, 1, 1], [1, 1, 1, np.nan], [np.nan, 1, 1, 1]])
    axis = draw(st.sampled_from([None, 0, 1]))

    def f(x):
        y = np.where(np.isnan(mask), np.nan, x)  # NaNs as data: constants where they are
        parts = [np.nansum(y, axis), np.nanmean(y, axis), np.nanvar(y, axis), np.nanstd(y, axis), np.nanprod(y, axis)]
        return flat_sum(parts + [np.nanmax(y, axis), np.nanmin(y, axis), np.nancumsum(y, 1)])

    return f, values(draw, (3, 4))


@case("order_statistics")
def _(draw):
    n = draw(st.integers(2, 7))
    q = draw(st.sampled_from([0.3, [0.1, 0.5, 0.9]]))

    def f(x):
        return flat_sum(
            [np.median(x, 1), np.median(x), np.quantile(x, q, axis=1), np.percentile(x, 40.0), np.ptp(x, 0)]
        )

    return f, values(draw, (3, n))


@case("average_cov_corrcoef")
def _(draw):
    def f(p):
        x, w = p
        a = np.average(x, axis=1, weights=w**2 + 1)
        return flat_sum([a, np.average(x), np.cov(x), np.corrcoef(x)[0, 1:], np.cov(x[0], x[1], bias=True)])

    return f, (values(draw, (3, 5)), values(draw, (5,)))


@case("mean_of_list")
def _(draw):
    return lambda x: np.mean([x[0], x[1] + 2]) + np.std((x[0], x[1])) + np.var([x[0], x[1]]), values(draw, (2,))


# -- differences and ranges ----------------------------------------------------------


@case("diff_ediff1d")
def _(draw):
    n = draw(st.integers(1, 2))
    axis = draw(st.sampled_from([0, 1, -1]))

    def f(x):
        return flat_sum([np.diff(x, n, axis), np.diff(x, axis=0, prepend=0.5), np.ediff1d(x, to_end=x[0, :1])])

    return f, values(draw, (4, 4))


@case("gradient")
def _(draw):
    edge = draw(st.integers(1, 2))
    axis = draw(st.sampled_from([None, 0, -1, (0, 1)]))
    coords = np.array([0.0, 0.5, 1.5, 2.0, 3.5])

    def f(x):
        g = np.gradient(x, axis=axis, edge_order=edge)
        g = g if isinstance(g, tuple) else (g,)
        return flat_sum(list(g) + [np.gradient(x[0], coords, edge_order=edge), np.gradient(x, 0.5, 2.0)[1]])

    return f, values(draw, (5, 5))


@case("trapezoid")
def _(draw):
    return lambda p: np.trapezoid(p[0], p[1] ** 2) + np.trapezoid(p[0] ** 2, dx=0.3), (
        values(draw, (6,)),
        np.cumsum(np.abs(values(draw, (6,)))),
    )


@case("linspace_logspace_geomspace")
def _(draw):
    num = draw(st.integers(0, 6))
    endpoint = draw(st.booleans())

    def f(x):
        a, b = x[0], x[1]
        return flat_sum(
            [
                np.linspace(a, b, num, endpoint=endpoint),
                np.linspace(x[:2], x[2:], 3, axis=1),
                np.logspace(a, b, 4),
                np.geomspace(1 + a**2, 2 + b**2, 4),
            ]
        )

    return f, values(draw, (4,))


@case("cumprod")
def _(draw):
    axis = draw(st.sampled_from([None, 0, 1]))
    with_zero = draw(st.booleans())

    def f(x):
        y = x * np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]) if with_zero else x
        scans = []
        if hasattr(np, "cumulative_sum"):  # NumPy >= 2.1
            scans = [np.cumulative_sum(y, axis=1, include_initial=True), np.cumulative_prod(y, axis=0)]
        return flat_sum([np.cumprod(y, axis), np.nancumprod(x, 1)] + scans)

    return f, values(draw, (2, 3), draw(st.booleans()))


@case("correlate_convolve")
def _(draw):
    n, m = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    mode = draw(st.sampled_from(["full", "same", "valid"]))

    def f(p):
        a, v = p
        return flat_sum([np.correlate(a, v, mode), np.convolve(a, v, mode), np.convolve(v, a)])

    return f, (values(draw, (n,), draw(st.booleans())), values(draw, (m,)))


@case("interp")
def _(draw):
    xp = np.array([-1.0, 0.0, 0.5, 2.0])
    left = draw(st.sampled_from([None, -3.0]))

    def f(p):
        x, fp = p
        knots = np.array([-1.0, 0.5, 2.0, 3.0])  # breakpoints (midpoint policy) and a point outside
        return flat_sum([np.interp(x, xp, fp, left=left), np.interp(knots, xp, fp), np.interp(x, xp + x[0] ** 2, fp)])

    x = np.tanh(values(draw, (3,))) * 1.4 + 0.4
    return f, (x, values(draw, (4,)))


@case("polyval_polyder")
def _(draw):
    cx = draw(st.booleans())
    return lambda p: flat_sum([np.polyval(p[0], p[1]), np.polyder(p[0], 2), np.polyval(p[0], 0.5)]), (
        values(draw, (4,), cx),
        values(draw, (3,), cx),
    )


# -- products -------------------------------------------------------------------------


@case("kron")
def _(draw):
    cx = draw(st.booleans())
    return lambda p: np.kron(p[0], p[1]), (
        values(draw, shape_of(draw, 2, 1, 3), cx),
        values(draw, shape_of(draw, 2, 1, 3)),
    )


@case("cross")
def _(draw):
    axisa, axisc = draw(st.sampled_from([-1, 0])), draw(st.sampled_from([-1, 0]))

    def f(p):
        return np.cross(p[0], p[1], axisa=axisa, axisc=axisc)

    return f, (values(draw, (3, 3)), values(draw, (1, 3)))


@case("vecdot_matvec")
def _(draw):
    cx = draw(st.booleans())

    def f(p):
        a, b = p
        parts = [np.vecdot(a, b)]
        if hasattr(np, "matvec"):  # NumPy >= 2.2
            parts += [np.matvec(a[:, :, None] * b[:, None, :], b), np.vecmat(b, a[:, :, None] * b[:, None, :])]
        return flat_sum(parts)

    return f, (values(draw, (2, 3), cx), values(draw, (2, 3), cx))


@case("einsum_ellipsis_sublist")
def _(draw):
    def f(p):
        a, b = p
        return flat_sum(
            [
                np.einsum("...ij,...jk->...ik", a, b),
                np.einsum("...ij,jk", a[0], b[0]),
                np.einsum(a, [0, 1, 2], b, [0, 2, 3], [0, 1, 3]),
                np.einsum(a, [Ellipsis, 1], [Ellipsis]),
                np.einsum("...i,...i->...", a[:1], a),
            ]
        )

    return f, (values(draw, (2, 2, 3)), values(draw, (2, 3, 2)))


# -- linear algebra ------------------------------------------------------------------


@case("svd_real")
def _(draw):
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = draw(st.sampled_from([(), (2,)]))
    return lambda a: flat_sum(np.linalg.svd(a, full_matrices=False)), values(draw, batch + (m, n))


@case("svd_complex")
def _(draw):
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return lambda a: _abs_factors(np.linalg.svd(a, full_matrices=False)), values(draw, (m, n), True)


@case("svdvals_norms")
def _(draw):
    cx = draw(st.booleans())

    def f(a):
        return flat_sum(
            [
                np.linalg.svdvals(a),
                np.linalg.norm(a, "nuc"),
                np.linalg.norm(a, 2),
                np.linalg.norm(a, -2),
                np.linalg.matrix_norm(a, ord="nuc"),
                np.linalg.cond(a),
            ]
        )

    return f, values(draw, (3, 3), cx)


@case("vector_norms_complex")
def _(draw):
    ord_ = draw(st.sampled_from([None, 1, 2, 3, np.inf, -np.inf, -1]))

    def f(z):
        return flat_sum([np.linalg.norm(z, ord_, axis=1), np.linalg.vector_norm(z, ord=2), np.linalg.norm(z)])

    return f, values(draw, (2, 4), True)


@case("eigh")
def _(draw):
    uplo = draw(st.sampled_from(["L", "U"]))
    cx = draw(st.booleans())
    return lambda a: _abs_factors(np.linalg.eigh(a, uplo)) + np.linalg.eigvalsh(a, uplo).sum(), values(draw, (3, 3), cx)


@case("eig")
def _(draw):
    cx = draw(st.booleans())
    return lambda a: _abs_factors(np.linalg.eig(a)) + np.sum(np.abs(np.linalg.eigvals(a))), values(draw, (3, 3), cx)


@case("cholesky")
def _(draw):
    upper = draw(st.booleans())
    return lambda a: np.linalg.cholesky(a, upper=upper), spd(draw, 3, draw(st.booleans()))


@case("qr")
def _(draw):
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    mode = draw(st.sampled_from(["reduced", "r"]))
    cx = draw(st.booleans())

    def f(a):
        r = np.linalg.qr(a, mode)
        return flat_sum(r) if mode == "reduced" else r

    return f, values(draw, (m, n), cx)


@case("pinv_lstsq")
def _(draw):
    m, n = draw(st.sampled_from([(4, 2), (2, 4), (3, 3)]))

    def f(a):
        x, res, _, s = np.linalg.lstsq(a, np.arange(1.0, m + 1))
        return flat_sum([np.linalg.pinv(a), np.linalg.pinv(a.T @ a), x, res, s])

    return f, values(draw, (m, n))


@case("pinv_low_rank")
def _(draw):
    return lambda x: np.linalg.pinv(x.T @ x), values(draw, (2, 4))


@case("matrix_functions")
def _(draw):
    k = draw(st.integers(-3, 4))

    def f(a):
        return flat_sum(
            [
                np.linalg.matrix_power(a, k),
                np.linalg.multi_dot([a[0], a, a, a[:, 0]]),
                np.linalg.tensorinv(a.reshape(3, 1, 3), 2),
                np.linalg.tensorsolve(a, a[0]),
                np.linalg.trace(a),
                np.linalg.diagonal(a, offset=1),
                np.linalg.cond(a, "fro"),
                np.linalg.cond(a, 1),
            ]
        )

    return f, values(draw, (3, 3)) + 3 * np.eye(3)


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=2, deadline=None)
@given(data=st.data())
def test_both_modes_to_second_order(name, data):
    f, x = CASES[name](data.draw)
    check(f, x, data.draw(st.integers(0, 2**31), label="directions"))


def test_case_count():
    assert len(CASES) >= 40


# --------------------------------------------------------------------------
# decompositions against mpmath at 40 digits
# --------------------------------------------------------------------------

DPS = 40


def _mp(a: np.ndarray) -> mpmath.matrix:
    return mpmath.matrix(a.tolist())


def _mp_central(F: Callable[[mpmath.matrix], list[Any]], a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """d/ds F(a + s t) at s = 0 by a central difference at 40 digits (step 1e-18: error ~1e-36)."""
    with mpmath.workdps(DPS):
        h = mpmath.mpf("1e-18")
        A, T = _mp(a), _mp(t)
        hi, lo = F(A + h * T), F(A - h * T)
        return np.array([complex((p - q) / (2 * h)) for p, q in zip(hi, lo)])


def _signs_fixed(columns: list[list[Any]]) -> list[Any]:
    """Each column with its largest entry made positive (the sign convention both sides use)."""
    out = []
    for col in columns:
        big = max(col, key=lambda v: abs(v))
        s = 1 if big >= 0 else -1
        out.extend(s * v for v in col)
    return out


def _np_signs_fixed(v: Any) -> Any:
    """The same convention for a (lifted) matrix of column vectors."""
    plain = np.asarray(getattr(v, "primal", v))
    big = plain[np.argmax(np.abs(plain), axis=0), np.arange(plain.shape[1])]
    return v * np.sign(big)


def _mp_svd(A: mpmath.matrix) -> list[Any]:
    u, s, v = mpmath.svd_r(A)  # A = u diag(s) v, v holding the right vectors as rows
    k = min(A.rows, A.cols)
    cols = [[u[i, j] * (1 if v[j, 0] >= 0 else -1) for i in range(A.rows)] for j in range(k)]
    rows = [[v[j, i] * (1 if v[j, 0] >= 0 else -1) for i in range(A.cols)] for j in range(k)]
    return [s[j] for j in range(k)] + [x for c in cols for x in c] + [x for r in rows for x in r]


def _dd_svd(a: Any) -> Any:
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    sign = np.sign(np.asarray(getattr(vh, "primal", vh))[:, 0])  # the same convention: Vh's first column >= 0
    return np.concatenate([s, np.ravel((u * sign).T), np.ravel(vh * sign[:, None])])


def _mp_eigh(A: mpmath.matrix) -> list[Any]:
    e, q = mpmath.eighe(A)
    n = A.rows
    order = sorted(range(n), key=lambda i: e[i])
    return [e[i] for i in order] + _signs_fixed([[q[r, i] for r in range(n)] for i in order])


def _dd_eigh(a: Any) -> Any:
    w, v = np.linalg.eigh(a)
    return np.concatenate([w, np.ravel(np.swapaxes(_np_signs_fixed(v), 0, 1))])


def _mp_cholesky(A: mpmath.matrix) -> list[Any]:
    low = mpmath.cholesky(A)
    return [low[i, j] for i in range(A.rows) for j in range(A.cols)]


def _mp_qr(A: mpmath.matrix) -> list[Any]:
    q, r = mpmath.qr(A, mode="skinny")
    n = A.cols
    s = [1 if r[j, j] >= 0 else -1 for j in range(n)]  # R's diagonal made positive on both sides
    return [q[i, j] * s[j] for i in range(A.rows) for j in range(n)] + [
        r[i, j] * s[i] for i in range(n) for j in range(n)
    ]


def _dd_qr(a: Any) -> Any:
    q, r = np.linalg.qr(a)
    s = np.sign(np.diagonal(np.asarray(getattr(r, "primal", r))))
    return np.concatenate([np.ravel(q * s), np.ravel(r * s[:, None])])


def _mp_pinv(A: mpmath.matrix) -> list[Any]:
    p = mpmath.inverse(A.T * A) * A.T  # full column rank
    return [p[i, j] for i in range(p.rows) for j in range(p.cols)]


def _mp_eigvals(A: mpmath.matrix) -> list[Any]:
    e = mpmath.eig(A, left=False, right=False)
    return sorted(e, key=lambda z: (float(mpmath.re(z)), float(mpmath.im(z))))


def _dd_eigvals(a: Any) -> Any:
    w = np.linalg.eigvals(a)
    plain = np.asarray(getattr(w, "primal", w))
    order = np.lexsort((plain.imag, plain.real))
    return w[order]


MP_CASES = {
    "svd_tall": (_dd_svd, _mp_svd, (4, 3), False),
    "svd_wide": (_dd_svd, _mp_svd, (2, 3), False),
    "eigh": (_dd_eigh, _mp_eigh, (3, 3), "symmetric"),
    "cholesky": (np.linalg.cholesky, _mp_cholesky, (3, 3), "spd"),
    "qr": (_dd_qr, _mp_qr, (4, 3), False),
    "pinv": (np.linalg.pinv, _mp_pinv, (4, 2), False),
    "eigvals": (_dd_eigvals, _mp_eigvals, (3, 3), False),
}


@pytest.mark.parametrize("name", sorted(MP_CASES))
@settings(max_examples=2, deadline=None)
@given(data=st.data())
def test_decompositions_against_mpmath(name, data):
    f, F, shape, kind = MP_CASES[name]
    a = values(data.draw, shape)
    t = values(data.draw, shape)
    if kind == "symmetric":
        a, t = a + a.T, t + t.T
    elif kind == "spd":
        a, t = a @ a.T + 3 * np.eye(shape[0]), t + t.T
    expected = _mp_central(F, a, t)
    _, forward = dd.jvp(f, a, t)
    np.testing.assert_allclose(np.asarray(forward, dtype=complex).ravel(), expected, rtol=1e-9, atol=1e-10)
    u = np.random.default_rng(0).normal(size=expected.shape)
    backward = dd.vjp(f, a)[1](u.reshape(np.shape(forward)).astype(np.result_type(forward)))
    assert abs(np.real(np.sum(backward * t)) - np.real(np.sum(u * expected))) <= 1e-9 * max(1, np.abs(expected).sum())
