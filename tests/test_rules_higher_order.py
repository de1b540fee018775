"""Every elementwise rule of the table at second and third order, kinks and boundaries included.

The rules are read from ``dualdiff.rules.TABLE``, so a rule registered later
is tested here without editing this file: it fails until ``SPECIAL`` below
says where its kinks and boundaries are (or that it has none) and
``tests/reference.py`` has its mpmath reference.

* On arrays: a rule applied elementwise to an array that mixes well-conditioned
  points (drawn by hypothesis from ``reference.py``'s regions) with the rule's
  special points (kinks, ties, the origin, x = 0 under integral exponents,
  domain boundaries), in random order, with each argument active or held
  constant. Second and third derivative tensors come from several nestings
  (Dual over Dual, forward over reverse, reverse over forward, reverse over
  reverse, and three levels of each); every entry is checked: well-conditioned
  elements against ``mpmath.diff`` at 30 digits, special elements against the
  documented policy values, and every entry between two different elements
  is exactly 0. So a special point can never spoil its neighbours (issue 10
  case 2: ``safe_div`` zeroed a whole array) and integral powers differentiate
  like polynomials at 0 to every order (case 7).
* On mpmath numbers at 50 digits: every mixed partial of order 2 and 3, each
  nesting order and each mix of forward and reverse levels, against
  ``mpmath.diff`` at 60 digits.
* On Python scalars: every special point through ``dd.derivative`` and
  ``dd.grad`` chains (the scalar fast paths), against the same policy values.

The policy values at special points (README, "Policies"): the midpoint of the
one-sided derivatives at kinks, so every higher derivative of abs, relu,
sign, floor, ceil, round, maximum and minimum is 0 there, hypot and arctan2
have all partials 0 at the origin, sqrt0 has derivatives 0 at 0; at a domain
boundary the one-sided limit (``sqrt'' (0) = -inf``). Where a derivative of
lower order is already infinite at the point, the next one is IEEE 754
arithmetic on that infinity: an infinite partial times a zero tangent is nan
(the documented policy), so there nan is accepted in place of the limit.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
import pytest
from fuzzing import fuzz, survey
from hypothesis import given, note
from hypothesis import strategies as st
from reference import REFERENCES, complex_points, mp_real_points, nudge, precision, real_points

import dualdiff as dd
from dualdiff.modes.core import apply
from dualdiff.rules import TABLE, Elementwise

ELEMENTWISE = sorted(name for name, rule in TABLE.items() if isinstance(rule, Elementwise))

inf, nan = math.inf, math.nan

#: float64 nested derivatives against the 30-digit reference: a few ulps of rounding
#: per level, times the conditioning of the regions in reference.py; ATOL is relative
#: to the largest derivative at the point (see scale_at).
RTOL, ATOL = 1e-11, 1e-13
#: Different nestings of the same derivative: the same formulas, rounded in another order.
SAME_RTOL = 1e-12
#: 50-digit results against the 60-digit reference.
MP_DPS, REF_DPS = 50, 60
MP_RTOL = mpmath.mpf("1e-40")

# --------------------------------------------------------------------------
# special points and their policy values
# --------------------------------------------------------------------------

#: Which arguments are variables: "both", "first" (the second held constant) or "second".
MODES_1 = ("first",)
MODES_2 = ("both", "first", "second")


@dataclass(frozen=True)
class Special:
    """A kink, tie or boundary point and the derivatives the policy gives there.

    ``expected`` maps a multi-index (how often each argument is differentiated,
    e.g. ``(2, 1)`` for d^3/da^2 db) to its value; ``None`` means the rule is
    smooth at the point and mpmath computes it, from ``local`` if given (a
    function equal to the rule near the point up to a constant, for points on
    a branch cut of the value but not of the derivatives).
    """

    point: tuple[float, ...]
    expected: dict[tuple[int, ...], float] | None = None
    modes: tuple[str, ...] = MODES_2
    local: Callable[..., Any] | None = None


def _unary(x: float, d1: float, d2: float, d3: float) -> Special:
    return Special((x,), {(1,): d1, (2,): d2, (3,): d3}, MODES_1)


def _zeros(point: tuple[float, ...], first: tuple[float, float] = (0.0, 0.0)) -> Special:
    """A binary kink: the given first partials, every higher one 0."""
    exp = {(1, 0): first[0], (0, 1): first[1]}
    exp.update({m: 0.0 for m in multi_indices(2, 2) + multi_indices(2, 3)})
    return Special(point, exp)


def multi_indices(nin: int, order: int) -> list[tuple[int, ...]]:
    """All ``(k_0, ..., k_{nin-1})`` with sum ``order``."""
    return [m for m in itertools.product(range(order + 1), repeat=nin) if sum(m) == order]


def _pow_at_zero(n: int) -> list[Special]:
    """x**n at x = 0, n = 0..3: a polynomial (k-th derivative n! at k = n, else 0); d/dy 0."""
    first = {(k, 0): float(math.factorial(n)) if k == n else 0.0 for k in (1, 2, 3)}
    out = [Special((0.0, float(n)), first, ("first",))]
    if n > 0:  # 0**y = 0 for y near n > 0
        out.append(Special((0.0, float(n)), {(0, k): 0.0 for k in (1, 2, 3)}, ("second",)))
    return out


_SMOOTH = "smooth on the whole real line: its well-conditioned points include 0"
_KINKS_ZERO = [_unary(0.0, 0.0, 0.0, 0.0), _unary(-0.0, 0.0, 0.0, 0.0)]


def _atan2_local(a: Any, b: Any) -> Any:
    return mpmath.atan(a / b)


#: Every elementwise rule's special points, or the reason it has none.
SPECIAL: dict[str, list[Special] | str] = {
    "add": [Special((0.0, 0.0)), Special((0.0, -0.0))],
    "sub": [Special((0.0, 0.0))],
    "mul": [Special((0.0, 0.0)), Special((0.0, 2.0))],
    "neg": _SMOOTH,
    "pos": _SMOOTH,
    "square": [Special((0.0,), modes=MODES_1)],
    # a pole at b = +0 (IEEE: the limits from the right)
    "truediv": [
        Special((1.5, 0.0), {(1, 0): inf, (2, 0): 0.0, (3, 0): 0.0}, ("first",)),
        Special((1.5, 0.0), {(0, 1): -inf, (0, 2): inf, (0, 3): -inf}, ("second",)),
        Special((0.0, 2.0)),
    ],
    "reciprocal": [_unary(0.0, -inf, inf, -inf)],
    "pow": [
        *_pow_at_zero(0),
        *_pow_at_zero(1),
        *_pow_at_zero(2),
        *_pow_at_zero(3),
        Special((0.0, 2.5), {(1, 0): 0.0, (2, 0): 0.0, (3, 0): inf}, ("first",)),
        Special((0.0, 0.5), {(1, 0): inf, (2, 0): -inf, (3, 0): inf}, ("first",)),
        Special((0.0, -1.0), {(1, 0): -inf, (2, 0): inf, (3, 0): -inf}, ("first",)),
        Special((-2.0, 3.0), None, ("first",), local=lambda a, b: a**3),
        Special((-1.5, 2.0), None, ("first",), local=lambda a, b: a**2),
        # an exponent of exactly 0 (or 1) with both arguments variables: a regular point
        Special((2.0, 0.0)),
        Special((0.5, 0.0)),
        Special((3.0, 1.0)),
        Special((1.0, 0.0)),
    ],
    "abs": _KINKS_ZERO,
    "relu": [_unary(0.0, 0.5, 0.0, 0.0), _unary(-0.0, 0.5, 0.0, 0.0)],
    "sign": _KINKS_ZERO,
    "floor": [_unary(1.0, 0.0, 0.0, 0.0), _unary(-2.0, 0.0, 0.0, 0.0), _unary(0.0, 0.0, 0.0, 0.0)],
    "ceil": [_unary(1.0, 0.0, 0.0, 0.0), _unary(0.0, 0.0, 0.0, 0.0)],
    "round": [_unary(0.5, 0.0, 0.0, 0.0), _unary(1.5, 0.0, 0.0, 0.0), _unary(-2.5, 0.0, 0.0, 0.0)],
    "maximum": [_zeros((0.5, 0.5), (0.5, 0.5)), _zeros((0.0, 0.0), (0.5, 0.5)), _zeros((-1.0, -1.0), (0.5, 0.5))],
    "minimum": [_zeros((0.5, 0.5), (0.5, 0.5)), _zeros((0.0, 0.0), (0.5, 0.5)), _zeros((-1.0, -1.0), (0.5, 0.5))],
    "hypot": [_zeros((0.0, 0.0)), Special((0.0, 2.0)), Special((2.0, 0.0)), Special((-1.5, 0.0))],
    "arctan2": [
        _zeros((0.0, 0.0)),
        Special((0.0, -1.0), local=_atan2_local),  # the value jumps from pi to -pi; its derivatives do not
        Special((0.0, 1.0)),
        Special((1.0, 0.0), local=lambda a, b: -mpmath.atan(b / a)),
        Special((-1.0, 0.0), local=lambda a, b: -mpmath.atan(b / a)),
    ],
    "sqrt": [_unary(0.0, inf, -inf, inf)],
    "sqrt0": _KINKS_ZERO[:1],
    # cbrt'' has one-sided limits -inf (right) and +inf (left): no midpoint
    "cbrt": [_unary(0.0, inf, nan, inf)],
    "log": [_unary(0.0, inf, -inf, inf)],
    "log2": [_unary(0.0, inf, -inf, inf)],
    "log10": [_unary(0.0, inf, -inf, inf)],
    "log1p": [_unary(-1.0, inf, -inf, inf)],
    "arcsin": [_unary(1.0, inf, inf, inf), _unary(-1.0, inf, -inf, inf)],
    "arccos": [_unary(1.0, -inf, -inf, -inf), _unary(-1.0, -inf, inf, -inf)],
    "arctanh": [_unary(1.0, inf, inf, inf), _unary(-1.0, inf, -inf, inf)],
    "arccosh": [_unary(1.0, inf, -inf, inf)],
    "tan": "its poles pi/2 + k pi are not floating-point numbers",
    "exp": _SMOOTH,
    "exp2": _SMOOTH,
    "expm1": _SMOOTH,
    "sin": _SMOOTH,
    "cos": _SMOOTH,
    "sinh": _SMOOTH,
    "cosh": _SMOOTH,
    "tanh": _SMOOTH,
    "arctan": _SMOOTH,
    "arcsinh": _SMOOTH,
    "erf": _SMOOTH,
    "erfc": _SMOOTH,
    "sigmoid": _SMOOTH,
    "softplus": _SMOOTH,
    "stop_gradient": "its derivative is 0 everywhere by definition (checked at every point)",
    # piecewise constant: 0 at every order, at the jumps too
    "trunc": [_unary(1.0, 0.0, 0.0, 0.0), _unary(-2.0, 0.0, 0.0, 0.0), _unary(0.0, 0.0, 0.0, 0.0)],
    "floor_divide": [_zeros((3.0, 1.5)), _zeros((-3.0, 1.5)), _zeros((0.0, 2.0))],
    # at a jump of the quotient (a / b = 2): d/da 1; d/db minus the quotient the value was computed
    # with (-2: remainder(3, 1.5) is 0); every higher partial 0
    "remainder": [_zeros((3.0, 1.5), (1.0, -2.0))],
    "fmod": [_zeros((3.0, 1.5), (1.0, -2.0)), _zeros((-3.0, 1.5), (1.0, 2.0))],
    # entire; at 0 the rule switches to a series
    "sinc": [Special((0.0,), modes=MODES_1), Special((1e-9,), modes=MODES_1)],
}


def specials(name: str) -> list[Special]:
    entry = SPECIAL.get(name)
    if entry is None:
        pytest.fail(f"rule {name!r} has no entry in SPECIAL: list its kinks and boundaries, or say why it has none")
    return [] if isinstance(entry, str) else entry


def reference_fn(name: str) -> Callable[..., Any]:
    ref = REFERENCES.get(name)
    if ref is None:
        pytest.fail(f"rule {name!r} has no mpmath reference entry in tests/reference.py")
    return ref.fn


def zero_by_definition(name: str) -> bool:
    """The rule's derivative is 0 by definition, whatever its function (stop_gradient)."""
    return bool(getattr(REFERENCES.get(name), "zero_derivative", False))


