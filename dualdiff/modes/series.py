"""Truncated power series: the coefficient recurrences of Taylor mode.

A *series* is a list ``[x_0, x_1, ..., x_d]``: the coefficients of
``x(t) = x_0 + x_1 t + ... + x_d t^d`` with ``t^{d+1} = 0``. Every function
here takes series of one length and returns one of the same length, in
O(d^2) operations on the coefficients. The coefficients may be anything with
``+ - * /``: Python floats (the scalar path, with no array overhead),
complex and mpmath numbers, NumPy arrays (elementwise), or lifted values of a
lower derivative level (nesting), so one recurrence serves every number type.

Most recurrences come from an ODE the function satisfies along ``x(t)``
(Griewank & Walther, *Evaluating Derivatives*, ch. 13): ``y = exp(x)`` has
``y' = y x'``, so ``k y_k = sum_{j=1..k} j x_j y_{k-j}``. The value ``y_0``
is always passed in, computed by the rule itself (so domain errors, IEEE
limits and the best available algorithm for the value apply), and where a
recurrence would cancel (``1 - y^2`` for tanh near ±1) the caller passes the
constant term of the derivative too, computed from the rule's accurate form.

>>> mul([1.0, 1.0, 0.0], [1.0, 1.0, 0.0])          # (1 + t)^2
[1.0, 2.0, 1.0]
>>> exp_series([0.0, 1.0, 0.0, 0.0], 1.0)          # e^t
[1.0, 1.0, 0.5, 0.16666666666666666]
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from operator import add
from operator import mul as _mul
from typing import Any

Series = list[Any]


def dot(xs: Sequence[Any], ys: Sequence[Any]) -> Any:
    """``sum(x * y)`` over two non-empty sequences, without a leading ``0 +``.

    (A literal 0 start would add one operation per sum to every lower
    derivative level, and one equation per sum to a recorded program.)

    >>> dot([1.0, 2.0], [3.0, 4.0])
    11.0
    """
    if type(xs[0]) is float:
        return sum(map(_mul, xs, ys))
    return reduce(add, map(_mul, xs, ys))


def mul(a: Series, b: Series) -> Series:
    """The Cauchy product: ``y_k = sum_{j=0..k} a_j b_{k-j}``.

    >>> mul([2.0, 1.0], [3.0, 1.0])
    [6.0, 5.0]
    """
    return [dot(a[: k + 1], b[k::-1]) for k in range(len(a))]


def scale(a: Series, c: Any) -> Series:
    """Every coefficient times the constant ``c``.

    >>> scale([1.0, 2.0], 3.0)
    [3.0, 6.0]
    """
    return [ak * c for ak in a]


def square(a: Series) -> Series:
    """``a * a`` with each cross term computed once.

    >>> square([1.0, 2.0, 3.0])
    [1.0, 4.0, 10.0]
    """
    y = [a[0] * a[0]]
    for k in range(1, len(a)):
        h = (k + 1) // 2  # pairs a_j a_{k-j} with j < k - j
        s = dot(a[:h], a[k : k - h : -1])
        s = s + s
        if k % 2 == 0:
            s = s + a[h] * a[h]
        y.append(s)
    return y


def divide(a: Series | None, b: Series, y0: Any) -> Series:
    """``a / b`` (``a`` None: a constant numerator): ``b_0 y_k = a_k - sum_{j=1..k} b_j y_{k-j}``.

    >>> divide([1.0, 0.0, 0.0], [1.0, -1.0, 0.0], 1.0)   # 1 / (1 - t)
    [1.0, 1.0, 1.0]
    """
    b0 = b[0]
    y = [y0]
    for k in range(1, len(b)):
        s = dot(b[1 : k + 1], y[k - 1 :: -1])
        y.append(((a[k] - s) if a is not None else -s) / b0)
    return y


def exp_series(x: Series, y0: Any, c: Any = None) -> Series:
    """``exp(c x)`` (c defaults to 1): ``k y_k = c sum_{j=1..k} j x_j y_{k-j}``.

    >>> exp_series([0.0, 2.0, 0.0], 1.0)
    [1.0, 2.0, 2.0]
    """
    n = len(x)
    jx = [j * x[j] for j in range(1, n)] if c is None else [(j * c) * x[j] for j in range(1, n)]
    y = [y0]
    for k in range(1, n):
        y.append(dot(jx[:k], y[k - 1 :: -1]) / k)
    return y


def expm1_series(x: Series, y0: Any, e0: Any) -> Series:
    """``exp(x) - 1`` with ``y_0`` kept exact and ``e0 = exp(x_0)`` driving the recurrence.

    >>> expm1_series([0.0, 1.0, 0.0], 0.0, 1.0)     # e^t - 1 = t + t^2/2
    [0.0, 1.0, 0.5]
    """
    y = exp_series(x, e0)
    y[0] = y0
    return y


def log_series(x: Series, y0: Any, x0: Any = None) -> Series:
    """``log(x)``: ``x_0 y_k = x_k - (1/k) sum_{j=1..k-1} j y_j x_{k-j}``.

    ``x0`` replaces ``x[0]`` in the recurrence (``log1p`` passes ``1 + x_0``).
    The recurrence never reads ``y_0``, so it also gives the derivatives of
    ``log|x|`` at negative ``x_0``.

    >>> log_series([1.0, 1.0, 0.0, 0.0], 0.0)   # log(1 + t) = t - t^2/2 + t^3/3
    [0.0, 1.0, -0.5, 0.3333333333333333]
    """
    if x0 is None:
        x0 = x[0]
    y = [y0]
    jy: list[Any] = []
    for k in range(1, len(x)):
        yk = x[k] if k == 1 else x[k] - dot(jy, x[k - 1 : 0 : -1]) / k
        yk = yk / x0
        y.append(yk)
        jy.append(k * yk)
    return y


def sin_cos(x: Series, s0: Any, c0: Any, hyperbolic: bool = False) -> tuple[Series, Series]:
    """``sin(x)`` and ``cos(x)`` together (``sinh``/``cosh`` when ``hyperbolic``).

    ``k s_k = sum j x_j c_{k-j}`` and ``k c_k = -+ sum j x_j s_{k-j}``.

    >>> sin_cos([0.0, 1.0, 0.0, 0.0], 0.0, 1.0)
    ([0.0, 1.0, 0.0, -0.16666666666666666], [1.0, -0.0, -0.5, -0.0])
    """
    n = len(x)
    jx = [j * x[j] for j in range(1, n)]
    s, c = [s0], [c0]
    for k in range(1, n):
        jxk = jx[:k]
        s.append(dot(jxk, c[k - 1 :: -1]) / k)
        ck = dot(jxk, s[k - 1 :: -1]) / k
        c.append(ck if hyperbolic else -ck)
    return s, c


def riccati(x: Series, y0: Any, w0: Any, sign: int) -> Series:
    """``y`` with ``y' = w x'`` and ``w = w_0 + sign * (y^2 - y_0^2)`` (tan: +1, tanh: -1).

    ``w_0`` is the derivative at the point, passed in from an accurate
    formula (``sech^2 x_0`` for tanh: ``1 - y_0^2`` would cancel where
    ``|y_0|`` is near 1). The higher terms of ``w`` are ``sign * (y^2)_m``,
    which never cancel that way.

    >>> riccati([0.0, 1.0, 0.0, 0.0], 0.0, 1.0, 1)   # tan t = t + t^3/3
    [0.0, 1.0, 0.0, 0.3333333333333333]
    """
    n = len(x)
    jx = [j * x[j] for j in range(1, n)]
    y, w = [y0], [w0]
    for k in range(1, n):
        y.append(dot(jx[:k], w[k - 1 :: -1]) / k)
        if k < n - 1:
            sq = dot(y[: k + 1], y[k::-1])
            w.append(sq if sign > 0 else -sq)
    return y


def logistic(x: Series, y0: Any, w0: Any) -> Series:
    """The sigmoid: ``y' = w x'`` with ``w = y (1 - y)``; ``w_0`` passed in (``s(x_0) s(-x_0)``).

    >>> logistic([0.0, 1.0, 0.0, 0.0], 0.5, 0.25)    # 1/2 + t/4 - t^3/48
    [0.5, 0.25, 0.0, -0.020833333333333332]
    """
    n = len(x)
    jx = [j * x[j] for j in range(1, n)]
    y, w = [y0], [w0]
    for k in range(1, n):
        y.append(dot(jx[:k], w[k - 1 :: -1]) / k)
        if k < n - 1:
            w.append(y[k] - dot(y[: k + 1], y[k::-1]))
    return y


def sqrt_series(x: Series, y0: Any) -> Series:
    """``sqrt(x)``: ``2 y_0 y_k = x_k - sum_{j=1..k-1} y_j y_{k-j}``.

    >>> sqrt_series([4.0, 4.0, 1.0], 2.0)     # sqrt((2 + t)^2)
    [2.0, 1.0, 0.0]
    """
    two_y0 = y0 + y0
    y = [y0]
    for k in range(1, len(x)):
        s = x[k] if k == 1 else x[k] - dot(y[1:k], y[k - 1 : 0 : -1])
        y.append(s / two_y0)
    return y


def power_series(a: Series, y0: Any, r: Any) -> Series:
    """``a ** r`` for a constant ``r`` and ``a_0 != 0``, from ``a y' = r a' y``.

    ``k a_0 y_k = sum_{j=1..k} (r j - (k - j)) a_j y_{k-j}``; the weight is
    formed from ``r`` itself, not ``r + 1`` (which rounds: the binomial
    coefficient ``(1 + t) ** (4 - 2^-51)`` has at ``t^5`` is about 1e-16, not 0).

    >>> power_series([1.0, 1.0, 0.0, 0.0], 1.0, 0.5)   # sqrt(1 + t)
    [1.0, 0.5, -0.125, 0.0625]
    """
    a0 = a[0]
    y = [y0]
    for k in range(1, len(a)):
        weighted = [(r * j - (k - j)) * a[j] for j in range(1, k + 1)]
        y.append(dot(weighted, y[k - 1 :: -1]) / (k * a0))
    return y


def integer_power(a: Series, n: int) -> Series:
    """``a ** n`` for an integer ``n >= 1`` by repeated squaring: exact where ``a_0 = 0`` too.

    >>> integer_power([0.0, 1.0, 0.0, 0.0], 3)
    [0.0, 0.0, 0.0, 1.0]
    """
    result: Series | None = None
    base = a
    while True:
        if n & 1:
            result = base if result is None else mul(result, base)
        n >>= 1
        if not n:
            return result  # type: ignore[return-value]
        base = square(base)


def integrate(y0: Any, xs: Sequence[Series], ps: Sequence[Series], n: int) -> Series:
    """``y`` with ``y' = sum_i p_i x_i'``: ``k y_k = sum_i sum_{j=1..k} j x_{i,j} p_{i,k-j}``.

    ``xs[i]`` has ``n`` coefficients; ``ps[i]``, the series of the partial
    ``dy/dx_i`` along the curve, may be shorter (missing terms are zero: a
    constant partial is one coefficient). This is how Taylor mode gets any
    elementwise rule from its partials alone.

    >>> integrate(0.0, [[0.0, 1.0, 0.0, 0.0]], [[1.0, 0.0, -0.5]], 4)   # sin t from cos t
    [0.0, 1.0, 0.0, -0.16666666666666666]
    """
    jxs = [[j * x[j] for j in range(1, n)] for x in xs]
    y = [y0]
    for k in range(1, n):
        total: Any = None  # a sum of coefficients (xs is never empty)
        for jx, p in zip(jxs, ps):
            lo = max(0, k - len(p))  # p_{k-j} is zero beyond p's length
            term = dot(jx[lo:k], p[k - 1 - lo :: -1])
            total = term if total is None else total + term
        y.append(total / k)
    return y
