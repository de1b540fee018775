"""Run HIPS autograd's own test files, unchanged, on dualdiff.

A pytest plugin (``-p autograd_adapter``) that puts modules named
``autograd``, ``autograd.numpy`` (with ``.linalg``, ``.random``, ``.fft``) and
``autograd.test_util`` into ``sys.modules`` before the tests are collected,
so that ``import autograd.numpy as np`` and ``from autograd import grad``
in autograd's tests reach dualdiff:

* ``autograd.numpy`` *is* NumPy: the tests call NumPy's own functions, and
  dualdiff differentiates them through NumPy's protocols. The few helpers
  autograd adds to its namespace (``np.make_diagonal``, ``np.linalg._dot``,
  ``np.linalg.T``) are written here as the NumPy code they stand for.
* ``grad``, ``make_jvp``, ``make_vjp``, ``elementwise_grad``, ``jacobian``,
  ``value_and_grad``, ``hessian`` are dualdiff's transforms with autograd's
  calling convention (``argnum`` picks the argument; a tuple of argnums
  differentiates with respect to the tuple of those arguments).
* ``check_grads`` and ``combo_check`` follow the contract of autograd's test
  utilities (written anew here): forward mode compares the JVP with a
  central difference (step 1e-6), reverse mode compares ``<u, J v>`` from
  the VJP with the same difference, both to a tolerance of 1e-6 absolute or
  relative, and ``order=2`` repeats both checks on the JVP and on the VJP as
  functions of (point, direction): forward over forward, reverse over
  forward, forward over reverse and reverse over reverse.

Complex values use autograd's (and JAX's) convention: the inner product of
complex vectors is ``Re(sum(conj(a) * b))``, the covector of ``a`` is
``conj(a)``, and a cotangent has the type of its primal (real for real).

Run (see ``README.md`` beside this file)::

    PYTHONPATH=.:benchmarks/peer_suites python -m pytest -p autograd_adapter <autograd>/tests/test_numpy.py ...
"""

from __future__ import annotations

import builtins
import itertools
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as onp

import dualdiff as dd

# -- calling conventions ------------------------------------------------------


