"""More functions of values (``Nondiff`` rules): positions, orders and counts.

Like :mod:`.values`, their outputs carry no derivative: the modes apply
them to primal values, and a recorded program keeps each as an equation, so
an index computed from them is checked again at every new point.

>>> VALUE_FUNCTIONS_MORE[np.argpartition].fn(np.array([3.0, 1.0, 2.0]), 0, ())
array([1, 2, 0])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .kinds import Nondiff
from .values import _function_rule

#: NumPy functions of values beyond :data:`.values.VALUE_FUNCTIONS`, with their arity.
VALUE_FUNCTIONS_MORE: dict[Any, Nondiff] = {
    f: _function_rule(f, nin)
    for f, nin in (
        (np.argpartition, 2),
        (np.searchsorted, 2),
        (np.digitize, 2),
        (np.isreal, 1),
        (np.iscomplex, 1),
        (np.isposinf, 1),
        (np.isneginf, 1),
        (np.linalg.matrix_rank, 1),
    )
}


def slogdet_sign(a: Any) -> Any:
    """The sign of a determinant, as ``np.linalg.slogdet`` finds it (no overflow where ``det`` would).

    >>> float(slogdet_sign(np.array([[0.0, 1.0], [1.0, 0.0]])))
    -1.0
    """
    return np.linalg.slogdet(a)[0]


#: The sign half of ``np.linalg.slogdet``: constant, but a recorded program checks it again.
SLOGDET_SIGN = _function_rule(slogdet_sign, 1)

__all__ = ["SLOGDET_SIGN", "VALUE_FUNCTIONS_MORE", "slogdet_sign"]
