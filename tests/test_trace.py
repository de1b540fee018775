"""Evaluation traces and their tables, checked against values computed by hand.

Every expected number here comes from math/mpmath and the chain rule worked
out on paper, never from dualdiff itself.
"""

import csv
import importlib
import io
import math

import mpmath
import numpy as np
import pytest

import dualdiff as dd
from dualdiff.notation.tabular import Column, Table, format_full, format_latex, format_value


def col(table, key):
    return [row[key] for row in table.rows]


def approx(values, rel=1e-14, abs=1e-14):
    return pytest.approx(values, rel=rel, abs=abs)


# --------------------------------------------------------------------------
# f(x1, x2) = x1*x2 + exp(x1*x2) - sin(x2): every column entry by hand
# --------------------------------------------------------------------------

X1, X2 = 1.5, 0.5


def f_exp(x1, x2):
    return x1 * x2 + dd.exp(x1 * x2) - dd.sin(x2)


@pytest.fixture(scope="module")
def tr_exp():
    return dd.trace(f_exp, (X1, X2))


def test_exp_trace_steps(tr_exp):
    t = tr_exp.table()
    assert col(t, "variable") == ["v_{-1}", "v_0", "v_1", "v_2", "v_3", "v_4", "v_5", "v_6", "y"]
    assert col(t, "operation") == [
        "x1",
        "x2",
        "v_{-1} * v_0",
        "v_{-1} * v_0",
        "exp(v_2)",
        "v_1 + v_3",
        "sin(v_0)",
        "v_4 - v_5",
        "v_6",
    ]
    p = X1 * X2
    e = math.exp(p)
    expected = [X1, X2, p, p, e, p + e, math.sin(X2), p + e - math.sin(X2), p + e - math.sin(X2)]
    assert col(t, "value") == approx(expected)
    assert tr_exp.names == ("x1", "x2")
    assert tr_exp.y == approx(p + e - math.sin(X2))


def test_exp_forward_table_x1_seeded(tr_exp):
    t = tr_exp.forward_table("x1")
    e = math.exp(X1 * X2)
    # d/dx1 of each variable: x1 -> 1, x2 -> 0, x1*x2 -> x2, exp(x1 x2) -> x2 e, sin(x2) -> 0
    expected = [1.0, 0.0, X2, X2, X2 * e, X2 + X2 * e, 0.0, X2 + X2 * e, X2 + X2 * e]
    assert col(t, "tangent") == approx(expected)
    assert col(t, "tangent_formula") == [
        "ẋ1",
        "ẋ2",
        "v_0 * v̇_{-1} + v_{-1} * v̇_0",
        "v_0 * v̇_{-1} + v_{-1} * v̇_0",
        "v_3 * v̇_2",
        "v̇_1 + v̇_3",
        "cos(v_0) * v̇_0",
        "v̇_4 - v̇_5",
        "v̇_6",
    ]


def test_exp_forward_table_x2_seeded(tr_exp):
    t = tr_exp.forward_table((0.0, 1.0))
    e = math.exp(X1 * X2)
    c = math.cos(X2)
    expected = [0.0, 1.0, X1, X1, X1 * e, X1 + X1 * e, c, X1 + X1 * e - c, X1 + X1 * e - c]
    assert col(t, "tangent") == approx(expected)


def test_exp_reverse_table(tr_exp):
    t = tr_exp.reverse_table()
    assert col(t, "variable") == ["y", "v_6", "v_5", "v_4", "v_3", "v_2", "v_1", "v_0", "v_{-1}"]
    e = math.exp(X1 * X2)
    expected = [
        1.0,  # y bar
        1.0,  # v6 = y
        -1.0,  # v5 = sin(x2) enters with a minus
        1.0,  # v4
        1.0,  # v3 = exp(v2)
        e,  # v2: d exp(v2)/d v2 = e
        1.0,  # v1
        X1 + X1 * e - math.cos(X2),  # v0 = x2
        X2 + X2 * e,  # v_{-1} = x1
    ]
    assert col(t, "adjoint") == approx(expected)
    assert col(t, "adjoint_formula") == [
        "ȳ",
        "ȳ",
        "-v̄_6",
        "v̄_6",
        "v̄_4",
        "v_3 * v̄_3",
        "v̄_4",
        "v_{-1} * v̄_1 + v_{-1} * v̄_2 + cos(v_0) * v̄_5",
        "v_0 * v̄_1 + v_0 * v̄_2",
    ]
    # the primal column of the reverse table is the trace's, in sweep order
    p = X1 * X2
    assert col(t, "value")[-2:] == [X2, X1]
    assert col(t, "value")[5] == approx(p)


