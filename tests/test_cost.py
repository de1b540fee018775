"""Forward versus reverse cost: the cost model (dualdiff.cost), dd.compare and `dualdiff compare`."""

from __future__ import annotations

import io
import json
import math
import sys
import textwrap
import tracemalloc
from unittest import mock

import numpy as np
import pytest

import dualdiff as dd
from dualdiff import cost
from dualdiff.cli import compare as cost_cli
from dualdiff.cli.main import main
from dualdiff.cost import model
from dualdiff.cost.work import Work
from dualdiff.modes.dual import Dual
from dualdiff.rules import TABLE, Elementwise, General, Linear, Nondiff


def rosenbrock(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def quick(f, x, **kw):
    kw.setdefault("timing", False)
    kw.setdefault("memory", False)
    return dd.compare(f, x, **kw)


# --------------------------------------------------------------------------
# passes and sweeps
# --------------------------------------------------------------------------


def test_many_inputs_one_output_passes_and_sweeps():
    x = np.linspace(0.5, 1.5, 50)
    r = quick(rosenbrock, x, chunk=1)
    assert (r.n, r.m) == (50, 1)
    assert r.passes == 50 and r.sweeps == 1
    fwd, rev = r.rows
    assert fwd["mode"] == "forward" and fwd["passes"] == 50 and fwd["how"] == "50 passes x 1 direction"
    assert rev["mode"] == "reverse" and rev["passes"] == 1 and rev["recordings"] == 1
    assert rev["how"] == "1 recording + 1 sweep"
    assert r.max_rel_diff < 1e-13
    assert r.choice.mode == "reverse"
    text = str(r)
    assert "50 passes x 1 direction" in text and "chunk 1" in text

    # default chunking: one pass carries all 50 directions, and the report says so
    r = quick(rosenbrock, x)
    assert r.passes == 1 and r.rows[0]["how"] == "1 pass x 50 directions"
    assert f"chunk {dd.transforms.DEFAULT_CHUNK} (default)" in str(r)
    assert r.rows[0]["directions"] == 50 and r.rows[1]["directions"] == 1
    # chunk 16: ceil(50 / 16) = 4 passes
    r = quick(rosenbrock, x, chunk=16)
    assert r.passes == 4 and r.rows[0]["how"] == "4 passes x up to 16 directions"


def test_one_input_many_outputs_the_other_way_round():
    w = np.linspace(1.0, 2.0, 50)
    r = quick(lambda t: np.sin(w * t) * t, 0.3, chunk=1)
    assert (r.n, r.m) == (1, 50)
    assert r.passes == 1 and r.sweeps == 50
    assert r.rows[1]["how"] == "1 recording + 50 sweeps x 1 cotangent"
    assert r.max_rel_diff < 1e-13
    assert r.choice.mode == "forward"
    # the reverse Jacobian applies every recorded primitive once, then its transposes per sweep
    assert r.rows[1]["applications"] == r.costs.primitives + 50 * r.costs.reached
    assert r.rows[0]["applications"] == r.costs.primitives

    r = quick(lambda t: np.sin(w * t) * t, 0.3)
    assert r.sweeps == 1 and r.rows[1]["how"] == "1 recording + 1 sweep x 50 cotangents"


def test_jacobians_agree_on_tuples_and_report_the_largest_relative_difference():
    r = quick(lambda p: (p[0] * p[1], np.sin(p[0]) + p[1] ** 2), (0.7, np.array([1.0, 2.0])))
    assert (r.n, r.m) == (3, 4)
    assert r.max_rel_diff <= 1e-15
    assert r.x_text == "(float, float64[2])"


# --------------------------------------------------------------------------
# the cost model, by hand
# --------------------------------------------------------------------------


def test_exact_counts_scalar_example_by_hand():
    """f = x1*x2 + sin(x1), counted by hand from the model in dualdiff.opcount's docstring.

    evaluate:  mul  moves 3 (read x1, x2, write), mults 1
               sin  moves 2, nlops 1
               add  moves 3, adds 1                       -> (8, 1, 1, 1) = 11
    partials:  mul: b and a cost nothing; sin: cos(x1) 1 nlop; add: signs -> nlops 1
    tangent:   mul  moves 3 (read 2 tangents, write), mults 2, adds 1
               sin  moves 2, mults 1
               add  moves 3, adds 1                       -> (8, 2, 3, 0)
    adjoint:   mul  moves 1 + 2*3, mults 2, adds 2
               sin  moves 1 + 3,   mults 1, adds 1
               add  moves 1 + 2*2,          adds 2        -> (16, 5, 3, 0)
    bookkeeping: JVP n + m = 3; VJP stored partials (2 + 1) + n + m = 6
    """
    rec = cost.record(lambda x: x[0] * x[1] + np.sin(x[0]), (1.0, 2.0))
    c = cost.mode_costs(rec)
    assert [op.rule.name for op in rec.ops] == ["mul", "sin", "add"]
    assert c.f == Work(moves=8, adds=1, mults=1, nlops=1)
    assert c.jvp == Work(moves=16, adds=3, mults=4, nlops=2)  # f + partials + tangent
    assert c.vjp == Work(moves=24, adds=6, mults=4, nlops=2)  # f + partials + adjoint
    assert (c.ops("f"), c.ops("jvp"), c.ops("vjp")) == (11, 25, 36)
    assert c.bookkeeping["jvp"] == 3 and c.bookkeeping["vjp"] == 6 and c.stored == 3
    # the Jacobian (2 inputs, 1 output): one pass of 2 directions; one recording and one sweep
    assert c.jacfwd == Work(moves=8 + 16, adds=1 + 4, mults=1 + 6, nlops=2)
    assert c.jacrev == c.vjp
    assert c.bookkeeping["jacfwd"] == (2 + 1) * 2 and c.bookkeeping["jacrev"] == 3 + (2 + 1) * 1
    r = quick(lambda x: x[0] * x[1] + np.sin(x[0]), (1.0, 2.0))
    assert r.ratio("jvp") == 25 / 11 and r.ratio("vjp") == 36 / 11
    assert r.ratio("vjp", bookkeeping=True) == 42 / 11


def test_exact_counts_arrays_broadcasting_and_a_reduction_by_hand():
    """f = sum(2.0 * x) with x of 3 elements.

    mul(2.0, x), s = 3:  evaluate moves (2+1)*3 = 9, mults 3; partial wrt x is the constant 2.0
                         (no work, 1 element stored); tangent moves 2*3, mults 3;
                         adjoint moves 3 + 3*3, mults 3, adds 3
    sum, 3 -> 1:         evaluate moves 3 + 1, adds 2; tangent the same; adjoint moves 3*3, adds 3
    """
    rec = cost.record(lambda x: np.sum(2.0 * x), np.ones(3))
    mul, total = rec.ops
    assert (mul.evaluate, mul.partials, mul.tangent, mul.adjoint, mul.stored) == (
        Work(moves=9, mults=3),
        Work(),
        Work(moves=6, mults=3),
        Work(moves=12, adds=3, mults=3),
        1,
    )
    assert (total.evaluate, total.tangent, total.adjoint) == (
        Work(moves=4, adds=2),
        Work(moves=4, adds=2),
        Work(moves=9, adds=3),
    )
    c = cost.mode_costs(rec)
    assert (c.ops("f"), c.ops("jvp"), c.ops("vjp")) == (18, 33, 48)
    assert (c.ops("jacfwd"), c.ops("jacrev")) == (18 + 3 * 15, 48)
    assert c.bookkeeping == {"jvp": 4, "vjp": 5, "jacfwd": 12, "jacrev": 5}


def test_exact_counts_signs_negation_and_partial_formulas():
    # 1 - x: sub with only its second argument active, so the tangent is negated (1 add)
    [op] = cost.record(lambda x: 1.0 - x, 2.0).ops
    assert op.tangent == Work(moves=2, adds=1) and op.partials == Work() and op.stored == 0
    assert op.adjoint == Work(moves=3, adds=1)
    # partial formulas are counted by running them on symbolic operands (rules made here, so the
    # counts do not depend on how the table writes its formulas)
    tanh_like = Elementwise("t1", 1, "t1({0})", partials=(lambda m, y, x: 1 - y * y,))
    c = model._elementwise_cost(tanh_like, ((5,),), (5,), (True,))
    assert c.partials == Work(adds=5, mults=5) and c.stored == 5
    div_like = Elementwise("t2", 2, "t2({0}, {1})", partials=(lambda m, y, a, b: 1 / b, lambda m, y, a, b: -y / b))
    c = model._elementwise_cost(div_like, ((), ()), (), (True, True))
    assert c.partials == Work(adds=1, mults=2) and c.stored == 2
    # a scalar operand costs 1 where arrays cost their size; namespace functions count as their rule's class
    pow_like = Elementwise(
        "t3", 2, "t3({0}, {1})", partials=(lambda m, y, a, b: b * a ** (b - 1) + m.cos(a) * m.const(a, 2),)
    )
    c = model._elementwise_cost(pow_like, ((4,), ()), (4,), (True, False))
    assert c.partials == Work(adds=1 + 4, mults=4 + 4, nlops=4 + 4)
    # a formula the namespace cannot follow (it branches on a value) is estimated: 1 nlop per element
    branchy = Elementwise("t4", 1, "t4({0})", partials=(lambda m, y, x: x if x > 0 else -x,))
    c = model._elementwise_cost(branchy, ((3,),), (3,), (True,))
    assert c.partials == Work(nlops=3) and c.estimated
    # x ** 2 on arrays: the dispatch computes it as square, in both modes (2*x: one mult per element)
    [op] = cost.record(lambda x: x**2, np.ones(4)).ops
    assert op.rule.name == "square" and op.evaluate == Work(moves=8, mults=4) and op.partials == Work(mults=4)


def test_unreached_operations_cost_nothing_in_the_sweep():
    def f(x):
        _ = np.exp(x)  # computed, never used: forward mode pays for it, the sweep does not
        return x * x

    rec = cost.record(f, 2.0)
    assert [(op.rule.name, op.reached) for op in rec.ops] == [("exp", False), ("mul", True)]
    assert rec.ops[0].adjoint == Work() and rec.ops[0].tangent != Work()


# --------------------------------------------------------------------------
# the textbook bounds
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 10, 1000])
def test_rosenbrock_within_griewank_walther_bounds(n):
    r = quick(rosenbrock, np.linspace(0.5, 1.5, n))
    assert r.ratio("jvp") <= dd.cost.JVP_BOUND
    assert r.ratio("vjp") <= dd.cost.GRADIENT_BOUND
    # bookkeeping (seeds, results, partials written to the tape) is documented and small here
    bk_jvp = r.costs.bookkeeping["jvp"] / r.ops("f")
    bk_vjp = r.costs.bookkeeping["vjp"] / r.ops("f")
    assert r.ratio("jvp", True) == pytest.approx(r.ratio("jvp") + bk_jvp)
    assert r.ratio("vjp", True) == pytest.approx(r.ratio("vjp") + bk_vjp)
    if n >= 10:
        assert r.ratio("jvp", True) <= dd.cost.JVP_BOUND and r.ratio("vjp", True) <= dd.cost.GRADIENT_BOUND
    d = r.to_dict()["one_pass"]
    assert d["jvp"]["bound"] == 2.5 and d["vjp"]["bound"] == 4.0


