"""Sparse Jacobians: detected patterns, colorings, compressed Jacobians (issue: sparse Jacobians).

Patterns are checked against the nonzeros of the dense Jacobian (``dd.jacfwd``)
on structured cases and on random programs built from slices, products,
sums, concatenations, constant sparse matrices, cumsum and where; compressed
Jacobians must equal the dense ones exactly, in both modes.
"""

import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")

import dualdiff as dd  # noqa: E402
from dualdiff.cost.choice import choose_sparse  # noqa: E402
from dualdiff.program.sparsity import SparsityWarning  # noqa: E402


def dense_jacobian_2d(f, x, transform=dd.jacfwd):
    """The dense Jacobian as an (m, n) matrix, for a 1-D or 2-D array x."""
    J = np.asarray(transform(f)(x))
    return J.reshape(-1, np.size(x))


def check_all(f, x, exact_pattern=True):
    """Pattern vs dense nonzeros; compressed == dense exactly, mode by mode (the modes add in different orders)."""
    D = dense_jacobian_2d(f, x)
    R = dense_jacobian_2d(f, x, dd.jacrev)
    S = dd.jacobian_sparsity(f, x)
    assert S.shape == D.shape
    assert S.dtype == bool
    if exact_pattern:
        assert np.array_equal(S.toarray(), D != 0)
    else:  # never a miss
        assert not np.any((D != 0) & ~S.toarray())
    for J, dense in (
        (dd.jacfwd(f, sparsity=S)(x), D),
        (dd.jacrev(f, sparsity=S)(x), R),
        (dd.jacobian(f, sparsity="auto")(x), D if choose_sparse(f, x)[0].mode == "forward" else R),
        (dd.jacfwd(f, sparsity="auto", chunk=2)(x), D),
        (dd.jacrev(f, sparsity="auto", chunk=3)(x), R),
    ):
        assert sp.issparse(J) and J.format == "csr"
        assert np.array_equal(J.toarray(), dense)
    return S


# --------------------------------------------------------------------------
# the structured cases
# --------------------------------------------------------------------------


def bratu(u, lam=6.0):
    """The 2-D Bratu residual on the interior of an N x N grid (zero boundary): a 5-point stencil."""
    N = u.shape[0]
    h = 1.0 / (N + 1)
    z = np.zeros((1, N))
    up = np.concatenate([z, u, z], axis=0)
    zc = np.zeros((N + 2, 1))
    up = np.concatenate([zc, up, zc], axis=1)
    lap = (up[:-2, 1:-1] + up[2:, 1:-1] + up[1:-1, :-2] + up[1:-1, 2:] - 4 * u) / h**2
    return lap + lam * np.exp(u)


def banded(b):
    def f(x):
        n = x.shape[0]
        pad = np.concatenate([np.zeros(b), x, np.zeros(b)])
        out = np.sin(x) * x
        for k in range(-b, b + 1):
            if k:
                out = out + (1.0 + abs(k)) * np.tanh(pad[b + k : b + k + n])
        return out

    return f


def arrowhead(x):
    return np.concatenate([np.sum(x**2, keepdims=True), x[0] * x[1:] + np.sin(x[1:])])


def dense_row_over_diagonal(x):
    return np.concatenate([np.sum(np.exp(x), keepdims=True), x[1:] ** 3])


def block_diagonal(x):
    a = x.reshape(4, 3, 3)
    return (a @ a + np.einsum("bij,j->bi", a, np.array([1.0, 2.0, 3.0]))[:, :, None]).ravel()


RNG = np.random.default_rng(7)


def test_stencil_pattern_compressed_and_colors():
    u = RNG.random((9, 9))
    S = check_all(bratu, u)
    assert S.nnz == 5 * 81 - 4 * 9
    assert dd.coloring(S, mode="column").ncolors <= 7
    assert dd.coloring(S, mode="row").ncolors <= 7


