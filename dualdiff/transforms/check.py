"""``check_grads``: forward mode, reverse mode and finite differences, checked against each other.

For a rule or a custom derivative of your own: ``dd.check_grads(f, x)``
draws random directions ``v`` (shaped like x) and cotangents ``u`` (shaped
like f(x)) and checks

* forward mode: ``J v`` from :func:`~dualdiff.jvp` against central finite
  differences of ``f`` along ``v``;
* reverse mode: ``<J^T u, v>`` from :func:`~dualdiff.vjp` against
  ``<u, J v>`` by finite differences (the dot-product test, with the real
  part of the unconjugated pairing for complex values), and against forward
  mode when both modes are checked;
* ``order=2``: the same checks applied to the derivative functions
  ``x -> J(x) v`` (forward mode) and ``x -> J(x)^T u`` (reverse mode), so
  forward over forward, reverse over forward, forward over reverse and
  reverse over reverse are all compared with finite differences.

The finite differences are central differences with one Richardson step
(error O(h^4)). The step is chosen per dtype, ``h = eps^(1/5)``, and is
relative: each element of a direction is scaled by the size of the element
of x it moves (``|x_i|``, or 1 where x_i is 0), so a point near a
singularity is probed at its own scale. The tolerance adds the rounding
noise of the differences (``eps |f| / h``) to ``rtol`` times the size of the
derivative. A failure raises ``AssertionError`` saying which check, at which
order, disagrees by how much.

>>> import numpy as np, dualdiff as dd
>>> dd.check_grads(lambda x: np.sin(x) * x[0], np.array([0.5, 1.0]), order=2)
>>> try:
...     dd.check_grads(dd.sqrt, 2.0, modes=("fwd",), eps=1e-30)
... except ValueError as e:
...     print(str(e)[:46])
check_grads: eps must be a positive step large
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeAlias

import mpmath
import numpy as np

from ..modes.core import strip_all
from ..modes.tree import check_input, leaves, rebuild
from .common import check_f
from .forward import jvp
from .reverse import vjp

__all__ = ["check_grads"]

_MODES = {"fwd": "fwd", "forward": "fwd", "rev": "rev", "reverse": "rev"}
#: A mode :func:`check_grads` checks (the short and the long names).
CheckMode: TypeAlias = Literal["fwd", "rev", "forward", "reverse"]


def check_grads(
    f: Callable[[Any], Any],
    x: Any,
    order: int = 1,
    modes: CheckMode | Sequence[CheckMode] = ("fwd", "rev"),
    *,
    eps: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
) -> None:
    """Check ``f``'s derivatives at ``x`` in forward and reverse mode against finite differences.

    ``order`` is 1 or 2; ``modes`` any of ``"fwd"`` and ``"rev"``. ``eps``
    is the finite-difference step relative to x (default per dtype, see the module), ``rtol``
    and ``atol`` the tolerances (default 1e-6 and 1e-9 for float64, 1e-3
    and 1e-5 for float32, about a third of the digits for mpmath numbers);
    ``seed`` fixes the random directions. Returns None; raises
    ``AssertionError`` naming the mode, the order and the discrepancy.

    >>> import dualdiff as dd
    >>> dd.check_grads(lambda x: x[0] * dd.exp(x[1]), (2.0, 0.5), order=2)
    """
    check_f(f, "check_grads")
    if order not in (1, 2) or isinstance(order, bool):
        raise ValueError(f"check_grads: order must be 1 or 2, got {order!r}")
    if isinstance(modes, str):
        modes = (modes,)
    unknown = [m for m in modes if m not in _MODES]
    if unknown or not modes:
        raise ValueError(f"check_grads: modes must be a non-empty subset of ('fwd', 'rev'), got {tuple(modes)!r}")
    picked = tuple(dict.fromkeys(_MODES[m] for m in modes))
    x = check_input("x", x)
    for name, value in (("eps", eps), ("rtol", rtol), ("atol", atol)):
        if value is not None and (not isinstance(value, (int, float)) or not value >= 0):
            raise ValueError(f"check_grads: {name} must be a non-negative number, got {value!r}")
    kind = _kind(x)
    h = eps if eps is not None else kind.step
    if not h > 10 * kind.eps:
        raise ValueError(f"check_grads: eps must be a positive step large enough to change x, got {eps!r}")
    tol = _Tolerance(kind.rtol if rtol is None else rtol, kind.atol if atol is None else atol, kind.eps)
    rng = np.random.default_rng(seed)
    name = getattr(f, "__name__", "f")
    _check(f, x, picked, order, f"check_grads({name}): order 1", h, tol, rng)


class _Kind:
    """Machine epsilon, finite-difference step and default tolerances of x's number type."""

    def __init__(self, eps: float, rtol: float, atol: float) -> None:
        self.eps, self.rtol, self.atol = eps, rtol, atol
        self.step = eps ** (1 / 5)  # central differences with one Richardson step: error O(h^4) + eps/h


