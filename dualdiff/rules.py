"""The rule table: every primitive, how it evaluates and how it differentiates.

This module is mathematics only. Forward mode (:mod:`dualdiff.dual`), reverse
mode (:mod:`dualdiff.tape`), evaluation traces and the cost counter all read
these entries; no derivative formula is written anywhere else.

Two kinds of rule:

* :class:`Elementwise` -- a scalar function applied elementwise (with NumPy
  broadcasting). Its derivative is a tuple of *local partials*, one function
  per argument, ``partial(m, y, *args) -> dy/darg`` written against a math
  namespace ``m`` (see :mod:`dualdiff.backends`), so the same formula serves
  floats, complex numbers, mpmath at any precision, arrays and nested levels.
* :class:`Linear` -- an operation that is linear in its differentiable
  argument (indexing, reshaping, summing, ...). Its derivative is the
  operation itself applied to the tangent, and the reverse sweep uses its
  transpose, given once here.

Policy at non-differentiable points (the same in every mode): the derivative
is the midpoint of the one-sided derivatives. So ``abs'(0) = 0``,
``relu'(0) = 1/2``, ``maximum``/``minimum`` split a tie 1/2 and 1/2, and the
piecewise-constant functions (sign, floor, ceil, round) have derivative 0
everywhere. Where one side is infinite the limit is returned:
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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backends import BACKENDS, ELEMENTWISE_NAMES

Partial = Callable[..., Any]


@dataclass(eq=False)
class Rule:
    """A primitive: its name, arity, and how a trace prints it."""

    name: str
    nin: int
    #: How an evaluation trace shows the step, e.g. ``"sin({0})"``.
    template: str

    def __repr__(self) -> str:
        return f"<rule {self.name}>"


@dataclass(eq=False, repr=False)
class Elementwise(Rule):
    """An elementwise primitive with its local partial derivatives.

    ``partials[i](m, y, *args)`` is dy/d(args[i]) at the point, computed in
    the namespace ``m``. When every partial is a constant +1 or -1 (add, sub,
    neg, pos), ``signs`` holds them instead, so modes add tangents rather than
    multiply them by one.
    """

    partials: tuple[Partial, ...] = ()
    signs: tuple[int, ...] | None = None
    #: The real domain, when the function has one (used in DomainError texts).
    domain: str | None = None
    #: True for sign/floor/ceil/round: derivative zero everywhere.
    piecewise_constant: bool = False
    #: False for functions that are not complex-differentiable (abs, max, ...):
    #: differentiating them at a complex point raises TypeError.
    holomorphic: bool = True
    #: The NumPy ufunc this rule stands for (for __array_ufunc__).
    ufunc: Any = None
    #: Per-backend implementation, indexed by ``Backend.slot`` (filled below).
    impl: list[Callable[..., Any]] = field(default_factory=list)
    #: ``impl[FLOAT.slot]``, ``partials[0]`` and ``partials[1]`` (or None), for fast paths.
    float_impl: Callable[..., Any] | None = None
    p0: Partial | None = None
    p1: Partial | None = None


@dataclass(eq=False, repr=False)
class Linear(Rule):
    """A primitive linear in its first argument; the others are static parameters.

    ``fn(x, nbatch, *params)`` evaluates it on ``x`` whose last ``nbatch``
    axes are directions the map must leave alone. Being linear, it is its own
    tangent map, so forward mode calls it on tangents too. The reverse sweep
    uses ``transpose(g, x_shape, nbatch, *params)``, which maps an output
    cotangent back to the input's shape. Both only ever see plain arrays:
    the modes unwrap lifted values level by level.
    """

    fn: Callable[..., Any] = None  # type: ignore[assignment]
    transpose: Callable[..., Any] = None  # type: ignore[assignment]
    _transposed: Linear | None = None

    @property
    def T(self) -> Linear:
        """The transpose as a rule of its own (its transpose is this rule again).

        Lets a reverse sweep apply a transpose to a cotangent that is itself a
        lifted value (a Dual in forward-over-reverse, a Var in reverse over
        reverse). Its parameters are ``(x_shape, *params)``; so ``T.T`` is not
        this rule itself but the same map taking one more (ignored) shape,
        which keeps every level of nesting on one calling convention.
        """
        if self._transposed is None:
            rule = self
            t = Linear(
                rule.name + "_T",
                1,
                rule.name + "_T({0})",
                fn=lambda g, nbatch, x_shape, *params: rule.transpose(g, x_shape, nbatch, *params),
                transpose=lambda h, g_shape, nbatch, x_shape, *params: rule.fn(h, nbatch, *params),
            )
            self._transposed = t
        return self._transposed


@dataclass(eq=False, repr=False)
class General(Rule):
    """A primitive that is neither elementwise nor linear (matmul, solve, det, ...).

    Its derivative at a point is, for each differentiable argument i, a
    linear map and that map's transpose:

    * ``fn(*args, *params)`` evaluates it on plain arrays;
    * ``linear_maps[i](t, nbatch, y, args, params)`` is the contribution of
      argument i's tangent ``t`` to the output tangent (forward mode);
    * ``transposes[i](g, nbatch, y, args, params)`` is the cotangent of
      argument i for the output cotangent ``g`` (reverse mode), already
      summed back to argument i's shape.

    ``nbatch`` (0 or more) trailing axes of ``t`` and ``g`` are directions
    the maps must carry along. ``args`` and ``y`` may be lifted values of a
    lower level (nesting), so the maps use NumPy functions that dispatch.
    The first ``nin`` positional arguments are differentiable; ``params``
    are static (axes, shapes, flags).

    ``joint_map(ts, nbatch, y, args, params)``, when given, is the sum of the
    linear maps in one step (``ts[i]`` is None for a constant argument);
    forward mode uses it so that, e.g., ``where`` or ``concatenate`` builds
    its output tangent in one pass instead of adding per-argument pieces.
    """

    fn: Callable[..., Any] = None  # type: ignore[assignment]
    linear_maps: tuple[Callable[..., Any], ...] = ()
    transposes: tuple[Callable[..., Any], ...] = ()
    joint_map: Callable[..., Any] | None = None


TABLE: dict[str, Rule] = {}


def _elementwise(
    name: str,
    template: str,
    *partials: Partial,
    signs: tuple[int, ...] | None = None,
    domain: str | None = None,
    piecewise_constant: bool = False,
    ufunc: Any = None,
    nin: int | None = None,
) -> Elementwise:
    n = nin if nin is not None else (len(signs) if signs else len(partials))
    rule = Elementwise(
        name,
        n,
        template,
        partials=partials,
        signs=signs,
        domain=domain,
        piecewise_constant=piecewise_constant,
        ufunc=ufunc,
    )
    TABLE[name] = rule
    return rule


def _zero(m: Any, y: Any, *args: Any) -> Any:
    return m.zero(y)


# --- arithmetic -----------------------------------------------------------
ADD = _elementwise("add", "{0} + {1}", signs=(1, 1), ufunc=np.add)
SUB = _elementwise("sub", "{0} - {1}", signs=(1, -1), ufunc=np.subtract)
NEG = _elementwise("neg", "-{0}", signs=(-1,), ufunc=np.negative)
POS = _elementwise("pos", "+{0}", signs=(1,), ufunc=np.positive)
MUL = _elementwise("mul", "{0} * {1}", lambda m, y, a, b: b, lambda m, y, a, b: a, ufunc=np.multiply)
TRUEDIV = _elementwise(
    "truediv",
    "{0} / {1}",
    lambda m, y, a, b: 1 / b,
    lambda m, y, a, b: -y / b,
    ufunc=np.true_divide,
)
POW = _elementwise(
    "pow",
    "{0} ** {1}",
    lambda m, y, a, b: b * a ** (b - 1),
    lambda m, y, a, b: m.xlogy(y, a),
    domain="x >= 0, or an integer exponent",
    ufunc=np.power,
)
ABS = _elementwise("abs", "abs({0})", lambda m, y, x: m.sign(x), ufunc=np.absolute)
SQUARE = _elementwise("square", "{0}^2", lambda m, y, x: 2 * x, ufunc=np.square)
RECIPROCAL = _elementwise("reciprocal", "1 / {0}", lambda m, y, x: -y * y, ufunc=np.reciprocal)

# --- roots, exponentials, logarithms --------------------------------------
SQRT = _elementwise("sqrt", "sqrt({0})", lambda m, y, x: 0.5 / y, domain="x >= 0", ufunc=np.sqrt)
CBRT = _elementwise("cbrt", "cbrt({0})", lambda m, y, x: 1 / (3 * y * y), ufunc=np.cbrt)
EXP = _elementwise("exp", "exp({0})", lambda m, y, x: y, ufunc=np.exp)
EXP2 = _elementwise("exp2", "2^{0}", lambda m, y, x: y * m.log(m.const(x, 2)), ufunc=np.exp2)
# exp(x), not y + 1: keeps full relative precision where y is near -1
EXPM1 = _elementwise("expm1", "expm1({0})", lambda m, y, x: m.exp(x), ufunc=np.expm1)
LOG = _elementwise("log", "ln({0})", lambda m, y, x: 1 / x, domain="x >= 0", ufunc=np.log)
LOG2 = _elementwise("log2", "log2({0})", lambda m, y, x: 1 / (x * m.log(m.const(x, 2))), domain="x >= 0", ufunc=np.log2)
LOG10 = _elementwise(
    "log10", "log10({0})", lambda m, y, x: 1 / (x * m.log(m.const(x, 10))), domain="x >= 0", ufunc=np.log10
)
LOG1P = _elementwise("log1p", "log1p({0})", lambda m, y, x: 1 / (1 + x), domain="x >= -1", ufunc=np.log1p)

# --- trigonometric and hyperbolic -----------------------------------------
SIN = _elementwise("sin", "sin({0})", lambda m, y, x: m.cos(x), ufunc=np.sin)
COS = _elementwise("cos", "cos({0})", lambda m, y, x: -m.sin(x), ufunc=np.cos)
TAN = _elementwise("tan", "tan({0})", lambda m, y, x: 1 + y * y, ufunc=np.tan)
ARCSIN = _elementwise(
    "arcsin", "arcsin({0})", lambda m, y, x: 1 / m.sqrt((1 - x) * (1 + x)), domain="-1 <= x <= 1", ufunc=np.arcsin
)
ARCCOS = _elementwise(
    "arccos", "arccos({0})", lambda m, y, x: -1 / m.sqrt((1 - x) * (1 + x)), domain="-1 <= x <= 1", ufunc=np.arccos
)
ARCTAN = _elementwise("arctan", "arctan({0})", lambda m, y, x: 1 / (1 + x * x), ufunc=np.arctan)
ARCTAN2 = _elementwise(
    "arctan2",
    "arctan2({0}, {1})",
    lambda m, y, a, b: m.safe_div(b, a * a + b * b),
    lambda m, y, a, b: m.safe_div(-a, a * a + b * b),
    ufunc=np.arctan2,
)
SINH = _elementwise("sinh", "sinh({0})", lambda m, y, x: m.cosh(x), ufunc=np.sinh)
COSH = _elementwise("cosh", "cosh({0})", lambda m, y, x: m.sinh(x), ufunc=np.cosh)
# sech^2 x, not 1 - y^2, which cancels to a few digits where |y| is near 1
TANH = _elementwise("tanh", "tanh({0})", lambda m, y, x: m.reciprocal(m.square(m.cosh(x))), ufunc=np.tanh)
ARCSINH = _elementwise("arcsinh", "arcsinh({0})", lambda m, y, x: 1 / m.sqrt(x * x + 1), ufunc=np.arcsinh)
ARCCOSH = _elementwise(
    "arccosh", "arccosh({0})", lambda m, y, x: 1 / (m.sqrt(x - 1) * m.sqrt(x + 1)), domain="x >= 1", ufunc=np.arccosh
)
ARCTANH = _elementwise(
    "arctanh", "arctanh({0})", lambda m, y, x: 1 / ((1 - x) * (1 + x)), domain="-1 <= x <= 1", ufunc=np.arctanh
)
HYPOT = _elementwise(
    "hypot",
    "hypot({0}, {1})",
    lambda m, y, a, b: m.safe_div(a, y),
    lambda m, y, a, b: m.safe_div(b, y),
    ufunc=np.hypot,
)

# --- special functions and activations ------------------------------------
ERF = _elementwise("erf", "erf({0})", lambda m, y, x: 2 / m.sqrt(m.pi(x)) * m.exp(-x * x))
ERFC = _elementwise("erfc", "erfc({0})", lambda m, y, x: -2 / m.sqrt(m.pi(x)) * m.exp(-x * x))
# s(x) s(-x), not y (1 - y), which cancels where y is near 1
SIGMOID = _elementwise("sigmoid", "sigmoid({0})", lambda m, y, x: y * m.sigmoid(-x))
SOFTPLUS = _elementwise("softplus", "softplus({0})", lambda m, y, x: m.sigmoid(x))
RELU = _elementwise("relu", "relu({0})", lambda m, y, x: (1 + m.sign(x)) / 2)
MAXIMUM = _elementwise(
    "maximum",
    "max({0}, {1})",
    lambda m, y, a, b: (1 + m.sign(a - b)) / 2,
    lambda m, y, a, b: (1 - m.sign(a - b)) / 2,
    ufunc=np.maximum,
)
MINIMUM = _elementwise(
    "minimum",
    "min({0}, {1})",
    lambda m, y, a, b: (1 - m.sign(a - b)) / 2,
    lambda m, y, a, b: (1 + m.sign(a - b)) / 2,
    ufunc=np.minimum,
)

# --- piecewise constant: derivative zero ----------------------------------
SIGN = _elementwise("sign", "sign({0})", _zero, piecewise_constant=True, ufunc=np.sign)
FLOOR = _elementwise("floor", "floor({0})", _zero, piecewise_constant=True, ufunc=np.floor)
CEIL = _elementwise("ceil", "ceil({0})", _zero, piecewise_constant=True, ufunc=np.ceil)
ROUND = _elementwise("round", "round({0})", _zero, piecewise_constant=True, ufunc=np.rint)


def _fill_implementations() -> None:
    for name, rule in TABLE.items():
        if isinstance(rule, Elementwise):
            rule.impl = [getattr(b, name, None) for b in BACKENDS]
            # direct handles for the scalar fast paths of the modes
            rule.float_impl = rule.impl[0]
            rule.p0 = rule.partials[0] if rule.partials else None
            rule.p1 = rule.partials[1] if len(rule.partials) > 1 else None


for _name in ("abs", "arctan2", "hypot", "relu", "maximum", "minimum", "sign", "floor", "ceil", "round"):
    TABLE[_name].holomorphic = False  # type: ignore[attr-defined]
_fill_implementations()
assert set(ELEMENTWISE_NAMES) == {n for n, r in TABLE.items() if isinstance(r, Elementwise)}


# --- linear and structural primitives -------------------------------------


def _normalize_index(index: Any, ndim: int) -> tuple[Any, ...]:
    """Turn an index into a tuple that addresses the leading ``ndim`` axes only.

    An Ellipsis is expanded so that a trailing direction axis on a tangent is
    never addressed by the user's index.
    """
    idx = index if isinstance(index, tuple) else (index,)
    if any(i is Ellipsis for i in idx):
        k = next(j for j, i in enumerate(idx) if i is Ellipsis)
        used = sum(1 for i in idx if i is not None and i is not Ellipsis and not _is_bool_array(i))
        used += sum(np.ndim(i) for i in idx if _is_bool_array(i))
        fill = (slice(None),) * max(ndim - used, 0)
        idx = idx[:k] + fill + idx[k + 1 :]
    return idx


def _is_bool_array(i: Any) -> bool:
    return isinstance(i, np.ndarray) and i.dtype == bool


def _has_array_index(idx: tuple[Any, ...]) -> bool:
    return any(isinstance(i, (np.ndarray, list)) for i in idx)


def _getitem_fn(x: Any, nbatch: int, index: Any) -> Any:
    return x[_normalize_index(index, np.ndim(x) - nbatch) if nbatch else index]


def _getitem_transpose(g: Any, x_shape: tuple[int, ...], nbatch: int, index: Any) -> Any:
    g = np.asarray(g)
    batch = g.shape[g.ndim - nbatch :] if nbatch else ()
    out = np.empty(x_shape + batch, dtype=g.dtype)
    out.fill(0)  # not np.zeros: calloc maps fresh pages for large arrays, malloc reuses freed ones
    return getitem_add(out, g, len(x_shape), index, fresh=True)


def getitem_add(out: np.ndarray, g: Any, ndim: int, index: Any, fresh: bool = False) -> np.ndarray:
    """Add ``g`` into ``out[index]`` in place: the transpose of getitem, accumulated.

    ``ndim`` is the primal's number of axes (``out`` may have direction axes
    after them). ``fresh`` says ``out`` is all zeros, so basic indexing may
    assign instead of add. The reverse sweep uses this to scatter straight
    into an adjoint it already holds, touching only the indexed elements.

    >>> getitem_add(np.zeros(3), np.ones(2), 1, np.array([0, 0]))
    array([2., 0., 0.])
    """
    idx = _normalize_index(index, ndim)
    if _has_array_index(idx):
        np.add.at(out, idx, g)  # scatter-add: repeated indices accumulate
    elif fresh:
        out[idx] = g  # basic indexing never repeats an element
    else:
        out[idx] += g
    return out


GETITEM = Linear(
    "getitem",
    1,
    "{0}[{1}]",
    fn=_getitem_fn,
    transpose=_getitem_transpose,
)
TABLE["getitem"] = GETITEM


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """Normalize an ``axis`` argument to non-negative axes of the primal."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(sorted(a % ndim for a in axis))
    return (axis % ndim,)


