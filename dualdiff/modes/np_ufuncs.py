"""Elementwise NumPy functions without a rule of their own, and the parts of complex numbers.

A ufunc with a rule goes straight to it (:data:`.numpy_api.UFUNC_RULES`);
the ones here are exact compositions of rules (``logaddexp`` is a shifted
log of a sum of exponentials, ``deg2rad`` a product with ``pi/180``, exactly
NumPy's own formula), or handle options (``np.round``'s decimals).

**Complex numbers** follow JAX's policy. Holomorphic functions have their
complex derivative. Real-valued functions of complex numbers are functions
of the real and imaginary parts, built from the linear rules ``real`` and
``imag``: ``abs(z) = hypot(Re z, Im z)`` (NumPy's own formula),
``angle(z) = arctan2(Im z, Re z)``, ``|z|**2 = Re(z)**2 + Im(z)**2``, so
``grad(abs)(z) = conj(z) / |z|``. Anything else that is not holomorphic
raises :class:`~dualdiff.errors.NonHolomorphicError`.

>>> import numpy as np, dualdiff as dd
>>> float(dd.grad(lambda x: np.logaddexp(x, 0.0))(0.0))
0.5
>>> complex(dd.grad(lambda z: np.abs(z))(3.0 + 4.0j))
(0.6-0.8j)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import NoRuleError
from ..rules import arrays as ar
from ..rules.elementwise import (
    ABS,
    ADD,
    ARCTAN2,
    EXP,
    EXP2,
    HYPOT,
    LOG,
    LOG2,
    MAXIMUM,
    MINIMUM,
    MUL,
    ROUND,
    SQUARE,
    SUB,
    TRUEDIV,
)
from ..rules.piecewise import FLOOR_DIVIDE, REMAINDER, TRUNC
from ..rules.shaping import ASTYPE, ASTYPE_DISCRETE
from ..rules.special import SINC
from ..rules.values import ISFINITE, ISNAN
from .core import LiftedBase, apply, apply1, apply2, apply_general, apply_linear, apply_nondiff, strip_all
from .np_common import _is_complex, _refuse, _refuse_out, _shape


def _where(cond: Any, a: Any, b: Any) -> Any:
    return apply_general(ar.WHERE, (cond, a, b))


# ==========================================================================
# complex numbers: conjugate, parts, modulus, argument
# ==========================================================================


def conj(x: Any) -> Any:
    """``np.conj``: the identity on real values."""
    if not _is_complex(x):
        return x
    return apply_linear(ar.CONJ, x)


def real(val: Any) -> Any:
    """``np.real``: the linear rule ``real`` (the identity on real values)."""
    if not _is_complex(val):
        return val
    return apply_linear(ar.REAL, val)


def imag(val: Any) -> Any:
    """``np.imag``: the linear rule ``imag`` (a constant zero for real values)."""
    if not _is_complex(val):
        return np.zeros(_shape(val), dtype=np.result_type(strip_all(val), 0.0))
    return apply_linear(ar.IMAG, val)


_real, _imag = real, imag  # the names the handler table has used


def absolute(x: Any) -> Any:
    """``abs`` and ``np.abs``: the rule ``abs`` for real values; ``hypot(Re z, Im z)`` for complex ones."""
    p = strip_all(x)
    if type(p) is float or not np.iscomplexobj(p):
        return apply1(ABS, x)
    return apply2(HYPOT, real(x), imag(x))


def abs2(x: Any) -> Any:
    """``|x|**2``: a square for real values, ``Re(z)**2 + Im(z)**2`` for complex ones (NumPy's ``var``)."""
    if not _is_complex(x):
        return apply1(SQUARE, x)
    return apply2(ADD, apply1(SQUARE, real(x)), apply1(SQUARE, imag(x)))


def angle(z: Any, deg: bool = False) -> Any:
    """``np.angle``: ``arctan2(Im z, Re z)`` (0 or pi for reals, whose derivative is 0)."""
    a = apply2(ARCTAN2, imag(z), real(z))
    return apply2(MUL, a, 180 / np.pi) if deg else a


def real_if_close(a: Any, tol: float = 100) -> Any:
    """``np.real_if_close``: the real part when every imaginary part is within ``tol`` machine epsilons."""
    if not _is_complex(a):
        return a
    eps = np.finfo(np.asarray(strip_all(a)).real.dtype).eps
    limit = tol * eps if tol > 1 else tol
    return real(a) if np.all(np.abs(imag(a)) < limit) else a


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None, neginf: Any = None) -> Any:
    """``np.nan_to_num``: the value where finite, NumPy's replacements (constants) elsewhere."""
    if _is_complex(x):
        r = nan_to_num(real(x), copy, nan, posinf, neginf)
        i = nan_to_num(imag(x), copy, nan, posinf, neginf)
        return apply2(ADD, r, apply2(MUL, i, 1j))
    plain = np.nan_to_num(strip_all(x), nan=nan, posinf=posinf, neginf=neginf)
    return _where(apply_nondiff(ISFINITE, (x,)), x, plain)


