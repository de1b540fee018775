"""Compiled derivatives: ``dd.compile(f)`` runs tangent and adjoint code generated from f's program.

``cf = dd.compile(f)`` traces nothing yet. The first call for an input of
a given structure, shapes, dtypes and number types records f's program
(:func:`dualdiff.wengert`) and generates, once, the Python source of the
function asked for (:mod:`dualdiff.program.codegen`): the tangent code for
``cf.jvp``, the adjoint code for ``cf.grad`` and ``cf.vjp``, batched
versions for ``cf.jacobian``. Later calls with inputs of the same kind run
that code directly: no dual numbers, no tape, no dispatch.

>>> import numpy as np, dualdiff as dd
>>> cf = dd.compile(lambda x: np.log(x[0]) + x[0] * x[1] - np.sin(x[1]))
>>> cf.grad((2.0, 5.0))
(5.5, 1.7163378145367738)
>>> print(cf.source("grad").splitlines()[-4])
    v_m1_bar = v_0 * v_2_bar                        # v_2 = v_m1 * v_0

**Branches.** Every decision f takes on its input while being traced
(``if x > 0``, ``int(x)``, an index computed from x) is a guard of the
program, checked by the generated code where its value is computed. When a
call would take the other branch, ``cf`` traces f again at that point and
caches the new version beside the first (a bounded LRU cache,
``cache_size`` versions in all): a compiled function never returns the
value of a branch f would not take. ``cf.cache_info()`` shows the versions.

**The same answers as eager mode.** The generated code performs the
operations of eager mode in the same order, so it returns the same numbers.
Where eager mode would raise, or return an IEEE limit (a domain error,
``1 / 0.0``, an infinite partial), the generated code gives up and the call
is answered by eager mode on the program, so errors and limits are exactly
eager mode's (counted as ``fallbacks``). A function that cannot be traced
(it calls ``float()`` on its input, or a function with no rule) raises
eager mode's error.

**Composition.** Inputs that are lifted values of an outer derivative
(``dd.jacfwd(cf.grad)(x)``, a Hessian) are answered by the eager transforms
applied to the cached program, which evaluates on lifted values like any
function.

Constants f uses (weights, data) are captured when f is traced, as
``jax.jit`` captures them: rebinding a global array later does not change a
compiled version (mutating it in place does).
"""

from __future__ import annotations

import functools
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple, TypeAlias

import mpmath
import numpy as np

from ..errors import GuardError
from ..modes.core import LiftedBase
from ..modes.tape import real_cotangent
from ..modes.tree import check_input, check_like, leaves, rebuild
from ..program.codegen import Analysis, Fallback, Generated, GuardFailed, generate
from ..program.program import ArrayOutput, Program
from ..program.tracer import record
from .common import Function, basis_chunks, check_chunk, check_f, default_chunk, seed_dtype, zeros
from .forward import jacfwd as eager_jacfwd
from .forward import jvp as eager_jvp
from .reverse import grad as eager_grad
from .reverse import jacrev as eager_jacrev
from .reverse import vjp as eager_vjp

__all__ = ["CacheInfo", "Compiled", "CompiledPullback", "compile"]

#: From how many directions a forward Jacobian keeps diagonal tangents as diagonals: a matrix
#: times n diagonal columns is then a scaling of m x n numbers where the product costs m n² flops;
#: below this, BLAS does the small product faster than NumPy scales (10 x 1000: 35 against 51 µs).
DIAGONAL_MIN_DIRECTIONS = 64

#: Versions a compiled function keeps by default (all input kinds and branch outcomes together).
DEFAULT_CACHE_SIZE = 16
_KINDS = ("value", "jvp", "grad", "vjp")
#: What :meth:`Compiled.source` and :meth:`Compiled.generated` write.
Kind: TypeAlias = Literal["value", "jvp", "grad", "vjp"]
#: Tests set this to make every fallback to eager mode raise instead (so that none goes unnoticed).
RAISE_ON_FALLBACK = False


class CacheInfo(NamedTuple):
    """What a compiled function holds and how its calls went.

    ``hits``: calls answered by cached code; ``traces``: recordings of f (the
    first call for a kind of input, and each ``retrace``, when a guard went the
    other way); ``fallbacks``: calls answered by eager mode where the generated
    code gave up (an error, an IEEE limit); ``lifted``: calls with lifted
    inputs (an outer derivative), answered by the eager transforms on the
    cached program; ``entries``: one line per cached version, most recent first.
    """

    hits: int
    traces: int
    retraces: int
    fallbacks: int
    lifted: int
    currsize: int
    maxsize: int
    entries: tuple[str, ...]

    def __str__(self) -> str:
        head = (
            f"compiled cache: {self.currsize}/{self.maxsize} versions, {self.hits} hits, {self.traces} traces "
            f"({self.retraces} for a guard that went the other way), {self.fallbacks} eager fallbacks, "
            f"{self.lifted} calls with lifted inputs"
        )
        return "\n".join([head, *("  " + e for e in self.entries)])


def _treedef(x: Any) -> Any:
    if isinstance(x, tuple):
        return ("t", tuple(_treedef(e) for e in x))
    if isinstance(x, list):
        return ("l", tuple(_treedef(e) for e in x))
    return None


