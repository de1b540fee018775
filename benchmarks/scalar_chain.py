"""Scalar-chain benchmark (issues 2 and 3): the cost of one derivative of a 1000-operation scalar function.

What is measured
    ``chain(x, m)`` applies exactly 1000 scalar operations to ``x``: 100 blocks of
    ``* + sin / exp + log sqrt tanh -`` (10 operations each, counted at start-up),
    with values kept in a bounded range so every operation is well defined. It is
    written once, parameterised by a namespace ``m`` of math functions (``math``,
    ``dualdiff``, ``jax.numpy``, ``torch``, ``autograd.numpy``, micrograd), so every
    library runs the *same* chain. Each measured call computes f'(x0) from scratch
    (tracing, tape building, the sweep, and conversion of the result to a Python
    float) and returns it:

    * baseline: the chain on plain Python floats with the ``math`` module (value only);
    * forward mode: ``dd.derivative``; ``jax.jvp`` (eager); ``torch.autograd.forward_ad``
      (dual tensors, eager); HIPS ``autograd.make_jvp`` (its forward mode); and
      ``jax.jit`` of the jvp (information only);
    * reverse mode: ``dd.grad``; micrograd (``Value`` + ``backward()``); ``autograd.grad``;
      PyTorch (``requires_grad`` + ``backward()``), eager; ``jax.grad`` (eager); and
      ``jax.jit(jax.grad)`` (information only).

    All peers compute in float64 (``jax_enable_x64``, ``torch.float64``), and each
    derivative is checked against dualdiff's to 1e-10 relative, so every row does
    the same work. ``mpmath.diff`` at 300 digits is an independent reference.

How it is measured, and why
    Per-operation overhead dominates scalar code, so wall-clock time per
    derivative is the quantity of interest. Every library runs in its own
    subprocess (``--only NAME``) with one thread (OMP/MKL/OpenBLAS/XLA variables
    set before any import, ``torch.set_num_threads(1)``), so one library's thread
    pools or JIT cannot disturb another. Inside a subprocess the plain-float
    baseline and that library's cases are timed round-robin, one sample of each
    per round, so slow drifts of a shared, noisy machine hit them alike. A sample
    is ``number`` back-to-back calls (``number`` chosen so a sample lasts about
    2 ms) divided by ``number``; the reported time is the median over the
    samples: at least ``--repeats`` of them, and at least ``--min-seconds`` of
    sampling, so fast libraries get hundreds (see ``Budget``). The garbage
    collector stays on: freeing a graph is part of a derivative's cost. The
    first call of each case is timed separately (for ``jax.jit`` that is the
    compile time) and excluded, as are two warm-up calls.

    "Ratio to plain floats" divides by the baseline measured in the same
    subprocess; "dualdiff speed-up" is the peer's median over dualdiff's median
    for the same mode. The load-normalised speed-up is the peer's ratio over
    dualdiff's ratio: it cancels load that other processes put on the machine
    while one library's subprocess ran but not another's.

Usage::

    $BENCH_VENV/bin/python benchmarks/scalar_chain.py            # everything, Markdown table
    $BENCH_VENV/bin/python benchmarks/scalar_chain.py --quick    # a fast smoke run
    $BENCH_VENV/bin/python benchmarks/scalar_chain.py --only jax # one library, JSON

from the repository root, ``$BENCH_VENV`` being the benchmark venv of
benchmarks/README.md.

Peers that are not installed get a "not installed" row; only dualdiff is required.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

# One thread everywhere, before any numerical library is imported (the subprocesses inherit this).
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}
os.environ.update(SINGLE_THREAD_ENV)

from machine import cpu_model  # noqa: E402  (benchmarks/machine.py, beside this script)

REPO_ROOT = Path(__file__).resolve().parent.parent
X0 = 0.3
BLOCKS = 100
N_OPS = 1000
AGREE_RTOL = 1e-10
REFERENCE_DIGITS = 300
SAMPLE_SECONDS = 0.002  # a sample is enough back-to-back calls to last about this long
WARMUP_CALLS = 2

FORWARD_TARGET_RATIO, FORWARD_TARGET_SPEEDUP = 20.0, 20.0
REVERSE_TARGET_RATIO, REVERSE_TARGET_SPEEDUP = 30.0, 8.0

Derivative = Callable[[float], float]


class MathNamespace(Protocol):
    """What ``chain`` needs from a library: five elementwise functions."""

    sin: Callable[[Any], Any]
    exp: Callable[[Any], Any]
    log: Callable[[Any], Any]
    sqrt: Callable[[Any], Any]
    tanh: Callable[[Any], Any]


def chain(x: Any, m: MathNamespace) -> Any:
    """The benchmark function: 100 blocks of 10 scalar operations (1000 in all).

    Values stay in about [0.24, 0.33] after the first block, so every log and
    sqrt argument is positive. f'(x) is about 3e-140 at x = 0.3 (each block
    contracts by about 0.04), far above the float64 underflow limit.
    """
    sin, exp, log, sqrt, tanh = m.sin, m.exp, m.log, m.sqrt, m.tanh
    y = x
    for _ in range(BLOCKS):
        y = y * 1.0001 + 0.1  # 2 ops
        y = sin(y)  # 1
        y = y / 1.5  # 1
        y = exp(y)  # 1
        y = log(y + 2.0)  # 2
        y = sqrt(y)  # 1
        y = tanh(y) - 0.5  # 2
    return y


def on(m: MathNamespace) -> Callable[[Any], Any]:
    """``chain`` as a function of ``x`` alone, computing with namespace ``m``."""

    def f(x: Any) -> Any:
        return chain(x, m)

    return f


class _OpCounter:
    """A stand-in number that counts every operation applied to it."""

    count = 0

    def _op(self, *_: Any) -> _OpCounter:
        _OpCounter.count += 1
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _op


def count_ops() -> int:
    """How many operations ``chain`` performs (asserted to be N_OPS)."""
    _OpCounter.count = 0
    counting = SimpleNamespace(**{name: _OpCounter._op for name in ("sin", "exp", "log", "sqrt", "tanh")})
    chain(_OpCounter(), counting)
    return _OpCounter.count


# --------------------------------------------------------------------------
# the cases: (label, mode, kind) per library, and builders of the callables
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseSpec:
    """One row of the table. kind: baseline, dualdiff, eager (a target applies) or jit (information)."""

    library: str
    label: str
    mode: str  # "value", "forward" or "reverse"
    kind: str


BASELINE = CaseSpec("python", "plain floats (math module)", "value", "baseline")

CASES: dict[str, list[CaseSpec]] = {
    "dualdiff": [
        CaseSpec("dualdiff", "dualdiff `dd.derivative`", "forward", "dualdiff"),
        CaseSpec("dualdiff", "dualdiff `dd.grad`", "reverse", "dualdiff"),
    ],
    "jax": [
        CaseSpec("jax", "jax `jax.jvp` (eager)", "forward", "eager"),
        CaseSpec("jax", "jax `jax.jit(jvp)`", "forward", "jit"),
        CaseSpec("jax", "jax `jax.grad` (eager)", "reverse", "eager"),
        CaseSpec("jax", "jax `jax.jit(jax.grad)`", "reverse", "jit"),
    ],
    "torch": [
        CaseSpec("torch", "PyTorch `forward_ad` dual tensors (eager)", "forward", "eager"),
        CaseSpec("torch", "PyTorch `requires_grad` + `backward()` (eager)", "reverse", "eager"),
    ],
    "autograd": [
        CaseSpec("autograd", "HIPS autograd `make_jvp` (forward mode)", "forward", "eager"),
        CaseSpec("autograd", "HIPS autograd `grad`", "reverse", "eager"),
    ],
    "micrograd": [
        CaseSpec("micrograd", "micrograd `Value` + `backward()`", "reverse", "eager"),
    ],
}
LIBRARIES = tuple(CASES)
#: The import names that must all be present for a library's cases to run.
REQUIRED_MODULES = {
    "dualdiff": ("dualdiff",),
    "jax": ("jax", "jaxlib"),
    "torch": ("torch",),
    "autograd": ("autograd",),
    "micrograd": ("micrograd",),
}


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def build_dualdiff() -> tuple[list[Derivative], dict[str, str]]:
    """dd.derivative and dd.grad of the chain (imported from the checkout if not installed)."""
    try:
        import dualdiff as dd
    except ImportError:  # running from a checkout without installing it
        sys.path.insert(0, str(REPO_ROOT))
        import dualdiff as dd
    import numpy as np

    f = on(dd)
    return [dd.derivative(f), dd.grad(f)], {"dualdiff": dd.__version__, "numpy": np.__version__}


def build_jax() -> tuple[list[Derivative], dict[str, str]]:
    """jax.jvp and jax.grad, eager and under jax.jit, in float64."""
    import jax

    jax.config.update("jax_enable_x64", True)  # float64, as every other row
    import jax.numpy as jnp

    f = on(jnp)

    def jvp_tangent(x: Any) -> Any:
        return jax.jvp(f, (x,), (1.0,))[1]

    jvp_jit, grad_eager, grad_jit = jax.jit(jvp_tangent), jax.grad(f), jax.jit(jax.grad(f))
    cases: list[Derivative] = [
        lambda x: float(jvp_tangent(x)),
        lambda x: float(jvp_jit(x)),
        lambda x: float(grad_eager(x)),
        lambda x: float(grad_jit(x)),
    ]
    return cases, {"jax": jax.__version__, "jaxlib": _dist_version("jaxlib")}


def build_torch() -> tuple[list[Derivative], dict[str, str]]:
    """Forward-mode dual tensors and reverse-mode backward(), float64, eager, one thread."""
    import torch
    import torch.autograd.forward_ad as fwad

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    f = on(torch)
    f64 = torch.float64

    def forward(x: float) -> float:
        with fwad.dual_level():
            d = fwad.make_dual(torch.tensor(x, dtype=f64), torch.tensor(1.0, dtype=f64))
            return fwad.unpack_dual(f(d)).tangent.item()

    def reverse(x: float) -> float:
        xt = torch.tensor(x, dtype=f64, requires_grad=True)
        f(xt).backward()
        return xt.grad.item()

    return [forward, reverse], {"torch": torch.__version__}


def build_autograd() -> tuple[list[Derivative], dict[str, str]]:
    """HIPS autograd's forward mode (make_jvp) and reverse mode (grad)."""
    import autograd
    import autograd.numpy as anp

    f = on(anp)
    jvp, grad = autograd.make_jvp(f), autograd.grad(f)
    return [lambda x: float(jvp(x)(1.0)[1]), lambda x: float(grad(x))], {"autograd": _dist_version("autograd")}


