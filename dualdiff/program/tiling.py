"""Regions of a program that run in cache-sized tiles.

NumPy evaluates one operation over a whole array, then the next: on large
arrays every step streams its operands through main memory, and each
temporary is a fresh allocation. A tangent or adjoint program has two to
three times the steps of f, so done that way it costs two to three times
f's memory traffic, and holds several full-size temporaries at once.

A run of elementwise steps over arrays of one large shape has no such
need: each row depends on the same row of the operands only. So the code
generator runs such a *region* as a loop over tiles of rows (a few thousand
elements each): every temporary of a tile stays in cache, and only the
region's inputs and what leaves it are full-size arrays. Full sums of
region values (``np.sum``, the last step of most objective functions) are
accumulated tile by tile. In the reverse sweep the region's values are
recomputed tile by tile (they were never stored) and its adjoints are
written, tile by tile, straight into the adjoints of its inputs.

This module only finds the regions; :mod:`dualdiff.program.codegen` writes
their loops. Only large regions are tiled (arrays of at least
``TILE_MIN`` elements, at least ``MIN_STEPS`` elementwise steps), so small
arrays run exactly the operations of eager mode; a tiled sum adds its tiles'
partial sums, which rounds differently from one pairwise sum of the whole
array (within a few units of the last place of the sum of magnitudes).

>>> import numpy as np, dualdiff as dd
>>> from dualdiff.program.codegen import Analysis
>>> rosen = lambda x: np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
>>> [type(item).__name__ for item in schedule(Analysis(dd.wengert(rosen, np.ones(100_000))))]
['Equation', 'Equation', 'Equation', 'Region']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..rules.backends import NUMPY
from ..rules.kinds import Elementwise
from ..rules.structural import GETITEM, SUM
from .program import Equation

#: Elements in one tile (64 KiB of float64): every temporary of a tile stays in cache.
TILE_ELEMENTS = 8192
#: Arrays smaller than this are never tiled.
TILE_MIN = 1 << 16
#: Regions with fewer elementwise steps are not worth a loop.
MIN_STEPS = 3


@dataclass(eq=False)
class Region:
    """Elementwise steps over arrays of ``shape``, run as a loop over tiles of ``rows`` rows.

    ``members`` are the elementwise steps in program order; ``sinks`` the full
    sums of member values, accumulated tile by tile; ``hoisted`` the views
    (basic indexing) inside the region's span, computed before the loop;
    ``inputs`` the slots from outside that members read, ``"sliced"``
    (shaped like the region: one tile at a time) or ``"whole"`` (broadcast
    along the rows); ``escaping`` the members read after the region (or
    returned), written into full-size arrays.
    """

    shape: tuple[int, ...]
    dtype: Any
    members: list[Equation] = field(default_factory=list)
    sinks: list[Equation] = field(default_factory=list)
    hoisted: list[Equation] = field(default_factory=list)
    inputs: dict[int, str] = field(default_factory=dict)
    escaping: list[int] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Rows per tile."""
        row = int(np.prod(self.shape[1:])) if len(self.shape) > 1 else 1
        return max(1, TILE_ELEMENTS // max(row, 1))

    @property
    def slots(self) -> set[int]:
        return {eq.out for eq in self.members}

    def __repr__(self) -> str:
        return (
            f"<Region of {len(self.members)} steps over {self.dtype}{list(self.shape)}, "
            f"{len(self.sinks)} sum(s), tiles of {self.rows} rows>"
        )


def _mode(shape: tuple[int, ...], region: tuple[int, ...]) -> str | None:
    """How an operand of ``shape`` is read by a region of shape ``region``: per tile, whole, or not at all."""
    if shape == region:
        return "sliced"
    if len(shape) < len(region) or (len(shape) == len(region) and shape[0] == 1):
        try:
            if tuple(np.broadcast_shapes(shape, region)) == region:
                return "whole"
        except ValueError:
            return None
    return None


def _is_full_sum(eq: Equation, ndim: int) -> bool:
    if eq.rule is not SUM or eq.nbatch or len(eq.params) != 2:
        return False
    axis, keepdims = eq.params
    if keepdims:
        return False
    if axis is None:
        return True
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return sorted(int(a) % ndim for a in axes) == list(range(ndim))


def _basic_view(eq: Equation) -> bool:
    if eq.rule is not GETITEM or eq.nbatch or type(eq.inputs[0]) is not int:
        return False
    index = eq.params[0]
    items = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(i, (np.ndarray, list, tuple)) for i in items)


