"""Compiled derivatives (``dd.compile``) against eager mode, mpmath and the trace tables (issue 12).

The generated code performs the operations of eager mode in the same order,
so on every case here it must give eager mode's numbers bit for bit (and
1e-13 relative where a case says so). Every fallback to eager mode raises in
these tests (``RAISE_ON_FALLBACK``), so a case that passes ran generated code;
the tests of errors and limits switch it off. Expected values that are not
eager mode's come from mpmath or the chain rule by hand.
"""

from __future__ import annotations

import math
import sys

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reference import complex_points, mp_real_points, nudge, partials, precision, real_points
from test_arrays import CASES, EDGE_CASES, _large_functions
from test_rules import ELEMENTWISE, HOLOMORPHIC, public, reference
from test_transforms import _as_matrix, mp_jacobian, program_function, programs, run_program

import dualdiff as dd
import dualdiff.transforms.compiled as compiled_module
from dualdiff.modes.tree import leaves, rebuild


@pytest.fixture(autouse=True)
def _no_silent_fallback(monkeypatch):
    monkeypatch.setattr(compiled_module, "RAISE_ON_FALLBACK", True)


def same(a, b):
    """Equal leaf by leaf, bit for bit (nan equal to nan)."""
    la, lb = leaves(a), leaves(b)
    assert len(la) == len(lb)
    for u, v in zip(la, lb):
        assert np.shape(u) == np.shape(v), (u, v)
        assert np.array_equal(np.asarray(u, dtype=complex), np.asarray(v, dtype=complex), equal_nan=True), (u, v)


def close(a, b, rtol=1e-13):
    for u, v in zip(leaves(a), leaves(b)):
        np.testing.assert_allclose(np.asarray(u, dtype=complex), np.asarray(v, dtype=complex), rtol=rtol, atol=0)


def ones_like(x):
    return rebuild(x, [np.ones_like(a) if isinstance(a, np.ndarray) else type(a)(1) for a in leaves(x)])


# --------------------------------------------------------------------------
# every elementwise rule, on floats, arrays, complex numbers and mpmath numbers
# --------------------------------------------------------------------------

_COMPILED: dict = {}


def _rule_function(name):
    fn = public(name)
    if TABLE_NIN[name] == 1:
        return lambda x: fn(x)
    return lambda x: fn(x[0], x[1])


TABLE_NIN = {name: reference(name).nin for name in ELEMENTWISE}


def _compiled(name, kind):
    key = (name, kind)
    if key not in _COMPILED:
        f = _rule_function(name)
        _COMPILED[key] = (f, dd.compile(f))
    return _COMPILED[key]


def _point(name, kind, point):
    nin = TABLE_NIN[name]
    if kind == "array":
        arrays = [np.array([p, p * 0.999, p * 1.001]) for p in point]
        return arrays[0] if nin == 1 else tuple(arrays)
    return point[0] if nin == 1 else tuple(point)


def _check_rule(name, kind, x):
    f, cf = _compiled(name, kind)
    v = ones_like(x)
    same(cf.jvp(x, v), dd.jvp(f, x, v))
    if kind == "array":
        same(cf.jacobian(x, mode="reverse"), dd.jacrev(f)(x))
        same(cf.jacobian(x, mode="forward"), dd.jacfwd(f)(x))
    else:
        same(cf.value_and_grad(x), dd.value_and_grad(f)(x))
    return cf.jvp(x, v)[1]


@pytest.mark.parametrize("kind", ["float", "array"])
@pytest.mark.parametrize("name", ELEMENTWISE)
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_every_rule_compiled_equals_eager(name, kind, data):
    point = data.draw(real_points(reference(name)), label="point")
    x = _point(name, kind, point)
    tangent = _check_rule(name, kind, x)
    if kind == "float":  # and against the mpmath reference: the sum of the partials
        with precision(30):
            want = sum(partials(reference(name), point))
        assert math.isclose(tangent, float(want), rel_tol=1e-12, abs_tol=1e-14)


@pytest.mark.parametrize("name", HOLOMORPHIC)
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_every_holomorphic_rule_compiled_equals_eager_complex(name, data):
    point = data.draw(complex_points(reference(name)), label="point")
    _check_rule(name, "complex", _point(name, "complex", point))


