"""An mpmath reference for every elementwise rule of ``dualdiff.rules.TABLE``.

Each entry gives the function as mpmath computes it (at whatever precision is
current) and, per argument, where it is safe to sample:

* ``real``: a union of closed intervals inside the real domain, away from
  singularities and kinks, so that the derivative is well conditioned there;
* ``complex``: a box of the complex plane with a predicate that keeps points
  away from poles and branch cuts, or ``None`` when the rule is not
  holomorphic (abs, arctan2, hypot, relu, maximum, minimum and the
  piecewise-constant functions).

``joint`` is a predicate on all the real arguments together (a tie of maximum,
the origin for hypot/arctan2). Nothing here imports dualdiff: the reference
is independent of the code under test.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath
from hypothesis import strategies as st

#: How far sample points keep from poles, branch cuts, kinks and jumps.
MARGIN = 0.25
KINK = 0.01


@dataclass(frozen=True)
class Region:
    """A box ``re_lo <= Re z <= re_hi``, ``im_lo <= Im z <= im_hi`` minus what ``ok`` rejects."""

    re: tuple[float, float] = (-3.0, 3.0)
    im: tuple[float, float] = (-3.0, 3.0)
    ok: Callable[[complex], bool] = lambda z: True


@dataclass(frozen=True)
class Arg:
    """Where one argument may be sampled."""

    real: tuple[tuple[float, float], ...]
    complex: Region | None = None


@dataclass(frozen=True)
class Reference:
    name: str
    fn: Callable[..., Any]
    args: tuple[Arg, ...]
    joint: Callable[..., bool] | None = None
    #: The rule's derivative is zero by definition, not the function's (stop_gradient).
    zero_derivative: bool = False

    @property
    def nin(self) -> int:
        return len(self.args)

    @property
    def holomorphic(self) -> bool:
        return all(a.complex is not None for a in self.args)


# --------------------------------------------------------------------------
# mpmath versions of the functions (real-valued on the real line)
# --------------------------------------------------------------------------


def _is_complex(x: Any) -> bool:
    return isinstance(x, (mpmath.mpc, complex))


def _cbrt(x: Any) -> Any:
    # the real cube root on the real line, the principal one off it
    if _is_complex(x):
        return mpmath.cbrt(x)
    return mpmath.sign(x) * mpmath.cbrt(abs(x))


def _sigmoid(x: Any) -> Any:
    return 1 / (1 + mpmath.exp(-x))


def _softplus(x: Any) -> Any:
    return mpmath.log1p(mpmath.exp(x))


def _relu(x: Any) -> Any:
    return x if x > 0 else 0 * x


def _dist_to_grid(x: float, offset: float, step: float) -> float:
    """Distance from x to the nearest point offset + k*step."""
    r = (x - offset) % step
    return min(r, step - r)


# --------------------------------------------------------------------------
# sampling regions
# --------------------------------------------------------------------------

R10 = ((-10.0, 10.0),)


def _pm(lo: float, hi: float) -> tuple[tuple[float, float], ...]:
    """[-hi, -lo] and [lo, hi]: symmetric, away from zero."""
    return ((-hi, -lo), (lo, hi))


#: Entire functions: anywhere in the box.
BOX = Region()
#: Away from the cut (-inf, 0] (principal log, sqrt, cube root, power base).
CUT_NEG = Region(ok=lambda z: abs(z.imag) >= MARGIN or z.real >= MARGIN)
#: Away from 0 (reciprocal, divisor).
NONZERO = Region(ok=lambda z: abs(z) >= MARGIN)
#: Away from (-inf, -1].
CUT_LOG1P = Region(ok=lambda z: abs(z.imag) >= MARGIN or z.real >= -1 + MARGIN)
#: Away from (-inf, -1] and [1, inf) (arcsin, arccos, arctanh).
CUT_OUT_1 = Region(ok=lambda z: abs(z.imag) >= MARGIN or abs(z.real) <= 1 - MARGIN)
#: Away from the imaginary axis beyond ±i (arctan, arcsinh).
CUT_IMAG_1 = Region(ok=lambda z: abs(z.real) >= MARGIN or abs(z.imag) <= 1 - MARGIN)
#: Away from (-inf, 1] (arccosh): this includes the left half-plane off the axis.
CUT_ACOSH = Region(ok=lambda z: abs(z.imag) >= MARGIN or z.real >= 1 + MARGIN)
#: Away from the poles pi/2 + k*pi on the real axis (tan).
TAN_POLES = Region(ok=lambda z: abs(z.imag) >= MARGIN or _dist_to_grid(z.real, math.pi / 2, math.pi) >= MARGIN)
#: Away from the poles i*(pi/2 + k*pi) (tanh).
TANH_POLES = Region(ok=lambda z: abs(z.real) >= MARGIN or _dist_to_grid(z.imag, math.pi / 2, math.pi) >= MARGIN)
#: Away from the poles i*pi*(2k+1) (sigmoid).
SIGMOID_POLES = Region(ok=lambda z: abs(z.real) >= MARGIN or _dist_to_grid(z.imag, math.pi, 2 * math.pi) >= MARGIN)
#: Away from the cuts Im z = (2k+1)*pi, Re z >= 0 and the points i*pi*(2k+1) (softplus).
SOFTPLUS_CUTS = Region(ok=lambda z: _dist_to_grid(z.imag, math.pi, 2 * math.pi) >= MARGIN)
#: erf grows fast off the real axis: a smaller box.
ERF_BOX = Region(re=(-2.0, 2.0), im=(-2.0, 2.0))


def _ref(name: str, fn: Callable[..., Any], *args: Arg, joint: Callable[..., bool] | None = None) -> Reference:
    return Reference(name, fn, args, joint)


_ALL: list[Reference] = [
    # arithmetic
    _ref("add", lambda a, b: a + b, Arg(R10, BOX), Arg(R10, BOX)),
    _ref("sub", lambda a, b: a - b, Arg(R10, BOX), Arg(R10, BOX)),
    _ref("neg", lambda x: -x, Arg(R10, BOX)),
    _ref("pos", lambda x: +x, Arg(R10, BOX)),
    _ref("mul", lambda a, b: a * b, Arg(R10, BOX), Arg(R10, BOX)),
    _ref("truediv", lambda a, b: a / b, Arg(R10, BOX), Arg(_pm(0.1, 10.0), NONZERO)),
    _ref("pow", mpmath.power, Arg(((0.1, 10.0),), CUT_NEG), Arg(((-4.0, 4.0),), BOX)),
    _ref("abs", mpmath.fabs, Arg(_pm(KINK, 10.0))),
    _ref("square", lambda x: x * x, Arg(R10, BOX)),
    _ref("reciprocal", lambda x: 1 / x, Arg(_pm(0.1, 10.0), NONZERO)),
    # roots, exponentials, logarithms
    _ref("sqrt", mpmath.sqrt, Arg(((1e-3, 100.0),), CUT_NEG)),
    _ref("sqrt0", mpmath.sqrt, Arg(((1e-3, 100.0),), CUT_NEG)),
    _ref("cbrt", _cbrt, Arg(_pm(1e-3, 100.0), CUT_NEG)),
    _ref("exp", mpmath.exp, Arg(((-30.0, 30.0),), BOX)),
    _ref("exp2", lambda x: mpmath.power(2, x), Arg(((-40.0, 40.0),), BOX)),
    _ref("expm1", mpmath.expm1, Arg(((-30.0, 30.0),), BOX)),
    _ref("log", mpmath.log, Arg(((1e-3, 1e3),), CUT_NEG)),
    _ref("log2", lambda x: mpmath.log(x, 2), Arg(((1e-3, 1e3),), CUT_NEG)),
    _ref("log10", mpmath.log10, Arg(((1e-3, 1e3),), CUT_NEG)),
    _ref("log1p", mpmath.log1p, Arg(((-0.9, 100.0),), CUT_LOG1P)),
    # trigonometric and hyperbolic
    _ref("sin", mpmath.sin, Arg(R10, BOX)),
    _ref("cos", mpmath.cos, Arg(R10, BOX)),
    _ref("tan", mpmath.tan, Arg(((-1.4, 1.4),), TAN_POLES)),
    _ref("arcsin", mpmath.asin, Arg(((-0.95, 0.95),), CUT_OUT_1)),
    _ref("arccos", mpmath.acos, Arg(((-0.95, 0.95),), CUT_OUT_1)),
    _ref("arctan", mpmath.atan, Arg(((-100.0, 100.0),), CUT_IMAG_1)),
    _ref(
        "arctan2",
        mpmath.atan2,
        Arg(R10),
        Arg(R10),
        # away from the origin and from the jump from pi to -pi along a = 0, b < 0
        joint=lambda a, b: math.hypot(a, b) >= 0.1 and (b > 0 or abs(a) >= KINK),
    ),
    _ref("sinh", mpmath.sinh, Arg(((-20.0, 20.0),), BOX)),
    _ref("cosh", mpmath.cosh, Arg(((-20.0, 20.0),), BOX)),
    _ref("tanh", mpmath.tanh, Arg(((-20.0, 20.0),), TANH_POLES)),
    _ref("arcsinh", mpmath.asinh, Arg(((-100.0, 100.0),), CUT_IMAG_1)),
    _ref("arccosh", mpmath.acosh, Arg(((1.01, 100.0),), CUT_ACOSH)),
    _ref("arctanh", mpmath.atanh, Arg(((-0.95, 0.95),), CUT_OUT_1)),
    _ref(
        "hypot",
        mpmath.hypot,
        Arg(R10),
        Arg(R10),
        joint=lambda a, b: math.hypot(a, b) >= 0.1,
    ),
    # special functions and activations
    _ref("erf", mpmath.erf, Arg(((-5.0, 5.0),), ERF_BOX)),
    _ref("erfc", mpmath.erfc, Arg(((-5.0, 5.0),), ERF_BOX)),
    _ref("sigmoid", _sigmoid, Arg(((-40.0, 40.0),), SIGMOID_POLES)),
    _ref("softplus", _softplus, Arg(((-40.0, 40.0),), SOFTPLUS_CUTS)),
    _ref("relu", _relu, Arg(_pm(KINK, 10.0))),
    _ref("maximum", lambda a, b: max(a, b), Arg(R10), Arg(R10), joint=lambda a, b: abs(a - b) >= KINK),
    _ref("minimum", lambda a, b: min(a, b), Arg(R10), Arg(R10), joint=lambda a, b: abs(a - b) >= KINK),
    # piecewise constant: sampled away from their jumps
    _ref("sign", mpmath.sign, Arg(_pm(KINK, 10.0))),
    _ref("floor", mpmath.floor, Arg(R10), joint=lambda x: _dist_to_grid(x, 0.0, 1.0) >= KINK),
    _ref("ceil", mpmath.ceil, Arg(R10), joint=lambda x: _dist_to_grid(x, 0.0, 1.0) >= KINK),
    _ref("round", mpmath.nint, Arg(R10), joint=lambda x: _dist_to_grid(x, 0.5, 1.0) >= KINK),
    # the identity whose derivative is zero by definition
    Reference("stop_gradient", lambda x: +x, (Arg(R10, BOX),), zero_derivative=True),
]

REFERENCES: dict[str, Reference] = {r.name: r for r in _ALL}
assert len(REFERENCES) == len(_ALL), "duplicate reference entry"


# --------------------------------------------------------------------------
# precision
# --------------------------------------------------------------------------


@contextlib.contextmanager
def precision(dps: int) -> Iterator[None]:
    """Work at ``dps`` decimal digits; the previous precision comes back afterwards."""
    saved = mpmath.mp.prec
    mpmath.mp.dps = dps
    try:
        yield
    finally:
        mpmath.mp.prec = saved


# --------------------------------------------------------------------------
# hypothesis strategies
# --------------------------------------------------------------------------


def _interval(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def _union(intervals: Sequence[tuple[float, float]]) -> st.SearchStrategy[float]:
    return st.one_of(*[_interval(lo, hi) for lo, hi in intervals])


def real_points(ref: Reference) -> st.SearchStrategy[tuple[float, ...]]:
    """Tuples of floats, one per argument, where ``ref`` is well conditioned."""
    s = st.tuples(*[_union(a.real) for a in ref.args])
    if ref.joint is not None:
        s = s.filter(lambda p: ref.joint(*p))
    return s


#: A relative nudge of at most 2**-60 gives a float point bits beyond double precision.
_NUDGE_BITS = 200
_NUDGE = st.integers(-(2**140), 2**140)


def nudge(x: float, k: int) -> mpmath.mpf:
    """``x * (1 + k / 2**200)`` rounded at the current precision: a point with more than 53 bits."""
    return mpmath.mpf(x) * (1 + mpmath.ldexp(k, -_NUDGE_BITS))


def mp_real_points(ref: Reference) -> st.SearchStrategy[tuple[tuple[float, int], ...]]:
    """Like :func:`real_points`, with a nudge per argument; build the mpf with :func:`nudge`.

    The nudge is far smaller than every margin, so the point stays where the
    reference is well conditioned.
    """
    return st.tuples(real_points(ref), st.tuples(*[_NUDGE for _ in ref.args])).map(lambda pk: tuple(zip(*pk)))


def _complex(region: Region) -> st.SearchStrategy[complex]:
    return st.builds(complex, _interval(*region.re), _interval(*region.im)).filter(region.ok)


def complex_points(ref: Reference) -> st.SearchStrategy[tuple[complex, ...]]:
    """Tuples of complex numbers away from poles and cuts (holomorphic rules only)."""
    if not ref.holomorphic:
        raise ValueError(f"{ref.name} is not holomorphic")
    return st.tuples(*[_complex(a.complex) for a in ref.args])  # type: ignore[arg-type]


def mp_complex_points(ref: Reference) -> st.SearchStrategy[tuple[tuple[complex, int, int], ...]]:
    """Complex points with a nudge for the real and the imaginary part; build with :func:`nudge_complex`."""
    return st.tuples(
        complex_points(ref),
        st.tuples(*[st.tuples(_NUDGE, _NUDGE) for _ in ref.args]),
    ).map(lambda pk: tuple((z, kr, ki) for z, (kr, ki) in zip(*pk)))


def nudge_complex(z: complex, kr: int, ki: int) -> mpmath.mpc:
    return mpmath.mpc(nudge(z.real, kr), nudge(z.imag, ki))


# --------------------------------------------------------------------------
# reference derivatives
# --------------------------------------------------------------------------


def partial(ref: Reference, point: Sequence[Any], i: int) -> Any:
    """d ref.fn / d arg_i at ``point`` by :func:`mpmath.diff`, at the current precision.

    ``point`` holds mpmath numbers or Python numbers (taken exactly).
    """
    pt = [mpmath.mpmathify(p) for p in point]
    if ref.zero_derivative:
        return mpmath.mpf(0)
    if ref.nin == 1:
        return mpmath.diff(ref.fn, pt[0])
    orders = tuple(1 if j == i else 0 for j in range(ref.nin))
    return mpmath.diff(ref.fn, tuple(pt), orders)


def partials(ref: Reference, point: Sequence[Any]) -> list[Any]:
    return [partial(ref, point, i) for i in range(ref.nin)]
