"""Inputs and outputs of the transforms: numbers, arrays and tuples of them.

A transform's ``x`` is a *tree*: a number, an array, or a tuple/list of
trees (as a JAX pytree, without dicts). These helpers flatten a tree to its
leaves, rebuild it, check user input early with messages that name the
argument, and read a function's output at one derivative level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..rules.backends import backend_of
from .core import LiftedBase as Lifted


def leaves(tree: Any) -> list[Any]:
    """The leaves of a tree, left to right.

    >>> leaves((1.0, (2.0, 3.0)))
    [1.0, 2.0, 3.0]
    """
    if isinstance(tree, (tuple, list)):
        out: list[Any] = []
        for t in tree:
            out.extend(leaves(t))
        return out
    return [tree]


def rebuild(tree: Any, new_leaves: list[Any]) -> Any:
    """A tree shaped like ``tree`` with ``new_leaves`` in place of its leaves.

    >>> rebuild((1.0, [2.0]), ["a", "b"])
    ('a', ['b'])
    """
    # A module-level helper, not a recursive closure: a closure that calls itself is a reference
    # cycle, and the cycle would hold the leaves (tangent arrays) until the garbage collector ran.
    return _rebuild(tree, iter(new_leaves))


def _rebuild(t: Any, it: Iterator[Any]) -> Any:
    if isinstance(t, (tuple, list)):
        return type(t)(_rebuild(s, it) for s in t)
    return next(it)


def map_tree(fn: Callable[[Any], Any], tree: Any) -> Any:
    """Apply ``fn`` to every leaf."""
    return rebuild(tree, [fn(leaf) for leaf in leaves(tree)])


def check_input(name: str, x: Any) -> Any:
    """Validate a transform's ``x`` (or ``v``) and return it with ints made float.

    >>> check_input("x", (1, np.array([2, 3])))
    (1.0, array([2., 3.]))
    """

    def one(leaf: Any) -> Any:
        if isinstance(leaf, Lifted):
            return leaf
        if isinstance(leaf, bool) or backend_of(leaf) is None:
            raise TypeError(
                f"{name} must be a number, a NumPy array of numbers, or a tuple of these; "
                f"got {type(leaf).__name__}: {leaf!r:.80}"
            )
        if isinstance(leaf, int):
            return float(leaf)
        if isinstance(leaf, (np.ndarray, np.generic)):
            if leaf.dtype.kind in "biu":
                return np.asarray(leaf, dtype=np.float64)
            if leaf.dtype.kind not in "fc":
                raise TypeError(f"{name} must hold numbers, got an array of dtype {leaf.dtype}")
        return leaf

    return map_tree(one, x)


def check_like(name: str, v: Any, x_name: str, x: Any) -> None:
    """Require the tree ``v`` to have the structure and leaf shapes of ``x``."""
    xl, vl = leaves(x), leaves(v)
    if len(xl) != len(vl):
        raise ValueError(
            f"{name} must be structured like {x_name}: {x_name} has {len(xl)} leaves, {name} has {len(vl)}"
        )
    for i, (a, b) in enumerate(zip(xl, vl)):
        if np.shape(a) != np.shape(b):
            where = "" if len(xl) == 1 else f" (leaf {i})"
            raise ValueError(
                f"{name} must be shaped like {x_name}{where}: {x_name} has shape {np.shape(a)}, "
                f"{name} has shape {np.shape(b)}"
            )


def output_leaves(out: Any) -> list[Any]:
    """The leaves of f's output, checked to be numbers (object arrays are leaves)."""
    result = leaves(out)
    for leaf in result:
        if isinstance(leaf, Lifted) or (backend_of(leaf) is not None and not isinstance(leaf, bool)):
            if isinstance(leaf, np.ndarray) and leaf.dtype.kind not in "biufcO":
                raise TypeError(
                    f"f must return numbers or arrays of numbers; it returned an array of dtype {leaf.dtype}"
                )
            continue
        if isinstance(leaf, bool) or isinstance(leaf, np.bool_):
            raise TypeError(f"f must return numbers or arrays of numbers; it returned a bool: {leaf!r}")
        raise TypeError(
            f"f must return numbers or arrays of numbers (or a tuple of them); "
            f"it returned {type(leaf).__name__}: {leaf!r:.80}"
        )
    return result


def primal_at(value: Any, level: int) -> Any:
    """The value with level ``level`` stripped (lower levels stay lifted)."""
    if isinstance(value, Lifted):
        return value.primal if value.level == level else value
    if isinstance(value, np.ndarray) and value.dtype == object:
        return _from_objects([primal_at(v, level) for v in value.ravel()], value.shape)
    return value


def _from_objects(items: list[Any], shape: tuple[int, ...]) -> Any:
    """An array from elements that may be lifted (then an object array) or plain."""
    if any(isinstance(i, Lifted) for i in items):
        arr = np.empty(len(items), dtype=object)
        arr[:] = items
        return arr.reshape(shape)
    return np.array(items).reshape(shape)
