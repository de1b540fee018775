"""dualdiff's own elementwise functions, one per rule of the table.

Each takes floats, complex numbers, mpmath numbers, NumPy arrays and lifted
values (Duals, tape variables) alike, and computes with the library that
matches its operands:

>>> import dualdiff as dd, mpmath
>>> dd.sin(0.5) == __import__("math").sin(0.5)
True
>>> dd.exp(dd.Dual(0.0, 1.0))
Dual(1.0, 1.0)
>>> mpmath.mp.dps = 30; print(dd.log(mpmath.mpf(2))); mpmath.mp.dps = 15
0.693147180559945309417232121458
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .core import apply1, apply2
from .dual import UNARY as DUAL_UNARY
from .dual import Dual
from .rules import TABLE, Elementwise
from .tape import UNARY as VAR_UNARY
from .tape import Var

#: Operators are reached through + - * / ** and the NumPy ufuncs, not by name.
_OPERATOR_RULES = {"add", "sub", "mul", "truediv", "neg", "pos", "pow"}


def _public_function(rule: Elementwise, name: str | None = None) -> Callable[..., Any]:
    args = ", ".join("xy"[: rule.nin])
    fn: Callable[..., Any]
    if rule.nin == 1:
        # the modes' per-rule fast paths, looked up at call time so that
        # opcount.count_forward can observe them (see dual.UNARY)
        dual_fast, var_fast = DUAL_UNARY, VAR_UNARY

        def fn(x: Any) -> Any:
            tp = type(x)
            if tp is Dual:
                return dual_fast[rule](x)
            if tp is Var:
                return var_fast[rule](x)
            return apply1(rule, x)
    else:

        def fn(x: Any, y: Any) -> Any:
            return apply2(rule, x, y)

    name = name or rule.name
    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = "dualdiff"
    point = "1.5" if rule.name == "arccosh" else "0.5"  # a point inside every domain
    shown = rule.template.format(*"xy"[: rule.nin])
    call = f"dd.{name}(dd.Dual({point}, 1.0)" + (", 0.25)" if rule.nin == 2 else ")")
    fn.__doc__ = (
        f"{name}({args}): elementwise {shown}, with its derivative from the rule table.\n\n"
        "Works on floats, complex and mpmath numbers, NumPy arrays of any shape, and\n"
        "lifted values (Duals, tape variables) of any nesting depth.\n\n"
        f">>> import dualdiff as dd\n>>> isinstance({call}, dd.Dual)\nTrue\n"
    )
    return fn


FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: _public_function(rule)
    for name, rule in TABLE.items()
    if isinstance(rule, Elementwise) and name not in _OPERATOR_RULES
}
FUNCTIONS["power"] = _public_function(TABLE["pow"], "power")  # type: ignore[arg-type]
FUNCTIONS["ln"] = FUNCTIONS["log"]
globals().update(FUNCTIONS)

__all__ = sorted(FUNCTIONS)