def mp_derivative(fn: Callable[..., Any], point: tuple[Any, ...], orders: tuple[int, ...]) -> Any:
    pt = [mpmath.mpmathify(p) for p in point]
    if len(pt) == 1:
        return mpmath.diff(fn, pt[0], orders[0])
    return mpmath.diff(fn, tuple(pt), orders)


# --------------------------------------------------------------------------
# derivative tensors of an elementwise rule on arrays, by several nestings
# --------------------------------------------------------------------------

#: Jacobians of the elementwise output (no sum: one element's infinite partial times a zero
#: tangent is nan by policy, and a sum would carry that nan into every element's derivative).
VECTOR = {
    1: {
        "fwd": lambda f: dd.jacfwd(f),
        "rev": lambda f: dd.jacrev(f),
    },
    2: {
        "fwd(fwd)": lambda f: dd.jacfwd(dd.jacfwd(f)),
        "rev(fwd)": lambda f: dd.jacrev(dd.jacfwd(f)),
        "fwd(rev)": lambda f: dd.jacfwd(dd.jacrev(f)),
        "rev(rev)": lambda f: dd.jacrev(dd.jacrev(f)),
    },
    3: {
        "fwd(fwd(fwd))": lambda f: dd.jacfwd(dd.jacfwd(dd.jacfwd(f))),
        "rev(fwd(fwd))": lambda f: dd.jacrev(dd.jacfwd(dd.jacfwd(f))),
        "fwd(fwd(rev))": lambda f: dd.jacfwd(dd.jacfwd(dd.jacrev(f))),
        "rev(rev(rev))": lambda f: dd.jacrev(dd.jacrev(dd.jacrev(f))),
    },
}
#: Derivatives of the sum (grad, hessian, a jacobian of the hessian): used when every
#: element's derivatives are finite, as at kinks, ties and the origin.
SUMMED = {
    1: {"grad": lambda f: dd.grad(f)},
    2: {"hessian": lambda f: dd.hessian(f), "rev(grad)": lambda f: dd.jacrev(dd.grad(f))},
    3: {"fwd(hessian)": lambda f: dd.jacfwd(dd.hessian(f)), "rev(hessian)": lambda f: dd.jacrev(dd.hessian(f))},
}