@pytest.mark.parametrize(
    "weights",
    [
        cost.Weights(),
        cost.Weights(moves=3, mults=2, nlops=5),
        cost.Weights(moves=1, nlops=10),
        cost.Weights(moves=3, mults=3, nlops=3),
        cost.Weights(moves=2, mults=1.5, nlops=1.5),
    ],
)
def test_griewank_walther_elementals_meet_the_bounds_for_their_weights(weights):
    # mu >= pi >= 1, nu >= pi: add/sub, mul, and a psi whose derivative takes one operation
    for f, x in [
        (lambda p: p[0] + p[1], (1.0, 2.0)),
        (lambda p: p[0] - p[1], (1.0, 2.0)),
        (lambda p: p[0] * p[1], (1.0, 2.0)),
        (np.sin, 0.5),
        (np.exp, 0.5),
        (np.log, 0.5),
    ]:
        c = cost.mode_costs(cost.record(f, x))
        base = c.ops("f", weights)
        assert c.ops("jvp", weights) <= 2.5 * base
        assert c.ops("vjp", weights) <= 4 * base
    mul = cost.mode_costs(cost.record(lambda p: p[0] * p[1], (1.0, 2.0)))
    assert mul.ops("jvp") == 2.5 * mul.ops("f")  # the tangent bound is reached by a product


