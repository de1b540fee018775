"""Forward against reverse mode on one function: passes, operations, memory, seconds.

``report = dualdiff.compare(f, x)`` builds f's full Jacobian at x in both
modes and measures, side by side:

* **passes**: forward mode makes ``ceil(n / chunk)`` passes, each carrying
  up to ``chunk`` directions; reverse mode one recording and
  ``ceil(m / chunk)`` sweeps;
* **operations**: element operations under the cost model of
  :mod:`dualdiff.cost` (read from the rule table), per primitive and in
  total, for f alone, one pass of each mode and the whole Jacobian; the
  one-pass ratios OPS(JVP)/OPS(f) and OPS(gradient)/OPS(f) stand beside
  Griewank & Walther's bounds 5/2 and 4. A forward pass is also run with
  every primitive application counted, to check that forward mode applies
  exactly what the tape recorded;
* **memory**: the tape (entries, bytes of stored values) and the peak
  memory traced (:mod:`tracemalloc`) while each mode builds the Jacobian;
* **time**: medians over repeats, with the repeat counts; beside each
  mode's eager time, the time of the same Jacobian by compiled code
  (:func:`dualdiff.compile`: the tangent or adjoint program written out as
  Python, no dispatch per operation) and the compile time, so the report
  shows how much of the eager cost is interpretation and how much arithmetic;
* **agreement**: the largest relative difference between the two Jacobians
  (and between the eager and compiled ones).

>>> import numpy as np, dualdiff as dd
>>> report = dd.compare(lambda x: np.sum(x * x), np.ones(3), timing=False, memory=False)
>>> [(row["mode"], row["how"]) for row in report.rows]
[('forward', '1 pass x 3 directions'), ('reverse', '1 recording + 1 sweep')]
>>> report.max_rel_diff
0.0
"""

from __future__ import annotations

import gc
import json
import math
import statistics
import textwrap
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..modes.tree import check_input, leaves, map_tree
from ..transforms.common import check_chunk, default_chunk
from ..transforms.compiled import compile as compile_function
from ..transforms.forward import jacfwd, jvp
from ..transforms.reverse import jacrev, vjp
from .choice import ModeChoice, describe_forward, describe_reverse, explain_costs
from .memory import TapeSize, tape_of, tape_size
from .recording import Costs, PrimitiveCost, by_primitive, mode_costs, record
from .work import UNIT, Weights

__all__ = ["GRADIENT_BOUND", "JVP_BOUND", "CostReport", "compare"]

#: Griewank & Walther's bound on OPS(JVP) / OPS(f) (their tangent complexity).
JVP_BOUND = 2.5
#: Griewank & Walther's bound on OPS(gradient) / OPS(f): the cheap gradient principle.
GRADIENT_BOUND = 4.0

_MODES = ("f", "jvp", "vjp", "forward", "reverse")


