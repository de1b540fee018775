"""Math namespaces, one per kind of number.

A rule in :mod:`dualdiff.rules` writes its formula once against a namespace
``m`` (``m.cos(x)``); the namespace chosen for the operands decides which
library computes it: :mod:`math` for Python floats, :mod:`cmath` for complex,
:mod:`mpmath` for mpmath numbers (at the current ``mp.dps``), NumPy for arrays
and NumPy scalars, and dualdiff itself (``GENERIC``) when the operands are
lifted values of an outer derivative level. That last one is what makes
nested derivatives work with the very same formulas.

Every namespace offers the same names: the built-in elementwise functions of
the rule table plus a few helpers the formulas use (``const``, ``pi``,
``xlogy``, ``safe_div``, ``dpow``, ``zero``). Each helper is exact where the
naive formula would give nan: ``xlogy(0, x) = 0``, ``safe_div(a, 0) = 0``,
``dpow(a, 0) = 0`` (the derivative of the constant ``a**0``).
"""

from __future__ import annotations

import cmath
import math
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import mpmath
import numpy as np

from ..errors import DomainError


class Backend:
    """A namespace of math functions for one kind of number.

    ``slot`` indexes the per-backend implementation tuples that rules carry,
    so the hot path finds a rule's function without a dictionary lookup.
    """

    name: str = "?"
    slot: int = -1

    def __repr__(self) -> str:
        return f"<dualdiff backend {self.name}>"

    if TYPE_CHECKING:  # the functions are set per namespace below (and per rule, by registration)

        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...


def _binary_ops(ns: Any) -> None:
    ns.add = lambda a, b: a + b
    ns.sub = lambda a, b: a - b
    ns.mul = lambda a, b: a * b
    ns.truediv = lambda a, b: a / b
    ns.neg = lambda a: -a
    ns.pos = lambda a: +a
    ns.square = lambda a: a * a
    ns.reciprocal = lambda a: 1 / a


# --------------------------------------------------------------------------
# Python floats (and ints): the standard library, IEEE semantics on errors.
# --------------------------------------------------------------------------


def _float_pow(a: float, b: float) -> float:
    r = a**b
    if type(r) is complex:  # Python quietly returns complex for (-8.0) ** (1/3)
        raise DomainError(
            f"pow: base {a!r} is negative and exponent {b!r} is not an integer; "
            "the real power is undefined (use a complex base for the principal value)"
        )
    return r


def _float_sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _float_softplus(x: float) -> float:
    # log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _float_sign(x: float) -> float:
    if x != x:
        return x
    return float(bool(x > 0)) - float(bool(x < 0))  # bool(): x may be an np.float64


def _float_maximum(a: float, b: float) -> float:
    # NaN propagates, as in np.maximum
    return a if (a >= b or a != a) else b


def _float_minimum(a: float, b: float) -> float:
    return a if (a <= b or a != a) else b


def _float_safe_div(a: Any, b: Any) -> Any:
    return a / b if b != 0 else 0.0 * a


def _float_xlogy(y: Any, x: Any) -> Any:
    return 0.0 * y if y == 0 else y * math.log(x)


def _float_dpow(a: Any, b: Any) -> Any:
    return 0.0 * a if b == 0 else b * a ** (b - 1)


