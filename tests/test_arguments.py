"""argnums and has_aux (JAX's conventions) on grad, value_and_grad, jacfwd, jacrev, jacobian and hessian.

The oracle for argnums is the one-argument convention itself: differentiating
``f(a, b)`` with ``argnums=1`` must equal differentiating ``lambda b: f(a, b)``,
in every transform and mode, at hypothesis-drawn points; a tuple of argnums
must equal the one-argument transform of ``lambda t: f(*t)``. JAX itself is
the oracle in tests/test_jax_compat.py (skipped without JAX).
"""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dualdiff as dd

finite = st.floats(0.2, 2.0)


def f3(a, b, c):
    return a * np.sin(b) + np.exp(a * c) / (1 + b * b)


def assert_tree_close(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_tree_close(g, w)
    else:
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-14, atol=1e-14)


TRANSFORMS = ["grad", "jacfwd", "jacrev", "jacobian", "hessian"]


@pytest.mark.parametrize("name", TRANSFORMS)
@given(a=finite, b=finite, c=finite)
@settings(max_examples=10, deadline=None)
def test_argnums_int_equals_the_closure(name, a, b, c):
    transform = getattr(dd, name)
    for k, closure in ((0, lambda x: f3(x, b, c)), (1, lambda x: f3(a, x, c)), (-1, lambda x: f3(a, b, x))):
        want = transform(closure)([a, b, c][k])
        assert_tree_close(transform(f3, argnums=k)(a, b, c), want)


@pytest.mark.parametrize("name", TRANSFORMS)
@given(a=finite, b=finite, c=finite)
@settings(max_examples=10, deadline=None)
def test_argnums_tuple_equals_the_tuple_transform(name, a, b, c):
    transform = getattr(dd, name)
    want = transform(lambda t: f3(t[0], b, t[1]))((a, c))
    assert_tree_close(transform(f3, argnums=(0, 2))(a, b, c), want)
    swapped = transform(lambda t: f3(t[1], b, t[0]))((c, a))
    assert_tree_close(transform(f3, argnums=(2, 0))(a, b, c), swapped)


