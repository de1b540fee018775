"""NumPy's protocols on lifted values, mapped into the rule table.

``np.sin(dual)`` arrives here through ``__array_ufunc__`` and ``np.sum(var)``
through ``__array_function__``; each is sent to the rule that defines it, or
to an exact composition of rules (``mean`` is a sum times ``1/n``, ``var`` a
mean of squares, ``clip`` a maximum and a minimum, ``norm`` a root of a sum
of squares). A NumPy function without a rule raises
:class:`~dualdiff.errors.NoRuleError` naming it, never a silent wrong answer
or an object array.

>>> import numpy as np, dualdiff as dd
>>> d = dd.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
>>> np.sum(d * d)
Dual(np.float64(5.0), np.float64(2.0))
>>> try:
...     np.fft.fft(d)
... except dd.NoRuleError as e:
...     print(e)
np.fft.fft has no derivative rule in dualdiff
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np

from ..errors import NoRuleError
from ..rules.elementwise import ABS
from ..rules.indices import VALUE_FUNCTIONS_MORE
from ..rules.kinds import Elementwise, Nondiff, Rule, is_registered, on_register
from ..rules.values import VALUE_FUNCTIONS
from . import (
    np_differences,
    np_linalg,
    np_products,
    np_ranges,
    np_rearranging,
    np_reductions,
    np_shaping,
    np_signal,
    np_stacking,
)
from .core import apply, apply_nondiff, strip_all
from .np_common import _refuse, _refuse_out, _shape, _value_function, _value_only
from .np_linalg import det, inv, norm, slogdet, solve
from .np_products import COMPOSED_GUFUNCS, GUFUNC_OPTIONS, dot, einsum, inner, matmul, outer, tensordot, vdot
from .np_reductions import _REDUCERS, amax, amin, cumsum, mean, prod, std, sum, trace, var
from .np_shaping import (
    array_split,
    atleast_1d,
    atleast_2d,
    broadcast_to,
    clip,
    concatenate,
    diag,
    diagonal,
    expand_dims,
    flip,
    hstack,
    moveaxis,
    ravel,
    reshape,
    split,
    squeeze,
    stack,
    swapaxes,
    transpose,
    vstack,
    where,
)
from .np_ufuncs import (
    COMPOSED_UFUNCS,
    _imag,
    _real,
    _round,
    absolute,
    angle,
    conj,
    fix,
    nan_to_num,
    real_if_close,
    sinc,
)
from .scipy_api import scipy_handler, ufunc_name

#: ufunc -> the rule it stands for (elementwise, or a function of values)
UFUNC_RULES: dict[Any, Elementwise | Nondiff] = {np.fabs: ABS}


def _on_register(rule: Rule) -> None:
    ufunc = getattr(rule, "ufunc", None)
    if ufunc is None:
        return
    if is_registered(rule):
        UFUNC_RULES[ufunc] = cast("Elementwise | Nondiff", rule)  # the kinds that have a ufunc
    elif UFUNC_RULES.get(ufunc) is rule:
        del UFUNC_RULES[ufunc]


on_register(_on_register)


def numpy_name(func: Any) -> str:
    """``np.fft.fft`` for numpy.fft.fft: how a user would write the function.

    >>> numpy_name(np.linalg.eigh)
    'np.linalg.eigh'
    """
    module = getattr(func, "__module__", None) or "numpy"
    module = "np" + module[len("numpy") :] if module.startswith("numpy") else module
    module = module.replace("._core", "").replace(".core", "")
    parts = module.split(".")
    if parts[0] == "np":  # drop private submodules: np.linalg._linalg -> np.linalg
        module = ".".join(p for p in parts if not p.startswith("_"))
    return f"{module}.{getattr(func, '__name__', repr(func))}"


def array_ufunc(ufunc: Any, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Dispatch ``ufunc(*inputs)`` (or ``ufunc.reduce`` ...) on lifted values to its rule."""
    name = ufunc_name(ufunc)
    if kwargs.get("out") is not None:
        _refuse_out(name if method == "__call__" else f"{name}.{method}", kwargs["out"])
    if method == "__call__":
        rule = UFUNC_RULES.get(ufunc)
        # a rule wins (built in, or registered by a user); np.abs of complex values composes
        composed = absolute if rule is ABS else (COMPOSED_UFUNCS.get(ufunc) if rule is None else None)
        if composed is not None or rule is not None or ufunc is np.matmul:
            extra = [k for k, v in kwargs.items() if v is not None and k != "out"]
            if extra and not (composed is not None and set(extra) <= GUFUNC_OPTIONS.get(ufunc, set())):
                raise TypeError(f"{name} on lifted values takes no keyword arguments, got {sorted(extra)}")
            if composed is not None:
                return composed(*inputs, **{k: kwargs[k] for k in extra})
            if isinstance(rule, Nondiff):
                return apply_nondiff(rule, inputs)
            if rule is not None:
                return apply(rule, *inputs)
            return matmul(*inputs)
        special = scipy_handler(ufunc)  # scipy.special.erf and friends
        if special is not None:
            if any(v is not None for k, v in kwargs.items() if k != "out"):
                raise TypeError(f"{name} on lifted values takes no keyword arguments, got {sorted(kwargs)}")
            return special(*inputs)
    elif method == "reduce" and ufunc in _REDUCERS:
        (a,) = inputs
        opts = dict(kwargs)
        axis = opts.pop("axis", 0)
        keepdims = bool(opts.pop("keepdims", False))
        opts.pop("out", None)
        _refuse(f"{name}.reduce", **opts)
        return _REDUCERS[ufunc](a, axis=axis, keepdims=keepdims)
    elif method == "accumulate" and ufunc is np.add:
        (a,) = inputs
        opts = dict(kwargs)
        axis = opts.pop("axis", 0)
        opts.pop("out", None)
        _refuse("np.add.accumulate", **opts)
        return cumsum(a, axis)
    elif method == "outer" and isinstance(outer := UFUNC_RULES.get(ufunc), Elementwise) and ufunc.nin == 2:
        a, b = inputs
        _refuse(f"{name}.outer", **{k: v for k, v in kwargs.items() if k != "out"})
        sa, sb = _shape(a), _shape(b)
        return apply(outer, reshape(a, sa + (1,) * len(sb)), b)
    what = name + ("" if method == "__call__" else f".{method}")
    raise NoRuleError(f"{what} has no derivative rule in dualdiff")


