"""Functions of values alone: comparisons, tests and index functions (``Nondiff`` rules).

Their outputs carry no derivative. The modes apply them to primal values (a
comparison of two Duals is a plain boolean), while a recorded program keeps
each as an equation, so that a branch, a mask or an index computed from them
can be checked again at a new point instead of being frozen.

``params`` of the function-style rules is one tuple of ``(keyword, value)``
pairs: the keyword arguments of the NumPy call, which are static.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from .kinds import Nondiff, register


def _ufunc_rule(name: str, template: str, ufunc: Any, fn: Callable[..., Any] | None = None) -> Nondiff:
    rule = Nondiff(name, ufunc.nin, template, fn=fn or ufunc, ufunc=ufunc)
    register(rule)
    return rule


def _with_keywords(func: Callable[..., Any]) -> Callable[..., Any]:
    """``fn(*args, keywords)`` calling ``func(*args, **dict(keywords))``."""

    def fn(*xs: Any) -> Any:
        *args, keywords = xs
        return func(*args, **dict(keywords))

    fn.__name__ = getattr(func, "__name__", "fn")
    return fn


def _function_rule(func: Any, nin: int = 1) -> Nondiff:
    name = func.__name__
    rule = Nondiff(name, nin, name + "(" + ", ".join(f"{{{i}}}" for i in range(nin)) + ")", fn=_with_keywords(func))
    rule.numpy_function = func  # type: ignore[attr-defined]
    register(rule)
    return rule


# Comparisons compute with Python's operators: a Python bool for numbers
# (floats, mpmath), NumPy's elementwise result for arrays.
LESS = _ufunc_rule("less", "{0} < {1}", np.less, operator.lt)
LESS_EQUAL = _ufunc_rule("less_equal", "{0} <= {1}", np.less_equal, operator.le)
GREATER = _ufunc_rule("greater", "{0} > {1}", np.greater, operator.gt)
GREATER_EQUAL = _ufunc_rule("greater_equal", "{0} >= {1}", np.greater_equal, operator.ge)
EQUAL = _ufunc_rule("equal", "{0} == {1}", np.equal, operator.eq)
NOT_EQUAL = _ufunc_rule("not_equal", "{0} != {1}", np.not_equal, operator.ne)
ISNAN = _ufunc_rule("isnan", "isnan({0})", np.isnan)
ISINF = _ufunc_rule("isinf", "isinf({0})", np.isinf)
ISFINITE = _ufunc_rule("isfinite", "isfinite({0})", np.isfinite)
SIGNBIT = _ufunc_rule("signbit", "signbit({0})", np.signbit)
LOGICAL_AND = _ufunc_rule("logical_and", "{0} and {1}", np.logical_and)
LOGICAL_OR = _ufunc_rule("logical_or", "{0} or {1}", np.logical_or)
LOGICAL_NOT = _ufunc_rule("logical_not", "not {0}", np.logical_not)
LOGICAL_XOR = _ufunc_rule("logical_xor", "{0} xor {1}", np.logical_xor)

#: NumPy functions whose results depend on values only (indices, counts, tests).
VALUE_FUNCTIONS: dict[Any, Nondiff] = {
    f: _function_rule(f, nin)
    for f, nin in (
        (np.argmax, 1),
        (np.argmin, 1),
        (np.argsort, 1),
        (np.argwhere, 1),
        (np.nonzero, 1),
        (np.flatnonzero, 1),
        (np.count_nonzero, 1),
        (np.any, 1),
        (np.all, 1),
        (np.isclose, 2),
        (np.allclose, 2),
        (np.array_equal, 2),
    )
}
