"""Statements of generated code, and what their arrays' lifetimes allow.

The generator (:mod:`dualdiff.program.codegen`) writes straight-line code
as a list of statements; :func:`optimize` renders them, using what it
knows statically -- every array's shape and dtype, and the last statement
that reads each variable -- to avoid waste on arrays:

* a statement whose outermost operation is a ufunc writes into a *dead*
  buffer of the same shape and dtype (``np.multiply(a, b, out=v_3)``,
  ``v_2_bar += g``) instead of allocating a new one;
* an adjoint scattered through an index (the transpose of ``x[idx]``) is
  updated in place (``v_0_bar[1:] += g``, ``np.add.at``) when nothing else
  holds its memory;
* every array is released (``del``) right after its last use.

A buffer may be written into only if the generated code made it (the result
of a ufunc, or zeros it allocated) and no live variable refers to it or to a
view of it: inputs, constants, views and results of functions it does not
know are never written into. Each rewrite computes the same numbers in the
same order; only where they are stored changes.

>>> import numpy as np
>>> from dualdiff.program.codeexpr import Code
>>> f64 = np.dtype(float)
>>> a = Code.name("a", (5000,), f64)
>>> s1 = Assign("t", a * 2.0, array=((5000,), f64), fresh=True)
>>> s2 = Assign("u", Code.name("t", (5000,), f64) + a, array=((5000,), f64), fresh=True)
>>> print("\\n".join(optimize([s1, s2], external={"a"}, live_at_end={"u"})))
t = a * 2.0
u = np.add(t, a, out=t)
del t
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .codeexpr import Binder, Code

#: Comments start at this column when the statement is shorter.
COMMENT_COLUMN = 46
#: Arrays with fewer elements are never written into with ``out=``: for them a
#: fresh allocation (NumPy caches small ones) costs less than the keyword call.
OUT_MIN_SIZE = 1 << 12
_AUGMENTED = {np.add: "+", np.subtract: "-", np.multiply: "*", np.true_divide: "/"}


@dataclass
class Assign:
    """``target = expr``.

    ``array`` is ``(shape, dtype)`` when the value is a NumPy array
    (dtype None if not known statically); ``fresh`` says the
    value is a new array nobody else refers to; ``aliases`` the variables
    whose memory it may share (a view, a plain copy of the name, or the
    result of a function that might return one of its arguments).
    """

    target: str
    expr: Code
    comment: str = ""
    array: tuple[tuple[int, ...], Any] | None = None
    fresh: bool = False
    aliases: frozenset[str] = frozenset()

    @property
    def reads(self) -> frozenset[str]:
        return self.expr.reads


@dataclass
class Line:
    """A statement written as text (a guard check): ``text``, then ``more`` indented under it."""

    text: str
    reads: frozenset[str]
    more: str = ""
    comment: str = ""


@dataclass
class Scatter:
    """``target[index] += g``: the transpose of indexing, added into the adjoint ``target``.

    ``fresh``: ``target`` holds zeros just allocated (basic indexing then
    assigns). When ``target``'s memory may not be written, the statement
    becomes ``target = target + fallback`` (the rule's transpose, then a sum).
    """

    target: str
    g: Code
    fresh: bool
    inline: bool
    advanced: bool
    index_text: str
    call_text: str
    fallback: Code
    np_name: str
    dtype: Any
    g_dtype: Any
    comment: str = ""

    @property
    def reads(self) -> frozenset[str]:
        return self.g.reads | {self.target}


@dataclass
class Loop:
    """``header`` (a ``for`` over tiles) with ``body`` under it.

    ``reads`` are the variables from outside the loop that the body uses (it
    may write into their arrays, never rebinds them, except the names in
    ``live``: sums the body accumulates, read after the loop).
    """

    header: str
    body: list[Any]
    reads: frozenset[str]
    comment: str = ""
    live: set[str] = field(default_factory=set)


Stmt = Assign | Line | Scatter | Loop


@dataclass(eq=False)
class _Buffer:
    owned: bool
    shape: Any = None
    dtype: Any = None
    members: set[int] = field(default_factory=set)
    #: Every version that ever lived in this buffer, and the statement that made it.
    history: set[int] = field(default_factory=set)
    made_at: int = -1


def optimize(
    body: list[Stmt],
    external: Iterable[str] = (),
    live_at_end: Iterable[str] = (),
    binder: Binder | None = None,
    workspace: list[tuple[tuple[int, ...], Any]] | None = None,
) -> list[str]:
    """Render ``body`` as source lines, reusing dead array buffers and releasing arrays after their last use.

    ``external`` names are bound outside ``body`` (parameters, closure
    variables): never written into, never released. ``live_at_end`` names
    are read after ``body`` (returned, or used by a nested function).

    With a ``workspace`` list, every buffer the body makes with a ufunc and
    that never leaves it (not returned, not kept by a closure) is written
    into ``ws[i]`` instead, a preallocated array the caller passes as ``ws``
    (and reuses from call to call); its ``(shape, dtype)`` is appended to
    ``workspace``. A fresh allocation of a large array costs a page fault per
    4 KiB on first touch; a buffer kept from the previous call costs nothing.
    """
    if not any(isinstance(s, (Scatter, Loop)) or (isinstance(s, Assign) and s.array is not None) for s in body):
        return [line for s in body for line in _render(s, False, None, binder)]  # numbers only: nothing to reuse
    external = set(external)
    live_at_end = set(live_at_end)
    n = len(body)
    end = n + 1

    # -- versions: each assignment (and each scatter, which updates its target) defines one
    names: list[str] = []  # vid -> name
    defined_at: list[int] = []
    is_array: list[bool] = []
    current: dict[str, int] = {}

    def new_version(name: str, at: int, array: bool) -> int:
        names.append(name)
        defined_at.append(at)
        is_array.append(array)
        current[name] = len(names) - 1
        return len(names) - 1

    external_version: dict[str, int] = {}
    for name in sorted(external):
        external_version[name] = new_version(name, -1, False)
    reads: list[list[int]] = []
    defines: list[int | None] = []
    big: dict[int, bool] = {}  # arrays too small to be worth a ``del`` (Python frees them at the return)
    for i, s in enumerate(body):
        reads.append([current[r] for r in s.reads if r in current])
        if isinstance(s, Assign):
            defines.append(new_version(s.target, i, s.array is not None))
            if s.array is not None and s.array[0] is not None and all(type(d) is int for d in s.array[0]):
                big[len(names) - 1] = _size(s.array[0]) >= OUT_MIN_SIZE
        elif isinstance(s, Scatter):
            defines.append(new_version(s.target, i, True))
        else:
            defines.append(None)
    last = [d for d in defined_at]
    for i, rv in enumerate(reads):
        for v in rv:
            last[v] = max(last[v], i)
    for name, v in current.items():
        if name in live_at_end:
            last[v] = end

    # -- buffers: decide which statements write into which dead buffer
    buf_of: dict[int, list[_Buffer]] = {}
    holder_of: dict[str, int] = {}  # name -> the version it holds now
    for name, v in external_version.items():
        buf_of[v] = [_Buffer(False, members={v})]
        holder_of[name] = v
    out_into: dict[int, str] = {}  # statement -> holder name of the buffer it writes into
    in_place: set[int] = set()  # scatters done in place
    keep: dict[int, int] = {}  # version -> statement that reuses its buffer: keep it bound until then

    def free(b: _Buffer, i: int) -> bool:
        return b.owned and all(last[m] <= i for m in b.members)

    def holder(b: _Buffer) -> str | None:
        for name, v in holder_of.items():
            if v in b.members:
                return name
        return None

    buffers: list[_Buffer] = []
    for i, s in enumerate(body):
        t = defines[i]
        if isinstance(s, Scatter):
            assert t is not None
            old = holder_of.get(s.target)
            bs = buf_of.get(old, []) if old is not None else []
            ok = (
                len(bs) == 1
                and free(bs[0], i)
                and (s.fresh or _dtype_fits(s.dtype, s.g_dtype))
                and s.target not in external
            )
            if ok:
                in_place.add(i)
                bs[0].members = {t}
                buf_of[t] = [bs[0]]
            else:
                b = _Buffer(True, None, s.dtype, {t})
                buffers.append(b)
                buf_of[t] = [b]
            holder_of[s.target] = t
            continue
        if not isinstance(s, Assign):
            continue
        assert t is not None
        arr = s.array
        holder_of[s.target] = t
        if arr is None:  # a number, not an array: no memory to share
            buf_of[t] = []
            continue
        chosen: _Buffer | None = None
        if (
            arr[0]
            and s.fresh
            and s.expr.ufunc is not None
            and _dtype_is(s.expr.dtype, arr[1])
            and _size(arr[0]) >= OUT_MIN_SIZE
        ):
            operands = {holder_of.get(o.text) for o in s.expr.operands if o.text in holder_of}
            cands = [
                b for b in buffers if free(b, i) and b.shape == arr[0] and b.dtype == arr[1] and holder(b) is not None
            ]
            cands.sort(key=lambda b: not any(v in b.members for v in operands))  # in place first
            if cands:
                chosen = cands[0]
                h = holder(chosen)
                assert h is not None
                out_into[i] = h
                keep[holder_of[h]] = i
                chosen.members = {t}
                chosen.history.add(t)
                buf_of[t] = [chosen]
        if chosen is None:
            if s.fresh:
                b = _Buffer(True, arr[0], arr[1], {t}, {t}, i)
                buffers.append(b)
                buf_of[t] = [b]
            elif s.aliases:
                shared: list[_Buffer] = []
                for a in s.aliases:
                    va = holder_of.get(a)
                    for b in buf_of.get(va, []) if va is not None else []:
                        if b not in shared:
                            shared.append(b)
                            b.members.add(t)
                            b.history.add(t)
                buf_of[t] = shared or [_Buffer(False, members={t})]
            else:
                buf_of[t] = [_Buffer(False, members={t})]

    # -- buffers made by a ufunc that never leave the body: into the caller's workspace
    if workspace is not None:
        for b in buffers:
            s0 = body[b.made_at] if b.made_at >= 0 else None
            if (
                isinstance(s0, Assign)
                and b.made_at not in out_into
                and s0.expr.ufunc is not None
                and s0.expr.operands
                and isinstance(b.dtype, np.dtype)
                and b.shape
                and all(type(d) is int for d in b.shape)
                and _size(b.shape) >= OUT_MIN_SIZE
                and all(last[v] < end for v in b.history)
            ):
                out_into[b.made_at] = f"ws[{len(workspace)}]"
                workspace.append((b.shape, b.dtype))

    # -- rendering, with each array released after its last use (or the reuse of its buffer)
    release: dict[int, list[int]] = {}
    for v, name in enumerate(names):
        if is_array[v] and name not in external and big.get(v, True):
            release.setdefault(max(last[v], keep.get(v, -1)), []).append(v)
    lines: list[str] = []
    bound: dict[str, int] = {}
    for i, s in enumerate(body):
        lines += _render(s, i in in_place, out_into.get(i), binder)
        d = defines[i]
        if d is not None:
            bound[names[d]] = d
        dead = sorted(names[v] for v in release.get(i, ()) if bound.get(names[v]) == v)
        if dead:
            lines.append(f"del {', '.join(dead)}")
            for name in dead:
                del bound[name]
    return lines


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for s in shape:
        size *= s
    return size


def _dtype_is(expr_dtype: Any, dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and isinstance(expr_dtype, np.dtype) and expr_dtype == dtype


def _dtype_fits(dst: Any, g: Any) -> bool:
    """Adding values of dtype ``g`` into an array of dtype ``dst`` keeps ``dst``."""
    if not isinstance(dst, np.dtype):
        return False
    if isinstance(g, np.dtype):
        return bool(np.result_type(dst, g) == dst)
    if g in (int, float):
        return dst.kind in "fc"
    if g is complex:
        return dst.kind == "c"
    return False


def _with_comment(text: str, comment: str) -> str:
    if not comment:
        return text
    return f"{text:<{COMMENT_COLUMN}}  # {comment}" if len(text) < COMMENT_COLUMN else f"{text}  # {comment}"


def _ufunc_text(uf: Any, binder: Binder | None) -> str:
    name = uf.__name__
    if getattr(np, name, None) is uf:
        return f"{binder.module('np', np) if binder else 'np'}.{name}"
    assert binder is not None
    return binder.bind(name, uf)


def _render(s: Stmt, in_place: bool, out: str | None, binder: Binder | None) -> list[str]:
    if isinstance(s, Line):
        first = _with_comment(s.text, s.comment)
        return [first] + ([s.more] if s.more else [])
    if isinstance(s, Loop):
        inner = optimize(s.body, external=set(s.reads) | {"a", "b"}, live_at_end=s.live, binder=binder)
        head = [f"# {s.comment}"] if s.comment else []
        return [*head, s.header, *("    " + line for line in inner)]
    if isinstance(s, Scatter):
        if not in_place:
            return [_with_comment(f"{s.target} = {s.target} + {s.fallback.text}", s.comment)]
        if not s.inline:
            return [_with_comment(s.call_text, s.comment)]
        if s.advanced:
            return [_with_comment(f"{s.np_name}.add.at({s.target}, {s.index_text}, {s.g.text})", s.comment)]
        op = "=" if s.fresh else "+="
        return [_with_comment(f"{s.target}[{s.index_text}] {op} {s.g.text}", s.comment)]
    if out is None:
        return [_with_comment(f"{s.target} = {s.expr.text}", s.comment)]
    uf = s.expr.ufunc
    ops = s.expr.operands
    if uf in _AUGMENTED and len(ops) == 2 and ops[0].text == out and s.target == out:
        return [_with_comment(f"{out} {_AUGMENTED[uf]}= {ops[1].text}", s.comment)]
    call = f"{_ufunc_text(uf, binder)}({', '.join(o.text for o in ops)}, out={out})"
    if s.target == out:
        return [_with_comment(call, s.comment)]
    return [_with_comment(f"{s.target} = {call}", s.comment)]
