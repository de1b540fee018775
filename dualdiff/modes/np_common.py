"""What the NumPy handlers share: option checks, axis normalisation, and shapes under any level.

Every module that maps NumPy functions onto rules (:mod:`.np_reductions`,
:mod:`.np_shaping`, :mod:`.np_products`, :mod:`.np_linalg`, :mod:`.np_ufuncs`)
validates its options and axes with these helpers, so that a function refuses
an option it cannot differentiate through by name, the way NumPy would word it.

>>> _axis_tuple(-1, 3), _axis_tuple(None, 2)
((2,), (0, 1))
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import NoRuleError
from ..rules.arrays import CONCATENATE
from ..rules.kinds import Nondiff
from ..rules.structural import RESHAPE
from .core import LiftedBase as Lifted
from .core import apply_general, apply_linear, apply_nondiff, strip_all

_AxisError = getattr(getattr(np, "exceptions", np), "AxisError", ValueError)


def _refuse_out(name: str, out: Any) -> None:
    if out is not None:
        raise TypeError(
            f"{name}(..., out=...) cannot store derivatives in a plain array; drop out= and use the returned value"
        )


def _refuse(name: str, **options: Any) -> None:
    """Reject options dualdiff does not differentiate through, naming them."""
    _refuse_out(name, options.pop("out", None))
    given = sorted(k for k, v in options.items() if v is not None and v is not np._NoValue)
    if given:
        raise TypeError(f"{name} on lifted values does not support the argument(s) {', '.join(given)}")


def _ndim(a: Any) -> int:
    return np.ndim(strip_all(a))


def _shape(a: Any) -> tuple[int, ...]:
    return np.shape(strip_all(a))


def _axis_tuple(axis: Any, ndim: int) -> tuple[int, ...]:
    """Non-negative, sorted axes; None means all of them."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise _AxisError(f"axis {a} is out of bounds for array of dimension {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis!r}")
    return tuple(sorted(out))


def _one_axis(axis: Any, ndim: int) -> int:
    return _axis_tuple(operator.index(axis), ndim)[0]


def _is_complex(a: Any) -> bool:
    return np.iscomplexobj(strip_all(a))


def _real_only(name: str, a: Any) -> None:
    if _is_complex(a):
        raise NoRuleError(f"{name} of complex values is not complex-differentiable; dualdiff has no rule for it")


def _as_operand(a: Any) -> Any:
    """An array operand: a lifted value as it is; a list, tuple or object array holding lifted
    values as one lifted array (their stack); anything else as a NumPy array."""
    if isinstance(a, Lifted):
        return a
    if isinstance(a, (list, tuple)) or (isinstance(a, np.ndarray) and a.dtype == object):
        if _holds_lifted(a):
            return _stack_nested(a)
    return np.asarray(a)


def _holds_lifted(a: Any) -> bool:
    if isinstance(a, Lifted):
        return True
    if isinstance(a, np.ndarray):
        return a.dtype == object and any(_holds_lifted(v) for v in a.flat)
    if isinstance(a, (list, tuple)):
        return any(_holds_lifted(v) for v in a)
    return False


def _stack_nested(a: Any) -> Any:
    """Nested sequences of numbers and lifted values as one lifted array (NumPy's ``np.array`` of them).

    Each level is one concatenation of the items, each given a new leading axis.
    """
    if isinstance(a, Lifted):
        return a
    if isinstance(a, np.ndarray) and a.dtype == object:
        return _stack_nested(a.tolist() if a.ndim else a[()])
    if not isinstance(a, (list, tuple)):
        return np.asarray(a)
    items = [_stack_nested(v) for v in a]
    if not items:
        return np.zeros((0,))
    shapes = {np.shape(strip_all(v)) for v in items}
    if len(shapes) != 1:
        raise ValueError(f"setting an array element with a sequence: the items have shapes {sorted(shapes)}")
    shape = (1,) + shapes.pop()
    parts = [apply_linear(RESHAPE, v, shape) if isinstance(v, Lifted) else np.reshape(v, shape) for v in items]
    return apply_general(CONCATENATE, tuple(parts), (0,))


def _value_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Functions of shapes and dtypes alone: applied to the plain values."""

    def handler(*args: Any, **kwargs: Any) -> Any:
        return fn(*(strip_all(a) for a in args), **{k: strip_all(v) for k, v in kwargs.items()})

    return handler


def _value_function(rule: Nondiff) -> Callable[..., Any]:
    """A NumPy function of values (argmax, nonzero, isclose): its rule, keywords as parameters."""

    def handler(*args: Any, **kwargs: Any) -> Any:
        if len(args) > rule.nin:
            raise TypeError(f"np.{rule.name} on lifted values: pass options by keyword")
        return apply_nondiff(rule, tuple(args), (tuple(sorted(kwargs.items())),))

    return handler
