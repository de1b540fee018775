"""Layer 4: the transforms, forward (:mod:`.forward`), reverse (:mod:`.reverse`) and both (:mod:`.mixed`).

Every transform calls ``f(x)`` with ``x`` as its one argument, as ``jax.grad``
does with a pytree. ``dd.jacobian`` with ``mode="auto"`` lives in the cost
layer (:mod:`dualdiff.cost.choice`), which owns the choice of mode.
"""

from __future__ import annotations

from .common import DEFAULT_CHUNK, default_chunk
from .forward import derivative, jacfwd, jvp
from .mixed import hessian, hvp
from .reverse import Pullback, grad, jacrev, value_and_grad, vjp
from .taylor import derivatives, taylor

__all__ = [
    "DEFAULT_CHUNK",
    "Pullback",
    "default_chunk",
    "derivative",
    "derivatives",
    "grad",
    "hessian",
    "hvp",
    "jacfwd",
    "jacrev",
    "jvp",
    "taylor",
    "value_and_grad",
    "vjp",
]
