"""The policies of issue 17: complex numbers, repeated eigenvalues, gauges, refusals, valid uses that used to fail.

Expected values come from mathematics (``grad |z| = conj(z) / |z|``) or from
central differences, never from dualdiff itself.
"""

from __future__ import annotations

import numpy as np
import pytest

import dualdiff as dd

RNG = np.random.default_rng(17)


def central(f, x, v, h=1e-6):
    return (np.asarray(f(x + h * v)) - np.asarray(f(x - h * v))) / (2 * h)


# --------------------------------------------------------------------------
# complex numbers: JAX's policy
# --------------------------------------------------------------------------

Z = 3.0 + 4.0j


@pytest.mark.parametrize(
    "f, expected",
    [
        (np.abs, np.conj(Z) / abs(Z)),  # d|z|/dx - i d|z|/dy
        (abs, np.conj(Z) / abs(Z)),
        (dd.abs, np.conj(Z) / abs(Z)),
        (np.real, 1.0 + 0.0j),
        (np.imag, -1.0j),
        (np.angle, -1.0j / Z),  # (-y - i x) / |z|^2
        (lambda z: np.abs(z) ** 2, 2 * np.conj(Z)),
        (lambda z: np.var(np.stack([z, 0.0])), np.conj(Z) / 2),
        (lambda z: np.linalg.norm(np.stack([z, 1.0])), np.conj(Z) / np.sqrt(26.0)),
    ],
)
def test_real_valued_functions_of_complex_numbers(f, expected):
    np.testing.assert_allclose(dd.grad(f)(Z), expected, rtol=1e-14)
    # forward mode: the JVP in direction v is Re(grad * v), the same derivative
    for v in (1.0 + 0.0j, 0.5 - 2.0j):
        np.testing.assert_allclose(dd.jvp(f, Z, v)[1], np.real(expected * v), rtol=1e-14, atol=1e-15)


def test_complex_abs_second_order_and_arrays():
    z = np.array([1.0 + 2.0j, -0.5 + 0.25j])
    v = np.array([0.3 - 1.0j, 2.0 + 0.5j])
    f = lambda w: np.sum(np.abs(w))  # noqa: E731
    g = dd.grad(f)
    np.testing.assert_allclose(dd.hvp(f, z, v), central(g, z, v), rtol=1e-6)  # forward over reverse
    u = np.array([1.0 - 0.5j, 0.25 + 2.0j])
    rev = dd.vjp(g, z)[1](u)  # reverse over reverse: <u, H v> = <H^T u, v>
    np.testing.assert_allclose(np.real(np.sum(rev * v)), np.real(np.sum(u * dd.hvp(f, z, v))), rtol=1e-12)


@pytest.mark.parametrize(
    "f",
    [np.sign, lambda z: np.maximum(z, 0.5), lambda z: dd.relu(z), lambda z: np.floor(z.real + 0j)],
    ids=["sign", "maximum", "relu", "floor"],
)
def test_non_holomorphic_functions_raise_one_error_class(f):
    with pytest.raises(dd.NonHolomorphicError, match="not complex-differentiable"):
        dd.jvp(f, 1.0 + 1.0j, 1.0 + 0.0j)
    assert issubclass(dd.NonHolomorphicError, dd.NoRuleError) and issubclass(dd.NonHolomorphicError, TypeError)


def test_complex_factorizations_refuse_nothing_that_numpy_takes():
    z = RNG.normal(size=(3, 3)) + 1j * RNG.normal(size=(3, 3))
    for f in (
        lambda a: np.abs(np.linalg.svd(a)[0]).sum(),
        lambda a: np.linalg.eigh(a)[0].sum(),
        lambda a: np.abs(np.linalg.eig(a)[0]).sum(),
        lambda a: np.abs(np.linalg.qr(a)[1]).sum(),
        lambda a: np.linalg.norm(a, "nuc"),
    ):
        g = dd.grad(f)(z)
        assert np.iscomplexobj(g) and np.all(np.isfinite(g))


# --------------------------------------------------------------------------
# decompositions: gauges, triangles, repeated values
# --------------------------------------------------------------------------


