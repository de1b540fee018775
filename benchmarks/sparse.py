"""Sparse and distributed Jacobians benchmark (issue 15).

What is measured
    1. The 2-D Bratu residual ``F(u) = Laplace_h(u) + lam exp(u)`` on the
       interior of an N x N grid (zero boundary; a 5-point stencil), for
       N = 100 and N = 1000 (n = 10^4 and 10^6), in one run:

       * F alone (NumPy);
       * detection: ``dd.jacobian_sparsity(F, u)`` (record the program, walk it);
       * coloring: ``dd.coloring(S, "column")``, and its number of colors;
       * the Jacobian: ``dd.jacfwd(F, sparsity=S)`` with the coloring known
         (one batched pass per chunk of colors), and the whole job from
         nothing: ``dd.jacfwd(F, sparsity="auto")(u)`` on a fresh function
         (detect + color + Jacobian), the goal being under 10 s at n = 10^6;
       * SciPy's ``optimize._numdiff.approx_derivative(F, u, sparsity=S)``
         (finite differences with grouped columns; its own coloring
         included), with its largest error relative to max|J|;
       * dense ``jax.jacfwd`` (float64, jit-compiled; compile time apart) at
         n = 10^4, checked against dualdiff's Jacobian.

    2. Executors: a deliberately expensive f (about 50 ms per forward pass
       of 8 directions, n = 64, chunk 8: 8 passes; compute-bound, not memory-bound), ``dd.jacfwd(f, chunk=8)``
       serially against ``executor=client.get_executor()`` on a
       dask.distributed LocalCluster of 2 worker processes (1 thread each):
       the speed-up, and the overhead per task (the same 8 tasks of a cheap f).

How it is measured
    Medians of ``--repeats`` runs (1 for the 10^6 cases, which take
    seconds), NumPy and BLAS limited to one thread. Run with the benchmark
    virtualenv (JAX, SciPy and dask installed there)::

        $BENCH_VENV/bin/python benchmarks/sparse.py                  # Markdown tables
        $BENCH_VENV/bin/python benchmarks/sparse.py --quick          # N = 100 only, fewer repeats
        $BENCH_VENV/bin/python benchmarks/sparse.py --write-results  # also append to RESULTS.md
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS"):
    os.environ.setdefault(_v, "1" if _v != "XLA_FLAGS" else "--xla_cpu_multi_thread_eigen=false")

import argparse  # noqa: E402
import datetime  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from machine import cpu_model  # noqa: E402

import dualdiff as dd  # noqa: E402

LAM = 6.0


def bratu(u):
    """The Bratu residual on the interior of an N x N grid, zero Dirichlet boundary."""
    N = u.shape[0]
    h = 1.0 / (N + 1)
    z = np.zeros((1, N))
    up = np.concatenate([z, u, z], axis=0)
    zc = np.zeros((N + 2, 1))
    up = np.concatenate([zc, up, zc], axis=1)
    lap = (up[:-2, 1:-1] + up[2:, 1:-1] + up[1:-1, :-2] + up[1:-1, 2:] - 4 * u) / h**2
    return lap + LAM * np.exp(u)


def timed(fn, repeats):
    """(median seconds, last result)."""
    samples, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), result


def fmt(t):
    if t is None:
        return "—"
    return f"{t:.3g} s" if t >= 1 else (f"{t * 1e3:.3g} ms" if t >= 1e-3 else f"{t * 1e6:.3g} µs")


def bench_bratu(N, repeats):
    from scipy.optimize._numdiff import approx_derivative

    u = 0.1 * np.random.default_rng(N).random((N, N))
    n = N * N
    r = {"N": N, "n": n}
    r["f"], _ = timed(lambda: bratu(u), max(repeats, 5))
    r["detect"], S = timed(lambda: dd.jacobian_sparsity(bratu, u), repeats)
    r["nnz"] = S.nnz
    r["color"], col = timed(lambda: dd.coloring(S, mode="column"), repeats)
    r["colors"] = col.ncolors
    jac = dd.jacfwd(bratu, sparsity=S)
    jac(u)  # colors once
    r["jacobian"], J = timed(lambda: jac(u), repeats)
    r["complete"], J2 = timed(lambda: dd.jacfwd(bratu, sparsity="auto")(u), repeats)
    assert (J2 != J).nnz == 0
    # the exact Jacobian by hand: -4/h^2 + lam e^u on the diagonal, 1/h^2 for each neighbour
    h2 = (1.0 / (N + 1)) ** 2
    diag = J.diagonal()
    assert np.allclose(diag, -4 / h2 + LAM * np.exp(u.ravel()), rtol=1e-15, atol=0)
    flat = u.ravel()

    def F(v):
        return bratu(v.reshape(N, N)).ravel()

    r["scipy"], A = timed(lambda: approx_derivative(F, flat, sparsity=S), repeats)
    A = A.tocsr()
    scale = np.abs(J.data).max()
    r["scipy_err"] = float(np.abs((A - J).toarray() if n <= 10**4 else (A - J).data).max() / scale)
    r["jax"] = r["jax_compile"] = None
    if n <= 10**4:
        try:
            import jax
            import jax.numpy as jnp

            jax.config.update("jax_enable_x64", True)

            def bratu_jax(v):
                z = jnp.zeros((1, N))
                up = jnp.concatenate([z, v, z], axis=0)
                zc = jnp.zeros((N + 2, 1))
                up = jnp.concatenate([zc, up, zc], axis=1)
                lap = (up[:-2, 1:-1] + up[2:, 1:-1] + up[1:-1, :-2] + up[1:-1, 2:] - 4 * v) / h2
                return lap + LAM * jnp.exp(v)

            jf = jax.jit(jax.jacfwd(bratu_jax))
            t0 = time.perf_counter()
            jf(u).block_until_ready()
            r["jax_compile"] = time.perf_counter() - t0
            r["jax"], Jj = timed(lambda: jf(u).block_until_ready(), repeats)
            Jj = np.asarray(Jj).reshape(n, n)
            assert np.abs(Jj - J.toarray()).max() <= 1e-12 * scale
        except ImportError:
            pass
    return r


_W = 0.5 * np.random.default_rng(0).standard_normal((64, 64)) / 8.0


#: The recurrence's length; calibrate_expensive sets it for about 50 ms a task on the machine at hand.
_STEPS = 400


def expensive(x):
    """A long recurrence of small, cache-resident steps: compute-bound, about 50 ms a task once calibrated."""
    y = x
    for _ in range(_STEPS):
        y = np.tanh(_W @ y + x)
    return y


def waiting(x):
    """50 ms of waiting per pass (an external solver, I/O): what the machinery overlaps without CPU contention."""
    time.sleep(0.05)
    return np.tanh(_W @ x + x)


def cheap(x):
    return x * x


def plain_task(steps):
    """Plain NumPy work of a task's length: what the cluster makes of 8 CPU-bound tasks without dualdiff."""
    y = np.ones((64, 8))
    for _ in range(steps):
        y = np.tanh(_W @ y + 1.0)
    return y


