"""Fast paths for Python-float operands, generated per rule and per mode from one template.

Scalar code pays for every Python call and attribute look-up, so the step
that matters most -- a rule applied to a lifted value whose primal is a
Python float -- is written out as source code for each rule and compiled
once (as ForwardDiff.jl generates Dual methods from DiffRules). The
template computes the value and the local partials from the rule table
(``impl``, ``p0``, ``p1``; constant ±1 for rules with ``signs``); each mode
supplies only what it does with them (:class:`ModeSnippets`): forward mode
scales tangents, reverse mode appends a tape step. Everything unusual
(arrays, mpmath, mixed levels, IEEE limits, domain errors) falls through to
the generic dispatch of :mod:`dualdiff.modes.core`, which reads the same rule.

A rule registered at run time gets the same generated code, so it is as fast
as a built-in one.

>>> import dualdiff as dd
>>> print(dd.sin.__source__.splitlines()[0])
def sin(x):
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..rules.backends import FLOAT
from ..rules.evaluate import FLOAT_ERRORS
from ..rules.kinds import Elementwise
from .core import apply1, apply2


@dataclass(frozen=True)
class ModeSnippets:
    """What one mode does with a value ``y`` and its partials, as source lines.

    ``name`` is the lifted class's name; the generated code finds the class
    (and whatever else the snippets use) in ``namespace``, the globals of
    every function generated for the mode, which :meth:`bind` completes
    once the class exists. Each snippet ends in ``return r`` on success and
    may fall through:

    * ``unary``: from ``x`` and its partial ``d``;
    * ``binary``: from ``a``, ``b`` (both of this class and level) and ``d0``, ``d1``;
    * ``same_level``: an expression, true when ``a`` and ``b`` share a level;
    * ``namespace``: names the snippets use.

    Rules with constant ±1 partials (``signs``) bind ``d = 1`` or ``-1``,
    and the snippets can avoid the multiplication with ``{scale(...)}``
    and ``{sum:...}`` placeholders (see :func:`_scaled`).
    """

    name: str
    unary: str
    binary: str
    same_level: str
    namespace: dict[str, Any]

    def bind(self, cls: type) -> None:
        """Make the class visible to the generated functions (call right after defining it)."""
        if cls.__name__ != self.name:
            raise ValueError(f"snippets for {self.name} bound to class {cls.__name__}")
        self.namespace[self.name] = cls
        self.namespace.update(_GLOBALS)


#: The modes with generated fast paths, in the order the public functions test them.
MODES: list[ModeSnippets] = []

#: The generated function of every unary elementwise rule (filled by
#: :mod:`dualdiff.modes.functions` once every mode is registered); the modes'
#: ``_unary`` hooks use it, so nested levels take the fast path too.
UNARY: dict[Elementwise, Callable[..., Any]] = {}


def register_mode(snippets: ModeSnippets) -> None:
    """Add a mode's snippets; the functions generated after this call include it."""
    MODES.append(snippets)


def _scale(d: str, t: str, sign: int | None) -> str:
    return t if sign == 1 else f"-{t}" if sign == -1 else f"{d} * {t}"


def _scaled(template: str, partials: dict[str, Any]) -> str:
    """Fill the placeholders of a snippet.

    ``{scale:d:t}`` becomes ``d * t``, or ``t`` / ``-t`` when the partial
    ``d`` is a constant ±1; ``{sum:d0:t0:d1:t1}`` becomes the sum of two such
    terms, written ``t0 - t1`` rather than ``t0 + -t1``.
    """
    head, *pieces = template.split("{")
    out = [head]
    for piece in pieces:
        spec, rest = piece.split("}", 1)
        kind, *parts = spec.split(":")
        if kind == "scale":
            d, t = parts
            out.append(_scale(d, t, partials.get(d)))
        elif kind == "sum":
            d0, t0, d1, t1 = parts
            first = _scale(d0, t0, partials.get(d0))
            second = _scale(d1, t1, partials.get(d1))
            out.append(f"{first} - {second[1:]}" if second.startswith("-") else f"{first} + {second}")
        else:
            raise ValueError(f"unknown placeholder {{{spec}}} in a fast-path snippet")
        out.append(rest)
    return "".join(out)


def _partial_source(rule: Elementwise, i: int, args: str) -> tuple[str, int | None]:
    """Source computing partial ``i`` of ``rule`` at ``args`` (``y`` bound), and its constant sign."""
    if rule.signs is not None:
        return str(rule.signs[i]), rule.signs[i]
    return f"p{i}(FLOAT, y, {args})", None


#: Names every generated function may use besides its rule's own.
_GLOBALS: dict[str, Any] = {
    "FLOAT": FLOAT,
    "FLOAT_ERRORS": FLOAT_ERRORS,
    "apply1": apply1,
    "apply2": apply2,
    "new": object.__new__,
}


