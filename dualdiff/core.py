"""What the two modes share: levels, the lifted-value base class, dispatch.

A *lifted* value is a number that carries derivative information for one
*level*: a :class:`~dualdiff.dual.Dual` (forward mode) or a tape variable
(reverse mode). Every ``jvp``/``vjp`` call takes a fresh level from a counter,
so levels increase with nesting. An operation on several lifted values is
handled by the one with the highest level; values of lower levels are
constants to it (their derivative information stays inside its primal).
That ordering is what rules out perturbation confusion: an inner derivative
never mixes up its perturbation with an outer one.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from .backends import GENERIC, backend_for, register_type
from .evaluate import evaluate
from .rules import (
    ABS,
    ADD,
    CEIL,
    FLOOR,
    GETITEM,
    MUL,
    NEG,
    POS,
    POW,
    ROUND,
    SQUARE,
    SUB,
    TRUEDIV,
    Elementwise,
    General,
    Linear,
    Rule,
)

_levels = itertools.count(1)

#: The level of Duals a user builds by hand (``dd.Dual(2.0, 1.0)``): below
#: every level a transform creates, so transforms treat them as constants
#: that carry their own derivative.
USER_LEVEL = 0


def new_level() -> int:
    """A fresh level, higher than every level taken before (thread-safe)."""
    return next(_levels)


class Lifted:
    """Base of Dual and tape variables: Python operators route to the rule table.

    Subclasses provide ``primal``, ``level`` and the class methods
    ``_elementwise(rule, args, level)`` and ``_linear(rule, x, params, nbatch)``.
    """

    __slots__ = ("level", "primal")
    #: Make NumPy defer to us in mixed operations (``ndarray * Dual``).
    __array_priority__ = 1000

    primal: Any
    level: int

    # -- arithmetic ------------------------------------------------------
    def __add__(self, other: Any) -> Any:
        return apply2(ADD, self, other)

    def __radd__(self, other: Any) -> Any:
        return apply2(ADD, other, self)

    def __sub__(self, other: Any) -> Any:
        return apply2(SUB, self, other)

    def __rsub__(self, other: Any) -> Any:
        return apply2(SUB, other, self)

    def __mul__(self, other: Any) -> Any:
        return apply2(MUL, self, other)

    def __rmul__(self, other: Any) -> Any:
        return apply2(MUL, other, self)

    def __truediv__(self, other: Any) -> Any:
        return apply2(TRUEDIV, self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return apply2(TRUEDIV, other, self)

    def __pow__(self, other: Any) -> Any:
        return apply2(POW, self, other)

    def __rpow__(self, other: Any) -> Any:
        return apply2(POW, other, self)

    def __neg__(self) -> Any:
        return apply1(NEG, self)

    def __pos__(self) -> Any:
        return apply1(POS, self)

    def __abs__(self) -> Any:
        return apply1(ABS, self)

    def __floor__(self) -> Any:
        return apply1(FLOOR, self)

    def __ceil__(self) -> Any:
        return apply1(CEIL, self)

    def __round__(self, ndigits: int | None = None) -> Any:
        if ndigits is not None:
            raise TypeError("round(x, ndigits) of a lifted value is not supported; use round(x)")
        return apply1(ROUND, self)

    # -- comparisons look at primal values only ---------------------------
    def __lt__(self, other: Any) -> Any:
        return self.primal < strip(other)

    def __le__(self, other: Any) -> Any:
        return self.primal <= strip(other)

    def __gt__(self, other: Any) -> Any:
        return self.primal > strip(other)

    def __ge__(self, other: Any) -> Any:
        return self.primal >= strip(other)

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return self.primal == strip(other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return self.primal != strip(other)

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        return bool(self.primal)

    # -- never drop derivative information silently -----------------------
    def _refuse(self, kind: str) -> Any:
        raise TypeError(
            f"{kind}() of a {type(self).__name__} would drop its derivative; use .primal for the value (got {self!r})"
        )

    def __float__(self) -> float:
        return self._refuse("float")

    def __int__(self) -> int:
        return self._refuse("int")

    def __complex__(self) -> complex:
        return self._refuse("complex")

    # -- array-like behaviour --------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.primal)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def dtype(self) -> Any:
        return np.asarray(strip_all(self.primal)).dtype

    def __len__(self) -> int:
        shape = self.shape
        if not shape:
            raise TypeError(f"len() of a scalar {type(self).__name__}")
        return shape[0]

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index: Any) -> Any:
        return apply_linear(GETITEM, self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError(
            f"{type(self).__name__} values are immutable; build a new array instead "
            "(for example with np.where or np.concatenate)"
        )

    # -- array methods: thin calls into the same NumPy dispatch ------------
    @property
    def T(self) -> Any:
        """The transpose (reversed axes), as ``ndarray.T``."""
        return np.transpose(self)

    def transpose(self, *axes: Any) -> Any:
        """``np.transpose(self, axes)``; takes ``x.transpose(1, 0)`` or ``x.transpose((1, 0))``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.ones((2, 3)), np.ones_like(np.ones((2, 3))))
        >>> x.transpose().shape
        (3, 2)
        """
        return np.transpose(self, _method_args(axes))

    def reshape(self, *shape: Any, order: str = "C") -> Any:
        """``np.reshape(self, shape)``; takes ``x.reshape(2, 3)`` or ``x.reshape((2, 3))``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.ones(6), np.ones_like(np.ones(6)))
        >>> x.reshape(2, 3).shape
        (2, 3)
        """
        return np.reshape(self, _method_args(shape), order=order)

    def ravel(self, order: str = "C") -> Any:
        """``np.ravel(self)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.ones((2, 3)), np.ones_like(np.ones((2, 3))))
        >>> x.ravel().shape
        (6,)
        """
        return np.ravel(self, order)

    def flatten(self, order: str = "C") -> Any:
        """``np.ravel(self)`` (lifted values are immutable, so no copy is needed).

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.ones((2, 3)), np.ones_like(np.ones((2, 3))))
        >>> x.flatten().shape
        (6,)
        """
        return np.ravel(self, order)

    def squeeze(self, axis: Any = None) -> Any:
        """``np.squeeze(self, axis)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.ones((1, 3)), np.ones_like(np.ones((1, 3))))
        >>> x.squeeze().shape
        (3,)
        """
        return np.squeeze(self, axis)

    def swapaxes(self, axis1: int, axis2: int) -> Any:
        """``np.swapaxes(self, axis1, axis2)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.ones((2, 3)), np.ones_like(np.ones((2, 3))))
        >>> x.swapaxes(0, 1).shape
        (3, 2)
        """
        return np.swapaxes(self, axis1, axis2)

    def sum(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> Any:
        """``np.sum(self, axis)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.arange(3.0), np.ones_like(np.arange(3.0)))
        >>> x.sum()
        Dual(np.float64(3.0), np.float64(3.0))
        """
        return np.sum(self, axis, dtype, out, keepdims)

    def mean(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> Any:
        """``np.mean(self, axis)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.arange(3.0), np.ones_like(np.arange(3.0)))
        >>> x.mean()
        Dual(np.float64(1.0), np.float64(1.0))
        """
        return np.mean(self, axis, dtype, out, keepdims)

    def prod(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> Any:
        """``np.prod(self, axis)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([2.0, 3.0]), np.ones_like(np.array([2.0, 3.0])))
        >>> x.prod().primal
        np.float64(6.0)
        """
        return np.prod(self, axis, dtype, out, keepdims)

    def var(self, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False) -> Any:
        """``np.var(self, axis)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([1.0, 3.0]), np.ones_like(np.array([1.0, 3.0])))
        >>> x.var().primal
        np.float64(1.0)
        """
        return np.var(self, axis, dtype, out, ddof, keepdims)

    def std(self, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False) -> Any:
        """``np.std(self, axis)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([1.0, 3.0]), np.ones_like(np.array([1.0, 3.0])))
        >>> float(x.std().primal)
        1.0
        """
        return np.std(self, axis, dtype, out, ddof, keepdims)

    def max(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
        """``np.max(self, axis)``: ties share the derivative evenly.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([1.0, 3.0]), np.ones_like(np.array([1.0, 3.0])))
        >>> x.max().primal
        np.float64(3.0)
        """
        return np.max(self, axis, out, keepdims)

    def min(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
        """``np.min(self, axis)``: ties share the derivative evenly.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([1.0, 3.0]), np.ones_like(np.array([1.0, 3.0])))
        >>> x.min().primal
        np.float64(1.0)
        """
        return np.min(self, axis, out, keepdims)

    def cumsum(self, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
        """``np.cumsum(self, axis)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([1.0, 3.0]), np.ones_like(np.array([1.0, 3.0])))
        >>> x.cumsum().primal
        array([1., 4.])
        """
        return np.cumsum(self, axis, dtype, out)

    def clip(self, min: Any = None, max: Any = None) -> Any:
        """``np.clip(self, min, max)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([-1.0, 3.0]), np.ones_like(np.array([-1.0, 3.0])))
        >>> x.clip(0.0, 2.0).primal
        array([0., 2.])
        """
        return np.clip(self, min, max)

    def dot(self, other: Any) -> Any:
        """``np.dot(self, other)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([1.0, 3.0]), np.ones_like(np.array([1.0, 3.0])))
        >>> x.dot(np.ones(2)).primal
        np.float64(4.0)
        """
        return np.dot(self, other)

    def conj(self) -> Any:
        """``np.conj(self)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([1.0 + 2j]), np.ones_like(np.array([1.0 + 2j])))
        >>> x.conj().primal
        array([1.-2.j])
        """
        return np.conj(self)

    conjugate = conj

    def copy(self) -> Any:
        """The value itself: lifted values are immutable.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([1.0]), np.ones_like(np.array([1.0])))
        >>> x.copy() is x
        True
        """
        return self

    def __matmul__(self, other: Any) -> Any:
        return np.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return np.matmul(other, self)

    # -- NumPy protocols (implemented in numpy_api) ------------------------
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        from .numpy_api import array_ufunc

        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        from .numpy_api import array_function

        return array_function(func, args, kwargs)

    # -- hooks the modes implement ---------------------------------------
    @classmethod
    def _elementwise(cls, rule: Elementwise, args: tuple[Any, ...], level: int) -> Any:
        raise NotImplementedError

    @classmethod
    def _general(cls, rule: General, args: tuple[Any, ...], params: tuple[Any, ...], level: int) -> Any:
        raise NotImplementedError

    @staticmethod
    def _unary(rule: Elementwise, x: Any) -> Any:
        """``rule(x)`` with ``x`` of this class; modes override with a fast path."""
        return type(x)._elementwise(rule, (x,), x.level)

    @staticmethod
    def _binary(rule: Elementwise, a: Any, b: Any, level: int) -> Any:
        """``rule(a, b)`` where a value of this class holds the top ``level``."""
        top = a if isinstance(a, Lifted) and a.level == level else b
        return type(top)._elementwise(rule, (a, b), level)

    @classmethod
    def _linear(cls, rule: Linear, x: Any, params: tuple[Any, ...], nbatch: int) -> Any:
        raise NotImplementedError


#: Binary operators and the rules behind them; the modes generate fast versions.
OPERATOR_METHODS = (
    (ADD, ("__add__", "__radd__")),
    (SUB, ("__sub__", "__rsub__")),
    (MUL, ("__mul__", "__rmul__")),
    (TRUEDIV, ("__truediv__", "__rtruediv__")),
    (POW, ("__pow__", "__rpow__")),
)


def _method_args(args: tuple[Any, ...]) -> Any:
    """``x.reshape(2, 3)`` and ``x.reshape((2, 3))`` alike; no argument means None."""
    if not args:
        return None
    return args[0] if len(args) == 1 else args


def strip(value: Any) -> Any:
    """The primal of a lifted value (one level), or the value itself."""
    return value.primal if isinstance(value, Lifted) else value


def strip_all(value: Any) -> Any:
    """The innermost plain number under any number of lifted levels."""
    while isinstance(value, Lifted):
        value = value.primal
    return value


def top_of(args: tuple[Any, ...]) -> Lifted | None:
    """The lifted argument of the highest level, or None if there is none."""
    top = None
    level = -1
    for a in args:
        if isinstance(a, Lifted) and a.level > level:
            top, level = a, a.level
    return top


def _is_two(b: Any) -> bool:
    """A constant exponent 2, for which ``x ** 2`` is the square rule."""
    return (type(b) is int or type(b) is float) and b == 2


def apply(rule: Rule, *args: Any) -> Any:
    """Apply an elementwise primitive to any mix of numbers and lifted values.

    >>> from dualdiff.rules import MUL
    >>> apply(MUL, 2.0, 3.0)
    6.0
    """
    if len(args) == 2:
        return apply2(rule, *args)  # type: ignore[arg-type]
    top = top_of(args)
    if top is None:
        return evaluate(rule, backend_for(args), args)  # type: ignore[arg-type]
    return top._elementwise(rule, args, top.level)  # type: ignore[arg-type]


#: The lifted classes (filled by register_lifted_type): a set lookup on
#: ``type(x)`` is the cheapest test on the hot path.
LIFTED_TYPES: set[type] = set()


def apply1(rule: Elementwise, x: Any) -> Any:
    """``apply`` for one argument, without the generic machinery.

    >>> from dualdiff.rules import SQRT
    >>> apply1(SQRT, 4.0)
    2.0
    """
    if type(x) in LIFTED_TYPES:
        return x._unary(rule, x)
    if isinstance(x, Lifted):
        return x._unary(rule, x)
    return evaluate(rule, backend_for((x,)), (x,))


def apply2(rule: Elementwise, a: Any, b: Any) -> Any:
    """``apply`` for two arguments: the higher level handles the operation.

    >>> from dualdiff.rules import ADD
    >>> apply2(ADD, 1.0, 2.0)
    3.0
    """
    la = a.level if (type(a) in LIFTED_TYPES or isinstance(a, Lifted)) else -1
    lb = b.level if (type(b) in LIFTED_TYPES or isinstance(b, Lifted)) else -1
    if rule is POW and la > lb and _is_two(b) and type(strip_all(a)) is np.ndarray:
        return apply1(SQUARE, a)  # x**2 of an array: the same derivative in one pass fewer
    if la >= lb:
        if la < 0:
            return evaluate(rule, backend_for((a, b)), (a, b))
        return a._binary(rule, a, b, la)
    return b._binary(rule, a, b, lb)


def apply_general(rule: General, args: tuple[Any, ...], params: tuple[Any, ...] = ()) -> Any:
    """Apply a :class:`~dualdiff.rules.General` primitive to plain or lifted arguments.

    >>> from dualdiff.rules import TABLE
    >>> "sum" in TABLE
    True
    """
    top = top_of(args)
    if top is None:
        return rule.fn(*args, *params)
    return top._general(rule, args, params, top.level)


def apply_linear(rule: Linear, x: Any, *params: Any, nbatch: int = 0) -> Any:
    """Apply a linear primitive to ``x`` (plain or lifted); ``params`` are static.

    ``nbatch`` trailing axes of ``x`` are directions the map leaves alone.

    >>> from dualdiff.rules import SUM
    >>> apply_linear(SUM, np.ones((2, 3)), 0)
    array([2., 2., 2.])
    """
    if isinstance(x, Lifted):
        return x._linear(rule, x, params, nbatch)
    return rule.fn(x, nbatch, *params)


def _register_generic() -> None:
    """Nested levels compute their partials by dispatching through ``apply`` again."""
    from .rules import TABLE

    for name, rule in TABLE.items():
        if isinstance(rule, Elementwise):
            fn = _generic_function(rule)
            setattr(GENERIC, name, fn)
            rule.impl[GENERIC.slot] = fn
    GENERIC.const = lambda like, c: _backend_of_innermost(like).const(strip_all(like), c)
    GENERIC.pi = lambda like: _backend_of_innermost(like).pi(strip_all(like))
    GENERIC.xlogy = lambda y, x: apply2(MUL, y, apply1(_LOG, x)) if strip_all(y) != 0 else 0 * y
    GENERIC.safe_div = lambda a, b: apply2(TRUEDIV, a, b) if np.all(strip_all(b) != 0) else 0 * a
    GENERIC.zero = lambda like: 0 * like


def _generic_function(rule: Elementwise) -> Any:
    if rule.nin == 1:
        return lambda x: apply1(rule, x)
    if rule.nin == 2:
        return lambda a, b: apply2(rule, a, b)

    def fn(*args: Any) -> Any:
        return apply(rule, *args)

    return fn


def _backend_of_innermost(value: Any) -> Any:
    return backend_for([strip_all(value)])


def register_lifted_type(cls: type) -> None:
    """Tell the backends and the dispatcher that ``cls`` is a lifted type."""
    register_type(cls, GENERIC)
    LIFTED_TYPES.add(cls)


from .rules import LOG as _LOG  # noqa: E402

_register_generic()
