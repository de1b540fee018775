"""Python source expressions built by running the rule table's own formulas.

The code generator (:mod:`dualdiff.program.codegen`) writes no derivative
formula of its own. To emit the tangent of ``v_4 = sin(v_0)`` it calls the
rule's partial ``partial(m, y, x)`` with a *code-generating* math namespace
``m`` (:class:`CodeMath`) and symbolic operands (:class:`Code`, a variable
name): the partial returns ``cos(v_0)``, an expression whose text is Python
and whose names (``cos``) are bound, in the generated module's globals, to
the very functions the eager modes call for that number type (``math.cos``
for Python floats, ``np.cos`` for arrays, ``mpmath.cos`` for mpmath numbers,
``cmath.cos`` for complex). So the generated code performs the same
operations in the same order as eager mode, and gives the same bits.

A :class:`Code` keeps, besides its text, what the generator needs to decide
about memory: the static shape and dtype of its value (when known), the
variables it reads, and, for its outermost operation, the NumPy ufunc that
computes it (so the result can be written into a dead buffer with ``out=``).
Numbers from the formulas (``0.5``, ``2``) and Python scalars of ``f`` are
printed as literals (``repr`` of a Python float round-trips exactly); every
other constant -- arrays, NumPy scalars, mpmath numbers, non-finite floats --
is bound to a name in the module's namespace, never printed.

>>> from dualdiff.rules.backends import FLOAT
>>> from dualdiff.rules.elementwise import SIN, TRUEDIV
>>> binder = Binder()
>>> m = CodeMath(FLOAT, binder)
>>> x = Code.name("v_0", (), None)
>>> str(SIN.partials[0](m, Code.name("v_1", (), None), x)), binder.globals["cos"].__name__
('cos(v_0)', 'cos')
>>> str(TRUEDIV.partials[1](m, Code.name("v_2", (), None), x, Code.name("v_1", (), None)))
'-v_2 / v_1'
"""

from __future__ import annotations

import builtins
import cmath
import keyword
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import mpmath
import numpy as np

from ..rules.backends import COMPLEX, FLOAT, MP, NUMPY, Backend

PREC_ADD, PREC_MUL, PREC_UNARY, PREC_POW, PREC_ATOM = 1, 2, 3, 4, 5

_BINARY = {"+": PREC_ADD, "-": PREC_ADD, "*": PREC_MUL, "/": PREC_MUL, "**": PREC_POW}
#: The ufunc each arithmetic operator computes on arrays (for ``out=``).
OPERATOR_UFUNCS: dict[str, Any] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.true_divide,
    "**": np.power,
}

#: A Python scalar in a formula: NumPy treats it as "weak" (it takes the array's dtype).
_WEAK = (int, float, complex)


