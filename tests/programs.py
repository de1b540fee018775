"""Random NumPy programs for the differential tests (``test_differential.py``).

A program is Python source over a namespace ``xp`` (NumPy in the tests; any
NumPy-like module can run it, which is how it was checked against JAX while
the suite was written): a list ``V`` of values, starting with the input
``x``, and one line per operation, each appending ``V[k] = expr(V[i], ...)``.
Constants live in ``C`` (arrays drawn from a seeded generator, so the
program's *structure* shrinks in hypothesis while its numbers stay random)
and index objects in ``I``. Everything printed on failure is runnable.

What a program may contain, chosen to hit the shapes that nested derivatives
get wrong: broadcasting between arrays of different shapes (an operand larger
than the other on a leading axis, whose size may equal the number of
directions a transform pushes at once), elementwise functions composed to stay
in their domains, reductions with axis/keepdims/ddof (axes of length one
included), basic and advanced indexing with lists, tuples and arrays
(repeated indices included), ``*_like`` (a fill value that depends on x),
``where``, ``concatenate``/``stack``, matmul/einsum/dot/tensordot/outer/inner
and linear algebra (inv, solve, det, slogdet, norm) on well-conditioned
matrices.

Nothing here imports dualdiff: the generator is independent of the code
under test.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

#: Largest number of elements of a value (keeps third derivatives cheap).
MAX_SIZE = 24
#: Largest number of axes of a value.
MAX_NDIM = 3
#: Input shapes: n = 2..6 variables.
INPUT_SHAPES = ((2,), (3,), (4,), (2, 2), (2, 3), (3, 2))


@dataclass
class Program:
    """A straight-line NumPy program ``x -> y`` with ``y`` a vector of 1 to 3 elements."""

    x: np.ndarray
    lines: list[str] = field(default_factory=list)
    shapes: list[tuple[int, ...]] = field(default_factory=list)
    C: list[Any] = field(default_factory=list)
    I: list[Any] = field(default_factory=list)  # noqa: E741
    #: Sizes of axes that broadcasting added or stretched (for chunk choices).
    broadcast_sizes: set[int] = field(default_factory=set)
    #: Weights of the scalar objective ``s(x) = sum(w * y)`` (hessian, hvp).
    w: np.ndarray | None = None
    #: A direction for hvp / jvp checks, shaped like x.
    v: np.ndarray | None = None
    #: Whether ``np.full_like`` may take a fill value that depends on x.
    full_fill: bool = True

    # -- building ------------------------------------------------------
    def const(self, value: Any) -> str:
        self.C.append(value)
        return f"C[{len(self.C) - 1}]"

    def index(self, value: Any) -> str:
        self.I.append(value)
        return f"I[{len(self.I) - 1}]"

    def add(self, expr: str, shape: tuple[int, ...]) -> int:
        self.lines.append(expr)
        self.shapes.append(tuple(shape))
        return len(self.shapes) - 1

    # -- running -------------------------------------------------------
    @property
    def source(self) -> str:
        body = "".join(f"    V.append({e})\n" for e in self.lines)
        return f"def run(x):\n    V = [x]\n{body}    return V\n"

    def runner(self, xp: Any, convert: Any = None) -> Any:
        """``x -> list of every value`` with the module ``xp``; ``convert`` maps constants and indices."""
        conv = convert or (lambda c: c)
        ns = {"xp": xp, "C": [conv(c) for c in self.C], "I": [conv(i) for i in self.I]}
        exec(self.source, ns)
        return ns["run"]

    def function(self, xp: Any = np, convert: Any = None) -> Any:
        """``f(x)``: the program's output ``y``."""
        run = self.runner(xp, convert)
        return lambda x: run(x)[-1]

    def objective(self, xp: Any = np, convert: Any = None) -> Any:
        """``s(x) = sum(w * f(x))``: a scalar for hessian and hvp."""
        f = self.function(xp, convert)
        w = self.w if convert is None else convert(self.w)
        return lambda x: xp.sum(w * f(x))

    def __repr__(self) -> str:
        out = [f"x = np.array({self.x.tolist()!r})", self.source.rstrip()]
        for k, c in enumerate(self.C):
            out.append(f"C[{k}] = np.array({np.asarray(c).tolist()!r})")
        for k, i in enumerate(self.I):
            out.append(f"I[{k}] = {i!r}")
        out.append(f"w = np.array({self.w.tolist()!r})  v = np.array({self.v.tolist()!r})")
        out.append(f"broadcast sizes {sorted(self.broadcast_sizes)}")
        return "\n".join(out)


