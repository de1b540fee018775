"""Choosing a mode: the cheaper one for a Jacobian under the cost model, and ``dd.jacobian``.

The cost layer owns mode choice: :func:`jacobian` with ``mode="auto"`` asks
:func:`choose` which of :func:`dualdiff.jacfwd` and :func:`dualdiff.jacrev`
builds the Jacobian with fewer element operations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np

from ..modes.tree import check_input, leaves, output_leaves
from ..program.tracer import record as record_program
from ..transforms.arguments import ArgNums, transformed
from ..transforms.chunked import SparseJacobian, compressed_jacobian, from_program
from ..transforms.coloring import as_pattern
from ..transforms.common import DEFAULT_CHUNK, Function, P, check_chunk, check_f
from ..transforms.forward import jacfwd
from ..transforms.reverse import jacrev
from .recording import Costs, chunk_for, cost_program, mode_costs, record
from .sparse import SparseCosts, sparse_costs
from .work import UNIT, Weights

#: The ``mode`` of :func:`jacobian`.
Mode = Literal["auto", "forward", "reverse"]
#: A mode the cost model picks.
Picked = Literal["forward", "reverse"]

__all__ = [
    "ModeChoice",
    "choose",
    "choose_mode",
    "choose_sparse",
    "describe_forward",
    "describe_reverse",
    "explain_costs",
    "explain_sparse",
    "jacobian",
    "sparse_jacobian",
]


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

    mode: Picked
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
        if n < m and -(-n // chunk_for(chunk, n)) <= 1:
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
    mode: Picked
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


def jacobian(
    f: Callable[P, Any],
    mode: Mode = "auto",
    chunk: int | None = None,
    *,
    argnums: ArgNums = 0,
    has_aux: bool = False,
    sparsity: Any = None,
    executor: Any = None,
    progress: bool | None = None,
) -> Callable[P, Any]:
    """The Jacobian of ``f``, by ``mode`` = "forward", "reverse" or "auto".

    "auto" takes the mode that :func:`choose_mode` finds cheaper under the
    cost model of :mod:`dualdiff.cost` (broadly: forward when there are
    fewer inputs n than outputs m, reverse otherwise), once per input
    structure (types and shapes of x's leaves): later calls reuse the choice.
    ``argnums`` and ``has_aux`` work as in ``jax.jacobian``
    (:mod:`dualdiff.transforms.arguments`).

    ``sparsity`` (a pattern, or ``"auto"`` to detect it from f's program)
    returns a ``scipy.sparse`` CSR array compressed by coloring; with
    ``mode="auto"`` both colorings are costed and the cheaper mode is taken
    (:func:`dualdiff.cost.sparse.choose_sparse` says why). ``executor`` and
    ``progress`` are passed on, as for :func:`dualdiff.jacfwd`.

    >>> import numpy as np, dualdiff as dd
    >>> dd.jacobian(lambda x: np.sum(x * x))(np.array([1.0, 2.0]))
    array([2., 4.])
    """
    check_f(f, "jacobian")
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"mode must be 'auto', 'forward' or 'reverse', got {mode!r}")
    if sparsity is not None:
        sparse = sparse_jacobian(f, mode, chunk, sparsity, executor, progress)
        return transformed(
            "jacobian",
            f,
            sparse,
            lambda g: jacobian(g, mode, chunk, sparsity=sparsity, executor=executor, progress=progress),
            argnums,
            has_aux,
        )
    # jac calls these with one argument; transformed() rebinds an f of several arguments to one first
    fwd: Function = jacfwd(f, chunk, executor=executor, progress=progress)
    rev: Function = jacrev(f, chunk, executor=executor, progress=progress)
    picked: dict[Any, Picked] = {}  # "auto": the mode chosen per input structure

    def jac(x: Any) -> Any:
        if mode == "forward":
            return fwd(x)
        if mode == "reverse":
            return rev(x)
        key = tuple((type(a), np.shape(a)) for a in leaves(x))
        if key not in picked:
            picked[key] = choose_mode(f, x, chunk=chunk)
        return fwd(x) if picked[key] == "forward" else rev(x)

    return transformed(
        "jacobian", f, jac, lambda g: jacobian(g, mode, chunk, executor=executor, progress=progress), argnums, has_aux
    )


@overload
def choose_mode(
    f: Function, x: Any, chunk: int | None = None, explain: Literal[False] = False, sparsity: Any = None
) -> Picked: ...
@overload
def choose_mode(
    f: Function, x: Any, chunk: int | None = None, *, explain: Literal[True], sparsity: Any = None
) -> ModeChoice: ...
def choose_mode(
    f: Function, x: Any, chunk: int | None = None, explain: bool = False, sparsity: Any = None
) -> Picked | ModeChoice:
    """The mode ``jacobian(mode="auto")`` uses at ``x``: the cheaper one under the cost model.

    The model (:mod:`dualdiff.cost`) counts the element operations of the
    whole Jacobian in each mode, with ``chunk`` directions per pass; ties go
    by shape (forward if n < m). ``explain=True`` returns a
    :class:`ModeChoice`: ``.mode``, and ``str()`` says why. With
    ``sparsity`` (a pattern, or ``"auto"``) the choice is between the
    compressed Jacobians of ``dd.jacobian(f, sparsity=...)``.

    >>> import numpy as np
    >>> choose_mode(lambda x: x * np.ones(3), 1.0)
    'forward'
    >>> choice = choose_mode(lambda x: np.sum(x * x), np.ones(4), explain=True)
    >>> choice.mode, choice.forward_ops, choice.reverse_ops
    ('reverse', 172, 97)
    """
    check_f(f, "choose_mode")
    check_chunk(chunk)
    if sparsity is not None:  # compressed Jacobians: both colorings costed (dualdiff.cost.sparse)
        choice = choose_sparse(f, check_input("x", x), sparsity, chunk)[0]
        return choice if explain else choice.mode
    choice = choose(f, check_input("x", x), chunk or DEFAULT_CHUNK, explain)
    return choice if explain else choice.mode


# --------------------------------------------------------------------------
# compressed (sparse) Jacobians: both colorings costed, the cheaper taken
# --------------------------------------------------------------------------


def explain_sparse(c: SparseCosts, weights: Weights = UNIT) -> ModeChoice:
    """The mode a compressed Jacobian takes (the cheaper under the model), and why.

    The reason names both colorings, what each mode then costs, and the
    lower bounds (the densest row and column) that explain the counts.
    """
    fwd, rev = c.ops("jacfwd", weights), c.ops("jacrev", weights)
    mode: Picked = ("forward" if c.n < c.m else "reverse") if fwd == rev else ("forward" if fwd < rev else "reverse")
    cheap, dear = sorted((fwd, rev))
    ratio = dear / cheap if cheap else math.inf
    by = "as cheap" if fwd == rev else (f"{(ratio - 1) * 100:.2g}% cheaper" if ratio < 1.1 else f"{ratio:.3g}x cheaper")
    how_f = describe_forward(c.passes, c.col_colors, c.forward_chunk)
    how_r = describe_reverse(c.sweeps, c.row_colors, c.reverse_chunk)
    reason = (
        f"{mode}: f maps R^{c.n:,} -> R^{c.m:,} with {c.nnz:,} structural nonzeros; "
        f"{_plural(c.col_colors, 'column color')} for forward mode ({how_f}, {fwd:,} element operations), "
        f"{_plural(c.row_colors, 'row color')} for reverse mode ({how_r}, {rev:,}): {mode} is {by}. "
        f"Lower bounds: row {c.dense_row:,} has {c.max_row:,} nonzeros, so no column coloring has fewer "
        f"than {c.max_row:,} colors; column {c.dense_col:,} has {c.max_col:,}, so no row coloring has fewer "
        f"than {c.max_col:,}"
    )
    if c.max_row == c.n and c.max_col == c.m and c.n > 2 and c.m > 2:
        reason += (
            " (a dense row and a dense column, as in an arrowhead, defeat both one-sided colorings: "
            "every column shares the dense row, every row the dense column)"
        )
    return ModeChoice(mode, reason, c.n, c.m, fwd, rev)


def choose_sparse(f: Any, x: Any, sparsity: Any = "auto", chunk: int | None = None) -> tuple[ModeChoice, Any]:
    """Detect (or take) f's pattern at x, color it both ways, and pick the mode: (choice, its SparseJacobian).

    One recording of f serves the detection and the costs.

    >>> import numpy as np
    >>> def f(x):   # a dense first output above a diagonal
    ...     return np.concatenate([np.sum(x, keepdims=True), x[1:] ** 2])
    >>> choice, _ = choose_sparse(f, np.ones(6))
    >>> choice.mode
    'reverse'
    """
    prog, _ = record_program(f, x)
    info = from_program(prog) if isinstance(sparsity, str) else SparseJacobian(as_pattern(sparsity))
    costs = sparse_costs(cost_program(prog), info.pattern, info.coloring("column"), info.coloring("row"), chunk)
    return explain_sparse(costs), info


def sparse_jacobian(
    f: Any, mode: str, chunk: int | None, sparsity: Any, executor: Any, progress: bool | None
) -> Callable[[Any], Any]:
    """``dd.jacobian(f, mode, sparsity=...)``: a compressed Jacobian, the mode picked per input structure."""
    if mode != "auto":
        transform = jacfwd if mode == "forward" else jacrev
        return transform(f, chunk, sparsity=sparsity, executor=executor, progress=progress)
    if isinstance(sparsity, str) and sparsity != "auto":
        raise ValueError(f"sparsity must be a pattern (scipy.sparse or a 2-D array), 'auto' or None, got {sparsity!r}")
    picked: dict[Any, tuple[str, Any]] = {}  # the mode and pattern per input structure

    def jac(x: Any) -> Any:
        x = check_input("x", x)
        key = tuple((type(a), np.shape(a)) for a in leaves(x))
        known = picked.get(key)
        if known is None or not known[1].holds_at(x):
            choice, info = choose_sparse(f, x, sparsity, chunk)
            known = picked[key] = (choice.mode, info)
        mode_, info = known
        c = info.coloring("column" if mode_ == "forward" else "row")
        return compressed_jacobian(f, x, info.pattern, c, chunk, executor, progress)

    return jac