# --------------------------------------------------------------------------
# every rule has a cost, and a tangent never costs more than an adjoint
# --------------------------------------------------------------------------

A = np.arange(1.0, 13.0).reshape(3, 4) / 10
ARRAY_FUNCTIONS = {
    "matmul": lambda x: A @ x,
    "einsum": lambda x: np.einsum("ij,j->i", A, x),
    "tensordot": lambda x: np.tensordot(A, x, axes=1),
    "where": lambda x: np.where(x > 0.5, x, 2 * x),
    "concatenate": lambda x: np.concatenate([x, x * x, np.ones(7)]),
    "max": lambda x: np.max(x),
    "min": lambda x: np.min(x),
    "prod": lambda x: np.prod(x),
    "cumsum": lambda x: np.cumsum(x),
    "transpose": lambda x: np.transpose(np.reshape(x, (2, 2))),
    "inv": lambda x: np.linalg.inv(np.reshape(x, (2, 2))),
    "solve": lambda x: np.linalg.solve(np.reshape(x, (2, 2)), x[:2]),
    "det": lambda x: np.linalg.det(np.reshape(x, (2, 2))),
    "logabsdet": lambda x: np.linalg.slogdet(np.reshape(x, (2, 2)))[1],
    "diag_embed": lambda x: np.diag(x),
    "diagonal": lambda x: np.trace(np.reshape(x, (2, 2))),
    "broadcast_to": lambda x: np.broadcast_to(x, (3, 4)) * 1.0,
}
X4 = np.array([0.3, 0.7, 1.1, 1.4])


