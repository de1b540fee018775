"""Rules registered at run time: every kind works in every mode, level, trace and cost count.

Each test registers what it needs after ``import dualdiff`` and unregisters it
again (the ``registered`` fixture; ``conftest.py`` fails a test that leaks).
Expected values come from mpmath or from formulas written here, never from
dualdiff's own output; bad registrations must fail at registration, with a
message naming what is wrong.
"""

from __future__ import annotations

import cmath
import math

import mpmath
import numpy as np
import pytest

import dualdiff as dd
from dualdiff.modes import fastpaths
from dualdiff.modes.functions import FUNCTIONS
from dualdiff.modes.generic import GENERIC
from dualdiff.modes.numpy_api import FUNCTION_HANDLERS, UFUNC_RULES
from dualdiff.rules import TABLE
from dualdiff.rules.elementwise import SIN
from dualdiff.rules.kinds import register


@pytest.fixture
def registered():
    """Names registered in a test, unregistered after it (even when it fails)."""
    names: list[str] = []
    yield names
    for name in names:
        if name in TABLE:
            dd.unregister_rule(name)


def mp_close(got, want, rel=1e-10):
    return abs(mpmath.mpf(got) - want) <= rel * abs(want)


# ==========================================================================
# an elementwise rule
# ==========================================================================


def _gauss(registered, **options):
    """exp(-x^2), with its partial written against the namespace m."""
    registered.append("gauss")
    return dd.defelementwise(
        "gauss",
        lambda m, x: m.exp(-x * x),
        [lambda m, y, x: -2 * x * y],
        **options,
    )


def gauss_reference(x):
    return mpmath.exp(-x * x)


def test_elementwise_rule_checks_at_order_two_in_both_modes(registered):
    gauss = _gauss(registered)
    dd.check_grads(gauss, 0.7, order=2)
    dd.check_grads(lambda x: np.sum(gauss(x) * np.sin(x)), np.linspace(-1, 1, 5), order=2)
    dd.check_grads(lambda x: gauss(x[0] * x[1]), (0.3, -1.2), order=2, modes=("rev",))


def test_elementwise_rule_against_mpmath_at_every_order(registered):
    gauss = _gauss(registered)
    x = 0.7
    for k, f in enumerate([gauss, dd.derivative(gauss), dd.derivative(dd.derivative(gauss))]):
        want = mpmath.diff(gauss_reference, x, k + 1)
        assert mp_close(dd.derivative(f)(x), want), k
    assert mp_close(dd.grad(gauss)(x), mpmath.diff(gauss_reference, x))
    assert mp_close(dd.hessian(lambda v: gauss(v[0]))(np.array([x]))[0, 0], mpmath.diff(gauss_reference, x, 2))
    with mpmath.workdps(40):
        xm = mpmath.mpf("0.7")
        got = dd.derivative(dd.derivative(gauss))(xm)
        assert isinstance(got, mpmath.mpf)
        assert abs(got - mpmath.diff(gauss_reference, xm, 2)) < mpmath.mpf("1e-35")


def test_elementwise_rule_on_arrays_complex_and_in_both_modes(registered):
    gauss = _gauss(registered)
    x = np.array([[0.1, -0.4], [1.3, 2.0]])
    want = -2 * x * np.exp(-x * x)
    np.testing.assert_allclose(dd.jvp(gauss, x, np.ones_like(x))[1], want, rtol=1e-14)
    np.testing.assert_allclose(dd.grad(lambda v: np.sum(gauss(v)))(x), want, rtol=1e-14)
    z = 0.3 + 0.4j
    assert abs(dd.derivative(gauss)(z) - (-2 * z * cmath.exp(-z * z))) < 1e-14


def test_elementwise_rule_has_a_generated_fast_path_like_a_builtin(registered):
    gauss = _gauss(registered)
    assert gauss is FUNCTIONS["gauss"] and gauss.rule is TABLE["gauss"]
    assert "def gauss(x):" in gauss.__source__
    assert fastpaths.UNARY[TABLE["gauss"]] is gauss
    d = dd.Dual(0.5, 1.0)
    r = gauss(d)
    assert type(r.primal) is float and type(r.tangent) is float  # stayed on Python floats
    assert r.tangent == -2 * 0.5 * math.exp(-0.25)


