"""Compiled derivatives (issue 12): dd.compile beside jax.jit, in one run, ratios to the plain function.

What is measured (medians; every ratio divides by the plain function timed
round-robin with it in the same subprocess)
    * the 1000-operation scalar chain of ``scalar_chain.py`` at x0 = 0.3: plain
      Python floats; ``cf.jvp(x0, 1.0)`` (f') and ``cf.grad(x0)`` of
      ``cf = dd.compile(chain)``; the time to trace, generate and compile
      (a fresh ``dd.compile`` and its first call, median of several);
    * Rosenbrock at n = 100 and n = 1,000,000 (``arrays.py``'s data): the NumPy
      function, the compiled JVP and gradient;
    * the tanh MLP loss of ``arrays.py`` (batch 256, 64-256-10) in its two
      weight matrices: the NumPy function, compiled JVP and gradient;
    * dense Jacobians of ``tanh(W sin x)`` for (n, m) = (10, 1000), (1000, 10),
      (200, 200), (1000, 1000): ``cf.jacobian(x, mode="auto")`` against
      ``jax.jit`` of ``jax.jacfwd`` and of ``jax.jacrev`` (the faster of the two);
    * memory (tracemalloc, no timing): the peak of the compiled Rosenbrock
      gradient at n = 1,000,000 against the eager tape's, and of the compiled
      JVP in arrays of n beyond its inputs.

    Beside each: dualdiff's eager transforms, ``jax.jit`` of the same call (x64)
    and its compile time (the first call: trace and XLA compile), and dualdiff's
    own compile time. dualdiff is imported from the checkout this script is in.

How
    One subprocess per library (``--only dualdiff`` / ``--only jax``), one
    thread (OMP/MKL/OpenBLAS/XLA variables set before any import), cases timed
    round-robin with their plain function for at least ``--min-seconds``; a
    sample is enough back-to-back calls to last ``--sample`` seconds.

Usage (from the repository root; JAX from the benchmark venv)::

    $BENCH_VENV/bin/python benchmarks/compiled.py                  # Markdown table on stdout
    $BENCH_VENV/bin/python benchmarks/compiled.py --quick          # a smoke run
    $BENCH_VENV/bin/python benchmarks/compiled.py --write-results  # also RESULTS.md and compiled_jax.json
    $BENCH_VENV/bin/python benchmarks/compiled.py --skip-slow-jax  # no jax.jit of the chain's jvp (tens of s)

``--write-results`` replaces the "Compiled derivatives" section of RESULTS.md
and writes ``compiled_jax.json`` (jax.jit's times, which the notebook
``07_compiled_derivatives`` plots beside dualdiff's: its kernel has no JAX).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
from machine import SINGLE_THREAD_ENV, cpu_model  # noqa: E402  (benchmarks/machine.py, beside this script)

os.environ.update(SINGLE_THREAD_ENV)
sys.path.insert(0, str(HERE.parent))  # the dualdiff of this checkout

import numpy as np  # noqa: E402
from arrays import JAC_SHAPES, jac_f, make_data, mlp_loss, rosenbrock  # noqa: E402
from scalar_chain import X0, chain  # noqa: E402

JACOBIANS = [*JAC_SHAPES, (1000, 1000)]
ROSEN_SIZES = (100, 1_000_000)
JSON_OUT = HERE / "compiled_jax.json"
SECTION = "## Compiled derivatives (issue 12)"

#: The targets of issue 12: (workload, ratio to f at most).
TARGETS = {
    "chain jvp": 3.0,
    "chain grad": 4.0,
    "rosen100 jvp": 5.0,
    "rosen100 grad": 5.0,
    "rosen1e6 jvp": 2.5,
    "rosen1e6 grad": 3.0,
    "mlp jvp": 2.0,
    "mlp grad": 2.5,
}
COMPILE_TARGET = 0.100  # seconds: trace + code generation + Python compile of the chain

Case = tuple[str, Callable[[], Any]]  # (its plain function's case, the call)


def _math_namespace(lib: Any) -> Any:
    return SimpleNamespace(sin=lib.sin, exp=lib.exp, log=lib.log, sqrt=lib.sqrt, tanh=lib.tanh)


def _jac_data(d: dict[str, Any]) -> None:
    rng = np.random.default_rng(1)
    for n, m in JACOBIANS:
        if f"W_{n}x{m}" not in d:
            d[f"W_{n}x{m}"] = rng.normal(size=(m, n)) / np.sqrt(n)
            d[f"x_{n}x{m}"] = rng.normal(size=n)


def plain_cases(d: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    m = _math_namespace(math)
    cases: dict[str, Callable[[], Any]] = {"chain f": lambda: chain(X0, m)}
    for n in ROSEN_SIZES:
        x = d["x_rosen"][:n]
        cases[f"rosen{_size(n)} f"] = lambda x=x: rosenbrock(x)
    cases["mlp f"] = lambda: mlp_loss((d["W1"], d["W2"]), d["X"], d["b"], d["Y"], np.tanh)
    for n, m_ in JACOBIANS:
        W, x = d[f"W_{n}x{m_}"], d[f"x_{n}x{m_}"]
        cases[f"jac {n}x{m_} f"] = lambda W=W, x=x: jac_f(x, W, np.sin, np.tanh)
    return cases


def _size(n: int) -> str:
    return "1e6" if n == 1_000_000 else str(n)


def dualdiff_cases(d: dict[str, Any]) -> tuple[dict[str, Case], dict[str, Any]]:
    import dualdiff as dd

    extra: dict[str, Any] = {"version": f"{dd.__version__} (checkout)"}
    dm = _math_namespace(dd)
    f_chain = lambda x: chain(x, dm)  # noqa: E731
    extra["compile chain jvp"] = _compile_time(lambda: dd.compile(f_chain).jvp(X0, 1.0))
    extra["compile chain grad"] = _compile_time(lambda: dd.compile(f_chain).grad(X0))
    cf = dd.compile(f_chain)
    cases: dict[str, Case] = {
        "chain jvp": ("chain f", lambda: cf.jvp(X0, 1.0)[1]),
        "chain grad": ("chain f", lambda: cf.grad(X0)),
        "chain jvp eager": ("chain f", lambda: dd.jvp(f_chain, X0, 1.0)[1]),
        "chain grad eager": ("chain f", lambda: dd.grad(f_chain)(X0)),
    }
    extra["results"] = {"chain jvp": cf.jvp(X0, 1.0)[1], "chain grad": cf.grad(X0)}
    for n in ROSEN_SIZES:
        x, v = d["x_rosen"][:n].copy(), d["v_rosen"][:n].copy()
        crosen = dd.compile(rosenbrock)
        s = _size(n)
        extra[f"compile rosen{s}"] = _compile_time(
            lambda x=x, v=v: (lambda c: (c.jvp(x, v), c.grad(x)))(dd.compile(rosenbrock))
        )
        cases[f"rosen{s} jvp"] = (f"rosen{s} f", lambda c=crosen, x=x, v=v: c.jvp(x, v)[1])
        cases[f"rosen{s} grad"] = (f"rosen{s} f", lambda c=crosen, x=x: c.grad(x))
        cases[f"rosen{s} jvp eager"] = (f"rosen{s} f", lambda x=x, v=v: dd.jvp(rosenbrock, x, v)[1])
        cases[f"rosen{s} grad eager"] = (f"rosen{s} f", lambda x=x: dd.grad(rosenbrock)(x))
        extra["results"][f"rosen{s} jvp"] = crosen.jvp(x, v)[1]
        extra["results"][f"rosen{s} grad"] = _digest(crosen.grad(x))
    loss = lambda w: mlp_loss(w, d["X"], d["b"], d["Y"], np.tanh)  # noqa: E731
    w, vw = (d["W1"], d["W2"]), (d["V1"], d["V2"])
    cmlp = dd.compile(loss)
    extra["compile mlp"] = _compile_time(lambda: (lambda c: (c.jvp(w, vw), c.grad(w)))(dd.compile(loss)))
    cases["mlp jvp"] = ("mlp f", lambda: cmlp.jvp(w, vw)[1])
    cases["mlp grad"] = ("mlp f", lambda: cmlp.grad(w))
    cases["mlp jvp eager"] = ("mlp f", lambda: dd.jvp(loss, w, vw)[1])
    cases["mlp grad eager"] = ("mlp f", lambda: dd.grad(loss)(w))
    extra["results"]["mlp jvp"] = cmlp.jvp(w, vw)[1]
    extra["results"]["mlp grad"] = _digest(np.concatenate([g.ravel() for g in cmlp.grad(w)]))
    for n, m in JACOBIANS:
        W, x = d[f"W_{n}x{m}"], d[f"x_{n}x{m}"]
        fj = lambda x, W=W: jac_f(x, W, np.sin, np.tanh)  # noqa: E731
        cj = dd.compile(fj)
        extra[f"compile jac {n}x{m}"] = _compile_time(lambda fj=fj, x=x: dd.compile(fj).jacobian(x))
        cases[f"jac {n}x{m}"] = (f"jac {n}x{m} f", lambda c=cj, x=x: c.jacobian(x))
        cases[f"jac {n}x{m} eager"] = (f"jac {n}x{m} f", lambda fj=fj, x=x: dd.jacobian(fj, mode="auto")(x))
        extra["results"][f"jac {n}x{m}"] = _digest(cj.jacobian(x))
    extra["memory"] = _memory(dd, d)
    return cases, extra


def jax_cases(d: dict[str, Any], skip_slow: bool) -> tuple[dict[str, Case], dict[str, Any]]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    extra: dict[str, Any] = {"version": jax.__version__, "results": {}}
    cases: dict[str, Case] = {}
    jm = _math_namespace(jnp)
    f_chain = lambda x: chain(x, jm)  # noqa: E731
    x0 = jnp.asarray(X0)
    jobs: dict[str, tuple[str, Callable[..., Any], tuple[Any, ...]]] = {
        "chain grad": ("chain f", jax.grad(f_chain), (x0,)),
    }
    if not skip_slow:
        jobs["chain jvp"] = ("chain f", lambda x: jax.jvp(f_chain, (x,), (jnp.ones_like(x),))[1], (x0,))
    for n in ROSEN_SIZES:
        s = _size(n)
        x, v = jnp.asarray(d["x_rosen"][:n]), jnp.asarray(d["v_rosen"][:n])
        jobs[f"rosen{s} jvp"] = (f"rosen{s} f", lambda x, v: jax.jvp(rosenbrock, (x,), (v,))[1], (x, v))
        jobs[f"rosen{s} grad"] = (f"rosen{s} f", jax.grad(rosenbrock), (x,))
    j = {k: jnp.asarray(v) for k, v in d.items()}
    loss = lambda w: mlp_loss(w, j["X"], j["b"], j["Y"], jnp.tanh)  # noqa: E731
    jobs["mlp jvp"] = ("mlp f", lambda w, v: jax.jvp(loss, (w,), (v,))[1], ((j["W1"], j["W2"]), (j["V1"], j["V2"])))
    jobs["mlp grad"] = ("mlp f", jax.grad(loss), ((j["W1"], j["W2"]),))
    for n, m in JACOBIANS:
        W = j[f"W_{n}x{m}"]
        fj = lambda x, W=W: jac_f(x, W, jnp.sin, jnp.tanh)  # noqa: E731
        jobs[f"jac {n}x{m} jacfwd"] = (f"jac {n}x{m} f", jax.jacfwd(fj), (j[f"x_{n}x{m}"],))
        jobs[f"jac {n}x{m} jacrev"] = (f"jac {n}x{m} f", jax.jacrev(fj), (j[f"x_{n}x{m}"],))
    for name, (base, fn, args) in jobs.items():
        jitted = jax.jit(fn)
        start = time.perf_counter()
        r = jax.block_until_ready(jitted(*args))
        extra[f"compile {name}"] = time.perf_counter() - start
        extra["results"][name] = _digest(
            np.concatenate([np.ravel(np.asarray(a)) for a in jax.tree_util.tree_leaves(r)])
        )
        cases[name] = (base, lambda jitted=jitted, args=args: jax.block_until_ready(jitted(*args)))
    return cases, extra


def _digest(a: Any) -> list[float]:
    a = np.ravel(np.asarray(a, dtype=float))
    return [float(v) for v in a[:: max(1, len(a) // 32)]] + [float(np.sum(a))]


def _compile_time(first_call: Callable[[], Any], repeat: int = 5) -> float:
    """Median time of a fresh compile and its first call (trace, code generation, Python compile, one run)."""
    samples = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        first_call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _peak(fn: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _memory(dd: Any, d: dict[str, Any]) -> dict[str, int]:
    x, v = d["x_rosen"].copy(), d["v_rosen"].copy()
    cf = dd.compile(rosenbrock)
    cf.grad(x)
    cf.jvp(x, v)
    return {
        "n": int(x.size),
        "compiled grad": _peak(lambda: cf.grad(x)),
        "eager grad": _peak(lambda: dd.grad(rosenbrock)(x)),
        "compiled jvp": _peak(lambda: cf.jvp(x, v)),
        "eager jvp": _peak(lambda: dd.jvp(rosenbrock, x, v)),
        "f": _peak(lambda: rosenbrock(x)),
    }


def _calibrate(fn: Callable[[], Any], target: float) -> int:
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, int(target / once))


def run_library(name: str, args: argparse.Namespace) -> dict[str, Any]:
    d = make_data()
    _jac_data(d)
    base = plain_cases(d)
    cases, extra = dualdiff_cases(d) if name == "dualdiff" else jax_cases(d, args.skip_slow_jax)
    todo: dict[str, Callable[[], Any]] = {**{k: fn for k, fn in base.items()}, **{k: c[1] for k, c in cases.items()}}
    for fn in todo.values():  # warm-up, out of the samples
        fn()
        fn()
    number = {k: _calibrate(fn, args.sample) for k, fn in todo.items()}
    samples: dict[str, list[float]] = {k: [] for k in todo}
    start = time.perf_counter()
    rounds = 0
    while rounds < args.repeats or time.perf_counter() - start < args.min_seconds:
        for k, fn in todo.items():
            t = time.perf_counter()
            for _ in range(number[k]):
                fn()
            samples[k].append((time.perf_counter() - t) / number[k])
        rounds += 1
        if time.perf_counter() - start > 10 * args.min_seconds and rounds >= 3:
            break
    median = {k: statistics.median(v) for k, v in samples.items()}
    ratio = {k: median[k] / median[c[0]] for k, c in cases.items()}
    return {"library": name, "median": median, "ratio": ratio, "rounds": rounds, **extra}


# --------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------


def fmt(t: float | None) -> str:
    if t is None:
        return "—"
    if t >= 1.0:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.2f} ms"
    return f"{t * 1e6:.1f} µs"


def _mib(b: int) -> str:
    return f"{b / 2**20:.1f} MiB"


def report(runs: dict[str, dict[str, Any]]) -> tuple[str, list[str]]:
    dd = runs["dualdiff"]
    jx = runs.get("jax", {})
    rows = []
    verdicts = []
    head = (
        "| workload | plain f | dualdiff compiled | ratio to f | target | met | dualdiff eager (ratio) "
        "| jax.jit (ratio) | jax.jit compile | dualdiff compile |"
    )
    rows += [head, "|" + "---|" * 10]
    names = {
        "chain": "1000-op scalar chain",
        "rosen100": "Rosenbrock n = 100",
        "rosen1e6": "Rosenbrock n = 10⁶",
        "mlp": "tanh MLP (256, 64→256→10)",
    }
    for key, limit in TARGETS.items():
        work, what = key.split()
        base = f"{work} f"
        t = dd["median"][key]
        ratio = dd["ratio"][key]
        ok = ratio <= limit
        verdicts.append(f"{key}: {'met' if ok else 'NOT met'} ({ratio:.2f}x, target ≤ {limit:g}x)")
        eager = dd["median"].get(key + " eager")
        jt = jx.get("median", {}).get(key)
        jc = jx.get(f"compile {key}")
        comp = dd.get(f"compile {key}") if work == "chain" else dd.get(f"compile {work}")
        jratio = f" ({jx['ratio'][key]:.2f})" if jt is not None else ""
        what_text = "JVP" if what == "jvp" else "gradient"
        rows.append(
            f"| {names[work]}: {what_text} | {fmt(dd['median'][base])} | {fmt(t)} "
            f"| {ratio:.2f} | ≤ {limit:g} | {'yes' if ok else '**no**'} "
            f"| {fmt(eager)} ({eager / dd['median'][base]:.1f}) "
            f"| {fmt(jt)}{jratio} | {fmt(jc)} | {fmt(comp)} |"
        )
    comp = dd["compile chain jvp"]
    ok = comp <= COMPILE_TARGET
    grad_comp = fmt(dd["compile chain grad"])
    verdicts.append(
        f"chain trace + codegen + compile: {'met' if ok else 'NOT met'} "
        f"({fmt(comp)} jvp, {grad_comp} grad; target ≤ 100 ms)"
    )
    rows.append("")
    rows.append(
        "| Jacobian of tanh(W sin x) | plain f | dualdiff compiled (auto) | jax.jit jacfwd | jax.jit jacrev "
        "| winner | met | dualdiff eager | jax.jit compile (fwd / rev) | dualdiff compile |"
    )
    rows.append("|" + "---|" * 10)
    for n, m in JACOBIANS:
        key = f"jac {n}x{m}"
        t = dd["median"][key]
        jf = jx.get("median", {}).get(key + " jacfwd")
        jr = jx.get("median", {}).get(key + " jacrev")
        best = min(v for v in (jf, jr) if v is not None) if (jf or jr) else None
        ok = best is None or t <= best
        # load-normalised: each time over the NumPy f timed in its own subprocess
        norm_dd = t / dd["median"][key + " f"]
        norm_jax = best / jx["median"][key + " f"] if best is not None else None
        ok_norm = norm_jax is None or norm_dd <= norm_jax
        verdicts.append(
            f"{key}: {'met' if ok else 'NOT met'} ({fmt(t)} vs jax.jit {fmt(best)}); load-normalised: "
            f"{'met' if ok_norm else 'NOT met'} ({norm_dd:.1f}x f vs {norm_jax or float('nan'):.1f}x f)"
        )
        rows.append(
            f"| (n, m) = ({n}, {m}) | {fmt(dd['median'][key + ' f'])} | {fmt(t)} | {fmt(jf)} | {fmt(jr)} "
            f"| {'dualdiff' if best is not None and t <= best else 'jax.jit'} | {'yes' if ok else '**no**'} "
            f"| {fmt(dd['median'][key + ' eager'])} "
            f"| {fmt(jx.get(f'compile {key} jacfwd'))} / {fmt(jx.get(f'compile {key} jacrev'))} "
            f"| {fmt(dd.get(f'compile {key}'))} |"
        )
    mem = dd["memory"]
    n_bytes = mem["n"] * 8
    ok_g = mem["compiled grad"] <= mem["eager grad"]
    ok_j = mem["compiled jvp"] <= 3 * n_bytes
    verdicts.append(f"memory, compiled gradient ≤ eager tape: {'met' if ok_g else 'NOT met'}")
    verdicts.append(f"memory, compiled JVP ≤ 3 arrays of n: {'met' if ok_j else 'NOT met'}")
    rows.append("")
    rows.append(
        "| peak memory, Rosenbrock n = 10⁶ (tracemalloc, beyond the inputs) | compiled | eager "
        "| arrays of n (compiled) | met |"
    )
    rows.append("|---|---|---|---|---|")
    rows.append(
        f"| gradient | {_mib(mem['compiled grad'])} | {_mib(mem['eager grad'])} | {mem['compiled grad'] / n_bytes:.2f} "
        f"| {'yes' if ok_g else '**no**'} (≤ eager) |"
    )
    rows.append(
        f"| JVP | {_mib(mem['compiled jvp'])} | {_mib(mem['eager jvp'])} | {mem['compiled jvp'] / n_bytes:.2f} "
        f"| {'yes' if ok_j else '**no**'} (≤ 3) |"
    )
    rows.append(f"| f itself | {_mib(mem['f'])} | | {mem['f'] / n_bytes:.2f} | |")
    return "\n".join(rows), verdicts


def check_agreement(runs: dict[str, dict[str, Any]]) -> float:
    """The largest relative difference of jax.jit's results from dualdiff's."""
    mine = runs["dualdiff"]["results"]
    worst = 0.0
    for key, theirs in runs.get("jax", {}).get("results", {}).items():
        ref_key = key.replace(" jacfwd", "").replace(" jacrev", "")
        a, b = np.ravel(np.asarray(theirs, dtype=float)), np.ravel(np.asarray(mine[ref_key], dtype=float))
        rel = float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))
        worst = max(worst, rel)
    return worst


def machine() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),)
    return (
        f"{cpu_model()}, {os.cpu_count()} logical CPUs (load average {load[0]:.1f} at the end of the run); "
        f"{platform.system()} {platform.release()}; CPython {platform.python_version()}; numpy {np.__version__}"
    )


def section(runs: dict[str, dict[str, Any]], table: str, verdicts: list[str], worst: float) -> str:
    jx = runs.get("jax", {})
    return f"""{SECTION}

