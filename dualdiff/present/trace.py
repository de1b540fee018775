"""Evaluation traces (Wengert lists) and their worked tangent and adjoint tables.

``dd.trace(f, x)`` records ``f``'s program once (:func:`dualdiff.wengert`)
and turns its equations into the numbered list the AD textbooks print: inputs ``v_{1-n} … v_0``, intermediates
``v_1 … v_l`` in evaluation order, then the outputs ``y`` (``y_1 … y_m`` for
several) as rows of their own. Each step shows its operation in terms of
earlier variables (``v_{-1} * v_0``, ``sin(v_0)``, ``ln(v_{-1})``; constants as
numbers), written with the rule table's templates, and its primal value.

>>> import dualdiff as dd
>>> tr = dd.trace(lambda x1, x2: dd.log(x1) + x1 * x2 - dd.sin(x2), (2.0, 5.0))
>>> print(tr.forward_table("x1").to_text(digits=4))
Forward mode: tangents of f at x1 = 2, x2 = 5 for the seed ẋ1 = 1, ẋ2 = 0
variable  operation     value    tangent formula              tangent
--------  ------------  -------  ---------------------------  -------
v_{-1}    x1                  2  ẋ1                                 1
v_0       x2                  5  ẋ2                                 0
v_1       ln(v_{-1})     0.6931  v̇_{-1} / v_{-1}                  0.5
v_2       v_{-1} * v_0       10  v_0 * v̇_{-1} + v_{-1} * v̇_0        5
v_3       v_1 + v_2       10.69  v̇_1 + v̇_2                        5.5
v_4       sin(v_0)      -0.9589  cos(v_0) * v̇_0                     0
v_5       v_3 - v_4       11.65  v̇_3 - v̇_4                        5.5
y         v_5             11.65  v̇_5                              5.5

Where the numbers come from (no derivative formula is written here):

* the primal values: the program evaluated at x;
* the tangents: the program run on dual numbers (:func:`dualdiff.jvp`), so
  forward mode reads the same rules;
* the adjoints: the program run on a tape and swept backwards, keeping every
  intermediate adjoint (``Tape.sweep(..., keep_intermediates=True)``), listed
  in the order the sweep completes them (outputs first, then ``v_l`` down to
  ``v_{1-n}``).

The *formula* columns are built symbolically from the rule table too: each
rule's local partials ``partials[i](m, y, *args)`` are called with a
symbolic namespace ``m`` and symbolic arguments, so ``sin`` shows
``cos(v_0) * v̇_0`` and ``exp`` shows ``v_3 * v̇_2`` (the partial written in
terms of the step's own value, as the rule states it). A tangent formula is
``Σ_i ∂v_k/∂v_i · v̇_i`` over the step's variable operands; an adjoint formula
is ``Σ_j v̄_j · ∂v_j/∂v_k`` over the steps ``v_j`` that use ``v_k`` (plus
``ȳ`` where ``v_k`` is an output). Linear primitives show their map
(``sum(v̇_2)``) and its transpose (``sumᵀ(v̄_5)``); general ones (matmul,
det, ...) show ``∂v_k/∂v_j · v̇_j``. Where an array step broadcasts an
operand, the adjoint formula leaves the summing back to the operand's shape
implied. A partial that cannot be written symbolically is shown by its
numeric value at the point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..modes.core import LiftedBase as Lifted
from ..modes.tape import Tape, Var
from ..modes.tree import check_input, check_like, leaves, rebuild
from ..notation.formulas import (
    BAR,
    DOT,
    PREC_ATOM,
    PREC_MUL,
    SYMBOLIC,
    Sym,
    is_number,
    marked,
    name_sym,
    name_tex,
    number_text,
    param_text,
    structural,
    sym_add,
    sym_mul,
    tex_escape,
    to_sym,
    var_sym,
    var_tex,
    var_text,
)
from ..notation.tabular import Column, Table, format_value
from ..program.program import ArrayOutput, Program
from ..program.tracer import positional_parameters, record
from ..rules.backends import backend_for
from ..rules.evaluate import local
from ..rules.kinds import Elementwise, Linear, Nondiff, Rule
from ..transforms.forward import jvp
from ..transforms.taylor import taylor

__all__ = ["Output", "Step", "Trace", "trace"]


@dataclass
class Step:
    """One variable of the trace: an input or the result of one primitive.

    ``index`` is the textbook number (``1-n … 0`` for inputs, ``1 … l``
    after); ``operands`` hold ``("var", index)`` or ``("const", value)``.

    >>> import dualdiff as dd
    >>> dd.trace(lambda x: 2 * x, 3.0).steps[1]
    Step(v_1 = 2 * v_0 = 6)
    """

    index: int
    name: str
    kind: str
    value: Any
    operation: str
    operation_latex: str
    rule: Rule | None = None
    operands: tuple[tuple[str, Any], ...] = ()
    params: tuple[Any, ...] = ()
    label: str | None = None

    def __repr__(self) -> str:
        return f"Step({self.name} = {self.operation} = {format_value(self.value)})"


@dataclass
class Output:
    """An output of the traced function: ``source`` is ``("var", index)`` or ``("const", value)``.

    >>> import dualdiff as dd
    >>> dd.trace(lambda x: x * x, 3.0).outputs
    [Output(y = v_1 = 9)]
    """

    name: str
    latex: str
    source: tuple[str, Any]
    value: Any

    def __repr__(self) -> str:
        src = var_text(self.source[1]) if self.source[0] == "var" else number_text(self.source[1])
        return f"Output({self.name} = {src} = {format_value(self.value)})"


@dataclass(repr=False)
class Trace:
    """The evaluation trace of ``f`` at ``x``; made by :func:`trace`.

    ``steps`` lists the inputs then the intermediates in evaluation order;
    ``outputs`` says which steps (or constants) ``f`` returned; ``y`` is
    ``f(x)``. :meth:`table`, :meth:`forward_table` and :meth:`reverse_table`
    give the worked tables.

    >>> import dualdiff as dd
    >>> tr = dd.trace(lambda x: dd.exp(x * x), 1.0)
    >>> len(tr), tr.names, tr.y
    (3, ('x',), 2.718281828459045)
    """

    f_name: str
    x: Any
    names: tuple[str, ...]
    steps: list[Step]
    outputs: list[Output]
    y: Any
    #: The recorded program the tables are computed from.
    program: Program | None = field(default=None, repr=False)
    _partials: dict[int, list[Any]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.steps)

    def __str__(self) -> str:
        return self.table().to_text()

    def __repr__(self) -> str:
        m = len(self.outputs)
        return (
            f"<Trace of {self.f_name} at {self._at()}: {self.n} input(s), "
            f"{len(self.steps) - self.n} intermediate(s), {m} output(s)>"
        )

    @property
    def n(self) -> int:
        """The number of inputs (leaves of ``x``).

        >>> import dualdiff as dd
        >>> dd.trace(lambda a, b: a * b, (1.0, 2.0)).n
        2
        """
        return len(self.names)

    @property
    def intermediates(self) -> list[Step]:
        """The steps after the inputs, ``v_1 … v_l``.

        >>> import dualdiff as dd
        >>> [s.operation for s in dd.trace(lambda x: dd.sin(x) + 1, 0.0).intermediates]
        ['sin(v_0)', 'v_1 + 1']
        """
        return self.steps[self.n :]

    def step(self, index: int) -> Step:
        """The step numbered ``index`` (``1-n … l``).

        >>> import dualdiff as dd
        >>> dd.trace(lambda x: x * x, 3.0).step(1).value
        9.0
        """
        pos = index + self.n - 1
        if not 0 <= pos < len(self.steps) or isinstance(index, bool):
            raise IndexError(f"no step v_{index}: the steps are numbered {1 - self.n} to {len(self.steps) - self.n}")
        return self.steps[pos]

    def _ndim(self, s: Step) -> int | None:
        """The number of axes of a step's first operand."""
        if not s.operands:
            return None
        kind, ref = s.operands[0]
        return int(np.ndim(self.step(ref).value if kind == "var" else ref))

    # -- evaluating the recorded program ---------------------------------
    def _run(self, inputs: Sequence[Any]) -> tuple[Any, ...]:
        """Every step's value for the given input leaves: the program evaluated."""
        assert self.program is not None
        return tuple(self.program.evaluate(_tree_like(self.x, list(inputs))))

    # -- the tables --------------------------------------------------------
    def _at(self) -> str:
        return ", ".join(f"{name} = {format_value(s.value)}" for name, s in zip(self.names, self.steps))

    def _base_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        rows, tex = [], []
        for s in self.steps:
            rows.append({"variable": s.name, "operation": s.operation, "value": s.value, "kind": s.kind})
            tex.append({"variable": f"${var_tex(s.index)}$", "operation": f"${s.operation_latex}$"})
        return rows, tex

    def _output_row(self, o: Output) -> tuple[dict[str, Any], dict[str, str]]:
        src = _source_sym(o.source)
        return (
            {"variable": o.name, "operation": src.text, "value": o.value, "kind": "output"},
            {"variable": f"${o.latex}$", "operation": f"${src.tex}$"},
        )

    def table(self) -> Table:
        """The evaluation trace alone: each variable, its operation and value.

        >>> import dualdiff as dd
        >>> print(dd.trace(lambda x: 2 * x, 3.0).table().to_text())
        Evaluation trace of f at x = 3
        variable  operation  value
        --------  ---------  -----
        v_0       x              3
        v_1       2 * v_0        6
        y         v_1            6
        """
        rows, tex = self._base_rows()
        for o in self.outputs:
            r, t = self._output_row(o)
            rows.append(r)
            tex.append(t)
        return Table(_COLUMNS, rows, title=f"Evaluation trace of {self.f_name} at {self._at()}", latex_cells=tex)

    def forward_table(self, v: Any = None, formulas: bool = True) -> Table:
        """Primal and tangent of every variable for the seed direction ``v`` (forward mode).

        ``v`` is shaped like ``x`` (a tuple for several inputs), or the name
        of a scalar input (a unit seed on it), or a dict ``{name: tangent}``
        (missing names get 0). With a single scalar input it defaults to 1.
        The tangents come from replaying the recording on dual numbers; with
        ``formulas`` the table also shows each tangent's formula.

        >>> import dualdiff as dd
        >>> t = dd.trace(lambda x: x ** 3, 2.0).forward_table()
        >>> [r["tangent_formula"] for r in t.rows], t.column("tangent")
        (['ẋ', '3 * v_0 ** 2 * v̇_0', 'v̇_1'], [1.0, 12.0, 12.0])
        """
        seed = self._seed(v)
        if self.n:
            _, tangents = jvp(self._run, tuple(leaves(self.x)), tuple(seed))
        else:
            tangents = ()
        rows, tex = self._base_rows()
        for row, t, s, d in zip(rows, tex, self.steps, tangents):
            row["tangent"] = d
            if formulas:
                sym = self._tangent_sym(s)
                row["tangent_formula"], t["tangent_formula"] = _text_and_tex(sym)
        for o in self.outputs:
            r, t = self._output_row(o)
            r["tangent"] = tangents[o.source[1] + self.n - 1] if o.source[0] == "var" else _zeros_like(o.value)
            if formulas:
                sym = var_sym(o.source[1], DOT) if o.source[0] == "var" else 0
                r["tangent_formula"], t["tangent_formula"] = _text_and_tex(sym)
            rows.append(r)
            tex.append(t)
        columns = _COLUMNS + ([_TANGENT_FORMULA] if formulas else []) + [_TANGENT]
        seeds = ", ".join(f"{marked(n, DOT)} = {format_value(d)}" for n, d in zip(self.names, seed))
        title = f"Forward mode: tangents of {self.f_name} at {self._at()} for the seed {seeds}"
        return Table(columns, rows, title=title, latex_cells=tex)

    def reverse_table(self, y_bar: Any = 1.0, formulas: bool = True) -> Table:
        """Primal and adjoint of every variable, in the order a reverse sweep produces them.

        ``y_bar`` is the output cotangent: shaped like ``f``'s output, or a
        number given to every output. The outputs come first (their seeds
        ``ȳ``), then ``v_l`` down to the inputs, whose adjoints are
        ``ȳ · ∂y/∂x``. The adjoints come from a backward sweep of the
        tape; with ``formulas`` the table also shows each adjoint's formula.

        >>> import dualdiff as dd
        >>> t = dd.trace(lambda a, b: a * b + a, (2.0, 3.0)).reverse_table()
        >>> [(r["variable"], r["adjoint"]) for r in t.rows]
        [('y', 1.0), ('v_2', 1.0), ('v_1', 1.0), ('v_0', 2.0), ('v_{-1}', 4.0)]
        """
        bars = self._y_bars(y_bar)
        adjoints = self._adjoints(bars)
        users = self._users() if formulas else {}
        base, base_tex = self._base_rows()
        rows, tex = [], []
        for o, g in zip(self.outputs, bars):
            r, t = self._output_row(o)
            r["adjoint"] = g
            if formulas:
                r["adjoint_formula"], t["adjoint_formula"] = _text_and_tex(name_sym(o.name, BAR))
            rows.append(r)
            tex.append(t)
        for s, row, t in reversed(list(zip(self.steps, base, base_tex))):
            row["adjoint"] = adjoints[s.index + self.n - 1]
            if formulas:
                row["adjoint_formula"], t["adjoint_formula"] = _text_and_tex(self._adjoint_sym(s, users))
            rows.append(row)
            tex.append(t)
        columns = _COLUMNS + ([_ADJOINT_FORMULA] if formulas else []) + [_ADJOINT]
        if is_number(y_bar) and len(self.outputs) > 1:
            shown = f"ȳ = {format_value(y_bar)} on every output"
        else:
            shown = ", ".join(f"{marked(o.name, BAR)} = {format_value(g)}" for o, g in zip(self.outputs, bars))
        title = f"Reverse mode: adjoints of {self.f_name} at {self._at()} for {shown or 'no outputs'}, in sweep order"
        return Table(columns, rows, title=title, latex_cells=tex)

    def taylor_table(self, v: Any = None, order: int = 2) -> Table:
        """Taylor coefficients of every variable along the seed direction ``v`` (Taylor mode).

        Row ``v_i`` shows the coefficients ``v_{i,0} … v_{i,d}`` of
        ``v_i(t) = v_{i,0} + v_{i,1} t + … + v_{i,d} t^d``, the variable along
        the line ``x + t v`` (the table of Griewank & Walther, ch. 13):
        ``v_{i,1}`` is the tangent of :meth:`forward_table`, ``k! v_{i,k}`` the
        k-th directional derivative. ``v`` is given as for :meth:`forward_table`.
        The coefficients come from running the recorded program once on Taylor
        numbers (:func:`dualdiff.taylor`).

        >>> import dualdiff as dd
        >>> t = dd.trace(lambda x: x ** 3, 2.0).taylor_table(order=3)
        >>> print(t.to_text())
        Taylor mode: coefficients of t^k in v_i(x + t ẋ) for f at x = 2, the seed ẋ = 1, order 3
        variable  operation  value  t^1  t^2  t^3
        --------  ---------  -----  ---  ---  ---
        v_0       x              2    1    0    0
        v_1       v_0 ** 3       8   12    6    1
        y         v_1            8   12    6    1
        """
        seed = self._seed(v, "taylor_table")
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
            raise ValueError(f"taylor_table needs an order >= 1, got {order!r}")
        d = int(order)
        if self.n:
            coefficients = taylor(self._run, tuple(leaves(self.x)), tuple(seed), order=d)
        else:
            coefficients = (tuple(s.value for s in self.steps),) + ((),) * d
        rows, tex = self._base_rows()
        for row, s in zip(rows, self.steps):
            for k in range(1, d + 1):
                row[f"t{k}"] = coefficients[k][s.index + self.n - 1]
        for o in self.outputs:
            r, t = self._output_row(o)
            for k in range(1, d + 1):
                if o.source[0] == "var":
                    r[f"t{k}"] = coefficients[k][o.source[1] + self.n - 1]
                else:
                    r[f"t{k}"] = _zeros_like(o.value)
            rows.append(r)
            tex.append(t)
        columns = _COLUMNS + [Column(f"t{k}", f"t^{k}", f"$t^{{{k}}}$", kind="number") for k in range(1, d + 1)]
        seeds = ", ".join(f"{marked(n, DOT)} = {format_value(s)}" for n, s in zip(self.names, seed))
        dots = " ".join(marked(n, DOT) for n in self.names) if self.n == 1 else "ẋ"
        title = (
            f"Taylor mode: coefficients of t^k in v_i(x + t {dots}) for {self.f_name} at {self._at()}, "
            f"the seed {seeds}, order {d}"
        )
        return Table(columns, rows, title=title, latex_cells=tex)

    def _adjoints(self, bars: list[Any]) -> list[Any]:
        """Every variable's adjoint (inputs first), from one backward sweep of the program run on a tape.

        The sweep keeps the intermediates' adjoints (``keep_intermediates``).
        """
        assert self.program is not None
        tape = Tape()
        env = self.program.evaluate(_tree_like(self.x, [tape.var(v) for v in leaves(self.x)]))
        seeds = []
        for o, g in zip(self.outputs, bars):
            if o.source[0] == "var":
                v = env[o.source[1] + self.n - 1]
                if isinstance(v, Var) and v.tape is tape:
                    seeds.append((v.index, g))
        if not seeds:
            return [_zeros_like(s.value) for s in self.steps]
        adj = tape.sweep(seeds, keep_intermediates=True)
        out = []
        for s, v in zip(self.steps, env):
            g = adj[v.index] if isinstance(v, Var) and v.tape is tape else None
            out.append(_zeros_like(s.value) if g is None else g)
        return out

    # -- seeds -----------------------------------------------------------
    def _seed(self, v: Any, who: str = "forward_table") -> list[Any]:
        xl = leaves(self.x)
        if v is None:
            if len(xl) == 1 and np.ndim(xl[0]) == 0:
                return [1.0]
            raise ValueError(
                f"{who} needs a seed direction v for {len(xl)} input(s) {', '.join(self.names)}: "
                "v shaped like x, an input's name, or a dict {name: tangent}"
            )
        if isinstance(v, str):
            if v not in self.names:
                raise ValueError(f"v={v!r} names no input; the inputs are {', '.join(self.names)}")
            i = self.names.index(v)
            if np.ndim(xl[i]) != 0:
                raise ValueError(f"v={v!r} names an array input of shape {np.shape(xl[i])}; pass v shaped like x")
            return [1.0 if j == i else _zeros_like(a) for j, a in enumerate(xl)]
        if isinstance(v, dict):
            unknown = [k for k in v if k not in self.names]
            if unknown:
                raise ValueError(f"v names no input {unknown}; the inputs are {', '.join(self.names)}")
            out = []
            for name, a in zip(self.names, xl):
                t = check_input(f"v[{name!r}]", v.get(name, _zeros_like(a)))
                check_like(f"v[{name!r}]", t, name, a)
                out.append(t)
            return out
        v = check_input("v", v)
        check_like("v", v, "x", self.x)
        return leaves(v)

    def _y_bars(self, y_bar: Any) -> list[Any]:
        if not isinstance(y_bar, (tuple, list)) and np.ndim(y_bar) == 0 and is_number(y_bar):
            return [np.full(np.shape(o.value), y_bar) if np.ndim(o.value) else y_bar for o in self.outputs]
        y_bar = check_input("y_bar", y_bar)
        bars = []
        for o in self._out_leaves_shaped(y_bar):
            bars.extend(o)
        return bars

    def _out_leaves_shaped(self, y_bar: Any) -> list[list[Any]]:
        """Split ``y_bar`` (shaped like f's output) into one cotangent per output row.

        An output array built of separate values (``np.array([y1, y2])``) has
        one row per element, so its cotangent is split element by element.
        """
        assert self.program is not None
        check_like("y_bar", y_bar, "f(x)", self.y)
        out = []
        for o, g in zip(self.program.outputs, leaves(y_bar)):
            if isinstance(o, ArrayOutput):
                out.append([np.asarray(g)[idx] for idx in np.ndindex(o.shape)])
            else:
                out.append([g])
        return out

    # -- formulas ----------------------------------------------------------
    def _partial_syms(self, s: Step) -> list[Any]:
        """The local partials of step ``s`` as formulas (None for constant operands)."""
        if s.index in self._partials:
            return self._partials[s.index]
        rule = s.rule
        assert isinstance(rule, Elementwise)
        active = [kind == "var" for kind, _ in s.operands]
        if rule.signs is not None:
            result: list[Any] = [sg if a else None for sg, a in zip(rule.signs, active)]
        else:
            args = [var_sym(ref) if kind == "var" else ref for kind, ref in s.operands]
            y = var_sym(s.index)
            result = []
            numeric: list[Any] | None = None
            for i, (p, a) in enumerate(zip(rule.partials, active)):
                if not a:
                    result.append(None)
                    continue
                try:
                    result.append(p(SYMBOLIC, y, *args))
                except Exception:  # a partial the symbolic namespace cannot express: its value
                    if numeric is None:
                        primals = [self.step(ref).value if kind == "var" else ref for kind, ref in s.operands]
                        numeric = local(rule, backend_for(primals), primals, active)[1]
                    result.append(to_sym(numeric[i]))
        self._partials[s.index] = result
        return result

    def _tangent_sym(self, s: Step) -> Any:
        if s.kind == "input":
            return name_sym(s.label or "x", DOT)
        rule = s.rule
        if isinstance(rule, Elementwise):
            total: Any = 0
            for (kind, ref), c in zip(s.operands, self._partial_syms(s)):
                if kind == "var":
                    total = sym_add(total, sym_mul(c, var_sym(ref, DOT)))
            return total
        if isinstance(rule, Linear):
            return structural(rule, [var_sym(s.operands[0][1], DOT)], s.params, self._ndim(s))
        if isinstance(rule, Nondiff):
            return 0  # a function of values: no derivative
        terms: Any = 0
        for kind, ref in s.operands:
            if kind == "var":
                d = Sym(
                    f"∂{var_text(s.index)}/∂{var_text(ref)} · {var_text(ref, DOT)}",
                    PREC_MUL,
                    rf"\frac{{\partial {var_tex(s.index)}}}{{\partial {var_tex(ref)}}} {var_tex(ref, DOT)}",
                    PREC_MUL,
                )
                terms = sym_add(terms, d)
        return terms

    def _users(self) -> dict[int, list[tuple[str, Any, int]]]:
        """For each step, who reads it: ``("output", Output, 0)`` or ``("step", Step, position)``."""
        users: dict[int, list[tuple[str, Any, int]]] = {s.index: [] for s in self.steps}
        for o in self.outputs:
            if o.source[0] == "var":
                users[o.source[1]].append(("output", o, 0))
        for s in self.steps[self.n :]:
            for pos, (kind, ref) in enumerate(s.operands):
                if kind == "var":
                    users[ref].append(("step", s, pos))
        return users

    def _adjoint_sym(self, s: Step, users: dict[int, list[tuple[str, Any, int]]]) -> Any:
        total: Any = 0
        for kind, user, pos in users[s.index]:
            if kind == "output":
                total = sym_add(total, name_sym(user.name, BAR))
                continue
            rule = user.rule
            bar = var_sym(user.index, BAR)
            if isinstance(rule, Elementwise):
                total = sym_add(total, sym_mul(self._partial_syms(user)[pos], bar))
            elif isinstance(rule, Linear):
                extra = param_text(rule, user.params, self._ndim(user))
                if extra and rule.name == "getitem":
                    extra = f"[{extra}]"
                text = f"{rule.name}ᵀ({bar.text}" + (f", {extra})" if extra else ")")
                targs = bar.tex + (rf", \text{{{tex_escape(extra)}}}" if extra else "")
                tex = rf"\operatorname{{{tex_escape(rule.name)}}}^{{\top}}\left({targs}\right)"
                total = sym_add(total, Sym(text, PREC_ATOM, tex, PREC_ATOM))
            else:
                term = Sym(
                    f"{bar.text} · ∂{var_text(user.index)}/∂{var_text(s.index)}",
                    PREC_MUL,
                    rf"{bar.tex} \frac{{\partial {var_tex(user.index)}}}{{\partial {var_tex(s.index)}}}",
                    PREC_MUL,
                )
                total = sym_add(total, term)
        return total


