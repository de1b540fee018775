"""Taylor mode (``dd.taylor``, ``dd.derivatives``, ``dd.Taylor``) against mpmath, nested derivatives and itself.

Every elementwise rule of ``dualdiff.rules.TABLE`` is checked to order 8
against ``mpmath.taylor`` of ``t -> f(x + t v)`` (30 digits for float64
results, 60 digits for results at 50), at points hypothesis draws where
``tests/reference.py`` says the rule is well conditioned; so a rule added
later is tested here without editing this file. The special-case recurrences
are checked against the generic route (the rule's partials on Taylor numbers)
and the array rules against nested ``dd.derivative`` of ``t -> f(x + t v)``.
Expected values never come from Taylor mode itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import (
    REFERENCES,
    complex_points,
    mp_complex_points,
    mp_real_points,
    nudge,
    nudge_complex,
    precision,
    real_points,
)

import dualdiff as dd
from dualdiff.modes import taylor as taylor_mode
from dualdiff.modes.core import apply_general
from dualdiff.modes.functions import FUNCTIONS
from dualdiff.modes.taylor_kernels import KERNELS
from dualdiff.rules import TABLE, Elementwise
from dualdiff.rules.kinds import General, register, unregister

ELEMENTWISE = sorted(name for name, rule in TABLE.items() if isinstance(rule, Elementwise))
NON_HOLOMORPHIC = {name for name in ELEMENTWISE if not TABLE[name].holomorphic}
HOLOMORPHIC = [name for name in ELEMENTWISE if TABLE[name].holomorphic]
#: abs of a complex number is differentiated as a real function of (Re z, Im z), as in JAX
REFUSING_COMPLEX = sorted(NON_HOLOMORPHIC - {"abs"})
OPERATORS: dict[str, Callable[..., Any]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "neg": lambda a: -a,
    "pos": lambda a: +a,
}

ORDER = 8
RTOL = 1e-12
MP_DPS, REF_DPS = 50, 60
MP_RTOL = mpmath.mpf("1e-40")

FLOATS = settings(max_examples=8, deadline=None)
FEW = settings(max_examples=4, deadline=None)

#: Directions: not tiny, so that mpmath.taylor's difference steps resolve them.
DIRECTION = st.one_of(st.floats(0.25, 2.0), st.floats(-2.0, -0.25))


@pytest.fixture(autouse=True, scope="module")
def _mp_precision_untouched():
    saved = mpmath.mp.prec
    yield
    changed = mpmath.mp.prec
    mpmath.mp.prec = saved
    assert changed == saved, f"mpmath precision left at {changed} bits, was {saved}"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def public(name: str) -> Callable[..., Any]:
    """How a user reaches the rule: an operator, ``dd.<name>``, or (internal rules) its function."""
    return OPERATORS.get(name) or getattr(dd, name, None) or FUNCTIONS[name]


def taylor_of_rule(name: str, point: Sequence[Any], direction: Sequence[Any], order: int = ORDER) -> tuple[Any, ...]:
    """``dd.taylor`` of the rule along the line; arguments whose direction is None stay plain constants."""
    fn = public(name)
    moving = [i for i, v in enumerate(direction) if v is not None]

    def f(xs: tuple[Any, ...]) -> Any:
        args = list(point)
        for i, xi in zip(moving, xs):
            args[i] = xi
        return fn(*args)

    return dd.taylor(f, tuple(point[i] for i in moving), tuple(direction[i] for i in moving), order=order)


def reference_coefficients(name: str, point: Sequence[Any], direction: Sequence[Any], n: int) -> list[Any]:
    """``mpmath.taylor`` of ``t -> fn(x + t v)`` to ``n`` (at the current precision)."""
    ref = REFERENCES[name]
    pt = [mpmath.mpmathify(p) for p in point]
    dv = [mpmath.mpmathify(0 if v is None else v) for v in direction]
    if ref.zero_derivative:  # stop_gradient: the value, and no derivative by definition
        return [mpmath.mpmathify(ref.fn(*pt))] + [mpmath.mpf(0)] * n
    return mpmath.taylor(lambda t: ref.fn(*[p + t * v for p, v in zip(pt, dv)]), 0, n)


def assert_coefficients(got: Sequence[Any], want: Sequence[Any], rtol: Any, what: str) -> None:
    """``|y_k - ref_k| <= rtol * scale_k``, computed in mpmath (``want`` has one term more than ``got``).

    ``scale_k`` is ``|ref_k|``, or the geometric mean of its neighbours
    ``sqrt(|ref_{k-1} ref_{k+1}|)`` when that is larger: a coefficient that
    passes near zero as the point moves is compared at the size the
    coefficients of that order have around it, since its own digits are
    ill-conditioned there (the value, ``k = 0``, also gets an absolute 1e-14
    at float64). mpmath.taylor's difference quotients are accurate to about
    ``10^-dps`` in absolute terms only, so differences below ``10^(3-dps)``
    are not resolved (hypothesis likes points such as 1e-220). Where the
    reference is a polynomial (``hypot(x, 0)``), the zeros of its tail are
    compared relative to the largest coefficient.
    """
    floor = mpmath.mpf(10) ** (3 - mpmath.mp.dps)
    for k, g in enumerate(got):
        w = want[k]
        scale = abs(w)
        if k:
            scale = max(scale, mpmath.sqrt(abs(want[k - 1]) * abs(want[k + 1])))
        if all(abs(r) <= floor for r in want[k:]):  # a polynomial's tail (|x| along a line): exact zeros
            scale = max(abs(r) for r in want)
        tol = rtol * scale + (mpmath.mpf("1e-14") if k == 0 and rtol > 1e-20 else floor)
        err = abs(mpmath.mpmathify(g) - w)
        assert err <= tol, (
            f"{what}: coefficient {k}: got {g!r}, reference {mpmath.nstr(w, 20)}, "
            f"error {mpmath.nstr(err, 3)} > tolerance {mpmath.nstr(tol, 3)}"
        )


def moving_direction(data: Any, nin: int) -> list[Any]:
    """A direction per argument; with two arguments, either may be a constant (None)."""
    direction = [data.draw(DIRECTION, label=f"v{i}") for i in range(nin)]
    if nin > 1:
        keep = data.draw(st.sampled_from(["both"] + [f"only {i}" for i in range(nin)]), label="moving")
        if keep != "both":
            direction = [v if keep == f"only {i}" else None for i, v in enumerate(direction)]
    return direction


def nested(f: Callable[[Any], Any], k: int) -> Callable[[Any], Any]:
    for _ in range(k):
        f = dd.derivative(f)
    return f


def line_reference(f: Callable[[Any], Any], x: Any, v: Any, d: int) -> list[Any]:
    """The Taylor coefficients of ``t -> f(x + t v)`` by nesting ``dd.derivative`` in t."""
    return [nested(lambda t: f(x + t * v), k)(0.0) / math.factorial(k) for k in range(d + 1)]


def assert_same_series(got: Sequence[Any], want: Sequence[Any], rtol: float = 1e-12) -> None:
    """Coefficient by coefficient, relative to the largest coefficient of the series."""
    scale = max(float(np.max(np.abs(w))) for w in want) or 1.0
    for k, (g, w) in enumerate(zip(got, want)):
        assert np.shape(g) == np.shape(w), f"coefficient {k}: shape {np.shape(g)}, expected {np.shape(w)}"
        err = float(np.max(np.abs(np.asarray(g) - np.asarray(w))))
        assert err <= rtol * scale, f"coefficient {k}: error {err:.2e} (scale {scale:.2e})"


# --------------------------------------------------------------------------
# 1. every elementwise rule against mpmath.taylor
# --------------------------------------------------------------------------


def test_every_elementwise_rule_has_a_reference():
    assert not set(ELEMENTWISE) - set(REFERENCES)


@pytest.mark.parametrize("name", ELEMENTWISE)
@FLOATS
@given(data=st.data())
def test_float_coefficients_match_mpmath(name, data):
    ref = REFERENCES[name]
    point = data.draw(real_points(ref), label="point")
    direction = moving_direction(data, ref.nin)
    got = taylor_of_rule(name, point, direction)
    assert len(got) == ORDER + 1 and all(type(c) is float for c in got), got
    with precision(30):
        want = reference_coefficients(name, point, direction, ORDER + 1)
        assert_coefficients(got, want, RTOL, f"{name} at {point} along {direction}")


@pytest.mark.parametrize("name", ELEMENTWISE)
@FEW
@given(data=st.data())
def test_mpmath_coefficients_at_50_digits(name, data):
    ref = REFERENCES[name]
    raw = data.draw(mp_real_points(ref), label="point")
    direction = moving_direction(data, ref.nin)
    with precision(MP_DPS):
        point = tuple(nudge(x, k) for x, k in raw)
        mp_dir = [None if v is None else mpmath.mpf(v) / 3 for v in direction]  # more than 53 bits
        got = taylor_of_rule(name, point, mp_dir)
    for c in got:
        assert isinstance(c, mpmath.mpf), f"{name}: an mpf point gave the coefficient {c!r}"
    with precision(REF_DPS):
        want = reference_coefficients(name, point, mp_dir, ORDER + 1)
        assert_coefficients(got, want, MP_RTOL, f"{name} at {MP_DPS} digits at {point}")


@pytest.mark.parametrize("name", HOLOMORPHIC)
@FEW
@given(data=st.data())
def test_complex_coefficients_match_mpmath(name, data):
    ref = REFERENCES[name]
    point = data.draw(complex_points(ref), label="point")
    direction = [complex(data.draw(DIRECTION), data.draw(DIRECTION)) for _ in range(ref.nin)]
    got = taylor_of_rule(name, point, direction)
    with precision(30):
        want = reference_coefficients(name, point, direction, ORDER + 1)
        assert_coefficients(got, want, RTOL, f"complex {name} at {point} along {direction}")


@pytest.mark.parametrize("name", HOLOMORPHIC)
@settings(max_examples=2, deadline=None)
@given(data=st.data())
def test_mpc_coefficients_at_50_digits(name, data):
    ref = REFERENCES[name]
    raw = data.draw(mp_complex_points(ref), label="point")
    with precision(MP_DPS):
        point = tuple(nudge_complex(*p) for p in raw)
        direction = [mpmath.mpc(1, 1) / 3 for _ in point]
        got = taylor_of_rule(name, point, direction, order=6)
    with precision(REF_DPS):
        want = reference_coefficients(name, point, direction, 7)
        assert_coefficients(got, want, MP_RTOL, f"mpc {name} at {point}")


@pytest.mark.parametrize("name", REFUSING_COMPLEX)
def test_non_holomorphic_rules_refuse_complex(name):
    args = (0.75 + 0.5j,) + (0.25,) * (TABLE[name].nin - 1)
    with pytest.raises(TypeError, match="complex"):
        taylor_of_rule(name, args, (1.0,) + (None,) * (len(args) - 1), order=3)


@pytest.mark.parametrize("name", ["exp", "sin", "log", "tanh", "arctan", "pow", "truediv", "hypot", "maximum"])
def test_arrays_elementwise_with_broadcasting(name):
    """An array of points at once, against one scalar Taylor pass per element."""
    rng = np.random.default_rng(7)
    ref = REFERENCES[name]
    lo, hi = ref.args[0].real[-1]
    x = rng.uniform(lo, hi, size=(2, 3))
    v = rng.uniform(-1, 1, size=(2, 3))
    fn = public(name)
    if ref.nin == 1:
        got = dd.taylor(fn, x, v, order=6)
        want = [[taylor_of_rule(name, (x[i, j],), (v[i, j],), 6) for j in range(3)] for i in range(2)]
    else:
        lo2, hi2 = ref.args[1].real[-1]
        c = rng.uniform(lo2, hi2, size=3)  # a constant row, broadcast over the rows of x
        got = dd.taylor(lambda a: fn(a, c), x, v, order=6)
        want = [[taylor_of_rule(name, (x[i, j], c[j]), (v[i, j], None), 6) for j in range(3)] for i in range(2)]
    for k in range(7):
        assert np.shape(got[k]) == (2, 3)
        np.testing.assert_allclose(got[k], [[w[k] for w in row] for row in want], rtol=1e-14, atol=1e-300)


def test_float32_arrays_stay_float32():
    x = np.linspace(0.5, 1.5, 4, dtype=np.float32)
    got = dd.taylor(lambda a: np.exp(a) * a, x, np.ones_like(x), order=3)
    assert all(c.dtype == np.float32 for c in got)


# --------------------------------------------------------------------------
# 2. the special cases against the generic route
# --------------------------------------------------------------------------


def _kernel_names() -> list[str]:
    return sorted(rule.name for rule in KERNELS)


@pytest.mark.parametrize("name", _kernel_names())
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_kernel_agrees_with_generic_route(name, data):
    """The rule's own recurrence and its partials on Taylor numbers give the same coefficients."""
    ref = REFERENCES[name]
    point = data.draw(real_points(ref), label="point")
    direction = moving_direction(data, ref.nin)
    rule = TABLE[name]
    special = taylor_of_rule(name, point, direction, order=6)
    kernel = KERNELS.pop(rule)
    try:
        generic = taylor_of_rule(name, point, direction, order=6)
    finally:
        KERNELS[rule] = kernel
    with precision(30):
        want = reference_coefficients(name, point, direction, 7)
    assert_coefficients(generic, want, RTOL, f"generic route of {name}")
    scale = max(abs(c) for c in special) or 1.0
    for k, (a, b) in enumerate(zip(special, generic)):
        assert abs(a - b) <= 1e-13 * scale, f"{name}: coefficient {k}: special {a!r}, generic {b!r}"


