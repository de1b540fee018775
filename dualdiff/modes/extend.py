"""The public side of extending dualdiff: a registered rule as a function, and NumPy functions mapped onto rules.

``dd.defelementwise``, ``dd.deflinear`` and ``dd.defgeneral`` register a rule
(:mod:`dualdiff.rules.extend`, which checks it) and return the function that
applies it to numbers, arrays and lifted values of any level.
``dd.register_numpy_function`` sends a NumPy function (``np.fft.fft``) to a
rule or to a handler of your own, which ends its ``NoRuleError``.

>>> import numpy as np, dualdiff as dd
>>> twice = dd.deflinear("demo_twice2", lambda x, nb: 2 * x, lambda g, s, nb: 2 * g)
>>> dd.jvp(twice, np.ones(2), np.ones(2))[1]
array([2., 2.])
>>> dd.unregister_rule("demo_twice2")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np

from ..rules import extend as rx
from ..rules.kinds import Elementwise, General, Linear, Nondiff, Rule, is_registered, on_register
from ..rules.kinds import unregister as _unregister
from . import functions
from .core import apply, apply_general, apply_linear, apply_nondiff
from .numpy_api import FUNCTION_HANDLERS, UFUNC_RULES, numpy_name

__all__ = [
    "defelementwise",
    "defgeneral",
    "deflinear",
    "register_numpy_function",
    "unregister_numpy_function",
    "unregister_rule",
]


def defelementwise(name: str, evaluate: Any, partials: Any, **options: Any) -> Callable[..., Any]:
    """Register an elementwise rule (see :func:`dualdiff.rules.extend.defelementwise`); return its function.

    The function takes floats, complex and mpmath numbers, arrays and lifted
    values, like ``dd.sin`` (and has the same generated fast path); its
    ``.rule`` is the registered rule.

    >>> import math, dualdiff as dd
    >>> gauss = dd.defelementwise(
    ...     "demo_gauss2", {"float": lambda x: math.exp(-x * x)}, [lambda m, y, x: -2 * x * y]
    ... )
    >>> dd.derivative(gauss)(1.0) == -2 * math.exp(-1.0)
    True
    >>> dd.unregister_rule("demo_gauss2")
    """
    rule = rx.defelementwise(name, evaluate, partials, **options)
    return functions.FUNCTIONS.get(rule.name) or functions.public_function(rule)


def deflinear(name: str, fn: Callable[..., Any], transpose: Callable[..., Any], **options: Any) -> Callable[..., Any]:
    """Register a linear rule (see :func:`dualdiff.rules.extend.deflinear`); return ``f(x, *params)`` applying it.

    >>> import numpy as np, dualdiff as dd
    >>> rev = dd.deflinear("demo_rev", lambda x, nb: x[::-1], lambda g, s, nb: g[::-1], at=(np.arange(3.0),))
    >>> dd.grad(lambda x: rev(x)[0])(np.ones(3))
    array([0., 0., 1.])
    >>> dd.unregister_rule("demo_rev")
    """
    rule = rx.deflinear(name, fn, transpose, **options)

    def apply_rule(x: Any, *params: Any) -> Any:
        return apply_linear(rule, x, *params)

    return _named(apply_rule, rule)


def defgeneral(
    name: str, fn: Callable[..., Any], linear_maps: Any, transposes: Any, **options: Any
) -> Callable[..., Any]:
    """Register a general rule (see :func:`dualdiff.rules.extend.defgeneral`); return the function applying it.

    The function takes the rule's ``nin`` differentiable arguments, then its
    static parameters (a variadic rule takes parameters by keyword, ``params=``).

    >>> import numpy as np, dualdiff as dd
    >>> inv = dd.defgeneral(
    ...     "demo_inv", np.linalg.inv,
    ...     [lambda t, nb, y, a, p: -y @ t @ y], [lambda g, nb, y, a, p: -y.T @ g @ y.T],
    ... )
    >>> dd.jvp(inv, 2 * np.eye(2), np.eye(2))[1]
    array([[-0.25,  0.  ],
           [ 0.  , -0.25]])
    >>> dd.unregister_rule("demo_inv")
    """
    rule = rx.defgeneral(name, fn, linear_maps, transposes, **options)
    nin = rule.nin

    def apply_rule(*args: Any, params: tuple[Any, ...] = ()) -> Any:
        if nin >= 0:
            if len(args) < nin:
                raise TypeError(f"{rule.name} takes {nin} argument(s) (then its parameters), got {len(args)}")
            args, params = args[:nin], tuple(args[nin:]) + tuple(params)
        return apply_general(rule, tuple(args), tuple(params))

    return _named(apply_rule, rule)


def _named(fn: Callable[..., Any], rule: Rule) -> Callable[..., Any]:
    fn.__name__ = fn.__qualname__ = rule.name
    fn.__doc__ = f"Apply the rule {rule.name!r} ({type(rule).__name__}) to plain or lifted values."
    fn.rule = rule  # type: ignore[attr-defined]
    return fn


def unregister_rule(name: str) -> None:
    """Remove a rule from the table; every cache derived from it follows (tests clean up with this).

    >>> import dualdiff as dd
    >>> try:
    ...     dd.unregister_rule("no_such_rule")
    ... except KeyError as e:
    ...     print(e)
    "no rule named 'no_such_rule' is registered"
    """
    _unregister(name)


# ==========================================================================
# NumPy functions onto rules
# ==========================================================================

#: What register_numpy_function replaced (None: nothing), so unregistering restores it.
_REPLACED: dict[Any, Any] = {}


def _handler_of(func: Any, rule: Rule) -> Callable[..., Any]:
    """A handler calling ``rule`` with the NumPy function's positional arguments."""
    shown = numpy_name(func)

    def handler(*args: Any, **kwargs: Any) -> Any:
        given = sorted(k for k, v in kwargs.items() if v is not None)
        if given:
            raise TypeError(
                f"{shown} on lifted values: keyword arguments {given} are not passed to the rule {rule.name!r}; "
                "pass them by position, or register a handler function that translates them"
            )
        if isinstance(rule, Elementwise):
            if len(args) != rule.nin:
                raise TypeError(f"{shown} (rule {rule.name}) takes {rule.nin} argument(s), got {len(args)}")
            return apply(rule, *args)
        if isinstance(rule, Linear):
            return apply_linear(rule, args[0], *args[1:])
        if isinstance(rule, General):
            n = len(args) if rule.nin < 0 else rule.nin
            return apply_general(rule, tuple(args[:n]), tuple(args[n:]))
        return apply_nondiff(cast(Nondiff, rule), tuple(args[: rule.nin]), tuple(args[rule.nin :]))  # the fourth kind

    handler.__name__ = getattr(func, "__name__", "handler")
    handler.rule = rule  # type: ignore[attr-defined]
    return handler


