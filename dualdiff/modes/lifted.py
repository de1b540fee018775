"""The lifted-value base class: Python operators, comparisons, array methods, NumPy protocols.

Every lifted type (:class:`~dualdiff.modes.dual.Dual`,
:class:`~dualdiff.modes.tape.Var`, Taylor numbers, program tracers) derives
from :class:`Lifted`, so ``x * y``, ``np.sin(x)``, ``x.sum(axis=0)`` and
``x[1:]`` reach the rule table the same way for all of them. The modes
replace the arithmetic operators with generated fast paths
(:mod:`dualdiff.modes.fastpaths`) when they define their class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..rules.elementwise import ABS, ADD, CEIL, FLOOR, MUL, NEG, POS, POW, ROUND, SUB, TRUEDIV
from ..rules.kinds import Elementwise, Rule, is_registered, on_register
from ..rules.piecewise import FLOOR_DIVIDE, REMAINDER
from ..rules.structural import GETITEM
from ..rules.values import EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, NOT_EQUAL
from . import generic  # noqa: F401  (fills the math namespace of nested levels)
from .core import LiftedBase, apply, apply1, apply2, apply_linear, apply_nondiff, strip_all
from .np_ufuncs import absolute, astype
from .numpy_api import array_function, array_ufunc


def _object_loop_method(name: str) -> Any:
    """``x.<name>(*others)``: the rule of the ufunc called ``name``, looked up when called."""

    def method(self: Any, *others: Any) -> Any:
        rule = OBJECT_LOOP_RULES.get(name)
        if rule is None:
            raise AttributeError(f"{type(self).__name__!r} object has no rule behind the method {name!r}")
        return apply(rule, self, *others)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``np.{name}`` of this value, for NumPy's loops over object arrays (see ``Lifted``)."
    return method


if TYPE_CHECKING:

    class _ObjectLoopMethods:
        """What type checkers see of the class below: no methods (NumPy's object loops call them, users need not)."""

        __slots__ = ()

else:
    #: One method per NumPy ufunc name, made when the class is made. (A ``__getattr__``
    #: would do it lazily, but it would also slow every attribute read of every
    #: lifted value: CPython does not specialise attribute access on such classes.)
    _ObjectLoopMethods = type(
        "_ObjectLoopMethods",
        (),
        {
            "__slots__": (),
            "__doc__": "Methods named after NumPy's ufuncs, which NumPy's loops over object arrays call.",
            **{
                name: _object_loop_method(name)
                for name in sorted({n for n in dir(np) if isinstance(getattr(np, n), np.ufunc)} | {"fabs"})
            },
        },
    )


class Lifted(LiftedBase, _ObjectLoopMethods):
    """Base of the lifted types: Python operators and NumPy's protocols route to the rule table.

    Comparisons are functions of values (:mod:`dualdiff.rules.values`): a
    comparison of Duals is a plain boolean, while a recording tracer keeps it.
    ``float()``, ``int()`` and ``complex()`` refuse: they would drop the
    derivative silently.

    Every elementwise rule with a NumPy ufunc also answers to the ufunc's
    name as a method (``x.sin()``, ``x.arctan2(y)``, from
    :class:`_ObjectLoopMethods`): NumPy's loops over object arrays call
    these, so ``np.sin(np.array([x[0], x[1]]))`` computes element by element
    through the rules.

    >>> import dualdiff as dd
    >>> dd.Dual(0.0, 1.0).sin()
    Dual(0.0, 1.0)
    """

    __slots__ = ()
    #: Make NumPy defer to us in mixed operations (``ndarray * Dual``).
    __array_priority__ = 1000

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
        p = self.primal
        if type(p) is float:
            return apply1(ABS, self)
        return absolute(self)  # |z| of complex values composes from real and imag

    def __mod__(self, other: Any) -> Any:
        return apply2(REMAINDER, self, other)

    def __rmod__(self, other: Any) -> Any:
        return apply2(REMAINDER, other, self)

    def __floordiv__(self, other: Any) -> Any:
        return apply2(FLOOR_DIVIDE, self, other)

    def __rfloordiv__(self, other: Any) -> Any:
        return apply2(FLOOR_DIVIDE, other, self)

    def __divmod__(self, other: Any) -> Any:
        return apply2(FLOOR_DIVIDE, self, other), apply2(REMAINDER, self, other)

    def __rdivmod__(self, other: Any) -> Any:
        return apply2(FLOOR_DIVIDE, other, self), apply2(REMAINDER, other, self)

    def __floor__(self) -> Any:
        return apply1(FLOOR, self)

    def __ceil__(self) -> Any:
        return apply1(CEIL, self)

    def __round__(self, ndigits: int | None = None) -> Any:
        if ndigits is not None:
            raise TypeError("round(x, ndigits) of a lifted value is not supported; use round(x)")
        return apply1(ROUND, self)

    # -- comparisons: functions of values --------------------------------
    def __lt__(self, other: Any) -> Any:
        return apply_nondiff(LESS, (self, other))

    def __le__(self, other: Any) -> Any:
        return apply_nondiff(LESS_EQUAL, (self, other))

    def __gt__(self, other: Any) -> Any:
        return apply_nondiff(GREATER, (self, other))

    def __ge__(self, other: Any) -> Any:
        return apply_nondiff(GREATER_EQUAL, (self, other))

    def __eq__(self, other: Any) -> Any:
        return apply_nondiff(EQUAL, (self, other))

    def __ne__(self, other: Any) -> Any:
        return apply_nondiff(NOT_EQUAL, (self, other))

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        return bool(self.primal)

    # -- never drop derivative information silently -----------------------
    def _refuse(self, kind: str) -> Any:
        raise TypeError(
            f"{kind}() of a {type(self).__name__} would drop its derivative; use .primal for the value (got {self!r})"
        )

    def __float__(self) -> float:
        try:
            return self._refuse("float")
        except TypeError as e:  # say what to do when NumPy is the caller
            raise TypeError(
                f"{e}. NumPy calls float() on each element of a list or object array of lifted values "
                "when it needs a float result (np.mean([x, y]), np.std, np.var, np.float64(x), or storing "
                "into a float array): build one lifted array with np.stack([x, y]) and pass that"
            ) from None

    def __int__(self) -> int:
        raise TypeError(
            f"int() of a {type(self).__name__} would drop its derivative (an index computed from a "
            "differentiated value has no derivative); to use its value as an integer or an index on "
            f"purpose, take it explicitly: int(x.primal), np.int64(x.primal), a[x.primal] (got {self!r})"
        )

    def __index__(self) -> int:
        return self.__int__()

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
        """The dtype of the value (for a scalar, one whose ``.type`` keeps lifted values lifted).

        NumPy's own reductions of a list of lifted scalars (``np.mean([x, y])``,
        ``np.var``, ``np.std``) reduce an object array, then cast the result
        with ``result.dtype.type(...)``; with this dtype that cast keeps the
        derivative instead of calling ``float()`` on it.
        """
        d = np.asarray(strip_all(self.primal)).dtype
        return ScalarDType(d) if not np.ndim(self.primal) and d.kind in "fc" else d

    @property
    def real(self) -> Any:
        """``np.real(self)``."""
        return np.real(self)

    @property
    def imag(self) -> Any:
        """``np.imag(self)``."""
        return np.imag(self)

    def astype(
        self, dtype: Any, order: str = "K", casting: str = "unsafe", subok: bool = True, copy: bool = True
    ) -> Any:
        """``x.astype(dtype)``: the identity with a cast between floating and complex types
        (its derivative is cast alike); to an integer type it is a value without derivative.

        >>> import numpy as np, dualdiff as dd
        >>> dd.grad(lambda x: np.sum(x.astype("float64") ** 2))(np.ones(2, dtype="float32")).dtype
        dtype('float32')
        """
        return astype(self, dtype)

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
    # (array_function is what NumPy's __array_function__ protocol calls for np.transpose(self) & co;
    # called directly, it is the same call, without NumPy's dispatch, and type checkers can follow it)
    @property
    def T(self) -> Any:
        """The transpose (reversed axes), as ``ndarray.T``."""
        return array_function(np.transpose, (self,), {})

    def transpose(self, *axes: Any) -> Any:
        """``np.transpose(self, axes)``; takes ``x.transpose(1, 0)`` or ``x.transpose((1, 0))``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.ones((2, 3)), np.ones_like(np.ones((2, 3))))
        >>> x.transpose().shape
        (3, 2)
        """
        return array_function(np.transpose, (self, _method_args(axes)), {})

    def reshape(self, *shape: Any, order: Literal["C", "F", "A"] = "C") -> Any:
        """``np.reshape(self, shape)``; takes ``x.reshape(2, 3)`` or ``x.reshape((2, 3))``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.ones(6), np.ones_like(np.ones(6)))
        >>> x.reshape(2, 3).shape
        (2, 3)
        """
        return array_function(np.reshape, (self, _method_args(shape)), {"order": order})

    def ravel(self, order: Literal["C", "F", "A", "K"] = "C") -> Any:
        """``np.ravel(self)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.ones((2, 3)), np.ones_like(np.ones((2, 3))))
        >>> x.ravel().shape
        (6,)
        """
        return array_function(np.ravel, (self, order), {})

    def flatten(self, order: Literal["C", "F", "A", "K"] = "C") -> Any:
        """``np.ravel(self)`` (lifted values are immutable, so no copy is needed).

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.ones((2, 3)), np.ones_like(np.ones((2, 3))))
        >>> x.flatten().shape
        (6,)
        """
        return array_function(np.ravel, (self, order), {})

    def squeeze(self, axis: Any = None) -> Any:
        """``np.squeeze(self, axis)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.ones((1, 3)), np.ones_like(np.ones((1, 3))))
        >>> x.squeeze().shape
        (3,)
        """
        return array_function(np.squeeze, (self, axis), {})

    def swapaxes(self, axis1: int, axis2: int) -> Any:
        """``np.swapaxes(self, axis1, axis2)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.ones((2, 3)), np.ones_like(np.ones((2, 3))))
        >>> x.swapaxes(0, 1).shape
        (3, 2)
        """
        return array_function(np.swapaxes, (self, axis1, axis2), {})

    def sum(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> Any:
        """``np.sum(self, axis)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.arange(3.0), np.ones_like(np.arange(3.0)))
        >>> x.sum()
        Dual(np.float64(3.0), np.float64(3.0))
        """
        return array_function(np.sum, (self, axis, dtype, out, keepdims), {})

    def mean(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> Any:
        """``np.mean(self, axis)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.arange(3.0), np.ones_like(np.arange(3.0)))
        >>> x.mean()
        Dual(np.float64(1.0), np.float64(1.0))
        """
        return array_function(np.mean, (self, axis, dtype, out, keepdims), {})

    def prod(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> Any:
        """``np.prod(self, axis)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([2.0, 3.0]), np.ones_like(np.array([2.0, 3.0])))
        >>> x.prod().primal
        np.float64(6.0)
        """
        return array_function(np.prod, (self, axis, dtype, out, keepdims), {})

    def var(self, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False) -> Any:
        """``np.var(self, axis)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([1.0, 3.0]), np.ones_like(np.array([1.0, 3.0])))
        >>> x.var().primal
        np.float64(1.0)
        """
        return array_function(np.var, (self, axis, dtype, out, ddof, keepdims), {})

    def std(self, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False) -> Any:
        """``np.std(self, axis)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([1.0, 3.0]), np.ones_like(np.array([1.0, 3.0])))
        >>> float(x.std().primal)
        1.0
        """
        return array_function(np.std, (self, axis, dtype, out, ddof, keepdims), {})

    def max(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
        """``np.max(self, axis)``: ties share the derivative evenly.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([1.0, 3.0]), np.ones_like(np.array([1.0, 3.0])))
        >>> x.max().primal
        np.float64(3.0)
        """
        return array_function(np.max, (self, axis, out, keepdims), {})

    def min(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
        """``np.min(self, axis)``: ties share the derivative evenly.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([1.0, 3.0]), np.ones_like(np.array([1.0, 3.0])))
        >>> x.min().primal
        np.float64(1.0)
        """
        return array_function(np.min, (self, axis, out, keepdims), {})

    def cumsum(self, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
        """``np.cumsum(self, axis)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([1.0, 3.0]), np.ones_like(np.array([1.0, 3.0])))
        >>> x.cumsum().primal
        array([1., 4.])
        """
        return array_function(np.cumsum, (self, axis, dtype, out), {})

    def clip(self, min: Any = None, max: Any = None) -> Any:
        """``np.clip(self, min, max)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([-1.0, 3.0]), np.ones_like(np.array([-1.0, 3.0])))
        >>> x.clip(0.0, 2.0).primal
        array([0., 2.])
        """
        return array_function(np.clip, (self, min, max), {})

    def dot(self, other: Any) -> Any:
        """``np.dot(self, other)``.

        >>> import numpy as np, dualdiff as dd
        >>> x = dd.Dual(np.array([1.0, 3.0]), np.ones_like(np.array([1.0, 3.0])))
        >>> x.dot(np.ones(2)).primal
        np.float64(4.0)
        """
        return array_function(np.dot, (self, other), {})

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

    # np.matmul goes through NumPy's __array_ufunc__ protocol (an operand of another type may take it),
    # which NumPy's stubs do not model: they take only arrays
    def __matmul__(self, other: Any) -> Any:
        return np.matmul(self, other)  # type: ignore[call-overload]

    def __rmatmul__(self, other: Any) -> Any:
        return np.matmul(other, self)  # type: ignore[call-overload]

    # -- NumPy protocols -------------------------------------------------
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return array_function(func, args, kwargs)


#: NumPy's object loops call ``x.<ufunc name>()``: the rule behind each such name
#: (kept in step with the table through :func:`on_register`; read by the methods of ``Lifted``).
OBJECT_LOOP_RULES: dict[str, Elementwise] = {"fabs": ABS}  # np.fabs is abs on reals


def _on_register(rule: Rule) -> None:
    ufunc = getattr(rule, "ufunc", None)
    if not isinstance(rule, Elementwise) or ufunc is None:
        return
    name = ufunc.__name__
    if is_registered(rule):
        OBJECT_LOOP_RULES[name] = rule
    elif OBJECT_LOOP_RULES.get(name) is rule:
        del OBJECT_LOOP_RULES[name]


on_register(_on_register)


def _method_args(args: tuple[Any, ...]) -> Any:
    """``x.reshape(2, 3)`` and ``x.reshape((2, 3))`` alike; no argument means None."""
    if not args:
        return None
    return args[0] if len(args) == 1 else args


class _LiftedScalarType:
    """``dtype.type`` of a lifted scalar: NumPy's scalar type, but a lifted value passes through.

    A class (not a function), so ``issubclass(x.dtype.type, np.floating)`` works.
    """

    def __init__(self, base: Any) -> None:
        self.base = base

    def __call__(self, value: Any = 0) -> Any:
        if isinstance(value, LiftedBase):
            return value
        return self.base(value)

    def __eq__(self, other: Any) -> bool:
        return other is self.base or other is self or (isinstance(other, _LiftedScalarType) and other.base is self.base)

    def __hash__(self) -> int:
        return hash(self.base)

    def __repr__(self) -> str:
        return repr(self.base)


class ScalarDType:
    """The dtype of a lifted scalar: compares, hashes and converts as the NumPy dtype it wraps.

    Only ``.type`` differs (see :attr:`Lifted.dtype`). NumPy accepts it
    wherever a dtype is expected, through its ``dtype`` attribute.

    >>> d = ScalarDType(np.dtype("float64"))
    >>> d == np.float64, np.dtype(d), d.kind, d.type(2.5)
    (True, dtype('float64'), 'f', np.float64(2.5))
    """

    __slots__ = ("_type", "dtype")

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype
        self._type = _LiftedScalarType(dtype.type)

    @property
    def type(self) -> Any:
        return self._type

    def __getattr__(self, name: str) -> Any:
        return getattr(self.dtype, name)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, ScalarDType):
            other = other.dtype
        try:
            return bool(self.dtype == other)
        except TypeError:
            return False

    def __ne__(self, other: Any) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.dtype)

    def __repr__(self) -> str:
        return repr(self.dtype)

    def __str__(self) -> str:
        return str(self.dtype)
