"""The dualdiff command: tables, the demo, and one-line errors for bad input.

Most tests call ``dualdiff.cli.main`` directly (fast); a few run
``python -m dualdiff`` in a subprocess to check the real entry point.
Expected numbers are computed here by hand with math/mpmath.
"""

import csv
import io
import math
import os
import subprocess
import sys
from pathlib import Path

import mpmath
import pytest

from dualdiff.cli import main as cli
from dualdiff.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
GW = "ln(x1) + x1*x2 - sin(x2)"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_module(*argv):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "dualdiff", *argv], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def parse_csv_tables(text):
    return [list(csv.DictReader(io.StringIO(block))) for block in text.strip().split("\n\n")]


# --------------------------------------------------------------------------
# dualdiff table
# --------------------------------------------------------------------------


def test_table_text(capsys):
    code, out, err = run(capsys, "table", GW, "--at", "x1=2", "x2=5", "--wrt", "x1")
    assert code == 0 and err == ""
    assert "Forward mode" in out and "Reverse mode" in out
    assert out.index("Forward mode") < out.index("Reverse mode")
    for piece in ("ln(v_{-1})", "v_{-1} * v_0", "sin(v_0)", "cos(v_0) * v̇_0", "v̄_1 / v_{-1} + v_0 * v̄_2"):
        assert piece in out
    assert f"{2 - math.cos(5):.6g}" in out  # x2 bar = x1 - cos(x2)
    assert f"{math.log(2) + 10 - math.sin(5):.6g}" in out


def test_table_csv_values(capsys):
    code, out, _ = run(capsys, "table", GW, "--at", "x1=2", "x2=5", "--wrt", "x2", "--format", "csv")
    assert code == 0
    fwd, rev = parse_csv_tables(out)
    assert float(fwd[-1]["tangent"]) == pytest.approx(2 - math.cos(5), rel=1e-15)  # d/dx2 = x1 - cos x2
    assert float(fwd[2]["value"]) == math.log(2)
    assert [r["variable"] for r in rev] == ["y", "v_5", "v_4", "v_3", "v_2", "v_1", "v_0", "v_{-1}"]
    assert float(rev[-1]["adjoint"]) == 5.5  # 1/x1 + x2
    assert float(rev[-2]["adjoint"]) == pytest.approx(2 - math.cos(5), rel=1e-15)


@pytest.mark.parametrize(
    ("fmt", "marks"),
    [
        ("markdown", ["| variable", "|:--", "`ln(v_{-1})`"]),
        ("latex", [r"\toprule", r"\midrule", r"\bottomrule", r"\ln\left(v_{-1}\right)"]),
        ("text", ["variable  operation"]),
    ],
)
def test_table_formats(capsys, fmt, marks):
    code, out, _ = run(capsys, "table", GW, "--at", "x1=2", "x2=5", "--format", fmt)
    assert code == 0
    for m in marks:
        assert m in out


def test_forward_or_reverse_only(capsys):
    _, out, _ = run(capsys, "table", "x*y + x", "--at", "x=2", "y=3", "--forward", "--format", "csv")
    (fwd,) = parse_csv_tables(out)
    assert float(fwd[-1]["tangent"]) == 4.0  # dz/dx = y + 1
    _, out, _ = run(capsys, "table", "x*y + x", "--at", "x=2", "y=3", "--reverse", "--format", "csv")
    (rev,) = parse_csv_tables(out)
    assert [float(rev[-1]["adjoint"]), float(rev[-2]["adjoint"])] == [4.0, 2.0]
    code, _, err = run(capsys, "table", "x", "--at", "x=2", "--forward", "--reverse")
    assert code == 2 and "not allowed with argument" in err


def test_acceptance_examples(capsys):
    _, out, _ = run(capsys, "table", "2*x**2 + 3", "--at", "x=2", "--format", "csv")
    fwd, rev = parse_csv_tables(out)
    assert float(fwd[-1]["tangent"]) == 8.0 and float(rev[-1]["adjoint"]) == 8.0
    _, out, _ = run(capsys, "table", "((x+2)*3)**2", "--at", "x=3", "--format", "csv")
    fwd, rev = parse_csv_tables(out)
    assert float(fwd[-1]["tangent"]) == 90.0 and float(rev[-1]["adjoint"]) == 90.0
    _, out, _ = run(capsys, "table", "(x1*x2)*sin(x1)", "--at", "x1=2", "x2=3", "--format", "csv", "--forward")
    (fwd,) = parse_csv_tables(out)
    assert [float(r["value"]) for r in fwd[:5]] == pytest.approx([2, 3, 6, math.sin(2), 6 * math.sin(2)], rel=1e-15)


def test_several_outputs_and_ybar(capsys):
    _, out, _ = run(capsys, "table", "x1*x2, sin(x1)", "--at", "x1=2", "x2=3", "--format", "csv", "--reverse")
    (rev,) = parse_csv_tables(out)
    assert [r["variable"] for r in rev[:2]] == ["y_1", "y_2"]
    assert float(rev[-1]["adjoint"]) == pytest.approx(3 + math.cos(2), rel=1e-15)
    _, out, _ = run(capsys, "table", "x*x", "--at", "x=3", "--format", "csv", "--reverse", "--ybar", "0.5")
    (rev,) = parse_csv_tables(out)
    assert float(rev[-1]["adjoint"]) == 3.0


def test_constants_in_point_and_expression(capsys):
    _, out, _ = run(capsys, "table", "sin(pi*x)", "--at", "x=1/4", "--format", "csv", "--forward")
    (fwd,) = parse_csv_tables(out)
    assert float(fwd[-1]["tangent"]) == pytest.approx(math.pi * math.cos(math.pi / 4), rel=1e-15)


