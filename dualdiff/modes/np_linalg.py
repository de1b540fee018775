"""NumPy's linear algebra on lifted values: inverses, solves, determinants, norms.

``inv``, ``solve``, ``det`` and ``log|det|`` are general rules with their
standard derivative formulas; norms are compositions of sums, ``abs``,
``max``/``min`` and roots.

>>> import numpy as np, dualdiff as dd
>>> dd.grad(np.linalg.det)(np.eye(2))
array([[1., 0.],
       [0., 1.]])
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..errors import NoRuleError
from ..rules import arrays as ar
from ..rules.elementwise import ABS, POW, SQRT0, SQUARE
from ..rules.structural import SUM
from .core import apply1, apply2, apply_general, apply_linear, strip_all
from .np_common import _as_operand, _ndim, _one_axis, _real_only, _shape
from .np_shaping import squeeze


def _square_matrices(name: str, a: Any) -> None:
    s = _shape(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise np.linalg.LinAlgError(f"{name}: last 2 dimensions of the array must be square, got shape {s}")


def inv(a: Any) -> Any:
    """``np.linalg.inv``: the general rule ``inv``."""
    _square_matrices("np.linalg.inv", a)
    return apply_general(ar.INV, (a,))


def solve(a: Any, b: Any) -> Any:
    """``np.linalg.solve``: the general rule ``solve``."""
    _square_matrices("np.linalg.solve", a)
    return apply_general(ar.SOLVE, (_as_operand(a), _as_operand(b)))


def det(a: Any) -> Any:
    """``np.linalg.det``: the general rule ``det``."""
    _square_matrices("np.linalg.det", a)
    return apply_general(ar.DET, (a,))


class SlogdetResult(NamedTuple):
    """``(sign, logabsdet)`` as ``np.linalg.slogdet`` returns; the sign is a constant."""

    sign: Any
    logabsdet: Any


def slogdet(a: Any) -> SlogdetResult:
    """``np.linalg.slogdet`` of real matrices: the sign (constant) and the rule ``logabsdet``."""
    _square_matrices("np.linalg.slogdet", a)
    _real_only("np.linalg.slogdet", a)
    sign = np.linalg.slogdet(strip_all(a))[0]
    return SlogdetResult(sign, apply_general(ar.LOGABSDET, (a,)))


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """``np.linalg.norm`` of real arrays, composed from sums, abs, max and sqrt.

    Vector norms: any ``ord`` but 0 (whose derivative is zero: it is returned
    as a constant). Matrix norms: ``'fro'``, 1, -1, inf, -inf; the spectral
    and nuclear norms need an SVD rule, which dualdiff lacks.
    """
    _real_only("np.linalg.norm", x)
    n = _ndim(x)
    if axis is None:
        if ord is None or (ord == "fro" and n == 2):
            return _two_norm(x, tuple(range(n)), keepdims)
        if n == 1:
            axes: tuple[int, ...] = (0,)
        elif n == 2:
            axes = (0, 1)
        else:
            raise ValueError("Improper number of dimensions to norm.")
    else:
        axes = tuple(_one_axis(a, n) for a in ((axis,) if isinstance(axis, (int, np.integer)) else axis))
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError("Improper number of dimensions to norm.")


def _two_norm(x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    # sqrt0: the norm of zeros has derivative 0 (a cone's tip), as hypot at the origin
    return apply1(SQRT0, apply_linear(SUM, apply1(SQUARE, x), axes, keepdims))


def _vector_norm(x: Any, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    if ord is None or ord == 2:
        return _two_norm(x, axes, keepdims)
    if ord == 0:  # the number of nonzeros: piecewise constant
        return np.linalg.norm(strip_all(x), 0, axes[0], keepdims)
    ax = apply1(ABS, x)
    if ord == np.inf:
        return apply_general(ar.MAX, (ax,), (axes, keepdims))
    if ord == -np.inf:
        return apply_general(ar.MIN, (ax,), (axes, keepdims))
    if ord == 1:
        return apply_linear(SUM, ax, axes, keepdims)
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    return apply2(POW, apply_linear(SUM, apply2(POW, ax, ord), axes, keepdims), 1.0 / ord)


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    row, col = axes
    if ord is None or ord == "fro":
        return _two_norm(x, axes, keepdims)
    if ord in (2, -2, "nuc"):
        raise NoRuleError(f"np.linalg.norm with ord={ord!r} of a matrix needs an SVD, which has no rule in dualdiff")
    if ord in (1, -1, np.inf, -np.inf):
        summed, over = (row, col) if ord in (1, -1) else (col, row)
        s = apply_linear(SUM, apply1(ABS, x), (summed,), True)
        r = apply_general(ar.MAX if ord > 0 else ar.MIN, (s,), ((over,), True))
        if not keepdims:
            r = squeeze(r, axes)
        return r
    raise ValueError(f"Invalid norm order {ord!r} for matrices")
