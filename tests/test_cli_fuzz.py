"""The command line under random and hostile input: every run ends quickly, with 0, 1 or 2, never a traceback.

Hypothesis draws formulas from the grammar the command accepts (and from
outside it: operators and syntax it refuses, unknown names, huge and tiny
numbers, deep nesting, non-ASCII names) together with random options, and
runs ``dualdiff.cli.main.main(argv)`` in this process with its streams
captured. Each run must

* return 0 (success), 2 (a command-line error, or a request beyond the
  bounds ``--help`` states) or 1 (the computation failed at the point, say
  a DomainError): never raise;
* finish within a few seconds;
* on failure, end stderr with one line ``dualdiff <command>: error: ...``
  (argparse prints its usage above it), with no traceback and no
  "internal error";
* leave mpmath's working precision as it found it.

A few runs go through ``python -m dualdiff`` in a subprocess, so the real
entry point (exit status, a closed pipe, the memory the run takes) is
covered too.
"""

import contextlib
import io
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import mpmath
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dualdiff.cli.main import main
from dualdiff.modes.functions import FUNCTIONS

ROOT = Path(__file__).resolve().parent.parent

#: Seconds one in-process run may take (generous: the machine is shared).
SECONDS = 8.0

VARIABLES = ["x", "y", "x1", "x2", "𝑥", "ﬁ", "e", "pi", "_z"]
ARITY = {name: (2 if name in ("arctan2", "hypot", "maximum", "minimum", "power") else 1) for name in FUNCTIONS}
NUMBERS = [
    "0",
    "1",
    "2",
    "0.5",
    "1e-3",
    "3.25",
    "1e308",
    "1e-308",
    "1e999",
    "9999999999999999999999",
    "1_000",
    "2j",
    "1e400j",
    "0.0",
    "007" if False else "7",
]


def run(argv):
    """``main(argv)`` with captured streams: (status, stdout, stderr, seconds)."""
    out, err = io.StringIO(), io.StringIO()
    dps = mpmath.mp.dps
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    seconds = time.perf_counter() - t0
    assert mpmath.mp.dps == dps, f"mp.dps left at {mpmath.mp.dps} by {argv!r}"
    return code, out.getvalue(), err.getvalue(), seconds


def check(argv):
    code, out, err, seconds = run(argv)
    shown = f"argv={argv!r}\nstatus={code}\nstderr={err[-600:]!r}"
    assert code in (0, 1, 2), shown
    assert seconds < SECONDS, f"{seconds:.1f} s\n{shown}"
    assert "Traceback" not in err and "internal error" not in err, shown
    if code == 0:
        assert out.strip() or argv[-1] in ("--help", "-h") or "--list" in argv, shown
    else:
        last = err.rstrip("\n").split("\n")[-1]
        assert last.startswith("dualdiff") and "error:" in last, shown
        if "usage:" not in err:  # not argparse's own message: exactly one line
            assert err.count("\n") == 1, shown
    return code, out, err


# --------------------------------------------------------------------------
# formulas: the grammar, and text from outside it
# --------------------------------------------------------------------------

leaf = st.one_of(st.sampled_from(VARIABLES), st.sampled_from(NUMBERS))


def _extend(children):
    call = st.sampled_from(sorted(FUNCTIONS)).flatmap(
        lambda name: st.lists(children, min_size=ARITY[name], max_size=ARITY[name]).map(
            lambda args: f"{name}({', '.join(args)})"
        )
    )
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    )
    unary = st.tuples(st.sampled_from(["-", "+"]), children).map("".join)
    return st.one_of(call, binary, unary)


formulas = st.recursive(leaf, _extend, max_leaves=20)