def test_everything_generic_agrees_with_the_special_cases(monkeypatch):
    """With no special case at all, every coefficient still comes out of the partials (at O(d^3))."""

    def f(x: Any) -> Any:
        return dd.exp(dd.sin(x) * x) / (1 + x * x) + dd.sqrt(x) * dd.tanh(x) ** 3 - dd.log1p(x) ** 0.5

    special = dd.taylor(f, 0.7, order=6)
    monkeypatch.setattr(taylor_mode, "KERNELS", {})
    generic = dd.taylor(f, 0.7, order=6)
    assert_same_series(generic, special, 1e-14)


def test_a_rule_registered_later_works_in_taylor_mode():
    """A user rule gets Taylor coefficients from its partials: one that needs y, one that does not."""
    myexp = dd.defelementwise("myexp_t14", lambda m, x: m.exp(x), partials=[lambda m, y, x: y])
    myatan = dd.defelementwise("myatan_t14", lambda m, x: m.arctan(x), partials=[lambda m, y, x: 1 / (1 + x * x)])
    try:
        e = dd.taylor(myexp, 0.3, 0.7, order=ORDER)
        a = dd.taylor(myatan, 0.3, 0.7, order=ORDER)
        with precision(30):
            want_e = mpmath.taylor(lambda t: mpmath.exp(mpmath.mpf(0.3) + t * mpmath.mpf(0.7)), 0, ORDER + 1)
            want_a = mpmath.taylor(lambda t: mpmath.atan(mpmath.mpf(0.3) + t * mpmath.mpf(0.7)), 0, ORDER + 1)
            assert_coefficients(e, want_e, RTOL, "myexp")
            assert_coefficients(a, want_a, RTOL, "myatan")
    finally:
        dd.unregister_rule("myexp_t14")
        dd.unregister_rule("myatan_t14")


