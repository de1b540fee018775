"""Every elementwise rule of the table against an independent mpmath reference.

The rules are read from ``dualdiff.rules.TABLE``, so a rule added later is
tested here without editing this file (and fails until ``tests/reference.py``
has an entry for it). Expected values come from mpmath (``mpmath.diff`` at 30
or more digits) or from mathematics, never from dualdiff's own output.

Forward mode is ``dd.derivative`` / ``dd.jvp``; reverse mode is ``dd.grad`` /
``dd.vjp``. Points are drawn by hypothesis where the derivative is well
conditioned; the documented policies at kinks, boundaries and outside the
domain are tested at their exact points.
"""

from __future__ import annotations

import cmath
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import (
    REFERENCES,
    Reference,
    complex_points,
    mp_complex_points,
    mp_real_points,
    nudge,
    nudge_complex,
    partials,
    precision,
    real_points,
)

import dualdiff as dd
from dualdiff.modes.functions import FUNCTIONS
from dualdiff.rules import TABLE, Elementwise

ELEMENTWISE = sorted(name for name, rule in TABLE.items() if isinstance(rule, Elementwise))
BINARY = [name for name in ELEMENTWISE if TABLE[name].nin == 2]

#: Not complex-differentiable: these must refuse complex input.
NON_HOLOMORPHIC = {"abs", "arctan2", "hypot", "relu", "maximum", "minimum", "sign", "floor", "ceil", "round"} | {
    "remainder",
    "fmod",
    "floor_divide",
    "trunc",
}
HOLOMORPHIC = [name for name in ELEMENTWISE if name not in NON_HOLOMORPHIC]
PIECEWISE_CONSTANT = {"sign", "floor", "ceil", "round", "floor_divide", "trunc", "stop_gradient"}

#: Rules reached through Python operators rather than a function of their own.
OPERATORS: dict[str, Callable[..., Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "pow": operator.pow,
    "neg": operator.neg,
    "pos": operator.pos,
}

#: Float64 results against the 30-digit reference.
RTOL, ATOL = 1e-12, 1e-14
#: Results at 50 digits against the 60-digit reference.
MP_DPS, REF_DPS = 50, 60
MP_RTOL, MP_ATOL = mpmath.mpf("1e-40"), mpmath.mpf("1e-42")
#: Forward against reverse: the same partial from the same table, up to rounding.
SAME_RTOL = 1e-15

SCALAR = settings(max_examples=25, deadline=None)
MP_SCALAR = settings(max_examples=15, deadline=None)
ARRAYS = settings(max_examples=8, deadline=None)


@pytest.fixture(autouse=True, scope="module")
def _mp_precision_untouched():
    """No test (and no dualdiff call) may leave mpmath's precision changed."""
    saved = mpmath.mp.prec
    yield
    changed = mpmath.mp.prec
    mpmath.mp.prec = saved
    assert changed == saved, f"mpmath precision left at {changed} bits, was {saved}"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def reference(name: str) -> Reference:
    ref = REFERENCES.get(name)
    if ref is None:
        pytest.fail(f"rule {name!r} has no mpmath reference entry in tests/reference.py")
    assert ref.nin == TABLE[name].nin, f"reference for {name} takes {ref.nin} arguments, the rule {TABLE[name].nin}"
    return ref


#: Rules used inside NumPy functions only (sqrt0 is np.std's and the 2-norm's root).
INTERNAL = {"sqrt0"}


def public(name: str) -> Callable[..., Any]:
    """The way a user reaches the rule: an operator, ``dd.<name>``, or (internal rules) its function."""
    if name in OPERATORS:
        return OPERATORS[name]
    if name in INTERNAL:
        return FUNCTIONS[name]
    fn = getattr(dd, name, None)
    assert callable(fn), f"rule {name!r} has no public function dd.{name}"
    return fn


def one_like(x: Any) -> Any:
    return mpmath.mpf(1) if isinstance(x, (mpmath.mpf, mpmath.mpc)) else 1.0


def zero_like(x: Any) -> Any:
    return mpmath.mpf(0) if isinstance(x, (mpmath.mpf, mpmath.mpc)) else 0.0


def forward_partials(name: str, point: Sequence[Any]) -> list[Any]:
    """Each partial by forward mode: ``dd.derivative`` (one argument) or ``dd.jvp`` on a tuple."""
    f = public(name)
    if len(point) == 1:
        return [dd.derivative(f)(point[0])]
    out = []
    for i in range(len(point)):
        v = tuple(one_like(p) if j == i else zero_like(p) for j, p in enumerate(point))
        out.append(dd.jvp(lambda t: f(*t), tuple(point), v)[1])
    return out


def forward_partials_closure(name: str, point: Sequence[Any]) -> list[Any]:
    """Each partial by ``dd.derivative`` with the other argument held constant."""
    f = public(name)
    a, b = point
    return [dd.derivative(lambda s: f(s, b))(a), dd.derivative(lambda s: f(a, s))(b)]


def reverse_partials(name: str, point: Sequence[Any]) -> list[Any]:
    """Each partial by reverse mode: ``dd.grad``."""
    f = public(name)
    if len(point) == 1:
        return [dd.grad(f)(point[0])]
    return list(dd.grad(lambda t: f(*t))(tuple(point)))


def close(got: Any, want: Any, rtol: Any, atol: Any) -> bool:
    """|got - want| <= rtol |want| + atol, computed in mpmath (complex allowed)."""
    g, w = mpmath.mpmathify(got), mpmath.mpmathify(want)
    if not mpmath.isfinite(g):
        return False
    return abs(g - w) <= rtol * abs(w) + atol


def assert_close(got: Sequence[Any], want: Sequence[Any], rtol: Any, atol: Any, what: str, point: Any) -> None:
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert close(g, w, rtol, atol), (
            f"{what}: partial {i} at {point!r}: got {g!r}, reference {mpmath.nstr(w, 20)} "
            f"(relative error {mpmath.nstr(abs(mpmath.mpmathify(g) - w) / abs(w), 3) if w else 'n/a'})"
        )


# --------------------------------------------------------------------------
# the reference covers the table
# --------------------------------------------------------------------------


def test_every_elementwise_rule_has_a_reference():
    missing = sorted(set(ELEMENTWISE) - set(REFERENCES))
    assert not missing, f"rules without an mpmath reference in tests/reference.py: {missing}"
    stale = sorted(set(REFERENCES) - set(ELEMENTWISE))
    assert not stale, f"reference entries for rules that are not in TABLE: {stale}"
    for name in ELEMENTWISE:
        reference(name)


def test_holomorphic_classification_matches_reference():
    for name in ELEMENTWISE:
        assert reference(name).holomorphic == (name not in NON_HOLOMORPHIC), name


def test_piecewise_constant_flag():
    flagged = {name for name in ELEMENTWISE if TABLE[name].piecewise_constant}
    assert flagged == PIECEWISE_CONSTANT


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_public_function_exists(name):
    public(name)


# --------------------------------------------------------------------------
# 1. forward mode at float64 against mpmath.diff at 30 digits
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE)
@SCALAR
@given(data=st.data())
def test_forward_float_matches_mpmath(name, data):
    ref = reference(name)
    point = data.draw(real_points(ref), label="point")
    got = forward_partials(name, point)
    if ref.nin == 2:
        got_closure = forward_partials_closure(name, point)
    with precision(30):
        want = partials(ref, point)
    assert_close(got, want, RTOL, ATOL, f"forward {name}", point)
    if ref.nin == 2:
        assert_close(got_closure, want, RTOL, ATOL, f"forward {name} (other argument constant)", point)