def active_positions(mode: str, nin: int) -> tuple[int, ...]:
    if nin == 1:
        return (0,)
    return {"both": (0, 1), "first": (0,), "second": (1,)}[mode]


def elementwise_fn(rule: Elementwise, pts: np.ndarray, active: tuple[int, ...], ufunc: bool) -> Callable[..., Any]:
    """``x -> rule(*args)`` with the active arguments taken from ``x`` (shape (len(active), N))."""
    fn = rule.ufunc if ufunc and rule.ufunc is not None else (lambda *a: apply(rule, *a))

    def f(x: Any) -> Any:
        return fn(*[x[active.index(i)] if i in active else pts[i] for i in range(rule.nin)])

    return f


def per_element(
    t: np.ndarray, na: int, n: int, order: int, summed: bool, flagged: np.ndarray
) -> tuple[dict[tuple[int, ...], np.ndarray], np.ndarray, np.ndarray]:
    """Split a derivative tensor into per-element values and the entries that mix elements.

    ``t`` has shape ``((na, n),) * order``, after a leading output axis of
    length n unless ``summed``. Returns ``{active-argument sequence: values
    (n,)}``, the mixed entries (which must be 0), and for each mixed entry
    whether it involves an element that ``flagged`` marks.
    """
    lead = () if summed else (n,)
    k = len(lead)
    t = np.reshape(t, lead + (na, n) * order)
    # axes: (output?, arg_1, ..., arg_k, elem_1, ..., elem_k)
    t = np.transpose(t, list(range(k)) + [k + 2 * j for j in range(order)] + [k + 2 * j + 1 for j in range(order)])
    dims = order + k
    elems = (np.arange(n),) * dims
    mask = np.ones((n,) * dims, dtype=bool)
    mask[elems] = False
    involved = np.zeros((n,) * dims, dtype=bool)
    for d in range(dims):
        involved |= np.reshape(flagged, (1,) * d + (n,) + (1,) * (dims - d - 1))
    values, off, inv = {}, [], []
    for seq in itertools.product(range(na), repeat=order):
        sub = t[(slice(None),) * k + seq]
        values[seq] = sub[elems]
        off.append(sub[mask])
        inv.append(involved[mask])
    return values, np.concatenate(off), np.concatenate(inv)


