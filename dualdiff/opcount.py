"""The cost model: the element operations of f, of forward mode and of reverse mode.

Counts follow Griewank & Walther (*Evaluating Derivatives*, 2nd ed., chapter 4).
Work is a vector ``Work(moves, adds, mults, nlops)`` -- memory reads and writes,
additions and subtractions, multiplications and divisions, nonlinear
operations -- counted per array element, and one number
``OPS = w . Work`` with weights ``w = (mu, 1, pi, nu)`` (:class:`Weights`; all
1 by default). Every primitive application is one *statement* per output
element, ``v = phi(u_1, ..., u_k)``: it reads each operand and writes its
result once; partials and tangents computed inside a statement stay in
registers.

f is recorded once on a tape (``Tape(record_ops=True)``): that gives the
sequence of primitives and their operands, whose shapes the model works out.
Below, ``s`` is an application's output size, ``k`` its number of operands,
``a`` the number of *active* operands (those that depend on x).

**Elementwise rules** (read from the rule table: ``.partials``, ``.signs``)

=========  =================================================================
evaluate   moves ``(k + 1) s``, plus ``s`` of the rule's class: adds for
           add/sub/neg, mults for mul/truediv/square/reciprocal, none for
           pos, nlops for every other rule (pow, sin, abs, maximum, ...)
partials   what the rule's formulas compute: each formula is run on
           symbolic operands in a counting namespace, so ``mul``'s partials
           ``b`` and ``a`` cost nothing, ``sin``'s ``cos(x)`` costs ``s``
           nlops and a formula ``1 - y*y`` ``s`` mults and ``s`` adds (an
           operation on a scalar constant costs 1). Rules with ``.signs``
           cost nothing. Forward mode computes them once per pass, reverse
           mode once, while recording. (``x ** 2`` of an array is costed as
           ``square``, as both modes compute it.)
tangent    per direction: moves ``(a + 1) s``, mults ``a s`` (none for
           ``.signs``), adds ``(a - 1) s`` (plus ``s`` to negate when the
           first active sign is -1)
adjoint    per cotangent, for applications the sweep reaches: moves ``s``
           (read the output's adjoint) plus, per active operand, ``2 s`` (read
           and write its adjoint) and ``s`` (read the stored partial; not for
           ``.signs``); mults ``a s`` (none for ``.signs``); adds ``a s``
=========  =================================================================

**Linear rules**: ``sum`` evaluates (and pushes each tangent) with moves
``s_in + s`` and adds ``s_in - s``; its adjoint (``u_bar_j += v_bar``) costs
moves ``3 s_in``, adds ``s_in``. ``cumsum`` is a running sum. Structural
rules (getitem, reshape, broadcast_to, transpose, diagonal, ...) are copy
statements ``v_j = u_i``: moves ``2 s`` to evaluate and per direction, moves
``3 s`` and adds ``s`` per cotangent. (NumPy often makes these views, which
cost nothing; the model counts the copies a scalar program would do.)

**General rules** (matmul, einsum, solve, ...) have a cost function each in
:data:`GENERAL_COSTS` (a contraction of ``F`` multiply-adds costs ``F``
mults and ``F - s`` adds, and each of its derivative maps is a contraction
of the same size; LU-based linear algebra is charged its textbook flop
counts; what a map recomputes at each call, such as the weights of max, is
charged once, as partials). A rule without one -- or an elementwise formula
the counting namespace cannot run -- is *estimated* (one nonlinear operation
per output element) and listed as such. :func:`register_general_cost` adds
one.

**Modes**, for ``f: R^n -> R^m``, chunk ``c`` (directions per pass or sweep):

=============  ==============================================================
OPS(f)         sum of evaluate
JVP            sum of (evaluate + partials + tangent): one forward pass
VJP            sum of (evaluate + partials) + sum of reached adjoints: one
               recording and one sweep (the gradient when m = 1)
jacfwd         ``P = ceil(n / c)`` passes: ``P`` (evaluate + partials) +
               ``n`` tangent
jacrev         1 recording + ``ceil(m / c)`` sweeps: (evaluate + partials) +
               ``m`` reached adjoints
=============  ==============================================================

For every primitive the tangent costs no more than the adjoint, kind by
kind (:meth:`Work.le`). So when n < m and one pass carries every direction,
forward mode is the cheaper whatever f computes: :func:`choose` then needs no
recording.

**Bookkeeping**, in moves and reported apart from the work above: writing
the seeds and reading the results (``n + m`` per direction or cotangent) and,
in reverse mode, writing the partials onto the tape (their sizes):
JVP ``n + m``; VJP ``stored + n + m``; jacfwd ``(n + m) n``; jacrev
``stored + (n + m) m``.

**The textbook bounds.** Under these counts the elementals of Griewank &
Walther's analysis -- add/sub, mul, and a univariate ``psi`` whose derivative
takes one operation (sin, exp, log) -- have ``OPS(JVP) <= 5/2 OPS(f)`` and
``OPS(gradient) <= 4 OPS(f)`` for any weights with ``mu >= pi >= 1`` and
``nu >= pi`` (mul reaches 5/2 exactly; its gradient is 15/4, since the sweep
here does not reset adjoints to zero). So a program of those elementals
stays within the bounds. Rules whose partial formulas take several
operations (pow, tanh, arcsin, truediv with both operands active) cost more
than G&W's one-operation ``psi'``: the model counts what dualdiff computes,
and the per-primitive breakdown shows where.

What the model does not see: operations on values that do not depend on x
(they are never recorded, in either mode) and Python's per-operation overhead
(the measured times in :func:`dualdiff.compare` show that).

>>> import numpy as np
>>> rec = record(lambda x: x[0] * x[1] + np.sin(x[0]), (1.0, 2.0))
>>> c = mode_costs(rec)
>>> c.f, c.jvp.total(), c.vjp.total()
(Work(moves=8, adds=1, mults=1, nlops=1), 25, 36)
"""

from __future__ import annotations

