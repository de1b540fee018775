"""Taylor mode: truncated Taylor polynomials ``x_0 + x_1 t + ... + x_d t^d`` with ``t^{d+1} = 0``.

A dual number is the first-order case (``d = 1``). A :class:`Taylor` number
carries d coefficients beyond its value, and each primitive maps the
coefficients of its arguments to those of its result in O(d^2) operations,
so one pass gives all d derivatives along a direction (Griewank & Walther,
*Evaluating Derivatives*, ch. 13), where nesting ``derivative`` d times
costs O(2^d) and builds d levels of Duals.

Representation: ``series = [x_0, x_1, ..., x_d]``, a Python list whose items
all have the value's kind: Python floats (the scalar path, with no array
overhead per operation), complex or mpmath numbers, NumPy arrays of the
value's shape, or lifted values of a lower level. Every coefficient
recurrence is plain arithmetic on those items, so it serves every number
type and every nesting, and a linear map is applied coefficient by
coefficient. ``primal`` is ``x_0``.

Where the coefficients come from -- the rule table, nothing else:

* **linear** rules (and add, sub, neg, pos): the map, applied to each coefficient;
* **elementwise** rules: from the partials. Along ``x(t)``,
  ``y' = sum_i dphi/dx_i * x_i'``, so ``k y_k = sum_i sum_{j=1..k} j x_{i,j} [p_i]_{k-j}``
  where ``[p_i]`` is the series of the partial, got by calling the rule's
  partial on Taylor numbers one order lower (``m`` is the GENERIC namespace,
  so the partial's operations dispatch back into Taylor mode). A partial
  that needs the rule's own value ``y`` gets it order by order. This is
  :func:`generic_series`: every rule, built-in or registered later, works
  with no new formula. Rules for which this would cost more than O(d^2) or
  lose digits have a recurrence of their own in
  :mod:`dualdiff.modes.taylor_kernels`; piecewise-constant rules have zero
  coefficients;
* **general** rules: per-rule formulas in :mod:`dualdiff.modes.taylor_general`
  (matmul as a Cauchy product, inv and solve by their recurrences, ...), and
  for any other general rule its linear maps called on Taylor numbers.

Levels work as for every lifted type: a Taylor number of a higher level
treats values of lower levels (Duals, tape variables, other Taylor numbers)
as constants, so Taylor mode nests with every transform without confusion.

>>> import dualdiff as dd
>>> x = dd.Taylor(0.5, [1.0, 0.0, 0.0])    # x(t) = 0.5 + t, to order 3
>>> y = dd.exp(-x * x)
>>> [round(c, 6) for c in y.coefficients]
[0.778801, -0.778801, -0.3894, 0.649001]
>>> float(y)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
TypeError: float() of a Taylor would drop its derivative; use .primal for the value (got Taylor(...))...
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import add, sub
from typing import Any

import mpmath
import numpy as np

from ..rules.backends import COMPLEX, FLOAT, GENERIC, MP, NUMPY, Backend, backend_for, backend_of
from ..rules.elementwise import ADD, MUL, POW, SUB, TRUEDIV
from ..rules.evaluate import FLOAT_ERRORS, evaluate, local
from ..rules.kinds import Elementwise, General, Linear
from . import series as sr
from .core import apply2, apply_general, apply_linear, new_level, register_lifted_type, strip_all
from .lifted import Lifted
from .taylor_general import FORMULAS as GENERAL_FORMULAS
from .taylor_kernels import KERNELS

__all__ = ["KERNELS", "Taylor", "generic_series"]


def _operator(rule: Elementwise, reflected: bool) -> Any:
    """``Taylor.__mul__`` (``__rmul__``, ...): Python-float operands go straight to the rule's recurrence."""

    def method(self: Taylor, other: Any) -> Any:
        s = self.series
        x0 = s[0]
        if type(x0) is float:
            tp = type(other)
            ys = None
            if tp is float or tp is int:
                if reflected:
                    ys = _float_step(rule, [other, x0], [None, s])
                else:
                    ys = _float_step(rule, [x0, other], [s, None])
            elif tp is Taylor and other.level == self.level and not reflected:
                t = other.series
                if type(t[0]) is float and len(t) == len(s):
                    ys = _float_step(rule, [x0, t[0]], [s, t])
            if ys is not None:
                return Taylor._new(ys, self.level)
        return apply2(rule, other, self) if reflected else apply2(rule, self, other)

    method.__name__ = f"__{'r' if reflected else ''}{rule.name}__"
    return method