def _kind(x: Any) -> _Kind:
    xl = leaves(x)
    if any(isinstance(strip_all(v), (mpmath.mpf, mpmath.mpc)) for v in xl):
        e = float(mpmath.mp.eps)
        return _Kind(e, e ** (1 / 3), e ** (1 / 2))
    if xl and all(getattr(strip_all(v), "dtype", None) in (np.float32, np.complex64) for v in xl):
        return _Kind(float(np.finfo(np.float32).eps), 1e-3, 1e-5)
    return _Kind(float(np.finfo(np.float64).eps), 1e-6, 1e-9)


class _Tolerance:
    def __init__(self, rtol: float, atol: float, eps: float) -> None:
        self.rtol, self.atol, self.eps = rtol, atol, eps


# -- trees of numbers ---------------------------------------------------------


def _is_mp(v: Any) -> bool:
    return isinstance(v, (mpmath.mpf, mpmath.mpc))


def _random_like(tree: Any, rng: np.random.Generator, scaled: bool = False) -> Any:
    """Random normal values shaped like ``tree``; ``scaled``: each times the size of the matching element."""
    out = []
    for leaf in leaves(tree):
        v = strip_all(leaf)
        shape = np.shape(v)
        cplx = np.iscomplexobj(v) or isinstance(v, (complex, mpmath.mpc))
        r = rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if cplx else 0)
        if scaled:
            size = float(abs(v)) if _is_mp(v) else np.abs(np.asarray(v, dtype=complex))
            r = r * np.where(size > 0, size, 1.0)
        if _is_mp(v):
            out.append(mpmath.mpmathify(complex(r) if cplx else float(np.real(r))))
        elif shape:
            dtype = v.dtype if getattr(v, "dtype", None) is not None and v.dtype.kind in "fc" else r.dtype
            out.append(np.asarray(r, dtype=dtype))
        else:
            out.append(complex(r) if cplx else float(np.real(r)))
    return rebuild(tree, out)


def _axpy(a: Any, x: Any, y: Any) -> Any:
    """``y + a x`` leaf by leaf."""
    return rebuild(y, [yi + _cast(a, yi) * xi for xi, yi in zip(leaves(x), leaves(y))])


def _cast(a: float, like: Any) -> Any:
    like = strip_all(like)
    if _is_mp(like):
        return mpmath.mpf(a)
    dtype = getattr(like, "dtype", None)
    return dtype.type(a) if dtype is not None and dtype.kind in "fc" else a


def _combine(trees: Sequence[Any], weights: Sequence[float]) -> list[Any]:
    """``sum_k weights[k] trees[k]``, leaf by leaf."""
    out = []
    for parts in zip(*(leaves(t) for t in trees)):
        total: Any = 0
        for w, p in zip(weights, parts):
            total = total + _cast(w, p) * p
        out.append(total)
    return out


def _values(tree: Any) -> list[Any]:
    """The leaves as NumPy arrays (complex or float), or mpmath numbers as they are."""
    out = []
    for leaf in leaves(tree):
        v = strip_all(leaf)
        out.append(v if _is_mp(v) else np.asarray(v, dtype=complex if np.iscomplexobj(v) else float))
    return out


def _norm(vals: list[Any]) -> float:
    return math.sqrt(sum(float(abs(v) ** 2) if _is_mp(v) else float(np.sum(np.abs(v) ** 2)) for v in vals))


def _abs_max(vals: list[Any]) -> float:
    return max((float(abs(v)) if _is_mp(v) else float(np.max(np.abs(v), initial=0.0)) for v in vals), default=0.0)


def _vdot(a: list[Any], b: list[Any]) -> tuple[Any, float]:
    """``sum a * b`` (no conjugation: the pairing of reverse mode) and ``sum |a * b|``."""
    total: Any = 0
    size = 0.0
    for u, w in zip(a, b):
        p = u * w
        if _is_mp(p):
            total, size = total + p, size + float(abs(p))
        else:
            total, size = total + np.sum(p), size + float(np.sum(np.abs(p)))
    return total, size


