"""Issue 10: one regression test per numbered case (wrong numbers, crashes, the command line).

Each test failed on the code before the fix (commit 6775a44) and names its
case. Expected values are worked out by hand, or exactly with mpmath, never
read from dualdiff itself.
"""

import itertools
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dualdiff as dd
from dualdiff.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_module(*argv, timeout=60):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "dualdiff", *argv], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout
    )


def one_line_error(err):
    return err.count("\n") == 1 and "Traceback" not in err and "error" in err


# --------------------------------------------------------------------------
# 1. nested forward mode through broadcasting
# --------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [3, 5, 2])
def test_case1_nested_forward_mode_through_broadcasting(rows):
    # f(mu) = sum_ij (data_ij - mu_j)^3: H = diag(6 sum_i (data_ij - mu_j)), d3f/dmu_j^3 = -6 rows
    data = np.arange(3.0 * rows).reshape(rows, 3) / 10
    mu = np.array([0.1, 0.2, 0.3])

    def f(mu):
        return np.sum((data - mu) ** 3)

    hess = np.diag(6 * np.sum(data - mu, axis=0))
    third = np.zeros((3, 3, 3))
    for j in range(3):
        third[j, j, j] = -6.0 * rows
    for chunk in (None, 1, 2, 3):
        assert np.allclose(dd.jacfwd(dd.jacfwd(f, chunk=chunk), chunk=chunk)(mu), hess, rtol=1e-13, atol=1e-13)
        assert np.allclose(dd.jacrev(dd.jacfwd(f, chunk=chunk), chunk=chunk)(mu), hess, rtol=1e-13, atol=1e-13)
        assert np.allclose(dd.jacfwd(dd.hessian(f, chunk=chunk), chunk=chunk)(mu), third, rtol=1e-13, atol=1e-12)
    v = np.array([1.0, -2.0, 0.5])
    assert np.allclose(dd.jvp(dd.jacfwd(f), mu, v)[1], hess @ v, rtol=1e-13, atol=1e-13)
    assert np.allclose(dd.hessian(f)(mu), hess, rtol=1e-13, atol=1e-13)


# --------------------------------------------------------------------------
# 2. the nested-level namespace has array semantics
# --------------------------------------------------------------------------


def test_case2_nested_namespace_helpers_work_elementwise():
    b = np.array([0.0, 1.0])
    x = np.array([0.0, 2.0])
    # hypot(x, 0) is |x|: zero second derivative at 0 (the policy); hypot(x, 1)'' = (x^2 + 1)^(-3/2)
    h = dd.hessian(lambda x: np.sum(np.hypot(x, b)))(x)
    assert h == pytest.approx(np.array([[0.0, 0.0], [0.0, 5.0**-1.5]]), rel=1e-15, abs=1e-300)
    # arctan2(x, 1)'' = -2x / (1 + x^2)^2
    h = dd.hessian(lambda x: np.sum(np.arctan2(x, b)))(x)
    assert h[1, 1] == pytest.approx(-4 / 25, rel=1e-15)
    assert h[0, 1] == h[1, 0] == 0.0
    # (2^x)'' = 2^x ln(2)^2: xlogy decides elementwise
    x = np.array([0.5, 1.0])
    h = dd.hessian(lambda x: np.sum(2.0**x))(x)
    want = [float(mpmath.mpf(2) ** mpmath.mpf(v) * mpmath.log(2) ** 2) for v in x]
    assert np.diag(h) == pytest.approx(want, rel=1e-15)
    assert h[0, 1] == 0.0


# --------------------------------------------------------------------------
# 3. reverse mode through a tuple index keeps duplicates
# --------------------------------------------------------------------------


