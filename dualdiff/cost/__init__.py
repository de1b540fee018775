"""Layer 5, the cost model: the element operations of f, of forward mode and of reverse mode.

Counts follow Griewank & Walther (*Evaluating Derivatives*, 2nd ed., chapter 4).
Work is a vector ``Work(moves, adds, mults, nlops)`` -- memory reads and writes,
additions and subtractions, multiplications and divisions, nonlinear
operations -- counted per array element, and one number
``OPS = w . Work`` with weights ``w = (mu, 1, pi, nu)`` (:class:`~dualdiff.cost.work.Weights`; all
1 by default). Every primitive application is one *statement* per output
element, ``v = phi(u_1, ..., u_k)``: it reads each operand and writes its
result once; partials and tangents computed inside a statement stay in
registers.

f is recorded once as a program (:func:`dualdiff.wengert`): that gives the
sequence of primitives, their operands and every shape.
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
:data:`~dualdiff.cost.model.GENERAL_COSTS` (a contraction of ``F`` multiply-adds costs ``F``
mults and ``F - s`` adds, and each of its derivative maps is a contraction
of the same size; LU-based linear algebra is charged its textbook flop
counts; what a map recomputes at each call, such as the weights of max, is
charged once, as partials). A rule without one -- or an elementwise formula
the counting namespace cannot run -- is *estimated* (one nonlinear operation
per output element) and listed as such. :func:`~dualdiff.cost.model.register_general_cost` adds
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
kind (:meth:`~dualdiff.cost.work.Work.le`). So when n < m and one pass carries every direction,
forward mode is the cheaper whatever f computes: :func:`~dualdiff.cost.choice.choose` then needs no
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
>>> from dualdiff.cost import record, mode_costs
>>> rec = record(lambda x: x[0] * x[1] + np.sin(x[0]), (1.0, 2.0))
>>> c = mode_costs(rec)
>>> c.f, c.jvp.total(), c.vjp.total()
(Work(moves=8, adds=1, mults=1, nlops=1), 25, 36)

The package: :mod:`.work` (units), :mod:`.model` (one primitive),
:mod:`.recording` (a whole program, per mode), :mod:`.choice` (which mode,
and ``dd.jacobian``), :mod:`.memory` (the tape), :mod:`.report`
(``dd.compare``: both modes measured side by side).
"""

from __future__ import annotations

from .choice import ModeChoice, choose, choose_mode, describe_forward, describe_reverse, explain_costs, jacobian
from .memory import TapeSize, tape_of, tape_size
from .model import GENERAL_COSTS, LINEAR_COSTS, OpCost, element_class, register_general_cost
from .recording import Costs, PrimitiveCost, Recording, by_primitive, cost_program, mode_costs, record
from .report import GRADIENT_BOUND, JVP_BOUND, CostReport, compare
from .work import UNIT, Weights, Work

__all__ = [
    "GENERAL_COSTS",
    "GRADIENT_BOUND",
    "JVP_BOUND",
    "LINEAR_COSTS",
    "UNIT",
    "CostReport",
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
    "choose_mode",
    "compare",
    "cost_program",
    "describe_forward",
    "describe_reverse",
    "element_class",
    "explain_costs",
    "jacobian",
    "mode_costs",
    "record",
    "register_general_cost",
    "tape_of",
    "tape_size",
]
