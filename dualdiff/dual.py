"""Forward mode: dual numbers ``primal + tangent * eps`` with ``eps**2 = 0``.

The tangent has the primal's shape, or the primal's shape plus one trailing
axis of k directions (a *batch*: ``jacfwd`` pushes k columns of the identity
through f in one pass). Derivatives come from the rule table; this module
only says how forward mode combines them: ``t_out = sum_i partial_i * t_i``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backends import FLOAT, backend_for, backend_of
from .core import OPERATOR_METHODS, USER_LEVEL, Lifted, apply2, apply_general, apply_linear, register_lifted_type
from .evaluate import FLOAT_ERRORS, evaluate, local
from .rules import TABLE, Elementwise, General, Linear


class Dual(Lifted):
    """A dual number: a primal value and its tangent (directional derivative).

    >>> import dualdiff as dd
    >>> d = dd.Dual(2.0, 1.0)
    >>> d * d
    Dual(4.0, 4.0)
    >>> dd.sin(dd.Dual(0.0, 1.0))
    Dual(0.0, 1.0)

    ``float(d)`` raises TypeError (it would drop the tangent); use
    ``d.primal``. Duals built by hand share one level, below every level a
    transform such as :func:`dualdiff.jvp` creates.
    """

    __slots__ = ("tangent",)

    def __init__(self, primal: Any, tangent: Any = None) -> None:
        _check_number("primal", primal)
        if tangent is None:
            tangent = np.zeros_like(primal, dtype=np.result_type(primal, float)) if np.ndim(primal) else 0.0
        else:
            _check_number("tangent", tangent)
            ps, ts = np.shape(primal), np.shape(tangent)
            if ts != ps and ts[:-1] != ps:
                raise ValueError(
                    f"tangent shape {ts} does not fit primal shape {ps}: expected {ps} or {ps} + (k,) for k directions"
                )
        self.primal = primal
        self.tangent = tangent
        self.level = USER_LEVEL

    @classmethod
    def _new(cls, primal: Any, tangent: Any, level: int) -> Dual:
        d = cls.__new__(cls)
        d.primal = primal
        d.tangent = tangent
        d.level = level
        return d

    def __repr__(self) -> str:
        return f"Dual({self.primal!r}, {self.tangent!r})"

    @property
    def batched(self) -> bool:
        """True when the tangent carries a trailing axis of several directions."""
        return np.ndim(self.tangent) > np.ndim(self.primal)

    # -- forward-mode propagation -----------------------------------------
    # _unary and _binary are fast paths for Python-number primals: the same
    # table entries (implementation, partials) as _elementwise, minus the
    # generic bookkeeping. Anything unusual falls through to _elementwise.

    @staticmethod
    def _unary(rule: Elementwise, x: Dual) -> Dual:
        return UNARY[rule](x)  # the per-rule fast path, see unary_function

    @staticmethod
    def _binary(rule: Elementwise, a: Any, b: Any, level: int) -> Dual:
        if type(a) is Dual and a.level == level:
            pa, ta = a.primal, a.tangent
        else:
            pa, ta = a, None
        if type(b) is Dual and b.level == level:
            pb, tb = b.primal, b.tangent
        else:
            pb, tb = b, None
        if type(pa) in _PY_SCALARS and type(pb) in _PY_SCALARS:
            try:
                y = rule.float_impl(pa, pb)  # type: ignore[misc]
                signs = rule.signs
                if signs is None:
                    t = None if ta is None else rule.p0(FLOAT, y, pa, pb) * ta  # type: ignore[misc]
                    if tb is not None:
                        c = rule.p1(FLOAT, y, pa, pb) * tb  # type: ignore[misc]
                        t = c if t is None else t + c
                else:
                    t = ta
                    if tb is not None:
                        t = (tb if signs[1] > 0 else -tb) if t is None else (t + tb if signs[1] > 0 else t - tb)
            except FLOAT_ERRORS:
                return Dual._elementwise(rule, (a, b), level)
            r = _new_dual(Dual)
            r.primal = y
            r.tangent = t
            r.level = level
            return r
        return Dual._elementwise(rule, (a, b), level)

    @classmethod
    def _elementwise(cls, rule: Elementwise, args: tuple[Any, ...], level: int) -> Dual:
        primals = []
        tangents = []
        for a in args:
            if type(a) is cls and a.level == level:
                primals.append(a.primal)
                tangents.append(a.tangent)
            else:
                primals.append(a)
                tangents.append(None)
        m = backend_for(primals)
        if rule.signs is not None:
            y = evaluate(rule, m, primals)
            t = None
            for s, ti in zip(rule.signs, tangents):
                if ti is not None:
                    if t is None:
                        t = ti if s > 0 else -ti
                    else:
                        t = t + ti if s > 0 else t - ti
        else:
            y, ds = local(rule, m, primals, [ti is not None for ti in tangents])
            t = None
            for d, ti, pi in zip(ds, tangents, primals):
                if ti is not None:
                    if np.ndim(ti) > np.ndim(pi) and np.ndim(d) > 0:
                        d = np.expand_dims(d, -1)  # one partial for all k directions
                    elif type(d) is np.ndarray and _temporary(d, y, primals, ds) and _fits(d, ti):
                        d = np.multiply(d, ti, out=d)  # the partial is a temporary: reuse its memory
                        t = d if t is None else (np.add(d, t, out=d) if _fits(d, t) else t + d)
                        continue
                    c = d * ti
                    t = c if t is None else (np.add(c, t, out=c) if _fits(c, t) else t + c)
        if type(y) is np.ndarray:
            t = _fit_tangent(t, y, tangents, primals)
        return cls._new(y, t, level)

    @classmethod
    def _general(cls, rule: General, args: tuple[Any, ...], params: tuple[Any, ...], level: int) -> Dual:
        primals = [a.primal if type(a) is cls and a.level == level else a for a in args]
        y = apply_general(rule, tuple(primals), params)
        if rule.joint_map is not None:  # all tangents in one step (where, concatenate)
            ts = [a.tangent if type(a) is cls and a.level == level else None for a in args]
            own = next(i for i, t in enumerate(ts) if t is not None)
            nbatch = np.ndim(ts[own]) - np.ndim(primals[own])
            return cls._new(y, rule.joint_map(ts, nbatch, y, primals, params), level)
        t = None
        for i, a in enumerate(args):
            if type(a) is cls and a.level == level:
                nbatch = np.ndim(a.tangent) - np.ndim(a.primal)
                c = rule.linear_maps[i](a.tangent, nbatch, y, primals, params)
                t = c if t is None else t + c
        return cls._new(y, t, level)

    @classmethod
    def _linear(cls, rule: Linear, x: Any, params: tuple[Any, ...], nbatch: int) -> Dual:
        own = np.ndim(x.tangent) - np.ndim(x.primal)  # this level's directions
        primal = apply_linear(rule, x.primal, *params, nbatch=nbatch)
        return cls._new(primal, apply_linear(rule, x.tangent, *params, nbatch=nbatch + own), x.level)


_PY_SCALARS = frozenset({float, int})
_new_dual = object.__new__


#: Arrays smaller than this are never updated in place (the checks would cost more).
_IN_PLACE_MIN = 1 << 12


def _temporary(d: np.ndarray, y: Any, primals: list[Any], partials: list[Any]) -> bool:
    """A partial that is a new array of the rule's alone (not the output, an input, a view or another partial)."""
    if d.base is not None or d is y or any(d is p for p in primals):
        return False
    return sum(1 for e in partials if e is d) == 1