#: Partials that choose their formula by the value of x (a series near 0): the model charges them
#: one nonlinear operation per element and says so ("estimated").
BY_VALUE = {"sinc"}


def test_every_rule_of_the_table_has_a_cost():
    missing = []
    for name, rule in TABLE.items():
        if isinstance(rule, Elementwise) and name not in BY_VALUE:
            for i in range(len(rule.partials)):
                _, _, estimated = model._partial_cost(rule, i, ((4,),) * rule.nin, (4,))
                if estimated:
                    missing.append(f"{name} (partial {i})")
        elif isinstance(rule, Linear) and rule not in model.LINEAR_COSTS:
            missing.append(name)
        elif isinstance(rule, General) and rule not in model.GENERAL_COSTS:
            missing.append(name)
    assert not missing, f"rules without a cost in dualdiff.cost.model: {missing}"


@pytest.mark.parametrize("name", sorted(ARRAY_FUNCTIONS))
def test_array_rules_are_costed_and_verified(name):
    f = ARRAY_FUNCTIONS[name]
    rec = cost.record(f, X4)
    assert name in {op.rule.name for op in rec.ops}
    assert not rec.estimated
    assert forward_counts(f, X4) == recorded_counts(rec)
    for op in rec.ops:
        assert op.tangent.le(op.adjoint) or not op.reached, op
    r = quick(f, X4)
    assert r.max_rel_diff < 1e-12


@pytest.mark.parametrize("name", sorted(n for n, r in TABLE.items() if isinstance(r, Elementwise)))
def test_tangent_never_costs_more_than_adjoint_elementwise(name):
    rule = TABLE[name]
    shapes = [((3,),) * rule.nin, ((3,), ())[: rule.nin] if rule.nin == 2 else ((3,),)]
    for arg_shapes in shapes:
        out = np.broadcast_shapes(*arg_shapes)
        for active in {(True,) * rule.nin, (True,) + (False,) * (rule.nin - 1), (False,) * (rule.nin - 1) + (True,)}:
            c = model._elementwise_cost(rule, tuple(arg_shapes), out, active)
            assert c.tangent.le(c.adjoint), (name, arg_shapes, active, c)


def test_general_rule_without_cost_is_estimated_and_said_so(monkeypatch):
    monkeypatch.delitem(model.GENERAL_COSTS, TABLE["matmul"])
    r = quick(lambda x: A @ x, X4)
    assert r.estimated == ["matmul"]
    assert "no exact cost model for matmul" in str(r)
    assert "matmul (estimated)" in str(r)


def test_register_general_cost_rejects_non_callables():
    with pytest.raises(TypeError, match="cost must be callable"):
        cost.register_general_cost("x", 3)


# --------------------------------------------------------------------------
# counting what forward mode really does
# --------------------------------------------------------------------------