# --------------------------------------------------------------------------
# 2. forward mode at 50 digits against mpmath.diff at 60 digits
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE)
@MP_SCALAR
@given(data=st.data())
def test_forward_mpmath_50_digits(name, data):
    ref = reference(name)
    raw = data.draw(mp_real_points(ref), label="point")
    dps = mpmath.mp.dps
    with precision(MP_DPS):
        point = tuple(nudge(x, k) for x, k in raw)
        got = forward_partials(name, point)
        if ref.nin == 2:
            got_closure = forward_partials_closure(name, point)
    assert mpmath.mp.dps == dps
    for g in got:
        assert not isinstance(g, (mpmath.mpc, complex)), f"{name}: a real mpf primal gave a complex derivative {g!r}"
    with precision(REF_DPS):
        want = partials(ref, point)
        assert_close(got, want, MP_RTOL, MP_ATOL, f"forward {name} at {MP_DPS} digits", point)
        if ref.nin == 2:
            assert_close(got_closure, want, MP_RTOL, MP_ATOL, f"forward {name} (other constant)", point)


# --------------------------------------------------------------------------
# 3. reverse equals forward equals mpmath
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE)
@SCALAR
@given(data=st.data())
def test_reverse_equals_forward_float(name, data):
    ref = reference(name)
    point = data.draw(real_points(ref), label="point")
    fwd = forward_partials(name, point)
    rev = reverse_partials(name, point)
    with precision(30):
        want = partials(ref, point)
        assert_close(rev, want, RTOL, ATOL, f"reverse {name}", point)
        assert_close(rev, fwd, SAME_RTOL, 1e-300, f"reverse vs forward {name}", point)