def _size(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=int))


def _dummy(shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros(shape)


# ==========================================================================
# the operations: each draws its operands and appends one line
# ==========================================================================

#: Elementwise functions of one value, composed with maps into their domains.
UNARY = {
    "sin": "xp.sin({a})",
    "cos": "xp.cos({a})",
    "tan": "xp.tan(0.5 * xp.sin({a}))",
    "tanh": "xp.tanh({a})",
    "arctan": "xp.arctan({a})",
    "arcsinh": "xp.arcsinh({a})",
    "sinh": "xp.sinh(0.5 * {a})",
    "cosh": "xp.cosh(0.5 * {a})",
    "exp": "xp.exp(0.5 * {a})",
    "exp2": "xp.exp2(0.5 * {a})",
    "expm1": "xp.expm1(0.5 * {a})",
    "log": "xp.log(1.0 + {a} * {a})",
    "log2": "xp.log2(2.0 + xp.sin({a}))",
    "log10": "xp.log10(1.5 + xp.cos({a}))",
    "log1p": "xp.log1p({a} ** 2)",
    "sqrt": "xp.sqrt(0.5 + {a} ** 2)",
    "cbrt": "xp.cbrt(2.0 + xp.sin({a}))",
    "arcsin": "xp.arcsin(0.5 * xp.tanh({a}))",
    "arccos": "xp.arccos(0.5 * xp.sin({a}))",
    "arctanh": "xp.arctanh(0.5 * xp.tanh({a}))",
    "arccosh": "xp.arccosh(1.5 + {a} ** 2)",
    "square": "xp.square({a})",
    "reciprocal": "xp.reciprocal(2.0 + xp.cos({a}))",
    "abs": "xp.abs({a})",
    "neg": "-{a}",
    "pos": "+{a}",
    "clip": "xp.clip({a}, -0.6, 0.7)",
}

#: Integer and integral exponents (polynomials at every order), and a few others.
EXPONENTS = ("2", "3", "4", "1", "0", "2.0", "3.0", "1.0", "0.0", "-1", "-2.0")


@st.composite
def _pick(draw: Any, p: Program, pred: Any = None) -> int:
    """A value index, favouring recent ones so that programs are deep, not just wide."""
    ok = [i for i in range(len(p.shapes)) if pred is None or pred(p.shapes[i])]
    if not ok:
        return -1
    if draw(st.booleans()):
        return ok[-1 - draw(st.integers(0, min(2, len(ok) - 1)))]
    return draw(st.sampled_from(ok))


def _v(i: int) -> str:
    return f"V[{i}]"


def _broadcast_partner_shape(draw: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts against ``shape``: equal, with ones, a suffix, or larger in front."""
    kind = draw(st.sampled_from(["same", "ones", "suffix", "lead", "lead", "scalar"]))
    if kind == "same":
        return shape
    if kind == "ones":
        return tuple(1 if draw(st.booleans()) else s for s in shape)
    if kind == "suffix":
        return shape[draw(st.integers(0, len(shape))) :]
    if kind == "scalar":
        return ()
    # a leading axis: the other operand is broadcast along it (the shape of issue 10 case 1)
    return (draw(st.integers(1, 4)),) + tuple(1 if draw(st.integers(0, 3)) == 0 else s for s in shape)


def _fits(shape: tuple[int, ...]) -> bool:
    return len(shape) <= MAX_NDIM and _size(shape) <= MAX_SIZE


def _operand(draw: Any, p: Program, rng: np.random.Generator, shape: tuple[int, ...], low: float = -1.5) -> str:
    """An existing value of exactly ``shape`` if there is one (sometimes), else a constant."""
    same = [i for i, s in enumerate(p.shapes) if s == shape]
    if same and draw(st.booleans()):
        return _v(draw(st.sampled_from(same)))
    return p.const(rng.uniform(low, 1.5, size=shape))


def _note_broadcast(p: Program, a: tuple[int, ...], b: tuple[int, ...], out: tuple[int, ...]) -> None:
    for s in (a, b):
        pad = (1,) * (len(out) - len(s)) + s
        p.broadcast_sizes.update(o for o, q in zip(out, pad) if q != o)


def op_binary(draw: Any, p: Program, rng: np.random.Generator) -> None:
    i = draw(_pick(p))
    a = p.shapes[i]
    bshape = _broadcast_partner_shape(draw, a)
    out = np.broadcast_shapes(a, bshape)
    if not _fits(out):
        bshape, out = a, a
    other = _operand(draw, p, rng, bshape)
    _note_broadcast(p, a, bshape, out)
    op = draw(st.sampled_from(["+", "-", "*", "/", "add", "subtract", "multiply", "divide", "pow", "hypot", "atan2"]))
    x, y = _v(i), other
    if draw(st.booleans()):
        x, y = y, x
    if op in "+-*":
        expr = f"{x} {op} {y}"
    elif op == "/":
        expr = f"{x} / (1.0 + {y} ** 2)"
    elif op == "divide":
        expr = f"xp.divide({x}, 2.0 + xp.sin({y}))"
    elif op == "pow":
        expr = f"(1.0 + {x} ** 2) ** xp.tanh({y})"
    elif op == "hypot":
        expr = f"xp.hypot({x}, {y})"
    elif op == "atan2":
        expr = f"xp.arctan2({x}, 2.0 + xp.cos({y}))"
    else:
        expr = f"xp.{op}({x}, {y})"
    p.add(expr, out)


def op_extremum(draw: Any, p: Program, rng: np.random.Generator) -> None:
    i = draw(_pick(p))
    a = p.shapes[i]
    bshape = _broadcast_partner_shape(draw, a)
    out = np.broadcast_shapes(a, bshape)
    if not _fits(out):
        bshape, out = a, a
    other = _operand(draw, p, rng, bshape)
    _note_broadcast(p, a, bshape, out)
    fn = draw(st.sampled_from(["maximum", "minimum", "logaddexp", "sign"]))
    if fn == "sign":
        p.add(f"xp.sign({other}) * {_v(i)}", out)
    else:
        p.add(f"xp.{fn}({_v(i)}, {other})", out)


def op_unary(draw: Any, p: Program, rng: np.random.Generator) -> None:
    i = draw(_pick(p))
    name = draw(st.sampled_from(sorted(UNARY)))
    p.add(UNARY[name].format(a=_v(i)), p.shapes[i])


def op_power(draw: Any, p: Program, rng: np.random.Generator) -> None:
    i = draw(_pick(p))
    form = draw(st.sampled_from(["op", "np", "base", "base_array"]))
    a = _v(i)
    if form == "op":
        e = draw(st.sampled_from(EXPONENTS))
        expr = f"{a} ** {e}" if not e.startswith("-") else f"(1.5 + xp.sin({a})) ** ({e})"
    elif form == "np":
        e = draw(st.sampled_from(EXPONENTS))
        expr = f"xp.power({a}, {e})" if not e.startswith("-") else f"xp.power(1.5 + xp.sin({a}), {e})"
    elif form == "base":
        expr = f"{draw(st.sampled_from(['2.0', '0.5', '3']))} ** {a}"
    else:
        expr = f"xp.power({p.const(rng.uniform(0.5, 2.0, size=p.shapes[i]))}, {a})"
    p.add(expr, p.shapes[i])


def _axis_choice(draw: Any, ndim: int) -> Any:
    if ndim == 0:
        return None
    kind = draw(st.sampled_from(["none", "int", "neg", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(0, ndim - 1))
    if kind == "neg":
        return -draw(st.integers(1, ndim))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(axes)


def _reduced_shape(shape: tuple[int, ...], axis: Any, keepdims: bool) -> tuple[int, ...]:
    return np.sum(_dummy(shape), axis=axis, keepdims=keepdims).shape


def op_reduce(draw: Any, p: Program, rng: np.random.Generator) -> None:
    i = draw(_pick(p))
    shape = p.shapes[i]
    fn = draw(st.sampled_from(["sum", "mean", "prod", "max", "min", "var", "std"]))
    a = _v(i)
    if len(shape) < MAX_NDIM and draw(st.integers(0, 3)) == 0:  # an axis of length one among those reduced
        k = draw(st.integers(0, len(shape)))
        a, shape = f"xp.expand_dims({a}, {k})", shape[:k] + (1,) + shape[k:]
        axis = draw(st.sampled_from([k, (k,), None] if len(shape) == 1 else [k, (k,)]))
    else:
        axis = _axis_choice(draw, len(shape))
    keep = draw(st.booleans())
    out = _reduced_shape(shape, axis, keep)
    axes = range(len(shape)) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    count = _size(tuple(shape[k] for k in axes))
    opts = f"axis={axis!r}, keepdims={keep}"
    if fn in ("var", "std") and count > 1 and draw(st.booleans()):
        opts += ", ddof=1"
    if fn == "prod":
        a = f"(1.0 + 0.5 * xp.sin({a}))"  # a product of many factors stays moderate
    if draw(st.booleans()) and fn != "prod":
        p.add(f"{a}.{fn}({opts})", out)
    else:
        p.add(f"xp.{fn}({a}, {opts})", out)


def _index(draw: Any, shape: tuple[int, ...], rng: np.random.Generator) -> Any:
    """An index into ``shape``: basic, or advanced with lists, tuples, arrays and masks (repeats too)."""
    n0 = shape[0]
    # advanced indices (lists, tuples, arrays) are drawn more often: their transposes scatter-add
    kind = draw(
        st.sampled_from(
            ["int", "slice", "list", "list", "tuple1", "tuple1", "tuple_nd", "tuple_nd", "array", "mask"]
            + ["newaxis", "mixed", "neg"]
        )
    )
    # an index list, half the time with a repeated entry (a gradient must add up both uses)
    reps = st.lists(st.integers(-n0, n0 - 1), min_size=1, max_size=4).flatmap(
        lambda r: st.sampled_from([r, [*r, r[0]]])
    )
    if kind == "int":
        return draw(st.integers(-n0, n0 - 1))
    if kind == "neg":
        return slice(None, None, -1)
    if kind == "slice":
        start = draw(st.integers(0, n0 - 1))
        return slice(start, None, draw(st.sampled_from([1, 2])))
    if kind == "list":
        return draw(reps)
    if kind == "tuple1":  # x[(0, 0, 1),]: one advanced axis given as a tuple
        return (tuple(draw(reps)),)
    if kind == "tuple_nd" and len(shape) >= 2:  # x[(0, 1, 1), (2, 0, 0)]
        k = draw(st.integers(1, 4))
        rows = [tuple(int(rng.integers(0, s)) for _ in range(k)) for s in shape[:2]]
        if draw(st.booleans()):  # a repeated pair of indices
            rows = [(*r, r[0]) for r in rows]
        return tuple(rows)
    if kind == "array":
        return rng.integers(0, n0, size=draw(st.sampled_from([(3,), (2, 2), (1,)])))
    if kind == "mask":
        m = rng.random(shape) < 0.6
        m.flat[int(rng.integers(0, m.size))] = True
        return m
    if kind == "newaxis":
        return (Ellipsis, None) if draw(st.booleans()) else (None, Ellipsis)
    if kind == "mixed" and len(shape) >= 2:  # x[1:, [0, 0]]
        return (slice(draw(st.integers(0, n0 - 1)), None), [int(rng.integers(0, shape[1])) for _ in range(2)])
    return draw(reps)


def op_index(draw: Any, p: Program, rng: np.random.Generator) -> None:
    i = draw(_pick(p, lambda s: len(s) >= 1))
    if i < 0:
        return op_unary(draw, p, rng)
    idx = _index(draw, p.shapes[i], rng)
    out = _dummy(p.shapes[i])[idx].shape
    if not _fits(out) or _size(out) == 0:
        return op_unary(draw, p, rng)
    p.add(f"{_v(i)}[{p.index(idx)}]", out)


def _scalar_of(draw: Any, p: Program, i: int) -> str:
    """A 0-d value computed from value ``i``."""
    if p.shapes[i] == ():
        return _v(i)
    k = draw(st.integers(0, _size(p.shapes[i]) - 1))
    return f"xp.ravel({_v(i)})[{k}]"


def op_like(draw: Any, p: Program, rng: np.random.Generator) -> None:
    i = draw(_pick(p))
    j = draw(_pick(p))
    shape = p.shapes[i]
    kind = draw(st.sampled_from(["full", "full_const", "zeros", "ones"]))
    if kind == "full" and p.full_fill:  # the fill value carries a derivative (issue 10 case 4)
        p.add(f"xp.full_like({_v(i)}, {_scalar_of(draw, p, j)})", shape)
    elif kind in ("full", "full_const"):
        p.add(f"xp.full_like({_v(i)}, 0.75) * {_v(i)}", shape)
    elif kind == "zeros":
        p.add(f"xp.zeros_like({_v(i)}) + {_scalar_of(draw, p, j)}", shape)
    else:
        p.add(f"xp.ones_like({_v(i)}) * {_scalar_of(draw, p, j)}", shape)


def op_where(draw: Any, p: Program, rng: np.random.Generator) -> None:
    i = draw(_pick(p))
    a = p.shapes[i]
    bshape = _broadcast_partner_shape(draw, a)
    out = np.broadcast_shapes(a, bshape)
    if not _fits(out):
        bshape, out = a, a
    other = _operand(draw, p, rng, bshape)
    _note_broadcast(p, a, bshape, out)
    kind = draw(st.sampled_from(["mask", "compare", "scalar"]))
    if kind == "mask":
        cond = p.const(rng.random(draw(st.sampled_from([out, out[1:], out[-1:]]))) < 0.5)
        p.add(f"xp.where({cond}, {_v(i)}, {other})", out)
    elif kind == "compare":
        p.add(f"xp.where({_v(i)} > {other}, {_v(i)} * {other}, {other})", out)
    else:
        p.add(f"xp.where({_v(i)} > 0.2, {_v(i)}, 0.0)", a)


def op_join(draw: Any, p: Program, rng: np.random.Generator) -> None:
    i = draw(_pick(p, lambda s: len(s) >= 1))
    if i < 0:
        return op_unary(draw, p, rng)
    shape = p.shapes[i]
    if draw(st.booleans()):  # stack: equal shapes, a new axis
        if _size(shape) * 2 > MAX_SIZE or len(shape) >= MAX_NDIM:
            return op_unary(draw, p, rng)
        other = _operand(draw, p, rng, shape)
        axis = draw(st.integers(-len(shape) - 1, len(shape)))
        out = np.stack([_dummy(shape)] * 2, axis=axis).shape
        parts = [_v(i), other] if draw(st.booleans()) else [other, _v(i)]
        p.add(f"xp.stack([{', '.join(parts)}], axis={axis})", out)
        return None
    axis = draw(st.integers(0, len(shape) - 1))
    oshape = shape[:axis] + (draw(st.integers(1, 3)),) + shape[axis + 1 :]
    out = shape[:axis] + (shape[axis] + oshape[axis],) + shape[axis + 1 :]
    if not _fits(out):
        return op_unary(draw, p, rng)
    other = _operand(draw, p, rng, oshape)
    parts = [_v(i), other] if draw(st.booleans()) else [other, _v(i)]
    p.add(f"xp.concatenate([{', '.join(parts)}], axis={axis})", out)
    return None


def op_structure(draw: Any, p: Program, rng: np.random.Generator) -> None:
    i = draw(_pick(p))
    shape = p.shapes[i]
    a = _v(i)
    kind = draw(st.sampled_from(["reshape", "T", "swap", "expand", "squeeze", "broadcast", "ravel", "flip"]))
    if kind == "reshape" and _size(shape) > 1:
        n = _size(shape)
        divs = [d for d in range(1, n + 1) if n % d == 0]
        d = draw(st.sampled_from(divs))
        target = draw(st.sampled_from([(d, n // d), (n // d, -1), (n,), (d, 1, n // d)]))
        out = _dummy(shape).reshape(target).shape
        if len(out) <= MAX_NDIM:
            p.add(f"xp.reshape({a}, {target!r})", out)
            return
    if kind == "T" and len(shape) >= 2:
        p.add(f"{a}.T", shape[::-1])
        return
    if kind == "swap" and len(shape) >= 2:
        p.add(f"xp.swapaxes({a}, 0, -1)", _dummy(shape).swapaxes(0, -1).shape)
        return
    if kind == "expand" and len(shape) < MAX_NDIM:
        ax = draw(st.integers(-len(shape) - 1, len(shape)))
        p.add(f"xp.expand_dims({a}, {ax})", np.expand_dims(_dummy(shape), ax).shape)
        return
    if kind == "squeeze" and 1 in shape:
        p.add(f"xp.squeeze({a})", np.squeeze(_dummy(shape)).shape)
        return
    if kind == "broadcast":
        target = (draw(st.integers(1, 4)),) + shape
        if _fits(target):
            p.broadcast_sizes.add(target[0])
            p.add(f"xp.broadcast_to({a}, {target!r})", target)
            return
    if kind == "flip" and shape:
        p.add(f"xp.flip({a}, axis=0)", shape)
        return
    p.add(f"xp.ravel({a})", (_size(shape),))


def _einsum_spec(draw: Any, shape: tuple[int, ...]) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """Subscripts 'A,B->O' for a (first operand of ``shape``) and a second operand; returns (spec, bshape, out)."""
    letters = string.ascii_lowercase
    a_sub = letters[: len(shape)]
    size = dict(zip(a_sub, shape))
    shared = [c for c in a_sub if draw(st.booleans())]
    new = letters[len(shape) : len(shape) + draw(st.integers(0, 2 if len(shared) + len(shape) < 4 else 0))]
    for c in new:
        size[c] = draw(st.integers(1, 3))
    b_sub = "".join(draw(st.permutations(shared + list(new)))) if shared or new else ""
    union = sorted(set(a_sub + b_sub))
    out_sub = "".join(draw(st.permutations([c for c in union if draw(st.booleans())])))
    bshape = tuple(size[c] for c in b_sub)
    out = tuple(size[c] for c in out_sub)
    return f"{a_sub},{b_sub}->{out_sub}", bshape, out


def op_product(draw: Any, p: Program, rng: np.random.Generator) -> None:
    i = draw(_pick(p, lambda s: len(s) >= 1))
    if i < 0:
        return op_unary(draw, p, rng)
    shape = p.shapes[i]
    a = _v(i)
    kind = draw(st.sampled_from(["matmul_r", "matmul_l", "gram", "einsum", "dot", "tensordot", "outer", "inner"]))
    m = draw(st.integers(1, 3))
    if kind == "matmul_r":  # a @ C: C (k,) or (k, m)
        bshape = (shape[-1],) if draw(st.booleans()) else (shape[-1], m)
        b = _operand(draw, p, rng, bshape)
        out = (_dummy(shape) @ _dummy(bshape)).shape
        expr = f"{a} @ {b}" if draw(st.booleans()) else f"xp.matmul({a}, {b})"
    elif kind == "matmul_l":  # C @ a
        k = shape[0] if len(shape) == 1 else shape[-2]
        bshape = (m, k) if draw(st.booleans()) else (k,)
        b = _operand(draw, p, rng, bshape)
        out = (_dummy(bshape) @ _dummy(shape)).shape
        expr = f"{b} @ {a}"
    elif kind == "gram":
        if len(shape) == 1:
            out, expr = (), f"{a} @ {a}"
        else:
            out = (_dummy(shape) @ np.swapaxes(_dummy(shape), -1, -2)).shape
            expr = f"{a} @ xp.swapaxes({a}, -1, -2)"
    elif kind == "einsum":
        spec, bshape, out = _einsum_spec(draw, shape)
        b = _operand(draw, p, rng, bshape)
        expr = f"xp.einsum({spec!r}, {a}, {b})"
    elif kind == "dot":
        bshape = (shape[-1],) if draw(st.booleans()) else (shape[-1], m)
        if len(shape) > 2:
            bshape = (shape[-1],)
        b = _operand(draw, p, rng, bshape)
        out = np.dot(_dummy(shape), _dummy(bshape)).shape
        expr = f"xp.dot({a}, {b})"
    elif kind == "tensordot":
        bshape = (shape[-1], m)
        b = _operand(draw, p, rng, bshape)
        out = np.tensordot(_dummy(shape), _dummy(bshape), axes=1).shape
        expr = f"xp.tensordot({a}, {b}, axes=1)"
    elif kind == "outer":
        bshape = (m + 1,)
        b = _operand(draw, p, rng, bshape)
        out = (_size(shape), m + 1)
        expr = f"xp.outer({a}, {b})"
    else:
        bshape = (shape[-1],)
        b = _operand(draw, p, rng, bshape)
        out = shape[:-1]
        expr = f"xp.inner({a}, {b})"
    if not _fits(out):
        return op_unary(draw, p, rng)
    p.add(expr, out)
    return None


def op_linalg(draw: Any, p: Program, rng: np.random.Generator) -> None:
    i = draw(_pick(p))
    shape = p.shapes[i]
    a = _v(i)
    kind = draw(st.sampled_from(["inv", "solve", "solve_mat", "det", "slogdet", "norm"]))
    if kind == "norm":
        if len(shape) == 0:
            return op_unary(draw, p, rng)
        if len(shape) >= 2 and draw(st.booleans()):
            ord_ = draw(st.sampled_from([None, "'fro'", "1", "-1", "np_inf"]))
            ord_s = "xp.inf" if ord_ == "np_inf" else ord_
            axes = (0, 1)
            out = tuple(s for k, s in enumerate(shape) if k not in axes)
            p.add(f"xp.linalg.norm({a}, ord={ord_s}, axis={axes!r})", out)
            return None
        ax = draw(st.integers(0, len(shape) - 1))
        # orders whose |x|**p stays differentiable to third order where an element is exactly 0
        ord_ = draw(st.sampled_from(["None", "1", "2", "3", "4", "xp.inf", "-xp.inf"]))
        keep = draw(st.booleans())
        out = _reduced_shape(shape, ax, keep)
        p.add(f"xp.linalg.norm({a}, ord={ord_}, axis={ax}, keepdims={keep})", out)
        return None
    # a well-conditioned matrix that depends on every element drawn into it (repeats allowed)
    k = draw(st.integers(2, 3))
    pick = p.index(rng.integers(0, _size(shape), size=k * k))
    base = p.const(2.0 * np.eye(k) + 0.3 * rng.uniform(-1, 1, (k, k)))
    mat = f"({base} + 0.3 * xp.reshape(xp.tanh(xp.ravel({a})[{pick}]), ({k}, {k})))"
    if kind == "inv":
        p.add(f"xp.linalg.inv({mat})", (k, k))
    elif kind == "solve":
        p.add(f"xp.linalg.solve({mat}, {_operand(draw, p, rng, (k,))})", (k,))
    elif kind == "solve_mat":
        p.add(f"xp.linalg.solve({mat}, {_operand(draw, p, rng, (k, 2))})", (k, 2))
    elif kind == "det":
        p.add(f"xp.linalg.det({mat})", ())
    else:
        p.add(f"xp.linalg.slogdet({mat})[1]", ())
    return None


OPERATIONS = {
    "binary": op_binary,
    "extremum": op_extremum,
    "unary": op_unary,
    "power": op_power,
    "reduce": op_reduce,
    "index": op_index,
    "like": op_like,
    "where": op_where,
    "join": op_join,
    "structure": op_structure,
    "product": op_product,
    "linalg": op_linalg,
}


@st.composite
def programs(
    draw: Any, min_ops: int = 1, max_ops: int = 6, kinds: tuple[str, ...] | None = None, full_fill: bool = True
) -> Program:
    """A random program on an input of 2 to 6 elements, with a 1- to 3-element output."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shape0 = draw(st.sampled_from(INPUT_SHAPES))
    p = Program(x=rng.uniform(-1.5, 1.5, size=shape0), full_fill=full_fill)
    p.shapes.append(shape0)
    # indexing twice as often as the other kinds: it has the most forms (and transposes that scatter)
    names = kinds or tuple(OPERATIONS) + ("index",)
    for _ in range(draw(st.integers(min_ops, max_ops))):
        OPERATIONS[draw(st.sampled_from(names))](draw, p, rng)
    # the output: the last value's first elements, plus a weighted sum of every value, so that
    # every operation's derivative reaches it
    last = len(p.shapes) - 1
    m = min(_size(p.shapes[last]), draw(st.integers(1, 3)))
    total = " + ".join(f"xp.sum({p.const(rng.uniform(-1, 1, size=p.shapes[j]))} * {_v(j)})" for j in range(last + 1))
    s = _v(p.add(total, ()))
    if draw(st.integers(0, 3)) == 0:  # an array built of separate scalars, as users write it
        p.add("xp.array([" + ", ".join(f"xp.ravel({_v(last)})[{k}] + {s}" for k in range(m)) + "])", (m,))
    else:
        p.add(f"xp.ravel({_v(last)})[:{m}] + {s}", (m,))
    p.w = rng.uniform(-1, 1, size=m)
    p.v = rng.uniform(-1, 1, size=shape0)
    return p


def moderate(values: list[Any], bound: float = 1e3) -> bool:
    """True when every value of a run is finite and below ``bound`` (so derivatives stay well scaled)."""
    for v in values:
        a = np.asarray(v, dtype=float)
        if a.size and not (np.all(np.isfinite(a)) and float(np.max(np.abs(a))) < bound):
            return False
    return True


def chunk_choices(p: Program) -> list[int | None]:
    """Chunk sizes worth trying: the default, one, and every broadcast size (the case that hid bugs)."""
    n = int(p.x.size)
    return sorted({1, 2, n, *(b for b in p.broadcast_sizes if 1 <= b <= n)}) + [None]


__all__ = ["OPERATIONS", "Program", "chunk_choices", "moderate", "programs"]