def _unary(fun: Callable[..., Any], argnum: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """``(x, f)``: the argument(s) picked by ``argnum``, and ``fun`` as a function of them alone."""
    args = list(args)
    if isinstance(argnum, (builtins.tuple, builtins.list)):
        picks = builtins.list(argnum)
        x = builtins.tuple(args[i] for i in picks)

        def f(xs: Any) -> Any:
            full = builtins.list(args)
            for i, xi in zip(picks, xs):
                full[i] = xi
            return fun(*full, **kwargs)

        return x, f

    def g(xi: Any) -> Any:
        full = builtins.list(args)
        full[argnum] = xi
        return fun(*full, **kwargs)

    return args[argnum], g


def grad(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """autograd.grad: the gradient of ``fun`` (a scalar or a size-1 array) with respect to argument ``argnum``."""

    def gradfun(*args: Any, **kwargs: Any) -> Any:
        x, f = _unary(fun, argnum, args, kwargs)
        y, pullback = dd.vjp(f, x)
        if onp.size(y) != 1:
            raise TypeError(f"grad only applies to functions with one output value, got shape {onp.shape(y)}")
        return pullback(onp.ones_like(y) if onp.ndim(y) else 1.0)

    return gradfun


def value_and_grad(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """autograd.value_and_grad."""

    def vg(*args: Any, **kwargs: Any) -> Any:
        x, f = _unary(fun, argnum, args, kwargs)
        return dd.value_and_grad(f)(x)

    return vg


def make_vjp(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """autograd.make_vjp: ``(vjp, value)``."""

    def m(*args: Any, **kwargs: Any) -> Any:
        x, f = _unary(fun, argnum, args, kwargs)
        y, pullback = dd.vjp(f, x)
        return (lambda g: pullback(g, retain_graph=True)), y

    return m


def make_jvp(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """autograd.make_jvp: a function of the direction returning ``(value, jvp)``."""

    def m(*args: Any, **kwargs: Any) -> Any:
        x, f = _unary(fun, argnum, args, kwargs)
        return lambda v: dd.jvp(f, x, v)

    return m


def elementwise_grad(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """autograd.elementwise_grad: the VJP with a cotangent of ones."""

    def eg(*args: Any, **kwargs: Any) -> Any:
        x, f = _unary(fun, argnum, args, kwargs)
        y, pullback = dd.vjp(f, x)
        return pullback(onp.ones_like(y) if onp.ndim(y) else 1.0)

    return eg


def jacobian(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """autograd.jacobian (reverse mode): shape ``out.shape + in.shape``."""

    def jac(*args: Any, **kwargs: Any) -> Any:
        x, f = _unary(fun, argnum, args, kwargs)
        return dd.jacrev(f)(x)

    return jac


def hessian(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """autograd.hessian."""

    def h(*args: Any, **kwargs: Any) -> Any:
        x, f = _unary(fun, argnum, args, kwargs)
        return dd.hessian(f)(x)

    return h


# -- vector spaces of values (floats, complex, arrays, tuples, lists) ---------

TOL = RTOL = 1e-6
EPS = 1e-6


def _is_tree(v: Any) -> bool:
    return isinstance(v, (builtins.tuple, builtins.list))


def _map(fn: Callable[..., Any], *vs: Any) -> Any:
    if _is_tree(vs[0]):
        return type(vs[0])(_map(fn, *parts) for parts in zip(*vs))
    return fn(*vs)


def _complex(v: Any) -> bool:
    return onp.iscomplexobj(v)


def _randn(like: Any) -> Any:
    def one(a: Any) -> Any:
        shape = onp.shape(a)
        r = onp.asarray(onp.random.randn(*shape))
        if _complex(a):
            r = r + 1j * onp.random.randn(*shape)
        return r if shape else r.item()

    return _map(one, like)


def _inner(a: Any, b: Any) -> float:
    if _is_tree(a):
        return builtins.sum(_inner(x, y) for x, y in zip(a, b))
    return float(onp.real(onp.sum(onp.conj(onp.asarray(a)) * onp.asarray(b))))


def _covector(a: Any) -> Any:
    return _map(lambda v: onp.conj(v) if _complex(v) else v, a)


def _axpy(alpha: float, x: Any, y: Any) -> Any:
    return _map(lambda a, b: b + alpha * a, x, y)


def _space(v: Any) -> Any:
    """What autograd's vspace compares: the tree, each leaf's shape, real or complex."""
    if _is_tree(v):
        return (type(v).__name__, builtins.tuple(_space(e) for e in v))
    return (onp.shape(v), _complex(v))


def _close(a: float, b: float) -> bool:
    return abs(a - b) < TOL or abs(a - b) / abs(a + b) < RTOL


def _numeric_jvp(f: Callable[[Any], Any], x: Any) -> Callable[[Any], Any]:
    def jvp(v: Any) -> Any:
        hi = f(_axpy(EPS / 2, v, x))
        lo = f(_axpy(-EPS / 2, v, x))
        return _map(lambda a, b: (onp.asarray(a) - onp.asarray(b)) / EPS, hi, lo)

    return jvp


def _check_jvp(f: Callable[[Any], Any], x: Any) -> None:
    v = _randn(x)
    y, t = dd.jvp(f, x, v)
    expected = _numeric_jvp(f, x)(v)
    assert _space(t) == _space(y), f"JVP of {f} at {x}: tangent {_space(t)} is not shaped like the value {_space(y)}"
    u = _randn(y)
    a, b = _inner(u, t), _inner(u, expected)
    assert _close(a, b), f"Derivative (JVP) check failed with arg {x}:\nanalytic: {a}\nnumeric:  {b}"


def _check_vjp(f: Callable[[Any], Any], x: Any) -> None:
    y, pullback = dd.vjp(f, x)
    u = _randn(y)
    v = _randn(x)
    x_bar = _covector(pullback(_covector(u)))
    assert _space(x_bar) == _space(x), f"VJP at {x}: cotangent {_space(x_bar)}, expected {_space(x)}"
    a = _inner(v, x_bar)
    b = _inner(u, _numeric_jvp(f, x)(v))
    assert _close(a, b), f"Derivative (VJP) check failed with arg {x}:\nanalytic: {a}\nnumeric:  {b}"


def _check(f: Callable[[Any], Any], x: Any, modes: Sequence[str], order: int) -> None:
    if "fwd" in modes:
        _check_jvp(f, x)
        if order > 1:
            _check(lambda xv: dd.jvp(f, xv[0], xv[1])[1], (x, _randn(x)), modes, order - 1)
    if "rev" in modes:
        _check_vjp(f, x)
        if order > 1:
            _check(lambda xu: dd.vjp(f, xu[0])[1](xu[1]), (x, _randn(f(x))), modes, order - 1)


def check_grads(fun: Callable[..., Any], argnum: Any = 0, modes: Any = None, order: int = 2) -> Callable[..., None]:
    """autograd.test_util.check_grads: derivatives against central differences, to ``order``."""
    modes = ["fwd", "rev"] if modes is None else modes
    assert all(m in ("fwd", "rev") for m in modes)

    def check(*args: Any, **kwargs: Any) -> None:
        x, f = _unary(fun, argnum, args, kwargs)
        _check(f, x, modes, order)

    return check


def combo_check(fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., None]:
    """autograd.test_util.combo_check: check_grads for every combination of the given values."""

    def check(*arg_lists: Any, **kwarg_lists: Any) -> None:
        keyed = [[(k, v) for v in vs] for k, vs in kwarg_lists.items()]
        for values in itertools.product(*arg_lists):
            for options in itertools.product(*keyed):
                check_grads(fun, *args, **kwargs)(*values, **dict(options))

    return check


# -- autograd's additions to the NumPy namespace, as the NumPy code they stand for


def make_diagonal(d: Any, offset: int = 0, axis1: int = -1, axis2: int = -2) -> Any:
    """autograd's ``np.make_diagonal``: ``d``'s last axis on the diagonal of two new trailing axes."""
    if offset != 0 or sorted((axis1 % 2, axis2 % 2)) != [0, 1] or min(axis1, axis2) < -2:
        raise NotImplementedError("make_diagonal: only offset 0 and the two last axes")
    n = onp.shape(d)[-1]
    return onp.expand_dims(d, -1) * onp.eye(n)


def _module(name: str, base: Any = None, **extra: Any) -> types.ModuleType:
    m = types.ModuleType(name)
    if base is not None:
        m.__dict__.update({k: v for k, v in vars(base).items() if not k.startswith("__")})
        m.__version__ = getattr(base, "__version__", None)
    m.__dict__.update(extra)
    sys.modules[name] = m
    return m


def install() -> None:
    """Put the ``autograd`` modules backed by dualdiff into ``sys.modules``."""
    if getattr(sys.modules.get("autograd"), "__dualdiff_adapter__", False):
        return
    linalg = _module("autograd.numpy.linalg", onp.linalg, _dot=onp.dot, T=lambda a: onp.swapaxes(a, -1, -2))
    random = _module("autograd.numpy.random", onp.random)
    fft = _module("autograd.numpy.fft", onp.fft)
    anp = _module("autograd.numpy", onp, linalg=linalg, random=random, fft=fft, make_diagonal=make_diagonal)
    test_util = _module("autograd.test_util", check_grads=check_grads, combo_check=combo_check)
    _module(
        "autograd",
        numpy=anp,
        test_util=test_util,
        grad=grad,
        value_and_grad=value_and_grad,
        make_vjp=make_vjp,
        make_jvp=make_jvp,
        elementwise_grad=elementwise_grad,
        jacobian=jacobian,
        hessian=hessian,
        tuple=builtins.tuple,
        list=builtins.list,
        __dualdiff_adapter__=True,
    )


def pytest_configure(config: Any) -> None:
    """pytest hook: install the modules before any test file is imported."""
    install()


install()