def _compile(source: str, name: str, namespace: dict[str, Any], rule: Elementwise) -> Callable[..., Any]:
    """Compile ``def name(...)`` as a closure over the rule's implementation and partials.

    ``namespace`` becomes the function's globals: names bound there later
    (a mode's class, see :meth:`ModeSnippets.bind`) are found at call time.
    """
    factory = "def _make(rule, impl, p0, p1):\n" + textwrap.indent(source, "    ") + f"\n    return {name}\n"
    exec(compile(factory, f"<dualdiff fast path {rule.name}: {name}>", "exec"), namespace)
    fn = namespace.pop("_make")(rule, rule.float_impl, rule.p0, rule.p1)
    fn.__source__ = source
    return fn


def unary_function(rule: Elementwise, name: str | None = None) -> Callable[..., Any]:
    """``rule(x)`` for any x, with a fast path for each registered mode (``dd.sin`` and friends).

    >>> from dualdiff.rules.elementwise import EXP
    >>> unary_function(EXP)(0.0)
    1.0
    """
    name = name or rule.name
    namespace = dict(_GLOBALS)
    d, sign = _partial_source(rule, 0, "p")
    branches = []
    for mode in MODES:
        cls = mode.name
        namespace.update(mode.namespace)
        record = textwrap.indent(_scaled(mode.unary, {"d": sign}), " " * 12)
        generic = f"{cls}._elementwise(rule, (x,), x.level)"
        branches.append(
            f"    if tp is {cls}:\n"
            "        p = x.primal\n"
            "        if type(p) is float:\n"
            "            try:\n"
            "                y = impl(p)\n"
            f"                d = {d}\n"
            "            except FLOAT_ERRORS:\n"
            f"                return {generic}  # IEEE limits or DomainError\n"
            f"{record}"
            f"        return {generic}\n"
        )
    source = f"def {name}(x):\n    tp = type(x)\n" + "".join(branches) + "    return apply1(rule, x)\n"
    return _compile(source, name, namespace, rule)


def operator_method(rule: Elementwise, mode: ModeSnippets, reflected: bool) -> Callable[..., Any]:
    """The mode class's ``__mul__`` (or ``__rmul__``) and friends for a binary rule.

    A Python-number operand, or (not reflected) an operand of the same class
    and level, both with Python-float primals, take the fast path.
    """
    name = f"__{'r' if reflected else ''}{rule.name}__"
    a, b = ("other", "p") if reflected else ("p", "other")
    mine = 1 if reflected else 0
    d, sign = _partial_source(rule, mine, f"{a}, {b}")
    record1 = textwrap.indent(_scaled(mode.unary.replace("x.", "self."), {"d": sign}), " " * 16)
    lines = [
        f"def {name}(self, other):\n",
        "    p = self.primal\n",
        "    tp = type(other)\n",
        "    if type(p) is float:\n",
        "        if tp is float or tp is int:\n",
        "            try:\n",
        f"                y = impl({a}, {b})\n",
        f"                d = {d}\n",
        "            except FLOAT_ERRORS:\n",
        "                pass  # IEEE limits or DomainError: the generic path knows them\n",
        "            else:\n",
        record1,
    ]
    if not reflected:  # same class: Python tries the left operand's method first, so never reflected
        d0, s0 = _partial_source(rule, 0, "p, q")
        d1, s1 = _partial_source(rule, 1, "p, q")
        record2 = textwrap.indent(
            _scaled(mode.binary.replace("a.", "self.").replace("b.", "other."), {"d0": s0, "d1": s1}), " " * 20
        )
        same = mode.same_level.replace("a.", "self.").replace("b.", "other.")
        lines += [
            f"        elif tp is {mode.name} and {same}:\n",
            "            q = other.primal\n",
            "            if type(q) is float:\n",
            "                try:\n",
            "                    y = impl(p, q)\n",
            f"                    d0 = {d0}\n",
            f"                    d1 = {d1}\n",
            "                except FLOAT_ERRORS:\n",
            "                    pass\n",
            "                else:\n",
            record2,
        ]
    lines.append(f"    return apply2(rule, {'other, self' if reflected else 'self, other'})\n")
    return _compile("".join(lines), name, mode.namespace, rule)


def operator_pair(rule: Elementwise, mode: ModeSnippets) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The operator and its reflected twin for ``rule``, to assign in the mode's class body.

    >>> from dualdiff.modes.dual import SNIPPETS
    >>> from dualdiff.rules.elementwise import MUL
    >>> [f.__name__ for f in operator_pair(MUL, SNIPPETS)]
    ['__mul__', '__rmul__']
    """
    return operator_method(rule, mode, False), operator_method(rule, mode, True)
