"""Elementwise NumPy functions without a rule of their own, and the parts of complex numbers.

A ufunc with a rule goes straight to it (:data:`.numpy_api.UFUNC_RULES`);
the ones here are exact compositions of rules (``logaddexp`` is a shifted
log of a sum of exponentials), or handle options (``np.round``'s decimals)
and complex parts (``conj``, ``real``, ``imag``).

>>> import numpy as np, dualdiff as dd
>>> float(dd.grad(lambda x: np.logaddexp(x, 0.0))(0.0))
0.5
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import NoRuleError
from ..rules import arrays as ar
from ..rules.elementwise import ADD, EXP, LOG, ROUND, SUB
from .core import apply, apply1, apply2, apply_linear, strip_all
from .np_common import _is_complex, _real_only, _refuse_out, _shape


def _logaddexp(a: Any, b: Any) -> Any:
    # exact: a constant shift m leaves the value and the derivative unchanged
    m = np.maximum(strip_all(a), strip_all(b))
    return apply2(ADD, m, apply1(LOG, apply2(ADD, apply1(EXP, apply2(SUB, a, m)), apply1(EXP, apply2(SUB, b, m)))))


#: ufuncs with no rule of their own, written exactly in terms of rules.
COMPOSED_UFUNCS: dict[Any, Callable[..., Any]] = {np.logaddexp: _logaddexp}


def conj(x: Any) -> Any:
    """``np.conj``: the identity on real values."""
    if not _is_complex(x):
        return x
    return apply_linear(ar.CONJ, x)


def _real(val: Any) -> Any:
    _real_only("np.real", val)
    return val


def _imag(val: Any) -> Any:
    _real_only("np.imag", val)
    return np.zeros(_shape(val))


def _round(a: Any, decimals: int = 0, out: Any = None) -> Any:
    if decimals != 0:
        raise NoRuleError("np.round with decimals != 0 has no derivative rule in dualdiff; use decimals=0")
    _refuse_out("np.round", out)
    return apply(ROUND, a)
