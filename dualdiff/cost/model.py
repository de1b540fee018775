"""The cost model of one primitive application, read from the rule table.

Counts follow Griewank & Walther (*Evaluating Derivatives*, 2nd ed., chapter
4); see :mod:`dualdiff.cost` for the whole model. Every primitive
application is one *statement* per output element, ``v = phi(u_1, ..., u_k)``:
it reads each operand and writes its result once; partials and tangents
computed inside a statement stay in registers.

* Elementwise rules: evaluation costs what ``rule.op_class`` says; each
  partial formula is run on symbolic operands in a counting namespace, so
  ``mul``'s partials cost nothing and ``sin``'s ``cos(x)`` costs one
  nonlinear operation per element.
* Linear rules: :data:`LINEAR_COSTS` (sums, running sums; structural rules are
  copies).
* General rules: :data:`GENERAL_COSTS` (contractions, LU-based linear
  algebra, reductions); :func:`register_general_cost` adds one. A rule
  without one is *estimated* and reported as such.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..rules import arrays as ar
from ..rules import structural as st
from ..rules.kinds import TABLE, Elementwise, General, Rule
from .work import ADDS, MULTS, NLOPS, ZERO, Shape, Work, size


def _shape(v: Any) -> Shape:
    if isinstance(v, _Sym):
        return v.shape
    return np.shape(v)


_OP_CLASS = {"adds": ADDS, "mults": MULTS, "nlops": NLOPS, "none": None}


def element_class(rule: Elementwise) -> int | None:
    """The kind of work one application of ``rule`` costs per element (``rule.op_class``); None: moves only."""
    return _OP_CLASS[rule.op_class]


class _Tally:
    """Work counted while a partial formula runs on symbolic operands."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts = [0, 0, 0, 0]

    def apply(self, kind: int | None, *operands: Any) -> _Sym:
        shape = np.broadcast_shapes(*(_shape(o) for o in operands))
        if kind is not None:
            self.counts[kind] += size(shape)
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

    def __neg__(self) -> _Sym:
        return self.tally.apply(ADDS, self)

    def __abs__(self) -> _Sym:
        return self.tally.apply(NLOPS, self)

    def __add__(self, other: Any) -> _Sym:
        return self.tally.apply(ADDS, self, other)

    def __radd__(self, other: Any) -> _Sym:
        return self.tally.apply(ADDS, other, self)

    def __sub__(self, other: Any) -> _Sym:
        return self.tally.apply(ADDS, self, other)

    def __rsub__(self, other: Any) -> _Sym:
        return self.tally.apply(ADDS, other, self)

    def __mul__(self, other: Any) -> _Sym:
        return self.tally.apply(MULTS, self, other)

    def __rmul__(self, other: Any) -> _Sym:
        return self.tally.apply(MULTS, other, self)

    def __truediv__(self, other: Any) -> _Sym:
        return self.tally.apply(MULTS, self, other)

    def __rtruediv__(self, other: Any) -> _Sym:
        return self.tally.apply(MULTS, other, self)

    def __pow__(self, other: Any) -> _Sym:
        return self.tally.apply(NLOPS, self, other)

    def __rpow__(self, other: Any) -> _Sym:
        return self.tally.apply(NLOPS, other, self)


class _CountingNamespace:
    """A math namespace (see :mod:`dualdiff.backends`) that counts instead of computing."""

    def __init__(self, tally: _Tally) -> None:
        self._tally = tally

    def __getattr__(self, name: str) -> Callable[..., Any]:
        rule = TABLE.get(name)
        if not isinstance(rule, Elementwise):
            raise AttributeError(name)
        kind = element_class(rule)
        return lambda *args: self._tally.apply(kind, *args)

    # the helpers the formulas use besides the rules themselves
    def const(self, like: Any, c: Any) -> Any:
        return c

    def pi(self, like: Any) -> float:
        return math.pi

    def xlogy(self, y: Any, x: Any) -> _Sym:
        return self._tally.apply(MULTS, y, self._tally.apply(NLOPS, x))

    def safe_div(self, a: Any, b: Any) -> _Sym:
        return self._tally.apply(MULTS, a, b)

    def dpow(self, a: Any, b: Any) -> _Sym:  # b * a ** (b - 1)
        return self._tally.apply(MULTS, b, self._tally.apply(NLOPS, a, self._tally.apply(ADDS, b)))

    def zero(self, like: Any) -> _Sym:
        return _Sym(_shape(like), self._tally)


