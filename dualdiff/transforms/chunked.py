"""Jacobians built chunk by chunk: on executors, and compressed by a coloring of their sparsity.

``dd.jacfwd(f, sparsity=S)`` and ``dd.jacrev(f, sparsity=S)`` come here, and
so does any Jacobian given an ``executor``. A chunk is a block of seed
directions (columns of a seed matrix, or rows of a cotangent matrix):

* dense: the columns ``[s, e)`` of the identity, as :func:`dualdiff.jacfwd`
  always did;
* compressed: the color groups ``[s, e)`` of a :class:`~.coloring.Coloring`,
  the seed of color c being the sum of the unit vectors of its members.

Forward mode runs one batched pass per chunk; reverse mode one recording and
one batched sweep per chunk (serially, all sweeps share one recording; on
an executor each task records f once, since a tape cannot travel). The
compressed result ``B = J @ seeds`` is decompressed exactly: ``J[i, j] =
B[i, color(j)]`` for every (i, j) of the pattern. A nonzero of B that no
pattern entry accounts for means a given pattern missed a nonzero of J, and
raises instead of returning a wrong Jacobian (a miss hidden behind an entry
of the same color cannot be seen: take patterns from
:func:`dualdiff.jacobian_sparsity`, or ``sparsity="auto"``).

>>> import numpy as np, dualdiff as dd
>>> J = dd.jacfwd(lambda x: x[1:] * x[:-1], sparsity="auto")(np.arange(1.0, 5.0))
>>> J.toarray()
array([[2., 1., 0., 0.],
       [0., 3., 2., 0.],
       [0., 0., 4., 3.]])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np

from ..errors import GuardError, scipy_sparse
from ..modes.tree import check_input, leaves, rebuild
from ..program.sparsity import detect
from ..program.tracer import record
from .coloring import Coloring, as_pattern, coloring
from .common import Function, default_chunk, register_chunked, seed_dtype
from .executors import run_tasks
from .forward import _jacobian_tree, _push_forward
from .reverse import vjp

__all__ = ["Seeds", "SparseJacobian", "compressed_jacobian", "dense_jacobian", "jacobian_function"]


class Seeds(NamedTuple):
    """The seed directions ``[start, stop)`` of a chunk: identity columns, or color groups when ``colors`` is set."""

    start: int
    stop: int
    colors: np.ndarray | None = None

    def leaves_for(self, tree: Any) -> list[Any]:
        """The seed of each leaf of ``tree``: its shape plus a trailing axis of ``stop - start`` directions."""
        k = self.stop - self.start
        out, offset = [], 0
        for a in leaves(tree):
            size = int(np.size(a))
            dtype = seed_dtype(a)
            if self.colors is None:
                t = np.zeros((size, k), dtype=dtype)
                lo, hi = max(self.start, offset), min(self.stop, offset + size)
                if lo < hi:
                    t[np.arange(lo - offset, hi - offset), np.arange(lo - self.start, hi - self.start)] = 1
            else:
                own = self.colors[offset : offset + size]
                t = (own[:, None] == np.arange(self.start, self.stop)).astype(dtype)
            out.append(t.reshape(np.shape(a) + (k,)))
            offset += size
        return out

    def text(self) -> str:
        """``directions 8-15`` or ``colors 0-4``, for messages."""
        kind = "directions" if self.colors is None else "colors"
        return f"{kind} {self.start}-{self.stop - 1}" if self.stop - self.start > 1 else f"{kind[:-1]} {self.start}"


def _skeleton(tree: Any) -> Any:
    return rebuild(tree, [None] * len(leaves(tree))) if isinstance(tree, (tuple, list)) else None


def forward_task(f: Function, x: Any, seeds: Seeds) -> tuple[list[Any], Any]:
    """One batched forward pass (a task): each output leaf's tangents (shape + (k,)), and f's output tree."""
    k = seeds.stop - seeds.start
    _, tangents, out = _push_forward(f, x, seeds.leaves_for(x), (k,))
    return [np.asarray(t) for t in tangents], _skeleton(out)


def reverse_task(f: Function, x: Any, chunks: list[Seeds]) -> tuple[list[list[Any]], Any, list[tuple[int, ...]]]:
    """One recording of f and a batched sweep per chunk (a task): each x leaf's cotangents (shape + (k,))."""
    y, pullback = vjp(f, x)
    results = []
    for i, seeds in enumerate(chunks):
        x_bar = pullback._sweep(seeds.leaves_for(y), 1, retain_graph=i < len(chunks) - 1)
        results.append([np.asarray(g) for g in leaves(x_bar)])
    if not chunks:
        pullback.tape.release()
    return results, _skeleton(y), [np.shape(a) for a in leaves(y)]


