"""When an array operation may write into an existing buffer instead of a new one.

Both modes reuse large temporaries that only they hold (a partial computed
for one step, an adjoint summed by the sweep), because on large arrays a
fresh allocation costs as much as the arithmetic. These checks say when that
is safe: the destination is a plain, writeable ndarray, big enough to be worth
it, and ``dst op v`` would have had ``dst``'s shape and dtype anyway.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import LiftedBase


def fits(dst: Any, v: Any, min_size: int, scatter: bool = False) -> bool:
    """Can ``dst op= v`` (or, with ``scatter``, a scatter of ``v`` into ``dst``) run in place?

    >>> fits(np.zeros(1 << 14), np.ones(1 << 14), 1 << 12)
    True
    >>> fits(np.zeros(3), np.ones((2, 3)), 1)   # the result would be larger
    False
    """
    if type(dst) is not np.ndarray or dst.size < min_size or isinstance(v, LiftedBase) or not dst.flags.writeable:
        return False
    if not scatter:
        vs, ds = np.shape(v), dst.shape
        if len(vs) > len(ds) or any(a != 1 and a != b for a, b in zip(reversed(vs), reversed(ds))):
            return False
    return bool(np.result_type(dst, v) == dst.dtype)
