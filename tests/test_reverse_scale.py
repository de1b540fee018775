"""Reverse mode at scale: a million-operation tape, memory afterwards, and threads.

Expected values come from an independent float loop of the chain rule or from
derivatives worked out by hand, never from dualdiff's own output.
"""

from __future__ import annotations

import gc
import math
import sys
import threading
import tracemalloc

import numpy as np
import pytest

import dualdiff as dd

# one step of the chain is  y <- y * A + B  (2 operations), then  y <- sin(y)  (1 operation)
A = 0.999999
B = 1e-7
N_OPS = 1_000_000
N_STEPS = N_OPS // 3 + 1  # 3 operations a step: just over a million operations


def chain(x):
    y = x
    for _ in range(N_STEPS):
        y = y * A + B
        y = dd.sin(y)
    return y


def chain_reference(x):
    """The value and derivative of ``chain`` by a plain float loop of the chain rule."""
    y = x
    dy = 1.0
    for _ in range(N_STEPS):
        y = y * A + B
        dy *= A
        dy *= math.cos(y)
        y = math.sin(y)
    return y, dy


def test_grad_through_a_million_operations_and_memory_comes_back():
    x0 = 0.5
    expected_value, expected_grad = chain_reference(x0)
    assert expected_grad != 0.0 and math.isfinite(expected_grad)

    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        # must not raise RecursionError however deep the tape
        value, g = dd.value_and_grad(chain)(x0)
        gc.collect()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert value == pytest.approx(expected_value, rel=1e-12, abs=0)
    assert g == pytest.approx(expected_grad, rel=1e-9, abs=0)

    # the tape of a million entries really was held (so the measurement means something) ...
    assert peak - before > 50_000_000, f"peak only {peak - before} bytes above the start"
    # ... and it is all given back once the sweep is done
    assert after - before < 1_000_000, f"{after - before} bytes still allocated after grad returned"


def _stack_depth():
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth


def test_deep_tape_explicit_api_and_recursion_limit():
    """A deep tape swept with a small recursion limit: the sweep must be a loop, not recursion."""
    n = 50_000
    tape = dd.Tape()
    x = tape.var(0.3)
    y = x
    for _ in range(n):
        y = dd.tanh(y) + 0.25 * y
    # reference derivative by a float loop
    v, dv = 0.3, 1.0
    for _ in range(n):
        t = math.tanh(v)
        dv *= (1 - t * t) + 0.25
        v = t + 0.25 * v
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_stack_depth() + 100)  # far below the tape's depth
    try:
        y.backward()
    finally:
        sys.setrecursionlimit(old)
    assert y.primal == pytest.approx(v, rel=1e-12)
    assert x.grad == pytest.approx(dv, rel=1e-9)


# --------------------------------------------------------------------------
# threads
# --------------------------------------------------------------------------


def _job_array(rng):
    x = rng.uniform(-2, 2, size=5)
    g = dd.grad(lambda t: np.sum(np.sin(t) * t))(x)
    return g, np.cos(x) * x + np.sin(x)


def _job_tuple(rng):
    a, b = rng.uniform(-1, 1, size=2)
    g = dd.grad(lambda p: p[0] * p[1] ** 2 + dd.exp(p[0]))((a, b))
    return np.array(g), np.array([b * b + math.exp(a), 2 * a * b])


def _job_scalar_tape(rng):
    a, b = rng.uniform(0.1, 2, size=2)
    tape = dd.Tape()
    x = tape.var(a)
    y = tape.var(b)
    z = x * y * y + dd.log(x) * dd.cos(y)
    z.backward()
    return np.array([x.grad, y.grad]), np.array([b * b + math.cos(b) / a, 2 * a * b - math.log(a) * math.sin(b)])


def _job_hessian(rng):
    x = rng.uniform(-1, 1, size=3)
    # f = sum(x^3) + x0 x1 x2: Hessian diag(6x) + off-diagonals x_k for the third index k
    H = dd.hessian(lambda t: np.sum(t**3) + t[0] * t[1] * t[2])(x)
    expected = np.diag(6 * x)
    expected[0, 1] = expected[1, 0] = x[2]
    expected[0, 2] = expected[2, 0] = x[1]
    expected[1, 2] = expected[2, 1] = x[0]
    return H, expected


JOBS = [_job_array, _job_tuple, _job_scalar_tape, _job_hessian]


def test_four_threads_computing_gradients_at_once():
    n_each = 200
    barrier = threading.Barrier(len(JOBS))
    results: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in JOBS]
    errors: list[BaseException] = []

    def worker(k):
        try:
            rng = np.random.default_rng(k)
            barrier.wait()
            for _ in range(n_each):
                results[k].append(JOBS[k](rng))
        except BaseException as e:  # report in the main thread
            errors.append(e)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, to interleave the tapes
    try:
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(JOBS))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        sys.setswitchinterval(old)

    assert not errors, errors
    for k, res in enumerate(results):
        assert len(res) == n_each, f"thread {k} finished {len(res)} of {n_each}"
        for got, expected in res:
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14, err_msg=JOBS[k].__name__)
