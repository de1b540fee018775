"""Layer 3: the Wengert list as data (:func:`wengert`, :class:`Program`).

One recording that every analysis reads: evaluation traces, the cost model,
compiled derivatives and sparsity detection. Imports point down only
(to :mod:`dualdiff.modes` and :mod:`dualdiff.rules`).
"""

from __future__ import annotations

from .linear import record_linear, transpose_linear
from .program import ArrayOutput, Atom, Aval, Const, Equation, Guard, Program, apply_equation, aval_of
from .tracer import Tracer, record, wengert

__all__ = [
    "ArrayOutput",
    "Atom",
    "Aval",
    "Const",
    "Equation",
    "Guard",
    "Program",
    "Tracer",
    "apply_equation",
    "aval_of",
    "record",
    "record_linear",
    "transpose_linear",
    "wengert",
]