def _fits(dst: Any, v: Any) -> bool:
    """Can ``dst op= v`` run in place with the result NumPy's ``dst op v`` would have?"""
    if type(dst) is not np.ndarray or dst.size < _IN_PLACE_MIN or isinstance(v, Lifted):
        return False
    vs, ds = np.shape(v), dst.shape
    if len(vs) > len(ds) or any(a != 1 and a != b for a, b in zip(reversed(vs), reversed(ds))):
        return False
    return np.result_type(dst, v) == dst.dtype


def _fit_tangent(t: Any, y: Any, tangents: list[Any], primals: list[Any]) -> Any:
    """Broadcast a tangent to the output's shape (plus its direction axis)."""
    batch = ()
    for ti, pi in zip(tangents, primals):
        if ti is not None and np.ndim(ti) > np.ndim(pi):
            batch = np.shape(ti)[-1:]
    want = y.shape + batch
    if np.shape(t) != want:
        t = np.broadcast_to(t, want)
    return t


def _check_number(what: str, value: Any) -> None:
    if isinstance(value, Lifted):
        return
    if backend_of(value) is None:
        if isinstance(value, np.ndarray):
            raise TypeError(f"Dual {what} must be an array of numbers, got an array of dtype {value.dtype}")
        raise TypeError(
            f"Dual {what} must be a number (float, complex, mpmath) or an array of numbers, "
            f"got {type(value).__name__}: {value!r}"
        )
    if isinstance(value, np.ndarray) and value.dtype.kind not in "biufc":
        raise TypeError(f"Dual {what} must be an array of numbers, got an array of dtype {value.dtype}")