@pytest.mark.parametrize("name", ELEMENTWISE)
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_every_rule_compiled_at_50_digits(name, data):
    ref = reference(name)
    raw = data.draw(mp_real_points(ref), label="point")
    with precision(50):
        point = tuple(nudge(p, k) for p, k in raw)
        tangent = _check_rule(name, "mp", _point(name, "mp", point))
    with precision(60):
        want = sum(partials(ref, point))
        assert abs(tangent - want) <= mpmath.mpf("1e-40") * max(1, abs(want))


def test_mpmath_precision_is_part_of_the_key():
    cf = dd.compile(lambda x: +mpmath.pi * dd.exp(x))  # pi at the precision of the call
    with precision(30):
        a = cf.grad(mpmath.mpf(1))
    with precision(60):
        b = cf.grad(mpmath.mpf(1))
        assert abs(b - mpmath.pi * mpmath.e) < mpmath.mpf("1e-58")
    assert abs(a - b) > mpmath.mpf("1e-40")  # a was computed at 30 digits only
    assert cf.cache_info().currsize == 2


# --------------------------------------------------------------------------
# random straight-line programs: compiled Jacobians == eager == mpmath
# --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(programs(), st.sampled_from([1, 2, None]))
def test_random_programs_compiled(prog, chunk):
    n, ops, outputs, x, as_tuple_out, as_tuple_in = prog
    m = len(outputs)
    values = run_program(ops, [float(v) for v in x], "dd")
    assume(all(math.isfinite(v) and abs(v) < 1e4 for v in values))
    f = program_function(n, ops, outputs, as_tuple_out, as_tuple_in)
    x_in = tuple(x) if as_tuple_in else np.array(x)
    cf = dd.compile(f)
    jf = cf.jacobian(x_in, mode="forward", chunk=chunk)
    jr = cf.jacobian(x_in, mode="reverse", chunk=chunk)
    same(jf, dd.jacfwd(f, chunk=chunk)(x_in))
    same(jr, dd.jacrev(f, chunk=chunk)(x_in))
    ref = mp_jacobian(lambda *a: [run_program(ops, list(a), "mp")[k] for k in outputs], x, m)
    np.testing.assert_allclose(_as_matrix(jf, m, n, as_tuple_out, as_tuple_in), ref, rtol=1e-9, atol=1e-9)
    v = ones_like(x_in)
    same(cf.jvp(x_in, v), dd.jvp(f, x_in, v))
    y, pullback = cf.vjp(x_in)
    y0, pullback0 = dd.vjp(f, x_in)
    same(y, y0)
    y_bar = ones_like(y0) if isinstance(y0, tuple) else np.ones(np.shape(y0))
    same(pullback(y_bar), pullback0(y_bar))


# --------------------------------------------------------------------------
# NumPy: the cases of test_arrays, bit for bit
# --------------------------------------------------------------------------

ARRAY_CASES = {**CASES, **EDGE_CASES}


@pytest.mark.parametrize("name", sorted(ARRAY_CASES))
def test_numpy_cases_compiled_equal_eager(name):
    f, x = ARRAY_CASES[name]
    cf = dd.compile(f)
    rng = np.random.default_rng(3)
    v = rebuild(x, [rng.normal(size=np.shape(a)) for a in leaves(x)])
    same(cf.jvp(x, v), dd.jvp(f, x, v))
    same(cf.jacobian(x, mode="forward"), dd.jacfwd(f)(x))
    same(cf.jacobian(x, mode="reverse"), dd.jacrev(f)(x))
    same(cf.jacobian(x, mode="forward", chunk=2), dd.jacfwd(f, chunk=2)(x))
    same(cf.jacobian(x, mode="reverse", chunk=1), dd.jacrev(f, chunk=1)(x))
    y0, pullback0 = dd.vjp(f, x)
    y, pullback = cf.vjp(x)
    same(y, y0)
    y_bar = rebuild(y0, [rng.normal(size=np.shape(a)) for a in leaves(y0)])
    same(pullback(y_bar), pullback0(y_bar))
    same(pullback(y_bar), pullback0(y_bar) if False else pullback(y_bar))  # a compiled pullback may be reused
    if not isinstance(y0, tuple) and np.ndim(y0) == 0:
        same(cf.value_and_grad(x), dd.value_and_grad(f)(x))
    assert cf.cache_info().fallbacks == 0


