"""Coloring a sparsity pattern: which Jacobian columns (or rows) can share one pass.

Two columns of a Jacobian that have no nonzero in a common row can be
pushed through f in one direction (their sum): the output shows each of
them unmixed in its own rows (Curtis, Powell & Reid 1974). A *column
coloring* gives every column a color so that columns sharing a row differ;
forward mode then needs one direction per color, not per column. A *row
coloring* does the same for rows, and reverse mode one cotangent per color
(Griewank & Walther, *Evaluating Derivatives*, ch. 8).

:func:`coloring` colors greedily: it visits the columns in a vertex order
and gives each the smallest color no column sharing a row with it has yet.
Each row keeps the set of colors its columns took as one integer bitmask,
so a column costs a few bit operations per nonzero: the whole coloring is
O(nnz) work, about a second for 10^6 columns of a 5-point stencil. (A
vectorised variant that colors an independent set at a time, as
Jones & Plassmann do, needs random tie-breaking for few rounds, and random
orders give 9-10 colors on that stencil where the orders here give 7.)

Vertex orders: ``"largest_first"`` (default; the columns that conflict with
the most others first, by the number of (row, column) conflicts counted with
multiplicity, an O(nnz) upper bound on the degree; ties in natural order),
``"natural"`` (column 0, 1, 2, ...) and ``"smallest_last"`` (Matula & Beck:
repeatedly set aside a column of smallest remaining degree, color in
reverse; exact but a Python loop over the conflict graph, for patterns up
to about 10^5 columns).

>>> import numpy as np, scipy.sparse as sp
>>> S = sp.csr_array(np.eye(4, dtype=bool) | np.eye(4, k=1, dtype=bool))
>>> c = coloring(S)
>>> c.ncolors, c.colors.tolist()
(2, [1, 0, 1, 0])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import scipy_sparse

__all__ = ["Coloring", "as_pattern", "coloring"]

ORDERS = ("largest_first", "natural", "smallest_last")


@dataclass(frozen=True, eq=False)
class Coloring:
    """A partition of a pattern's columns (``mode="column"``) or rows (``mode="row"``).

    ``colors[j]`` is the color of column (row) j, ``ncolors`` their number;
    :meth:`groups` lists the members of each color. Columns (rows) with no
    nonzero take color 0.

    >>> import numpy as np, scipy.sparse as sp
    >>> c = coloring(sp.csr_array(np.eye(3, dtype=bool)), mode="row")
    >>> c
    <Coloring: 3 rows of a 3 x 3 pattern in 1 color (row, largest_first)>
    >>> [g.tolist() for g in c.groups()]
    [[0, 1, 2]]
    """

    mode: str
    colors: np.ndarray
    ncolors: int
    shape: tuple[int, int]
    order: str

    @property
    def size(self) -> int:
        """How many columns (rows) were colored."""
        return int(self.colors.size)

    def groups(self) -> list[np.ndarray]:
        """The members of each color, in color order (each sorted)."""
        order = np.argsort(self.colors, kind="stable")
        bounds = np.searchsorted(self.colors[order], np.arange(self.ncolors + 1))
        return [order[bounds[c] : bounds[c + 1]] for c in range(self.ncolors)]

    def is_valid_for(self, pattern: Any) -> bool:
        """True when no two members of one color share a row (a column, for a row coloring)."""
        s = as_pattern(pattern)
        s = s if self.mode == "column" else s.T.tocsr()
        lines = np.repeat(np.arange(s.shape[0]), np.diff(s.indptr))
        pairs = lines.astype(np.int64) * max(self.ncolors, 1) + self.colors[s.indices]
        return bool(np.unique(pairs).size == pairs.size)

    def __repr__(self) -> str:
        what = "columns" if self.mode == "column" else "rows"
        m, n = self.shape
        k = self.ncolors
        return (
            f"<Coloring: {self.size:,} {what} of a {m:,} x {n:,} pattern in {k:,} color{'s' if k != 1 else ''} "
            f"({self.mode}, {self.order})>"
        )


def as_pattern(S: Any) -> Any:
    """``S`` as a boolean CSR array with sorted indices (a scipy.sparse matrix or array, or a dense array).

    >>> as_pattern(np.array([[1.0, 0.0], [0.0, 2.0]])).nnz
    2
    """
    sp = scipy_sparse()
    if sp.issparse(S):
        s = sp.csr_array(S)
    else:
        a = np.asarray(S)
        if a.ndim != 2:
            raise ValueError(f"a sparsity pattern must be a 2-D (m, n) matrix, got shape {a.shape}")
        s = sp.csr_array(a != 0)
    if s.ndim != 2:
        raise ValueError(f"a sparsity pattern must be a 2-D (m, n) matrix, got shape {s.shape}")
    s = sp.csr_array(s, dtype=bool)  # a copy: entries stored as explicit zeros are dropped below
    s.eliminate_zeros()
    s.sum_duplicates()
    s.sort_indices()
    return s


def coloring(
    S: Any,
    mode: Literal["column", "row"] = "column",
    order: Literal["largest_first", "natural", "smallest_last"] = "largest_first",
) -> Coloring:
    """Color the columns (``mode="column"``, for forward mode) or rows (``"row"``, reverse) of ``S``.

    ``S`` is an (m, n) sparsity pattern: a scipy.sparse matrix or array (as
    :func:`dualdiff.jacobian_sparsity` returns) or a dense array whose
    nonzeros are the pattern. Members of one color never share a row (a
    column, in row mode). ``order`` is the vertex order of the greedy
    coloring (see the module text).

    >>> import numpy as np, dualdiff as dd
    >>> S = np.eye(5, dtype=bool); S[0, :] = True      # a dense row above a diagonal
    >>> dd.coloring(S, mode="column").ncolors, dd.coloring(S, mode="row").ncolors
    (5, 2)
    """
    if mode not in ("column", "row"):
        raise ValueError(f"mode must be 'column' or 'row', got {mode!r}")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(map(repr, ORDERS))}, got {order!r}")
    s = as_pattern(S)
    shape = (int(s.shape[0]), int(s.shape[1]))
    lines = s if mode == "column" else s.T.tocsr()  # rows of `lines` must hold distinct colors
    members = lines.T.tocsr()  # for each vertex (column, or row), the lines it is in
    nv = members.shape[0]
    line_len = np.diff(lines.indptr)
    if nv and line_len.size and line_len.max() == nv:  # a full line: every pair conflicts
        colors = np.arange(nv, dtype=np.int64)
    else:
        colors = _greedy(lines, members, _order(order, lines, members, line_len))
    ncolors = int(colors.max()) + 1 if colors.size else 0
    return Coloring(mode, colors, ncolors, shape, order)


def _order(order: str, lines: Any, members: Any, line_len: np.ndarray) -> np.ndarray:
    nv = members.shape[0]
    if order == "natural":
        return np.arange(nv)
    if order == "largest_first":
        # conflicts of each vertex, counted once per line they share: sum over its lines of (len - 1)
        weight = np.repeat(line_len - 1, line_len)  # per entry of `lines`, in CSR order
        conflicts = np.bincount(lines.indices, weights=weight, minlength=nv)
        return np.argsort(-conflicts, kind="stable")
    return _smallest_last(lines, members)


def _greedy(lines: Any, members: Any, order: np.ndarray) -> np.ndarray:
    """Greedy coloring in ``order``: each line's used colors as one integer bitmask."""
    ptr = members.indptr.tolist()
    idx = members.indices.tolist()
    used = [0] * lines.shape[0]
    colors = [0] * members.shape[0]
    for v in order.tolist():
        own = idx[ptr[v] : ptr[v + 1]]
        taken = 0
        for r in own:
            taken |= used[r]
        bit = ~taken & (taken + 1)  # the lowest color no line of v has used
        for r in own:
            used[r] |= bit
        colors[v] = bit.bit_length() - 1
    return np.asarray(colors, dtype=np.int64)


def _smallest_last(lines: Any, members: Any) -> np.ndarray:
    """Matula & Beck's order on the conflict graph (vertices sharing a line), built explicitly."""
    conflict = (members.astype(np.int32) @ lines.astype(np.int32)).tocsr()
    conflict.setdiag(0)
    conflict.eliminate_zeros()
    ptr, idx = conflict.indptr.tolist(), conflict.indices.tolist()
    nv = conflict.shape[0]
    degree = np.diff(conflict.indptr).tolist()
    buckets: list[set[int]] = [set() for _ in range(max(degree, default=0) + 1)]
    for v, d in enumerate(degree):
        buckets[d].add(v)
    removed = [False] * nv
    out = []
    low = 0
    for _ in range(nv):
        low = max(low - 1, 0)
        while not buckets[low]:
            low += 1
        v = min(buckets[low])  # deterministic: the smallest index among the least connected
        buckets[low].discard(v)
        removed[v] = True
        out.append(v)
        for w in idx[ptr[v] : ptr[v + 1]]:
            if not removed[w]:
                buckets[degree[w]].discard(w)
                degree[w] -= 1
                buckets[degree[w]].add(w)
    return np.asarray(out[::-1], dtype=np.int64)