def register_numpy_function(func: Any, rule_or_handler: Any, replace: bool = False) -> Callable[..., Any]:
    """Send calls of the NumPy function ``func`` on lifted values to a rule or a handler; return the handler.

    ``rule_or_handler`` is a rule (its name, the rule object, or a function
    returned by ``dd.defelementwise``/``deflinear``/``defgeneral``): the
    call's positional arguments become the rule's arguments, then its
    parameters. Or it is a function called as ``handler(*args, **kwargs)``
    with the lifted values, written with dualdiff's operations. ``func`` is a
    NumPy function that dispatches through ``__array_function__``
    (``np.fft.fft``, ``np.linalg.eigh``) or a ufunc (``np.i0``, a SciPy
    special function); one that dualdiff already handles needs ``replace=True``.

    >>> import numpy as np, dualdiff as dd
    >>> fft = dd.deflinear(   # the DFT matrix is symmetric: its transpose is itself
    ...     "demo_fft", lambda x, nb: np.fft.fft(x, axis=0), lambda g, s, nb: np.fft.fft(g, axis=0)
    ... )
    >>> _ = dd.register_numpy_function(np.fft.fft, fft)
    >>> dd.jvp(np.fft.fft, np.zeros(4), np.array([0.0, 1.0, 0.0, 0.0]))[1].round(12)
    array([ 1.+0.j,  0.-1.j, -1.-0.j, -0.+1.j])
    >>> dd.unregister_rule("demo_fft")  # takes np.fft.fft's registration along
    """
    rule = _rule_of(rule_or_handler)
    if isinstance(func, np.ufunc):
        if rule is None or not isinstance(rule, (Elementwise, Nondiff)):
            raise TypeError(
                f"register_numpy_function: the ufunc np.{func.__name__} needs an elementwise rule (or a function "
                f"of values), got {rule_or_handler!r:.60}"
            )
        if rule.nin != func.nin:
            raise ValueError(
                f"register_numpy_function: np.{func.__name__} takes {func.nin} argument(s), "
                f"the rule {rule.name!r} {rule.nin}"
            )
        _check_free(func, UFUNC_RULES, replace, f"np.{func.__name__}")
        _REPLACED.setdefault(func, UFUNC_RULES.get(func))
        UFUNC_RULES[func] = rule
        return _handler_of(func, rule)
    if not callable(func) or not hasattr(func, "_implementation"):
        raise TypeError(
            f"register_numpy_function: {getattr(func, '__module__', '?')}.{getattr(func, '__name__', func)!s:.60} "
            "does not dispatch through NumPy's __array_function__ protocol, so dualdiff never sees its calls on "
            "lifted values; call the rule's function (returned by dd.defgeneral and friends) instead"
        )
    if rule is not None:
        handler = _handler_of(func, rule)
    elif callable(rule_or_handler):
        handler = rule_or_handler
    else:
        raise TypeError(
            "register_numpy_function: expected a rule, a rule's name or a handler function, "
            f"got {rule_or_handler!r:.60}"
        )
    _check_free(func, FUNCTION_HANDLERS, replace, numpy_name(func))
    _REPLACED.setdefault(func, FUNCTION_HANDLERS.get(func))
    FUNCTION_HANDLERS[func] = handler
    return handler


