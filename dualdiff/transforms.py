"""The transforms: jvp, derivative, jacfwd (forward); vjp, grad, jacrev (reverse);
jacobian, hessian and hvp (both).

Every transform calls ``f(x)`` with ``x`` as its one argument, as
``jax.grad`` does with a pytree: a tuple ``x`` arrives as that tuple. Each
call takes a fresh level, so transforms nest to any depth without
perturbation confusion.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import opcount
from .backends import backend_of
from .core import Lifted, new_level
from .dual import Dual
from .tape import Tape, Var
from .tree import check_input, check_like, leaves, output_leaves, primal_at, rebuild

Function = Callable[[Any], Any]

#: jacfwd/jacrev push at most this many directions through f at once by default,
DEFAULT_CHUNK = 1024
#: and fewer for large inputs (outputs): each direction costs memory the size of
#: the input in every intermediate, so by default size * chunk stays under this
#: many elements (64 MiB of float64), as ForwardDiff caps its chunk size.
CHUNK_BUDGET = 2**23


def default_chunk(size: int) -> int:
    """Directions per pass (cotangents per sweep) by default, for ``size`` inputs (outputs).

    >>> default_chunk(100), default_chunk(100_000)
    (1024, 83)
    """
    return max(1, min(DEFAULT_CHUNK, CHUNK_BUDGET // max(size, 1)))


def _check_f(f: Any, who: str) -> None:
    if not callable(f):
        raise TypeError(f"{who} needs a callable f, got {type(f).__name__}: {f!r:.80}")


# --------------------------------------------------------------------------
# forward mode
# --------------------------------------------------------------------------


def _push_forward(f: Function, x: Any, tangents: list[Any], batch: tuple[int, ...]) -> tuple[Any, list[Any], Any]:
    """Run f on Duals of a fresh level; return (output tree, output tangents, output leaves)."""
    level = new_level()
    duals = [Dual._new(xi, ti, level) for xi, ti in zip(leaves(x), tangents)]
    out = f(rebuild(x, duals))
    outs = output_leaves(out)
    y = rebuild(out, [primal_at(o, level) for o in outs])
    return y, [_tangent_at(o, level, batch) for o in outs], out


def _tangent_at(value: Any, level: int, batch: tuple[int, ...]) -> Any:
    """The tangent of an output at ``level``: zero if it does not depend on the input."""
    if isinstance(value, Dual) and value.level == level:
        t = value.tangent
        want = np.shape(value.primal) + batch
        if np.shape(t) != want:
            t = np.broadcast_to(t, want)
        if isinstance(t, np.ndarray) and not t.flags.writeable:
            t = t.copy()
        return t
    if isinstance(value, np.ndarray) and value.dtype == object:
        parts = [_tangent_at(v, level, batch) for v in value.ravel()]
        if any(isinstance(p, Lifted) for p in parts):
            arr = np.empty(len(parts), dtype=object)
            arr[:] = parts
            return arr.reshape(value.shape + batch)
        return np.array(parts).reshape(value.shape + batch)
    return _zeros(value, batch)


def _zeros(like: Any, batch: tuple[int, ...] = ()) -> Any:
    dtype = complex if np.iscomplexobj(_innermost(like)) else float
    shape = np.shape(like) + batch
    return np.zeros(shape, dtype=_seed_dtype(like)) if shape else dtype(0)


def _seed_dtype(like: Any) -> Any:
    """float32 seeds and zeros for float32 values (so float32 stays float32), else float64/complex."""
    d = getattr(_innermost(like), "dtype", None)
    return d if d is not None and d.kind in "fc" else np.dtype(complex if np.iscomplexobj(_innermost(like)) else float)


def _innermost(v: Any) -> Any:
    while isinstance(v, Lifted):
        v = v.primal
    return v


def jvp(f: Function, x: Any, v: Any) -> tuple[Any, Any]:
    """Value and Jacobian-vector product of ``f`` at ``x`` in direction ``v``.

    ``x`` and ``v`` are numbers, arrays or tuples of these, ``v`` shaped like
    ``x``. One forward pass; returns ``(f(x), J(x) @ v)``.

    >>> import numpy as np, dualdiff as dd
    >>> dd.jvp(lambda x: x[0] * x[1], np.array([2.0, 3.0]), np.array([1.0, 0.0]))
    (np.float64(6.0), np.float64(3.0))
    """
    _check_f(f, "jvp")
    x = check_input("x", x)
    v = check_input("v", v)
    check_like("v", v, "x", x)
    y, ts, out = _push_forward(f, x, leaves(v), ())
    return y, rebuild(out, ts)


def derivative(f: Function) -> Function:
    """``f'``: the derivative of ``f`` at a scalar ``x`` (output of any shape).

    >>> import dualdiff as dd
    >>> dd.derivative(lambda x: x ** 3)(2.0)
    12.0
    >>> dd.derivative(dd.derivative(dd.sin))(0.0)
    -0.0
    """
    _check_f(f, "derivative")

    def df(x: Any) -> Any:
        x = check_input("x", x)
        if isinstance(x, (tuple, list)) or np.ndim(x) != 0:
            raise ValueError(
                f"derivative needs a scalar x, got shape {np.shape(x)}; use dd.jacfwd(f) or dd.jvp(f, x, v)"
            )
        return jvp(f, x, _one_like(x))[1]

    return df


def _one_like(x: Any) -> Any:
    """1 in x's own number type (an mpf seed keeps every derivative an mpf)."""
    if isinstance(x, np.ndarray):
        return np.ones_like(x)
    backend = backend_of(x)
    return 1.0 if backend is None or isinstance(x, Lifted) else backend.const(x, 1)