# --------------------------------------------------------------------------
# 3. the seed examples and the documented policy at singular points
# --------------------------------------------------------------------------


def test_seed_examples():
    assert dd.derivatives(lambda x: x**3, order=3)(2.0) == (8.0, 12.0, 12.0, 6.0)
    for x in (-1.5, 0.0, 2.0, 7.25):
        assert dd.derivatives(lambda x: x**3, order=3)(x)[3] == 6.0
    assert dd.derivatives(lambda x: x**3, order=2)(2.0)[2] == 12.0
    for x in (-2.0, -0.3, 0.0, 0.5, 1.7):
        f0, _, f2 = dd.derivatives(lambda x: dd.exp(-(x**2)), order=2)(x)
        assert f2 == pytest.approx((4 * x * x - 2) * math.exp(-x * x), rel=1e-14, abs=1e-300)
        assert f0 == math.exp(-x * x)
    assert dd.taylor(lambda x: ((x + 2) * 3) ** 2, 3.0, order=1) == (225.0, 90.0)


def test_sin_at_fifty_digits_to_order_twenty():
    with precision(50):
        x = mpmath.mpf(1)
        got = dd.taylor(dd.sin, x, order=20)
        for k, c in enumerate(got):
            want = mpmath.sin(x + k * mpmath.pi / 2) / mpmath.factorial(k)
            assert abs(c - want) <= mpmath.mpf("1e-48") * abs(want)


