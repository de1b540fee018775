"""The Wengert list as data: a recorded program that every analysis reads.

``dd.wengert(f, x)`` runs ``f`` once on tracers and returns a :class:`Program`:
the evaluation trace ``v_{1-n} … v_0`` (inputs), ``v_1 … v_l`` (one
:class:`Equation` per primitive application, in execution order) and the
outputs, as the AD textbooks write it. It is plain data: walk
``prog.equations`` to build an analysis of your own. Evaluation traces,
the cost model, compiled derivatives and sparsity detection all read it.

>>> import numpy as np, dualdiff as dd
>>> prog = dd.wengert(lambda x: np.log(x[0]) + x[0] * x[1] - np.sin(x[1]), np.array([2.0, 5.0]))
>>> print(prog)
Program of f: 1 input (2 values) -> 1 output, 9 equations
variable  operation  type
--------  ---------  ----------
v_0       x          float64[2]
v_1       v_0[0]     float64[]
v_2       ln(v_1)    float64[]
v_3       v_0[0]     float64[]
v_4       v_0[1]     float64[]
v_5       v_3 * v_4  float64[]
v_6       v_2 + v_5  float64[]
v_7       v_0[1]     float64[]
v_8       sin(v_7)   float64[]
v_9       v_6 - v_8  float64[]
y         v_9        float64[]
>>> eq = prog.equations[1]
>>> eq.rule.name, eq.inputs, eq.shape
('log', (1,), ())
>>> float(prog(np.array([3.0, 1.0]))) == float(np.log(3.0) + 3.0 * 1.0 - np.sin(1.0))
True

**Control flow is never frozen silently.** Every decision ``f`` takes on a
traced value while recording (``bool()`` of a comparison, ``int()``, an index
computed from the input) is stored as a :class:`Guard` with its outcome and
the line of ``f`` that took it. Evaluating the program where a guard would go
the other way raises :class:`~dualdiff.errors.GuardError`; so does calling
it with inputs of other shapes or dtypes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import mpmath
import numpy as np

from ..errors import GuardError
from ..modes.core import apply, apply_general, apply_linear, apply_nondiff, strip_all
from ..modes.tree import leaves, rebuild
from ..notation.formulas import Sym, const_operand, operation_text, var_sym, var_text
from ..notation.tabular import Column, Table, format_value
from ..rules.kinds import Elementwise, General, Linear, Nondiff, Rule


class Const(NamedTuple):
    """A constant operand of an equation: a number or an array that does not depend on x."""

    value: Any

    def __repr__(self) -> str:
        return f"Const({format_value(self.value, 6)})"


#: An equation's operand: a slot number (an earlier variable), or a constant.
Atom = int | Const


class Equation(NamedTuple):
    """One primitive application ``v_out = rule(inputs; params)``.

    ``inputs`` are slot numbers of earlier variables or :class:`Const`
    values; ``params`` are the rule's static parameters (axes, an index, a
    shape); ``shape`` and ``dtype`` describe ``v_out`` (``dtype`` is a NumPy
    dtype, or ``"mpf"``/``"mpc"`` for mpmath numbers). ``nbatch`` is nonzero
    only for a linear map recorded inside a nested derivative, whose operand
    carries that many trailing direction axes.
    """

    rule: Rule
    inputs: tuple[Atom, ...]
    params: tuple[Any, ...]
    out: int
    shape: tuple[int, ...]
    dtype: Any
    nbatch: int = 0


class Guard(NamedTuple):
    """A decision ``f`` took on the traced value in ``slot``, checked again at every evaluation.

    ``kind`` is ``"bool"`` (``if x > 0``), ``"int"`` (``int(x)``, ``range(x)``)
    or ``"index"`` (indexing with an array computed from x); ``outcome`` is
    what the decision saw when recorded; ``source`` the line of ``f``.
    """

    kind: str
    slot: int
    outcome: Any
    source: str

    def holds(self, value: Any) -> bool:
        """Whether ``value`` (of ``slot``, plain or lifted) takes the recorded decision."""
        v = strip_all(value)
        if self.kind == "bool":
            return bool(v) == self.outcome
        if self.kind == "int":
            return int(v) == self.outcome
        return _same_index(v, self.outcome)


def _same_index(a: Any, b: Any) -> bool:
    if isinstance(b, tuple):
        return isinstance(a, tuple) and len(a) == len(b) and all(_same_index(x, y) for x, y in zip(a, b))
    return bool(np.shape(a) == np.shape(b) and np.array_equal(a, b))


class Aval(NamedTuple):
    """What a slot holds, without its numbers: shape, dtype, and the Python type of the value."""

    shape: tuple[int, ...]
    dtype: Any
    kind: type

    def text(self) -> str:
        """``float64[2,3]``: the notation of program listings."""
        name = self.dtype if isinstance(self.dtype, str) else np.dtype(self.dtype).name
        return f"{name}[{','.join(str(s) for s in self.shape)}]"


def aval_of(value: Any) -> Aval:
    """The abstract value of a plain or lifted number, array or tuple of arrays.

    >>> aval_of(1.5), aval_of(np.zeros((2, 3), dtype=np.float32)).text()
    (Aval(shape=(), dtype=dtype('float64'), kind=<class 'float'>), 'float32[2,3]')
    """
    v = strip_all(value)
    if isinstance(v, mpmath.mpf):
        return Aval((), "mpf", mpmath.mpf)
    if isinstance(v, mpmath.mpc):
        return Aval((), "mpc", mpmath.mpc)
    if isinstance(v, tuple):  # np.nonzero and friends
        return Aval((len(v),), "tuple", tuple)
    try:
        dtype = np.result_type(v)
    except TypeError:
        dtype = np.dtype(object)
    return Aval(tuple(np.shape(v)), dtype, type(v))


class ArrayOutput(NamedTuple):
    """An output of f that is a NumPy array of separate values (``np.array([y1, y2])``)."""

    shape: tuple[int, ...]
    atoms: tuple[Atom, ...]


@dataclass
class Program:
    """A recorded Wengert list: inputs, equations in execution order, outputs, guards.

    Slots ``0 … n-1`` hold the input leaves (``v_{1-n} … v_0`` in the
    textbook numbering), slot ``n + k`` the output of equation ``k``
    (``v_{k+1}``). ``in_tree``/``out_tree`` are the structures of x and of
    f(x), with ``None`` where a leaf goes. Calling the program evaluates the
    equations at a new point (plain numbers, or lifted values, so that every
    transform applies to it) and checks every guard.
    """

    f_name: str
    names: tuple[str, ...]
    in_tree: Any
    in_avals: tuple[Aval, ...]
    equations: list[Equation]
    out_tree: Any
    outputs: tuple[Atom | ArrayOutput, ...]
    guards: list[Guard]
    #: The point the program was recorded at (its input leaves).
    point: tuple[Any, ...]

    # -- sizes ---------------------------------------------------------------
    @property
    def n(self) -> int:
        """The number of input leaves."""
        return len(self.in_avals)

    @property
    def n_slots(self) -> int:
        """Inputs plus equations: the variables ``v_{1-n} … v_l``."""
        return self.n + len(self.equations)

    def __len__(self) -> int:
        return len(self.equations)

    def index(self, slot: int) -> int:
        """The textbook index of a slot: ``v_{index}``, inputs ``1-n … 0``."""
        return slot - self.n + 1

    def aval(self, slot: int) -> Aval:
        """The abstract value of a slot."""
        if slot < self.n:
            return self.in_avals[slot]
        eq = self.equations[slot - self.n]
        return Aval(eq.shape, eq.dtype, object)

    def output_atoms(self) -> list[Atom]:
        """Every output value as an atom, left to right (array outputs element by element)."""
        out: list[Atom] = []
        for o in self.outputs:
            out.extend(o.atoms if isinstance(o, ArrayOutput) else (o,))
        return out

    # -- evaluation ---------------------------------------------------------
    def __call__(self, x: Any) -> Any:
        """Evaluate the program at ``x`` (shaped as when recorded); plain or lifted values."""
        env = self.evaluate(x)
        return self.assemble(env)

    def evaluate(self, x: Any) -> list[Any]:
        """Every slot's value at ``x``: inputs, then each equation's output. Guards are checked."""
        xl = self._check_point(leaves(x), x)
        env: list[Any] = list(xl) + [None] * len(self.equations)
        checks = self._guards_by_slot()
        for slot in range(self.n):
            for g in checks.get(slot, ()):
                self._check(g, env[slot])
        for eq in self.equations:
            args = [env[a] if isinstance(a, int) else a.value for a in eq.inputs]
            env[eq.out] = apply_equation(eq, args)
            for g in checks.get(eq.out, ()):
                self._check(g, env[eq.out])
        return env

    def assemble(self, env: Sequence[Any]) -> Any:
        """The output tree from a list of slot values (see :meth:`evaluate`)."""
        values = []
        for o in self.outputs:
            if isinstance(o, ArrayOutput):
                values.append(_array_of([_value(a, env) for a in o.atoms], o.shape))
            else:
                values.append(_value(o, env))
        return rebuild(self.out_tree, values)

    def _guards_by_slot(self) -> dict[int, list[Guard]]:
        checks: dict[int, list[Guard]] = {}
        for g in self.guards:
            checks.setdefault(g.slot, []).append(g)
        return checks

    def _check(self, g: Guard, value: Any) -> None:
        if not g.holds(value):
            number = self.guards.index(g) + 1
            raise GuardError(
                f"guard {number} failed: {self._guard_text(g)} was {_outcome_text(g.outcome)} when recorded, "
                f"{_outcome_text(_observed(g, value))} here\n"
                f"  recorded at {g.source}\n"
                "  the program holds the branch taken at the recording point only; record it again at this "
                "point (dd.wengert(f, x)), or use dd.compile, which retraces when a guard fails"
            )

    def _guard_text(self, g: Guard) -> str:
        name = var_text(self.index(g.slot))
        return {"bool": f"bool({name})", "int": f"int({name})"}.get(g.kind, f"the index {name}")

    def _check_point(self, xl: list[Any], x: Any) -> list[Any]:
        if len(xl) != self.n:
            raise ValueError(f"{self.f_name}'s program takes {self.n} input leaves, got {len(xl)}")
        out = []
        for i, (leaf, want) in enumerate(zip(xl, self.in_avals)):
            got = aval_of(leaf)
            where = self.names[i]
            if got.shape != want.shape:
                raise ValueError(
                    f"{where}: the program was recorded for shape {want.shape}, got shape {got.shape}; "
                    "record it again for these shapes"
                )
            if _dtype_key(got.dtype) != _dtype_key(want.dtype):
                raise TypeError(
                    f"{where}: the program was recorded for dtype {want.text()}, got {got.text()}; "
                    "record it again for this dtype"
                )
            if want.kind is float and type(leaf) is np.float64:
                leaf = float(leaf)  # the recorded program computed with Python floats here
            out.append(leaf)
        return out

    # -- listings ------------------------------------------------------------
    def __str__(self) -> str:
        return self.table().to_text()

    def __repr__(self) -> str:
        sizes = f"{self.n} input(s), {len(self.equations)} equation(s), {len(self.guards)} guard(s)"
        return f"<Program of {self.f_name}: {sizes}>"

    def operation(self, eq: Equation) -> tuple[str, str]:
        """An equation's right-hand side in textbook notation: (text, LaTeX)."""
        syms = [var_sym(self.index(a)) if isinstance(a, int) else const_operand(a.value) for a in eq.inputs]
        first = eq.inputs[0] if eq.inputs else None
        ndim = len(self.aval(first).shape) if isinstance(first, int) else (np.ndim(first.value) if first else None)
        return operation_text(eq.rule, syms, eq.params, ndim)

    def table(self) -> Table:
        """The program as a table: each variable, its operation and type; outputs last; then guards.

        Renders with ``to_text()``, ``to_markdown()``, ``to_latex()`` and ``to_csv()``.
        """
        rows: list[dict[str, Any]] = []
        tex: list[dict[str, str]] = []
        for slot in range(self.n):
            s = var_sym(self.index(slot))
            rows.append({"variable": s.text, "operation": self.names[slot], "type": self.in_avals[slot].text()})
            tex.append({"variable": f"${s.tex}$", "operation": f"${self.names[slot]}$"})
        for eq in self.equations:
            s = var_sym(self.index(eq.out))
            text, latex = self.operation(eq)
            rows.append({"variable": s.text, "operation": text, "type": Aval(eq.shape, eq.dtype, object).text()})
            tex.append({"variable": f"${s.tex}$", "operation": f"${latex}$"})
        atoms = self.output_atoms()
        for k, a in enumerate(atoms):
            name = "y" if len(atoms) == 1 else f"y_{k + 1}"
            src: Sym = var_sym(self.index(a)) if isinstance(a, int) else const_operand(a.value)
            typ = self.aval(a).text() if isinstance(a, int) else aval_of(a.value).text()
            rows.append({"variable": name, "operation": src.text, "type": typ})
            tex.append({"variable": f"${name}$", "operation": f"${src.tex}$"})
        for k, g in enumerate(self.guards):
            rows.append(
                {"variable": f"guard {k + 1}", "operation": f"{self._guard_text(g)} == {g.outcome!r}", "type": ""}
            )
            tex.append({"variable": f"guard {k + 1}", "operation": "", "type": ""})
        sizes = sum(int(np.prod(a.shape)) for a in self.in_avals)
        ins = f"{self.n} input{'s' if self.n != 1 else ''}" + (f" ({sizes} values)" if sizes != self.n else "")
        outs = len(atoms)
        title = (
            f"Program of {self.f_name}: {ins} -> {outs} output{'s' if outs != 1 else ''}, "
            f"{len(self.equations)} equation{'s' if len(self.equations) != 1 else ''}"
            + (f", {len(self.guards)} guard{'s' if len(self.guards) != 1 else ''}" if self.guards else "")
        )
        return Table(_COLUMNS, rows, title=title, latex_cells=tex)

    def to_text(self) -> str:
        """The listing as aligned text."""
        return self.table().to_text()

    def to_markdown(self) -> str:
        """The listing as a Markdown table."""
        return self.table().to_markdown()

    def to_latex(self) -> str:
        """The listing as a LaTeX (booktabs) table."""
        return self.table().to_latex()

    def to_csv(self) -> str:
        """The listing as CSV."""
        return self.table().to_csv()