def _operator_pair(rule: Elementwise) -> tuple[Any, Any]:
    """``(__mul__, __rmul__)`` and friends, for the class body."""
    return _operator(rule, False), _operator(rule, True)


class Taylor(Lifted):
    """A truncated Taylor polynomial ``x_0 + x_1 t + ... + x_d t^d`` (``t^{d+1} = 0``).

    ``Taylor(x0, [x1, ..., xd])``: the value and the coefficients of the
    powers of t (each shaped like ``x0``). ``primal`` is ``x0``,
    ``coefficients`` is ``(x0, x1, ..., xd)``, ``order`` is d.

    >>> import dualdiff as dd
    >>> x = dd.Taylor(2.0, [1.0, 0.0, 0.0])     # 2 + t
    >>> (x ** 3).coefficients                   # (2 + t)^3 = 8 + 12 t + 6 t^2 + t^3
    (8.0, 12.0, 6.0, 1.0)
    >>> (x ** 3).derivatives()                  # f, f', f'', f''' at 2
    (8.0, 12.0, 12.0, 6.0)

    ``float(x)`` raises TypeError (it would drop the coefficients). Taylor
    numbers built by hand share one level, above hand-built Duals and below
    every level a transform (:func:`dualdiff.taylor`) creates.
    """

    __slots__ = ("series",)

    series: list[Any]

    # arithmetic operators: Python-float operands go straight to the rule's recurrence
    __add__, __radd__ = _operator_pair(ADD)
    __sub__, __rsub__ = _operator_pair(SUB)
    __mul__, __rmul__ = _operator_pair(MUL)
    __truediv__, __rtruediv__ = _operator_pair(TRUEDIV)
    __pow__, __rpow__ = _operator_pair(POW)

    def __init__(self, primal: Any, coefficients: Sequence[Any] = ()) -> None:
        _check_number("primal", primal)
        if isinstance(coefficients, (str, bytes)) or not isinstance(coefficients, Sequence):
            raise TypeError(
                "Taylor coefficients must be a list or tuple [x1, ..., xd] (the value x0 is the first "
                f"argument), got {type(coefficients).__name__}: {coefficients!r:.80}"
            )
        shape = np.shape(strip_all(primal))
        for k, c in enumerate(coefficients, 1):
            _check_number(f"coefficient x_{k}", c)
            if np.shape(strip_all(c)) != shape:
                raise ValueError(
                    f"Taylor coefficient x_{k} has shape {np.shape(strip_all(c))}; "
                    f"every coefficient must have the value's shape {shape}"
                )
        self.primal = primal
        self.series = [primal, *coefficients]
        self.level = USER_LEVEL

    @classmethod
    def _new(cls, series: list[Any], level: int) -> Taylor:
        t = _new(cls)
        t.primal = series[0]
        t.series = series
        t.level = level
        return t

    @property
    def order(self) -> int:
        """d: the highest power of t kept.

        >>> Taylor(1.0, [1.0, 0.0]).order
        2
        """
        return len(self.series) - 1

    @property
    def coefficients(self) -> tuple[Any, ...]:
        """``(x_0, x_1, ..., x_d)``.

        >>> (Taylor(1.0, [1.0, 0.0]) ** 2).coefficients    # (1 + t)^2
        (1.0, 2.0, 1.0)
        """
        return tuple(self.series)

    def derivatives(self) -> tuple[Any, ...]:
        """``(x_0, 1! x_1, 2! x_2, ..., d! x_d)``: the derivatives along t at t = 0.

        >>> (Taylor(1.0, [1.0, 0.0]) ** 2).derivatives()
        (1.0, 2.0, 2.0)
        """
        out = [self.series[0]]
        fact = 1
        for k, c in enumerate(self.series[1:], 1):
            fact *= k
            out.append(fact * c)
        return tuple(out)

    def __repr__(self) -> str:
        return f"Taylor({self.series[0]!r}, {self.series[1:]!r})"

    # -- propagation -------------------------------------------------------
    @staticmethod
    def _unary(rule: Elementwise, x: Taylor) -> Any:
        s = x.series
        x0 = s[0]
        if type(x0) is float:  # the scalar path: straight to the rule's recurrence
            ys = _float_step(rule, [x0], [s])
            if ys is not None:
                return Taylor._new(ys, x.level)
        return Taylor._elementwise(rule, (x,), x.level)

    @classmethod
    def _elementwise(cls, rule: Elementwise, args: tuple[Any, ...], level: int) -> Taylor:
        primals, series, n = _split(cls, args, level)
        m = backend_for(primals)
        y0 = _value(rule, m, primals)
        ys: list[Any] | None
        if rule.signs is not None:
            ys = _signed_sum(rule.signs, series, y0, n)
        elif rule.piecewise_constant:
            ys = [y0] + [m.zero(y0)] * (n - 1)
        else:
            kernel = KERNELS.get(rule)
            ys = None if kernel is None else _run(kernel, m, y0, primals, series)
            if ys is None:
                ys = generic_series(rule, m, y0, primals, series, level)
        return cls._new(_fit(ys, y0), level)

    @classmethod
    def _linear(cls, rule: Linear, x: Any, params: tuple[Any, ...], nbatch: int) -> Taylor:
        return cls._new([apply_linear(rule, c, *params, nbatch=nbatch) for c in x.series], x.level)

    @classmethod
    def _general(cls, rule: General, args: tuple[Any, ...], params: tuple[Any, ...], level: int) -> Taylor:
        primals, series, n = _split(cls, args, level, rule.nondiff_args)
        y0 = apply_general(rule, tuple(primals), params)
        if all(s is None for s in series):  # only arguments without derivative (a where's condition)
            return cls._new([y0] + [_coefficient([], 0, y0)] * (n - 1), level)
        formula = GENERAL_FORMULAS.get(rule)
        ys = None if formula is None else formula(rule, y0, primals, series, params)
        if ys is None:
            ys = _generic_general(rule, y0, primals, series, params, level, n)
        return cls._new(ys, level)


