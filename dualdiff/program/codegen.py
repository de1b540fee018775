"""Tangent and adjoint source code generated from a recorded program.

:func:`generate` turns a :class:`~dualdiff.program.program.Program` into a
Python function, as source code a person can read and Python compiles once:

* ``"value"``: the primal program alone (``v_i = ...``, one line each);
* ``"jvp"``: each ``v_i`` followed by its tangent ``v_i_dot`` -- the forward
  (tangent) trace of the textbooks;
* ``"grad"``: the forward sweep, then the reverse sweep, each step adding
  its contributions to the adjoints ``v_j_bar`` of its operands, ``v_l``
  down to the inputs -- the adjoint trace of the textbooks;
* ``"vjp"``: the forward sweep, and a nested ``pullback(...)`` holding the
  reverse sweep for any output cotangent.

``batched=True`` gives tangents (cotangents) a trailing axis of directions
(a chunk of a Jacobian), lined up exactly as the eager modes do.

Where the numbers come from: the rule table only, as in eager mode.
Values are computed with each rule's implementation for the number type of
its operands (``math.sin`` for Python floats, ``np.sin`` for arrays,
``mpmath.sin``, ``cmath.sin``), the four arithmetic operators inline. An
elementwise rule's partials are its own formulas, called with a
code-generating namespace (:mod:`dualdiff.program.codeexpr`): ``cos(v_0)``
for sin, ``0.5 / v_7`` for sqrt; a formula that cannot be written out is
called as a function. Linear and general rules call their maps and
transposes (``rule.fn``, ``linear_maps[i]``, ``transposes[i]``, ``rule.T``).
So the generated code performs the operations of eager mode in the same
order, and gives the same numbers.

The code also checks every guard of the program where its value is
computed (raising :class:`GuardFailed`), and for mpmath numbers the real
domain of the rules that have one (raising :class:`Fallback`). Arrays are
handled without waste (:mod:`dualdiff.program.buffers`): dead temporaries
are written into with ``out=``, adjoints accumulate in place, indexing
scatters straight into the adjoint it feeds, and memory is released at each
array's last use.

>>> import numpy as np, dualdiff as dd
>>> prog = dd.wengert(lambda x: np.log(x[0]) + x[0] * x[1] - np.sin(x[1]), (2.0, 5.0))
>>> g = generate(Analysis(prog), "jvp")
>>> print(g.source.splitlines()[4])
    v_1 = log(v_m1)                               # log
>>> g.fn(2.0, 5.0, 1.0, 0.0)[1][0] == 1 / 2.0 * 1.0 + 5.0 * 1.0
True
"""

from __future__ import annotations

import builtins
import gc
import linecache
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard, cast

import mpmath
import numpy as np

from ..modes.core import LiftedBase
from ..rules.backends import COMPLEX, FLOAT, MP, NUMPY, Backend, backend_for
from ..rules.kinds import Elementwise, General, Linear, Nondiff
from ..rules.structural import GETITEM, getitem_add, sum_to_shape
from .buffers import OUT_MIN_SIZE, Assign, Line, Loop, Scatter, Stmt, optimize
from .codeexpr import PREC_ATOM, Binder, Code, CodeMath, binary, unary
from .diagonal import densify, emit_diagonal
from .program import Atom, Const, Equation, Program
from .signals import Fallback, GuardFailed
from .tiling import Region, schedule, sliced_constant

__all__ = ["KINDS", "Analysis", "Fallback", "Function", "Generated", "GuardFailed", "generate", "render", "slot_name"]

#: What :func:`generate` can write.
KINDS = ("value", "jvp", "grad", "vjp")

#: A stand-in size for the axis of directions in static shapes (no real axis is this long).
BATCH = 2_147_483_629
#: A stand-in size for the rows of a tile (``b - a``) in static shapes.
TILE = 2_147_483_587


def slot_name(index: int) -> str:
    """The Python name of ``v_index``: ``v_3``, and ``v_m1`` for ``v_{-1}``.

    >>> slot_name(3), slot_name(0), slot_name(-2)
    ('v_3', 'v_0', 'v_m2')
    """
    return f"v_{index}" if index >= 0 else f"v_m{-index}"


# ==========================================================================
# what the generator needs to know about a program
# ==========================================================================