def test_case3_tuple_index_accumulates_duplicates():
    A = np.arange(9.0).reshape(3, 3)
    g = dd.grad(lambda A: np.sum(A[(0, 1, 1), (2, 0, 0)] ** 2))(A)
    want = np.zeros((3, 3))
    want[0, 2] = 2 * A[0, 2]
    want[1, 0] = 2 * 2 * A[1, 0]  # picked twice
    assert np.array_equal(g, want)
    assert np.array_equal(dd.grad(lambda x: np.sum(x[(0, 0),] ** 2))(np.array([1.0, 2.0])), [4.0, 0.0])
    assert np.array_equal(dd.jacfwd(lambda x: x[(0, 0),])(np.array([1.0, 2.0])), [[1.0, 0.0], [1.0, 0.0]])
    # large arrays scatter into the adjoint in place: the same rule must hold there
    B = np.ones((200, 100))  # 20,000 elements

    def f(B):
        return np.sum(B[(0, 1, 1), (2, 0, 0)] ** 2) + np.sum(B * B)

    g = dd.grad(f)(B)
    want = 2 * B
    want[0, 2] += 2.0
    want[1, 0] += 4.0
    assert np.array_equal(g, want)


# --------------------------------------------------------------------------
# 4. np.full_like / np.full keep the fill value's derivative
# --------------------------------------------------------------------------


def test_case4_full_like_fill_value_carries_its_derivative():
    x = np.array([1.0, 2.0])
    assert np.array_equal(dd.grad(lambda x: np.sum(np.full_like(x, x[0])))(x), [2.0, 0.0])
    assert np.array_equal(dd.jacfwd(lambda x: np.full_like(x, x[0] * x[1]))(x), [[2.0, 1.0], [2.0, 1.0]])
    assert np.array_equal(dd.jacrev(lambda x: np.full_like(x, x[1], shape=(3,)))(x), [[0.0, 1.0]] * 3)
    # f = x0^3 (x0 + x1): H = [[12 x0^2 + 6 x0 x1, 3 x0^2], [3 x0^2, 0]]
    h = dd.hessian(lambda x: np.sum(np.full_like(x, x[0]) ** 3 * x))(x)
    assert np.array_equal(h, [[24.0, 3.0], [3.0, 0.0]])
    # np.full builds an object array of the lifted fill value: it works elementwise
    assert np.array_equal(dd.jacrev(lambda x: np.full((2,), x[1]) * x)(x), [[2.0, 1.0], [0.0, 4.0]])
    # a float array cannot hold a derivative: refused, never dropped
    with pytest.raises(TypeError, match="drop"):
        dd.grad(lambda x: np.sum(np.full_like(np.zeros(2), x[0])))(x)


# --------------------------------------------------------------------------
# 5. trace reverse tables of f returning np.array([...]) of scalars
# --------------------------------------------------------------------------


def _adjoints(table):
    return {row["variable"]: row["adjoint"] for row in table.rows}


def test_case5_trace_reverse_table_of_an_array_of_scalars():
    def f(x):
        return np.array([x[0] * x[1], x[0] + x[1]])

    tr = dd.trace(f, (2.0, 3.0), names=("x1", "x2"))
    adj = _adjoints(tr.reverse_table(np.array([1.0, 10.0])))
    # x1bar = x2 * 1 + 10, x2bar = x1 * 1 + 10
    assert adj["v_{-1}"] == 13.0 and adj["v_0"] == 12.0
    assert adj["y_1"] == 1.0 and adj["y_2"] == 10.0
    tr = dd.trace(f, np.array([2.0, 3.0]))
    adj = _adjoints(tr.reverse_table(np.array([1.0, 10.0])))
    assert np.array_equal(adj["v_0"], [13.0, 12.0])


# --------------------------------------------------------------------------
# 6. the command line reads names as Python does (NFKC)
# --------------------------------------------------------------------------


