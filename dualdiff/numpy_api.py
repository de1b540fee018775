"""NumPy's protocols on lifted values, mapped into the rule table.

``np.sin(dual)`` arrives here through ``__array_ufunc__`` and ``np.sum(var)``
through ``__array_function__``; each is sent to the rule that defines it. A
NumPy function without a rule raises :class:`~dualdiff.errors.NoRuleError`
naming it, never a silent wrong answer or an object array.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .core import apply, apply_linear, strip_all
from .errors import NoRuleError
from .rules import ABS, BROADCAST_TO, RESHAPE, ROUND, SUM, TABLE, Elementwise

#: ufunc -> elementwise rule
UFUNC_RULES: dict[Any, Elementwise] = {
    r.ufunc: r for r in TABLE.values() if isinstance(r, Elementwise) and r.ufunc is not None
}
UFUNC_RULES[np.fabs] = ABS

#: ufuncs that only look at values (comparisons, tests): applied to primals.
VALUE_UFUNCS = {
    np.less,
    np.less_equal,
    np.greater,
    np.greater_equal,
    np.equal,
    np.not_equal,
    np.isnan,
    np.isinf,
    np.isfinite,
    np.signbit,
    np.logical_and,
    np.logical_or,
    np.logical_not,
    np.logical_xor,
}


def numpy_name(func: Any) -> str:
    """``np.fft.fft`` for numpy.fft.fft: how a user would write the function."""
    module = getattr(func, "__module__", None) or "numpy"
    module = "np" + module[len("numpy") :] if module.startswith("numpy") else module
    module = module.replace("._core", "").replace(".core", "")
    if module.startswith("np.") and module.count(".") and module.split(".")[1].startswith("_"):
        module = "np"
    return f"{module}.{getattr(func, '__name__', repr(func))}"


def array_ufunc(ufunc: Any, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Dispatch ``ufunc(*inputs)`` on lifted values to its rule."""
    if kwargs.get("out") is not None:
        raise TypeError(
            f"np.{ufunc.__name__}(..., out=...) cannot store derivatives in a plain array; "
            "drop out= and use the returned value"
        )
    if method == "__call__":
        rule = UFUNC_RULES.get(ufunc)
        if rule is not None:
            extra = {k: v for k, v in kwargs.items() if v is not None and k != "out"}
            if extra:
                raise TypeError(f"np.{ufunc.__name__} on lifted values takes no keyword arguments, got {sorted(extra)}")
            return apply(rule, *inputs)
        if ufunc in VALUE_UFUNCS:
            return ufunc(*(strip_all(i) for i in inputs), **kwargs)
    elif method == "reduce" and ufunc is np.add:
        axis = kwargs.get("axis", 0)
        return apply_linear(SUM, inputs[0], axis, bool(kwargs.get("keepdims", False)))
    what = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    raise NoRuleError(f"{what} has no derivative rule in dualdiff")


def _sum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    if out is not None:
        raise TypeError("np.sum(..., out=...) cannot store derivatives in a plain array; drop out=")
    return apply_linear(SUM, a, axis, keepdims)


def _round(a: Any, decimals: int = 0, out: Any = None) -> Any:
    if decimals != 0:
        raise NoRuleError("np.round with decimals != 0 has no derivative rule in dualdiff; use decimals=0")
    return apply(ROUND, a)


def _value_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    def handler(a: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(strip_all(a), *args, **kwargs)

    return handler


FUNCTION_HANDLERS: dict[Any, Callable[..., Any]] = {
    np.sum: _sum,
    np.reshape: lambda a, shape=None, *args, **kw: apply_linear(
        RESHAPE, a, shape if shape is not None else kw.get("newshape")
    ),
    np.broadcast_to: lambda a, shape, subok=False: apply_linear(
        BROADCAST_TO, a, tuple(np.atleast_1d(shape)) if not isinstance(shape, tuple) else shape
    ),
    np.round: _round,
    np.around: _round,
    np.shape: lambda a: np.shape(strip_all(a)),
    np.ndim: lambda a: np.ndim(strip_all(a)),
    np.size: lambda a, axis=None: np.size(strip_all(a), axis),
    np.zeros_like: _value_only(np.zeros_like),
    np.ones_like: _value_only(np.ones_like),
    np.empty_like: _value_only(np.empty_like),
    np.iscomplexobj: _value_only(np.iscomplexobj),
    np.isrealobj: _value_only(np.isrealobj),
}


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Dispatch a NumPy function on lifted values to its rule, or refuse by name."""
    handler = FUNCTION_HANDLERS.get(func)
    if handler is None:
        raise NoRuleError(f"{numpy_name(func)} has no derivative rule in dualdiff")
    return handler(*args, **kwargs)
