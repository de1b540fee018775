"""Bad input fails early and says what was expected; nothing is lost silently."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import dualdiff as dd


def _var(value=2.0):
    return dd.Tape().var(value)


def _lifted_values():
    return [dd.Dual(2.0, 1.0), _var(2.0)]


# --------------------------------------------------------------------------
# a lifted value never quietly becomes a plain number
# --------------------------------------------------------------------------


@pytest.mark.parametrize("convert", [float, int, complex, math.sin, math.exp, math.sqrt], ids=lambda f: f.__name__)
@pytest.mark.parametrize("make", [lambda: dd.Dual(2.0, 1.0), _var], ids=["Dual", "Var"])
def test_conversion_to_plain_number_refused(convert, make):
    with pytest.raises(TypeError, match=r"\.primal"):
        convert(make())


@pytest.mark.parametrize("convert", [float, int, complex, math.sin])
def test_conversion_refused_inside_transforms(convert):
    with pytest.raises(TypeError, match=r"\.primal"):
        dd.derivative(lambda x: convert(x))(1.0)
    with pytest.raises(TypeError, match=r"\.primal"):
        dd.grad(lambda x: convert(x))(1.0)


@pytest.mark.parametrize("make", [lambda: dd.Dual(2.0, 1.0), _var], ids=["Dual", "Var"])
def test_storing_into_float_array_refused(make):
    a = np.zeros(3)
    with pytest.raises((TypeError, ValueError)):
        a[0] = make()
    assert np.all(a == 0.0)


def test_storing_into_float_array_refused_inside_transforms():
    def f(x):
        a = np.zeros(3)
        a[0] = x
        return np.sum(a)

    with pytest.raises((TypeError, ValueError)):
        dd.derivative(f)(1.0)
    with pytest.raises((TypeError, ValueError)):
        dd.grad(f)(1.0)


# --------------------------------------------------------------------------
# jvp: shapes and types of x, v and f(x)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x, v",
    [
        (np.zeros(3), np.zeros(2)),
        (np.zeros((2, 3)), np.zeros((3, 2))),
        (1.0, np.zeros(2)),
        (np.zeros(2), 1.0),
        ((1.0, np.zeros(3)), (1.0, np.zeros(4))),
    ],
)
def test_jvp_v_shaped_unlike_x(x, v):
    with pytest.raises(ValueError) as info:
        dd.jvp(lambda t: t, x, v)
    msg = str(info.value)
    bad_x = [a for a, b in zip(_leaves(x), _leaves(v)) if np.shape(a) != np.shape(b)][0]
    bad_v = [b for a, b in zip(_leaves(x), _leaves(v)) if np.shape(a) != np.shape(b)][0]
    assert str(np.shape(bad_x)) in msg and str(np.shape(bad_v)) in msg, msg


def test_jvp_v_structured_unlike_x():
    with pytest.raises(ValueError, match="v"):
        dd.jvp(lambda t: t, (1.0, 2.0), (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="v"):
        dd.jvp(lambda t: t, (1.0, 2.0), 1.0)


def test_hvp_v_shaped_unlike_x():
    with pytest.raises(ValueError) as info:
        dd.hvp(lambda t: np.sum(t * t), np.ones(3), np.ones(2))
    assert "(3,)" in str(info.value) and "(2,)" in str(info.value)


def _leaves(t):
    return [s for u in t for s in _leaves(u)] if isinstance(t, tuple) else [t]


BAD_INPUTS = {
    "string": "abc",
    "list of strings": ["a", "b"],
    "object array": np.array([object(), 1.0], dtype=object),
    "None": None,
    "string array": np.array(["1.0", "2.0"]),
    "dict": {"a": 1.0},
}


@pytest.mark.parametrize("bad", list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
@pytest.mark.parametrize(
    "call",
    [
        lambda x: dd.jvp(lambda t: t, x, x),
        lambda x: dd.jvp(lambda t: t, x, 1.0),
        lambda x: dd.vjp(lambda t: t, x),
        lambda x: dd.grad(lambda t: t)(x),
        lambda x: dd.derivative(lambda t: t)(x),
        lambda x: dd.jacfwd(lambda t: t)(x),
        lambda x: dd.jacrev(lambda t: t)(x),
        lambda x: dd.hessian(lambda t: t)(x),
    ],
    ids=["jvp", "jvp-scalar-v", "vjp", "grad", "derivative", "jacfwd", "jacrev", "hessian"],
)
def test_non_numeric_x_is_a_type_error(call, bad):
    with pytest.raises(TypeError):
        call(bad)


def test_non_numeric_x_message_names_the_argument():
    with pytest.raises(TypeError, match=r"\bx\b.*str"):
        dd.jvp(lambda t: t, "abc", 1.0)
    with pytest.raises(TypeError, match=r"\bv\b"):
        dd.jvp(lambda t: t, 1.0, "abc")


BAD_OUTPUTS = {"str": "a string", "None": None, "dict": {"y": 1.0}}


@pytest.mark.parametrize("name", list(BAD_OUTPUTS))
@pytest.mark.parametrize(
    "call",
    [
        lambda f: dd.jvp(f, 1.0, 1.0),
        lambda f: dd.vjp(f, 1.0),
        lambda f: dd.grad(f)(1.0),
        lambda f: dd.value_and_grad(f)(1.0),
        lambda f: dd.derivative(f)(1.0),
        lambda f: dd.jacfwd(f)(np.ones(2)),
        lambda f: dd.jacrev(f)(np.ones(2)),
    ],
    ids=["jvp", "vjp", "grad", "value_and_grad", "derivative", "jacfwd", "jacrev"],
)
def test_f_returning_non_numeric_is_a_type_error_naming_it(call, name):
    bad = BAD_OUTPUTS[name]
    with pytest.raises(TypeError) as info:
        call(lambda x: bad)
    assert name in str(info.value), str(info.value)


def test_f_returning_non_numeric_inside_a_tuple():
    with pytest.raises(TypeError, match="str"):
        dd.jvp(lambda x: (x, "oops"), 1.0, 1.0)
    with pytest.raises(TypeError, match="NoneType|None"):
        dd.vjp(lambda x: (x * 2, None), 1.0)


# --------------------------------------------------------------------------
# reverse mode: output shapes, cotangent shapes, unreached inputs
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "f, x",
    [
        (lambda x: x * 2.0, np.ones(3)),
        (lambda x: np.sin(x), np.ones((2, 2))),
        (lambda x: (x, x * x), 1.0),
        (lambda x: x * np.ones(2), 1.0),
    ],
)
@pytest.mark.parametrize("transform", [dd.grad, dd.value_and_grad])
def test_grad_of_non_scalar_function(transform, f, x):
    with pytest.raises(ValueError) as info:
        transform(f)(x)
    msg = str(info.value)
    assert "jacrev" in msg and "vjp" in msg, msg


@pytest.mark.parametrize(
    "f, x, y_bar",
    [
        (lambda x: x * 2.0, np.ones(3), np.ones(2)),
        (lambda x: x * 2.0, np.ones(3), 1.0),
        (lambda x: np.sum(x), np.ones(3), np.ones(3)),
        (lambda x: x * np.ones((2, 3)), 1.0, np.ones((3, 2))),
    ],
)
def test_pullback_with_wrong_y_bar_shape(f, x, y_bar):
    y, pullback = dd.vjp(f, x)
    with pytest.raises(ValueError) as info:
        pullback(y_bar)
    msg = str(info.value)
    assert str(np.shape(y)) in msg and str(np.shape(y_bar)) in msg, msg


def test_pullback_with_wrong_y_bar_structure():
    _, pullback = dd.vjp(lambda x: (x, x * x), 1.0)
    with pytest.raises(ValueError):
        pullback(1.0)
    _, pullback = dd.vjp(lambda x: (x, x * x), 1.0)
    with pytest.raises(ValueError):
        pullback((1.0, np.ones(2)))


def _assert_zero_like(g, like):
    assert np.shape(g) == np.shape(like)
    assert np.all(np.asarray(g) == 0.0)
    assert not isinstance(g, (dd.Dual, dd.Var))


def test_unreached_scalar_input_gets_zero_adjoint():
    g = dd.grad(lambda x: 3.0)(1.5)
    _assert_zero_like(g, 1.5)
    v, g = dd.value_and_grad(lambda x: 3.0)(1.5)
    assert v == 3.0
    _assert_zero_like(g, 1.5)
    _, pullback = dd.vjp(lambda x: np.ones(2), 1.5)
    _assert_zero_like(pullback(np.ones(2)), 1.5)


def test_unreached_array_input_gets_zero_adjoint():
    x = np.ones((2, 3))
    g = dd.grad(lambda t: 7.0)(x)
    _assert_zero_like(g, x)
    assert isinstance(g, np.ndarray)
    J = dd.jacrev(lambda t: np.ones(4))(x)
    assert np.shape(J) == (4, 2, 3) and np.all(J == 0.0)
    J = dd.jacfwd(lambda t: np.ones(4))(x)
    assert np.shape(J) == (4, 2, 3) and np.all(J == 0.0)


def test_unreached_tuple_inputs_get_zero_adjoints():
    x = (1.5, np.ones(3), np.ones((2, 2)))
    g = dd.grad(lambda p: p[0] * 2.0)(x)
    assert isinstance(g, tuple) and len(g) == 3
    assert g[0] == 2.0
    _assert_zero_like(g[1], x[1])
    _assert_zero_like(g[2], x[2])
    g = dd.grad(lambda p: np.sum(p[1]))(x)
    _assert_zero_like(g[0], x[0])
    assert np.shape(g[1]) == (3,) and np.all(g[1] == 1.0)
    _assert_zero_like(g[2], x[2])
    _, pullback = dd.vjp(lambda p: (p[2] * 3.0, 1.0), x)
    xb = pullback((np.ones((2, 2)), 1.0))
    _assert_zero_like(xb[0], x[0])
    _assert_zero_like(xb[1], x[1])
    assert np.all(xb[2] == 3.0)


def test_unreached_tape_variable_gets_zero_grad():
    tape = dd.Tape()
    x = tape.var(2.0)
    y = tape.var(np.ones(3))
    z = x * x
    z.backward()
    assert x.grad == 4.0
    _assert_zero_like(y.grad, np.ones(3))


# --------------------------------------------------------------------------
# derivative, callables, chunks, modes
# --------------------------------------------------------------------------


@pytest.mark.parametrize("x", [np.ones(3), np.ones((2, 2)), np.ones(1), (1.0, 2.0)])
def test_derivative_of_non_scalar_x_points_to_jacfwd(x):
    with pytest.raises(ValueError, match="jacfwd"):
        dd.derivative(lambda t: t)(x)


def test_derivative_of_zero_dim_array_is_fine():
    assert dd.derivative(lambda t: t * t)(np.array(3.0)) == 6.0


TRANSFORMS = {
    "derivative": lambda f: dd.derivative(f)(1.0),
    "jvp": lambda f: dd.jvp(f, 1.0, 1.0),
    "vjp": lambda f: dd.vjp(f, 1.0),
    "grad": lambda f: dd.grad(f)(1.0),
    "value_and_grad": lambda f: dd.value_and_grad(f)(1.0),
    "jacfwd": lambda f: dd.jacfwd(f)(1.0),
    "jacrev": lambda f: dd.jacrev(f)(1.0),
    "jacobian": lambda f: dd.jacobian(f)(1.0),
    "hessian": lambda f: dd.hessian(f)(1.0),
    "hvp": lambda f: dd.hvp(f, 1.0, 1.0),
}


@pytest.mark.parametrize("bad_f", [3, "sin", None, np.ones(2)], ids=["int", "str", "None", "array"])
@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_non_callable_f_is_a_type_error(name, bad_f):
    with pytest.raises(TypeError, match="callable"):
        TRANSFORMS[name](bad_f)


@pytest.mark.parametrize("chunk", [0, -1, 1.5, "2"])
@pytest.mark.parametrize(
    "make",
    [
        lambda c: dd.jacfwd(lambda t: t * t, chunk=c)(np.ones(3)),
        lambda c: dd.jacrev(lambda t: t * t, chunk=c)(np.ones(3)),
        lambda c: dd.jacobian(lambda t: t * t, mode="forward", chunk=c)(np.ones(3)),
        lambda c: dd.jacobian(lambda t: t * t, mode="reverse", chunk=c)(np.ones(3)),
        lambda c: dd.hessian(lambda t: np.sum(t * t), chunk=c)(np.ones(3)),
    ],
    ids=["jacfwd", "jacrev", "jacobian-forward", "jacobian-reverse", "hessian"],
)
def test_bad_chunk(make, chunk):
    with pytest.raises(ValueError, match="chunk"):
        make(chunk)


@pytest.mark.parametrize("mode", ["sideways", "fwd", "", None, "Forward"])
def test_jacobian_bad_mode(mode):
    with pytest.raises(ValueError, match="mode"):
        dd.jacobian(lambda t: t, mode=mode)(1.0)


# --------------------------------------------------------------------------
# NumPy functions without a rule
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "func, name",
    [(np.fft.fft, "np.fft.fft"), (np.fft.rfft, "np.fft.rfft"), (np.fft.ifft, "np.fft.ifft")],
)
def test_numpy_function_without_rule_on_dual(func, name):
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    d = dd.Dual(x, np.ones_like(x))
    with pytest.raises(dd.NoRuleError) as info:
        func(d)
    assert isinstance(info.value, TypeError)
    assert re.search(re.escape(name) + r"\b", str(info.value)), str(info.value)


def test_numpy_function_without_rule_inside_transforms():
    f = lambda t: np.fft.fft(t)
    with pytest.raises(dd.NoRuleError, match=r"np\.fft\.fft"):
        dd.jvp(f, np.ones(4), np.ones(4))
    with pytest.raises(dd.NoRuleError, match=r"np\.fft\.fft"):
        dd.vjp(f, np.ones(4))
    with pytest.raises(TypeError, match=r"np\.fft\.fft"):
        dd.jacrev(f)(np.ones(4))


def test_no_rule_error_is_a_type_error():
    assert issubclass(dd.NoRuleError, TypeError)
    assert issubclass(dd.ReleasedTapeError, Exception)
