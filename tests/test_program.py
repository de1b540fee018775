"""dd.wengert and Program: the Wengert list as data, evaluated anew, with guards.

Expected values come from evaluating the function itself (the program must
reproduce it bit for bit) or are worked out by hand.
"""

from __future__ import annotations

import threading

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_transforms import program_function, programs

import dualdiff as dd
from dualdiff.program import Const, Equation


def same_bits(a, b):
    """Equal values, dtypes and shapes (nan equal to nan), recursively through tuples."""
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(same_bits(x, y) for x, y in zip(a, b))
    if isinstance(a, (mpmath.mpf, mpmath.mpc)):
        return a == b
    a_arr, b_arr = np.asarray(a), np.asarray(b)
    return (
        type(a) is type(b)
        and a_arr.shape == b_arr.shape
        and a_arr.dtype == b_arr.dtype
        and np.array_equal(a_arr, b_arr, equal_nan=True)
    )


# --------------------------------------------------------------------------
# the data structure
# --------------------------------------------------------------------------


def test_equations_hold_rule_inputs_params_slot_shape_dtype():
    prog = dd.wengert(lambda x: np.sum(np.sin(x) * 2.0, axis=0), np.ones((3, 2)))
    assert prog.n == 1 and prog.names == ("x",) and len(prog) == 3
    sin, mul, total = prog.equations
    assert isinstance(sin, Equation)
    assert (sin.rule.name, sin.inputs, sin.out, sin.shape, sin.dtype) == ("sin", (0,), 1, (3, 2), np.float64)
    assert mul.rule.name == "mul" and mul.inputs[0] == 1 and mul.inputs[1] == Const(2.0)
    assert total.rule.name == "sum" and total.params == ((0,), False) and total.shape == (2,)
    assert prog.output_atoms() == [3]
    assert [prog.index(s) for s in range(prog.n_slots)] == [0, 1, 2, 3]


def test_textbook_numbering_for_several_inputs():
    prog = dd.wengert(lambda x: dd.log(x[0]) + x[0] * x[1] - dd.sin(x[1]), (2.0, 5.0))
    assert prog.names == ("x1", "x2")
    text = str(prog)
    for line in ["v_{-1}    x1", "v_0       x2", "v_1       ln(v_{-1})", "v_5       v_3 - v_4", "y         v_5"]:
        assert line in text, text
    assert "float64[]" in text
    assert prog.to_markdown().startswith("**Program of f")
    assert r"\toprule" in prog.to_latex()
    assert prog.to_csv().splitlines()[0] == "variable,operation,type"


def test_constants_are_bound_not_copied_into_text():
    W = np.arange(6.0).reshape(2, 3)
    prog = dd.wengert(lambda x: W @ x, np.ones(3))
    (eq,) = prog.equations
    assert eq.inputs[0].value is W  # the constant itself, by reference


@pytest.mark.parametrize(
    "f, x, x_new",
    [
        (lambda x: dd.exp(dd.sin(x)) * x, 0.3, 1.7),
        (lambda x: np.tanh(x @ x) + x, np.linspace(-1, 1, 4), np.linspace(0, 2, 4)),
        (lambda p: (p[0] * p[1], np.sum(p[1] ** 3)), (2.0, np.ones(3)), (-1.0, np.arange(3.0))),
        (lambda x: dd.sqrt(x) * x, mpmath.mpf("2.5"), mpmath.mpf("0.1")),
        (lambda z: dd.exp(z) * z - 1j, 0.5 + 0.25j, -1.0 + 2j),
        (lambda x: np.sum(x[[0, 0, 1]] ** 2) / np.linalg.det(np.outer(x, x) + np.eye(2)), np.ones(2), np.arange(2.0)),
    ],
    ids=["scalar", "array", "tuple", "mpmath", "complex", "indexing-linalg"],
)
def test_program_reproduces_f_bit_for_bit(f, x, x_new):
    prog = dd.wengert(f, x)
    assert same_bits(prog(x), f(x))
    assert same_bits(prog(x_new), f(x_new))
    # and every transform applies to it as to f
    v = x_new if not isinstance(x_new, tuple) else tuple(np.ones_like(a) for a in x_new)
    y1, t1 = dd.jvp(prog, x_new, v)
    y2, t2 = dd.jvp(f, x_new, v)
    assert same_bits(y1, y2) and same_bits(t1, t2)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.data())
def test_random_straight_line_programs_evaluate_to_the_last_bit(program, data):
    n, ops, outputs, x, as_tuple_out, as_tuple_in = program
    f = program_function(n, ops, outputs, as_tuple_out, as_tuple_in)
    point = tuple(x) if as_tuple_in else np.array(x)
    try:
        prog = dd.wengert(f, point)
    except dd.DomainError:
        return
    new = data.draw(st.lists(st.floats(-2.0, 2.0, allow_subnormal=False), min_size=n, max_size=n))
    new_point = tuple(new) if as_tuple_in else np.array(new)
    try:
        expected = f(new_point)
    except dd.DomainError:
        with pytest.raises(dd.DomainError):
            prog(new_point)
        return
    got = prog(new_point)
    # bit for bit what dualdiff computes for f at the new point (its primal under any transform) ...
    zeros = tuple(0.0 for _ in new) if as_tuple_in else np.zeros(n)
    under_dd = dd.jvp(f, new_point, zeros)[0]
    if not as_tuple_out:  # f returns an object array of values; the program a float array of them
        got, under_dd = np.asarray(got, dtype=float), np.asarray(under_dd, dtype=float)
    assert same_bits(got, under_dd)
    # ... which is f's own value, up to NumPy's scalar ufuncs differing from math's in the last bit
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float), rtol=1e-13, atol=1e-300)