def test_exp_against_mpmath_at_40_digits():
    mpmath.mp.dps = 40
    try:
        x1, x2 = mpmath.mpf("1.5"), mpmath.mpf("0.5")
        tr = dd.trace(f_exp, (x1, x2))
        rev = tr.reverse_table()
        e = mpmath.exp(x1 * x2)
        want1 = x2 + x2 * e
        want2 = x1 + x1 * e - mpmath.cos(x2)
        got2, got1 = col(rev, "adjoint")[-2:]
        assert abs(got1 - want1) < mpmath.mpf(10) ** -38
        assert abs(got2 - want2) < mpmath.mpf(10) ** -38
        fwd = tr.forward_table("x2")
        assert abs(col(fwd, "tangent")[-1] - want2) < mpmath.mpf(10) ** -38
        # CSV keeps every digit: it parses back to the same mpf
        rows = list(csv.DictReader(io.StringIO(rev.to_csv())))
        assert mpmath.mpf(rows[-1]["adjoint"]) == got1
        assert mpmath.mpf(rows[-2]["adjoint"]) == got2
    finally:
        mpmath.mp.dps = 15


# --------------------------------------------------------------------------
# the smaller acceptance examples
# --------------------------------------------------------------------------


def test_product_times_sine_primals():
    tr = dd.trace(lambda x1, x2: (x1 * x2) * dd.sin(x1), (2.0, 3.0))
    assert [s.value for s in tr.steps] == approx([2.0, 3.0, 6.0, math.sin(2.0), 6.0 * math.sin(2.0)])
    assert [s.operation for s in tr.steps] == ["x1", "x2", "v_{-1} * v_0", "sin(v_{-1})", "v_1 * v_2"]
    # d/dx1 (x1 x2 sin x1) = x2 sin x1 + x1 x2 cos x1
    t = tr.forward_table("x1")
    assert col(t, "tangent")[-1] == approx(3.0 * math.sin(2.0) + 6.0 * math.cos(2.0))


def test_sum_times_x1_adjoints():
    x1, x2 = 3.0, 7.0
    tr = dd.trace(lambda x1, x2: (x1 + x2) * x1, (x1, x2))
    t = tr.reverse_table()
    by_var = {r["variable"]: r["adjoint"] for r in t.rows}
    assert by_var["v_{-1}"] == 2 * x1 + x2
    assert by_var["v_0"] == x1
    assert by_var["v_1"] == x1  # the sum's adjoint is the other factor
    assert by_var["v_2"] == 1.0


def test_xy_plus_x():
    tr = dd.trace(lambda x, y: x * y + x, (2.0, 3.0))
    rev = {r["variable"]: r["adjoint"] for r in tr.reverse_table().rows}
    assert (rev["v_{-1}"], rev["v_0"]) == (4.0, 2.0)
    assert col(tr.forward_table("x"), "tangent")[-1] == 4.0
    assert col(tr.forward_table("y"), "tangent")[-1] == 2.0


def test_two_x_squared_plus_three():
    tr = dd.trace(lambda x: 2 * x**2 + 3, 2.0)
    assert [s.operation for s in tr.steps] == ["x", "v_0 ** 2", "2 * v_1", "v_2 + 3"]
    assert col(tr.forward_table(), "tangent") == [1.0, 4.0, 8.0, 8.0, 8.0]
    assert col(tr.reverse_table(), "adjoint")[-1] == 8.0


