"""Layer 4: the transforms, forward (:mod:`.forward`), reverse (:mod:`.reverse`) and both (:mod:`.mixed`).

Every transform calls ``f(x)`` with ``x`` as its one argument, as ``jax.grad``
does with a pytree. ``dd.jacobian`` with ``mode="auto"`` lives in the cost
layer (:mod:`dualdiff.cost.choice`), which owns the choice of mode.
"""

from __future__ import annotations

from .common import DEFAULT_CHUNK, default_chunk
from .compiled import Compiled, compile
from .forward import derivative, jacfwd, jvp
from .mixed import hessian, hvp
from .reverse import Pullback, grad, jacrev, value_and_grad, vjp

__all__ = [
    "DEFAULT_CHUNK",
    "Compiled",
    "Pullback",
    "compile",
    "default_chunk",
    "derivative",
    "grad",
    "hessian",
    "hvp",
    "jacfwd",
    "jacrev",
    "jvp",
    "value_and_grad",
    "vjp",
]
