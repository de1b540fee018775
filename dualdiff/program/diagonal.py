"""Diagonal tangents: the forward Jacobian's elementwise steps on one vector each, not on n x n matrices.

A forward Jacobian pushes the identity's n columns through the tangent code
at once. While the program is still elementwise in x (``sin(x)``,
``x * x + 1``), every one of those n-column tangents is a diagonal matrix:
``diag(d)`` with ``d`` what a single JVP along ``ones`` would give. The code
generator keeps such a tangent as its diagonal ``d`` (one vector, not n² numbers) and
writes the dense tangent out only where a step needs it, and the first
matrix product meets it as a scaling: ``W @ diag(d)`` is ``W * d``, O(mn)
where the dense product is O(mn²). For ``tanh(W @ sin(x))`` at n = m = 1000
that is one pass over W instead of a 1000³ matrix product.

The results are those of the dense tangent code, bit for bit: a diagonal
entry is the same product of partials in the same order, an off-diagonal
one is an exact zero (a sum of zeros and one product, in the matrix
product). Only a non-finite partial breaks this (the dense code computes
``inf * 0``, a NaN, off the diagonal), so the helpers raise
:class:`~dualdiff.program.signals.Fallback` on a non-finite diagonal or
matrix, and the caller runs the dense code.

>>> import numpy as np
>>> diag_dense(np.array([2.0, 3.0]), np.eye(2))
array([[2., 0.],
       [0., 3.]])
>>> scale_columns(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([10.0, 100.0]))
array([[ 10., 200.],
       [ 30., 400.]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast

import numpy as np

from ..rules.kinds import Elementwise, General
from .buffers import Assign, Stmt
from .codeexpr import Binder, Code, binary, unary
from .program import Equation, Program
from .signals import Fallback


class Generator(Protocol):
    """What this module uses of :class:`~dualdiff.program.codegen.Generator` (which imports this module)."""

    an: Any
    prog: Program
    binder: Binder
    tile: Any
    diag_code: dict[int, Code]
    dense: set[int]
    ddtype: dict[int, Any]

    def primal(self, slot: int) -> Code: ...
    def atom(self, a: Any, hint: str = "c") -> Code: ...
    def partial(self, eq: Equation, i: int, y: Code, args: list[Code]) -> Code: ...
    def flatten(self, body: list[Stmt], expr: Code) -> Code: ...
    def helper(self, name: str, fn: Any) -> str: ...
    def dshape(self, slot: int) -> tuple[int, ...]: ...
    def dname(self, slot: int, mark: str) -> str: ...
    def dcode(self, slot: int, mark: str) -> Code: ...
    def _dassign(self, name: str, expr: Code, slot: int, comment: str = "") -> Assign: ...


__all__ = ["densify", "diag_dense", "emit_diagonal", "scale_columns", "scale_rows_transposed"]


def _fallback() -> Exception:
    return Fallback("a non-finite partial: the dense tangent code decides what NaN goes where")


def diag_dense(d: Any, seeds: np.ndarray) -> np.ndarray:
    """The dense tangents ``diag(d)``: ``d[..., None] * seeds``, ``seeds`` the identity (``x.shape + (n,)``)."""
    d = np.asarray(d)
    if not np.isfinite(d).all():
        raise _fallback()
    return np.multiply(np.broadcast_to(d, seeds.shape[:-1])[..., None], seeds)


def scale_columns(c: np.ndarray, d: Any) -> np.ndarray:
    """``c @ diag(d)`` as ``c * d``: the tangents of ``c @ v`` when v's are ``diag(d)``."""
    d = np.asarray(d)
    if not (np.isfinite(d).all() and np.isfinite(c).all()):
        raise _fallback()
    return np.multiply(c, np.broadcast_to(d, c.shape[-1:]))


def scale_rows_transposed(d: Any, c: np.ndarray) -> np.ndarray:
    """``(diag(d) @ c).T`` as ``(d[:, None] * c).T``: the tangents of ``v @ c`` when v's are ``diag(d)``."""
    d = np.asarray(d)
    if not (np.isfinite(d).all() and np.isfinite(c).all()):
        raise _fallback()
    return np.multiply(np.broadcast_to(d, c.shape[:1])[:, None], c).T


def _dtype(*dtypes: Any) -> np.dtype | None:
    """The dtype of a product of these, when each is known statically (a NumPy dtype, float or complex)."""
    if all(isinstance(d, np.dtype) or d in (float, complex) for d in dtypes):
        return np.result_type(*dtypes)
    return None


