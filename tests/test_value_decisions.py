"""Decisions NumPy functions take on values are checked again when a recorded program runs elsewhere.

``np.interp`` picks a segment by where x falls, ``np.nanmean`` counts the
values that are not NaN, ``np.linalg.slogdet`` reports a sign, ``norm(x, 0)``
counts nonzeros, ``np.trim_zeros`` finds where the zeros end, ``np.take``
wraps or clips indices computed from x. Each is a
decision on values; in eager mode it is taken afresh at every call, but a
recorded program (``dd.wengert``) and a compiled function (``dd.compile``)
run again at other points. They must give the function's value there or say
that the decision changed (``GuardError``; ``dd.compile`` then retraces),
never the value of the branch taken at the recording point. These returned
wrong numbers before, with no error.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import dualdiff as dd
from dualdiff.errors import GuardError

XP = np.array([0.0, 1.0, 2.0, 3.0])
FP = np.array([0.0, 10.0, 0.0, 5.0])

CASES = {
    "interp": (lambda x: np.interp(x, XP, FP), np.array([0.5, 1.5]), [np.array([2.5, 0.2]), np.array([1.0, 3.5])]),
    "interp_xp": (lambda x: np.interp(np.array([0.7, 2.2]), x, FP), XP, [np.array([0.0, 1.0, 2.5, 3.0])]),
    "nanmean": (lambda x: np.nanmean(x * 1.0), np.array([1.0, np.nan, 3.0]), [np.array([1.0, 2.0, 3.0])]),
    "nanvar": (lambda x: np.nanvar(x * 1.0), np.array([1.0, np.nan, 3.0]), [np.array([np.nan, 2.0, np.nan])]),
    "nanstd": (lambda x: np.nanstd(x, axis=0), np.array([[1.0, np.nan], [3.0, 4.0]]), [np.ones((2, 2))]),
    "slogdet": (
        lambda a: np.linalg.slogdet(a)[0] * np.linalg.slogdet(a)[1],
        np.array([[2.0, 0.0], [0.0, 1.0]]),
        [np.array([[-2.0, 0.0], [0.0, 1.0]])],
    ),
    "norm0": (lambda x: np.linalg.norm(x, 0) * x, np.array([1.0, 0.0, 2.0]), [np.array([1.0, 1.0, 2.0])]),
    "trim_zeros": (lambda x: np.sum(np.trim_zeros(x)), np.array([0.0, 1.0, 2.0, 0.0]), [np.array([1.0, 1, 2, 1])]),
    "take_wrap": (lambda x: np.take(x, np.argsort(x) + 1, mode="wrap"), np.array([3.0, 1, 2]), [np.array([1.0, 3, 2])]),
    "take_clip": (lambda x: np.take(x, np.argsort(x) + 1, mode="clip"), np.array([3.0, 1, 2]), [np.array([1.0, 3, 2])]),
    "choose": (lambda x: np.choose(np.argsort(x), [x, 2 * x, 3 * x]), np.array([3.0, 1, 2]), [np.array([1.0, 3, 2])]),
    "take_along_axis": (
        lambda x: np.take_along_axis(x, np.argsort(x[:1], axis=1), axis=1),
        np.array([[3.0, 1, 2], [4, 5, 6]]),
        [np.array([[1.0, 3, 2], [4, 5, 6]])],
    ),
    "hermitian_svd": (
        lambda a: np.linalg.svd(a, hermitian=True)[0],
        np.array([[3.0, 0], [0, -1]]),
        [np.array([[1.0, 0], [0, -3]])],
    ),
    "lstsq_rank": (
        lambda a: np.linalg.lstsq(a, np.array([1.0, 2, 3]), rcond=None)[2] * a,
        np.array([[1.0, 0], [0, 1], [0, 0]]),
        [np.array([[1.0, 1], [1, 1], [0, 0]])],
    ),
}


def _same(got, want):
    assert np.allclose(np.asarray(got, dtype=complex), np.asarray(want, dtype=complex), equal_nan=True), (got, want)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_recorded_program_checks_the_decision(name):
    f, x0, others = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the NaN cases warn as NumPy does
        prog = dd.wengert(f, x0)
        _same(prog(x0), f(x0))
        for x in others:
            with pytest.raises(GuardError):
                prog(x)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_compiled_function_retraces(name):
    f, x0, others = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cf = dd.compile(f)
        for x in [x0, *others, x0]:
            y, t = cf.jvp(x, np.ones_like(x))
            y0, t0 = dd.jvp(f, x, np.ones_like(x))
            _same(y, y0)
            _same(t, t0)


def test_the_same_decisions_replay_without_retracing():
    f, x0, _ = CASES["interp"]
    prog = dd.wengert(f, x0)
    x = np.array([0.25, 1.75])  # the same segments: the program runs, and gives f there
    _same(prog(x), f(x))


# --------------------------------------------------------------------------
# a sweep: every NumPy case of the suites, recorded at its point, replayed elsewhere
# --------------------------------------------------------------------------


def _moved(a, kind, rng):
    """``a`` nudged, shuffled, or negated and shifted: each moves values across some decisions."""
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.inexact):
        return a
    if kind == 0:
        b = a * (1 + 1e-3 * rng.standard_normal(a.shape))
    elif kind == 1:
        b = rng.permutation(a.ravel()).reshape(a.shape)
    else:
        b = -a + 0.3 * rng.standard_normal(a.shape)
    return b.astype(a.dtype)


def _sweep_cases():
    from test_arrays import CASES as ARRAY_CASES
    from test_arrays import EDGE_CASES
    from test_numpy_arguments import CASES as ARGUMENT_CASES
    from test_numpy_arguments import _get, _id, float_leaves, invoke, slots

    from dualdiff.modes.tree import leaves, rebuild

    for name, (f, x) in sorted({**ARRAY_CASES, **EDGE_CASES}.items()):
        yield name, f, x, lambda x, rng, x0=x: rebuild(x0, [_moved(a, rng.integers(3), rng) for a in leaves(x0)])
    for func, call in ARGUMENT_CASES:
        paths = slots(call)
        if not call.values or not paths:
            continue

        def g(t, func=func, call=call, paths=paths):
            parts = [np.reshape(v, (-1,)) for v in float_leaves(invoke(func, call, dict(zip(paths, t))))]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)

        xs = tuple(_get(call, p) for p in paths)
        yield _id(func, call), g, xs, lambda x, rng: tuple(_moved(a, rng.integers(3), rng) for a in x)


def _close(u, v):
    return np.allclose(np.asarray(u, complex), np.asarray(v, complex), rtol=1e-9, atol=1e-12, equal_nan=True)


def test_no_recorded_case_replays_to_a_wrong_value():
    """At a new point a program gives f's value there, or refuses (a guard, a domain): never another branch's."""
    from dualdiff.errors import DomainError
    from dualdiff.modes.tree import leaves

    rng = np.random.default_rng(5)
    recorded = wrong = 0
    failures = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for name, f, x, move in _sweep_cases():
            try:
                if not leaves(f(x)):
                    continue
                prog = dd.wengert(f, x)
            except Exception:  # not recordable (no rule, a value-only function): other tests cover it
                continue
            recorded += 1
            for _ in range(6):
                x1 = move(x, rng)
                try:
                    want = f(x1)
                except Exception:
                    continue
                try:
                    got = prog(x1)
                except (GuardError, DomainError):
                    continue
                pairs = zip(leaves(got), leaves(want))
                if not all(_close(u, v) for u, v in pairs):
                    wrong += 1
                    failures.append(name)
                    break
    assert recorded > 300, recorded
    assert not failures, f"{wrong} recorded programs gave another branch's value: {failures}"