def _chunks(total: int, k: int, colors: np.ndarray | None) -> list[Seeds]:
    return [Seeds(s, min(s + k, total), colors) for s in range(0, total, k)]


def _size(tree: Any) -> int:
    return sum(int(np.size(a)) for a in leaves(tree))


# --------------------------------------------------------------------------
# dense Jacobians on an executor
# --------------------------------------------------------------------------


def dense_jacobian(f: Function, x: Any, mode: str, chunk: int | None, executor: Any, progress: bool | None) -> Any:
    """f's dense Jacobian at ``x`` (shape ``y.shape + x.shape``), its chunks as tasks on ``executor``."""
    if mode == "forward":
        n = _size(x)
        k = min(chunk or default_chunk(n), max(n, 1))
        chunks = _chunks(n, k, None)
        if not chunks:  # x has no elements: f's output, no pass
            out = f(x)
            cols = [np.zeros(np.shape(o) + (0,)) for o in leaves(out)]
            return rebuild(out, _jacobian_tree(out, x, cols))
        results = run_tasks(
            forward_task,
            [(f, x, c) for c in chunks],
            executor=executor,
            describe=lambda i: chunks[i].text(),
            what="jacfwd",
            progress=progress,
        )
        out = results[0][1]
        per_out = zip(*(r[0] for r in results))
        columns = [np.concatenate(ts, axis=-1) if len(ts) > 1 else ts[0] for ts in per_out]
        return rebuild(out, _jacobian_tree(out, x, columns))
    return _dense_reverse(f, x, chunk, executor, progress)


def _dense_reverse(f: Function, x: Any, chunk: int | None, executor: Any, progress: Any) -> Any:
    m = _size(f(x))  # the chunks are made before any task records f
    k = min(chunk or default_chunk(m), max(m, 1))
    chunks = _chunks(m, k, None)
    blocks, y, shapes = _reverse_blocks(f, x, chunks, executor, progress)
    xl = leaves(x)
    if not chunks:
        per_input = [np.zeros((0,) + np.shape(a)) for a in xl]
    else:
        per_input = [np.concatenate([np.moveaxis(b[j], -1, 0) for b in blocks], axis=0) for j in range(len(xl))]
    out_blocks, offset = [], 0
    for shape in shapes:
        sz = math.prod(shape)
        parts = [np.reshape(p[offset : offset + sz], shape + p.shape[1:]) for p in per_input]
        out_blocks.append(rebuild(x, parts) if isinstance(x, (tuple, list)) else parts[0])
        offset += sz
    return rebuild(y, out_blocks)


def _reverse_blocks(f: Function, x: Any, chunks: list[Seeds], executor: Any, progress: Any) -> tuple[Any, Any, Any]:
    """Cotangent blocks per chunk: one task per chunk on an executor, one recording for all without."""
    if executor is None:
        blocks, y, shapes = reverse_task(f, x, chunks)
        return blocks, y, shapes
    results = run_tasks(
        reverse_task,
        [(f, x, [c]) for c in chunks],
        executor=executor,
        describe=lambda i: chunks[i].text(),
        what="jacrev",
        progress=progress,
    )
    if not results:
        return [], _skeleton(f(x)), [np.shape(a) for a in leaves(f(x))]
    return [r[0][0] for r in results], results[0][1], results[0][2]


# --------------------------------------------------------------------------
# compressed Jacobians
# --------------------------------------------------------------------------


