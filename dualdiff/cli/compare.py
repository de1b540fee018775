"""``dualdiff compare``: forward against reverse mode on one function, over sizes.

::

    dualdiff compare                                   # the full report: rosenbrock at n = 10
    dualdiff compare --function rosenbrock --n 10,100,1000,10000 --plot cost.png
    dualdiff compare --sweep --n 1,10,100,1000 --m 1,10,100,1000 --plot crossover.png
    dualdiff compare --function mypackage.models:energy --n 100,1000
    dualdiff compare --list

One size prints :func:`dualdiff.compare`'s whole report. Several sizes (a
list for ``--n`` or ``--m``; ``--sweep`` takes the grid of both) print one
row per size: passes, element operations of the cost model and median times
of each mode's Jacobian, and which mode wins; ``--plot`` draws time and
operation count against the sizes (matplotlib, the optional extra
``plot``: ``pip install 'dualdiff-ad[plot]'``): lines against n or m, or for a grid two maps of
forward/reverse whose colour changes where the cheaper mode does.

``--function`` takes a built-in family (``--list``) or ``module:function``,
a function of one vector x of ``--n`` elements, imported like ``python -m``
would (the current directory first). Progress goes to stderr once a sweep
has run for two seconds.

>>> family, _ = resolve_function("rosenbrock")
>>> f, x = family.make(3, None)
>>> float(f(x)) > 0
True
"""

from __future__ import annotations

import argparse
import csv
import importlib
import importlib.util
import io
import json
import math
import os
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from ..cost.report import CostReport, _bytes, _ratio, _seconds, compare
from ..errors import DomainError, NoRuleError
from ..extras import missing_extra
from ..transforms.common import DEFAULT_CHUNK
from .common import CommandError

__all__ = ["FAMILIES", "Family", "Progress", "plot_sweep", "register", "resolve_function", "run_compare"]

FORMATS = ("text", "markdown", "csv", "json")
#: ``--sweep`` sizes when --n / --m are not given.
SWEEP_SIZES = (1, 10, 100, 1000)

#: Bounds, so that no request hangs or exhausts memory (refused with status 2, stated in --help):
#: each size, the Jacobian's elements per size (n * m), the sizes per list, the grid, the repeats.
MAX_SIZE = 10_000
MAX_JACOBIAN = 1_000_000
MAX_SIZES = 16
MAX_CELLS = 64
MAX_REPEAT = 100


def _fail(message: str, status: int = 2) -> Exception:
    """A :class:`~dualdiff.cli.common.CommandError` to raise."""
    return CommandError(message, status)


# --------------------------------------------------------------------------
# the functions to compare
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """A function to compare at several sizes: ``make(n, m) -> (f, x)``.

    ``takes_n`` / ``takes_m`` say which sizes it has (a size it does not take
    is passed as None); ``signature`` reads like ``"R^n -> R"``.

    >>> FAMILIES["fanout"].signature
    'R -> R^m'
    """

    name: str
    signature: str
    formula: str
    takes_n: bool
    takes_m: bool
    make: Callable[[Any, Any], tuple[Callable[[Any], Any], Any]]
    min_n: int = 1


def point(n: int) -> np.ndarray:
    """The point built-in and user functions are evaluated at: n values in [0.5, 1.5].

    >>> point(3).round(3)
    array([1.421, 1.455, 1.071])
    """
    return 1.0 + 0.5 * np.sin(np.arange(1, n + 1))


def _rosenbrock(x: Any) -> Any:
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def _logsumexp(x: Any) -> Any:
    return np.log(np.sum(np.exp(x)))


def _weights(m: int) -> np.ndarray:
    return np.linspace(0.5, 1.5, m)


def _make_fanout(n: Any, m: int) -> tuple[Callable[[Any], Any], Any]:
    w = _weights(m)

    def fanout(x: Any) -> Any:
        return np.sin(w * x) + w * x**2

    return fanout, 0.7


def _make_mixer(n: int, m: int) -> tuple[Callable[[Any], Any], Any]:
    w = _weights(m)

    def mixer(x: Any) -> Any:
        s1 = np.sum(np.sin(x))
        s2 = np.sum(x * x) / n
        return np.cos(w * s1) * (1 + w * s2)

    return mixer, point(n)


