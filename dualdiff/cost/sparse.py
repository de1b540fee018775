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

The colorings can never beat two lower bounds, which
:func:`dualdiff.cost.choice.explain_sparse` quotes: a row with ``r`` nonzeros needs ``r`` column colors, a column with
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

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..transforms.coloring import Coloring
from ..transforms.common import default_chunk
from .recording import Recording, work_sums
from .work import UNIT, Weights, Work

__all__ = ["SparseCosts", "sparse_costs"]


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
