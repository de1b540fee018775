"""Reverse mode: a tape (Wengert list) of primitive applications.

Each operation on a :class:`Var` appends one entry to its tape: the output
slot, the input slots, and what the rule table says the backward step needs
(the local partials of an elementwise rule, or a linear rule with its
parameters, whose transpose the sweep applies). The backward sweep walks the
entries in reverse with a plain loop: no recursion, so tapes of millions of
operations work, and it frees each intermediate adjoint as soon as it is used.

Each ``vjp``/``grad`` call records on a tape of its own at a fresh level, so
nested calls and threads never share one. For the explicit, PyTorch-like use:

>>> import dualdiff as dd
>>> tape = dd.Tape()
>>> x, y = tape.var(2.0), tape.var(3.0)
>>> z = x * y + x
>>> z.backward()
>>> x.grad, y.grad
(4.0, 2.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from .backends import FLOAT, backend_for
from .core import OPERATOR_METHODS, Lifted, apply2, apply_general, apply_linear, new_level, register_lifted_type
from .evaluate import FLOAT_ERRORS, evaluate, local
from .rules import GETITEM, TABLE, Elementwise, General, Linear, Rule, getitem_add, sum_to_shape


class Op(NamedTuple):
    """One recorded primitive application (see ``Tape(record_ops=True)``).

    ``operands`` holds ``("slot", index)`` for a variable of the same tape
    and ``("const", value)`` for anything else; ``value`` is the step's output.
    """

    rule: Rule
    out: int
    operands: tuple[tuple[str, Any], ...]
    params: tuple[Any, ...]
    value: Any = None


class ReleasedTapeError(RuntimeError):
    """A tape was used after its backward sweep released it.

    >>> tape = Tape()
    >>> x = tape.var(2.0)
    >>> (x * x).backward()
    >>> try:
    ...     x * x
    ... except ReleasedTapeError as e:
    ...     print(str(e)[:36])
    this tape was released after its bac
    """


class Tape:
    """A Wengert list for one reverse-mode level.

    >>> tape = Tape()
    >>> x = tape.var(3.0)
    >>> y = x * x + 1.0
    >>> len(tape), tape.sweep([(y.index, 1.0)])[x.index]
    (2, 6.0)

    Scalar elementwise entries are flat: ``(out, i, c)`` for one active
    input with partial ``c``, ``(out, i, c, j, d)`` for two. Otherwise
    ``entries[k] = (out, ins, coefs, extra)``: for an elementwise rule,
    ``coefs`` are the local partials (or +1/-1) for the active inputs ``ins``
    and ``extra`` the input shapes when arrays may need un-broadcasting; for a
    linear rule ``coefs`` is None and ``extra = (transposed rule, number of
    direction axes, its parameters)``; for a general rule ``coefs`` is
    ``GENERAL`` and ``extra = (rule, active argument positions, output,
    primals, params)``.
    """

    __slots__ = ("__weakref__", "entries", "leaf_grads", "leaves", "level", "ops", "size")

    def __init__(self, record_ops: bool = False) -> None:
        self.level = new_level()
        self.entries: list[tuple[Any, ...]] | None = []
        self.size = 0
        self.leaves: dict[int, Var] = {}
        self.leaf_grads: dict[int, Any] = {}
        #: With ``record_ops``, one :class:`Op` per entry: which rule, applied
        #: to which slots and constants. Traces and cost counts read it.
        self.ops: list[Op] | None = [] if record_ops else None

    def _log(self, rule: Rule, out: Var, args: tuple[Any, ...], params: tuple[Any, ...] = ()) -> None:
        operands = tuple(("slot", a.index) if type(a) is Var and a.tape is self else ("const", a) for a in args)
        self.ops.append(Op(rule, out.index, operands, params, out.primal))  # type: ignore[union-attr]

    def __repr__(self) -> str:
        state = "released" if self.entries is None else f"{len(self.entries)} entries"
        return f"<Tape level {self.level}: {self.size} variables, {state}>"

    def __len__(self) -> int:
        return 0 if self.entries is None else len(self.entries)

    def var(self, value: Any) -> Var:
        """A new input variable on this tape; it gets ``.grad`` after ``backward``.

        >>> tape = Tape()
        >>> tape.var(1.5).primal
        1.5
        """
        v = self._new_var(value)
        self.leaves[v.index] = v
        return v

    def _new_var(self, value: Any) -> Var:
        self._check_live()
        v = Var.__new__(Var)
        v.primal = value
        v.level = self.level
        v.tape = self
        v.index = self.size
        self.size += 1
        return v

    def _check_live(self) -> None:
        if self.entries is None:
            raise ReleasedTapeError(
                "this tape was released after its backward sweep; record again, or pass "
                "retain_graph=True to backward()/the pullback to sweep a tape more than once"
            )

    def release(self) -> None:
        """Free the entries; any further use of the tape raises ReleasedTapeError."""
        self.entries = None

    def sweep(
        self,
        seeds: Iterable[tuple[int, Any]],
        nbatch: int = 0,
        retain_graph: bool = False,
        keep_intermediates: bool = False,
    ) -> list[Any]:
        """Run the backward sweep from ``(slot, cotangent)`` seeds; return the adjoints by slot.

        Adjoints are None for slots the seeds do not reach. To save memory an
        intermediate's adjoint is dropped once it has been passed on, so only
        the leaves' remain, unless ``keep_intermediates`` (evaluation traces
        want every one). ``nbatch`` = 1 when every cotangent carries a
        trailing axis of several directions.
        """
        self._check_live()
        entries = self.entries
        assert entries is not None
        adj: list[Any] = [None] * self.size
        owned: set[int] = set()  # slots whose adjoint is a large array only this sweep holds
        for slot, g in seeds:
            adj[slot] = g if adj[slot] is None else adj[slot] + g
        for e in reversed(entries):
            out = e[0]
            g = adj[out]
            if g is None:
                continue
            if not keep_intermediates:
                adj[out] = None  # every use of `out` lies later on the tape: it is complete
            n = len(e)
            if n == 3:  # scalar, one active input: (out, i, c)
                i, c = e[1], e[2]
                v = g if c is ONE else (-g if c is MINUS_ONE else c * g)
                a = adj[i]
                adj[i] = v if a is None else a + v
                continue
            if n == 5:  # scalar, two active inputs: (out, i, c, j, d)
                i, c, j, d = e[1], e[2], e[3], e[4]
                v = g if c is ONE else (-g if c is MINUS_ONE else c * g)
                a = adj[i]
                adj[i] = v if a is None else a + v
                v = g if d is ONE else (-g if d is MINUS_ONE else d * g)
                a = adj[j]
                adj[j] = v if a is None else a + v
                continue
            _array_step(e, g, out in owned, adj, owned, nbatch)  # arrays, linear and general rules
        if not retain_graph:
            self.release()
        return adj

    def backward(self, output: Var, y_bar: Any = None, retain_graph: bool = False) -> None:
        """Sweep from ``output`` and store the adjoints of leaves in their ``.grad``."""
        if y_bar is None:
            if np.ndim(output.primal) != 0:
                raise ValueError(
                    f"backward() without y_bar needs a scalar output, got shape {np.shape(output.primal)}; "
                    "pass y_bar shaped like the output"
                )
            y_bar = 1.0
        adj = self.sweep([(output.index, y_bar)], retain_graph=retain_graph)
        for slot, leaf in self.leaves.items():
            g = adj[slot]
            self.leaf_grads[slot] = _zeros_like_primal(leaf.primal) if g is None else g


def _array_step(e: tuple[Any, ...], g: Any, g_owned: bool, adj: list[Any], owned: set[int], nbatch: int) -> None:
    """One backward step of an array, linear or general entry, given its output adjoint ``g``.

    Large adjoint arrays that only this sweep holds (the ``owned`` slots:
    results of its own products and sums, never a seed, a coefficient or a
    view) are updated in place, and indexing scatters straight into the
    adjoint it feeds; so a sweep allocates few large arrays, not one per step.
    """
    _, ins, coefs, extra = e
    if coefs is GENERAL:  # a general rule: its transposes, one per active argument
        rule, active, y, primals, params = extra
        for i, pos in zip(ins, active):
            _accumulate(adj, owned, i, rule.transposes[pos](g, nbatch, y, primals, params), False)
        return
    if coefs is None:  # a linear rule: apply its transpose
        transposed, own, params = extra
        i = ins[0]
        if transposed is _GETITEM_T and i in owned and _fits(adj[i], g, scatter=True):
            getitem_add(adj[i], g, len(params[0]), params[1])  # scatter into the adjoint in place
            return
        v = apply_linear(transposed, g, *params, nbatch=own + nbatch)
        _accumulate(adj, owned, i, v, transposed is _GETITEM_T and type(v) is np.ndarray)
        return
    last = len(ins) - 1
    for j in range(len(ins)):
        c = coefs[j]
        mine = g_owned and j == last  # the last use of g may take it over
        if c is ONE or c is MINUS_ONE:  # add, sub, neg: no multiplication
            v = g if extra is None else sum_to_shape(g, extra[j], nbatch)
            if v is g and not mine:
                g_owned = False  # g is now also another slot's adjoint: never write into it
            _accumulate(adj, owned, ins[j], v, mine or (v is not g and type(v) is np.ndarray), c is MINUS_ONE)
            continue
        if extra is None:
            v = c * g
        else:
            ce = _expand(c, nbatch)
            v = np.multiply(g, ce, out=g) if mine and _fits(g, ce) else ce * g
            v = sum_to_shape(v, extra[j], nbatch)
        _accumulate(adj, owned, ins[j], v, type(v) is np.ndarray)  # a product is a new array


#: Arrays smaller than this are never updated in place (the checks would cost more).
_IN_PLACE_MIN = 1 << 14


def _fits(dst: Any, v: Any, scatter: bool = False) -> bool:
    """Can ``dst op= v`` (or a scatter of v into dst) run in place, with NumPy's result type?"""
    if type(dst) is not np.ndarray or dst.size < _IN_PLACE_MIN or isinstance(v, Lifted) or not dst.flags.writeable:
        return False
    if not scatter:
        vs, ds = np.shape(v), dst.shape
        if len(vs) > len(ds) or any(a != 1 and a != b for a, b in zip(reversed(vs), reversed(ds))):
            return False
    return np.result_type(dst, v) == dst.dtype