@pytest.mark.parametrize("name", sorted(_large_functions()))
def test_large_arrays_reuse_buffers_and_agree(name):
    """Above the sizes where buffers are reused in place, the numbers are still eager mode's."""
    f = _large_functions()[name]
    x = np.random.default_rng(5).uniform(-1, 1, 20_000)
    v = np.random.default_rng(6).normal(size=20_000)
    cf = dd.compile(f)
    close(cf.grad(x), dd.grad(f)(x))
    close(cf.jvp(x, v), dd.jvp(f, x, v))
    assert "out=" in cf.source("jvp") + cf.source("grad") or "+=" in cf.source("grad")


def test_float32_stays_float32_and_dtypes_are_part_of_the_key():
    f = lambda x: np.sum(np.tanh(x) * x)
    cf = dd.compile(f)
    x32 = np.linspace(-1, 1, 7, dtype=np.float32)
    g32 = cf.grad(x32)
    assert g32.dtype == np.float32
    same(g32, dd.grad(f)(x32))
    same(cf.grad(x32.astype(np.float64)), dd.grad(f)(x32.astype(np.float64)))
    same(cf.grad(np.linspace(-1, 1, 9)), dd.grad(f)(np.linspace(-1, 1, 9)))
    assert cf.cache_info().currsize == 3


def test_complex_arrays():
    W = np.array([[1.0, 2.0j], [0.5, -1.0]])
    f = lambda z: np.exp(W @ z) * z
    z = np.array([0.3 + 0.1j, -0.2 + 0.4j])
    cf = dd.compile(f)
    same(cf.jacobian(z, mode="reverse"), dd.jacrev(f)(z))
    same(cf.jvp(z, np.ones(2, complex)), dd.jvp(f, z, np.ones(2, complex)))


# --------------------------------------------------------------------------
# the textbook examples, and the generated source against dd.trace's tables
# --------------------------------------------------------------------------

TEXTBOOK = {
    "griewank_walther": (lambda x: dd.log(x[0]) + x[0] * x[1] - dd.sin(x[1]), (2.0, 5.0)),
    "exp_product": (lambda x: x[0] * x[1] + dd.exp(x[0] * x[1]) - dd.sin(x[1]), (1.5, 0.5)),
    "product_times_sine": (lambda x: (x[0] * x[1]) * dd.sin(x[0]), (2.0, 3.0)),
    "sum_times_x1": (lambda x: (x[0] + x[1]) * x[0], (3.0, 4.0)),
    "xy_plus_x": (lambda x: x[0] * x[1] + x[0], (2.0, 3.0)),
    "two_x_squared_plus_three": (lambda x: 2 * x**2 + 3, 2.0),
    "square_of_scaled_shift": (lambda x: ((x + 2) * 3) ** 2, 3.0),
    "several_outputs": (lambda x: (x[0] * x[1], dd.sin(x[0])), (2.0, 3.0)),
    "array_steps": (lambda x: np.sum(np.sin(x) * x), np.array([0.5, 1.0, 2.0])),
    "indexing": (lambda x: x[0] * x[1:], np.array([2.0, 3.0, 4.0])),
    "constant_and_input_outputs": (lambda x: (x, 3.0), 2.0),
    "negative_constant": (lambda x: x * -2.5 - 1, 2.0),
    "power_and_division": (lambda x: x[0] ** x[1] / x[1], (2.0, 3.0)),
}


@pytest.mark.parametrize("name", sorted(TEXTBOOK))
def test_textbook_examples(name):
    f, x = TEXTBOOK[name]
    cf = dd.compile(f)
    same(cf.jvp(x, ones_like(x)), dd.jvp(f, x, ones_like(x)))
    same(cf.jacobian(x, mode="forward"), dd.jacfwd(f)(x))
    same(cf.jacobian(x, mode="reverse"), dd.jacrev(f)(x))
    same(cf(x), f(x))


def _locals_at_return(fn, *args):
    """The local variables of ``fn`` when it returns (what each generated line computed)."""
    seen = {}

    def tracer(frame, event, arg):
        if frame.f_code is fn.__code__:
            if event == "return":
                seen.update(frame.f_locals)
            return tracer
        return None

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = fn(*args)
    finally:
        sys.settrace(old)
    return result, seen


