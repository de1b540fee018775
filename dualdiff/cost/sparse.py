"""The cost of a compressed (sparse) Jacobian in each mode, and which mode to take.

With a column coloring of ``kc`` colors, forward mode pushes ``kc``
directions instead of n; with a row coloring of ``kr`` colors, reverse mode
pulls ``kr`` cotangents instead of m (Griewank & Walther, ch. 8). Under the
model of :mod:`dualdiff.cost`, with ``c`` directions per pass or sweep:

=============  ==============================================================
forward        ``ceil(kc / c)`` passes: that many (evaluate + partials) +
               ``kc`` tangents
reverse        1 recording + ``ceil(kr / c)`` sweeps: (evaluate + partials) +
               ``kr`` reached adjoints
bookkeeping    seeds and results, ``(n + m)`` per direction or cotangent, and
               ``nnz`` moves to decompress (plus the tape in reverse mode)
=============  ==============================================================

The colorings can never beat two lower bounds, which the explanation
quotes: a row with ``r`` nonzeros needs ``r`` column colors, a column with
``c`` nonzeros ``c`` row colors. A dense row defeats forward compression, a
dense column reverse compression, and a matrix with both (an arrowhead)
both.

>>> import numpy as np
>>> from dualdiff.cost import record
>>> from dualdiff.transforms.coloring import coloring
>>> rec = record(lambda x: x[1:] - x[:-1], np.ones(5))
>>> from dualdiff.program.sparsity import detect
>>> S = detect(rec.program).pattern
>>> c = sparse_costs(rec, S, coloring(S, "column"), coloring(S, "row"))
>>> c.col_colors, c.row_colors, c.passes, c.sweeps
(2, 2, 1, 1)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..modes.tree import check_input, leaves
from ..program.tracer import record as record_program
from ..transforms.chunked import SparseJacobian, compressed_jacobian, from_program
from ..transforms.coloring import Coloring, as_pattern
from ..transforms.common import default_chunk
from ..transforms.forward import jacfwd
from ..transforms.reverse import jacrev
from .choice import ModeChoice, describe_forward, describe_reverse
from .recording import Recording, cost_program, work_sums
from .work import UNIT, Weights, Work

__all__ = ["SparseCosts", "choose_sparse", "explain_sparse", "sparse_costs", "sparse_jacobian"]


@dataclass(frozen=True)
class SparseCosts:
    """The model's work for a compressed Jacobian in forward and in reverse mode.

    ``max_row``/``max_col`` are the most nonzeros in one row (column) and
    ``dense_row``/``dense_col`` where: the lower bounds on the colors.
    """

    n: int
    m: int
    nnz: int
    col_colors: int
    row_colors: int
    forward_chunk: int
    reverse_chunk: int
    passes: int
    sweeps: int
    jacfwd: Work
    jacrev: Work
    bookkeeping: dict[str, int]
    max_row: int
    dense_row: int
    max_col: int
    dense_col: int

    def ops(self, name: str, weights: Weights = UNIT, bookkeeping: bool = True) -> Any:
        """Weighted work of "jacfwd" or "jacrev", with bookkeeping unless told otherwise."""
        if name not in ("jacfwd", "jacrev"):
            raise ValueError(f"name must be 'jacfwd' or 'jacrev', got {name!r}")
        total = getattr(self, name).total(weights)
        return total + (weights.moves * self.bookkeeping[name] if bookkeeping else 0)


def sparse_costs(
    rec: Recording, pattern: Any, columns: Coloring, rows: Coloring, chunk: int | None = None
) -> SparseCosts:
    """Cost both compressed Jacobians of a recorded f (``chunk``: directions per pass, default the transforms')."""
    w = work_sums(rec)
    n, m = rec.n, rec.m
    kc, kr = columns.ncolors, rows.ncolors
    cf = min(chunk or default_chunk(n), max(kc, 1))
    cr = min(chunk or default_chunk(m), max(kr, 1))
    passes, sweeps = -(-kc // cf), -(-kr // cr)
    once = w.evaluate + w.partials
    nnz = int(pattern.nnz)
    row_counts = np.diff(pattern.indptr)
    col_counts = np.bincount(pattern.indices, minlength=n)
    return SparseCosts(
        n=n,
        m=m,
        nnz=nnz,
        col_colors=kc,
        row_colors=kr,
        forward_chunk=cf,
        reverse_chunk=cr,
        passes=passes,
        sweeps=sweeps,
        jacfwd=passes * once + kc * w.tangent,
        jacrev=once + kr * w.adjoint,
        bookkeeping={"jacfwd": (n + m) * kc + nnz, "jacrev": w.stored + (n + m) * kr + nnz},
        max_row=int(row_counts.max(initial=0)),
        dense_row=int(row_counts.argmax()) if m else 0,
        max_col=int(col_counts.max(initial=0)),
        dense_col=int(col_counts.argmax()) if n else 0,
    )


def explain_sparse(c: SparseCosts, weights: Weights = UNIT) -> ModeChoice:
    """The mode a compressed Jacobian takes (the cheaper under the model), and why.

    The reason names both colorings, what each mode then costs, and the
    lower bounds (the densest row and column) that explain the counts.
    """
    fwd, rev = c.ops("jacfwd", weights), c.ops("jacrev", weights)
    mode = ("forward" if c.n < c.m else "reverse") if fwd == rev else ("forward" if fwd < rev else "reverse")
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


def _plural(k: int, word: str) -> str:
    return f"{k:,} {word}{'' if k == 1 else 's'}"


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
        return transform(f, chunk, sparsity=sparsity, executor=executor, progress=progress)  # type: ignore[no-any-return]
    if isinstance(sparsity, str) and sparsity != "auto":
        raise ValueError(f"sparsity must be a pattern (scipy.sparse or a 2-D array), 'auto' or None, got {sparsity!r}")
    picked: dict[Any, tuple[str, Any]] = {}

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
