"""Layer 4: the transforms, forward (:mod:`.forward`), reverse (:mod:`.reverse`) and both (:mod:`.mixed`).

Every transform calls ``f(x)`` with ``x`` as its one argument, as ``jax.grad``
does with a pytree. ``dd.jacobian`` with ``mode="auto"`` lives in the cost
layer (:mod:`dualdiff.cost.choice`), which owns the choice of mode.
"""

from __future__ import annotations

from .check import check_grads
from .chunked import SparseJacobian  # also installs the sparse and executor Jacobians
from .coloring import Coloring, coloring
from .common import DEFAULT_CHUNK, default_chunk
from .compiled import Compiled, compile
from .custom import custom_jvp, custom_vjp, stop_gradient
from .executors import JacobianTaskError, ShippingError
from .forward import derivative, jacfwd, jvp
from .mixed import hessian, hvp
from .reverse import Pullback, grad, jacrev, value_and_grad, vjp
from .taylor import derivatives, taylor

__all__ = [
    "DEFAULT_CHUNK",
    "Coloring",
    "Compiled",
    "JacobianTaskError",
    "Pullback",
    "ShippingError",
    "SparseJacobian",
    "check_grads",
    "coloring",
    "compile",
    "custom_jvp",
    "custom_vjp",
    "default_chunk",
    "derivative",
    "derivatives",
    "grad",
    "hessian",
    "hvp",
    "jacfwd",
    "jacrev",
    "jvp",
    "stop_gradient",
    "taylor",
    "value_and_grad",
    "vjp",
]
