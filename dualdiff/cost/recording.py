"""Costing a whole function: its program's primitives added up, per mode.

``record(f, x)`` records f's program (:func:`dualdiff.wengert`) and costs
every equation with :mod:`dualdiff.cost.model`, from the shapes and rule
kinds the program holds; :func:`mode_costs` adds them up for f alone, one
pass of each mode and the whole Jacobian in each mode. Equations of
functions of values (comparisons, ``argmax``) cost nothing here: they carry
no derivative, and neither mode differentiates them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..program.program import Program
from ..program.tracer import record as record_program
from ..rules.kinds import Elementwise, General, Linear, Nondiff, Rule
from ..transforms.common import check_chunk
from .model import LINEAR_COSTS, OpCost, _copy_cost, _Cost, _elementwise_cost, _general_cost
from .work import UNIT, ZERO, Shape, Weights, Work, size

__all__ = [
    "Costs",
    "PrimitiveCost",
    "Recording",
    "WorkSums",
    "by_primitive",
    "chunk_for",
    "mode_costs",
    "record",
    "work_sums",
]


class Recording:
    """f's program, with the model's cost of every primitive application.

    ``n`` and ``m`` count the elements of x and of f(x); ``program`` is the
    recorded :class:`~dualdiff.program.program.Program`; ``estimated`` names
    the rules the model has no exact count for; :attr:`ops` lists one
    :class:`~dualdiff.cost.model.OpCost` per application.

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
        program: Program,
        estimated: set[str],
    ) -> None:
        self.rules, self.sizes, self.costs, self.reached = rules, sizes, costs, reached
        self.n, self.m, self.program, self.estimated = n, m, program, estimated
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
                OpCost(rule, k, c.evaluate, c.partials, c.tangent, c.adjoint if r else ZERO, c.stored, r, c.estimated)
                for rule, k, c, r in zip(self.rules, self.sizes, self.costs, self.reached)
            ]
        return self._ops

    def groups(self) -> list[tuple[Rule, _Cost, bool, int, int]]:
        """``(rule, cost, reached, applications, elements)`` per distinct cost (the model's totals add these)."""
        acc: dict[tuple[int, int, bool], list[Any]] = {}
        for rule, elements, c, r in zip(self.rules, self.sizes, self.costs, self.reached):
            key = (id(rule), id(c), r)
            g = acc.get(key)
            if g is None:
                acc[key] = [rule, c, r, 1, elements]
            else:
                g[3] += 1
                g[4] += elements
        return [tuple(g) for g in acc.values()]


def record(f: Callable[[Any], Any], x: Any) -> Recording:
    """Record ``f``'s program at ``x`` and cost every primitive application with the model.

    ``x`` is a number, an array or a tuple of these, as for every transform.

    >>> import numpy as np
    >>> rec = record(lambda x: np.sum(x * x), np.ones(3))
    >>> [(op.rule.name, op.size) for op in rec.ops]
    [('mul', 3), ('sum', 1)]
    """
    prog, _ = record_program(f, x)
    return cost_program(prog)


def cost_program(prog: Program) -> Recording:
    """Cost every differentiable equation of a recorded program (see :func:`record`)."""
    n_in = prog.n
    shapes: list[Shape] = [a.shape for a in prog.in_avals] + [eq.shape for eq in prog.equations]
    differentiable = [True] * n_in + [not isinstance(eq.rule, Nondiff) for eq in prog.equations]
    rules: list[Rule] = []
    sizes: list[int] = []
    costs: list[_Cost] = []
    outs: list[int] = []
    estimated: set[str] = set()
    for eq in prog.equations:
        rule = eq.rule
        if isinstance(rule, Nondiff):
            continue
        arg_shapes = tuple(shapes[a] if isinstance(a, int) else np.shape(a.value) for a in eq.inputs)
        active = tuple(type(a) is int and differentiable[a] for a in eq.inputs)
        out = eq.shape
        if isinstance(rule, Elementwise):
            cost = _elementwise_cost(rule, arg_shapes, out, active)
        elif isinstance(rule, Linear):
            fn = LINEAR_COSTS.get(rule)
            s_in, s = size(arg_shapes[0]), size(out)
            cost = _copy_cost(s_in, s)._replace(estimated=True) if fn is None else fn(s_in, s)
        elif isinstance(rule, General):
            cost = _general_cost(rule, arg_shapes, out, eq.params, active)
        else:  # pragma: no cover - every rule is one of the four kinds
            raise TypeError(f"cannot cost a rule of kind {type(rule).__name__}: {rule!r}")
        if cost.estimated:
            estimated.add(rule.name)
        rules.append(rule)
        sizes.append(size(out))
        costs.append(cost)
        outs.append(eq.out)
    # the sweep visits an application only if an output depends on it
    live = {a for a in prog.output_atoms() if type(a) is int}
    reached = [False] * len(outs)
    by_out = {eq.out: eq for eq in prog.equations}
    for k in range(len(outs) - 1, -1, -1):
        if outs[k] in live:
            reached[k] = True
            live.update(a for a in by_out[outs[k]].inputs if type(a) is int and differentiable[a])
    n = sum(size(a.shape) for a in prog.in_avals)
    m = sum(size(prog.aval(a).shape) if isinstance(a, int) else int(np.size(a.value)) for a in prog.output_atoms())
    return Recording(rules, sizes, costs, reached, n, m, prog, estimated)


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


def chunk_for(chunk: int | None, size: int) -> int:
    """Directions per pass (or cotangents per sweep): ``chunk``, or all of them for None."""
    if chunk is None:
        return max(size, 1)
    check_chunk(chunk)
    return min(chunk, max(size, 1))


class WorkSums(NamedTuple):
    """A program's work added up by part: evaluation, partials, one tangent, one adjoint (reached only)."""

    evaluate: Work
    partials: Work
    tangent: Work
    adjoint: Work
    stored: int
    reached: int


def work_sums(rec: Recording) -> WorkSums:
    """The sums every mode's cost is made of (see :func:`mode_costs`).

    >>> work_sums(record(lambda x: x * x, 3.0)).tangent
    Work(moves=3, adds=1, mults=2, nlops=0)
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
    return WorkSums(ev, part, tan, adj, stored, reached)


def mode_costs(rec: Recording, chunk: int | None = None) -> Costs:
    """Add up the model's work for each mode (``chunk`` directions per pass or sweep).

    ``chunk=None`` pushes all directions in one pass and pulls all cotangents
    in one sweep; callers pass the transforms' default themselves.

    >>> import numpy as np
    >>> c = mode_costs(record(lambda x: np.sum(x * x), np.ones(4)), chunk=1)
    >>> c.passes, c.sweeps, c.forward_applications, c.reverse_applications
    (4, 1, 8, 4)
    """
    ev, part, tan, adj, stored, reached = work_sums(rec)
    n, m = rec.n, rec.m
    kf, kr = chunk_for(chunk, n), chunk_for(chunk, m)
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