def test_square_of_scaled_shift():
    tr = dd.trace(lambda x: ((x + 2) * 3) ** 2, 3.0)
    assert [s.value for s in tr.steps] == [3.0, 5.0, 15.0, 225.0]
    assert col(tr.forward_table(), "tangent")[-1] == 90.0
    assert col(tr.reverse_table(), "adjoint") == [1.0, 1.0, 30.0, 90.0, 90.0]


def test_griewank_walther_formulas():
    tr = dd.trace(lambda x1, x2: dd.log(x1) + x1 * x2 - dd.sin(x2), (2.0, 5.0))
    fwd = tr.forward_table((1.0, 0.0))
    assert col(fwd, "operation")[2:] == ["ln(v_{-1})", "v_{-1} * v_0", "v_1 + v_2", "sin(v_0)", "v_3 - v_4", "v_5"]
    assert col(fwd, "tangent_formula")[2] == "v̇_{-1} / v_{-1}"
    assert col(fwd, "tangent_formula")[5] == "cos(v_0) * v̇_0"
    assert col(fwd, "tangent") == approx([1, 0, 0.5, 5, 5.5, 0, 5.5, 5.5])
    rev = tr.reverse_table()
    assert col(rev, "adjoint")[-2:] == approx([2.0 - math.cos(5.0), 0.5 + 5.0])
    assert col(rev, "adjoint_formula")[-1] == "v̄_1 / v_{-1} + v_0 * v̄_2"


# --------------------------------------------------------------------------
# several outputs, arrays, constants
# --------------------------------------------------------------------------


def test_several_outputs():
    tr = dd.trace(lambda a, b: (a * b, dd.sin(a)), (2.0, 3.0))
    assert [o.name for o in tr.outputs] == ["y_1", "y_2"]
    assert tr.y == approx((6.0, math.sin(2.0)))
    fwd = tr.forward_table("a")
    assert col(fwd, "variable")[-2:] == ["y_1", "y_2"]
    assert col(fwd, "tangent")[-2:] == approx([3.0, math.cos(2.0)])
    rev = tr.reverse_table((1.0, 0.0))  # the gradient of a*b only
    assert col(rev, "adjoint")[-2:] == [2.0, 3.0]
    rev = tr.reverse_table(1.0)  # one number seeds every output: the gradient of the sum
    assert col(rev, "adjoint")[-2:] == approx([2.0, 3.0 + math.cos(2.0)])
    assert "on every output" in rev.title


def test_array_steps_are_compact_and_right():
    x = np.array([0.3, 1.1, 2.5, -0.7, 1.9])
    tr = dd.trace(lambda x: np.sum(np.sin(x) * x), x)
    assert [s.operation for s in tr.steps] == ["x", "sin(v_0)", "v_1 * v_0", "sum(v_2)"]
    rev = tr.reverse_table()
    np.testing.assert_allclose(col(rev, "adjoint")[-1], np.sin(x) + x * np.cos(x), rtol=1e-14)
    v = np.array([1.0, 0.0, 2.0, 0.0, -1.0])
    fwd = tr.forward_table(v)
    assert col(fwd, "tangent")[-1] == approx(float(np.dot(np.sin(x) + x * np.cos(x), v)))
    text = fwd.to_text()
    assert "(5,) [0.3, 1.1, …, 1.9]" in text
    assert "sum(v̇_2)" in text
    assert "sumᵀ(v̄_3)" in rev.to_text()
    # CSV keeps whole arrays, at full precision
    row = next(csv.DictReader(io.StringIO(rev.to_csv())))
    assert row["variable"] == "y"
    first_input = list(csv.DictReader(io.StringIO(fwd.to_csv())))[0]
    assert [float(s) for s in first_input["value"].strip("[]").split(",")] == list(x)


