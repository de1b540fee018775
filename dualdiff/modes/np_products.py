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
import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..rules import arrays as ar
from ..rules.elementwise import MUL, SUB
from ..rules.structural import SUM
from .core import apply2, apply_general, apply_linear
from .np_common import _as_operand, _ndim, _one_axis, _refuse, _shape
from .np_shaping import broadcast_to, expand_dims, moveaxis, ravel, reshape, stack
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


_LETTERS = string.ascii_letters


def _sublist_text(sub: Sequence[Any]) -> str:
    """A sublist (``[0, 1]``, ``[Ellipsis, 0]``) as subscripts (``'ab'``, ``'...a'``)."""
    out = []
    for v in sub:
        if v is Ellipsis:
            out.append("...")
        else:
            i = operator.index(v)
            if not 0 <= i < len(_LETTERS):
                raise ValueError(f"np.einsum: subscript {i} in a sublist is out of range 0..{len(_LETTERS) - 1}")
            out.append(_LETTERS[i])
    return "".join(out)


def _einsum_spec(operands: tuple[Any, ...]) -> tuple[str, list[Any]]:
    """The subscripts as one string and the operands, from either calling form."""
    if isinstance(operands[0], str):
        return operands[0].replace(" ", ""), list(operands[1:])
    ops, subs = list(operands[0::2]), list(operands[1::2])
    out = None
    if len(ops) > len(subs):  # the last element is the output sublist
        out = ops.pop()
    spec = ",".join(_sublist_text(sb) for sb in subs)
    if out is not None:
        spec += "->" + _sublist_text(out)
    return spec, ops


def _expand_ellipsis(ins: list[str], out: str | None, ops: list[Any]) -> tuple[list[str], str, list[Any]]:
    """Spell out ``...`` with letters of their own; size-1 axes it broadcasts are squeezed away.

    The rule's derivative needs every letter to have one size in every
    operand; an ellipsis axis of size 1 broadcast against a longer one is
    therefore dropped from its operand (a reshape), as broadcasting would.
    """
    used = set("".join(ins) + (out or ""))
    spare = [c for c in _LETTERS if c not in used]
    counts = []
    for s, o in zip(ins, ops):
        named = len(s.replace("...", ""))
        counts.append(_ndim(o) - named if "..." in s else 0)
        if counts[-1] < 0:
            raise ValueError(f"np.einsum: operand has {_ndim(o)} axes but subscripts {s!r}")
    e = max(counts, default=0)
    letters = "".join(spare[:e])
    sizes: list[int] = [1] * e  # the broadcast size of each ellipsis axis
    for s, o, k in zip(ins, ops, counts):
        if "..." in s and k:
            start = s.index("...")
            for j, size in enumerate(_shape(o)[start : start + k]):
                slot = e - k + j
                if size != 1:
                    sizes[slot] = size
    new_ins, new_ops = [], []
    for s, o, k in zip(ins, ops, counts):
        if "..." not in s:
            new_ins.append(s)
            new_ops.append(o)
            continue
        start = s.index("...")
        mine = letters[e - k :]
        shape = _shape(o)
        keep = [j for j in range(k) if not (shape[start + j] == 1 and sizes[e - k + j] != 1)]
        if len(keep) != k:
            o = reshape(o, shape[:start] + tuple(shape[start + j] for j in keep) + shape[start + k :])
        new_ins.append(s[:start] + "".join(mine[j] for j in keep) + s[start + 3 :])
        new_ops.append(o)
    if out is None:  # implicit: the ellipsis axes, then the letters used once, in order
        lhs = "".join(s for s in ins).replace("...", "")
        out = letters + "".join(sorted(c for c in set(lhs) if lhs.count(c) == 1))
    else:
        out = out.replace("...", letters)
    return new_ins, out, new_ops


def einsum(*operands: Any, out: Any = None, optimize: Any = False, **kw: Any) -> Any:
    """``np.einsum``: the general rule ``einsum`` (subscripts or sublists, ``...`` spelled out)."""
    _refuse("np.einsum", out=out, **kw)
    if not operands:
        raise ValueError("No input operands")
    spec, ops = _einsum_spec(operands)
    ops = [_as_operand(o) for o in ops]
    out_sub: str | None = None
    lhs = spec
    if "->" in spec:
        lhs, out_sub = spec.split("->")
    ins = lhs.split(",")
    if len(ins) != len(ops):
        raise ValueError(f"np.einsum: {len(ins)} operand subscripts for {len(ops)} operands")
    if "..." in spec:
        ins, out_sub, ops = _expand_ellipsis(ins, out_sub, ops)
    elif out_sub is None:  # implicit mode: the letters used once, in alphabetical order
        out_sub = "".join(sorted(c for c in set(lhs) if c.isalpha() and lhs.count(c) == 1))
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


