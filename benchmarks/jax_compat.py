"""JAX compatibility check: ``argnums`` and ``has_aux`` give what JAX gives, on ten functions.

For each of ten functions of several arguments, every transform that takes
``argnums``/``has_aux`` in both libraries (``grad``, ``value_and_grad``,
``jacfwd``, ``jacrev``, ``jacobian``, ``hessian``), with ``argnums`` an int,
a negative int and a tuple, with and without ``has_aux``, and nested
(``jacfwd`` of ``grad``, ``grad`` of ``grad`` with different argnums), is
run in dualdiff and in JAX (float64), and the results are compared leaf by
leaf: same tree structure, same shapes, values within 1e-12 relative.

Needs JAX (the benchmark venv, see README.md here); run from the repository root::

    $BENCH_VENV/bin/python benchmarks/jax_compat.py          # a table; exit status 1 on any mismatch

``tests/test_jax_compat.py`` runs the same check when JAX is installed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout's dualdiff first

import dualdiff as dd  # noqa: E402


def functions(m: Any) -> list[tuple[str, Callable[..., Any], tuple[Any, ...]]]:
    """Ten functions of several arguments, written against a NumPy-like namespace ``m`` (numpy or jax.numpy).

    Each entry: name, function, arguments (NumPy arrays and floats).
    """
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3))
    v3 = rng.uniform(0.5, 1.5, 3)
    w3 = rng.uniform(0.5, 1.5, 3)
    return [
        ("a*b^2 (scalars)", lambda a, b: a * b**2, (1.5, 0.7)),
        ("sum(sin(x) * y)", lambda x, y: m.sum(m.sin(x) * y), (v3, w3)),
        ("x.A.x + c*|x|^2", lambda x, A, c: x @ A @ x + c * m.sum(x**2), (v3, A, 0.3)),
        ("exp(a) * log(b) + a/b", lambda a, b: m.exp(a) * m.log(b) + a / b, (0.4, 2.5)),
        ("tanh MLP loss", lambda W, x, t: m.sum((m.tanh(W @ x) - t) ** 2), (A, v3, w3)),
        ("softplus mix", lambda x, y, z: m.sum(m.log1p(m.exp(x * y)) * z), (v3, w3, v3[::-1].copy())),
        ("rosenbrock(x) * s", lambda s, x: s * m.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2), (0.5, v3)),
        ("sqrt(x^2 + y^2) * z", lambda x, y, z: m.sum(m.sqrt(x**2 + y**2) * z), (v3, w3, 2.0)),
        ("prod and mean", lambda x, y: m.prod(x) + m.mean(y * x), (v3, w3)),
        ("cos(a*b) * sinh(c)", lambda a, b, c: m.cos(a * b) * m.sinh(c), (0.3, 1.7, 0.9)),
    ]


def vector_functions(m: Any) -> list[tuple[str, Callable[..., Any], tuple[Any, ...]]]:
    """Functions with array outputs, for the Jacobians."""
    rng = np.random.default_rng(1)
    A = rng.standard_normal((2, 3))
    v3 = rng.uniform(0.5, 1.5, 3)
    return [
        ("sin(A x) * c", lambda A, x, c: m.sin(A @ x) * c, (A, v3, 1.3)),
        ("x * y^2 (vectors)", lambda x, y: x * y**2, (v3, v3[::-1].copy())),
    ]


def cases(module: Any, m: Any) -> list[tuple[str, Callable[[], Any]]]:
    """(label, thunk) for every transform, argnums and has_aux combination, built with ``module`` (dd or jax)."""
    out: list[tuple[str, Callable[[], Any]]] = []
    for name, f, args in functions(m):
        n = len(args)
        aux_f = lambda *a, f=f: (f(*a), {"value": f(*a), "half": 0.5 * f(*a)})  # noqa: E731
        for argnums in (0, n - 1, -1, tuple(range(n)), (n - 1, 0)):
            out.append(
                (f"{name}: grad argnums={argnums}", lambda f=f, a=args, k=argnums: module.grad(f, argnums=k)(*a))
            )
            out.append(
                (
                    f"{name}: value_and_grad has_aux argnums={argnums}",
                    lambda f=aux_f, a=args, k=argnums: module.value_and_grad(f, argnums=k, has_aux=True)(*a),
                )
            )
            out.append(
                (
                    f"{name}: hessian argnums={argnums}",
                    lambda f=f, a=args, k=argnums: module.hessian(f, argnums=k)(*a),
                )
            )
        out.append((f"{name}: grad has_aux", lambda f=aux_f, a=args: module.grad(f, argnums=n - 1, has_aux=True)(*a)))
        out.append(
            (
                f"{name}: hessian has_aux",
                lambda f=aux_f, a=args: module.hessian(f, argnums=(0, n - 1), has_aux=True)(*a),
            )
        )
        out.append(
            (
                f"{name}: nested grad(grad, argnums 0 then {n - 1})",
                lambda f=f, a=args: module.grad(lambda *b: m.sum(module.grad(f, argnums=0)(*b)), argnums=n - 1)(*a),
            )
        )
        out.append(
            (
                f"{name}: jacfwd(grad) argnums=(0,)",
                lambda f=f, a=args: module.jacfwd(module.grad(f, argnums=(0,)), argnums=(0,))(*a),
            )
        )
    for name, f, args in vector_functions(m):
        n = len(args)
        aux_f = lambda *a, f=f: (f(*a), [f(*a)])  # noqa: E731
        for transform in ("jacfwd", "jacrev", "jacobian"):
            for argnums in (0, 1, -1, (0, n - 1)):
                out.append(
                    (
                        f"{name}: {transform} argnums={argnums}",
                        lambda f=f, a=args, k=argnums, t=transform: getattr(module, t)(f, argnums=k)(*a),
                    )
                )
            out.append(
                (
                    f"{name}: {transform} has_aux",
                    lambda f=aux_f, a=args, t=transform: getattr(module, t)(f, argnums=(1,), has_aux=True)(*a),
                )
            )
    return out


def compare(ours: Any, theirs: Any, where: str = "") -> list[str]:
    """The differences between a dualdiff result and a JAX result (empty when they agree)."""
    if isinstance(theirs, dict):
        if not isinstance(ours, dict) or set(ours) != set(theirs):
            return [f"{where}: dict keys differ"]
        return [d for k in theirs for d in compare(ours[k], theirs[k], f"{where}[{k!r}]")]
    if isinstance(theirs, (tuple, list)):
        if not isinstance(ours, type(theirs)) or len(ours) != len(theirs):
            return [
                f"{where}: {type(ours).__name__} of {len(ours) if hasattr(ours, '__len__') else '-'} "
                f"vs {type(theirs).__name__} of {len(theirs)}"
            ]
        return [d for i, (a, b) in enumerate(zip(ours, theirs)) for d in compare(a, b, f"{where}[{i}]")]
    if isinstance(theirs, str):
        return [] if ours == theirs else [f"{where}: {ours!r} != {theirs!r}"]
    a, b = np.asarray(ours), np.asarray(theirs)
    if a.shape != b.shape:
        return [f"{where}: shape {a.shape} vs {b.shape}"]
    if not np.allclose(a, b, rtol=1e-12, atol=1e-12):
        return [f"{where}: max difference {np.max(np.abs(a - b)):.3g}"]
    return []


def check() -> tuple[int, list[str]]:
    """Run every case in both libraries: (number of cases, list of failures)."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    ours = cases(dd, np)
    theirs = cases(jax, jnp)
    failures = []
    for (label, a), (_, b) in zip(ours, theirs):
        expected = jax.tree_util.tree_map(lambda t: np.asarray(t) if hasattr(t, "shape") else t, b())
        try:
            got = a()
        except Exception as e:  # a failure to report, not to stop at
            failures.append(f"{label}: dualdiff raised {type(e).__name__}: {e}")
            continue
        failures.extend(f"{label}{d}" for d in compare(got, expected))
    return len(ours), failures


def main() -> int:
    n, failures = check()
    print(f"| cases | agree with JAX | differ |\n| --- | --- | --- |\n| {n} | {n - len(failures)} | {len(failures)} |")
    for f in failures:
        print("-", f)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
