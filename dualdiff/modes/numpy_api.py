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

import operator
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..errors import NoRuleError
from ..rules import arrays as ar
from ..rules.elementwise import ABS, ADD, EXP, LOG, MAXIMUM, MINIMUM, MUL, POW, ROUND, SQRT0, SQUARE, SUB
from ..rules.kinds import Elementwise, Nondiff, Rule, is_registered, on_register
from ..rules.structural import BROADCAST_TO, GETITEM, RESHAPE, SUM
from ..rules.values import VALUE_FUNCTIONS
from .core import LiftedBase as Lifted
from .core import apply, apply1, apply2, apply_general, apply_linear, apply_nondiff, strip_all
from .scipy_api import scipy_handler, ufunc_name

_AxisError = getattr(getattr(np, "exceptions", np), "AxisError", ValueError)

#: ufunc -> the rule it stands for (elementwise, or a function of values)
UFUNC_RULES: dict[Any, Rule] = {np.fabs: ABS}


def _on_register(rule: Rule) -> None:
    ufunc = getattr(rule, "ufunc", None)
    if ufunc is None:
        return
    if is_registered(rule):
        UFUNC_RULES[ufunc] = rule
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


def _refuse_out(name: str, out: Any) -> None:
    if out is not None:
        raise TypeError(
            f"{name}(..., out=...) cannot store derivatives in a plain array; drop out= and use the returned value"
        )


def _refuse(name: str, **options: Any) -> None:
    """Reject options dualdiff does not differentiate through, naming them."""
    _refuse_out(name, options.pop("out", None))
    given = sorted(k for k, v in options.items() if v is not None and v is not np._NoValue)
    if given:
        raise TypeError(f"{name} on lifted values does not support the argument(s) {', '.join(given)}")


def _ndim(a: Any) -> int:
    return np.ndim(strip_all(a))


def _shape(a: Any) -> tuple[int, ...]:
    return np.shape(strip_all(a))


def _axis_tuple(axis: Any, ndim: int) -> tuple[int, ...]:
    """Non-negative, sorted axes; None means all of them."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise _AxisError(f"axis {a} is out of bounds for array of dimension {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis!r}")
    return tuple(sorted(out))


def _one_axis(axis: Any, ndim: int) -> int:
    return _axis_tuple(operator.index(axis), ndim)[0]


def _is_complex(a: Any) -> bool:
    return np.iscomplexobj(strip_all(a))


def _real_only(name: str, a: Any) -> None:
    if _is_complex(a):
        raise NoRuleError(f"{name} of complex values is not complex-differentiable; dualdiff has no rule for it")


# ==========================================================================
# ufuncs
# ==========================================================================


def _logaddexp(a: Any, b: Any) -> Any:
    # exact: a constant shift m leaves the value and the derivative unchanged
    m = np.maximum(strip_all(a), strip_all(b))
    return apply2(ADD, m, apply1(LOG, apply2(ADD, apply1(EXP, apply2(SUB, a, m)), apply1(EXP, apply2(SUB, b, m)))))


#: ufuncs with no rule of their own, written exactly in terms of rules.
COMPOSED_UFUNCS: dict[Any, Callable[..., Any]] = {np.logaddexp: _logaddexp}


def array_ufunc(ufunc: Any, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Dispatch ``ufunc(*inputs)`` (or ``ufunc.reduce`` ...) on lifted values to its rule."""
    name = ufunc_name(ufunc)
    if kwargs.get("out") is not None:
        _refuse_out(name if method == "__call__" else f"{name}.{method}", kwargs["out"])
    if method == "__call__":
        rule = UFUNC_RULES.get(ufunc)
        if rule is not None or ufunc is np.matmul or ufunc is np.conjugate or ufunc in COMPOSED_UFUNCS:
            extra = [k for k, v in kwargs.items() if v is not None and k != "out"]
            if extra:
                raise TypeError(f"{name} on lifted values takes no keyword arguments, got {sorted(extra)}")
            if isinstance(rule, Nondiff):
                return apply_nondiff(rule, inputs)
            if rule is not None:
                return apply(rule, *inputs)  # type: ignore[arg-type]
            if ufunc is np.matmul:
                return matmul(*inputs)
            if ufunc is np.conjugate:
                return conj(*inputs)
            return COMPOSED_UFUNCS[ufunc](*inputs)
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
    elif method == "outer" and isinstance(UFUNC_RULES.get(ufunc), Elementwise) and ufunc.nin == 2:
        a, b = inputs
        _refuse(f"{name}.outer", **{k: v for k, v in kwargs.items() if k != "out"})
        sa, sb = _shape(a), _shape(b)
        return apply(UFUNC_RULES[ufunc], reshape(a, sa + (1,) * len(sb)), b)  # type: ignore[arg-type]
    what = name + ("" if method == "__call__" else f".{method}")
    raise NoRuleError(f"{what} has no derivative rule in dualdiff")