def test_case6_cli_names_are_nfkc_normalized(capsys):
    code, out, err = run_cli(capsys, "table", "𝑒*x", "--at", "𝑒=5", "x=1", "--format", "csv", "--forward")
    assert code == 0, err
    y_row = [line for line in out.splitlines() if line.startswith("y,")][0]
    assert y_row.split(",")[2] == "5.0"  # not e = 2.718...
    code, out, err = run_cli(capsys, "table", "e*x", "--at", "e=5", "x=1", "--wrt", "𝑒", "--format", "csv", "--forward")
    assert code == 0 and "y,v_1,5.0,v̇_1,1.0" in out
    code, _, err = run_cli(capsys, "table", "e*x", "--at", "𝑒=5", "e=3", "x=1")
    assert code == 2 and one_line_error(err) and "twice" in err
    code, _, err = run_cli(capsys, "table", "x", "--at", "𝐬𝐢𝐧=5", "x=1")
    assert code == 2 and one_line_error(err) and "function name" in err


# --------------------------------------------------------------------------
# 7. integral powers at 0 differentiate like polynomials; std of one element
# --------------------------------------------------------------------------


def test_case7_integral_powers_and_statistics_at_zero():
    assert dd.grad(lambda x: np.power(x, 0.0))(0.0) == 0.0
    assert dd.hessian(lambda x: x**1.0)(0.0) == 0.0
    assert dd.derivative(dd.derivative(dd.derivative(lambda x: x**2)))(0.0) == 0.0
    assert dd.derivative(dd.derivative(lambda x: x**2))(0.0) == 2.0
    assert dd.derivative(dd.derivative(dd.derivative(lambda x: x**3)))(0.0) == 6.0
    assert np.array_equal(dd.hessian(lambda x: np.sum(x**1.0))(np.zeros(2)), np.zeros((2, 2)))
    assert np.array_equal(dd.hessian(lambda x: np.sum(x**2))(np.zeros(2)), 2 * np.eye(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(dd.grad(np.std)(np.array([2.0])), [0.0])
        assert np.array_equal(dd.jacfwd(lambda x: np.std(x, axis=1))(np.ones((2, 1))), np.zeros((2, 2, 1)))


# --------------------------------------------------------------------------
# 8. the cotangent of a real input is real
# --------------------------------------------------------------------------

C = 1 + 0.2j
CV = np.array([1 + 0.2j, -0.5 + 2j])
CM = np.array([[1 + 1j, 2.0], [0.5j, -1.0]])


@pytest.mark.parametrize(
    ("name", "f", "x", "y_bar", "jac"),
    [
        # jac: dy/dx, complex; the cotangent is Re(y_bar . jac)
        ("mul", lambda x: x * C, 0.5, 1 + 1j, C),
        ("add", lambda x: x + C, 0.5, 1 + 1j, 1.0),
        ("sub", lambda x: C - x, 0.5, 1 + 1j, -1.0),
        ("dot", lambda x: np.dot(x, CV), np.array([1.0, 2.0]), 1 - 1j, CV),
        ("matmul", lambda x: CM @ x, np.array([1.0, 2.0]), np.array([1j, 1.0]), CM),
        ("outer", lambda x: np.outer(x, CV), np.array([1.0, 2.0]), np.ones((2, 2)) * (1 + 1j), None),
        ("tensordot", lambda x: np.tensordot(CM, x, 1), np.array([1.0, 2.0]), np.array([2.0, 1j]), CM),
        ("einsum", lambda x: np.einsum("ij,j->i", CM, x), np.array([1.0, 2.0]), np.array([1.0, 1 - 1j]), CM),
    ],
)
def test_case8_cotangent_of_a_real_input_is_real(name, f, x, y_bar, jac):
    y, pullback = dd.vjp(f, x)
    g = pullback(y_bar)
    assert not np.iscomplexobj(g), f"{name}: complex cotangent {g!r} for a real input"
    if jac is None:  # outer(x, c): d y_ij / d x_k = delta_ik c_j
        want = np.real(np.sum(y_bar * CV, axis=1))
    else:
        want = np.real(np.tensordot(y_bar, jac, np.ndim(y_bar)))
    assert np.allclose(g, want, rtol=1e-15, atol=1e-15)
    # a complex input keeps the full complex cotangent
    gc = dd.vjp(f, np.asarray(x) + 0j)[1](y_bar)
    assert np.iscomplexobj(gc)
    assert np.allclose(np.real(gc), want, rtol=1e-15, atol=1e-15)


def test_case8_real_cotangents_in_the_issue_and_nested():
    g = dd.vjp(lambda x: x * (1 + 0.2j), 0.5)[1](1 + 1j)
    assert g == 0.8 and isinstance(g, float)
    tape = dd.Tape()
    x = tape.var(0.5)
    (x * C).backward(1 + 1j)
    assert x.grad == 0.8
    # nested: Hessians (forward over reverse) of complex-valued f at real x are Re(f'')
    assert dd.hessian(lambda x: x * x * C)(0.5) == pytest.approx(2.0, abs=0)
    h = dd.hessian(lambda x: np.sum(np.outer(x, x) * CM))(np.array([1.0, 2.0]))
    assert not np.iscomplexobj(h)
    assert np.allclose(h, np.real(CM + CM.T), rtol=1e-15, atol=0)
    assert np.real(dd.grad(lambda x: np.real(x * C) ** 2)(0.5)) == pytest.approx(2 * 0.5)


# --------------------------------------------------------------------------
# 9. det at singular matrices: the adjugate, to every order
# --------------------------------------------------------------------------


def _mp_det_with_rows(A, replaced):
    """det(A) with row i replaced by the unit row e_j, for each (i, j) in ``replaced`` (exact)."""
    M = [[mpmath.mpf(float(v)) for v in row] for row in A]
    for i, j in replaced:
        M[i] = [mpmath.mpf(1 if k == j else 0) for k in range(len(M))]
    # The Leibniz sum, not mpmath.det: mpmath 1.3's LU pivoting fails on exactly singular matrices.
    total = mpmath.mpf(0)
    for perm in itertools.permutations(range(len(M))):
        inversions = sum(perm[a] > perm[b] for a in range(len(perm)) for b in range(a + 1, len(perm)))
        total += (-1) ** inversions * mpmath.fprod(M[r][perm[r]] for r in range(len(M)))
    return total


def _exact_derivatives(A, order):
    """d^order det / dA_(i1 j1) ... dA_(ik jk), exactly: det is linear in each row."""
    n = A.shape[0]
    pairs = list(itertools.product(range(n), range(n)))
    out = np.zeros((n, n) * order)
    for combo in itertools.product(pairs, repeat=order):
        rows = [i for i, _ in combo]
        if len(set(rows)) == order:
            out[tuple(v for p in combo for v in p)] = float(_mp_det_with_rows(A, combo))
    return out


def test_case9_det_derivatives_at_a_singular_matrix():
    S = np.array([[1.0, 2.0], [2.0, 4.0]])
    adj_t = np.array([[4.0, -2.0], [-2.0, 1.0]])
    assert np.allclose(dd.grad(np.linalg.det)(S), adj_t, rtol=1e-14, atol=1e-14)
    assert np.allclose(dd.jacfwd(np.linalg.det)(S), adj_t, rtol=1e-14, atol=1e-14)
    assert np.allclose(dd.jacrev(np.linalg.det)(S), adj_t, rtol=1e-14, atol=1e-14)
    assert np.allclose(dd.hessian(np.linalg.det)(S), _exact_derivatives(S, 2), rtol=0, atol=1e-14)


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.integers(-3, 3), min_size=6, max_size=6),
    st.sampled_from([0, 1, 2]),
    st.sampled_from(["grad", "jacfwd", "hessian", "jacrev_of_jacfwd", "third"]),
)
def test_case9_det_at_rank_deficient_matrices_against_mpmath(entries, rank, how):
    # a 3x3 matrix of the given rank: (rank) outer products of small integer vectors (exactly representable)
    u = np.array(entries[:3], dtype=float)
    v = np.array(entries[3:], dtype=float)
    A = (np.outer(u, v) if rank >= 1 else np.zeros((3, 3))) + (np.outer(v, u[::-1]) if rank == 2 else 0.0)
    det = np.linalg.det
    if how == "grad":
        got, want = dd.grad(det)(A), _exact_derivatives(A, 1)
    elif how == "jacfwd":
        got, want = dd.jacfwd(det)(A), _exact_derivatives(A, 1)
    elif how == "hessian":
        got, want = dd.hessian(det)(A), _exact_derivatives(A, 2)
    elif how == "jacrev_of_jacfwd":
        got, want = dd.jacrev(dd.jacfwd(det))(A), _exact_derivatives(A, 2)
    else:
        got, want = dd.jacfwd(dd.hessian(det))(A), _exact_derivatives(A, 3)
    scale = max(1.0, float(np.max(np.abs(A))) ** 2)
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12 * scale)