def _operator(rule: Elementwise, reflected: bool) -> Any:
    """``Dual.__mul__`` and friends, generated from the rule table.

    The common case (a Python-float primal with a Python-number constant)
    runs inline with the rule's implementation and partial bound as locals;
    everything else goes through the generic dispatch.
    """
    impl, p0, p1, signs = rule.float_impl, rule.p0, rule.p1, rule.signs
    dispatch = apply2

    def op(self: Dual, other: Any) -> Any:
        tp = type(other)
        p = self.primal
        if (tp is float or tp is int) and type(p) is float:
            try:
                if reflected:
                    y = impl(other, p)
                    d = signs[1] if signs else p1(FLOAT, y, other, p)
                else:
                    y = impl(p, other)
                    d = signs[0] if signs else p0(FLOAT, y, p, other)
            except FLOAT_ERRORS:
                pass  # IEEE limits or DomainError: the generic path knows them
            else:
                r = _new_dual(Dual)
                r.primal = y
                r.tangent = (self.tangent if d > 0 else -self.tangent) if signs else d * self.tangent
                r.level = self.level
                return r
        if tp is Dual and other.level == self.level:
            return (
                Dual._binary(rule, other, self, self.level)
                if reflected
                else Dual._binary(rule, self, other, self.level)
            )
        return dispatch(rule, other, self) if reflected else dispatch(rule, self, other)

    op.__name__ = f"__{'r' if reflected else ''}{rule.name}__"
    return op


for _rule, _names in OPERATOR_METHODS:
    setattr(Dual, _names[0], _operator(_rule, False))
    setattr(Dual, _names[1], _operator(_rule, True))


def unary_function(rule: Elementwise) -> Any:
    """``rule(x)`` for a Dual ``x``, generated from the table (used by ``dd.sin`` and friends).

    A Python-float primal is handled inline, with the rule's implementation
    and partial bound as closure variables (this runs once per scalar function
    call, so every attribute lookup saved counts); anything else goes through
    :meth:`Dual._elementwise`.
    """
    impl, p0, signs = rule.float_impl, rule.p0, rule.signs
    general = Dual._elementwise

    def fn(x: Dual) -> Dual:
        p = x.primal
        if type(p) is float:
            try:
                y = impl(p)
                if signs is None:
                    t = p0(FLOAT, y, p) * x.tangent
                else:  # neg, pos: the partial is the sign
                    t = x.tangent if signs[0] > 0 else -x.tangent
            except FLOAT_ERRORS:
                return general(rule, (x,), x.level)  # IEEE limits or DomainError
            r = _new_dual(Dual)
            r.primal = y
            r.tangent = t
            r.level = x.level
            return r
        return general(rule, (x,), x.level)

    return fn


#: The fast path of every unary elementwise rule for a Dual (``dd.sin`` and
#: friends call these; opcount wraps them to count one forward pass).
UNARY: dict[Elementwise, Any] = {
    rule: unary_function(rule) for rule in TABLE.values() if isinstance(rule, Elementwise) and rule.nin == 1
}

register_lifted_type(Dual)
