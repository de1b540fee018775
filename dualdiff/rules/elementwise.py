"""The elementwise primitives: how each evaluates and its local partials.

Mathematics only. Forward mode (:mod:`dualdiff.modes.dual`), reverse mode
(:mod:`dualdiff.modes.tape`), recorded programs, evaluation traces and the
cost model all read these entries; no derivative formula is written anywhere
else. Each partial ``partial(m, y, *args)`` is written against a math
namespace ``m`` (:mod:`dualdiff.rules.backends`), so the one formula serves
floats, complex numbers, mpmath numbers, arrays and nested levels.

Policy at non-differentiable points (the same in every mode): the derivative
is the midpoint of the one-sided derivatives. So ``abs'(0) = 0``,
``relu'(0) = 1/2``, ``maximum``/``minimum`` split a tie 1/2 and 1/2, and the
piecewise-constant functions (sign, floor, ceil, round) have derivative 0
everywhere, as ``stop_gradient`` (the identity) has by definition. Where one side is infinite the limit is returned:
``sqrt'(0) = cbrt'(0) = inf``. ``hypot`` and ``arctan2`` at the origin have
zero partials (``hypot(x, 0)`` is ``abs(x)``). ``x ** y`` has ``d/dy = 0`` at
``x = 0`` (the limit of ``x**y * log(x)``).

Policy outside a domain: a real argument outside a function's real domain
raises :class:`~dualdiff.errors.DomainError` (``log(-1)``, ``sqrt(-1)``,
``arcsin(2)``) for every number type. On the boundary and on overflow the
IEEE 754 limit is returned, as NumPy does: ``log(0) = -inf``,
``exp(1000) = inf``, ``1 / 0.0 = inf``. Complex arguments use the principal
branch; functions that are not complex-differentiable (``holomorphic`` is
False) refuse to be differentiated at complex points.

Infinite partials follow IEEE 754 in both modes: an infinite partial times a
tangent (or cotangent) that is exactly zero gives nan, as in JAX and
PyTorch. So the jvp of ``a ** b`` at ``(0, 0.5)`` in direction ``(0, 1)`` is
nan, while its gradient is ``(inf, 0)``. Hold the other argument constant
(pass it as a plain number) to get the finite directional derivative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .kinds import Elementwise, Partial, register


def elementwise(
    name: str,
    template: str,
    *partials: Partial,
    signs: tuple[int, ...] | None = None,
    domain: str | None = None,
    piecewise_constant: bool = False,
    holomorphic: bool = True,
    ufunc: Any = None,
    latex: str | None = None,
    op_class: str = "nlops",
    linear_in: Any = (),
    evaluate: Any = None,
) -> Elementwise:
    """Define and register a built-in elementwise rule (its value comes from each namespace's ``name``,
    unless ``evaluate`` says otherwise)."""
    n = len(signs) if signs else len(partials)
    rule = Elementwise(
        name,
        n,
        template,
        partials=partials,
        signs=signs,
        domain=domain,
        piecewise_constant=piecewise_constant,
        holomorphic=holomorphic,
        ufunc=ufunc,
        latex=latex,
        op_class=op_class,
        linear_in=linear_in,
        evaluate=evaluate,
    )
    register(rule)
    return rule


def _zero(m: Any, y: Any, *args: Any) -> Any:
    return m.zero(y)


# --- arithmetic -----------------------------------------------------------
ADD = elementwise("add", "{0} + {1}", signs=(1, 1), ufunc=np.add, op_class="adds", linear_in="all")
SUB = elementwise("sub", "{0} - {1}", signs=(1, -1), ufunc=np.subtract, op_class="adds", linear_in="all")
NEG = elementwise("neg", "-{0}", signs=(-1,), ufunc=np.negative, op_class="adds", linear_in="all")
POS = elementwise("pos", "+{0}", signs=(1,), ufunc=np.positive, op_class="none", linear_in="all")
MUL = elementwise(
    "mul",
    "{0} * {1}",
    lambda m, y, a, b: b,
    lambda m, y, a, b: a,
    ufunc=np.multiply,
    op_class="mults",
    linear_in="each",
)
TRUEDIV = elementwise(
    "truediv",
    "{0} / {1}",
    lambda m, y, a, b: 1 / b,
    lambda m, y, a, b: -y / b,
    ufunc=np.true_divide,
    op_class="mults",
    linear_in=(0,),
)
# dpow(a, b) = b * a**(b - 1), exactly 0 where b == 0: so integral powers
# differentiate like polynomials at a = 0, to every order (x**2 -> 2 x**1 -> 2 x**0 -> 0)
POW = elementwise(
    "pow",
    "{0} ** {1}",
    lambda m, y, a, b: m.dpow(a, b),
    lambda m, y, a, b: m.xlogy(y, a),
    domain="x >= 0, or an integer exponent",
    ufunc=np.power,
)
ABS = elementwise(
    "abs", "abs({0})", lambda m, y, x: m.sign(x), ufunc=np.absolute, holomorphic=False, latex=r"\lvert {0} \rvert"
)
SQUARE = elementwise("square", "{0}^2", lambda m, y, x: 2 * x, ufunc=np.square, op_class="mults")
RECIPROCAL = elementwise("reciprocal", "1 / {0}", lambda m, y, x: -y * y, ufunc=np.reciprocal, op_class="mults")

# --- roots, exponentials, logarithms --------------------------------------
SQRT = elementwise("sqrt", "sqrt({0})", lambda m, y, x: 0.5 / y, domain="x >= 0", ufunc=np.sqrt, latex=r"\sqrt{{0}}")
# the root of a sum of squares (np.std, 2-norms): sqrt with derivative 0 at 0,
# the midpoint of a cone's one-sided derivatives (as abs'(0) = 0)
SQRT0 = elementwise("sqrt0", "sqrt({0})", lambda m, y, x: m.safe_div(0.5, y), domain="x >= 0", latex=r"\sqrt{{0}}")
CBRT = elementwise("cbrt", "cbrt({0})", lambda m, y, x: 1 / (3 * y * y), ufunc=np.cbrt, latex=r"\sqrt[3]{{0}}")
EXP = elementwise("exp", "exp({0})", lambda m, y, x: y, ufunc=np.exp, latex=r"\exp")
EXP2 = elementwise("exp2", "2^{0}", lambda m, y, x: y * m.log(m.const(x, 2)), ufunc=np.exp2)
# exp(x), not y + 1: keeps full relative precision where y is near -1
EXPM1 = elementwise("expm1", "expm1({0})", lambda m, y, x: m.exp(x), ufunc=np.expm1)
LOG = elementwise("log", "ln({0})", lambda m, y, x: 1 / x, domain="x >= 0", ufunc=np.log, latex=r"\ln")
LOG2 = elementwise(
    "log2", "log2({0})", lambda m, y, x: 1 / (x * m.log(m.const(x, 2))), domain="x >= 0", ufunc=np.log2, latex=r"\log_2"
)
LOG10 = elementwise(
    "log10",
    "log10({0})",
    lambda m, y, x: 1 / (x * m.log(m.const(x, 10))),
    domain="x >= 0",
    ufunc=np.log10,
    latex=r"\log_{10}",
)
LOG1P = elementwise("log1p", "log1p({0})", lambda m, y, x: 1 / (1 + x), domain="x >= -1", ufunc=np.log1p)

# --- trigonometric and hyperbolic -----------------------------------------
SIN = elementwise("sin", "sin({0})", lambda m, y, x: m.cos(x), ufunc=np.sin, latex=r"\sin")
COS = elementwise("cos", "cos({0})", lambda m, y, x: -m.sin(x), ufunc=np.cos, latex=r"\cos")
TAN = elementwise("tan", "tan({0})", lambda m, y, x: 1 + y * y, ufunc=np.tan, latex=r"\tan")
ARCSIN = elementwise(
    "arcsin",
    "arcsin({0})",
    lambda m, y, x: 1 / m.sqrt((1 - x) * (1 + x)),
    domain="-1 <= x <= 1",
    ufunc=np.arcsin,
    latex=r"\arcsin",
)
ARCCOS = elementwise(
    "arccos",
    "arccos({0})",
    lambda m, y, x: -1 / m.sqrt((1 - x) * (1 + x)),
    domain="-1 <= x <= 1",
    ufunc=np.arccos,
    latex=r"\arccos",
)
ARCTAN = elementwise("arctan", "arctan({0})", lambda m, y, x: 1 / (1 + x * x), ufunc=np.arctan, latex=r"\arctan")
ARCTAN2 = elementwise(
    "arctan2",
    "arctan2({0}, {1})",
    lambda m, y, a, b: m.safe_div(b, a * a + b * b),
    lambda m, y, a, b: m.safe_div(-a, a * a + b * b),
    ufunc=np.arctan2,
    holomorphic=False,
)
SINH = elementwise("sinh", "sinh({0})", lambda m, y, x: m.cosh(x), ufunc=np.sinh, latex=r"\sinh")
COSH = elementwise("cosh", "cosh({0})", lambda m, y, x: m.sinh(x), ufunc=np.cosh, latex=r"\cosh")
# sech^2 x, not 1 - y^2, which cancels to a few digits where |y| is near 1
TANH = elementwise(
    "tanh", "tanh({0})", lambda m, y, x: m.reciprocal(m.square(m.cosh(x))), ufunc=np.tanh, latex=r"\tanh"
)
ARCSINH = elementwise("arcsinh", "arcsinh({0})", lambda m, y, x: 1 / m.sqrt(x * x + 1), ufunc=np.arcsinh)
ARCCOSH = elementwise(
    "arccosh", "arccosh({0})", lambda m, y, x: 1 / (m.sqrt(x - 1) * m.sqrt(x + 1)), domain="x >= 1", ufunc=np.arccosh
)
ARCTANH = elementwise(
    "arctanh", "arctanh({0})", lambda m, y, x: 1 / ((1 - x) * (1 + x)), domain="-1 <= x <= 1", ufunc=np.arctanh
)
HYPOT = elementwise(
    "hypot",
    "hypot({0}, {1})",
    lambda m, y, a, b: m.safe_div(a, y),
    lambda m, y, a, b: m.safe_div(b, y),
    ufunc=np.hypot,
    holomorphic=False,
)

# --- special functions and activations ------------------------------------
ERF = elementwise("erf", "erf({0})", lambda m, y, x: 2 / m.sqrt(m.pi(x)) * m.exp(-x * x))
ERFC = elementwise("erfc", "erfc({0})", lambda m, y, x: -2 / m.sqrt(m.pi(x)) * m.exp(-x * x))
# s(x) s(-x), not y (1 - y), which cancels where y is near 1
SIGMOID = elementwise("sigmoid", "sigmoid({0})", lambda m, y, x: y * m.sigmoid(-x))
SOFTPLUS = elementwise("softplus", "softplus({0})", lambda m, y, x: m.sigmoid(x))
RELU = elementwise("relu", "relu({0})", lambda m, y, x: (1 + m.sign(x)) / 2, holomorphic=False)
MAXIMUM = elementwise(
    "maximum",
    "max({0}, {1})",
    lambda m, y, a, b: (1 + m.sign(a - b)) / 2,
    lambda m, y, a, b: (1 - m.sign(a - b)) / 2,
    ufunc=np.maximum,
    holomorphic=False,
)
MINIMUM = elementwise(
    "minimum",
    "min({0}, {1})",
    lambda m, y, a, b: (1 - m.sign(a - b)) / 2,
    lambda m, y, a, b: (1 + m.sign(a - b)) / 2,
    ufunc=np.minimum,
    holomorphic=False,
)

# --- piecewise constant: derivative zero ----------------------------------
SIGN = elementwise("sign", "sign({0})", _zero, piecewise_constant=True, ufunc=np.sign, holomorphic=False)
FLOOR = elementwise("floor", "floor({0})", _zero, piecewise_constant=True, ufunc=np.floor, holomorphic=False)
CEIL = elementwise("ceil", "ceil({0})", _zero, piecewise_constant=True, ufunc=np.ceil, holomorphic=False)
ROUND = elementwise("round", "round({0})", _zero, piecewise_constant=True, ufunc=np.rint, holomorphic=False)

# --- no derivative at all ---------------------------------------------------
# The identity with derivative zero: a value a derivative must not see through
# (JAX's stop_gradient). Linear (the zero map), so recorded linear maps may use it.
STOP_GRADIENT = elementwise(
    "stop_gradient",
    "stop_gradient({0})",
    _zero,
    piecewise_constant=True,
    evaluate={"float": lambda x: x, "complex": lambda x: x, "mpmath": lambda x: x, "numpy": lambda x: x},
    op_class="none",
    linear_in="all",
    latex=r"\operatorname{stop\_gradient}",
)