import math
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from . import dual as _dual
from .core import OPERATOR_METHODS, Lifted, new_level
from .dual import Dual
from .rules import TABLE, Elementwise, General, Linear, Rule
from .tape import GENERAL, Tape, Var
from .tree import leaves, output_leaves, rebuild

Shape = tuple[int, ...]

__all__ = [
    "ELEMENT_CLASS",
    "GENERAL_COSTS",
    "Costs",
    "ModeChoice",
    "OpCost",
    "PrimitiveCost",
    "Recording",
    "TapeSize",
    "Weights",
    "Work",
    "by_primitive",
    "choose",
    "count_forward",
    "describe_forward",
    "describe_reverse",
    "explain_costs",
    "mode_costs",
    "record",
    "recorded_counts",
    "register_general_cost",
    "tape_size",
]


# --------------------------------------------------------------------------
# work vectors and weights
# --------------------------------------------------------------------------


class Weights(NamedTuple):
    """Weights of the four kinds of work: ``OPS = w . Work`` (G&W's ``(mu, 1, pi, nu)``).

    >>> Weights(moves=2).moves
    2
    """

    moves: float = 1
    adds: float = 1
    mults: float = 1
    nlops: float = 1


#: Every kind of work counts 1: the default, and the weights the bounds are quoted for.
UNIT = Weights()


class Work(NamedTuple):
    """Element operations by kind: memory moves, additions, multiplications, nonlinear ops.

    ``+`` adds work, ``*`` by an integer repeats it, :meth:`total` weighs it.

    >>> w = Work(moves=3, mults=1)
    >>> w + w, 2 * w, w.total()
    (Work(moves=6, adds=0, mults=2, nlops=0), Work(moves=6, adds=0, mults=2, nlops=0), 4)
    """

    moves: int = 0
    adds: int = 0
    mults: int = 0
    nlops: int = 0

    def __add__(self, other: Any) -> Work:  # type: ignore[override]
        return Work(self[0] + other[0], self[1] + other[1], self[2] + other[2], self[3] + other[3])

    def __mul__(self, k: Any) -> Work:  # type: ignore[override]
        return Work(self[0] * k, self[1] * k, self[2] * k, self[3] * k)

    __rmul__ = __mul__

    def total(self, weights: Weights = UNIT) -> Any:
        """The weighted sum ``w . Work`` (an int under integer weights)."""
        w = weights
        return w.moves * self.moves + w.adds * self.adds + w.mults * self.mults + w.nlops * self.nlops

    def le(self, other: Work) -> bool:
        """True when no kind of work exceeds ``other``'s (so for any non-negative weights)."""
        return all(a <= b for a, b in zip(self, other))


ZERO = Work()
_MOVES, _ADDS, _MULTS, _NLOPS = range(4)


def _size(shape: Shape) -> int:
    return math.prod(shape)


def _shape(v: Any) -> Shape:
    if isinstance(v, _Sym):
        return v.shape
    return np.shape(v)


# --------------------------------------------------------------------------
# elementwise rules: classes and the counting namespace
# --------------------------------------------------------------------------

#: The kind of work that evaluating an elementwise rule costs per element
#: (``None``: nothing beyond its moves). Rules not listed are nonlinear.
ELEMENT_CLASS: dict[str, int | None] = {
    "add": _ADDS,
    "sub": _ADDS,
    "neg": _ADDS,
    "pos": None,
    "mul": _MULTS,
    "truediv": _MULTS,
    "square": _MULTS,
    "reciprocal": _MULTS,
}


def _element_class(name: str) -> int | None:
    return ELEMENT_CLASS.get(name, _NLOPS)