def test_case9_det_of_a_batch_with_a_singular_matrix():
    S = np.stack([np.array([[1.0, 2.0], [2.0, 4.0]]), np.array([[2.0, 1.0], [1.0, 3.0]])])
    g = dd.grad(lambda a: np.sum(np.linalg.det(a)))(S)
    assert np.allclose(g, [[[4.0, -2.0], [-2.0, 1.0]], [[3.0, -1.0], [-1.0, 2.0]]], rtol=1e-14, atol=1e-14)


# --------------------------------------------------------------------------
# 10. the command line: never a traceback, a hang or unbounded memory
# --------------------------------------------------------------------------


@pytest.mark.parametrize("expr", ["abs(x)", "maximum(x, 1)", "relu(x)"])
def test_case10_cli_non_holomorphic_at_a_complex_point(capsys, expr):
    code, out, err = run_cli(capsys, "table", expr, "--at", "x=1j")
    assert code == 1 and out == "" and one_line_error(err)
    assert "complex" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "--function", "../x:y"], "--function ../x:y"),
        (["compare", "--n", "10000000"], "at most 10,000"),
        (["compare", "--function", "fanout", "--m", "10000000"], "at most 10,000"),
        (["table", "9**9**9**9*x", "--at", "x=2", "--dps", "30"], "beyond the bound"),
        (["table", "x**9**9**9", "--at", "x=2", "--dps", "30"], "beyond the bound"),
        (["table", "x", "--at", "x=2", "--dps", "3000000"], "--dps must be"),
        (["table", "exp(exp(exp(x)))", "--at", "x=10", "--dps", "20"], "beyond"),
        (["table", "x", "--at", "x=1e999999", "--dps", "20"], "beyond the bounds"),
        (["table", "x" + "*x" * 1500, "--at", "x=1"], "at most 2,000"),
        (["table", "x", "--at", "x=1", "--digits", "100000"], "--digits must be"),
    ],
)
def test_case10_cli_bounds_are_one_line_errors(capsys, argv, message):
    t0 = time.perf_counter()
    code, out, err = run_cli(capsys, *argv)
    assert time.perf_counter() - t0 < 10
    assert code == 2 and out == "" and one_line_error(err), err
    assert message in err