def calibrate_expensive(x, target=0.05):
    """Set the recurrence's length so one task (a pass of 8 directions) takes about ``target`` seconds here."""
    global _STEPS
    for _ in range(3):  # the time per step is not quite constant (caches, the allocator): settle on it
        t, _ = timed(lambda: dd.jacfwd(expensive, chunk=8)(x), 3)
        _STEPS = max(1, round(_STEPS * target * 8 / t))


def bench_executor(repeats):
    from dask.distributed import Client, LocalCluster

    x = np.linspace(0.5, 1.5, 64)
    calibrate_expensive(x)
    r = {"steps": _STEPS}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            ex = client.get_executor(pure=False)  # no reuse of earlier results: every repeat computes
            for name, f in (("cpu", expensive), ("wait", waiting), ("cheap", cheap)):
                serial = dd.jacfwd(f, chunk=8)
                dist = dd.jacfwd(f, chunk=8, executor=ex)
                dist(x)  # warm the workers (imports, the shipping probe)
                r[name + "_serial"], J = timed(lambda: serial(x), repeats)
                r[name + "_pass"] = r[name + "_serial"] / 8
                r[name + "_cluster"], Jc = timed(lambda: dist(x), repeats)
                assert np.array_equal(Jc, J)
                r[name + "_speedup"] = r[name + "_serial"] / r[name + "_cluster"]
            # dask's own ceiling here: 8 plain NumPy tasks of the same length, submitted straight to it
            steps = 1000
            t, _ = timed(lambda: plain_task(steps), 3)
            steps = max(1, round(steps * r["cpu_pass"] / t))
            list(ex.map(plain_task, [steps] * 8))
            r["plain_serial"], _ = timed(lambda: [plain_task(steps) for _ in range(8)], repeats)
            r["plain_pass"] = r["plain_serial"] / 8
            r["plain_cluster"], _ = timed(lambda: list(ex.map(plain_task, [steps] * 8)), repeats)
            r["plain_speedup"] = r["plain_serial"] / r["plain_cluster"]
    r["overhead_per_task"] = (r["cheap_cluster"] - r["cheap_serial"]) / 8
    return r


