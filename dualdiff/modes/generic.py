"""The math namespace of nested levels: formulas evaluated on lifted values.

When a rule's partial ``partial(m, y, *args)`` is computed at a point whose
coordinates are themselves lifted values (a Dual inside a Dual, a tape
variable under a Dual: higher derivatives), ``m`` is ``GENERIC``: each of its
functions dispatches through the rule table again, so the partial's own
derivative comes from the same table. The helpers (``safe_div``, ``xlogy``,
``dpow``) have NumPy's elementwise semantics on arrays, and decide with
comparisons of lifted values, so a recorded program sees those decisions.

>>> import dualdiff as dd
>>> dd.derivative(dd.derivative(lambda x: x ** 3))(0.0)
0.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..rules.arrays import WHERE
from ..rules.backends import FLOAT, GENERIC, backend_for
from ..rules.elementwise import LOG, MUL, POW, SUB, TRUEDIV
from ..rules.kinds import Elementwise, Rule, is_registered, on_register
from .core import LiftedBase, apply, apply1, apply2, apply_general, strip_all


def _generic_function(rule: Elementwise) -> Any:
    if rule.nin == 1:
        return lambda x: apply1(rule, x)
    if rule.nin == 2:
        return lambda a, b: apply2(rule, a, b)
    return lambda *args: apply(rule, *args)


#: The functions this module put into GENERIC, by name, with the rule each applies.
_SET_BY: dict[str, Elementwise] = {}


def _on_register(rule: Rule) -> None:
    if not isinstance(rule, Elementwise):
        return
    if not is_registered(rule):
        if _SET_BY.get(rule.name) is rule:
            del _SET_BY[rule.name]
            delattr(GENERIC, rule.name)
        return
    fn = _generic_function(rule)
    rule.impl[GENERIC.slot] = fn
    # a namespace function (m.sin in formulas), also when a rule of that name
    # replaces the built-in one; a user's own name stays out, as it is out of
    # every other namespace
    if rule.evaluate is None or hasattr(FLOAT, rule.name):
        setattr(GENERIC, rule.name, fn)
        _SET_BY[rule.name] = rule


def _is_plain_bool(v: Any) -> bool:
    return isinstance(v, (bool, np.bool_))


def _select(cond: Any, a: Any, b: Any) -> Any:
    """``where(cond, a, b)`` for lifted ``a``/``b``; ``cond`` a mask (plain or recorded)."""
    return apply_general(WHERE, (cond, a, b))


def _safe_div(a: Any, b: Any) -> Any:
    """``a / b``, and 0 where ``b`` is 0 (elementwise on arrays)."""
    zero = b == 0
    if _is_plain_bool(zero):
        return apply2(TRUEDIV, a, b) if not zero else 0 * a
    return _select(zero, 0 * a, apply2(TRUEDIV, a, _select(zero, 1, b)))


def _xlogy(y: Any, x: Any) -> Any:
    """``y * log(x)``, and 0 where ``y`` is 0 (elementwise on arrays)."""
    zero = y == 0
    if _is_plain_bool(zero):
        return apply2(MUL, y, apply1(LOG, x)) if not zero else 0 * y
    return _select(zero, 0 * y, apply2(MUL, y, apply1(LOG, _select(zero, 1, x))))


def _dpow(a: Any, b: Any) -> Any:
    """``b * a ** (b - 1)``, and 0 where a constant ``b`` is 0 (elementwise on arrays).

    A lifted ``b`` is a varying exponent: its value may be 0 at this point
    while its derivatives are not, so the whole product is kept
    (``d/dt (1 + t) ** t`` has second derivative 2 at 0, not 1).
    """
    if isinstance(b, LiftedBase):
        return apply2(MUL, b, apply2(POW, a, apply2(SUB, b, 1)))
    zero = b == 0
    if _is_plain_bool(zero):
        return apply2(MUL, b, apply2(POW, a, apply2(SUB, b, 1))) if not zero else 0 * a
    return _select(zero, 0 * a, apply2(MUL, b, apply2(POW, a, _select(zero, 1, apply2(SUB, b, 1)))))


def _backend_of_innermost(value: Any) -> Any:
    return backend_for([strip_all(value)])


GENERIC.const = lambda like, c: _backend_of_innermost(like).const(strip_all(like), c)
GENERIC.pi = lambda like: _backend_of_innermost(like).pi(strip_all(like))
GENERIC.safe_div = _safe_div
GENERIC.xlogy = _xlogy
GENERIC.dpow = _dpow
GENERIC.zero = lambda like: 0 * like
on_register(_on_register)
