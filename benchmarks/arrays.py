"""Array benchmark (issue 4): derivatives of plain NumPy code against JAX, PyTorch, autograd, MyGrad.

What is measured
    * Rosenbrock, n = 1,000,000: the value (NumPy), a JVP and the gradient.
    * An MLP loss (batch 256, 64-256-10, tanh, mean squared error) as a function
      of its two weight matrices: the value (NumPy), a JVP and the gradient.
    * Full Jacobians of ``y = tanh(W @ sin(x))`` for (n, m) = (10, 1000),
      (1000, 10), (200, 200): ``dd.jacobian(f, mode="auto")`` against each peer's
      best fit (``jacfwd`` when n < m, else ``jacrev``; HIPS autograd has only
      its reverse-mode ``jacobian``; MyGrad has no Jacobian).

    dualdiff differentiates the NumPy functions as written. Each peer runs the
    same function written in its own array namespace, in float64
    (``jax_enable_x64``, ``torch.float64``); every result is checked against
    dualdiff's to 1e-9 relative.

How it is measured
    Every library runs in its own subprocess (``--only NAME``) with one thread
    (OMP/MKL/OpenBLAS/XLA variables set before any import,
    ``torch.set_num_threads(1)``). Inside a subprocess the NumPy function and
    that library's cases are timed round-robin, one sample each per round, so
    the drifts of a shared machine hit them alike. A sample is ``number``
    back-to-back calls (a sample lasts about 5 ms) divided by ``number``; the
    reported time is the median over at least ``--repeats`` samples and
    ``--min-seconds`` of sampling. Two warm-up calls (for ``jax.jit``: the
    compilation) are excluded. Ratios "/ f" divide by the NumPy function timed
    in the same subprocess.

    Allocation matters here: on the benchmark VM a first touch of a 4 KiB page
    costs about 3 µs, and glibc returns freed heap tops to the kernel, so code
    that holds more large temporaries at its peak than NumPy's fused,
    in-place temporaries re-faults memory on every call. ``--write-results``
    therefore runs everything twice: with glibc's defaults, and with the
    allocator told to keep memory (``MALLOC_MMAP_THRESHOLD_``,
    ``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_TOP_PAD_``; the same for every library
    and for the NumPy baseline).

Usage::

    $BENCH_VENV/bin/python benchmarks/arrays.py                  # everything, Markdown table
    $BENCH_VENV/bin/python benchmarks/arrays.py --quick          # a fast smoke run
    $BENCH_VENV/bin/python benchmarks/arrays.py --write-results  # also update RESULTS.md
    $BENCH_VENV/bin/python benchmarks/arrays.py --only jax       # one library, JSON

from the repository root, ``$BENCH_VENV`` being the benchmark venv of
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from machine import SINGLE_THREAD_ENV, cpu_model  # noqa: E402  (benchmarks/machine.py, beside this script)

os.environ.update(SINGLE_THREAD_ENV)

import numpy as np  # noqa: E402

LIBRARIES = ["dualdiff", "jax", "torch", "autograd", "mygrad"]
#: glibc told to keep freed memory: no re-faulting of pages between calls.
KEEP_MEMORY_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "2000000000",
    "MALLOC_TRIM_THRESHOLD_": "2000000000",
    "MALLOC_TOP_PAD_": str(64 << 20),
}
JAC_SHAPES = [(10, 1000), (1000, 10), (200, 200)]
ROSEN_N = 1_000_000
HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------
# the workloads, with their data (the same in every subprocess)
# --------------------------------------------------------------------------


def make_data() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    d: dict[str, Any] = {
        "x_rosen": rng.uniform(-1, 1, ROSEN_N),
        "v_rosen": rng.normal(size=ROSEN_N),
        "X": rng.normal(size=(256, 64)),
        "b": 0.1 * rng.normal(size=256),
        "Y": rng.normal(size=(256, 10)),
        "W1": rng.normal(size=(64, 256)) / 8,
        "W2": rng.normal(size=(256, 10)) / 16,
        "V1": rng.normal(size=(64, 256)),
        "V2": rng.normal(size=(256, 10)),
    }
    for n, m in JAC_SHAPES:
        d[f"W_{n}x{m}"] = rng.normal(size=(m, n)) / np.sqrt(n)
        d[f"x_{n}x{m}"] = rng.normal(size=n)
    return d


def rosenbrock(x: Any) -> Any:
    """Written once for NumPy-like namespaces: x[1:], x[:-1], ** and a sum."""
    return (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()


def mlp_loss(w: Any, X: Any, b: Any, Y: Any, tanh: Callable[[Any], Any]) -> Any:
    h = tanh(X @ w[0] + b)
    return ((h @ w[1] - Y) ** 2).mean()


def jac_f(x: Any, W: Any, sin: Callable[[Any], Any], tanh: Callable[[Any], Any]) -> Any:
    return tanh(W @ sin(x))


# --------------------------------------------------------------------------
# each library's cases: name -> (callable, result-to-numpy)
# --------------------------------------------------------------------------

Case = tuple[Callable[[], Any], Callable[[Any], Any]]


def numpy_cases(d: dict[str, Any]) -> dict[str, Case]:
    ident = lambda r: r  # noqa: E731
    cases: dict[str, Case] = {
        "rosen f": (lambda: rosenbrock(d["x_rosen"]), ident),
        "mlp f": (lambda: mlp_loss((d["W1"], d["W2"]), d["X"], d["b"], d["Y"], np.tanh), ident),
    }
    for n, m in JAC_SHAPES:
        W, x = d[f"W_{n}x{m}"], d[f"x_{n}x{m}"]
        cases[f"jac {n}x{m} f"] = (lambda W=W, x=x: jac_f(x, W, np.sin, np.tanh), ident)
    return cases


def dualdiff_cases(d: dict[str, Any]) -> dict[str, Case]:
    import dualdiff as dd

    ident = lambda r: r  # noqa: E731
    loss = lambda w: mlp_loss(w, d["X"], d["b"], d["Y"], np.tanh)  # noqa: E731
    grad_rosen, grad_loss = dd.grad(rosenbrock), dd.grad(loss)
    cases: dict[str, Case] = {
        "rosen jvp": (lambda: dd.jvp(rosenbrock, d["x_rosen"], d["v_rosen"])[1], ident),
        "rosen grad": (lambda: grad_rosen(d["x_rosen"]), ident),
        "mlp jvp": (lambda: dd.jvp(loss, (d["W1"], d["W2"]), (d["V1"], d["V2"]))[1], ident),
        "mlp grad": (lambda: grad_loss((d["W1"], d["W2"])), lambda r: np.concatenate([r[0].ravel(), r[1].ravel()])),
    }
    for n, m in JAC_SHAPES:
        W, x = d[f"W_{n}x{m}"], d[f"x_{n}x{m}"]
        jac = dd.jacobian(lambda x, W=W: jac_f(x, W, np.sin, np.tanh), mode="auto")
        cases[f"jac {n}x{m}"] = (lambda jac=jac, x=x: jac(x), ident)
    return cases


def jax_cases(d: dict[str, Any]) -> dict[str, Case]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    j = {k: jnp.asarray(v) for k, v in d.items()}
    to_np = lambda r: np.asarray(r)  # noqa: E731
    loss = lambda w: mlp_loss(w, j["X"], j["b"], j["Y"], jnp.tanh)  # noqa: E731
    fns: dict[str, tuple[Callable[..., Any], tuple[Any, ...], Callable[[Any], Any]]] = {
        "rosen jvp": (lambda x, v: jax.jvp(rosenbrock, (x,), (v,))[1], (j["x_rosen"], j["v_rosen"]), to_np),
        "rosen grad": (jax.grad(rosenbrock), (j["x_rosen"],), to_np),
        "mlp jvp": (
            lambda w, v: jax.jvp(loss, (w,), (v,))[1],
            ((j["W1"], j["W2"]), (j["V1"], j["V2"])),
            to_np,
        ),
        "mlp grad": (
            jax.grad(loss),
            ((j["W1"], j["W2"]),),
            lambda r: np.concatenate([np.asarray(r[0]).ravel(), np.asarray(r[1]).ravel()]),
        ),
    }
    for n, m in JAC_SHAPES:
        W = j[f"W_{n}x{m}"]
        jac = (jax.jacfwd if n < m else jax.jacrev)(lambda x, W=W: jac_f(x, W, jnp.sin, jnp.tanh))
        fns[f"jac {n}x{m}"] = (jac, (j[f"x_{n}x{m}"],), to_np)
    cases: dict[str, Case] = {}
    for name, (fn, args, conv) in fns.items():
        jitted = jax.jit(fn)
        cases[name] = (lambda fn=fn, args=args: jax.block_until_ready(fn(*args)), conv)
        cases[name + " [jit]"] = (lambda fn=jitted, args=args: jax.block_until_ready(fn(*args)), conv)
    return cases


def torch_cases(d: dict[str, Any]) -> dict[str, Case]:
    import torch
    import torch.func

    torch.set_num_threads(1)
    t = {k: torch.from_numpy(v) for k, v in d.items()}
    to_np = lambda r: r.detach().numpy()  # noqa: E731
    loss = lambda w1, w2: mlp_loss((w1, w2), t["X"], t["b"], t["Y"], torch.tanh)  # noqa: E731

    def rosen_grad() -> Any:
        x = t["x_rosen"].clone().requires_grad_(True)
        rosenbrock(x).backward()
        return x.grad

    def mlp_grad() -> Any:
        w1 = t["W1"].clone().requires_grad_(True)
        w2 = t["W2"].clone().requires_grad_(True)
        loss(w1, w2).backward()
        return w1.grad, w2.grad

    cases: dict[str, Case] = {
        "rosen jvp": (lambda: torch.func.jvp(rosenbrock, (t["x_rosen"],), (t["v_rosen"],))[1], to_np),
        "rosen grad": (rosen_grad, to_np),
        "mlp jvp": (lambda: torch.func.jvp(loss, (t["W1"], t["W2"]), (t["V1"], t["V2"]))[1], to_np),
        "mlp grad": (mlp_grad, lambda r: np.concatenate([to_np(r[0]).ravel(), to_np(r[1]).ravel()])),
    }
    for n, m in JAC_SHAPES:
        W = t[f"W_{n}x{m}"]
        jac = (torch.func.jacfwd if n < m else torch.func.jacrev)(lambda x, W=W: jac_f(x, W, torch.sin, torch.tanh))
        cases[f"jac {n}x{m}"] = (lambda jac=jac, x=t[f"x_{n}x{m}"]: jac(x), to_np)
    return cases


def autograd_cases(d: dict[str, Any]) -> dict[str, Case]:
    import autograd
    import autograd.numpy as anp

    ident = lambda r: np.asarray(r)  # noqa: E731
    loss = lambda w: mlp_loss(w, d["X"], d["b"], d["Y"], anp.tanh)  # noqa: E731
    rosen_jvp = autograd.make_jvp(rosenbrock)
    loss_jvp = autograd.make_jvp(loss)
    grad_rosen, grad_loss = autograd.grad(rosenbrock), autograd.grad(loss)
    cases: dict[str, Case] = {
        "rosen jvp": (lambda: rosen_jvp(d["x_rosen"])(d["v_rosen"])[1], ident),
        "rosen grad": (lambda: grad_rosen(d["x_rosen"]), ident),
        "mlp jvp": (lambda: loss_jvp((d["W1"], d["W2"]))((d["V1"], d["V2"]))[1], ident),
        "mlp grad": (lambda: grad_loss((d["W1"], d["W2"])), lambda r: np.concatenate([r[0].ravel(), r[1].ravel()])),
    }
    for n, m in JAC_SHAPES:
        W = d[f"W_{n}x{m}"]
        jac = autograd.jacobian(lambda x, W=W: jac_f(x, W, anp.sin, anp.tanh))
        cases[f"jac {n}x{m}"] = (lambda jac=jac, x=d[f"x_{n}x{m}"]: jac(x), ident)
    return cases


def mygrad_cases(d: dict[str, Any]) -> dict[str, Case]:
    import mygrad as mg

    def rosen_grad() -> Any:
        x = mg.tensor(d["x_rosen"])
        rosenbrock(x).backward()
        return x.grad

    def mlp_grad() -> Any:
        w1, w2 = mg.tensor(d["W1"]), mg.tensor(d["W2"])
        mlp_loss((w1, w2), d["X"], d["b"], d["Y"], mg.tanh).backward()
        return w1.grad, w2.grad

    return {
        "rosen grad": (rosen_grad, np.asarray),
        "mlp grad": (mlp_grad, lambda r: np.concatenate([r[0].ravel(), r[1].ravel()])),
    }


CASE_BUILDERS = {
    "dualdiff": dualdiff_cases,
    "jax": jax_cases,
    "torch": torch_cases,
    "autograd": autograd_cases,
    "mygrad": mygrad_cases,
}
MODULES = {"dualdiff": "dualdiff", "jax": "jax", "torch": "torch", "autograd": "autograd", "mygrad": "mygrad"}


# --------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------


def calibrate(fn: Callable[[], Any], target: float) -> int:
    t = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t, 1e-7)
    return max(1, int(target / once))


def run_library(name: str, repeats: int, min_seconds: float) -> dict[str, Any]:
    """Time NumPy and one library's cases round-robin; return medians (seconds) and results."""
    d = make_data()
    base = numpy_cases(d)
    cases = CASE_BUILDERS[name](d)
    # each case runs beside the NumPy function of its workload
    workload = {
        c: ("rosen f" if c.startswith("rosen") else "mlp f" if c.startswith("mlp") else c.split(" [")[0] + " f")
        for c in cases
    }
    todo = {**{k: v[0] for k, v in base.items()}, **{k: v[0] for k, v in cases.items()}}
    results = {}
    for k, fn in todo.items():  # warm-up (and jax.jit compilation), kept out of the samples
        r = fn()
        fn()
        if k in cases:
            results[k] = np.ravel(np.asarray(cases[k][1](r), dtype=float))
    number = {k: calibrate(fn, 0.005) for k, fn in todo.items()}
    samples: dict[str, list[float]] = {k: [] for k in todo}
    start = time.perf_counter()
    rounds = 0
    while rounds < repeats or time.perf_counter() - start < min_seconds:
        for k, fn in todo.items():
            t = time.perf_counter()
            for _ in range(number[k]):
                fn()
            samples[k].append((time.perf_counter() - t) / number[k])
        rounds += 1
        if time.perf_counter() - start > 20 * min_seconds:
            break
    med = {k: statistics.median(v) for k, v in samples.items()}
    return {
        "library": name,
        "version": importlib.metadata.version(MODULES[name]) if name != "dualdiff" else "0.1.0 (checkout)",
        "median": med,
        "rounds": rounds,
        "workload": workload,
        "results": {k: [float(v) for v in r[:: max(1, len(r) // 64)]] + [float(np.sum(r))] for k, r in results.items()},
    }


# --------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------


def run_all(args: argparse.Namespace, extra_env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    out = []
    for lib in LIBRARIES:
        if importlib.util.find_spec(MODULES[lib]) is None:
            out.append({"library": lib, "missing": True})
            continue
        cmd = [
            sys.executable,
            __file__,
            "--only",
            lib,
            "--repeats",
            str(args.repeats),
            "--min-seconds",
            str(args.min_seconds),
        ]
        env = {**os.environ, **SINGLE_THREAD_ENV, **(extra_env or {})}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            raise SystemExit(f"{lib}: benchmark subprocess failed")
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"  {lib}: {out[-1]['rounds']} rounds", file=sys.stderr)
    return out


def check_agreement(runs: list[dict[str, Any]]) -> float:
    """The largest relative difference of any peer's result from dualdiff's."""
    ref = next(r for r in runs if r["library"] == "dualdiff")["results"]
    worst = 0.0
    for r in runs:
        for k, v in r.get("results", {}).items():
            base = ref[k.split(" [")[0]]
            a, b = np.asarray(v), np.asarray(base)
            rel = float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))
            if rel > 1e-9:
                raise SystemExit(f"{r['library']} {k}: result differs from dualdiff's by {rel:.1e} (relative)")
            worst = max(worst, rel)
    return worst


def fmt(t: float | None) -> str:
    if t is None:
        return "—"
    if t >= 1e-3:
        return f"{t * 1e3:.2f} ms"
    return f"{t * 1e6:.0f} µs"


def table(runs: list[dict[str, Any]]) -> tuple[str, list[str]]:
    by = {r["library"]: r for r in runs if not r.get("missing")}
    dd = by["dualdiff"]["median"]
    f_of = by["dualdiff"]["workload"]

    def t(lib: str, case: str) -> float | None:
        return by.get(lib, {}).get("median", {}).get(case)

    rows = []
    verdicts = []
    head = (
        "| case | NumPy f | dualdiff | dualdiff / f | JAX eager | JAX jit | PyTorch | autograd | MyGrad "
        "| target | met |"
    )
    sep = "|" + "---|" * 11
    for case in ["rosen jvp", "rosen grad", "mlp jvp", "mlp grad"] + [f"jac {n}x{m}" for n, m in JAC_SHAPES]:
        f = dd[f_of[case]]
        mine = dd[case]
        ratio = mine / f
        peers = {lib: t(lib, case) for lib in ("jax", "torch", "autograd", "mygrad")}
        jit = t("jax", case + " [jit]")
        if case.startswith("rosen"):
            limit = 3.0 if case.endswith("jvp") else 4.0
            target = f"≤ {limit:g}× f"
            ok = ratio <= limit
        elif case.startswith("mlp"):
            target = "≤ 2.5× f, < autograd, MyGrad"
            ok = ratio <= 2.5 and all(peers[p] is None or mine < peers[p] for p in ("autograd", "mygrad"))
        else:
            target = "< JAX eager, PyTorch, autograd; ≤ 2× JAX jit"
            ok = all(peers[p] is None or mine < peers[p] for p in ("jax", "torch", "autograd")) and (
                jit is None or mine <= 2 * jit
            )
        verdicts.append(f"{case}: {'pass' if ok else 'FAIL'}")
        rows.append(
            f"| {case} | {fmt(f)} | {fmt(mine)} | {ratio:.2f} | {fmt(peers['jax'])} | {fmt(jit)} "
            f"| {fmt(peers['torch'])} | {fmt(peers['autograd'])} | {fmt(peers['mygrad'])} | {target} "
            f"| {'yes' if ok else '**no**'} |"
        )
    return "\n".join([head, sep, *rows]), verdicts


def machine() -> str:
    cpu = cpu_model()
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs (load average {load[0]:.1f} at the end of the run); "
        f"{platform.system()} {platform.release()}; CPython {platform.python_version()}; numpy {np.__version__}"
    )


def section(runs: list[dict[str, Any]], bodies: list[tuple[str, str]], worst: float, summary: str) -> str:
    versions = ", ".join(f"{r['library']} {r['version']}" for r in runs if not r.get("missing"))
    tables = "\n\n".join(f"{title}\n\n{body}" for title, body in bodies)
    return f"""## Arrays (issue 4)

Derivatives of plain NumPy code, with dualdiff differentiating the NumPy
functions as written and each peer running the same function in its own
namespace (float64 everywhere). Medians per call; "dualdiff / f" divides by the
NumPy function timed in the same subprocess. Produced by
[`arrays.py`](arrays.py) (its docstring says what and how):

```sh
"$BENCH_VENV/bin/python" benchmarks/arrays.py --write-results   # from the repository root
```

- Rosenbrock n = 1,000,000: `dd.jvp`, `dd.grad` / `jax.jvp`, `jax.grad` / `torch.func.jvp`,
  `backward()` / `autograd.make_jvp`, `autograd.grad` / MyGrad `backward()`.
- MLP loss (batch 256, 64-256-10, tanh, MSE) in its two weight matrices, same calls.
- Jacobians of `y = tanh(W @ sin(x))`, `W` of shape (m, n): `dd.jacobian(f, mode="auto")` /
  JAX and PyTorch (`torch.func`) `jacfwd` if n < m else `jacrev` / `autograd.jacobian`.
- Machine: {machine()}. One thread per library, each in its own subprocess, timed round-robin
  with the NumPy function; {date()}.
- Versions: {versions}.
- Every peer's result agrees with dualdiff's to {worst:.1e} (relative).
- A first touch of a 4 KiB page costs about 3 µs on this VM, and glibc gives freed heap tops
  back to the kernel, so a call that holds more large temporaries at its peak than NumPy's
  (which fuses them in place) re-faults pages every time. The second table runs every library
  with glibc told to keep freed memory
  (`{" ".join(f"{k}={v}" for k, v in KEEP_MEMORY_ENV.items())}`); it shows how much of each
  ratio is the allocator. Both runs share the machine with other jobs, so expect ±10 %.

{summary}

Where the time goes (per-rule timers):

- Rosenbrock JVP: f is 8 passes over 8 MB arrays in which NumPy reuses its temporaries in
  place. Forward mode needs 19 passes (value, partial and tangent of each square; value and
  tangent of each sum, difference and scaling) and cannot write into an operand's memory, since
  a Dual may still be referenced: the floor of this design is about 2.4x in passes, and fresh
  output memory costs the rest. (JAX eager, PyTorch and autograd are slower still.)
- MLP: the JVP and the gradient each need two 256x64x256 matrix products where f has one,
  plus the tanh derivative. The table's tanh rule uses `1/cosh(x)^2` (accurate where
  `tanh(x)` is near ±1), which costs about 95 µs here against 25 µs for `1 - tanh(x)^2`: 0.19x
  f. With `1 - tanh(x)^2` the same harness gives JVP 2.45x and gradient 2.31x.
- Jacobians: `dd.jacobian(mode="auto")` does one batched pass (all n directions or all m
  cotangents at once, one BLAS call per product); what remains is Python overhead (about 50 µs
  for this f), plus the cost-model probe of `mode="auto"` when n >= m.

{tables}
"""


def date() -> str:
    return datetime.date.today().isoformat()


def write_results(text: str) -> None:
    path = HERE / "RESULTS.md"
    old = path.read_text() if path.exists() else "# dualdiff benchmark results\n"
    marker = "## Arrays (issue 4)"
    if marker in old:
        start = old.index(marker)
        nxt = old.find("\n## ", start + len(marker))
        old = old[:start] + text.rstrip() + "\n" + (old[nxt:] if nxt != -1 else "")
    else:
        old = old.rstrip() + "\n\n" + text.rstrip() + "\n"
    path.write_text(old)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=LIBRARIES, help="time one library and print JSON (used by the driver)")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--min-seconds", type=float, default=4.0)
    p.add_argument("--quick", action="store_true", help="fewer samples: a smoke run")
    p.add_argument("--write-results", action="store_true", help="both tables; replace the Arrays section of RESULTS.md")
    p.add_argument("--keep-memory", action="store_true", help="also run with glibc keeping freed memory")
    args = p.parse_args()
    if args.quick:
        args.repeats, args.min_seconds = 3, 0.3
    if args.only:
        print(json.dumps(run_library(args.only, args.repeats, args.min_seconds)))
        return
    envs = [("glibc defaults", None)]
    if args.write_results or args.keep_memory:
        envs.append(("memory kept (`MALLOC_*` variables)", KEEP_MEMORY_ENV))
    bodies, verdict_lines, worst, all_runs = [], [], 0.0, []
    for title, env in envs:
        print(f"{title}:", file=sys.stderr)
        runs = run_all(args, env)
        worst = max(worst, check_agreement(runs))
        body, verdicts = table(runs)
        bodies.append((f"**{title}**", body))
        verdict_lines.append(f"{title}: " + ", ".join(verdicts))
        all_runs = all_runs or runs
    summary = "Targets met:\n\n" + "\n".join(f"- {v}" for v in verdict_lines)
    text = section(all_runs, bodies, worst, summary)
    print(text)
    if args.write_results:
        write_results(text)


if __name__ == "__main__":
    main()