def _is_one(code: Code) -> bool:
    return code.text == "1.0" and not code.reads


def emit_diagonal(gen: Generator, body: list[Stmt], eq: Equation) -> bool:
    """Write ``eq``'s tangents as a diagonal (or a matrix product with one as a scaling); False if they are not."""
    an = gen.an
    k = eq.out
    active = [a for a in eq.inputs if an.is_active(a)]
    if not active or any(a not in gen.diag_code for a in active):
        return False
    rule = eq.rule
    hint = f"c_{gen.prog.index(k)}"
    if isinstance(rule, Elementwise) and an.shapes[k] == an.shapes[0] and gen.tile is None:
        y = gen.primal(k)
        args = [gen.atom(a, hint) for a in eq.inputs]
        t: Code | None = None
        for i, a in enumerate(eq.inputs):
            if not an.is_active(a):
                continue
            d = gen.diag_code[cast(int, a)]
            if rule.signs is not None:  # as the dense code: t0 + t1, t0 - t1, -t0
                s = rule.signs[i]
                t = (d if s > 0 else unary(d, "-")) if t is None else binary(t, "+" if s > 0 else "-", d)
                continue
            p = gen.partial(eq, i, y, args)
            c = p if _is_one(d) else binary(p, "*", d)
            t = c if t is None else binary(t, "+", c)
        assert t is not None
        if (t.text.isidentifier() and t.text in t.reads) or (not t.reads and t.shape == ()):
            gen.diag_code[k] = t  # another's diagonal, or a constant one: no line of its own
            return True
        t = gen.flatten(body, t)
        name = f"{an.names[k]}_diag"
        shape = t.shape
        is_arr = shape is not None and shape != ()
        dtype = t.dtype if isinstance(t.dtype, np.dtype) else None
        fresh = is_arr and (t.ufunc is not None or t.owned)
        plain = t.text.isidentifier() and t.text in t.reads
        body.append(
            Assign(
                name,
                t,
                comment=f"the diagonal of {an.names[k]}'s tangents",
                array=(shape, dtype) if is_arr else None,  # type: ignore[arg-type]
                fresh=fresh,
                aliases=frozenset(t.reads) if (plain or not fresh) else frozenset(),
            )
        )
        gen.diag_code[k] = Code.name(name, shape, t.dtype, binder=gen.binder)
        return True
    if isinstance(rule, General) and rule.name == "matmul" and len(active) == 1 and len(an.shapes[0]) == 1:
        left, right = eq.inputs
        fn: Callable[..., Any]
        if an.is_active(right) and not an.is_active(left) and np.ndim(an.arg_value(left)) == 2:
            fn, args = scale_columns, [gen.atom(left, hint), gen.diag_code[cast(int, right)]]
        elif an.is_active(left) and not an.is_active(right) and np.ndim(an.arg_value(right)) == 2:
            fn, args = scale_rows_transposed, [gen.diag_code[cast(int, left)], gen.atom(right, hint)]
        else:
            return False
        dtype = _dtype(*(a.dtype for a in args))
        expr = Code.call(gen.helper(fn.__name__, fn), args, elementwise=False, shape=gen.dshape(k), dtype=dtype)
        expr.owned = True
        body.append(gen._dassign(gen.dname(k, "dot"), expr, k, "a matrix times diagonal tangents: a scaling"))
        gen.dense.add(k)
        gen.ddtype[k] = dtype
        return True
    return False


def densify(gen: Generator, body: list[Stmt], slot: int) -> None:
    """Write ``slot``'s dense tangents (``diag(d)`` over the identity seeds) if they are only a diagonal so far."""
    if slot in gen.dense or slot not in gen.diag_code:
        return
    seeds = gen.dcode(0, "dot")
    d = gen.diag_code[slot]
    dtype = _dtype(d.dtype, seeds.dtype)
    expr = Code.call(
        gen.helper("diag_dense", diag_dense), [d, seeds], elementwise=False, shape=gen.dshape(slot), dtype=dtype
    )
    expr.owned = True
    body.append(gen._dassign(gen.dname(slot, "dot"), expr, slot, f"{gen.an.names[slot]}'s tangents, written out"))
    gen.dense.add(slot)
    gen.ddtype[slot] = dtype