@dataclass
class CostReport:
    """What :func:`compare` measured: one row per mode, and the details behind them.

    ``print(report)`` shows it as text; :attr:`rows`, :meth:`to_dict` and
    :meth:`to_markdown` give it for further use. Times are in seconds,
    memory in bytes, operations in element operations of the cost model
    (:mod:`dualdiff.cost`); None marks what was not measured.

    >>> import numpy as np, dualdiff as dd
    >>> r = dd.compare(lambda x: x[0] * x[1], (2.0, 3.0), timing=False, memory=False)
    >>> r.n, r.m, r.passes, r.sweeps, r.ops("f"), r.ops("forward"), r.ops("reverse")
    (2, 1, 1, 1, 4, 22, 20)
    """

    name: str
    x_text: str
    chunk: int | None
    costs: Costs
    weights: Weights
    primitives: list[PrimitiveCost]
    estimated: list[str]
    tape: TapeSize
    choice: ModeChoice
    max_rel_diff: float
    times: dict[str, float | None] = field(default_factory=dict)
    repeats: dict[str, int] = field(default_factory=dict)
    peak_memory: dict[str, int | None] = field(default_factory=dict)
    #: With ``compare(..., sparsity=...)``: one row per compressed mode (see :func:`_sparse_rows`).
    sparse: list[dict[str, Any]] = field(default_factory=list)
    sparse_choice: ModeChoice | None = None
    #: The largest relative difference of the compiled Jacobians from the eager ones (None: not compiled).
    compiled_max_rel_diff: float | None = None

    # -- the numbers ---------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of input elements."""
        return self.costs.n

    @property
    def m(self) -> int:
        """Number of output elements."""
        return self.costs.m

    @property
    def passes(self) -> int:
        """Forward passes for the Jacobian: ``ceil(n / forward_chunk)``."""
        return self.costs.passes

    @property
    def sweeps(self) -> int:
        """Reverse sweeps for the Jacobian (after one recording): ``ceil(m / reverse_chunk)``."""
        return self.costs.sweeps

    def ops(self, what: str, bookkeeping: bool = True) -> Any:
        """Element operations of ``what``: "f", "jvp", "vjp" (one pass each), "forward" or "reverse" (Jacobian)."""
        name = {"forward": "jacfwd", "reverse": "jacrev"}.get(what, what)
        if name not in ("f", "jvp", "vjp", "jacfwd", "jacrev"):
            raise ValueError(f"what must be one of 'f', 'jvp', 'vjp', 'forward', 'reverse', got {what!r}")
        return self.costs.ops(name, self.weights, bookkeeping=bookkeeping)

    def ratio(self, what: str, bookkeeping: bool = False) -> float:
        """``ops(what) / ops("f")``: for "jvp" and "vjp" the quantities the textbook bounds speak of."""
        base = self.ops("f")
        return self.ops(what, bookkeeping) / base if base else math.nan

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One dict per mode: how it builds the Jacobian and what that costs."""
        c = self.costs
        f_ops, f_time = self.ops("f"), self.times.get("f")
        out = []
        for mode in ("forward", "reverse"):
            fwd = mode == "forward"
            ops = self.ops(mode)
            t = self.times.get(mode)
            tc = self.times.get("compiled_" + mode)
            out.append(
                {
                    "mode": mode,
                    "how": describe_forward(c.passes, c.n, c.forward_chunk)
                    if fwd
                    else describe_reverse(c.sweeps, c.m, c.reverse_chunk),
                    "passes": c.passes if fwd else c.sweeps,
                    "recordings": 0 if fwd else 1,
                    "chunk": c.forward_chunk if fwd else c.reverse_chunk,
                    "directions": c.n if fwd else c.m,
                    "applications": c.forward_applications if fwd else c.reverse_applications,
                    "ops": ops,
                    "bookkeeping": c.bookkeeping["jacfwd" if fwd else "jacrev"],
                    "ops_per_f": ops / f_ops if f_ops else math.nan,
                    "time_s": t,
                    "time_per_f": t / f_time if t is not None and f_time else None,
                    "compiled_time_s": tc,
                    "compiled_time_per_f": tc / f_time if tc is not None and f_time else None,
                    "peak_bytes": self.peak_memory.get(mode),
                    "stored_bytes": 0 if fwd else self.tape.value_bytes,
                }
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """Everything in the report as plain JSON-ready values.

        >>> import dualdiff as dd
        >>> d = dd.compare(lambda x: x * x, 3.0, timing=False, memory=False).to_dict()
        >>> d["n"], d["m"], d["one_pass"]["jvp"]["ops"], d["one_pass"]["jvp"]["bound"]
        (1, 1, 10, 2.5)
        """
        c = self.costs

        def work(name: str) -> dict[str, Any]:
            w = getattr(c, name)
            d = dict(w._asdict())
            d["total"] = c.ops(name, self.weights)
            if name != "f":
                d["bookkeeping"] = c.bookkeeping[name]
            return d

        return {
            "function": self.name,
            "x": self.x_text,
            "n": c.n,
            "m": c.m,
            "chunk": self.chunk,
            "forward_chunk": c.forward_chunk,
            "reverse_chunk": c.reverse_chunk,
            "passes": c.passes,
            "sweeps": c.sweeps,
            "rows": self.rows,
            "ops": {name: work(name) for name in ("f", "jvp", "vjp", "jacfwd", "jacrev")},
            "one_pass": {
                "jvp": self._one_pass("jvp", JVP_BOUND),
                "vjp": self._one_pass("vjp", GRADIENT_BOUND),
            },
            "weights": dict(self.weights._asdict()),
            "primitives": [
                {
                    "name": p.name,
                    "applications": p.applications,
                    "elements": p.elements,
                    "f": p.evaluate.total(self.weights),
                    "jvp": (p.evaluate + p.partials + p.tangent).total(self.weights),
                    "vjp": (p.evaluate + p.partials + p.adjoint).total(self.weights),
                    "stored": p.stored,
                    "estimated": p.estimated,
                }
                for p in self.primitives
            ],
            "estimated": list(self.estimated),
            "tape": dict(self.tape._asdict()),
            "peak_memory": dict(self.peak_memory),
            "times": dict(self.times),
            "repeats": dict(self.repeats),
            "max_rel_diff": self.max_rel_diff,
            "compiled_max_rel_diff": self.compiled_max_rel_diff,
            "choice": {"mode": self.choice.mode, "reason": self.choice.reason},
            "sparse": self.sparse,
            "sparse_choice": None
            if self.sparse_choice is None
            else {"mode": self.sparse_choice.mode, "reason": self.sparse_choice.reason},
        }

    def _one_pass(self, what: str, bound: float) -> dict[str, Any]:
        return {
            "ops": self.ops(what, bookkeeping=False),
            "bookkeeping": self.costs.bookkeeping[what],
            "ratio": self.ratio(what),
            "ratio_with_bookkeeping": self.ratio(what, bookkeeping=True),
            "bound": bound,
        }

    # -- rendering -----------------------------------------------------------
    def _header(self) -> str:
        default = default_chunk(max(self.n, self.m))  # what compare used when chunk is None
        chunk = f"chunk {self.chunk}" if self.chunk is not None else f"chunk {default} (default)"
        return f"{self.name}: R^{self.n:,} -> R^{self.m:,} at x = {self.x_text}; {chunk}"

    def _table(self) -> tuple[list[str], list[list[str]]]:
        compiled = any(r["compiled_time_s"] is not None for r in self.rows)
        head = ["mode", "how", "applications", "ops", "ops/f", "time", "time/f"]
        head += ["compiled", "compiled/f"] if compiled else []
        head += ["peak memory", "tape"]
        body = []
        for r in self.rows:
            body.append(
                [
                    r["mode"],
                    r["how"],
                    f"{r['applications']:,}",
                    f"{r['ops']:,}",
                    _ratio(r["ops_per_f"]),
                    _seconds(r["time_s"]),
                    _ratio(r["time_per_f"]),
                    *([_seconds(r["compiled_time_s"]), _ratio(r["compiled_time_per_f"])] if compiled else []),
                    _bytes(r["peak_bytes"]),
                    "-" if r["mode"] == "forward" else f"{self.tape.entries:,} entries, {_bytes(r['stored_bytes'])}",
                ]
            )
        return head, body

    def _notes(self) -> list[tuple[str, str]]:
        grad = "gradient" if self.m == 1 else "VJP"
        w = "" if self.weights == UNIT else f", weights {tuple(self.weights)}"
        notes = [
            (
                "f alone",
                f"{self.ops('f'):,} ops in {self.costs.primitives:,} primitive applications"
                + (f", {_seconds(self.times['f'])}" if self.times.get("f") is not None else ""),
            ),
            (
                "JVP",
                f"OPS(JVP)/OPS(f) = {self.ratio('jvp'):.3g} ({self.ratio('jvp', True):.3g} with bookkeeping);"
                f" Griewank & Walther's bound {JVP_BOUND:g}{w}",
            ),
            (
                grad,
                f"OPS({grad})/OPS(f) = {self.ratio('vjp'):.3g} ({self.ratio('vjp', True):.3g} with bookkeeping);"
                f" Griewank & Walther's bound {GRADIENT_BOUND:g}{w}",
            ),
            ("agreement", f"the Jacobians differ by at most {self.max_rel_diff:.3g} (relative)"),
        ]
        if self.times.get("compile") is not None:
            diff = self.compiled_max_rel_diff
            notes.append(
                (
                    "compiled",
                    f"dd.compile traced f and wrote its tangent and adjoint code in {_seconds(self.times['compile'])}"
                    + (
                        f"; its Jacobians differ from eager mode's by at most {diff:.3g} (relative)"
                        if diff is not None
                        else ""
                    ),
                )
            )
        if self.estimated:
            notes.append(("estimated", "no exact cost model for " + ", ".join(self.estimated)))
        notes.append(("auto mode", self.choice.reason))
        if self.sparse_choice is not None:
            notes.append(("sparse auto", self.sparse_choice.reason))
        if self.repeats:
            counts = set(self.repeats.values())
            if len(counts) == 1:
                k = counts.pop()
                notes.append(("times", f"medians of {k} repeat{'' if k == 1 else 's'} each"))
            else:
                notes.append(("times", f"medians of repeats: {_repeat_text(self.repeats)}"))
        notes.append(("ops", "element operations of the cost model (dualdiff.cost), bookkeeping included"))
        return notes

    def _primitive_table(self) -> tuple[list[str], list[list[str]]]:
        head = ["primitive", "applications", "elements", "OPS(f)", "OPS(JVP)", "OPS(VJP)", "JVP/f", "VJP/f"]
        body = []
        tot = [0, 0, 0, 0, 0]
        w = self.weights
        for p in self.primitives:
            ev = p.evaluate.total(w)
            j = (p.evaluate + p.partials + p.tangent).total(w)
            v = (p.evaluate + p.partials + p.adjoint).total(w)
            for i, val in enumerate((p.applications, p.elements, ev, j, v)):
                tot[i] += val
            name = p.name + (" (estimated)" if p.estimated else "")
            body.append([name, f"{p.applications:,}", f"{p.elements:,}", f"{ev:,}", f"{j:,}", f"{v:,}"])
            body[-1] += [_ratio(j / ev if ev else math.nan), _ratio(v / ev if ev else math.nan)]
        body.append(["total", *(f"{t:,}" for t in tot)])
        body[-1] += [_ratio(tot[3] / tot[2] if tot[2] else math.nan), _ratio(tot[4] / tot[2] if tot[2] else math.nan)]
        return head, body

    def to_text(self, primitives: bool = True) -> str:
        """The report as aligned text (what ``print(report)`` shows)."""
        head, body = self._table()
        lines = [f"dualdiff.compare: {self._header()}", "", *_aligned(head, body, right_from=2), ""]
        if self.sparse:
            head, body = _sparse_table(self.sparse)
            lines += ["compressed by coloring (scipy.sparse result):", *_aligned(head, body, right_from=2), ""]
        notes = self._notes()
        width = max(len(k) for k, _ in notes) + 2
        for k, v in notes:
            wrapped = textwrap.wrap(v, max(100 - width, 40), break_on_hyphens=False)
            lines += [f"{k + ':':<{width}}{wrapped[0]}", *(" " * width + w for w in wrapped[1:])]
        if primitives:
            head, body = self._primitive_table()
            lines += ["", "per primitive, one pass of each mode (OPS without bookkeeping):"]
            lines += ["  " + line for line in _aligned(head, body, right_from=1)]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def to_markdown(self) -> str:
        """The report as GitHub Markdown: the mode table, the notes, the per-primitive table.

        >>> import dualdiff as dd
        >>> md = dd.compare(lambda x: x * x, 3.0, timing=False, memory=False).to_markdown()
        >>> md.splitlines()[2]
        '| mode | how | applications | ops | ops/f | time | time/f | peak memory | tape |'
        """
        head, body = self._table()
        lines = [f"**dualdiff.compare**: {self._header()}", "", *_markdown(head, body, right_from=2), ""]
        if self.sparse:
            head, body = _sparse_table(self.sparse)
            lines += ["Compressed by coloring (scipy.sparse result):", "", *_markdown(head, body, right_from=2), ""]
        lines += [f"- **{k}**: {v}" for k, v in self._notes()]
        head, body = self._primitive_table()
        lines += ["", "Per primitive, one pass of each mode (OPS without bookkeeping):", ""]
        lines += _markdown(head, body, right_from=1)
        return "\n".join(lines)

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=2, default=_json_default)


# --------------------------------------------------------------------------
# formatting helpers
# --------------------------------------------------------------------------


def _json_default(v: Any) -> Any:
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    return str(v)


def _seconds(t: float | None) -> str:
    if t is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}"
    return f"{t * 1e9:.3g} ns"


def _bytes(b: int | None) -> str:
    if b is None:
        return "-"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b} B"


def _ratio(r: float | None) -> str:
    if r is None or (isinstance(r, float) and math.isnan(r)):
        return "-"
    return f"{r:.3g}"


def _repeat_text(repeats: dict[str, int]) -> str:
    names = {
        "f": "f",
        "jvp": "JVP",
        "vjp": "VJP",
        "forward": "forward",
        "reverse": "reverse",
        "compiled_forward": "compiled forward",
        "compiled_reverse": "compiled reverse",
    }
    return ", ".join(f"{names.get(k, k)} {v}" for k, v in repeats.items())


def _aligned(head: list[str], body: list[list[str]], right_from: int) -> list[str]:
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i >= right_from else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [line(head).rstrip(), *(line(r).rstrip() for r in body)]


def _markdown(head: list[str], body: list[list[str]], right_from: int) -> list[str]:
    rule = ["---:" if i >= right_from else "---" for i in range(len(head))]
    return ["| " + " | ".join(r) + " |" for r in [head, rule, *body]]


def _describe_x(x: Any) -> str:
    def one(a: Any) -> str:
        if isinstance(a, np.ndarray):
            return f"{a.dtype}[{','.join(map(str, a.shape))}]"
        return type(a).__name__

    if isinstance(x, (tuple, list)):
        return "(" + ", ".join(_describe_x(e) for e in x) + ("," if len(x) == 1 else "") + ")"
    return one(x)


def _function_name(f: Any) -> str:
    name = getattr(f, "__name__", None)
    return "f" if not name or name == "<lambda>" else name


# --------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------


def _time(fn: Callable[[], Any], repeat: int | None, min_time: float = 2e-3) -> tuple[float, int, Any]:
    """(median seconds per call, repeats, the first call's result).

    Each repeat calls ``fn`` enough times to last ``min_time`` (for fast
    functions); with ``repeat=None`` slow functions get fewer repeats.
    """
    start = time.perf_counter()
    result = fn()
    first = time.perf_counter() - start
    if repeat is None:
        repeat = 5 if first < 0.2 else (3 if first < 2.0 else 1)
    if repeat == 1 and first >= min_time:
        return first, 1, result
    loops = 1 if first >= min_time else min(int(min_time / max(first, 1e-7)) + 1, 100_000)
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - t0) / loops)
    return statistics.median(samples), repeat, result


def _peak(fn: Callable[[], Any]) -> int:
    """Peak memory traced while ``fn`` runs, above what was allocated before."""
    gc.collect()
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not tracing:
            tracemalloc.stop()
    return max(peak - base, 0)


def _max_rel_diff(a: Any, b: Any) -> float:
    """Largest ``|a - b| / max(|a|, |b|)`` over matching entries (noise below eps * max|J| ignored)."""
    la, lb = leaves(a), leaves(b)
    if len(la) != len(lb):
        return math.inf
    try:
        arrs = [(np.asarray(u, dtype=complex), np.asarray(v, dtype=complex)) for u, v in zip(la, lb)]
    except (TypeError, ValueError):
        return math.nan
    if any(u.shape != v.shape for u, v in arrs):
        return math.inf
    scale = max((max(np.max(np.abs(u), initial=0.0), np.max(np.abs(v), initial=0.0)) for u, v in arrs), default=0.0)
    floor = max(scale * np.finfo(float).eps, np.finfo(float).tiny)
    worst = 0.0
    for u, v in arrs:
        if u.size:
            d = np.abs(u - v) / np.maximum(np.maximum(np.abs(u), np.abs(v)), floor)
            worst = max(worst, float(np.nanmax(d)) if not np.all(np.isnan(d)) else math.nan)
    return worst


def _ones_like(tree: Any) -> Any:
    return map_tree(lambda a: np.ones_like(a, dtype=float) if np.ndim(a) else 1.0, tree)


def compare(
    f: Callable[[Any], Any],
    x: Any,
    *,
    chunk: int | None = None,
    repeat: int | None = None,
    timing: bool = True,
    memory: bool = True,
    weights: Weights = UNIT,
    name: str | None = None,
    sparsity: Any = None,
    compiled: bool = True,
) -> CostReport:
    """Build f's Jacobian at ``x`` in forward and in reverse mode, and measure both.

    ``chunk`` directions go through each forward pass and each reverse sweep
    (default: the library's, ``jacfwd``/``jacrev``'s); ``repeat`` sets the
    repeats of every timing (default: 5, fewer for calls slower than 0.2 s);
    ``timing=False`` and ``memory=False`` skip the timings and the
    traced-memory runs. Both modes' operation counts come from f's one
    recorded program (:func:`dualdiff.wengert`), which both modes apply.
    ``weights`` weigh moves, adds, mults and nonlinear operations.
    ``sparsity`` (a pattern, or ``"auto"``: detected from f's program) adds
    the compressed Jacobians of both modes: colors, passes, operations,
    time and agreement with the dense one (``report.sparse``), and which of
    them ``dd.jacobian(f, sparsity=...)`` takes (``report.sparse_choice``).
    ``compiled`` (with ``timing``) also times both Jacobians by compiled
    code (:func:`dualdiff.compile`) and its compile time.

    >>> import numpy as np, dualdiff as dd
    >>> r = dd.compare(lambda x: np.sum(x ** 3), np.ones(50), chunk=1, timing=False, memory=False)
    >>> r.passes, r.sweeps, r.choice.mode
    (50, 1, 'reverse')
    """
    if not callable(f):
        raise TypeError(f"compare needs a callable f, got {type(f).__name__}: {f!r:.80}")
    check_chunk(chunk)
    if repeat is not None and (not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1):
        raise ValueError(f"repeat must be a positive int or None, got {repeat!r}")
    if not isinstance(weights, Weights):
        raise TypeError(f"weights must be a dualdiff.cost.Weights, got {type(weights).__name__}")
    x = check_input("x", x)
    rec = record(f, x)
    k = chunk or default_chunk(max(rec.n, rec.m))  # the one chunk both modes and the model use
    costs = mode_costs(rec, k)
    tape = tape_size(tape_of(f, x))  # measured before the sweep frees it
    choice = explain_costs(costs, weights)
    primitives, estimated = by_primitive(rec), sorted(rec.estimated)
    del rec  # the program is no longer needed: free it before measuring memory

    fwd, rev = jacfwd(f, k), jacrev(f, k)
    v, y_bar = _ones_like(x), None
    compiled_diff: float | None = None
    times: dict[str, float | None] = {}
    repeats: dict[str, int] = {}
    if timing:
        y = f(x)
        y_bar = _ones_like(y)

        def one_vjp() -> Any:
            return vjp(f, x)[1](y_bar)

        jobs: dict[str, Callable[[], Any]] = {
            "f": lambda: f(x),
            "jvp": lambda: jvp(f, x, v),
            "vjp": one_vjp,
            "forward": lambda: fwd(x),
            "reverse": lambda: rev(x),
        }
        results = {}
        for key, job in jobs.items():
            times[key], repeats[key], results[key] = _time(job, repeat)
        J_fwd, J_rev = results["forward"], results["reverse"]
        if compiled:
            compiled_diff = _time_compiled(f, x, k, repeat, times, repeats, J_fwd, J_rev)
    else:
        J_fwd, J_rev = fwd(x), rev(x)
    peak: dict[str, int | None] = {}
    sparse_rows: list[dict[str, Any]] = []
    sparse_choice = None
    if sparsity is not None:
        sparse_choice, sparse_rows = _sparse_rows(f, x, sparsity, chunk, weights, timing, repeat, J_fwd)
    if memory:
        peak = {"f": _peak(lambda: f(x)), "forward": _peak(lambda: fwd(x)), "reverse": _peak(lambda: rev(x))}

    return CostReport(
        name=name or _function_name(f),
        x_text=_describe_x(x),
        chunk=chunk,
        costs=costs,
        weights=weights,
        primitives=primitives,
        estimated=estimated,
        tape=tape,
        choice=choice,
        max_rel_diff=_max_rel_diff(J_fwd, J_rev),
        times=times,
        repeats=repeats,
        peak_memory=peak,
        sparse=sparse_rows,
        sparse_choice=sparse_choice,
        compiled_max_rel_diff=compiled_diff,
    )


def _sparse_rows(
    f: Callable[[Any], Any],
    x: Any,
    sparsity: Any,
    chunk: int | None,
    weights: Weights,
    timing: bool,
    repeat: int | None,
    dense: Any,
) -> tuple[ModeChoice, list[dict[str, Any]]]:
    """Both compressed Jacobians, costed, timed and checked against the dense one."""
    from ..transforms.chunked import SparseJacobian, compressed_jacobian, from_program
    from ..transforms.coloring import as_pattern
    from .choice import explain_sparse
    from .sparse import sparse_costs

    rec = record(f, x)
    info = from_program(rec.program) if isinstance(sparsity, str) else SparseJacobian(as_pattern(sparsity))
    costs = sparse_costs(rec, info.pattern, info.coloring("column"), info.coloring("row"), chunk)
    choice = explain_sparse(costs, weights)
    reference = np.concatenate([np.reshape(np.asarray(j), (-1,)) for j in leaves(dense)])
    rows = []
    for mode, colors, passes, k in (
        ("forward", costs.col_colors, costs.passes, costs.forward_chunk),
        ("reverse", costs.row_colors, costs.sweeps, costs.reverse_chunk),
    ):
        c = info.coloring("column" if mode == "forward" else "row")

        def job() -> Any:
            return compressed_jacobian(f, x, info.pattern, c, chunk, None, False)

        t, reps, J = _time(job, repeat) if timing else (None, 0, job())
        rows.append(
            {
                "mode": mode,
                "colors": colors,
                "how": describe_forward(passes, colors, k)
                if mode == "forward"
                else describe_reverse(passes, colors, k),
                "passes": passes,
                "ops": costs.ops("jacfwd" if mode == "forward" else "jacrev", weights),
                "nnz": costs.nnz,
                "time_s": t,
                "repeats": reps,
                "max_rel_diff": _max_rel_diff(np.reshape(J.toarray(), (-1,)), reference),
            }
        )
    return choice, rows


def _sparse_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    head = ["mode", "how", "colors", "nonzeros", "ops", "time", "vs dense"]
    body = [
        [
            r["mode"],
            r["how"],
            f"{r['colors']:,}",
            f"{r['nnz']:,}",
            f"{r['ops']:,}",
            _seconds(r["time_s"]),
            f"{r['max_rel_diff']:.2g}",
        ]
        for r in rows
    ]
    return head, body


def _time_compiled(
    f: Callable[[Any], Any],
    x: Any,
    chunk: int,
    repeat: int | None,
    times: dict[str, float | None],
    repeats: dict[str, int],
    J_fwd: Any,
    J_rev: Any,
) -> float:
    """Time both Jacobians by compiled code, and its compile time; return their difference from eager mode's."""
    cf = compile_function(f)
    cf.jacobian(x, mode="forward", chunk=chunk)
    cf.jacobian(x, mode="reverse", chunk=chunk)
    times["compile"] = cf.compile_seconds
    jobs = {
        "compiled_forward": lambda: cf.jacobian(x, mode="forward", chunk=chunk),
        "compiled_reverse": lambda: cf.jacobian(x, mode="reverse", chunk=chunk),
    }
    results = {}
    for key, job in jobs.items():
        times[key], repeats[key], results[key] = _time(job, repeat)
    return max(_max_rel_diff(J_fwd, results["compiled_forward"]), _max_rel_diff(J_rev, results["compiled_reverse"]))