def _python_name(textbook):
    """``v_{-1}`` -> ``v_m1``, ``v_3`` -> ``v_3``: the generated code's name for a trace's variable."""
    index = int(textbook[2:].strip("{}"))
    return f"v_{index}" if index >= 0 else f"v_m{-index}"


def test_griewank_walther_source_matches_the_trace_tables():
    """ln x1 + x1 x2 - sin x2: each generated line is a row of dd.trace's forward and reverse tables."""
    f, x = TEXTBOOK["griewank_walther"]
    cf = dd.compile(f)
    cf.grad(x)
    tr = dd.trace(f, x)
    forward = tr.forward_table("x1")
    reverse = tr.reverse_table()

    jvp = cf.generated("jvp", x)
    lines = [line.strip() for line in jvp.source.splitlines()]
    assert "def jvp_f(v_m1, v_0, v_m1_dot, v_0_dot):" in lines
    for step, op in [("v_1", "log(v_m1)"), ("v_2", "v_m1 * v_0"), ("v_3", "v_1 + v_2")]:
        assert any(line.startswith(f"{step} = {op}") for line in lines), (step, jvp.source)
    assert "v_4 = sin(v_0)                                  # sin" in lines
    assert "v_4_dot = cos(v_0) * v_0_dot" in lines
    assert "v_5_dot = v_3_dot - v_4_dot" in lines
    _, values = _locals_at_return(jvp.fn, *x, 1.0, 0.0)
    rows = [r for r in forward.rows if r["variable"].startswith("v_")]
    assert len(rows) == 7
    for row in rows:
        name = _python_name(row["variable"])
        assert values[name] == row["value"], name
        assert values[name + "_dot"] == row["tangent"], name

    grad = cf.generated("grad", x)
    text = grad.source
    assert text.index("v_5_bar = 1.0") < text.index("v_3_bar = v_5_bar") < text.index("v_4_bar = -v_5_bar")
    assert text.index("v_0_bar = cos(v_0) * v_4_bar") < text.index("v_m1_bar = v_0 * v_2_bar")
    assert "v_m1_bar = v_m1_bar + 1 / v_m1 * v_1_bar" in text
    _, values = _locals_at_return(grad.fn, *x)
    rows = [r for r in reverse.rows if r["variable"].startswith("v_")]
    assert len(rows) == 7
    for row in rows:
        name = _python_name(row["variable"])
        assert values[name] == row["value"], name
        assert values[name + "_bar"] == row["adjoint"], name
    # the textbook's adjoints by hand: x̄1 = 1/x1 + x2, x̄2 = x1 - cos x2
    assert values["v_m1_bar"] == 1 / 2.0 + 5.0 and values["v_0_bar"] == pytest.approx(2.0 - math.cos(5.0), rel=1e-15)


def test_source_binds_constants_and_names_rules():
    W = np.random.default_rng(0).normal(size=(3, 4))
    f = lambda x: np.sum(np.tanh(W @ x) * 0.5)
    cf = dd.compile(f)
    x = np.linspace(0.1, 0.4, 4)
    same(cf.grad(x), dd.grad(f)(x))
    src = cf.source("grad")
    assert "c_1 = float64[3,4] array" in src  # bound by name, described in the header
    assert "np.matmul(c_1, v_0)" in src
    assert repr(float(W[0, 0]))[:8] not in src  # never printed
    assert "# tanh" in src and "# matmul" in src and "0.5" in src


def test_batched_source_lines_up_partials_with_directions():
    cf = dd.compile(lambda x: np.sin(x) * x[0])
    x = np.array([0.5, 1.0])
    same(cf.jacobian(x, mode="forward"), dd.jacfwd(lambda x: np.sin(x) * x[0])(x))
    src = cf.source("jvp", batched=True)
    assert "np.cos(v_0)[..., None] * v_0_dot" in src
    assert "k = v_0_dot.shape[-1]" in src


# --------------------------------------------------------------------------
# branches: guards and retracing
# --------------------------------------------------------------------------