def markdown(rows, ex):
    lines = [
        "| N | n | nonzeros | F | detect | color (colors) | Jacobian | complete (detect+color+J) "
        "| SciPy FD with pattern (error) | JAX jacfwd dense (compile) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        jax = "—" if r["jax"] is None else f"{fmt(r['jax'])} ({fmt(r['jax_compile'])})"
        lines.append(
            f"| {r['N']:,} | {r['n']:,} | {r['nnz']:,} | {fmt(r['f'])} | {fmt(r['detect'])} | "
            f"{fmt(r['color'])} ({r['colors']}) | {fmt(r['jacobian'])} | **{fmt(r['complete'])}** | "
            f"{fmt(r['scipy'])} ({r['scipy_err']:.1e}) | {jax} |"
        )
    if ex is not None:
        lines += [
            "",
            "| n = 64, chunk 8: 8 tasks | a task (serial / 8) | serial | 2-worker LocalCluster | speed-up |",
            "|---|---|---|---|---|",
        ]
        for name, text in (
            ("cpu", f"CPU-bound f ({ex['steps']}-step recurrence)"),
            ("wait", "f waiting 50 ms a pass"),
            ("cheap", "cheap f (x * x)"),
            ("plain", "no dualdiff: 8 plain NumPy tasks as long as the CPU-bound ones, straight to the executor"),
        ):
            lines.append(
                f"| {text} | {fmt(ex[name + '_pass'])} | {fmt(ex[name + '_serial'])} | {fmt(ex[name + '_cluster'])} "
                f"| **{ex[name + '_speedup']:.2f}x** |"
            )
        lines += ["", f"Overhead per task (cheap f, cluster minus serial, per task): {fmt(ex['overhead_per_task'])}."]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="N = 100 only, fewer repeats")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-executor", action="store_true", help="skip the dask benchmark")
    p.add_argument("--no-bratu", action="store_true", help="only the dask benchmark")
    p.add_argument("--write-results", action="store_true", help="append the tables to RESULTS.md")
    a = p.parse_args()
    rows = [] if a.no_bratu else [bench_bratu(100, 1 if a.quick else a.repeats)]
    if not a.quick and not a.no_bratu:
        rows.append(bench_bratu(1000, 1))
    ex = None if a.no_executor else bench_executor(1 if a.quick else a.repeats)
    table = markdown(rows, ex)
    print(table)
    if a.write_results:
        stamp = datetime.date.today().isoformat()
        head = (
            f"\n## Sparse and distributed Jacobians (`sparse.py`, issue 15)\n\n"
            f"{stamp}, {cpu_model()}, one thread for NumPy/BLAS/XLA; medians of {a.repeats} runs "
            "(1 for N = 1000).\n\n"
        )
        with open(HERE / "RESULTS.md", "a") as fh:
            fh.write(head + table + "\n")


if __name__ == "__main__":
    main()