def _rule_of(obj: Any) -> Rule | None:
    if isinstance(obj, Rule):
        return obj
    if isinstance(obj, str):
        from ..rules.kinds import TABLE

        if obj not in TABLE:
            raise KeyError(f"register_numpy_function: no rule named {obj!r} is registered")
        return TABLE[obj]
    rule = getattr(obj, "rule", None)
    return rule if isinstance(rule, Rule) else None


def _check_free(func: Any, table: dict[Any, Any], replace: bool, shown: str) -> None:
    if func in table and not replace:
        current = table[func]
        current = getattr(current, "rule", current)
        what = f"the rule {current.name!r}" if isinstance(current, Rule) else "a handler"
        raise ValueError(f"register_numpy_function: {shown} already goes to {what}; pass replace=True to replace it")


def unregister_numpy_function(func: Any) -> None:
    """Undo :func:`register_numpy_function` for ``func`` (what it replaced comes back).

    >>> import numpy as np, dualdiff as dd
    >>> dd.unregister_numpy_function(np.fft.ifft)
    Traceback (most recent call last):
    ...
    KeyError: 'np.fft.ifft was not registered with register_numpy_function'
    """
    table = UFUNC_RULES if isinstance(func, np.ufunc) else FUNCTION_HANDLERS
    if func not in _REPLACED:
        raise KeyError(f"{numpy_name(func)} was not registered with register_numpy_function")
    previous = _REPLACED.pop(func)
    if previous is None:
        table.pop(func, None)
    else:
        table[func] = previous


def _on_register(rule: Rule) -> None:
    """A rule that leaves the table takes the NumPy functions sent to it along."""
    if is_registered(rule):
        return
    for func in [f for f, h in FUNCTION_HANDLERS.items() if getattr(h, "rule", None) is rule and f in _REPLACED]:
        unregister_numpy_function(func)
    for func in [f for f, r in UFUNC_RULES.items() if r is rule and f in _REPLACED]:
        unregister_numpy_function(func)


on_register(_on_register)