def multi_index(seq: tuple[int, ...], active: tuple[int, ...], nin: int) -> tuple[int, ...]:
    counts = [0] * nin
    for s in seq:
        counts[active[s]] += 1
    return tuple(counts)


def expected_at(name: str, sp: Special | None, point: tuple[float, ...], m: tuple[int, ...]) -> float:
    """The reference value of derivative ``m`` at ``point``: the policy value, or mpmath."""
    if sp is not None and sp.expected is not None:
        return sp.expected[m]
    return _mp_expected(name, sp, point)[m]


@functools.lru_cache(maxsize=4096)
def _mp_expected(name: str, sp: Special | None, point: tuple[float, ...]) -> dict[tuple[int, ...], float]:
    if zero_by_definition(name):
        return {m: 0.0 for k in (1, 2, 3) for m in multi_indices(len(point), k)}
    fn = sp.local if sp is not None and sp.local is not None else reference_fn(name)
    with precision(30):
        return {m: float(mp_derivative(fn, point, m)) for k in (1, 2, 3) for m in multi_indices(len(point), k)}


def scale_at(name: str, sp: Special | None, point: tuple[float, ...]) -> float:
    """The size of the derivatives at ``point`` (orders 1 to 3): rounding errors scale with it.

    A derivative that is 0 by cancellation of larger terms (the third derivative
    of ``hypot(a, 1e-300)`` in ``a``) comes out as a few ulps of those terms.
    """
    exp = sp.expected if sp is not None and sp.expected is not None else _mp_expected(name, sp, point)
    return max((abs(v) for v in exp.values() if math.isfinite(v)), default=0.0)


