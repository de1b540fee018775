"""check_grads: it passes on right derivatives, names the mode and order of wrong ones,
and every rule of the built-in table passes it at order 2 in both modes."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from reference import REFERENCES

import dualdiff as dd
from dualdiff.modes.functions import FUNCTIONS
from dualdiff.rules import TABLE, Elementwise, General, Linear

# ==========================================================================
# the built-in table, rule by rule, at order 2 in both modes
# ==========================================================================

ELEMENTWISE = sorted(n for n, r in TABLE.items() if isinstance(r, Elementwise))
#: The finite differences see the identity, the rule's derivative is 0 by definition.
ZERO_BY_DEFINITION = {"stop_gradient"}
OPERATORS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "neg": lambda a: -a,
    "pos": lambda a: +a,
}


def _point(name: str) -> tuple[float, ...]:
    """A point well inside the reference's sampling region, away from kinks and jumps."""
    ref = REFERENCES[name]
    point = []
    for k, arg in enumerate(ref.args):
        lo, hi = arg.real[-1]  # the last interval: for symmetric ones, the positive side
        point.append(lo + (hi - lo) * (0.3137 if k == 0 else 0.6137))
    point = tuple(point)
    assert ref.joint is None or ref.joint(*point), (name, point)
    return point


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if n not in ZERO_BY_DEFINITION])
def test_every_elementwise_rule_passes_check_grads_at_order_two(name):
    fn = OPERATORS.get(name) or FUNCTIONS[name]
    point = _point(name)
    if len(point) == 1:
        dd.check_grads(fn, point[0], order=2)
        dd.check_grads(fn, np.array([point[0], point[0] * 0.9]), order=2, seed=1)
    else:
        dd.check_grads(lambda t: fn(*t), point, order=2)


def test_every_elementwise_rule_is_checked():
    assert ZERO_BY_DEFINITION | {n for n in ELEMENTWISE} == set(ELEMENTWISE)
    assert all(n in REFERENCES for n in ELEMENTWISE)


A = np.array([[2.0, 0.5, 0.1], [0.3, 1.5, -0.4], [0.2, 0.1, 1.8]])
X = np.array([0.7, -0.3, 1.2])
#: Array functions that exercise each linear and general rule of the table (within a nonlinear f).
ARRAY_CASES = {
    "getitem": (lambda x: x[1:] * x[0], X),
    "sum": (lambda x: np.sum(x * x, axis=0), A),
    "reshape": (lambda x: np.sin(np.reshape(x, (3, 3))) @ x[0], A),
    "broadcast_to": (lambda x: np.broadcast_to(x, (2, 3)) * x, X),
    "transpose": (lambda x: np.transpose(x) * x, A),
    "cumsum": (lambda x: np.cumsum(x * x), X),
    "diagonal": (lambda x: np.diagonal(x) ** 2, A),
    "diag_embed": (lambda x: np.diag(x) @ x, X),
    "conj": (lambda z: np.conj(z) * z * z, X + 0.5j),
    "matmul": (lambda x: (x @ A) * x, X),
    "tensordot": (lambda x: np.tensordot(x * x, x, axes=([1], [0])), A),
    "einsum": (lambda x: np.einsum("ij,jk->ik", x, np.sin(x)), A),
    "where": (lambda x: np.where(x > 0, x * x, np.sin(x)), X),
    "concatenate": (lambda x: np.concatenate([x, x * x]), X),
    "prod": (lambda x: np.prod(x + 2.0), X),
    "max": (lambda x: np.max(x * np.array([1.0, 2.0, 1.5])), X),
    "min": (lambda x: np.min(x * x), X),
    "inv": (lambda x: np.linalg.inv(x), A),
    "solve": (lambda x: np.linalg.solve(x, x[0]), A),
    "det": (lambda x: np.linalg.det(x), A),
    "logabsdet": (lambda x: np.linalg.slogdet(x)[1], A),
}


@pytest.mark.parametrize("name", sorted(ARRAY_CASES))
def test_every_array_rule_passes_check_grads_at_order_two(name):
    f, x = ARRAY_CASES[name]
    assert name in {eq.rule.name for eq in dd.wengert(f, x).equations}
    dd.check_grads(f, x, order=2)


def test_every_linear_and_general_rule_is_checked():
    kinds = {n for n, r in TABLE.items() if isinstance(r, (Linear, General))}
    assert kinds == set(ARRAY_CASES)


# ==========================================================================
# check_grads itself
# ==========================================================================


def test_passes_on_trees_complex_float32_and_mpmath():
    dd.check_grads(lambda t: t[0] * np.sum(t[1] ** 2), (1.5, np.array([0.5, -1.0])), order=2)
    dd.check_grads(lambda z: z * dd.exp(z), 0.3 + 0.4j, order=2)
    dd.check_grads(lambda x: np.sin(x) * x, np.array([0.5, 1.0], dtype=np.float32), order=2)
    with mpmath.workdps(30):
        dd.check_grads(lambda x: dd.log(x) * x, mpmath.mpf("1.5"), order=2)
    dd.check_grads(lambda x: (x * x, np.sin(x)), np.array([0.1, 0.2]), order=2)


def test_names_the_mode_and_the_order_that_disagree():
    # right first derivative, wrong second: the rule's tangent does not see the primal's derivative
    @dd.custom_jvp
    def square(x):
        return x * x

    square.defjvp(lambda p, t: (square(p[0]), 2 * dd.stop_gradient(p[0]) * t[0]))
    dd.check_grads(square, 0.7, order=1)
    with pytest.raises(AssertionError, match=r"order 2, derivative of forward mode: forward mode \(jvp\) and finite"):
        dd.check_grads(square, 0.7, order=2)
    with pytest.raises(AssertionError, match=r"order 2, derivative of reverse mode: reverse mode .* and finite"):
        dd.check_grads(square, 0.7, order=2, modes=("rev",))
    # a transpose that disagrees with its map: only reverse mode is wrong
    dft_ok = dict(fn=lambda x, nb: 2.0 * x, transpose=lambda g, s, nb: 3.0 * g)
    twice = dd.deflinear("bad_twice", **dft_ok)
    try:
        dd.check_grads(twice, np.ones(2), modes=("fwd",))
        with pytest.raises(AssertionError, match=r"order 1: reverse mode .* disagree by"):
            dd.check_grads(twice, np.ones(2))
    finally:
        dd.unregister_rule("bad_twice")


def test_validates_its_arguments():
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        dd.check_grads(np.sin, 1.0, order=3)
    with pytest.raises(ValueError, match="modes must be a non-empty subset"):
        dd.check_grads(np.sin, 1.0, modes=("sideways",))
    with pytest.raises(ValueError, match="modes must be a non-empty subset"):
        dd.check_grads(np.sin, 1.0, modes=())
    with pytest.raises(TypeError, match="check_grads needs a callable"):
        dd.check_grads(3, 1.0)
    with pytest.raises(ValueError, match="rtol must be a non-negative number"):
        dd.check_grads(np.sin, 1.0, rtol=-1)
    dd.check_grads(np.sin, 1.0, modes="rev")