def kron(a: Any, b: Any) -> Any:
    """``np.kron``: the axes interleaved, one broadcast product, one reshape (NumPy's own composition)."""
    a, b = _as_operand(a), _as_operand(b)
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return apply2(MUL, a, b)
    nd = max(na, nb)
    sa = (1,) * (nd - na) + _shape(a)
    sb = (1,) * (nd - nb) + _shape(b)
    a2 = reshape(a, tuple(x for s in sa for x in (s, 1)))
    b2 = reshape(b, tuple(x for s in sb for x in (1, s)))
    return reshape(apply2(MUL, a2, b2), tuple(x * y for x, y in zip(sa, sb)))


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: Any = None) -> Any:
    """``np.cross``: the components' products and differences, as NumPy writes them."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = _as_operand(a), _as_operand(b)
    if _ndim(a) < 1 or _ndim(b) < 1:
        raise ValueError("At least one array has zero dimension")
    a = moveaxis(a, _one_axis(axisa, _ndim(a)), -1)
    b = moveaxis(b, _one_axis(axisb, _ndim(b)), -1)
    da, db = _shape(a)[-1], _shape(b)[-1]
    if da not in (2, 3) or db not in (2, 3):
        raise ValueError("incompatible dimensions for cross product\n(dimension must be 2 or 3)")

    def part(v: Any, n: int, i: int) -> Any:
        return v[..., i] if i < n else 0.0

    def diff(x: Any, y: Any) -> Any:
        return apply2(SUB, x, y)

    a0, a1, a2 = (part(a, da, i) for i in range(3))
    b0, b1, b2 = (part(b, db, i) for i in range(3))
    c2 = diff(apply2(MUL, a0, b1), apply2(MUL, a1, b0))
    if da == 2 and db == 2:
        return c2
    c0 = diff(apply2(MUL, a1, b2), apply2(MUL, a2, b1))
    c1 = diff(apply2(MUL, a2, b0), apply2(MUL, a0, b2))
    shape = np.broadcast_shapes(_shape(a)[:-1], _shape(b)[:-1])
    parts = [c if _shape(c) == shape else broadcast_to(c, shape) for c in (c0, c1, c2)]
    cp = stack(parts, -1)
    return moveaxis(cp, -1, _one_axis(axisc, len(shape) + 1))


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """``np.vecdot``: ``sum(conj(x1) * x2)`` along ``axis``."""
    x1, x2 = _as_operand(x1), _as_operand(x2)
    p = apply2(MUL, conj(x1), x2)
    return apply_linear(SUM, p, (_one_axis(axis, _ndim(p)),), False)


def matvec(x1: Any, x2: Any, /) -> Any:
    """``np.matvec``: a matrix times a vector, over stacks (a matmul with a column)."""
    return matmul(x1, expand_dims(_as_operand(x2), -1))[..., 0]


def vecmat(x1: Any, x2: Any, /) -> Any:
    """``np.vecmat``: a conjugated vector times a matrix, over stacks (a matmul with a row)."""
    return matmul(expand_dims(conj(_as_operand(x1)), -2), x2)[..., 0, :]


def linalg_outer(x1: Any, x2: Any, /) -> Any:
    """``np.linalg.outer`` of two vectors."""
    if _ndim(x1) != 1 or _ndim(x2) != 1:
        raise ValueError("Input arrays must be one-dimensional")
    return outer(x1, x2)


def linalg_cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """``np.linalg.cross`` of 3-vectors."""
    if _shape(x1)[axis] != 3 or _shape(x2)[axis] != 3:
        raise ValueError("Both input arrays must be (arrays of) 3-dimensional vectors")
    return cross(x1, x2, axis=axis)


#: gufuncs written with rules, and the keyword arguments each takes.
COMPOSED_GUFUNCS: dict[Any, Any] = {}
GUFUNC_OPTIONS: dict[Any, set[str]] = {}
for _name, _fn, _opts in (("vecdot", vecdot, {"axis"}), ("matvec", matvec, set()), ("vecmat", vecmat, set())):
    if isinstance(getattr(np, _name, None), np.ufunc):  # NumPy >= 2.0 (matvec, vecmat: 2.2)
        COMPOSED_GUFUNCS[getattr(np, _name)] = _fn
        GUFUNC_OPTIONS[getattr(np, _name)] = _opts

HANDLERS: dict[Any, Any] = {
    np.kron: kron,
    np.cross: cross,
    np.linalg.tensordot: tensordot,
}
for _name, _fn in (("vecdot", vecdot), ("outer", linalg_outer), ("cross", linalg_cross)):
    if hasattr(np.linalg, _name):
        HANDLERS[getattr(np.linalg, _name)] = _fn