def compressed_jacobian(
    f: Function,
    x: Any,
    pattern: Any,
    col_or_row: Coloring,
    chunk: int | None,
    executor: Any,
    progress: bool | None,
) -> Any:
    """f's Jacobian at ``x`` as a scipy.sparse CSR array, from ``pattern`` compressed by a coloring.

    A column coloring runs forward mode (one direction per color), a row
    coloring reverse mode (one cotangent per color).
    """
    sp = scipy_sparse()
    m, n = pattern.shape
    if _size(x) != n:
        raise ValueError(f"the sparsity pattern has {n:,} columns, but x has {_size(x):,} elements")
    colors = col_or_row.colors.astype(np.int32 if col_or_row.size < 2**31 else np.int64)
    nc = col_or_row.ncolors
    rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(pattern.indptr))
    cols = pattern.indices
    if col_or_row.mode == "column":
        k = min(chunk or default_chunk(n), max(nc, 1))
        chunks = _chunks(nc, k, colors)
        results = run_tasks(
            forward_task,
            [(f, x, c) for c in chunks],
            executor=executor,
            describe=lambda i: chunks[i].text(),
            what="jacfwd (compressed)",
            progress=progress,
        )
        if results:
            _check_rows(sum(int(np.size(t)) for t in results[0][0]) // (chunks[0].stop - chunks[0].start), m)
            b = np.concatenate(
                [
                    np.concatenate([np.reshape(t, (-1, c.stop - c.start)) for t in r[0]], axis=0)
                    for r, c in zip(results, chunks)
                ],
                axis=1,
            )
        else:
            b = np.zeros((m, 0))
        _check_complete(b, rows, colors[cols], "column", nc)
        data = b[rows, colors[cols]]
    else:
        k = min(chunk or default_chunk(m), max(nc, 1))
        chunks = _chunks(nc, k, colors)
        blocks, _, shapes = _reverse_blocks(f, x, chunks, executor, progress)
        _check_rows(sum(math.prod(s) for s in shapes), m)
        if blocks:
            c_mat = np.concatenate(
                [
                    np.concatenate([np.reshape(g, (-1, c.stop - c.start)) for g in blk], axis=0)
                    for blk, c in zip(blocks, chunks)
                ],
                axis=1,
            ).T  # (colors, n)
        else:
            c_mat = np.zeros((0, n))
        _check_complete(c_mat.T, cols, colors[rows], "row", nc)
        data = c_mat[colors[rows], cols]
    return sp.csr_array((data, pattern.indices.copy(), pattern.indptr.copy()), shape=(m, n))


def _check_rows(got: int, m: int) -> None:
    if got != m:
        raise ValueError(f"the sparsity pattern has {m:,} rows, but f's output has {got:,} elements")


def _check_complete(b: np.ndarray, lines: np.ndarray, groups: np.ndarray, mode: str, nc: int) -> None:
    """Every nonzero of the compressed matrix must come from an entry of the pattern."""
    if b.size == 0:
        return
    covered = np.zeros(b.shape, dtype=bool)
    covered[lines, groups] = True
    stray = (b != 0) & ~covered
    if stray.any():
        i, c = np.argwhere(stray)[0]
        where = (
            f"output {i} depends on an input of color {c}"
            if mode == "column"
            else f"input {i} feeds an output of color {c}"
        )
        raise ValueError(
            f"the sparsity pattern misses nonzeros of the Jacobian ({where} that the pattern does not list); "
            "detect the pattern with dd.jacobian_sparsity(f, x), or pass sparsity='auto'"
        )


# --------------------------------------------------------------------------
# the transforms' sparse form: detect or take a pattern, color once, compute
# --------------------------------------------------------------------------


class SparseJacobian:
    """What a sparse Jacobian function keeps per input structure: the pattern, its colorings, the program."""

    def __init__(self, pattern: Any, program: Any = None) -> None:
        self.pattern = pattern
        self.program = program  # kept only when it has guards, to check them at a new x
        self.colorings: dict[str, Coloring] = {}

    def coloring(self, mode: Literal["column", "row"]) -> Coloring:
        """The column or row coloring of the pattern (computed once)."""
        if mode not in self.colorings:
            self.colorings[mode] = coloring(self.pattern, mode=mode)
        return self.colorings[mode]

    def holds_at(self, x: Any) -> bool:
        """Whether x takes the branches the pattern was detected for."""
        if self.program is None:
            return True
        try:
            self.program.evaluate(x)
        except GuardError:
            return False
        return True


def detect_at(f: Function, x: Any) -> SparseJacobian:
    """Record f at x and detect its pattern."""
    prog, _ = record(f, x, checked=True)
    return from_program(prog)


def from_program(prog: Any) -> SparseJacobian:
    """A :class:`SparseJacobian` for a program already recorded."""
    return SparseJacobian(detect(prog).pattern, prog if prog.guards else None)


def jacobian_function(
    f: Function,
    mode: str,
    chunk: int | None,
    sparsity: Any,
    executor: Any,
    progress: bool | None,
) -> Callable[[Any], Any]:
    """The function behind ``jacfwd``/``jacrev`` with ``sparsity=`` or ``executor=``."""
    if sparsity is None:

        def dense(x: Any) -> Any:
            return dense_jacobian(f, check_input("x", x), mode, chunk, executor, progress)

        return dense
    given = None if isinstance(sparsity, str) else SparseJacobian(as_pattern(sparsity))
    if isinstance(sparsity, str) and sparsity != "auto":
        raise ValueError(f"sparsity must be a pattern (scipy.sparse or a 2-D array), 'auto' or None, got {sparsity!r}")
    cache: dict[Any, SparseJacobian] = {}

    def jac(x: Any) -> Any:
        x = check_input("x", x)
        info: SparseJacobian | None
        if given is not None:
            info = given
        else:
            key = tuple((type(a), np.shape(a)) for a in leaves(x))
            info = cache.get(key)
            if info is None or not info.holds_at(x):
                info = cache[key] = detect_at(f, x)
        c = info.coloring("column" if mode == "forward" else "row")
        return compressed_jacobian(f, x, info.pattern, c, chunk, executor, progress)

    return jac


register_chunked(jacobian_function)