def nonfinite_below(name: str, sp: Special | None, m: tuple[int, ...]) -> bool:
    """Whether some derivative of lower order than ``m`` is infinite (or nan) at this special point."""
    if sp is None or sp.expected is None:
        return False
    k = sum(m)
    return any(sum(q) < k and not math.isfinite(v) for q, v in sp.expected.items())


def agree(got: float, want: float, allow_nan: bool, scale: float = 0.0) -> bool:
    if math.isnan(want):
        return math.isnan(got)
    if math.isnan(got):
        return allow_nan
    if math.isinf(want):
        return got == want
    return abs(got - want) <= RTOL * abs(want) + ATOL * scale


# --------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------


def test_every_rule_has_special_points_listed():
    missing = [n for n in ELEMENTWISE if n not in SPECIAL]
    assert not missing, f"rules without an entry in SPECIAL (list kinks and boundaries, or why none): {missing}"


@st.composite
def array_examples(draw: Any, name: str) -> tuple[str, list[Special | None], np.ndarray]:
    """(mode, per-element special or None, points of shape (nin, N)) mixing smooth and special points."""
    rule = TABLE[name]
    ref = REFERENCES[name]
    mode = draw(st.sampled_from(MODES_2 if rule.nin == 2 else MODES_1))
    sps = [s for s in specials(name) if mode in s.modes]
    chosen = draw(st.lists(st.sampled_from(sps), max_size=min(4, len(sps)), unique_by=id)) if sps else []
    if sps and not chosen:
        chosen = [sps[0]]
    smooth = draw(st.lists(real_points(ref), min_size=1 if chosen else 2, max_size=3))
    items: list[tuple[Special | None, tuple[float, ...]]] = [(s, s.point) for s in chosen]
    items += [(None, tuple(p)) for p in smooth]
    order = draw(st.permutations(range(len(items))))
    items = [items[i] for i in order]
    pts = np.array([p for _, p in items], dtype=float).T.copy()
    return mode, [s for s, _ in items], pts