def _accumulate(adj: list[Any], owned: set[int], i: int, v: Any, fresh: bool, negate: bool = False) -> None:
    """``adj[i] += v`` (or ``-= v``), in place when the sweep owns an array it can reuse."""
    a = adj[i]
    if a is None:
        if negate:
            v = np.negative(v, out=v) if fresh and _fits(v, v) else -v
            fresh = type(v) is np.ndarray
        adj[i] = v
    elif i in owned and _fits(a, v):
        (np.subtract if negate else np.add)(a, v, out=a)
        return
    elif fresh and _fits(v, a):
        adj[i] = (np.subtract if negate else np.add)(a, v, out=v)
    else:
        v = a - v if negate else a + v
        fresh = type(v) is np.ndarray
        adj[i] = v
    if fresh:
        owned.add(i)
    else:
        owned.discard(i)


def _expand(c: Any, nbatch: int) -> Any:
    return np.expand_dims(c, -1) if nbatch and np.ndim(c) > 0 else c


def _zeros_like_primal(p: Any) -> Any:
    return np.zeros(np.shape(p)) if np.ndim(p) else 0.0


class Var(Lifted):
    """A value recorded on a :class:`Tape` (a reverse-mode lifted value).

    >>> tape = Tape()
    >>> x = tape.var(3.0)
    >>> (x * x).backward()
    >>> x.grad
    6.0
    """

    __slots__ = ("index", "tape")

    tape: Tape
    index: int

    def __repr__(self) -> str:
        return f"Var({self.primal!r}, slot {self.index})"

    @property
    def grad(self) -> Any:
        """The adjoint stored by the last ``backward()`` (leaf variables only, as in PyTorch)."""
        if self.index not in self.tape.leaves:
            raise AttributeError("only variables made with tape.var() get .grad; use dd.vjp for intermediate adjoints")
        if self.index not in self.tape.leaf_grads:
            raise AttributeError("no backward() has run on this tape yet")
        return self.tape.leaf_grads[self.index]

    def backward(self, y_bar: Any = None, retain_graph: bool = False) -> None:
        """Sweep this variable's tape backwards from here (see :meth:`Tape.backward`)."""
        self.tape.backward(self, y_bar, retain_graph)

    @staticmethod
    def _unary(rule: Elementwise, x: Var) -> Var:
        return UNARY[rule](x)  # the per-rule fast path, see unary_function

    @staticmethod
    def _binary(rule: Elementwise, a: Any, b: Any, level: int) -> Var:
        a_on = type(a) is Var and a.level == level
        b_on = type(b) is Var and b.level == level
        pa = a.primal if a_on else a
        pb = b.primal if b_on else b
        if type(pa) in _PY_SCALARS and type(pb) in _PY_SCALARS:
            try:
                y = rule.float_impl(pa, pb)  # type: ignore[misc]
                signs = rule.signs
                if a_on and b_on:
                    ins: tuple[int, ...] = (a.index, b.index)
                    coefs: tuple[Any, ...] = signs or (rule.p0(FLOAT, y, pa, pb), rule.p1(FLOAT, y, pa, pb))  # type: ignore[misc]
                elif a_on:
                    ins, coefs = (a.index,), (signs[0] if signs else rule.p0(FLOAT, y, pa, pb),)  # type: ignore[misc]
                else:
                    ins, coefs = (b.index,), (signs[1] if signs else rule.p1(FLOAT, y, pa, pb),)  # type: ignore[misc]
            except FLOAT_ERRORS:
                return Var._elementwise(rule, (a, b), level)
            return _record((a if a_on else b).tape, y, ins, coefs, rule, (a, b))
        return Var._elementwise(rule, (a, b), level)

    @classmethod
    def _elementwise(cls, rule: Elementwise, args: tuple[Any, ...], level: int) -> Var:
        tape = None
        primals = []
        active = []
        ins = []
        for a in args:
            if type(a) is cls and a.level == level:
                tape = a.tape
                primals.append(a.primal)
                active.append(True)
                ins.append(a.index)
            else:
                primals.append(a)
                active.append(False)
        assert tape is not None
        m = backend_for(primals)
        if rule.signs is not None:
            y = evaluate(rule, m, primals)
            coefs: list[Any] = [s for s, a in zip(rule.signs, active) if a]
        else:
            y, ds = local(rule, m, primals, active)
            coefs = [d for d in ds if d is not None]
        out = tape._new_var(y)
        extra = None
        if type(y) is np.ndarray or (isinstance(y, Lifted) and np.ndim(y)):
            extra = tuple(np.shape(p) for p, a in zip(primals, active) if a)
        tape.entries.append((out.index, tuple(ins), coefs, extra))  # type: ignore[union-attr]
        if tape.ops is not None:
            tape._log(rule, out, args)
        return out

    @classmethod
    def _linear(cls, rule: Linear, x: Any, params: tuple[Any, ...], nbatch: int) -> Var:
        tape = x.tape
        out = tape._new_var(apply_linear(rule, x.primal, *params, nbatch=nbatch))
        # the transpose's parameters: input shape (without the directions), then the rule's own
        x_shape = np.shape(x.primal)[: np.ndim(x.primal) - nbatch]
        tape.entries.append((out.index, (x.index,), None, (rule.T, nbatch, (x_shape, *params))))
        if tape.ops is not None:
            tape._log(rule, out, (x,), params)
        return out

    @classmethod
    def _general(cls, rule: General, args: tuple[Any, ...], params: tuple[Any, ...], level: int) -> Var:
        tape = next(a.tape for a in args if type(a) is cls and a.level == level)
        primals = tuple(a.primal if type(a) is cls and a.level == level else a for a in args)
        y = apply_general(rule, primals, params)
        out = tape._new_var(y)
        active = tuple(i for i, a in enumerate(args) if type(a) is cls and a.level == level)
        ins = tuple(args[i].index for i in active)
        tape.entries.append((out.index, ins, GENERAL, (rule, active, y, primals, params)))  # type: ignore[union-attr]
        if tape.ops is not None:
            tape._log(rule, out, args, params)
        return out