def _dtype_of(value: Any) -> Any:
    """The static dtype of a value in generated expressions (Python scalars are weak)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype
    if type(value) in (int, float, complex):
        return type(value)
    if type(value) is bool:
        return int
    return None


def _has_lifted(value: Any) -> bool:
    if isinstance(value, LiftedBase):
        return True
    if isinstance(value, np.ndarray) and value.dtype == object:
        return any(_has_lifted(v) for v in value.ravel())
    if isinstance(value, (tuple, list)):
        return any(_has_lifted(v) for v in value)
    return False


class Analysis:
    """What generated code for ``prog`` relies on, worked out once per program.

    * ``values``: every slot's value at the recording point (the program
      evaluated there), whose Python types and dtypes fix the number type
      each equation computes with;
    * ``backends``: the math namespace of each elementwise equation, chosen
      as eager mode chooses it;
    * ``active``: slots that depend on the input through differentiable steps;
    * ``useful``: active slots an output depends on;
    * ``refusal``: why compiled code cannot reproduce this program (a constant
      that is a lifted value of another level), or None;
    * ``eager_only``: why derivatives must be taken in eager mode (it raises
      there, e.g. a function that is not complex-differentiable at a complex
      point), or None.

    >>> import dualdiff as dd
    >>> an = Analysis(dd.wengert(lambda x: dd.sin(x) * 2.0, 1.0))
    >>> an.names, an.active, an.backends[0].name
    (['v_0', 'v_1', 'v_2'], [True, True, True], 'float')
    """

    def __init__(self, prog: Program) -> None:
        self.prog = prog
        n = prog.n
        self.n = n
        self.names = [slot_name(prog.index(s)) for s in range(prog.n_slots)]
        self.refusal: str | None = None
        self.eager_only: str | None = None
        for eq in prog.equations:
            for a in eq.inputs:
                if type(a) is Const and _has_lifted(a.value):
                    self.refusal = (
                        f"{eq.rule.name} combines the input with a {type(a.value).__name__} of another "
                        "derivative level (f closes over it)"
                    )
        self.values: list[Any] = list(prog.evaluate(prog.point)) if self.refusal is None else [None] * prog.n_slots
        self.backends: list[Backend | None] = []
        for eq in prog.equations:
            if isinstance(eq.rule, Elementwise) and self.refusal is None:
                self.backends.append(backend_for([self.arg_value(a) for a in eq.inputs]))
            else:
                self.backends.append(None)
        self.shapes = [tuple(np.shape(v)) for v in self.values] if self.refusal is None else []
        self.dtypes = [_dtype_of(v) for v in self.values]
        self.active = self._activity()
        self.useful = self._usefulness()
        if self.refusal is None:
            self._check_derivatives()
        #: Whether any value is a NumPy object.
        self.uses_numpy = any(isinstance(v, (np.ndarray, np.generic)) for v in self.values) or any(
            b is NUMPY for b in self.backends
        )
        #: Whether NumPy computes a rule with a real domain (then generated code runs with invalid
        #: operations raising, so that eager mode answers: a DomainError, or its nan).
        self.numpy_domain = (
            any(
                isinstance(eq.rule, Elementwise)
                and eq.rule.domain is not None
                and any(isinstance(self.arg_value(a), (np.ndarray, np.generic)) for a in eq.inputs)
                for eq in prog.equations
            )
            if self.refusal is None
            else False
        )

    # -- slots ------------------------------------------------------------------
    def arg_value(self, a: Any) -> Any:
        return self.values[a] if type(a) is int else a.value

    def eq_of(self, slot: int) -> Equation:
        return self.prog.equations[slot - self.n]

    def shape(self, slot: int) -> tuple[int, ...]:
        return self.shapes[slot] if self.refusal is None else self.prog.aval(slot).shape

    def is_array(self, slot: int) -> bool:
        return type(self.values[slot]) is np.ndarray and len(self.shape(slot)) > 0

    def core_shape(self, slot: int, nbatch: int) -> tuple[int, ...]:
        s = self.shape(slot)
        return s[: len(s) - nbatch] if nbatch else s

    def is_active(self, a: Atom) -> TypeGuard[int]:
        """True for the slot of an active variable (never for a constant), which narrows ``a`` to a slot."""
        return type(a) is int and self.active[a]

    def _activity(self) -> list[bool]:
        act = [True] * self.n + [False] * len(self.prog.equations)
        for eq in self.prog.equations:
            rule = eq.rule
            if isinstance(rule, Nondiff) or (isinstance(rule, Elementwise) and rule.piecewise_constant):
                continue  # a function of values, or a derivative that is zero everywhere
            positions = self.diff_positions(eq)
            act[eq.out] = any(type(a) is int and act[a] for a in [eq.inputs[i] for i in positions])
        return act

    def active_inputs(self, eq: Equation) -> dict[int, int]:
        """The operands of ``eq`` that carry a derivative and are active variables: their slots by position."""
        return {i: a for i in self.diff_positions(eq) if self.is_active(a := eq.inputs[i])}

    @staticmethod
    def diff_positions(eq: Equation) -> list[int]:
        """The argument positions of ``eq`` that carry a derivative."""
        rule = eq.rule
        if isinstance(rule, Linear):
            return [0]
        if isinstance(rule, General):
            return [i for i in range(len(eq.inputs)) if i not in rule.nondiff_args]
        if isinstance(rule, Elementwise):
            return list(range(len(eq.inputs)))
        return []

    def _usefulness(self) -> list[bool]:
        use = [False] * self.prog.n_slots
        for a in self.prog.output_atoms():
            if type(a) is int and self.active[a]:
                use[a] = True
        for eq in reversed(self.prog.equations):
            if not use[eq.out]:
                continue
            for i in self.diff_positions(eq):
                a = eq.inputs[i]
                if type(a) is int and self.active[a]:
                    use[a] = True
        return use

    def view_of(self, q: int, region: Any) -> tuple[int, str] | None:
        """``(p, index text)`` when slot ``q`` is a basic view ``v_p[index]`` read by ``region`` alone.

        A region writes the adjoint of such an input straight into the
        adjoint of ``v_p`` (through the same view), tile by tile.
        """
        if q < self.n:
            return None
        eq = self.eq_of(q)
        if eq.rule is not GETITEM or eq.nbatch or type(eq.inputs[0]) is not int:
            return None
        p = eq.inputs[0]
        index = eq.params[0]
        if not (_simple_index(index) and self.active[p] and self.useful[p] and type(self.values[p]) is np.ndarray):
            return None
        members = region.slots
        for other in self.prog.equations:
            if other.out not in members and q in other.inputs:
                return None
        if q in self.prog.output_atoms():
            return None
        return p, _index_text(index)

    def _check_derivatives(self) -> None:
        for eq in self.prog.equations:
            rule = eq.rule
            if not isinstance(rule, Elementwise) or rule.holomorphic or not self.useful[eq.out]:
                continue
            if any(_is_complex(self.arg_value(a)) for a in eq.inputs):
                self.eager_only = f"{rule.name} is not complex-differentiable and is applied to a complex value"


def _is_complex(v: Any) -> bool:
    return isinstance(v, (complex, mpmath.mpc)) or (isinstance(v, (np.ndarray, np.generic)) and np.iscomplexobj(v))


# ==========================================================================
# the generated function
# ==========================================================================


@dataclass
class Generated:
    """One generated function: its source, the function, and the namespace it runs in.

    ``run(*args)`` calls it, handing it a workspace (its preallocated arrays)
    when it has one: a workspace is taken from a pool and given back after
    the call, so that nested or concurrent calls never share one. For a vjp,
    ``run_pullback(pullback, *y_bar)`` does the same for the pullback.
    """

    kind: str
    batched: bool
    name: str
    source: str
    fn: Callable[..., Any]
    namespace: dict[str, Any] = field(repr=False)
    workspace: list[tuple[tuple[int, ...], Any]] = field(default_factory=list, repr=False)
    pullback_workspace: list[tuple[tuple[int, ...], Any]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._pools: dict[Any, list[list[np.ndarray]]] = {}
        self.run: Callable[..., Any] = self.fn if not self.workspace else self._run_with_workspace

    def __repr__(self) -> str:
        return f"<generated {self.kind}{' (batched)' if self.batched else ''} {self.name}>"

    def _take(self, which: str, spec: list[tuple[tuple[int, ...], Any]], k: int) -> list[np.ndarray]:
        pool = self._pools.setdefault((which, k), [])
        if pool:
            return pool.pop()
        return [np.empty(tuple(k if d == BATCH else d for d in shape), dtype) for shape, dtype in spec]

    def _directions(self, args: Sequence[Any]) -> int:
        if not self.batched:
            return 0
        return int(np.shape(args[-1])[-1])  # the last argument is a tangent (cotangent) with its directions

    def _run_with_workspace(self, *args: Any) -> Any:
        k = self._directions(args)
        ws = self._take("fn", self.workspace, k)
        try:
            return self.fn(*args, ws)
        finally:
            self._pools[("fn", k)].append(ws)

    def run_pullback(self, pullback: Callable[..., Any], *y_bar: Any) -> Any:
        """Call a pullback this vjp function returned, with a workspace of its own."""
        if not self.pullback_workspace:
            return pullback(*y_bar)
        k = self._directions(y_bar)
        ws = self._take("pullback", self.pullback_workspace, k)
        try:
            return pullback(*y_bar, ws)
        finally:
            self._pools[("pullback", k)].append(ws)


#: Rules computed by Python's operators, the same operation their backends perform.
_OPERATORS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/"}
_COMPARISONS = {
    operator.lt: "<",
    operator.le: "<=",
    operator.gt: ">",
    operator.ge: ">=",
    operator.eq: "==",
    operator.ne: "!=",
}
_STANDARD_BACKENDS = (FLOAT, COMPLEX, MP, NUMPY)


def _zeros(shape: tuple[int, ...], like: Any) -> np.ndarray:
    """Zeros of ``shape`` in the dtype of ``like`` (the cotangent scattered into them).

    ``empty`` then ``fill``, not ``np.zeros``: calloc maps fresh pages for
    large arrays, while malloc reuses memory freed a moment ago.
    """
    out = np.empty(shape, dtype=np.asarray(like).dtype)
    out.fill(0)
    return out


def _per_direction(d: Any) -> Any:
    """A partial lined up against tangents with a trailing axis of directions (``d[..., None]``)."""
    return np.expand_dims(d, -1) if np.ndim(d) > 0 else d


def _fit(t: Any, shape: tuple[int, ...]) -> Any:
    """A tangent broadcast to its value's shape (plus directions), when a formula's shape was not known."""
    return t if np.shape(t) == shape else np.broadcast_to(t, shape)


class Generator:
    """Writes one function for one program: the statements of each sweep, then the source."""

    def __init__(
        self,
        an: Analysis,
        kind: str,
        batched: bool,
        tangent_dtypes: Sequence[Any] | None,
        tiled: bool = True,
        diagonal: bool = False,
    ) -> None:
        self.an = an
        self.prog = an.prog
        self.kind = kind
        self.batched = batched
        self.nb = 1 if batched else 0
        self.binder = Binder()
        self.binder.reserve(an.names)
        self.binder.reserve(["k", "y_bar", "pullback"])
        self._math: dict[Backend, CodeMath] = {}
        self._primals: dict[int, Code] = {}
        self._temps: list[str] = []
        #: Tangents that are another variable's tangent (``v_2_dot`` is ``v_1_dot``): by slot.
        self.dalias: dict[int, str] = {}
        #: Inside a tile loop: the names and shapes of the region's values there.
        self.tile: TileScope | None = None
        #: Reverse-sweep steps already done by a region's loop (views whose adjoints it wrote directly).
        self.done: set[int] = set()
        #: Adjoints a region allocated as zeros in this sweep (its loop may write into them).
        self.zeroed: set[int] = set()
        self.schedule: list[Any] = schedule(an) if tiled else list(an.prog.equations)
        #: The preallocated arrays the function (and its pullback) write into: ``(shape, dtype)`` each.
        self.workspace: list[tuple[tuple[int, ...], Any]] = []
        self.pullback_workspace: list[tuple[tuple[int, ...], Any]] = []
        self.tangent_dtypes = list(tangent_dtypes) if tangent_dtypes is not None else None
        #: The static dtype of each tangent (adjoint) written so far, by slot.
        self.ddtype: dict[int, Any] = {}
        #: Each primal's expression text, for the comments of the reverse sweep.
        self.op_text: dict[int, str] = {}
        self.guards: dict[int, list[tuple[int, Any]]] = {}
        for number, g in enumerate(self.prog.guards):
            self.guards.setdefault(g.slot, []).append((number, g))
        self.fn_name = f"{kind}_{_py_name(self.prog.f_name)}"
        #: Diagonal tangents (see :mod:`.diagonal`): each slot's diagonal, while its tangents are one,
        #: and the slots whose dense tangents are written (the input's are its identity seeds).
        self.diag_code: dict[int, Code] = {0: Code.value(1.0, self.binder)} if diagonal else {}
        self.dense: set[int] = {0}

    # -- names and operands ----------------------------------------------------------
    def math(self, backend: Backend) -> CodeMath:
        m = self._math.get(backend)
        if m is None:
            m = self._math[backend] = CodeMath(backend, self.binder)
        return m

    def name_of(self, slot: int) -> str:
        """The variable holding ``slot``'s value here (inside a tile loop: its tile)."""
        if self.tile is not None and slot in self.tile.names:
            return self.tile.names[slot]
        return self.an.names[slot]

    def shape_of(self, slot: int) -> tuple[int, ...]:
        """The static shape of ``slot``'s value here (inside a tile loop: a tile's, rows = ``TILE``)."""
        if self.tile is not None and slot in self.tile.shapes:
            return self.tile.shapes[slot]
        return self.an.shapes[slot]

    def primal(self, slot: int) -> Code:
        if self.tile is not None and (slot in self.tile.names or slot in self.tile.shapes):
            v = self.an.values[slot]
            return Code.name(
                self.name_of(slot), self.shape_of(slot), self.an.dtypes[slot], sample=v, binder=self.binder
            )
        c = self._primals.get(slot)
        if c is None:
            v = self.an.values[slot]
            c = Code.name(self.an.names[slot], self.an.shapes[slot], self.an.dtypes[slot], sample=v, binder=self.binder)
            self._primals[slot] = c
        return c

    def const(self, c: Const, hint: str) -> Code:
        code = Code.value(c.value, self.binder, hint)
        if self.tile is not None and sliced_constant(c.value, self.tile.region.shape):
            shape = self.tile.shapes_of_region
            return Code(f"{code.text}[a:b]", PREC_ATOM, shape, code.dtype, frozenset(("a", "b")), self.binder)
        return code

    def atom(self, a: Any, hint: str = "c") -> Code:
        return self.primal(a) if type(a) is int else self.const(a, hint)

    def dshape(self, slot: int) -> tuple[int, ...]:
        """The static shape of a tangent (adjoint): the value's, plus the axis of directions."""
        return self.shape_of(slot) + ((BATCH,) if self.batched else ())

    def dname(self, slot: int, mark: str) -> str:
        if self.tile is not None and (slot, mark) in self.tile.dnames:
            return self.tile.dnames[(slot, mark)]
        if mark == "dot" and slot in self.dalias:
            return self.dalias[slot]
        return f"{self.an.names[slot]}_{mark}"

    def dcode(self, slot: int, mark: str) -> Code:
        return Code.name(self.dname(slot, mark), self.dshape(slot), self.ddtype.get(slot), binder=self.binder)

    def shape_text(self, shape: tuple[int, ...]) -> str:
        parts = ["k" if s == BATCH else "b - a" if s == TILE else str(s) for s in shape]
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"

    def param(self, p: Any, hint: str) -> Code:
        """A static parameter of a rule: a literal when it is simple, else a bound constant."""
        if _simple(p):
            return Code.raw(_literal(p))
        return Code.value(p, self.binder, hint)

    def params_tuple(self, params: tuple[Any, ...], hint: str) -> Code:
        if _simple(params):
            return Code.raw(_literal(params))
        return Code.value(params, self.binder, hint)

    def fn_ref(self, fn: Any, name: str) -> str:
        """How the source names a rule's function: ``np.matmul`` when it is NumPy's, else bound by name."""
        found = _numpy_name(fn)
        if found is not None:
            return f"{self.binder.module('np', np)}.{found}"
        return self.binder.bind(name, fn)

    def helper(self, name: str, fn: Any) -> str:
        return self.binder.bind(name, fn)

    # -- the primal step ----------------------------------------------------------------
    def value_code(self, eq: Equation) -> Code:
        rule = eq.rule
        k = eq.out
        hint = f"c_{self.prog.index(k)}"
        args = [self.atom(a, hint) for a in eq.inputs]
        shape, dtype = self.shape_of(k), _dtype_of(self.an.values[k])
        if isinstance(rule, Elementwise):
            b = self.an.backends[k - self.an.n]
            assert b is not None
            inline = rule.evaluate is None and b in _STANDARD_BACKENDS
            if inline and rule.name in _OPERATORS:
                return binary(args[0], _OPERATORS[rule.name], args[1])
            if inline and rule.name in ("neg", "pos"):
                return unary(args[0], "-" if rule.name == "neg" else "+")
            if inline and rule.name == "reciprocal":
                return binary(Code.value(1, self.binder), "/", args[0])
            if inline and rule.name == "square" and b is not NUMPY and args[0].prec >= PREC_ATOM:
                return binary(args[0], "*", args[0])
            fn = rule.impl[b.slot]
            if fn is getattr(b, rule.name, None):
                ref = self.binder.function(b, rule.name, fn)
            else:
                ref = self.binder.bind(f"{rule.name}_{b.name}", fn)
            return Code.call(ref, args, self.binder, ufunc=fn if isinstance(fn, np.ufunc) else None)
        if isinstance(rule, Linear):
            if rule is GETITEM and not eq.nbatch:
                return self.index_code(args[0], eq.params[0], shape, dtype)
            ref = self.fn_ref(rule.fn, rule.name)
            pcodes = [self.param(p, hint) for p in eq.params]
            return Code.call(
                ref, [args[0], Code.raw(str(eq.nbatch)), *pcodes], elementwise=False, shape=shape, dtype=dtype
            )
        if isinstance(rule, Nondiff) and rule.fn in _COMPARISONS and not eq.params and len(args) == 2:
            c = binary(args[0], "+", args[1])  # shape and reads; the text is the comparison
            return Code(f"{_paren(args[0])} {_COMPARISONS[rule.fn]} {_paren(args[1])}", 0, c.shape, None, c.reads)
        assert isinstance(rule, (General, Nondiff))
        ref = self.fn_ref(rule.fn, rule.name)
        pcodes = [self.param(p, hint) for p in eq.params]
        if isinstance(rule, General) and isinstance(rule.fn, np.ufunc) and not pcodes:  # np.matmul: it takes out=
            return Code.call(ref, args, self.binder, ufunc=rule.fn, elementwise=False, shape=shape, dtype=dtype)
        return Code.call(ref, [*args, *pcodes], elementwise=False, shape=shape, dtype=dtype)

    def index_code(self, x: Code, index: Any, shape: Any, dtype: Any) -> Code:
        if _simple_index(index):
            text = _index_text(index)
        else:
            text = Code.value(index, self.binder, "i").text
        return Code(f"{x.atom()}[{text}]", PREC_ATOM, shape, dtype, x.reads)

    def emit_value(self, body: list[Stmt], eq: Equation) -> None:
        k = eq.out
        expr = self.value_code(eq)
        self.op_text[k] = expr.text
        aliases = self._aliases(eq, expr)
        info = self._array_info(k)
        fresh = self.an.is_array(k) and expr.ufunc is not None and isinstance(eq.rule, (Elementwise, General))
        if fresh and info is not None:
            expr = self.flatten(body, expr)
        body.append(Assign(self.name_of(k), expr, comment=eq.rule.name, array=info, fresh=fresh, aliases=aliases))
        b = self.an.backends[k - self.an.n]
        if b is MP and isinstance(eq.rule, Elementwise) and eq.rule.domain is not None:
            real = not any(isinstance(self.an.arg_value(a), (mpmath.mpc, complex)) for a in eq.inputs)
            if real:
                mpc = self.binder.bind("mpc", mpmath.mpc)
                fallback = self.binder.bind("Fallback", Fallback)
                body.append(
                    Line(
                        f"if type({self.name_of(k)}) is {mpc}:  # {eq.rule.name} outside its real domain",
                        frozenset((self.name_of(k),)),
                        f"    raise {fallback}",
                    )
                )
        self.emit_guards(body, k)

    def _array_info(self, slot: int) -> tuple[Any, Any] | None:
        if type(self.an.values[slot]) is not np.ndarray:
            return None
        return (self.shape_of(slot), self.an.values[slot].dtype)

    def _aliases(self, eq: Equation, expr: Code) -> frozenset[str]:
        """The variables whose memory the value of ``eq`` may share (views, or unknown results)."""
        if isinstance(eq.rule, (Elementwise, General)) and expr.ufunc is not None:
            return frozenset()  # a ufunc's result is a new array
        if isinstance(eq.rule, Elementwise):
            return frozenset(expr.reads)
        return frozenset(n for n in expr.reads if n in self.an.names)

    def flatten(self, body: list[Stmt], expr: Code) -> Code:
        """Large array operations nested in ``expr`` as steps of their own (``tmp_1 = np.cosh(v_2)``).

        Each step's result is then a buffer of its own that later steps can
        write into (``out=``), instead of a fresh allocation per operation.
        """
        if self.tile is not None or expr.remake is None:
            return expr
        ops = []
        changed = False
        for op in expr.operands:
            if self._splittable(op):
                inner = self.flatten(body, op)
                self._temps.append("")
                name = f"tmp_{len(self._temps)}"
                self.binder.reserve([name])
                body.append(Assign(name, inner, array=(op.shape, op.dtype), fresh=True))  # type: ignore[arg-type]
                ops.append(Code.name(name, op.shape, op.dtype, binder=self.binder))
                changed = True
            else:
                ops.append(op)
        return expr.remake(tuple(ops)) if changed else expr

    @staticmethod
    def _splittable(c: Code) -> bool:
        shape = c.shape
        if c.ufunc is None or c.remake is None or not shape or not isinstance(c.dtype, np.dtype):
            return False
        size = 1
        for d in shape:
            if d in (BATCH, TILE):
                return False
            size *= d
        return size >= OUT_MIN_SIZE

    def emit_guards(self, body: list[Stmt], slot: int) -> None:
        name = self.an.names[slot]
        for number, g in self.guards.get(slot, ()):
            fail = self.binder.bind("GuardFailed", GuardFailed)
            if g.kind == "bool":
                test = f"not {name}" if g.outcome else name
            elif g.kind == "int":
                test = f"int({name}) != {int(g.outcome)!r}"
            else:
                ref = self.binder.bind(f"guard_{number + 1}", g.holds)
                test = f"not {ref}({name})"
            body.append(
                Line(
                    f"if {test}:  # guard {number + 1}: {g.source}"[:110],
                    frozenset((name,)),
                    f"    raise {fail}({number})",
                )
            )

    # -- partials ---------------------------------------------------------------------------
    def partial(self, eq: Equation, i: int, y: Code, args: list[Code]) -> Code:
        """The partial of ``eq`` in argument ``i``, as code: the rule's formula written out, else a call of it."""
        rule = eq.rule
        assert isinstance(rule, Elementwise)
        b = self.an.backends[eq.out - self.an.n]
        assert b is not None
        try:
            d = rule.partials[i](self.math(b), y, *args)
            return d if isinstance(d, Code) else Code.value(d, self.binder)
        except Exception:  # a formula that decides on values, or calls a library: call it instead
            pref = self.binder.bind(f"{rule.name}_partial_{i}", rule.partials[i])
            bref = self.binder.bind(b.name.upper(), b)
            return Code.call(pref, [Code.raw(bref), y, *args], self.binder, elementwise=False, shape=None, dtype=None)

    def lined_up(self, d: Code) -> Code:
        """A partial multiplied into batched tangents: ``d[..., None]`` when it is an array (as eager mode does)."""
        if not self.batched:
            return d
        if d.shape is None:
            return Code.call(self.helper("per_direction", _per_direction), [d], elementwise=False, shape=None)
        return d.expanded() if d.shape != () else d

    # -- the tangent step ---------------------------------------------------------------------
    def tangent_code(self, eq: Equation, y: Code) -> Code:
        rule = eq.rule
        k = eq.out
        hint = f"c_{self.prog.index(k)}"
        args = [self.atom(a, hint) for a in eq.inputs]
        want = self.dshape(k)
        if isinstance(rule, Elementwise):
            t: Code | None = None
            if rule.signs is not None:
                for s, a in zip(rule.signs, eq.inputs):
                    if not self.an.is_active(a):
                        continue
                    ti = self.dcode(a, "dot")
                    if t is None:
                        t = ti if s > 0 else unary(ti, "-")
                    else:
                        t = binary(t, "+" if s > 0 else "-", ti)
            else:
                for i, a in enumerate(eq.inputs):
                    if not self.an.is_active(a):
                        continue
                    c = binary(self.lined_up(self.partial(eq, i, y, args)), "*", self.dcode(a, "dot"))
                    t = c if t is None else binary(t, "+", c)
            assert t is not None
            return self.fitted(t, want)
        if isinstance(rule, Linear):
            nb = eq.nbatch + self.nb
            x = self.dcode(cast(int, eq.inputs[0]), "dot")  # an active linear step's operand is an active slot
            if rule is GETITEM and (not nb or _no_ellipsis(eq.params[0])):
                return self.index_code(x, eq.params[0], want, x.dtype)
            ref = self.fn_ref(rule.fn, rule.name)
            pcodes = [self.param(p, hint) for p in eq.params]
            return Code.call(ref, [x, Code.raw(str(nb)), *pcodes], elementwise=False, shape=want, dtype=x.dtype)
        assert isinstance(rule, General)
        argt = _tuple_code(args)
        pc = self.params_tuple(eq.params, hint)
        nbc = Code.raw(str(self.nb))
        active = self.an.active_inputs(eq)
        if rule.joint_map is not None:
            ref = self.binder.bind(f"{rule.name}_jvp", rule.joint_map)
            ts = [self.dcode(active[i], "dot") if i in active else Code.raw("None") for i in range(len(eq.inputs))]
            lst = Code.raw("[" + ", ".join(c.text for c in ts) + "]", frozenset().union(*(c.reads for c in ts)))
            return Code.call(ref, [lst, nbc, y, argt, pc], elementwise=False, shape=want, dtype=None)
        dtype = self._uniform(k, list(active.values()))
        if rule.fn is np.matmul and not self.nb and not eq.nbatch and not eq.params:
            # a product's tangent is the product with the tangent in its operand's place: np.matmul itself,
            # a ufunc, so that it writes into a buffer kept from call to call as the value does (a fresh
            # result would fault its pages in on every call); eager mode's map does the same np.matmul
            ref = self.fn_ref(np.matmul, "matmul")
            product: Code | None = None
            for i, a in active.items():
                ops = [self.dcode(a, "dot") if j == i else arg for j, arg in enumerate(args)]
                c = Code.call(ref, ops, self.binder, ufunc=np.matmul, elementwise=False, shape=want, dtype=dtype)
                product = c if product is None else binary(product, "+", c)
            assert product is not None
            return product
        total: Code | None = None
        for i, a in active.items():
            ref = self.binder.bind(f"{rule.name}_jvp_{i}", rule.linear_maps[i])
            t = self.dcode(a, "dot")
            c = Code.call(ref, [t, nbc, y, argt, pc], elementwise=False, shape=want, dtype=dtype)
            probe = [self.dummy(a, t.dtype), self.nb, *self.probe_args(eq)]
            c.owned = self.probe_owned(rule.linear_maps[i], probe, k)
            total = c if total is None else binary(total, "+", c)
        assert total is not None
        return total

    def _uniform(self, out: int, slots: Sequence[int]) -> Any:
        """The dtype of a general rule's tangent (adjoint), when its value and every derivative involved share one."""
        d = self.an.dtypes[out]
        if not isinstance(d, np.dtype) or d.kind not in "fc":
            return None
        for s in slots:
            if self.ddtype.get(s) != d or self.an.dtypes[s] != d:
                return None
        return d

    def fitted(self, t: Code, want: tuple[int, ...]) -> Code:
        """``t`` broadcast to the shape ``want`` when broadcasting left it smaller (eager mode's ``_fit_tangent``)."""
        if t.shape == want:
            return t
        if t.shape is None:
            ref = self.helper("fit", _fit)
            return Code.call(ref, [t, Code.raw(self.shape_text(want))], elementwise=False, shape=want, dtype=t.dtype)
        ref = f"{self.binder.module('np', np)}.broadcast_to"
        return Code.call(ref, [t, Code.raw(self.shape_text(want))], elementwise=False, shape=want, dtype=t.dtype)

    def emit_tangent(self, body: list[Stmt], eq: Equation) -> None:
        k = eq.out
        if not (self.an.active[k] and self.an.useful[k]):
            return
        if self.diag_code:
            if emit_diagonal(self, body, eq):
                return
            for a in eq.inputs:
                if self.an.is_active(a):
                    densify(self, body, a)
        expr = self.tangent_code(eq, self.primal(k))
        self.ddtype[k] = expr.dtype if isinstance(expr.dtype, np.dtype) or expr.dtype in (float, complex) else None
        if self.tile is None and expr.text.isidentifier() and expr.text in expr.reads:
            # the tangent is another's (v_2 = v_1 + 0.1): no line of its own, said on the value's line;
            # a copy of the name per step would cost more than the step itself on Python numbers
            name = self.dname(k, "dot")
            self.dalias[k] = expr.text
            for st in reversed(body):
                if isinstance(st, Assign) and st.target == self.name_of(k):
                    st.comment += f" ({name} is {expr.text})"
                    break
            return
        expr = self.flatten(body, expr)
        body.append(self._dassign(self.dname(k, "dot"), expr, k))

    def _dassign(self, name: str, expr: Code, slot: int, comment: str = "") -> Assign:
        shape = self.dshape(slot)
        is_arr = self.batched or type(self.an.values[slot]) is np.ndarray
        dtype = expr.dtype if isinstance(expr.dtype, np.dtype) else None
        plain_name = expr.prec >= PREC_ATOM and expr.text in expr.reads
        fresh = is_arr and ((expr.ufunc is not None and expr.shape == shape) or expr.owned)
        aliases = frozenset(expr.reads) if (plain_name or not fresh) else frozenset()
        return Assign(
            name, expr, comment=comment, array=(shape, dtype) if is_arr else None, fresh=fresh, aliases=aliases
        )

    # -- the reverse step ---------------------------------------------------------------------
    def emit_reverse(self, body: list[Stmt], seeds: list[tuple[int, Code]]) -> dict[int, Code]:
        """The reverse sweep: seed the outputs' adjoints, then each step from the last to the first."""
        bars: dict[int, Code] = {}
        owned: dict[int, bool] = {}
        for slot, g in seeds:
            self.accumulate(body, bars, slot, g, comment="seed")
        for item in reversed(self.schedule):
            if isinstance(item, Region):
                self.region_reverse(body, bars, item)
                continue
            eq = item
            k = eq.out
            if k not in bars or k in self.done:
                continue
            g = bars[k]
            rule = eq.rule
            comment = f"{self.name_of(k)} = {self.op_text.get(k, rule.name)}"
            hint = f"c_{self.prog.index(k)}"
            args = [self.atom(a, hint) for a in eq.inputs]
            start = len(body)
            if isinstance(rule, Elementwise):
                self.reverse_elementwise(body, bars, eq, g, args)
            elif isinstance(rule, Linear):
                self.reverse_linear(body, bars, eq, g, owned)
            else:
                assert isinstance(rule, General)
                self.reverse_general(body, bars, eq, g, args)
            if len(body) > start:
                first = body[start]
                first.comment = (first.comment + "; " if first.comment else "") + comment
        return bars

    def accumulate(
        self, body: list[Stmt], bars: dict[int, Code], slot: int, v: Code, negate: bool = False, comment: str = ""
    ) -> None:
        """``v_slot_bar += v`` (or ``-= v``); the first contribution defines it."""
        name = self.dname(slot, "bar")
        if slot not in bars:
            expr = unary(v, "-") if negate else v
        else:
            expr = binary(bars[slot], "-" if negate else "+", v)
        prev = self.ddtype.get(slot)
        d = expr.dtype if isinstance(expr.dtype, np.dtype) or expr.dtype in (float, complex) else None
        self.ddtype[slot] = d if slot not in bars or d == prev else None
        start = len(body)
        expr = self.flatten(body, expr)
        body.append(self._dassign(name, expr, slot, comment if len(body) == start else ""))
        if comment and len(body) > start + 1:
            body[start].comment = comment
        bars[slot] = self.dcode(slot, "bar")

    def _summed(self, v: Code, slot: int, out: int) -> Code:
        """``v`` summed back over the axes broadcasting added (eager mode's ``sum_to_shape``)."""
        shape = self.shape_of(slot)
        if not self.an.is_array(out) or self.shape_of(out) == shape:
            return v
        ref = self.helper("sum_to_shape", sum_to_shape)
        return Code.call(
            ref,
            [v, Code.raw(self.shape_text(shape)), Code.raw(str(self.nb))],
            elementwise=False,
            shape=self.dshape(slot),
            dtype=v.dtype,
            ufunc=None,
        )

    def reverse_elementwise(
        self, body: list[Stmt], bars: dict[int, Code], eq: Equation, g: Code, args: list[Code]
    ) -> None:
        rule = eq.rule
        assert isinstance(rule, Elementwise)
        y = self.primal(eq.out)
        for i, a in enumerate(eq.inputs):
            if not (self.an.is_active(a) and self.an.useful[a]):
                continue
            if rule.signs is not None:
                v = self._summed(g, a, eq.out)
                self.accumulate(body, bars, a, v, negate=rule.signs[i] < 0)
                continue
            v = binary(self.lined_up(self.partial(eq, i, y, args)), "*", g)
            self.accumulate(body, bars, a, self._summed(v, a, eq.out))

    def reverse_linear(
        self, body: list[Stmt], bars: dict[int, Code], eq: Equation, g: Code, owned: dict[int, bool]
    ) -> None:
        rule = eq.rule
        assert isinstance(rule, Linear)
        a = eq.inputs[0]
        if not (self.an.is_active(a) and self.an.useful[a]):
            return
        x_shape = self.an.core_shape(a, eq.nbatch)
        nb = eq.nbatch + self.nb
        hint = f"c_{self.prog.index(eq.out)}"
        if rule is GETITEM and self.an.is_array(a):
            name = self.dname(a, "bar")
            index = eq.params[0]
            inline = (not nb and _simple_index(index)) or (not nb and _no_ellipsis(index))
            index_text = _index_text(index) if _simple_index(index) else Code.value(index, self.binder, "i").text
            fallback = Code.call(
                self.helper("getitem_T", GETITEM.T.fn),
                [
                    g,
                    Code.raw(str(nb)),
                    Code.raw(self.shape_text(x_shape)),
                    Code.value(index, self.binder, "i") if not _simple(index) else Code.raw(_literal(index)),
                ],
                elementwise=False,
                shape=self.dshape(a),
                dtype=g.dtype,
            )
            if a not in bars:
                zeros = Code.call(
                    self.helper("zeros", _zeros),
                    [Code.raw(self.shape_text(self.dshape(a))), g],
                    elementwise=False,
                    shape=self.dshape(a),
                    dtype=g.dtype if isinstance(g.dtype, np.dtype) else None,
                )
                self.ddtype[a] = zeros.dtype
                body.append(Assign(name, zeros, array=(self.dshape(a), zeros.dtype), fresh=True))
                bars[a] = self.dcode(a, "bar")
                fresh = True
            else:
                fresh = False
            advanced = not _basic_index(index)
            body.append(
                Scatter(
                    target=name,
                    g=g,
                    fresh=fresh,
                    inline=bool(inline),
                    advanced=advanced,
                    index_text=index_text,
                    call_text=f"{self.helper('getitem_add', getitem_add)}({name}, {g.text}, {len(x_shape)}, "
                    f"{Code.value(index, self.binder, 'i').text if not _simple(index) else _literal(index)}, "
                    f"{fresh})",
                    fallback=fallback,
                    np_name=self.binder.module("np", np),
                    dtype=self.ddtype.get(a),
                    g_dtype=g.dtype if isinstance(g.dtype, np.dtype) else None,
                )
            )
            return
        ref = self.binder.bind(f"{rule.name}_T", rule.T.fn)
        pcodes = [self.param(p, hint) for p in eq.params]
        v = Code.call(
            ref,
            [g, Code.raw(str(nb)), Code.raw(_literal(tuple(x_shape))), *pcodes],
            elementwise=False,
            shape=self.dshape(a),
            dtype=g.dtype,
        )
        self.accumulate(body, bars, a, v)

    def reverse_general(self, body: list[Stmt], bars: dict[int, Code], eq: Equation, g: Code, args: list[Code]) -> None:
        rule = eq.rule
        assert isinstance(rule, General)
        hint = f"c_{self.prog.index(eq.out)}"
        argt = _tuple_code(args)
        pc = self.params_tuple(eq.params, hint)
        y = self.primal(eq.out)
        for i in self.an.diff_positions(eq):
            a = eq.inputs[i]
            if not (self.an.is_active(a) and self.an.useful[a]):
                continue
            ref = self.binder.bind(f"{rule.name}_T_{i}", rule.transposes[i])
            d = self.an.dtypes[eq.out]
            dtype = d if isinstance(d, np.dtype) and g.dtype == d and self.an.dtypes[a] == d else None
            v = Code.call(
                ref, [g, Code.raw(str(self.nb)), y, argt, pc], elementwise=False, shape=self.dshape(a), dtype=dtype
            )
            v.owned = self.probe_owned(
                rule.transposes[i], [self.dummy(eq.out, g.dtype), self.nb, *self.probe_args(eq)], eq.out
            )
            self.accumulate(body, bars, a, v)

    def probe_args(self, eq: Equation) -> list[Any]:
        """``y, args, params`` of a general rule's maps at the recording point."""
        return [self.an.values[eq.out], tuple(self.an.arg_value(a) for a in eq.inputs), eq.params]

    def dummy(self, slot: int, dtype: Any) -> np.ndarray:
        """Zeros shaped like ``slot``'s tangent (three directions when batched), to probe a map with."""
        shape = tuple(3 if d == BATCH else d for d in self.dshape(slot))
        d = dtype if isinstance(dtype, np.dtype) else np.result_type(self.an.dtypes[slot] or float, float)
        return np.zeros(shape, d)

    def probe_owned(self, fn: Any, args: list[Any], slot: int) -> bool:
        """Whether ``fn(*args)`` returns a new array that shares memory with none of its arguments.

        Whether a map returns a view depends on shapes and parameters (which
        the cache key fixes), not on values: so one call at the recording
        point, on zeros for the tangent, tells. Such a result can be written
        into later; any other result is taken to share memory with its inputs.
        """
        if not self.an.is_array(slot) and not self.batched:
            return False
        try:
            with np.errstate(all="ignore"):
                r = fn(*args)
        except Exception:
            return False
        if type(r) is not np.ndarray or r.base is not None or not r.flags.writeable:
            return False
        return not any(np.may_share_memory(r, a) for a in _arrays_in(args))

    # -- whole functions --------------------------------------------------------------------------
    def forward_body(self, with_tangents: bool) -> list[Stmt]:
        body: list[Stmt] = []
        if with_tangents and self.batched and self.an.n:
            body.append(Line(f"k = {self.dname(0, 'dot')}.shape[-1]  # directions", frozenset((self.dname(0, "dot"),))))
        for slot in range(self.an.n):
            self.emit_guards(body, slot)
        for item in self.schedule:
            if isinstance(item, Region):
                self.region_forward(body, item, with_tangents)
                continue
            self.emit_value(body, item)
            if with_tangents:
                self.emit_tangent(body, item)
        return body

    # -- regions, in tiles ------------------------------------------------------------------------
    def _tile_rows(self, body: list[Stmt], r: Region, with_directions: bool) -> str:
        """The rows of one tile: fewer when each row carries a tangent for every direction."""
        if with_directions and self.batched:
            body.append(
                Line(f"rows = max(1, {r.rows} // k)  # a tile of every direction stays in cache", frozenset(("k",)))
            )
            return "rows"
        return str(r.rows)

    def _loop(self, body: list[Stmt], r: Region, rows: str, inner: list[Stmt], comment: str, live: set[str]) -> None:
        defined = {st.target for st in inner if isinstance(st, Assign)}
        reads = frozenset().union(*(st.reads for st in inner)) - defined - {"a", "b"}
        header = f"for a in range(0, {r.shape[0]}, {rows}):"
        first = Line(f"b = min(a + {rows}, {r.shape[0]})", frozenset(("a",)))
        body.append(Loop(header, [first, *inner], reads | ({rows} if rows == "rows" else set()), comment, live))

    def _enter_tile(self, r: Region, escaping_names: bool) -> TileScope:
        scope = TileScope(r)
        for q, mode in r.inputs.items():
            if mode == "sliced":
                scope.names[q] = f"{self.an.names[q]}_t"
                scope.shapes[q] = scope.shapes_of_region
                for mark in ("dot", "bar"):
                    scope.dnames[(q, mark)] = f"{self.an.names[q]}_{mark}_t"
        for eq in r.members:
            scope.shapes[eq.out] = scope.shapes_of_region
            if escaping_names and eq.out in r.escaping:
                scope.names[eq.out] = f"{self.an.names[eq.out]}_t"
                for mark in ("dot", "bar"):
                    scope.dnames[(eq.out, mark)] = f"{self.an.names[eq.out]}_{mark}_t"
        self.tile = scope
        return scope

    def _slice_inputs(self, inner: list[Stmt], r: Region, marks: Sequence[str]) -> None:
        """Each tile's views of the region's inputs (``v_1_t = v_1[a:b]``)."""
        for q, mode in r.inputs.items():
            if mode != "sliced":
                continue
            full = self.an.names[q]
            inner.append(self._view(f"{full}_t", full, q))
            for mark in marks:
                if self.an.active[q] and self.an.useful[q] and mark == "dot":
                    inner.append(self._view(f"{full}_dot_t", f"{full}_dot", q, True))

    def _view(self, name: str, full: str, slot: int, derivative: bool = False) -> Assign:
        shape = self.tile.shapes_of_region + ((BATCH,) if derivative and self.batched else ())  # type: ignore[union-attr]
        dtype = self.ddtype.get(slot) if derivative else self.an.dtypes[slot]
        expr = Code(f"{full}[a:b]", PREC_ATOM, shape, dtype, frozenset((full, "a", "b")))
        return Assign(
            name, expr, array=(shape, dtype if isinstance(dtype, np.dtype) else None), aliases=frozenset((full,))
        )

    def region_forward(self, body: list[Stmt], r: Region, with_tangents: bool) -> None:
        """A region's values (and tangents) computed tile by tile; sums accumulated, escaping values stored."""
        an = self.an
        tangents = with_tangents and any(an.active[eq.out] and an.useful[eq.out] for eq in r.members)
        if tangents and not all(
            isinstance(self.ddtype.get(q), np.dtype) or self.ddtype.get(q) in (float, complex)
            for q, mode in r.inputs.items()
            if an.active[q] and an.useful[q]
        ):
            tangents = False
            for eq in [*r.members, *r.sinks]:  # a tangent dtype not known statically: no tiles
                self.emit_value(body, eq)
                self.emit_tangent(body, eq)
            return
        rows = self._tile_rows(body, r, tangents)
        self._enter_tile(r, escaping_names=True)
        inner: list[Stmt] = []
        self._slice_inputs(inner, r, ("dot",) if tangents else ())
        for eq in r.members:
            self.emit_value(inner, eq)
            if tangents:
                self.emit_tangent(inner, eq)
        pre: list[Stmt] = []
        live: set[str] = set()
        for slot in r.escaping:
            name = an.names[slot]
            shape = an.shapes[slot]
            pre.append(self._empty(name, shape, an.dtypes[slot], f"{name} leaves the loop"))
            inner.append(Line(f"{name}[a:b] = {self.name_of(slot)}", frozenset((name, self.name_of(slot), "a", "b"))))
            if tangents and an.active[slot] and an.useful[slot]:
                d = self.ddtype.get(slot)
                if not isinstance(d, np.dtype):
                    d = np.result_type(an.dtypes[slot], d(0) if d in (float, complex) else 0.0)
                    self.ddtype[slot] = d
                dn = self.dname(slot, "dot")
                full = f"{name}_dot"
                pre.append(self._empty(full, shape + ((BATCH,) if self.batched else ()), d, ""))
                inner.append(Line(f"{full}[a:b] = {dn}", frozenset((full, dn, "a", "b"))))
        sums = []
        for eq in r.sinks:
            k = eq.out
            name = an.names[k]
            pre.append(Assign(name, Code.value(0.0, self.binder), comment=f"{name} = sum of the tiles' sums"))
            live.add(name)
            part = self.value_code(eq)
            inner.append(Assign(name, binary(Code.name(name, (), None), "+", part)))
            sums.append(name)
            self.op_text[k] = part.text
            if tangents and an.active[k] and an.useful[k]:
                dn = self.dname(k, "dot")
                pre.append(Assign(dn, Code.value(0.0, self.binder)))
                live.add(dn)
                t = self.tangent_code(eq, self.primal(k))
                inner.append(Assign(dn, binary(Code.name(dn, (), None), "+", t)))
                self.ddtype[k] = None
        self.tile = None
        steps = ", ".join(an.names[eq.out] for eq in r.members)
        what = f"{len(r.members)} elementwise steps ({_abbreviate(steps)}) over {an.dtypes[r.members[0].out]}"
        comment = f"{what}{list(r.shape)} in tiles of {r.rows} rows" + (
            f"; summed into {', '.join(sums)}" if sums else ""
        )
        body.extend(pre)
        self._loop(body, r, rows, inner, comment, live)

    def _empty(self, name: str, shape: tuple[int, ...], dtype: Any, comment: str) -> Assign:
        dref = self.binder.bind(np.dtype(dtype).name, np.dtype(dtype))
        expr = Code.call(
            f"{self.binder.module('np', np)}.empty",
            [Code.raw(self.shape_text(shape)), Code.raw(dref)],
            elementwise=False,
            shape=shape,
            dtype=np.dtype(dtype),
        )
        return Assign(name, expr, comment=comment, array=(shape, np.dtype(dtype)), fresh=True)

    def _zeros_of(self, name: str, shape: tuple[int, ...], dtype: Any, comment: str = "") -> Assign:
        dref = self.binder.bind(np.dtype(dtype).name, np.dtype(dtype))
        expr = Code.call(
            self.helper("zeros_of", _zeros_of),
            [Code.raw(self.shape_text(shape)), Code.raw(dref)],
            elementwise=False,
            shape=shape,
            dtype=np.dtype(dtype),
        )
        return Assign(name, expr, comment=comment, array=(shape, np.dtype(dtype)), fresh=True)

    def region_reverse(self, body: list[Stmt], bars: dict[int, Code], r: Region) -> None:
        """A region's adjoints, tile by tile: its values recomputed, its inputs' adjoints written in place."""
        an = self.an
        seeded = [eq for eq in r.sinks if eq.out in bars] + [s for s in r.escaping if s in bars]
        if not seeded:
            return
        dtype = an.dtypes[r.members[0].out]
        seed_types = [self.ddtype.get(eq.out if isinstance(eq, Equation) else eq) for eq in seeded]
        if not all(
            d is None or d in (float, int) or (isinstance(d, np.dtype) and np.result_type(dtype, d) == dtype)
            for d in seed_types
        ):
            raise _NoTiles  # complex cotangents of a real region, say: the plain sweep handles them
        # where each input's adjoint goes: straight into its parent's adjoint (a view), or a zeroed array
        targets: dict[int, str] = {}
        after: list[tuple[int, str]] = []
        for q, mode in r.inputs.items():
            if mode != "sliced" or not (an.active[q] and an.useful[q]):
                continue
            name = f"{an.names[q]}_bar"
            view = an.view_of(q, r)
            if view is not None and q not in bars:
                p, index = view
                if p not in bars:
                    body.append(self._zeros_of(f"{an.names[p]}_bar", self.dshape(p), dtype))
                    bars[p] = self.dcode(p, "bar")
                    self.ddtype[p] = dtype
                    self.zeroed.add(p)
                if p in self.zeroed:
                    targets[q] = f"{an.names[p]}_bar[{index}]"
                    self.done.add(q)
                    continue
            if q in bars:
                acc = f"{name}_region"
                body.append(self._zeros_of(acc, self.dshape(q), dtype))
                targets[q] = acc
                after.append((q, acc))
            else:
                body.append(self._zeros_of(name, self.dshape(q), dtype))
                bars[q] = self.dcode(q, "bar")
                self.ddtype[q] = dtype
                self.zeroed.add(q)
                targets[q] = name
        rows = self._tile_rows(body, r, True)
        self._enter_tile(r, escaping_names=True)
        inner: list[Stmt] = []
        self._slice_inputs(inner, r, ())
        for eq in r.members:
            k = eq.out
            if k in r.escaping:
                inner.append(self._view(self.name_of(k), an.names[k], k))
            else:
                self.emit_value(inner, eq)
        tbars: dict[int, Code] = {}
        for eq in r.sinks:
            if eq.out not in bars:
                continue
            s_in = cast(int, eq.inputs[0])  # a sink (a full sum: a linear rule) sums a member of the region
            ref = self.binder.bind("sum_T", cast(Linear, eq.rule).T.fn)
            pcodes = [self.param(p, "c") for p in eq.params]
            v = Code.call(
                ref,
                [bars[eq.out], Code.raw(str(self.nb)), Code.raw(self.shape_text(self.shape_of(s_in))), *pcodes],
                elementwise=False,
                shape=self.dshape(s_in),
                dtype=bars[eq.out].dtype,
            )
            self.accumulate(inner, tbars, s_in, v, comment=f"{an.names[eq.out]} = sum({self.name_of(s_in)})")
        for slot in r.escaping:
            if slot in bars:
                full = bars[slot].text
                v = Code(f"{full}[a:b]", PREC_ATOM, self.dshape(slot), bars[slot].dtype, frozenset((full, "a", "b")))
                self.accumulate(inner, tbars, slot, v, comment="from the steps after the loop")
        for eq in reversed(r.members):
            k = eq.out
            if k not in tbars:
                continue
            hint = f"c_{self.prog.index(k)}"
            args = [self.atom(a, hint) for a in eq.inputs]
            start = len(inner)
            self.reverse_elementwise(inner, tbars, eq, tbars[k], args)
            if len(inner) > start:
                inner[start].comment = f"{self.name_of(k)} = {self.op_text.get(k, eq.rule.name)}"
        for q, target in targets.items():
            if q in tbars:
                g = tbars[q]
                inner.append(Line(f"{target}[a:b] += {g.text}", frozenset((target.split("[")[0], *g.reads, "a", "b"))))
        self.tile = None
        self._loop(body, r, rows, inner, f"the adjoints of {len(r.members)} elementwise steps, in tiles", set())
        for q, acc in after:
            self.accumulate(body, bars, q, Code.name(acc, self.dshape(q), dtype))

    def output_codes(self) -> list[Code]:
        return [self.atom(a, "y") for a in self.prog.output_atoms()]