@pytest.mark.parametrize(
    "f, x",
    [
        (lambda x: x**3, 0.0),
        (lambda x: x**2 * dd.sin(x), 0.0),
        (lambda x: dd.abs(x) * x, 0.0),
        (lambda x: dd.relu(x), 0.0),
        (lambda x: dd.maximum(x, 0.0), 0.0),
        (lambda x: dd.hypot(x, 0.0), 0.0),
        (lambda x: FUNCTIONS["sqrt0"](x * x), 0.0),
        (lambda x: dd.sign(x) + dd.floor(x), 0.5),
    ],
    ids=["cube", "x2sin", "abs", "relu", "maximum", "hypot", "sqrt0", "piecewise"],
)
def test_kinks_and_zeros_follow_nested_derivatives(f, x):
    """At kinks and zero bases Taylor mode follows the rules' policy exactly as nested Duals do."""
    got = dd.taylor(f, x, order=4)
    want = [nested(f, k)(x) / math.factorial(k) for k in range(5)]
    assert list(got) == want


def test_ieee_limits_at_singular_points():
    assert dd.taylor(dd.log, 0.0, order=2)[:2] == (-math.inf, math.inf)
    assert dd.taylor(dd.sqrt, 0.0, order=1) == (0.0, math.inf)
    assert dd.taylor(lambda x: 1 / x, 0.0, order=1) == (math.inf, -math.inf)
    with precision(30):
        y0, y1 = dd.taylor(dd.log, mpmath.mpf(0), order=1)
        assert y0 == -mpmath.inf and y1 == mpmath.inf
    with pytest.raises(dd.DomainError):
        dd.taylor(dd.log, -1.0, order=3)
    with pytest.raises(dd.DomainError):
        dd.taylor(dd.sqrt, np.array([1.0, -1.0]), np.ones(2), order=2)


