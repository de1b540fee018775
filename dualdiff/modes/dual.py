"""Forward mode: dual numbers ``primal + tangent * eps`` with ``eps**2 = 0``.

The tangent has the primal's shape, or the primal's shape plus one trailing
axis of k directions (a *batch*: ``jacfwd`` pushes k columns of the identity
through f in one pass); the Dual's level says which (:func:`level_nbatch`).
Derivatives come from the rule table; this module only says how forward mode
combines them: ``t_out = sum_i partial_i * t_i``, broadcast to the output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..rules.backends import backend_for, backend_of
from ..rules.elementwise import ADD, MUL, POW, SUB, TRUEDIV
from ..rules.evaluate import evaluate, local
from ..rules.kinds import Elementwise, General, Linear
from . import fastpaths
from .core import USER_LEVEL, apply_general, apply_linear, level_nbatch, register_lifted_type, strip_all
from .inplace import fits
from .lifted import Lifted

#: What forward mode does with a value and its partials on the fast path (see fastpaths).
SNIPPETS = fastpaths.ModeSnippets(
    name="Dual",
    unary=("r = new(Dual)\nr.primal = y\nr.tangent = {scale:d:x.tangent}\nr.level = x.level\nreturn r\n"),
    binary=("r = new(Dual)\nr.primal = y\nr.tangent = {sum:d0:a.tangent:d1:b.tangent}\nr.level = a.level\nreturn r\n"),
    same_level="b.level == a.level",
    namespace={},
)


class Dual(Lifted):
    """A dual number: a primal value and its tangent (directional derivative).

    >>> import dualdiff as dd
    >>> d = dd.Dual(2.0, 1.0)
    >>> d * d
    Dual(4.0, 4.0)
    >>> dd.sin(dd.Dual(0.0, 1.0))
    Dual(0.0, 1.0)

    ``float(d)`` raises TypeError (it would drop the tangent); use
    ``d.primal``. Duals built by hand share one level (two, with and without
    a batch of directions), below every level a transform such as
    :func:`dualdiff.jvp` creates.
    """

    __slots__ = ("tangent",)

    # arithmetic operators: generated from the rule table (see fastpaths)
    __add__, __radd__ = fastpaths.operator_pair(ADD, SNIPPETS)
    __sub__, __rsub__ = fastpaths.operator_pair(SUB, SNIPPETS)
    __mul__, __rmul__ = fastpaths.operator_pair(MUL, SNIPPETS)
    __truediv__, __rtruediv__ = fastpaths.operator_pair(TRUEDIV, SNIPPETS)
    __pow__, __rpow__ = fastpaths.operator_pair(POW, SNIPPETS)

    def __init__(self, primal: Any, tangent: Any = None) -> None:
        _check_number("primal", primal)
        level = USER_LEVEL
        if tangent is None:
            tangent = np.zeros_like(primal, dtype=np.result_type(primal, float)) if np.ndim(primal) else 0.0
        else:
            _check_number("tangent", tangent)
            ps, ts = np.shape(primal), np.shape(tangent)
            if ts != ps:
                if ts[:-1] != ps:
                    raise ValueError(
                        f"tangent shape {ts} does not fit primal shape {ps}: "
                        f"expected {ps} or {ps} + (k,) for k directions"
                    )
                level = USER_LEVEL + 1  # a batch of directions
        self.primal = primal
        self.tangent = tangent
        self.level = level

    @classmethod
    def _new(cls, primal: Any, tangent: Any, level: int) -> Dual:
        d = _new_dual(cls)
        d.primal = primal
        d.tangent = tangent
        d.level = level
        return d

    def __repr__(self) -> str:
        return f"Dual({self.primal!r}, {self.tangent!r})"

    @property
    def batched(self) -> bool:
        """True when the tangent carries a trailing axis of several directions."""
        return bool(level_nbatch(self.level))

    # -- forward-mode propagation -----------------------------------------
    @staticmethod
    def _unary(rule: Elementwise, x: Dual) -> Any:
        fast = fastpaths.UNARY.get(rule)
        return fast(x) if fast is not None else Dual._elementwise(rule, (x,), x.level)

    @classmethod
    def _elementwise(cls, rule: Elementwise, args: tuple[Any, ...], level: int) -> Dual:
        nbatch = level_nbatch(level)
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
            for d, ti in zip(ds, tangents):
                if ti is None:
                    continue
                if nbatch and np.ndim(d) > 0:
                    d = np.expand_dims(d, -1)  # one partial for all k directions
                elif type(d) is np.ndarray and _temporary(d, y, primals, ds) and fits(d, ti, _IN_PLACE_MIN):
                    d = np.multiply(d, ti, out=d)  # the partial is a temporary: reuse its memory
                    t = d if t is None else (np.add(d, t, out=d) if fits(d, t, _IN_PLACE_MIN) else t + d)
                    continue
                c = d * ti
                t = c if t is None else (np.add(c, t, out=c) if fits(c, t, _IN_PLACE_MIN) else t + c)
        return cls._new(y, _fit_tangent(t, y, nbatch), level)

    @classmethod
    def _general(cls, rule: General, args: tuple[Any, ...], params: tuple[Any, ...], level: int) -> Dual:
        nbatch = level_nbatch(level)
        primals = [a.primal if type(a) is cls and a.level == level else a for a in args]
        y = apply_general(rule, tuple(primals), params)
        ts = [
            a.tangent if type(a) is cls and a.level == level and i not in rule.nondiff_args else None
            for i, a in enumerate(args)
        ]
        if rule.joint_map is not None:  # all tangents in one step (where, concatenate)
            return cls._new(y, rule.joint_map(ts, nbatch, y, primals, params), level)
        t = None
        for i, ti in enumerate(ts):
            if ti is not None:
                c = rule.linear_maps[i](ti, nbatch, y, primals, params)
                t = c if t is None else t + c
        return cls._new(y, t, level)

    @classmethod
    def _linear(cls, rule: Linear, x: Any, params: tuple[Any, ...], nbatch: int) -> Dual:
        own = level_nbatch(x.level)  # this level's directions, after the outer ones
        primal = apply_linear(rule, x.primal, *params, nbatch=nbatch)
        return cls._new(primal, apply_linear(rule, x.tangent, *params, nbatch=nbatch + own), x.level)


_new_dual = object.__new__

#: Arrays smaller than this are never updated in place (the checks would cost more).
_IN_PLACE_MIN = 1 << 12


def _temporary(d: np.ndarray, y: Any, primals: list[Any], partials: list[Any]) -> bool:
    """A partial that is a new array of the rule's alone (not the output, an input, a view or another partial)."""
    if d.base is not None or d is y or any(d is p for p in primals):
        return False
    return sum(1 for e in partials if e is d) == 1


def _fit_tangent(t: Any, y: Any, nbatch: int) -> Any:
    """Broadcast a tangent to the output's shape, plus the level's direction axis.

    An operand broadcast against a larger one leaves a smaller tangent; the
    direction axis must stay last, so the tangent is broadcast explicitly
    (whatever the primal is: an array, or a lifted value of a lower level).
    """
    ys = np.shape(strip_all(y))
    ts = np.shape(strip_all(t))
    if nbatch:
        if ts[:-1] != ys:
            t = np.broadcast_to(t, ys + ts[-1:])
    elif ts != ys:
        t = np.broadcast_to(t, ys)
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


SNIPPETS.bind(Dual)
fastpaths.register_mode(SNIPPETS)
register_lifted_type(Dual)