FLOAT = Backend()
FLOAT.name = "float"
_binary_ops(FLOAT)
# C-level functions: these run on every scalar operation
FLOAT.add, FLOAT.sub, FLOAT.mul, FLOAT.truediv = operator.add, operator.sub, operator.mul, operator.truediv
FLOAT.neg, FLOAT.pos = operator.neg, operator.pos
FLOAT.pow = _float_pow
FLOAT.abs = abs
FLOAT.sqrt = FLOAT.sqrt0 = math.sqrt
FLOAT.cbrt = getattr(math, "cbrt", lambda x: float(np.cbrt(x)))
FLOAT.exp = math.exp
FLOAT.exp2 = getattr(math, "exp2", lambda x: 2.0**x)
FLOAT.expm1 = math.expm1
FLOAT.log = math.log
FLOAT.log2 = math.log2
FLOAT.log10 = math.log10
FLOAT.log1p = math.log1p
FLOAT.sin, FLOAT.cos, FLOAT.tan = math.sin, math.cos, math.tan
FLOAT.arcsin, FLOAT.arccos, FLOAT.arctan = math.asin, math.acos, math.atan
FLOAT.arctan2 = math.atan2
FLOAT.sinh, FLOAT.cosh, FLOAT.tanh = math.sinh, math.cosh, math.tanh
FLOAT.arcsinh, FLOAT.arccosh, FLOAT.arctanh = math.asinh, math.acosh, math.atanh
FLOAT.hypot = math.hypot
FLOAT.erf, FLOAT.erfc = math.erf, math.erfc
FLOAT.sigmoid = _float_sigmoid
FLOAT.softplus = _float_softplus
FLOAT.relu = lambda x: x if x > 0 else 0.0 * x
FLOAT.maximum = _float_maximum
FLOAT.minimum = _float_minimum
FLOAT.sign = _float_sign
FLOAT.floor = lambda x: float(math.floor(x))
FLOAT.ceil = lambda x: float(math.ceil(x))
FLOAT.round = lambda x: float(round(x))  # half to even, as np.round
FLOAT.const = lambda like, c: float(c)
FLOAT.pi = lambda like: math.pi
FLOAT.xlogy = _float_xlogy
FLOAT.safe_div = _float_safe_div
FLOAT.dpow = _float_dpow
FLOAT.zero = lambda like: 0.0


# --------------------------------------------------------------------------
# Python complex: cmath; what cmath lacks comes from mpmath at double precision.
# --------------------------------------------------------------------------


def _via_mpmath(fn: Callable[..., Any]) -> Callable[..., complex]:
    def f(*args: Any) -> complex:
        with mpmath.workprec(53):
            return complex(fn(*args))

    return f


def _no_complex(name: str) -> Callable[..., Any]:
    def f(*args: Any) -> Any:
        raise TypeError(
            f"{name} is not defined for complex arguments (it is not complex-"
            f"differentiable); got {', '.join(repr(a) for a in args)}"
        )

    return f


COMPLEX = Backend()
COMPLEX.name = "complex"
_binary_ops(COMPLEX)
COMPLEX.pow = lambda a, b: a**b
COMPLEX.sqrt = COMPLEX.sqrt0 = cmath.sqrt
COMPLEX.cbrt = lambda x: x ** (1 / 3) if x != 0 else 0j
COMPLEX.exp = cmath.exp
COMPLEX.exp2 = lambda x: 2.0**x
COMPLEX.expm1 = _via_mpmath(mpmath.expm1)
COMPLEX.log = cmath.log
COMPLEX.log2 = lambda x: cmath.log(x) / math.log(2.0)
COMPLEX.log10 = cmath.log10
COMPLEX.log1p = _via_mpmath(mpmath.log1p)
COMPLEX.sin, COMPLEX.cos, COMPLEX.tan = cmath.sin, cmath.cos, cmath.tan
COMPLEX.arcsin, COMPLEX.arccos, COMPLEX.arctan = cmath.asin, cmath.acos, cmath.atan
COMPLEX.sinh, COMPLEX.cosh, COMPLEX.tanh = cmath.sinh, cmath.cosh, cmath.tanh
COMPLEX.arcsinh, COMPLEX.arccosh, COMPLEX.arctanh = cmath.asinh, cmath.acosh, cmath.atanh
COMPLEX.erf = _via_mpmath(mpmath.erf)
COMPLEX.erfc = _via_mpmath(mpmath.erfc)
COMPLEX.sigmoid = lambda x: 1 / (1 + cmath.exp(-x))
COMPLEX.softplus = lambda x: cmath.log(1 + cmath.exp(x))
COMPLEX.abs = abs  # |z| has a value; its derivative is refused (rules: holomorphic=False)
for _name in ("arctan2", "hypot", "relu", "maximum", "minimum", "sign", "floor", "ceil", "round"):
    setattr(COMPLEX, _name, _no_complex(_name))