# --------------------------------------------------------------------------
# 4. nesting: Taylor mode and the other transforms agree, with no confusion of levels
# --------------------------------------------------------------------------


def f_scalar(x: Any) -> Any:
    return dd.exp(dd.sin(x) * x) / (1 + x * x) + dd.sqrt(x) * dd.tanh(x) ** 3 + x**2.5


X0 = 0.7
NESTED = [nested(f_scalar, k)(X0) for k in range(6)]


def test_taylor_agrees_with_nested_derivative_to_order_four():
    assert_same_series(dd.derivatives(f_scalar, order=4)(X0), NESTED[:5], 1e-14)


def test_taylor_of_a_program():
    prog = dd.wengert(f_scalar, X0)
    assert_same_series(dd.derivatives(prog, order=4)(X0), NESTED[:5], 1e-14)
    assert_same_series(dd.derivatives(prog, order=4)(0.9), [nested(f_scalar, k)(0.9) for k in range(5)], 1e-14)


def test_taylor_of_derivative_and_derivative_of_taylor():
    assert_same_series(dd.derivatives(dd.derivative(f_scalar), order=3)(X0), NESTED[1:5], 1e-14)
    assert_same_series(dd.derivatives(dd.grad(f_scalar), order=3)(X0), NESTED[1:5], 1e-14)
    d4 = dd.derivative(lambda x: dd.derivatives(f_scalar, order=3)(x)[3])(X0)
    assert d4 == pytest.approx(NESTED[4], rel=1e-14)
    g4 = dd.grad(lambda x: dd.derivatives(f_scalar, order=3)(x)[3])(X0)
    assert g4 == pytest.approx(NESTED[4], rel=1e-14)
    t = dd.derivatives(lambda x: dd.derivatives(f_scalar, order=2)(x)[2], order=2)(X0)
    assert_same_series(t, NESTED[2:5], 1e-14)


def test_derivative_with_respect_to_the_direction():
    """Coefficients of Duals (and tape variables) when the direction itself is differentiated: y_k ~ v^k."""
    y3 = dd.taylor(f_scalar, X0, order=3)[3]
    assert dd.derivative(lambda v: dd.taylor(f_scalar, X0, v, order=3)[3])(1.0) == pytest.approx(3 * y3, rel=1e-13)
    assert dd.grad(lambda v: dd.taylor(f_scalar, X0, v, order=3)[3])(1.0) == pytest.approx(3 * y3, rel=1e-13)


def test_no_perturbation_confusion():
    # d/dy [coefficient of t in (x y + x^2 y) at x = 1 + t] = d/dy [3 y] = 3
    h = lambda y: dd.taylor(lambda x: x * y + x * x * y, 1.0, order=2)[1]
    assert dd.derivative(h)(2.0) == 3.0
    # the same with Taylor mode outside: the inner taylor's t is not the outer one's
    g = lambda y: dd.taylor(lambda x: dd.sin(x * y), 0.5, order=2)[2]  # -y^2 sin(y/2) / 2
    got = dd.taylor(g, 1.3, order=2)
    assert_same_series(got, line_reference(lambda y: -(y**2) * dd.sin(y / 2) / 2, 1.3, 1.0, 2), 1e-14)