FUNCTION_HANDLERS: dict[Any, Callable[..., Any]] = {
    # reductions
    np.sum: sum,
    np.mean: mean,
    np.var: var,
    np.std: std,
    np.prod: prod,
    np.max: amax,
    np.amax: amax,
    np.min: amin,
    np.amin: amin,
    np.cumsum: cumsum,
    np.trace: trace,
    # structure
    np.reshape: reshape,
    np.ravel: ravel,
    np.transpose: transpose,
    np.swapaxes: swapaxes,
    np.moveaxis: moveaxis,
    np.squeeze: squeeze,
    np.expand_dims: expand_dims,
    np.atleast_1d: atleast_1d,
    np.atleast_2d: atleast_2d,
    np.broadcast_to: broadcast_to,
    np.flip: flip,
    np.concatenate: concatenate,
    np.stack: stack,
    np.vstack: vstack,
    np.hstack: hstack,
    np.split: split,
    np.array_split: array_split,
    np.where: where,
    np.clip: clip,
    np.diag: diag,
    np.diagonal: diagonal,
    np.round: _round,
    np.around: _round,
    np.conj: conj,
    np.conjugate: conj,
    np.real: _real,
    np.imag: _imag,
    np.copy: np_shaping.copy,
    # products
    np.dot: dot,
    np.vdot: vdot,
    np.inner: inner,
    np.outer: outer,
    np.tensordot: tensordot,
    np.einsum: einsum,
    # linear algebra
    np.linalg.norm: norm,
    np.linalg.inv: inv,
    np.linalg.solve: solve,
    np.linalg.det: det,
    np.linalg.slogdet: slogdet,
    # values only
    np.shape: lambda a: np.shape(strip_all(a)),
    np.ndim: lambda a: np.ndim(strip_all(a)),
    np.size: lambda a, axis=None: np.size(strip_all(a), axis),
    **{f: _value_only(f) for f in (np.zeros_like, np.ones_like, np.empty_like, np.iscomplexobj, np.isrealobj)},
    **{f: _value_function(rule) for f, rule in VALUE_FUNCTIONS.items()},
    np.full_like: np_shaping.full_like,
    np.copyto: np_shaping.copyto,
    np.result_type: _value_only(np.result_type),
}
if hasattr(np.linalg, "matmul"):  # NumPy 2
    FUNCTION_HANDLERS[np.linalg.matmul] = matmul

# the handlers of each topic module, and the complex-number functions
FUNCTION_HANDLERS.update(
    {
        np.angle: angle,
        np.real_if_close: real_if_close,
        np.nan_to_num: nan_to_num,
        np.sinc: sinc,
        np.fix: fix,
        **{f: _value_function(rule) for f, rule in VALUE_FUNCTIONS_MORE.items()},
    }
)
for _module in (
    np_reductions,
    np_shaping,
    np_stacking,
    np_rearranging,
    np_products,
    np_linalg,
    np_differences,
    np_ranges,
    np_signal,
):
    FUNCTION_HANDLERS.update(_module.HANDLERS)
COMPOSED_UFUNCS.update(COMPOSED_GUFUNCS)


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Dispatch a NumPy function on lifted values to its rule, or refuse by name."""
    handler = FUNCTION_HANDLERS.get(func)
    if handler is None:
        raise NoRuleError(f"{numpy_name(func)} has no derivative rule in dualdiff")
    return handler(*args, **kwargs)


# Several handlers are named after the NumPy function they stand for (sum,
# max, ...), shadowing builtins inside this module on purpose.
__all__ = ["FUNCTION_HANDLERS", "UFUNC_RULES", "array_function", "array_ufunc", "numpy_name"]