# ==========================================================================
# ufuncs composed of rules
# ==========================================================================


def _logaddexp(a: Any, b: Any) -> Any:
    # exact: a constant shift m leaves the value and the derivative unchanged
    m = np.maximum(strip_all(a), strip_all(b))
    return apply2(ADD, m, apply1(LOG, apply2(ADD, apply1(EXP, apply2(SUB, a, m)), apply1(EXP, apply2(SUB, b, m)))))


def _logaddexp2(a: Any, b: Any) -> Any:
    m = np.maximum(strip_all(a), strip_all(b))
    return apply2(ADD, m, apply1(LOG2, apply2(ADD, apply1(EXP2, apply2(SUB, a, m)), apply1(EXP2, apply2(SUB, b, m)))))


def _scaled(c: float) -> Callable[[Any], Any]:
    def scale(x: Any) -> Any:
        return apply2(MUL, x, c)

    return scale


def _nan_aware(rule: Any) -> Callable[[Any, Any], Any]:
    """``fmax``/``fmin``: a NaN loses to a number; NaNs are replaced before comparing, so no NaN partial is made."""

    def fn(a: Any, b: Any) -> Any:
        a2 = _where(apply_nondiff(ISNAN, (a,)), b, a)
        b2 = _where(apply_nondiff(ISNAN, (b,)), a, b)
        return apply2(rule, a2, b2)

    return fn


def _divmod(a: Any, b: Any) -> tuple[Any, Any]:
    return apply2(FLOOR_DIVIDE, a, b), apply2(REMAINDER, a, b)


def astype(x: Any, dtype: Any, order: str = "K", casting: str = "unsafe", subok: bool = True, copy: bool = True) -> Any:
    """``x.astype(dtype)``: the linear rule ``astype`` between floating and complex types.

    To an integer or boolean type it is a function of values (piecewise
    constant, derivative 0): the rule ``astype_discrete``.
    """
    dtype = np.dtype(dtype)
    have = np.result_type(strip_all(x))
    if dtype == have:
        return x
    if dtype.kind in "biu":
        return apply_nondiff(ASTYPE_DISCRETE, (x,), (dtype,))
    if dtype.kind not in "fc":
        raise TypeError(f"astype({dtype}) of a lifted value: only floating, complex, integer and bool types")
    return apply_linear(ASTYPE, x, dtype, have)


def _float_power(a: Any, b: Any) -> Any:
    def up(v: Any) -> Any:
        complex_ = np.iscomplexobj(strip_all(v))
        return astype(v, np.complex128 if complex_ else np.float64) if isinstance(v, LiftedBase) else v

    return np.power(up(a), up(b))


#: ufuncs with no rule of their own, written exactly in terms of rules (a rule
#: registered for one of them later, ``dd.register_numpy_function``, takes precedence).
COMPOSED_UFUNCS: dict[Any, Callable[..., Any]] = {
    np.logaddexp: _logaddexp,
    np.logaddexp2: _logaddexp2,
    np.deg2rad: _scaled(np.pi / 180.0),
    np.radians: _scaled(np.pi / 180.0),
    np.rad2deg: _scaled(180.0 / np.pi),
    np.degrees: _scaled(180.0 / np.pi),
    np.fmax: _nan_aware(MAXIMUM),
    np.fmin: _nan_aware(MINIMUM),
    np.divmod: _divmod,
    np.float_power: _float_power,
    np.conjugate: conj,
}


# ==========================================================================
# functions that are not ufuncs
# ==========================================================================


def _round(a: Any, decimals: int = 0, out: Any = None) -> Any:
    """``np.round``: piecewise constant (derivative 0), with NumPy's scaling for ``decimals``."""
    _refuse_out("np.round", out)
    if decimals == 0:
        return apply(ROUND, a)
    if _is_complex(a):
        raise NoRuleError("np.round of complex values has no derivative rule in dualdiff")
    f = 10.0 ** abs(decimals)
    if decimals > 0:
        return apply2(TRUEDIV, apply1(ROUND, apply2(MUL, a, f)), f)
    return apply2(MUL, apply1(ROUND, apply2(TRUEDIV, a, f)), f)


def sinc(x: Any) -> Any:
    """``np.sinc``: the rule ``sinc``."""
    return apply1(SINC, x)


def fix(x: Any, out: Any = None) -> Any:
    """``np.fix``: rounding towards zero (the rule ``trunc``)."""
    _refuse("np.fix", out=out)
    return apply1(TRUNC, x)


__all__ = [
    "COMPOSED_UFUNCS",
    "abs2",
    "absolute",
    "angle",
    "astype",
    "conj",
    "fix",
    "imag",
    "nan_to_num",
    "real",
    "real_if_close",
    "sinc",
]
