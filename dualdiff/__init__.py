"""dualdiff: exact derivatives of Python and NumPy code, forward and reverse mode.

>>> import numpy as np, dualdiff as dd
>>> dd.jvp(lambda x: x * x, 3.0, 1.0)
(9.0, 6.0)
>>> dd.grad(lambda x: np.sum(np.sin(x)))(np.zeros(2))
array([1., 1.])

The package is layered, imports pointing down: :mod:`dualdiff.rules` (the
rule table, mathematics only) -> :mod:`dualdiff.notation` ->
:mod:`dualdiff.modes` (Dual, the tape) -> :mod:`dualdiff.program` (the
Wengert list) -> :mod:`dualdiff.transforms` -> :mod:`dualdiff.cost` ->
:mod:`dualdiff.present` -> :mod:`dualdiff.cli`. This module is the public
API, nothing else.
"""

from __future__ import annotations

from .cost import CostReport, Weights, choose_mode, compare, jacobian
from .errors import DomainError, GuardError, NoRuleError
from .modes.dual import Dual
from .modes.functions import (
    abs,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    cbrt,
    ceil,
    cos,
    cosh,
    erf,
    erfc,
    exp,
    exp2,
    expm1,
    floor,
    hypot,
    ln,
    log,
    log1p,
    log2,
    log10,
    maximum,
    minimum,
    power,
    reciprocal,
    relu,
    round,
    sigmoid,
    sign,
    sin,
    sinh,
    softplus,
    sqrt,
    square,
    tan,
    tanh,
)
from .modes.tape import ReleasedTapeError, Tape, Var
from .present.trace import Trace, trace
from .program import Const, Equation, Guard, Program, wengert
from .transforms import (
    Compiled,
    compile,
    default_chunk,
    derivative,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)

__version__ = "0.1.0"

__all__ = [
    "Compiled",
    "Const",
    "CostReport",
    "DomainError",
    "Dual",
    "Equation",
    "Guard",
    "GuardError",
    "NoRuleError",
    "Program",
    "ReleasedTapeError",
    "Tape",
    "Trace",
    "Var",
    "Weights",
    "abs",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "cbrt",
    "ceil",
    "choose_mode",
    "compare",
    "compile",
    "cos",
    "cosh",
    "default_chunk",
    "derivative",
    "erf",
    "erfc",
    "exp",
    "exp2",
    "expm1",
    "floor",
    "grad",
    "hessian",
    "hvp",
    "hypot",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "ln",
    "log",
    "log1p",
    "log2",
    "log10",
    "maximum",
    "minimum",
    "power",
    "reciprocal",
    "relu",
    "round",
    "sigmoid",
    "sign",
    "sin",
    "sinh",
    "softplus",
    "sqrt",
    "square",
    "tan",
    "tanh",
    "trace",
    "value_and_grad",
    "vjp",
    "wengert",
]