class Binder:
    """The namespace of one generated module: every name its source uses, bound once.

    ``bind(name, obj)`` returns a free, valid identifier bound to ``obj``
    (the same one again for the same object); ``constant(value)`` binds a
    constant and remembers a short description of it for the source's header.

    >>> b = Binder()
    >>> b.bind("sum", np.sum), b.bind("sum", np.sum), b.bind("sum", np.prod)
    ('sum_', 'sum_', 'sum_2')
    """

    def __init__(self) -> None:
        self.globals: dict[str, Any] = {"__builtins__": builtins}
        self._by_id: dict[tuple[str, int], str] = {}
        self._taken: set[str] = set()
        #: ``(name, description)`` of every bound constant, in binding order.
        self.constants: list[tuple[str, str]] = []
        self._counter = 0

    def reserve(self, names: Iterable[str]) -> None:
        """Names the generated code uses for variables: never bind over them."""
        self._taken.update(names)

    def bind(self, preferred: str, obj: Any) -> str:
        """A name for ``obj`` in the module's globals, ``preferred`` if it is free."""
        key = (preferred, id(obj))
        if key in self._by_id and self.globals.get(self._by_id[key]) is obj:
            return self._by_id[key]
        base = _identifier(preferred)
        if keyword.iskeyword(base) or (hasattr(builtins, base) and getattr(builtins, base) is not obj):
            base += "_"
        name, k = base, 1
        while name in self._taken or (name in self.globals and self.globals[name] is not obj):
            k += 1
            name = f"{base}{k}"
        self.globals[name] = obj
        self._taken.add(name)
        self._by_id[key] = name
        return name

    def module(self, name: str, module: Any) -> str:
        """Bind a module under its own name (``np``, ``mpmath``, ``cmath``)."""
        return self.bind(name, module)

    def constant(self, value: Any, hint: str = "c") -> str:
        """Bind a constant (an array, an mpmath number, ...) to ``hint`` (``c_3``: an operand of ``v_3``), ``c_3b``, ...

        Without a hint the names are ``c_1``, ``c_2``, ...
        """
        for name, _ in self.constants:
            if self.globals[name] is value:
                return name
        if hint == "c":
            self._counter += 1
            hint = f"c_{self._counter}"
        name, k = hint, 0
        while name in self._taken or name in self.globals:
            k += 1
            name = f"{hint}{chr(ord('a') + k)}" if k < 26 else f"{hint}_{k}"
        self.globals[name] = value
        self._taken.add(name)
        self.constants.append((name, describe(value)))
        return name

    def function(self, backend: Backend, attr: str, fn: Any) -> str:
        """How the source calls ``fn``, the function ``attr`` of ``backend``.

        Python floats call the bare name (``sin``, bound to ``math.sin``: the
        fastest lookup); the other number types name the library when the
        function is one of its own (``np.sin``, ``mpmath.sin``, ``cmath.sin``),
        else a prefixed name (``np_sigmoid``, ``mp_sigmoid``, ``c_erf``).
        """
        if backend is FLOAT:
            return self.bind(attr, fn)
        module, alias, prefix = _MODULES.get(backend, (None, "", backend.name + "_"))
        if module is not None:
            found = _module_name(module, fn)
            if found is not None:
                return f"{self.module(alias, module)}.{found}"
        return self.bind(prefix + attr, fn)


_MODULES: dict[Backend, tuple[Any, str, str]] = {
    NUMPY: (np, "np", "np_"),
    MP: (mpmath, "mpmath", "mp_"),
    COMPLEX: (cmath, "cmath", "c_"),
}


def _module_name(module: Any, fn: Any) -> str | None:
    """The attribute of ``module`` that is ``fn``, found by its own name (``np.sin``; ``mpmath.asin`` for arcsin)."""
    name = getattr(fn, "__name__", None)
    if isinstance(name, str) and not name.startswith("_") and getattr(module, name, None) is fn:
        return name
    return None


def _identifier(text: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in text) or "f"
    return "_" + out if out[0].isdigit() else out


def describe(value: Any) -> str:
    """A short description of a bound constant, for the generated source's header."""
    if isinstance(value, np.ndarray):
        shape = ",".join(str(s) for s in value.shape)
        if value.size <= 4 and value.dtype.kind in "biufc":
            return f"{value.dtype.name}[{shape}] " + " ".join(np.array2string(value, separator=", ").split())
        return f"{value.dtype.name}[{shape}] array"
    if isinstance(value, np.generic):
        return repr(value)
    if isinstance(value, (mpmath.mpf, mpmath.mpc)):
        return f"{type(value).__name__} {mpmath.nstr(value, 15)}"
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------
# dtypes and shapes, statically
# --------------------------------------------------------------------------


def promote(dtypes: Sequence[Any]) -> Any:
    """The NumPy result dtype of an elementwise operation on values of these dtypes.

    Entries are NumPy dtypes, Python scalar types (weak: ``float``), or None
    (unknown, which makes the result unknown).

    >>> promote([np.dtype(np.float32), float])
    dtype('float32')
    """
    if len(dtypes) == 2:
        a, b = dtypes
        if a is b:
            return a
        if a is None or b is None:
            return None
    else:
        first = dtypes[0] if dtypes else None
        if all(d is first for d in dtypes):
            return first
    strong = []
    weak = []
    for d in dtypes:
        if d is None:
            return None
        if isinstance(d, type) and issubclass(d, _WEAK):
            weak.append(d(0))
        elif isinstance(d, np.dtype):
            strong.append(d)
        else:
            return None
    if not strong:
        return (
            complex if any(type(w) is complex for w in weak) else float if any(type(w) is float for w in weak) else int
        )
    try:
        return np.result_type(*strong, *weak)
    except TypeError:
        return None