def _partial_cost(rule: Elementwise, i: int, shapes: Sequence[Shape], out: Shape) -> tuple[Work, int, bool]:
    """Work of partial ``i`` of ``rule``, the size of its result, and whether it was estimated."""
    tally = _Tally()
    ns = _CountingNamespace(tally)
    try:
        result = rule.partials[i](ns, _Sym(out, tally), *(_Sym(s, tally) for s in shapes))
        c = tally.counts
        return Work(0, c[1], c[2], c[3]), size(_shape(result)), False
    except Exception:  # a formula the namespace cannot follow: one nonlinear op per element
        return Work(nlops=size(out)), size(out), True


# --------------------------------------------------------------------------
# the cost of one primitive application
# --------------------------------------------------------------------------


class OpCost(NamedTuple):
    """The model's cost of one recorded primitive application.

    ``tangent`` is per direction, ``adjoint`` per cotangent (zero when the
    sweep does not reach the application); ``stored`` is the number of
    elements the tape writes for it (partials); ``estimated`` marks a rule
    the model has no exact count for.

    >>> from dualdiff.cost.recording import record
    >>> record(lambda x: x * x, 3.0).ops[0].tangent
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
    key = (rule, shapes, active)
    hit = _ELEMENTWISE_CACHE.get(key)
    if hit is not None:
        return hit
    s = size(out)
    k, a = len(shapes), sum(active)
    kind = element_class(rule)
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


#: Cost functions of linear rules, ``(input size, output size) -> cost``, by rule;
#: a linear rule not listed is charged as copies (and marked estimated).
LINEAR_COSTS: dict[Rule, Callable[[int, int], _Cost]] = {
    st.SUM: _sum_cost,
    ar.CUMSUM: _cumsum_cost,
    **{r: _copy_cost for r in (st.GETITEM, st.RESHAPE, st.BROADCAST_TO, ar.TRANSPOSE, ar.DIAGONAL, ar.DIAG_EMBED)},
    ar.CONJ: _copy_cost,
}


# -- general rules ----------------------------------------------------------

#: ``cost(shapes, out_shape, params, active) -> (evaluate, partials, tangent, adjoint)``
#: for a General rule: ``shapes`` of all operands, ``active`` flags; tangent
#: per direction and adjoint per cotangent, summed over the active operands.
GeneralCost = Callable[[tuple[Shape, ...], Shape, tuple[Any, ...], tuple[bool, ...]], tuple[Work, Work, Work, Work]]

GENERAL_COSTS: dict[Rule, GeneralCost] = {}


def register_general_cost(rule: Rule | str, cost: GeneralCost) -> None:
    """Give a General rule (or a rule's name) a cost function (see :data:`GENERAL_COSTS`).

    >>> register_general_cost("matmul", GENERAL_COSTS[TABLE["matmul"]])
    >>> TABLE["matmul"] in GENERAL_COSTS
    True
    """
    if not callable(cost):
        raise TypeError(f"register_general_cost: cost must be callable, got {type(cost).__name__}")
    if isinstance(rule, str):
        if rule not in TABLE:
            raise KeyError(f"register_general_cost: no rule named {rule!r}")
        rule = TABLE[rule]
    GENERAL_COSTS[rule] = cost


def _contraction(flops: int, shapes: tuple[Shape, ...], out: Shape, active: tuple[bool, ...]) -> tuple[Work, ...]:
    """A contraction of ``flops`` multiply-adds, each derivative map one of the same size."""
    s = size(out)
    sizes = [size(sh) for sh in shapes]
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
    return _contraction(size(out) * inner, shapes, out, active)


def _tensordot_cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
    axes_a = params[0]
    inner = math.prod(shapes[0][i] for i in axes_a)
    return _contraction(size(out) * inner, shapes, out, active)


def _einsum_cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
    ins, _ = params
    dims: dict[str, int] = {}
    for subs, shape in zip(ins, shapes):
        dims.update(zip(subs, shape))
    return _contraction(math.prod(dims.values()), shapes, out, active)


def _where_cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
    s = size(out)
    a = sum(active)
    ev = Work(moves=4 * s)
    return ev, ZERO, Work(moves=(a + 2) * s), Work(moves=a * 4 * s, adds=a * s)


def _concatenate_cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
    s = size(out)
    act = sum(size(sh) for sh, a in zip(shapes, active) if a)
    return Work(moves=2 * s), ZERO, Work(moves=2 * act), Work(moves=3 * act, adds=act)


def _reduction_cost(kind: int) -> GeneralCost:
    """max/min (comparisons) and prod (multiplications): partials are weights per element."""

    def cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
        s_in, s = size(shapes[0]), size(out)
        ev = Work(moves=s_in + s) + Work(*((s_in - s) if j == kind else 0 for j in range(4)))
        partials = Work(mults=s_in) if kind == MULTS else Work(adds=s_in, mults=s_in, nlops=s_in)
        tangent = Work(moves=2 * s_in + s, adds=s_in - s, mults=s_in)
        adjoint = Work(moves=s + 3 * s_in, adds=s_in, mults=s_in)
        return ev, partials, tangent, adjoint

    return cost


def _square(shape: Shape) -> tuple[int, int]:
    """(batch, n) of a stack of n x n matrices."""
    n = shape[-1] if shape else 1
    return size(shape) // max(n * n, 1), n


def _inv_cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
    b, n = _square(shapes[0])
    s, f = size(out), b * n**3
    ev = Work(moves=2 * s, adds=f, mults=f)
    tangent = Work(moves=4 * s, adds=2 * f, mults=2 * f)  # -Y T Y: two products
    adjoint = Work(moves=5 * s, adds=2 * f + s, mults=2 * f)
    return ev, ZERO, tangent, adjoint


def _solve_cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
    b, n = _square(shapes[0])
    s = size(out)
    lu = b * n**3 // 3
    subst = n * s  # forward and back substitution: n multiply-adds per solution element
    ev = Work(moves=size(shapes[0]) + size(shapes[1]) + s, adds=lu + subst, mults=lu + subst)
    tangent = adjoint = ZERO
    if active[0]:  # -solve(a, t @ y): a product and a solve
        tangent = tangent + Work(moves=size(shapes[0]) + 2 * s, adds=lu + 2 * subst, mults=lu + 2 * subst)
        adjoint = adjoint + Work(moves=3 * size(shapes[0]) + 2 * s, adds=lu + 2 * subst, mults=lu + 2 * subst)
    if active[1]:
        tangent = tangent + Work(moves=size(shapes[0]) + 2 * s, adds=lu + subst, mults=lu + subst)
        adjoint = adjoint + Work(moves=size(shapes[0]) + 3 * s, adds=lu + subst + s, mults=lu + subst)
    return ev, ZERO, tangent, adjoint


def _det_cost(shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: tuple[bool, ...]) -> Any:
    b, n = _square(shapes[0])
    s_a = size(shapes[0])
    lu = b * n**3 // 3
    ev = Work(moves=s_a + size(out), adds=lu, mults=lu, nlops=b * n)
    partials = Work(moves=2 * s_a, adds=b * n**3, mults=b * n**3)  # inv(a)
    tangent = Work(moves=2 * s_a + size(out), adds=s_a, mults=s_a + size(out))
    adjoint = Work(moves=4 * s_a, adds=s_a, mults=s_a + size(out))
    return ev, partials, tangent, adjoint


GENERAL_COSTS.update(
    {
        ar.MATMUL: _matmul_cost,
        ar.TENSORDOT: _tensordot_cost,
        ar.EINSUM: _einsum_cost,
        ar.WHERE: _where_cost,
        ar.CONCATENATE: _concatenate_cost,
        ar.MAX: _reduction_cost(NLOPS),
        ar.MIN: _reduction_cost(NLOPS),
        ar.PROD: _reduction_cost(MULTS),
        ar.INV: _inv_cost,
        ar.SOLVE: _solve_cost,
        ar.DET: _det_cost,
        ar.LOGABSDET: _det_cost,
    }
)


def _estimated_general(shapes: tuple[Shape, ...], out: Shape, active: tuple[bool, ...]) -> _Cost:
    s = size(out)
    reads = sum(size(sh) for sh in shapes)
    ev = Work(moves=reads + s, nlops=s)
    tangent = adjoint = ZERO
    for sh, act in zip(shapes, active):
        if act:
            tangent = tangent + Work(moves=size(sh) + s, mults=s, adds=s)
            adjoint = adjoint + Work(moves=s + 2 * size(sh) + s, mults=s, adds=s)
    return _Cost(ev, ZERO, tangent, adjoint, 0, True)


def _general_cost(rule: General, shapes: tuple[Shape, ...], out: Shape, params: tuple[Any, ...], active: Any) -> _Cost:
    fn = GENERAL_COSTS.get(rule)
    if fn is None:
        return _estimated_general(shapes, out, active)
    ev, partials, tangent, adjoint = fn(shapes, out, params, active)
    return _Cost(ev, partials, tangent, adjoint, 0, False)