def test_indexing_shows_the_index():
    tr = dd.trace(lambda x: x[0] * x[1:], np.array([2.0, 3.0, 4.0]))
    assert [s.operation for s in tr.steps] == ["x", "v_0[0]", "v_0[1:]", "v_1 * v_2"]
    rev = tr.reverse_table(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(col(rev, "adjoint")[-1], [7.0, 2.0, 2.0])


def test_constant_and_input_outputs():
    tr = dd.trace(lambda x: (x, 3.0), 2.0)
    assert [(o.name, o.source) for o in tr.outputs] == [("y_1", ("var", 0)), ("y_2", ("const", 3.0))]
    assert col(tr.forward_table(), "tangent") == [1.0, 1.0, 0.0]
    assert col(tr.reverse_table(), "adjoint") == [1.0, 1.0, 1.0]


def test_negative_constant_operand():
    tr = dd.trace(lambda x: x * -2.5 - 1, 2.0)
    assert [s.operation for s in tr.steps] == ["x", "v_0 * (-2.5)", "v_1 - 1"]
    assert col(tr.forward_table(), "tangent_formula")[1] == "-2.5 * v̇_0"


def test_power_and_division_formulas():
    tr = dd.trace(lambda a, b: a**b / b, (2.0, 3.0))
    fwd = tr.forward_table((1.0, 1.0))
    assert col(fwd, "tangent_formula")[2:4] == [
        "v_0 * v_{-1} ** (v_0 - 1) * v̇_{-1} + v_1 * ln(v_{-1}) * v̇_0",
        "v̇_1 / v_0 - v_2 * v̇_0 / v_0",
    ]
    # d/da + d/db of a^b / b at (2, 3): b a^(b-1)/b + (a^b ln a / b - a^b / b^2)
    want = 3 * 2.0**2 / 3 + (8 * math.log(2.0) / 3 - 8 / 9)
    assert col(fwd, "tangent")[-1] == approx(want)


def test_rows_mark_inputs_intermediates_and_outputs():
    tr = dd.trace(lambda x: dd.sin(x) * 2, 1.0)
    assert [r["kind"] for r in tr.forward_table().rows] == ["input", "intermediate", "intermediate", "output"]
    assert repr(tr) == "<Trace of f at x = 1: 1 input(s), 2 intermediate(s), 1 output(s)>"


def test_partial_that_cannot_be_written_shows_its_value(monkeypatch):
    trace_module = importlib.import_module("dualdiff.notation.formulas")  # the symbolic namespace lives here

    real = trace_module._SymbolicMath.__getattr__

    def no_cos(self, name):
        if name == "cos":
            raise AttributeError(name)
        return real(self, name)

    monkeypatch.setattr(trace_module._SymbolicMath, "__getattr__", no_cos)
    t = dd.trace(lambda x: dd.sin(x), 0.5).forward_table()
    assert t.rows[1]["tangent_formula"] == f"{math.cos(0.5):.6g} * v̇_0"
    assert t.rows[1]["tangent"] == math.cos(0.5)


def test_names():
    assert dd.trace(lambda a, b: a * b, (1.0, 2.0)).names == ("a", "b")
    assert dd.trace(lambda x: x[0] * x[1], (1.0, 2.0)).names == ("x1", "x2")
    assert dd.trace(lambda x: x[0] * x[1], (1.0, 2.0), names=("p", "q")).names == ("p", "q")
    assert dd.trace(lambda t: t * t, 1.0).names == ("t",)
    tr = dd.trace(lambda x: x * 2, 1.0, output_names=["z"])
    assert tr.outputs[0].name == "z"
    assert "x1 = 1" in dd.trace(lambda x: x[0] * x[1], (1.0, 2.0)).table().title


def test_latex_and_markdown():
    tr = dd.trace(lambda x1, x2: dd.log(x1) + x1 * x2 - dd.sin(x2), (2.0, 5.0))
    tex = tr.reverse_table().to_latex()
    for cmd in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}{llrlr}", r"\end{tabular}"):
        assert cmd in tex
    assert r"$\ln\left(v_{-1}\right)$" in tex
    assert r"$x_{1}$" in tex
    assert r"\frac{\bar{v}_{1}}{v_{-1}}" in tex
    md = tr.forward_table("x1").to_markdown()
    assert "| `v_{-1} * v_0` |" in md
    assert md.splitlines()[3].startswith("|:")


