"""Every NumPy function dualdiff handles: each argument that can carry a derivative does.

The functions are read from ``dualdiff.modes.numpy_api`` (``FUNCTION_HANDLERS``,
the ufuncs of ``UFUNC_RULES`` and the composed ones, the ufunc methods), so a
handler added later fails ``test_every_handled_function_is_covered`` until
``CALLS`` below has sample calls for it (or ``NOT_COVERED`` says why not).

For each sample call, every floating-point argument (positional or keyword,
inside lists too, a Python float as well as an array) is lifted in turn,
while the others stay plain: forward and reverse mode must give the
Jacobian that central finite differences give, and the lifted call must
return NumPy's own values. So a derivative dropped on the way (issue 10 case
4: the fill value of ``np.full_like``) fails, and so does a wrong one.
Arguments that carry no derivative (axes, shapes, masks, orders, a ``Static``
float such as a norm's ``ord``) are passed as NumPy takes them; calls that
vary them check that each is handled. The derivative with respect to all
floating-point arguments at once (a tuple) must agree with the pieces, and
at second order forward over reverse must agree with finite differences of
the gradient.

Where a function also takes complex values, its other arguments are made
complex while the lifted one stays real: the cotangent of a real input is
real, ``Re(sum(y_bar * J))`` (issue 10 case 8; JAX's convention).

Tolerances: the 4-point central stencil at step ``h = 1e-4`` has truncation
error ``h^4 |g^(5)| / 30`` and rounding error ``~1.5 eps |g| / h``, about
1e-12 of the scale here; the sample values keep every kink (abs, max, round,
clip) more than ``4h`` away, which the stencil's own error estimate (the same
stencil at ``2h``) confirms for every call (below ``1e-8`` of the scale, which
is at least ``1e-3`` of the differenced function's size). Derivatives must
agree to ``1e-7`` of the scale.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from reference import REFERENCES

import dualdiff as dd
from dualdiff.modes import numpy_api, tape
from dualdiff.modes.numpy_api import FUNCTION_HANDLERS, UFUNC_RULES
from dualdiff.rules import Elementwise, Nondiff

#: Issue 10 cases 4 (np.full_like's fill value) and 8 (real cotangents for real inputs) are
#: fixed on the branch fix10; until it is merged their checks are expected failures
#: (strict: they must fail). The switches read whether fix10's code is present (its
#: np.copyto handler, its real_cotangent); remove them once it is.
CASE4_FIXED = np.copyto in FUNCTION_HANDLERS
CASE8_FIXED = hasattr(tape, "real_cotangent")
PENDING_CASE4 = pytest.mark.xfail(not CASE4_FIXED, reason="issue 10 case 4, fixed on branch fix10", strict=True)
PENDING_CASE8 = pytest.mark.xfail(not CASE8_FIXED, reason="issue 10 case 8, fixed on branch fix10", strict=True)

FD_STEP = 1e-4
FD_RTOL = 1e-7
FD_NOISE = 1e-8

RNG = np.random.default_rng(20240610)


def arr(*shape: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    return RNG.uniform(lo, hi, shape)


def mask(*shape: int) -> np.ndarray:
    m = RNG.random(shape) < 0.5
    m.flat[0], m.flat[-1] = True, False
    return m


@dataclass(frozen=True)
class Static:
    """A floating-point argument that is a parameter, not a variable (a norm's ``ord``)."""

    value: Any


@dataclass
class Call:
    """Sample arguments for one call; every float in them (but a Static) is a variable in turn."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: The function also takes complex values: check real cotangents for real inputs.
    complex_ok: bool = False
    #: False when the values are unspecified (``np.empty_like``): only shapes and dtypes are compared.
    values: bool = True
    method: str | None = None
    #: NumPy dispatches on this positional argument only (``np.full_like``'s ``a``): another argument
    #: lifted alone never reaches dualdiff, and must then be refused, not dropped; it is checked
    #: lifted together with this one.
    dispatch: int | None = None
    #: The highest order checked: 1 at a kink (the gradient jumps there; its differences say nothing).
    order: int = 2

    def __repr__(self) -> str:
        shown = [_show(a) for a in self.args] + [f"{k}={_show(v)}" for k, v in self.kwargs.items()]
        return ("." + self.method if self.method else "") + "(" + ", ".join(shown) + ")"


def _show(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"<{v.dtype.name}{list(v.shape)}>"
    if isinstance(v, (list, tuple)):
        inner = ", ".join(_show(x) for x in v)
        return f"[{inner}]" if isinstance(v, list) else f"({inner})"
    if isinstance(v, Static):
        return f"Static({v.value!r})"
    return repr(v)


# --------------------------------------------------------------------------
# sample calls
# --------------------------------------------------------------------------

A, B, A2 = arr(2, 3), arr(3, 2), arr(2, 3)
V3, W3, V2 = arr(3), arr(3), arr(2)
T232 = arr(2, 3, 2)
SQ = arr(3, 3)
M = 3.0 * np.eye(3) + 0.4 * arr(3, 3)  # well conditioned, positive determinant
M2 = np.stack([M, 2.5 * np.eye(3) + 0.3 * arr(3, 3)])
COL = arr(2, 1)
WITH_ZERO = np.array([[0.5, 0.0, -1.5], [1.2, 0.8, -0.6]])
#: away from the rounding jumps at k + 1/2
ROUNDABLE = np.array([[0.2, -1.3, 2.9], [0.7, -0.1, 1.6]])

CALLS: dict[Any, list[Call]] = {
    # reductions
    np.sum: [Call((A,)), Call((A,), {"axis": 1}), Call((A,), {"axis": (0, 1), "keepdims": True}), Call((A, -1))],
    np.mean: [Call((A,)), Call((A,), {"axis": 0, "keepdims": True}), Call((T232, (0, 2)))],
    np.var: [Call((A,)), Call((A,), {"axis": 1, "ddof": 1}), Call((COL,), {"axis": 1})],
    np.std: [Call((A,)), Call((A,), {"axis": 0, "ddof": 1, "keepdims": True}), Call((COL,), {"axis": 1})],
    np.prod: [Call((A,)), Call((A,), {"axis": 1, "keepdims": True}), Call((WITH_ZERO,), {"axis": 1})],
    np.max: [Call((A,)), Call((A,), {"axis": 0})],
    np.amax: [Call((A,), {"axis": -1, "keepdims": True})],
    np.min: [Call((A,)), Call((A,), {"axis": 1})],
    np.amin: [Call((A,), {"axis": (0, 1)})],
    np.cumsum: [Call((A,)), Call((A,), {"axis": 1})],
    np.trace: [Call((SQ,)), Call((arr(2, 3, 3),), {"offset": 1, "axis1": 1, "axis2": 2})],
    # shape and structure
    np.reshape: [Call((A, (3, 2))), Call((A, -1))],
    np.ravel: [Call((A,))],
    np.transpose: [Call((A,)), Call((T232, (1, 2, 0)))],
    np.swapaxes: [Call((T232, 0, 2))],
    np.moveaxis: [Call((T232, 0, -1))],
    np.squeeze: [Call((arr(1, 3, 1),)), Call((arr(1, 3, 1),), {"axis": 0})],
    np.expand_dims: [Call((A, 1)), Call((V3, (0, 2)))],
    np.atleast_1d: [Call((1.5,)), Call((V3, 0.5))],
    np.atleast_2d: [Call((V3,)), Call((0.25, A))],
    np.broadcast_to: [Call((V3, (2, 3)))],
    np.flip: [Call((A,)), Call((A,), {"axis": 1})],
    np.concatenate: [
        Call(([A, arr(1, 3)],), complex_ok=True),
        Call(([A, arr(2, 2)],), {"axis": 1}),
        Call(([A, B],), {"axis": None}),
    ],
    np.stack: [Call(([V3, W3],), complex_ok=True), Call(([V3, W3], -1))],
    np.vstack: [Call(([V3, W3],))],
    np.hstack: [Call(([V3, V2],)), Call(([A, arr(2, 1)],))],
    np.split: [Call((arr(6), 3)), Call((A, [1], 1))],
    np.array_split: [Call((arr(7), 3))],
    np.where: [Call((mask(2, 3), A, V3), complex_ok=True), Call((mask(3), 2.0, W3))],
    np.clip: [Call((A, -0.3, 0.4)), Call((A, 0.3 * V3 - 0.2, None)), Call((A,), {"a_min": None, "a_max": 0.1})],
    np.diag: [Call((V3,)), Call((SQ,)), Call((V3, 1)), Call((SQ, -1))],
    np.diagonal: [Call((SQ,)), Call((arr(2, 3, 3), 1, 1, 2))],
    np.round: [Call((ROUNDABLE,))],
    np.around: [Call((ROUNDABLE,))],
    np.conj: [Call((A,))],
    np.conjugate: [Call((A,))],
    np.real: [Call((A,))],
    np.imag: [Call((A,))],
    np.copy: [Call((A,))],
    # products
    np.dot: [
        Call((A, B), complex_ok=True),
        Call((V3, W3), complex_ok=True),
        Call((2.0, A)),
        Call((T232, V2)),
    ],
    np.vdot: [Call((A, A2), complex_ok=True)],
    np.inner: [Call((A, arr(4, 3)), complex_ok=True), Call((V3, W3))],
    np.outer: [Call((V3, V2), complex_ok=True)],
    np.tensordot: [
        Call((A, B), {"axes": 1}, complex_ok=True),
        Call((A, A2), {"axes": 2}),
        Call((A, arr(3, 2)), {"axes": ([1], [0])}),
    ],
    np.einsum: [
        Call(("ij,jk->ik", A, B), complex_ok=True),
        Call(("ii->i", SQ)),
        Call(("i,i", V3, W3)),
        Call(("ij,i->j", A, V2)),
    ],
    # linear algebra
    np.linalg.norm: [
        Call((V3,)),
        Call((A,), {"ord": "fro"}),
        Call((V3,), {"ord": 1}),
        Call((V3,), {"ord": Static(3.0)}),
        Call((V3,), {"ord": Static(np.inf)}),
        Call((A,), {"axis": 1}),
        Call((A,), {"ord": Static(-np.inf), "axis": 0, "keepdims": True}),
        Call((SQ,), {"ord": 1}),
        # a zero vector is a cone's tip: derivative 0 for every order, as for the 2-norm
        Call((np.zeros(3),), order=1),
        Call((np.zeros(3),), {"ord": Static(3.0)}, order=1),
        Call((np.array([[0.0, 0.0], [0.5, -1.5]]),), {"ord": Static(3.0), "axis": 1}, order=1),
    ],
    np.linalg.inv: [Call((M,)), Call((M2,))],
    np.linalg.solve: [Call((M, V3)), Call((M, arr(3, 2)))],
    np.linalg.det: [Call((M,)), Call((M2,))],
    np.linalg.slogdet: [Call((M,)), Call((-M,))],
    # functions of shapes and values
    np.shape: [Call((A,))],
    np.ndim: [Call((A,))],
    np.size: [Call((A,)), Call((A, 1))],
    np.zeros_like: [Call((A,))],
    np.ones_like: [Call((A,))],
    np.empty_like: [Call((A,), values=False)],
    np.full_like: [Call((A, 0.7), dispatch=0), Call((A, 0.7), {"dtype": float}, dispatch=0)],
    np.iscomplexobj: [Call((A,))],
    np.isrealobj: [Call((A,))],
    np.result_type: [Call((A, 1.0))],
    np.argmax: [Call((A,)), Call((A,), {"axis": 1})],
    np.argmin: [Call((A,), {"axis": 0})],
    np.argsort: [Call((A,))],
    np.argwhere: [Call((A,))],
    np.nonzero: [Call((WITH_ZERO,))],
    np.flatnonzero: [Call((WITH_ZERO,))],
    np.count_nonzero: [Call((WITH_ZERO,))],
    np.any: [Call((WITH_ZERO,))],
    np.all: [Call((WITH_ZERO,))],
    np.isclose: [Call((A, A2))],
    np.allclose: [Call((A, A2))],
    np.array_equal: [Call((A, A2))],
}
if hasattr(np.linalg, "matmul"):
    CALLS[np.linalg.matmul] = [Call((A, B), complex_ok=True), Call((V3, B))]

# --- functions of the larger NumPy surface (the entries of functions dualdiff does not
# handle are skipped, so this table can run ahead of the handlers) -----------------------

SPD = M @ M.T + np.eye(3)  # symmetric positive definite, well separated eigenvalues
# real, distinct eigenvalues, and no triangular structure (where LAPACK's order of the
# eigenvalues would change under a perturbation)
_P = np.eye(3) + 0.3 * arr(3, 3)
NONSYM = _P @ np.diag([1.0, 2.5, 4.0]) @ np.linalg.inv(_P)
M4 = 3.0 * np.eye(4) + 0.3 * arr(4, 4)
TALL = arr(4, 2) + np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
WITH_NAN = np.array([[0.3, np.nan, -0.7], [1.1, 0.4, np.nan]])
BINS = np.array([-0.5, 0.0, 0.5])

MORE_CALLS: dict[str, list[Call]] = {
    "angle": [Call((A,))],
    "append": [Call((V3, V2)), Call((A, A2), {"axis": 0})],
    "argpartition": [Call((V3, 1))],
    "atleast_3d": [Call((V3,))],
    "average": [Call((A,)), Call((A,), {"axis": 1, "weights": np.array([0.2, 0.5, 0.3])})],
    "block": [Call(([[A, A2]],))],
    "broadcast_arrays": [Call((V3, COL))],
    "choose": [Call((np.array([0, 1, 0]), [V3, W3]))],
    "column_stack": [Call(([V3, W3],))],
    "compress": [Call(([True, False, True], V3))],
    "convolve": [Call((V3, V2)), Call((V3, V2), {"mode": "same"})],
    "correlate": [Call((V3, V2))],
    "corrcoef": [Call((A,))],
    "cov": [Call((A,)), Call((A,), {"ddof": 0})],
    "cross": [Call((V3, W3))],
    "cumprod": [Call((A,), {"axis": 1})],
    "cumulative_prod": [Call((V3,))],
    "cumulative_sum": [Call((A,), {"axis": 0})],
    "delete": [Call((V3, 1))],
    "diagflat": [Call((V2,))],
    "diff": [Call((V3,)), Call((A,), {"axis": 0})],
    "digitize": [Call((V3, BINS))],
    "dsplit": [Call((arr(1, 2, 4), 2))],
    "dstack": [Call(([V3, W3],))],
    "ediff1d": [Call((V3,))],
    "extract": [Call((mask(2, 3), A))],
    "fix": [Call((ROUNDABLE,))],
    "fliplr": [Call((A,))],
    "flipud": [Call((A,))],
    "geomspace": [Call((0.5, 2.0, 4))],
    "gradient": [Call((arr(5),)), Call((arr(5), 0.5))],
    "hsplit": [Call((A, 3))],
    "insert": [Call((V3, 1, 0.5))],
    "interp": [Call((np.array([0.3, 1.7]), np.array([0.0, 1.0, 2.0]), np.array([1.0, -0.5, 2.0])))],
    "iscomplex": [Call((A,))],
    "isneginf": [Call((A,))],
    "isposinf": [Call((A,))],
    "isreal": [Call((A,))],
    "kron": [Call((V2, V3)), Call((A, arr(2, 2)))],
    "linalg.cholesky": [Call((SPD,))],
    "linalg.cond": [Call((M,))],
    "linalg.cross": [Call((V3, W3))],
    "linalg.diagonal": [Call((SQ,))],
    "linalg.eig": [Call((NONSYM,))],
    "linalg.eigh": [Call((SPD,))],
    "linalg.eigvals": [Call((NONSYM,))],
    "linalg.eigvalsh": [Call((SPD,))],
    "linalg.lstsq": [Call((TALL, arr(4)))],
    "linalg.matrix_norm": [Call((A,))],
    "linalg.matrix_power": [Call((SQ, 3))],
    "linalg.matrix_rank": [Call((M,))],
    "linalg.matrix_transpose": [Call((T232,))],
    "linalg.multi_dot": [Call(([A, B, arr(2, 2)],))],
    "linalg.outer": [Call((V3, V2))],
    "linalg.pinv": [Call((TALL,))],
    "linalg.qr": [Call((TALL,))],
    "linalg.svd": [Call((TALL,), {"full_matrices": False})],
    "linalg.svdvals": [Call((TALL,))],
    "linalg.tensordot": [Call((A, B), {"axes": 1})],
    "linalg.tensorinv": [Call((M4.reshape(2, 2, 4),), {"ind": 2})],
    "linalg.tensorsolve": [Call((M4.reshape(2, 2, 2, 2), arr(2, 2)))],
    "linalg.trace": [Call((SQ,))],
    "linalg.vecdot": [Call((A, A2))],
    "linalg.vector_norm": [Call((V3,)), Call((A,), {"axis": 1, "ord": Static(3.0)})],
    "linspace": [Call((0.5, 2.0, 5))],
    "logspace": [Call((0.5, 1.0, 4))],
    "matrix_transpose": [Call((T232,))],
    "median": [Call((A,)), Call((A,), {"axis": 1})],
    "meshgrid": [Call((V3, V2))],
    "nan_to_num": [Call((A,))],
    "nancumprod": [Call((WITH_NAN,), {"axis": 1})],
    "nancumsum": [Call((WITH_NAN,))],
    "nanmax": [Call((WITH_NAN,), {"axis": 1})],
    "nanmean": [Call((WITH_NAN,))],
    "nanmin": [Call((WITH_NAN,))],
    "nanprod": [Call((WITH_NAN,))],
    "nanstd": [Call((WITH_NAN,), {"axis": 1})],
    "nansum": [Call((WITH_NAN,), {"axis": 0})],
    "nanvar": [Call((WITH_NAN,))],
    "pad": [Call((V3, 1)), Call((A, ((1, 0), (0, 2))), {"mode": "constant", "constant_values": 0.5}, dispatch=0)],
    "partition": [Call((V3, 1))],
    "percentile": [Call((A, Static(30.0)))],
    "polyder": [Call((V3,))],
    "polyval": [Call((V3, 0.7)), Call((V3, V2))],
    "ptp": [Call((A,)), Call((A,), {"axis": 1})],
    "quantile": [Call((A, Static(0.3)), {"axis": 1})],
    "real_if_close": [Call((A,))],
    "repeat": [Call((V3, 2)), Call((A, [1, 2]), {"axis": 0})],
    "resize": [Call((V3, (2, 4)))],
    "roll": [Call((V3, 1)), Call((A, 1), {"axis": 1})],
    "rollaxis": [Call((T232, 2))],
    "rot90": [Call((A,))],
    "row_stack": [Call(([V3, W3],))],
    "searchsorted": [Call((BINS, V3))],
    "select": [Call(([mask(3), mask(3)], [V3, W3]), {"default": 0.5}, dispatch=1)],
    "sinc": [Call((V3,))],
    "sort": [Call((A,), {"axis": 1})],
    "take": [Call((V3, [0, 2, 2]))],
    "take_along_axis": [Call((A, np.array([[0, 2], [1, 1]]), 1))],
    "tile": [Call((V2, 2))],
    "trapezoid": [Call((V3,)), Call((V3, np.array([0.0, 0.5, 1.5])))],
    "tril": [Call((SQ,)), Call((SQ, -1))],
    "trim_zeros": [Call((V3,))],
    "triu": [Call((SQ,))],
    "unstack": [Call((A,))],
    "vsplit": [Call((arr(4, 2), 2))],
}


def _numpy_function(path: str) -> Any:
    obj: Any = np
    for part in path.split("."):
        obj = getattr(obj, part, None)
    return obj


for _path, _calls in MORE_CALLS.items():
    _f = _numpy_function(_path)
    if _f is not None:
        CALLS.setdefault(_f, _calls)

#: Handled functions the generic test does not cover, with the reason.
NOT_COVERED: dict[Any, str] = {
    getattr(np, "copyto", None): "writes into its first argument in place: a lifted value must be refused "
    "(test_issue10_regressions.py), there is no result to differentiate",
}


# --------------------------------------------------------------------------
# ufuncs: sample calls from the rule's reference sampling region
# --------------------------------------------------------------------------

#: ufuncs handled outside UFUNC_RULES (in array_ufunc itself, or composed of rules).
EXTRA_UFUNCS = {np.matmul: [Call((A, B), complex_ok=True), Call((V3, B))], np.conjugate: [Call((A,))]}
for _name, _calls in {
    "logaddexp": [Call((A, A2))],
    "logaddexp2": [Call((A, A2))],
    "deg2rad": [Call((A,))],
    "rad2deg": [Call((A,))],
    "degrees": [Call((A,))],
    "radians": [Call((A,))],
    "float_power": [Call((A + 1.5, A2))],
    "fmax": [Call((A, A2))],
    "fmin": [Call((A, A2))],
    "divmod": [Call((A, 0.7))],
    "matvec": [Call((A, V3))],
    "vecmat": [Call((V2, A))],
    "vecdot": [Call((A, A2))],
}.items():
    if getattr(np, _name, None) is not None:
        EXTRA_UFUNCS[getattr(np, _name)] = _calls
#: Binary ufuncs that are holomorphic: real cotangents for real inputs with a complex partner.
COMPLEX_UFUNCS = {np.add, np.subtract, np.multiply, np.divide, np.true_divide}


def _points(name: str, shapes: list[tuple[int, ...]]) -> tuple[np.ndarray, ...]:
    """Arrays of ``shapes`` (one per argument) inside the rule's well-conditioned region."""
    ref = REFERENCES[name]
    out = []
    for a, shape in zip(ref.args, shapes):
        lo = [RNG.integers(len(a.real)) for _ in range(int(np.prod(shape)))]
        vals = [RNG.uniform(*a.real[k]) for k in lo]
        out.append(np.reshape(np.array(vals), shape))
    if ref.joint is not None:  # redraw elements until every broadcast pair is valid
        for _ in range(1000):
            b = np.broadcast_arrays(*out)
            bad = [i for i in np.ndindex(b[0].shape) if not ref.joint(*(float(x[i]) for x in b))]
            if not bad:
                break
            out = list(_points(name, shapes))
    return tuple(out)


def ufunc_calls(ufunc: Any) -> list[Call]:
    rule = UFUNC_RULES.get(ufunc)
    if ufunc in EXTRA_UFUNCS:
        return EXTRA_UFUNCS[ufunc]
    if isinstance(rule, Elementwise):
        if rule.nin == 1:
            return [Call(_points(rule.name, [(2, 3)]))]
        # broadcasting: (3,) against (2, 1), and scalar Python floats
        a, b = _points(rule.name, [(3,), (2, 1)])
        s, t = _points(rule.name, [(), ()])
        calls = [Call((a, b), complex_ok=ufunc in COMPLEX_UFUNCS), Call((float(s), b)), Call((a, float(t)))]
        return calls
    if isinstance(rule, Nondiff) or rule is None:  # comparisons, tests: values only
        nin = ufunc.nin
        return [Call(tuple(arr(2, 3) for _ in range(nin)))]
    raise AssertionError(f"unexpected rule for {ufunc}: {rule!r}")


def handled_ufuncs() -> list[Any]:
    return sorted(
        set(UFUNC_RULES) | set(getattr(numpy_api, "COMPOSED_UFUNCS", {})) | {np.matmul, np.conjugate},
        key=lambda u: u.__name__,
    )


def ufunc_method_calls() -> list[tuple[Any, str, Call]]:
    """``ufunc.reduce`` / ``.accumulate`` / ``.outer`` as array_ufunc handles them."""
    out = []
    for u in getattr(numpy_api, "_REDUCERS", {}):
        out.append((u, "reduce", Call((A,), {"axis": 1}, method="reduce")))
    out.append((np.add, "accumulate", Call((A,), {"axis": 1}, method="accumulate")))
    for u, rule in UFUNC_RULES.items():
        if isinstance(rule, Elementwise) and rule.nin == 2 and getattr(u, "nin", 0) == 2:
            a, b = _points(rule.name, [(2, 1), (3,)])
            out.append((u, "outer", Call((a.ravel(), b), method="outer")))
    return out


# --------------------------------------------------------------------------
# lifting one argument at a time
# --------------------------------------------------------------------------

Path = tuple[Any, ...]


def slots(call: Call) -> list[Path]:
    """Paths to every floating-point argument (not Static) of a call: ('args', i, ...) or ('kwargs', k, ...)."""
    found: list[Path] = []

    def walk(v: Any, path: Path) -> None:
        if isinstance(v, Static):
            return
        if isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(x, (*path, i))
        elif isinstance(v, float) or (isinstance(v, np.ndarray) and v.dtype.kind == "f"):
            found.append(path)

    for i, a in enumerate(call.args):
        walk(a, ("args", i))
    for k, a in call.kwargs.items():
        walk(a, ("kwargs", k))
    return found


def _get(call: Call, path: Path) -> Any:
    v: Any = call.args if path[0] == "args" else call.kwargs
    for p in path[1:]:
        v = v[p]
    return v


def _replace(v: Any, rest: Path, new: Any) -> Any:
    if not rest:
        return new
    if isinstance(v, dict):
        return {**v, rest[0]: _replace(v[rest[0]], rest[1:], new)}
    items = list(v)
    items[rest[0]] = _replace(items[rest[0]], rest[1:], new)
    return type(v)(items)


def _unstatic(v: Any) -> Any:
    if isinstance(v, Static):
        return v.value
    if isinstance(v, list):
        return [_unstatic(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_unstatic(x) for x in v)
    return v


def invoke(func: Any, call: Call, replace: dict[Path, Any]) -> Any:
    args, kwargs = tuple(call.args), dict(call.kwargs)
    for path, new in replace.items():
        if path[0] == "args":
            args = _replace(args, path[1:], new)
        else:
            kwargs = _replace(kwargs, path[1:], new)
    args, kwargs = _unstatic(args), {k: _unstatic(v) for k, v in kwargs.items()}
    fn = getattr(func, call.method) if call.method else func
    return fn(*args, **kwargs)


def _inner(v: Any) -> Any:
    """The value under any lifted levels."""
    while hasattr(v, "primal") and hasattr(v, "level"):
        v = v.primal
    return v


def float_leaves(y: Any) -> list[Any]:
    """The floating-point (or complex) leaves of an output: arrays, scalars, lifted values."""
    if isinstance(y, (list, tuple)):
        return [leaf for x in y for leaf in float_leaves(x)]
    inner = _inner(y)
    if isinstance(inner, (float, complex, np.floating, np.complexfloating)):
        return [y]
    if isinstance(inner, np.ndarray) and inner.dtype.kind in "fc":
        return [y]
    if isinstance(inner, np.ndarray) and inner.dtype == object and inner.size:
        return [y]  # NumPy's own result holding lifted values (a function NumPy does not dispatch)
    return []


def flat_output(func: Any, call: Call, path: Path) -> Callable[..., Any]:
    """``v -> the float outputs, raveled and joined`` with the argument at ``path`` replaced by ``v``.

    ``extra`` replaces further arguments (``{path: value}``).
    """

    def g(v: Any, extra: dict[Path, Any] | None = None) -> Any:
        leaves = float_leaves(invoke(func, call, {**(extra or {}), path: v}))
        if not leaves:
            return np.zeros(0)
        parts = [np.reshape(leaf, (-1,)) for leaf in leaves]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    return g


def finite_difference(g: Callable[[Any], Any], x: Any, h: float = FD_STEP) -> tuple[np.ndarray, float]:
    x = np.asarray(x, dtype=float)
    cols, err = [], 0.0
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = 1.0
        e = e.reshape(x.shape)
        at = {k: np.asarray(g(x + k * h * e if x.ndim else float(x + k * h))) for k in (-4, -2, -1, 1, 2, 4)}
        d1 = (8 * (at[1] - at[-1]) - (at[2] - at[-2])) / (12 * h)
        d2 = (8 * (at[2] - at[-2]) - (at[4] - at[-4])) / (24 * h)
        cols.append(d1)
        err = max(err, float(np.max(np.abs(d1 - d2), initial=0.0)))
    d = np.stack(cols, axis=-1) if cols else np.zeros((0,))
    return d.reshape(d.shape[:-1] + x.shape), err


def amax(a: Any) -> float:
    a = np.abs(np.asarray(a))
    return float(a.max()) if a.size else 0.0


def assert_matches_fd(what: str, got: Any, fd: np.ndarray, err: float, lower: Any) -> None:
    got = np.asarray(got)
    scale = max(amax(fd), 1e-3 * amax(lower), 1e-12)
    assert err <= FD_NOISE * scale, f"{what}: the sample is too close to a kink (difference error {err:.1e})"
    assert got.shape == fd.shape, f"{what}: shape {got.shape}, finite differences {fd.shape}"
    diff = amax(got - fd)
    assert diff <= FD_RTOL * scale, f"{what}: off by {diff:.2e} (scale {scale:.2e}):\n{got}\nfinite differences:\n{fd}"


def assert_same_values(what: str, got: Any, want: Any, values: bool = True) -> None:
    """The lifted call returns NumPy's own values (plain parts compared as they are)."""
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), f"{what}: got {got!r}, NumPy {want!r}"
        for g, w in zip(got, want):
            assert_same_values(what, g, w, values)
        return
    g = _inner(got)
    if isinstance(want, np.dtype) or isinstance(want, type):
        assert g == want, f"{what}: got {g!r}, NumPy {want!r}"
        return
    assert np.shape(g) == np.shape(want), f"{what}: shape {np.shape(g)}, NumPy {np.shape(want)}"
    if values:
        np.testing.assert_allclose(np.asarray(g), np.asarray(want), rtol=1e-13, atol=1e-15, err_msg=what)


# --------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------


def _name(func: Any) -> str:
    return numpy_api.numpy_name(func)


def test_every_handled_function_is_covered():
    """A handler without sample calls (or a stated reason) fails here."""
    missing = [_name(f) for f in FUNCTION_HANDLERS if f not in CALLS and f not in NOT_COVERED]
    assert not missing, f"NumPy functions handled by dualdiff without sample calls in CALLS: {sorted(missing)}"
    for u in handled_ufuncs():
        assert ufunc_calls(u), f"no sample calls for the ufunc {u.__name__}"


CASES = [(f, c) for f, calls in CALLS.items() if f in FUNCTION_HANDLERS for c in calls]
CASES += [(u, c) for u in handled_ufuncs() for c in ufunc_calls(u)]
CASES += [(u, c) for u, _, c in ufunc_method_calls()]


def _id(func: Any, call: Call) -> str:
    return f"{_name(func)}{call!r}"


def _params(cases: list[tuple[Any, Call]], pending: bool = False) -> list[Any]:
    marks = [PENDING_CASE4] if pending else []
    return [pytest.param(f, c, id=_id(f, c), marks=marks if f is np.full_like else []) for f, c in cases]


def jacobian(call: Call, path: Path, transform: Callable[..., Any], g: Callable[..., Any], x: Any = None) -> Any:
    """``transform`` (a jacobian, grad or hessian) of ``g`` with respect to the argument ``path``, at ``x``.

    With ``call.dispatch`` (and ``path`` another argument), the dispatching
    argument is lifted too, at the same level, and the block of ``path`` returned.
    """
    x = _get(call, path) if x is None else x
    d = ("args", call.dispatch) if call.dispatch is not None else None
    if d is None or d == path:
        return transform(g)(x)
    r = transform(lambda t: g(t[0], {d: t[1]}))((x, _get(call, d)))[0]
    return r[0] if isinstance(r, tuple) else r  # a hessian's block of blocks


def _lifted_alone_refused(func: Any, call: Call, path: Path, fd: np.ndarray, err: float, lower: Any) -> None:
    """Lifted without its dispatching argument: the right derivative, or a clear refusal."""
    try:
        got = dd.jacfwd(flat_output(func, call, path))(_get(call, path))
    except (TypeError, dd.NoRuleError):
        return
    except ValueError as e:  # NumPy storing the lifted value into a float array: our float() refusal, chained
        if isinstance(e.__cause__, TypeError):
            return
        raise
    assert_matches_fd(f"{_id(func, call)} lifting {path} alone", got, fd, err, lower)


@pytest.mark.parametrize("func, call", _params(CASES, pending=True))
def test_each_argument_carries_its_derivative(func, call):
    """Lift each floating-point argument in turn: values as NumPy's, Jacobians as finite differences."""
    with np.errstate(all="ignore"):
        want = invoke(func, call, {})
    for path in slots(call):
        x = _get(call, path)
        what = f"{_id(func, call)} lifting {path}"
        together = (
            {} if call.dispatch is None else {("args", call.dispatch): _constant(_get(call, ("args", call.dispatch)))}
        )
        # the lifted call gives NumPy's values (and keeps integer, boolean and dtype results as they are)
        assert_same_values(what, invoke(func, call, {**together, path: _constant(x)}), want, call.values)
        if not call.values:
            continue
        g = flat_output(func, call, path)
        lower = g(x)
        fd, err = finite_difference(g, x)
        assert_matches_fd(f"{what}: jacfwd", jacobian(call, path, dd.jacfwd, g), fd, err, lower)
        assert_matches_fd(f"{what}: jacrev", jacobian(call, path, dd.jacrev, g), fd, err, lower)
        if together and path not in together:
            _lifted_alone_refused(func, call, path, fd, err, lower)
        if call.order >= 2 and 0 < np.size(lower) and np.size(x) <= 4 and np.size(lower) <= 12:
            # second order: forward over reverse against differences of the gradient
            w = np.random.default_rng(zlib.crc32(what.encode())).uniform(-1, 1, np.shape(lower))
            s = lambda v, extra=None, g=g, w=w: np.sum(w * g(v, extra))
            grad = lambda v, s=s: jacobian(call, path, dd.grad, s, v)
            h_fd, h_err = finite_difference(grad, x)
            h = jacobian(call, path, dd.hessian, s)
            assert_matches_fd(f"{what}: hessian", h, h_fd, h_err, grad(x))


def _constant(x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return type(x)(_constant(e) for e in x)
    return dd.Dual(x, np.zeros_like(x) if isinstance(x, np.ndarray) else 0.0)


@pytest.mark.parametrize("func, call", _params(CASES))
def test_all_arguments_at_once(func, call):
    """The Jacobian with respect to every floating-point argument together is the per-argument pieces."""
    paths = slots(call)
    with np.errstate(all="ignore"):
        if len(paths) < 2 or not call.values or not float_leaves(invoke(func, call, {})):
            return  # one argument, or values only (comparisons, argmax): nothing more to check
    xs = tuple(_get(call, p) for p in paths)

    def g(t: tuple[Any, ...]) -> Any:
        leaves = float_leaves(invoke(func, call, dict(zip(paths, t))))
        parts = [np.reshape(leaf, (-1,)) for leaf in leaves]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    for jac in (dd.jacfwd(g), dd.jacrev(g)):
        together = jac(xs)
        for p, piece in zip(paths, together):
            alone = jacobian(call, p, dd.jacfwd, flat_output(func, call, p))
            np.testing.assert_allclose(piece, alone, rtol=1e-12, atol=1e-14, err_msg=f"{_id(func, call)} {p}")


COMPLEX_CASES = [(f, c) for f, c in CASES if c.complex_ok]


def _complexify(v: Any) -> Any:
    return v * (1.0 + 0.5j) + 0.25j if isinstance(v, (float, np.ndarray)) else v


@PENDING_CASE8
@pytest.mark.parametrize("func, call", COMPLEX_CASES, ids=[_id(f, c) for f, c in COMPLEX_CASES])
def test_real_input_with_complex_partners(func, call):
    """The other arguments complex, the lifted one real: a complex Jacobian, and a real cotangent."""
    paths = slots(call)
    for path in paths:
        others = {p: _complexify(_get(call, p)) for p in paths if p != path}
        x = _get(call, path)
        complex_call = Call(call.args, call.kwargs, method=call.method)

        def g(v: Any, path: Path = path, others: dict = others) -> Any:
            leaves = float_leaves(invoke(func, complex_call, {**others, path: v}))
            parts = [np.reshape(leaf, (-1,)) for leaf in leaves]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)

        what = f"{_id(func, call)} lifting {path} (others complex)"
        lower = g(x)
        fd, err = finite_difference(g, x)
        jf = dd.jacfwd(g)(x)
        assert_matches_fd(f"{what}: jacfwd", jf, fd, err, lower)
        y_bar = RNG.uniform(-1, 1, np.shape(lower)) + 1j * RNG.uniform(-1, 1, np.shape(lower))
        _, pullback = dd.vjp(g, x)
        x_bar = pullback(y_bar)
        assert not np.iscomplexobj(x_bar), f"{what}: the cotangent of a real input is complex: {x_bar!r}"
        expected = np.real(np.tensordot(y_bar, fd, axes=1))
        assert_matches_fd(f"{what}: vjp", x_bar, expected, err * amax(y_bar) * math.sqrt(np.size(y_bar)), lower)


#: Options dualdiff does not differentiate through: with a lifted array they must be refused by
#: name, never ignored. (With a plain array NumPy does not dispatch at all: a lifted ``initial``
#: then meets NumPy's own conversion, which refuses it through ``float()``.)
REFUSED = [
    (np.sum, {"initial": 0.5}, "initial"),
    (np.sum, {"where": mask(2, 3)}, "where"),
    (np.mean, {"where": mask(2, 3)}, "where"),
    (np.prod, {"initial": 2.0}, "initial"),
    (np.max, {"initial": 3.0}, "initial"),
    (np.add.reduce, {"initial": 1.0, "axis": 0}, "initial"),
    (np.sum, {"dtype": np.float32}, "dtype"),
]


@pytest.mark.parametrize("func, kwargs, option", REFUSED, ids=[f"{_name(f)}-{o}" for f, _, o in REFUSED])
def test_options_without_a_derivative_rule_are_refused_by_name(func, kwargs, option):
    with pytest.raises((TypeError, dd.NoRuleError), match=option):
        func(dd.Dual(A, np.ones_like(A)), **kwargs)