COMPLEX.const = lambda like, c: complex(c)
COMPLEX.pi = lambda like: math.pi
COMPLEX.xlogy = lambda y, x: 0j * y if y == 0 else y * cmath.log(x)
COMPLEX.safe_div = lambda a, b: a / b if b != 0 else 0j * a
COMPLEX.dpow = lambda a, b: 0j * a if b == 0 else b * a ** (b - 1)
COMPLEX.zero = lambda like: 0j


# --------------------------------------------------------------------------
# mpmath numbers: every function at the current working precision.
# --------------------------------------------------------------------------


def _mp_sign(x: Any) -> Any:
    return mpmath.sign(x)


def _mp_sigmoid(x: Any) -> Any:
    if isinstance(x, mpmath.mpc):
        return 1 / (1 + mpmath.exp(-x))
    if x >= 0:
        return 1 / (1 + mpmath.exp(-x))
    e = mpmath.exp(x)
    return e / (1 + e)


MP = Backend()
MP.name = "mpmath"
_binary_ops(MP)
MP.pow = mpmath.power
MP.abs = mpmath.fabs
MP.sqrt = MP.sqrt0 = mpmath.sqrt
MP.cbrt = lambda x: -mpmath.cbrt(-x) if isinstance(x, mpmath.mpf) and x < 0 else mpmath.cbrt(x)  # real root for reals
MP.exp = mpmath.exp
MP.exp2 = lambda x: mpmath.power(2, x)
MP.expm1 = mpmath.expm1
MP.log = mpmath.log
MP.log2 = lambda x: mpmath.log(x, 2)
MP.log10 = mpmath.log10
MP.log1p = mpmath.log1p
MP.sin, MP.cos, MP.tan = mpmath.sin, mpmath.cos, mpmath.tan
MP.arcsin, MP.arccos, MP.arctan = mpmath.asin, mpmath.acos, mpmath.atan
MP.arctan2 = mpmath.atan2
MP.sinh, MP.cosh, MP.tanh = mpmath.sinh, mpmath.cosh, mpmath.tanh
MP.arcsinh, MP.arccosh, MP.arctanh = mpmath.asinh, mpmath.acosh, mpmath.atanh
MP.hypot = mpmath.hypot
MP.erf, MP.erfc = mpmath.erf, mpmath.erfc
MP.sigmoid = _mp_sigmoid
MP.softplus = lambda x: (
    mpmath.log1p(mpmath.exp(x)) if isinstance(x, mpmath.mpc) else max(x, 0) + mpmath.log1p(mpmath.exp(-abs(x)))
)
MP.relu = lambda x: x if x > 0 else 0 * x
MP.maximum = lambda a, b: a if (a >= b or mpmath.isnan(a)) else b
MP.minimum = lambda a, b: a if (a <= b or mpmath.isnan(a)) else b
MP.sign = _mp_sign
MP.floor, MP.ceil = mpmath.floor, mpmath.ceil
MP.round = mpmath.nint


