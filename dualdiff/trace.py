"""Evaluation traces (Wengert lists) and their worked tangent and adjoint tables.

``dd.trace(f, x)`` runs ``f`` once on a recording tape
(``Tape(record_ops=True)``) and turns the recorded primitives into the
numbered list the AD textbooks print: inputs ``v_{1-n} … v_0``, intermediates
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

* the primal values: the recording itself (``Tape(record_ops=True)``
  keeps each step's value);
* the tangents: the recorded primitives replayed on dual numbers
  (:func:`dualdiff.jvp`), so forward mode reads the same rules;
* the adjoints: a backward sweep of the recorded tape that keeps every
  intermediate adjoint (``Tape.sweep(..., keep_intermediates=True)``),
  listed in the order the sweep completes them (outputs first, then ``v_l``
  down to ``v_{1-n}``).

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

import inspect
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np

from .backends import backend_for
from .core import Lifted, apply, apply_general, apply_linear
from .evaluate import local
from .rules import TABLE, Elementwise, General, Linear, Rule
from .tables import Column, Table, format_value
from .tape import Tape
from .transforms import jvp
from .tree import check_input, check_like, leaves, output_leaves, rebuild

__all__ = ["Output", "Step", "Trace", "trace"]

_DOT = "\u0307"  # combining dot above: v̇
_BAR = "\u0304"  # combining macron: v̄

# ==========================================================================
# symbolic formulas, in plain text and LaTeX at once
# ==========================================================================

_ADD, _MUL, _NEG, _POW, _ATOM = 1, 2, 3, 4, 5


def _is_num(x: Any) -> bool:
    return (
        isinstance(x, (int, float, complex, np.number, mpmath.mpf, mpmath.mpc))
        and not isinstance(x, (bool, np.bool_))
        and not isinstance(x, Sym)
    )


def _num_text(x: Any) -> str:
    """A constant as it reads in a formula: ``2`` for 2.0, six digits at most."""
    if isinstance(x, np.ndarray):
        return format_value(x, 4)
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        f = float(x)
        if f.is_integer() and abs(f) < 1e15:
            return str(int(f))
        r = repr(f)
        return r if len(r) <= 8 else f"{f:.6g}"
    return format_value(x, 6)


def _latex_num(text: str) -> str:
    text = text.replace("inf", r"\infty").replace("…", r"\ldots")
    return re.sub(
        r"e([+-])0*(\d+)", lambda m: r" \times 10^{" + ("-" if m.group(1) == "-" else "") + m.group(2) + "}", text
    )


class Sym:
    """A formula, held as plain text and as LaTeX, with operator precedences.

    Arithmetic on Syms and numbers builds new Syms and folds the trivial
    cases (``1 * a``, ``a + 0``, ``a ** 1``), so a rule's partial evaluated
    on Syms reads as a textbook formula.

    >>> a, b = Sym.atom("v_0", "v_{0}"), Sym.atom("v_1", "v_{1}")
    >>> str(1 * a + b * 2 ** 1), (a / b).tex
    ('v_0 + v_1 * 2', '\\\\frac{v_{0}}{v_{1}}')
    """

    __slots__ = ("den", "negated", "num", "prec", "tex", "text", "tprec")
    #: NumPy scalars and arrays defer to Sym's reflected operators.
    __array_ufunc__ = None

    def __init__(self, text: str, prec: int, tex: str, tprec: int) -> None:
        self.text, self.prec, self.tex, self.tprec = text, prec, tex, tprec
        self.negated: Sym | None = None  # set when this is -negated
        self.num: Any = None  # set with den when this is num / den
        self.den: Sym | None = None

    @classmethod
    def atom(cls, text: str, tex: str | None = None) -> Sym:
        """A symbol that never needs parentheses.

        >>> Sym.atom("x").text
        'x'
        """
        return cls(text, _ATOM, text if tex is None else tex, _ATOM)

    def __repr__(self) -> str:
        return f"Sym({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def __add__(self, other: Any) -> Any:
        return _add(self, other)

    def __radd__(self, other: Any) -> Any:
        return _add(other, self)

    def __sub__(self, other: Any) -> Any:
        return _sub(self, other)

    def __rsub__(self, other: Any) -> Any:
        return _sub(other, self)

    def __mul__(self, other: Any) -> Any:
        return _mul(self, other)

    def __rmul__(self, other: Any) -> Any:
        return _mul(other, self)

    def __truediv__(self, other: Any) -> Any:
        return _div(self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return _div(other, self)

    def __pow__(self, other: Any) -> Any:
        return _pow(self, other)

    def __rpow__(self, other: Any) -> Any:
        return _pow(other, self)

    def __neg__(self) -> Any:
        return _neg(self)

    def __pos__(self) -> Any:
        return self


def _sym(x: Any) -> Sym:
    """A number or array constant as a Sym (negative reals as negations)."""
    if isinstance(x, Sym):
        return x
    if _is_num(x) and not isinstance(x, (complex, np.complexfloating, mpmath.mpc)) and x < 0:
        return _neg(_sym(-x))
    text = _num_text(x)
    s = Sym.atom(text, _latex_num(text))
    if isinstance(x, (complex, np.complexfloating, mpmath.mpc)):
        s.prec = s.tprec = _ADD  # 1+2j reads as a sum
    return s


def _zero(x: Any) -> bool:
    return _is_num(x) and x == 0


def _one(x: Any) -> bool:
    return _is_num(x) and x == 1


def _minus_one(x: Any) -> bool:
    return _is_num(x) and x == -1


_OPS = {"+": (_ADD, " + ", " + "), "-": (_ADD, " - ", " - "), "*": (_MUL, " * ", r" \cdot "), "/": (_MUL, " / ", "")}


def _paren(text: str, prec: int, need: bool, tex: bool = False) -> str:
    if not need:
        return text
    return rf"\left({text}\right)" if tex else f"({text})"


def _binary(a: Sym, b: Sym, op: str) -> Sym:
    if op == "**":
        text = f"{_paren(a.text, a.prec, a.prec <= _POW)} ** {_paren(b.text, b.prec, b.prec < _POW)}"
        tex = f"{_paren(a.tex, a.tprec, a.tprec <= _POW, True)}^{{{b.tex}}}"
        return Sym(text, _POW, tex, _POW)
    prec, sep, tsep = _OPS[op]
    strict = op in "-/"  # a - (b - c), a / (b * c) need their parentheses
    right_plain = b.prec < prec or (strict and b.prec == prec) or b.prec == _NEG
    text = f"{_paren(a.text, a.prec, a.prec < prec)}{sep}{_paren(b.text, b.prec, right_plain)}"
    if op == "/":
        return Sym(text, prec, rf"\frac{{{a.tex}}}{{{b.tex}}}", _ATOM)
    right_tex = b.tprec < prec or (strict and b.tprec == prec) or b.tprec == _NEG
    tex = f"{_paren(a.tex, a.tprec, a.tprec < prec, True)}{tsep}{_paren(b.tex, b.tprec, right_tex, True)}"
    return Sym(text, prec, tex, prec)


def _add(a: Any, b: Any) -> Any:
    if _zero(a):
        return b
    if _zero(b):
        return a
    a, b = _sym(a), _sym(b)
    if b.negated is not None:
        return _binary(a, b.negated, "-")
    return _binary(a, b, "+")


def _sub(a: Any, b: Any) -> Any:
    if _zero(b):
        return a
    if _zero(a):
        return _neg(b)
    a, b = _sym(a), _sym(b)
    if b.negated is not None:
        return _add(a, b.negated)
    return _binary(a, b, "-")


def _mul(a: Any, b: Any) -> Any:
    if _zero(a) or _zero(b):
        return 0
    if _one(a):
        return b
    if _one(b):
        return a
    if _minus_one(a):
        return _neg(b)
    if _minus_one(b):
        return _neg(a)
    a, b = _sym(a), _sym(b)
    if a.negated is not None:
        return _neg(_mul(a.negated, b))
    if b.negated is not None:
        return _neg(_mul(a, b.negated))
    if a.den is not None:  # (n / d) * b reads better as n * b / d
        return _div(_mul(a.num, b), a.den)
    if b.den is not None:
        return _div(_mul(a, b.num), b.den)
    return _binary(a, b, "*")


def _div(a: Any, b: Any) -> Any:
    if _one(b):
        return a
    if _zero(a):
        return 0
    a, b = _sym(a), _sym(b)
    if a.negated is not None:
        return _neg(_div(a.negated, b))
    if b.negated is not None:
        return _neg(_div(a, b.negated))
    r = _binary(a, b, "/")
    r.num, r.den = (1 if a.text == "1" else a), b
    return r


def _pow(a: Any, b: Any) -> Any:
    if _one(b):
        return a
    if _zero(b):
        return 1
    return _binary(_sym(a), _sym(b), "**")


def _neg(a: Any) -> Any:
    if not isinstance(a, Sym):
        if _is_num(a):
            return -a
        a = _sym(a)
    if a.negated is not None:
        return a.negated
    r = Sym(
        "-" + _paren(a.text, a.prec, a.prec <= _ADD), _NEG, "-" + _paren(a.tex, a.tprec, a.tprec <= _ADD, True), _NEG
    )
    r.negated = a
    return r


#: LaTeX for the functions of the rule table that have a standard notation.
_LATEX_FUNCTIONS = {
    "sin": r"\sin",
    "cos": r"\cos",
    "tan": r"\tan",
    "sinh": r"\sinh",
    "cosh": r"\cosh",
    "tanh": r"\tanh",
    "arcsin": r"\arcsin",
    "arccos": r"\arccos",
    "arctan": r"\arctan",
    "exp": r"\exp",
    "log": r"\ln",
    "log2": r"\log_2",
    "log10": r"\log_{10}",
}
_OPERATOR_FUNCS: dict[str, Callable[..., Any]] = {
    "add": _add,
    "sub": _sub,
    "mul": _mul,
    "truediv": _div,
    "pow": _pow,
    "neg": _neg,
    "pos": lambda a: a,
}
_CALL_FORM = re.compile(r"\w+\(.*\)")
_PLACEHOLDER = re.compile(r"\{(\d+)\}")


def _fill(template: str, args: Sequence[str], precs: Sequence[int], tex: bool) -> str:
    """Put ``args`` into a rule template; compound arguments get parentheses
    unless the template is a function call."""
    call = bool(_CALL_FORM.fullmatch(template))

    def put(m: re.Match[str]) -> str:
        i = int(m.group(1))
        if i >= len(args):
            return m.group(0)
        text = args[i]
        if not call and precs[i] < _ATOM:
            text = _paren(text, precs[i], True, tex)
        if tex and m.start() > 0 and template[m.start() - 1] == "^":
            text = "{" + text + "}"
        return text

    return _PLACEHOLDER.sub(put, template)


def _call_sym(rule: Rule, args: Sequence[Any]) -> Any:
    """``rule(*args)`` for an elementwise rule, as a formula in the notation of its template."""
    if rule.name in _OPERATOR_FUNCS:
        return _OPERATOR_FUNCS[rule.name](*args)
    syms = [_sym(a) for a in args]
    text = _fill(rule.template, [s.text for s in syms], [s.prec for s in syms], tex=False)
    prec = _ATOM if _CALL_FORM.fullmatch(rule.template) else _ADD
    return Sym(text, prec, _latex_call(rule, syms), prec)


def _latex_call(rule: Rule, syms: Sequence[Sym]) -> str:
    """LaTeX for an elementwise rule applied to ``syms``."""
    name = rule.name
    t = [s.tex for s in syms]
    if name in _OPERATOR_FUNCS:
        return _operator_tex(name, syms)
    if name == "sqrt":
        return rf"\sqrt{{{t[0]}}}"
    if name == "cbrt":
        return rf"\sqrt[3]{{{t[0]}}}"
    if name == "abs":
        return rf"\lvert {t[0]} \rvert"
    if name in _LATEX_FUNCTIONS:
        return rf"{_LATEX_FUNCTIONS[name]}\left({', '.join(t)}\right)"
    if _CALL_FORM.fullmatch(rule.template):
        return rf"\operatorname{{{name}}}\left({', '.join(t)}\right)"
    return _fill(rule.template, t, [s.tprec for s in syms], True)


def _operator_tex(name: str, ops: Sequence[Sym]) -> str:
    """LaTeX for an arithmetic step, written as recorded (nothing folded)."""
    t = [o.tex if o.tprec >= _ATOM else rf"\left({o.tex}\right)" for o in ops]
    if name == "neg":
        return f"-{t[0]}"
    if name == "pos":
        return f"+{t[0]}"
    if name == "pow":
        return f"{t[0]}^{{{ops[1].tex}}}"
    if name == "truediv":
        return rf"\frac{{{ops[0].tex}}}{{{ops[1].tex}}}"
    sep = {"add": " + ", "sub": " - ", "mul": r" \cdot "}[name]
    return sep.join(t)


def _structural(rule: Rule, operands: Sequence[Sym], params: tuple[Any, ...], ndim: int | None = None) -> Sym:
    """A linear or general rule applied to ``operands``, with its parameters shown.

    ``getitem`` reads ``v_0[1:3]``, reductions ``sum(v_2, axis=0)`` (the axis
    left out when everything is summed; ``ndim`` is the operand's), einsum
    ``einsum('ij,jk->ik', v_0, v_1)``; other parameters follow the operands.
    """
    name = rule.name
    texts, texs = [o.text for o in operands], [o.tex for o in operands]
    if name == "getitem":
        idx = _index_text(params[0]) if params else ""
        return Sym(f"{texts[0]}[{idx}]", _ATOM, f"{texs[0]}[{_tex_escape(idx)}]", _ATOM)
    template = rule.template
    if "{0}, ..." in template:  # variadic: einsum, concatenate
        template = template.replace("{0}, ...", ", ".join(f"{{{i}}}" for i in range(len(operands))))
    used = max((int(m) for m in _PLACEHOLDER.findall(template)), default=-1) + 1
    shown = [_param_value(p) for p in params[: max(used - len(operands), 0)]]
    rest = _param_text(rule, params[max(used - len(operands), 0) :], ndim)
    if name == "einsum" and len(params) == 2:
        ins, out = params
        spec = ",".join(str(i) for i in ins) + "->" + str(out)
        rest, texts, texs = "", [repr(spec)] + texts, [rf"\texttt{{{_tex_escape(repr(spec))}}}"] + texs
        template = "einsum(" + ", ".join(f"{{{i}}}" for i in range(len(texts))) + ")"
    text = _fill(
        template,
        texts + shown,
        [o.prec for o in operands] + [_ATOM] * (len(texts) - len(operands) + len(shown)),
        tex=False,
    )
    call = bool(_CALL_FORM.fullmatch(template))
    if rest and call:
        text = text[:-1] + ", " + rest + ")"
    elif rest:
        text = f"{text} ({rest})"
    tex_args = texs + [rf"\text{{{_tex_escape(t)}}}" for t in shown]
    if name == "matmul":
        tex = " ".join(t if o.tprec >= _ATOM else rf"\left({t}\right)" for t, o in zip(texs, operands))
    elif name == "inv":
        tex = rf"{texs[0]}^{{-1}}"
    elif name == "det":
        tex = rf"\det\left({texs[0]}\right)"
    elif name == "logabsdet":
        tex = rf"\log\left\lvert\det\left({texs[0]}\right)\right\rvert"
    elif call:
        fname = template[: template.index("(")]
        inner = _fill(template[template.index("(") + 1 : -1], tex_args, [_ATOM] * len(tex_args), True)
        if rest:
            inner += rf", \text{{{_tex_escape(rest)}}}"
        tex = rf"\operatorname{{{_tex_escape(fname)}}}\left({inner}\right)"
    else:
        tex = _tex_escape(text)
    prec = _ATOM if call else _ADD
    return Sym(text, prec, tex, prec)


def _param_value(p: Any) -> str:
    """A static parameter as it reads in a formula (arrays compact)."""
    if isinstance(p, np.ndarray):
        return format_value(p, 4) if p.size > 4 else str(p.tolist())
    return repr(p)


def _tex_escape(text: str) -> str:
    return text.replace("_", r"\_").replace("{", r"\{").replace("}", r"\}")


class _SymbolicMath:
    """The math namespace ``m`` that makes a rule's partial return a formula."""

    def __getattr__(self, name: str) -> Any:
        rule = TABLE.get(name)
        if isinstance(rule, Elementwise):
            return lambda *args: _call_sym(rule, args)
        raise AttributeError(name)

    @staticmethod
    def const(like: Any, c: Any) -> Any:
        return c

    @staticmethod
    def pi(like: Any) -> Sym:
        return Sym.atom("π", r"\pi")

    @staticmethod
    def zero(like: Any) -> Any:
        return 0

    @staticmethod
    def xlogy(y: Any, x: Any) -> Any:
        return _mul(y, _call_sym(TABLE["log"], (x,)))

    @staticmethod
    def safe_div(a: Any, b: Any) -> Any:
        return _div(a, b)


_SYMBOLIC = _SymbolicMath()


# ==========================================================================
# names
# ==========================================================================

_GREEK = set(
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau "
    "upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split()
)


def _var_text(index: int, mark: str = "") -> str:
    sub = str(index) if 0 <= index <= 9 else f"{{{index}}}"
    return f"v{mark}_{sub}"


def _var_tex(index: int, mark: str = "") -> str:
    base = {"": "v", _DOT: r"\dot{v}", _BAR: r"\bar{v}"}[mark]
    return f"{base}_{{{index}}}"


def _var_sym(index: int, mark: str = "") -> Sym:
    return Sym.atom(_var_text(index, mark), _var_tex(index, mark))


def _name_tex(name: str, mark: str = "") -> str:
    """LaTeX for a variable name: ``x1`` -> ``x_{1}``, ``theta`` -> ``\\theta``."""
    m = re.fullmatch(r"([A-Za-z]+)_?(\d+)", name) or re.fullmatch(r"([A-Za-z]+)_([A-Za-z0-9]+)", name)
    letters, sub = (m.group(1), m.group(2)) if m else (name, None)
    if letters in _GREEK:
        base = "\\" + letters
    elif len(letters) == 1 and letters.isalpha():
        base = letters
    else:
        base = rf"\mathit{{{_tex_escape(letters)}}}"
    if mark:
        base = (r"\dot{" if mark == _DOT else r"\bar{") + base + "}"
    return base if not sub else f"{base}_{{{sub}}}"


def _marked(name: str, mark: str) -> str:
    """``x1`` with a dot or bar over its first letter: ``ẋ1``, ``ȳ_2`` (NFC-normalized)."""
    return unicodedata.normalize("NFC", name[0] + mark + name[1:]) if name else name


def _name_sym(name: str, mark: str = "") -> Sym:
    return Sym.atom(_marked(name, mark), _name_tex(name, mark))


# ==========================================================================
# the trace
# ==========================================================================


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
        src = _var_text(self.source[1]) if self.source[0] == "var" else _num_text(self.source[1])
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
    _partials: dict[int, list[Any]] = field(default_factory=dict, repr=False)
    #: The recording itself, kept for the reverse tables' sweeps, and the
    #: tape slot of every step.
    _tape: Tape | None = field(default=None, repr=False)
    _slots: list[int] = field(default_factory=list, repr=False)

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
        """Every step's value for the given input leaves: the recording replayed."""
        n = self.n
        vals = list(inputs)
        for s in self.steps[n:]:
            args = [vals[ref + n - 1] if kind == "var" else ref for kind, ref in s.operands]
            vals.append(_apply_rule(s.rule, args, s.params))  # type: ignore[arg-type]
        return tuple(vals)

    # -- the tables --------------------------------------------------------
    def _at(self) -> str:
        return ", ".join(f"{name} = {format_value(s.value)}" for name, s in zip(self.names, self.steps))

    def _base_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        rows, tex = [], []
        for s in self.steps:
            rows.append({"variable": s.name, "operation": s.operation, "value": s.value, "kind": s.kind})
            tex.append({"variable": f"${_var_tex(s.index)}$", "operation": f"${s.operation_latex}$"})
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
                sym = _var_sym(o.source[1], _DOT) if o.source[0] == "var" else 0
                r["tangent_formula"], t["tangent_formula"] = _text_and_tex(sym)
            rows.append(r)
            tex.append(t)
        columns = _COLUMNS + ([_TANGENT_FORMULA] if formulas else []) + [_TANGENT]
        seeds = ", ".join(f"{_marked(n, _DOT)} = {format_value(d)}" for n, d in zip(self.names, seed))
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
                r["adjoint_formula"], t["adjoint_formula"] = _text_and_tex(_name_sym(o.name, _BAR))
            rows.append(r)
            tex.append(t)
        for s, row, t in reversed(list(zip(self.steps, base, base_tex))):
            row["adjoint"] = adjoints[s.index + self.n - 1]
            if formulas:
                row["adjoint_formula"], t["adjoint_formula"] = _text_and_tex(self._adjoint_sym(s, users))
            rows.append(row)
            tex.append(t)
        columns = _COLUMNS + ([_ADJOINT_FORMULA] if formulas else []) + [_ADJOINT]
        if _is_num(y_bar) and len(self.outputs) > 1:
            shown = f"ȳ = {format_value(y_bar)} on every output"
        else:
            shown = ", ".join(f"{_marked(o.name, _BAR)} = {format_value(g)}" for o, g in zip(self.outputs, bars))
        title = f"Reverse mode: adjoints of {self.f_name} at {self._at()} for {shown or 'no outputs'}, in sweep order"
        return Table(columns, rows, title=title, latex_cells=tex)

    def _adjoints(self, bars: list[Any]) -> list[Any]:
        """Every variable's adjoint (inputs first), from one backward sweep of the recorded tape.

        The sweep keeps the intermediates' adjoints (``keep_intermediates``)
        and the tape (``retain_graph``), so each reverse table is one sweep.
        """
        seeds = [(self._slots[o.source[1] + self.n - 1], g) for o, g in zip(self.outputs, bars) if o.source[0] == "var"]
        if not seeds or self._tape is None:
            return [_zeros_like(s.value) for s in self.steps]
        adj = self._tape.sweep(seeds, retain_graph=True, keep_intermediates=True)
        return [_zeros_like(s.value) if adj[slot] is None else adj[slot] for s, slot in zip(self.steps, self._slots)]

    # -- seeds -----------------------------------------------------------
    def _seed(self, v: Any) -> list[Any]:
        xl = leaves(self.x)
        if v is None:
            if len(xl) == 1 and np.ndim(xl[0]) == 0:
                return [1.0]
            raise ValueError(
                f"forward_table needs a seed direction v for {len(xl)} input(s) {', '.join(self.names)}: "
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
        if not isinstance(y_bar, (tuple, list)) and np.ndim(y_bar) == 0 and _is_num(y_bar):
            return [np.full(np.shape(o.value), y_bar) if np.ndim(o.value) else y_bar for o in self.outputs]
        y_bar = check_input("y_bar", y_bar)
        bars = []
        for o in self._out_leaves_shaped(y_bar):
            bars.extend(o)
        return bars

    def _out_leaves_shaped(self, y_bar: Any) -> list[list[Any]]:
        """Split ``y_bar`` (shaped like f's output) into one cotangent per output."""
        yl = leaves(self.y)
        check_like("y_bar", y_bar, "f(x)", self.y)
        out = []
        for y, g in zip(yl, leaves(y_bar)):
            if isinstance(y, np.ndarray) and y.dtype == object:
                out.append([np.asarray(g)[idx] for idx in np.ndindex(y.shape)])
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
            args = [_var_sym(ref) if kind == "var" else ref for kind, ref in s.operands]
            y = _var_sym(s.index)
            result = []
            numeric: list[Any] | None = None
            for i, (p, a) in enumerate(zip(rule.partials, active)):
                if not a:
                    result.append(None)
                    continue
                try:
                    result.append(p(_SYMBOLIC, y, *args))
                except Exception:  # a partial the symbolic namespace cannot express: its value
                    if numeric is None:
                        primals = [self.step(ref).value if kind == "var" else ref for kind, ref in s.operands]
                        numeric = local(rule, backend_for(primals), primals, active)[1]
                    result.append(_sym(numeric[i]))
        self._partials[s.index] = result
        return result

    def _tangent_sym(self, s: Step) -> Any:
        if s.kind == "input":
            return _name_sym(s.label or "x", _DOT)
        rule = s.rule
        if isinstance(rule, Elementwise):
            total: Any = 0
            for (kind, ref), c in zip(s.operands, self._partial_syms(s)):
                if kind == "var":
                    total = _add(total, _mul(c, _var_sym(ref, _DOT)))
            return total
        if isinstance(rule, Linear):
            return _structural(rule, [_var_sym(s.operands[0][1], _DOT)], s.params, self._ndim(s))
        terms: Any = 0
        for kind, ref in s.operands:
            if kind == "var":
                d = Sym(
                    f"∂{_var_text(s.index)}/∂{_var_text(ref)} · {_var_text(ref, _DOT)}",
                    _MUL,
                    rf"\frac{{\partial {_var_tex(s.index)}}}{{\partial {_var_tex(ref)}}} {_var_tex(ref, _DOT)}",
                    _MUL,
                )
                terms = _add(terms, d)
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
                total = _add(total, _name_sym(user.name, _BAR))
                continue
            rule = user.rule
            bar = _var_sym(user.index, _BAR)
            if isinstance(rule, Elementwise):
                total = _add(total, _mul(self._partial_syms(user)[pos], bar))
            elif isinstance(rule, Linear):
                extra = _param_text(rule, user.params, self._ndim(user))
                if extra and rule.name == "getitem":
                    extra = f"[{extra}]"
                text = f"{rule.name}ᵀ({bar.text}" + (f", {extra})" if extra else ")")
                targs = bar.tex + (rf", \text{{{_tex_escape(extra)}}}" if extra else "")
                tex = rf"\operatorname{{{_tex_escape(rule.name)}}}^{{\top}}\left({targs}\right)"
                total = _add(total, Sym(text, _ATOM, tex, _ATOM))
            else:
                term = Sym(
                    f"{bar.text} · ∂{_var_text(user.index)}/∂{_var_text(s.index)}",
                    _MUL,
                    rf"{bar.tex} \frac{{\partial {_var_tex(user.index)}}}{{\partial {_var_tex(s.index)}}}",
                    _MUL,
                )
                total = _add(total, term)
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
    s = _sym(sym)
    return s.text, f"${s.tex}$"


def _source_sym(source: tuple[str, Any]) -> Sym:
    return _var_sym(source[1]) if source[0] == "var" else _sym(source[1])


def _zeros_like(value: Any) -> Any:
    return np.zeros(np.shape(value)) if np.ndim(value) else 0.0


def _apply_rule(rule: Rule, args: list[Any], params: tuple[Any, ...]) -> Any:
    """One primitive application, through the same dispatch the modes use."""
    if isinstance(rule, Elementwise):
        return apply(rule, *args)
    if isinstance(rule, Linear):
        return apply_linear(rule, args[0], *params)
    if isinstance(rule, General):
        return apply_general(rule, tuple(args), params)
    raise TypeError(f"trace cannot replay a rule of kind {type(rule).__name__}: {rule!r}")


def _index_text(index: Any) -> str:
    """``x[1:3, 0]``-style text for an index."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, slice):
            a = "" if p.start is None else str(p.start)
            b = "" if p.stop is None else str(p.stop)
            out.append(f"{a}:{b}" + ("" if p.step is None else f":{p.step}"))
        elif p is Ellipsis:
            out.append("...")
        elif p is None:
            out.append("None")
        elif isinstance(p, np.ndarray):
            out.append(format_value(p, 4) if p.size > 4 else str(p.tolist()))
        else:
            out.append(str(p))
    return ", ".join(out)


_REDUCTIONS = {"sum", "max", "min", "prod"}


def _param_text(rule: Rule, params: tuple[Any, ...], ndim: int | None = None) -> str:
    """The static parameters of a linear or general step, as they read after its operands."""
    if rule.name in _REDUCTIONS and len(params) in (1, 2):
        axis, keepdims = (tuple(params) + (False,))[:2]
        if isinstance(axis, (tuple, list)) and len(axis) == 1:
            axis = axis[0]
        everything = axis is None or (
            ndim is not None and sorted(a % ndim for a in np.atleast_1d(axis).tolist()) == list(range(ndim))
        )
        shown = ([] if everything else [f"axis={axis}"]) + (["keepdims=True"] if keepdims else [])
        return ", ".join(shown)
    if rule.name == "cumsum" and len(params) == 1:
        return f"axis={params[0]}"
    return ", ".join(_param_value(p) for p in params)


def _operation(rule: Rule, operands: Sequence[Sym], params: tuple[Any, ...], ndim: int | None) -> tuple[str, str]:
    """A step's operation as the rule's template writes it, nothing folded."""
    if isinstance(rule, Elementwise):
        text = _fill(rule.template, [o.text for o in operands], [o.prec for o in operands], tex=False)
        return text, _latex_call(rule, operands)
    s = _structural(rule, operands, params, ndim)
    return s.text, s.tex


# ==========================================================================
# recording
# ==========================================================================


def _positional(f: Callable[..., Any]) -> tuple[list[str], int, bool] | None:
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
    xl = leaves(x)
    sig = _positional(f)
    unpack = False
    if sig is not None and isinstance(x, (tuple, list)):
        pnames, required, star = sig
        unpack = required >= 2 and (required <= len(x) <= len(pnames) or (star and len(x) >= required))
    if names is None:
        if unpack:
            assert sig is not None
            pnames = sig[0] + [f"x{i + 1}" for i in range(len(sig[0]), len(x))]
            names = [n for p, item in zip(pnames, x) for n in _numbered(p, item)]
        else:
            base = sig[0][0] if sig is not None and sig[0] else "x"
            names = _numbered(base, x)
    else:
        if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
            raise TypeError(f"names must be a sequence of non-empty strings, got {names!r}")
        names = list(names)
        if len(names) != len(xl):
            raise ValueError(f"names gives {len(names)} name(s) for {len(xl)} input(s) (leaves of x): {names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"input names must be distinct, got {names!r}")

    tape = Tape(record_ops=True)
    inputs = [tape.var(a) for a in xl]
    xs = rebuild(x, inputs)
    out = f(*xs) if unpack else f(xs)
    assert tape.ops is not None
    n = len(xl)

    steps: list[Step] = []
    index_of: dict[int, int] = {}
    for k, (name, var) in enumerate(zip(names, inputs)):
        idx = k - n + 1
        index_of[var.index] = idx
        steps.append(Step(idx, _var_text(idx), "input", var.primal, name, _name_tex(name), label=name))
    for j, op in enumerate(tape.ops):
        idx = j + 1
        operands = []
        for kind, val in op.operands:
            if kind == "slot":
                operands.append(("var", index_of[val]))
            else:
                if isinstance(val, Lifted):
                    raise ValueError(
                        f"trace: f combines its input with a {type(val).__name__} of another derivative level "
                        f"(in {op.rule.name}); trace functions of plain numbers and arrays"
                    )
                operands.append(("const", val))
        index_of[op.out] = idx
        steps.append(Step(idx, _var_text(idx), "intermediate", None, "", "", op.rule, tuple(operands), op.params))

    f_name = getattr(f, "__name__", "f")
    if not isinstance(f_name, str) or not f_name.isidentifier():
        f_name = "f"  # a lambda
    tr = Trace(f_name, x, tuple(names), steps, [], None)
    tr._tape = tape
    tr._slots = [var.index for var in inputs] + [op.out for op in tape.ops]
    for s, op in zip(tr.intermediates, tape.ops):
        s.value = op.value  # the recorded value of each step
    for s in tr.intermediates:
        syms = [_var_sym(ref) if kind == "var" else _const_operand(ref) for kind, ref in s.operands]
        s.operation, s.operation_latex = _operation(s.rule, syms, s.params, tr._ndim(s))  # type: ignore[arg-type]

    # outputs: tape variables, object arrays of them, or constants
    sources: list[tuple[str, Any]] = []
    ys = []
    for o in output_leaves(out):
        if isinstance(o, np.ndarray) and o.dtype == object:
            for idx in np.ndindex(o.shape):
                sources.append(_output_source(o[idx], tape, index_of))
            ys.append(np.array([_strip(e, tape) for e in o.ravel()]).reshape(o.shape))
        else:
            sources.append(_output_source(o, tape, index_of))
            ys.append(_strip(o, tape))
    if output_names is None:
        onames = ["y"] if len(sources) == 1 else [f"y_{i + 1}" for i in range(len(sources))]
    else:
        onames = list(output_names)
        if len(onames) != len(sources):
            raise ValueError(f"output_names gives {len(onames)} name(s) for {len(sources)} output(s): {onames!r}")
    for name, src in zip(onames, sources):
        value = tr.step(src[1]).value if src[0] == "var" else src[1]
        tex = _name_tex(name)
        tr.outputs.append(Output(name, tex, src, value))
    tr.y = rebuild(out, ys)
    return tr


def _const_operand(value: Any) -> Sym:
    s = _sym(value)
    if s.prec < _ATOM:  # a negative constant as an operand: (-2)
        s = Sym(f"({s.text})", _ATOM, rf"\left({s.tex}\right)", _ATOM)
    return s


def _output_source(o: Any, tape: Tape, index_of: dict[int, int]) -> tuple[str, Any]:
    if isinstance(o, Lifted):
        if getattr(o, "tape", None) is tape:
            return ("var", index_of[o.index])  # type: ignore[attr-defined]
        raise ValueError(f"trace: f returned a {type(o).__name__} of another derivative level; trace plain functions")
    return ("const", o)


def _strip(o: Any, tape: Tape) -> Any:
    return o.primal if isinstance(o, Lifted) and getattr(o, "tape", None) is tape else o
