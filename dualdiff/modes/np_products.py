"""NumPy's products on lifted values: matmul, dot, tensordot, einsum and their relatives.

``matmul``, ``tensordot`` and ``einsum`` are general rules (bilinear, one
linear map and one transpose per argument); ``dot``, ``vdot``, ``inner`` and
``outer`` are compositions of them.

>>> import numpy as np, dualdiff as dd
>>> dd.grad(lambda x: np.dot(x, x))(np.array([1.0, 2.0]))
array([2., 4.])
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..rules import arrays as ar
from ..rules.elementwise import MUL
from .core import apply2, apply_general, apply_linear
from .np_common import _as_operand, _ndim, _one_axis, _refuse, _shape
from .np_shaping import ravel, reshape
from .np_ufuncs import conj


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
