"""Custom derivatives for Python functions (``custom_jvp``, ``custom_vjp``) and ``stop_gradient``.

With JAX's semantics: the function's body runs on plain values and is never
differentiated; the user's rule gives the derivative.

* ``@dd.custom_jvp`` with ``f.defjvp(rule)``, ``rule(primals, tangents) ->
  (primal_out, tangent_out)``: forward mode calls the rule; reverse mode
  records the rule's tangent computation as a linear program
  (:mod:`dualdiff.program.linear`) and transposes it equation by equation with
  the rules' transposes, so a JVP rule written with NumPy/dualdiff operations
  gives the VJP too. One that is not linear in the tangents, or not written
  with those operations, raises :class:`~dualdiff.errors.NotLinearError`
  naming the step: give the function a VJP with ``custom_vjp`` then.
* ``@dd.custom_vjp`` with ``f.defvjp(fwd, bwd)``, ``fwd(*args) -> (out,
  residuals)`` and ``bwd(residuals, out_bar) -> args_bar`` (a tuple, one
  entry per argument): reverse mode calls ``fwd`` while recording and ``bwd``
  in the sweep. Forward mode works too (unlike JAX): the Jacobian is built row
  by row from ``bwd``, one call per output element.

Each custom function is ONE rule (a :class:`~dualdiff.rules.kinds.General`
rule made for it, ``f.rule``), so it is one equation of a recorded program:
traces show it by name, the cost model counts it (as estimated, unless
``dualdiff.cost.register_general_cost(f.rule, cost)`` gives it a cost) and
compiled code calls it. It dispatches on levels like every rule, so nested
derivatives (a Hessian through a custom function: the rule is differentiated
in turn) and perturbation confusion behave as for built-in rules.

>>> import numpy as np, dualdiff as dd
>>> @dd.custom_jvp
... def safe_norm(x):
...     return np.sqrt(np.sum(x * x))
>>> @safe_norm.defjvp
... def _(primals, tangents):
...     (x,), (t,) = primals, tangents
...     y = safe_norm(x)
...     return y, np.sum(x * t) / np.where(y == 0, 1.0, y)
>>> dd.grad(safe_norm)(np.zeros(2)), dd.grad(safe_norm)(np.array([3.0, 4.0]))
(array([0., 0.]), array([0.6, 0.8]))
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import numpy as np

from ..errors import NotLinearError
from ..modes.core import LiftedBase, apply_general, strip_all
from ..modes.functions import FUNCTIONS
from ..modes.tree import leaves, map_tree, rebuild
from ..program.linear import record_linear, transpose_linear
from ..rules.arrays import PerArgument
from ..rules.backends import backend_of
from ..rules.kinds import General, Saved

__all__ = ["custom_jvp", "custom_vjp", "stop_gradient"]


def stop_gradient(x: Any) -> Any:
    """``x`` itself, with derivative zero at every level (JAX's ``stop_gradient``).

    ``x`` is a number, an array, a lifted value or a tuple of these. A trace
    shows the step as ``stop_gradient(v_k)`` with tangent 0.

    >>> import dualdiff as dd
    >>> dd.derivative(lambda x: x * dd.stop_gradient(x))(3.0)
    3.0
    """
    if isinstance(x, (tuple, list)):
        return map_tree(_STOP, x)
    return _STOP(x)


_STOP = FUNCTIONS["stop_gradient"]


# ==========================================================================
# one call's structure: what the rule's parameters hold
# ==========================================================================


class _Call:
    """The static structure of one call of a custom function: the rule's one parameter.

    Holds the tree of the differentiable arguments (their leaves are the
    rule's arguments), the static (``nondiff_argnums``) arguments, and the
    output's structure, filled in when the body runs. Not shown in traces.
    """

    shown = False
    __slots__ = ("in_tree", "n_args", "out_dtype", "out_shapes", "out_tree", "static")

    def __init__(self, in_tree: tuple[Any, ...], n_args: int, static: dict[int, Any]) -> None:
        self.in_tree = in_tree
        self.n_args = n_args
        self.static = static
        self.out_tree: Any = None
        self.out_shapes: list[tuple[int, ...]] = []
        self.out_dtype: Any = None

    def __repr__(self) -> str:
        return f"<call: {len(leaves(self.in_tree))} leaves>"

    def dynamic(self, xs: Sequence[Any]) -> tuple[Any, ...]:
        """The differentiable arguments rebuilt from their leaves."""
        return tuple(rebuild(self.in_tree, list(xs)))

    def arguments(self, xs: Sequence[Any]) -> tuple[Any, ...]:
        """All positional arguments: the differentiable ones from ``xs``, the static ones in place."""
        dyn = iter(self.dynamic(xs))
        return tuple(self.static[i] if i in self.static else next(dyn) for i in range(self.n_args))

    def static_args(self) -> tuple[Any, ...]:
        return tuple(self.static[i] for i in sorted(self.static))

    @property
    def single(self) -> bool:
        return not isinstance(self.out_tree, (tuple, list))

    def pack(self, out_leaves: list[Any]) -> Any:
        """One value for the rule's output: the leaf itself, or all leaves raveled into one vector."""
        if self.single:
            return out_leaves[0]
        return np.concatenate([np.reshape(v, (-1,)) for v in out_leaves])

    def unpack(self, y: Any) -> Any:
        """The output tree from the rule's one value (plain, lifted, or with trailing direction axes)."""
        if self.single:
            return y
        parts, offset = [], 0
        batch = np.shape(strip_all(y))[1:]
        for shape in self.out_shapes:
            size = int(np.prod(shape, dtype=int))
            piece = y[offset : offset + size]
            parts.append(np.reshape(piece, shape + batch) if shape + batch != (size,) + batch else piece)
            offset += size
        return rebuild(self.out_tree, parts)

    def note_output(self, out: Any, who: str) -> list[Any]:
        """Check the body's output, remember its structure, and return its leaves."""
        out_leaves = leaves(out)
        for v in out_leaves:
            if isinstance(v, LiftedBase):
                raise TypeError(
                    f"{who} returned a {type(v).__name__} although it was called on plain values: its body "
                    "uses a value that is being differentiated without taking it as an argument (a closure); "
                    "pass that value as an argument instead"
                )
            if isinstance(v, bool) or backend_of(v) is None:
                raise TypeError(f"{who} must return numbers or arrays (or tuples of them), got {type(v).__name__}")
        self.out_tree = rebuild(out, [None] * len(out_leaves)) if isinstance(out, (tuple, list)) else None
        self.out_shapes = [tuple(np.shape(v)) for v in out_leaves]
        if not self.single and any(isinstance(v, (mpmath.mpf, mpmath.mpc)) for v in out_leaves):
            raise TypeError(
                f"{who} returned several mpmath numbers; a custom function with several outputs "
                "returns floats or NumPy arrays"
            )
        return out_leaves


def _zero_tangent(primal: Any) -> Any:
    """A zero tangent for an argument with this primal (plain, whatever the levels above)."""
    p = strip_all(primal)
    if isinstance(p, mpmath.mpc):
        return mpmath.mpc(0)
    if isinstance(p, mpmath.mpf):
        return mpmath.mpf(0)
    if np.ndim(p):
        return np.zeros(np.shape(p), dtype=complex if np.iscomplexobj(p) else np.result_type(p, np.float32))
    return 0j if isinstance(p, (complex, np.complexfloating)) else 0.0


def _direction(t: Any, j: int) -> Any:
    """Direction ``j`` of a tangent with one trailing direction axis."""
    return t[(slice(None),) * (np.ndim(t) - 1) + (j,)]


def _batch_size(ts: Sequence[Any]) -> int:
    return next(np.shape(t)[-1] for t in ts if t is not None)


# ==========================================================================
# the common part: a Python function made into one rule
# ==========================================================================


class _Custom:
    """A Python function with a derivative rule of its own; called like the function."""

    kind = "custom"

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = ()) -> None:
        if not callable(fun):
            raise TypeError(f"{self.kind} needs a callable, got {type(fun).__name__}: {fun!r:.80}")
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(sorted(int(i) for i in nondiff_argnums))
        try:
            self._signature: inspect.Signature | None = inspect.signature(fun)
        except (TypeError, ValueError):
            self._signature = None
        name = getattr(fun, "__name__", "custom")
        name = name if isinstance(name, str) and name.isidentifier() else "custom"
        self.name = name
        #: The rule this function is, in every mode, program and trace.
        self.rule = General(
            name,
            -1,
            name + "({0}, ...)",
            fn=self._evaluate,
            linear_maps=PerArgument(self._one_map),
            transposes=PerArgument(self._one_transpose),
            joint_map=self._joint_map,
            joint_transpose=self._joint_transpose,
        )

    def __repr__(self) -> str:
        return f"<dualdiff.{self.kind} function {self.name}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:  # methods: bind like a function
        return self if obj is None else functools.partial(self, obj)

    def _positional(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        if not kwargs:
            return args
        if self._signature is None:
            raise TypeError(f"{self.name}: pass its arguments by position")
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        if bound.kwargs:
            raise TypeError(f"{self.name}: keyword-only arguments {sorted(bound.kwargs)} are not supported")
        return tuple(bound.args)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        args = self._positional(args, kwargs)
        static = {i: args[i] for i in self.nondiff_argnums if i < len(args)}
        dyn = tuple(a for i, a in enumerate(args) if i not in static)
        xs = leaves(dyn)
        if not any(isinstance(v, LiftedBase) for v in xs):
            return self.fun(*args)  # nothing to differentiate: the body, on plain values
        for i, v in static.items():
            if any(isinstance(u, LiftedBase) for u in leaves(v)):
                raise TypeError(
                    f"{self.name}: argument {i} is in nondiff_argnums but carries a derivative "
                    f"({type(leaves(v)[0]).__name__}); a static argument must be a plain value"
                )
        for k, v in enumerate(xs):
            if not isinstance(v, LiftedBase) and (isinstance(v, (bool, str)) or backend_of(v) is None):
                raise TypeError(
                    f"{self.name}: an argument holds {type(v).__name__} {v!r:.40} (leaf {k}); a differentiable "
                    f"argument holds numbers or arrays: list the argument in nondiff_argnums"
                )
        call = _Call(rebuild(dyn, [None] * len(xs)), len(args), static)
        return call.unpack(apply_general(self.rule, tuple(xs), (call,)))

    # -- the rule ------------------------------------------------------------
    def _evaluate(self, *xs: Any) -> Any:
        """The rule's ``fn``: the body on plain leaves, its output packed into one value."""
        *leaf_values, call = xs
        out = self.fun(*call.arguments(leaf_values))
        return call.pack(call.note_output(out, f"{self.kind} function {self.name}"))

    def _one_map(self, i: int, t: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
        return self._joint_map([t if j == i else None for j in range(len(args))], nbatch, y, args, params)

    def _one_transpose(self, i: int, g: Any, nbatch: int, y: Any, args: Any, params: Any) -> Any:
        return self._joint_transpose(g, nbatch, y, args, params, (i,))[0]

    def _joint_map(self, ts: list[Any], nbatch: int, y: Any, args: Any, params: Any) -> Any:
        raise NotImplementedError

    def _joint_transpose(self, g: Any, nbatch: int, y: Any, args: Any, params: Any, active: Any) -> list[Any]:
        raise NotImplementedError


# ==========================================================================
# custom_jvp
# ==========================================================================


class custom_jvp(_Custom):
    """A function whose forward-mode derivative is given by a rule (``f.defjvp(rule)``), as in JAX.

    ``rule(primals, tangents)`` receives the positional arguments and their
    tangents (tuples; a tangent is zero for an argument that is constant) and
    returns ``(primal_out, tangent_out)``, the tangent shaped like ``f``'s
    output. The body runs on plain values only; a rule written with NumPy
    and dualdiff operations is differentiated in turn for higher derivatives,
    and transposed for reverse mode. ``nondiff_argnums`` lists static
    arguments (passed first to the rule, as in JAX).

    >>> import numpy as np, dualdiff as dd
    >>> @dd.custom_jvp
    ... def log1pexp(x):
    ...     return np.log1p(np.exp(x))
    >>> @log1pexp.defjvp
    ... def _(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return log1pexp(x), t * dd.sigmoid(x)  # not exp(x) / (1 + exp(x)): nan for large x
    >>> dd.derivative(log1pexp)(0.0), dd.grad(log1pexp)(0.0)
    (0.5, np.float64(0.5))
    """

    kind = "custom_jvp"

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = ()) -> None:
        super().__init__(fun, nondiff_argnums)
        self.jvp_rule: Callable[..., Any] | None = None

    def defjvp(self, jvp: Callable[..., Any]) -> Callable[..., Any]:
        """Set the JVP rule ``jvp(primals, tangents) -> (primal_out, tangent_out)``; return it."""
        if not callable(jvp):
            raise TypeError(f"defjvp needs a callable rule, got {type(jvp).__name__}: {jvp!r:.80}")
        self.jvp_rule = jvp
        return jvp

    def _rule(self) -> Callable[..., Any]:
        if self.jvp_rule is None:
            raise TypeError(
                f"custom_jvp function {self.name} has no JVP rule: define one with {self.name}.defjvp(rule) "
                "before differentiating it"
            )
        return self.jvp_rule

    def _tangent(self, args: Sequence[Any], ts: Sequence[Any], call: _Call) -> Any:
        """The rule's tangent for leaf tangents ``ts`` (every one given), packed like the output."""
        rule = self._rule()
        primals = call.dynamic(args)
        tangents = call.dynamic(ts)
        result = rule(*call.static_args(), primals, tangents)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise TypeError(
                f"the JVP rule of {self.name} must return a pair (primal_out, tangent_out), got {type(result).__name__}"
            )
        t_out = result[1]
        if call.single:
            if isinstance(t_out, (tuple, list)):
                raise TypeError(f"the JVP rule of {self.name} returned a tuple of tangents for a single output")
            t_leaves = [t_out]
        else:
            t_leaves = leaves(t_out)
            if not isinstance(t_out, (tuple, list)) or len(t_leaves) != len(call.out_shapes):
                raise TypeError(
                    f"the JVP rule of {self.name} returned a tangent of another structure than the output "
                    f"({len(call.out_shapes)} leaves)"
                )
        fitted = []
        for k, (t, shape) in enumerate(zip(t_leaves, call.out_shapes)):
            ts_shape = np.shape(strip_all(t))
            if ts_shape != shape:
                try:
                    np.broadcast_shapes(ts_shape, shape)
                except ValueError:
                    raise ValueError(
                        f"the JVP rule of {self.name} returned a tangent of shape {ts_shape} for an output of "
                        f"shape {shape}" + (f" (output {k})" if len(t_leaves) > 1 else "")
                    ) from None
                t = np.broadcast_to(t, shape)
            fitted.append(t)
        return call.pack(fitted)

    def _joint_map(self, ts: list[Any], nbatch: int, y: Any, args: Any, params: Any) -> Any:
        call = params[0]
        zeros = [_zero_tangent(a) for a in args]
        if not nbatch:
            return self._tangent(args, [z if t is None else t for t, z in zip(ts, zeros)], call)
        # a batch of directions: the rule is written for one tangent, so one call per direction
        outs = [
            self._tangent(args, [z if t is None else _direction(t, j) for t, z in zip(ts, zeros)], call)
            for j in range(_batch_size(ts))
        ]
        return np.stack(outs, axis=-1)

    def _joint_transpose(self, g: Any, nbatch: int, y: Any, args: Any, params: Any, active: Any) -> list[Any]:
        call = params[0]
        zeros = [_zero_tangent(a) for a in args]

        def tangent_of_active(ts: list[Any]) -> Any:
            full = list(zeros)
            for i, t in zip(active, ts):
                full[i] = t
            return self._tangent(args, full, call)

        try:
            prog = record_linear(tangent_of_active, [zeros[i] for i in active])
        except NotLinearError as e:
            raise NotLinearError(
                f"reverse mode through custom_jvp function {self.name} transposes its JVP rule, but {e}. "
                f"Give {self.name} a VJP instead: dd.custom_vjp with {self.name}.defvjp(fwd, bwd)"
            ) from e
        return transpose_linear(prog, [g], nbatch)


# ==========================================================================
# custom_vjp
# ==========================================================================


class custom_vjp(_Custom):
    """A function whose reverse-mode derivative is given by ``f.defvjp(fwd, bwd)``, as in JAX.

    ``fwd(*args) -> (out, residuals)`` runs instead of the body when reverse
    mode records; ``bwd(residuals, out_bar) -> args_bar`` returns a tuple with
    one cotangent per (non-static) positional argument, shaped like it
    (``None`` for zero). Forward mode builds the Jacobian from ``bwd``, one
    call per output element. For second derivatives, ``fwd`` and ``bwd`` are
    differentiated in turn, so they must be written with NumPy/dualdiff
    operations (``fwd`` may call the custom function itself).

    >>> import numpy as np, dualdiff as dd
    >>> @dd.custom_vjp
    ... def cube(x):
    ...     return x ** 3
    >>> cube.defvjp(lambda x: (x ** 3, x), lambda x, g: (3 * x * x * g,))
    >>> dd.grad(cube)(2.0), dd.derivative(cube)(2.0)
    (12.0, 12.0)
    """

    kind = "custom_vjp"

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = ()) -> None:
        super().__init__(fun, nondiff_argnums)
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        self.rule.fwd = self._fwd_rule

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> None:
        """Set ``fwd(*args) -> (out, residuals)`` and ``bwd(residuals, out_bar) -> args_bar``."""
        for what, fn in (("fwd", fwd), ("bwd", bwd)):
            if not callable(fn):
                raise TypeError(f"defvjp needs a callable {what}, got {type(fn).__name__}: {fn!r:.80}")
        self.fwd, self.bwd = fwd, bwd

    def _check_defined(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        if self.fwd is None or self.bwd is None:
            raise TypeError(
                f"custom_vjp function {self.name} has no VJP: define one with {self.name}.defvjp(fwd, bwd) "
                "before differentiating it"
            )
        return self.fwd, self.bwd

    def _call_fwd(self, xs: Sequence[Any], call: _Call) -> tuple[Any, Any]:
        fwd, _ = self._check_defined()
        result = fwd(*call.arguments(xs))
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise TypeError(
                f"fwd of custom_vjp function {self.name} must return a pair (out, residuals), "
                f"got {type(result).__name__}"
            )
        return result[0], result[1]

    def _fwd_rule(self, *xs: Any) -> tuple[Any, Any]:
        """The rule's ``fwd`` (plain arguments): the packed output and the residuals."""
        *leaf_values, call = xs
        out, residuals = self._call_fwd(leaf_values, call)
        return call.pack(call.note_output(out, f"fwd of custom_vjp function {self.name}")), residuals

    def _residuals(self, y: Any, args: Any, call: _Call) -> Any:
        if isinstance(y, Saved):
            return y.residuals
        # nested levels: the residuals must carry the lower levels' derivatives, so fwd runs on them
        try:
            return self._call_fwd(args, call)[1]
        except Exception as e:  # a black box meeting lifted values (C code may turn the TypeError into others)
            kinds = sorted({type(a).__name__ for a in args if isinstance(a, LiftedBase)})
            raise TypeError(
                f"a derivative of order 2 or more through custom_vjp function {self.name} differentiates its "
                f"fwd, which was called on {', '.join(kinds)} values and failed: {e}. Write fwd with "
                "NumPy/dualdiff operations (it may call the custom function itself) for higher derivatives"
            ) from e

    def _cotangents(self, residuals: Any, g: Any, args: Any, call: _Call) -> list[Any]:
        """bwd for one output cotangent: one cotangent per leaf of the differentiable arguments."""
        _, bwd = self._check_defined()
        result = bwd(*call.static_args(), residuals, call.unpack(g))
        dyn = call.dynamic(args)
        if not isinstance(result, (tuple, list)) or len(result) != len(dyn):
            got = f"a {type(result).__name__}" if not isinstance(result, (tuple, list)) else f"{len(result)} entries"
            raise TypeError(
                f"bwd of custom_vjp function {self.name} must return a tuple with one cotangent per "
                f"differentiable argument ({len(dyn)}), got {got}"
            )
        out: list[Any] = []
        for k, (ct, arg) in enumerate(zip(result, dyn)):
            arg_leaves = leaves(arg)
            if ct is None:
                out.extend(_zero_tangent(a) for a in arg_leaves)
                continue
            ct_leaves = leaves(ct)
            if len(ct_leaves) != len(arg_leaves):
                raise TypeError(f"bwd of {self.name}: the cotangent of argument {k} is not structured like it")
            for c, a in zip(ct_leaves, arg_leaves):
                if c is None:
                    out.append(_zero_tangent(a))
                    continue
                if np.shape(strip_all(c)) != np.shape(strip_all(a)):
                    raise ValueError(
                        f"bwd of {self.name} returned a cotangent of shape {np.shape(strip_all(c))} for argument "
                        f"{k} of shape {np.shape(strip_all(a))}"
                    )
                out.append(c)
        return out

    def _joint_transpose(self, g: Any, nbatch: int, y: Any, args: Any, params: Any, active: Any) -> list[Any]:
        call = params[0]
        residuals = self._residuals(y, args, call)
        if not nbatch:
            cts = self._cotangents(residuals, g, args, call)
            return [cts[i] for i in active]
        per_direction = [self._cotangents(residuals, _direction(g, j), args, call) for j in range(np.shape(g)[-1])]
        return [np.stack([cts[i] for cts in per_direction], axis=-1) for i in active]

    def _joint_map(self, ts: list[Any], nbatch: int, y: Any, args: Any, params: Any) -> Any:
        # forward mode from bwd: row k of the Jacobian is bwd of the k-th unit cotangent
        call = params[0]
        residuals = self._residuals(y, args, call)
        value = strip_all(y.value if isinstance(y, Saved) else y)
        shape = np.shape(value)
        size = int(np.prod(shape, dtype=int))
        dtype = np.result_type(value, np.float32) if not isinstance(value, (mpmath.mpf, mpmath.mpc)) else None
        rows = []
        for k in range(size):
            if shape:
                e: Any = np.zeros(size, dtype=dtype)
                e[k] = 1
                e = e.reshape(shape)
            else:
                e = value * 0 + 1 if dtype is None else dtype.type(1).item()
            total: Any = 0
            for c, t, a in zip(self._cotangents(residuals, e, args, call), ts, args):
                if t is None:
                    continue
                core = np.ndim(strip_all(a))
                total = total + (np.tensordot(c, t, axes=core) if core or nbatch else c * t)
            rows.append(total)
        if not shape:
            return rows[0]
        return np.reshape(np.stack(rows), shape + (np.shape(strip_all(rows[0]))[-1:] if nbatch else ()))