_new = object.__new__


def _float_step(rule: Elementwise, args: list[Any], series: list[Any]) -> list[Any] | None:
    """The coefficients on Python floats, or None for the general path.

    The general path handles everything unusual (IEEE limits and domain
    errors, which Python floats raise, and rules without a recurrence); this
    one skips its dispatch and checks for the common case.
    """
    try:
        y0 = rule.float_impl(*args)  # type: ignore[misc]
        if rule.signs is not None:
            return _signed_sum(rule.signs, series, y0, len(series[0] or series[1]))
        kernel = KERNELS.get(rule)
        return None if kernel is None else kernel(FLOAT, y0, args, series)
    except FLOAT_ERRORS:
        return None


#: The level of Taylor numbers built by hand: above hand-built Duals (levels
#: 0 and 1), below every level a transform takes later.
USER_LEVEL = new_level()


def _split(
    cls: type[Taylor], args: Sequence[Any], level: int, nondiff: Sequence[int] = ()
) -> tuple[list[Any], list[Any], int]:
    """Values, coefficient lists (None for constants and arguments without derivative), and the length."""
    primals: list[Any] = []
    series: list[Any] = []
    n = 0
    for i, a in enumerate(args):
        if type(a) is cls and a.level == level:
            primals.append(a.primal)
            if i in nondiff:
                series.append(None)
                continue
            s = a.series
            if len(s) != n:
                if n:
                    raise ValueError(
                        f"Taylor numbers of orders {n - 1} and {len(s) - 1} meet at one level; "
                        "build all the inputs of one computation with the same order"
                    )
                n = len(s)
            series.append(s)
        else:
            primals.append(a)
            series.append(None)
    if not n:  # only arguments without derivative (a where's condition): the order from those
        n = next(len(a.series) for a in args if type(a) is cls and a.level == level)
    return primals, series, n