def test_dps_gives_mpmath_digits(capsys):
    code, out, _ = run(capsys, "table", "ln(x1) + x1*x2 - sin(x2)", "--at", "x1=2", "x2=5", "--dps", "40")
    assert code == 0
    _, out, _ = run(capsys, "table", GW, "--at", "x1=2", "x2=5", "--dps", "40", "--format", "csv", "--reverse")
    (rev,) = parse_csv_tables(out)
    mpmath.mp.dps = 40
    try:
        want = 2 - mpmath.cos(5)
        assert abs(mpmath.mpf(rev[-2]["adjoint"]) - want) < mpmath.mpf(10) ** -38
    finally:
        mpmath.mp.dps = 15
    assert mpmath.mp.dps == 15


# --------------------------------------------------------------------------
# errors: one line, exit status 2 (1 when the math fails at the point)
# --------------------------------------------------------------------------

BAD_EXPRESSIONS = [
    ("__import__('os').system('true')", "attribute access is not allowed: __import__('os').system"),
    ("x1.__class__", "attribute access is not allowed: x1.__class__ (column 1)"),
    ("(lambda: 1)()", "lambda expressions are not allowed: lambda: 1 (column 2)"),
    ("[x1][0]", "indexing is not allowed: [x1][0] (column 1)"),
    ("sine(x1) + x1", "unknown function sine: sine(x1) (did you mean sin"),
]


@pytest.mark.parametrize(("expr", "message"), BAD_EXPRESSIONS)
def test_bad_expressions(capsys, expr, message):
    code, out, err = run(capsys, "table", expr, "--at", "x1=2")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("dualdiff table: error: ")
    assert message in err


@pytest.mark.parametrize(("expr", "message"), BAD_EXPRESSIONS)
def test_bad_expressions_subprocess(expr, message):
    p = run_module("table", expr, "--at", "x1=2")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert message in p.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x1 + 1", "--at", "x1:2"], "--at expects NAME=VALUE, got 'x1:2'"),
        (["x1 + 1", "--at", "x1="], "--at expects NAME=VALUE"),
        (["x1 + 1", "--at", "x1=abc"], "--at x1=abc: the value is not a number"),
        (["x1 + 1", "--at", "1x=2"], "'1x' is not a valid variable name"),
        (["x1 + 1", "--at", "x1=1", "x1=2"], "--at gives x1 twice"),
        (["sin + 1", "--at", "sin=1"], "sin is a function name"),
        (["x1 * x3", "--at", "x1=2", "x2=5"], "x3 is not declared: --at gives x1, x2 (add --at x3=VALUE) (column 6)"),
        (["x1 * x2", "--at", "x1=2", "x2=5", "--wrt", "x3"], "--wrt x3: not a variable; --at declares x1, x2"),
        (["x1 +", "--at", "x1=2"], "syntax error"),
        (["x1 ^ 2", "--at", "x1=2"], "operator ^ is not allowed: x1 ^ 2 (write powers as **)"),
        (["sin(x1, x1)", "--at", "x1=2"], "sin takes 1 argument, got 2"),
        (["sin(x=x1)", "--at", "x1=2"], "keyword arguments are not allowed"),
        (["x1 if x1 else 1", "--at", "x1=2"], "conditional expressions are not allowed"),
        (["'x1'", "--at", "x1=2"], "only numeric constants are allowed"),
        (["x1", "--at", "x1=2", "--ybar", "one"], "--ybar expects a number"),
    ],
)
def test_bad_arguments(capsys, argv, message):
    code, out, err = run(capsys, "table", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_domain_error_at_the_point(capsys):
    code, out, err = run(capsys, "table", "ln(x1) * x2", "--at", "x1=-1", "x2=5")
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert "log: argument -1.0 is outside the domain x >= 0" in err
    assert "at x1 = -1, x2 = 5" in err


def test_usage_errors(capsys):
    code, _, err = run(capsys, "table", "x1")  # --at missing: argparse's own message
    assert code == 2 and "--at" in err
    code, _, _ = run(capsys)
    assert code == 2
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("dualdiff ")


# --------------------------------------------------------------------------
# the demo and the subcommand registry
# --------------------------------------------------------------------------


def check_demo_output(out):
    assert "Forward mode: tangents of f at x1 = 2, x2 = 5" in out
    assert "Reverse mode: adjoints of f at x1 = 2, x2 = 5" in out
    assert "5.5" in out and f"{2 - math.cos(5):.4g}" in out
    assert "dd.jvp(f, (2.0, 5.0), (1.0, 0.5))" in out
    jvp_value = 5.5 + 0.5 * (2 - math.cos(5))
    assert repr(jvp_value)[:10] in out
    for piece in ("jacfwd(f, chunk=1)", "jacrev(f, chunk=1)", "100 passes", "1 recording + 100 sweeps", "agree to"):
        assert piece in out


def test_demo_in_process(capsys):
    code, out, err = run(capsys, "demo")
    assert code == 0 and err == ""
    check_demo_output(out)


def test_demo_subprocess():
    p = run_module("demo")
    assert p.returncode == 0, p.stderr
    check_demo_output(p.stdout)


def test_subcommands_are_one_function_each(monkeypatch, capsys):
    def register_hello(subparsers):
        sub = subparsers.add_parser("hello")
        sub.set_defaults(handler=lambda args, out: print("hi", file=out) or 0)

    monkeypatch.setattr(cli, "SUBCOMMANDS", [*cli.SUBCOMMANDS, register_hello])
    code, out, _ = run(capsys, "hello")
    assert (code, out) == (0, "hi\n")