class TileScope:
    """Inside a region's loop: the variables and shapes of its values there."""

    def __init__(self, region: Region) -> None:
        self.region = region
        self.names: dict[int, str] = {}
        self.dnames: dict[tuple[int, str], str] = {}
        self.shapes: dict[int, tuple[int, ...]] = {}
        self.shapes_of_region = (TILE,) + tuple(region.shape[1:])


class _NoTiles(Exception):
    """A region that must run as plain steps after all."""


def _zeros_of(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    out = np.empty(shape, dtype=dtype)
    out.fill(0)
    return out


def _abbreviate(names: str) -> str:
    parts = names.split(", ")
    return names if len(parts) <= 3 else f"{parts[0]} ... {parts[-1]}"


def _arrays_in(values: Any) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for v in values:
        if isinstance(v, np.ndarray):
            out.append(v)
        elif isinstance(v, (tuple, list)):
            out.extend(_arrays_in(v))
    return out


def _tuple_code(codes: Sequence[Code]) -> Code:
    text = "(" + ", ".join(c.text for c in codes) + ("," if len(codes) == 1 else "") + ")"
    return Code.raw(text, frozenset().union(*(c.reads for c in codes)) if codes else ())


def _paren(c: Code) -> str:
    return c.text if c.prec > 0 else f"({c.text})"


def _py_name(name: str) -> str:
    out = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name) or "f"
    return "f_" + out if out[0].isdigit() else out