def _value(rule: Elementwise, m: Backend, primals: list[Any]) -> Any:
    """The rule's value, refusing non-holomorphic rules at complex points as forward mode does."""
    if m is FLOAT:
        return evaluate(rule, m, primals)
    return local(rule, m, primals, [False] * len(primals))[0]


def _signed_sum(signs: tuple[int, ...], series: list[Any], y0: Any, n: int) -> list[Any]:
    """Coefficients of add, sub, neg, pos: the signed sum of the arguments' coefficients."""
    active = [(sign, s) for sign, s in zip(signs, series) if s is not None]
    if len(active) == 1:  # x + c, x - c, c - x, -x: the coefficients themselves, or negated
        sign, s = active[0]
        return [y0, *s[1:]] if sign > 0 else [y0, *(-c for c in s[1:])]
    if len(active) == 2 and active[0][0] > 0:  # x + y, x - y
        (_, a), (sign, b) = active
        return [y0, *map(add if sign > 0 else sub, a[1:], b[1:])]
    ys = [y0]
    for k in range(1, n):
        total = None
        for sign, s in active:
            c = s[k]
            if total is None:
                total = c if sign > 0 else -c
            else:
                total = total + c if sign > 0 else total - c
        ys.append(total)
    return ys


def _fit(ys: list[Any], y0: Any) -> list[Any]:
    """Every coefficient with the value's shape (an operand broadcast against a larger one leaves smaller ones)."""
    if type(y0) is float:
        return ys
    shape = np.shape(strip_all(y0))
    for k in range(1, len(ys)):
        if np.shape(strip_all(ys[k])) != shape:
            ys[k] = np.broadcast_to(ys[k], shape)
    return ys


# ==========================================================================
# the special cases, under the policy at singular points
# ==========================================================================


def _run(kernel: Any, m: Backend, y0: Any, primals: list[Any], series: list[Any]) -> Any:
    """Run a kernel; where Python numbers raise at a singular point, give the IEEE limits instead.

    Python floats and complex numbers raise on division by zero; the step is
    then redone in NumPy float64 (complex128), as :mod:`dualdiff.rules.evaluate`
    does for values, so ``log`` at 0 gives infinite coefficients, not an
    exception. mpmath numbers get the same limits where they are infinite.
    """
    if m is FLOAT or m is COMPLEX:
        try:
            return kernel(m, y0, primals, series)
        except FLOAT_ERRORS:
            out = _in_float64(kernel, y0, primals, series)
            return None if out is None else [_to_python(v) for v in out]
    if m is NUMPY:
        with np.errstate(all="ignore"):
            return kernel(m, y0, primals, series)
    if m is MP:
        try:
            return kernel(m, y0, primals, series)
        except ZeroDivisionError:
            out = _in_float64(kernel, y0, primals, series)
            if out is None:
                return None
            if any(np.isfinite(v) for v in out[1:]):
                raise ZeroDivisionError(
                    f"a Taylor coefficient divides by zero at {primals}; its float64 limit is finite, "
                    "so it would have lost precision"
                ) from None
            return [y0] + [mpmath.mpmathify(complex(v) if np.iscomplexobj(v) else float(v)) for v in out[1:]]
    return kernel(m, y0, primals, series)