def forward_counts(f, x):
    """Applications per rule in one forward pass of f, counted by wrapping Dual's generic hooks.

    np.float64 inputs keep the pass off the Python-float fast paths, so every
    application goes through a hook (a test-only count: the library itself
    never swaps methods).
    """
    counts = {}

    def counting(hook):
        def wrapper(rule, *args, **kwargs):
            counts[rule.name] = counts.get(rule.name, 0) + 1
            return hook(rule, *args, **kwargs)

        return wrapper

    with mock.patch.multiple(
        Dual,
        _elementwise=staticmethod(counting(Dual._elementwise)),
        _linear=staticmethod(counting(Dual._linear)),
        _general=staticmethod(counting(Dual._general)),
    ):
        xs = dd.modes.tree.map_tree(lambda a: np.asarray(a, dtype=float) if np.ndim(a) else np.float64(a), x)
        dd.jvp(f, xs, dd.modes.tree.map_tree(np.ones_like, xs))
    return counts


def recorded_counts(rec):
    counts = {}
    for op in rec.ops:
        counts[op.rule.name] = counts.get(op.rule.name, 0) + 1
    return counts


def test_forward_mode_applies_the_primitives_the_program_records():
    x = np.linspace(0.5, 1.5, 6)
    applied = forward_counts(rosenbrock, x)
    assert applied == {"getitem": 3, "square": 3, "sub": 2, "mul": 1, "add": 1, "sum": 1}
    assert applied == recorded_counts(cost.record(rosenbrock, x))
    f = lambda p: dd.sin(p[0]) * 3.0 - p[1] ** 2 + abs(p[0])  # noqa: E731
    p = (np.array([0.5]), np.array([2.0]))  # arrays: every application passes a hook
    assert (
        forward_counts(f, p)
        == recorded_counts(cost.record(f, p))
        == {
            "sin": 1,
            "mul": 1,
            "square": 1,
            "sub": 1,
            "abs": 1,
            "add": 1,
        }
    )
    # the program keeps functions of values too; the cost model does not count them
    prog = dd.wengert(lambda x: np.where(x > 1.0, x, 2 * x), x)
    assert [type(eq.rule) for eq in prog.equations].count(Nondiff) == 1
    assert "greater" not in recorded_counts(cost.cost_program(prog))


# --------------------------------------------------------------------------
# memory and time
# --------------------------------------------------------------------------


def test_tape_size_and_peak_memory():
    x = np.linspace(0.5, 1.5, 2000)
    r = dd.compare(rosenbrock, x, repeat=1)
    assert r.tape.entries == 11
    # the pow partials (3 arrays of 1999 floats) and friends stay on the tape
    assert r.tape.value_bytes >= 3 * 1999 * 8
    assert r.tape.total_bytes > r.tape.value_bytes
    assert r.rows[1]["stored_bytes"] == r.tape.value_bytes and r.rows[0]["stored_bytes"] == 0
    # forward mode pushes 2000 directions at once: its tangents are n x n
    assert r.peak_memory["forward"] > 2000 * 2000 * 8
    assert 0 < r.peak_memory["reverse"] < r.peak_memory["forward"]
    assert not tracemalloc.is_tracing()
    assert set(r.times) == {"f", "jvp", "vjp", "forward", "reverse", "compiled_forward", "compiled_reverse", "compile"}
    assert r.compiled_max_rel_diff < 1e-13 and r.rows[0]["compiled_time_s"] == r.times["compiled_forward"]
    assert all(t > 0 for t in r.times.values()) and set(r.repeats.values()) == {1}
    assert r.rows[0]["time_s"] == r.times["forward"]


def test_timing_medians_and_repeats_are_reported():
    r = dd.compare(lambda x: x * x, 3.0, repeat=3, memory=False)
    assert r.repeats == {
        "f": 3,
        "jvp": 3,
        "vjp": 3,
        "forward": 3,
        "reverse": 3,
        "compiled_forward": 3,
        "compiled_reverse": 3,
    }
    assert "medians of 3 repeats each" in str(r)
    assert r.rows[0]["time_per_f"] == pytest.approx(r.times["forward"] / r.times["f"])


# --------------------------------------------------------------------------
# the report's forms
# --------------------------------------------------------------------------