#: Pieces that are not allowed, or break the grammar, spliced into formulas.
HOSTILE_PIECES = [
    "//",
    "%",
    "@",
    "^",
    "<<",
    "~",
    "not ",
    " and ",
    "x.__class__",
    "__import__('os')",
    "lambda: 0",
    "[x]",
    "{x}",
    "x[0]",
    "'x'",
    "f'{x}'",
    "(",
    ")",
    ",",
    "sin",
    "sine(x)",
    "sin(x, x)",
    "sin(x=1)",
    "*x",
    "x if x else y",
    "(x := 1)",
    "\n",
    "\x00",
    "9**9**9**9",
    "x**9**9**9",
    "1" * 5000,
    "-" * 300 + "x",
    "(" * 250 + "x" + ")" * 250,
    "x" + "*x" * 800,
    "𝐬𝐢𝐧(x)",
    "ｘ",
    "yield x",
    "await x",
]

hostile_formulas = st.one_of(
    st.lists(st.one_of(formulas, st.sampled_from(HOSTILE_PIECES)), min_size=1, max_size=4).map(" ".join),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
    st.text(alphabet="xy12e+-*/()., j_", max_size=40),
)

# --------------------------------------------------------------------------
# options of `dualdiff table`
# --------------------------------------------------------------------------

#: Values as --at takes them: numbers, constant formulas, edge cases.
good_values = st.one_of(
    st.sampled_from(["2", "0.5", "-1", "0", "1j", "1+2j", "pi/4", "e", "1e308", "1e-308", "nan", "-inf", "2**10"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
)
values = st.one_of(good_values, st.sampled_from(["1e999", "1e-999", "abc", "", "=", "x", "1,2", "sin(1)**9**9"]))
names = st.one_of(st.sampled_from(VARIABLES + ["sin", "if", "1x", "x-y", "𝐬𝐢𝐧", "", "e"]), st.text(max_size=3))
#: The declared variables when the options are sensible (𝑥 is x, so not declared twice).
DECLARED = ["x", "y", "x1", "x2", "ﬁ", "_z", "e"]


@st.composite
def sensible_options(draw):
    """Options the command accepts, so the formula itself is what gets tested."""
    argv = ["--at", *(f"{n}={draw(good_values)}" for n in DECLARED)]
    if draw(st.booleans()):
        argv += ["--wrt", draw(st.sampled_from(DECLARED + ["𝑥"]))]
    if draw(st.integers(0, 3)) == 0:
        argv += ["--ybar", draw(st.sampled_from(["1", "-2.5", "0", "1e300", "inf"]))]
    argv += ["--format", draw(st.sampled_from(["text", "markdown", "latex", "csv"]))]
    argv += draw(st.sampled_from([[], ["--forward"], ["--reverse"]]))
    argv += ["--digits", str(draw(st.integers(1, 25)))]
    dps = draw(st.sampled_from([None, None, 5, 30, 200, 1000]))
    if dps is not None:
        argv += ["--dps", str(dps)]
    if draw(st.booleans()):
        argv.append("--no-formulas")
    return argv


@st.composite
def hostile_options(draw):
    """Any options: unknown names, bad values, conflicts, out-of-bounds numbers."""
    argv = ["--at"]
    argv += [f"{n}={draw(values)}" for n in draw(st.lists(names, min_size=1, max_size=3))]
    if draw(st.booleans()):
        argv += ["--wrt", draw(names)]
    if draw(st.integers(0, 3)) == 0:
        argv += ["--ybar", draw(values)]
    if draw(st.booleans()):
        argv += ["--format", draw(st.sampled_from(["text", "markdown", "latex", "csv", "json"]))]
    argv += draw(st.sampled_from([[], [], ["--forward"], ["--reverse"], ["--forward", "--reverse"]]))
    if draw(st.integers(0, 3)) == 0:
        argv += ["--digits", str(draw(st.sampled_from([1, 3, 17, 0, -2, 1000, 1001, 10**9])))]
    if draw(st.integers(0, 2)) == 0:
        argv += ["--dps", str(draw(st.sampled_from([1, 5, 30, 200, 1000, 1001, 0, -3, 3_000_000])))]
    if draw(st.booleans()):
        argv.append("--no-formulas")
    return argv


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formulas, sensible_options())
def test_table_with_formulas_of_the_grammar(formula, options):
    check(["table", formula, *options])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_formulas, st.one_of(sensible_options(), hostile_options()))
