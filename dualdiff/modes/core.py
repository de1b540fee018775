"""What every mode shares: levels, the base of lifted values, and dispatch.

A *lifted* value is a number that carries derivative information for one
*level*: a :class:`~dualdiff.modes.dual.Dual` (forward mode), a tape variable
(reverse mode), a Taylor polynomial, or a tracer recording a program. Every
transform call takes a fresh level from a counter, so levels increase with
nesting. An operation on several lifted values is handled by the one with
the highest level; values of lower levels are constants to it (their
derivative information stays inside its primal). That ordering is what rules
out perturbation confusion: an inner derivative never mixes up its
perturbation with an outer one.

A level also says whether its tangents carry a trailing axis of several
directions (a *batch*, as ``jacfwd`` pushes k columns at once): the lowest
bit of the level number. The batch axis is therefore known, never guessed
from the number of axes of a tangent, which nesting and broadcasting make
ambiguous.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ..rules.arrays import CONCATENATE
from ..rules.backends import GENERIC, backend_for, backend_of, register_type
from ..rules.elementwise import POW, SQUARE
from ..rules.evaluate import evaluate
from ..rules.kinds import Elementwise, General, Linear, Nondiff
from ..rules.structural import RESHAPE

_counter = itertools.count(1)

#: The level of Duals a user builds by hand (``dd.Dual(2.0, 1.0)``): below
#: every level a transform creates, so transforms treat them as constants
#: that carry their own derivative. Hand-built Duals with a batch of
#: directions take ``USER_LEVEL + 1``.
USER_LEVEL = 0


def new_level(batched: bool = False) -> int:
    """A fresh level, higher than every level taken before (thread-safe).

    ``batched``: tangents at this level carry one trailing axis of directions.

    >>> a, b = new_level(), new_level(batched=True)
    >>> b > a, level_nbatch(a), level_nbatch(b)
    (True, 0, 1)
    """
    return 2 * next(_counter) + (1 if batched else 0)


def level_nbatch(level: int) -> int:
    """The number of direction axes (0 or 1) that tangents of ``level`` carry."""
    return level & 1


class LiftedBase:
    """Base of every lifted value: a primal and a level, and the hooks dispatch calls.

    Subclasses implement ``_elementwise(rule, args, level)``,
    ``_linear(rule, x, params, nbatch)`` and ``_general(rule, args, params,
    level)``; ``_unary``, ``_binary`` and ``_nondiff`` have generic defaults.
    Python operators and NumPy's protocols live in
    :class:`dualdiff.modes.lifted.Lifted`.
    """

    __slots__ = ("level", "primal")

    primal: Any
    level: int

    @classmethod
    def _elementwise(cls, rule: Elementwise, args: tuple[Any, ...], level: int) -> Any:
        raise NotImplementedError

    @classmethod
    def _general(cls, rule: General, args: tuple[Any, ...], params: tuple[Any, ...], level: int) -> Any:
        raise NotImplementedError

    @classmethod
    def _linear(cls, rule: Linear, x: Any, params: tuple[Any, ...], nbatch: int) -> Any:
        raise NotImplementedError

    @staticmethod
    def _unary(rule: Elementwise, x: Any) -> Any:
        """``rule(x)`` with ``x`` of this class."""
        return type(x)._elementwise(rule, (x,), x.level)

    @staticmethod
    def _binary(rule: Elementwise, a: Any, b: Any, level: int) -> Any:
        """``rule(a, b)`` where a value of this class holds the top ``level``."""
        top = a if isinstance(a, LiftedBase) and a.level == level else b
        return type(top)._elementwise(rule, (a, b), level)

    @classmethod
    def _nondiff(cls, rule: Nondiff, args: tuple[Any, ...], params: tuple[Any, ...], level: int) -> Any:
        """A function of values: applied to the primals of this level (lower levels dispatch again)."""
        return apply_nondiff(rule, tuple(a.primal if _at(a, level) else a for a in args), params)

    def _decision(self) -> Any:
        """This value one level down, for a decision taken on it (see :func:`decided`).

        Dual numbers and tape variables have nothing to record: their primal.
        A recording's tracer overrides this to guard the decision.
        """
        return self.primal


def _at(v: Any, level: int) -> bool:
    return isinstance(v, LiftedBase) and v.level == level


def strip(value: Any) -> Any:
    """The primal of a lifted value (one level), or the value itself."""
    return value.primal if isinstance(value, LiftedBase) else value


def strip_all(value: Any) -> Any:
    """The innermost plain number under any number of lifted levels."""
    while isinstance(value, LiftedBase):
        value = value.primal
    return value


def top_of(args: Any) -> LiftedBase | None:
    """The lifted argument of the highest level, or None if there is none."""
    top = None
    level = -1
    for a in args:
        if isinstance(a, LiftedBase) and a.level > level:
            top, level = a, a.level
    return top


#: The lifted classes (filled by register_lifted_type): a set lookup on
#: ``type(x)`` is the cheapest test on the hot path.
LIFTED_TYPES: set[type] = set()


def register_lifted_type(cls: type) -> None:
    """Tell the backends and the dispatcher that ``cls`` is a lifted type."""
    register_type(cls, GENERIC)
    LIFTED_TYPES.add(cls)


def _is_two(b: Any) -> bool:
    """A constant exponent 2, for which ``x ** 2`` is the square rule."""
    return (type(b) is int or type(b) is float) and b == 2


def _is_objects(v: Any) -> bool:
    """An ndarray of dtype object (which may hold lifted values: ``np.array([x[0], x[1]])``)."""
    return type(v) is np.ndarray and v.dtype.kind == "O"


def from_objects(arr: Any) -> Any:
    """An object array of lifted scalars (``np.array([x[0], x[1]])``) as one lifted array.

    NumPy builds such arrays when given a list of lifted values; its object
    loops compute with them element by element (through the methods of
    :class:`~dualdiff.modes.lifted.Lifted`). Where one meets a rule together
    with other values, it becomes the concatenation of its elements, which
    is exact, so no derivative of any element is lost. An object array of
    plain numbers is returned unchanged.

    >>> import dualdiff as dd
    >>> d = dd.Dual(2.0, 1.0)
    >>> from_objects(np.array([d, 3.0 * d]))
    Dual(array([2., 6.]), array([1., 3.]))
    """
    if not _is_objects(arr):
        return arr
    items = arr.ravel().tolist()
    if not any(isinstance(i, LiftedBase) for i in items):
        return arr
    parts = []
    for i in items:
        if np.ndim(strip_all(i)) != 0 or not (isinstance(i, LiftedBase) or backend_of(i) is not None):
            raise TypeError(
                f"an object array of lifted values must hold scalars, got an element {i!r:.80}; "
                "build arrays of lifted arrays with np.stack or np.concatenate"
            )
        parts.append(apply_linear(RESHAPE, i, (1,)) if isinstance(i, LiftedBase) else np.reshape(np.asarray(i), (1,)))
    return apply_linear(RESHAPE, apply_general(CONCATENATE, tuple(parts), (0,)), arr.shape)


def apply(rule: Elementwise, *args: Any) -> Any:
    """Apply an elementwise primitive to any mix of numbers and lifted values.

    >>> from dualdiff.rules.elementwise import MUL
    >>> apply(MUL, 2.0, 3.0)
    6.0
    """
    if len(args) == 2:
        return apply2(rule, *args)
    if len(args) == 1:
        return apply1(rule, args[0])
    if any(_is_objects(a) for a in args):
        args = tuple(from_objects(a) for a in args)
    top = top_of(args)
    if top is None:
        return evaluate(rule, backend_for(args), args)
    return top._elementwise(rule, args, top.level)


def apply1(rule: Elementwise, x: Any) -> Any:
    """``apply`` for one argument, without the generic machinery.

    >>> from dualdiff.rules.elementwise import SQRT
    >>> apply1(SQRT, 4.0)
    2.0
    """
    if type(x) in LIFTED_TYPES or isinstance(x, LiftedBase):
        return x._unary(rule, x)
    if _is_objects(x):
        y = from_objects(x)
        if y is not x:
            return y._unary(rule, y)
    return evaluate(rule, backend_for((x,)), (x,))


def apply2(rule: Elementwise, a: Any, b: Any) -> Any:
    """``apply`` for two arguments: the higher level handles the operation.

    >>> from dualdiff.rules.elementwise import ADD
    >>> apply2(ADD, 1.0, 2.0)
    3.0
    """
    la = a.level if (type(a) in LIFTED_TYPES or isinstance(a, LiftedBase)) else -1
    lb = b.level if (type(b) in LIFTED_TYPES or isinstance(b, LiftedBase)) else -1
    if (la < 0 and _is_objects(a)) or (lb < 0 and _is_objects(b)):
        a2, b2 = from_objects(a), from_objects(b)
        if a2 is not a or b2 is not b:
            return apply2(rule, a2, b2)
    if rule is POW and la > lb and _is_two(b) and type(strip_all(a)) is np.ndarray:
        return apply1(SQUARE, a)  # x**2 of an array: the same derivative in one pass fewer
    if la >= lb:
        if la < 0:
            return evaluate(rule, backend_for((a, b)), (a, b))
        return a._binary(rule, a, b, la)
    return b._binary(rule, a, b, lb)


def apply_general(rule: General, args: tuple[Any, ...], params: tuple[Any, ...] = ()) -> Any:
    """Apply a :class:`~dualdiff.rules.kinds.General` primitive to plain or lifted arguments.

    >>> from dualdiff.rules.arrays import MATMUL
    >>> apply_general(MATMUL, (np.eye(2), np.ones(2)))
    array([1., 1.])
    """
    if any(_is_objects(a) for a in args):
        args = tuple(from_objects(a) for a in args)
    top = top_of(args)
    if top is None:
        return rule.fn(*args, *params)
    return top._general(rule, args, params, top.level)


def apply_linear(rule: Linear, x: Any, *params: Any, nbatch: int = 0) -> Any:
    """Apply a linear primitive to ``x`` (plain or lifted); ``params`` are static.

    ``nbatch`` trailing axes of ``x`` are directions the map leaves alone.

    >>> from dualdiff.rules.structural import SUM
    >>> apply_linear(SUM, np.ones((2, 3)), (0,), False)
    array([2., 2., 2.])
    """
    if isinstance(x, LiftedBase):
        return x._linear(rule, x, params, nbatch)
    if _is_objects(x):
        y = from_objects(x)
        if y is not x:
            return y._linear(rule, y, params, nbatch)
    return rule.fn(x, nbatch, *params)


def decided(value: Any) -> Any:
    """The plain value of a decision taken on values (a segment, a mask, a count, a sign).

    A handler that branches on its inputs' values computes the decision with
    a rule of values (:func:`apply_nondiff`) and reads it through here. For
    dual numbers and tape variables that is their primal; a recording's
    tracer records a guard as well, so that the program checks the decision
    again at every new point (and a compiled function retraces) instead of
    reusing it: never a wrong value from a branch taken at another point.

    >>> from dualdiff.rules.values import ISNAN
    >>> decided(apply_nondiff(ISNAN, (np.array([1.0, np.nan]),)))
    array([False,  True])
    """
    while isinstance(value, LiftedBase):
        value = value._decision()
    return value


def apply_nondiff(rule: Nondiff, args: tuple[Any, ...], params: tuple[Any, ...] = ()) -> Any:
    """Apply a function of values (a comparison, ``argmax``): its output carries no derivative.

    >>> from dualdiff.rules.values import LESS
    >>> apply_nondiff(LESS, (1.0, 2.0))
    True
    """
    top = top_of(args)
    if top is None:
        return rule.fn(*args, *params)
    return top._nondiff(rule, args, params, top.level)