def _basis_chunks(x: Any, chunk: int) -> Any:
    """Seed tangents for the columns [s, e) of the identity, chunk by chunk."""
    xl = leaves(x)
    sizes = [int(np.size(a)) for a in xl]
    n = sum(sizes)
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        k = e - s
        seeds = []
        offset = 0
        for a, sz in zip(xl, sizes):
            if chunk == 1:
                t = np.zeros(sz, dtype=_seed_dtype(a))
                if offset <= s < offset + sz:
                    t[s - offset] = 1.0
                seeds.append(t.reshape(np.shape(a)) if np.ndim(a) else float(t[0]))
            else:
                t = np.zeros((sz, k), dtype=_seed_dtype(a))
                lo, hi = max(s, offset), min(e, offset + sz)
                if lo < hi:
                    t[np.arange(lo - offset, hi - offset), np.arange(lo - s, hi - s)] = 1.0
                seeds.append(t.reshape(np.shape(a) + (k,)))
            offset += sz
        yield s, e, seeds


def _jacobian_tree(out: Any, x: Any, columns: list[Any]) -> Any:
    """Split flat Jacobians (output shape + (n,)) into the (output, input) tree."""
    xl = leaves(x)
    per_out = []
    for y_leaf_cols in columns:
        yshape = np.shape(y_leaf_cols)[:-1]
        blocks = []
        offset = 0
        for a in xl:
            sz = int(np.size(a))
            blocks.append(np.reshape(y_leaf_cols[..., offset : offset + sz], yshape + np.shape(a)))
            offset += sz
        per_out.append(rebuild(x, blocks) if isinstance(x, (tuple, list)) else blocks[0])
    return per_out