def micrograd_namespace() -> SimpleNamespace:
    """sin, exp, log and tanh written the way micrograd writes its own operations.

    micrograd's ``Value`` only has + - * / ** and relu; these add the missing
    primitives as ``Value`` nodes with a ``_backward`` closure, as its README
    suggests. sqrt is micrograd's own ``** 0.5``.
    """
    from micrograd.engine import Value

    def unary(data: float, v: Any, op: str) -> Any:
        return Value(data, (v,), op)

    def sin(v: Any) -> Any:
        out = unary(math.sin(v.data), v, "sin")

        def _backward() -> None:
            v.grad += math.cos(v.data) * out.grad

        out._backward = _backward
        return out

    def exp(v: Any) -> Any:
        out = unary(math.exp(v.data), v, "exp")

        def _backward() -> None:
            v.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(v: Any) -> Any:
        out = unary(math.log(v.data), v, "log")

        def _backward() -> None:
            v.grad += out.grad / v.data

        out._backward = _backward
        return out

    def tanh(v: Any) -> Any:
        out = unary(math.tanh(v.data), v, "tanh")

        def _backward() -> None:
            v.grad += (1.0 - out.data * out.data) * out.grad

        out._backward = _backward
        return out

    return SimpleNamespace(sin=sin, exp=exp, log=log, sqrt=lambda v: v**0.5, tanh=tanh)


