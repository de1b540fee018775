"""Diagonal tangents in compiled forward Jacobians: the same numbers as eager mode, bit for bit, for less work.

While f is elementwise in x, the identity's columns stay diagonal; the
compiled forward Jacobian keeps them as one vector and meets the first
matrix product with a scaling (:mod:`dualdiff.program.diagonal`). These
tests hold it to eager ``jacfwd`` exactly (NaN where eager puts NaN), on
random elementwise chains followed by every kind of step, and check that
the cheap form is what actually runs.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import complex_points, real_points
from test_rules import ELEMENTWISE, HOLOMORPHIC, public, reference

import dualdiff as dd
import dualdiff.transforms.compiled as compiled_module
from dualdiff.program.diagonal import diag_dense, scale_columns, scale_rows_transposed
from dualdiff.program.signals import Fallback

RNG = np.random.default_rng(7)
W = RNG.normal(size=(4, 5))
C = RNG.normal(size=(5, 3))


@pytest.fixture(autouse=True, scope="module")
def _diagonal_from_two_directions():
    """Diagonal tangents from 2 directions on (by default from 64: below, BLAS's small products are faster)."""
    saved = compiled_module.DIAGONAL_MIN_DIRECTIONS
    compiled_module.DIAGONAL_MIN_DIRECTIONS = 2
    yield
    compiled_module.DIAGONAL_MIN_DIRECTIONS = saved


@pytest.fixture
def strict(monkeypatch):
    """No quiet answer from eager mode: the compiled code itself must run (where nothing is non-finite)."""
    monkeypatch.setattr(compiled_module, "RAISE_ON_FALLBACK", True)


def same(a, b):
    assert np.shape(a) == np.shape(b)
    assert np.array_equal(np.asarray(a, dtype=complex), np.asarray(b, dtype=complex), equal_nan=True), (a, b)


def diagonal_source(f, x):
    """The generated diagonal code the forward Jacobian of ``f`` at ``x`` ran."""
    cf = dd.compile(f)
    J = cf.jacobian(x, mode="forward")
    entry = cf._entry(x)
    sources = [g.source for key, g in entry.generated.items() if key[-1] is True]
    assert len(sources) == 1, "the forward Jacobian did not generate diagonal code"
    return J, sources[0]


def test_a_matrix_meets_diagonal_tangents_as_a_scaling(strict):
    def f(x):
        return np.tanh(W @ np.sin(x))

    x = np.linspace(-1.0, 1.0, 5)
    J, source = diagonal_source(f, x)
    same(J, dd.jacfwd(f)(x))
    assert "v_1_diag = np.cos(v_0)" in source
    assert "scale_columns(" in source
    assert "np.matmul(c_2, v_1_dot" not in source and "matmul_jvp" not in source  # no n x n product


def test_a_vector_times_a_matrix_and_an_elementwise_output(strict):
    x = np.linspace(0.2, 1.1, 5)
    for f in (lambda x: np.exp(x) @ C, lambda x: np.sin(x) * x + 2.0, lambda x: -x, lambda x: x):
        J, source = diagonal_source(f, x)
        same(J, dd.jacfwd(f)(x))


def test_non_finite_partials_give_eager_modes_nans():
    # sqrt at 0: an infinite partial; the dense code's inf * 0 puts NaN off the diagonal, and so must this
    # (where the dense code meets inf * 0 inside a product, the compiled call answers in eager mode)
    x = np.array([0.0, 1.0, 4.0, 0.0, 9.0])
    for f in (lambda x: W @ np.sqrt(x), lambda x: np.sqrt(x) * 3.0, lambda x: np.sum(np.sqrt(x) ** 2)):
        same(dd.compile(f).jacobian(x, mode="forward"), dd.jacfwd(f)(x))
    # a finite chain whose product overflows, and a NaN in the matrix
    big = np.array([700.0, 1.0, 2.0, 3.0, 4.0])
    f = lambda x: W @ np.exp(x * 2.0)  # noqa: E731
    same(dd.compile(f).jacobian(big, mode="forward"), dd.jacfwd(f)(big))
    Wn = W.copy()
    Wn[1, 2] = np.nan
    g = lambda x: Wn @ np.sin(x)  # noqa: E731
    same(dd.compile(g).jacobian(x, mode="forward"), dd.jacfwd(g)(x))


def test_complex_and_two_dimensional_inputs(strict):
    z = np.array([0.5 + 0.2j, -0.3 + 1j, 1.0 - 0.5j])
    f = lambda z: np.sin(z) * z  # noqa: E731
    same(dd.compile(f).jacobian(z, mode="forward"), dd.jacfwd(f)(z))
    X = RNG.normal(size=(2, 3))
    g = lambda X: np.sum(np.tanh(X) ** 2, axis=0) + X[0] * X[1]  # noqa: E731
    same(dd.compile(g).jacobian(X, mode="forward"), dd.jacfwd(g)(X))


UNARY = {
    "sin": np.sin,
    "exp": np.exp,
    "tanh": np.tanh,
    "square": np.square,
    "neg": np.negative,
    "log1p_abs": lambda v: np.log1p(np.abs(v)),
    "scale": lambda v: 0.5 * v,
    "shift": lambda v: v - 1.5,
    "self_product": lambda v: v * v,
    "sqrt_abs": lambda v: np.sqrt(np.abs(v)),
}
TAILS = {
    "matmul": lambda v, x: W @ v,
    "vecmat": lambda v, x: v @ C,
    "sum": lambda v, x: np.sum(v),
    "index": lambda v, x: v[1:4] * v[0],
    "mixed": lambda v, x: v * np.sin(W.T @ (W @ x)),
    "outer": lambda v, x: np.outer(v, x[:2]),
    "none": lambda v, x: v,
}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(sorted(UNARY)), min_size=0, max_size=5),
    st.sampled_from(sorted(TAILS)),
    st.lists(st.floats(-3, 3, allow_nan=False).map(lambda v: round(v, 1)), min_size=5, max_size=5),
)
def test_random_elementwise_chains_equal_eager(chain, tail, point):
    def f(x):
        v = x
        for name in chain:
            v = UNARY[name](v)
        return TAILS[tail](v, x)

    x = np.array(point)
    with np.errstate(all="ignore"):
        same(dd.compile(f).jacobian(x, mode="forward"), dd.jacfwd(f)(x))


