"""Reverse mode transforms: vjp, grad, value_and_grad, jacrev.

One recording of ``f`` on a tape, then one backward sweep per cotangent (or
per chunk of cotangents). ``f`` is called as ``f(x)``, as every transform does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, overload

import numpy as np

from ..modes.tape import Tape, Var, real_cotangent
from ..modes.tree import check_input, check_like, leaves, output_leaves, primal_at, rebuild
from .arguments import ArgNums, transformed
from .common import (
    Function,
    P,
    basis_chunks,
    check_chunk,
    check_f,
    chunked_jacobian,
    default_chunk,
    is_lifted,
    unit,
    zeros,
)
from .executors import check_executor
from .progress import check_progress, tracked


class Pullback:
    """The pullback of a ``vjp``: maps an output cotangent to an input cotangent.

    Call it with ``y_bar`` shaped like f's output. The tape is released after
    the call unless ``retain_graph=True`` (as in PyTorch); calling a released
    pullback raises :class:`~dualdiff.tape.ReleasedTapeError`.

    The cotangent of a real input is real, as in JAX and autograd: a complex
    ``y_bar`` (or complex intermediate values) contribute their real part.
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
        return self._sweep(leaves(y_bar), 0, retain_graph, project=True)

    def _sweep(self, y_bar_leaves: list[Any], nbatch: int, retain_graph: bool, project: bool = False) -> Any:
        """Input cotangents for the seeds ``y_bar_leaves``; ``project``: real ones for real inputs.

        ``jacrev`` sweeps unprojected: the rows of the (complex) Jacobian.
        """
        seeds: list[tuple[int, Any]] = []
        for o, g in zip(output_leaves(self._out), y_bar_leaves):
            _collect_seeds(o, g, self.tape, seeds)
        adj = self.tape.sweep(seeds, nbatch, retain_graph)
        batch = np.shape(y_bar_leaves[0])[-1:] if nbatch else ()
        grads = []
        for v in self._inputs:
            g = adj[v.index]
            if g is None:
                g = zeros(v.primal, batch)
            else:
                if project:
                    g = real_cotangent(g, v.primal)
                if isinstance(g, np.ndarray) and not g.flags.writeable:
                    g = g.copy()
            grads.append(g)
        return rebuild(self._x, grads)


def _collect_seeds(o: Any, g: Any, tape: Tape, seeds: list[tuple[int, Any]]) -> None:
    if isinstance(o, Var) and o.tape is tape:
        seeds.append((o.index, g))
    elif isinstance(o, np.ndarray) and o.dtype == object:
        for idx in np.ndindex(o.shape):
            _collect_seeds(o[idx], g[idx] if np.ndim(g) else g, tape, seeds)


def vjp(f: Function, x: Any) -> tuple[Any, Pullback]:
    """Value of ``f`` at ``x`` and its pullback ``y_bar -> y_bar @ J(x)``.

    One recording; each pullback call is one backward sweep.

    >>> import dualdiff as dd
    >>> y, pullback = dd.vjp(lambda x: x[0] * x[1], (2.0, 3.0))
    >>> y, pullback(1.0)
    (6.0, (3.0, 2.0))
    """
    check_f(f, "vjp")
    x = check_input("x", x)
    tape = Tape()
    inputs = [tape._new_var(a) for a in leaves(x)]
    out = f(rebuild(x, inputs))
    outs = output_leaves(out)
    y = rebuild(out, [primal_at(o, tape.level) for o in outs])
    return y, Pullback(tape, x, inputs, out, y)


def value_and_grad(f: Callable[P, Any], *, argnums: ArgNums = 0, has_aux: bool = False) -> Callable[P, tuple[Any, Any]]:
    """``x -> (f(x), grad f(x))`` for scalar-valued ``f``, in one reverse pass.

    ``argnums`` and ``has_aux`` work as in ``jax.value_and_grad``
    (:mod:`dualdiff.transforms.arguments`): with ``has_aux=True`` it returns
    ``((value, aux), grad)``.

    >>> import dualdiff as dd
    >>> dd.value_and_grad(lambda x: x[0] * x[1])((2.0, 3.0))
    (6.0, (3.0, 2.0))
    """
    return _value_and_grad(f, argnums, has_aux, "value_and_grad")


def _value_and_grad(f: Function, argnums: ArgNums, has_aux: bool, who: str) -> Callable[..., Any]:
    check_f(f, who)

    def vg(x: Any) -> tuple[Any, Any]:
        y, pullback = vjp(f, x)
        if isinstance(y, (tuple, list)) or np.ndim(y) != 0:
            shape = "a tuple" if isinstance(y, (tuple, list)) else f"shape {np.shape(y)}"
            raise ValueError(
                f"grad needs f to return a scalar, but it returned {shape}; "
                "for vector outputs use dd.jacrev(f) or dd.vjp(f, x)"
            )
        return y, pullback(unit(y))

    return transformed(
        who,
        f,
        vg,
        lambda g: _value_and_grad(g, 0, False, who),
        argnums,
        has_aux,
        lambda result, aux: ((result[0], aux), result[1]),
    )