#: The built-in functions, by name.
FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "rosenbrock",
            "R^n -> R",
            "sum(100 (x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)",
            True,
            False,
            lambda n, m: (_rosenbrock, point(n)),
            min_n=2,
        ),
        Family("logsumexp", "R^n -> R", "log(sum(exp(x)))", True, False, lambda n, m: (_logsumexp, point(n))),
        Family("fanout", "R -> R^m", "y_j = sin(w_j x) + w_j x^2", False, True, _make_fanout),
        Family(
            "mixer",
            "R^n -> R^m",
            "y_j = cos(w_j sum(sin x)) (1 + w_j sum(x^2) / n)",
            True,
            True,
            _make_mixer,
        ),
    )
}


def resolve_function(spec: str) -> tuple[Family, str]:
    """A built-in family by name, or ``module:function`` imported; returns (family, display name).

    >>> resolve_function("numpy:sum")[0].signature
    'R^n -> R^?'
    """
    if spec in FAMILIES:
        return FAMILIES[spec], spec
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        names = ", ".join(FAMILIES)
        raise _fail(f"--function {spec}: not a built-in function ({names}) nor module:function")
    if not all(p.isidentifier() for p in module_name.split(".")) or not all(p.isidentifier() for p in attr.split(".")):
        raise _fail(
            f"--function {spec}: expected module:function with dotted Python names (like mypackage.models:energy)"
        )
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as e:  # ImportError, or anything the module's own code raises on import
        text = " ".join(str(e).split())[:200]
        raise _fail(f"--function {spec}: cannot import module {module_name!r} ({type(e).__name__}: {text})") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except Exception:  # AttributeError, or a module __getattr__ raising something else
            raise _fail(f"--function {spec}: module {module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise _fail(f"--function {spec}: {attr} is a {type(obj).__name__}, not a function")
    fn = obj
    return Family(spec, "R^n -> R^?", f"{attr}(x) from {module_name}", True, False, lambda n, m: (fn, point(n))), spec


# --------------------------------------------------------------------------
# progress on stderr
# --------------------------------------------------------------------------


class Progress:
    """A plain-text progress bar on ``stream``, shown once ``delay`` seconds have passed.

    On a terminal it redraws one line; otherwise it prints a line at most
    every ``delay`` seconds.

    >>> p = Progress(3, io.StringIO(), delay=0.0)
    >>> p.step("n=1"); p.step("n=10"); p.step("n=100"); p.done()
    >>> "3/3" in p.stream.getvalue()
    True
    """

    def __init__(self, total: int, stream: TextIO, delay: float = 2.0, width: int = 24) -> None:
        self.total = total
        self.stream = stream
        self.delay = delay
        self.width = width
        self.count = 0
        self.start = time.perf_counter()
        self.shown = False
        self.last = -math.inf
        isatty = getattr(stream, "isatty", None)
        self.tty = bool(isatty and isatty())

    def step(self, label: str) -> None:
        """Count one item done (``label`` says which) and redraw if it is time to."""
        self.count += 1
        now = time.perf_counter()
        elapsed = now - self.start
        if elapsed < self.delay or (not self.tty and now - self.last < self.delay and self.count < self.total):
            return
        filled = self.width * self.count // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        text = f"compare [{bar}] {self.count}/{self.total}  {label}  {elapsed:.1f} s"
        if self.tty:
            self.stream.write("\r" + text.ljust(79))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.shown = True
        self.last = now

    def done(self) -> None:
        """Finish the bar's line (if it was ever shown)."""
        if self.shown and self.tty:
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------------
# the subcommand
# --------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add the ``compare`` subcommand to the ``dualdiff`` command's ``subparsers``.

    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="dualdiff")
    >>> register(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["compare", "--sweep"]).sweep
    True
    """
    listing = "; ".join(f"{f.name} ({f.signature}): {f.formula}" for f in FAMILIES.values())
    p = subparsers.add_parser(
        "compare",
        help="forward against reverse mode: passes, operations, memory and time, over sizes",
        description=(
            "Build a function's Jacobian in forward and in reverse mode and compare what each costs: "
            "passes, element operations of the cost model, memory and median time. One size prints the "
            "whole report; several sizes one row each, and --plot draws them. Built-in functions: "
            f"{listing}."
        ),
        epilog=(
            f"Bounds (a request beyond them is refused with exit status 2): each size at most {MAX_SIZE:,}; "
            f"n * m at most {MAX_JACOBIAN:,} Jacobian elements; at most {MAX_SIZES} sizes in --n or --m and "
            f"{MAX_CELLS} cells in a sweep; --repeat at most {MAX_REPEAT}. "
            "Exit status: 0 success, 2 command-line error, 1 the function failed."
        ),
    )
    p.add_argument(
        "--function",
        "-f",
        metavar="NAME",
        help="a built-in function or module:function of a vector x (default: rosenbrock; mixer with --sweep)",
    )
    p.add_argument(
        "--n", metavar="SIZES", help=f"input sizes, comma-separated, e.g. 10,100,1000 (each at most {MAX_SIZE:,})"
    )
    p.add_argument(
        "--m",
        metavar="SIZES",
        help=f"output sizes, for functions with m outputs (fanout, mixer; each at most {MAX_SIZE:,})",
    )
    p.add_argument(
        "--sweep",
        action="store_true",
        help=f"the grid of --n by --m sizes (default {','.join(map(str, SWEEP_SIZES))} each) on mixer",
    )
    p.add_argument(
        "--chunk",
        type=int,
        metavar="K",
        help=f"directions per pass and cotangents per sweep (default: up to {DEFAULT_CHUNK}, see dd.default_chunk)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        metavar="R",
        help=f"timing repeats (default 5, fewer for slow calls; at most {MAX_REPEAT})",
    )
    p.add_argument("--plot", metavar="PATH", help="plot time and operations against the sizes (PNG, SVG, PDF)")
    p.add_argument("--format", choices=FORMATS, default="text", help="how to print the table (default text)")
    p.add_argument("--no-memory", action="store_true", help="skip the traced-memory runs (faster sweeps)")
    p.add_argument(
        "--no-compiled",
        action="store_true",
        help="skip the Jacobians by compiled code (dd.compile) and their compile time",
    )
    p.add_argument("--list", action="store_true", help="list the built-in functions and exit")
    p.set_defaults(handler=run_compare)


def _sizes(text: str | None, option: str, minimum: int) -> list[int] | None:
    if text is None:
        return None
    sizes = []
    parts = text.split(",")
    if len(parts) > MAX_SIZES:
        raise _fail(f"{option}: {len(parts)} sizes; at most {MAX_SIZES} are allowed")
    for part in parts:
        part = part.strip().replace("_", "")
        try:
            number = float(part) if len(part) <= 32 else math.nan
            value = int(number) if part and math.isfinite(number) and number.is_integer() else int(part)
        except (ValueError, OverflowError):
            raise _fail(f"{option} expects comma-separated whole numbers, got {text!r}") from None
        if value < minimum:
            raise _fail(f"{option} {value}: sizes must be at least {minimum}")
        if value > MAX_SIZE:
            raise _fail(f"{option} {value:,}: sizes must be at most {MAX_SIZE:,}")
        sizes.append(value)
    if not sizes:
        raise _fail(f"{option} needs at least one size")
    return sizes


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:300]


@dataclass
class _Cell:
    n: int
    m: int
    report: CostReport


def run_compare(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``dualdiff compare`` (see :func:`register`); returns the exit status.

    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="dualdiff")
    >>> register(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["compare", "--n", "5", "--repeat", "1", "--no-memory", "--format", "json"])
    >>> buf = io.StringIO()
    >>> run_compare(args, buf), json.loads(buf.getvalue())["passes"]
    (0, 1)
    """
    if args.list:
        for fam in FAMILIES.values():
            print(f"{fam.name:<11} {fam.signature:<11} {fam.formula}", file=out)
        return 0
    if args.chunk is not None and args.chunk < 1:
        raise _fail(f"--chunk must be a positive number of directions, got {args.chunk}")
    if args.repeat is not None and not 1 <= args.repeat <= MAX_REPEAT:
        raise _fail(f"--repeat must be from 1 to {MAX_REPEAT}, got {args.repeat}")
    family, name = resolve_function(args.function or ("mixer" if args.sweep else "rosenbrock"))
    ns = _sizes(args.n, "--n", family.min_n)
    ms = _sizes(args.m, "--m", 1)
    if args.sweep and not (family.takes_n and family.takes_m):
        raise _fail(
            f"--sweep takes the grid of n inputs by m outputs, but {name} is {family.signature}; "
            "use a function of both (mixer), or --n / --m alone"
        )
    if ms is not None and not family.takes_m:
        raise _fail(f"--m: {name} is {family.signature}, its output size is fixed; give --n only")
    if ns is not None and not family.takes_n:
        raise _fail(f"--n: {name} is {family.signature}, its input size is fixed; give --m only")
    default = list(SWEEP_SIZES) if args.sweep else None
    n_list: list[Any] = (ns or default or [10]) if family.takes_n else [None]
    m_list: list[Any] = (ms or default or [10]) if family.takes_m else [None]
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise _fail(str(missing_extra("--plot", "plot", "matplotlib")), status=1)

    grid = [(n, m) for m in m_list for n in n_list]
    if len(grid) > MAX_CELLS:
        raise _fail(f"{len(grid)} sizes to compare; at most {MAX_CELLS} are allowed (fewer --n or --m sizes)")
    for n, m in grid:
        if (n or 1) * (m or 1) > MAX_JACOBIAN:
            raise _fail(
                f"n = {n:,} by m = {m:,}: a Jacobian of more than {MAX_JACOBIAN:,} elements; choose smaller sizes"
            )
    progress = Progress(len(grid), sys.stderr)
    cells = []
    for n, m in grid:
        f, x = family.make(n, m)
        label = ", ".join(f"{k}={v:,}" for k, v in (("n", n), ("m", m)) if v is not None)
        try:
            report = compare(
                f,
                x,
                chunk=args.chunk,
                repeat=args.repeat,
                memory=not args.no_memory,
                name=name,
                compiled=not getattr(args, "no_compiled", False),
            )
        except (DomainError, NoRuleError, ArithmeticError, TypeError, ValueError) as e:
            progress.done()
            raise _fail(f"{name} at {label}: {type(e).__name__}: {_one_line(e)}", status=1) from None
        except Exception as e:  # a user's function may raise anything: one line, never a traceback
            progress.done()
            what = f"the function raised {type(e).__name__}: {_one_line(e)}"
            raise _fail(f"{name} at {label}: {what}", status=1) from None
        cells.append(_Cell(report.n, report.m, report))
        progress.step(label)
    progress.done()

    if len(cells) == 1 and args.plot is None:
        r = cells[0].report
        text = {"text": r.to_text, "markdown": r.to_markdown, "json": r.to_json, "csv": lambda: _csv(cells)}
        print(text[args.format]().rstrip("\n"), file=out)
        return 0
    title = f"{name}: {family.signature}" + (f", {family.formula}" if family.formula else "")
    print(_sweep_table(cells, args.format, title, args.chunk).rstrip("\n"), file=out)
    if args.plot is not None:
        plot_sweep(cells, args.plot, title, args.chunk)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------