# ==========================================================================
# reductions
# ==========================================================================


def sum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    """``np.sum``: the linear rule ``sum``."""
    _refuse("np.sum", dtype=dtype, out=out, **kw)
    return apply_linear(SUM, a, _axis_tuple(axis, _ndim(a)), bool(keepdims))


def _count(a: Any, axes: tuple[int, ...]) -> int:
    shape = _shape(a)
    n = 1
    for i in axes:
        n *= shape[i]
    return n


def mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    """``np.mean``: a sum times ``1/n``."""
    _refuse("np.mean", dtype=dtype, out=out, **kw)
    axes = _axis_tuple(axis, _ndim(a))
    return apply2(MUL, apply_linear(SUM, a, axes, bool(keepdims)), 1.0 / _count(a, axes))


def var(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: float = 0,
    keepdims: bool = False,
    **kw: Any,
) -> Any:
    """``np.var``: the mean square deviation, ``sum((a - mean(a))**2) / (n - ddof)``."""
    correction = kw.pop("correction", None)
    _refuse("np.var", dtype=dtype, out=out, **kw)
    _real_only("np.var", a)
    if correction is not None:
        ddof = correction
    axes = _axis_tuple(axis, _ndim(a))
    d = apply2(SUB, a, mean(a, axes, keepdims=True))
    return apply2(MUL, apply_linear(SUM, apply1(SQUARE, d), axes, bool(keepdims)), 1.0 / (_count(a, axes) - ddof))


def std(
    a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False, **kw: Any
) -> Any:
    """``np.std``: the square root of :func:`var`, with derivative 0 where the variance is 0.

    A zero variance (one element, or all equal) is a cone's tip: the midpoint
    of the one-sided derivatives is 0, as for ``abs`` at 0.
    """
    return apply1(SQRT0, var(a, axis, dtype, out, ddof, keepdims, **kw))


def prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    """``np.prod``: the general rule ``prod``."""
    _refuse("np.prod", dtype=dtype, out=out, **kw)
    return apply_general(ar.PROD, (a,), (_axis_tuple(axis, _ndim(a)), bool(keepdims)))