_COLUMNS = [
    Column("variable", "variable", "variable"),
    Column("operation", "operation", "operation", kind="formula"),
    Column("type", "type", "type"),
]


def apply_equation(eq: Equation, args: Sequence[Any]) -> Any:
    """Apply one equation's rule to argument values, through the dispatch every mode uses."""
    rule = eq.rule
    if isinstance(rule, Elementwise):
        return apply(rule, *args)
    if isinstance(rule, Linear):
        return apply_linear(rule, args[0], *eq.params, nbatch=eq.nbatch)
    if isinstance(rule, General):
        return apply_general(rule, tuple(args), eq.params)
    if isinstance(rule, Nondiff):
        return apply_nondiff(rule, tuple(args), eq.params)
    raise TypeError(f"cannot evaluate a rule of kind {type(rule).__name__}: {rule!r}")


def _value(a: Atom, env: Sequence[Any]) -> Any:
    return env[a] if isinstance(a, int) else a.value


def _array_of(values: list[Any], shape: tuple[int, ...]) -> Any:
    if any(not isinstance(v, (int, float, complex, np.generic, np.ndarray)) for v in values):
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr.reshape(shape)
    return np.array(values).reshape(shape)


def _dtype_key(dtype: Any) -> Any:
    return dtype if isinstance(dtype, str) else np.dtype(dtype)


def _outcome_text(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return format_value(v, 4)
    return repr(v)


def _observed(g: Guard, value: Any) -> Any:
    v = strip_all(value)
    if g.kind == "bool":
        return bool(v)
    if g.kind == "int":
        return int(v)
    return v


Function = Callable[[Any], Any]
