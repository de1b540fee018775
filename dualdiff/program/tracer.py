"""Recording a program: tracers that run f once and write down every primitive it applies.

A :class:`Tracer` is a lifted value like a Dual: it holds the value at the
recording point (so ``f`` runs normally) and the slot it occupies in the
program. Each rule applied to tracers appends an :class:`Equation`; each
decision taken on one (``bool``, ``int``, an index) appends a :class:`Guard`
with the line of ``f`` that took it. ``float()`` refuses, as for every
lifted value: it would freeze a traced value into a constant.
"""

from __future__ import annotations

import inspect
import linecache
import os
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

import numpy as np

from ..modes.core import apply, apply_general, apply_linear, apply_nondiff, new_level, register_lifted_type
from ..modes.lifted import Lifted
from ..modes.tree import check_input, leaves, output_leaves, rebuild
from ..rules.kinds import Elementwise, General, Linear, Nondiff, Rule
from .program import ArrayOutput, Atom, Const, Equation, Guard, Program, aval_of

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Recorder:
    """The program under construction for one recording (one level)."""

    def __init__(self) -> None:
        self.level = new_level()
        self.n_inputs = 0
        self.equations: list[Equation] = []
        self.guards: list[Guard] = []
        self.n_slots = 0
        self.done = False

    def input(self, value: Any) -> Tracer:
        """A tracer for the next input leaf."""
        t = self._tracer(value, self.n_slots)
        self.n_slots += 1
        self.n_inputs += 1
        return t

    def _tracer(self, value: Any, slot: int) -> Tracer:
        t = _new(Tracer)
        t.primal = value
        t.level = self.level
        t.recorder = self
        t.slot = slot
        return t

    def atom(self, a: Any) -> Atom:
        """A tracer of this recording as its slot; anything else as a constant."""
        if type(a) is Tracer and a.recorder is self:
            return a.slot
        return Const(a)

    def emit(self, rule: Rule, args: Sequence[Any], params: tuple[Any, ...], y: Any, nbatch: int = 0) -> Tracer:
        """Append ``v = rule(args; params)`` with value ``y``; return the tracer of ``v``."""
        if self.done:
            raise RuntimeError(
                f"a tracer of a finished recording was used again (in {rule.name}); "
                "values from dd.wengert's run of f cannot leave it"
            )
        slot = self.n_slots
        self.n_slots += 1
        aval = aval_of(y)
        self.equations.append(
            Equation(rule, tuple(self.atom(a) for a in args), params, slot, aval.shape, aval.dtype, nbatch)
        )
        return self._tracer(y, slot)

    def guard(self, kind: str, t: Tracer, outcome: Any) -> Any:
        """Record a decision on ``t`` and return its outcome."""
        self.guards.append(Guard(kind, t.slot, outcome, _user_source()))
        return outcome

    def concrete(self, params: Any) -> Any:
        """``params`` with this recording's tracers replaced by their values, each guarded.

        An index computed from x (``x[np.argmax(x)]``) is a parameter of
        getitem; the program keeps the value it had and checks it at every
        evaluation.
        """
        if type(params) is Tracer and params.recorder is self:
            value = params.primal
            outcome = tuple(np.asarray(v) for v in value) if isinstance(value, tuple) else value
            self.guard("index", params, outcome)
            return value
        if isinstance(params, tuple):
            return tuple(self.concrete(p) for p in params)
        if isinstance(params, list):
            return [self.concrete(p) for p in params]
        return params


def _user_source() -> str:
    """``file:line: text`` of the innermost frame outside dualdiff: the line of f that decided."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR + os.sep):
        frame = frame.f_back
    if frame is None:
        return "<dualdiff>"
    filename, line = frame.f_code.co_filename, frame.f_lineno
    text = linecache.getline(filename, line).strip()
    return f"{os.path.basename(filename)}:{line}" + (f": {text}" if text else "")


class Tracer(Lifted):
    """A value recorded into a program (see :func:`wengert`): its value at the point, and its slot.

    >>> import dualdiff as dd
    >>> prog = dd.wengert(lambda x: x * x, 3.0)
    >>> prog.equations[0].rule.name
    'mul'
    """

    __slots__ = ("recorder", "slot")

    recorder: Recorder
    slot: int

    def __repr__(self) -> str:
        return f"Tracer({self.primal!r}, slot {self.slot})"

    def _refuse(self, kind: str) -> Any:
        raise TypeError(
            f"{kind}() of a traced value would freeze it into a constant of the program (and drop its "
            f"derivative); use array operations instead (got {self!r})"
        )

    def __bool__(self) -> bool:
        return bool(self.recorder.guard("bool", self, bool(self.primal)))

    def __int__(self) -> int:
        return int(self.recorder.guard("int", self, int(_plain(self.primal))))

    def __index__(self) -> int:
        return self.__int__()

    def _decision(self) -> Any:
        """The value, guarded: a decision a handler takes on it is checked again at every new point."""
        return self.recorder.concrete(self)

    @classmethod
    def _elementwise(cls, rule: Elementwise, args: tuple[Any, ...], level: int) -> Tracer:
        rec = _recorder(args, level)
        y = apply(rule, *(_primal_at(a, level) for a in args))
        return rec.emit(rule, args, (), y)

    @classmethod
    def _linear(cls, rule: Linear, x: Any, params: tuple[Any, ...], nbatch: int) -> Tracer:
        rec = x.recorder
        params = rec.concrete(params)
        y = apply_linear(rule, x.primal, *params, nbatch=nbatch)
        return rec.emit(rule, (x,), params, y, nbatch)

    @classmethod
    def _general(cls, rule: General, args: tuple[Any, ...], params: tuple[Any, ...], level: int) -> Tracer:
        rec = _recorder(args, level)
        params = rec.concrete(params)
        y = apply_general(rule, tuple(_primal_at(a, level) for a in args), params)
        return rec.emit(rule, args, params, y)

    @classmethod
    def _nondiff(cls, rule: Nondiff, args: tuple[Any, ...], params: tuple[Any, ...], level: int) -> Tracer:
        rec = _recorder(args, level)
        params = rec.concrete(params)
        y = apply_nondiff(rule, tuple(_primal_at(a, level) for a in args), params)
        return rec.emit(rule, args, params, y)


_new = object.__new__


def _recorder(args: Sequence[Any], level: int) -> Recorder:
    return next(a.recorder for a in args if type(a) is Tracer and a.level == level)


def _primal_at(a: Any, level: int) -> Any:
    return a.primal if type(a) is Tracer and a.level == level else a


def _plain(v: Any) -> Any:
    while isinstance(v, Lifted):
        v = v.primal
    return v


register_lifted_type(Tracer)


# -- recording ---------------------------------------------------------------


def positional_parameters(f: Callable[..., Any]) -> tuple[list[str], int, bool] | None:
    """f's positional parameter names, how many are required, and whether it takes ``*args``."""
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        return None
    names, required, star = [], 0, False
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
            if p.default is p.empty:
                required += 1
        elif p.kind == p.VAR_POSITIONAL:
            star = True
    return names, required, star


