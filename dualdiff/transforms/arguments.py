"""JAX's calling conventions for the transforms: ``argnums``, ``has_aux``, and hints for JAX-style calls.

Every transform differentiates ``f`` with respect to ONE argument ``x``
(a number, an array, or a tuple of these). The functions that
:func:`~dualdiff.grad`, :func:`~dualdiff.value_and_grad`,
:func:`~dualdiff.jacfwd`, :func:`~dualdiff.jacrev`,
:func:`~dualdiff.jacobian` and :func:`~dualdiff.hessian` return take
``*args, **kwargs`` as ``jax.grad``'s do: they call ``f(*args, **kwargs)``
and differentiate with respect to ``args[argnums]`` (by default the first
argument; a tuple of argnums gives a tuple of derivatives), while the other
arguments are held fixed. With one argument and the defaults this is the
one-argument convention, unchanged.

``has_aux=True`` says that ``f`` returns a pair ``(output, aux)``: only
``output`` is differentiated, and ``aux`` (any data: numbers, arrays,
strings, dicts) comes back beside the derivative, with the transform's own
perturbations removed, as in JAX.

>>> import dualdiff as dd
>>> def f(a, b):
...     return a * b ** 2
>>> dd.grad(f)(3.0, 2.0), dd.grad(f, argnums=1)(3.0, 2.0), dd.grad(f, argnums=(0, 1))(3.0, 2.0)
(4.0, 12.0, (4.0, 12.0))
>>> dd.grad(lambda x: (x ** 2, {"x": x}), has_aux=True)(3.0)
(6.0, {'x': 3.0})
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np

from ..modes.core import LiftedBase
from ..modes.tree import check_input, leaves, primal_at

#: What ``argnums`` accepts: one position, or a tuple of positions (a tuple of derivatives).
ArgNums: TypeAlias = "int | tuple[int, ...]"

__all__ = ["ArgNums", "check_argnums", "jax_style_hint", "strip_level", "transformed"]


def check_argnums(argnums: Any, has_aux: Any, who: str) -> None:
    """Fail early unless ``argnums`` is an int or a non-empty tuple of distinct ints, and ``has_aux`` a bool.

    >>> check_argnums((0, 0), False, "grad")
    Traceback (most recent call last):
    ValueError: grad: argnums must not repeat a position, got (0, 0)
    """
    if not isinstance(has_aux, bool):
        raise TypeError(f"{who}: has_aux must be True or False, got {has_aux!r}")
    items = argnums if isinstance(argnums, tuple) else (argnums,)
    if not items or any(isinstance(i, bool) or not isinstance(i, (int, np.integer)) for i in items):
        raise TypeError(f"{who}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    if len(set(map(int, items))) != len(items):
        raise ValueError(f"{who}: argnums must not repeat a position, got {argnums!r}")


def strip_level(tree: Any, level: int) -> Any:
    """``tree`` (tuples, lists, dicts, arrays, anything else) with values lifted at ``level`` made primal.

    Values of other levels stay lifted: ``aux`` of a nested transform keeps
    the outer transforms' perturbations until those return.
    """
    if isinstance(tree, (tuple, list)) and not hasattr(tree, "_fields"):
        return type(tree)(strip_level(t, level) for t in tree)
    if isinstance(tree, tuple):  # a namedtuple
        return type(tree)(*(strip_level(t, level) for t in tree))
    if isinstance(tree, dict):
        return type(tree)((k, strip_level(v, level)) for k, v in tree.items())
    if isinstance(tree, LiftedBase) or (isinstance(tree, np.ndarray) and tree.dtype == object):
        return primal_at(tree, level)
    return tree


def _level_of(x: Any) -> int | None:
    """The level a transform lifted its input ``x`` to (None if no leaf is lifted)."""
    for leaf in leaves(x):
        if isinstance(leaf, LiftedBase):
            return leaf.level
    return None


class _Aux:
    """The ``aux`` of the first call of ``f`` inside one transform (every call returns the same one)."""

    __slots__ = ("set", "value")

    def __init__(self) -> None:
        self.value: Any = None
        self.set = False


def _split(who: str, result: Any) -> tuple[Any, Any]:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        if isinstance(result, (tuple, list)):
            what = f"a {type(result).__name__} of length {len(result)}"
        else:
            what = f"one {type(result).__name__}, not a pair"
        raise TypeError(f"{who}(f, has_aux=True) needs f to return a pair (output, aux); it returned {what}")
    return result[0], result[1]


def _select(
    who: str, f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], argnums: ArgNums, has_aux: bool
) -> tuple[Any, Callable[[Any], Any], _Aux]:
    """``x`` = the arguments at ``argnums``, and ``g(x)`` = f's output with the others held fixed."""
    positions = argnums if isinstance(argnums, tuple) else (argnums,)
    n = len(args)
    picked = []
    for p in positions:
        i = operator.index(p)
        if not -n <= i < n:
            need = (i if i >= 0 else -i - 1) + 1
            raise TypeError(
                f"{who}: differentiating with respect to argnums={argnums!r} needs at least {need} positional "
                f"argument{'s' if need > 1 else ''} (keyword arguments are held fixed), but the call passed {n}"
            )
        picked.append(i % n)
    x = tuple(check_input(f"argument {i} (argnums)", args[i]) for i in picked)
    if not isinstance(argnums, tuple):
        x = x[0]
    aux = _Aux()

    def g(xs: Any) -> Any:
        values = list(args)
        for i, xi in zip(picked, xs if isinstance(argnums, tuple) else (xs,)):
            values[i] = xi
        out = f(*values, **kwargs)
        if not has_aux:
            return out
        out, extra = _split(who, out)
        if not aux.set:
            level = _level_of(xs)
            aux.value = extra if level is None else strip_level(extra, level)
            aux.set = True
        return out

    return x, g, aux