def jacfwd(f: Function, chunk: int | None = None) -> Function:
    """The Jacobian of ``f`` by forward mode: shape ``y.shape + x.shape``.

    Costs ``ceil(n / chunk)`` evaluations of f, each pushing ``chunk``
    directions at once (default: all n, up to 1024 a pass, fewer when n is
    so large that the tangents would pass 64 MiB; see :func:`default_chunk`).

    >>> import numpy as np, dualdiff as dd
    >>> dd.jacfwd(lambda x: x * x)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    _check_f(f, "jacfwd")
    _check_chunk(chunk)

    def jac(x: Any) -> Any:
        x = check_input("x", x)
        n = sum(int(np.size(a)) for a in leaves(x))
        k = min(chunk or default_chunk(n), max(n, 1))
        cols: list[list[Any]] | None = None
        out = None
        for s, e, seeds in _basis_chunks(x, k):
            _, ts, out = _push_forward(f, x, seeds, () if k == 1 else (e - s,))
            if cols is None:
                cols = [[] for _ in ts]
            for c, t in zip(cols, ts):
                c.append(np.expand_dims(t, -1) if k == 1 else t)
        if cols is None:  # x has no elements
            out = f(x)
            cols = [[np.zeros(np.shape(o) + (0,))] for o in output_leaves(out)]
        columns = [np.concatenate(c, axis=-1) if len(c) > 1 else c[0] for c in cols]
        return rebuild(out, _jacobian_tree(out, x, columns))

    return jac


def _check_chunk(chunk: Any) -> None:
    if chunk is not None and (not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1):
        raise ValueError(f"chunk must be a positive int or None, got {chunk!r}")


# --------------------------------------------------------------------------
# reverse mode
# --------------------------------------------------------------------------


class Pullback:
    """The pullback of a ``vjp``: maps an output cotangent to an input cotangent.

    Call it with ``y_bar`` shaped like f's output. The tape is released after
    the call unless ``retain_graph=True`` (as in PyTorch); calling a released
    pullback raises :class:`~dualdiff.tape.ReleasedTapeError`.
    """

    def __init__(self, tape: Tape, x: Any, inputs: list[Var], out: Any, y: Any) -> None:
        self.tape = tape
        self._x = x
        self._inputs = inputs
        self._out = out
        self._y = y

    def __repr__(self) -> str:
        return f"<Pullback of {self.tape!r}>"

    def __call__(self, y_bar: Any, retain_graph: bool = False) -> Any:
        y_bar = check_input("y_bar", y_bar)
        check_like("y_bar", y_bar, "f(x)", self._y)
        return self._sweep(leaves(y_bar), 0, retain_graph)

    def _sweep(self, y_bar_leaves: list[Any], nbatch: int, retain_graph: bool) -> Any:
        seeds: list[tuple[int, Any]] = []
        for o, g in zip(output_leaves(self._out), y_bar_leaves):
            _collect_seeds(o, g, self.tape, seeds)
        adj = self.tape.sweep(seeds, nbatch, retain_graph)
        batch = np.shape(y_bar_leaves[0])[-1:] if nbatch else ()
        grads = []
        for v in self._inputs:
            g = adj[v.index]
            if g is None:
                g = _zeros(v.primal, batch)
            elif isinstance(g, np.ndarray) and not g.flags.writeable:
                g = g.copy()
            grads.append(g)
        return rebuild(self._x, grads)


def _collect_seeds(o: Any, g: Any, tape: Tape, seeds: list[tuple[int, Any]]) -> None:
    if isinstance(o, Var) and o.tape is tape:
        seeds.append((o.index, g))
    elif isinstance(o, np.ndarray) and o.dtype == object:
        for idx in np.ndindex(o.shape):
            _collect_seeds(o[idx], g[idx], tape, seeds)


def vjp(f: Function, x: Any) -> tuple[Any, Pullback]:
    """Value of ``f`` at ``x`` and its pullback ``y_bar -> y_bar @ J(x)``.

    One recording; each pullback call is one backward sweep.

    >>> import dualdiff as dd
    >>> y, pullback = dd.vjp(lambda x: x[0] * x[1], (2.0, 3.0))
    >>> y, pullback(1.0)
    (6.0, (3.0, 2.0))
    """
    _check_f(f, "vjp")
    x = check_input("x", x)
    tape = Tape()
    inputs = [tape._new_var(a) for a in leaves(x)]
    out = f(rebuild(x, inputs))
    outs = output_leaves(out)
    y = rebuild(out, [primal_at(o, tape.level) for o in outs])
    return y, Pullback(tape, x, inputs, out, y)


def value_and_grad(f: Function) -> Function:
    """``x -> (f(x), grad f(x))`` for scalar-valued ``f``, in one reverse pass.

    >>> import dualdiff as dd
    >>> dd.value_and_grad(lambda x: x[0] * x[1])((2.0, 3.0))
    (6.0, (3.0, 2.0))
    """
    _check_f(f, "value_and_grad")

    def vg(x: Any) -> tuple[Any, Any]:
        y, pullback = vjp(f, x)
        if isinstance(y, (tuple, list)) or np.ndim(y) != 0:
            shape = "a tuple" if isinstance(y, (tuple, list)) else f"shape {np.shape(y)}"
            raise ValueError(
                f"grad needs f to return a scalar, but it returned {shape}; "
                "for vector outputs use dd.jacrev(f) or dd.vjp(f, x)"
            )
        return y, pullback(_seed_dtype(y).type(1) if isinstance(y, np.generic) else 1.0)  # float32 stays float32

    return vg


def grad(f: Function) -> Function:
    """The gradient of scalar-valued ``f``, shaped like ``x`` (one reverse sweep).

    >>> import numpy as np, dualdiff as dd
    >>> dd.grad(lambda x: np.sum(x * x))(np.array([1.0, 2.0]))
    array([2., 4.])
    """
    vg = value_and_grad(f)

    def g(x: Any) -> Any:
        return vg(x)[1]

    return g


def jacrev(f: Function, chunk: int | None = None) -> Function:
    """The Jacobian of ``f`` by reverse mode: shape ``y.shape + x.shape``.

    One recording of f, then ``ceil(m / chunk)`` backward sweeps for m
    outputs, each carrying ``chunk`` cotangents at once.

    >>> import numpy as np, dualdiff as dd
    >>> dd.jacrev(lambda x: x * x)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    _check_f(f, "jacrev")
    _check_chunk(chunk)

    def jac(x: Any) -> Any:
        y, pullback = vjp(f, x)
        m = sum(int(np.size(a)) for a in leaves(y))
        k = min(chunk or default_chunk(m), max(m, 1))
        n_sweeps = math.ceil(m / k)
        rows: list[list[Any]] = [[] for _ in leaves(x)]
        for i, (_, _, seeds) in enumerate(_basis_chunks(y, k)):
            last = i == n_sweeps - 1
            x_bar = pullback._sweep(seeds, 0 if k == 1 else 1, retain_graph=not last)
            for r, g in zip(rows, leaves(x_bar)):
                # g: x.shape + (k,): move the cotangent axis to the front
                r.append(np.expand_dims(g, 0) if k == 1 else np.moveaxis(np.asarray(g), -1, 0))
        if m == 0:
            pullback.tape.release()
            rows = [[np.zeros((0,) + np.shape(a))] for a in leaves(x)]
        per_input = [np.concatenate(r, axis=0) if len(r) > 1 else r[0] for r in rows]
        # per_input[j]: (m,) + x_j.shape; split rows per output leaf
        blocks_by_out = []
        offset = 0
        for yl in leaves(y):
            sz = int(np.size(yl))
            blocks = [np.reshape(p[offset : offset + sz], np.shape(yl) + p.shape[1:]) for p in per_input]
            blocks_by_out.append(rebuild(x, blocks) if isinstance(x, (tuple, list)) else blocks[0])
            offset += sz
        return rebuild(y, blocks_by_out)

    return jac


