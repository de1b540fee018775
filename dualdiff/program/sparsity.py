"""Which inputs each output depends on: a Jacobian's sparsity pattern, read from a program.

:func:`detect` walks a recorded :class:`~dualdiff.program.program.Program`
once, in order, and keeps for every slot a boolean sparse matrix
(the slot's elements x the input elements, in C order, the input leaves one
after the other): entry ``(i, j)`` says that element ``i`` of the slot
depends on input element ``j``. What each equation does to these patterns
is read from its rule:

* **elementwise** rules take the union of their operands' rows, with NumPy
  broadcasting; piecewise-constant rules (sign, floor, ...) depend on
  nothing, and a product with a constant zero factor does not depend on
  the other factor at that element;
* **linear** rules that select elements (getitem, reshape, transpose,
  broadcast_to, diagonal, ...) are applied, through the rule's own ``fn``,
  to an array of element positions, which gives the index map; rules that
  add elements (sum, and the transposes of the selections) get their map
  from the rule's ``transpose`` and act as a sparse matrix product;
  ``cumsum`` is a running union;
* **general** rules have a structure each: contractions (matmul, tensordot,
  einsum) couple the elements they multiply, skipping the zeros of a
  constant operand; ``where`` selects (per element when the condition is a
  constant, both branches when it depends on x); ``concatenate`` stacks;
  ``max``, ``min`` and ``prod`` depend on every reduced element; ``inv``,
  ``solve``, ``det`` and ``log|det|`` couple the matrix axes densely (the
  generic structure of a matrix inverse);
* **functions of values** (comparisons, argmax) carry no derivative.

A rule without a known structure (a general rule registered by a user) is
taken to couple every output element with every input its arguments depend
on: a superset, never a miss; the result says so in its ``notes`` and a
:class:`SparsityWarning` is issued. :func:`register_structure` declares a
structure for such a rule.

The pattern is exact for the control flow recorded (the guards of the
program): it holds the entries that can be nonzero for some x taking the
same branches, so a particular x may have a few more zeros (``abs`` at 0,
``maximum`` of two equal values). Nothing is ever dense in the number of
inputs unless the Jacobian is: a 10^6-input stencil costs a few sparse
operations on 10^6-row matrices.

>>> import numpy as np
>>> S = jacobian_sparsity(lambda x: x[1:] * x[:-1], np.ones(4))
>>> S.toarray().astype(int)
array([[1, 1, 0, 0],
       [0, 1, 1, 0],
       [0, 0, 1, 1]])
"""

from __future__ import annotations

import math
import string
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..errors import scipy_sparse
from ..rules import arrays as ar
from ..rules.elementwise import MUL
from ..rules.kinds import Elementwise, General, Linear, Nondiff, Rule
from ..rules.structural import BROADCAST_TO, GETITEM, RESHAPE, SUM
from .program import Const, Equation, Program
from .tracer import record

__all__ = [
    "Operand",
    "SparsityResult",
    "SparsityWarning",
    "detect",
    "jacobian_sparsity",
    "register_structure",
]

#: A slot's pattern: a boolean ``scipy.sparse.csr_array`` (slot elements x inputs), or None for "depends on nothing".
Pattern = Any


class SparsityWarning(UserWarning):
    """A pattern was widened to dense coupling where no structure is known (see ``notes``)."""


class Operand(NamedTuple):
    """One operand of an equation, as a structure function sees it.

    ``pattern`` is its pattern (None: it depends on no input), ``shape`` its
    shape, ``value`` the value of a constant operand (None for a slot, whose
    value changes with x).
    """

    pattern: Pattern
    shape: tuple[int, ...]
    value: Any

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)


class Context:
    """What a structure function may need besides its operands: the input count and the notes."""

    def __init__(self, n: int) -> None:
        self.sp = scipy_sparse()
        self.n = n
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        """Record that a structure was widened (said once per text)."""
        if text not in self.notes:
            self.notes.append(text)


#: A rule's structure: ``fn(eq, operands, ctx) -> Pattern`` for the equation's output.
Structure = Callable[[Equation, list[Operand], Context], Pattern]

_STRUCTURES: dict[Rule, Structure] = {}


