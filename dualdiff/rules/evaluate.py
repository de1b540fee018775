"""Evaluating a rule on plain numbers, under the documented domain policy.

``evaluate`` computes a primitive's value; ``local`` computes its value and
the local partials the modes need. Both apply the one policy stated in
:mod:`dualdiff.rules`: a real argument outside the real domain raises
:class:`DomainError`; boundaries and overflow give the IEEE 754 limit, as
NumPy does (Python floats would raise instead, so their errors are caught and
the step is redone in NumPy float64, which costs nothing on the normal path).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mpmath
import numpy as np

from ..errors import DomainError, NonHolomorphicError
from .backends import COMPLEX, FLOAT, MP, NUMPY, Backend
from .kinds import Elementwise

#: What Python's float arithmetic and math module raise where IEEE 754 gives a limit.
FLOAT_ERRORS = (ArithmeticError, ValueError)


def evaluate(rule: Elementwise, m: Backend, args: Sequence[Any]) -> Any:
    """The value of ``rule`` at ``args`` computed in namespace ``m``.

    >>> from dualdiff.rules.elementwise import LOG
    >>> evaluate(LOG, FLOAT, [0.0])
    -inf
    """
    fn = rule.impl[m.slot]
    if m is FLOAT:
        try:
            return fn(*args)
        except FLOAT_ERRORS:
            return _ieee_float(rule, args, None)[0]
    if m is NUMPY and rule.domain is not None:
        with np.errstate(invalid="raise", divide="ignore", over="ignore"):
            try:
                return fn(*args)
            except FloatingPointError:
                raise _domain_error(rule, args) from None
    if m is COMPLEX:
        try:
            return fn(*args)
        except ValueError:  # cmath at an infinity where the function has no value
            raise _domain_error(rule, args) from None
    y = fn(*args)
    if m is MP and rule.domain is not None and (_mp_left_real_line(y, args) or _mp_invalid(y, args)):
        raise _domain_error(rule, args)
    return y


def local(rule: Elementwise, m: Backend, args: Sequence[Any], active: Sequence[bool]) -> tuple[Any, list[Any]]:
    """The value and the partials with respect to the ``active`` arguments.

    Inactive arguments get ``None`` in place of a partial (it is never
    computed: a multiplication by a constant does not differentiate the
    constant).

    >>> from dualdiff.rules.elementwise import MUL
    >>> local(MUL, FLOAT, [2.0, 3.0], [True, False])
    (6.0, [3.0, None])
    """
    if m is FLOAT:
        try:
            y = rule.impl[0](*args)
            return y, [p(m, y, *args) if a else None for p, a in zip(rule.partials, active)]
        except FLOAT_ERRORS:
            return _ieee_float(rule, args, active)
    if not rule.holomorphic and _any_complex(m, args):
        raise NonHolomorphicError(
            f"{rule.name} is not complex-differentiable at the complex argument(s) "
            f"{', '.join(repr(a) for a in args)}: dualdiff differentiates holomorphic functions and "
            "real-valued ones (abs, np.real, np.imag, np.angle) of complex numbers; "
            "write it with np.real/np.imag to say which real function you mean"
        )
    y = evaluate(rule, m, args)
    if m is NUMPY:
        with np.errstate(all="ignore"):
            return y, [p(m, y, *args) if a else None for p, a in zip(rule.partials, active)]
    if m is MP:
        # constants as mpmath numbers (exactly), so a partial like 1 / b of an int b keeps the precision
        args = [_MP_OF[type(a)](a) if type(a) in _MP_OF else a for a in args]
        try:
            return y, [p(m, y, *args) if a else None for p, a in zip(rule.partials, active)]
        except ZeroDivisionError:
            return y, _mp_limits(rule, y, args, active)
    return y, [p(m, y, *args) if a else None for p, a in zip(rule.partials, active)]


_MP_OF = {int: mpmath.mpf, float: mpmath.mpf, complex: mpmath.mpc, bool: mpmath.mpf}


def _any_complex(m: Backend, args: Sequence[Any]) -> bool:
    if m is COMPLEX:
        return True
    if m is MP:
        return any(isinstance(a, (mpmath.mpc, complex)) for a in args)
    if m is NUMPY:
        return any(np.iscomplexobj(a) for a in args)
    return False


def _mp_limits(rule: Elementwise, y: Any, args: Sequence[Any], active: Sequence[bool]) -> list[Any]:
    """Partials where mpmath divided by zero: the IEEE limit (±inf or nan), as for floats.

    Each partial that mpmath can compute stays exact. One that divides by
    zero is taken from float64, which finds the same infinite limit at any
    precision; a finite float64 value would have lost digits, so it raises.
    """
    out: list[Any] = []
    for p, a in zip(rule.partials, active):
        if not a:
            out.append(None)
            continue
        try:
            out.append(p(MP, y, *args))
        except ZeroDivisionError:
            with np.errstate(all="ignore"):
                v = p(NUMPY, np.float64(y), *(np.float64(a) for a in args))
            if np.isfinite(v):
                raise ZeroDivisionError(f"{rule.name}: a partial derivative divides by zero at {list(args)}") from None
            out.append(mpmath.mpf(float(v)))
    return out


def _ieee_float(rule: Elementwise, args: Sequence[Any], active: Sequence[bool] | None) -> tuple[Any, list[Any]]:
    """Redo a Python-float step in NumPy float64 to get IEEE limits, not exceptions."""
    f64 = [np.float64(a) if isinstance(a, (int, float)) else a for a in args]
    with np.errstate(over="ignore", divide="ignore"):
        y = evaluate(rule, NUMPY, f64)
    if rule.domain is None and np.isnan(y) and not any(np.isnan(a) for a in f64):
        raise _domain_error(rule, args)
    parts: list[Any] = []
    if active is not None:
        with np.errstate(all="ignore"):
            parts = [_to_float(p(NUMPY, y, *f64)) if a else None for p, a in zip(rule.partials, active)]
    return _to_float(y), parts


def _to_float(v: Any) -> Any:
    """A NumPy float64 scalar (or 0-d array) back to a Python float."""
    if isinstance(v, np.floating) or (type(v) is np.ndarray and v.ndim == 0 and v.dtype.kind == "f"):
        return float(v)
    return v


def _mp_invalid(y: Any, args: Sequence[Any]) -> bool:
    """nan from arguments that are not nan: IEEE 754's invalid operation (sin(inf))."""
    return isinstance(y, mpmath.mpf) and mpmath.isnan(y) and not any(_is_nan(a) for a in args)