def test_hand_built_taylor_numbers():
    x = dd.Taylor(2.0, [1.0, 0.0, 0.0])
    assert (x**3).coefficients == (8.0, 12.0, 6.0, 1.0)
    assert (x**3).derivatives() == (8.0, 12.0, 12.0, 6.0)
    assert (x**3).order == 3
    # hand-built Taylor numbers are a level above hand-built Duals: Taylor coefficients that are Duals
    z = dd.Taylor(dd.Dual(2.0, 1.0), [1.0, 0.0, 0.0]) ** 3  # (x0 + t)^3 and its derivative in x0
    parts = [(c.primal, c.tangent) if isinstance(c, dd.Dual) else (c, 0.0) for c in z.coefficients]
    assert parts == [(8.0, 12.0), (12.0, 12.0), (6.0, 3.0), (1.0, 0.0)]


def test_taylor_numbers_refuse_to_become_floats():
    x = dd.Taylor(2.0, [1.0])
    for convert in (float, int, complex):
        with pytest.raises(TypeError, match="would drop its derivative"):
            convert(x)
    with pytest.raises(TypeError, match="Taylor"):
        dd.taylor(lambda x: float(x), 1.0, order=2)


# --------------------------------------------------------------------------
# 5. arrays: linear and general rules against nested derivatives along the line
# --------------------------------------------------------------------------

RNG = np.random.default_rng(0)
M = RNG.normal(size=(3, 3))
V = RNG.normal(size=(3, 3))
S = RNG.normal(size=(2, 3, 3))
VS = RNG.normal(size=(2, 3, 3))
C = RNG.normal(size=(3, 2))
SHIFT = 3 * np.eye(3)
WITH_ZERO = M.copy()
WITH_ZERO[1, 1] = 0.0

ARRAY_CASES = {
    "matmul": (lambda X: (X @ np.sin(X)) @ C + X @ C, M),
    "matmul vector": (lambda X: np.cos(X) @ X[0], M),
    "tensordot": (lambda X: np.tensordot(X, np.exp(X), axes=([1], [0])), M),
    "einsum three": (lambda X: np.einsum("ij,jk,kl->il", X, np.sin(X), X), M),
    "where": (lambda X: np.where(X > 0, X**2, np.sin(X)), M),
    "concatenate": (lambda X: np.concatenate([X, np.exp(X), C], axis=1), M),
    "max min": (lambda X: np.max(X * X, axis=0) + np.min(np.sin(X)), M),
    "prod": (lambda X: np.prod(X, axis=1) + np.prod(np.cos(X)), M),
    "prod with a zero": (lambda X: np.prod(X, axis=1) + np.prod(X, axis=(0,), keepdims=True), WITH_ZERO),
    "inv": (lambda X: np.linalg.inv(X + SHIFT), M),
    "solve matrix": (lambda X: np.linalg.solve(X + SHIFT, np.sin(X)), M),
    "solve vector": (lambda X: np.linalg.solve(X + SHIFT, X[0]), M),
    "solve constant matrix": (lambda X: np.linalg.solve(M + SHIFT, X) @ C + np.linalg.solve(X + SHIFT, C), M),
    "solve stacked": (lambda X: np.linalg.solve(X + SHIFT, np.ones(3)), S),
    "det": (lambda X: np.linalg.det(X + SHIFT), M),
    "det stacked": (lambda X: np.linalg.det(X + SHIFT), S),
    "slogdet": (lambda X: np.linalg.slogdet(X + SHIFT)[1], M),
    "linear maps": (
        lambda X: np.sum(np.transpose(X) * np.cumsum(X, axis=0)) + np.trace(X) + np.diag(X) @ np.reshape(X, 9)[:3],
        M,
    ),
    "reductions": (lambda X: np.mean(X, axis=0) * np.var(X) + np.std(X, axis=1) + np.linalg.norm(X), M),
    "indexing": (lambda X: np.clip(X, -0.5, 0.5)[[0, 2]] * X[1:, ::2].sum(), M),
    "broadcasting": (lambda X: np.broadcast_to(X[0], (2, 3)) * np.arange(3.0) + X[:2, None, 0], M),
    "diag": (lambda X: np.diag(np.sin(X[0])) @ X, M),
}


@pytest.mark.parametrize("case", sorted(ARRAY_CASES))
def test_array_rules_against_nested_derivatives(case):
    f, x = ARRAY_CASES[case]
    v = VS if x.shape == S.shape else V
    got = dd.taylor(f, x, v, order=4)
    assert_same_series(got, line_reference(f, x, v, 4), 1e-12)


def test_complex_arrays():
    x = M + 1j * V
    f = lambda X: np.conj(X) * np.exp(X) + X @ X
    assert_same_series(dd.taylor(f, x, V + 0.5j, order=4), line_reference(f, x, V + 0.5j, 4), 1e-12)