def transformed(
    who: str,
    f: Callable[..., Any],
    one: Callable[[Any], Any],
    rebuild: Callable[[Callable[[Any], Any]], Callable[[Any], Any]],
    argnums: ArgNums,
    has_aux: bool,
    with_aux: Callable[[Any, Any], Any] | None = None,
) -> Callable[..., Any]:
    """The function a transform returns, with JAX's ``argnums`` and ``has_aux``.

    ``one(x)`` is the transform of ``f`` for the one-argument call (built
    once, so the common call costs nothing more); ``rebuild(g)`` makes the
    transform of a one-argument ``g`` for any other call. ``with_aux(result,
    aux)`` places ``aux`` in the result (default: ``(result, aux)``, as
    ``jax.jacfwd`` returns it).
    """
    check_argnums(argnums, has_aux, who)
    plain = argnums == 0 and not has_aux

    def h(*args: Any, **kwargs: Any) -> Any:
        if plain and len(args) == 1 and not kwargs:
            return one(args[0])
        x, g, aux = _select(who, f, args, kwargs, argnums, has_aux)
        result = rebuild(g)(x)
        if not has_aux:
            return result
        return with_aux(result, aux.value) if with_aux is not None else (result, aux.value)

    h.__name__ = h.__qualname__ = f"{who}_of_{getattr(f, '__name__', 'f')}"
    h.__doc__ = f"{who} of {getattr(f, '__name__', 'f')} (argnums={argnums!r}, has_aux={has_aux})"
    return h


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def jax_style_hint(who: str, f: Callable[..., Any], x: Any, v: Any) -> str | None:
    """What to write instead, when ``dd.jvp(f, primals, tangents)`` looks like JAX's call.

    JAX's ``jvp(f, primals, tangents)`` calls ``f(*primals)``; dualdiff's
    calls ``f(x)`` with ``x`` as one argument. When ``x`` and ``v`` are
    tuples of the same length that ``f`` could take as separate arguments,
    and calling ``f`` on the tuple failed, the user most likely meant JAX's
    call.

    >>> print(jax_style_hint("jvp", lambda a, b: a * b, (2.0, 3.0), (1.0, 0.0)).split("Write: ")[1])
    dd.jvp(lambda x: f(*x), (2.0, 3.0), (1.0, 0.0))
    """
    if not (isinstance(x, tuple) and isinstance(v, tuple) and len(x) == len(v) and x):
        return None
    try:
        inspect.signature(f).bind(*x)
    except TypeError:
        return None
    except ValueError:  # no signature (a builtin): cannot tell, say it anyway
        pass
    head = (
        f"dd.{who} calls f(x) with x as ONE argument (here the tuple {_short(x)}), "
        f"not f(*x) as jax.{who}(f, primals, tangents) does. Write: "
    )
    if len(x) == 1:
        return head + f"dd.{who}(f, {_short(x[0])}, {_short(v[0])})"
    return head + f"dd.{who}(lambda x: f(*x), {_short(x)}, {_short(v)})"