@pytest.mark.parametrize("name", ELEMENTWISE)
@fuzz(6)
@given(data=st.data())
@survey
def test_arrays_second_and_third_order(name, data):
    """Orders 1 to 3 by every nesting, on arrays mixing smooth points with the rule's special points."""
    rule = TABLE[name]
    mode, sps, pts = data.draw(array_examples(name))
    ufunc = data.draw(st.booleans())
    active = active_positions(mode, rule.nin)
    na, n = len(active), pts.shape[1]
    note(f"{name}: mode {mode}, points {pts.tolist()}, specials {[s and s.point for s in sps]}, ufunc {ufunc}")
    f = elementwise_fn(rule, pts, active, ufunc)
    x = pts[list(active)].copy()
    finite = not any(_has_nonfinite(s) for s in sps)
    for order in (1, 2, 3):
        results = {}
        with np.errstate(all="ignore"):
            for nesting, transform in VECTOR[order].items():
                results[nesting] = (np.asarray(transform(f)(x), dtype=float), False)
            if finite:
                for nesting, transform in SUMMED[order].items():
                    results[nesting] = (np.asarray(transform(lambda z: np.sum(f(z)))(x), dtype=float), True)
        flagged = np.array([_has_nonfinite(s) for s in sps])
        for nesting, (t, summed) in results.items():
            values, off, involved = per_element(t, na, n, order, summed, flagged)
            for p in range(n):
                point = tuple(pts[:, p])
                sp = sps[p]
                for seq, vals in values.items():
                    m = multi_index(seq, active, rule.nin)
                    want = expected_at(name, sp, point, m)
                    got = float(vals[p])
                    assert agree(got, want, nonfinite_below(name, sp, m), scale_at(name, sp, point)), (
                        f"{name} {nesting}: d^{m} at {point} ({'special' if sp else 'smooth'}, mode {mode}): "
                        f"got {got!r}, expected {want!r}"
                    )
            # entries between different elements are 0; nan only next to an element with an
            # infinite derivative (its infinite partial times a zero tangent or cotangent)
            ok = (off == 0) | (np.isnan(off) & involved)
            assert np.all(ok), f"{name} {nesting}: order {order} entries between different elements:\n{off[~ok]}"
        # the nestings agree with each other (to rounding), nan only where the policy allows it
        per = {k: per_element(t, na, n, order, summed, flagged)[0] for k, (t, summed) in results.items()}
        base_name, base = next(iter(per.items()))
        scales = np.array([scale_at(name, sps[p], tuple(pts[:, p])) for p in range(n)])
        for nesting, vals in per.items():
            for seq in vals:
                a, b = vals[seq], base[seq]
                with np.errstate(invalid="ignore"):
                    close = np.abs(a - b) <= SAME_RTOL * np.abs(b) + ATOL * scales
                same = close | (a == b) | np.isnan(a) | np.isnan(b)
                assert np.all(same), f"{name}: {nesting} and {base_name} differ at order {order}:\n{a}\n{b}"


def _has_nonfinite(sp: Special | None) -> bool:
    return sp is not None and sp.expected is not None and not all(math.isfinite(v) for v in sp.expected.values())