def build_micrograd() -> tuple[list[Derivative], dict[str, str]]:
    """micrograd's reverse mode on Value, with the missing primitives added."""
    from micrograd.engine import Value

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))  # backward() sorts the graph recursively
    f = on(micrograd_namespace())

    def reverse(x: float) -> float:
        v = Value(x)
        f(v).backward()
        return float(v.grad)

    return [reverse], {"micrograd": _dist_version("micrograd")}


BUILDERS: dict[str, Callable[[], tuple[list[Derivative], dict[str, str]]]] = {
    "dualdiff": build_dualdiff,
    "jax": build_jax,
    "torch": build_torch,
    "autograd": build_autograd,
    "micrograd": build_micrograd,
}


# --------------------------------------------------------------------------
# measuring (inside one library's subprocess)
# --------------------------------------------------------------------------


@dataclass
class Measurement:
    """The timing of one case (seconds per call) and the value it returned."""

    spec: CaseSpec
    status: str = "ok"
    value: float | None = None
    first_call_s: float | None = None
    median_s: float | None = None
    q1_s: float | None = None
    q3_s: float | None = None
    repeats: int = 0
    number: int = 0


def _time_calls(fn: Derivative, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn(X0)
    return (time.perf_counter() - t0) / number


def _first_call(m: Measurement, fn: Derivative) -> float | None:
    """Check that the case runs: its first call's result and time; then warm up."""
    try:
        t0 = time.perf_counter()
        m.value = float(fn(X0))
        m.first_call_s = time.perf_counter() - t0
        return min(_time_calls(fn, 1) for _ in range(WARMUP_CALLS))
    except Exception as exc:
        m.status = f"error: {type(exc).__name__}: {exc}"[:200]
        return None


@dataclass(frozen=True)
class Budget:
    """How long to sample: ``repeats`` rounds and ``min_seconds``, within ``max_seconds``.

    A library whose calls are fast gets more than ``repeats`` samples (sampling
    lasts at least ``min_seconds``, so a short burst of load from other
    processes cannot dominate); one whose calls are slow gets fewer once
    ``max_seconds`` have passed, but never fewer than ``min_repeats``.
    """

    repeats: int
    min_repeats: int
    min_seconds: float
    max_seconds: float

    def done(self, rounds: int, elapsed: float) -> bool:
        if rounds < self.min_repeats:
            return False
        if elapsed >= self.max_seconds:
            return True
        return rounds >= self.repeats and elapsed >= self.min_seconds


def measure(specs: list[CaseSpec], fns: list[Derivative], budget: Budget) -> list[dict]:
    """Time the cases round-robin, one sample of each per round, until the budget says stop."""
    ms = [Measurement(s) for s in specs]
    estimates = [_first_call(m, fn) for m, fn in zip(ms, fns)]
    live = [(m, fn, est) for m, fn, est in zip(ms, fns, estimates) if est is not None]
    for m, _, est in live:
        m.number = max(1, math.ceil(SAMPLE_SECONDS / max(est, 1e-9)))
    samples: list[list[float]] = [[] for _ in live]
    start = time.perf_counter()
    rounds = 0
    while live and not budget.done(rounds, time.perf_counter() - start):
        for (m, fn, _), out in zip(live, samples):
            out.append(_time_calls(fn, m.number))
        rounds += 1
    for (m, _, _), s in zip(live, samples):
        m.repeats = len(s)
        m.median_s = statistics.median(s)
        q = statistics.quantiles(s, n=4) if len(s) > 1 else [s[0]] * 3
        m.q1_s, m.q3_s = q[0], q[2]
    return [asdict(m) for m in ms]


def _missing_modules(library: str) -> list[str]:
    if library == "dualdiff":
        return []  # falls back to the checkout
    return [mod for mod in REQUIRED_MODULES[library] if importlib.util.find_spec(mod) is None]


def run_library(library: str, budget: Budget) -> dict:
    """Measure one library's cases with the plain-float baseline interleaved (runs in the subprocess)."""
    specs = [BASELINE, *CASES[library]]
    result: dict[str, Any] = {"library": library, "status": "ok", "versions": {}, "cases": []}
    missing = _missing_modules(library)
    if missing:
        result["status"] = f"not installed ({', '.join(missing)})"
        result["cases"] = [asdict(Measurement(s, status="not installed")) for s in specs[1:]]
        return result
    try:
        fns, result["versions"] = BUILDERS[library]()
    except Exception as exc:
        result["status"] = f"import failed: {type(exc).__name__}: {exc}"[:200]
        result["cases"] = [asdict(Measurement(s, status=result["status"])) for s in specs[1:]]
        return result
    result["cases"] = measure(specs, [on(math), *fns], budget)
    return result


# --------------------------------------------------------------------------
# the parent: one subprocess per library, then the report
# --------------------------------------------------------------------------


def run_child(library: str, args: argparse.Namespace) -> dict:
    """Run ``--only library`` in a fresh interpreter and parse its JSON."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--only", library]
    cmd += ["--repeats", str(args.repeats), "--min-repeats", str(args.min_repeats)]
    cmd += ["--min-seconds", str(args.min_seconds), "--max-seconds", str(args.max_seconds)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=10 * args.max_seconds + 600)
    print(f"  {library}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1])
    print(proc.stderr[-3000:], file=sys.stderr)
    status = f"subprocess failed (exit {proc.returncode})"
    cases = [asdict(Measurement(s, status=status)) for s in CASES[library]]
    return {"library": library, "status": status, "versions": {}, "cases": cases}


def mpmath_reference() -> float | None:
    """f'(X0) by mpmath's numerical differentiation: independent of every library measured.

    f'(x0) is about 3e-140 while f(x0) is about 0.3, so a finite difference needs
    far more than 140 digits; 300 agree with 200 and 400 to all 20 digits shown.
    """
    try:
        import mpmath
    except ImportError:
        return None
    with mpmath.workdps(REFERENCE_DIGITS):
        return float(mpmath.diff(on(mpmath), mpmath.mpf(X0)))


def machine_facts() -> dict[str, str]:
    cpu = cpu_model()
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": f"{cpu} ({os.cpu_count()} logical CPUs)",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "load": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        "revision": _git_revision(),
    }


def _git_revision() -> str:
    """The checkout's commit, marked ``+ uncommitted changes`` when dualdiff/ differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
        diff = subprocess.run(
            ["git", "status", "--porcelain", "--", "dualdiff"], cwd=REPO_ROOT, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + (" + uncommitted changes in dualdiff/" if diff.stdout.strip() else "")


def _fmt_time(s: float | None) -> str:
    if s is None:
        return "—"
    if s >= 1.0:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


@dataclass
class Row:
    """A table row: a measurement with its baselines, reference and target verdict."""

    spec: CaseSpec
    m: dict
    baseline_s: float | None  # plain floats, measured in the same subprocess
    dualdiff_s: float | None  # dualdiff's median for this mode
    dualdiff_ratio: float | None  # dualdiff's ratio to plain floats for this mode
    reference: float | None  # f'(x0) from dualdiff forward mode

    @property
    def ok(self) -> bool:
        return self.m["status"] == "ok" and self.m["median_s"] is not None

    @property
    def is_peer(self) -> bool:
        return self.spec.kind in ("eager", "jit")

    @property
    def ratio(self) -> float | None:
        return self.m["median_s"] / self.baseline_s if self.ok and self.baseline_s else None

    @property
    def speedup(self) -> float | None:
        """Peer time / dualdiff time, as measured (in different subprocesses)."""
        if not (self.ok and self.is_peer and self.dualdiff_s):
            return None
        return self.m["median_s"] / self.dualdiff_s

    @property
    def normalised_speedup(self) -> float | None:
        """Peer ratio / dualdiff ratio: each time divided by the baseline of its own subprocess.

        Insensitive to the machine being busier while one subprocess ran than
        while another did, as long as the load slows the baseline alike.
        """
        ratio = self.ratio
        if ratio is None or not self.is_peer or not self.dualdiff_ratio:
            return None
        return ratio / self.dualdiff_ratio

    def verdict(self) -> str:
        kind, mode = self.spec.kind, self.spec.mode
        if kind == "baseline":
            return "—"
        if kind == "jit":
            return "info only"
        if kind == "dualdiff":
            limit = FORWARD_TARGET_RATIO if mode == "forward" else REVERSE_TARGET_RATIO
            r = self.ratio
            return "n/a" if r is None else f"ratio ≤ {limit:g}: **{_pass(r <= limit)}**"
        limit = FORWARD_TARGET_SPEEDUP if mode == "forward" else REVERSE_TARGET_SPEEDUP
        raw, norm = self.speedup, self.normalised_speedup
        if raw is None:
            return "n/a"
        shown = f"speed-up ≥ {limit:g}x: **{_pass(raw >= limit)}**"
        if norm is not None and (norm >= limit) != (raw >= limit):
            shown += f" (normalised: {_pass(norm >= limit)})"
        return shown

    def check(self) -> str:
        value = self.m["value"]
        if value is None:
            return "—"
        if self.spec.kind == "baseline":
            return f"f(x0) = {value:.6g}"
        if self.reference is None:
            return f"{value:.6e} (no reference)"
        rel = abs(value - self.reference) / abs(self.reference)
        return f"{'agrees' if rel <= AGREE_RTOL else 'DISAGREES'} ({rel:.1e})"

    def cells(self) -> list[str]:
        label, mode = self.spec.label, self.spec.mode
        if not self.ok:
            return [label, mode, self.m["status"], *["—"] * (len(HEADER) - 3)]
        spread = (self.m["q3_s"] - self.m["q1_s"]) / self.m["median_s"]
        return [
            label,
            mode,
            _fmt_time(self.m["median_s"]),
            _fmt_num(self.ratio),
            _fmt_num(self.speedup, "x"),
            _fmt_num(self.normalised_speedup, "x"),
            self.verdict(),
            _fmt_time(self.m["first_call_s"]) if self.spec.kind == "jit" else "—",
            f"{self.m['repeats']} × {self.m['number']} (IQR {spread:.0%})",
            self.check(),
        ]


def _pass(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _fmt_num(x: float | None, suffix: str = "") -> str:
    return "—" if x is None else f"{x:.1f}{suffix}"


def _median_if_ok(case: dict | None) -> float | None:
    return case["median_s"] if case and case["status"] == "ok" else None


def build_rows(results: list[dict]) -> list[Row]:
    """Table rows in a fixed order: baseline, forward (dualdiff, peers, jit), reverse (same)."""
    baselines = {r["library"]: next((c for c in r["cases"] if c["spec"]["kind"] == "baseline"), None) for r in results}
    dd_cases = {c["spec"]["mode"]: c for r in results if r["library"] == "dualdiff" for c in r["cases"]}
    dd_base_s = _median_if_ok(baselines.get("dualdiff"))
    dd_s = {mode: _median_if_ok(c) for mode, c in dd_cases.items()}
    dd_ratio = {mode: t / dd_base_s if t and dd_base_s else None for mode, t in dd_s.items()}
    reference = dd_cases.get("forward", {}).get("value")
    rows = []
    if baselines.get("dualdiff"):
        rows.append(Row(BASELINE, baselines["dualdiff"], dd_base_s, None, None, None))
    mode_rank = {"forward": 0, "reverse": 1}
    kind_rank = {"dualdiff": 0, "eager": 1, "jit": 2}
    order = {lib: i for i, lib in enumerate(LIBRARIES)}
    entries = [(c, r["library"]) for r in results for c in r["cases"] if c["spec"]["kind"] != "baseline"]
    entries.sort(key=lambda e: (mode_rank[e[0]["spec"]["mode"]], kind_rank[e[0]["spec"]["kind"]], order[e[1]]))
    for c, lib in entries:
        spec = CaseSpec(**c["spec"])
        base_s = _median_if_ok(baselines.get(lib))
        rows.append(Row(spec, c, base_s, dd_s.get(spec.mode), dd_ratio.get(spec.mode), reference))
    return rows


HEADER = [
    "Library",
    "Mode",
    "Median time per derivative",
    "Ratio to plain floats",
    "dualdiff speed-up",
    "speed-up, load-normalised",
    "Target",
    "JIT compile (first call)",
    "Samples × calls",
    "f'(x0) vs dualdiff",
]


def render_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def render_targets(rows: list[Row]) -> str:
    """One line per target: dualdiff's ratio per mode, and its speed-up over each eager peer."""
    out = []
    for row in rows:
        if row.spec.kind == "dualdiff":
            out.append(f"- dualdiff {row.spec.mode}: ratio to plain floats {_fmt_num(row.ratio)} — {row.verdict()}")
        elif row.spec.kind == "eager":
            measured = f"{_fmt_num(row.speedup, 'x')} (load-normalised {_fmt_num(row.normalised_speedup, 'x')})"
            out.append(f"- dualdiff vs {row.spec.label}: {measured} — {row.verdict()}")
    return "\n".join(out)


def render_report(results: list[dict], facts: dict[str, str], reference: float | None, args: argparse.Namespace) -> str:
    rows = build_rows(results)
    versions = {k: v for r in results for k, v in r["versions"].items()}
    status = {r["library"]: r["status"] for r in results if r["status"] != "ok"}
    dd_forward = next((r.m["value"] for r in rows if r.spec.kind == "dualdiff" and r.spec.mode == "forward"), None)
    lines = [
        f"Scalar chain: {N_OPS} operations, x0 = {X0}, one derivative per call; "
        f"{args.repeats} samples per case or more (sampling lasts at least {args.min_seconds:g} s per library), "
        f"fewer (but at least {args.min_repeats}) only after {args.max_seconds:g} s.",
        "",
        f"- Date: {facts['date']}; load average (1/5/15 min) at start: {facts['load']}, "
        f"at end: {facts.get('load_end', '?')}",
        f"- CPU: {facts['cpu']}; {facts['platform']}",
        f"- dualdiff checkout: {facts['revision']}",
        f"- Python: {facts['python']}; " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
    ]
    if status:
        lines.append("- Not run: " + "; ".join(f"{k}: {v}" for k, v in status.items()))
    if reference and dd_forward is not None:
        rel = abs(dd_forward - reference) / abs(reference)
        lines.append(
            f"- f'(x0) = {dd_forward:.12e} (dualdiff forward); mpmath.diff at {REFERENCE_DIGITS} digits "
            f"(independent reference) differs by {rel:.1e} relative"
        )
    lines += ["", render_table(rows), "", "Targets:", "", render_targets(rows)]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeats", type=int, default=101, help="samples per case (default 101)")
    p.add_argument("--min-repeats", type=int, default=31, help="never fewer samples than this (default 31)")
    p.add_argument("--min-seconds", type=float, default=5.0, help="sample each library at least this long (default 5)")
    p.add_argument("--max-seconds", type=float, default=120.0, help="time budget per library (default 120)")
    p.add_argument("--quick", action="store_true", help="smoke run: 7 samples, 10 s per library")
    p.add_argument("--only", choices=LIBRARIES, help="measure one library in this process and print JSON")
    p.add_argument("--libraries", default=",".join(LIBRARIES), help="comma-separated subset to run")
    p.add_argument("--json-out", type=Path, help="also write the raw results as JSON to this file")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.min_repeats, args.min_seconds, args.max_seconds = 7, 3, 0.0, 10.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.only:
        budget = Budget(args.repeats, args.min_repeats, args.min_seconds, args.max_seconds)
        print(json.dumps(run_library(args.only, budget)))
        return 0
    n_ops = count_ops()
    if n_ops != N_OPS:
        raise AssertionError(f"chain performs {n_ops} operations, expected {N_OPS}")
    libraries = [lib.strip() for lib in args.libraries.split(",") if lib.strip()]
    unknown = set(libraries) - set(LIBRARIES)
    if unknown:
        raise SystemExit(f"unknown libraries: {sorted(unknown)}; choose from {LIBRARIES}")
    if "dualdiff" not in libraries:
        libraries.insert(0, "dualdiff")  # the reference for ratios and speed-ups
    facts = machine_facts()
    print(f"scalar_chain: {N_OPS} ops; running {', '.join(libraries)} one subprocess each", file=sys.stderr)
    results = [run_child(lib, args) for lib in libraries]
    reference = mpmath_reference()
    facts["load_end"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    if args.json_out:
        payload = {"facts": facts, "reference": reference, "results": results}
        args.json_out.write_text(json.dumps(payload, indent=1))
    print(render_report(results, facts, reference, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