def broadcast(shapes: Sequence[Any]) -> tuple[int, ...] | None:
    """The broadcast of static shapes (None if one is unknown or they do not broadcast)."""
    if len(shapes) == 2:
        a, b = shapes
        if a == b:
            return a
        if a is None or b is None:
            return None
        if a == ():
            return b
        if b == ():
            return a
    else:
        first = shapes[0] if shapes else ()
        if all(s == first for s in shapes):
            return first
    if any(s is None for s in shapes):
        return None
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


# --------------------------------------------------------------------------
# expressions
# --------------------------------------------------------------------------


class Code:
    """A Python expression: its text, precedence, static shape and dtype, and the names it reads.

    Arithmetic on Codes (and Python numbers) builds the expression that
    performs that arithmetic, parenthesized so that Python evaluates it in
    exactly the order the formula did (``a + (b + c)`` keeps its
    parentheses: floating-point addition is not associative).

    >>> a, b = Code.name("a", (3,), np.dtype(float)), Code.name("b", (), np.dtype(float))
    >>> e = 2 * a * b - (a - b)
    >>> str(e), e.shape, sorted(e.reads), e.ufunc is np.subtract
    ('2 * a * b - (a - b)', (3,), ['a', 'b'], True)
    """

    __slots__ = ("binder", "dtype", "operands", "owned", "prec", "reads", "remake", "sample", "shape", "text", "ufunc")
    #: NumPy must not treat a Code as an array: a formula that calls NumPy on it falls back.
    __array_ufunc__ = None

    def __init__(
        self,
        text: str,
        prec: int,
        shape: tuple[int, ...] | None,
        dtype: Any,
        reads: frozenset[str],
        binder: Binder | None = None,
        ufunc: Any = None,
        operands: tuple[Code, ...] = (),
        sample: Any = None,
    ) -> None:
        self.text = text
        self.prec = prec
        self.shape = shape
        self.dtype = dtype
        self.reads = reads
        self.binder = binder
        #: The ufunc of the outermost operation (None if it is not one), with its operands.
        self.ufunc = ufunc
        self.operands = operands
        #: A value of the expression at the recording point, when it is a variable (or None).
        self.sample = sample
        #: For a ufunc node: the same operation on other operands (to split an expression into steps).
        self.remake: Callable[[tuple[Code, ...]], Code] | None = None
        #: The value is a new array that shares no memory (a call found to return one).
        self.owned = False

    # -- construction ---------------------------------------------------------
    @classmethod
    def name(
        cls, name: str, shape: tuple[int, ...] | None, dtype: Any, sample: Any = None, binder: Binder | None = None
    ) -> Code:
        """A variable."""
        return cls(name, PREC_ATOM, shape, dtype, frozenset((name,)), binder, sample=sample)

    @classmethod
    def value(cls, value: Any, binder: Binder, hint: str = "c") -> Code:
        """A constant: a literal for a finite Python number, a bound name for anything else."""
        if isinstance(value, Code):
            return value
        tp = type(value)
        if tp is bool:
            value, tp = int(value), int
        if (tp is int or tp is float) and math.isfinite(value):
            text = repr(value)
            prec = PREC_UNARY if text.startswith("-") else PREC_ATOM
            return cls(text, prec, (), tp, frozenset(), binder, sample=value)
        if tp is complex and math.isfinite(value.real) and math.isfinite(value.imag):
            text = repr(value)
            prec = PREC_UNARY if text.startswith("-") else PREC_ATOM
            return cls(text, prec, (), complex, frozenset(), binder, sample=value)
        name = binder.constant(value, hint)
        shape = tuple(np.shape(value)) if isinstance(value, (np.ndarray, np.generic)) else ()
        dtype: Any = value.dtype if isinstance(value, (np.ndarray, np.generic)) else (tp if tp in _WEAK else None)
        return cls(name, PREC_ATOM, shape, dtype, frozenset(), binder, sample=value)

    @classmethod
    def raw(
        cls, text: str, reads: Iterable[str] = (), shape: Any = None, dtype: Any = None, prec: int = PREC_ATOM
    ) -> Code:
        """Text written by the generator itself (a call it composes, a tuple)."""
        return cls(text, prec, shape, dtype, frozenset(reads))

    @classmethod
    def call(
        cls,
        fname: str,
        args: Sequence[Any],
        binder: Binder | None = None,
        ufunc: Any = None,
        elementwise: bool = True,
        shape: Any = None,
        dtype: Any = None,
        keywords: str = "",
    ) -> Code:
        """``fname(args)``; an elementwise function's shape and dtype follow from its arguments."""
        codes = [_code(a, binder) for a in args]
        text = f"{fname}({', '.join(c.text for c in codes)}{', ' + keywords if keywords and codes else keywords})"
        reads = frozenset().union(*(c.reads for c in codes)) if codes else frozenset()
        if elementwise:
            shape = broadcast([c.shape for c in codes])
            dtype = promote([c.dtype for c in codes])
            if isinstance(dtype, np.dtype) and dtype.kind not in "fc":
                dtype = None  # sin of an int array is float: do not guess
            if dtype in (int, float, complex) and not codes:
                dtype = None
        node = cls(text, PREC_ATOM, shape, dtype, reads, binder, ufunc=ufunc, operands=tuple(codes) if ufunc else ())
        if ufunc is not None:
            node.remake = lambda ops: Code.call(fname, ops, binder, ufunc, elementwise, shape, dtype, keywords)
        return node

    # -- rendering --------------------------------------------------------------
    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Code({self.text!r})"

    def atom(self) -> str:
        """The text, parenthesized unless it is an atom (for subscripts and attribute access)."""
        return self.text if self.prec >= PREC_ATOM else f"({self.text})"

    def expanded(self) -> Code:
        """``self[..., None]``: a partial lined up against tangents with a trailing axis of directions."""
        shape = None if self.shape is None else self.shape + (1,)
        return Code(f"{self.atom()}[..., None]", PREC_ATOM, shape, self.dtype, self.reads, self.binder)

    # -- arithmetic ---------------------------------------------------------------
    def _bin(self, op: str, other: Any, reflected: bool = False) -> Code:
        other = _code(other, self.binder)
        a, b = (other, self) if reflected else (self, other)
        return binary(a, op, b)

    def __add__(self, o: Any) -> Code:
        return self._bin("+", o)

    def __radd__(self, o: Any) -> Code:
        return self._bin("+", o, True)

    def __sub__(self, o: Any) -> Code:
        return self._bin("-", o)

    def __rsub__(self, o: Any) -> Code:
        return self._bin("-", o, True)

    def __mul__(self, o: Any) -> Code:
        return self._bin("*", o)

    def __rmul__(self, o: Any) -> Code:
        return self._bin("*", o, True)

    def __truediv__(self, o: Any) -> Code:
        return self._bin("/", o)

    def __rtruediv__(self, o: Any) -> Code:
        return self._bin("/", o, True)

    def __pow__(self, o: Any) -> Code:
        return self._bin("**", o)

    def __rpow__(self, o: Any) -> Code:
        return self._bin("**", o, True)

    def __neg__(self) -> Code:
        return unary(self, "-")

    def __pos__(self) -> Code:
        return unary(self, "+")

    # -- what a formula on Codes cannot do: its partial is called as a function instead
    def _refuse(self, *args: Any) -> Any:
        raise TypeError("a generated expression has no value to decide on")

    __bool__ = __float__ = __int__ = __index__ = __complex__ = _refuse
    __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __eq__ = __ne__ = _refuse
    __abs__ = __array__ = __len__ = __iter__ = __getitem__ = _refuse
    __hash__ = None  # type: ignore[assignment]