def _batch_shape(v: Any, nbatch: int) -> tuple[int, ...]:
    s = np.shape(v)
    return s[len(s) - nbatch :] if nbatch else ()


def sum_to_shape(v: Any, shape: tuple[int, ...], nbatch: int = 0) -> Any:
    """Sum ``v`` over the axes broadcasting added to an array of ``shape``.

    The transpose of broadcasting; ``nbatch`` trailing axes are left alone.

    >>> sum_to_shape(np.ones((2, 3)), (3,))
    array([2., 2., 2.])
    """
    vshape = np.shape(v)
    core = vshape[: len(vshape) - nbatch]
    if core == shape:
        return v
    lead = len(core) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and core[lead + i] != 1)
    return np.reshape(np.sum(v, axis=axes), shape + _batch_shape(v, nbatch))


def _sum_fn(x: Any, nbatch: int, axis: Any = None, keepdims: bool = False) -> Any:
    if not nbatch:
        return np.sum(x, axis=axis, keepdims=keepdims)
    return np.sum(x, axis=_axes(axis, np.ndim(x) - nbatch), keepdims=keepdims)


def _sum_transpose(g: Any, x_shape: tuple[int, ...], nbatch: int, axis: Any, keepdims: bool) -> Any:
    batch = _batch_shape(g, nbatch)
    axes = _axes(axis, len(x_shape))
    kept = tuple(1 if i in axes else s for i, s in enumerate(x_shape))
    return np.broadcast_to(np.reshape(g, kept + batch), x_shape + batch)