def _leaf_key(v: Any) -> Any:
    tp = type(v)
    if tp is float or tp is complex:
        return tp
    if tp is np.ndarray:
        return (tp, v.shape, v.dtype)
    if isinstance(v, np.generic):
        return (tp, v.dtype)
    if isinstance(v, (mpmath.mpf, mpmath.mpc)):
        return (tp, mpmath.mp.prec)
    return (tp, np.shape(v))


def _describe_leaf(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"{v.dtype.name}[{','.join(map(str, v.shape))}]"
    if isinstance(v, np.generic):
        return v.dtype.name
    if isinstance(v, (mpmath.mpf, mpmath.mpc)):
        return f"{type(v).__name__} ({mpmath.mp.dps} digits)"
    return type(v).__name__


def _dtype(v: Any) -> Any:
    if type(v) is np.ndarray or isinstance(v, np.generic):
        return v.dtype
    if type(v) in (float, int, complex):
        return type(v)
    return None


def _lifted(values: Sequence[Any]) -> bool:
    return any(isinstance(v, LiftedBase) or (isinstance(v, np.ndarray) and v.dtype == object) for v in values)


def _strip(v: Any) -> Any:
    while isinstance(v, LiftedBase):
        v = v.primal
    return v


class Entry:
    """One cached version: a program (one branch outcome) and the functions generated from it."""

    def __init__(self, key: Any, program: Program, trace_seconds: float) -> None:
        self.key = key
        self.program = program
        self.trace_seconds = trace_seconds
        self.codegen_seconds = 0.0
        self.calls = 0
        self._analysis: Analysis | None = None
        self.generated: dict[tuple[Any, ...], Generated] = {}
        self.last: Generated | None = None
        #: f returns one value (not a tuple, not an array built of separate values): no tree to build.
        self.grad_function: Generated | None = None
        #: Whether the generated code needs NumPy's error state (see :meth:`errstate`); set with the analysis.
        self.domain = False
        self.single = (
            program.out_tree is None and len(program.outputs) == 1 and not isinstance(program.outputs[0], ArrayOutput)
        )

    @property
    def analysis(self) -> Analysis:
        if self._analysis is None:
            start = time.perf_counter()
            self._analysis = Analysis(self.program)
            self.domain = self._analysis.numpy_domain
            self.codegen_seconds += time.perf_counter() - start
        return self._analysis

    def errstate(self) -> Any:
        """NumPy's error state for running the generated code.

        Where NumPy computes a rule that has a real domain (log, sqrt, ...),
        invalid operations raise, so that eager mode answers (a DomainError, or
        the nan it gives): the domain policy. Other code runs in the caller's
        error state.
        """
        if self.analysis.numpy_domain:
            return np.errstate(invalid="raise", divide="ignore", over="ignore", under="ignore")
        return _NO_ERRSTATE

    def function(
        self,
        kind: str,
        batched: bool = False,
        dtypes: tuple[Any, ...] | None = None,
        seed: Any = 1.0,
        diagonal: bool = False,
    ) -> Generated:
        key = (kind, batched, dtypes, type(seed), diagonal)
        g = self.generated.get(key)
        if g is None:
            start = time.perf_counter()
            an = self.analysis
            if kind == "jvp":
                g = generate(an, kind, batched, tangent_dtypes=dtypes, diagonal=diagonal)
            elif kind == "vjp":
                g = generate(an, kind, batched, cotangent_dtypes=dtypes)
            else:
                g = generate(an, kind, batched, seed=seed)
            self.codegen_seconds += time.perf_counter() - start
            self.generated[key] = g
        self.last = g
        return g

    def describe(self) -> str:
        prog = self.program
        ins = ", ".join(f"{name}: {_describe_leaf(v)}" for name, v in zip(prog.names, prog.point))
        guards = "; ".join(f"`{g.source.split(': ', 1)[-1]}` {g.outcome!r}" for g in prog.guards)
        kinds = sorted({f"{k[0]}{' batched' if k[1] else ''}" for k in self.generated})
        return (
            f"({ins}): {len(prog.equations)} equations"
            + (f", guards [{guards}]" if guards else "")
            + (f", code for {', '.join(kinds)}" if kinds else "")
            + f", {self.calls} calls"
        )


class Compiled:
    """A function with compiled derivatives; made by :func:`compile` (``dd.compile``).

    >>> import dualdiff as dd
    >>> cf = dd.compile(lambda x: x * dd.sin(x))
    >>> cf.jvp(1.0, 1.0) == dd.jvp(lambda x: x * dd.sin(x), 1.0, 1.0)
    True
    """

    def __init__(self, f: Function, cache_size: int = DEFAULT_CACHE_SIZE, names: Sequence[str] | None = None) -> None:
        check_f(f, "compile")
        if not isinstance(cache_size, int) or isinstance(cache_size, bool) or cache_size < 1:
            raise ValueError(f"cache_size must be a positive int, got {cache_size!r}")
        self.f = f
        self.maxsize = cache_size
        self.names = tuple(names) if names is not None else None
        self._entries: OrderedDict[int, Entry] = OrderedDict()
        self._by_key: dict[Any, list[Entry]] = {}
        #: The version and generated function that answered the last call of each kind and key: tried first.
        self._fast: dict[tuple[Any, ...], tuple[Entry, Callable[..., Any]]] = {}
        self.hits = self.traces = self.retraces = self.fallbacks = self.lifted = 0
        functools.update_wrapper(self, f, updated=())

    def __repr__(self) -> str:
        return f"<dualdiff.compile of {getattr(self.f, '__name__', 'f')}: {len(self._entries)} cached version(s)>"

    @property
    def compile_seconds(self) -> float:
        """Seconds spent so far recording f and writing and compiling code, over the cached versions."""
        return sum(e.trace_seconds + e.codegen_seconds for e in self._entries.values())

    # -- the cache -------------------------------------------------------------------
    def cache_info(self) -> CacheInfo:
        """How many versions are cached, and how the calls went (see :class:`CacheInfo`).

        >>> import dualdiff as dd
        >>> cf = dd.compile(lambda x: x * x if x > 0 else -x)
        >>> _ = cf.grad(2.0), cf.grad(-2.0), cf.grad(3.0)
        >>> info = cf.cache_info()
        >>> info.currsize, info.traces, info.retraces, info.hits
        (2, 2, 1, 1)
        """
        entries = tuple(e.describe() for e in reversed(self._entries.values()))
        return CacheInfo(
            self.hits,
            self.traces,
            self.retraces,
            self.fallbacks,
            self.lifted,
            len(self._entries),
            self.maxsize,
            entries,
        )

    def cache_clear(self) -> None:
        """Forget every cached version (and the counts)."""
        self._entries.clear()
        self._by_key.clear()
        self._fast.clear()
        self.hits = self.traces = self.retraces = self.fallbacks = self.lifted = 0

    def _key(self, x: Any, xl: list[Any]) -> Any:
        if x is xl[0] and len(xl) == 1:
            return _leaf_key(x)
        return (_treedef(x), tuple(_leaf_key(v) for v in xl))

    def _candidates(self, key: Any) -> list[Entry]:
        return self._by_key.get(key, [])

    def _trace(self, key: Any, x: Any, eager: Callable[[], Any], retrace: bool) -> Entry | tuple[str, Any]:
        """Record f at ``x`` and cache the version; or, if f cannot be traced, eager mode's answer (or error)."""
        start = time.perf_counter()
        try:
            prog, _ = record(self.f, x, self.names, checked=True)
        except GuardError:
            raise
        except Exception:
            # eager mode raises its own error for the same cause (float() of its input, a function with no rule)
            result = eager()
            self.fallbacks += 1
            return ("eager", result)
        entry = Entry(key, prog, time.perf_counter() - start)
        self.traces += 1
        self.retraces += int(retrace)
        if entry.analysis.refusal is not None:
            self.fallbacks += 1
            return ("eager", eager())
        self._entries[id(entry)] = entry
        self._by_key.setdefault(key, []).insert(0, entry)
        while len(self._entries) > self.maxsize:
            _, old = self._entries.popitem(last=False)
            self._fast = {k: v for k, v in self._fast.items() if v[0] is not old}
            self._by_key[old.key].remove(old)
            if not self._by_key[old.key]:
                del self._by_key[old.key]
        return entry

    def _hit(self, entry: Entry) -> None:
        self.hits += 1
        entry.calls += 1
        self._entries.move_to_end(id(entry))
        group = self._by_key[entry.key]
        if group[0] is not entry:
            group.remove(entry)
            group.insert(0, entry)

    def _run(
        self,
        x: Any,
        xl: list[Any],
        call: Callable[[Entry], Any],
        eager_on: Callable[[Any], Any],
    ) -> Any:
        """Run ``call(entry)`` on a cached version whose guards hold at ``x``, tracing one if none does.

        ``eager_on(fn)`` answers the call in eager mode on ``fn`` (the program
        or f): used where the generated code gives up.
        """
        key = self._key(x, xl)
        tried = False
        for entry in list(self._candidates(key)):
            tried = True
            try:
                result = call(entry)
            except GuardFailed:
                continue
            except Exception:
                return self._fallback(entry, eager_on)
            self._hit(entry)
            return result
        traced = self._trace(key, x, lambda: eager_on(self.f), retrace=tried)
        if isinstance(traced, tuple):
            return traced[1]
        try:
            result = call(traced)
        except Exception:  # GuardFailed cannot happen at the point traced; the rest is eager mode's to answer
            return self._fallback(traced, eager_on)
        traced.calls += 1
        return result

    def _fallback(self, entry: Entry, eager_on: Callable[[Any], Any]) -> Any:
        """Eager mode on the program (so errors and IEEE limits are exactly eager mode's)."""
        if RAISE_ON_FALLBACK:
            raise
        self.fallbacks += 1
        try:
            return eager_on(entry.program)
        except GuardError:  # cannot happen when the program's guards hold; f then decides
            return eager_on(self.f)

    def _entry_at(self, x: Any, xl: list[Any]) -> Entry | None:
        """The cached version whose guards hold at plain ``xl`` (traced if none does); None if f cannot be traced."""
        found: list[Entry] = []

        def call(entry: Entry) -> Any:
            gen = entry.function("value")
            with _errstate(entry):
                gen.run(*xl)
            found.append(entry)

        def eager(fn: Any) -> Any:
            if isinstance(fn, Program) and not found:
                found.extend(e for e in self._entries.values() if e.program is fn)

        self._run(x, xl, call, eager)
        return found[0] if found else None

    # -- calls ---------------------------------------------------------------------------
    def __call__(self, x: Any) -> Any:
        """``f(x)``, computed by the generated code of f's program."""
        x = check_input("x", x)
        xl = leaves(x)
        if _lifted(xl):
            return self._generic(x, xl)(x)

        def call(entry: Entry) -> Any:
            g = entry.function("value")
            with _errstate(entry):
                outs = g.run(*xl)
            return _outputs(entry.program, outs)

        return self._run(x, xl, call, lambda fn: fn(x))

    def _generic(self, x: Any, xl: list[Any]) -> Function:
        """The program valid at the primal values of lifted inputs, for the eager transforms to run on (else f)."""
        plain = [_strip(v) for v in xl]
        self.lifted += 1
        entry = self._entry_at(rebuild(x, plain), plain)
        return entry.program if entry is not None else self.f

    def jvp(self, x: Any, v: Any) -> tuple[Any, Any]:
        """``(f(x), J(x) v)`` by the generated tangent code (as :func:`dualdiff.jvp`).

        >>> import dualdiff as dd
        >>> dd.compile(lambda x: x[0] * x[1]).jvp((2.0, 3.0), (1.0, 0.0))
        (6.0, 3.0)
        """
        xl: list[Any] | None
        vl: list[Any] | None
        tag: tuple[Any, ...]
        tx, tv = type(x), type(v)
        if tx is float and tv is float:  # the common cases first: no tree, no checks to make
            xl, vl, tag = [x], [v], _FLOAT_JVP
        elif (
            tx is np.ndarray
            and tv is np.ndarray
            and x.shape == v.shape
            and x.dtype.kind in "fc"
            and v.dtype.kind in "fc"
        ):
            xl, vl, tag = [x], [v], ("jvp", (tx, x.shape, x.dtype), (v.dtype,))
        else:
            xl, vl = _fast_leaves(x), _fast_leaves(v)
            if xl is None or vl is None or not _same_shapes(xl, vl) or _treedef(x) != _treedef(v):
                x = check_input("x", x)
                v = check_input("v", v)
                check_like("v", v, "x", x)
                xl, vl = leaves(x), leaves(v)
                if _lifted(xl) or _lifted(vl):
                    return eager_jvp(self._generic(x, xl), x, v)
            tag = ("jvp", self._key(x, xl), tuple(_dtype(t) for t in vl))
        dtypes = tag[2]
        eager = lambda fn: eager_jvp(fn, x, v)
        fast = self._fast.get(tag)
        if fast is not None:
            entry, fn = fast
            try:
                if entry.domain:
                    with entry.errstate():
                        outs, touts = fn(*xl, *vl)
                else:
                    outs, touts = fn(*xl, *vl)
            except GuardFailed:
                pass
            except Exception:
                return self._fallback(entry, eager)
            else:
                self.hits += 1
                entry.calls += 1
                self._entries.move_to_end(id(entry))
                if entry.single:
                    t = touts[0]
                    if t is None or (type(t) is np.ndarray and not t.flags.writeable):
                        t = _tangent(outs[0], t, ())
                    return outs[0], t
                return _outputs(entry.program, outs), _tangents(entry.program, outs, touts, ())

        def call(entry: Entry) -> Any:
            g = entry.function("jvp", False, dtypes)
            with entry.errstate():
                outs, touts = g.run(*xl, *vl)
            self._fast[tag] = (entry, g.run)
            if entry.single:
                return outs[0], _tangent(outs[0], touts[0], ())
            return _outputs(entry.program, outs), _tangents(entry.program, outs, touts, ())

        return self._run(x, xl, call, eager)

    def value_and_grad(self, x: Any) -> tuple[Any, Any]:
        """``(f(x), ∇f(x))`` for scalar-valued f, by the generated adjoint code."""
        xl: list[Any] | None
        tag: tuple[Any, ...]
        tx = type(x)
        if tx is float:
            xl, tag = [x], _FLOAT_GRAD
        elif tx is np.ndarray and x.dtype.kind in "fc":
            xl, tag = [x], ("grad", (tx, x.shape, x.dtype))
        else:
            xl = _fast_leaves(x)
            if xl is None:
                x = check_input("x", x)
                xl = leaves(x)
                if _lifted(xl):
                    prog = self._generic(x, xl)
                    return prog(x), eager_grad(prog)(x)
            tag = ("grad", self._key(x, xl))

        def eager(fn: Any) -> Any:
            y, pullback = eager_vjp(fn, x)
            if isinstance(y, (tuple, list)) or np.ndim(y) != 0:
                _not_scalar(y)
            return y, pullback(seed_dtype(y).type(1) if isinstance(y, np.generic) else 1.0)

        fast = self._fast.get(tag)
        if fast is not None:
            entry, fn = fast
            try:
                if entry.domain:
                    with entry.errstate():
                        y, adj = fn(*xl)
                else:
                    y, adj = fn(*xl)
            except GuardFailed:
                pass
            except Exception:
                return self._fallback(entry, eager)
            else:
                self.hits += 1
                entry.calls += 1
                self._entries.move_to_end(id(entry))
                return y, _gradient(x, xl, adj)

        def call(entry: Entry) -> Any:
            g = entry.grad_function
            if g is None:
                g = entry.grad_function = _grad_function(entry)
            with entry.errstate():
                y, adj = g.run(*xl)
            self._fast[tag] = (entry, g.run)
            return y, _gradient(x, xl, adj)

        return self._run(x, xl, call, eager)

    def grad(self, x: Any) -> Any:
        """The gradient of scalar-valued f at ``x`` by the generated adjoint code (as :func:`dualdiff.grad`).

        >>> import numpy as np, dualdiff as dd
        >>> dd.compile(lambda x: np.sum(x * x)).grad(np.array([1.0, 2.0]))
        array([2., 4.])
        """
        return self.value_and_grad(x)[1]

    def vjp(self, x: Any) -> tuple[Any, Any]:
        """``(f(x), pullback)`` by the generated adjoint code; ``pullback(y_bar)`` is ``y_bar J(x)``.

        >>> import dualdiff as dd
        >>> y, pullback = dd.compile(lambda x: x[0] * x[1]).vjp((2.0, 3.0))
        >>> y, pullback(1.0)
        (6.0, (3.0, 2.0))
        """
        x = check_input("x", x)
        xl = leaves(x)
        if _lifted(xl):
            return eager_vjp(self._generic(x, xl), x)

        def call(entry: Entry) -> Any:
            an = entry.analysis
            expected = tuple(_dtype(an.arg_value(a)) for a in entry.program.output_atoms())
            g = entry.function("vjp", False, expected)
            with _errstate(entry):
                outs, inner = g.run(*xl)
            return _outputs(entry.program, outs), CompiledPullback(self, entry, x, xl, outs, g, inner, expected)

        return self._run(x, xl, call, lambda fn: eager_vjp(fn, x))

    def jacobian(self, x: Any, mode: Literal["auto", "forward", "reverse"] = "auto", chunk: int | None = None) -> Any:
        """The Jacobian of f at ``x``, shape ``y.shape + x.shape`` (as :func:`dualdiff.jacobian`).

        ``mode="forward"`` pushes chunks of the identity's columns through the
        batched tangent code (``ceil(n / chunk)`` passes); ``"reverse"`` runs
        the forward sweep once and the batched pullback on chunks of rows;
        ``"auto"`` takes forward when f has no more inputs than outputs.

        >>> import numpy as np, dualdiff as dd
        >>> dd.compile(lambda x: x * x).jacobian(np.array([1.0, 2.0]))
        array([[2., 0.],
               [0., 4.]])
        """
        if mode not in ("auto", "forward", "reverse"):
            raise ValueError(f"mode must be 'auto', 'forward' or 'reverse', got {mode!r}")
        check_chunk(chunk)
        tag = None
        if type(x) is np.ndarray and x.dtype.kind in "fc":
            tag = ("jacobian", (np.ndarray, x.shape, x.dtype), mode, chunk)
            fast = self._fast.get(tag)
            if fast is not None:  # one array in, one array out, one chunk: its plan, directly
                entry, plan = fast
                try:
                    J = plan(x)
                except GuardFailed:
                    pass
                except Exception:
                    return self._fallback(
                        entry, lambda fn: (eager_jacrev if mode == "reverse" else eager_jacfwd)(fn, chunk)(x)
                    )
                else:
                    self.hits += 1
                    entry.calls += 1
                    self._entries.move_to_end(id(entry))
                    return J
        x = check_input("x", x)
        xl = leaves(x)
        if _lifted(xl):
            prog = self._generic(x, xl)
            if mode == "reverse":
                return eager_jacrev(prog, chunk)(x)
            return eager_jacfwd(prog, chunk)(x)
        n = sum(int(np.size(a)) for a in xl)

        def call(entry: Entry) -> Any:
            an = entry.analysis
            m = sum(int(np.size(an.arg_value(a))) for a in entry.program.output_atoms())
            chosen = mode if mode != "auto" else ("forward" if n <= m else "reverse")
            if tag is not None and entry.single and not isinstance(x, (tuple, list)):
                plan = _jac_plan(entry, chosen, x, n, m, chunk)
                if plan is not None:
                    J = plan(x)
                    self._fast[tag] = (entry, plan)
                    return J
            if chosen == "forward":
                return _jac_forward(entry, x, xl, n, chunk)
            return _jac_reverse(entry, x, xl, m, chunk)

        def eager(fn: Any) -> Any:
            if mode == "reverse":
                return eager_jacrev(fn, chunk)(x)
            return eager_jacfwd(fn, chunk)(x)

        return self._run(x, xl, call, eager)

    # -- looking inside -----------------------------------------------------------------
    def program(self, x: Any = None) -> Program:
        """The cached program for ``x`` (traced if needed), or the most recently used one."""
        return self._entry(x).program

    def _entry(self, x: Any) -> Entry:
        if x is None:
            if not self._entries:
                raise ValueError(
                    "nothing is compiled yet: call the compiled function first (cf.jvp(x, v), cf.grad(x), ...) "
                    "or pass x to source() / program()"
                )
            return next(reversed(self._entries.values()))
        x = check_input("x", x)
        plain = [_strip(v) for v in leaves(x)]
        entry = self._entry_at(rebuild(x, plain), plain)
        if entry is None:
            record(self.f, rebuild(x, plain), self.names, checked=True)  # raises the reason
            raise ValueError(f"{getattr(self.f, '__name__', 'f')} could not be compiled at this point")
        return entry

    def source(self, kind: Kind = "jvp", x: Any = None, batched: bool = False) -> str:
        """The generated source of ``kind`` ("value", "jvp", "grad" or "vjp"), for ``x`` or the latest version.

        >>> import dualdiff as dd
        >>> cf = dd.compile(lambda x: dd.sin(x) * x)
        >>> print(cf.source("jvp", 1.0).splitlines()[-1])
            return (v_2,), (v_2_dot,)
        """
        return self.generated(kind, x, batched).source

    def generated(self, kind: Kind = "jvp", x: Any = None, batched: bool = False) -> Generated:
        """The generated function of ``kind`` for ``x`` (or the latest version): ``source``, ``fn``, ``namespace``.

        Generated on demand, as a call would; the tangents (cotangents) of a
        jvp (vjp) are taken to have the dtypes of the seeds ``jacfwd``
        (``jacrev``) would use.
        """
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, _KINDS))}, got {kind!r}")
        entry = self._entry(x)
        an = entry.analysis
        if kind == "jvp":
            return entry.function("jvp", batched, _jvp_dtypes(entry.program.point, batched))
        if kind == "vjp":
            if batched:
                dtypes = tuple(np.dtype(seed_dtype(an.arg_value(a))) for a in entry.program.output_atoms())
            else:
                dtypes = tuple(_dtype(an.arg_value(a)) for a in entry.program.output_atoms())
            return entry.function("vjp", batched, dtypes)
        if kind == "grad":
            return _grad_function(entry)
        return entry.function("value")