@pytest.mark.parametrize("name", ELEMENTWISE)
@MP_SCALAR
@given(data=st.data())
def test_reverse_equals_forward_mpmath_50_digits(name, data):
    ref = reference(name)
    raw = data.draw(mp_real_points(ref), label="point")
    with precision(MP_DPS):
        point = tuple(nudge(x, k) for x, k in raw)
        fwd = forward_partials(name, point)
        rev = reverse_partials(name, point)
    with precision(REF_DPS):
        want = partials(ref, point)
        assert_close(rev, want, MP_RTOL, MP_ATOL, f"reverse {name} at {MP_DPS} digits", point)
        assert_close(rev, fwd, mpmath.mpf("1e-48"), mpmath.mpf("1e-300"), f"reverse vs forward {name}", point)


# --------------------------------------------------------------------------
# 4. complex arguments
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOLOMORPHIC)
@SCALAR
@given(data=st.data())
def test_complex_derivative_matches_mpmath(name, data):
    ref = reference(name)
    point = data.draw(complex_points(ref), label="point")
    got = forward_partials(name, point)
    with precision(30):
        want = partials(ref, point)
    assert_close(got, want, RTOL, ATOL, f"complex forward {name}", point)


@pytest.mark.parametrize("name", HOLOMORPHIC)
@SCALAR
@given(data=st.data())
def test_complex_arrays_match_mpmath(name, data):
    # NumPy's complex arrays and scalars take another backend than Python complex (and NumPy lacks
    # some complex ufuncs: cbrt, logaddexp): values and partials must still be mpmath's
    ref = reference(name)
    point = data.draw(complex_points(ref), label="point")
    arrays = [np.array([p, p], dtype=np.complex128) for p in point]
    f = public(name)
    with precision(30):
        want_value = complex(ref.fn(*[mpmath.mpc(p) for p in point]))
        want = partials(ref, point)
    value = f(*arrays)
    assert_close([complex(value[0])], [want_value], RTOL, ATOL, f"complex array value of {name}", point)
    scalar = f(*[np.complex128(p) for p in point])
    assert_close([complex(scalar)], [want_value], RTOL, ATOL, f"np.complex128 {name}", point)
    got = []
    for i in range(len(point)):
        v = tuple(np.ones(2, complex) if j == i else np.zeros(2, complex) for j in range(len(point)))
        got.append(complex(dd.jvp(lambda t: f(*t), tuple(arrays), v)[1][0]))
    assert_close(got, want, RTOL, ATOL, f"complex array forward {name}", point)


@pytest.mark.parametrize("name", HOLOMORPHIC)
@MP_SCALAR
@given(data=st.data())
def test_mpc_derivative_50_digits(name, data):
    ref = reference(name)
    raw = data.draw(mp_complex_points(ref), label="point")
    with precision(MP_DPS):
        point = tuple(nudge_complex(*p) for p in raw)
        got = forward_partials(name, point)
    with precision(REF_DPS):
        want = partials(ref, point)
        assert_close(got, want, MP_RTOL, MP_ATOL, f"mpc forward {name} at {MP_DPS} digits", point)


COMPLEX_KINDS = {
    "complex": lambda z: complex(z),
    "mpc": lambda z: mpmath.mpc(z),
    "ndarray": lambda z: np.array(z, dtype=np.complex128),
}


#: Real-valued functions of complex numbers that are differentiated as such (JAX's policy).
REAL_VALUED_OF_COMPLEX = {"abs"}


@pytest.mark.parametrize("kind", sorted(COMPLEX_KINDS))
@pytest.mark.parametrize("name", sorted(NON_HOLOMORPHIC - REAL_VALUED_OF_COMPLEX))
def test_non_holomorphic_rules_refuse_complex(name, kind):
    f = public(name)
    z = COMPLEX_KINDS[kind](0.75 + 0.5j)
    # Only differentiation is refused: a plain value such as abs(1+1j) is what
    # Python or NumPy computes, and it has no derivative to lose.
    if TABLE[name].nin == 1:
        calls = {"forward": lambda: dd.derivative(f)(z), "reverse": lambda: dd.grad(f)(z)}
    else:
        calls = {
            "forward": lambda: dd.derivative(lambda s: f(s, 0.25))(z),
            "forward (second)": lambda: dd.derivative(lambda s: f(0.25, s))(z),
            "reverse": lambda: dd.grad(lambda s: f(s, 0.25))(z),
        }
    for how, call in calls.items():
        with pytest.raises(TypeError):
            call()
            pytest.fail(f"{name} on {kind} input did not raise ({how})")


# --------------------------------------------------------------------------
# 5. NumPy arrays: shapes, dtypes, broadcasting; forward and reverse
# --------------------------------------------------------------------------

SHAPES = [(), (3,), (2, 3)]
DTYPES = [np.float32, np.float64]
ARRAY_TOL = {np.float32: (1e-5, 1e-6), np.float64: (1e-12, 1e-14)}