# the sweep's table
# --------------------------------------------------------------------------


def _row(c: _Cell) -> dict[str, Any]:
    r = c.report
    fwd, rev = r.rows
    tf, tr = fwd["time_s"], rev["time_s"]
    return {
        "n": c.n,
        "m": c.m,
        "forward": fwd["how"],
        "reverse": rev["how"],
        "ops_f": r.ops("f"),
        "ops_forward": fwd["ops"],
        "ops_reverse": rev["ops"],
        "time_f_s": r.times.get("f"),
        "time_forward_s": tf,
        "time_reverse_s": tr,
        "time_compiled_forward_s": fwd["compiled_time_s"],
        "time_compiled_reverse_s": rev["compiled_time_s"],
        "compile_s": r.times.get("compile"),
        "peak_forward_bytes": fwd["peak_bytes"],
        "peak_reverse_bytes": rev["peak_bytes"],
        "cheaper": "forward" if fwd["ops"] < rev["ops"] else "reverse",
        "faster": None if tf is None or tr is None else ("forward" if tf < tr else "reverse"),
        "auto": r.choice.mode,
        "max_rel_diff": r.max_rel_diff,
    }


def _csv(cells: Sequence[_Cell]) -> str:
    rows = [_row(c) for c in cells]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _sweep_table(cells: Sequence[_Cell], fmt: str, title: str, chunk: int | None) -> str:
    if fmt == "csv":
        return _csv(cells)
    if fmt == "json":
        return json.dumps({"function": title, "chunk": chunk, "rows": [_row(c) for c in cells]}, indent=2)
    head = ["n", "m", "passes", "sweeps", "OPS(f)", "ops fwd", "ops rev", "fwd/rev"]
    head += ["time f", "time fwd", "time rev", "fwd/rev"]
    compiled = any(c.report.times.get("compiled_forward") is not None for c in cells)
    head += ["compiled fwd", "compiled rev", "compile"] if compiled else []
    head += ["peak fwd", "peak rev", "faster", "auto", "agree"]
    body = []
    for c in cells:
        r, fr = _row(c), c.report
        t_ratio = r["time_forward_s"] / r["time_reverse_s"] if r["time_forward_s"] and r["time_reverse_s"] else None
        body.append(
            [
                f"{c.n:,}",
                f"{c.m:,}",
                f"{fr.passes:,} x {fr.costs.forward_chunk:,}",
                f"{fr.sweeps:,} x {fr.costs.reverse_chunk:,}",
                f"{r['ops_f']:,}",
                f"{r['ops_forward']:,}",
                f"{r['ops_reverse']:,}",
                _ratio(r["ops_forward"] / r["ops_reverse"] if r["ops_reverse"] else math.nan),
                _seconds(r["time_f_s"]),
                _seconds(r["time_forward_s"]),
                _seconds(r["time_reverse_s"]),
                _ratio(t_ratio),
                *(
                    [
                        _seconds(r["time_compiled_forward_s"]),
                        _seconds(r["time_compiled_reverse_s"]),
                        _seconds(r["compile_s"]),
                    ]
                    if compiled
                    else []
                ),
                _bytes(r["peak_forward_bytes"]),
                _bytes(r["peak_reverse_bytes"]),
                r["faster"] or "-",
                r["auto"],
                f"{r['max_rel_diff']:.1e}",
            ]
        )
    reps = sorted({k for c in cells for k in c.report.repeats.values()})
    chunk_text = f"chunk {chunk}" if chunk is not None else f"default chunk (up to {DEFAULT_CHUNK})"
    notes = [
        f"dualdiff compare: {title}; {chunk_text}",
        "passes: forward passes x directions each; sweeps: reverse sweeps (after one recording) x cotangents each; "
        "ops: element operations of the cost model (dualdiff.opcount), bookkeeping included; "
        + (f"times: medians of {'/'.join(map(str, reps))} repeat{'s' if reps != [1] else ''}" if reps else "not timed")
        + "; agree: largest relative difference of the two Jacobians"
        + ("; compiled: the same Jacobians by dd.compile's generated code, and its compile time" if compiled else ""),
    ]
    left = {2, 3, len(head) - 3, len(head) - 2}  # passes, sweeps, faster, auto
    if fmt == "markdown":
        rule = ["---" if i in left else "---:" for i in range(len(head))]
        lines = ["| " + " | ".join(row) + " |" for row in [head, rule, *body]]
        return "\n".join([f"**{notes[0]}**", "", *lines, "", notes[1]])
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
        for row in [head, *body]
    ]
    return "\n".join([notes[0], "", *lines, "", textwrap.fill(notes[1], 110, break_on_hyphens=False)])