def test_report_text_markdown_dict_json():
    r = dd.compare(rosenbrock, np.linspace(0.5, 1.5, 20), repeat=1)
    text = str(r)
    for part in ("forward", "reverse", "OPS(JVP)/OPS(f)", "OPS(gradient)/OPS(f)", "bound 2.5", "bound 4", "agreement"):
        assert part in text
    assert "per primitive" in text and "getitem" in text and "total" in text
    md = r.to_markdown()
    assert md.count("\n| forward |") == 1 and "| ---" in md
    d = json.loads(r.to_json())
    assert d["n"] == 20 and d["passes"] == 1 and d["sweeps"] == 1
    assert [row["mode"] for row in d["rows"]] == ["forward", "reverse"]
    assert d["ops"]["f"]["total"] == r.ops("f")
    assert sum(p["applications"] for p in d["primitives"]) == 11
    assert d["choice"]["mode"] == "reverse"
    assert r.to_dict()["rows"] == r.rows


def test_compare_rejects_bad_arguments():
    with pytest.raises(TypeError, match="compare needs a callable f"):
        dd.compare(3, 1.0)
    with pytest.raises(ValueError, match="chunk must be a positive int"):
        dd.compare(np.sin, 1.0, chunk=0)
    with pytest.raises(ValueError, match="repeat must be a positive int"):
        dd.compare(np.sin, 1.0, repeat=0)
    with pytest.raises(TypeError, match="x must be a number"):
        dd.compare(np.sin, "a")
    with pytest.raises(TypeError, match="weights must be"):
        dd.compare(np.sin, 1.0, weights=(1, 1, 1, 1))
    with pytest.raises(ValueError, match="what must be one of"):
        quick(np.sin, 1.0).ops("backward")


# --------------------------------------------------------------------------
# the automatic mode
# --------------------------------------------------------------------------


def test_choose_mode_explains_and_jacobian_auto_follows_it():
    w, w40 = np.linspace(1.0, 2.0, 6), np.linspace(1.0, 2.0, 40)
    cases = [
        (lambda x: np.sum(np.sin(x)), np.ones(20), None, "reverse"),
        (lambda t: np.sin(w * t), 0.5, None, "forward"),
        # square: a tangent is cheaper than an adjoint, so forward
        (lambda x: np.sin(x) * x[::-1], np.linspace(0.1, 1.0, 5), None, "forward"),
        # n < m but one direction per pass: 39 passes of f cost more than one recording and 40 sweeps
        (lambda x: np.sum(np.exp(np.sin(x))) * w40, np.linspace(0.1, 1.0, 39), 1, "reverse"),
    ]
    for f, x, chunk, mode in cases:
        choice = dd.choose_mode(f, x, chunk=chunk, explain=True)
        assert isinstance(choice, cost.ModeChoice)
        assert choice.mode == mode == dd.choose_mode(f, x, chunk=chunk), str(choice)
        assert str(choice).startswith(mode + ":") and "element operations" in str(choice)
        assert (choice.forward_ops < choice.reverse_ops) == (mode == "forward")
        J = dd.jacobian(f, mode="auto", chunk=chunk)(x)
        ref = (dd.jacfwd if mode == "forward" else dd.jacrev)(f, chunk)(x)
        np.testing.assert_array_equal(J, ref)


@pytest.mark.parametrize("n, m", [(1, 2), (2, 5), (3, 3), (5, 2), (4, 1), (7, 8)])
def test_choice_without_recording_agrees_with_the_model(n, m):
    W = np.arange(1.0, m * n + 1).reshape(m, n) / (m * n)

    def f(x):
        return np.sum(W * dd.sin(x), axis=1) + x[0] * x[n - 1]

    x = np.linspace(0.2, 1.1, n)
    assert cost.choose(f, x, 1024).mode == cost.choose(f, x, 1024, explain=True).mode


# --------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------


def run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_single_size_prints_the_report(capsys):
    status, out, _ = run(["compare", "--function", "rosenbrock", "--n", "50", "--repeat", "1", "--no-memory"], capsys)
    assert status == 0
    assert "rosenbrock: R^50 -> R^1" in out and "1 pass x 50 directions" in out and "bound 4" in out