_COLUMNS = [
    Column("variable", "variable", "variable"),
    Column("operation", "operation", "operation", kind="formula"),
    Column("value", "value", "value", kind="number"),
]
_TANGENT_FORMULA = Column("tangent_formula", "tangent formula", r"$\dot{v}_i$", kind="formula")
_TANGENT = Column("tangent", "tangent", "tangent", kind="number")
_ADJOINT_FORMULA = Column("adjoint_formula", "adjoint formula", r"$\bar{v}_i$", kind="formula")
_ADJOINT = Column("adjoint", "adjoint", "adjoint", kind="number")


def _text_and_tex(sym: Any) -> tuple[str, str]:
    s = to_sym(sym)
    return s.text, f"${s.tex}$"


def _source_sym(source: tuple[str, Any]) -> Sym:
    return var_sym(source[1]) if source[0] == "var" else to_sym(source[1])


def _zeros_like(value: Any) -> Any:
    return np.zeros(np.shape(value)) if np.ndim(value) else 0.0


def _tree_like(x: Any, new_leaves: list[Any]) -> Any:
    return rebuild(x, new_leaves)


# ==========================================================================
# recording
# ==========================================================================


def trace(
    f: Callable[..., Any], x: Any, names: Sequence[str] | None = None, output_names: Sequence[str] | None = None
) -> Trace:
    """Record the evaluation trace (Wengert list) of ``f`` at ``x``.

    ``f`` is called as the transforms call it, ``f(x)``, except that a
    function with two or more required positional parameters and a tuple
    ``x`` of that many items is called ``f(*x)`` (so ``lambda x1, x2: ...``
    works). Each leaf of ``x`` is one input variable; an array leaf is one
    array-valued variable. Inputs are named by ``names`` (one per leaf), else
    by f's parameter names (``x1, x2`` for the leaves of a tuple ``x`` passed
    to ``f(x)``). Outputs are named ``y`` (one) or ``y_1 … y_m``, or by
    ``output_names``.

    >>> import dualdiff as dd
    >>> tr = dd.trace(lambda x: x[0] * x[1], (2.0, 3.0), names=("a", "b"))
    >>> [s.operation for s in tr.steps], tr.y
    (['a', 'b', 'v_{-1} * v_0'], 6.0)
    """
    if not callable(f):
        raise TypeError(f"trace needs a callable f, got {type(f).__name__}: {f!r:.80}")
    x = check_input("x", x)
    sig = positional_parameters(f)
    unpack = False
    if sig is not None and isinstance(x, (tuple, list)):
        pnames, required, star = sig
        unpack = required >= 2 and (required <= len(x) <= len(pnames) or (star and len(x) >= required))
    prog, _ = record(f, x, names, unpack, checked=True)
    n = prog.n
    env = prog.evaluate(x)

    steps: list[Step] = []
    for k, name in enumerate(prog.names):
        idx = k - n + 1
        steps.append(Step(idx, var_text(idx), "input", env[k], name, name_tex(name), label=name))
    for eq in prog.equations:
        idx = prog.index(eq.out)
        operands = tuple(("var", prog.index(a)) if isinstance(a, int) else ("const", a.value) for a in eq.inputs)
        for kind, val in operands:
            if kind == "const" and isinstance(val, Lifted):
                raise ValueError(
                    f"trace: f combines its input with a {type(val).__name__} of another derivative level "
                    f"(in {eq.rule.name}); trace functions of plain numbers and arrays"
                )
        text, latex = prog.operation(eq)
        steps.append(Step(idx, var_text(idx), "intermediate", env[eq.out], text, latex, eq.rule, operands, eq.params))

    atoms = prog.output_atoms()
    if output_names is None:
        onames = ["y"] if len(atoms) == 1 else [f"y_{i + 1}" for i in range(len(atoms))]
    else:
        onames = list(output_names)
        if len(onames) != len(atoms):
            raise ValueError(f"output_names gives {len(onames)} name(s) for {len(atoms)} output(s): {onames!r}")
    tr = Trace(prog.f_name, x, prog.names, steps, [], prog.assemble(env), program=prog)
    for name, a in zip(onames, atoms):
        src = ("var", prog.index(a)) if isinstance(a, int) else ("const", a.value)
        value = env[a] if isinstance(a, int) else a.value
        tr.outputs.append(Output(name, name_tex(name), src, value))
    return tr