# --------------------------------------------------------------------------
# guards: control flow is never frozen silently
# --------------------------------------------------------------------------


def branchy(x):
    if x > 0:  # the guard's line
        return x * 2.0
    return -x


def test_a_branch_is_guarded_and_names_its_line():
    prog = dd.wengert(branchy, 1.0)
    assert len(prog.guards) == 1
    g = prog.guards[0]
    assert g.kind == "bool" and g.outcome is True and "test_program.py" in g.source and "if x > 0" in g.source
    assert prog(3.0) == 6.0
    with pytest.raises(dd.GuardError) as e:
        prog(-1.0)
    text = str(e.value)
    assert "guard 1" in text and "True when recorded, False here" in text and "if x > 0" in text
    assert "guard 1" in str(prog)


def test_int_and_index_decisions_are_guarded():
    def f(x):
        k = int(x[0])  # a decision on a traced value
        i = np.argmax(x)  # an index computed from x
        return x[i] * k

    x = np.array([2.5, 7.0, 1.0])
    prog = dd.wengert(f, x)
    assert sorted(g.kind for g in prog.guards) == ["index", "int"]
    assert prog(np.array([2.9, 8.0, 1.0])) == f(np.array([2.9, 8.0, 1.0]))
    with pytest.raises(dd.GuardError, match="int"):
        prog(np.array([3.5, 7.0, 1.0]))
    with pytest.raises(dd.GuardError, match="index"):
        prog(np.array([2.5, 1.0, 7.0]))


def test_masks_stay_in_the_program_without_guards():
    f = lambda x: np.where(x > 0, x, 0.5 * x)  # noqa: E731
    prog = dd.wengert(f, np.array([-1.0, 2.0]))
    assert not prog.guards
    assert [eq.rule.name for eq in prog.equations] == ["greater", "mul", "where"]
    new = np.array([3.0, -4.0])  # the other branch in each element: no guard, the mask is recomputed
    assert same_bits(prog(new), f(new))


def test_shape_and_dtype_mismatch_raise():
    prog = dd.wengert(lambda x: x * 2.0, np.ones(3))
    with pytest.raises(ValueError, match=r"recorded for shape \(3,\), got shape \(4,\)"):
        prog(np.ones(4))
    with pytest.raises(TypeError, match="recorded for dtype float64"):
        prog(np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match="takes 1 input leaves, got 2"):
        prog((np.ones(3), np.ones(3)))


def test_float_of_a_traced_value_refuses():
    with pytest.raises(TypeError, match="freeze it into a constant"):
        dd.wengert(lambda x: float(x) * 2.0, 1.0)


def test_functions_without_rules_refuse_as_in_eager_mode():
    with pytest.raises(dd.NoRuleError, match="np.fft.fft"):
        dd.wengert(np.fft.fft, np.ones(4))


# --------------------------------------------------------------------------
# the analyses read it; nested use; threads
# --------------------------------------------------------------------------


def test_trace_tables_read_the_program():
    tr = dd.trace(lambda x1, x2: dd.log(x1) + x1 * x2 - dd.sin(x2), (2.0, 5.0))
    assert tr.program is not None and len(tr.program) == 5
    assert [s.value for s in tr.intermediates] == [v for v in tr.program.evaluate((2.0, 5.0))[2:]]


def test_recording_inside_a_transform_and_a_transform_of_a_recording():
    f = lambda x: dd.sin(x) * x  # noqa: E731
    # wengert of the derivative records the forward-mode computation itself
    prog = dd.wengert(dd.derivative(f), 0.7)
    assert same_bits(prog(1.3), dd.derivative(f)(1.3))
    # and the derivative of the program is the derivative of f
    assert dd.derivative(dd.wengert(f, 0.7))(1.3) == dd.derivative(f)(1.3)
    assert dd.grad(dd.wengert(f, 0.7))(1.3) == dd.grad(f)(1.3)


def test_compare_runs_in_two_threads_and_nested():
    results = []

    def work(k):
        r = dd.compare(lambda x: np.sum(x**3) * k, np.ones(5), timing=False, memory=False)
        results.append(r.ops("f"))

    threads = [threading.Thread(target=work, args=(k,)) for k in (1.0, 2.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0] == results[1]

    def outer(x):
        inner = dd.compare(lambda y: y * y, 2.0, timing=False, memory=False)  # compare inside compare
        return x * inner.ops("f")

    assert dd.compare(outer, 1.0, timing=False, memory=False).ops("f") > 0