def register_structure(rule: Rule, structure: Structure) -> None:
    """Declare the sparsity structure of ``rule`` (a general or linear rule of your own).

    ``structure(eq, operands, ctx)`` returns the pattern of the equation's
    output from its :class:`Operand` list, with the helpers of this module
    (:func:`take_rows`, :func:`union`, :func:`scatter_rows`,
    :func:`broadcast_index`).

    >>> from dualdiff.rules.arrays import MATMUL
    >>> _STRUCTURES[MATMUL] is not None
    True
    """
    if not isinstance(rule, Rule):
        raise TypeError(f"register_structure needs a Rule, got {type(rule).__name__}")
    if not callable(structure):
        raise TypeError(f"structure must be callable, got {type(structure).__name__}")
    _STRUCTURES[rule] = structure


# --------------------------------------------------------------------------
# patterns: rows taken, added, scattered
# --------------------------------------------------------------------------


def _csr(ctx: Context, indptr: np.ndarray, indices: np.ndarray, rows: int) -> Pattern:
    data = np.ones(len(indices), dtype=bool)
    return ctx.sp.csr_array((data, indices, indptr), shape=(rows, ctx.n))


def take_rows(ctx: Context, p: Pattern, index: Any) -> Pattern:
    """The rows ``index`` of ``p`` (flattened; ``-1`` gives an empty row), or None if all are empty.

    >>> ctx = Context(3)
    >>> p = ctx.sp.csr_array(np.eye(3, dtype=bool))
    >>> take_rows(ctx, p, [2, -1, 0]).toarray().astype(int)
    array([[0, 0, 1],
           [0, 0, 0],
           [1, 0, 0]])
    """
    if p is None:
        return None
    idx = np.asarray(index, dtype=np.int64).ravel()
    if idx.size == p.shape[0] and idx.size and idx[0] == 0 and np.array_equal(idx, np.arange(idx.size)):
        return p  # a reshape, or a copy: the same rows
    indptr = p.indptr
    valid = idx >= 0
    safe = np.where(valid, idx, 0)
    starts = indptr[safe].astype(np.int64)
    lengths = np.where(valid, indptr[safe + 1] - starts, 0)
    new_ptr = np.zeros(idx.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_ptr[1:])
    total = int(new_ptr[-1])
    if total == 0:
        return None
    source = np.repeat(starts - new_ptr[:-1], lengths) + np.arange(total, dtype=np.int64)
    return _csr(ctx, new_ptr, p.indices[source], idx.size)


def union(parts: Sequence[Pattern]) -> Pattern:
    """The elementwise union of patterns of one shape (None: empty)."""
    present = [p for p in parts if p is not None]
    if not present:
        return None
    out = present[0]
    for p in present[1:]:
        out = out + p  # boolean: True + True stays True
    return out


def scatter_rows(ctx: Context, p: Pattern, target: Any, rows: int) -> Pattern:
    """Rows of ``p`` added into ``rows`` new rows: row i goes to ``target[i]`` (``-1``: nowhere).

    The pattern of a sum: a sparse product ``R @ p`` with one entry per row of ``p``.
    """
    if p is None:
        return None
    t = np.asarray(target, dtype=np.int64).ravel()
    keep = t >= 0
    if not keep.any():
        return None
    src = np.flatnonzero(keep)
    r = ctx.sp.csr_array((np.ones(src.size, dtype=bool), (t[keep], src)), shape=(rows, p.shape[0]))
    out = (r @ p).tocsr()
    out.sum_duplicates()
    return out if out.nnz else None


def broadcast_index(shape: tuple[int, ...], out_shape: tuple[int, ...]) -> np.ndarray:
    """For each element of ``out_shape``, the element of ``shape`` that NumPy broadcasting reads.

    >>> broadcast_index((2, 1), (2, 3))
    array([0, 0, 0, 1, 1, 1])
    """
    size = math.prod(shape)
    if tuple(shape) == tuple(out_shape):
        return np.arange(size)
    return np.broadcast_to(np.arange(size).reshape(shape), out_shape).ravel()


def _labels(shape: tuple[int, ...], start: int = 1) -> np.ndarray:
    """Element positions plus ``start`` (0 is left free to mean "no element")."""
    return np.arange(start, start + math.prod(shape), dtype=np.int64).reshape(shape)