def _is_nan(a: Any) -> bool:
    try:
        return bool(mpmath.isnan(a))
    except (TypeError, ValueError):
        return False


def _mp_left_real_line(y: Any, args: Sequence[Any]) -> bool:
    return isinstance(y, mpmath.mpc) and not any(isinstance(a, (mpmath.mpc, complex)) for a in args)


def _domain_error(rule: Elementwise, args: Sequence[Any]) -> DomainError:
    domain = rule.domain or "the real numbers"
    shown = [a for a in args if np.ndim(a) > 0]
    if not shown:
        vals = ", ".join(repr(_to_float(a)) for a in args)
        word = "argument" if len(args) == 1 else "arguments"
        verb = "is" if len(args) == 1 else "are"
        return DomainError(f"{rule.name}: {word} {vals} {verb} outside the domain {domain}")
    with np.errstate(all="ignore"):
        bad = np.isnan(rule.impl[NUMPY.slot](*args))
    where = np.argwhere(bad)
    first = tuple(int(i) for i in where[0]) if len(where) else ()
    count = int(bad.sum())
    vals = ", ".join(repr(_to_float(np.broadcast_to(a, bad.shape)[first])) for a in args)
    return DomainError(
        f"{rule.name}: {count} element(s) outside the domain {domain}; the first at index {first} with value {vals}"
    )