@pytest.mark.parametrize("b", [1, 2, 3, 4])
def test_banded_pattern_and_at_most_2b_plus_1_colors(b):
    f = banded(b)
    S = check_all(f, RNG.random(40) + 0.5)
    for order in ("largest_first", "natural", "smallest_last"):
        c = dd.coloring(S, mode="column", order=order)
        assert c.ncolors <= 2 * b + 1
        assert c.is_valid_for(S)


def test_block_diagonal():
    S = check_all(block_diagonal, RNG.random(36) + 0.5)
    assert dd.coloring(S).ncolors == 9


def test_dense_row_over_diagonal_takes_reverse_with_two_row_colors():
    x = RNG.random(25) + 0.5
    S = check_all(dense_row_over_diagonal, x)
    assert dd.coloring(S, mode="row").ncolors <= 2
    assert dd.coloring(S, mode="column").ncolors == 25
    choice, _ = choose_sparse(dense_row_over_diagonal, x)
    assert choice.mode == "reverse"
    assert "row 0 has 25 nonzeros" in choice.reason


def test_arrowhead_is_right_in_every_mode_and_the_reason_says_why():
    x = RNG.random(20) + 0.5
    S = check_all(arrowhead, x)
    assert dd.coloring(S, mode="column").ncolors == 20
    assert dd.coloring(S, mode="row").ncolors == 20
    choice, _ = choose_sparse(arrowhead, x)
    assert "dense row and a dense column" in choice.reason
    assert "row 0 has 20 nonzeros" in choice.reason and "column 0 has 20" in choice.reason
    report = dd.compare(arrowhead, x, sparsity="auto", timing=False, memory=False)
    assert [r["colors"] for r in report.sparse] == [20, 20]
    assert all(r["max_rel_diff"] == 0 for r in report.sparse)
    assert "sparse auto" in report.to_text()


# --------------------------------------------------------------------------
# random sparse programs
# --------------------------------------------------------------------------


def random_program(seed):
    """A random composition of structural and elementwise steps on 1-D arrays (no cancellation)."""
    rng = np.random.default_rng(seed)
    steps = []
    for _ in range(rng.integers(4, 9)):
        kind = rng.choice(["unary", "binary", "slice", "pairsum", "concat", "matmul", "cumsum", "where", "take"])
        steps.append((kind, rng.integers(0, 2**31)))

    def f(x):
        pool = [x]
        for kind, s in steps:
            r = np.random.default_rng(s)
            a = pool[r.integers(len(pool))]
            n = a.shape[0]
            if kind == "unary":
                out = [np.sin, np.tanh, lambda v: np.exp(-v), lambda v: v * v][r.integers(4)](a)
            elif kind == "binary":
                b = pool[r.integers(len(pool))]
                k = min(n, b.shape[0])
                out = a[:k] * b[-k:] if r.random() < 0.5 else a[:k] + 2.0 * b[:k]
            elif kind == "slice":
                lo = int(r.integers(0, max(n - 1, 1)))
                out = a[lo:][:: int(r.integers(1, 3))] if r.random() < 0.5 else a[::-1]
            elif kind == "pairsum":
                k = n // 2
                out = a[: 2 * k].reshape(k, 2).sum(axis=1) if k else a
            elif kind == "concat":
                b = pool[r.integers(len(pool))]
                out = np.concatenate([a, np.ones(2), b])
            elif kind == "matmul":
                m = int(r.integers(2, 8))
                A = (r.random((m, n)) < 0.25) * (0.5 + r.random((m, n)))
                out = A @ a
            elif kind == "cumsum":
                out = np.cumsum(a[: min(n, 6)])
            elif kind == "where":
                mask = r.random(n) < 0.5
                out = np.where(mask, a, 3.0 * a[::-1])
            else:
                idx = r.integers(0, n, size=int(r.integers(1, 6)))
                out = a[idx] * 1.5
            pool.append(out)
        return np.concatenate([pool[-1], pool[-2] if len(pool) > 1 else pool[-1]])

    return f