def test_elementwise_rule_in_trace_tables_with_a_formula_column(registered):
    gauss = _gauss(registered)
    tr = dd.trace(lambda x: gauss(x) * x, 0.5)
    fwd = tr.forward_table()
    rows = {r["variable"]: r for r in fwd.rows}
    assert rows["v_1"]["operation"] == "gauss(v_0)"
    assert rows["v_1"]["tangent_formula"] == "-2 * v_0 * v_1 * v̇_0"  # from the rule's partial
    assert rows["v_1"]["tangent"] == pytest.approx(-2 * 0.5 * math.exp(-0.25), rel=1e-15)
    rev = {r["variable"]: r for r in tr.reverse_table().rows}
    assert rev["v_0"]["adjoint_formula"] == "-2 * v_0 * v_1 * v̄_1 + v_1 * v̄_2"
    assert r"\operatorname{gauss}" in fwd.to_latex()


def test_elementwise_rule_in_compare_counts_with_its_cost_class(registered):
    gauss = _gauss(registered)
    r = dd.compare(lambda x: np.sum(gauss(x)), np.ones(4), timing=False, memory=False)
    by_name = {p.name: p for p in r.primitives}
    assert by_name["gauss"].applications == 1 and by_name["gauss"].elements == 4
    assert by_name["gauss"].evaluate.nlops == 4  # op_class "nlops" by default
    assert by_name["gauss"].partials.mults == 8  # -2 * x * y: two products per element
    assert r.estimated == [] and r.max_rel_diff < 1e-14


def test_cost_class_can_be_overridden(registered):
    registered.append("triple")
    triple = dd.defelementwise("triple", lambda m, x: 3 * x, [lambda m, y, x: m.const(x, 3)], op_class="mults")
    p = {q.name: q for q in dd.compare(lambda x: np.sum(triple(x)), np.ones(3), timing=False, memory=False).primitives}
    assert p["triple"].evaluate.mults == 3 and p["triple"].evaluate.nlops == 0


def test_nested_levels_and_perturbation_confusion(registered):
    gauss = _gauss(registered)
    # d/dx [x * d/dy gauss(x + y) at y = 0] = gauss'(x) + x gauss''(x)
    x = 0.4
    got = dd.derivative(lambda x: x * dd.derivative(lambda y: gauss(x + y))(0.0))(x)
    want = mpmath.diff(gauss_reference, x) + x * mpmath.diff(gauss_reference, x, 2)
    assert mp_close(got, want)


def test_evaluate_per_namespace_and_scipy_ufunc():
    sp = pytest.importorskip("scipy.special")
    log_ndtr = dd.defelementwise(
        "log_ndtr",
        {"mpmath": lambda x: mpmath.log(mpmath.ncdf(x))},
        # d/dx log Phi(x) = phi(x) / Phi(x) = exp(-x^2/2 - log Phi(x)) / sqrt(2 pi)
        [lambda m, y, x: m.exp(-x * x / 2 - y) / m.sqrt(2 * m.pi(x))],
        ufunc=sp.log_ndtr,
    )
    try:
        assert UFUNC_RULES[sp.log_ndtr] is TABLE["log_ndtr"]
        ref = lambda x: mpmath.log(mpmath.ncdf(x))  # noqa: E731
        with mpmath.workdps(30):
            for x in (-40.0, -5.0, 0.3, 6.0):
                want = mpmath.diff(ref, x)
                assert mp_close(dd.derivative(log_ndtr)(x), want)
                assert mp_close(dd.grad(lambda v: sp.log_ndtr(v))(x), want)  # the ufunc dispatches to the rule
            # differentiating log(ndtr(x)) instead fails where ndtr underflows
            naive = dd.defelementwise(
                "ndtr_", {}, [lambda m, y, x: m.exp(-x * x / 2) / m.sqrt(2 * m.pi(x))], ufunc=sp.ndtr
            )
            with np.errstate(all="ignore"):
                assert math.isnan(dd.derivative(lambda x: np.log(naive(x)))(-40.0))
            dd.unregister_rule("ndtr_")
            xm = mpmath.mpf(-3) / 7
            assert abs(dd.derivative(log_ndtr)(xm) - mpmath.diff(ref, xm)) < mpmath.mpf("1e-25")
        dd.check_grads(log_ndtr, np.array([-3.0, 0.5, 2.0]), order=2)
    finally:
        dd.unregister_rule("log_ndtr")
    assert sp.log_ndtr not in UFUNC_RULES and "log_ndtr" not in FUNCTIONS