def schedule(an: Any) -> list[Any]:
    """The program's equations in order, with each tileable region replaced by one :class:`Region`.

    Views inside a region's span are moved before it (they cost nothing and
    read nothing the region computes).
    """
    prog = an.prog
    eqs = prog.equations
    guarded = {g.slot for g in prog.guards}
    out: list[Any] = []
    pending: list[Equation] = []  # equations of the region being grown, in order
    region: Region | None = None

    def member_ok(eq: Equation, r: Region) -> bool:
        rule = eq.rule
        if not isinstance(rule, Elementwise) or eq.out in guarded:
            return False
        if an.backends[eq.out - an.n] is not NUMPY:
            return False
        v = an.values[eq.out]
        if type(v) is not np.ndarray or v.shape != r.shape or v.dtype != r.dtype:
            return False
        members = r.slots
        sinks = {s.out for s in r.sinks}
        for a in eq.inputs:
            if isinstance(a, int):
                if a in members:
                    continue
                if a in sinks:
                    return False  # a partial sum is complete only after the loop
                mode = _mode(an.shapes[a], r.shape)
                if mode is None or (mode == "whole" and an.active[a]):
                    return False  # active inputs must be read tile by tile (their adjoints are written so)
            else:
                if _mode(tuple(np.shape(a.value)), r.shape) is None:
                    return False
        return True

    def close() -> None:
        nonlocal region, pending
        if region is not None and len(region.members) >= MIN_STEPS:
            _finish(an, region)
            out.extend(region.hoisted)  # pending holds nothing but members, sums and these views
            out.append(region)
        elif pending:
            out.extend(pending)
        region, pending = None, []

    for eq in eqs:
        if region is not None:
            if member_ok(eq, region):
                region.members.append(eq)
                pending.append(eq)
                continue
            if _is_full_sum(eq, len(region.shape)) and eq.inputs[0] in region.slots:
                region.sinks.append(eq)
                pending.append(eq)
                continue
            if _basic_view(eq) and eq.inputs[0] not in region.slots and eq.out not in guarded:
                region.hoisted.append(eq)
                pending.append(eq)
                continue
            close()
        v = an.values[eq.out]
        if (
            isinstance(eq.rule, Elementwise)
            and type(v) is np.ndarray
            and v.ndim >= 1
            and v.size >= TILE_MIN
            and v.dtype.kind in "fc"
        ):
            candidate = Region(tuple(v.shape), v.dtype)
            if member_ok(eq, candidate):
                region = candidate
                region.members.append(eq)
                pending = [eq]
                continue
        out.append(eq)
    close()
    return out


def _finish(an: Any, r: Region) -> None:
    """Work out a region's inputs and the members that leave it."""
    members = r.slots
    inside = members | {s.out for s in r.sinks}
    for eq in r.members:
        for a in eq.inputs:
            if type(a) is int and a not in members:
                r.inputs[a] = _mode(an.shapes[a], r.shape) or "whole"
    hoisted = {e.out for e in r.hoisted}
    read_after: set[int] = set()
    for eq in an.prog.equations:
        if eq.out in inside or eq.out in hoisted:
            continue
        read_after.update(a for a in eq.inputs if type(a) is int)
    read_after.update(a for a in an.prog.output_atoms() if type(a) is int)
    r.escaping = [eq.out for eq in r.members if eq.out in read_after]


def sliced_constant(value: Any, shape: tuple[int, ...]) -> bool:
    """Whether a constant operand is read one tile at a time (it is shaped like the region)."""
    return isinstance(value, np.ndarray) and _mode(tuple(value.shape), shape) == "sliced"


__all__ = ["MIN_STEPS", "TILE_ELEMENTS", "TILE_MIN", "Region", "schedule", "sliced_constant"]
