"""Taylor-mode benchmark (issue 14): d derivatives of the 1000-operation scalar chain in one pass.

What is measured
    The chain of ``scalar_chain.py`` (100 blocks of ``* + sin / exp + log sqrt
    tanh -``, 1000 scalar operations, x0 = 0.3), differentiated to orders
    d = 2, 4, 8 and 16, each call computing from scratch:

    * ``dd.taylor(f, x0, order=d)``: all coefficients y_0 ... y_d in one pass of
      Taylor numbers (Python-float coefficients);
    * nested ``dd.derivative``, d times: the d-th derivative alone, through d
      levels of Duals (orders 2, 4 and 8; order 16 would take hours, so its time
      is extrapolated from the fit and marked as such);
    * ``jax.experimental.jet`` of the chain (float64), eager and under
      ``jax.jit`` (the first jit call, trace plus XLA compile, is reported
      apart and excluded from the median).

    Every result is checked: dd.taylor against dualdiff's own Taylor mode on
    mpmath numbers at 50 digits (which agrees with ``mpmath.taylor`` at 300
    digits to 4e-39, checked once: that reference takes minutes), and jet and
    the nested derivatives against dd.taylor.

How it is measured
    dualdiff and JAX each run in a subprocess of their own with one thread
    (the environment of ``scalar_chain.py``). Inside a subprocess the cases are
    timed round-robin, one sample of each per round, so slow drifts of a shared
    machine hit them alike; a sample is enough back-to-back calls to last about
    20 ms (one call for the slow cases), and the reported time is the median
    over the samples. Sampling stops once a case has ``--samples`` samples and
    ``--min-seconds`` of sampling, or ``--max-seconds`` (but never below
    ``--min-samples``). The cost exponent is the least-squares slope of
    log(time) against log(d).

Usage::

    $BENCH_VENV/bin/python benchmarks/taylor.py                 # everything (JAX's jit compiles take minutes)
    $BENCH_VENV/bin/python benchmarks/taylor.py --quick         # one sample of the slow cases, jit to order 4
    $BENCH_VENV/bin/python benchmarks/taylor.py --only dualdiff # one subprocess's JSON
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scalar_chain import N_OPS, X0, _dist_version, count_ops, machine_facts, on  # also one thread

REPO_ROOT = Path(__file__).resolve().parent.parent
ORDERS = (2, 4, 8, 16)
NESTED_ORDERS = (2, 4, 8)
REFERENCE_DIGITS = 50
SAMPLE_SECONDS = 0.02
SPEEDUP_TARGET = 20.0
EXPONENT_TARGET = 2.0

Case = tuple[str, int]  # (kind, order)


# --------------------------------------------------------------------------
# the cases of each subprocess: name -> callable returning the coefficients
# --------------------------------------------------------------------------


def dualdiff_cases(args: argparse.Namespace) -> tuple[dict[str, Callable[[], Any]], dict[str, Any]]:
    try:
        import dualdiff as dd
    except ImportError:  # a checkout that is not installed
        sys.path.insert(0, str(REPO_ROOT))
        import dualdiff as dd
    import mpmath

    f = on(dd)
    baseline = on(math)
    cases: dict[str, Callable[[], Any]] = {"baseline 0": lambda: [baseline(X0)]}
    for d in args.orders:
        cases[f"taylor {d}"] = lambda d=d: list(dd.taylor(f, X0, order=d))
    for d in [d for d in NESTED_ORDERS if d in args.orders]:
        g = f
        for _ in range(d):
            g = dd.derivative(g)
        cases[f"nested {d}"] = lambda g=g, d=d: [g(X0) / math.factorial(d)]
    with mpmath.workdps(REFERENCE_DIGITS):
        ref = dd.taylor(f, mpmath.mpf(X0), order=max(args.orders))
    extra = {"reference": [mpmath.nstr(c, 25) for c in ref], "versions": {"dualdiff": dd.__version__}}
    return cases, extra


def _jet_setup() -> tuple[Any, Any, Callable[..., list[float]]]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.experimental.jet import jet

    def coefficients(y0: Any, ys: Any) -> list[float]:  # jet's terms are derivatives: divide by k!
        return [float(y0)] + [float(y) / math.factorial(k) for k, y in enumerate(ys, 1)]

    return jax, (on(jnp), jet), coefficients


def jax_cases(args: argparse.Namespace) -> tuple[dict[str, Callable[[], Any]], dict[str, Any]]:
    """``jet`` of the chain, eager, at every order."""
    jax, (f, jet), coefficients = _jet_setup()
    cases: dict[str, Callable[[], Any]] = {}
    for d in args.orders:
        series = ((1.0,) + (0.0,) * (d - 1),)
        cases[f"jet {d}"] = lambda series=series: coefficients(*jet(f, (X0,), series))
    return cases, {"versions": {"jax": jax.__version__, "jaxlib": _dist_version("jaxlib")}}


def jax_jit_cases(args: argparse.Namespace) -> tuple[dict[str, Callable[[], Any]], dict[str, Any]]:
    """``jax.jit(jet)`` of the chain at the orders given, under a cap on the address space.

    XLA compiles the unrolled chain of Taylor series as one program; its
    compiler's memory grows fast with the order (about 1.6 GB at order 2 and
    5.7 GB at order 4 here), so each order runs in a subprocess of its own
    whose address space is capped (``--jit-memory-gb``): a compile that needs
    more fails there, is reported, and cannot exhaust a shared machine.
    """
    import resource

    cap = int(args.jit_memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    jax, (f, jet), coefficients = _jet_setup()
    cases: dict[str, Callable[[], Any]] = {}
    for d in args.orders:
        series = ((1.0,) + (0.0,) * (d - 1),)
        compiled = jax.jit(lambda x, series=series: jet(f, (x,), series))
        cases[f"jet_jit {d}"] = lambda compiled=compiled: coefficients(*compiled(X0))
    return cases, {"versions": {"jax": jax.__version__, "jaxlib": _dist_version("jaxlib")}}


BUILDERS = {"dualdiff": dualdiff_cases, "jax": jax_cases, "jax_jit": jax_jit_cases}


# --------------------------------------------------------------------------
# measuring, inside one subprocess
# --------------------------------------------------------------------------


def measure(cases: dict[str, Callable[[], Any]], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """First call of each case (value, time), then round-robin samples until every budget is met."""
    out: dict[str, dict[str, Any]] = {}
    live: dict[str, tuple[Callable[[], Any], int]] = {}
    for name, fn in cases.items():
        entry: dict[str, Any] = {"samples": []}
        try:
            t0 = time.perf_counter()
            entry["value"] = [float(c) for c in fn()]
            entry["first_call_s"] = time.perf_counter() - t0
        except Exception as exc:  # a case that cannot run is reported, not fatal
            entry["status"] = f"error: {type(exc).__name__}: {exc}"[:200]
            out[name] = entry
            continue
        t0 = time.perf_counter()
        fn()  # a warm-up call, also timing the case without its first-call costs
        one = time.perf_counter() - t0
        entry["status"] = "ok"
        out[name] = entry
        live[name] = (fn, max(1, int(SAMPLE_SECONDS / max(one, 1e-9))))
    start = {name: time.perf_counter() for name in live}
    while live:
        for name in list(live):
            fn, number = live[name]
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples = out[name]["samples"]
            samples.append((time.perf_counter() - t0) / number)
            elapsed = time.perf_counter() - start[name]
            enough = len(samples) >= args.samples and elapsed >= args.min_seconds
            if len(samples) >= args.min_samples and (enough or elapsed >= args.max_seconds):
                del live[name]
    for entry in out.values():
        if entry["samples"]:
            entry["median_s"] = statistics.median(entry["samples"])
    return out


def run_only(library: str, args: argparse.Namespace) -> dict[str, Any]:
    try:
        cases, extra = BUILDERS[library](args)
    except ImportError as exc:
        return {"library": library, "status": f"not installed ({exc.name})", "cases": {}}
    return {"library": library, "status": "ok", "cases": measure(cases, args), **extra}


def run_child(library: str, args: argparse.Namespace, orders: list[int]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--only", library, *args.child_argv]
    cmd += ["--orders", ",".join(map(str, orders))]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=6 * 3600)
    label = library + (f" (order {orders[0]})" if library == "jax_jit" else "")
    print(f"  {label}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1])
    print(proc.stderr[-2000:], file=sys.stderr)
    status = f"subprocess failed (exit {proc.returncode})"
    if library == "jax_jit" and ("bad_alloc" in proc.stderr or "MemoryError" in proc.stderr):
        status = f"the compile needed more than the {args.jit_memory_gb:g} GB address-space cap"
    return {"library": label, "status": status, "cases": {}}


# --------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------


def fit_exponent(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of log(time) against log(d)."""
    if len(points) < 2:
        return None
    xs = [math.log(d) for d, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def _fmt_time(s: float | None) -> str:
    if s is None:
        return "—"
    if s >= 3600:
        return f"{s / 3600:.0f} h"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def _rel_error(got: list[float] | None, want: list[float], orders: range | list[int]) -> float | None:
    if not got:
        return None
    errs = [abs(got[i] - want[k]) / abs(want[k]) for i, k in enumerate(orders)]
    return max(errs)


def render(results: dict[str, dict[str, Any]], facts: dict[str, str], args: argparse.Namespace) -> str:
    cases: dict[str, dict[str, Any]] = {}
    for r in results.values():
        cases.update(r.get("cases", {}))

    def med(name: str) -> float | None:
        return cases.get(name, {}).get("median_s")

    ref = [float(c) for c in results["dualdiff"].get("reference", [])]
    taylor_pts = [(d, med(f"taylor {d}")) for d in args.orders if med(f"taylor {d}")]
    nested_pts = [(d, med(f"nested {d}")) for d in NESTED_ORDERS if med(f"nested {d}")]
    jet_pts = [(d, med(f"jet {d}")) for d in args.orders if med(f"jet {d}")]
    e_taylor = fit_exponent(taylor_pts)  # type: ignore[arg-type]
    e_nested = fit_exponent(nested_pts)  # type: ignore[arg-type]
    e_jet = fit_exponent(jet_pts)  # type: ignore[arg-type]
    base = med("baseline 0")
    versions = {k: v for r in results.values() for k, v in r.get("versions", {}).items()}
    lines = [
        f"Taylor mode on the scalar chain: {N_OPS} operations at x0 = {X0}, orders {', '.join(map(str, args.orders))}; "
        f"at least {args.min_samples} samples per case ({args.samples} and {args.min_seconds:g} s of sampling where "
        f"the case allows, at most {args.max_seconds:g} s).",
        "",
        f"- Date: {facts['date']}; load average (1/5/15 min) at start: {facts['load']}, at end: {facts['load_end']}",
        f"- CPU: {facts['cpu']}; {facts['platform']}",
        f"- dualdiff checkout: {facts['revision']}",
        f"- Python: {facts['python']}; " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
        f"- Plain floats (math module), the chain's value only: {_fmt_time(base)}",
    ]
    for r in results.values():
        if r.get("status") != "ok":
            lines.append(f"- {r['library']}: {r['status']}")
    lines += [
        "",
        "| order d | `dd.taylor` (all d coefficients) | per operation | nested `dd.derivative` ×d "
        "(d-th only) | nesting / taylor | `jet` eager | jet eager / taylor | `jit(jet)` | jit compile (first call) "
        "| agreement (max rel. error) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in args.orders:
        t = med(f"taylor {d}")
        n = med(f"nested {d}")
        nested_text = _fmt_time(n)
        if n is None and len(nested_pts) >= 2:
            # each level of nesting multiplies the time: extrapolate with the last measured factor per level
            (d1, t1), (d0, t0) = nested_pts[-2:]
            per_level = (t0 / t1) ** (1 / (d0 - d1))
            nested_text = f"not run (≈ {_fmt_time(t0 * per_level ** (d - d0))}: ×{per_level:.1f} per level)"
        j = med(f"jet {d}")
        jj = med(f"jet_jit {d}")
        compile_s = cases.get(f"jet_jit {d}", {}).get("first_call_s")
        jit_failed = results.get(f"jax_jit {d}", {}).get("status", "ok") != "ok"
        agree = []
        for name, label, orders in (
            (f"taylor {d}", "taylor", range(d + 1)),
            (f"jet {d}", "jet", range(d + 1)),
            (f"jet_jit {d}", "jit", range(d + 1)),
            (f"nested {d}", "nested", [d]),
        ):
            err = _rel_error(cases.get(name, {}).get("value"), ref, orders) if ref else None
            if err is not None:
                agree.append(f"{label} {err:.1e}")
        lines.append(
            "| "
            + " | ".join(
                [
                    str(d),
                    _fmt_time(t),
                    _fmt_time(t / N_OPS if t else None),
                    nested_text,
                    f"{n / t:.0f}x" if n and t else "—",
                    _fmt_time(j),
                    f"{j / t:.0f}x" if j and t else "—",
                    "failed (below)" if jit_failed else _fmt_time(jj),
                    _fmt_time(compile_s),
                    ", ".join(agree) or "—",
                ]
            )
            + " |"
        )
    speed8 = (med("nested 8") / med("taylor 8")) if med("nested 8") and med("taylor 8") else None
    faster = [d for d in args.orders if med(f"jet {d}") and med(f"taylor {d}")]
    beats = all(med(f"jet {d}") > med(f"taylor {d}") for d in faster) if faster else None  # type: ignore[operator]
    pair = math.log(med("taylor 16") / med("taylor 8")) / math.log(2) if med("taylor 16") and med("taylor 8") else None
    lines += [
        "",
        "Cost exponents (least-squares slope of log time against log d):",
        "",
        f"- `dd.taylor`, d = {', '.join(str(d) for d, _ in taylor_pts)}: **{e_taylor:.2f}**"
        + (f" (from d = 8 to 16 alone: {pair:.2f})" if pair else "")
        if e_taylor is not None
        else "- `dd.taylor`: not measured",
        f"- nested `dd.derivative`, d = {', '.join(str(d) for d, _ in nested_pts)}: {e_nested:.2f}"
        if e_nested is not None
        else "- nested `dd.derivative`: not measured",
        f"- `jet` eager, d = {', '.join(str(d) for d, _ in jet_pts)}: {e_jet:.2f}"
        if e_jet is not None
        else "- `jet` eager: not measured",
        "",
        "Targets:",
        "",
        f"- cost grows no faster than about d²: exponent {e_taylor:.2f} — "
        f"**{'PASS' if e_taylor <= EXPONENT_TARGET + 0.2 else 'FAIL'}**"
        if e_taylor is not None
        else "- cost exponent: not measured",
        f"- order 8 at least {SPEEDUP_TARGET:.0f}x faster than nesting `dd.derivative` 8 times: {speed8:.0f}x — "
        f"**{'PASS' if speed8 >= SPEEDUP_TARGET else 'FAIL'}**"
        if speed8
        else "- order 8 against nesting: not measured",
        "- faster than eager `jet` at every order: "
        + ", ".join(f"d = {d}: {med(f'jet {d}') / med(f'taylor {d}'):.0f}x" for d in faster)  # type: ignore[operator]
        + f" — **{'PASS' if beats else 'FAIL'}**"
        if beats is not None
        else "- against eager jet: not measured",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=21, help="samples per case where time allows (default 21)")
    p.add_argument("--min-samples", type=int, default=3, help="never fewer samples than this (default 3)")
    p.add_argument("--min-seconds", type=float, default=3.0, help="sample each case at least this long (default 3)")
    p.add_argument("--max-seconds", type=float, default=60.0, help="stop sampling a case after this (default 60)")
    p.add_argument("--orders", default=",".join(map(str, ORDERS)), help="orders to run (default 2,4,8,16)")
    p.add_argument("--jit-orders", default=None, help="orders to run jax.jit(jet) at (default: all)")
    p.add_argument(
        "--jit-memory-gb", type=float, default=12.0, help="address-space cap of each jit compile (default 12 GB)"
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 1 sample of slow cases, jit to order 4")
    p.add_argument("--only", choices=sorted(BUILDERS), help="run one library in this process and print JSON")
    p.add_argument("--json-out", type=Path, help="also write the raw results as JSON to this file")
    p.add_argument("--from-json", type=Path, help="print the report of a run saved with --json-out (measure nothing)")
    args = p.parse_args(argv)
    if args.quick:
        args.samples, args.min_samples, args.min_seconds, args.max_seconds = 5, 1, 0.0, 5.0
        if args.jit_orders is None:
            args.jit_orders = "2,4"
    args.child_argv = [
        "--samples", str(args.samples), "--min-samples", str(args.min_samples),
        "--min-seconds", str(args.min_seconds), "--max-seconds", str(args.max_seconds),
        "--jit-memory-gb", str(args.jit_memory_gb),
    ]  # fmt: skip
    args.orders = [int(d) for d in args.orders.split(",")]
    args.jit_orders = [int(d) for d in (args.jit_orders or ",".join(map(str, args.orders))).split(",")]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.only:
        print(json.dumps(run_only(args.only, args)))
        return 0
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        print(render(saved["results"], saved["facts"], args))
        return 0
    if count_ops() != N_OPS:
        raise AssertionError(f"the chain performs {count_ops()} operations, expected {N_OPS}")
    facts = machine_facts()
    print(f"taylor: {N_OPS} ops, orders {args.orders}; one subprocess per library", file=sys.stderr)
    results = {
        "dualdiff": run_child("dualdiff", args, args.orders),
        "jax": run_child("jax", args, args.orders),
    }
    for d in args.jit_orders:  # one subprocess per compile: a compile that runs out of memory fails alone
        results[f"jax_jit {d}"] = run_child("jax_jit", args, [d])
    facts["load_end"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    if args.json_out:
        args.json_out.write_text(json.dumps({"facts": facts, "results": results}, indent=1))
    print(render(results, facts, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
