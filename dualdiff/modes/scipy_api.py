"""SciPy's ufuncs on lifted values: ``scipy.special.erf(x)`` and friends, through the rule table.

SciPy's special functions are NumPy ufuncs, so they reach dualdiff through
``__array_ufunc__`` like ``np.sin``. Those that are rules of the table, or
exact compositions of rules, are mapped here; any other raises
:class:`~dualdiff.errors.NoRuleError` naming it as ``scipy.special.<name>``.
SciPy is never imported by dualdiff: a SciPy ufunc can only arrive once the
user has imported ``scipy.special``, and the map is built then.

>>> import numpy as np, dualdiff as dd
>>> from scipy import special
>>> float(dd.derivative(special.expit)(0.0))
0.25
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ..rules.kinds import TABLE, elementwise_rule
from .core import apply1, apply2

#: SciPy ufunc name -> the rule of the same function.
SAME_AS_RULE: dict[str, str] = {
    "erf": "erf",
    "erfc": "erfc",
    "expit": "sigmoid",
    "cbrt": "cbrt",
    "exp2": "exp2",
    "expm1": "expm1",
    "log1p": "log1p",
}


def _exp10(x: Any) -> Any:
    return apply2(elementwise_rule("pow"), 10.0, x)


def _log_expit(x: Any) -> Any:
    # log(1 / (1 + e^-x)) = -softplus(-x), without overflow
    neg = elementwise_rule("neg")
    return apply1(neg, apply1(elementwise_rule("softplus"), apply1(neg, x)))


def _logit(p: Any) -> Any:
    # log(p / (1 - p)) = log(p) - log1p(-p)
    log, log1p, neg = elementwise_rule("log"), elementwise_rule("log1p"), elementwise_rule("neg")
    return apply2(elementwise_rule("sub"), apply1(log, p), apply1(log1p, apply1(neg, p)))


def _ndtr(x: Any) -> Any:
    # the standard normal CDF: erfc(-x / sqrt 2) / 2
    mul = elementwise_rule("mul")
    return apply2(mul, 0.5, apply1(elementwise_rule("erfc"), apply2(mul, -1 / math.sqrt(2.0), x)))


#: SciPy ufunc name -> an exact composition of rules.
COMPOSED: dict[str, Callable[..., Any]] = {"exp10": _exp10, "log_expit": _log_expit, "logit": _logit, "ndtr": _ndtr}


def _special() -> Any:
    """``scipy.special`` if the user has imported it (never imported here)."""
    return sys.modules.get("scipy.special")


def is_scipy_ufunc(ufunc: Any) -> bool:
    """True for a ufunc of ``scipy.special`` (looked up by name in the imported module)."""
    special = _special()
    name = getattr(ufunc, "__name__", None)
    return special is not None and name is not None and getattr(special, name, None) is ufunc


def scipy_handler(ufunc: Any) -> Callable[..., Any] | None:
    """How to apply a SciPy ufunc to lifted values, or None if dualdiff has no rule for it.

    >>> from scipy import special
    >>> scipy_handler(special.gamma) is None
    True
    """
    if not is_scipy_ufunc(ufunc):
        return None
    name = ufunc.__name__
    if name in SAME_AS_RULE and SAME_AS_RULE[name] in TABLE:
        rule = elementwise_rule(SAME_AS_RULE[name])
        return lambda *args: apply1(rule, *args) if len(args) == 1 else apply2(rule, *args)
    return COMPOSED.get(name)


def ufunc_name(ufunc: Any) -> str:
    """How a user writes the ufunc: ``np.sin``, ``scipy.special.gamma``, or its module and name.

    >>> ufunc_name(__import__("numpy").sin)
    'np.sin'
    """
    name = getattr(ufunc, "__name__", repr(ufunc))
    if is_scipy_ufunc(ufunc):
        return f"scipy.special.{name}"
    if getattr(np, name, None) is ufunc:  # NumPy 2.0's ufuncs have no __module__
        return f"np.{name}"
    module = getattr(ufunc, "__module__", None)
    if module is None or module == "numpy" or module.startswith("numpy."):
        return f"np.{name}" if module is not None else f"the ufunc {name}"
    return f"{module}.{name}"