def _in_float64(kernel: Any, y0: Any, primals: list[Any], series: list[Any]) -> Any:
    def f64(v: Any) -> Any:
        if isinstance(v, (mpmath.mpc, complex)):
            return np.complex128(complex(v))
        return np.float64(float(v)) if isinstance(v, (mpmath.mpf, float, int)) else v

    with np.errstate(all="ignore"):
        out = kernel(
            NUMPY, f64(y0), [f64(v) for v in primals], [None if s is None else [f64(c) for c in s] for s in series]
        )
    if out is not None:
        out[0] = y0
    return out


def _to_python(v: Any) -> Any:
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.complexfloating):
        return complex(v)
    return v


# ==========================================================================
# the generic route: any elementwise rule from its partials
# ==========================================================================


class _NeedsValue(Exception):
    """A partial read the rule's own value ``y`` (``args[0]``: the stand-in it read) before it was known."""


class _Pending(Lifted):
    """Stands for ``y`` in a first call of the partials: any use raises :class:`_NeedsValue`.

    One per call, so that a nested call's stand-in is never taken for this one's.
    """

    __slots__ = ()

    @property
    def level(self) -> int:  # type: ignore[override]  # read-only on purpose: reading it is what it detects
        raise _NeedsValue(self)

    @property
    def primal(self) -> Any:
        raise _NeedsValue(self)


def _series_at(v: Any, level: int) -> list[Any]:
    """The coefficients of ``v`` at ``level``; a constant is a series of one term."""
    if type(v) is Taylor and v.level == level:
        return v.series
    return [v]


def generic_series(
    rule: Elementwise, m: Backend, y0: Any, primals: list[Any], series: list[Any], level: int
) -> list[Any]:
    """The coefficients of ``rule(x_1(t), ..., x_k(t))`` from the rule's partials alone.

    ``y' = sum_i p_i x_i'`` with ``p_i`` the partial along the curve, so
    ``k y_k = sum_i sum_{j=1..k} j x_{i,j} [p_i]_{k-j}`` (see
    :func:`dualdiff.modes.series.integrate`). The series ``[p_i]`` of order
    ``d - 1`` comes from one call of the partial on Taylor numbers of order
    ``d - 1``; their operations dispatch back into Taylor mode, so its cost is
    that of the partial's own operations (O(d^2) when they are special cases).
    A partial that uses the rule's value ``y`` (``y`` in ``exp``'s) is called
    again for each order with ``y`` known so far, which costs O(d^3).

    >>> from dualdiff.rules.elementwise import ARCTAN
    >>> from dualdiff.rules.backends import FLOAT
    >>> x = [0.0, 1.0, 0.0, 0.0]                    # t
    >>> generic_series(ARCTAN, FLOAT, 0.0, [0.0], [x], new_level())   # arctan t = t - t^3/3
    [0.0, 1.0, 0.0, -0.3333333333333333]
    """
    active = [s is not None for s in series]
    xs = [s for s in series if s is not None]
    n = len(xs[0])
    if n == 1:
        return [y0]
    if n == 2:  # order 1: the partials at the point, exactly as forward mode takes them
        return sr.integrate(y0, xs, [[p] for p in _partials_at_point(rule, m, primals, active)], 2)
    lowered = [Taylor._new(s[:-1], level) if s is not None else a for s, a in zip(series, primals)]
    pending = _new(_Pending)
    try:
        # the partials of constant arguments are never computed
        values = [p(GENERIC, pending, *lowered) for p, act in zip(rule.partials, active) if act]
    except _NeedsValue as e:
        if e.args[0] is not pending:
            raise
        values = None
    if values is None or any(v is pending for v in values):  # exp's partial is y itself
        return _order_by_order(rule, m, y0, primals, series, level)
    return sr.integrate(y0, xs, [_series_at(v, level) for v in values], n)


def _partials_at_point(rule: Elementwise, m: Backend, primals: list[Any], active: list[bool]) -> list[Any]:
    return [p for p in local(rule, m, primals, active)[1] if p is not None]