@pytest.mark.parametrize("seed", range(30))
def test_random_programs(seed):
    f = random_program(seed)
    x = np.random.default_rng(seed).random(12) + 0.5
    check_all(f, x)


# --------------------------------------------------------------------------
# rules one by one: exact where the structure is, never a miss where it is generic
# --------------------------------------------------------------------------

X6 = np.random.default_rng(3).random(6) + 0.5

EXACT = {
    "reshape-sum": lambda x: np.sum(x.reshape(2, 3) ** 2, axis=0),
    "cumsum": lambda x: np.cumsum(np.sin(x)),
    "matmul-vars": lambda x: x.reshape(2, 3) @ x.reshape(3, 2),
    "matmul-const": lambda x: np.triu(np.ones((6, 6))) @ x,
    "tensordot": lambda x: np.tensordot(x.reshape(2, 3), np.arange(6.0).reshape(3, 2), 1),
    "einsum": lambda x: np.einsum("ij,j->i", x.reshape(2, 3), x[:3]),
    "transpose": lambda x: x.reshape(2, 3).T * 2,
    "trace": lambda x: np.trace(x[:4].reshape(2, 2)) * x,
    "broadcast": lambda x: x[:2, None] * x[None, 2:],
    "mask-const-zero": lambda x: x * np.array([1.0, 0.0, 2.0, 0.0, 1.0, 1.0]),
    "floor": lambda x: np.floor(x) + x[0],
    "norm": lambda x: np.linalg.norm(x[:3]) * x,
    "prod": lambda x: np.prod(x.reshape(3, 2), axis=0),
    "inv": lambda x: np.linalg.inv(x[:4].reshape(2, 2) + 3 * np.eye(2)),
    "solve": lambda x: np.linalg.solve(x[:4].reshape(2, 2) + 3 * np.eye(2), x[4:]),
    "det": lambda x: np.linalg.det(x[:4].reshape(2, 2)) * x[4:],
    "diagonal": lambda x: np.diagonal(x[:4].reshape(2, 2)) + x[4:],
    "stack-mean": lambda x: np.stack([x, 2 * x]).mean(axis=0) + x[0],
    "where-const": lambda x: np.where(np.arange(6) % 2 == 0, x, x[::-1] ** 2),
    "take": lambda x: x[np.array([0, 0, 5])] * x[1],
}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_rule_structures_are_exact(name):
    check_all(EXACT[name], X6)


SUPERSET = {
    # depends on x through its branch or its maximum: the pattern holds every element that can be chosen
    "where-traced": lambda x: np.where(x > 1.0, x, 0.0),
    "max": lambda x: np.max(x.reshape(2, 3), axis=1),
    # the inverse of a constant diagonal matrix is diagonal; its generic structure is dense
    "solve-const": lambda x: np.linalg.solve(np.eye(3) * 2.0, x.reshape(3, 2)),
}


@pytest.mark.parametrize("name", sorted(SUPERSET))
def test_generic_structures_never_miss(name):
    check_all(SUPERSET[name], X6, exact_pattern=False)


def test_tuples_in_and_out_flatten_leaf_after_leaf():
    def f(xs):
        a, b = xs
        return a * b[0], np.sin(b[1:]) * a

    x = (2.0, np.array([1.0, 2.0, 3.0]))
    S = dd.jacobian_sparsity(f, x)
    assert S.toarray().astype(int).tolist() == [[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1]]
    J = dd.jacfwd(f, sparsity=S)(x)
    expected = np.array([[1.0, 2.0, 0, 0], [np.sin(2.0), 0, 2 * np.cos(2.0), 0], [np.sin(3.0), 0, 0, 2 * np.cos(3.0)]])
    np.testing.assert_allclose(J.toarray(), expected, rtol=1e-15)
    assert np.array_equal(dd.jacrev(f, sparsity=S)(x).toarray(), J.toarray())