def test_argnums_tuple_hessian_blocks_match_the_full_hessian():
    f = lambda x, y: np.sum(x**2) * np.sum(y**3) + np.prod(np.sin(y)) * x[0]
    x, y = np.array([0.3, 1.1]), np.array([0.7, 1.4, 0.2])
    full = dd.hessian(lambda z: f(z[:2], z[2:]))(np.concatenate([x, y]))
    (hxx, hxy), (hyx, hyy) = dd.hessian(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(np.block([[hxx, hxy], [hyx, hyy]]), full, rtol=1e-14)


def test_default_argnums_calls_f_with_every_argument_as_jax_does():
    # jax.grad(f)(a, b): f(a, b), differentiated with respect to a
    assert dd.grad(lambda a, b: a * b**2)(3.0, 2.0) == 4.0
    assert dd.value_and_grad(lambda a, b: a * b**2)(3.0, 2.0) == (12.0, 4.0)
    # one argument: unchanged, a tuple x is still one argument
    assert dd.grad(lambda x: x[0] * x[1])((2.0, 3.0)) == (3.0, 2.0)


def test_keyword_arguments_are_passed_and_held_fixed():
    f = lambda x, y, scale=1.0: scale * x * y
    assert dd.grad(f, argnums=1)(2.0, 3.0, scale=10.0) == 20.0
    np.testing.assert_allclose(dd.jacfwd(f)(np.ones(2), 3.0, scale=2.0), 6 * np.eye(2))


def test_argnums_at_mpmath_precision():
    mpmath.mp.dps = 40
    try:
        a, b = mpmath.mpf(2) / 3, mpmath.mpf(5) / 7
        got = dd.grad(lambda a, b: dd.exp(a * b) * dd.sin(b), argnums=1)(a, b)
        want = mpmath.diff(lambda t: mpmath.exp(a * t) * mpmath.sin(t), b)
        assert isinstance(got, mpmath.mpf) and abs(got - want) < mpmath.mpf(10) ** -35
    finally:
        mpmath.mp.dps = 15


def test_nested_argnums_no_perturbation_confusion():
    # d/db [ d/da (a * b**3) ] = 3 b**2, with both derivatives taken through argnums
    inner = dd.grad(lambda a, b: a * b**3, argnums=0)
    assert dd.grad(inner, argnums=1)(5.0, 2.0) == 12.0
    # forward over reverse and reverse over reverse agree
    mixed = dd.jacfwd(dd.grad(f3, argnums=1), argnums=2)(0.3, 0.7, 1.1)
    rev = dd.grad(dd.grad(f3, argnums=1), argnums=2)(0.3, 0.7, 1.1)
    assert mixed == pytest.approx(rev, rel=1e-15)
    assert dd.hessian(f3, argnums=(1, 2))(0.3, 0.7, 1.1)[0][1] == pytest.approx(rev, rel=1e-15)


# --------------------------------------------------------------------------- has_aux


def with_aux(x, y):
    out = np.sum(np.sin(x) * y)
    return out, {"out": out, "x": x, "label": "loss", "count": 3}


@pytest.mark.parametrize("name", ["grad", "value_and_grad", "jacfwd", "jacrev", "jacobian", "hessian"])
def test_has_aux_returns_the_aux_with_plain_values(name):
    x, y = np.array([0.1, 0.2]), np.array([1.0, 2.0])
    result = getattr(dd, name)(with_aux, argnums=0, has_aux=True)(x, y)
    plain = getattr(dd, name)(lambda x: with_aux(x, y)[0])(x)
    if name == "value_and_grad":
        (value, aux), derivative = result
        assert value == plain[0]
        assert_tree_close(derivative, plain[1])
    else:
        derivative, aux = result
        assert_tree_close(derivative, plain)
    assert aux["label"] == "loss" and aux["count"] == 3
    assert type(aux["out"]) is np.float64 and aux["out"] == with_aux(x, y)[0]
    assert isinstance(aux["x"], np.ndarray) and aux["x"].dtype == np.float64
    np.testing.assert_array_equal(aux["x"], x)


def test_has_aux_inside_an_outer_transform_keeps_the_outer_perturbation():
    # aux = x**2 computed inside grad; differentiating the aux from outside sees 2x
    def g(x):
        _, aux = dd.grad(lambda t: (t**3, t**2), has_aux=True)(x)
        return aux

    assert dd.derivative(g)(3.0) == 6.0
    assert dd.grad(g)(3.0) == 6.0


def test_has_aux_needs_a_pair():
    with pytest.raises(
        TypeError, match=r"has_aux=True\) needs f to return a pair \(output, aux\); it returned one Var, not a pair"
    ):
        dd.grad(lambda x: 2 * x, has_aux=True)(1.0)
    with pytest.raises(TypeError, match="a tuple of length 3"):
        dd.jacfwd(lambda x: (x, x, x), has_aux=True)(1.0)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("argnums", [1.0, "0", (), [0, 1], True, (0, None)])
def test_bad_argnums_fail_early_naming_the_transform(argnums):
    with pytest.raises(TypeError, match=r"jacrev: argnums must be an int or a non-empty tuple of ints"):
        dd.jacrev(f3, argnums=argnums)


def test_repeated_argnums_and_bad_has_aux():
    with pytest.raises(ValueError, match=r"hessian: argnums must not repeat a position, got \(1, 1\)"):
        dd.hessian(f3, argnums=(1, 1))
    with pytest.raises(TypeError, match="grad: has_aux must be True or False, got 1"):
        dd.grad(f3, has_aux=1)


def test_argnums_out_of_range_says_how_many_arguments():
    with pytest.raises(
        TypeError,
        match=r"argnums=3 needs at least 4 positional arguments \(keyword arguments are held fixed\), but the call "
        r"passed 3",
    ):
        dd.grad(f3, argnums=3)(1.0, 2.0, 3.0)
    with pytest.raises(TypeError, match=r"argnums=-4 needs at least 4 positional arguments"):
        dd.jacfwd(f3, argnums=-4)(1.0, 2.0, 3.0)


def test_a_selected_argument_that_is_not_a_number_is_named():
    with pytest.raises(TypeError, match=r"argument 1 \(argnums\) must be a number"):
        dd.grad(lambda a, b: a, argnums=1)(1.0, "b")


def test_jax_style_jvp_call_says_what_to_write():
    with pytest.raises(TypeError, match=r"Write: dd\.jvp\(f, 3\.0, 1\.0\)") as info:
        dd.jvp(lambda x: x * x, (3.0,), (1.0,))
    assert "not f(*x) as jax.jvp(f, primals, tangents) does" in str(info.value)
    with pytest.raises(TypeError, match=r"Write: dd\.jvp\(lambda x: f\(\*x\), \(2\.0, 3\.0\), \(1\.0, 0\.0\)\)"):
        dd.jvp(lambda a, b: a * b, (2.0, 3.0), (1.0, 0.0))
    # the right calls work
    assert dd.jvp(lambda x: x * x, 3.0, 1.0) == (9.0, 6.0)
    f = lambda a, b: a * b
    assert dd.jvp(lambda x: f(*x), (2.0, 3.0), (1.0, 0.0)) == (6.0, 3.0)


def test_no_jax_hint_for_errors_that_are_not_about_the_call():
    def f(x):
        raise TypeError("something else")

    with pytest.raises(TypeError) as info:
        dd.jvp(f, 1.0, 1.0)
    assert str(info.value) == "something else"
    with pytest.raises(dd.NoRuleError):  # a TypeError subclass passes through untouched
        dd.jvp(lambda x: np.fft.fft(x[0]), (np.ones(2),), (np.ones(2),))


def test_one_argument_call_is_the_plain_transform():
    # the fast path: the same numbers as before argnums existed, no tuple wrapping
    x = np.array([0.5, 1.5])
    assert dd.jacrev(np.sin)(x).shape == (2, 2)
    assert dd.grad(lambda t: math.pi * t)(2.0) == math.pi