def test_table_with_hostile_formulas(formula, options):
    check(["table", formula, *options])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formulas, hostile_options())
def test_table_with_hostile_options(formula, options):
    check(["table", formula, *options])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formulas, st.sampled_from(["1.5", "0.25", "3", "-2", "1e300", "1e-300", "4000", "-4000", "1e1200"]))
def test_table_at_high_precision(formula, at):
    # every variable declared, so most formulas evaluate and the bounds on mpmath values are what is tested
    argv = ["table", formula, "--at", *(f"{v}={at}" for v in ("x", "y", "x1", "x2", "ﬁ", "_z"))]
    check([*argv, "--dps", "50", "--no-formulas"])


# --------------------------------------------------------------------------
# `dualdiff compare` and the command as a whole
# --------------------------------------------------------------------------

sizes = st.one_of(
    st.lists(st.integers(1, 40), min_size=1, max_size=3).map(lambda v: ",".join(map(str, v))),
    st.sampled_from(["0", "-5", "1e9", "10000000", "5.5", "a,b", "", ",", "1e400", "3," * 20 + "3", "10001"]),
)
functions = st.sampled_from(
    ["rosenbrock", "logsumexp", "fanout", "mixer", "../x:y", "os:system", "os:path", ":", "a:b:c", "json:dumps",
     "numpy:sum", "numpy:nonexistent", "no_such_module_xyz:f", "math:sin", "x", ""]
)  # fmt: skip


@st.composite
def compare_argv(draw):
    argv = ["compare", "--repeat", str(draw(st.sampled_from([1, 1, 2, 0, 101])))]
    if draw(st.booleans()):
        argv += ["--function", draw(functions)]
    if draw(st.booleans()):
        argv += ["--n", draw(sizes)]
    if draw(st.booleans()):
        argv += ["--m", draw(sizes)]
    if draw(st.integers(0, 3)) == 0:
        argv += ["--chunk", str(draw(st.sampled_from([1, 3, 0, -1, 10**12])))]
    if draw(st.integers(0, 4)) == 0 and "--n" in argv and "--m" in argv:
        argv.append("--sweep")  # (with the default sizes, up to 1000 by 1000, a sweep is bounded but slow)
    argv += draw(st.sampled_from([["--no-memory"], ["--no-memory"], []]))
    argv += ["--format", draw(st.sampled_from(["text", "markdown", "csv", "json"]))]
    return argv


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(compare_argv())
def test_compare_with_random_options(argv):
    check(argv)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["table", "compare", "demo", "--help", "-h", "--version", "--at", "x=1",
                                          "--dps", "--n", "-x*2", "--", "-", "--format", "csv"]), st.text(max_size=8)),
                max_size=6))  # fmt: skip
def test_random_argument_lists(argv):
    if "demo" in argv and "--help" not in argv and "-h" not in argv:
        argv = [a for a in argv if a != "demo"]  # the demo times Jacobians: covered once below
    check(argv)


def test_demo_runs():
    check(["demo"])


# --------------------------------------------------------------------------
# the real entry point
# --------------------------------------------------------------------------


def _module(*argv, timeout=60):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "dualdiff", *argv], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["table", "9**9**9**9*x", "--at", "x=2", "--dps", "1000"],
        ["table", "erf(x)*sigmoid(-x)*x**-x", "--at", "x=1e1200", "--dps", "1000"],
        ["table", "-x*2", "--at", "x=1j", "--dps", "40"],
        ["compare", "--function", "../x:y"],
        ["compare", "--n", "10000000", "--m", "10000000"],
    ],
)
def test_subprocess_runs_end_quickly_in_bounded_memory(argv):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    p = _module(*argv)
    seconds = time.perf_counter() - t0
    assert p.returncode in (0, 1, 2), p.stderr
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr
    assert seconds < 30
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert max(peak_kb, before) < 600_000  # every child so far, this one included, stayed under 600 MB