def test_case10_cli_float_mode_huge_powers_are_ieee(capsys):
    for expr in ("9**9**9**9*x", "x**9**9**9"):
        code, out, err = run_cli(capsys, "table", expr, "--at", "x=2", "--format", "csv")
        assert code == 0 and err == "" and "inf" in out


def test_case10_cli_formula_starting_with_minus(capsys):
    code, out, err = run_cli(capsys, "table", "-x*2", "--at", "x=3", "--forward", "--format", "csv", "--no-formulas")
    assert code == 0, err
    assert out.splitlines()[-1] == "y,v_2,-6.0,-2.0"
    code, out, err = run_cli(capsys, "table", "--x", "--at", "x=3", "--reverse", "--format", "csv", "--no-formulas")
    assert code == 0, err  # -(-x)
    assert out.splitlines()[-1] == "v_0,x,3.0,1.0"


def test_case10_cli_help_states_the_bounds(capsys):
    assert main(["table", "--help"]) == 0
    out = capsys.readouterr().out
    for piece in ("2,000", "--dps", "1,000", "2**4096"):
        assert piece in " ".join(out.split())
    assert main(["compare", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "10,000" in out and "1,000,000" in out


def test_case10_cli_closed_pipe():
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8")
    p = subprocess.Popen(
        [sys.executable, "-m", "dualdiff", "table", "x" + "*sin(x)" * 200, "--at", "x=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    p.stdout.read(10)
    p.stdout.close()  # as `| head -c 10` does
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 0
    assert err == ""


# --------------------------------------------------------------------------
# 11. clear errors (or none at all)
# --------------------------------------------------------------------------


def test_case11a_arrays_built_from_lifted_scalars():
    x = np.array([0.5, 2.0])
    g = dd.grad(lambda x: np.sum(np.sin(np.array([x[0], x[1]]))))(x)
    assert np.allclose(g, np.cos(x), rtol=1e-15)
    j = dd.jacfwd(lambda x: np.exp(np.array([x[0], x[1] * x[0]])))(x)
    assert np.allclose(j, [[np.exp(0.5), 0.0], [2.0 * np.exp(1.0), 0.5 * np.exp(1.0)]], rtol=1e-15)
    # meeting a lifted array, the object array becomes one lifted array: nothing is lost
    j = dd.jacrev(lambda x: np.array([x[1], x[0]]) * x)(x)
    assert np.array_equal(j, [[2.0, 0.5], [2.0, 0.5]])
    h = dd.hessian(lambda x: np.sum(np.concatenate([np.array([x[0] * x[1]]), x]) ** 2))(x)
    assert np.allclose(h, [[2 * x[1] ** 2 + 2, 4 * x[0] * x[1]], [4 * x[0] * x[1], 2 * x[0] ** 2 + 2]], rtol=1e-15)
    # np.mean, np.var and np.std of a list of traced scalars work as of a stacked array
    assert dd.grad(lambda x: np.mean([x, x + 2]))(1.0) == 1.0
    assert dd.grad(lambda x: np.var([x, 3 * x]))(1.0) == 2.0
    assert dd.grad(lambda x: np.mean(np.stack([x, x + 2])))(1.0) == 1.0
    assert dd.grad(lambda x: np.std(np.stack([x, 3 * x])))(1.0) == 1.0


def test_case11b_scipy_special_ufuncs():
    special = pytest.importorskip("scipy.special")
    x = 0.3
    assert dd.derivative(special.erf)(x) == pytest.approx(float(2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-(x**2))))
    assert dd.derivative(special.erfc)(x) == pytest.approx(float(-2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-(x**2))))
    s = 1 / (1 + np.exp(-x))
    assert dd.derivative(special.expit)(x) == pytest.approx(s * (1 - s), rel=1e-15)
    s1 = 1 / (1 + np.exp(-1.0))
    assert np.allclose(dd.grad(lambda v: np.sum(special.expit(v)))(np.array([0.0, 1.0])), [0.25, s1 * (1 - s1)])
    with pytest.raises(dd.NoRuleError, match=r"^scipy\.special\.gamma has no derivative rule"):
        dd.derivative(special.gamma)(x)


@pytest.mark.parametrize("fn", [np.sin, np.cos, np.tan])
def test_case11c_trig_at_infinity_one_policy(fn):
    for bad in (np.inf, -np.inf):
        with pytest.raises(dd.DomainError):
            dd.derivative(lambda x: fn(x))(bad)
        with pytest.raises(dd.DomainError):
            dd.grad(lambda x: np.sum(fn(x)))(np.array([bad, 1.0]))
        with pytest.raises(dd.DomainError):
            fn(dd.Dual(np.array([1.0, bad]), np.ones(2)))
    assert np.isnan(dd.derivative(lambda x: fn(x))(np.nan))  # nan propagates quietly


def test_case11d_jacrev_of_a_complex_scalar_output():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        j = dd.jacrev(lambda x: x * (1 + 2j))(1.0)
    assert j == 1 + 2j
    assert j == dd.jacfwd(lambda x: x * (1 + 2j))(1.0)