def _rule_through_diagonal(name, points, data):
    """The rule on an array of three points near a drawn one, alone and under a matrix product."""
    p = data.draw(points(reference(name)), label="point")[0]
    x = np.array([p, p * 0.999, p * 1.001])
    fn = public(name)
    if reference(name).nin == 1:
        f = lambda x: fn(x)  # noqa: E731
    else:  # both arguments from x, so that both partials meet in one diagonal
        f = lambda x: fn(x, x * 0.5 + 0.25)  # noqa: E731
    with np.errstate(all="ignore"):
        for g in (f, lambda x: W[:, :3] @ f(x)):
            same(dd.compile(g).jacobian(x, mode="forward"), dd.jacfwd(g)(x))


@pytest.mark.parametrize("name", ELEMENTWISE)
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_every_rule_through_diagonal_tangents(name, data):
    _rule_through_diagonal(name, real_points, data)


@pytest.mark.parametrize("name", HOLOMORPHIC)
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_every_holomorphic_rule_through_diagonal_tangents_complex(name, data):
    _rule_through_diagonal(name, complex_points, data)


def test_helpers():
    seeds = np.eye(3)
    same(diag_dense(np.array([1.0, 2.0, 3.0]), seeds), np.diag([1.0, 2.0, 3.0]))
    same(diag_dense(2.0, seeds), 2.0 * seeds)
    d = np.array([1.0, -2.0, 0.5, 3.0, 0.0])
    same(scale_columns(W, d), W @ np.diag(d))
    same(scale_rows_transposed(d, C), (np.diag(d) @ C).T)
    for bad in (np.array([1.0, np.inf, 0.0, 1.0, 1.0]), np.array([np.nan, 1.0, 1.0, 1.0, 1.0])):
        with pytest.raises(Fallback):
            scale_columns(W, bad)
        with pytest.raises(Fallback):
            diag_dense(bad, np.eye(5))