def test_binary_rule(registered):
    registered.append("rsqrtsum")
    f = dd.defelementwise(
        "rsqrtsum",
        {"float": lambda a, b: 1 / math.sqrt(a * a + b * b), "numpy": lambda a, b: 1 / np.sqrt(a * a + b * b)},
        [lambda m, y, a, b: -a * y * y * y, lambda m, y, a, b: -b * y * y * y],
        template="rsqrtsum({0}, {1})",
    )
    dd.check_grads(lambda t: f(t[0], t[1]), (0.6, -1.1), order=2)
    dd.check_grads(lambda x: np.sum(f(x, 2.0 * x)), np.array([0.5, 1.0, 1.5]), order=2)
    assert dd.trace(lambda a, b: f(a, b), (1.0, 2.0)).steps[2].operation == "rsqrtsum(v_{-1}, v_0)"


# ==========================================================================
# a linear rule
# ==========================================================================


def _diff_fn(x, nbatch):
    return x[1:] - x[:-1]  # along axis 0: trailing direction axes are left alone


def _diff_transpose(g, x_shape, nbatch):
    g = np.asarray(g)
    z = np.zeros((1,) + g.shape[1:], dtype=g.dtype)
    return np.concatenate([z, g]) - np.concatenate([g, z])


def test_linear_rule_everywhere(registered):
    registered.append("fdiff")
    fdiff = dd.deflinear("fdiff", _diff_fn, _diff_transpose, at=(np.arange(5.0),))
    f = lambda x: np.sum(np.sin(fdiff(x)) * x[1:] ** 2)  # noqa: E731
    x = np.array([0.3, 1.1, -0.4, 2.0])
    dd.check_grads(f, x, order=2)
    dd.check_grads(lambda x: fdiff(x * x), x, order=2)
    # against a formula: d/dx_j of sum_i (x_{i+1} - x_i)^2
    g = dd.grad(lambda x: np.sum(fdiff(x) ** 2))(x)
    d = np.diff(x)
    np.testing.assert_allclose(g, np.concatenate([[0], 2 * d]) - np.concatenate([2 * d, [0]]), rtol=1e-14)
    H = dd.hessian(lambda x: np.sum(fdiff(x) ** 2))(x)
    np.testing.assert_allclose(H, 2 * (np.diag([1, 2, 2, 1]) - np.eye(4, k=1) - np.eye(4, k=-1)), atol=1e-14)
    tr = dd.trace(lambda x: np.sum(fdiff(x)), x)
    assert tr.steps[1].operation == "fdiff(v_0)"
    assert "fdiffᵀ(v̄_1)" in [r["adjoint_formula"] for r in tr.reverse_table().rows]
    r = dd.compare(f, x, timing=False, memory=False)
    assert "fdiff" in {p.name for p in r.primitives} and r.estimated == ["fdiff"]  # copies, said so
    assert r.max_rel_diff < 1e-13


# ==========================================================================
# general rules
# ==========================================================================


def _logdet_spd():
    """log det A (A with positive determinant), its JVP and VJP written with NumPy."""

    def fn(a):
        return np.linalg.slogdet(a)[1]

    def jvp(t, nbatch, y, args, params):
        w = np.transpose(np.linalg.inv(args[0]))  # dispatches: args are lifted at nested levels
        if nbatch:
            w = np.reshape(w, np.shape(w) + (1,))
        return np.sum(w * t, axis=(0, 1))

    def vjp(g, nbatch, y, args, params):
        w = np.transpose(np.linalg.inv(args[0]))
        return np.reshape(w, np.shape(w) + (1,)) * g if nbatch else w * g

    return fn, [jvp], [vjp]


SPD = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])


