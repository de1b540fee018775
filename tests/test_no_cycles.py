"""A derivative call leaves no reference cycles behind.

Objects in a cycle live until the garbage collector runs; when one of them
holds a tangent or an adjoint array, every call keeps megabytes alive for a
while and the next call faults fresh pages in (a recursive closure in
``rebuild`` did this to every Jacobian: 200x200 ones took 60% longer). So
each transform, on trees of inputs and outputs, must free everything it made
the moment it returns.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import dualdiff as dd

X = np.linspace(0.1, 0.9, 5)
W = np.arange(15.0).reshape(3, 5) / 10


def f_tree(p: Any) -> Any:
    a, (b, c) = p
    return np.sin(W @ a) * b + c, np.sum(a * a)


def f_scalar(x: Any) -> Any:
    return np.sum(np.tanh(W @ np.sin(x)))


def f_vector(x: Any) -> Any:
    return np.tanh(W @ np.sin(x))


TREE = (X, (2.0, np.ones(3)))
CALLS: dict[str, Callable[[], Any]] = {
    "jvp on a tree": lambda: dd.jvp(f_tree, TREE, TREE),
    "vjp on a tree": lambda: dd.vjp(f_tree, TREE)[1]((np.ones(3), 1.0)),
    "grad": lambda: dd.grad(f_scalar)(X),
    "grad of a tuple": lambda: dd.grad(lambda p: f_scalar(p[0]) * p[1])((X, 3.0)),
    "jacfwd": lambda: dd.jacfwd(f_vector)(X),
    "jacrev": lambda: dd.jacrev(f_vector)(X),
    "jacobian auto": lambda: dd.jacobian(f_vector, mode="auto")(X),
    "hessian": lambda: dd.hessian(f_scalar)(X),
    "derivative": lambda: dd.derivative(np.sin)(0.3),
    "taylor": lambda: dd.taylor(np.sin, 0.3, order=4),
    "compiled grad": (lambda c: lambda: c.grad(X))(dd.compile(f_scalar)),
    "compiled jacobian": (lambda c: lambda: c.jacobian(X))(dd.compile(f_vector)),
}


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_call_leaves_no_cycles(name: str, collector_off: None) -> None:
    call = CALLS[name]
    call()  # the first call fills caches (compiled versions, rule lookups), which are not garbage
    gc.collect()
    call()
    assert gc.collect() == 0, f"{name} left reference cycles for the garbage collector"


def test_the_check_can_fail(collector_off: None) -> None:
    # the check above sees a cycle when there is one
    gc.collect()
    a: list[Any] = []
    a.append(a)
    del a
    assert gc.collect() > 0