def _real(v: Any) -> Any:
    return mpmath.re(v) if _is_mp(v) else np.real(v)


def _size(tree: Any) -> int:
    return sum(int(np.size(strip_all(v))) for v in leaves(tree))


# -- the checks ---------------------------------------------------------------


def _finite_difference(f: Callable[[Any], Any], x: Any, v: Any, h: float) -> tuple[list[Any], float]:
    """``J v`` by central differences with one Richardson step, and the largest |f| seen."""
    values = [f(_axpy(s, v, x)) for s in (h, -h, h / 2, -h / 2)]
    # (4 D(h/2) - D(h)) / 3 with D(s) = (f(x + s v) - f(x - s v)) / (2 s)
    jv = _combine(values, (-1 / (6 * h), 1 / (6 * h), 4 / (3 * h), -4 / (3 * h)))
    return _values(rebuild(values[0], jv)), max(_abs_max(_values(val)) for val in values)


def _fail(label: str, what: str, a: Any, b: Any, err: float, tol: float, detail: str) -> AssertionError:
    return AssertionError(
        f"{label}: {what} disagree by {err:.3g} (tolerance {tol:.3g}): {_short(a)} against {_short(b)}{detail}"
    )


def _short(v: Any) -> str:
    if isinstance(v, list):
        v = v[0] if len(v) == 1 else v
    text = np.array2string(v, precision=8, threshold=8) if isinstance(v, np.ndarray) else repr(v)
    return text if len(text) < 200 else text[:197] + "..."


def _check(
    f: Callable[[Any], Any],
    x: Any,
    modes: tuple[str, ...],
    order: int,
    label: str,
    h: float,
    tol: _Tolerance,
    rng: np.random.Generator,
) -> None:
    y = f(x)
    v = _random_like(x, rng, scaled=True)
    u = _random_like(y, rng)
    fd, f_max = _finite_difference(f, x, v, h)
    # rounding in f(x +- h v), amplified by 1/h: the floor below which differences mean nothing
    noise = 10 * tol.eps * max(f_max, 1e-300) / h
    m = max(_size(y), 1)
    detail = f" (direction v = {_short(_values(v))})"
    jv_vals = None
    if "fwd" in modes:
        _, jv = jvp(f, x, v)
        jv_vals = _values(jv)
        err = _norm([a - b for a, b in zip(jv_vals, fd)])
        bound = tol.atol * math.sqrt(m) + tol.rtol * max(_norm(jv_vals), _norm(fd)) + noise * math.sqrt(m)
        if not err <= bound:
            raise _fail(label, "forward mode (jvp) and finite differences", jv_vals, fd, err, bound, detail)
    if "rev" in modes:
        _, pullback = vjp(f, x)
        u_vals = _values(u)
        ju = _values(pullback(u))
        # the real part of the unconjugated pairing: the identity the transposes satisfy for
        # every map, also for maps that are only real-linear (conj), where the complex one fails
        lhs, lhs_size = _vdot(ju, _values(v))
        rhs, rhs_size = _vdot(u_vals, fd)
        lhs, rhs = _real(lhs), _real(rhs)
        err = float(abs(lhs - rhs))
        bound = tol.atol * _norm(u_vals) + tol.rtol * max(lhs_size, rhs_size) + noise * _norm(u_vals)
        if not err <= bound:
            raise _fail(
                label,
                "reverse mode (<J^T u, v> by vjp) and finite differences (<u, J v>)",
                lhs,
                rhs,
                err,
                bound,
                detail + f", cotangent u = {_short(u_vals)}",
            )
        if jv_vals is not None:
            fwd_dot, fwd_size = _vdot(u_vals, jv_vals)
            fwd_dot = _real(fwd_dot)
            err = float(abs(lhs - fwd_dot))
            bound = math.sqrt(tol.eps) * max(lhs_size, fwd_size) + 1e-300
            if not err <= bound:
                raise _fail(
                    label,
                    "reverse mode (<J^T u, v>) and forward mode (<u, J v>)",
                    lhs,
                    fwd_dot,
                    err,
                    bound,
                    detail + f", cotangent u = {_short(u_vals)}",
                )
    if order == 2:
        base = label.replace("order 1", "order 2")
        if "fwd" in modes:
            _check(lambda z: jvp(f, z, v)[1], x, modes, 1, base + ", derivative of forward mode", h, tol, rng)
        if "rev" in modes:
            _check(lambda z: vjp(f, z)[1](u), x, modes, 1, base + ", derivative of reverse mode", h, tol, rng)