def _numpy_name(fn: Any) -> str | None:
    """``fn``'s name in NumPy's namespace when it is NumPy's own function (``np.matmul``), else None."""
    name = getattr(fn, "__name__", None)
    if isinstance(name, str) and not name.startswith("_") and getattr(np, name, None) is fn:
        return name
    return None


def _simple(p: Any) -> bool:
    """A parameter that reads well and round-trips as a literal."""
    if p is None or p is Ellipsis or type(p) in (bool, int, str):
        return True
    if type(p) is float:
        return math.isfinite(p)
    if type(p) is slice:
        return all(_simple(v) and type(v) is not float for v in (p.start, p.stop, p.step))
    if type(p) in (tuple, list):
        return all(_simple(v) for v in p)
    return False


def _literal(p: Any) -> str:
    if p is Ellipsis:
        return "..."
    if type(p) is tuple:
        inner = ", ".join(_literal(v) for v in p)
        return f"({inner},)" if len(p) == 1 else f"({inner})"
    if type(p) is list:
        return "[" + ", ".join(_literal(v) for v in p) + "]"
    return repr(p)


def _simple_index(index: Any) -> bool:
    items = index if type(index) is tuple else (index,)
    return all(
        i is None or i is Ellipsis or type(i) is int or (type(i) is slice and _simple(i)) for i in items
    ) and type(index) in (tuple, int, slice, type(None), type(Ellipsis))


