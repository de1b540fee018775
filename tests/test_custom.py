"""custom_jvp, custom_vjp and stop_gradient, with JAX's semantics, in every mode and program.

References come from mpmath (30 digits) or from formulas written here. Where
plain differentiation of a function's body gives nan or a wrong value, the
test shows that too: that is what a custom derivative is for.
"""

from __future__ import annotations

import functools
import math

import mpmath
import numpy as np
import pytest

import dualdiff as dd
from dualdiff.errors import NotLinearError

# ==========================================================================
# custom_jvp: a numerically stable derivative
# ==========================================================================


def log1mexp_body(x):
    """log(1 - exp(-x)) for x > 0, computed stably."""
    return dd.log(-dd.expm1(-x))  # dualdiff's functions: floats, arrays and mpmath numbers alike


@dd.custom_jvp
def log1mexp(x):
    return log1mexp_body(x)


@log1mexp.defjvp
def _log1mexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    # d/dx log(1 - e^-x) = e^-x / (1 - e^-x) = 1 / expm1(x): no cancellation for small x
    return log1mexp(x), t / dd.expm1(x)


def log1mexp_reference(x):
    return mpmath.log(1 - mpmath.exp(-x))


def naive_log1mexp(x):
    return np.log(1 - np.exp(-x))


@pytest.mark.parametrize("x", [1e-10, 3e-7, 0.01, 1.0, 30.0])
def test_custom_jvp_agrees_with_mpmath_where_plain_differentiation_does_not(x):
    with mpmath.workdps(30):
        want = mpmath.diff(log1mexp_reference, x)
        want2 = mpmath.diff(log1mexp_reference, x, 2)
    rel = lambda got, w: float(abs(mpmath.mpf(got) - w) / abs(w))  # noqa: E731
    assert rel(dd.derivative(log1mexp)(x), want) < 1e-10
    assert rel(dd.grad(log1mexp)(x), want) < 1e-10
    assert rel(dd.derivative(dd.derivative(log1mexp))(x), want2) < 1e-10  # the rule, differentiated
    assert rel(dd.hessian(lambda v: log1mexp(v[0]))(np.array([x]))[0, 0], want2) < 1e-10
    if x <= 1e-10:  # differentiating the textbook formula loses the digits 1 - exp(-x) cancels
        assert rel(dd.derivative(naive_log1mexp)(x), want) > 1e-8
        assert rel(dd.grad(naive_log1mexp)(x), want) > 1e-8


def test_custom_jvp_where_plain_differentiation_gives_nan():
    @dd.custom_jvp
    def safe_norm(x):
        return np.sqrt(np.sum(x * x))

    @safe_norm.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        y = safe_norm(x)
        return y, np.sum(x * t) / np.where(y == 0, 1.0, y)

    zero = np.zeros(3)
    with np.errstate(all="ignore"):
        assert np.all(np.isnan(dd.grad(lambda x: np.sqrt(np.sum(x * x)))(zero)))
    np.testing.assert_array_equal(dd.grad(safe_norm)(zero), zero)
    np.testing.assert_array_equal(dd.jacfwd(safe_norm)(zero), zero)
    x = np.array([1.0, -2.0, 2.0])
    np.testing.assert_allclose(dd.grad(safe_norm)(x), x / 3, rtol=1e-15)
    H = dd.hessian(safe_norm)(x)
    np.testing.assert_allclose(H, (np.eye(3) - np.outer(x, x) / 9) / 3, rtol=1e-14, atol=1e-16)
    dd.check_grads(safe_norm, x, order=2)


def test_custom_jvp_at_50_digits():
    with mpmath.workdps(50):
        x = mpmath.mpf(1) / 3
        got = dd.derivative(log1mexp)(x)
        assert isinstance(got, mpmath.mpf)
        assert abs(got - mpmath.diff(log1mexp_reference, x)) < mpmath.mpf("1e-45")


def test_siskind_pearlmutter_with_a_custom_jvp_function():
    @dd.custom_jvp
    def plus(x, y):
        return x + y

    @plus.defjvp
    def _(primals, tangents):
        return plus(*primals), tangents[0] + tangents[1]

    # d/dx [x * d/dy (x + y)] at x = 1 is 1; perturbation confusion would give 2
    assert dd.derivative(lambda x: x * dd.derivative(lambda y: plus(x, y))(1.0))(1.0) == 1.0
    assert dd.grad(lambda x: x * dd.grad(lambda y: plus(x, y))(1.0))(1.0) == 1.0
    assert dd.derivative(lambda x: x * dd.grad(lambda y: plus(x, y))(1.0))(1.0) == 1.0