_PY_SCALARS = frozenset({float, int})
_new_var = object.__new__
_GETITEM_T = GETITEM.T
#: Marks a tape entry of a General rule (in the ``coefs`` position).
GENERAL = ("general",)
#: The +1/-1 partials of add, sub, neg and pos, as the table states them;
#: the sweep tests identity with these to add or subtract instead of multiply.
ONE, MINUS_ONE = 1, -1


def _record(tape: Tape, y: Any, ins: tuple[int, ...], coefs: tuple[Any, ...], rule: Rule, args: tuple[Any, ...]) -> Var:
    """Append a scalar elementwise entry and return its output variable."""
    entries = tape.entries
    if entries is None:
        tape._check_live()
    r = _new_var(Var)
    r.primal = y
    r.level = tape.level
    r.tape = tape
    r.index = index = tape.size
    tape.size = index + 1
    if len(ins) == 1:
        entries.append((index, ins[0], coefs[0]))  # type: ignore[union-attr]
    else:
        entries.append((index, ins[0], coefs[0], ins[1], coefs[1]))  # type: ignore[union-attr]
    if tape.ops is not None:
        tape._log(rule, r, args)
    return r


def _operator(rule: Elementwise, reflected: bool) -> Any:
    """``Var.__mul__`` and friends, generated from the rule table (see dual._operator).

    It mirrors ``dual._operator`` on purpose: sharing the scalar step through
    a helper would cost a call frame per operation, a quarter of its time.
    Both read the implementation and partials from the rule, never a formula.
    """
    impl, p0, p1, signs = rule.float_impl, rule.p0, rule.p1, rule.signs
    dispatch = apply2

    def op(self: Var, other: Any) -> Any:
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
                tape = self.tape
                entries = tape.entries
                if entries is None or tape.ops is not None:
                    return _record(tape, y, (self.index,), (d,), rule, (other, self) if reflected else (self, other))
                r = _new_var(Var)  # _record, inlined: this runs for every scalar operator
                r.primal = y
                r.level = self.level
                r.tape = tape
                r.index = index = tape.size
                tape.size = index + 1
                entries.append((index, self.index, d))
                return r
        if tp is Var and other.level == self.level:
            return (
                Var._binary(rule, other, self, self.level) if reflected else Var._binary(rule, self, other, self.level)
            )
        return dispatch(rule, other, self) if reflected else dispatch(rule, self, other)

    op.__name__ = f"__{'r' if reflected else ''}{rule.name}__"
    return op