def _draw_arrays(data: Any, ref: Reference, shape: tuple[int, ...], dtype: Any) -> tuple[np.ndarray, ...]:
    n = int(np.prod(shape))
    pts = data.draw(st.lists(real_points(ref), min_size=n, max_size=n), label="points")
    return tuple(np.array([p[i] for p in pts], dtype=dtype).reshape(shape) for i in range(ref.nin))


def _scalar_partials(name: str, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """dd's scalar (float64) partials at every element (broadcast), one array per argument."""
    bshape = np.broadcast_shapes(*(a.shape for a in arrays))
    flat = [np.broadcast_to(a, bshape).astype(np.float64).ravel() for a in arrays]
    cols: list[list[float]] = [[] for _ in arrays]
    for k in range(len(flat[0])):
        for c, p in zip(cols, forward_partials(name, [float(a[k]) for a in flat])):
            c.append(float(p))
    return [np.array(c).reshape(bshape) for c in cols]


def _assert_array_close(got: Any, want: np.ndarray, scale: np.ndarray, rtol: float, atol: float, what: str) -> None:
    got = np.asarray(got)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    err = np.abs(got.astype(np.float64) - want)
    ok = err <= rtol * scale + atol
    assert np.all(ok), f"{what}: got {got}, expected {want}"


def _lift(name: str) -> Callable[[Any], Any]:
    f = public(name)
    return f if TABLE[name].nin == 1 else (lambda t: f(*t))


def _tree(arrays: Sequence[np.ndarray]) -> Any:
    return arrays[0] if len(arrays) == 1 else tuple(arrays)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ELEMENTWISE)