_FLOAT_JVP = ("jvp", float, (float,))
_FLOAT_GRAD = ("grad", float)


def _grad_function(entry: Entry) -> Generated:
    """The generated gradient of a scalar-valued program (refusing others as eager grad does)."""
    prog = entry.program
    an = entry.analysis
    atoms = prog.output_atoms()
    if not entry.single:
        _not_scalar(_outputs(prog, [an.arg_value(a) for a in atoms]))
    y0 = an.arg_value(atoms[0])
    if np.ndim(y0) != 0:
        _not_scalar(y0)
    seed = seed_dtype(y0).type(1) if isinstance(y0, np.generic) else 1.0
    return entry.function("grad", False, None, seed)


def _fast_leaves(x: Any) -> list[Any] | None:
    """The leaves of x when they need no checking (floats, complex numbers, float or complex arrays), else None."""
    tp = type(x)
    if tp is float or tp is complex:
        return [x]
    if tp is np.ndarray:
        return [x] if x.dtype.kind in "fc" else None
    if tp is tuple:
        out: list[Any] = []
        for e in x:
            sub = _fast_leaves(e)
            if sub is None:
                return None
            out.extend(sub)
        return out
    return None


def _same_shapes(a: list[Any], b: list[Any]) -> bool:
    if len(a) != len(b):
        return False
    for u, v in zip(a, b):
        if type(u) is np.ndarray or type(v) is np.ndarray:
            if type(u) is not np.ndarray or type(v) is not np.ndarray or u.shape != v.shape:
                return False
    return True