def _code(x: Any, binder: Binder | None) -> Code:
    if isinstance(x, Code):
        return x
    if binder is None:
        if type(x) in (int, float) and math.isfinite(x):
            return Code.value(x, Binder())  # a literal: nothing to bind
        raise TypeError(f"cannot put {type(x).__name__} into generated code without a namespace")
    return Code.value(x, binder)


def binary(a: Code, op: str, b: Code) -> Code:
    """``a op b`` with the parentheses Python needs to evaluate exactly this tree."""
    prec = _BINARY[op]
    if op == "**":
        left = a.prec <= PREC_POW  # (-x) ** 2, (a ** b) ** c
        right = b.prec < PREC_UNARY  # x ** -y needs none
    else:
        left = a.prec < prec
        right = b.prec <= prec  # a - (b - c), a + (b + c): keep the tree
    at = f"({a.text})" if left else a.text
    bt = f"({b.text})" if right else b.text
    shape = broadcast([a.shape, b.shape])
    dtype = promote([a.dtype, b.dtype])
    node = Code(
        f"{at} {op} {bt}",
        prec,
        shape,
        dtype,
        a.reads | b.reads,
        a.binder or b.binder,
        ufunc=OPERATOR_UFUNCS[op],
        operands=(a, b),
    )
    node.remake = lambda ops: binary(ops[0], op, ops[1])
    return node