def test_branch_retraces_and_caches_both_versions():
    def f(x):
        if x > 0:
            return x * dd.sin(x)
        return x**3

    cf = dd.compile(f)
    assert cf.grad(1.5) == math.sin(1.5) + 1.5 * math.cos(1.5)
    y, t = cf.jvp(-2.0, 1.0)
    assert (y, t) == (-8.0, 12.0)  # the other branch: value and derivative of x**3
    assert cf.grad(-1.0) == 3.0
    assert cf.grad(2.0) == math.sin(2.0) + 2.0 * math.cos(2.0)
    info = cf.cache_info()
    assert info.currsize == 2 and info.traces == 2 and info.retraces == 1 and info.fallbacks == 0
    assert len(info.entries) == 2 and all("x > 0" in e for e in info.entries)
    assert "True" in str(info) and "False" in str(info)


def test_guards_on_arrays_int_and_indices():
    def f(x):
        n = int(np.sum(x > 0))  # an int guard
        i = np.argmax(x)  # an index computed from x
        return x[i] * n + np.sum(x[x > 0] ** 2)  # a mask guard

    cf = dd.compile(f)
    for x in (
        np.array([1.0, -2.0, 3.0]),
        np.array([-1.0, 2.0, 0.5]),
        np.array([4.0, 1.0, -3.0]),
        np.array([1.0, -2.0, 3.0]),
    ):
        same(cf.grad(x), dd.grad(f)(x))
        same(cf.jvp(x, np.ones(3)), dd.jvp(f, x, np.ones(3)))
    assert cf.cache_info().currsize == 3


def test_lru_cache_is_bounded():
    cf = dd.compile(lambda x: np.sum(x * x), cache_size=2)
    for n in (1, 2, 3, 2):
        same(cf.grad(np.ones(n)), 2 * np.ones(n))
    info = cf.cache_info()
    assert info.currsize == 2 and info.maxsize == 2 and info.traces == 3 and info.hits == 1
    assert "float64[2]" in info.entries[0] and "float64[3]" in info.entries[1]
    cf.cache_clear()
    assert cf.cache_info().currsize == 0
    with pytest.raises(ValueError, match="cache_size"):
        dd.compile(lambda x: x, cache_size=0)


# --------------------------------------------------------------------------
# composition with the eager transforms
# --------------------------------------------------------------------------


def test_hessian_through_compiled_gradient():
    f = lambda x: np.sum(np.sin(x) * x[::-1] ** 2) + x[0] * x[1]
    cf = dd.compile(f)
    x = np.array([0.3, 0.5, 0.9])
    same(dd.jacfwd(cf.grad)(x), dd.hessian(f)(x))
    same(dd.jvp(cf.grad, x, np.ones(3)), dd.jvp(dd.grad(f), x, np.ones(3)))
    same(dd.grad(cf)(x), dd.grad(f)(x))
    assert cf.cache_info().lifted > 0


def test_duals_of_an_outer_level():
    f = lambda x: np.sum(np.exp(x) * x)
    cf = dd.compile(f)
    x, v = np.array([0.1, 0.2]), np.array([1.0, -1.0])
    outer = lambda t: cf.jvp(x * t, v)[1]
    same(dd.derivative(outer)(2.0), dd.derivative(lambda t: dd.jvp(f, x * t, v)[1])(2.0))
    got, want = cf.jvp(dd.Dual(x, v), v), dd.jvp(f, dd.Dual(x, v), v)
    same([(d.primal, d.tangent) for d in got], [(d.primal, d.tangent) for d in want])


def test_third_order_scalar():
    cf = dd.compile(lambda x: dd.exp(dd.sin(x)))
    d3 = dd.derivative(dd.derivative(cf.grad))(0.7)
    with mpmath.workdps(40):
        want = mpmath.diff(lambda t: mpmath.exp(mpmath.sin(t)), mpmath.mpf(0.7), 3)
    assert d3 == pytest.approx(float(want), rel=1e-12)


# --------------------------------------------------------------------------
# refusals and limits: exactly eager mode's
# --------------------------------------------------------------------------


def _eager_error(fn):
    with pytest.raises(Exception) as info:
        fn()
    return info.value


@pytest.fixture
def fallbacks_allowed(monkeypatch):
    monkeypatch.setattr(compiled_module, "RAISE_ON_FALLBACK", False)