def test_general_rule_matrix_function(registered):
    registered.append("logdet_spd")
    fn, maps, transposes = _logdet_spd()
    logdet = dd.defgeneral("logdet_spd", fn, maps, transposes, at=((SPD,), ()))
    sym = lambda a: (a + a.T) / 2 + 3 * np.eye(3)  # noqa: E731  (stays positive definite near SPD)
    dd.check_grads(lambda a: logdet(sym(a)), SPD, order=2)
    np.testing.assert_allclose(dd.grad(logdet)(SPD), np.linalg.inv(SPD).T, rtol=1e-13)
    # the Hessian of log det is -A^-T (x) A^-T: d2/dA_ij dA_kl = -inv(A)_li inv(A)_jk
    H = dd.hessian(logdet)(SPD)
    inv = np.linalg.inv(SPD)
    np.testing.assert_allclose(H, -np.einsum("li,jk->ijkl", inv, inv), rtol=1e-12, atol=1e-15)
    assert dd.trace(logdet, SPD).steps[1].operation == "logdet_spd(v_0)"
    r = dd.compare(lambda a: logdet(sym(a)), SPD, timing=False, memory=False)
    assert "logdet_spd" in r.estimated and r.max_rel_diff < 1e-12


def _quad_rule():
    """quad(A, x) = x . A x: two arguments, maps written for any number of direction axes."""

    def fn(a, x):
        return x @ a @ x

    def t_a(t, nbatch, y, args, params):
        a, x = args
        return np.tensordot(np.tensordot(x, t, axes=(0, 0)), x, axes=(0, 0))

    def t_x(t, nbatch, y, args, params):
        a, x = args
        return np.tensordot(a @ x + np.transpose(a) @ x, t, axes=(0, 0))

    def g_a(g, nbatch, y, args, params):
        a, x = args
        w = np.outer(x, x)
        return np.reshape(w, np.shape(w) + (1,)) * g if nbatch else w * g

    def g_x(g, nbatch, y, args, params):
        a, x = args
        w = a @ x + np.transpose(a) @ x
        return np.reshape(w, np.shape(w) + (1,)) * g if nbatch else w * g

    return fn, [t_a, t_x], [g_a, g_x]


def test_general_rule_of_two_arguments(registered):
    registered.append("quad")
    fn, maps, transposes = _quad_rule()
    a0, x0 = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([0.3, -0.7])
    quad = dd.defgeneral("quad", fn, maps, transposes, linear_in=(0,), at=((a0, x0), ()))
    dd.check_grads(lambda t: quad(t[0], t[1]) * np.sin(t[1][0]), (a0, x0), order=2)
    H = dd.hessian(lambda x: quad(a0, x))(x0)
    np.testing.assert_allclose(H, a0 + a0.T, rtol=1e-14)
    Jx = dd.jacrev(lambda t: quad(t[0], t[1]))((a0, x0))
    np.testing.assert_allclose(Jx[1], (a0 + a0.T) @ x0, rtol=1e-14)
    assert dd.trace(lambda a, x: quad(a, x), (a0, x0)).steps[2].operation == "quad(v_{-1}, v_0)"


# ==========================================================================
# NumPy functions mapped onto rules
# ==========================================================================


def test_register_numpy_function_ends_no_rule_error(registered):
    with pytest.raises(dd.NoRuleError, match="np.fft.fft"):
        dd.jvp(np.fft.fft, np.ones(4), np.ones(4))
    registered.append("dft")
    dft = dd.deflinear(
        "dft",
        lambda x, nb: np.fft.fft(x, axis=0),
        lambda g, s, nb: np.fft.fft(g, axis=0),  # the DFT matrix is symmetric
        at=(np.ones(4),),
    )
    dd.register_numpy_function(np.fft.fft, dft)
    x = np.array([0.5, -1.0, 2.0, 0.25])
    F = np.exp(-2j * np.pi * np.outer(np.arange(4), np.arange(4)) / 4)
    np.testing.assert_allclose(dd.jacfwd(np.fft.fft)(x), F, atol=1e-14)
    np.testing.assert_allclose(dd.jacrev(np.fft.fft)(x), F, atol=1e-14)
    dd.check_grads(lambda v: np.fft.fft(v * v), x, order=2)
    with pytest.raises(TypeError, match="keyword arguments \\['norm'\\]"):
        dd.jvp(lambda v: np.fft.fft(v, norm="ortho"), x, x)
    with pytest.raises(ValueError, match="already goes to the rule 'dft'"):
        dd.register_numpy_function(np.fft.fft, dft)
    dd.unregister_rule("dft")  # takes the registration along
    registered.clear()
    assert np.fft.fft not in FUNCTION_HANDLERS
    with pytest.raises(dd.NoRuleError):
        dd.jvp(np.fft.fft, np.ones(4), np.ones(4))