def _basic_index(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(i, (np.ndarray, list, tuple)) for i in items)


def _no_ellipsis(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return not any(i is Ellipsis for i in items)


def _index_text(index: Any) -> str:
    items = index if type(index) is tuple else (index,)
    parts = []
    for i in items:
        if type(i) is slice:
            a = "" if i.start is None else repr(i.start)
            b = "" if i.stop is None else repr(i.stop)
            parts.append(f"{a}:{b}" + ("" if i.step is None else f":{i.step!r}"))
        elif i is Ellipsis:
            parts.append("...")
        else:
            parts.append(repr(i))
    if type(index) is tuple and len(index) == 1:
        return parts[0] + ","
    if type(index) is tuple and not index:
        return "()"
    return ", ".join(parts)


# ==========================================================================
# generating each kind
# ==========================================================================


def generate(
    an: Analysis,
    kind: str,
    batched: bool = False,
    tangent_dtypes: Sequence[Any] | None = None,
    cotangent_dtypes: Sequence[Any] | None = None,
    seed: Any = 1.0,
    diagonal: bool = False,
) -> Generated:
    """Write, compile and return the ``kind`` function of ``an.prog`` (see the module docstring).

    Signatures (one argument per input leaf, per output value for cotangents):

    * ``value(*x) -> outputs``
    * ``jvp(*x, *x_dot) -> (outputs, output tangents)`` (None: structurally zero)
    * ``grad(*x) -> (output, input adjoints)`` (None: zero); ``seed`` is ``ȳ``
    * ``vjp(*x) -> (outputs, pullback)``, ``pullback(*y_bar) -> input adjoints``

    ``tangent_dtypes`` (``cotangent_dtypes``) are the dtypes of the
    tangents (cotangents) the function will be called with: they decide
    which buffers can be reused in place. ``diagonal`` (a batched jvp of
    one input, called with the identity as its tangents: a forward
    Jacobian) keeps tangents that are diagonal as their diagonals
    (:mod:`.diagonal`); its code raises :class:`Fallback` where the dense
    code must run instead.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if diagonal and not (kind == "jvp" and batched and an.n == 1):
        raise ValueError("diagonal tangents are for the batched jvp of one input (a forward Jacobian)")
    if an.refusal is not None:
        raise ValueError(f"cannot generate code for {an.prog.f_name}: {an.refusal}")
    collecting = gc.isenabled()
    gc.disable()  # generation makes many small objects and no cycles: collections would only cost time
    try:
        if diagonal:
            return _generate(an, kind, batched, tangent_dtypes, cotangent_dtypes, seed, tiled=False, diagonal=True)
        try:
            return _generate(an, kind, batched, tangent_dtypes, cotangent_dtypes, seed, tiled=True)
        except _NoTiles:
            return _generate(an, kind, batched, tangent_dtypes, cotangent_dtypes, seed, tiled=False)
    finally:
        if collecting:
            gc.enable()


def _generate(
    an: Analysis,
    kind: str,
    batched: bool,
    tangent_dtypes: Sequence[Any] | None,
    cotangent_dtypes: Sequence[Any] | None,
    seed: Any,
    tiled: bool,
    diagonal: bool = False,
) -> Generated:
    gen = Generator(an, kind, batched, tangent_dtypes, tiled, diagonal)
    n = an.n
    names = an.names
    params = list(names[:n])
    inputs = names[:n]
    if kind in ("jvp",):
        for s in range(n):
            gen.ddtype[s] = tangent_dtypes[s] if tangent_dtypes is not None else None
        params += [gen.dname(s, "dot") for s in range(n)]
    body = gen.forward_body(with_tangents=kind == "jvp")
    outs = gen.output_codes()
    out_text = _tuple_code(outs)
    nested: Function | None = None
    if kind == "value":
        ret = Code.raw(out_text.text, out_text.reads)
    elif kind == "jvp":
        for a in an.prog.output_atoms():
            if an.is_active(a):
                densify(gen, body, a)
        touts = [
            gen.dcode(a, "dot") if type(a) is int and an.active[a] else Code.raw("None") for a in an.prog.output_atoms()
        ]
        tt = _tuple_code(touts)
        ret = Code.raw(f"{out_text.text}, {tt.text}", out_text.reads | tt.reads)
    elif kind == "grad":
        atoms = an.prog.output_atoms()
        seeds: list[tuple[int, Code]] = []
        if len(atoms) == 1 and type(atoms[0]) is int and an.active[atoms[0]]:
            seeds.append((atoms[0], Code.value(seed, gen.binder, "seed")))
            gen.ddtype[atoms[0]] = _dtype_of(seed)
        body.append(Line("# reverse sweep", frozenset()))
        bars = gen.emit_reverse(body, seeds)
        adj = _tuple_code([bars[s] if s in bars else Code.raw("None") for s in range(n)])
        ret = Code.raw(
            f"{out_text.text[1:-2] if len(outs) == 1 else out_text.text}, {adj.text}", out_text.reads | adj.reads
        )
    else:  # vjp: the reverse sweep in a nested pullback
        atoms = an.prog.output_atoms()
        inner: list[Stmt] = []
        bar_params = [f"y_bar_{j + 1}" if len(atoms) > 1 else "y_bar" for j in range(len(atoms))]
        seeds = []
        for j, a in enumerate(atoms):
            if type(a) is int and an.active[a] and an.useful[a]:
                d = cotangent_dtypes[j] if cotangent_dtypes is not None else None
                seeds.append((a, Code.name(bar_params[j], gen.dshape(a), d, binder=gen.binder)))
                if a not in gen.ddtype:
                    gen.ddtype[a] = d
        bars = gen.emit_reverse(inner, seeds)
        adj = _tuple_code([bars[s] if s in bars else Code.raw("None") for s in range(n)])
        if batched and bar_params:
            inner.insert(0, Line(f"k = {bar_params[0]}.shape[-1]  # directions", frozenset((bar_params[0],))))
        nested = Function("pullback", bar_params, inner, Code.raw(adj.text, adj.reads), external=set(bar_params))
        ret = Code.raw(f"{out_text.text}, pullback", out_text.reads)
    fn_ir = Function(gen.fn_name, params, body, ret, nested=nested, external=set(inputs) | set(params))
    source = render(fn_ir, gen, an)
    variant = (" batched" if batched else "") + (" diagonal" if diagonal else "")
    filename = f"<dualdiff {kind}{variant} of {an.prog.f_name}>"
    namespace = gen.binder.globals
    code = builtins.compile(source, filename, "exec")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(code, namespace)
    fn = namespace[gen.fn_name]
    return Generated(kind, batched, gen.fn_name, source, fn, namespace, gen.workspace, gen.pullback_workspace)


@dataclass
class Function:
    """A generated function before rendering: parameters, statements, what it returns, a nested pullback."""

    name: str
    params: list[str]
    body: list[Stmt]
    returns: Code
    nested: Function | None = None
    #: Names bound outside the statements (parameters, closure variables): never written into.
    external: set[str] = field(default_factory=set)


_TITLES = {
    "value": "the program",
    "jvp": "tangent code (forward mode): each v_i, then its tangent v_i_dot",
    "grad": "adjoint code (reverse mode): the forward sweep, then the reverse sweep",
    "vjp": "adjoint code (reverse mode): the forward sweep, then the pullback",
}


def render(fn: Function, gen: Generator, an: Analysis) -> str:
    """The source of ``fn``: a header, the function, its statements optimized for arrays."""
    prog = an.prog
    variant = (", batched" if gen.batched else "") + (", diagonal tangents" if gen.diag_code else "")
    lines = [f"# dualdiff: {_TITLES[gen.kind]}{variant}"]
    lines.append(f"# of {prog.f_name}, generated from its program of {len(prog.equations)} equations")
    ins = ", ".join(f"{an.names[s]} = {prog.names[s]}" for s in range(an.n))
    if ins:
        lines.append("# inputs: " + ins)
    for name, text in gen.binder.constants:
        lines.append(f"# {name} = {text}")
    inner_free: set[str] = set()
    if fn.nested is not None:
        inner_free = set().union(*(s.reads for s in fn.nested.body)) | set(fn.nested.returns.reads)
        inner_free &= set(an.names)
    live_end = set(fn.returns.reads) | inner_free
    body_lines = optimize(
        fn.body, external=fn.external, live_at_end=live_end, binder=gen.binder, workspace=gen.workspace
    )
    params = fn.params + (["ws"] if gen.workspace else [])
    if gen.workspace:
        lines.append(f"# ws: {_describe_workspace(gen.workspace)}, kept from call to call")
    lines.append(f"def {fn.name}({', '.join(params)}):")
    lines += ["    " + line for line in body_lines]
    if fn.nested is not None:
        nested = fn.nested
        inner = optimize(
            nested.body,
            external=nested.external | inner_free,
            live_at_end=set(nested.returns.reads),
            binder=gen.binder,
            workspace=gen.pullback_workspace,
        )
        inner_params = nested.params + (["ws"] if gen.pullback_workspace else [])
        lines.append("")
        lines.append(
            "    # reverse sweep"
            + (f"; ws: {_describe_workspace(gen.pullback_workspace)}" if gen.pullback_workspace else "")
        )
        lines.append(f"    def {nested.name}({', '.join(inner_params)}):")
        lines += ["        " + line for line in inner]
        lines.append(f"        return {nested.returns.text}")
        lines.append("")
    lines.append(f"    return {fn.returns.text}")
    return "\n".join(lines) + "\n"


def _describe_workspace(ws: list[tuple[tuple[int, ...], Any]]) -> str:
    parts = [f"{np.dtype(d).name}[{','.join('k' if x == BATCH else str(x) for x in shape)}]" for shape, d in ws]
    return f"{len(ws)} preallocated array{'s' if len(ws) != 1 else ''} ({', '.join(parts)})"