def test_eig_follows_lapack_normalisation():
    """Raw complex eigenvectors (unit norm, largest component real) have the derivative of NumPy's result."""
    a = RNG.normal(size=(4, 4)) + 1j * RNG.normal(size=(4, 4))
    t = RNG.normal(size=(4, 4)) + 1j * RNG.normal(size=(4, 4))
    f = lambda a: np.linalg.eig(a)[1]  # noqa: E731
    np.testing.assert_allclose(dd.jvp(f, a, t)[1], central(f, a, t), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_and_cholesky_read_one_triangle(uplo):
    a = RNG.normal(size=(3, 3))
    a = a @ a.T + 3 * np.eye(3)
    a[np.triu_indices(3, 1) if uplo == "L" else np.tril_indices(3, -1)] = 7.0  # never read
    unread = np.triu(np.ones((3, 3)), 1) if uplo == "L" else np.tril(np.ones((3, 3)), -1)
    t = RNG.normal(size=(3, 3))
    for f in (
        lambda a: np.sum(np.linalg.eigh(a, uplo)[0] ** 3) + np.sum(np.abs(np.linalg.eigh(a, uplo)[1])),
        lambda a: np.sum(np.linalg.cholesky(a, upper=uplo == "U") ** 2),
    ):
        g = dd.grad(f)(a)
        np.testing.assert_array_equal(g * unread, 0.0)
        np.testing.assert_allclose(np.sum(g * t), central(f, a, t), rtol=1e-6)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # NumPy's, for the inf * 0 of the policy
def test_repeated_eigenvalues_policy():
    """Eigenvalues differentiate at a repeated value; eigenvectors do not (inf/nan, as in JAX)."""
    a = np.diag([1.0, 1.0, 2.0])
    t = RNG.normal(size=(3, 3))
    t = t + t.T
    _, dw = dd.jvp(lambda a: np.linalg.eigh(a)[0], a, t)
    assert np.all(np.isfinite(dw))
    np.testing.assert_allclose(np.sum(dw), np.trace(t), rtol=1e-12)  # the trace is differentiable
    _, dv = dd.jvp(lambda a: np.linalg.eigh(a)[1], a, t)
    assert not np.all(np.isfinite(dv))
    # singular values: the same
    _, ds = dd.jvp(lambda a: np.linalg.svd(a, compute_uv=False), np.eye(2), np.array([[0.0, 1.0], [2.0, 0.0]]))
    np.testing.assert_allclose(ds, [0.0, 0.0], atol=1e-15)


def test_refusals_name_the_option():
    x = RNG.normal(size=(3, 2))
    for call, text in (
        (lambda a: np.linalg.svd(a), "full_matrices"),
        (lambda a: np.linalg.qr(a, "complete"), "mode='complete'"),
        (lambda a: np.pad(a, 1, mode="mean"), "mode='mean'"),
        (lambda a: np.pad(a, 1, mode="reflect", reflect_type="odd"), "reflect_type"),
    ):
        with pytest.raises(dd.NoRuleError, match=text):
            dd.jvp(call, x, x)


# --------------------------------------------------------------------------
# valid uses that used to fail
# --------------------------------------------------------------------------


def test_reductions_of_lists_of_traced_scalars():
    assert dd.grad(lambda x: np.mean([x, x + 2]))(0.0) == 1.0
    assert dd.grad(lambda x: np.var((x, x + 2)))(0.0) == 0.0
    assert dd.grad(lambda x: np.std([x, 3 * x]))(1.0) == 1.0
    assert dd.derivative(lambda x: np.mean([x, x * x]))(1.0) == 1.5


def test_astype_keeps_the_derivative_and_the_input_dtype():
    x = np.arange(3, dtype="float32")
    g = dd.grad(lambda x: np.sum(np.sin(x.astype("float64"))))(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, np.cos(x), rtol=1e-6)
    j = dd.jacfwd(lambda x: x.astype(complex) * 1j)(x)
    np.testing.assert_array_equal(j, 1j * np.eye(3))
    assert dd.jvp(lambda x: x.astype(int), x, x)[1].dtype.kind == "f"  # an integer cast has derivative 0


def test_einsum_ellipsis_and_sublists_match_explicit_forms():
    a, b = RNG.normal(size=(2, 1, 2, 3)), RNG.normal(size=(3, 3, 4))
    f1 = lambda p: np.einsum("...ij,...jk->...ik", p[0], p[1])  # noqa: E731
    f2 = lambda p: np.einsum(p[0], [Ellipsis, 0, 1], p[1], [Ellipsis, 1, 2], [Ellipsis, 0, 2])  # noqa: E731
    f3 = lambda p: np.matmul(p[0], p[1])  # noqa: E731
    for f in (f1, f2):
        np.testing.assert_allclose(f((a, b)), f3((a, b)), rtol=1e-14)
        for got, want in zip(dd.jacrev(f)((a, b)), dd.jacrev(f3)((a, b))):
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


def test_jacrev_inside_jvp_and_vjp():
    f = lambda x: np.sin(np.outer(x, x)) + np.cos(np.dot(x, x))  # noqa: E731
    x, v = RNG.normal(size=2), RNG.normal(size=2)
    jj = dd.jacfwd(dd.jacfwd(f))(x)
    np.testing.assert_allclose(dd.jvp(dd.jacrev(f), x, v)[1], jj @ v, rtol=1e-12)
    np.testing.assert_allclose(dd.jacrev(dd.jacrev(f))(x), jj, rtol=1e-12)
    u = RNG.normal(size=(2, 2, 2))
    np.testing.assert_allclose(dd.vjp(dd.jacrev(f), x)[1](u), np.tensordot(u, jj, 3), rtol=1e-12)


def test_traced_value_as_integer_index_says_how():
    def f(w):
        return w[np.int64(w[0])]

    with pytest.raises(TypeError, match=r"\.primal"):
        dd.grad(f)(np.array([1.0, 2.0]))
    assert dd.grad(lambda w: w[int(w[0].primal)])(np.array([1.0, 2.0])).tolist() == [0.0, 1.0]


def test_recorded_sort_guards_its_permutation():
    prog = dd.wengert(lambda x: np.sort(x) * np.arange(3.0), np.array([3.0, 1.0, 2.0]))
    np.testing.assert_array_equal(prog(np.array([3.0, 1.5, 2.0])), [0.0, 2.0, 6.0])
    with pytest.raises(dd.GuardError):
        prog(np.array([1.0, 3.0, 2.0]))