`dd.compile(f)` writes f's tangent and adjoint programs out as Python source
(one line per `v_i`, large elementwise runs in cache-sized tiles) and runs
that: no dual numbers, no tape, no dispatch per operation. Measured in one run
beside `jax.jit` of the same calls, medians, each ratio to the plain function
timed round-robin with it in the same subprocess (one thread per library).
Produced by [`compiled.py`](compiled.py):

```sh
$BENCH_VENV/bin/python benchmarks/compiled.py --write-results
```

- Machine: {machine()}; {datetime.date.today().isoformat()}.
- Versions: dualdiff {runs["dualdiff"]["version"]}; jax {jx.get("version", "not installed")} (x64).
- jax.jit's results agree with dualdiff's to {worst:.1e} (relative).
- "dualdiff compile": a fresh `dd.compile` and its first call (trace, code generation, Python
  compile, one run), median of 5; "jax.jit compile": the first call of the jitted function.
- The Jacobians compare times across the two subprocesses; "load-normalised" divides each by
  the NumPy f timed in its own subprocess, which cancels load that hit one run but not the other.

Targets:

{chr(10).join(f"- {v}" for v in verdicts)}

{table}
"""


def write_results(text: str, runs: dict[str, dict[str, Any]]) -> None:
    path = HERE / "RESULTS.md"
    old = path.read_text() if path.exists() else "# dualdiff benchmark results\n"
    if SECTION in old:
        start = old.index(SECTION)
        nxt = old.find("\n## ", start + len(SECTION))
        old = old[:start] + text.rstrip() + "\n" + (old[nxt:] if nxt != -1 else "")
    else:
        old = old.rstrip() + "\n\n" + text.rstrip() + "\n"
    path.write_text(old)
    jx = runs.get("jax", {})
    data = {
        "note": "jax.jit medians and compile times of benchmarks/compiled.py (seconds), for notebook 07",
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "jax": {
            "version": jx.get("version"),
            "median": jx.get("median", {}),
            "compile": {k[len("compile ") :]: v for k, v in jx.items() if k.startswith("compile ")},
        },
        "dualdiff": {
            "median": runs["dualdiff"]["median"],
            "compile": {k[len("compile ") :]: v for k, v in runs["dualdiff"].items() if k.startswith("compile ")},
        },
    }
    JSON_OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=["dualdiff", "jax"], help="time one library and print JSON (used by the driver)")
    p.add_argument("--repeats", type=int, default=11, help="rounds of samples at least")
    p.add_argument("--min-seconds", type=float, default=6.0, help="sample for at least this long per library")
    p.add_argument("--sample", type=float, default=0.01, help="seconds per sample")
    p.add_argument("--quick", action="store_true", help="a smoke run")
    p.add_argument(
        "--skip-slow-jax", action="store_true", help="no jax.jit of the chain's jvp (its compile takes long)"
    )
    p.add_argument(
        "--write-results", action="store_true", help="replace the section of RESULTS.md; write compiled_jax.json"
    )
    args = p.parse_args()
    if args.quick:
        args.repeats, args.min_seconds, args.sample = 3, 0.5, 0.003
    if args.only:
        print(json.dumps(run_library(args.only, args), default=float))
        return
    runs: dict[str, dict[str, Any]] = {}
    for lib in ("dualdiff", "jax"):
        if lib == "jax" and importlib.util.find_spec("jax") is None:
            print("  jax: not installed", file=sys.stderr)
            continue
        cmd = [sys.executable, __file__, "--only", lib, "--repeats", str(args.repeats)]
        cmd += ["--min-seconds", str(args.min_seconds), "--sample", str(args.sample)]
        cmd += ["--skip-slow-jax"] if args.skip_slow_jax else []
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **SINGLE_THREAD_ENV})
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            raise SystemExit(f"{lib}: benchmark subprocess failed")
        runs[lib] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"  {lib}: {runs[lib]['rounds']} rounds", file=sys.stderr)
    worst = check_agreement(runs)
    table, verdicts = report(runs)
    text = section(runs, table, verdicts, worst)
    print(text)
    if args.write_results:
        write_results(text, runs)


if __name__ == "__main__":
    main()