def _sequences(m: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The distinct orders in which the derivatives of multi-index ``m`` can be taken."""
    base = [i for i, k in enumerate(m) for _ in range(k)]
    return sorted(set(itertools.permutations(base)))


def nested_partial(fn: Callable[..., Any], point: tuple[Any, ...], seq: tuple[int, ...], modes: str) -> Any:
    """``d/d(arg seq[0]) d/d(arg seq[1]) ... fn`` at ``point``; level j by dd.derivative ('f') or dd.grad ('r')."""

    def build(level: int) -> Callable[..., Any]:
        if level == len(seq):
            return fn
        inner = build(level + 1)
        i = seq[level]
        transform = dd.derivative if modes[level] == "f" else dd.grad

        def g(*args: Any) -> Any:
            return transform(lambda t: inner(*args[:i], t, *args[i + 1 :]))(args[i])

        return g

    return build(0)(*point)


@pytest.mark.parametrize("name", ELEMENTWISE)
@fuzz(5)
@given(data=st.data())
@survey
def test_mpmath_50_digits_second_and_third_order(name, data):
    """Every mixed partial of order 2 and 3 at 50 digits, in every nesting order and mix of modes."""
    rule = TABLE[name]
    ref = REFERENCES.get(name) or pytest.fail(f"rule {name!r} has no reference in tests/reference.py")
    point_nudges = data.draw(mp_real_points(ref))
    order = data.draw(st.sampled_from([2, 3]))
    m = data.draw(st.sampled_from(multi_indices(rule.nin, order)))
    seq = data.draw(st.sampled_from(_sequences(m)))
    modes = "".join(data.draw(st.sampled_from("fr")) for _ in seq)
    fn = lambda *a: apply(rule, *a)
    with precision(MP_DPS):
        point = tuple(nudge(x, k) for x, k in point_nudges)
        note(f"{name} d^{m} in order {seq}, modes {modes}, at {point}")
        got = nested_partial(fn, point, seq, modes)
    with precision(REF_DPS):
        want = mpmath.mpf(0) if zero_by_definition(name) else mp_derivative(ref.fn, point, m)
        assert isinstance(got, mpmath.mpf), f"{name}: a 50-digit derivative came back as {type(got).__name__}"
        err = abs(got - want)
        assert err <= MP_RTOL * abs(want) + mpmath.mpf("1e-45"), (
            f"{name} d^{m} ({seq}, {modes}) at {point}: got {got}, expected {mpmath.nstr(want, 30)}"
        )


SCALAR_CASES = [
    (name, sp, mode)
    for name in ELEMENTWISE
    for sp in (SPECIAL.get(name) if isinstance(SPECIAL.get(name), list) else [])
    for mode in sp.modes
]


def _scalar_constant(x: float) -> Any:
    """An integral constant as a Python int (the exponent of ``x ** 2``), else a float."""
    return int(x) if float(x).is_integer() and not (x == 0 and math.copysign(1, x) < 0) else x


@pytest.mark.parametrize(
    "name, sp, mode",
    SCALAR_CASES,
    ids=[f"{n}-{s.point}-{m}" for n, s, m in SCALAR_CASES],
)
@pytest.mark.parametrize("modes", ["fff", "ffr", "frf", "rff", "rrr"])
def test_scalar_special_points(name, sp, mode, modes):
    """Special points on Python floats (constants as Python ints where integral): every chain of three levels."""
    rule = TABLE[name]
    active = active_positions(mode, rule.nin)
    for constant in (sp.point, tuple(_scalar_constant(v) for v in sp.point)):
        fn = lambda *a: apply(rule, *a)
        for order in (1, 2, 3):
            for m in multi_indices(rule.nin, order):
                if any(m[i] for i in range(rule.nin) if i not in active):
                    continue
                for seq in _sequences(m):
                    point = tuple(float(v) if i in active else constant[i] for i, v in enumerate(sp.point))
                    with np.errstate(all="ignore"):
                        got = nested_partial(fn, point, seq, modes[-len(seq) :])
                    want = expected_at(name, sp, sp.point, m)
                    scale = scale_at(name, sp, sp.point)
                    assert agree(float(got), want, nonfinite_below(name, sp, m), scale), (
                        f"{name} d^{m} in order {seq} ({modes[-len(seq) :]}) at {point}, mode {mode}: "
                        f"got {got!r}, expected {want!r}"
                    )


HOLOMORPHIC = [n for n in ELEMENTWISE if n in REFERENCES and REFERENCES[n].holomorphic]


@pytest.mark.parametrize("name", HOLOMORPHIC)
@fuzz(3)
@given(data=st.data())
@survey
def test_complex_second_and_third_order(name, data):
    """Holomorphic rules at complex points away from poles and cuts: mixed partials of order 2 and 3."""
    rule = TABLE[name]
    point = data.draw(complex_points(REFERENCES[name]))
    order = data.draw(st.sampled_from([2, 3]))
    m = data.draw(st.sampled_from(multi_indices(rule.nin, order)))
    seq = data.draw(st.sampled_from(_sequences(m)))
    modes = "".join(data.draw(st.sampled_from("fr")) for _ in seq)
    note(f"{name} d^{m} in order {seq}, modes {modes}, at {point}")
    got = complex(nested_partial(lambda *a: apply(rule, *a), point, seq, modes))
    if zero_by_definition(name):
        want = 0j
    else:
        with precision(30):
            want = complex(mp_derivative(REFERENCES[name].fn, point, m))
    scale = max(abs(want), 1.0)
    assert abs(got - want) <= 1e-10 * scale, f"{name} d^{m} ({seq}, {modes}) at {point}: got {got}, expected {want}"