def _mp_real_only(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """An mpmath function that, like the complex namespace's, refuses complex arguments."""
    refuse = _no_complex(name)

    def f(*args: Any) -> Any:
        if any(isinstance(a, (mpmath.mpc, complex)) for a in args):
            return refuse(*args)
        return fn(*args)

    return f


# not complex-differentiable: refused at complex arguments, as by the complex namespace
MP.arctan2 = _mp_real_only("arctan2", MP.arctan2)
MP.hypot = _mp_real_only("hypot", MP.hypot)
MP.relu = _mp_real_only("relu", MP.relu)
MP.maximum = _mp_real_only("maximum", MP.maximum)
MP.minimum = _mp_real_only("minimum", MP.minimum)
MP.sign = _mp_real_only("sign", MP.sign)
MP.floor = _mp_real_only("floor", MP.floor)
MP.ceil = _mp_real_only("ceil", MP.ceil)
MP.round = _mp_real_only("round", MP.round)
MP.const = lambda like, c: mpmath.mpf(c)
MP.pi = lambda like: +mpmath.pi
MP.xlogy = lambda y, x: 0 * y if y == 0 else y * mpmath.log(x)
MP.safe_div = lambda a, b: a / b if b != 0 else 0 * a
MP.dpow = lambda a, b: 0 * a if b == 0 else b * mpmath.power(a, b - 1)
MP.zero = lambda like: mpmath.mpf(0)


# --------------------------------------------------------------------------
# NumPy arrays and NumPy scalars.
# --------------------------------------------------------------------------


def _np_erf_via(fn: Callable[[float], float], cfn: Callable[..., Any]) -> Callable[[Any], Any]:
    """NumPy has no erf; use SciPy's when it is installed, else the standard library's."""
    real = np.frompyfunc(fn, 1, 1)
    cplx = np.frompyfunc(lambda z: complex(cfn(z)), 1, 1)

    def f(x: Any) -> Any:
        x = np.asarray(x)
        if np.iscomplexobj(x):
            with mpmath.workprec(53):
                return np.asarray(cplx(x)).astype(x.dtype)
        dtype = x.dtype if x.dtype.kind == "f" else np.float64
        # asarray: on a 0-d array, NumPy < 2.1's frompyfunc returns a Python float
        return np.asarray(real(x)).astype(dtype)[()]

    return f


def _lazy_erf(name: str, fn: Callable[[float], float], cfn: Callable[..., Any]) -> Callable[[Any], Any]:
    """SciPy's erf/erfc when SciPy is installed (looked up at the first call, so
    ``import dualdiff`` never pays for importing SciPy), else the standard library's."""
    chosen: list[Callable[[Any], Any]] = []

    def f(x: Any) -> Any:
        if not chosen:
            try:  # optional speed-up, never a dependency
                from scipy import special

                chosen.append(getattr(special, name))
            except ImportError:  # pragma: no cover - depends on the environment
                chosen.append(_np_erf_via(fn, cfn))
        return chosen[0](x)

    return f


_np_erf = _lazy_erf("erf", math.erf, mpmath.erf)
_np_erfc = _lazy_erf("erfc", math.erfc, mpmath.erfc)


def _np_sigmoid(x: Any) -> Any:
    if np.iscomplexobj(x):  # as Python complex: no |x| trick, which is for reals only
        return 1 / (1 + np.exp(-x))
    e = np.exp(-np.abs(x))
    r = 1 / (1 + e)
    return np.where(np.real(x) >= 0, r, e * r)


def _np_cbrt(x: Any) -> Any:
    """The real cube root of reals (``np.cbrt``); of complex numbers, the principal root, as Python complex does."""
    if not np.iscomplexobj(x):
        return np.cbrt(x)
    z = np.asarray(x)
    zero = z == 0
    root = np.power(np.where(zero, 1, z), 1 / 3)  # NumPy has no complex cbrt; 0 ** (1/3) would warn
    return np.where(zero, 0, root)[()]


def _np_softplus(x: Any) -> Any:
    """``log(1 + e^x)``: ``np.logaddexp(0, x)`` for reals; for complex numbers (no complex logaddexp) as written."""
    if not np.iscomplexobj(x):
        return np.logaddexp(0, x)
    return np.log(1 + np.exp(x))


def _np_relu(x: Any) -> Any:
    return np.where(x > 0, x, 0 * x)


NUMPY = Backend()
NUMPY.name = "numpy"
NUMPY.add, NUMPY.sub, NUMPY.mul = np.add, np.subtract, np.multiply
NUMPY.truediv, NUMPY.pow = np.true_divide, np.power
NUMPY.neg, NUMPY.pos, NUMPY.abs = np.negative, np.positive, np.abs
NUMPY.square, NUMPY.reciprocal = np.square, lambda x: 1 / x
NUMPY.sqrt, NUMPY.sqrt0, NUMPY.cbrt = np.sqrt, np.sqrt, _np_cbrt
NUMPY.exp, NUMPY.exp2, NUMPY.expm1 = np.exp, np.exp2, np.expm1
NUMPY.log, NUMPY.log2, NUMPY.log10, NUMPY.log1p = np.log, np.log2, np.log10, np.log1p
NUMPY.sin, NUMPY.cos, NUMPY.tan = np.sin, np.cos, np.tan
NUMPY.arcsin, NUMPY.arccos, NUMPY.arctan = np.arcsin, np.arccos, np.arctan
NUMPY.arctan2 = np.arctan2
NUMPY.sinh, NUMPY.cosh, NUMPY.tanh = np.sinh, np.cosh, np.tanh
NUMPY.arcsinh, NUMPY.arccosh, NUMPY.arctanh = np.arcsinh, np.arccosh, np.arctanh
NUMPY.hypot = np.hypot
NUMPY.erf, NUMPY.erfc = _np_erf, _np_erfc
NUMPY.sigmoid = _np_sigmoid
NUMPY.softplus = _np_softplus
NUMPY.relu = _np_relu
NUMPY.maximum, NUMPY.minimum = np.maximum, np.minimum
NUMPY.sign, NUMPY.floor, NUMPY.ceil, NUMPY.round = np.sign, np.floor, np.ceil, np.round
NUMPY.const = lambda like, c: np.asarray(c, dtype=np.result_type(like, np.float32))[()]
NUMPY.pi = lambda like: NUMPY.const(like, np.pi)  # keeps float32 float32
NUMPY.xlogy = lambda y, x: np.where(y == 0, 0 * y, y * np.log(np.where(y == 0, 1, x)))
NUMPY.safe_div = lambda a, b: np.where(b == 0, 0 * a, a / np.where(b == 0, 1, b))
NUMPY.dpow = lambda a, b: np.where(b == 0, 0 * a, b * a ** np.where(b == 0, 1, b - 1))
NUMPY.zero = lambda like: np.zeros_like(like)


#: Namespace for operands that are themselves lifted values (Duals or tape
#: variables of an outer level). Filled in by :mod:`dualdiff.functions`, whose
#: functions dispatch through the rule table again.
GENERIC = Backend()
GENERIC.name = "generic"

BACKENDS: tuple[Backend, ...] = (FLOAT, COMPLEX, MP, NUMPY, GENERIC)
for _slot, _b in enumerate(BACKENDS):
    _b.slot = _slot

# Python types that map straight to a backend (the fast path).
_BY_TYPE: dict[type, Backend] = {
    float: FLOAT,
    int: FLOAT,
    bool: FLOAT,
    complex: COMPLEX,
    mpmath.mpf: MP,
    mpmath.mpc: MP,
    np.ndarray: NUMPY,
    np.float64: NUMPY,  # a NumPy scalar computes as NumPy does (same bits as a plain np.sin)
}


def register_type(tp: type, backend: Backend) -> None:
    """Make values of type ``tp`` compute with ``backend`` (used for lifted types)."""
    _BY_TYPE[tp] = backend


def backend_of(value: Any) -> Backend | None:
    """The namespace that computes with ``value``, or None if it is not a number.

    >>> backend_of(1.5).name, backend_of(np.ones(2)).name
    ('float', 'numpy')
    """
    b = _BY_TYPE.get(type(value))
    if b is not None:
        return b
    if isinstance(value, np.generic):
        if value.dtype.kind in "biufc":
            return NUMPY
        return None
    for tp, b in list(_BY_TYPE.items()):
        if isinstance(value, tp):
            _BY_TYPE[type(value)] = b
            return b
    return None


_PRIORITY = {FLOAT: 0, COMPLEX: 1, MP: 2, NUMPY: 3, GENERIC: 4}


def backend_for(values: Any) -> Backend:
    """The namespace for an operation on several operands: the most general one.

    Lifted values beat arrays, arrays beat mpmath, mpmath beats complex,
    complex beats float.

    >>> backend_for([1.0, 2j]).name
    'complex'
    """
    best = FLOAT
    rank = 0
    for v in values:
        b = _BY_TYPE.get(type(v)) or backend_of(v)
        if b is None:
            raise TypeError(f"expected a number or an array of numbers, got {type(v).__name__}: {v!r}")
        r = _PRIORITY[b]
        if r > rank:
            best, rank = b, r
    if best is MP and any(type(v) is np.ndarray for v in values):
        best = NUMPY
    return best