def _mask(op: Operand) -> np.ndarray:
    """Where an operand can be nonzero: a constant's nonzeros; everywhere for a slot."""
    if op.value is None:
        return np.ones(op.shape, dtype=bool)
    try:
        return np.asarray(np.asarray(op.value) != 0, dtype=bool).reshape(op.shape)
    except (TypeError, ValueError):
        return np.ones(op.shape, dtype=bool)


def _dense(ctx: Context, eq: Equation, ops: list[Operand], why: str) -> Pattern:
    """Every output element depends on everything the operands depend on (with a note)."""
    ctx.note(why)
    rows = [op.pattern for op in ops if op.pattern is not None]
    if not rows:
        return None
    cols = np.unique(np.concatenate([p.indices for p in rows]))
    size = math.prod(eq.shape)
    indptr = np.arange(size + 1, dtype=np.int64) * cols.size
    return _csr(ctx, indptr, np.tile(cols, size), size)


# --------------------------------------------------------------------------
# elementwise rules
# --------------------------------------------------------------------------


def _elementwise(eq: Equation, ops: list[Operand], ctx: Context) -> Pattern:
    rule = eq.rule
    if rule.piecewise_constant:  # type: ignore[attr-defined]
        return None
    parts = []
    for i, op in enumerate(ops):
        if op.pattern is None:
            continue
        idx = broadcast_index(op.shape, eq.shape)
        if rule is MUL and ops[1 - i].value is not None:
            # d(a*b)/da = b: nothing where a constant factor b is zero
            zero = ~np.broadcast_to(_mask(ops[1 - i]), eq.shape).ravel()
            if zero.any():
                idx = np.where(zero, -1, idx)
        parts.append(take_rows(ctx, op.pattern, idx))
    return union(parts)


# --------------------------------------------------------------------------
# linear rules
# --------------------------------------------------------------------------


def _gather(eq: Equation, ops: list[Operand], ctx: Context) -> Pattern:
    """A selection: the rule's own map applied to element positions is the index map."""
    op = ops[0]
    picked = np.asarray(eq.rule.fn(_labels(op.shape), eq.nbatch, *eq.params))  # type: ignore[attr-defined]
    return take_rows(ctx, op.pattern, picked.astype(np.int64).ravel() - 1)


def _scatter(eq: Equation, ops: list[Operand], ctx: Context) -> Pattern:
    """A sum of elements: its transpose is a selection, which says where each element goes."""
    op = ops[0]
    target = np.asarray(eq.rule.transpose(_labels(eq.shape), op.shape, eq.nbatch, *eq.params))  # type: ignore[attr-defined]
    return scatter_rows(ctx, op.pattern, target.astype(np.int64).ravel() - 1, math.prod(eq.shape))


def _running(reverse: bool) -> Structure:
    """cumsum (and its transpose, the running sum from the other end): a union over a prefix."""

    def structure(eq: Equation, ops: list[Operand], ctx: Context) -> Pattern:
        op = ops[0]
        axis = eq.params[-1]
        shape = op.shape
        length = shape[axis]
        stride = math.prod(shape[axis + 1 :])
        pos = np.arange(op.size).reshape(shape)
        along = np.broadcast_to(np.arange(length).reshape([-1 if i == axis else 1 for i in range(len(shape))]), shape)
        p, d = op.pattern, 1
        while d < length and p is not None:  # doubling: after it, each element holds its whole prefix
            if reverse:
                src = np.where(along < length - d, pos + d * stride, -1)
            else:
                src = np.where(along >= d, pos - d * stride, -1)
            p = union([p, take_rows(ctx, p, src.ravel())])
            d *= 2
        return p

    return structure