# --------------------------------------------------------------------------
# the plot
# --------------------------------------------------------------------------


def _crossover(sizes: Sequence[int], a: Sequence[float], b: Sequence[float]) -> float | None:
    """Where ``a - b`` changes sign between two sizes (log-interpolated), or None."""
    for i in range(len(sizes) - 1):
        d0, d1 = math.log(a[i] / b[i]), math.log(a[i + 1] / b[i + 1])
        if d0 == 0:
            return float(sizes[i])
        if d0 * d1 < 0:
            t = d0 / (d0 - d1)
            return float(math.exp(math.log(sizes[i]) + t * (math.log(sizes[i + 1]) - math.log(sizes[i]))))
    return None


def plot_sweep(cells: Sequence[Any], path: str, title: str, chunk: int | None = None) -> None:
    """Draw time and operation count of both modes against the sizes and write it to ``path``.

    Against one size: two log-log panels (time, operations) with a line per
    mode and the crossover marked. Over a grid of n and m: two maps of
    forward/reverse (time, operations), each cell labelled with the ratio.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise _fail(str(missing_extra("--plot", "plot", "matplotlib")), 1) from None
    ns = sorted({c.n for c in cells})
    ms = sorted({c.m for c in cells})
    chunk_text = f"chunk {chunk}" if chunk is not None else f"default chunk (up to {DEFAULT_CHUNK})"
    timed = all(c.report.times.get("forward") is not None for c in cells)
    grid = len(ns) > 1 and len(ms) > 1
    if grid:
        fig = _plot_grid(plt, cells, ns, ms, timed)
    else:
        fig = _plot_lines(plt, cells, ns if len(ns) > 1 else ms, "n" if len(ns) > 1 else "m", timed)
    note = "; solid line: crossover (ratio 1), dashed cells: n = m" if grid else ""
    fig.suptitle(f"Forward versus reverse mode: {title}\nfull Jacobian, {chunk_text}{note}", fontsize=12)
    try:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    except (OSError, ValueError) as e:
        raise _fail(f"--plot {path}: cannot write the plot ({e})", 1) from None
    finally:
        plt.close(fig)


def _plot_lines(plt: Any, cells: Sequence[Any], sizes: list[int], axis: str, timed: bool) -> Any:
    by = {getattr(c, axis): c.report for c in cells}
    panels = [("element operations (cost model)", lambda r, k: r.ops(k))]
    if timed:
        panels.insert(0, ("time: median seconds", lambda r, k: r.times[k]))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 5.0), squeeze=False, constrained_layout=True)
    for ax, (label, get) in zip(axes[0], panels):
        fwd = [get(by[s], "forward") for s in sizes]
        rev = [get(by[s], "reverse") for s in sizes]
        base = [get(by[s], "f") for s in sizes]
        ax.loglog(sizes, fwd, "o-", color="tab:blue", lw=2, label="forward (jacfwd)")
        ax.loglog(sizes, rev, "s-", color="tab:red", lw=2, label="reverse (jacrev)")
        ax.loglog(sizes, base, "--", color="0.5", label="f alone")
        cross = _crossover(sizes, fwd, rev)
        if cross is not None:
            ax.axvline(cross, color="k", ls=":", lw=1)
            ax.annotate(
                f"crossover {axis} ≈ {cross:.3g}",
                (cross, ax.get_ylim()[0]),
                textcoords="offset points",
                xytext=(5, 6),
                fontsize=9,
                bbox={"fc": "white", "ec": "none", "alpha": 0.85},
            )
        ax.set_xlabel(f"{axis} ({'inputs' if axis == 'n' else 'outputs'})")
        ax.set_ylabel(label)
        ax.set_title(label, fontsize=11)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(loc="upper left", fontsize=9)
    return fig


def _plot_grid(plt: Any, cells: Sequence[Any], ns: list[int], ms: list[int], timed: bool) -> Any:
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Rectangle

    by = {(c.n, c.m): c.report for c in cells}
    panels = [("operations (cost model)", lambda r, k: r.ops(k))]
    if timed:
        panels.insert(0, ("time (median)", lambda r, k: r.times[k]))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 5.6), squeeze=False, constrained_layout=True)
    for ax, (label, get) in zip(axes[0], panels):
        z = np.full((len(ms), len(ns)), np.nan)
        for i, m in enumerate(ms):
            for j, n in enumerate(ns):
                r = by.get((n, m))
                if r is not None:
                    z[i, j] = math.log10(get(r, "forward") / get(r, "reverse"))
        lim = max(float(np.nanmax(np.abs(z))), 0.5)
        im = ax.imshow(z, origin="lower", cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -lim, lim), aspect="auto")
        for i, m in enumerate(ms):
            for j, n in enumerate(ns):
                if not np.isnan(z[i, j]):
                    ratio = 10 ** z[i, j]
                    text = f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:.2g}"
                    color = "k" if abs(z[i, j]) < 0.6 * lim else "w"
                    ax.text(j, i, text, ha="center", va="center", fontsize=10, color=color)
                if n == m:  # the square Jacobians, outlined
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="k", lw=1.2, ls="--"))
        if len(ns) > 1 and len(ms) > 1 and not np.isnan(z).any() and z.min() < 0 < z.max():
            ax.contour(np.arange(len(ns)), np.arange(len(ms)), z, levels=[0.0], colors="k", linewidths=2.0)
        ax.set_xticks(range(len(ns)), [f"{n:,}" for n in ns])
        ax.set_yticks(range(len(ms)), [f"{m:,}" for m in ms])
        ax.set_xlabel("n (inputs)")
        ax.set_ylabel("m (outputs)")
        ax.set_title(f"{label}: forward / reverse", fontsize=11)
        bar = fig.colorbar(im, ax=ax, shrink=0.85)
        ticks = [t for t in range(-int(lim), int(lim) + 1)]
        bar.set_ticks(ticks, labels=[f"{10.0**t:g}" for t in ticks])
        bar.set_label("forward / reverse  (blue: forward cheaper, red: reverse cheaper)", fontsize=9)
    return fig