def test_float_of_the_input_is_refused_like_eager_mode(fallbacks_allowed):
    f = lambda x: math.sin(x)
    cf = dd.compile(f)
    for compiled, eager in [
        (lambda: cf.jvp(1.0, 1.0), lambda: dd.jvp(f, 1.0, 1.0)),
        (lambda: cf.grad(1.0), lambda: dd.grad(f)(1.0)),
    ]:
        err = _eager_error(eager)
        with pytest.raises(type(err)) as got:
            compiled()
        assert str(got.value) == str(err)


def test_function_without_rule_is_named(fallbacks_allowed):
    cf = dd.compile(lambda x: np.fft.fft(x).real.sum())
    with pytest.raises(dd.NoRuleError, match="np.fft.fft"):
        cf.grad(np.ones(4))


def test_domain_errors_and_ieee_limits_are_eager_modes(fallbacks_allowed):
    cf = dd.compile(lambda x: np.log(x) * 2.0)
    with pytest.raises(dd.DomainError) as got:
        cf.jvp(np.array([1.0, -1.0]), np.ones(2))
    with pytest.raises(dd.DomainError) as want:
        dd.jvp(lambda x: np.log(x) * 2.0, np.array([1.0, -1.0]), np.ones(2))
    assert str(got.value) == str(want.value)
    same(cf.jvp(np.array([1.0, 0.0]), np.ones(2)), dd.jvp(lambda x: np.log(x) * 2.0, np.array([1.0, 0.0]), np.ones(2)))
    cs = dd.compile(dd.sqrt)
    assert cs.grad(0.0) == math.inf and cs.jvp(4.0, 1.0) == (2.0, 0.25)
    with pytest.raises(dd.DomainError, match="sqrt"):
        cs.grad(-1.0)
    with precision(30):
        with pytest.raises(dd.DomainError, match="log"):
            dd.compile(dd.log).grad(mpmath.mpf(-2))
    assert cs.cache_info().fallbacks == 2


def test_not_complex_differentiable_is_refused(fallbacks_allowed):
    f = lambda z: dd.floor(z) * z
    with pytest.raises(TypeError, match="complex"):
        dd.compile(f).grad(1.0 + 1.0j)
    assert dd.compile(f).jvp(-2.5, 1.0) == dd.jvp(f, -2.5, 1.0)


def test_grad_needs_a_scalar_output():
    cf = dd.compile(lambda x: x * 2)
    with pytest.raises(ValueError, match="grad needs f to return a scalar"):
        cf.grad(np.ones(3))


def test_source_needs_a_trace_first():
    cf = dd.compile(lambda x: x * x)
    with pytest.raises(ValueError, match="nothing is compiled yet"):
        cf.source("jvp")
    with pytest.raises(ValueError, match="kind must be"):
        cf.source("hessian", 1.0)
    assert "v_1_dot" in cf.source("jvp", 2.0)


# --------------------------------------------------------------------------
# memory: tiles, workspaces, buffers -- and results that stay the caller's
# --------------------------------------------------------------------------

TILED = {
    "rosenbrock": lambda x: np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2),
    "shared_uses": lambda x: np.sum((x - x**2) * (x + 1.0) - np.sin(x) * x + x / (2.0 + np.cos(x))),
    "rows": lambda x: (lambda r: np.sum(np.cos(r * np.arange(50.0)) * r + 1.0))(x.reshape(-1, 50)),
    "escaping": lambda x: np.sum((np.sin(x) * x + 1.0)[::3]) + np.max(np.sin(x) * x + 1.0),
    "two_sums": lambda x: np.sum(np.exp(x * 0.5) * x) * np.sum(np.tanh(x) ** 2 - x),
}