def test_general_rule_without_a_formula_uses_its_linear_maps():
    """A general rule registered later (the cube of a matrix) gets its coefficients from its maps."""

    def maps(t, nbatch, y, args, params):
        (a,) = args
        return t @ a @ a + a @ t @ a + a @ a @ t

    cube = register(
        General(
            "matcube_t14",
            1,
            "cube({0})",
            fn=lambda a: a @ a @ a,
            linear_maps=(maps,),
            transposes=(lambda g, nbatch, y, args, params: None,),
        )
    )
    try:
        f = lambda X: apply_general(cube, (np.sin(X),))
        assert_same_series(dd.taylor(f, M, V, order=4), line_reference(f, M, V, 4), 1e-12)
    finally:
        unregister("matcube_t14")


def test_general_rule_whose_maps_read_the_output():
    """Maps that read y (here: det's, d det = det * tr(inv(a) da)) are called once per order."""
    det_like = register(
        General(
            "mydet_t14",
            1,
            "mydet({0})",
            fn=np.linalg.det,
            linear_maps=(lambda t, nbatch, y, args, params: y * np.sum(np.linalg.inv(args[0]).T * t),),
            transposes=(lambda g, nbatch, y, args, params: None,),
        )
    )
    try:
        f = lambda X: apply_general(det_like, (X + SHIFT,))
        assert_same_series(dd.taylor(f, M, V, order=4), line_reference(lambda X: np.linalg.det(X + SHIFT), M, V, 4))
    finally:
        unregister("mydet_t14")


# --------------------------------------------------------------------------
# 6. the transforms' inputs and outputs
# --------------------------------------------------------------------------


def test_tuples_in_and_out():
    f = lambda p: (p[0] * p[1], np.sin(p[1]) * 2.0, 7.0)
    got = dd.taylor(f, (2.0, np.array([0.5, 1.0])), (1.0, np.array([1.0, -1.0])), order=3)
    assert len(got) == 4
    for k, (a, b, c) in enumerate(got):
        assert np.shape(a) == (2,) and np.shape(b) == (2,)
        assert c == (7.0 if k == 0 else 0.0)
    ref_a = line_reference(lambda s: (2.0 + s) * (np.array([0.5, 1.0]) + s * np.array([1.0, -1.0])), 0.0, 1.0, 3)
    assert_same_series([g[0] for g in got], ref_a)


def test_object_array_output():
    got = dd.taylor(lambda x: np.array([x * x, dd.sin(x)]), 0.5, order=3)
    assert_same_series(got, line_reference(lambda x: np.array([x * x, dd.sin(x)]), 0.5, 1.0, 3))


def test_derivatives_of_array_output_and_mpmath_seed():
    got = dd.derivatives(lambda x: np.array([1.0, 2.0]) * x**2, order=3)(3.0)
    assert [list(g) for g in got] == [[9.0, 18.0], [6.0, 12.0], [2.0, 4.0], [0.0, 0.0]]
    with precision(40):
        c = dd.derivatives(dd.exp, order=3)(mpmath.mpf(1))
        assert all(isinstance(ci, mpmath.mpf) and abs(ci - mpmath.e) < mpmath.mpf("1e-38") for ci in c)


def test_order_zero_and_one():
    assert dd.taylor(dd.sin, 0.5, order=0) == (math.sin(0.5),)
    assert dd.taylor(dd.sin, 0.5, order=1) == dd.jvp(dd.sin, 0.5, 1.0)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: dd.taylor(dd.sin, np.ones(2), order=2), ValueError, "needs a direction v"),
        (lambda: dd.taylor(dd.sin, (1.0, 2.0), order=2), ValueError, "needs a direction v"),
        (lambda: dd.taylor(dd.sin, np.ones(2), np.ones(3), order=2), ValueError, "shaped like x"),
        (lambda: dd.taylor(dd.sin, 1.0, order=-1), ValueError, "order must be a non-negative int"),
        (lambda: dd.taylor(dd.sin, 1.0, order=2.0), ValueError, "order must be a non-negative int"),
        (lambda: dd.taylor(1.0, 1.0), TypeError, "callable"),
        (lambda: dd.taylor(dd.sin, "a"), TypeError, "x must be a number"),
        (lambda: dd.derivatives(dd.sin)(np.ones(2)), ValueError, "needs a scalar x"),
        (lambda: dd.Taylor(1.0, [1.0]) * dd.Taylor(1.0, [1.0, 0.0]), ValueError, "orders 1 and 2"),
        (lambda: dd.Taylor(np.ones(2), [np.ones(3)]), ValueError, "shape"),
        (lambda: dd.Taylor("x", []), TypeError, "number"),
        (lambda: dd.Taylor(1.0, 2.0), TypeError, "list or tuple"),
    ],
    ids=[
        "array-without-v",
        "tuple-without-v",
        "v-shape",
        "negative-order",
        "float-order",
        "f",
        "x",
        "derivatives-array",
        "mixed-orders",
        "coefficient-shape",
        "primal",
        "coefficients",
    ],
)
def test_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --------------------------------------------------------------------------
# 7. the Taylor table of a trace
# --------------------------------------------------------------------------