def _jvp_dtypes(point: Sequence[Any], batched: bool) -> tuple[Any, ...]:
    """The tangent dtypes a call with default seeds would pass (as jacfwd's basis vectors)."""
    out = []
    for v in point:
        if batched or isinstance(v, np.ndarray):
            out.append(np.dtype(seed_dtype(v)))
        else:
            out.append(type(v) if type(v) in (float, complex) else _dtype(v))
    return tuple(out)


class _NoErrstate:
    """A context that changes nothing (generated code of Python numbers needs no NumPy error state)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


_NO_ERRSTATE = _NoErrstate()


def _errstate(entry: Entry) -> Any:
    return entry.errstate()


class CompiledPullback:
    """The pullback of :meth:`Compiled.vjp`: ``y_bar -> y_bar J(x)`` by the generated reverse sweep.

    It can be called any number of times (``retain_graph`` is accepted for
    the signature of :class:`dualdiff.transforms.reverse.Pullback`).
    """

    def __init__(
        self,
        owner: Compiled,
        entry: Entry,
        x: Any,
        xl: list[Any],
        outs: Sequence[Any],
        generated: Generated,
        inner: Callable[..., Any],
        expected: tuple[Any, ...],
    ) -> None:
        self._generated = generated
        self._owner = owner
        self._entry = entry
        self._x = x
        self._xl = xl
        self._outs = outs
        self._inner = inner
        self._expected = expected
        self._y = _outputs(entry.program, outs)

    def __repr__(self) -> str:
        return f"<CompiledPullback of {self._entry.program.f_name}>"

    def __call__(self, y_bar: Any, retain_graph: bool = False) -> Any:
        y_bar = check_input("y_bar", y_bar)
        check_like("y_bar", y_bar, "f(x)", self._y)
        seeds = _split_cotangents(self._entry.program, leaves(y_bar))
        if _lifted(seeds):
            return eager_vjp(self._entry.program, self._x)[1](y_bar)
        dtypes = tuple(_dtype(s) for s in seeds)
        inner, g = self._inner, self._generated
        if not all(_compatible(d, e) for d, e in zip(dtypes, self._expected)):
            g = self._entry.function("vjp", False, dtypes)
            with _errstate(self._entry):
                _, inner = g.run(*self._xl)
        try:
            with _errstate(self._entry):
                adj = g.run_pullback(inner, *seeds)
        except Exception:
            self._owner.fallbacks += 1
            return eager_vjp(self._entry.program, self._x)[1](y_bar)
        # the cotangent of a real input is real, as in eager mode (real_cotangent)
        return _adjoints(self._x, self._xl, [real_cotangent(a, xi) for a, xi in zip(adj, self._xl)], ())


def _compatible(actual: Any, expected: Any) -> bool:
    if actual == expected:
        return True
    if actual in (float, int) and isinstance(expected, np.dtype) and expected.kind in "fc":
        return True
    return False


# -- assembling trees ---------------------------------------------------------------------


def _outputs(prog: Program, values: Sequence[Any]) -> Any:
    """f's output tree from the values of the program's output atoms."""
    out = []
    it = iter(values)
    for o in prog.outputs:
        if isinstance(o, ArrayOutput):
            items = [next(it) for _ in o.atoms]
            out.append(np.array(items).reshape(o.shape))
        else:
            out.append(next(it))
    return _rebuild(prog.out_tree, out)


def _rebuild(tree: Any, values: list[Any]) -> Any:
    if tree is None:
        return values[0]
    return rebuild(tree, values)


def _tangent(value: Any, t: Any, batch: tuple[int, ...]) -> Any:
    if t is None:
        return zeros(value, batch)
    if isinstance(t, np.ndarray) and not t.flags.writeable:
        t = t.copy()
    return t


def _tangents(prog: Program, outs: Sequence[Any], touts: Sequence[Any], batch: tuple[int, ...]) -> Any:
    """The output tangents' tree (zeros where an output does not depend on x), as eager jvp gives it."""
    out = []
    i = 0
    for o in prog.outputs:
        if isinstance(o, ArrayOutput):
            k = len(o.atoms)
            parts = [_tangent(outs[i + j], touts[i + j], batch) for j in range(k)]
            out.append(np.array(parts).reshape(o.shape + batch))
            i += k
        else:
            out.append(_tangent(outs[i], touts[i], batch))
            i += 1
    return _rebuild(prog.out_tree, out)