def test_custom_jvp_on_tuples_several_outputs_and_static_arguments():
    @functools.partial(dd.custom_jvp, nondiff_argnums=(0,))
    def scaled_polar(scale, xy):
        x, y = xy
        return scale * np.hypot(x, y), (np.arctan2(y, x), np.array([x * y, x - y]))

    @scaled_polar.defjvp
    def _(scale, primals, tangents):
        ((x, y),), ((tx, ty),) = primals, tangents
        r = np.hypot(x, y)
        return scaled_polar(scale, (x, y)), (
            scale * (x * tx + y * ty) / r,
            ((x * ty - y * tx) / (r * r), np.stack([y * tx + x * ty, tx - ty])),
        )

    def f(p):
        r, (theta, v) = scaled_polar(2.0, (p[0], p[1]))
        return r * theta + np.sum(v * v)

    p = (0.6, -0.8)
    dd.check_grads(f, p, order=2)
    x, y = p
    r = math.hypot(x, y)
    want = (
        2 * x / r * math.atan2(y, x) - 2 * r * y / r**2 + 2 * x * y * y + 2 * (x - y),
        2 * y / r * math.atan2(y, x) + 2 * r * x / r**2 + 2 * x * x * y - 2 * (x - y),
    )
    np.testing.assert_allclose(dd.grad(f)(p), want, rtol=1e-14)
    np.testing.assert_allclose(dd.jacfwd(f)(p), want, rtol=1e-14)
    prog = dd.wengert(f, p)
    assert sum(eq.rule is scaled_polar.rule for eq in prog.equations) == 1  # ONE equation
    assert prog((0.3, 0.4)) == pytest.approx(f((0.3, 0.4)), rel=1e-15)


