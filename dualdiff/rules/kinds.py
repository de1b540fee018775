"""The kinds of primitive, the table that holds them, and the one way to add to it.

Every primitive is one :class:`Rule` object in :data:`TABLE`, of one of four kinds:

* :class:`Elementwise` -- a scalar function applied elementwise (with NumPy
  broadcasting). Its derivative is a tuple of *local partials*, one function
  per argument, ``partial(m, y, *args) -> dy/darg`` written against a math
  namespace ``m`` (see :mod:`dualdiff.rules.backends`), so the same formula
  serves floats, complex numbers, mpmath at any precision, arrays and nested
  levels.
* :class:`Linear` -- an operation linear in its one differentiable argument
  (indexing, reshaping, summing, ...). Its derivative is the operation itself
  applied to the tangent; the reverse sweep uses its transpose.
* :class:`General` -- anything else (matmul, solve, det, where, ...): per
  argument, the linear map of its tangent and that map's transpose.
* :class:`Nondiff` -- a function of values whose output carries no
  derivative (comparisons, ``argmax``, ``isnan``): the modes apply it to
  primal values; a recorded program keeps it as an equation, so a decision
  taken on its output is never frozen silently.

Every piece of metadata about a primitive lives on its rule object (how a
trace prints it, its LaTeX name, its arithmetic class for the cost model,
whether it is holomorphic, its implementation per number type). Modules that
keep caches derived from the table (the NumPy ufunc map, the math namespace
of nested levels, the generated fast paths, ``dd.sin`` and friends, the cost
model's per-rule caches) subscribe with :func:`on_register`, so a rule added
at any time through :func:`register` is picked up everywhere, at the speed of
a built-in one; one that is replaced or unregistered is dropped everywhere.
:mod:`dualdiff.rules.extend` builds and checks rules for users.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar, cast

from .backends import BACKENDS, Backend

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

    ``evaluate(m, *args)`` computes the value in namespace ``m``; by default
    the namespace's function of the rule's name (``m.sin``). It may also be a
    mapping from namespace names (``"float"``, ``"complex"``, ``"mpmath"``,
    ``"numpy"``) to functions of the arguments alone: those are called
    directly, as fast as a built-in namespace function.
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
    #: LaTeX for a function call (``\\sin``), when it is not the plain name.
    latex: str | None = None
    #: The arithmetic class of one application, for the cost model: "adds"
    #: (add, sub, neg), "mults" (mul, truediv, square, reciprocal), "none"
    #: (pos) or "nlops" (every other function).
    op_class: str = "nlops"
    #: How to compute the value in a namespace: ``evaluate(m, *args)``, or a
    #: mapping ``{namespace name: fn(*args)}``.
    evaluate: Callable[..., Any] | Mapping[str, Callable[..., Any]] | None = None
    #: The arguments in which the rule is linear, for transposing a recorded
    #: linear map (a JVP rule): ``"all"`` (jointly linear: add, sub, neg),
    #: ``"each"`` (linear in any one argument while the others are constant:
    #: mul), a tuple of argument positions (truediv: ``(0,)``), or ``()``.
    linear_in: Any = ()
    #: Per-backend implementation, indexed by ``Backend.slot`` (filled by register).
    impl: list[Callable[..., Any]] = field(default_factory=list)
    #: ``impl[FLOAT.slot]``, ``partials[0]`` and ``partials[1]`` (or None), for fast paths.
    float_impl: Callable[..., Any] | None = None
    p0: Partial | None = None
    p1: Partial | None = None

    def implementation(self, m: Backend) -> Callable[..., Any]:
        """The function computing this rule's value in namespace ``m``."""
        if self.evaluate is None:
            fn = getattr(m, self.name, None)
            if fn is None:
                raise TypeError(f"{self.name} has no implementation for {m.name} values")
            return fn
        if isinstance(self.evaluate, Mapping):
            fn = self.evaluate.get(m.name)
            if fn is None:
                given = ", ".join(sorted(self.evaluate)) or "none"
                raise TypeError(f"{self.name} has no implementation for {m.name} values (it has: {given})")
            return fn
        return functools.partial(self.evaluate, m)  # a C-level wrapper: no extra Python frame per call


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
    The first ``nin`` positional arguments are differentiable (``nin = -1``:
    all of them, a variadic rule); ``params`` are static (axes, shapes, flags).
    Arguments listed in ``nondiff_args`` (a boolean mask, say) carry no
    derivative: the modes pass their primal values.

    ``joint_map(ts, nbatch, y, args, params)``, when given, is the sum of the
    linear maps in one step (``ts[i]`` is None for a constant argument);
    forward mode uses it so that, e.g., ``where`` or ``concatenate`` builds
    its output tangent in one pass instead of adding per-argument pieces.
    ``joint_transpose(g, nbatch, y, args, params, active)``, when given,
    returns the cotangents of the argument positions ``active`` (a list) in
    one call; reverse mode then uses it instead of the separate transposes.

    ``fwd(*args, *params) -> (y, residuals)``, when given, computes the value
    together with what the derivative maps need (a custom VJP's residuals).
    The modes call it instead of ``fn`` when every argument is a plain value,
    and then pass :class:`Saved` ``(y, residuals)`` to the maps in place of
    ``y``; otherwise (nested levels) the maps receive ``y`` and recompute what
    they need from ``args``.

    ``linear_in`` says where the rule is linear (see
    :attr:`Elementwise.linear_in`): ``"each"`` for products (matmul,
    tensordot, einsum), ``"all"`` for concatenate, ``(1, 2)`` for where,
    ``(1,)`` for solve. Transposing a recorded linear map reads it.
    """

    fn: Callable[..., Any] = None  # type: ignore[assignment]
    linear_maps: Any = ()
    transposes: Any = ()
    joint_map: Callable[..., Any] | None = None
    nondiff_args: tuple[int, ...] = ()
    joint_transpose: Callable[..., Any] | None = None
    fwd: Callable[..., Any] | None = None
    linear_in: Any = ()


class Saved(NamedTuple):
    """A General rule's value with the residuals its ``fwd`` kept for the derivative maps.

    >>> Saved(2.0, ("z",)).value
    2.0
    """

    value: Any
    residuals: Any


@dataclass(eq=False, repr=False)
class Nondiff(Rule):
    """A function of values alone: its output carries no derivative.

    ``fn(*args, *params)`` computes it on plain values. The modes apply it to
    primal values and return a plain result (a comparison of Duals is a plain
    boolean); a program recording keeps it as an equation whose output later
    decisions (``bool()``, a mask, an index) can be checked against.
    """

    fn: Callable[..., Any] = None  # type: ignore[assignment]
    #: The NumPy ufunc this rule stands for (comparisons, tests), if any.
    ufunc: Any = None


#: Every primitive by name.
TABLE: dict[str, Rule] = {}

#: Any kind of rule: :func:`register` returns the rule it was given, with its kind.
R = TypeVar("R", bound=Rule)

#: Called with each rule as it is registered (and, on subscribing, with every
#: rule already in the table): the hook through which derived caches stay whole.
_LISTENERS: list[Callable[[Rule], None]] = []


def register(rule: R, replace: bool = False) -> R:
    """Put ``rule`` into the table and tell every subscriber; return it.

    A name already taken raises ``ValueError`` unless ``replace=True``.

    >>> r = register(Nondiff("demo_isone", 1, "isone({0})", fn=lambda x: x == 1))
    >>> TABLE["demo_isone"] is r
    True
    >>> unregister("demo_isone")
    """
    if not isinstance(rule, Rule):
        raise TypeError(f"register needs a Rule, got {type(rule).__name__}: {rule!r:.80}")
    if not rule.name or not isinstance(rule.name, str):
        raise ValueError(f"a rule needs a non-empty name, got {rule.name!r}")
    if rule.name in TABLE and not replace:
        raise ValueError(f"a rule named {rule.name!r} exists already; pass replace=True to replace it")
    if isinstance(rule, Elementwise):
        _fill_implementations(rule)
    if rule.name in TABLE:  # replaced (or registered again): subscribers first drop what they derived
        unregister(rule.name)
    TABLE[rule.name] = rule
    for listener in _LISTENERS:
        listener(rule)
    return rule


def unregister(name: str) -> None:
    """Remove a rule from the table (its subscribers drop what they derived from it).

    >>> unregister("no_such_rule")
    Traceback (most recent call last):
    ...
    KeyError: "no rule named 'no_such_rule' is registered"
    """
    if name not in TABLE:
        raise KeyError(f"no rule named {name!r} is registered")
    rule = TABLE.pop(name)
    for listener in _LISTENERS:
        listener(rule)


def elementwise_rule(name: str) -> Elementwise:
    """The rule registered as ``name``, an elementwise one; looked up at each call, so a replacement is used.

    >>> elementwise_rule("sin").nin
    1
    """
    return cast(Elementwise, TABLE[name])


def is_registered(rule: Rule) -> bool:
    """True while ``rule`` is the table's entry under its name."""
    return TABLE.get(rule.name) is rule


def on_register(listener: Callable[[Rule], None]) -> None:
    """Subscribe ``listener`` to every rule registered from now on, and call it with every rule so far."""
    _LISTENERS.append(listener)
    for rule in list(TABLE.values()):
        listener(rule)


def _fill_implementations(rule: Elementwise) -> None:
    rule.impl = [_implementation_or_refusal(rule, b) for b in BACKENDS]
    # direct handles for the scalar fast paths of the modes
    rule.float_impl = rule.impl[0]
    rule.p0 = rule.partials[0] if rule.partials else None
    rule.p1 = rule.partials[1] if len(rule.partials) > 1 else None


def _implementation_or_refusal(rule: Elementwise, m: Backend) -> Callable[..., Any]:
    try:
        return rule.implementation(m)
    except TypeError as e:
        message = str(e)

        def refuse(*args: Any) -> Any:
            raise TypeError(message)

        return refuse
