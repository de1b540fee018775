"""Taylor coefficients of the general array rules (matmul, solve, det, ...).

A general rule without an entry here still works in Taylor mode: its
linear maps are called on Taylor numbers (see
:func:`dualdiff.modes.taylor._generic_general`). The formulas below exist
because that route would be exponential (a bilinear map whose maps call the
rule again) or O(d^3) (maps that read the output ``y``); each costs O(d^2)
applications of the rule's own operations:

* **multilinear** rules (matmul, tensordot, einsum): the Cauchy product,
  ``y_k = sum over j_1 + ... + j_r = k of F(x_{1,j_1}, ..., x_{r,j_r})``;
* **piecewise-linear** rules whose maps depend on the point only through
  plain values (where, concatenate, max, min): the map applied to each
  coefficient, as for a linear rule;
* **prod**: ``y'/y = sum x'/x`` where no factor is zero (a sum of
  log-derivative series, then exp's recurrence), else products in sequence;
* **inv**: ``Y_k = -Y_0 sum_{j=1..k} A_j Y_{k-j}``; **solve**:
  ``A_0 X_k = B_k - sum_{j=1..k} A_j X_{k-j}`` (one solve per order);
* **det** and **log|det|**: ``(log det)' = tr(A^{-1} A')`` with the series of
  ``A^{-1}`` from inv's recurrence.

``formula(rule, y0, xs, series, params)`` gets the value the rule computed,
the arguments' values ``xs`` and their coefficient lists (None for constants
and arguments without derivative); it returns ``[y0, y1, ..., yd]``. All use
NumPy functions that dispatch, so the coefficients may be lifted values of
a lower level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import reduce
from operator import add
from typing import Any

import numpy as np

from ..rules import arrays as ar
from ..rules.kinds import General
from . import series as sr
from .core import apply_general, strip_all

Formula = Callable[..., Any]


def _compositions(k: int, r: int) -> Iterator[tuple[int, ...]]:
    """Every tuple of ``r`` non-negative integers that sums to ``k``.

    >>> list(_compositions(2, 2))
    [(0, 2), (1, 1), (2, 0)]
    """
    if r == 1:
        yield (k,)
        return
    for j in range(k + 1):
        for rest in _compositions(k - j, r - 1):
            yield (j, *rest)


def _multilinear(rule: General, y0: Any, xs: list[Any], series: list[Any], params: tuple[Any, ...]) -> list[Any]:
    """The Cauchy product of a rule linear in each argument separately."""
    active = [i for i, s in enumerate(series) if s is not None]
    n = len(series[active[0]])
    ys = [y0]
    for k in range(1, n):
        total = None
        for combo in _compositions(k, len(active)):
            ops = list(xs)
            for i, j in zip(active, combo):
                ops[i] = series[i][j]
            term = apply_general(rule, tuple(ops), params)
            total = term if total is None else total + term
        ys.append(total)
    return ys


def _piecewise_linear(rule: General, y0: Any, xs: list[Any], series: list[Any], params: tuple[Any, ...]) -> list[Any]:
    """The rule's forward map applied to each coefficient (maps that depend on plain values only)."""
    n = len(next(s for s in series if s is not None))
    ys = [y0]
    for k in range(1, n):
        ts = [None if s is None else s[k] for s in series]
        if rule.joint_map is not None:
            ys.append(rule.joint_map(ts, 0, y0, xs, params))
            continue
        total = None
        for i, t in enumerate(ts):
            if t is not None:
                c = rule.linear_maps[i](t, 0, y0, xs, params)
                total = c if total is None else total + c
        ys.append(total)
    return ys


def _prod(rule: General, y0: Any, xs: list[Any], series: list[Any], params: tuple[Any, ...]) -> list[Any]:
    x = series[0]
    axes, keepdims = params
    if bool(np.all(x[0] != 0)):
        # y'/y = sum over the reduced axes of x'/x: log-derivative series, summed, then exp's recurrence
        q = sr.log_series(x, None)
        total = [None] + [np.sum(qk, axis=axes, keepdims=keepdims) for qk in q[1:]]
        return sr.exp_series(total, y0)
    # a zero factor: multiply the factors' series one after another
    ndim = np.ndim(strip_all(x[0]))
    rest = [i for i in range(ndim) if i not in axes]
    shape = np.shape(strip_all(x[0]))
    flat = [np.reshape(np.transpose(c, rest + list(axes)), tuple(shape[i] for i in rest) + (-1,)) for c in x]
    acc = [c[..., 0] for c in flat]
    for i in range(1, np.shape(strip_all(flat[0]))[-1]):
        acc = sr.mul(acc, [c[..., i] for c in flat])
    kept = tuple(1 if i in axes else s for i, s in enumerate(shape)) if keepdims else None
    ys = [c if kept is None else np.reshape(c, kept) for c in acc]
    ys[0] = y0
    return ys