def test_custom_jvp_arrays_batched_directions():
    @dd.custom_jvp
    def softmax(x):
        e = np.exp(x - np.max(x))
        return e / np.sum(e)

    @softmax.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        s = softmax(x)
        return s, s * (t - np.sum(s * t))

    x = np.array([0.3, -1.0, 2.0, 0.5])
    s = softmax(x)
    J = np.diag(s) - np.outer(s, s)
    np.testing.assert_allclose(dd.jacfwd(softmax)(x), J, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(dd.jacrev(softmax)(x), J, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(dd.jacfwd(softmax, chunk=3)(x), J, rtol=1e-14, atol=1e-16)
    dd.check_grads(lambda v: softmax(v * v), x, order=2)


def test_custom_jvp_in_programs_traces_and_compare():
    tr = dd.trace(lambda x: log1mexp(x) * x, 0.5)
    assert tr.steps[1].operation == "log1mexp(v_0)"
    fwd = {r["variable"]: r for r in tr.forward_table().rows}
    assert fwd["v_1"]["tangent"] == pytest.approx(1 / math.expm1(0.5), rel=1e-15)
    assert fwd["v_1"]["tangent_formula"] == "∂v_1/∂v_0 · v̇_0"
    rev = {r["variable"]: r for r in tr.reverse_table().rows}
    assert rev["v_0"]["adjoint"] == pytest.approx(0.5 / math.expm1(0.5) + math.log(-math.expm1(-0.5)), rel=1e-15)
    prog = dd.wengert(log1mexp, 0.5)
    assert [eq.rule.name for eq in prog.equations] == ["log1mexp"]
    assert dd.jvp(prog, 2.0, 1.0)[1] == pytest.approx(1 / math.expm1(2.0), rel=1e-15)
    r = dd.compare(lambda x: np.sum(log1mexp(x)), np.array([0.5, 1.5]), timing=False, memory=False)
    assert r.estimated == ["log1mexp"] and r.max_rel_diff < 1e-14
    assert {p.name for p in r.primitives} == {"log1mexp", "sum"}


def test_reverse_mode_needs_a_linear_jvp_rule():
    @dd.custom_jvp
    def f(x):
        return x * x

    @f.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), 2 * x * t + 0.0 * t * t  # a tangent squared: not linear

    assert dd.derivative(f)(3.0) == 6.0
    with pytest.raises(NotLinearError, match=r"custom_jvp function f transposes its JVP rule.*mul of two tangents"):
        dd.grad(f)(3.0)
    with pytest.raises(NotLinearError, match="dd.custom_vjp"):
        dd.grad(f)(3.0)

    @dd.custom_jvp
    def g(x):
        return x

    @g.defjvp
    def _(primals, tangents):
        return g(primals[0]), float(tangents[0]) if not isinstance(tangents[0], float) else tangents[0]

    with pytest.raises(NotLinearError, match="could not be recorded"):
        dd.grad(g)(1.0)


def test_custom_jvp_errors():
    @dd.custom_jvp
    def f(x):
        return 2 * x

    assert f(3.0) == 6.0  # plain calls need no rule
    with pytest.raises(TypeError, match="has no JVP rule: define one with f.defjvp"):
        dd.derivative(f)(1.0)
    f.defjvp(lambda p, t: (f(*p), (t[0], t[0])))
    with pytest.raises(TypeError, match="returned a tuple of tangents for a single output"):
        dd.derivative(f)(1.0)
    f.defjvp(lambda p, t: (f(*p), np.ones(3)))
    with pytest.raises(ValueError, match=r"tangent of shape \(3,\) for an output of shape \(2,\)"):
        dd.jvp(f, np.ones(2), np.ones(2))

    outer = dd.Dual(2.0, 1.0)

    @dd.custom_jvp
    def closes_over(x):
        return x * outer

    closes_over.defjvp(lambda p, t: (closes_over(*p), t[0]))
    with pytest.raises(TypeError, match="closure"):
        dd.derivative(closes_over)(1.0)
    with pytest.raises(TypeError, match="nondiff_argnums"):
        dd.derivative(lambda x: log1mexp(x, "mode"))(1.0) if False else dd.derivative(
            lambda x: dd.custom_jvp(lambda a, s: a)(x, "mode")
        )(1.0)


# ==========================================================================
# custom_vjp: implicit differentiation of a root finder
# ==========================================================================


def F(z, theta):
    return z**3 + theta * z - 1.0


def implicit_root():
    """z(theta) with F(z, theta) = 0 by scipy's brentq, differentiated implicitly."""
    brentq = pytest.importorskip("scipy.optimize").brentq

    @dd.custom_vjp
    def root(theta):
        return brentq(lambda z: F(z, theta), 0.0, 1.0, xtol=1e-300, rtol=1e-15)

    def fwd(theta):
        z = root(theta)  # on lifted theta (second derivatives) this is the custom function again
        return z, (z, theta)

    def bwd(res, g):
        z, theta = res
        return (-g * z / (3 * z * z + theta),)  # dz/dtheta = -F_theta / F_z

    root.defvjp(fwd, bwd)
    return root


def bisection_root(theta):
    """The same root by bisection, written with operations dualdiff differentiates."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if F(mid, theta) > 0:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def root_reference(theta):
    return mpmath.findroot(lambda z: z**3 + theta * z - 1, 0.7)


@pytest.mark.parametrize("theta", [0.1, 0.7, 3.0])
def test_custom_vjp_on_brentq_agrees_with_mpmath(theta):
    root = implicit_root()
    with mpmath.workdps(30):
        want = mpmath.diff(root_reference, theta)
        want2 = mpmath.diff(root_reference, theta, 2)
    rel = lambda got, w: float(abs(mpmath.mpf(got) - w) / abs(w))  # noqa: E731
    assert rel(dd.grad(root)(theta), want) < 1e-10
    assert rel(dd.derivative(root)(theta), want) < 1e-10  # forward mode, from bwd
    assert rel(dd.jacrev(lambda t: root(t[0]) * np.ones(2))(np.array([theta]))[0, 0], want) < 1e-10
    assert rel(dd.grad(dd.grad(root))(theta), want2) < 1e-10
    assert rel(dd.derivative(dd.grad(root))(theta), want2) < 1e-10
    # plain differentiation of a root finder: brentq refuses lifted values; bisection gives 0
    brentq = pytest.importorskip("scipy.optimize").brentq
    with pytest.raises((TypeError, SystemError)):  # SciPy's C code meets dualdiff's refusal of float()
        dd.grad(lambda t: brentq(lambda z: F(z, t), 0.0, 1.0))(theta)
    assert dd.grad(bisection_root)(theta) == 0.0
    assert abs(bisection_root(theta) - root(theta)) < 1e-15


def test_custom_vjp_runs_fwd_once_in_reverse_mode_and_is_one_equation():
    calls = {"body": 0, "fwd": 0, "bwd": 0}

    @dd.custom_vjp
    def cube(x):
        calls["body"] += 1
        return x**3

    def fwd(x):
        calls["fwd"] += 1
        return x**3, x

    def bwd(x, g):
        calls["bwd"] += 1
        return (3 * x * x * g,)

    cube.defvjp(fwd, bwd)
    assert dd.grad(cube)(2.0) == 12.0
    assert calls == {"body": 0, "fwd": 1, "bwd": 1}
    assert [eq.rule for eq in dd.wengert(cube, 2.0).equations] == [cube.rule]
    dd.check_grads(lambda x: cube(np.sin(x)), np.array([0.3, 1.2]), order=2)
    np.testing.assert_allclose(dd.jacfwd(cube)(np.array([1.0, 2.0])), np.diag([3.0, 12.0]))


def test_custom_vjp_several_arguments_and_outputs():
    @dd.custom_vjp
    def polar(x, y):
        return np.hypot(x, y), np.arctan2(y, x)

    def fwd(x, y):
        r = np.hypot(x, y)
        return (r, np.arctan2(y, x)), (x, y, r)

    def bwd(res, g):
        x, y, r = res
        gr, gt = g
        return gr * x / r - gt * y / (r * r), gr * y / r + gt * x / (r * r)

    polar.defvjp(fwd, bwd)
    x, y = 0.6, 0.8
    J = np.array([[x, y], [-y, x]])  # rows: dr, dtheta (r = 1)
    got = dd.jacrev(lambda p: np.stack(polar(p[0], p[1])))(np.array([x, y]))
    np.testing.assert_allclose(got, J, rtol=1e-14, atol=1e-16)
    got = dd.jacfwd(lambda p: np.stack(polar(p[0], p[1])))(np.array([x, y]))
    np.testing.assert_allclose(got, J, rtol=1e-14, atol=1e-16)
    dd.check_grads(lambda p: polar(p[0], p[1]), (x, y), order=2)


def test_custom_vjp_errors():
    root = implicit_root()
    with pytest.raises(TypeError, match="order 2 or more through custom_vjp function root differentiates its fwd"):
        # fwd that calls brentq directly: second derivatives cannot go through it
        root.defvjp(lambda t: (root.fun(t), (root.fun(t), t)), root.bwd)
        dd.grad(dd.grad(root))(0.7)

    @dd.custom_vjp
    def f(x):
        return x

    with pytest.raises(TypeError, match="has no VJP: define one with f.defvjp"):
        dd.grad(f)(1.0)
    f.defvjp(lambda x: (x, None), lambda r, g: g)
    with pytest.raises(TypeError, match="must return a tuple with one cotangent per differentiable argument"):
        dd.grad(f)(1.0)
    f.defvjp(lambda x: (x, None), lambda r, g: (np.ones(2),))
    with pytest.raises(ValueError, match=r"cotangent of shape \(2,\) for argument 0 of shape \(\)"):
        dd.grad(f)(1.0)
    f.defvjp(lambda x: x, lambda r, g: (g,))
    with pytest.raises(TypeError, match="must return a pair"):
        dd.grad(f)(1.0)


# ==========================================================================
# stop_gradient
# ==========================================================================


def test_stop_gradient_in_every_mode_and_level():
    f = lambda x: x * dd.stop_gradient(x)  # noqa: E731
    assert dd.derivative(f)(3.0) == 3.0
    assert dd.grad(f)(3.0) == 3.0
    assert dd.derivative(dd.derivative(f))(3.0) == 0.0
    assert dd.grad(dd.grad(f))(3.0) == 0.0
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(dd.jacfwd(lambda v: v * dd.stop_gradient(v))(x), np.diag(x))
    np.testing.assert_array_equal(dd.jacrev(lambda v: v * dd.stop_gradient(v))(x), np.diag(x))
    a, b = dd.stop_gradient((1.0, x))
    assert a == 1.0 and b is x
    assert dd.grad(lambda t: t[0] * dd.stop_gradient(t)[1])((2.0, 5.0)) == (5.0, 0.0)
    with mpmath.workdps(30):
        assert dd.derivative(lambda v: v * dd.stop_gradient(v))(mpmath.mpf(2)) == 2
    assert dd.derivative(lambda z: z * dd.stop_gradient(z))(1 + 2j) == 1 + 2j


def test_stop_gradient_in_traces():
    tr = dd.trace(lambda x: x * dd.stop_gradient(x), 3.0)
    assert tr.steps[1].operation == "stop_gradient(v_0)"
    rows = {r["variable"]: r for r in tr.forward_table().rows}
    assert rows["v_1"]["tangent_formula"] == "0" and rows["v_1"]["tangent"] == 0.0
    assert r"\operatorname{stop\_gradient}" in tr.forward_table().to_latex()
    report = dd.compare(lambda x: x * dd.stop_gradient(x), 3.0, timing=False, memory=False)
    assert {p.name for p in report.primitives} == {"stop_gradient", "mul"}