# For type checkers: a tuple of argnums gives a tuple of gradients, has_aux=True the pair (grad, aux).
@overload
def grad(f: Callable[P, Any], *, argnums: int = 0, has_aux: Literal[False] = False) -> Callable[P, Any]: ...
@overload
def grad(
    f: Callable[P, Any], *, argnums: tuple[int, ...], has_aux: Literal[False] = False
) -> Callable[P, tuple[Any, ...]]: ...
@overload
def grad(f: Callable[P, Any], *, argnums: ArgNums = 0, has_aux: Literal[True]) -> Callable[P, tuple[Any, Any]]: ...
@overload
def grad(f: Callable[P, Any], *, argnums: ArgNums = 0, has_aux: bool = False) -> Callable[P, Any]: ...
def grad(f: Callable[P, Any], *, argnums: ArgNums = 0, has_aux: bool = False) -> Callable[P, Any]:
    """The gradient of scalar-valued ``f``, shaped like ``x`` (one reverse sweep).

    ``argnums`` and ``has_aux`` work as in ``jax.grad``
    (:mod:`dualdiff.transforms.arguments`): ``dd.grad(f, argnums=1)(a, b)``
    is the gradient with respect to ``b``; with ``has_aux=True`` it returns
    ``(grad, aux)``.

    >>> import numpy as np, dualdiff as dd
    >>> dd.grad(lambda x: np.sum(x * x))(np.array([1.0, 2.0]))
    array([2., 4.])
    """
    vg = _value_and_grad(f, argnums, has_aux, "grad")

    def g(*args: Any, **kwargs: Any) -> Any:
        value, gradient = vg(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient

    g.__name__ = g.__qualname__ = f"grad_of_{getattr(f, '__name__', 'f')}"
    return g


def jacrev(
    f: Callable[P, Any],
    chunk: int | None = None,
    *,
    argnums: ArgNums = 0,
    has_aux: bool = False,
    sparsity: Any = None,
    executor: Any = None,
    progress: bool | None = None,
) -> Callable[P, Any]:
    """The Jacobian of ``f`` by reverse mode: shape ``y.shape + x.shape``.

    One recording of f, then ``ceil(m / chunk)`` backward sweeps for m
    outputs, each carrying ``chunk`` cotangents at once. ``argnums`` and
    ``has_aux`` work as in ``jax.jacrev`` (:mod:`dualdiff.transforms.arguments`).

    ``sparsity``: a pattern or ``"auto"``: the rows are colored and one
    cotangent carries each color; the result is a ``scipy.sparse`` CSR array
    of shape (m, n). ``executor``: any ``concurrent.futures.Executor``; each
    sweep becomes a task, which records f for itself. ``progress``: a bar on
    stderr (None: only for long Jacobians). See :func:`dualdiff.jacfwd`.

    >>> import numpy as np, dualdiff as dd
    >>> dd.jacrev(lambda x: x * x)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    check_f(f, "jacrev")
    check_chunk(chunk)
    check_executor(executor)
    check_progress(progress)
    if sparsity is not None or executor is not None:
        chunked = chunked_jacobian(f, "reverse", chunk, sparsity, executor, progress)
        return transformed(
            "jacrev",
            f,
            chunked,
            lambda g: jacrev(g, chunk, sparsity=sparsity, executor=executor, progress=progress),
            argnums,
            has_aux,
        )

    def jac(x: Any) -> Any:
        y, pullback = vjp(f, x)
        m = sum(int(np.size(a)) for a in leaves(y))
        k = min(chunk or default_chunk(m), max(m, 1))
        n_sweeps = math.ceil(m / k)
        rows: list[list[Any]] = [[] for _ in leaves(x)]
        for i, (_, _, seeds) in enumerate(tracked(basis_chunks(y, k), n_sweeps, "jacrev", progress)):
            last = i == n_sweeps - 1
            x_bar = pullback._sweep(seeds, 0 if k == 1 else 1, retain_graph=not last, project=False)
            for r, g in zip(rows, leaves(x_bar)):
                # g: x.shape + (k,): move the cotangent axis to the front (np.asarray would turn a
                # lifted g, as under an outer jacfwd, into an object array of its elements)
                r.append(np.expand_dims(g, 0) if k == 1 else np.moveaxis(g if is_lifted(g) else np.asarray(g), -1, 0))
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

    return transformed("jacrev", f, jac, lambda g: jacrev(g, chunk, progress=progress), argnums, has_aux)