def _numbered(base: str, subtree: Any) -> list[str]:
    k = len(leaves(subtree))
    return [base] if not isinstance(subtree, (tuple, list)) else [f"{base}{i + 1}" for i in range(k)]


def input_names(f: Callable[..., Any], x: Any, names: Sequence[str] | None, unpack: bool) -> list[str]:
    """One name per leaf of x: ``names`` if given, else from f's parameters (``x1, x2`` for a tuple)."""
    xl = leaves(x)
    if names is None:
        sig = positional_parameters(f)
        if unpack:
            assert sig is not None
            pnames = sig[0] + [f"x{i + 1}" for i in range(len(sig[0]), len(x))]
            return [n for p, item in zip(pnames, x) for n in _numbered(p, item)]
        base = sig[0][0] if sig is not None and sig[0] else "x"
        return _numbered(base, x)
    if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"names must be a sequence of non-empty strings, got {names!r}")
    names = list(names)
    if len(names) != len(xl):
        raise ValueError(f"names gives {len(names)} name(s) for {len(xl)} input(s) (leaves of x): {names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"input names must be distinct, got {names!r}")
    return names


def function_name(f: Any) -> str:
    """f's name for titles, or ``f`` for a lambda."""
    name = getattr(f, "__name__", "f")
    return name if isinstance(name, str) and name.isidentifier() else "f"


def record(
    f: Callable[..., Any], x: Any, names: Sequence[str] | None = None, unpack: bool = False, checked: bool = False
) -> tuple[Program, Any]:
    """Run ``f`` once on tracers at ``x``: the program, and f's output (holding tracers).

    ``unpack``: call ``f(*x)`` instead of ``f(x)``. ``checked``: x was already
    validated by the caller.
    """
    if not callable(f):
        raise TypeError(f"wengert needs a callable f, got {type(f).__name__}: {f!r:.80}")
    if not checked:
        x = check_input("x", x)
    names = input_names(f, x, names, unpack)
    rec = Recorder()
    xl = leaves(x)
    tracers = [rec.input(v) for v in xl]
    xs = rebuild(x, tracers)
    out = f(*xs) if unpack else f(xs)
    outputs: list[Atom | ArrayOutput] = []
    for o in output_leaves(out):
        if isinstance(o, np.ndarray) and o.dtype == object:
            outputs.append(ArrayOutput(o.shape, tuple(_output_atom(rec, e) for e in o.ravel())))
        else:
            outputs.append(_output_atom(rec, o))
    rec.done = True
    out_tree = rebuild(out, [None] * len(outputs)) if isinstance(out, (tuple, list)) else None
    prog = Program(
        function_name(f),
        tuple(names),
        None if not isinstance(x, (tuple, list)) else rebuild(x, [None] * len(xl)),
        tuple(aval_of(v) for v in xl),
        rec.equations,
        out_tree,
        tuple(outputs),
        rec.guards,
        tuple(xl),
    )
    return prog, out


def _output_atom(rec: Recorder, o: Any) -> Atom:
    if isinstance(o, Lifted) and not (type(o) is Tracer and o.recorder is rec):
        raise ValueError(
            f"f returned a {type(o).__name__} of another derivative level; record functions of plain numbers "
            "and arrays (a transform inside f must return plain values)"
        )
    return rec.atom(o)


def wengert(f: Callable[[Any], Any], x: Any, names: Sequence[str] | None = None) -> Program:
    """Record the Wengert list of ``f`` at ``x`` as a :class:`~dualdiff.program.program.Program`.

    ``f`` is called as ``f(x)``, as every transform calls it; ``x`` is a
    number, an array or a tuple of these. ``names`` names the input leaves
    (default: f's parameter name, numbered for a tuple).

    >>> import dualdiff as dd
    >>> prog = dd.wengert(lambda x: dd.sin(x[0]) * x[1], (1.0, 2.0))
    >>> [eq.rule.name for eq in prog.equations], prog((0.0, 3.0))
    (['sin', 'mul'], 0.0)
    """
    return record(f, x, names)[0]