class _Tally:
    """Work counted while a partial formula runs on symbolic operands."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts = [0, 0, 0, 0]

    def apply(self, kind: int | None, *operands: Any) -> _Sym:
        shape = np.broadcast_shapes(*(_shape(o) for o in operands))
        if kind is not None:
            self.counts[kind] += _size(shape)
        return _Sym(shape, self)


class _Sym:
    """A symbolic operand: only its shape, counting every operation applied to it."""

    __slots__ = ("shape", "tally")

    def __init__(self, shape: Shape, tally: _Tally) -> None:
        self.shape = shape
        self.tally = tally

    def __bool__(self) -> bool:
        raise TypeError("a partial formula branched on a value; the counting namespace cannot follow it")

    def __pos__(self) -> _Sym:
        return self


def _sym_op(kind: int, reflected: bool = False) -> Callable[[_Sym, Any], _Sym]:
    if reflected:
        return lambda self, other: self.tally.apply(kind, other, self)
    return lambda self, other: self.tally.apply(kind, self, other)


for _name, _kind in (("add", _ADDS), ("sub", _ADDS), ("mul", _MULTS), ("truediv", _MULTS), ("pow", _NLOPS)):
    setattr(_Sym, f"__{_name}__", _sym_op(_kind))
    setattr(_Sym, f"__r{_name}__", _sym_op(_kind, reflected=True))
_Sym.__neg__ = lambda self: self.tally.apply(_ADDS, self)  # type: ignore[attr-defined]
_Sym.__abs__ = lambda self: self.tally.apply(_NLOPS, self)  # type: ignore[attr-defined]


class _CountingNamespace:
    """A math namespace (see :mod:`dualdiff.backends`) that counts instead of computing."""

    def __init__(self, tally: _Tally) -> None:
        self._tally = tally

    def __getattr__(self, name: str) -> Callable[..., Any]:
        rule = TABLE.get(name)
        if not isinstance(rule, Elementwise):
            raise AttributeError(name)
        kind = _element_class(name)
        return lambda *args: self._tally.apply(kind, *args)

    # the helpers the formulas use besides the rules themselves
    def const(self, like: Any, c: Any) -> Any:
        return c

    def pi(self, like: Any) -> float:
        return math.pi

    def xlogy(self, y: Any, x: Any) -> _Sym:
        return self._tally.apply(_MULTS, y, self._tally.apply(_NLOPS, x))

    def safe_div(self, a: Any, b: Any) -> _Sym:
        return self._tally.apply(_MULTS, a, b)

    def zero(self, like: Any) -> _Sym:
        return _Sym(_shape(like), self._tally)


def _partial_cost(rule: Elementwise, i: int, shapes: Sequence[Shape], out: Shape) -> tuple[Work, int, bool]:
    """Work of partial ``i`` of ``rule``, the size of its result, and whether it was estimated."""
    tally = _Tally()
    ns = _CountingNamespace(tally)
    try:
        result = rule.partials[i](ns, _Sym(out, tally), *(_Sym(s, tally) for s in shapes))
        c = tally.counts
        return Work(0, c[1], c[2], c[3]), _size(_shape(result)), False
    except Exception:  # a formula the namespace cannot follow: one nonlinear op per element
        return Work(nlops=_size(out)), _size(out), True


# --------------------------------------------------------------------------
# the cost of one primitive application
# --------------------------------------------------------------------------


class OpCost(NamedTuple):
    """The model's cost of one recorded primitive application.

    ``tangent`` is per direction, ``adjoint`` per cotangent (zero when the
    sweep does not reach the application); ``stored`` is the number of
    elements the tape writes for it (partials); ``estimated`` marks a rule
    the model has no exact count for.

    >>> rec = record(lambda x: x * x, 3.0)
    >>> rec.ops[0].tangent
    Work(moves=3, adds=1, mults=2, nlops=0)
    """

    rule: Rule
    size: int
    evaluate: Work
    partials: Work
    tangent: Work
    adjoint: Work
    stored: int
    reached: bool
    estimated: bool


class _Cost(NamedTuple):
    evaluate: Work
    partials: Work
    tangent: Work
    adjoint: Work
    stored: int
    estimated: bool


_ELEMENTWISE_CACHE: dict[tuple[Any, ...], _Cost] = {}


def _elementwise_cost(rule: Elementwise, shapes: tuple[Shape, ...], out: Shape, active: tuple[bool, ...]) -> _Cost:
    key = (rule.name, shapes, active)
    hit = _ELEMENTWISE_CACHE.get(key)
    if hit is not None:
        return hit
    s = _size(out)
    k, a = len(shapes), sum(active)
    kind = _element_class(rule.name)
    evaluate = Work(moves=(k + 1) * s)
    if kind is not None:
        evaluate = evaluate + Work(*(s if j == kind else 0 for j in range(4)))
    estimated = False
    if rule.signs is not None:
        signs = [sg for sg, act in zip(rule.signs, active) if act]
        negate = s if signs and signs[0] < 0 else 0
        partials, stored = ZERO, 0
        tangent = Work(moves=(a + 1) * s, adds=max(a - 1, 0) * s + negate)
        adjoint = Work(moves=s + 2 * a * s, adds=a * s)
    else:
        partials, stored = ZERO, 0
        for i, act in enumerate(active):
            if act:
                w, n_stored, est = _partial_cost(rule, i, shapes, out)
                partials, stored, estimated = partials + w, stored + n_stored, estimated or est
        tangent = Work(moves=(a + 1) * s, adds=max(a - 1, 0) * s, mults=a * s)
        adjoint = Work(moves=s + 3 * a * s, adds=a * s, mults=a * s)
    cost = _Cost(evaluate, partials, tangent, adjoint, stored, estimated)
    if len(_ELEMENTWISE_CACHE) < 100_000:
        _ELEMENTWISE_CACHE[key] = cost
    return cost


def _copy_cost(s_in: int, s: int) -> _Cost:
    """A structural rule: ``s`` copy statements ``v_j = u_i``."""
    copy = Work(moves=2 * s)
    return _Cost(copy, ZERO, copy, Work(moves=3 * s, adds=s), 0, False)


def _sum_cost(s_in: int, s: int) -> _Cost:
    ev = Work(moves=s_in + s, adds=s_in - s)
    return _Cost(ev, ZERO, ev, Work(moves=3 * s_in, adds=s_in), 0, False)


def _cumsum_cost(s_in: int, s: int) -> _Cost:
    ev = Work(moves=3 * s, adds=s)
    return _Cost(ev, ZERO, ev, Work(moves=6 * s, adds=2 * s), 0, False)


#: Cost functions of linear rules, ``(input size, output size) -> cost``;
#: a linear rule not listed is charged as copies (and marked estimated).
LINEAR_COSTS: dict[str, Callable[[int, int], _Cost]] = {
    "sum": _sum_cost,
    "cumsum": _cumsum_cost,
    **{name: _copy_cost for name in ("getitem", "reshape", "broadcast_to", "transpose", "diagonal", "diag_embed")},
    "conj": _copy_cost,
}


# -- general rules ----------------------------------------------------------

#: ``cost(shapes, out_shape, params, active) -> (evaluate, partials, tangent, adjoint)``
#: for a General rule: ``shapes`` of all operands, ``active`` flags; tangent
#: per direction and adjoint per cotangent, summed over the active operands.
GeneralCost = Callable[[tuple[Shape, ...], Shape, tuple[Any, ...], tuple[bool, ...]], tuple[Work, Work, Work, Work]]

GENERAL_COSTS: dict[str, GeneralCost] = {}


def register_general_cost(name: str, cost: GeneralCost) -> None:
    """Give the General rule ``name`` a cost function (see :data:`GENERAL_COSTS`).

    >>> register_general_cost("my_rule", lambda shapes, out, params, active: (Work(), Work(), Work(), Work()))
    >>> "my_rule" in GENERAL_COSTS
    True
    >>> del GENERAL_COSTS["my_rule"]
    """
    if not callable(cost):
        raise TypeError(f"register_general_cost: cost must be callable, got {type(cost).__name__}")
    GENERAL_COSTS[name] = cost


def _contraction(flops: int, shapes: tuple[Shape, ...], out: Shape, active: tuple[bool, ...]) -> tuple[Work, ...]:
    """A contraction of ``flops`` multiply-adds, each derivative map one of the same size."""
    s = _size(out)
    sizes = [_size(sh) for sh in shapes]
    ev = Work(moves=sum(sizes) + s, adds=max(flops - s, 0), mults=flops)
    a = sum(active)
    tangent = ZERO
    adjoint = ZERO
    for i, act in enumerate(active):
        if act:
            tangent = tangent + Work(moves=sum(sizes) + s, adds=max(flops - s, 0), mults=flops)
            others = sum(sizes) - sizes[i]
            adjoint = adjoint + Work(moves=s + others + 2 * sizes[i] + s, adds=flops, mults=flops)
    tangent = tangent + Work(adds=max(a - 1, 0) * s)
    return ev, ZERO, tangent, adjoint


def _matmul_cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
    inner = shapes[0][-1] if shapes[0] else 1
    return _contraction(_size(out) * inner, shapes, out, active)


def _tensordot_cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
    axes_a = params[0]
    inner = math.prod(shapes[0][i] for i in axes_a)
    return _contraction(_size(out) * inner, shapes, out, active)


def _einsum_cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
    ins, _ = params
    dims: dict[str, int] = {}
    for subs, shape in zip(ins, shapes):
        dims.update(zip(subs, shape))
    return _contraction(math.prod(dims.values()), shapes, out, active)


def _where_cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
    s = _size(out)
    a = sum(active)
    ev = Work(moves=4 * s)
    return ev, ZERO, Work(moves=(a + 2) * s), Work(moves=a * 4 * s, adds=a * s)


def _concatenate_cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
    s = _size(out)
    act = sum(_size(sh) for sh, a in zip(shapes, active) if a)
    return Work(moves=2 * s), ZERO, Work(moves=2 * act), Work(moves=3 * act, adds=act)


def _reduction_cost(kind: int) -> GeneralCost:
    """max/min (comparisons) and prod (multiplications): partials are weights per element."""

    def cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
        s_in, s = _size(shapes[0]), _size(out)
        ev = Work(moves=s_in + s) + Work(*((s_in - s) if j == kind else 0 for j in range(4)))
        partials = Work(mults=s_in) if kind == _MULTS else Work(adds=s_in, mults=s_in, nlops=s_in)
        tangent = Work(moves=2 * s_in + s, adds=s_in - s, mults=s_in)
        adjoint = Work(moves=s + 3 * s_in, adds=s_in, mults=s_in)
        return ev, partials, tangent, adjoint

    return cost


def _square(shape: Shape) -> tuple[int, int]:
    """(batch, n) of a stack of n x n matrices."""
    n = shape[-1] if shape else 1
    return _size(shape) // max(n * n, 1), n


def _inv_cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
    b, n = _square(shapes[0])
    s, f = _size(out), b * n**3
    ev = Work(moves=2 * s, adds=f, mults=f)
    tangent = Work(moves=4 * s, adds=2 * f, mults=2 * f)  # -Y T Y: two products
    adjoint = Work(moves=5 * s, adds=2 * f + s, mults=2 * f)
    return ev, ZERO, tangent, adjoint


def _solve_cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
    b, n = _square(shapes[0])
    s = _size(out)
    lu = b * n**3 // 3
    subst = n * s  # forward and back substitution: n multiply-adds per solution element
    ev = Work(moves=_size(shapes[0]) + _size(shapes[1]) + s, adds=lu + subst, mults=lu + subst)
    tangent = adjoint = ZERO
    if active[0]:  # -solve(a, t @ y): a product and a solve
        tangent = tangent + Work(moves=_size(shapes[0]) + 2 * s, adds=lu + 2 * subst, mults=lu + 2 * subst)
        adjoint = adjoint + Work(moves=3 * _size(shapes[0]) + 2 * s, adds=lu + 2 * subst, mults=lu + 2 * subst)
    if active[1]:
        tangent = tangent + Work(moves=_size(shapes[0]) + 2 * s, adds=lu + subst, mults=lu + subst)
        adjoint = adjoint + Work(moves=_size(shapes[0]) + 3 * s, adds=lu + subst + s, mults=lu + subst)
    return ev, ZERO, tangent, adjoint


def _det_cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
    b, n = _square(shapes[0])
    s_a = _size(shapes[0])
    lu = b * n**3 // 3
    ev = Work(moves=s_a + _size(out), adds=lu, mults=lu, nlops=b * n)
    partials = Work(moves=2 * s_a, adds=b * n**3, mults=b * n**3)  # inv(a)
    tangent = Work(moves=2 * s_a + _size(out), adds=s_a, mults=s_a + _size(out))
    adjoint = Work(moves=4 * s_a, adds=s_a, mults=s_a + _size(out))
    return ev, partials, tangent, adjoint


GENERAL_COSTS.update(
    matmul=_matmul_cost,
    tensordot=_tensordot_cost,
    einsum=_einsum_cost,
    where=_where_cost,
    concatenate=_concatenate_cost,
    max=_reduction_cost(_NLOPS),
    min=_reduction_cost(_NLOPS),
    prod=_reduction_cost(_MULTS),
    inv=_inv_cost,
    solve=_solve_cost,
    det=_det_cost,
    logabsdet=_det_cost,
)


def _estimated_general(shapes: tuple[Shape, ...], out: Shape, active: tuple[bool, ...]) -> _Cost:
    s = _size(out)
    reads = sum(_size(sh) for sh in shapes)
    ev = Work(moves=reads + s, nlops=s)
    tangent = adjoint = ZERO
    for sh, act in zip(shapes, active):
        if act:
            tangent = tangent + Work(moves=_size(sh) + s, mults=s, adds=s)
            adjoint = adjoint + Work(moves=s + 2 * _size(sh) + s, mults=s, adds=s)
    return _Cost(ev, ZERO, tangent, adjoint, 0, True)


def _general_cost(rule: General, shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: Any) -> _Cost:
    fn = GENERAL_COSTS.get(rule.name)
    if fn is None:
        return _estimated_general(shapes, out, active)
    ev, partials, tangent, adjoint = fn(shapes, out, params, active)
    return _Cost(ev, partials, tangent, adjoint, 0, False)


# --------------------------------------------------------------------------
# recording f and working out shapes
# --------------------------------------------------------------------------


class Recording:
    """f recorded once on a tape, with the model's cost of every primitive application.

    ``n`` and ``m`` count the elements of x and of f(x); ``tape`` is the
    (unswept) tape, for its memory; ``estimated`` names the rules the model
    has no exact count for; :attr:`ops` lists one :class:`OpCost` per
    application.

    >>> rec = record(lambda x: x * 2.0, 1.0)
    >>> rec.n, rec.m, [op.rule.name for op in rec.ops]
    (1, 1, ['mul'])
    """

    def __init__(
        self,
        rules: list[Rule],
        sizes: list[int],
        costs: list[_Cost],
        reached: list[bool],
        n: int,
        m: int,
        tape: Tape,
        out: Any,
        estimated: set[str],
    ) -> None:
        self.rules, self.sizes, self.costs, self.reached = rules, sizes, costs, reached
        self.n, self.m, self.tape, self.out, self.estimated = n, m, tape, out, estimated
        self._ops: list[OpCost] | None = None

    def __repr__(self) -> str:
        return f"<Recording: {len(self.rules)} primitive applications, R^{self.n} -> R^{self.m}>"

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def ops(self) -> list[OpCost]:
        """One :class:`OpCost` per primitive application, in order."""
        if self._ops is None:
            self._ops = [
                OpCost(
                    rule, size, c.evaluate, c.partials, c.tangent, c.adjoint if r else ZERO, c.stored, r, c.estimated
                )
                for rule, size, c, r in zip(self.rules, self.sizes, self.costs, self.reached)
            ]
        return self._ops

    def groups(self) -> list[tuple[Rule, _Cost, bool, int, int]]:
        """``(rule, cost, reached, applications, elements)`` per distinct cost (the model's totals add these)."""
        acc: dict[tuple[int, int, bool], list[Any]] = {}
        for rule, size, c, r in zip(self.rules, self.sizes, self.costs, self.reached):
            key = (id(rule), id(c), r)
            g = acc.get(key)
            if g is None:
                acc[key] = [rule, c, r, 1, size]
            else:
                g[3] += 1
                g[4] += size
        return [tuple(g) for g in acc.values()]  # type: ignore[misc]


def _dummy(shape: Shape) -> np.ndarray:
    """A read-only array of ``shape`` that takes no memory (zero strides)."""
    return np.broadcast_to(np.zeros(()), shape)


def _sum_shape(shape: Shape, axis: Any, keepdims: bool) -> Shape:
    nd = len(shape)
    if axis is None:
        axes = set(range(nd))
    elif isinstance(axis, (tuple, list)):
        axes = {a % nd for a in axis}
    else:
        axes = {axis % nd}
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reshape_shape(shape: Shape, target: Any) -> Shape:
    target = (target,) if isinstance(target, (int, np.integer)) else tuple(target)
    if -1 in target:
        known = math.prod(t for t in target if t != -1)
        target = tuple(_size(shape) // max(known, 1) if t == -1 else t for t in target)
    return tuple(int(t) for t in target)


def _linear_out_shape(rule: Linear, shape: Shape, params: tuple[Any, ...]) -> Shape:
    if rule.name == "sum":
        return _sum_shape(shape, *params)
    if rule.name == "reshape":
        return _reshape_shape(shape, params[0])
    if rule.name == "broadcast_to":
        return tuple(params[0])
    return np.shape(rule.fn(_dummy(shape), 0, *params))


def _general_out_shape(entry: tuple[Any, ...], shapes: tuple[Shape, ...]) -> Shape:
    """A General rule's output shape, from its tape entry ``(out, ins, GENERAL, (rule, active, y, ...))``."""
    if len(entry) == 4 and entry[2] is GENERAL:
        return np.shape(entry[3][2])
    return np.broadcast_shapes(*shapes)  # pragma: no cover - only if the tape's layout changes


def _output_slots(out: Any, tape: Tape) -> set[int]:
    slots: set[int] = set()
    for leaf in output_leaves(out):
        if isinstance(leaf, Var) and leaf.tape is tape:
            slots.add(leaf.index)
        elif isinstance(leaf, np.ndarray) and leaf.dtype == object:
            slots.update(e.index for e in leaf.ravel() if isinstance(e, Var) and e.tape is tape)
    return slots


def record(f: Callable[[Any], Any], x: Any) -> Recording:
    """Record ``f`` at ``x`` once and cost every primitive application with the model.

    ``x`` is a number, an array or a tuple of these, as for every transform.

    >>> import numpy as np
    >>> rec = record(lambda x: np.sum(x * x), np.ones(3))
    >>> [(op.rule.name, op.size) for op in rec.ops]
    [('mul', 3), ('sum', 1)]
    """
    if not callable(f):
        raise TypeError(f"record needs a callable f, got {type(f).__name__}: {f!r:.80}")
    tape = Tape(record_ops=True)
    xl = leaves(x)
    inputs = [tape.var(a) for a in xl]
    out = f(rebuild(x, inputs))
    ops = tape.ops
    entries = tape.entries
    assert ops is not None and entries is not None
    shapes: dict[int, Shape] = {v.index: np.shape(v.primal) for v in inputs}
    outputs = _output_slots(out, tape)
    rules: list[Rule] = []
    sizes: list[int] = []
    costs: list[_Cost] = []
    estimated: set[str] = set()
    scalars = _SCALARS
    cache = _ELEMENTWISE_CACHE
    for k, op in enumerate(ops):
        rule = op.rule
        arg_shapes: list[Shape] = []
        active: list[bool] = []
        for kind, v in op.operands:
            if kind == "slot":
                arg_shapes.append(shapes[v])
                active.append(True)
            else:
                arg_shapes.append(() if type(v) in scalars else np.shape(v))
                active.append(False)
        if isinstance(rule, Elementwise):
            first = arg_shapes[0]
            same = True
            for sh in arg_shapes:
                if sh != first:
                    same = False
            out_shape = first if same else np.broadcast_shapes(*arg_shapes)
            rule_c, shapes_c, active_c = rule, tuple(arg_shapes), tuple(active)
            cost = cache.get((rule_c.name, shapes_c, active_c))
            if cost is None:
                cost = _elementwise_cost(rule_c, shapes_c, out_shape, active_c)
        elif isinstance(rule, Linear):
            out_shape = _linear_out_shape(rule, arg_shapes[0], op.params)
            s_in, s = _size(arg_shapes[0]), _size(out_shape)
            fn = LINEAR_COSTS.get(rule.name)
            cost = _copy_cost(s_in, s)._replace(estimated=True) if fn is None else fn(s_in, s)
        elif isinstance(rule, General):
            out_shape = _general_out_shape(entries[k], tuple(arg_shapes))
            cost = _general_cost(rule, tuple(arg_shapes), out_shape, op.params, tuple(active))
        else:  # pragma: no cover - every rule is one of the three kinds
            raise TypeError(f"record: unknown kind of rule {rule!r}")
        shapes[op.out] = out_shape
        if cost.estimated:
            estimated.add(rule.name)
        rules.append(rule)
        sizes.append(_size(out_shape))
        costs.append(cost)
    # the sweep visits an application only if an output depends on it
    reached = [False] * len(ops)
    live = set(outputs)
    for k in range(len(ops) - 1, -1, -1):
        op = ops[k]
        if op.out in live:
            reached[k] = True
            for kind, v in op.operands:
                if kind == "slot":
                    live.add(v)
    n = sum(int(np.size(a)) for a in xl)
    m = sum(int(np.size(o)) for o in output_leaves(out))
    return Recording(rules, sizes, costs, reached, n, m, tape, out, estimated)


_SCALARS = frozenset({float, int, complex})


# --------------------------------------------------------------------------
# the modes
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Costs:
    """The model's work for f, one pass of each mode, and the Jacobian in each mode.

    ``jvp``, ``vjp``, ``jacfwd``, ``jacrev`` exclude bookkeeping, which
    ``bookkeeping[name]`` gives in moves; :meth:`ops` adds them up.

    >>> c = mode_costs(record(lambda x: x * x, 3.0))
    >>> c.passes, c.sweeps, c.ops("f"), c.ops("jvp"), c.ops("jvp", bookkeeping=True)
    (1, 1, 4, 10, 12)
    """

    n: int
    m: int
    forward_chunk: int
    reverse_chunk: int
    passes: int
    sweeps: int
    primitives: int
    reached: int
    stored: int
    f: Work
    jvp: Work
    vjp: Work
    jacfwd: Work
    jacrev: Work
    bookkeeping: dict[str, int]

    def ops(self, name: str, weights: Weights = UNIT, bookkeeping: bool = False) -> Any:
        """Weighted work of ``name`` ("f", "jvp", "vjp", "jacfwd", "jacrev"), bookkeeping optional."""
        if name not in ("f", "jvp", "vjp", "jacfwd", "jacrev"):
            raise ValueError(f"name must be 'f', 'jvp', 'vjp', 'jacfwd' or 'jacrev', got {name!r}")
        total = getattr(self, name).total(weights)
        if bookkeeping and name != "f":
            total += weights.moves * self.bookkeeping[name]
        return total

    @property
    def forward_applications(self) -> int:
        """Primitive applications of the forward Jacobian: every pass applies all of f's."""
        return self.passes * self.primitives

    @property
    def reverse_applications(self) -> int:
        """Primitive applications of the reverse Jacobian: one recording, then each sweep's transposes."""
        return self.primitives + self.sweeps * self.reached


def _chunk(chunk: int | None, size: int) -> int:
    """Directions per pass (or cotangents per sweep): ``chunk``, or all of them for None."""
    if chunk is None:
        return max(size, 1)
    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1:
        raise ValueError(f"chunk must be a positive int or None, got {chunk!r}")
    return min(chunk, max(size, 1))


def mode_costs(rec: Recording, chunk: int | None = None) -> Costs:
    """Add up the model's work for each mode (``chunk`` directions per pass or sweep).

    ``chunk=None`` pushes all directions in one pass and pulls all cotangents
    in one sweep; callers pass the transforms' default themselves.

    >>> import numpy as np
    >>> c = mode_costs(record(lambda x: np.sum(x * x), np.ones(4)), chunk=1)
    >>> c.passes, c.sweeps, c.forward_applications, c.reverse_applications
    (4, 1, 8, 4)
    """
    ev = part = tan = adj = ZERO
    stored = reached = 0
    for _, c, r, count, _ in rec.groups():
        ev = ev + count * c.evaluate
        part = part + count * c.partials
        tan = tan + count * c.tangent
        if r:
            adj = adj + count * c.adjoint
            reached += count
        stored += count * c.stored
    n, m = rec.n, rec.m
    kf, kr = _chunk(chunk, n), _chunk(chunk, m)
    passes, sweeps = -(-n // kf), -(-m // kr)
    record_work = ev + part
    return Costs(
        n=n,
        m=m,
        forward_chunk=kf,
        reverse_chunk=kr,
        passes=passes,
        sweeps=sweeps,
        primitives=len(rec),
        reached=reached,
        stored=stored,
        f=ev,
        jvp=record_work + tan,
        vjp=record_work + adj,
        jacfwd=passes * record_work + n * tan,
        jacrev=record_work + m * adj,
        bookkeeping={
            "jvp": n + m,
            "vjp": stored + n + m,
            "jacfwd": (n + m) * n,
            "jacrev": stored + (n + m) * m,
        },
    )


class PrimitiveCost(NamedTuple):
    """The model's work of one rule, summed over its applications in f.

    >>> by_primitive(record(lambda x: x * x + x, 2.0))[0].name
    'mul'
    """

    name: str
    applications: int
    elements: int
    evaluate: Work
    partials: Work
    tangent: Work
    adjoint: Work
    stored: int
    estimated: bool


def by_primitive(rec: Recording) -> list[PrimitiveCost]:
    """One :class:`PrimitiveCost` per rule used, in order of first use.

    >>> [(p.name, p.applications) for p in by_primitive(record(lambda x: x * x * x, 2.0))]
    [('mul', 2)]
    """
    acc: dict[str, list[Any]] = {}
    for rule, c, r, count, elements in rec.groups():
        row = acc.setdefault(rule.name, [0, 0, ZERO, ZERO, ZERO, ZERO, 0, False])
        row[0] += count
        row[1] += elements
        row[2] = row[2] + count * c.evaluate
        row[3] = row[3] + count * c.partials
        row[4] = row[4] + count * c.tangent
        if r:
            row[5] = row[5] + count * c.adjoint
        row[6] += count * c.stored
        row[7] = row[7] or c.estimated
    return [PrimitiveCost(name, *row) for name, row in acc.items()]


# --------------------------------------------------------------------------
# choosing a mode
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModeChoice:
    """The mode ``jacobian(mode="auto")`` uses, and why (``str()`` gives the reason).

    ``forward_ops`` and ``reverse_ops`` are the model's estimates of the whole
    Jacobian in each mode (bookkeeping included), or None when the choice
    needed no recording.

    >>> import numpy as np
    >>> c = choose(lambda x: np.sum(x * x), np.ones(5), explain=True)
    >>> c.mode, c.forward_ops > c.reverse_ops
    ('reverse', True)
    """

    mode: str
    reason: str
    n: int
    m: int
    forward_ops: Any = None
    reverse_ops: Any = None

    def __str__(self) -> str:
        return self.reason


def _plural(k: int, word: str, words: str | None = None) -> str:
    return f"{k:,} {word if k == 1 else (words or word + 's')}"


def describe_forward(passes: int, n: int, chunk: int) -> str:
    """How forward mode builds the Jacobian, in words.

    >>> describe_forward(50, 50, 1), describe_forward(1, 50, 50)
    ('50 passes x 1 direction', '1 pass x 50 directions')
    """
    if passes == 0:
        return "no pass (x has no elements)"
    if passes * chunk == n or passes == 1:
        return f"{_plural(passes, 'pass', 'passes')} x {_plural(min(chunk, n), 'direction')}"
    return f"{passes:,} passes x up to {_plural(chunk, 'direction')}"


def describe_reverse(sweeps: int, m: int, chunk: int) -> str:
    """How reverse mode builds the Jacobian, in words.

    >>> describe_reverse(1, 1, 1), describe_reverse(2, 50, 25)
    ('1 recording + 1 sweep', '1 recording + 2 sweeps x 25 cotangents')
    """
    if sweeps == 0:
        return "1 recording, no sweep (f(x) has no elements)"
    text = f"1 recording + {_plural(sweeps, 'sweep')}"
    if m > 1:
        text += f" x {'up to ' if sweeps * chunk != m and sweeps > 1 else ''}{_plural(min(chunk, m), 'cotangent')}"
    return text


def _n_elements(tree: Any) -> int:
    return sum(int(np.size(a)) for a in leaves(tree))


def choose(f: Callable[[Any], Any], x: Any, chunk: int | None = None, explain: bool = False) -> ModeChoice:
    """Pick the mode whose Jacobian the model says is cheaper; ties go by shape (n < m: forward).

    When n < m and forward mode needs one pass, forward is the model's answer
    whatever f computes (a tangent never costs more than an adjoint, a pass no
    more than a recording), so f is only evaluated, not recorded, unless
    ``explain`` asks for the numbers.

    >>> import numpy as np
    >>> print(choose(lambda x: x * np.ones(3), 1.0))
    forward: n = 1 < m = 3 and one pass carries every direction, so forward mode costs less whatever f computes
    """
    if not explain:
        n = _n_elements(x)
        m = sum(int(np.size(o)) for o in output_leaves(f(x)))
        if n < m and -(-n // _chunk(chunk, n)) <= 1:
            reason = (
                f"forward: n = {n:,} < m = {m:,} and one pass carries every direction, "
                "so forward mode costs less whatever f computes"
            )
            return ModeChoice("forward", reason, n, m)
    return explain_costs(mode_costs(record(f, x), chunk))


def explain_costs(c: Costs, weights: Weights = UNIT) -> ModeChoice:
    """The :class:`ModeChoice` for costs already worked out (see :func:`choose`).

    >>> c = explain_costs(mode_costs(record(lambda x: x * 2.0, 1.0)))
    >>> c.mode, c.forward_ops, c.reverse_ops
    ('forward', 9, 13)
    """
    fwd = c.ops("jacfwd", weights, bookkeeping=True)
    rev = c.ops("jacrev", weights, bookkeeping=True)
    how_f = describe_forward(c.passes, c.n, c.forward_chunk)
    how_r = describe_reverse(c.sweeps, c.m, c.reverse_chunk)
    shape = f"f maps R^{c.n:,} -> R^{c.m:,}"
    if fwd == rev:
        mode = "forward" if c.n < c.m else "reverse"
        reason = f"{mode}: {shape}; both modes cost {fwd:,} element operations under the model, so by shape"
    else:
        mode = "forward" if fwd < rev else "reverse"
        cheap, dear = sorted((fwd, rev))
        ratio = dear / cheap if cheap else math.inf
        by = f"{(ratio - 1) * 100:.2g}%" if ratio < 1.1 else f"{ratio:.3g}x"
        reason = (
            f"{mode}: {shape}; forward mode ({how_f}) costs {fwd:,} element operations, "
            f"reverse mode ({how_r}) {rev:,}: {mode} is {by} cheaper"
        )
    return ModeChoice(mode, reason, c.n, c.m, fwd, rev)


# --------------------------------------------------------------------------
# counting what forward mode really applies
# --------------------------------------------------------------------------

_PATCH_LOCK = threading.Lock()


@contextmanager
def _counting_duals(counts: Counter[str], elements: Counter[str]) -> Iterator[None]:
    """Wrap Dual's entry points so that each primitive application is counted once.

    Only while the context lasts, and only for this thread. The innermost
    entry point is credited: an operator that the dispatch hands to another
    rule (``x ** 2`` of an array is computed as ``square``), or a fast path
    that falls back to the generic one, counts as the application that ran.
    """
    owner = threading.get_ident()
    total = [0]
    saved: dict[str, Any] = {}
    unary: dict[Any, Any] = {}

    def wrap(fn: Callable[..., Any], rule_of: Callable[[tuple[Any, ...]], Rule]) -> Callable[..., Any]:
        def counted(*args: Any) -> Any:
            if threading.get_ident() != owner:
                return fn(*args)
            before = total[0]
            result = fn(*args)
            if total[0] == before and type(result) is Dual:  # nothing inside was counted
                name = rule_of(args).name
                counts[name] += 1
                elements[name] += int(np.size(result.primal))
                total[0] += 1
            return result

        return counted

    entry_points: list[tuple[str, Any, Callable[[tuple[Any, ...]], Rule]]] = [
        ("_unary", staticmethod, lambda a: a[0]),
        ("_binary", staticmethod, lambda a: a[0]),
        ("_elementwise", classmethod, lambda a: a[1]),
        ("_linear", classmethod, lambda a: a[1]),
        ("_general", classmethod, lambda a: a[1]),
    ]
    with _PATCH_LOCK:
        try:
            for name, kind, rule_of in entry_points:
                raw = Dual.__dict__[name]
                saved[name] = raw
                setattr(Dual, name, kind(wrap(raw.__func__, rule_of)))
            for rule, names in OPERATOR_METHODS:
                for name in names:
                    raw = Dual.__dict__[name]
                    saved[name] = raw
                    setattr(Dual, name, wrap(raw, lambda a, r=rule: r))
            # the per-rule fast paths that dd.sin and friends call
            unary.update(_dual.UNARY)
            for rule, fn in unary.items():
                _dual.UNARY[rule] = wrap(fn, lambda a, r=rule: r)
            yield
        finally:
            for name, raw in saved.items():
                setattr(Dual, name, raw)
            _dual.UNARY.update(unary)


def count_forward(f: Callable[[Any], Any], x: Any) -> tuple[dict[str, int], dict[str, int]]:
    """Run one forward pass of ``f`` at ``x`` and count the primitives Dual really applies.

    Returns ``(applications, output elements)`` per rule name. Dual's methods
    are wrapped for the duration of this call only (the hot paths are never
    slowed otherwise); other threads are not counted.

    >>> count_forward(lambda x: x * x + 1.0, 2.0)
    ({'mul': 1, 'add': 1}, {'mul': 1, 'add': 1})
    """
    counts: Counter[str] = Counter()
    elements: Counter[str] = Counter()
    level = new_level()
    xl = leaves(x)
    duals = [Dual._new(a, np.ones_like(a, dtype=float) if np.ndim(a) else 1.0, level) for a in xl]
    with _counting_duals(counts, elements):
        f(rebuild(x, duals))
    return dict(counts), dict(elements)


def recorded_counts(rec: Recording) -> tuple[dict[str, int], dict[str, int]]:
    """Applications and output elements per rule name, as recorded on the tape.

    >>> recorded_counts(record(lambda x: x * x + 1.0, 2.0))
    ({'mul': 1, 'add': 1}, {'mul': 1, 'add': 1})
    """
    counts: Counter[str] = Counter()
    elements: Counter[str] = Counter()
    for rule, size in zip(rec.rules, rec.sizes):
        counts[rule.name] += 1
        elements[rule.name] += size
    return dict(counts), dict(elements)


# --------------------------------------------------------------------------
# the tape's memory
# --------------------------------------------------------------------------


class TapeSize(NamedTuple):
    """A tape's length and an estimate of its memory.

    ``value_bytes``: the values it keeps (partials, and what General rules
    store), each object counted once; ``total_bytes`` adds the entries' own
    tuples and lists.

    >>> tape_size(record(lambda x: x * x, 3.0).tape).entries
    1
    """

    entries: int
    value_bytes: int
    total_bytes: int


def _walk(v: Any, seen: set[int]) -> tuple[int, int]:
    """(value bytes, structure bytes) of one tape entry, whatever its layout.

    Ints are slot indices, signs and shapes; numbers and arrays are values,
    each object counted once; tuples and lists are structure.
    """
    if v is None or isinstance(v, (bool, int, np.integer, str, slice, Rule, type(Ellipsis))) or callable(v):
        return 0, 0
    if isinstance(v, (tuple, list)):
        values, structure = 0, sys.getsizeof(v)
        for e in v:
            a, b = _walk(e, seen)
            values, structure = values + a, structure + b
        return values, structure
    if id(v) in seen:
        return 0, 0
    seen.add(id(v))
    if isinstance(v, np.ndarray):
        if v.dtype == object:
            return v.nbytes + sum(_walk(e, seen)[0] for e in v.ravel()), 0
        return (v.nbytes if v.flags.owndata else 0), 0
    if isinstance(v, Lifted):
        return sys.getsizeof(v) + _walk(v.primal, seen)[0] + _walk(getattr(v, "tangent", None), seen)[0], 0
    return sys.getsizeof(v), 0


def tape_size(tape: Tape) -> TapeSize:
    """Count a tape's entries and estimate the bytes they keep (see :class:`TapeSize`).

    >>> import numpy as np
    >>> t = record(lambda x: np.sin(x), np.ones(1000)).tape
    >>> tape_size(t).value_bytes >= 8000
    True
    """
    entries = tape.entries
    if entries is None:
        raise ValueError("tape_size: the tape was released by a backward sweep; measure it before sweeping")
    seen: set[int] = set()
    values, structure = 0, sys.getsizeof(entries)
    for entry in entries:
        a, b = _walk(entry, seen)
        values, structure = values + a, structure + b
    return TapeSize(len(entries), values, values + structure)