def test_register_numpy_function_with_a_handler_and_a_ufunc(registered):
    def sinc(x):
        return np.sin(np.pi * x) / (np.pi * x)

    dd.register_numpy_function(np.sinc, sinc)
    try:
        x = 0.3
        want = mpmath.diff(lambda t: mpmath.sin(mpmath.pi * t) / (mpmath.pi * t), x)
        assert mp_close(dd.derivative(np.sinc)(x), want)
    finally:
        dd.unregister_numpy_function(np.sinc)
    assert np.sinc not in FUNCTION_HANDLERS
    registered.append("deg2rad")
    rule = dd.defelementwise("deg2rad", {"float": math.radians}, [lambda m, y, x: m.pi(x) / 180], linear_in="all")
    dd.register_numpy_function(np.deg2rad, rule)
    assert dd.derivative(np.deg2rad)(10.0) == math.pi / 180
    with pytest.raises(TypeError, match="does not dispatch through NumPy's __array_function__"):
        dd.register_numpy_function(math.radians, rule)
    with pytest.raises(ValueError, match="already goes to the rule 'deg2rad'"):
        dd.register_numpy_function(np.deg2rad, rule)
    dd.unregister_numpy_function(np.deg2rad)


# ==========================================================================
# replacing a rule, and every cache following it
# ==========================================================================


def test_replace_a_builtin_rule_and_restore_it():
    calls = []

    def counted_cos(m, y, x):
        calls.append(1)
        return m.cos(x)

    new = dd.defelementwise("sin", None, [counted_cos], ufunc=np.sin, latex=r"\sin", replace=True)
    new_rule = new.rule
    try:
        assert TABLE["sin"] is new_rule is not SIN
        assert dd.sin is new  # the public function follows the replacement
        assert dd.derivative(dd.sin)(0.5) == math.cos(0.5) and calls
        calls.clear()
        dd.grad(lambda x: np.sum(np.sin(x)))(np.ones(2))
        assert calls  # np.sin dispatches to the new rule
        calls.clear()
        dd.derivative(dd.derivative(dd.cos))(0.5)  # cos' = -m.sin(x) at a nested level: GENERIC.sin
        assert calls
        assert GENERIC.sin is not None
    finally:
        register(SIN, replace=True)
    assert TABLE["sin"] is SIN and dd.sin.rule is SIN and UFUNC_RULES[np.sin] is SIN
    assert fastpaths.UNARY[SIN] is dd.sin and new_rule not in fastpaths.UNARY
    assert dd.derivative(dd.derivative(dd.sin))(0.5) == -math.sin(0.5)


def test_unregister_drops_every_derived_cache(registered):
    gauss = _gauss(registered, ufunc=None)
    rule = gauss.rule
    dd.compare(lambda x: np.sum(gauss(x)), np.ones(2), timing=False, memory=False)
    from dualdiff.cost import model

    assert any(k[0] is rule for k in model._ELEMENTWISE_CACHE)
    dd.unregister_rule("gauss")
    registered.clear()
    assert "gauss" not in FUNCTIONS and rule not in fastpaths.UNARY
    assert not any(k[0] is rule for k in model._ELEMENTWISE_CACHE)
    assert not hasattr(GENERIC, "gauss")


