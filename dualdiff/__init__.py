"""dualdiff: exact derivatives of Python and NumPy code, forward and reverse mode.

>>> import numpy as np, dualdiff as dd
>>> dd.jvp(lambda x: x * x, 3.0, 1.0)
(9.0, 6.0)
>>> dd.grad(lambda x: np.sum(np.sin(x)))(np.zeros(2))
array([1., 1.])
"""

from __future__ import annotations

from . import functions as _functions
from . import numpy_api as _numpy_api  # noqa: F401  (registers the array rules into the table)
from .cost import CostReport, compare
from .dual import Dual
from .errors import DomainError, NoRuleError
from .functions import *  # noqa: F403  (sin, cos, exp, ... one per rule)
from .tape import ReleasedTapeError, Tape, Var
from .trace import Trace, trace
from .transforms import (
    choose_mode,
    default_chunk,
    derivative,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)

__version__ = "0.1.0"

__all__ = [
    "CostReport",
    "Dual",
    "DomainError",
    "NoRuleError",
    "ReleasedTapeError",
    "Tape",
    "Trace",
    "Var",
    "choose_mode",
    "default_chunk",
    "compare",
    "derivative",
    "grad",
    "hessian",
    "hvp",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "trace",
    "value_and_grad",
    "vjp",
    *_functions.__all__,
]