def _inverse_series(a: list[Any], y0: Any, n: int) -> list[Any]:
    """``Y = A^{-1}``: ``Y_k = -Y_0 sum_{j=1..k} A_j Y_{k-j}``, to ``n`` terms."""
    ys = [y0]
    for k in range(1, n):
        s = reduce(add, (np.matmul(a[j], ys[k - j]) for j in range(1, k + 1)))
        ys.append(-np.matmul(y0, s))
    return ys


def _inv(rule: General, y0: Any, xs: list[Any], series: list[Any], params: tuple[Any, ...]) -> list[Any]:
    a = series[0]
    return _inverse_series(a, y0, len(a))


def _solve(rule: General, y0: Any, xs: list[Any], series: list[Any], params: tuple[Any, ...]) -> list[Any]:
    a, b = series
    vector = np.ndim(strip_all(xs[1])) == 1
    n = len(a if a is not None else b)

    def times(m: Any, v: Any) -> Any:  # A_j X, with vectors viewed as columns
        return np.matmul(m, np.expand_dims(v, -1))[..., 0] if vector else np.matmul(m, v)

    solve = rule.linear_maps[1]  # the map of b: solve(A_0, .), vectors and stacks handled by the rule
    ys = [y0]
    for k in range(1, n):
        r = None if b is None else b[k]
        if a is not None:
            for j in range(1, k + 1):
                r = -times(a[j], ys[k - j]) if r is None else r - times(a[j], ys[k - j])
        ys.append(solve(r, 0, y0, xs, params))
    return ys


def _trace_series(a: list[Any], w: list[Any], n: int) -> list[Any]:
    """``g = tr(A^{-1} A')`` to ``n - 1`` terms: ``g_m = sum_{i+j=m} tr(W_i (j+1) A_{j+1})``."""
    out = []
    for m in range(n - 1):
        terms = (np.sum(np.swapaxes(w[i], -1, -2) * ((m - i + 1) * a[m - i + 1]), axis=(-2, -1)) for i in range(m + 1))
        out.append(reduce(add, terms))
    return out


def _det(rule: General, y0: Any, xs: list[Any], series: list[Any], params: tuple[Any, ...]) -> list[Any]:
    a = series[0]
    n = len(a)
    if n == 1:
        return [y0]
    w = _inverse_series(a, np.linalg.inv(xs[0]), n - 1)
    g = _trace_series(a, w, n)  # D' = D g, so k D_k = sum_{i<k} g_i D_{k-1-i}
    ys = [y0]
    for k in range(1, n):
        ys.append(sr.dot(g[:k], ys[k - 1 :: -1]) / k)
    return ys


def _logabsdet(rule: General, y0: Any, xs: list[Any], series: list[Any], params: tuple[Any, ...]) -> list[Any]:
    a = series[0]
    n = len(a)
    if n == 1:
        return [y0]
    w = _inverse_series(a, np.linalg.inv(xs[0]), n - 1)
    g = _trace_series(a, w, n)
    return [y0] + [g[k - 1] / k for k in range(1, n)]


#: The formulas, by rule object.
FORMULAS: dict[General, Formula] = {
    ar.MATMUL: _multilinear,
    ar.TENSORDOT: _multilinear,
    ar.EINSUM: _multilinear,
    ar.WHERE: _piecewise_linear,
    ar.CONCATENATE: _piecewise_linear,
    ar.MAX: _piecewise_linear,
    ar.MIN: _piecewise_linear,
    ar.PROD: _prod,
    ar.INV: _inv,
    ar.SOLVE: _solve,
    ar.DET: _det,
    ar.LOGABSDET: _logabsdet,
}