def test_complex_and_float32_keep_their_dtype():
    z = np.array([1.0 + 2.0j, 3.0 - 1.0j, 0.5j])
    J = dd.jacfwd(lambda v: v[1:] * v[:-1], sparsity="auto")(z)
    assert J.dtype == complex
    assert np.array_equal(J.toarray(), dense_jacobian_2d(lambda v: v[1:] * v[:-1], z))
    x = np.ones(4, dtype=np.float32)
    assert dd.jacfwd(lambda v: v * v, sparsity="auto")(x).dtype == np.float32


def test_a_pattern_that_visibly_misses_a_nonzero_raises():
    f = banded(1)
    x = RNG.random(10)
    S = dd.jacobian_sparsity(f, x).tolil()
    S[3, 4] = False
    with pytest.raises(ValueError, match="misses nonzeros"):
        dd.jacfwd(f, sparsity=S.tocsr())(x)
    S[3, :] = False
    with pytest.raises(ValueError, match="misses nonzeros"):
        dd.jacrev(f, sparsity=S.tocsr())(x)


def test_pattern_shape_is_checked():
    with pytest.raises(ValueError, match="columns"):
        dd.jacfwd(np.sin, sparsity=np.eye(3, dtype=bool))(np.ones(4))
    with pytest.raises(ValueError, match="sparsity must be"):
        dd.jacfwd(np.sin, sparsity="yes")(np.ones(4))


def test_auto_detects_again_when_a_guard_goes_the_other_way():
    def f(x):
        if x[0] > 0:
            return x * x[0]
        return x[::-1] * 2.0

    jac = dd.jacfwd(f, sparsity="auto")
    a, b = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 2.0, 3.0])
    assert np.array_equal(jac(a).toarray(), dense_jacobian_2d(f, a))
    assert np.array_equal(jac(b).toarray(), dense_jacobian_2d(f, b))


def test_unknown_general_rule_is_widened_with_a_note(monkeypatch):
    from dualdiff.program import sparsity as sparsity_module
    from dualdiff.rules.arrays import TENSORDOT

    monkeypatch.delitem(sparsity_module._STRUCTURES, TENSORDOT)
    f = EXACT["tensordot"]
    with pytest.warns(SparsityWarning, match="tensordot"):
        result = dd.jacobian_sparsity(f, X6, explain=True)
    assert result.notes and "dense coupling" in result.notes[0]
    assert result.pattern.toarray().all()
    assert "note:" in str(result)


def test_coloring_is_valid_on_random_patterns():
    rng = np.random.default_rng(11)
    for trial in range(20):
        m, n = rng.integers(1, 40, size=2)
        S = sp.csr_array(rng.random((m, n)) < rng.random() * 0.3)  # (random_array's rng= needs SciPy 1.15)
        for mode in ("column", "row"):
            for order in ("largest_first", "natural", "smallest_last"):
                c = dd.coloring(S, mode=mode, order=order)
                assert c.is_valid_for(S)
                assert sorted(np.concatenate(c.groups()).tolist()) == list(range(n if mode == "column" else m))
                lines = S if mode == "column" else S.T.tocsr()
                assert c.ncolors >= (np.diff(sp.csr_array(lines).indptr).max(initial=0) if c.size else 0)


def test_coloring_arguments_are_checked():
    with pytest.raises(ValueError, match="mode"):
        dd.coloring(np.eye(2), mode="columns")
    with pytest.raises(ValueError, match="order"):
        dd.coloring(np.eye(2), order="random")
    with pytest.raises(ValueError, match="2-D"):
        dd.coloring(np.ones(3))


def test_missing_scipy_names_the_extra(monkeypatch):
    import importlib

    from dualdiff import errors

    real = importlib.import_module

    def fake(name, *args):
        if name.startswith("scipy"):
            raise ImportError("No module named 'scipy'")
        return real(name, *args)

    monkeypatch.setattr(errors.importlib, "import_module", fake)
    with pytest.raises(ImportError, match=r"pip install 'dualdiff-ad\[sparse\]'"):
        dd.jacobian_sparsity(np.sin, np.ones(3))