def test_cli_sweep_table_formats(capsys):
    status, out, _ = run(["compare", "--sweep", "--n", "1,4", "--m", "2,3", "--repeat", "1", "--format", "csv"], capsys)
    assert status == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("n,m,forward,reverse,ops_f") and len(lines) == 5
    status, out, _ = run(["compare", "-f", "fanout", "--m", "1,10", "--chunk", "1", "--repeat", "1"], capsys)
    assert status == 0 and "fanout: R -> R^m" in out and "1 x 1" in out and "10 x 1" in out
    status, out, _ = run(["compare", "-f", "logsumexp", "--n", "3,30", "--repeat", "1", "--format", "json"], capsys)
    rows = json.loads(out)["rows"]
    assert [r["n"] for r in rows] == [3, 30] and all(r["auto"] == "reverse" for r in rows)
    status, out, _ = run(["compare", "--n", "3,4", "--repeat", "1", "--no-memory", "--format", "markdown"], capsys)
    assert status == 0 and "| n | m | passes |" in out
    status, out, _ = run(["compare", "--list"], capsys)
    assert status == 0 and "mixer" in out and "R^n -> R^m" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--n", "10,x"], "--n expects comma-separated whole numbers"),
        (["--n", "1"], "--n 1: sizes must be at least 2"),
        (["--m", "5"], "rosenbrock is R^n -> R, its output size is fixed"),
        (["-f", "fanout", "--n", "5"], "fanout is R -> R^m, its input size is fixed"),
        (["-f", "rosenbrock", "--sweep"], "--sweep takes the grid of n inputs by m outputs"),
        (["-f", "nope"], "not a built-in function"),
        (["-f", "no_such_module_xyz:f"], "cannot import module 'no_such_module_xyz'"),
        (["-f", "math:nope"], "module 'math' has no attribute 'nope'"),
        (["-f", "math:pi"], "pi is a float, not a function"),
        (["--chunk", "0"], "--chunk must be a positive number"),
    ],
)
def test_cli_errors_name_the_bad_argument(argv, message, capsys):
    status, _, err = run(["compare", *argv], capsys)
    assert status == 2
    assert err.startswith("dualdiff compare: error:") and message in err


def test_cli_user_function_by_import_path(tmp_path, monkeypatch, capsys):
    (tmp_path / "mymodel.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            def energy(x):
                return np.sum(np.cos(x) * x)

            def broken(x):
                return np.log(-x)
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    status, out, _ = run(["compare", "-f", "mymodel:energy", "--n", "5,20", "--repeat", "1", "--no-memory"], capsys)
    assert status == 0 and "mymodel:energy" in out and "20 x 1" not in out
    status, _, err = run(["compare", "-f", "mymodel:broken", "--n", "3", "--repeat", "1"], capsys)
    assert status == 1 and "mymodel:broken at n=3: DomainError" in err


def test_cli_plot_without_matplotlib_says_so(monkeypatch, capsys):
    real = cost_cli.importlib.util.find_spec
    monkeypatch.setattr(cost_cli.importlib.util, "find_spec", lambda name: None if name == "matplotlib" else real(name))
    status, _, err = run(["compare", "--n", "3,4", "--plot", "x.png"], capsys)
    assert status == 1 and "--plot needs matplotlib" in err and "pip install 'dualdiff-ad[plot]'" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--function", "rosenbrock", "--n", "10,100,1000"],
        ["--sweep", "--n", "1,10,100", "--m", "1,10,100"],
        ["-f", "fanout", "--m", "1,10,100"],
    ],
)
def test_cli_plot_is_written(argv, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "plot.png"
    status, out, err = run(["compare", *argv, "--repeat", "1", "--no-memory", "--plot", str(path)], capsys)
    assert status == 0, err
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot written to {path}" in err


def test_crossover_is_log_interpolated():
    assert cost_cli._crossover([10, 100], [1.0, 100.0], [10.0, 10.0]) == pytest.approx(31.6227766)
    assert cost_cli._crossover([10, 100], [1.0, 2.0], [10.0, 10.0]) is None


def test_progress_bar_plain_text():
    stream = io.StringIO()
    p = cost_cli.Progress(4, stream, delay=0.0)
    for k in range(4):
        p.step(f"n={k}")
    p.done()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("compare [") and lines[-1].endswith("s") and "4/4" in lines[-1]
    quiet = io.StringIO()
    p = cost_cli.Progress(4, quiet, delay=60.0)
    p.step("n=1")
    p.done()
    assert quiet.getvalue() == ""


def test_nan_and_mismatch_in_agreement():
    assert dd.cost.report._max_rel_diff(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 2e-10])) == pytest.approx(1e-10)
    assert dd.cost.report._max_rel_diff((1.0, 2.0), (1.0,)) == math.inf
    assert dd.cost.report._max_rel_diff(np.zeros(2), np.zeros(2)) == 0.0
