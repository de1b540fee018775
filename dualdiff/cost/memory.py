"""The memory of reverse mode: how much a tape keeps between recording and sweep."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ..modes.core import LiftedBase as Lifted
from ..modes.tape import ScalarStep1, ScalarStep2, Tape
from ..rules.kinds import Rule
from ..transforms.reverse import vjp

__all__ = ["TapeSize", "tape_of", "tape_size"]


def tape_of(f: Callable[[Any], Any], x: Any) -> Tape:
    """f recorded on a tape at ``x``, unswept: what reverse mode holds before its sweep.

    >>> len(tape_of(lambda x: x * x + 1.0, 2.0))
    2
    """
    _, pullback = vjp(f, x)
    return pullback.tape


class TapeSize(NamedTuple):
    """A tape's length and an estimate of its memory.

    ``value_bytes``: the values it keeps (partials, and what General rules
    store), each object counted once; ``total_bytes`` adds the entries' own
    tuples and lists.

    >>> tape_size(tape_of(lambda x: x * x, 3.0)).entries
    1
    """

    entries: int
    value_bytes: int
    total_bytes: int


def _walk(v: Any, seen: set[int]) -> tuple[int, int]:
    """(value bytes, structure bytes) of one tape entry, whatever its layout.

    Ints are slot indices, signs and shapes; numbers and arrays are values,
    each object counted once; tuples and lists are structure.
    """
    if v is None or isinstance(v, (bool, int, np.integer, str, slice, Rule, type(Ellipsis))) or callable(v):
        return 0, 0
    if isinstance(v, (ScalarStep1, ScalarStep2)):  # a scalar step: its partials are the values
        partials = (v.dx, v.dy) if isinstance(v, ScalarStep2) else (v.dx,)
        return sum(_walk(d, seen)[0] for d in partials), sys.getsizeof(v)
    if isinstance(v, (tuple, list)):
        values, structure = 0, sys.getsizeof(v)
        for e in v:
            a, b = _walk(e, seen)
            values, structure = values + a, structure + b
        return values, structure
    if id(v) in seen:
        return 0, 0
    seen.add(id(v))
    if isinstance(v, np.ndarray):
        if v.dtype == object:
            return v.nbytes + sum(_walk(e, seen)[0] for e in v.ravel()), 0
        return (v.nbytes if v.flags.owndata else 0), 0
    if isinstance(v, Lifted):
        return sys.getsizeof(v) + _walk(v.primal, seen)[0] + _walk(getattr(v, "tangent", None), seen)[0], 0
    return sys.getsizeof(v), 0


def tape_size(tape: Tape) -> TapeSize:
    """Count a tape's entries and estimate the bytes they keep (see :class:`TapeSize`).

    >>> import numpy as np
    >>> tape_size(tape_of(np.sin, np.ones(1000))).value_bytes >= 8000
    True
    """
    entries = tape.entries
    if entries is None:
        raise ValueError("tape_size: the tape was released by a backward sweep; measure it before sweeping")
    seen: set[int] = set()
    values, structure = 0, sys.getsizeof(entries)
    for entry in entries:
        a, b = _walk(entry, seen)
        values, structure = values + a, structure + b
    return TapeSize(len(entries), values, values + structure)