def _gradient(x: Any, xl: list[Any], adj: Sequence[Any]) -> Any:
    """The gradient's tree from the generated code's adjoints of the inputs (a single array: itself)."""
    adj = [real_cotangent(a, xi) for a, xi in zip(adj, xl)]  # a real input's cotangent is real
    if len(adj) == 1 and x is xl[0]:
        a = adj[0]
        if a is not None and (type(a) is not np.ndarray or a.flags.writeable):
            return a
    return _adjoints(x, xl, adj, ())


def _adjoints(x: Any, xl: list[Any], adj: Sequence[Any], batch: tuple[int, ...]) -> Any:
    grads = []
    for v, g in zip(xl, adj):
        if g is None:
            g = zeros(v, batch)
        elif isinstance(g, np.ndarray) and not g.flags.writeable:
            g = g.copy()
        grads.append(g)
    return rebuild(x, grads)


def _split_cotangents(prog: Program, bars: list[Any]) -> list[Any]:
    """One cotangent per output atom: an array output built of separate values is split element by element."""
    seeds: list[Any] = []
    for o, g in zip(prog.outputs, bars):
        if isinstance(o, ArrayOutput):
            seeds.extend(np.asarray(g)[idx] for idx in np.ndindex(o.shape))
        else:
            seeds.append(g)
    return seeds