def _probe_linear(eq: Equation, ops: list[Operand], ctx: Context) -> Pattern:
    """A linear rule without a declared structure: is its map (or its transpose) a selection?

    Random labels in [1, 2) go through the map: a selection returns labels
    (or zeros) only; any sum or scaling of labels lands outside the set.
    """
    op = ops[0]
    rule = eq.rule
    rng = np.random.default_rng(20240515)
    for use_transpose in (False, True):
        shape_in = eq.shape if use_transpose else op.shape
        labels = 1.0 + rng.random(math.prod(shape_in))
        try:
            if use_transpose:
                got = rule.transpose(labels.reshape(shape_in), op.shape, eq.nbatch, *eq.params)  # type: ignore[attr-defined]
            else:
                got = rule.fn(labels.reshape(shape_in), eq.nbatch, *eq.params)  # type: ignore[attr-defined]
            got = np.asarray(got).ravel()
        except Exception:
            continue
        if np.iscomplexobj(got):
            continue
        order = np.argsort(labels)
        where = np.clip(np.searchsorted(labels[order], got), 0, labels.size - 1)
        hit = labels[order][where] == got
        if not np.all(hit | (got == 0)):
            continue
        idx = np.where(hit, order[where], -1)
        if use_transpose:
            return scatter_rows(ctx, op.pattern, idx, math.prod(eq.shape))
        return take_rows(ctx, op.pattern, idx)
    return _dense(
        ctx,
        eq,
        ops,
        f"{rule.name}: a linear rule whose map is neither a selection nor a sum of elements; "
        "every output element is taken to depend on every input element (dense coupling; register_structure "
        "declares a structure)",
    )


def _linear_structure(rule: Linear) -> Structure:
    """The structure of a built-in linear rule or of the transpose of one."""
    gathers = (GETITEM, RESHAPE, ar.TRANSPOSE, BROADCAST_TO, ar.DIAGONAL, ar.DIAG_EMBED, ar.CONJ)
    if rule in gathers:
        return _gather
    if rule is SUM:
        return _scatter
    if rule is ar.CUMSUM:
        return _running(reverse=False)
    for base in gathers:
        if rule is base._transposed:  # its transpose is the selection
            return _scatter
    if rule is SUM._transposed:
        return _gather
    if rule is ar.CUMSUM._transposed:
        return _running(reverse=True)
    return _probe_linear


# --------------------------------------------------------------------------
# general rules
# --------------------------------------------------------------------------

_LETTERS = [c for c in string.ascii_letters if c not in "ijk"]


def _contraction(ops: list[Operand], subs: Sequence[str], out: str, dims: dict[str, int], ctx: Context) -> Pattern:
    """An einsum: output element e depends on element f of operand i when some term of e's sum
    holds f times factors of the other operands that are not constant zeros."""
    out_shape = tuple(dims[c] for c in out)
    out_size = math.prod(out_shape)
    masks = [_mask(op) for op in ops]
    parts = []
    for i, op in enumerate(ops):
        if op.pattern is None:
            continue
        keep = out + "".join(c for c in subs[i] if c not in out)
        others = [(s, m) for j, (s, m) in enumerate(zip(subs, masks)) if j != i]
        present = set("".join(s for s, _ in others))
        core = "".join(c for c in keep if c in present)
        if others:
            w = np.einsum(",".join(s for s, _ in others) + "->" + core, *(m for _, m in others))
        else:
            w = np.ones((), dtype=bool)
        w = np.reshape(w, tuple(dims[c] if c in present else 1 for c in keep))
        w = np.broadcast_to(w, tuple(dims[c] for c in keep))
        flat = np.flatnonzero(w)
        if flat.size == 0:
            continue
        coords = dict(zip(keep, np.unravel_index(flat, w.shape))) if keep else {}
        e = np.ravel_multi_index([coords[c] for c in out], out_shape) if out else np.zeros(flat.size, np.int64)
        f = np.ravel_multi_index([coords[c] for c in subs[i]], op.shape) if subs[i] else np.zeros(flat.size, np.int64)
        d = ctx.sp.csr_array((np.ones(flat.size, dtype=bool), (e, f)), shape=(out_size, op.size))
        parts.append((d @ op.pattern).tocsr())
    return union(parts)


def _einsum(eq: Equation, ops: list[Operand], ctx: Context) -> Pattern:
    ins, out = eq.params
    dims = {c: s for sub, op in zip(ins, ops) for c, s in zip(sub, op.shape)}
    return _contraction(ops, ins, out, dims, ctx)