for _rule, _names in OPERATOR_METHODS:
    setattr(Var, _names[0], _operator(_rule, False))
    setattr(Var, _names[1], _operator(_rule, True))


def unary_function(rule: Elementwise) -> Any:
    """``rule(x)`` for a Var ``x``, generated from the table (see ``dual.unary_function``)."""
    impl, p0, signs = rule.float_impl, rule.p0, rule.signs
    general = Var._elementwise

    def fn(x: Var) -> Var:
        p = x.primal
        if type(p) is float:
            try:
                y = impl(p)
                d = p0(FLOAT, y, p) if signs is None else signs[0]
            except FLOAT_ERRORS:
                return general(rule, (x,), x.level)  # IEEE limits or DomainError
            tape = x.tape
            entries = tape.entries
            if entries is None or tape.ops is not None:
                return _record(tape, y, (x.index,), (d,), rule, (x,))
            r = _new_var(Var)  # _record, inlined
            r.primal = y
            r.level = x.level
            r.tape = tape
            r.index = index = tape.size
            tape.size = index + 1
            entries.append((index, x.index, d))
            return r
        return general(rule, (x,), x.level)

    return fn


#: The fast path of every unary elementwise rule for a Var (``dd.sin`` and
#: friends call these; opcount wraps them to count one forward pass).
UNARY: dict[Elementwise, Any] = {
    rule: unary_function(rule) for rule in TABLE.values() if isinstance(rule, Elementwise) and rule.nin == 1
}

register_lifted_type(Var)
