"""Forward mode transforms: jvp, derivative, jacfwd.

Every transform calls ``f(x)`` with ``x`` as its one argument, as
``jax.grad`` does with a pytree: a tuple ``x`` arrives as that tuple. Each
call takes a fresh level, so transforms nest to any depth without
perturbation confusion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..modes.core import LiftedBase, new_level, strip_all
from ..modes.dual import Dual
from ..modes.tree import check_input, check_like, leaves, output_leaves, primal_at, rebuild
from ..rules.backends import backend_of
from .arguments import ArgNums, jax_style_hint, transformed
from .common import Function, P, basis_chunks, check_chunk, check_f, chunked_jacobian, default_chunk, zeros
from .executors import check_executor
from .progress import check_progress, tracked


def _push_forward(f: Function, x: Any, tangents: list[Any], batch: tuple[int, ...]) -> tuple[Any, list[Any], Any]:
    """Run f on Duals of a fresh level; return (output tree, output tangents, output leaves)."""
    level = new_level(batched=bool(batch))
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
        if any(isinstance(p, LiftedBase) for p in parts):
            # lifted tangents (an outer level's values): one lifted array, with the direction
            # axis; an object array of them could not carry that axis
            return np.reshape(np.stack(parts), value.shape + batch)
        return np.array(parts).reshape(value.shape + batch)
    return zeros(value, batch)


def jvp(f: Function, x: Any, v: Any) -> tuple[Any, Any]:
    """Value and Jacobian-vector product of ``f`` at ``x`` in direction ``v``.

    ``x`` and ``v`` are numbers, arrays or tuples of these, ``v`` shaped like
    ``x``. One forward pass; returns ``(f(x), J(x) @ v)``. Unlike
    ``jax.jvp(f, primals, tangents)``, which calls ``f(*primals)``, ``f`` is
    called with ``x`` as its one argument; a JAX-style call that fails says
    what to write instead.

    >>> import numpy as np, dualdiff as dd
    >>> dd.jvp(lambda x: x[0] * x[1], np.array([2.0, 3.0]), np.array([1.0, 0.0]))
    (np.float64(6.0), np.float64(3.0))
    """
    check_f(f, "jvp")
    x = check_input("x", x)
    v = check_input("v", v)
    check_like("v", v, "x", x)
    try:
        y, ts, out = _push_forward(f, x, leaves(v), ())
    except TypeError as e:
        hint = jax_style_hint("jvp", f, x, v) if type(e) is TypeError else None
        if hint is None:
            raise
        raise TypeError(f"{e}\n{hint}") from e
    return y, rebuild(out, ts)


def derivative(f: Function) -> Function:
    """``f'``: the derivative of ``f`` at a scalar ``x`` (output of any shape).

    >>> import dualdiff as dd
    >>> dd.derivative(lambda x: x ** 3)(2.0)
    12.0
    >>> dd.derivative(dd.derivative(dd.sin))(0.0)
    -0.0
    """
    check_f(f, "derivative")

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
    inner = strip_all(x)  # under outer levels, the innermost number decides (an mpf stays an mpf)
    backend = backend_of(inner)
    if backend is None:
        return 1.0
    return np.ones_like(inner) if isinstance(inner, np.ndarray) else backend.const(inner, 1)


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


def jacfwd(
    f: Callable[P, Any],
    chunk: int | None = None,
    *,
    argnums: ArgNums = 0,
    has_aux: bool = False,
    sparsity: Any = None,
    executor: Any = None,
    progress: bool | None = None,
) -> Callable[P, Any]:
    """The Jacobian of ``f`` by forward mode: shape ``y.shape + x.shape``.

    Costs ``ceil(n / chunk)`` evaluations of f, each pushing ``chunk``
    directions at once (default: all n, up to 1024 a pass, fewer when n is
    so large that the tangents would pass 64 MiB; see :func:`default_chunk`).
    ``argnums`` and ``has_aux`` work as in ``jax.jacfwd``
    (:mod:`dualdiff.transforms.arguments`).

    ``sparsity``: a pattern (scipy.sparse, or a 2-D array of the flattened
    output x flattened input) or ``"auto"`` (detected from f's program,
    :func:`dualdiff.jacobian_sparsity`): the columns are colored and one
    direction carries each color; the result is a ``scipy.sparse`` CSR
    array of shape (m, n). ``executor``: any ``concurrent.futures.Executor``
    (threads, processes, dask.distributed's ``client.get_executor()``); each
    pass becomes a task (see :mod:`dualdiff.transforms.executors`).
    ``progress``: a bar on stderr (None: only for long Jacobians).

    >>> import numpy as np, dualdiff as dd
    >>> dd.jacfwd(lambda x: x * x)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    check_f(f, "jacfwd")
    check_chunk(chunk)
    check_executor(executor)
    check_progress(progress)
    if sparsity is not None or executor is not None:
        chunked = chunked_jacobian(f, "forward", chunk, sparsity, executor, progress)
        return transformed(
            "jacfwd",
            f,
            chunked,
            lambda g: jacfwd(g, chunk, sparsity=sparsity, executor=executor, progress=progress),
            argnums,
            has_aux,
        )

    one: Function = f  # jac calls f(x); transformed() rebinds an f of several arguments to one first

    def jac(x: Any) -> Any:
        x = check_input("x", x)
        n = sum(int(np.size(a)) for a in leaves(x))
        k = min(chunk or default_chunk(n), max(n, 1))
        cols: list[list[Any]] | None = None
        out = None
        for s, e, seeds in tracked(basis_chunks(x, k), -(-n // k), "jacfwd", progress):
            _, ts, out = _push_forward(f, x, seeds, () if k == 1 else (e - s,))
            if cols is None:
                cols = [[] for _ in ts]
            for c, t in zip(cols, ts):
                c.append(np.expand_dims(t, -1) if k == 1 else t)
        if cols is None:  # x has no elements
            out = one(x)
            cols = [[np.zeros(np.shape(o) + (0,))] for o in output_leaves(out)]
        columns = [np.concatenate(c, axis=-1) if len(c) > 1 else c[0] for c in cols]
        return rebuild(out, _jacobian_tree(out, x, columns))

    return transformed("jacfwd", f, jac, lambda g: jacfwd(g, chunk, progress=progress), argnums, has_aux)