def unary(a: Code, op: str) -> Code:
    """``-a`` or ``+a``."""
    plain = a.prec >= PREC_UNARY and not a.text.startswith(("-", "+"))
    text = f"{op}{a.text}" if plain else f"{op}({a.text})"
    node = Code(
        text,
        PREC_UNARY,
        a.shape,
        a.dtype,
        a.reads,
        a.binder,
        ufunc=np.negative if op == "-" else np.positive,
        operands=(a,),
    )
    node.remake = lambda ops: unary(ops[0], op)
    return node


# --------------------------------------------------------------------------
# the math namespace that writes code
# --------------------------------------------------------------------------


class CodeMath:
    """The math namespace ``m`` whose functions return :class:`Code` calling ``backend``'s functions.

    ``m.cos(x)`` is the expression ``cos(x)`` with ``cos`` bound to
    ``backend.cos``; ``const``, ``pi`` and ``zero`` of a variable whose
    recorded value is known are computed once, here, and bound (their value
    depends only on the variable's type and dtype, which the cache key fixes).

    >>> from dualdiff.rules.backends import NUMPY
    >>> b = Binder()
    >>> m = CodeMath(NUMPY, b)
    >>> x = Code.name("v_0", (3,), np.dtype(np.float32), sample=np.zeros(3, np.float32))
    >>> e = m.log(m.const(x, 2))
    >>> str(e), b.globals[e.text[7:-1]]
    ('np.log(c_1)', np.float32(2.0))
    """

    def __init__(self, backend: Backend, binder: Binder) -> None:
        self._backend = backend
        self._binder = binder

    def __getattr__(self, attr: str) -> Callable[..., Code]:
        if attr.startswith("_"):
            raise AttributeError(attr)
        if attr == "reciprocal" and self._backend is NUMPY:
            return self._reciprocal  # NumPy's namespace defines it as ``1 / x`` too (not np.reciprocal)
        if attr in ("square", "reciprocal") and self._backend in (FLOAT, COMPLEX, MP):
            # these namespaces define them as ``a * a`` and ``1 / a``: written out, they
            # cost no Python call (a square of an expression names it once: ``(sq := e) * sq``)
            return self._square if attr == "square" else self._reciprocal
        fn = getattr(self._backend, attr, None)
        if fn is None:
            raise AttributeError(f"the {self._backend.name} namespace has no {attr}")
        return self._caller(attr, fn)

    def _caller(self, attr: str, fn: Any) -> Callable[..., Code]:
        binder = self._binder
        ref = binder.function(self._backend, attr, fn)
        ufunc = fn if isinstance(fn, np.ufunc) else None

        def call(*args: Any) -> Code:
            return Code.call(ref, args, binder, ufunc=ufunc)

        return call

    def _square(self, a: Any) -> Code:
        a = _code(a, self._binder)
        if a.text.isidentifier() or (not a.reads and a.prec >= PREC_ATOM and "(" not in a.text):
            return binary(a, "*", a)  # a variable or a number: read it twice
        self._binder.reserve(["sq"])
        named = Code(f"(sq := {a.text})", PREC_ATOM, a.shape, a.dtype, a.reads, self._binder)
        return binary(named, "*", Code.name("sq", a.shape, a.dtype, binder=self._binder))

    def _reciprocal(self, a: Any) -> Code:
        return binary(Code.value(1, self._binder), "/", _code(a, self._binder))

    def _fold(self, attr: str, like: Any, *rest: Any) -> Code:
        """``backend.attr(like, *rest)`` computed now when ``like``'s value is known and the result is a scalar."""
        fn = getattr(self._backend, attr)
        sample = like.sample if isinstance(like, Code) else like
        if sample is not None and not isinstance(sample, Code):
            value = fn(sample, *rest)
            if not isinstance(value, np.ndarray):
                return Code.value(value, self._binder)
        return self._caller(attr, fn)(like, *rest)

    def const(self, like: Any, c: Any) -> Code:
        return self._fold("const", like, c)

    def pi(self, like: Any) -> Code:
        return self._fold("pi", like)

    def zero(self, like: Any) -> Code:
        return self._fold("zero", like)