# --------------------------------------------------------------------------
# both modes
# --------------------------------------------------------------------------


def jacobian(f: Function, mode: str = "auto", chunk: int | None = None) -> Function:
    """The Jacobian of ``f``, by ``mode`` = "forward", "reverse" or "auto".

    "auto" takes the mode that :func:`choose_mode` finds cheaper under the
    cost model of :mod:`dualdiff.opcount` (broadly: forward when there are
    fewer inputs n than outputs m, reverse otherwise), once per input
    structure (types and shapes of x's leaves): later calls reuse the choice.

    >>> import numpy as np, dualdiff as dd
    >>> dd.jacobian(lambda x: np.sum(x * x))(np.array([1.0, 2.0]))
    array([2., 4.])
    """
    _check_f(f, "jacobian")
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"mode must be 'auto', 'forward' or 'reverse', got {mode!r}")
    fwd, rev = jacfwd(f, chunk), jacrev(f, chunk)
    picked: dict[Any, str] = {}  # "auto": the mode chosen per input structure

    def jac(x: Any) -> Any:
        if mode == "forward":
            return fwd(x)
        if mode == "reverse":
            return rev(x)
        key = tuple((type(a), np.shape(a)) for a in leaves(x))
        if key not in picked:
            picked[key] = choose_mode(f, x, chunk=chunk)
        return fwd(x) if picked[key] == "forward" else rev(x)

    return jac


def choose_mode(f: Function, x: Any, chunk: int | None = None, explain: bool = False) -> Any:
    """The mode ``jacobian(mode="auto")`` uses at ``x``: the cheaper one under the cost model.

    The model (:mod:`dualdiff.opcount`) counts the element operations of the
    whole Jacobian in each mode, with ``chunk`` directions per pass; ties go
    by shape (forward if n < m). ``explain=True`` returns a
    :class:`~dualdiff.opcount.ModeChoice`: ``.mode``, and ``str()`` says why.

    >>> import numpy as np
    >>> choose_mode(lambda x: x * np.ones(3), 1.0)
    'forward'
    >>> choice = choose_mode(lambda x: np.sum(x * x), np.ones(4), explain=True)
    >>> choice.mode, choice.forward_ops, choice.reverse_ops
    ('reverse', 172, 97)
    """
    _check_f(f, "choose_mode")
    _check_chunk(chunk)
    choice = opcount.choose(f, check_input("x", x), chunk or DEFAULT_CHUNK, explain)
    return choice if explain else choice.mode


def hessian(f: Function, chunk: int | None = None) -> Function:
    """The Hessian of scalar-valued ``f``: forward mode over reverse mode.

    Shape ``x.shape + x.shape``; costs ``ceil(n / chunk)`` forward-over-reverse
    passes.

    >>> import numpy as np, dualdiff as dd
    >>> dd.hessian(lambda x: x[0] ** 2 * x[1])(np.array([1.0, 2.0]))
    array([[4., 2.],
           [2., 0.]])
    """
    _check_f(f, "hessian")
    return jacfwd(grad(f), chunk)


def hvp(f: Function, x: Any, v: Any) -> Any:
    """Hessian-vector product ``H(x) @ v`` of scalar-valued ``f``, in one pass.

    Forward mode over reverse: a jvp of the gradient, never the full Hessian.

    >>> import numpy as np, dualdiff as dd
    >>> dd.hvp(lambda x: np.sum(x ** 3), np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    array([6., 0.])
    """
    _check_f(f, "hvp")
    return jvp(grad(f), x, v)[1]