def _not_scalar(y: Any) -> None:
    shape = "a tuple" if isinstance(y, (tuple, list)) else f"shape {np.shape(y)}"
    raise ValueError(
        f"grad needs f to return a scalar, but it returned {shape}; for vector outputs use dd.jacrev(f) or dd.vjp(f, x)"
    )


# -- Jacobians ---------------------------------------------------------------------------------


def _identity(n: int, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """The seeds of a one-chunk Jacobian: the identity, shaped ``shape + (n,)``, read-only (it is cached)."""
    eye = np.eye(n, dtype=dtype).reshape(shape + (n,))
    eye.flags.writeable = False
    return eye


def _jac_plan(entry: Entry, mode: str, x: np.ndarray, n: int, m: int, chunk: int | None) -> Callable[[Any], Any] | None:
    """A Jacobian of one array in and one array (or number) out in one chunk, with its seeds made once.

    None when the Jacobian takes several chunks (then the general path runs).
    """
    prog = entry.program
    an = entry.analysis
    y0 = an.arg_value(prog.output_atoms()[0])
    yshape = tuple(np.shape(y0))
    xshape = x.shape
    if mode == "forward":
        k = min(chunk or default_chunk(n), max(n, 1))
        if k != n or n < 2:
            return None
        seeds = _identity(n, xshape, seed_dtype(x))
        run = entry.function("jvp", True, (seeds.dtype,)).run
        # the identity's columns as diagonals while f is elementwise in x (see program.diagonal)
        run_diagonal = None
        if n >= DIAGONAL_MIN_DIRECTIONS:
            run_diagonal = entry.function("jvp", True, (seeds.dtype,), diagonal=True).run
        errstate = entry.errstate

        def forward(x: Any) -> Any:
            with errstate():
                if run_diagonal is None:
                    outs, touts = run(x, seeds)
                else:
                    try:
                        outs, touts = run_diagonal(x, seeds)
                    except Fallback:  # a non-finite partial: the dense code puts its NaNs where eager mode does
                        outs, touts = run(x, seeds)
            t = _tangent(outs[0], touts[0], (n,))
            if t.shape != yshape + xshape:
                t = np.reshape(t, yshape + xshape)
            return t

        return forward
    k = min(chunk or default_chunk(m), max(m, 1))
    if k != m or m < 2 or isinstance(y0, (mpmath.mpf, mpmath.mpc)):
        return None
    seeds = _identity(m, yshape, seed_dtype(y0))
    g = entry.function("vjp", True, (seeds.dtype,))
    errstate = entry.errstate

    def reverse(x: Any) -> Any:
        with errstate():
            _, inner = g.run(x)
            adj = g.run_pullback(inner, seeds)
        gx = adj[0]
        if gx is None:
            return np.zeros(yshape + xshape, dtype=seeds.dtype)
        J = np.reshape(np.moveaxis(gx, -1, 0), yshape + xshape)
        return J if J.flags.writeable else J.copy()  # never a view of the cached seeds or a broadcast

    return reverse


def _jac_forward(entry: Entry, x: Any, xl: list[Any], n: int, chunk: int | None) -> Any:
    prog = entry.program
    k = min(chunk or default_chunk(n), max(n, 1))
    cols: list[list[Any]] | None = None
    ys: Any = None
    for s, e, seeds in basis_chunks(x, k):
        batched = k != 1
        g = entry.function("jvp", batched, tuple(_dtype(t) for t in seeds))
        with _errstate(entry):
            outs, touts = g.run(*xl, *seeds)
        batch = (e - s,) if batched else ()
        ts = leaves(_tangents(prog, outs, touts, batch))
        if cols is None:
            cols = [[] for _ in ts]
            ys = _outputs(prog, outs)
        for c, t in zip(cols, ts):
            c.append(np.expand_dims(t, -1) if not batched else t)
    if cols is None:  # x has no elements
        an = entry.analysis
        ys = _outputs(prog, [an.arg_value(a) for a in prog.output_atoms()])
        cols = [[np.zeros(np.shape(o) + (0,))] for o in leaves(ys)]
    columns = [np.concatenate(c, axis=-1) if len(c) > 1 else c[0] for c in cols]
    per_out = []
    for yl, col in zip(leaves(ys), columns):
        yshape = np.shape(yl)
        blocks, offset = [], 0
        for a in xl:
            sz = int(np.size(a))
            blocks.append(np.reshape(col[..., offset : offset + sz], yshape + np.shape(a)))
            offset += sz
        per_out.append(rebuild(x, blocks) if isinstance(x, (tuple, list)) else blocks[0])
    return rebuild(ys, per_out) if isinstance(ys, (tuple, list)) else per_out[0]


def _jac_reverse(entry: Entry, x: Any, xl: list[Any], m: int, chunk: int | None) -> Any:
    prog = entry.program
    an = entry.analysis
    k = min(chunk or default_chunk(m), max(m, 1))
    batched = k != 1
    ys = _outputs(prog, [an.arg_value(a) for a in prog.output_atoms()])
    dtypes = tuple(np.dtype(seed_dtype(an.arg_value(a))) for a in prog.output_atoms())
    g = entry.function("vjp", batched, dtypes)
    with _errstate(entry):
        outs, inner = g.run(*xl)
    ys = _outputs(prog, outs)
    rows: list[list[Any]] = [[] for _ in xl]
    for _, _, seeds in basis_chunks(ys, k):
        parts = _split_cotangents(prog, seeds)
        with _errstate(entry):
            adj = g.run_pullback(inner, *parts)
        batch = np.shape(seeds[0])[-1:] if batched else ()
        grads = leaves(_adjoints(x, xl, adj, tuple(batch)))
        for r, gr in zip(rows, grads):
            r.append(np.expand_dims(gr, 0) if not batched else np.moveaxis(np.asarray(gr), -1, 0))
    if m == 0:
        rows = [[np.zeros((0,) + np.shape(a))] for a in xl]
    per_input = [np.concatenate(r, axis=0) if len(r) > 1 else r[0] for r in rows]
    blocks_by_out = []
    offset = 0
    for yl in leaves(ys):
        sz = int(np.size(yl))
        blocks = [np.reshape(p[offset : offset + sz], np.shape(yl) + p.shape[1:]) for p in per_input]
        blocks_by_out.append(rebuild(x, blocks) if isinstance(x, (tuple, list)) else blocks[0])
        offset += sz
    return rebuild(ys, blocks_by_out) if isinstance(ys, (tuple, list)) else blocks_by_out[0]


def compile(f: Function, *, cache_size: int = DEFAULT_CACHE_SIZE, names: Sequence[str] | None = None) -> Compiled:
    """Compile f's derivatives: tangent and adjoint code generated from its program, cached per kind of input.

    ``dd.compile`` (the public name; it shadows Python's ``compile`` only
    inside ``dualdiff``). ``cache_size`` bounds the versions kept (input
    structures, shapes, dtypes, number types and branch outcomes, least
    recently used first out); ``names`` names the input leaves in the
    generated source. See :class:`Compiled` for the calls.

    >>> import numpy as np, dualdiff as dd
    >>> cf = dd.compile(lambda x: np.sum(np.sin(x) ** 2))
    >>> x = np.linspace(0.0, 1.0, 5)
    >>> np.allclose(cf.grad(x), dd.grad(lambda x: np.sum(np.sin(x) ** 2))(x), rtol=1e-13)
    True
    """
    return Compiled(f, cache_size=cache_size, names=names)


del math