def _order_by_order(
    rule: Elementwise, m: Backend, y0: Any, primals: list[Any], series: list[Any], level: int
) -> list[Any]:
    """The generic route for partials that use ``y``: the coefficient of order k from ``y`` to order k - 1."""
    active = [s is not None for s in series]
    xs = [s for s in series if s is not None]
    n = len(xs[0])
    ys = sr.integrate(y0, [x[:2] for x in xs], [[p] for p in _partials_at_point(rule, m, primals, active)], 2)
    for k in range(2, n):
        lowered = [Taylor._new(s[:k], level) if s is not None else a for s, a in zip(series, primals)]
        y = Taylor._new(ys[:k], level)
        ps = [_series_at(p(GENERIC, y, *lowered), level) for p, act in zip(rule.partials, active) if act]
        ys.append(sr.integrate(y0, [x[: k + 1] for x in xs], ps, k + 1)[k])
    return ys


# ==========================================================================
# general rules without a formula of their own: their linear maps on Taylor numbers
# ==========================================================================


def _generic_general(
    rule: General, y0: Any, primals: list[Any], series: list[Any], params: tuple[Any, ...], level: int, n: int
) -> list[Any]:
    """Coefficients of a general rule from its linear maps: ``y' = sum_i L_i(x, y)[x_i']``.

    The maps are called with Taylor numbers of order ``d - 1`` for the
    arguments, for ``y`` and for each ``x_i'`` (whose coefficients are
    ``(j + 1) x_{i,j+1}``); the result is the series of ``y'``, so
    ``y_k = [y']_{k-1} / k``. Maps that read ``y`` are called once per order.
    """
    if n == 1:
        return [y0]
    pending = _new(_Pending)
    try:
        dy = _derivative_series(rule, primals, series, params, pending, level, n - 1)
        if not any(c is pending for c in dy):
            return [y0] + [_coefficient(dy, k - 1, y0) / k for k in range(1, n)]
    except _NeedsValue as e:
        if e.args[0] is not pending:
            raise
    ys = [y0]
    for k in range(1, n):
        dy = _derivative_series(rule, primals, series, params, Taylor._new(ys[:k], level), level, k)
        ys.append(_coefficient(dy, k - 1, y0) / k)
    return ys


def _derivative_series(
    rule: General, primals: list[Any], series: list[Any], params: tuple[Any, ...], y: Any, level: int, n: int
) -> list[Any]:
    """The first ``n`` coefficients of ``y'(t)``, from the rule's maps on Taylor numbers of order ``n - 1``."""
    args = [Taylor._new(s[:n], level) if s is not None else a for s, a in zip(series, primals)]
    ts = [None if s is None else Taylor._new([(j + 1) * s[j + 1] for j in range(n)], level) for s in series]
    if rule.joint_map is not None:
        dy = rule.joint_map(ts, 0, y, args, params)
    else:
        dy = None
        for i, t in enumerate(ts):
            if t is not None:
                c = rule.linear_maps[i](t, 0, y, args, params)
                dy = c if dy is None else dy + c
    return _series_at(dy, level)


def _coefficient(s: list[Any], k: int, like: Any) -> Any:
    if k < len(s):
        return s[k]
    inner = strip_all(like)
    return np.zeros(np.shape(inner), dtype=np.result_type(inner, float)) if np.ndim(inner) else 0.0


# ==========================================================================
# checks
# ==========================================================================


def _check_number(what: str, value: Any) -> None:
    if isinstance(value, Lifted):
        return
    if isinstance(value, (bool, np.bool_)) or backend_of(value) is None:
        raise TypeError(
            f"Taylor {what} must be a number (float, complex, mpmath) or an array of numbers, "
            f"got {type(value).__name__}: {value!r:.80}"
        )
    if isinstance(value, np.ndarray) and value.dtype.kind not in "biufc":
        raise TypeError(f"Taylor {what} must be an array of numbers, got an array of dtype {value.dtype}")


register_lifted_type(Taylor)