def _tensordot(eq: Equation, ops: list[Operand], ctx: Context) -> Pattern:
    a, b = ops
    axes_a, axes_b = eq.params
    la = _LETTERS[: len(a.shape)]
    lb = list(_LETTERS[len(a.shape) : len(a.shape) + len(b.shape)])
    for i, j in zip(axes_a, axes_b):
        lb[j] = la[i]
    out = "".join(c for k, c in enumerate(la) if k not in axes_a) + "".join(
        c for k, c in enumerate(lb) if k not in axes_b
    )
    dims = {c: s for c, s in zip(la, a.shape)} | {c: s for c, s in zip(lb, b.shape)}
    return _contraction(ops, ["".join(la), "".join(lb)], out, dims, ctx)


def _broadcast_operand(ctx: Context, op: Operand, shape: tuple[int, ...]) -> Operand:
    if op.shape == shape:
        return op
    pattern = take_rows(ctx, op.pattern, broadcast_index(op.shape, shape))
    value = None if op.value is None else np.broadcast_to(np.reshape(op.value, op.shape), shape)
    return Operand(pattern, shape, value)


def _matmul(eq: Equation, ops: list[Operand], ctx: Context) -> Pattern:
    a, b = ops
    sa = (1, *a.shape) if len(a.shape) == 1 else a.shape
    sb = (*b.shape, 1) if len(b.shape) == 1 else b.shape
    # vectors as a row and a column: the same elements in the same order
    a = Operand(a.pattern, sa, None if a.value is None else np.reshape(a.value, sa))
    b = Operand(b.pattern, sb, None if b.value is None else np.reshape(b.value, sb))
    batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    a = _broadcast_operand(ctx, a, batch + sa[-2:])
    b = _broadcast_operand(ctx, b, batch + sb[-2:])
    z = "".join(_LETTERS[: len(batch)])
    dims = dict(zip(z + "ik", a.shape)) | dict(zip(z + "kj", b.shape))
    return _contraction([a, b], [z + "ik", z + "kj"], z + "ij", dims, ctx)


def _where(eq: Equation, ops: list[Operand], ctx: Context) -> Pattern:
    cond, a, b = ops
    ia, ib = broadcast_index(a.shape, eq.shape), broadcast_index(b.shape, eq.shape)
    if cond.value is not None:  # a fixed mask: each element takes one branch
        c = np.broadcast_to(np.asarray(cond.value, dtype=bool), eq.shape).ravel()
        ia, ib = np.where(c, ia, -1), np.where(c, -1, ib)
    return union([take_rows(ctx, a.pattern, ia), take_rows(ctx, b.pattern, ib)])


def _concatenate(eq: Equation, ops: list[Operand], ctx: Context) -> Pattern:
    labels, stacked, offset = [], [], 1
    for op in ops:
        if op.pattern is None:
            labels.append(np.zeros(op.shape, dtype=np.int64))
        else:
            labels.append(_labels(op.shape, offset))
            offset += op.size
            stacked.append(op.pattern)
    if not stacked:
        return None
    picked = np.asarray(eq.rule.fn(*labels, *eq.params)).ravel() - 1  # type: ignore[attr-defined]
    whole = stacked[0] if len(stacked) == 1 else ctx.sp.vstack(stacked, format="csr")
    return take_rows(ctx, whole, picked)


def _reduce(ctx: Context, op: Operand, axes: tuple[int, ...], keepdims: bool) -> Pattern:
    """Every element reduced over ``axes`` depends on all of them: ``sum``'s structure."""
    kept = tuple(1 if i in axes else s for i, s in enumerate(op.shape))
    out_shape = kept if keepdims else tuple(s for i, s in enumerate(op.shape) if i not in axes)
    target = SUM.transpose(_labels(out_shape), op.shape, 0, axes, keepdims)
    return scatter_rows(ctx, op.pattern, np.asarray(target).ravel() - 1, math.prod(out_shape))


def _reduction(eq: Equation, ops: list[Operand], ctx: Context) -> Pattern:
    axes, keepdims = eq.params
    return _reduce(ctx, ops[0], tuple(axes), bool(keepdims))


def _coupled(ctx: Context, op: Operand, axes: tuple[int, ...], out_shape: tuple[int, ...]) -> Pattern:
    """Each output element depends on all of ``axes`` of the operand (the rest broadcast)."""
    kept = tuple(1 if i in axes else s for i, s in enumerate(op.shape))
    reduced = _reduce(ctx, op, axes, True)
    return take_rows(ctx, reduced, broadcast_index(kept, out_shape))


