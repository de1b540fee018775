"""Symbolic formulas for the trace tables, in plain text and LaTeX at once.

The formula columns of :mod:`dualdiff.present.trace` (``cos(v_0) * v̇_0``) are built
by calling a rule's own partials with the symbolic namespace ``SYMBOLIC`` and
symbolic arguments (:class:`Sym`), so no derivative formula is written here:
this module only knows how to print sums, products, powers and calls with
the fewest parentheses, in both notations.

>>> a, b = Sym.atom("v_1"), Sym.atom("v_2")
>>> print(sym_mul(sym_add(a, b), b))
(v_1 + v_2) * v_2
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import numpy as np

from ..rules.kinds import TABLE, Elementwise, Rule
from .tabular import format_value

DOT = "\u0307"  # combining dot above: v̇
BAR = "\u0304"  # combining macron: v̄

# ==========================================================================
# symbolic formulas, in plain text and LaTeX at once
# ==========================================================================

PREC_ADD, PREC_MUL, PREC_NEG, PREC_POW, PREC_ATOM = 1, 2, 3, 4, 5


def is_number(x: Any) -> bool:
    return (
        isinstance(x, (int, float, complex, np.number, mpmath.mpf, mpmath.mpc))
        and not isinstance(x, (bool, np.bool_))
        and not isinstance(x, Sym)
    )


def number_text(x: Any) -> str:
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
        return cls(text, PREC_ATOM, text if tex is None else tex, PREC_ATOM)

    def __repr__(self) -> str:
        return f"Sym({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def __add__(self, other: Any) -> Any:
        return sym_add(self, other)

    def __radd__(self, other: Any) -> Any:
        return sym_add(other, self)

    def __sub__(self, other: Any) -> Any:
        return _sub(self, other)

    def __rsub__(self, other: Any) -> Any:
        return _sub(other, self)

    def __mul__(self, other: Any) -> Any:
        return sym_mul(self, other)

    def __rmul__(self, other: Any) -> Any:
        return sym_mul(other, self)

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


def to_sym(x: Any) -> Sym:
    """A number or array constant as a Sym (negative reals as negations)."""
    if isinstance(x, Sym):
        return x
    if is_number(x) and not isinstance(x, (complex, np.complexfloating, mpmath.mpc)) and x < 0:
        return _neg(to_sym(-x))
    text = number_text(x)
    s = Sym.atom(text, _latex_num(text))
    if isinstance(x, (complex, np.complexfloating, mpmath.mpc)):
        s.prec = s.tprec = PREC_ADD  # 1+2j reads as a sum
    return s


def _zero(x: Any) -> bool:
    return is_number(x) and x == 0


def _one(x: Any) -> bool:
    return is_number(x) and x == 1


def _minus_one(x: Any) -> bool:
    return is_number(x) and x == -1


_OPS = {
    "+": (PREC_ADD, " + ", " + "),
    "-": (PREC_ADD, " - ", " - "),
    "*": (PREC_MUL, " * ", r" \cdot "),
    "/": (PREC_MUL, " / ", ""),
}


def _paren(text: str, prec: int, need: bool, tex: bool = False) -> str:
    if not need:
        return text
    return rf"\left({text}\right)" if tex else f"({text})"


def _binary(a: Sym, b: Sym, op: str) -> Sym:
    if op == "**":
        text = f"{_paren(a.text, a.prec, a.prec <= PREC_POW)} ** {_paren(b.text, b.prec, b.prec < PREC_POW)}"
        tex = f"{_paren(a.tex, a.tprec, a.tprec <= PREC_POW, True)}^{{{b.tex}}}"
        return Sym(text, PREC_POW, tex, PREC_POW)
    prec, sep, tsep = _OPS[op]
    strict = op in "-/"  # a - (b - c), a / (b * c) need their parentheses
    right_plain = b.prec < prec or (strict and b.prec == prec) or b.prec == PREC_NEG
    text = f"{_paren(a.text, a.prec, a.prec < prec)}{sep}{_paren(b.text, b.prec, right_plain)}"
    if op == "/":
        return Sym(text, prec, rf"\frac{{{a.tex}}}{{{b.tex}}}", PREC_ATOM)
    right_tex = b.tprec < prec or (strict and b.tprec == prec) or b.tprec == PREC_NEG
    tex = f"{_paren(a.tex, a.tprec, a.tprec < prec, True)}{tsep}{_paren(b.tex, b.tprec, right_tex, True)}"
    return Sym(text, prec, tex, prec)


def sym_add(a: Any, b: Any) -> Any:
    if _zero(a):
        return b
    if _zero(b):
        return a
    a, b = to_sym(a), to_sym(b)
    if b.negated is not None:
        return _binary(a, b.negated, "-")
    return _binary(a, b, "+")


def _sub(a: Any, b: Any) -> Any:
    if _zero(b):
        return a
    if _zero(a):
        return _neg(b)
    a, b = to_sym(a), to_sym(b)
    if b.negated is not None:
        return sym_add(a, b.negated)
    return _binary(a, b, "-")


def sym_mul(a: Any, b: Any) -> Any:
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
    a, b = to_sym(a), to_sym(b)
    if a.negated is not None:
        return _neg(sym_mul(a.negated, b))
    if b.negated is not None:
        return _neg(sym_mul(a, b.negated))
    if a.den is not None:  # (n / d) * b reads better as n * b / d
        return _div(sym_mul(a.num, b), a.den)
    if b.den is not None:
        return _div(sym_mul(a, b.num), b.den)
    return _binary(a, b, "*")


def _div(a: Any, b: Any) -> Any:
    if _one(b):
        return a
    if _zero(a):
        return 0
    a, b = to_sym(a), to_sym(b)
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
    return _binary(to_sym(a), to_sym(b), "**")


def _neg(a: Any) -> Any:
    if not isinstance(a, Sym):
        if is_number(a):
            return -a
        a = to_sym(a)
    if a.negated is not None:
        return a.negated
    r = Sym(
        "-" + _paren(a.text, a.prec, a.prec <= PREC_ADD),
        PREC_NEG,
        "-" + _paren(a.tex, a.tprec, a.tprec <= PREC_ADD, True),
        PREC_NEG,
    )
    r.negated = a
    return r


#: LaTeX for the functions of the rule table that have a standard notation.
_OPERATOR_FUNCS: dict[str, Callable[..., Any]] = {
    "add": sym_add,
    "sub": _sub,
    "mul": sym_mul,
    "truediv": _div,
    "pow": _pow,
    "neg": _neg,
    "pos": lambda a: a,
}
_CALL_FORM = re.compile(r"\w+\(.*\)")
_PLACEHOLDER = re.compile(r"\{(\d+)\}")


def fill_template(template: str, args: Sequence[str], precs: Sequence[int], tex: bool) -> str:
    """Put ``args`` into a rule template; compound arguments get parentheses
    unless the template is a function call."""
    call = bool(_CALL_FORM.fullmatch(template))

    def put(m: re.Match[str]) -> str:
        i = int(m.group(1))
        if i >= len(args):
            return m.group(0)
        text = args[i]
        if not call and precs[i] < PREC_ATOM:
            text = _paren(text, precs[i], True, tex)
        if tex and m.start() > 0 and template[m.start() - 1] == "^":
            text = "{" + text + "}"
        return text

    return _PLACEHOLDER.sub(put, template)


def _call_sym(rule: Rule, args: Sequence[Any]) -> Any:
    """``rule(*args)`` for an elementwise rule, as a formula in the notation of its template."""
    if rule.name in _OPERATOR_FUNCS:
        return _OPERATOR_FUNCS[rule.name](*args)
    syms = [to_sym(a) for a in args]
    text = fill_template(rule.template, [s.text for s in syms], [s.prec for s in syms], tex=False)
    prec = PREC_ATOM if _CALL_FORM.fullmatch(rule.template) else PREC_ADD
    return Sym(text, prec, latex_call(rule, syms), prec)


def latex_call(rule: Rule, syms: Sequence[Sym]) -> str:
    """LaTeX for an elementwise rule applied to ``syms``."""
    name = rule.name
    t = [s.tex for s in syms]
    if name in _OPERATOR_FUNCS:
        return _operator_tex(name, syms)
    latex = getattr(rule, "latex", None)
    if latex is not None and "{0}" in latex:  # a template of its own: \sqrt{{0}}
        return _PLACEHOLDER.sub(lambda m: t[int(m.group(1))], latex)
    if latex is not None:  # a function name: \sin
        return rf"{latex}\left({', '.join(t)}\right)"
    if _CALL_FORM.fullmatch(rule.template):
        return rf"\operatorname{{{tex_escape(name)}}}\left({', '.join(t)}\right)"
    return fill_template(rule.template, t, [s.tprec for s in syms], True)


def _operator_tex(name: str, ops: Sequence[Sym]) -> str:
    """LaTeX for an arithmetic step, written as recorded (nothing folded)."""
    t = [o.tex if o.tprec >= PREC_ATOM else rf"\left({o.tex}\right)" for o in ops]
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


def structural(rule: Rule, operands: Sequence[Sym], params: tuple[Any, ...], ndim: int | None = None) -> Sym:
    """A linear or general rule applied to ``operands``, with its parameters shown.

    ``getitem`` reads ``v_0[1:3]``, reductions ``sum(v_2, axis=0)`` (the axis
    left out when everything is summed; ``ndim`` is the operand's), einsum
    ``einsum('ij,jk->ik', v_0, v_1)``; other parameters follow the operands.
    """
    name = rule.name
    texts, texs = [o.text for o in operands], [o.tex for o in operands]
    if name == "getitem":
        idx = index_text(params[0]) if params else ""
        return Sym(f"{texts[0]}[{idx}]", PREC_ATOM, f"{texs[0]}[{tex_escape(idx)}]", PREC_ATOM)
    template = rule.template
    if "{0}, ..." in template:  # variadic: einsum, concatenate
        template = template.replace("{0}, ...", ", ".join(f"{{{i}}}" for i in range(len(operands))))
    used = max((int(m) for m in _PLACEHOLDER.findall(template)), default=-1) + 1
    shown = [param_value(p) for p in params[: max(used - len(operands), 0)]]
    rest = param_text(rule, params[max(used - len(operands), 0) :], ndim)
    if name == "einsum" and len(params) == 2:
        ins, out = params
        spec = ",".join(str(i) for i in ins) + "->" + str(out)
        rest, texts, texs = "", [repr(spec)] + texts, [rf"\texttt{{{tex_escape(repr(spec))}}}"] + texs
        template = "einsum(" + ", ".join(f"{{{i}}}" for i in range(len(texts))) + ")"
    text = fill_template(
        template,
        texts + shown,
        [o.prec for o in operands] + [PREC_ATOM] * (len(texts) - len(operands) + len(shown)),
        tex=False,
    )
    call = bool(_CALL_FORM.fullmatch(template))
    if rest and call:
        text = text[:-1] + ", " + rest + ")"
    elif rest:
        text = f"{text} ({rest})"
    tex_args = texs + [rf"\text{{{tex_escape(t)}}}" for t in shown]
    if name == "matmul":
        tex = " ".join(t if o.tprec >= PREC_ATOM else rf"\left({t}\right)" for t, o in zip(texs, operands))
    elif name == "inv":
        tex = rf"{texs[0]}^{{-1}}"
    elif name == "det":
        tex = rf"\det\left({texs[0]}\right)"
    elif name == "logabsdet":
        tex = rf"\log\left\lvert\det\left({texs[0]}\right)\right\rvert"
    elif call:
        fname = template[: template.index("(")]
        inner = fill_template(template[template.index("(") + 1 : -1], tex_args, [PREC_ATOM] * len(tex_args), True)
        if rest:
            inner += rf", \text{{{tex_escape(rest)}}}"
        tex = rf"\operatorname{{{tex_escape(fname)}}}\left({inner}\right)"
    else:
        tex = tex_escape(text)
    prec = PREC_ATOM if call else PREC_ADD
    return Sym(text, prec, tex, prec)


def param_value(p: Any) -> str:
    """A static parameter as it reads in a formula (arrays compact)."""
    if isinstance(p, np.ndarray):
        return format_value(p, 4) if p.size > 4 else str(p.tolist())
    return repr(p)


def tex_escape(text: str) -> str:
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
        return sym_mul(y, _call_sym(TABLE["log"], (x,)))

    @staticmethod
    def safe_div(a: Any, b: Any) -> Any:
        return _div(a, b)

    @staticmethod
    def dpow(a: Any, b: Any) -> Any:
        return b * a ** (b - 1)


SYMBOLIC = _SymbolicMath()


# ==========================================================================
# names
# ==========================================================================

_GREEK = set(
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau "
    "upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split()
)


def var_text(index: int, mark: str = "") -> str:
    sub = str(index) if 0 <= index <= 9 else f"{{{index}}}"
    return f"v{mark}_{sub}"


def var_tex(index: int, mark: str = "") -> str:
    base = {"": "v", DOT: r"\dot{v}", BAR: r"\bar{v}"}[mark]
    return f"{base}_{{{index}}}"


def var_sym(index: int, mark: str = "") -> Sym:
    return Sym.atom(var_text(index, mark), var_tex(index, mark))


def name_tex(name: str, mark: str = "") -> str:
    """LaTeX for a variable name: ``x1`` -> ``x_{1}``, ``theta`` -> ``\\theta``."""
    m = re.fullmatch(r"([A-Za-z]+)_?(\d+)", name) or re.fullmatch(r"([A-Za-z]+)_([A-Za-z0-9]+)", name)
    letters, sub = (m.group(1), m.group(2)) if m else (name, None)
    if letters in _GREEK:
        base = "\\" + letters
    elif len(letters) == 1 and letters.isalpha():
        base = letters
    else:
        base = rf"\mathit{{{tex_escape(letters)}}}"
    if mark:
        base = (r"\dot{" if mark == DOT else r"\bar{") + base + "}"
    return base if not sub else f"{base}_{{{sub}}}"


def marked(name: str, mark: str) -> str:
    """``x1`` with a dot or bar over its first letter: ``ẋ1``, ``ȳ_2`` (NFC-normalized)."""
    return unicodedata.normalize("NFC", name[0] + mark + name[1:]) if name else name


def name_sym(name: str, mark: str = "") -> Sym:
    return Sym.atom(marked(name, mark), name_tex(name, mark))


# ==========================================================================
# the trace
# ==========================================================================


def index_text(index: Any) -> str:
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


def param_text(rule: Rule, params: tuple[Any, ...], ndim: int | None = None) -> str:
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
    # parameters that are bookkeeping, not mathematics (a custom function's call
    # structure), say so with ``shown = False``
    return ", ".join(param_value(p) for p in params if getattr(p, "shown", True))


def operation_text(rule: Rule, operands: Sequence[Sym], params: tuple[Any, ...], ndim: int | None) -> tuple[str, str]:
    """A step's operation as the rule's template writes it, nothing folded: (text, LaTeX).

    >>> from dualdiff.rules import TABLE
    >>> operation_text(TABLE["mul"], [var_sym(-1), var_sym(0)], (), 0)
    ('v_{-1} * v_0', 'v_{-1} \\\\cdot v_{0}')
    """
    if isinstance(rule, Elementwise):
        text = fill_template(rule.template, [o.text for o in operands], [o.prec for o in operands], tex=False)
        return text, latex_call(rule, operands)
    s = structural(rule, operands, params, ndim)
    return s.text, s.tex


def const_operand(value: Any) -> Sym:
    """A constant as an operand: a negative number gets parentheses, ``(-2)``."""
    s = to_sym(value)
    if s.prec < PREC_ATOM:
        s = Sym(f"({s.text})", PREC_ATOM, rf"\left({s.tex}\right)", PREC_ATOM)
    return s