def _extreme(rule: Any, name: str) -> Callable[..., Any]:
    def reduce(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
        _refuse(name, out=out, **kw)
        return apply_general(rule, (a,), (_axis_tuple(axis, _ndim(a)), bool(keepdims)))

    reduce.__name__ = name.split(".")[-1]
    reduce.__doc__ = f"``{name}``: ties share the derivative evenly."
    return reduce


amax = _extreme(ar.MAX, "np.max")
amin = _extreme(ar.MIN, "np.min")

_REDUCERS: dict[Any, Callable[..., Any]] = {
    np.add: sum,
    np.multiply: prod,
    np.maximum: amax,
    np.minimum: amin,
}


def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """``np.cumsum``: the linear rule ``cumsum`` (axis=None runs over the flattened array)."""
    _refuse("np.cumsum", dtype=dtype, out=out)
    if axis is None:
        a, axis = ravel(a), 0
    return apply_linear(ar.CUMSUM, a, _one_axis(axis, _ndim(a)))


# ==========================================================================
# shape and structure
# ==========================================================================


def reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None, copy: Any = None) -> Any:
    """``np.reshape`` (C order)."""
    if shape is None:
        shape = newshape
    if order != "C":
        raise TypeError(f"np.reshape on lifted values supports order='C' only, got order={order!r}")
    shape = (operator.index(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not isinstance(a, Lifted):
        return np.reshape(a, shape)
    return apply_linear(RESHAPE, a, _reshape_target(shape, _shape(a)))


def _reshape_target(shape: tuple[int, ...], old: tuple[int, ...]) -> tuple[int, ...]:
    """The reshape target with -1 resolved, validated the way NumPy does it."""
    return np.reshape(np.broadcast_to(np.zeros((), dtype=bool), old), shape).shape


def ravel(a: Any, order: str = "C") -> Any:
    """``np.ravel`` (C order)."""
    return reshape(a, (-1,), order)


def transpose(a: Any, axes: Any = None) -> Any:
    """``np.transpose``: the linear rule ``transpose``."""
    n = _ndim(a)
    perm = tuple(reversed(range(n))) if axes is None else tuple(a_ % n for a_ in map(operator.index, axes))
    if sorted(perm) != list(range(n)):
        raise ValueError(f"axes {axes!r} don't match array of dimension {n}")
    if perm == tuple(range(n)):
        return a
    return apply_linear(ar.TRANSPOSE, a, perm)


def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    """``np.swapaxes``."""
    n = _ndim(a)
    perm = list(range(n))
    i, j = _one_axis(axis1, n), _one_axis(axis2, n)
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, perm)


def moveaxis(a: Any, source: Any, destination: Any) -> Any:
    """``np.moveaxis``."""
    n = _ndim(a)
    src = [_one_axis(s, n) for s in np.atleast_1d(source)]
    dst = [_one_axis(d, n) for d in np.atleast_1d(destination)]
    if len(src) != len(dst):
        raise ValueError("`source` and `destination` arguments must have the same number of elements")
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


def squeeze(a: Any, axis: Any = None) -> Any:
    """``np.squeeze``: a reshape."""
    return reshape(a, np.squeeze(np.broadcast_to(np.zeros((), dtype=bool), _shape(a)), axis).shape)


def expand_dims(a: Any, axis: Any) -> Any:
    """``np.expand_dims``: a reshape."""
    return reshape(a, np.expand_dims(np.broadcast_to(np.zeros((), dtype=bool), _shape(a)), axis).shape)


def atleast_1d(*arys: Any) -> Any:
    """``np.atleast_1d``."""
    res = [a if _ndim(a) >= 1 else reshape(a, (1,)) for a in arys]
    return res[0] if len(res) == 1 else tuple(res)


def atleast_2d(*arys: Any) -> Any:
    """``np.atleast_2d``."""
    res = [a if _ndim(a) >= 2 else reshape(a, (1, -1) if _ndim(a) else (1, 1)) for a in arys]
    return res[0] if len(res) == 1 else tuple(res)


def broadcast_to(a: Any, shape: Any, subok: bool = False) -> Any:
    """``np.broadcast_to``: the linear rule ``broadcast_to``."""
    shape = (operator.index(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
    np.broadcast_shapes(_shape(a), shape)  # NumPy's own error if it cannot
    return apply_linear(BROADCAST_TO, a, shape)


def flip(m: Any, axis: Any = None) -> Any:
    """``np.flip``: indexing with reversed slices."""
    axes = _axis_tuple(axis, _ndim(m))
    return m[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(_ndim(m)))]


def _as_operand(a: Any) -> Any:
    return a if isinstance(a, Lifted) else np.asarray(a)


def concatenate(arrays: Sequence[Any], axis: Any = 0, out: Any = None, dtype: Any = None, casting: Any = None) -> Any:
    """``np.concatenate``: the general rule ``concatenate`` (one pass for all tangents)."""
    _refuse("np.concatenate", out=out, dtype=dtype)
    arrays = [_as_operand(a) for a in arrays]
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    ax = _one_axis(axis, _ndim(arrays[0]))
    return apply_general(ar.CONCATENATE, tuple(arrays), (ax,))


def stack(arrays: Sequence[Any], axis: int = 0, out: Any = None, dtype: Any = None, casting: Any = None) -> Any:
    """``np.stack``: new axes, then one concatenation."""
    _refuse("np.stack", out=out, dtype=dtype)
    arrays = [_as_operand(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {_shape(a) for a in arrays}
    if len(shapes) != 1:
        raise ValueError("all input arrays must have the same shape")
    ax = _one_axis(axis, _ndim(arrays[0]) + 1)
    return concatenate([expand_dims(a, ax) for a in arrays], ax)


def vstack(tup: Sequence[Any], *, dtype: Any = None, casting: Any = None) -> Any:
    """``np.vstack``."""
    return concatenate([atleast_2d(_as_operand(a)) for a in tup], 0, dtype=dtype)


def hstack(tup: Sequence[Any], *, dtype: Any = None, casting: Any = None) -> Any:
    """``np.hstack``."""
    arrs = [atleast_1d(_as_operand(a)) for a in tup]
    return concatenate(arrs, 0 if arrs and _ndim(arrs[0]) == 1 else 1, dtype=dtype)


def _split_with(splitter: Callable[..., Any]) -> Callable[..., Any]:
    def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
        ax = _one_axis(axis, _ndim(ary))
        pieces = splitter(np.arange(_shape(ary)[ax]), indices_or_sections)  # NumPy's own rules and errors
        out = []
        for p in pieces:
            start = int(p[0]) if len(p) else 0
            idx = (slice(None),) * ax + (slice(start, start + len(p)),)
            out.append(apply_linear(GETITEM, ary, idx))
        return out

    split.__name__ = splitter.__name__
    split.__doc__ = f"``np.{splitter.__name__}``: one slice per piece."
    return split


split = _split_with(np.split)
array_split = _split_with(np.array_split)


def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """``np.where``: the general rule ``where`` (the condition carries no derivative)."""
    if x is None and y is None:
        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("either both or neither of x and y should be given")
    if not isinstance(condition, Lifted):
        condition = np.asarray(condition, dtype=bool)
    return apply_general(ar.WHERE, (condition, x, y))


def clip(a: Any, a_min: Any = np._NoValue, a_max: Any = np._NoValue, out: Any = None, **kw: Any) -> Any:
    """``np.clip``: ``minimum(maximum(a, lo), hi)``, ties at the bounds split 1/2 and 1/2."""
    lo = kw.pop("min", np._NoValue) if a_min is np._NoValue else a_min
    hi = kw.pop("max", np._NoValue) if a_max is np._NoValue else a_max
    _refuse("np.clip", out=out, **kw)
    if lo is not None and lo is not np._NoValue:
        a = apply2(MAXIMUM, a, lo)
    if hi is not None and hi is not np._NoValue:
        a = apply2(MINIMUM, a, hi)
    return a


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """``np.diagonal``: the linear rule ``diagonal``."""
    n = _ndim(a)
    return apply_linear(ar.DIAGONAL, a, operator.index(offset), _one_axis(axis1, n), _one_axis(axis2, n))


def diag(v: Any, k: int = 0) -> Any:
    """``np.diag``: a diagonal of a matrix, or a matrix with a vector on its diagonal."""
    n = _ndim(v)
    if n == 1:
        return apply_linear(ar.DIAG_EMBED, v, operator.index(k))
    if n == 2:
        return diagonal(v, k)
    raise ValueError("Input must be 1- or 2-d.")


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None, out: Any = None) -> Any:
    """``np.trace``: the sum of a diagonal."""
    _refuse("np.trace", dtype=dtype, out=out)
    d = diagonal(a, offset, axis1, axis2)
    return sum(d, _ndim(d) - 1)


def conj(x: Any) -> Any:
    """``np.conj``: the identity on real values."""
    if not _is_complex(x):
        return x
    return apply_linear(ar.CONJ, x)


def _real(val: Any) -> Any:
    """``np.real``: the rule ``real`` for complex values, the identity on real ones."""
    return apply_linear(ar.REAL, val) if _is_complex(val) else val


def _imag(val: Any) -> Any:
    """``np.imag``: the rule ``imag`` for complex values, zeros (a constant) for real ones."""
    return apply_linear(ar.IMAG, val) if _is_complex(val) else np.zeros(_shape(val))


# ==========================================================================
# products
# ==========================================================================


def matmul(a: Any, b: Any) -> Any:
    """``a @ b``: the general rule ``matmul``."""
    return apply_general(ar.MATMUL, (_as_operand(a), _as_operand(b)))


def _normalize_tensordot_axes(axes: Any, na: int, nb: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if isinstance(axes, (int, np.integer)):
        k = operator.index(axes)
        return tuple(range(na - k, na)), tuple(range(k))
    xa, xb = axes
    xa = [xa] if isinstance(xa, (int, np.integer)) else list(xa)
    xb = [xb] if isinstance(xb, (int, np.integer)) else list(xb)
    if len(xa) != len(xb):
        raise ValueError("shape-mismatch for sum")
    return tuple(_one_axis(i, na) for i in xa), tuple(_one_axis(i, nb) for i in xb)


def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """``np.tensordot``: the general rule ``tensordot``."""
    a, b = _as_operand(a), _as_operand(b)
    xa, xb = _normalize_tensordot_axes(axes, _ndim(a), _ndim(b))
    for i, j in zip(xa, xb):
        if _shape(a)[i] != _shape(b)[j]:
            raise ValueError("shape-mismatch for sum")
    return apply_general(ar.TENSORDOT, (a, b), (xa, xb))


def dot(a: Any, b: Any, out: Any = None) -> Any:
    """``np.dot``: a product, a matmul, or a tensordot over (last of a, second-to-last of b)."""
    _refuse("np.dot", out=out)
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return apply2(MUL, a, b)
    if na <= 2 and nb <= 2:
        return matmul(a, b)
    return tensordot(a, b, ([na - 1], [max(nb - 2, 0)]))


def vdot(a: Any, b: Any) -> Any:
    """``np.vdot``: ``sum(conj(a) * b)`` over the flattened arrays."""
    return matmul(conj(ravel(_as_operand(a))), ravel(_as_operand(b)))


def inner(a: Any, b: Any) -> Any:
    """``np.inner``: a tensordot over the last axes."""
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return apply2(MUL, a, b)
    return tensordot(a, b, ([na - 1], [nb - 1]))


def outer(a: Any, b: Any, out: Any = None) -> Any:
    """``np.outer``: a broadcast product of the flattened arrays."""
    _refuse("np.outer", out=out)
    return apply2(MUL, reshape(_as_operand(a), (-1, 1)), reshape(_as_operand(b), (1, -1)))


def einsum(*operands: Any, out: Any = None, optimize: Any = False, **kw: Any) -> Any:
    """``np.einsum`` with explicit subscripts (a string first; no ``...``)."""
    _refuse("np.einsum", out=out, **kw)
    spec, *ops = operands
    if not isinstance(spec, str):
        raise TypeError("np.einsum on lifted values needs the subscripts as a string first, e.g. 'ij,jk->ik'")
    spec = spec.replace(" ", "")
    if "." in spec:
        raise TypeError("np.einsum on lifted values does not support '...'; spell out every axis")
    if "->" in spec:
        lhs, out_sub = spec.split("->")
    else:  # implicit mode: the letters used once, in alphabetical order
        lhs = spec
        out_sub = "".join(sorted(c for c in set(lhs) if c.isalpha() and lhs.count(c) == 1))
    ins = lhs.split(",")
    if len(ins) != len(ops):
        raise ValueError(f"np.einsum: {len(ins)} operand subscripts for {len(ops)} operands")
    ops = [_as_operand(o) for o in ops]
    for i, s in enumerate(ins):
        if len(s) != _ndim(ops[i]):
            raise ValueError(f"np.einsum: operand {i} has {_ndim(ops[i])} axes but subscripts {s!r}")
        while len(set(s)) != len(s):  # a repeated letter: take that diagonal first
            c = next(c for c in s if s.count(c) > 1)
            p = s.index(c)
            q = s.index(c, p + 1)
            ops[i] = apply_linear(ar.DIAGONAL, ops[i], 0, p, q)
            s = s[:p] + s[p + 1 : q] + s[q + 1 :] + c
        ins[i] = s
    return apply_general(ar.EINSUM, tuple(ops), (tuple(ins), out_sub))


# ==========================================================================
# linear algebra
# ==========================================================================


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
    return _p_norm(ax, ord, axes, keepdims)


def _p_norm(ax: Any, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """``sum(|x|**p) ** (1/p)``, with derivative 0 where the whole vector is 0.

    A zero vector is a cone's tip, as for the 2-norm (``sqrt0``): the midpoint of
    the one-sided derivatives is 0, where ``0 ** (1/p)`` alone would give an
    infinite partial times a zero tangent, nan. The zero vectors' elements are
    replaced by 1 before the powers, so no branch holds an infinite partial.
    """

    def norm(a: Any) -> Any:
        return apply2(POW, apply_linear(SUM, apply2(POW, a, ord), axes, keepdims), 1.0 / ord)

    zero = np.all(ax == 0, axis=axes, keepdims=True)
    if not np.any(zero):
        return norm(ax)
    return where(np.all(ax == 0, axis=axes, keepdims=keepdims), 0.0, norm(where(zero, 1.0, ax)))


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


# ==========================================================================
# the dispatch table
# ==========================================================================


def _round(a: Any, decimals: int = 0, out: Any = None) -> Any:
    if decimals != 0:
        raise NoRuleError("np.round with decimals != 0 has no derivative rule in dualdiff; use decimals=0")
    _refuse_out("np.round", out)
    return apply(ROUND, a)


def _value_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Functions of shapes and dtypes alone: applied to the plain values."""

    def handler(*args: Any, **kwargs: Any) -> Any:
        return fn(*(strip_all(a) for a in args), **{k: strip_all(v) for k, v in kwargs.items()})

    return handler


def full_like(
    a: Any, fill_value: Any, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None, **kw: Any
) -> Any:
    """``np.full_like``: a lifted fill value is broadcast (a linear rule), so its derivative is kept.

    The result has ``a``'s shape (or ``shape``) and the promoted type of
    ``a``'s dtype (or ``dtype``) and the fill value; a plain fill value gives
    the plain array NumPy makes (its derivative is zero).
    """
    if not isinstance(fill_value, Lifted):
        return np.full_like(strip_all(a), fill_value, dtype, order, subok, shape, **kw)
    target = _shape(a) if shape is None else ((shape,) if isinstance(shape, (int, np.integer)) else tuple(shape))
    want = np.dtype(dtype) if dtype is not None else np.asarray(strip_all(a)).dtype
    if want.kind not in "fc":
        if dtype is not None:
            raise TypeError(
                f"np.full_like with dtype={want} would drop the derivative of the fill value; "
                "use a floating or complex dtype"
            )
        want = np.asarray(strip_all(fill_value)).dtype  # an integer template: the fill value's type
    out = broadcast_to(fill_value, target)
    if np.result_type(strip_all(fill_value), want) != np.asarray(strip_all(fill_value)).dtype:
        out = apply2(ADD, np.zeros(target, dtype=want), out)  # promote as NumPy would (zeros + fill)
    return out


def copyto(dst: Any, src: Any, casting: str = "same_kind", where: Any = True) -> None:
    """``np.copyto`` of lifted values: only into an object array (``np.full(shape, x)`` builds one).

    A float array cannot hold derivatives, so copying lifted values into it
    raises instead of dropping them.
    """
    if isinstance(dst, np.ndarray) and dst.dtype.kind == "O" and not isinstance(where, Lifted):
        values = broadcast_to(src, dst.shape) if isinstance(src, Lifted) else np.broadcast_to(src, dst.shape)
        mask = np.broadcast_to(np.asarray(where, dtype=bool), dst.shape)
        for idx in np.ndindex(dst.shape):
            if mask[idx]:
                dst[idx] = values[idx]
        return
    raise TypeError(
        "np.copyto cannot store lifted values (Duals, tape values) into a plain array: that would drop "
        "their derivatives. np.full_like(plain, x) and np.full(shape, x, dtype=float) do this; use "
        "np.full_like(x_lifted, x), np.broadcast_to(x, shape) or np.zeros(shape) + x instead"
    )


def _value_function(rule: Nondiff) -> Callable[..., Any]:
    """A NumPy function of values (argmax, nonzero, isclose): its rule, keywords as parameters."""

    def handler(*args: Any, **kwargs: Any) -> Any:
        if len(args) > rule.nin:
            raise TypeError(f"np.{rule.name} on lifted values: pass options by keyword")
        return apply_nondiff(rule, tuple(args), (tuple(sorted(kwargs.items())),))

    return handler


def nonzero(a: Any) -> Any:
    """``np.nonzero``: a function of values (a tuple of index arrays)."""
    return _value_function(VALUE_FUNCTIONS[np.nonzero])(a)


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
    np.copy: lambda a, order="K", subok=False: a,
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
    np.full_like: full_like,
    np.copyto: copyto,
    np.result_type: _value_only(np.result_type),
}
if hasattr(np.linalg, "matmul"):  # NumPy 2
    FUNCTION_HANDLERS[np.linalg.matmul] = matmul


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Dispatch a NumPy function on lifted values to its rule, or refuse by name."""
    handler = FUNCTION_HANDLERS.get(func)
    if handler is None:
        raise NoRuleError(f"{numpy_name(func)} has no derivative rule in dualdiff")
    return handler(*args, **kwargs)


# Several handlers are named after the NumPy function they stand for (sum,
# max, ...), shadowing builtins inside this module on purpose.
__all__ = ["FUNCTION_HANDLERS", "UFUNC_RULES", "array_function", "array_ufunc", "numpy_name"]