def _matrix_axes(op: Operand) -> tuple[int, int]:
    nd = len(op.shape)
    return (nd - 2, nd - 1)


def _inv(eq: Equation, ops: list[Operand], ctx: Context) -> Pattern:
    return _coupled(ctx, ops[0], _matrix_axes(ops[0]), eq.shape)


def _det(eq: Equation, ops: list[Operand], ctx: Context) -> Pattern:
    return _reduce(ctx, ops[0], _matrix_axes(ops[0]), False)


def _solve(eq: Equation, ops: list[Operand], ctx: Context) -> Pattern:
    a, b = ops
    vector = len(b.shape) == 1
    parts = []
    if a.pattern is not None:  # the solution depends on the whole matrix of its batch element
        reduced = _reduce(ctx, a, _matrix_axes(a), True)
        kept = a.shape[:-2] + ((1,) if vector else (1, 1))
        parts.append(take_rows(ctx, reduced, broadcast_index(kept, eq.shape)))
    if b.pattern is not None:  # ... and on the whole column of b it solves for
        parts.append(_coupled(ctx, b, (len(b.shape) - 1,) if vector else (len(b.shape) - 2,), eq.shape))
    return union(parts)


def _general_fallback(eq: Equation, ops: list[Operand], ctx: Context) -> Pattern:
    return _dense(
        ctx,
        eq,
        ops,
        f"{eq.rule.name}: no sparsity structure is known for this general rule; every output element is "
        "taken to depend on every input its arguments depend on (dense coupling; register_structure declares a "
        "structure)",
    )


_STRUCTURES.update(
    {
        ar.MATMUL: _matmul,
        ar.TENSORDOT: _tensordot,
        ar.EINSUM: _einsum,
        ar.WHERE: _where,
        ar.CONCATENATE: _concatenate,
        ar.MAX: _reduction,
        ar.MIN: _reduction,
        ar.PROD: _reduction,
        ar.INV: _inv,
        ar.SOLVE: _solve,
        ar.DET: _det,
        ar.LOGABSDET: _det,
    }
)


def _structure(rule: Rule) -> Structure | None:
    """The structure function of a rule (None: a function of values, no derivative)."""
    found = _STRUCTURES.get(rule)
    if found is not None:
        return found
    if isinstance(rule, Elementwise):
        return _elementwise
    if isinstance(rule, Linear):
        return _linear_structure(rule)
    if isinstance(rule, General):
        return _general_fallback
    if isinstance(rule, Nondiff):
        return None
    raise TypeError(f"no sparsity structure for a rule of kind {type(rule).__name__}: {rule!r}")


# --------------------------------------------------------------------------
# the walk
# --------------------------------------------------------------------------


@dataclass
class SparsityResult:
    """A detected pattern and how it was found.

    ``pattern`` is a boolean ``scipy.sparse.csr_array`` of shape (m, n) for
    the flattened output and input leaves; ``notes`` says where a structure
    had to be widened to dense coupling (empty when every rule's structure
    was known).
    """

    pattern: Any
    notes: tuple[str, ...]
    f_name: str

    @property
    def shape(self) -> tuple[int, int]:
        """(m, n): output elements by input elements."""
        return self.pattern.shape

    @property
    def nnz(self) -> int:
        """Number of structural nonzeros."""
        return int(self.pattern.nnz)

    def __str__(self) -> str:
        m, n = self.shape
        density = self.nnz / (m * n) if m * n else 0.0
        text = f"Jacobian sparsity of {self.f_name}: {m:,} x {n:,}, {self.nnz:,} nonzeros ({density:.3g} of all)"
        if self.notes:
            text += "\n" + "\n".join(f"  note: {t}" for t in self.notes)
        return text


