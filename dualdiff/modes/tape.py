"""Reverse mode: a tape of primitive applications and their stored partials.

Each operation on a :class:`Var` appends one *step* to its tape: which slots
it read, which slot it wrote, and what the rule table says the backward step
needs. There is one typed class per kind of step (:class:`ScalarStep1`,
:class:`ScalarStep2`, :class:`ElementwiseStep`, :class:`LinearStep`,
:class:`GeneralStep`). The backward sweep walks the steps in reverse with a
plain loop: no recursion, so tapes of millions of operations work, and it
frees each intermediate adjoint as soon as it is used.

The tape keeps what a sweep needs, not the program: to see the operations
themselves (rules, constants, shapes), record the function with
:func:`dualdiff.wengert`, whose program every analysis reads.

Each ``vjp``/``grad`` call records on a tape of its own at a fresh level, so
nested calls and threads never share one. For the explicit, PyTorch-like use:

>>> import dualdiff as dd
>>> tape = dd.Tape()
>>> x, y = tape.var(2.0), tape.var(3.0)
>>> z = x * y + x
>>> z.backward()
>>> x.grad, y.grad
(4.0, 2.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import mpmath
import numpy as np

from ..rules.arrays import REAL
from ..rules.backends import backend_for
from ..rules.elementwise import ADD, MUL, POW, SUB, TRUEDIV
from ..rules.evaluate import evaluate, local
from ..rules.kinds import Elementwise, General, Linear, Saved
from ..rules.structural import GETITEM, getitem_add, sum_to_shape
from . import fastpaths
from .core import LiftedBase, apply_general, apply_linear, new_level, register_lifted_type, strip_all
from .inplace import fits
from .lifted import Lifted
from .numpy_api import array_function

# -- the steps -------------------------------------------------------------


class ScalarStep1:
    """``v_out = rule(v_x, constants)`` on Python floats: the one partial ``dx``."""

    __slots__ = ("dx", "out", "x")

    out: int
    x: int
    dx: Any

    def __repr__(self) -> str:
        return f"ScalarStep1(out={self.out}, x={self.x}, dx={self.dx!r})"


class ScalarStep2:
    """``v_out = rule(v_x, v_y)`` on Python floats: the partials ``dx`` and ``dy``."""

    __slots__ = ("dx", "dy", "out", "x", "y")

    out: int
    x: int
    dx: Any
    y: int
    dy: Any

    def __repr__(self) -> str:
        return f"ScalarStep2(out={self.out}, x={self.x}, dx={self.dx!r}, y={self.y}, dy={self.dy!r})"


class ElementwiseStep(NamedTuple):
    """An elementwise rule in general (arrays, mpmath, complex, nested levels).

    ``partials[j]`` belongs to the active input slot ``ins[j]`` (+1/-1 for
    rules with ``signs``); ``shapes`` holds those inputs' shapes when the
    output is an array, so that the sweep can sum adjoints back over
    broadcast axes (None for scalars).
    """

    out: int
    ins: tuple[int, ...]
    partials: tuple[Any, ...]
    shapes: tuple[tuple[int, ...], ...] | None


class LinearStep(NamedTuple):
    """A linear rule: the sweep applies ``transpose`` (the rule's ``.T``) to the output's adjoint.

    ``nbatch`` counts the direction axes of lower levels that the primal
    carried; ``params`` are the transpose's parameters (the input's shape, then
    the rule's own).
    """

    out: int
    x: int
    transpose: Linear
    nbatch: int
    params: tuple[Any, ...]


class GeneralStep(NamedTuple):
    """A general rule: the sweep applies ``rule.transposes[i]`` for each active argument position.

    ``y`` is the value, or :class:`~dualdiff.rules.kinds.Saved` (value and
    residuals) for a rule with ``fwd``.
    """

    out: int
    ins: tuple[int, ...]
    rule: General
    active: tuple[int, ...]
    y: Any
    primals: tuple[Any, ...]
    params: tuple[Any, ...]


Step = ScalarStep1 | ScalarStep2 | ElementwiseStep | LinearStep | GeneralStep

#: The +1/-1 partials of add, sub, neg and pos as the table states them; the
#: sweep adds or subtracts instead of multiplying when it meets these objects.
ONE, MINUS_ONE = 1, -1


class ReleasedTapeError(RuntimeError):
    """A tape was used after its backward sweep released it.

    >>> tape = Tape()
    >>> x = tape.var(2.0)
    >>> (x * x).backward()
    >>> try:
    ...     x * x
    ... except ReleasedTapeError as e:
    ...     print(str(e)[:36])
    this tape was released after its bac
    """


class Tape:
    """The steps of one reverse-mode level, and the backward sweep over them.

    >>> tape = Tape()
    >>> x = tape.var(3.0)
    >>> y = x * x + 1.0
    >>> len(tape), tape.sweep([(y.index, 1.0)])[x.index]
    (2, 6.0)
    """

    __slots__ = ("__weakref__", "entries", "leaf_grads", "leaves", "level", "size")

    def __init__(self) -> None:
        self.level = new_level()
        #: The steps in execution order (None once released).
        self.entries: list[Step] | None = []
        self.size = 0
        self.leaves: dict[int, Var] = {}
        self.leaf_grads: dict[int, Any] = {}

    def __repr__(self) -> str:
        state = "released" if self.entries is None else f"{len(self.entries)} steps"
        return f"<Tape level {self.level}: {self.size} variables, {state}>"

    def __len__(self) -> int:
        return 0 if self.entries is None else len(self.entries)

    def var(self, value: Any) -> Var:
        """A new input variable on this tape; it gets ``.grad`` after ``backward``.

        >>> tape = Tape()
        >>> tape.var(1.5).primal
        1.5
        """
        v = self._new_var(value)
        self.leaves[v.index] = v
        return v

    def _new_var(self, value: Any) -> Var:
        self._check_live()
        v = _new_var(Var)
        v.primal = value
        v.level = self.level
        v.tape = self
        v.index = self.size
        self.size += 1
        return v

    def _check_live(self) -> None:
        if self.entries is None:
            raise ReleasedTapeError(
                "this tape was released after its backward sweep; record again, or pass "
                "retain_graph=True to backward()/the pullback to sweep a tape more than once"
            )

    def release(self) -> None:
        """Free the steps; any further use of the tape raises ReleasedTapeError."""
        self.entries = None

    def sweep(
        self,
        seeds: Iterable[tuple[int, Any]],
        nbatch: int = 0,
        retain_graph: bool = False,
        keep_intermediates: bool = False,
    ) -> list[Any]:
        """Run the backward sweep from ``(slot, cotangent)`` seeds; return the adjoints by slot.

        Adjoints are None for slots the seeds do not reach. To save memory an
        intermediate's adjoint is dropped once it has been passed on, so only
        the leaves' remain, unless ``keep_intermediates``. ``nbatch`` = 1 when
        every cotangent carries a trailing axis of several directions.
        """
        self._check_live()
        entries = self.entries
        assert entries is not None
        adj: list[Any] = [None] * self.size
        owned: set[int] = set()  # slots whose adjoint is a large array only this sweep holds
        for slot, g in seeds:
            adj[slot] = g if adj[slot] is None else adj[slot] + g
        for e in reversed(entries):
            out = e.out
            g = adj[out]
            if g is None:
                continue
            if not keep_intermediates:
                adj[out] = None  # every use of `out` lies later on the tape: it is complete
            t = type(e)
            if t is ScalarStep1:
                i, c = e.x, e.dx
                v = g if c is ONE else (-g if c is MINUS_ONE else c * g)
                a = adj[i]
                adj[i] = v if a is None else a + v
            elif t is ScalarStep2:
                i, c, j, d = e.x, e.dx, e.y, e.dy
                v = g if c is ONE else (-g if c is MINUS_ONE else c * g)
                a = adj[i]
                adj[i] = v if a is None else a + v
                v = g if d is ONE else (-g if d is MINUS_ONE else d * g)
                a = adj[j]
                adj[j] = v if a is None else a + v
            elif t is ElementwiseStep:
                _elementwise_step(e, g, out in owned, adj, owned, nbatch)
            elif t is LinearStep:
                _linear_step(e, g, adj, owned, nbatch)
            else:
                _general_step(e, g, adj, owned, nbatch)
        if not retain_graph:
            self.release()
        return adj

    def backward(self, output: Var, y_bar: Any = None, retain_graph: bool = False) -> None:
        """Sweep from ``output`` and store the adjoints of leaves in their ``.grad``."""
        if y_bar is None:
            if np.ndim(output.primal) != 0:
                raise ValueError(
                    f"backward() without y_bar needs a scalar output, got shape {np.shape(output.primal)}; "
                    "pass y_bar shaped like the output"
                )
            y_bar = 1.0
        adj = self.sweep([(output.index, y_bar)], retain_graph=retain_graph)
        for slot, leaf in self.leaves.items():
            g = adj[slot]
            self.leaf_grads[slot] = _zeros_like_primal(leaf.primal) if g is None else real_cotangent(g, leaf.primal)


# -- the backward steps of arrays, linear and general rules ------------------
#
# Large adjoint arrays that only this sweep holds (the ``owned`` slots:
# results of its own products and sums, never a seed, a partial or a view)
# are updated in place, and indexing scatters straight into the adjoint it
# feeds; so a sweep allocates few large arrays, not one per step.

#: Arrays smaller than this are never updated in place (the checks would cost more).
_IN_PLACE_MIN = 1 << 14


def _general_step(e: GeneralStep, g: Any, adj: list[Any], owned: set[int], nbatch: int) -> None:
    joint = e.rule.joint_transpose
    if joint is not None:  # every active argument's cotangent in one call
        for i, v in zip(e.ins, joint(g, nbatch, e.y, e.primals, e.params, e.active)):
            _accumulate(adj, owned, i, v, False)
        return
    for i, pos in zip(e.ins, e.active):
        _accumulate(adj, owned, i, e.rule.transposes[pos](g, nbatch, e.y, e.primals, e.params), False)


def _linear_step(e: LinearStep, g: Any, adj: list[Any], owned: set[int], nbatch: int) -> None:
    i = e.x
    if e.transpose is _GETITEM_T and i in owned and fits(adj[i], g, _IN_PLACE_MIN, scatter=True):
        getitem_add(adj[i], g, len(e.params[0]), e.params[1])  # scatter into the adjoint in place
        return
    v = apply_linear(e.transpose, g, *e.params, nbatch=e.nbatch + nbatch)
    _accumulate(adj, owned, i, v, e.transpose is _GETITEM_T and type(v) is np.ndarray)


def _elementwise_step(e: ElementwiseStep, g: Any, g_owned: bool, adj: list[Any], owned: set[int], nbatch: int) -> None:
    ins, shapes = e.ins, e.shapes
    last = len(ins) - 1
    for j in range(len(ins)):
        c = e.partials[j]
        mine = g_owned and j == last  # the last use of g may take it over
        if c is ONE or c is MINUS_ONE:  # add, sub, neg: no multiplication
            v = g if shapes is None else sum_to_shape(g, shapes[j], nbatch)
            if v is g and not mine:
                g_owned = False  # g is now also another slot's adjoint: never write into it
            _accumulate(adj, owned, ins[j], v, mine or (v is not g and type(v) is np.ndarray), c is MINUS_ONE)
            continue
        if shapes is None:
            v = c * g
        else:
            ce = _expand(c, nbatch)
            v = np.multiply(g, ce, out=g) if mine and fits(g, ce, _IN_PLACE_MIN) else ce * g
            v = sum_to_shape(v, shapes[j], nbatch)
        _accumulate(adj, owned, ins[j], v, type(v) is np.ndarray)  # a product is a new array


def _accumulate(adj: list[Any], owned: set[int], i: int, v: Any, fresh: bool, negate: bool = False) -> None:
    """``adj[i] += v`` (or ``-= v``), in place when the sweep owns an array it can reuse."""
    a = adj[i]
    if a is None:
        if negate:
            v = np.negative(v, out=v) if fresh and fits(v, v, _IN_PLACE_MIN) else -v
            fresh = type(v) is np.ndarray
        adj[i] = v
    elif i in owned and fits(a, v, _IN_PLACE_MIN):
        (np.subtract if negate else np.add)(a, v, out=a)
        return
    elif fresh and fits(v, a, _IN_PLACE_MIN):
        adj[i] = (np.subtract if negate else np.add)(a, v, out=v)
    else:
        v = a - v if negate else a + v
        fresh = type(v) is np.ndarray
        adj[i] = v
    if fresh:
        owned.add(i)
    else:
        owned.discard(i)


def _expand(c: Any, nbatch: int) -> Any:
    return np.expand_dims(c, -1) if nbatch and np.ndim(c) > 0 else c


def is_complex_value(v: Any) -> bool:
    """True for a complex number or array (Python, NumPy or mpmath), under any lifted levels."""
    v = strip_all(v)
    return isinstance(v, (complex, mpmath.mpc)) or np.iscomplexobj(v)


def real_cotangent(g: Any, primal: Any) -> Any:
    """The cotangent of an input whose value is ``primal``: real when ``primal`` is real.

    A real input enters complex arithmetic as ``x + 0i``; the transpose of that
    embedding is the real part, so the cotangent of a real input is the real
    part of what flows back to it (as in JAX and autograd). Lifted cotangents
    (nested derivatives) take it through the rule ``real``.

    >>> real_cotangent(0.8 + 1.2j, 0.5), real_cotangent(0.8 + 1.2j, 0.5 + 0j)
    (0.8, (0.8+1.2j))
    """
    tg = type(g)
    if tg is float or g is None or (tg is np.ndarray and g.dtype.kind != "c"):
        return g  # the common case, decided without looking at the primal
    if is_complex_value(primal) or not is_complex_value(g):
        return g
    if isinstance(g, LiftedBase):
        return apply_linear(REAL, g)
    if isinstance(g, np.ndarray):
        return np.ascontiguousarray(g.real)
    return g.real


def _zeros_like_primal(p: Any) -> Any:
    return np.zeros(np.shape(p)) if np.ndim(p) else 0.0


#: What reverse mode does with a value and its partials on the fast path (see fastpaths).
SNIPPETS = fastpaths.ModeSnippets(
    name="Var",
    unary=(
        "tape = x.tape\n"
        "entries = tape.entries\n"
        "if entries is not None:\n"
        "    r = new(Var)\n"
        "    r.primal = y\n"
        "    r.level = x.level\n"
        "    r.tape = tape\n"
        "    r.index = index = tape.size\n"
        "    tape.size = index + 1\n"
        "    e = new(ScalarStep1)\n"
        "    e.out = index\n"
        "    e.x = x.index\n"
        "    e.dx = d\n"
        "    entries.append(e)\n"
        "    return r\n"
    ),
    binary=(
        "tape = a.tape\n"
        "entries = tape.entries\n"
        "if entries is not None:\n"
        "    r = new(Var)\n"
        "    r.primal = y\n"
        "    r.level = a.level\n"
        "    r.tape = tape\n"
        "    r.index = index = tape.size\n"
        "    tape.size = index + 1\n"
        "    e = new(ScalarStep2)\n"
        "    e.out = index\n"
        "    e.x = a.index\n"
        "    e.dx = d0\n"
        "    e.y = b.index\n"
        "    e.dy = d1\n"
        "    entries.append(e)\n"
        "    return r\n"
    ),
    same_level="b.tape is a.tape",
    namespace={"ScalarStep1": ScalarStep1, "ScalarStep2": ScalarStep2},
)


class Var(Lifted):
    """A value recorded on a :class:`Tape` (a reverse-mode lifted value).

    >>> tape = Tape()
    >>> x = tape.var(3.0)
    >>> (x * x).backward()
    >>> x.grad
    6.0
    """

    __slots__ = ("index", "tape")

    # arithmetic operators: generated from the rule table (see fastpaths)
    __add__, __radd__ = fastpaths.operator_pair(ADD, SNIPPETS)
    __sub__, __rsub__ = fastpaths.operator_pair(SUB, SNIPPETS)
    __mul__, __rmul__ = fastpaths.operator_pair(MUL, SNIPPETS)
    __truediv__, __rtruediv__ = fastpaths.operator_pair(TRUEDIV, SNIPPETS)
    __pow__, __rpow__ = fastpaths.operator_pair(POW, SNIPPETS)

    tape: Tape
    index: int

    def __repr__(self) -> str:
        return f"Var({self.primal!r}, slot {self.index})"

    @property
    def grad(self) -> Any:
        """The adjoint stored by the last ``backward()`` (leaf variables only, as in PyTorch)."""
        if self.index not in self.tape.leaves:
            raise AttributeError("only variables made with tape.var() get .grad; use dd.vjp for intermediate adjoints")
        if self.index not in self.tape.leaf_grads:
            raise AttributeError("no backward() has run on this tape yet")
        return self.tape.leaf_grads[self.index]

    def backward(self, y_bar: Any = None, retain_graph: bool = False) -> None:
        """Sweep this variable's tape backwards from here (see :meth:`Tape.backward`)."""
        self.tape.backward(self, y_bar, retain_graph)

    @staticmethod
    def _unary(rule: Elementwise, x: Var) -> Any:
        fast = fastpaths.UNARY.get(rule)
        return fast(x) if fast is not None else Var._elementwise(rule, (x,), x.level)

    @classmethod
    def _elementwise(cls, rule: Elementwise, args: tuple[Any, ...], level: int) -> Var:
        tape = None
        primals = []
        active = []
        ins = []
        for a in args:
            if type(a) is cls and a.level == level:
                tape = a.tape
                primals.append(a.primal)
                active.append(True)
                ins.append(a.index)
            else:
                primals.append(a)
                active.append(False)
        assert tape is not None
        m = backend_for(primals)
        if rule.signs is not None:
            y = evaluate(rule, m, primals)
            partials: tuple[Any, ...] = tuple(s for s, a in zip(rule.signs, active) if a)
        else:
            y, ds = local(rule, m, primals, active)
            partials = tuple(d for d in ds if d is not None)
        out = tape._new_var(y)
        shapes = None
        if type(y) is np.ndarray or (isinstance(y, Lifted) and array_function(np.ndim, (y,), {})):  # np.ndim(y)
            shapes = tuple(np.shape(p) for p, a in zip(primals, active) if a)
        tape.entries.append(ElementwiseStep(out.index, tuple(ins), partials, shapes))  # type: ignore[union-attr]
        return out

    @classmethod
    def _linear(cls, rule: Linear, x: Any, params: tuple[Any, ...], nbatch: int) -> Var:
        tape = x.tape
        out = tape._new_var(apply_linear(rule, x.primal, *params, nbatch=nbatch))
        # the transpose's parameters: input shape (without the directions), then the rule's own
        x_shape = np.shape(x.primal)[: np.ndim(x.primal) - nbatch]
        tape.entries.append(LinearStep(out.index, x.index, rule.T, nbatch, (x_shape, *params)))
        return out

    @classmethod
    def _general(cls, rule: General, args: tuple[Any, ...], params: tuple[Any, ...], level: int) -> Var:
        tape = next(a.tape for a in args if type(a) is cls and a.level == level)
        primals = tuple(a.primal if type(a) is cls and a.level == level else a for a in args)
        if rule.fwd is not None and not any(isinstance(p, Lifted) for p in primals):
            y, residuals = rule.fwd(*primals, *params)  # the value and what the transposes need, in one call
            kept: Any = Saved(y, residuals)
        else:
            y = kept = apply_general(rule, primals, params)
        out = tape._new_var(y)
        active = tuple(
            i for i, a in enumerate(args) if type(a) is cls and a.level == level and i not in rule.nondiff_args
        )
        ins = tuple(args[i].index for i in active)
        tape.entries.append(GeneralStep(out.index, ins, rule, active, kept, primals, params))  # type: ignore[union-attr]
        return out


_new_var = object.__new__
_GETITEM_T = GETITEM.T


SNIPPETS.bind(Var)
fastpaths.register_mode(SNIPPETS)
register_lifted_type(Var)
