"""NumPy arrays in both modes: plain NumPy code differentiated as it is (issue 4).

Every case is checked four ways: the JVP against central differences, jacfwd
against jacrev (batched and one direction at a time), the Jacobian's shape
(``y.shape + x.shape``), and, for scalar outputs, the Hessian (forward over
reverse) against hvp. A set of gradients is checked against mpmath at 30
digits.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import dualdiff as dd

RNG = np.random.default_rng(20240601)
A43 = RNG.normal(size=(4, 3))
B33 = RNG.normal(size=(3, 3)) + 4 * np.eye(3)
M33 = RNG.normal(size=(3, 3))
X53 = RNG.normal(size=(5, 3))
Y52 = RNG.normal(size=(5, 2))


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def mlp_loss(w):
    w1 = w[:6].reshape(3, 2)
    b = w[6:8]
    w2 = w[8:12].reshape(2, 2)
    h = np.tanh(X53 @ w1 + b)
    return np.mean((h @ w2 - Y52) ** 2)


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


# name -> (f, x); x is a float64 array (or a tuple of arrays)
CASES = {
    "rosenbrock": (rosenbrock, RNG.normal(size=6)),
    "mlp_loss": (mlp_loss, RNG.normal(size=12)),
    "softmax": (softmax, RNG.normal(size=5)),
    "logsumexp": (logsumexp, RNG.normal(size=5)),
    "matmul_chain": (lambda x: A43 @ (x.reshape(3, 3) @ x.reshape(3, 3).T) @ A43.T, RNG.normal(size=9)),
    "matvec_vecmat": (lambda x: x[:4] @ A43 + A43.T @ x[:4] + x @ x, RNG.normal(size=4)),
    "batched_matmul": (
        lambda x: x.reshape(2, 2, 3) @ x.reshape(2, 3, 2) + x.reshape(2, 2, 3) @ x[:3, None],
        RNG.normal(size=12),
    ),
    "sin_matvec": (lambda x: np.sin(A43 @ x) * x.sum(), RNG.normal(size=3)),
    "indexing": (lambda x: x[[0, 2, 2]] * x[1:3].sum() + x[x > 0].sum() + x[::-2][0], RNG.normal(size=5)),
    "index_2d": (lambda x: x.reshape(3, 4)[1:, [0, 3]] * x.reshape(3, 4)[1:, 1, None], RNG.normal(size=12)),
    "where_maximum": (
        lambda x: np.where(x > 0, x**2, np.sin(x)) + np.maximum(x, 0.3) * np.minimum(x, -0.2),
        RNG.normal(size=6),
    ),
    "norms": (
        lambda x: np.linalg.norm(x) + np.linalg.norm(x, 1) + np.linalg.norm(x, np.inf) + np.linalg.norm(x, 3),
        RNG.normal(size=5),
    ),
    "matrix_norms": (
        lambda x: (
            np.linalg.norm(x.reshape(2, 3), axis=1)
            + np.linalg.norm(x.reshape(2, 3), "fro")
            + np.linalg.norm(x.reshape(3, 2), 1)
            + np.linalg.norm(x.reshape(3, 2), np.inf, keepdims=True)[0]
        ),
        RNG.normal(size=6),
    ),
    "solve": (lambda x: np.linalg.solve(B33 + x.reshape(3, 3), x[:3]), RNG.normal(size=9)),
    "solve_matrix": (lambda x: np.linalg.solve(B33 + x[:9].reshape(3, 3), x.reshape(3, 4)[:, :2]), RNG.normal(size=12)),
    "inv": (lambda x: np.linalg.inv(B33 + x.reshape(3, 3)), 0.1 * RNG.normal(size=9)),
    "det": (lambda x: np.linalg.det(B33 + x.reshape(3, 3)), RNG.normal(size=9)),
    "slogdet": (lambda x: np.linalg.slogdet(B33 + x.reshape(3, 3))[1], RNG.normal(size=9)),
    "einsum": (
        lambda x: (
            np.einsum("ij,jk->ik", x.reshape(2, 3), M33)
            + np.einsum("ij,ij->i", x.reshape(2, 3), x.reshape(2, 3))[:, None]
        ),
        RNG.normal(size=6),
    ),
    "einsum_diag_sum": (
        lambda x: np.einsum("ii->", x.reshape(3, 3)) * np.einsum("ij->j", x.reshape(3, 3)),
        RNG.normal(size=9),
    ),
    "einsum_three": (lambda x: np.einsum("i,ij,j", x[:3], M33, x[3:]), RNG.normal(size=6)),
    "concatenate": (lambda x: np.concatenate([x[:2] ** 2, np.sin(x), np.ones(2)]), RNG.normal(size=4)),
    "stack": (lambda x: np.stack([x, x**2, np.ones(4)], axis=1), RNG.normal(size=4)),
    "split": (lambda x: np.split(x, 3)[1] * np.split(x, [1, 4])[2].sum(), RNG.normal(size=6)),
    "hstack_vstack_flip": (lambda x: np.hstack([np.flip(x), x[:2]]) + np.vstack([x, x]).sum(), RNG.normal(size=4)),
    "cumsum": (lambda x: np.cumsum(x.reshape(2, 3), axis=1) * np.cumsum(x)[-1], RNG.normal(size=6)),
    "var_std": (lambda x: np.var(x.reshape(2, 3), axis=0) + np.std(x) + x.var(ddof=1), RNG.normal(size=6)),
    "prod": (lambda x: np.prod(x.reshape(2, 3), axis=1) + x.prod(), RNG.normal(size=6)),
    "prod_with_zero": (lambda x: np.prod(x * np.array([0.0, 1, 1, 1])), RNG.normal(size=4)),
    "max_min": (lambda x: np.max(x.reshape(2, 3), axis=0) + x.min() + np.amax(x) + x.max(), RNG.normal(size=6)),
    "tensordot": (
        lambda x: np.tensordot(x.reshape(2, 3, 2), x.reshape(3, 2, 2), axes=([1, 2], [0, 1])),
        RNG.normal(size=12),
    ),
    "dot_inner_outer_vdot": (
        lambda x: (
            np.dot(x.reshape(2, 2, 3), x.reshape(3, 4)).sum(0)[0, :2]
            + np.inner(x[:6].reshape(2, 3), x[6:12].reshape(2, 3))[0]
            + np.outer(x[:2], x[2:4])[1]
            + np.vdot(x, x)
        ),
        RNG.normal(size=12),
    ),
    "structure": (
        lambda x: (
            x.reshape(2, 3, 1).transpose(2, 0, 1)
            + np.swapaxes(x.reshape(2, 3, 1), 0, 2).transpose(0, 2, 1)
            + np.moveaxis(x.reshape(1, 2, 3), 0, -1).squeeze(-1).T.sum()
            + np.expand_dims(x.ravel()[:3], 0)
        ),
        RNG.normal(size=6),
    ),
    "broadcasting": (
        lambda x: np.broadcast_to(x, (3, 4)) * np.arange(3.0)[:, None] + x[:, None, None],
        RNG.normal(size=4),
    ),
    "clip": (lambda x: np.clip(x, -0.5, 0.5) * x, RNG.normal(size=6)),
    "diag_trace": (
        lambda x: np.diag(x[:3]) @ x.reshape(3, 3) + np.trace(x.reshape(3, 3)) + np.diag(x.reshape(3, 3), 1).sum(),
        RNG.normal(size=9),
    ),
    "ufunc_methods": (
        lambda x: (
            np.add.reduce(x.reshape(2, 3))
            + np.maximum.reduce(x.reshape(2, 3), axis=1).sum()
            + np.minimum.reduce(x)
            + np.multiply.reduce(x)
            + np.multiply.outer(x[:3], x[3:]).sum(0)
            + np.add.accumulate(x[:3])
        ),
        RNG.normal(size=6),
    ),
    "logaddexp": (lambda x: np.logaddexp(x, 2 * x), RNG.normal(size=4)),
    "tuple_input": (lambda w: np.tanh(w[0] @ w[1]).sum() * w[1], (RNG.normal(size=(2, 3)), RNG.normal(size=3))),
}


def central_jacobian(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    y0 = np.asarray(f(x))
    jac = np.zeros(y0.shape + x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        jac[(Ellipsis, *i)] = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h)
    return jac


def flat(f, x):
    """f of one flat vector, for tuple inputs."""
    if not isinstance(x, tuple):
        return f, x
    shapes = [a.shape for a in x]
    sizes = [a.size for a in x]

    def g(v):
        parts, o = [], 0
        for s, n in zip(shapes, sizes):
            parts.append(v[o : o + n].reshape(s))
            o += n
        return f(tuple(parts))

    return g, np.concatenate([a.ravel() for a in x])


@pytest.mark.parametrize("name", sorted(CASES))
def test_jvp_matches_central_differences(name):
    f, x = flat(*CASES[name])
    v = np.random.default_rng(1).normal(size=x.shape)
    y, y_dot = dd.jvp(f, x, v)
    np.testing.assert_allclose(y, f(x), rtol=1e-12, atol=1e-12)
    expected = np.tensordot(central_jacobian(f, x), v, axes=v.ndim)
    np.testing.assert_allclose(y_dot, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_jacfwd_equals_jacrev(name):
    f, x = CASES[name]
    fwd, rev = dd.jacfwd(f)(x), dd.jacrev(f)(x)
    fwd1, rev1 = dd.jacfwd(f, chunk=1)(x), dd.jacrev(f, chunk=1)(x)
    y = f(x)
    if isinstance(x, tuple):
        for i, xi in enumerate(x):
            assert fwd[i].shape == np.shape(y) + xi.shape
            for other in (rev[i], fwd1[i], rev1[i]):
                np.testing.assert_allclose(fwd[i], other, rtol=1e-10, atol=1e-10)
        return
    assert fwd.shape == np.shape(y) + x.shape
    for other in (rev, fwd1, rev1, dd.jacfwd(f, chunk=4)(x), dd.jacrev(f, chunk=3)(x)):
        np.testing.assert_allclose(fwd, other, rtol=1e-10, atol=1e-10)


SCALAR_CASES = sorted(n for n, (f, x) in CASES.items() if not isinstance(x, tuple) and np.ndim(f(x)) == 0)


@pytest.mark.parametrize("name", SCALAR_CASES)
def test_hessian_and_hvp(name):
    f, x = CASES[name]
    v = np.random.default_rng(2).normal(size=x.shape)
    h = dd.hessian(f)(x)
    np.testing.assert_allclose(h, h.T, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(dd.hvp(f, x, v), h @ v, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(h, central_jacobian(dd.grad(f), x), rtol=1e-5, atol=1e-5)


def test_scalar_case_count():
    assert len(CASES) >= 20 and len(SCALAR_CASES) >= 8


# --------------------------------------------------------------------------
# mpmath references (30 digits)
# --------------------------------------------------------------------------


def mp_grad(F, x):
    """The gradient of an mpmath function of a list, by mpmath.diff one coordinate at a time."""
    with mpmath.workdps(30):
        xs = [mpmath.mpf(float(v)) for v in np.ravel(x)]
        out = []
        for i in range(len(xs)):
            out.append(float(mpmath.diff(lambda t, i=i: F(xs[:i] + [xs[i] + t] + xs[i + 1 :]), 0)))
    return np.array(out).reshape(np.shape(x))


def mp_matrix(v, rows, cols):
    return mpmath.matrix([[v[r * cols + c] for c in range(cols)] for r in range(rows)])


def mp_rosenbrock(x):
    return mpmath.fsum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))


def mp_mlp(x):
    w1, b, w2 = mp_matrix(x[:6], 3, 2), x[6:8], mp_matrix(x[8:12], 2, 2)
    total = 0
    for r in range(5):
        h = [mpmath.tanh(sum(X53[r, k] * w1[k, j] for k in range(3)) + b[j]) for j in range(2)]
        for c in range(2):
            total += (sum(h[j] * w2[j, c] for j in range(2)) - Y52[r, c]) ** 2
    return total / 10


def mp_logsumexp(x):
    return mpmath.log(mpmath.fsum(mpmath.exp(v) for v in x))


def mp_det(x):
    return mpmath.det(mpmath.matrix(B33.tolist()) + mp_matrix(x, 3, 3))


def mp_solve_sum(x):
    a = mpmath.matrix(B33.tolist()) + mp_matrix(x, 3, 3)
    return mpmath.fsum(mpmath.lu_solve(a, mpmath.matrix(x[:3])))


def mp_norm_prod_var(x):
    mean = mpmath.fsum(x) / len(x)
    var = mpmath.fsum((v - mean) ** 2 for v in x) / len(x)
    return mpmath.sqrt(mpmath.fsum(v**2 for v in x)) + mpmath.fprod(x) + var


def mp_einsum_quad(x):
    return mpmath.fsum(x[i] * M33[i, j] * x[3 + j] for i in range(3) for j in range(3))


MP_CASES = {
    "rosenbrock": (rosenbrock, mp_rosenbrock, RNG.normal(size=5)),
    "mlp_loss": (mlp_loss, mp_mlp, CASES["mlp_loss"][1]),
    "logsumexp": (logsumexp, mp_logsumexp, RNG.normal(size=5)),
    "det": (CASES["det"][0], mp_det, CASES["det"][1]),
    "solve": (lambda x: np.sum(np.linalg.solve(B33 + x.reshape(3, 3), x[:3])), mp_solve_sum, RNG.normal(size=9)),
    "norm_prod_var": (lambda x: np.linalg.norm(x) + np.prod(x) + np.var(x), mp_norm_prod_var, RNG.normal(size=5)),
    "einsum": (CASES["einsum_three"][0], mp_einsum_quad, CASES["einsum_three"][1]),
}


@pytest.mark.parametrize("name", sorted(MP_CASES))
def test_gradient_matches_mpmath(name):
    f, F, x = MP_CASES[name]
    expected = mp_grad(F, x)
    np.testing.assert_allclose(dd.grad(f)(x), expected, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(dd.jacfwd(f)(x), expected, rtol=1e-11, atol=1e-11)


# --------------------------------------------------------------------------
# dtypes, complex, policies, methods, errors
# --------------------------------------------------------------------------


def test_float32_stays_float32():
    x = np.linspace(0.1, 1.0, 6, dtype=np.float32)
    a = np.ones((4, 6), dtype=np.float32)

    def f(x):
        return np.tanh(a @ x) * x.sum()

    _, t = dd.jvp(f, x, np.ones_like(x))
    assert t.dtype == np.float32
    assert dd.jacfwd(f)(x).dtype == np.float32
    assert dd.jacrev(f)(x).dtype == np.float32
    g = dd.grad(lambda x: np.sum(np.sin(x) * x))(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x), rtol=1e-5)


def test_complex_holomorphic():
    z = np.array([0.3 + 0.2j, -0.1 + 0.5j, 0.7 - 0.4j])
    a = RNG.normal(size=(2, 3)) + 1j * RNG.normal(size=(2, 3))

    def f(z):
        return np.exp(a @ z)

    expected = np.exp(a @ z)[:, None] * a  # d exp(Az) / dz
    np.testing.assert_allclose(dd.jacfwd(f)(z), expected, rtol=1e-12)
    np.testing.assert_allclose(dd.jacrev(f)(z), expected, rtol=1e-12)
    v = np.array([1.0, 1j, -0.5])
    np.testing.assert_allclose(dd.jvp(f, z, v)[1], expected @ v, rtol=1e-12)
    g = dd.grad(lambda z: np.sum(np.exp(z) * z))(z)
    np.testing.assert_allclose(g, np.exp(z) * (z + 1), rtol=1e-12)


def test_hvp_rosenbrock_large():
    x = RNG.normal(size=200)
    v = RNG.normal(size=200)
    h = dd.hessian(rosenbrock)(x)
    np.testing.assert_allclose(dd.hvp(rosenbrock, x, v), h @ v, rtol=1e-10, atol=1e-8)
    # the Hessian of Rosenbrock is tridiagonal
    assert np.count_nonzero(np.triu(h, 2)) == 0


def test_max_ties_split_evenly():
    g = dd.grad(lambda x: np.max(x))(np.array([1.0, 3.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 0.5, 0.5])
    j = dd.jacfwd(lambda x: np.min(x.reshape(2, 2), axis=1))(np.array([2.0, 2.0, 1.0, 5.0]))
    np.testing.assert_array_equal(j, [[0.5, 0.5, 0, 0], [0, 0, 1, 0]])
    np.testing.assert_array_equal(dd.grad(lambda x: np.sum(np.maximum(x, 1.0)))(np.array([1.0, 2.0])), [0.5, 1.0])


def test_repeated_fancy_index_accumulates():
    g = dd.grad(lambda x: np.sum(x[[0, 0, 2]] ** 2))(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(g, [4.0, 0.0, 6.0])


def test_broadcast_adjoints_sum_back():
    b = np.array([0.5, -1.0, 2.0])
    gb = dd.grad(lambda b: np.sum(np.ones((4, 3)) * b + b))(b)
    np.testing.assert_array_equal(gb, [8.0, 8.0, 8.0])  # b is broadcast over 4 rows twice


def test_array_methods():
    x = RNG.normal(size=(2, 3))
    w = RNG.normal(size=(3, 2))

    def f(x):
        return (
            x.sum()
            + x.mean(axis=0).sum()
            + x.reshape(3, 2).T.sum()
            + x.transpose().T.dot(w).max()
            + x.ravel()[1]
            + x.flatten().min()
            + (x @ w).sum()
            + (w.T @ x.T).sum()
            + x.prod()
            + x.std()
            + x.var()
            + x.cumsum()[-1]
            + x.clip(-0.5, 0.5).sum()
            + x.swapaxes(0, 1)[0, 1]
            + x.squeeze().sum()
        )

    np.testing.assert_allclose(dd.grad(f)(x), central_jacobian(f, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dd.jacfwd(f)(x), dd.grad(f)(x), rtol=1e-12)


def test_rmatmul_with_lists():
    x = np.array([1.0, 2.0])
    j = dd.jacfwd(lambda x: [[1.0, 2.0], [3.0, 4.0]] @ x)(x)
    np.testing.assert_array_equal(j, [[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda x: np.fft.fft(x), "np.fft.fft"),
        (lambda x: np.histogram(x), "np.histogram"),
        (lambda x: np.unique(x), "np.unique"),
        (lambda x: np.polyfit(x, x, 1), "np.polyfit"),
        (lambda x: np.ldexp(x, 2), "np.ldexp"),
        (lambda x: np.subtract.reduceat(x, [0, 2]), "np.subtract.reduceat"),
        (lambda x: np.pad(x, 1, mode="linear_ramp"), "mode='linear_ramp'"),
    ],
)
def test_no_rule_error_names_the_function(call, name):
    with pytest.raises(dd.NoRuleError, match=name.replace(".", r"\.")):
        dd.jvp(call, np.arange(1.0, 5.0), np.ones(4))
    with pytest.raises(dd.NoRuleError, match=name.replace(".", r"\.")):
        dd.grad(lambda x: np.sum(call(x)))(np.arange(1.0, 5.0))


def test_out_argument_refused():
    with pytest.raises(TypeError, match="out="):
        dd.jvp(lambda x: np.sin(x, out=np.empty(2)), np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="out="):
        dd.grad(lambda x: np.sum(x, out=np.empty(())))(np.ones(2))
    with pytest.raises(TypeError, match="out="):
        dd.grad(lambda x: np.add.reduce(x, out=np.empty(())))(np.ones(2))


def test_value_only_functions_pass_through():
    def f(x):
        i = np.argmax(x)
        assert np.shape(x) == (4,) and np.ndim(x) == 1 and np.size(x) == 4
        assert np.allclose(x, x) and np.all(np.isfinite(x))
        return x[i] * np.ones_like(x) + x

    np.testing.assert_array_equal(dd.jacfwd(f)(np.array([1.0, 5.0, 2.0, 3.0]))[:, 1], [1, 2, 1, 1])


def test_einsum_forms():
    x = RNG.normal(size=(3, 3))
    f = lambda x: np.einsum("ij,jk", x, x)  # implicit output "ik"
    np.testing.assert_allclose(dd.jacrev(f)(x), dd.jacfwd(lambda x: x @ x)(x), rtol=1e-12)
    g = dd.grad(lambda x: np.einsum("...i->", x) + np.einsum(x, [Ellipsis, 0], [Ellipsis]).sum())(x)
    np.testing.assert_array_equal(g, 2 * np.ones_like(x))


def test_mlp_tuple_of_weights_all_modes():
    x, w1, b, w2, y = (RNG.normal(size=s) for s in [(8, 4), (4, 5), (5,), (5, 2), (8, 2)])

    def loss(w):
        h = np.tanh(x @ w[0] + b)
        return np.mean((h @ w[1] - y) ** 2)

    g1, g2 = dd.grad(loss)((w1, w2))
    v1, v2 = RNG.normal(size=w1.shape), RNG.normal(size=w2.shape)
    _, t = dd.jvp(loss, (w1, w2), (v1, v2))
    np.testing.assert_allclose(t, np.sum(g1 * v1) + np.sum(g2 * v2), rtol=1e-11)
    eps = 1e-6
    fd = (loss((w1 + eps * v1, w2 + eps * v2)) - loss((w1 - eps * v1, w2 - eps * v2))) / (2 * eps)
    np.testing.assert_allclose(t, fd, rtol=1e-6)


def test_where_scalar_branches_and_conditions_of_duals():
    f = lambda x: np.where(x > 1.0, x, 0.0) + np.where(np.array([True, False, True]), 2.0, x)
    np.testing.assert_array_equal(dd.jacrev(f)(np.array([0.5, 2.0, 3.0])), np.diag([0.0, 2.0, 1.0]))


def test_higher_order_linear_algebra():
    a = B33 + 0.1 * RNG.normal(size=(3, 3))
    f = lambda x: np.linalg.det(x.reshape(3, 3)) + np.sum(np.linalg.inv(x.reshape(3, 3)))
    h = dd.hessian(f)(a.ravel())
    np.testing.assert_allclose(h, dd.jacfwd(dd.jacfwd(f))(a.ravel()), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(h, dd.jacrev(dd.jacrev(f))(a.ravel()), rtol=1e-9, atol=1e-9)


LARGE = 20_000  # above the sizes where the modes start reusing memory in place
W_LARGE = RNG.normal(size=(LARGE // 100, 100)) / 10


def _large_functions():
    return {
        "rosenbrock": rosenbrock,
        "shared_uses": lambda x: np.sum((x - x**2) * (x + 1.0) - np.sin(x) * x + x / (2.0 + np.cos(x))),
        "broadcast_rows": lambda x: np.sum(np.tanh(x.reshape(-1, 100) + x[:100]) * x.reshape(-1, 100)[:, :1]),
        "slices": lambda x: np.sum(x[1:] * x[:-1] - x[1:] ** 2 + x[::2].sum() * x[1::2].mean()),
        "matmul": lambda x: np.sum(np.tanh(W_LARGE.T @ x.reshape(-1, 100)) ** 2),
        "where_max": lambda x: np.sum(np.where(x > 0, x, -x) * np.maximum(x, x[::-1])) + np.max(x),
    }


@pytest.mark.parametrize("name", sorted(_large_functions()))
def test_in_place_memory_reuse_changes_nothing(name, monkeypatch):
    """The modes reuse large temporaries in place; the results must equal those without reuse."""
    import dualdiff.modes.dual as dual_mod
    import dualdiff.modes.tape as tape_mod

    f = _large_functions()[name]
    x = np.random.default_rng(5).uniform(-1, 1, LARGE)
    v = np.random.default_rng(6).normal(size=LARGE)
    fast = dd.grad(f)(x), dd.jvp(f, x, v)[1], dd.hvp(f, x[:40].repeat(500), v)
    monkeypatch.setattr(dual_mod, "_IN_PLACE_MIN", 1 << 62)
    monkeypatch.setattr(tape_mod, "_IN_PLACE_MIN", 1 << 62)
    slow = dd.grad(f)(x), dd.jvp(f, x, v)[1], dd.hvp(f, x[:40].repeat(500), v)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(np.dot(fast[0], v), fast[1], rtol=1e-10)


def test_direction_axis_never_mistaken_for_a_broadcast_axis():
    """Tangent (3, k=3) of x broadcast against a (3, 3) constant: the Jacobian is (3, 3, 3)."""
    c = np.arange(9.0).reshape(3, 3)
    x = np.array([1.0, 2.0, 3.0])
    for f in (lambda x: x + c, lambda x: x * 2.0 + c, lambda x: np.where(c > 3, x, 0.0), lambda x: np.maximum(x, c)):
        expected = dd.jacfwd(f, chunk=1)(x)
        assert expected.shape == (3, 3, 3)
        np.testing.assert_array_equal(dd.jacfwd(f)(x), expected)
        np.testing.assert_array_equal(dd.jacrev(f)(x), expected)


B233 = RNG.normal(size=(2, 3, 3)) + 4 * np.eye(3)

#: Shapes, axes and forms beyond the common ones: batched linear algebra, einsum forms, keepdims, ...
EDGE_CASES = {
    "batched_inv": (lambda x: np.linalg.inv(B233 + x.reshape(2, 3, 3)), 0.1 * RNG.normal(size=18)),
    "batched_det": (lambda x: np.linalg.det(B233 + x.reshape(2, 3, 3)), RNG.normal(size=18)),
    "batched_solve_vec": (lambda x: np.linalg.solve(B233 + x[:18].reshape(2, 3, 3), x[18:]), RNG.normal(size=21)),
    "batched_solve_mat": (
        lambda x: np.linalg.solve(B233 + x[:18].reshape(2, 3, 3), x[18:].reshape(3, 2)),
        RNG.normal(size=24),
    ),
    "slogdet_batched": (lambda x: np.linalg.slogdet(B233 + x.reshape(2, 3, 3)).logabsdet, RNG.normal(size=18)),
    "tensordot0": (lambda x: np.tensordot(x[:2], x[2:5], axes=0), RNG.normal(size=5)),
    "tensordot1": (lambda x: np.tensordot(x.reshape(2, 3), x.reshape(3, 2), axes=1), RNG.normal(size=6)),
    "einsum_batch": (lambda x: np.einsum("bij,bjk->bik", x.reshape(2, 2, 3), x.reshape(2, 3, 2)), RNG.normal(size=12)),
    "einsum_outer_sum": (lambda x: np.einsum("i,j->", x[:2], x[2:]), RNG.normal(size=5)),
    "einsum_iij": (lambda x: np.einsum("iij->j", x.reshape(2, 2, 2)), RNG.normal(size=8)),
    "mean_keep": (lambda x: np.mean(x.reshape(2, 3), axis=-1, keepdims=True) * x.reshape(2, 3), RNG.normal(size=6)),
    "max_keep": (lambda x: np.max(x.reshape(2, 3), axis=(0, 1), keepdims=True) * x.reshape(2, 3), RNG.normal(size=6)),
    "stack_neg": (lambda x: np.stack([x, 2 * x], axis=-1), RNG.normal(size=3)),
    "concat_none": (lambda x: np.concatenate([x.reshape(2, 2), x.reshape(2, 2) ** 2], axis=None), RNG.normal(size=4)),
    "newaxis_ellipsis": (lambda x: x.reshape(2, 3)[..., None, 1:] * x.reshape(2, 3)[None, ..., :1], RNG.normal(size=6)),
    "bool_mask2d": (lambda x: x.reshape(2, 3)[x.reshape(2, 3) > 0], np.array([1.0, -1, 2, -2, 3, -3])),
    "norm_axis_keep": (
        lambda x: (
            np.linalg.norm(x.reshape(2, 3), axis=0, keepdims=True)
            + np.linalg.norm(x.reshape(2, 3), ord=-np.inf, axis=1)[:, None]
        ),
        RNG.normal(size=6),
    ),
    "matrix_norm_neg1": (
        lambda x: np.linalg.norm(x.reshape(2, 3), -1) + np.linalg.norm(x.reshape(2, 3), -np.inf),
        RNG.normal(size=6),
    ),
    "cumsum_axis0": (lambda x: np.cumsum(x.reshape(2, 3), axis=0), RNG.normal(size=6)),
    "diag_offset": (
        lambda x: np.diag(x[:2], -1) + np.diagonal(x.reshape(3, 3)[:, :, None] * x[:3], 0, 0, 1).sum(),
        RNG.normal(size=9),
    ),
    "trace_offset": (lambda x: np.trace(x.reshape(2, 3, 2), 1, 1, 2), RNG.normal(size=12)),
    "var_axis_ddof": (
        lambda x: np.var(x.reshape(3, 3), axis=1, ddof=1) + np.std(x.reshape(3, 3), axis=0, keepdims=True)[0],
        RNG.normal(size=9),
    ),
    "clip_one_sided": (
        lambda x: np.clip(x, None, 0.1) + np.clip(x, a_min=-0.2, a_max=None) + x.clip(max=0.0),
        RNG.normal(size=5),
    ),
    "vdot_2d": (lambda x: np.vdot(x.reshape(2, 2), x.reshape(2, 2)[::-1]), RNG.normal(size=4)),
    "where_broadcast": (lambda x: np.where(np.array([[True], [False]]), x[:3], x[3:].sum()), RNG.normal(size=6)),
    "squeeze_expand": (lambda x: np.squeeze(np.expand_dims(x, (0, 2)), axis=0), RNG.normal(size=3)),
    "array_split": (lambda x: np.array_split(x, 3)[2] * 2, RNG.normal(size=7)),
    "dot_vec": (lambda x: np.dot(x, x) + np.dot(x[:2], 3.0).sum() + np.inner(x, 2.0).sum(), RNG.normal(size=4)),
    "hstack2d": (lambda x: np.hstack([x.reshape(2, 2), x.reshape(2, 2).T]), RNG.normal(size=4)),
    "prod_axis_zero": (
        lambda x: np.prod(x.reshape(2, 3) * np.array([[1, 0, 1], [1, 1, 1.0]]), axis=1),
        RNG.normal(size=6),
    ),
    "float_pow_array": (lambda x: x ** np.array([2.0, 3.0, 2.0]) + 2.0**x, RNG.uniform(0.5, 1.5, size=3)),
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_both_modes(name):
    f, x = EDGE_CASES[name]
    fwd, rev = dd.jacfwd(f)(x), dd.jacrev(f)(x)
    assert fwd.shape == np.shape(f(x)) + x.shape
    np.testing.assert_allclose(fwd, rev, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(fwd, central_jacobian(f, x), rtol=1e-5, atol=1e-5)