# ==========================================================================
# bad registrations fail at registration, naming what is wrong
# ==========================================================================


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(name="sin"), ValueError, "a rule named 'sin' exists already"),
        (dict(name="my sin"), ValueError, "must be a Python identifier"),
        (dict(name="pi"), ValueError, "helper of every math namespace"),
        (dict(partials=[]), TypeError, "non-empty list"),
        (dict(partials=[lambda y, x: 1.0]), TypeError, r"partial 0 must take \(m, y, x\)"),
        (
            dict(partials=[lambda m, y, x: m.cos(x), lambda m, y, x: 1.0]),
            TypeError,
            r"partial 0 must take \(m, y, a, b\).*one partial per argument",
        ),
        (dict(partials=[lambda m, y, x: np.float64(x).nope]), TypeError, "partial 0 failed when called as partial"),
        (dict(partials=[lambda m, y, x: math.cos(x)]), TypeError, "partial 0 fails on NumPy arrays"),
        (dict(partials=[lambda m, y, x: m.sin(x)]), ValueError, "partial 0 is .* finite differences .* give"),
        (dict(partials=[lambda m, y, x: "cos"]), TypeError, "partial 0 returned str"),
        (dict(ufunc=np.sin), ValueError, "ufunc sin already stands for the rule 'sin'"),
        (dict(ufunc=np.add), ValueError, "ufunc add takes 2 argument"),
        (dict(ufunc=math.sin), TypeError, "ufunc must be a NumPy ufunc"),
        (dict(op_class="flops"), ValueError, "op_class must be one of"),
        (dict(template="mysin({1})"), ValueError, r"must place each argument once: \{0\}"),
        (dict(evaluate={"floats": math.sin}), ValueError, "unknown namespaces \\['floats'\\]"),
        (dict(evaluate=None), TypeError, "give evaluate"),
        (dict(evaluate={"numpy": np.sin}), TypeError, "needs a way to compute Python floats"),
        (dict(evaluate=lambda m, x: m.log(x - 100.0)), ValueError, "could not evaluate the rule in floats"),
    ],
)
def test_bad_elementwise_registration(kwargs, error, message):
    options = dict(name="mysin", evaluate=lambda m, x: m.sin(x), partials=[lambda m, y, x: m.cos(x)])
    options.update(kwargs)
    before = dict(TABLE)
    with pytest.raises(error, match=message):
        dd.defelementwise(options.pop("name"), options.pop("evaluate"), options.pop("partials"), **options)
    assert TABLE == before  # nothing registered


def test_bad_partial_can_be_registered_on_purpose_and_check_grads_finds_it(registered):
    registered.append("badsin")
    bad = dd.defelementwise("badsin", lambda m, x: m.sin(x), [lambda m, y, x: m.sin(x)], check=False)
    with pytest.raises(AssertionError, match="order 1: forward mode \\(jvp\\) and finite differences disagree"):
        dd.check_grads(bad, 0.5, modes=("fwd",))
    with pytest.raises(AssertionError, match="order 1: reverse mode .* and finite differences"):
        dd.check_grads(bad, 0.5, modes=("rev",))


def test_probe_point_can_be_given(registered):
    registered.append("logshift")
    f = dd.defelementwise(
        "logshift", lambda m, x: m.log(x - 100.0), [lambda m, y, x: 1 / (x - 100.0)], at=101.0, domain="x >= 100"
    )
    assert dd.derivative(f)(102.0) == 0.5


@pytest.mark.parametrize(
    "fn, transpose, message",
    [
        (_diff_fn, lambda g, s, nb: np.zeros(s), "transpose is not the transpose of fn"),
        (_diff_fn, lambda g, s, nb: np.zeros(3), "transpose returned shape"),
        (
            lambda x, nb: np.cumsum(x.reshape(-1)).reshape(x.shape),
            lambda g, s, nb: np.cumsum(g[::-1])[::-1],
            "fn must leave the last nbatch axes alone",
        ),
        (lambda x: x, _diff_transpose, r"fn must take \(x, nbatch, \*params\)"),
    ],
)
def test_bad_linear_registration(fn, transpose, message):
    with pytest.raises((TypeError, ValueError), match=message):
        dd.deflinear("baddiff", fn, transpose, at=(np.arange(5.0),))
    assert "baddiff" not in TABLE


def test_bad_general_registration():
    fn, maps, transposes = _logdet_spd()
    with pytest.raises(ValueError, match="needs 1 linear map"):
        dd.defgeneral("bad", fn, maps, transposes + transposes)
    with pytest.raises(ValueError, match=r"linear_maps\[0\] disagrees with finite differences"):
        dd.defgeneral("bad", fn, [lambda t, nb, y, a, p: 2 * maps[0](t, nb, y, a, p)], transposes, at=((SPD,), ()))
    with pytest.raises(ValueError, match=r"transposes\[0\] is not the transpose"):
        dd.defgeneral("bad", fn, maps, [lambda g, nb, y, a, p: 2 * transposes[0](g, nb, y, a, p)], at=((SPD,), ()))
    with pytest.raises(TypeError, match=r"linear_maps\[0\] must take \(t, nbatch, y, args, params\)"):
        dd.defgeneral("bad", fn, [lambda t: t], transposes)
    assert "bad" not in TABLE
