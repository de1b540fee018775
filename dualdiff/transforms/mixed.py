"""Both modes together: the Hessian and Hessian-vector products (forward over reverse)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .arguments import ArgNums, check_argnums
from .common import Function, P, check_f
from .forward import jacfwd, jvp
from .reverse import grad


def hessian(
    f: Callable[P, Any], chunk: int | None = None, *, argnums: ArgNums = 0, has_aux: bool = False
) -> Callable[P, Any]:
    """The Hessian of scalar-valued ``f``: forward mode over reverse mode.

    Shape ``x.shape + x.shape``; costs ``ceil(n / chunk)`` forward-over-reverse
    passes. ``argnums`` and ``has_aux`` work as in ``jax.hessian``
    (:mod:`dualdiff.transforms.arguments`); a tuple of argnums gives the
    blocks ``((H00, H01), (H10, H11))``.

    >>> import numpy as np, dualdiff as dd
    >>> dd.hessian(lambda x: x[0] ** 2 * x[1])(np.array([1.0, 2.0]))
    array([[4., 2.],
           [2., 0.]])
    """
    check_f(f, "hessian")
    check_argnums(argnums, has_aux, "hessian")
    return jacfwd(grad(f, argnums=argnums, has_aux=has_aux), chunk, argnums=argnums, has_aux=has_aux)


def hvp(f: Function, x: Any, v: Any) -> Any:
    """Hessian-vector product ``H(x) @ v`` of scalar-valued ``f``, in one pass.

    Forward mode over reverse: a jvp of the gradient, never the full Hessian.

    >>> import numpy as np, dualdiff as dd
    >>> dd.hvp(lambda x: np.sum(x ** 3), np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    array([6., 0.])
    """
    check_f(f, "hvp")
    return jvp(grad(f), x, v)[1]