def detect(prog: Program) -> SparsityResult:
    """The sparsity pattern of a recorded program's Jacobian (see the module text).

    >>> import numpy as np, dualdiff as dd
    >>> prog = dd.wengert(lambda x: np.cumsum(x), np.ones(3))
    >>> detect(prog).pattern.toarray().astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 1, 1]])
    """
    sizes = [math.prod(a.shape) for a in prog.in_avals]
    n = sum(sizes)
    ctx = Context(n)
    patterns: list[Pattern] = [None] * prog.n_slots
    shapes: list[tuple[int, ...]] = [a.shape for a in prog.in_avals] + [eq.shape for eq in prog.equations]
    offset = 0
    for slot, size in enumerate(sizes):
        indptr = np.arange(size + 1, dtype=np.int64)
        patterns[slot] = _csr(ctx, indptr, np.arange(offset, offset + size, dtype=np.int64), size)
        offset += size
    outputs = prog.output_atoms()
    last_use = _last_uses(prog, outputs)
    for k, eq in enumerate(prog.equations):
        structure = _structure(eq.rule)
        if structure is not None:
            ops = [_operand(a, patterns, shapes) for a in eq.inputs]
            if any(op.pattern is not None for op in ops):
                p = structure(eq, ops, ctx)
                if p is not None and p.shape != (math.prod(eq.shape), n):
                    raise AssertionError(f"sparsity of {eq.rule.name}: pattern of shape {p.shape} for {eq.shape}")
                patterns[eq.out] = p
        for a in eq.inputs:
            if type(a) is int and last_use.get(a) == k:
                patterns[a] = None  # no later equation reads it: free it
    pattern = _assemble(ctx, outputs, patterns, shapes)
    if ctx.notes:
        warnings.warn(
            "the Jacobian pattern was widened to dense coupling where no structure is known: " + "; ".join(ctx.notes),
            SparsityWarning,
            stacklevel=3,
        )
    return SparsityResult(pattern, tuple(ctx.notes), prog.f_name)


def _operand(a: Any, patterns: list[Pattern], shapes: list[tuple[int, ...]]) -> Operand:
    if type(a) is int:
        return Operand(patterns[a], shapes[a], None)
    assert isinstance(a, Const)
    return Operand(None, tuple(np.shape(a.value)), a.value)


def _last_uses(prog: Program, outputs: list[Any]) -> dict[int, int]:
    last: dict[int, int] = {}
    for k, eq in enumerate(prog.equations):
        for a in eq.inputs:
            if type(a) is int:
                last[a] = k
    for a in outputs:
        if type(a) is int:
            last[a] = len(prog.equations)  # kept to the end
    return last


def _assemble(ctx: Context, outputs: list[Any], patterns: list[Pattern], shapes: list[tuple[int, ...]]) -> Any:
    blocks = []
    for a in outputs:
        rows = math.prod(shapes[a]) if type(a) is int else int(np.size(a.value))
        p = patterns[a] if type(a) is int else None
        blocks.append(ctx.sp.csr_array((rows, ctx.n), dtype=bool) if p is None else p)
    if not blocks:
        return ctx.sp.csr_array((0, ctx.n), dtype=bool)
    out = blocks[0] if len(blocks) == 1 else ctx.sp.vstack(blocks, format="csr")
    out = ctx.sp.csr_array(out, dtype=bool)
    out.sum_duplicates()
    out.sort_indices()
    return out


def jacobian_sparsity(f: Callable[[Any], Any], x: Any, *, explain: bool = False) -> Any:
    """The sparsity pattern of f's Jacobian at ``x``, from f's recorded program.

    Returns a boolean ``scipy.sparse.csr_array`` of shape (m, n), for f's
    output and ``x`` flattened (leaves one after the other, C order):
    entry (i, j) is True when output i can depend on input j under the
    control flow taken at ``x``. ``explain=True`` returns a
    :class:`SparsityResult` instead (pattern and notes). Needs SciPy
    (the ``sparse`` extra).

    >>> import numpy as np, dualdiff as dd
    >>> S = dd.jacobian_sparsity(lambda x: np.sin(x) * x[0], np.ones(3))
    >>> S.toarray().astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 0, 1]])
    """
    if not callable(f):
        raise TypeError(f"jacobian_sparsity needs a callable f, got {type(f).__name__}: {f!r:.80}")
    scipy_sparse()  # fail before recording when SciPy is missing
    prog, _ = record(f, x)
    result = detect(prog)
    return result if explain else result.pattern