def test_taylor_table_matches_taylor_and_renders():
    f = lambda x1, x2: dd.log(x1) + x1 * x2 - dd.sin(x2)
    tr = dd.trace(f, (2.0, 5.0))
    table = tr.taylor_table("x1", order=3)
    rows = {r["variable"]: r for r in table.rows}
    want = dd.taylor(lambda p: f(*p), (2.0, 5.0), (1.0, 0.0), order=3)
    assert [rows["y"]["value"]] + [rows["y"][f"t{k}"] for k in (1, 2, 3)] == list(want)
    assert [rows["v_1"][f"t{k}"] for k in (1, 2, 3)] == [0.5, -0.125, 1 / 24]  # ln(2 + t)
    for render in (table.to_text, table.to_markdown, table.to_latex, table.to_csv):
        assert "v_{-1}" in render()
    assert "t3" in table.to_csv().splitlines()[0]
    assert r"$t^{3}$" in table.to_latex()


def test_taylor_table_seeds_and_errors():
    tr = dd.trace(lambda x: dd.exp(-(x**2)), 0.5)
    t = tr.taylor_table(order=4)
    y = next(r for r in t.rows if r["variable"] == "y")
    want = dd.taylor(lambda x: dd.exp(-(x**2)), 0.5, order=4)
    assert [y["value"]] + [y[f"t{k}"] for k in range(1, 5)] == list(want)
    tr2 = dd.trace(lambda x1, x2: x1 * x2, (2.0, 3.0))
    t2 = tr2.taylor_table({"x2": 1.0}, order=2)
    assert next(r for r in t2.rows if r["variable"] == "y")["t1"] == 2.0
    with pytest.raises(ValueError, match="taylor_table needs a seed direction"):
        tr2.taylor_table(order=2)
    with pytest.raises(ValueError, match="order >= 1"):
        tr.taylor_table(order=0)


# --------------------------------------------------------------------------
# 8. the command line
# --------------------------------------------------------------------------


def test_cli_taylor_table(capsys):
    from dualdiff.cli.main import main

    code = main(["table", "exp(-x**2)", "--at", "x=0.5", "--taylor", "4", "--format", "csv"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    lines = out.strip().splitlines()
    assert lines[0] == "variable,operation,value,t1,t2,t3,t4"
    y = next(line for line in lines if line.startswith("y,")).split(",")
    with precision(30):
        want = mpmath.taylor(lambda x: mpmath.exp(-(x**2)), mpmath.mpf("0.5"), 5)
        assert_coefficients([float(c) for c in y[2:]], want, RTOL, "dualdiff table --taylor 4")
    code = main(["table", "exp(-x**2)", "--at", "x=0.5", "--taylor", "3"])
    out, _ = capsys.readouterr()
    assert code == 0 and "Taylor mode" in out and "t^3" in out and "Forward mode" not in out


@pytest.mark.parametrize("argv", [["--taylor", "0"], ["--taylor", "2", "--forward"], ["--taylor", "x"]])
def test_cli_taylor_errors(capsys, argv):
    from dualdiff.cli.main import main

    code = main(["table", "x*x", "--at", "x=1", *argv])
    _, err = capsys.readouterr()
    assert code == 2 and "taylor" in err


def test_nested_derivatives_of_a_varying_exponent_at_zero():
    """d^2/dt^2 (a + t)^t at t = 0: the exponent's value is 0 there but it varies (generic dpow)."""
    for a in (1.0, 3.0):
        g = lambda t, a=a: (a + t) ** t
        with precision(30):
            want = mpmath.diff(lambda t: (a + t) ** t, 0, 2)
        assert nested(g, 2)(0.0) == pytest.approx(float(want), rel=1e-13)
        assert 2 * dd.taylor(g, 0.0, order=2)[2] == pytest.approx(float(want), rel=1e-13)