@pytest.mark.parametrize("name", sorted(TILED))
def test_large_elementwise_regions_run_in_tiles(name):
    """Arrays above TILE_MIN: tiled loops, the same numbers up to the rounding of the tiles' sums."""
    from dualdiff.program.tiling import TILE_MIN

    f = TILED[name]
    n = 50 * (TILE_MIN // 50 + 20)
    x = np.random.default_rng(8).uniform(-1, 1, n)
    v = np.random.default_rng(9).normal(size=n)
    cf = dd.compile(f)
    g0, g1 = dd.grad(f)(x), cf.grad(x)
    np.testing.assert_allclose(g1, g0, rtol=1e-12, atol=1e-13 * np.max(np.abs(g0)))
    (y0, t0), (y1, t1) = dd.jvp(f, x, v), cf.jvp(x, v)
    assert y1 == pytest.approx(y0, rel=1e-13)
    assert abs(t1 - t0) <= 1e-13 * np.sum(np.abs(g0 * v))
    assert "for a in range(0, " in cf.source("grad") and "for a in range(0, " in cf.source("jvp")
    J = cf.jacobian(x[:6].repeat(n // 6 + 1)[:n], mode="reverse")  # one cotangent: the batched pullback, tiled
    np.testing.assert_allclose(J, dd.grad(f)(x[:6].repeat(n // 6 + 1)[:n]), rtol=1e-12, atol=1e-12 * np.max(np.abs(J)))


def test_results_never_share_the_workspace():
    """Arrays written into preallocated buffers never leave a call: every result stays the caller's."""
    W = np.random.default_rng(0).normal(size=(80, 80))
    f = lambda w: np.sum(np.tanh(W @ w + 1.0) ** 2 * np.cos(w))
    cf = dd.compile(f)
    w1, w2 = np.random.default_rng(1).normal(size=(80, 80)), np.random.default_rng(2).normal(size=(80, 80))
    assert "out=ws[" in cf.source("grad", w1) and "out=ws[" in cf.source("jvp", w1)
    g1 = cf.grad(w1)
    keep = g1.copy()
    y, pullback = cf.vjp(w1)
    g2 = cf.grad(w2)  # reuses the workspace
    same(g1, keep)
    same(pullback(1.0), dd.grad(f)(w1))  # the pullback kept what it needs, not the workspace
    same(g2, dd.grad(f)(w2))
    t1 = cf.jvp(w1, w2)[1]
    same(cf.jvp(w2, w1)[1], dd.jvp(f, w2, w1)[1])
    same(t1, dd.jvp(f, w1, w2)[1])


def test_concurrent_calls_take_their_own_workspace():
    import threading

    W = np.random.default_rng(0).normal(size=(70, 70))
    f = lambda w: np.sum(np.sin(W @ w) * w)
    cf = dd.compile(f)
    xs = [np.random.default_rng(k).normal(size=(70, 70)) for k in range(4)]
    want = [dd.grad(f)(x) for x in xs]
    got: dict = {}

    def work(k):
        for _ in range(20):
            got[k] = cf.grad(xs[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        same(got[k], want[k])


def test_cotangent_of_another_dtype_takes_code_of_its_own():
    f = lambda x: np.sin(x) * 2.0
    cf = dd.compile(f)
    x = np.linspace(0.1, 0.9, 5)
    y, pullback = cf.vjp(x)
    y_bar = np.ones(5) * (1 + 2j)
    same(pullback(y_bar), dd.vjp(f, x)[1](y_bar))
    same(pullback(np.ones(5)), dd.vjp(f, x)[1](np.ones(5)))


def test_numpy_scalars_and_domains(monkeypatch):
    f = lambda x: np.log(x[0]) * np.sqrt(x[1])
    cf = dd.compile(f)
    x = (np.float64(2.0), np.float64(3.0))
    same(cf.grad(x), dd.grad(f)(x))
    monkeypatch.setattr(compiled_module, "RAISE_ON_FALLBACK", False)
    with pytest.raises(dd.DomainError, match="log"):
        cf.grad((np.float64(-2.0), np.float64(3.0)))


def test_cli_compare_reports_compiled_columns():
    import argparse
    import io

    from dualdiff.cli.compare import register, run_compare

    parser = argparse.ArgumentParser(prog="dualdiff")
    register(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    args = parser.parse_args(["compare", "--n", "5,10", "--repeat", "1", "--no-memory"])
    assert run_compare(args, out) == 0
    assert "compiled fwd" in out.getvalue() and "compile" in out.getvalue()
    out = io.StringIO()
    args = parser.parse_args(["compare", "--n", "5,10", "--repeat", "1", "--no-memory", "--no-compiled"])
    assert run_compare(args, out) == 0
    assert "compiled fwd" not in out.getvalue()