@ARRAYS
@given(data=st.data())
def test_array_jvp_matches_scalar(name, shape, dtype, data):
    ref = reference(name)
    xs = _draw_arrays(data, ref, shape, dtype)
    vs = tuple(
        np.array(data.draw(st.lists(st.floats(-2, 2), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))))
        .astype(dtype)
        .reshape(shape)
        for _ in xs
    )
    _, y_dot = dd.jvp(_lift(name), _tree(xs), _tree(vs))
    ps = _scalar_partials(name, xs)
    terms = [p * v.astype(np.float64) for p, v in zip(ps, vs)]
    rtol, atol = ARRAY_TOL[dtype]
    _assert_array_close(y_dot, sum(terms), sum(np.abs(t) for t in terms), rtol, atol, f"jvp {name}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ELEMENTWISE)
@ARRAYS
@given(data=st.data())
def test_array_vjp_matches_scalar(name, shape, dtype, data):
    ref = reference(name)
    xs = _draw_arrays(data, ref, shape, dtype)
    n = int(np.prod(shape))
    w = np.array(data.draw(st.lists(st.floats(-2, 2), min_size=n, max_size=n))).astype(dtype).reshape(shape)
    y, pullback = dd.vjp(_lift(name), _tree(xs))
    assert np.shape(y) == shape
    x_bar = pullback(w)
    x_bars = (x_bar,) if ref.nin == 1 else x_bar
    ps = _scalar_partials(name, xs)
    rtol, atol = ARRAY_TOL[dtype]
    for i, (got, p) in enumerate(zip(x_bars, ps)):
        want = p * w.astype(np.float64)
        _assert_array_close(got, want, np.abs(want), rtol, atol, f"vjp {name} argument {i}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_array_dtype_is_preserved(name, dtype):
    """A float32 input gives float32 values, tangents and cotangents, as NumPy's ufuncs do."""
    ref = reference(name)
    point = [lo if lo > 0 or hi < 0 else (lo + hi) / 2 + 0.1234 for lo, hi in (a.real[-1] for a in ref.args)]
    if ref.joint is not None and not ref.joint(*point):
        point = [p + 0.5 * j for j, p in enumerate(point)]
    xs = tuple(np.full((2, 3), p, dtype=dtype) for p in point)
    f, x = _lift(name), _tree(xs)
    y, y_dot = dd.jvp(f, x, _tree(tuple(np.ones((2, 3), dtype) for _ in xs)))
    _, pullback = dd.vjp(f, x)
    x_bar = pullback(np.ones((2, 3), dtype))
    got = {"value": y.dtype, "tangent": np.asarray(y_dot).dtype}
    got.update({f"cotangent {i}": np.asarray(b).dtype for i, b in enumerate(x_bar if ref.nin == 2 else (x_bar,))})
    assert all(d == dtype for d in got.values()), f"{name} on {np.dtype(dtype).name}: {got}"


@pytest.mark.parametrize("shapes", [((3,), (2, 3)), ((2, 3), (3,))], ids=["(3,)x(2,3)", "(2,3)x(3,)"])
@pytest.mark.parametrize("name", BINARY)
@ARRAYS
@given(data=st.data())
def test_broadcasting_binary(name, shapes, data):
    ref = reference(name)
    pts = data.draw(st.lists(real_points(ref), min_size=6, max_size=6), label="points")
    full = [np.array([p[i] for p in pts]).reshape(2, 3) for i in range(2)]
    # the (3,) operand is the first row; the (2,3) one keeps both rows
    xs = tuple(f[0] if s == (3,) else f for f, s in zip(full, shapes))
    if ref.joint is not None:
        bx = np.broadcast_arrays(*xs)
        if not all(ref.joint(float(a), float(b)) for a, b in zip(bx[0].ravel(), bx[1].ravel())):
            # broadcasting pairs row 0 of one with row 1 of the other: keep only good pairs
            return
    vs = tuple(np.array(data.draw(st.lists(st.floats(-2, 2), min_size=6, max_size=6))).reshape(2, 3) for _ in xs)
    vs = tuple(v[0] if s == (3,) else v for v, s in zip(vs, shapes))
    f = _lift(name)
    ps = _scalar_partials(name, xs)  # shape (2, 3) each

    _, y_dot = dd.jvp(f, xs, vs)
    terms = [p * np.broadcast_to(v, (2, 3)) for p, v in zip(ps, vs)]
    _assert_array_close(y_dot, sum(terms), sum(np.abs(t) for t in terms), RTOL, ATOL, f"jvp {name} {shapes}")

    w = np.array(data.draw(st.lists(st.floats(-2, 2), min_size=6, max_size=6))).reshape(2, 3)
    y, pullback = dd.vjp(f, xs)
    assert np.shape(y) == (2, 3)
    x_bars = pullback(w)
    for i, (got, p, s) in enumerate(zip(x_bars, ps, shapes)):
        contrib = p * w
        want = contrib.sum(axis=0) if s == (3,) else contrib
        scale = np.abs(contrib).sum(axis=0) if s == (3,) else np.abs(contrib)
        _assert_array_close(got, want, scale, RTOL, ATOL, f"vjp {name} argument {i} of shape {s}")


# --------------------------------------------------------------------------
# 6. the documented policies, the same in forward and reverse mode
# --------------------------------------------------------------------------

KINDS = ["float", "mpf", "ndarray"]


def make(kind: str, x: float) -> Any:
    if kind == "float":
        return float(x)
    if kind == "mpf":
        return mpmath.mpf(x)
    return np.full(2, float(x))


def forward_at(f: Callable[..., Any], args: Sequence[Any], i: int) -> tuple[Any, Any]:
    """(value, d f / d args[i]) by dd.jvp, the other arguments held constant."""
    g = lambda s: f(*[s if j == i else a for j, a in enumerate(args)])
    return dd.jvp(g, args[i], _ones(args[i]))


def forward_tuple_at(f: Callable[..., Any], args: Sequence[Any], i: int) -> tuple[Any, Any]:
    """(value, d f / d args[i]) by dd.jvp on the tuple of all arguments, direction e_i."""
    v = tuple(_ones(a) if j == i else _zeros(a) for j, a in enumerate(args))
    return dd.jvp(lambda t: f(*t), tuple(args), v)


def reverse_at(f: Callable[..., Any], args: Sequence[Any], i: int) -> Any:
    """d f / d args[i] by dd.grad (scalars) or dd.vjp (arrays), the other arguments held constant."""
    g = lambda s: f(*[s if j == i else a for j, a in enumerate(args)])
    return _reverse(g, args[i])


def reverse_tuple_at(f: Callable[..., Any], args: Sequence[Any], i: int) -> Any:
    """Entry i of the gradient over the tuple of all arguments."""
    return _reverse(lambda t: f(*t), tuple(args))[i]


def _reverse(g: Callable[[Any], Any], x: Any) -> Any:
    if all(np.ndim(a) == 0 for a in (x if isinstance(x, tuple) else (x,))):
        return dd.grad(g)(x)
    y, pullback = dd.vjp(g, x)
    return pullback(np.ones(np.shape(y)))


def _ones(a: Any) -> Any:
    return np.ones(np.shape(a)) if isinstance(a, np.ndarray) else one_like(a)


def _zeros(a: Any) -> Any:
    return np.zeros(np.shape(a)) if isinstance(a, np.ndarray) else zero_like(a)


def assert_equals(got: Any, expected: float, what: str) -> None:
    vals = np.array([float(v) for v in np.ravel(np.asarray(got, dtype=object))])
    same = np.isnan(vals) if math.isnan(expected) else vals == expected
    assert np.all(same), f"{what}: got {got!r}, expected {expected}"


# (description, function, point, argument index, expected derivative)
POLICIES = [
    ("abs'(0) = 0", dd.abs, (0.0,), 0, 0.0),
    ("abs'(-0.0) = 0", dd.abs, (-0.0,), 0, 0.0),
    ("relu'(0) = 1/2", dd.relu, (0.0,), 0, 0.5),
    ("maximum tie d/da = 1/2", dd.maximum, (1.5, 1.5), 0, 0.5),
    ("maximum tie d/db = 1/2", dd.maximum, (1.5, 1.5), 1, 0.5),
    ("maximum tie at 0 d/da = 1/2", dd.maximum, (0.0, 0.0), 0, 0.5),
    ("minimum tie d/da = 1/2", dd.minimum, (1.5, 1.5), 0, 0.5),
    ("minimum tie d/db = 1/2", dd.minimum, (1.5, 1.5), 1, 0.5),
    ("minimum tie at 0 d/db = 1/2", dd.minimum, (0.0, 0.0), 1, 0.5),
    ("sqrt'(0) = inf", dd.sqrt, (0.0,), 0, math.inf),
    ("cbrt'(0) = inf", dd.cbrt, (0.0,), 0, math.inf),
    ("sign'(0) = 0", dd.sign, (0.0,), 0, 0.0),
    ("floor'(1) = 0", dd.floor, (1.0,), 0, 0.0),
    ("floor'(-2) = 0", dd.floor, (-2.0,), 0, 0.0),
    ("ceil'(1) = 0", dd.ceil, (1.0,), 0, 0.0),
    ("ceil'(-2) = 0", dd.ceil, (-2.0,), 0, 0.0),
    ("round'(0.5) = 0", dd.round, (0.5,), 0, 0.0),
    ("round'(-1.5) = 0", dd.round, (-1.5,), 0, 0.0),
    ("hypot(0, 0) d/da = 0", dd.hypot, (0.0, 0.0), 0, 0.0),
    ("hypot(0, 0) d/db = 0", dd.hypot, (0.0, 0.0), 1, 0.0),
    ("arctan2(0, 0) d/da = 0", dd.arctan2, (0.0, 0.0), 0, 0.0),
    ("arctan2(0, 0) d/db = 0", dd.arctan2, (0.0, 0.0), 1, 0.0),
    ("d(0**0.5)/dy = 0", operator.pow, (0.0, 0.5), 1, 0.0),
    ("d(0**2)/dy = 0", operator.pow, (0.0, 2.0), 1, 0.0),
    ("d(0**3)/dy = 0", operator.pow, (0.0, 3.0), 1, 0.0),
    ("dd.power: d(0**2)/dy = 0", dd.power, (0.0, 2.0), 1, 0.0),
    ("log'(0) = inf (boundary)", dd.log, (0.0,), 0, math.inf),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("what, f, point, i, expected", POLICIES, ids=[p[0].replace(" ", "") for p in POLICIES])
def test_policy_forward_and_reverse(what, f, point, i, expected, kind):
    args = [make(kind, x) for x in point]
    _, fwd = forward_at(f, args, i)
    assert_equals(fwd, expected, f"forward {what} ({kind})")
    rev = reverse_at(f, args, i)
    assert_equals(rev, expected, f"reverse {what} ({kind})")


BINARY_POLICIES = [p for p in POLICIES if len(p[2]) == 2]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "what, f, point, i, expected", BINARY_POLICIES, ids=[p[0].replace(" ", "") for p in BINARY_POLICIES]
)
def test_policy_both_arguments_active(what, f, point, i, expected, kind):
    """J(x) e_i by a jvp over both arguments, and entry i of the gradient over both.

    Where the other partial is infinite, the jvp multiplies it by the zero
    tangent of e_i: IEEE 754 makes that nan (the documented policy, as in
    JAX and PyTorch), while the gradient never forms that product.
    """
    args = [make(kind, x) for x in point]
    with np.errstate(all="ignore"):
        _, fwd = forward_tuple_at(f, args, i)
        rev = reverse_tuple_at(f, args, i)
        other = reverse_tuple_at(f, args, 1 - i)
    other_infinite = not mpmath.isfinite(mpmath.mpf(float(np.asarray(other, dtype=float).ravel()[0])))
    assert_equals(fwd, math.nan if other_infinite else expected, f"forward (jvp over both arguments) {what} ({kind})")
    assert_equals(rev, expected, f"reverse (grad over both arguments) {what} ({kind})")


# A direction with a zero tangent where the other partial is infinite: reverse
# mode reports both partials; forward mode's jvp in direction e_i forms
# inf * 0, which is nan under the documented IEEE policy.
# (description, function, point, direction index, expected, the other partial)
ZERO_TANGENT = [
    ("d(a/b)/db at (1, 0)", operator.truediv, (1.0, 0.0), 1, -math.inf, math.inf),
]


@pytest.mark.parametrize("kind", ["float", "ndarray"])
@pytest.mark.parametrize("what, f, point, i, expected, other", ZERO_TANGENT, ids=[z[0] for z in ZERO_TANGENT])
def test_zero_tangent_against_infinite_partial(what, f, point, i, expected, other, kind):
    args = [make(kind, x) for x in point]
    with np.errstate(all="ignore"):
        rev = [reverse_tuple_at(f, args, j) for j in range(2)]
        _, fwd = forward_tuple_at(f, args, i)
    assert_equals(rev[i], expected, f"reverse {what} ({kind})")
    assert_equals(rev[1 - i], other, f"reverse, the other partial of {what} ({kind})")
    assert_equals(fwd, math.nan, f"forward jvp in direction e_{i}: {what} ({kind})")


@pytest.mark.parametrize("name", sorted(PIECEWISE_CONSTANT))
@settings(max_examples=40, deadline=None)
@given(
    x=st.one_of(
        st.integers(-50, 50).map(float),
        st.integers(-100, 100).map(lambda k: k / 2),
        st.floats(-1e6, 1e6, allow_nan=False),
    ),
    kind=st.sampled_from(KINDS),
)
def test_piecewise_constant_derivative_is_zero_everywhere(name, x, kind):
    f = public(name)
    if TABLE[name].nin == 2:  # floor_divide: in its first argument, by a fixed divisor
        g = f
        f = lambda a: g(a, 0.75)  # noqa: E731
    arg = make(kind, x)
    assert_equals(forward_at(f, [arg], 0)[1], 0.0, f"forward {name}' at {x} ({kind})")
    assert_equals(reverse_at(f, [arg], 0), 0.0, f"reverse {name}' at {x} ({kind})")


# boundary and overflow: the IEEE 754 limits (float64 and NumPy; mpmath has no overflow)
# (description, function, point, expected value, expected derivative, kinds)
LIMITS = [
    ("log(0) = -inf", dd.log, 0.0, -math.inf, math.inf, KINDS),
    ("exp(1000) = inf", dd.exp, 1000.0, math.inf, math.inf, ["float", "ndarray"]),
    ("1 / 0.0 = inf", lambda x: 1 / x, 0.0, math.inf, -math.inf, ["float", "ndarray"]),
    ("1.0 / 0.0 = inf", lambda x: 1.0 / x, 0.0, math.inf, -math.inf, ["float", "ndarray"]),
    ("reciprocal(0.0) = inf", dd.reciprocal, 0.0, math.inf, -math.inf, ["float", "ndarray"]),
]


@pytest.mark.parametrize(
    "what, f, x, value, slope, kind",
    [(w, f, x, v, s, k) for w, f, x, v, s, ks in LIMITS for k in ks],
    ids=[f"{w.replace(' ', '')}-{k}" for w, _, _, _, _, ks in LIMITS for k in ks],
)
def test_ieee_limits_forward_and_reverse(what, f, x, value, slope, kind):
    arg = make(kind, x)
    if getattr(f, "__module__", None) == "dualdiff":  # a lambda on a plain float would be Python's own 1 / 0.0
        assert_equals(f(arg), value, f"{what} ({kind}): value")
    y, fwd = forward_at(f, [arg], 0)
    assert_equals(y, value, f"{what} ({kind}): forward primal")
    assert_equals(fwd, slope, f"{what} ({kind}): forward derivative")
    assert_equals(reverse_at(f, [arg], 0), slope, f"{what} ({kind}): reverse derivative")


def test_one_over_dual_zero():
    d = 1 / dd.Dual(0.0, 1.0)
    assert d.primal == math.inf
    assert d.tangent == -math.inf


# outside the domain: DomainError for every number type, in every mode
# (rule name in the message, function, bad point, a good point for the arrays)
THIRD = object()  # stands for 1/3 in the number type at hand
DOMAIN_CASES = [
    ("log", dd.log, -1.0, 1.0),
    ("log", dd.ln, -1.0, 1.0),
    ("sqrt", dd.sqrt, -1.0, 4.0),
    ("arcsin", dd.arcsin, 2.0, 0.5),
    ("arccosh", dd.arccosh, 0.5, 2.0),
    ("arctanh", dd.arctanh, 2.0, 0.5),
    ("log1p", dd.log1p, -2.0, 1.0),
    ("pow", lambda x: dd.power(x, _third(x)), -8.0, 8.0),
    ("pow", lambda y: dd.power(_minus8(y), y), THIRD, 2.0),
    # the ** operator: on plain numbers that is Python's, so only in the modes
    ("pow", lambda x: x ** _third(x), -8.0, 8.0),  # differentiate the base
    ("pow", lambda y: _minus8(y) ** y, THIRD, 2.0),  # differentiate the exponent
]
OPERATOR_CASES = {len(DOMAIN_CASES) - 2, len(DOMAIN_CASES) - 1}


def _third(like: Any) -> Any:
    return mpmath.mpf(1) / 3 if _is_mp(like) else 1 / 3


def _minus8(like: Any) -> Any:
    return mpmath.mpf(-8) if _is_mp(like) else -8.0


def _is_mp(x: Any) -> bool:
    while isinstance(x, (dd.Dual, dd.Var)):
        x = x.primal
    return isinstance(x, (mpmath.mpf, mpmath.mpc))


def _domain_point(kind: str, bad: Any, good: float) -> Any:
    if bad is THIRD:
        return {"float": 1 / 3, "mpf": mpmath.mpf(1) / 3, "ndarray": np.array([good, 1 / 3])}[kind]
    if kind == "ndarray":
        return np.array([good, bad])
    return make(kind, bad)


@pytest.mark.parametrize(
    "name, f, bad, good, kind, mode",
    [
        (*case, kind, mode)
        for i, case in enumerate(DOMAIN_CASES)
        for kind in KINDS
        for mode in ("call", "forward", "reverse")
        if not (i in OPERATOR_CASES and mode == "call")
    ],
    ids=[
        f"{case[0]}{i}-{kind}-{mode}"
        for i, case in enumerate(DOMAIN_CASES)
        for kind in KINDS
        for mode in ("call", "forward", "reverse")
        if not (i in OPERATOR_CASES and mode == "call")
    ],
)
def test_domain_error(name, f, bad, good, kind, mode):
    x = _domain_point(kind, bad, good)
    with pytest.raises(dd.DomainError) as info:
        if mode == "call":
            f(x)
        elif mode == "forward":
            dd.jvp(f, x, _ones(x))
        elif kind == "ndarray":
            dd.vjp(f, x)[1](np.ones(2))
        else:
            dd.grad(f)(x)
    assert isinstance(info.value, ValueError)
    assert name in str(info.value), f"message does not name {name}: {info.value}"


def test_domain_error_plain_pow():
    with pytest.raises(dd.DomainError, match="pow"):
        (-8.0) ** dd.Dual(1 / 3, 1.0)
    with pytest.raises(dd.DomainError, match="pow"):
        dd.power(-8.0, 1 / 3)


# Complex arguments take the principal branch: no DomainError.
PRINCIPAL = [
    ("log", dd.log, -1 + 0j, cmath.log),
    ("sqrt", dd.sqrt, -1 + 0j, cmath.sqrt),
    ("arcsin", dd.arcsin, 2 + 0j, cmath.asin),
    ("arccosh", dd.arccosh, 0.5 + 0j, cmath.acosh),
    ("arctanh", dd.arctanh, 2 + 0.5j, cmath.atanh),
    ("log1p", dd.log1p, -2 + 0j, lambda z: cmath.log(1 + z)),
    ("pow", lambda z: z ** (1 / 3), -8 + 0j, lambda z: cmath.exp(cmath.log(z) / 3)),
]


@pytest.mark.parametrize("name, f, z, principal", PRINCIPAL, ids=[p[0] for p in PRINCIPAL])
def test_complex_outside_real_domain_takes_principal_branch(name, f, z, principal):
    assert cmath.isclose(f(z), principal(z), rel_tol=1e-14, abs_tol=1e-15)
    y, _ = dd.jvp(f, z, 1.0)
    assert cmath.isclose(y, principal(z), rel_tol=1e-14, abs_tol=1e-15)


# --------------------------------------------------------------------------
# the other spellings of a rule read the same table
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if TABLE[n].ufunc is not None])
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_numpy_ufunc_on_dual_matches_rule(name, data):
    ref = reference(name)
    point = data.draw(real_points(ref), label="point")
    ufunc = TABLE[name].ufunc
    want = forward_partials(name, point)
    with precision(30):
        exact = partials(ref, point)
    for i in range(ref.nin):
        args = [dd.Dual(p, 1.0) if j == i else p for j, p in enumerate(point)]
        out = ufunc(*args)
        assert isinstance(out, dd.Dual), f"np.{ufunc.__name__} on a Dual returned {type(out).__name__}"
        assert close(out.tangent, exact[i], RTOL, ATOL), f"np.{ufunc.__name__} partial {i} at {point}"
        assert close(out.tangent, want[i], SAME_RTOL, 1e-300)


def test_power_and_operator_agree():
    for a, b in [(2.0, 3.0), (0.5, -1.25), (7.0, 0.5)]:
        fwd_op = forward_partials("pow", (a, b))
        f = lambda t: dd.power(*t)
        fwd_fn = [dd.jvp(f, (a, b), (1.0, 0.0))[1], dd.jvp(f, (a, b), (0.0, 1.0))[1]]
        assert fwd_op == fwd_fn
        with precision(30):
            want = partials(REFERENCES["pow"], (a, b))
        assert_close(fwd_fn, want, RTOL, ATOL, "dd.power", (a, b))