def test_csv_full_precision():
    tr = dd.trace(lambda x1, x2: dd.log(x1) + x1 * x2 - dd.sin(x2), (2.0, 5.0))
    for table, key in ((tr.forward_table("x1"), "tangent"), (tr.reverse_table(), "adjoint")):
        parsed = list(csv.DictReader(io.StringIO(table.to_csv())))
        assert [p["variable"] for p in parsed] == col(table, "variable")
        for p, row in zip(parsed, table.rows):
            assert float(p["value"]) == row["value"]
            assert float(p[key]) == row[key]
    # and the values are the hand-computed ones, exactly where floats allow
    parsed = list(csv.DictReader(io.StringIO(tr.table().to_csv())))
    assert float(parsed[2]["value"]) == math.log(2.0)
    assert float(parsed[-1]["value"]) == math.log(2.0) + 10.0 - math.sin(5.0)


def test_text_rounds_for_reading():
    tr = dd.trace(lambda x: dd.log(x), 2.0)
    assert "0.693 " in tr.table().to_text(digits=3) + " "
    assert "0.6931471805599453" not in tr.table().to_text()
    assert "0.6931471805599453" in tr.table().to_csv()


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


def test_trace_errors():
    with pytest.raises(TypeError, match="callable"):
        dd.trace(3.0, 1.0)
    with pytest.raises(ValueError, match="names gives 1 name"):
        dd.trace(lambda x: x[0] * x[1], (1.0, 2.0), names=("a",))
    with pytest.raises(ValueError, match="distinct"):
        dd.trace(lambda x: x[0] * x[1], (1.0, 2.0), names=("a", "a"))
    with pytest.raises(TypeError, match="x must be a number"):
        dd.trace(lambda x: x, "a")
    with pytest.raises(dd.DomainError, match="log"):
        dd.trace(lambda x: dd.log(x), -1.0)


def test_table_errors():
    tr = dd.trace(lambda a, b: a * b, (1.0, 2.0))
    with pytest.raises(ValueError, match="needs a seed direction"):
        tr.forward_table()
    with pytest.raises(ValueError, match="names no input"):
        tr.forward_table("c")
    with pytest.raises(ValueError, match="structured like x"):
        tr.forward_table((1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="y_bar"):
        tr.reverse_table((1.0, 2.0))
    with pytest.raises(IndexError, match="no step v_5"):
        tr.step(5)
    assert col(tr.forward_table({"b": 1.0}), "tangent")[-1] == 1.0
    with pytest.raises(ValueError, match="names no input"):
        tr.forward_table({"c": 1.0})


def test_table_class():
    t = Table([Column("a", "a"), Column("b", "b", kind="number")], [{"a": "x|y", "b": 1.0}])
    assert t.column("b") == [1.0]
    assert "x\\|y" in t.to_markdown()
    with pytest.raises(KeyError, match="no column"):
        t.column("c")
    with pytest.raises(ValueError, match="lacks"):
        Table([Column("a", "a")], [{}])
    with pytest.raises(ValueError, match="kind"):
        Column("a", "a", kind="bogus")
    with pytest.raises(ValueError, match="digits"):
        t.to_text(digits=0)


def test_number_formats():
    assert format_full(np.float64(0.1)) == "0.1"
    assert format_full(1 + 2j) == "(1+2j)"
    assert format_full(np.array([1.5, 2.0])) == "[1.5, 2.0]"
    assert format_value(np.float64(2.0)) == "2"
    assert format_value(1e-20) == "1e-20"
    assert format_latex(-2.5e10) == r"$-2.5 \times 10^{10}$"
    mpmath.mp.dps = 25
    try:
        x = mpmath.mpf(2) / 3
        assert mpmath.mpf(format_full(x)) == x
        z = mpmath.mpc(1, -1) / 3
        assert mpmath.mpc(complex(format_full(z))) == pytest.approx(z)
    finally:
        mpmath.mp.dps = 15