SUM = Linear(
    "sum",
    1,
    "sum({0})",
    fn=_sum_fn,
    transpose=_sum_transpose,
)
RESHAPE = Linear(
    "reshape",
    1,
    "reshape({0})",
    fn=lambda x, nbatch, shape: np.reshape(x, _resolve_shape(shape, np.shape(x), nbatch) + _batch_shape(x, nbatch)),
    transpose=lambda g, x_shape, nbatch, shape: np.reshape(g, x_shape + _batch_shape(g, nbatch)),
)
BROADCAST_TO = Linear(
    "broadcast_to",
    1,
    "broadcast_to({0})",
    fn=lambda x, nbatch, shape: np.broadcast_to(
        np.reshape(x, (1,) * (len(shape) - np.ndim(x) + nbatch) + np.shape(x)) if nbatch else x,
        tuple(shape) + _batch_shape(x, nbatch),
    ),
    transpose=lambda g, x_shape, nbatch, shape: sum_to_shape(g, x_shape, nbatch),
)


def _resolve_shape(shape: Any, full: tuple[int, ...], nbatch: int) -> tuple[int, ...]:
    """A reshape target with any -1 worked out against the primal's size."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    size = int(np.prod(full[: len(full) - nbatch]))
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        shape = tuple(size // known if s == -1 else s for s in shape)
    return shape


for _rule in (SUM, RESHAPE, BROADCAST_TO):
    TABLE[_rule.name] = _rule
