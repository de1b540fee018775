"""A safe parser for the formulas the ``dualdiff`` command takes.

``parse_expression("ln(x1) + x1*x2 - sin(x2)", ["x1", "x2"])`` reads the text
with Python's own :func:`ast.parse` (``mode="eval"``), checks every node, and
returns an :class:`Expression` that evaluates the tree itself; nothing is
ever passed to ``eval``. Allowed are:

* the declared variables, numeric constants (``2``, ``0.5``, ``1e-3``,
  ``2j``) and the named constants ``pi`` and ``e`` (a declared variable of
  that name wins);
* ``+ - * / **`` and unary ``-``/``+``;
* calls, with positional arguments, of dualdiff's functions by name
  (``sin``, ``exp``, ``ln``/``log``, ``arctan2``, ``maximum``, ... : the rule
  table's elementwise functions, see :data:`dualdiff.functions.FUNCTIONS`);
* at the top level only, a tuple ``a, b`` for several outputs.

Anything else (attribute access, indexing, lambdas, comprehensions, keyword
arguments, strings, unknown names, ...) raises :class:`ExpressionError`
naming the offending part and its column, before anything is evaluated.
Every operation goes through the rule table (``1 / 0`` follows dualdiff's
IEEE policy, and on tape values each one is recorded).

Names are read as Python reads them: NFKC-normalised, so ``𝑒`` and ``e``
are one name, and so are the declared variables. ``max_magnitude`` bounds
the mpmath values an evaluation may produce (their size, not their
precision): mpmath computes ``9**9**9**9`` exactly, which takes unbounded
time and memory, so the command line refuses such values instead.

>>> e = parse_expression("x1 * x2 + sin(x1)", ["x1", "x2"])
>>> e(0.0, 3.0)
0.0
>>> parse_expression("x1.__class__", ["x1"])
Traceback (most recent call last):
    ...
dualdiff.cli.expr.ExpressionError: attribute access is not allowed: x1.__class__ (column 1)
"""

from __future__ import annotations

import ast
import difflib
import inspect
import keyword
import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import mpmath

from ..modes.core import apply1, apply2, strip_all
from ..modes.functions import FUNCTIONS
from ..rules.kinds import elementwise_rule

__all__ = ["Expression", "ExpressionError", "ValueTooLargeError", "normalize_name", "parse_expression"]

_BINARY = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv", ast.Pow: "pow"}
_UNARY = {ast.USub: "neg", ast.UAdd: "pos"}
_OPERATOR_TEXT = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.Not: "not",
    ast.Invert: "~",
}
_NOT_ALLOWED = {
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "indexing is not allowed",
    ast.Lambda: "lambda expressions are not allowed",
    ast.List: "lists are not allowed",
    ast.Set: "sets are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "'and'/'or' are not allowed",
    ast.IfExp: "conditional expressions are not allowed",
    ast.NamedExpr: "assignment expressions are not allowed",
    ast.Starred: "starred arguments are not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.FormattedValue: "strings are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Slice: "indexing is not allowed",
}

#: The named constants an expression may use (a declared variable of the same name wins).
CONSTANTS: dict[str, Any] = {"pi": math.pi, "e": math.e}


def _arity(fn: Callable[..., Any]) -> int:
    """How many arguments a function of FUNCTIONS takes (read when used: rules may be registered later)."""
    rule = getattr(fn, "rule", None)
    return rule.nin if rule is not None else len(inspect.signature(fn).parameters)


class ExpressionError(ValueError):
    """A formula that is not allowed or does not parse; ``column`` is 1-based.

    >>> str(ExpressionError("unknown function foo: foo(x1)", column=1))
    'unknown function foo: foo(x1) (column 1)'
    """

    def __init__(self, message: str, column: int | None = None, unknown_name: str | None = None) -> None:
        self.message = message
        self.column = column
        #: The name, when the error is an undeclared variable.
        self.unknown_name = unknown_name
        super().__init__(message if column is None else f"{message} (column {column})")


class ValueTooLargeError(ExpressionError):
    """An mpmath value beyond an expression's ``max_magnitude`` (``2**max_magnitude``).

    >>> e = parse_expression("x ** 4", ["x"], max_magnitude=64)
    >>> try:
    ...     e(mpmath.mpf(2) ** 20)
    ... except ValueTooLargeError as err:
    ...     print(err)
    x ** 4 is at least 2**80, beyond the bound 2**64 on the size of values
    (and 2**-64 on nonzero ones) (column 1)
    """


def normalize_name(name: str) -> str:
    """A name as Python's parser reads it (NFKC): ``normalize_name("𝑒") == "e"``.

    >>> normalize_name("ﬁt")
    'fit'
    """
    return unicodedata.normalize("NFKC", name)


#: Functions whose value grows (or shrinks) exponentially with their argument.
_GROWTH_FUNCTIONS = frozenset({"exp", "exp2", "expm1", "sinh", "cosh", "tanh", "sigmoid", "softplus", "erf", "erfc"})


def _magnitude(value: Any) -> int | None:
    """``log2 |value|`` rounded up, for mpmath values (None for the others, which are bounded)."""
    v = strip_all(value)
    if isinstance(v, (mpmath.mpf, mpmath.mpc)) and mpmath.isfinite(v) and v != 0:
        return int(mpmath.mag(v))
    return None


class Expression:
    """A checked formula over named variables; call it with their values.

    ``expr(*values)`` takes the variables in declared order (``evaluate``
    takes a mapping). The result is one value, or a tuple for a top-level
    tuple. Values may be floats, mpmath numbers, arrays, or lifted values
    (Duals, tape variables): every operation goes through the rule table.

    >>> e = parse_expression("x ** 2, 2 * x", ["x"])
    >>> e(3.0), e.outputs
    ((9.0, 6.0), 2)
    """

    def __init__(
        self,
        source: str,
        variables: Sequence[str],
        body: ast.expr,
        constants: Mapping[str, Any],
        max_magnitude: int | None = None,
    ) -> None:
        self.source = source
        self.variables = tuple(variables)
        self._body = body
        self._constants = dict(constants)
        #: mpmath values must stay below ``2**max_magnitude`` in size (None: no bound).
        self.max_magnitude = max_magnitude
        #: The declared variables the formula actually uses.
        callees = {id(n.func) for n in ast.walk(body) if isinstance(n, ast.Call)}
        self.used = frozenset(
            n.id for n in ast.walk(body) if isinstance(n, ast.Name) and n.id in self.variables and id(n) not in callees
        )

    def __repr__(self) -> str:
        return f"<Expression {self.source!r} of {', '.join(self.variables)}>"

    @property
    def outputs(self) -> int:
        """How many values the formula returns (a top-level tuple gives several).

        >>> parse_expression("x", ["x"]).outputs
        1
        """
        return len(self._body.elts) if isinstance(self._body, ast.Tuple) else 1

    def __call__(self, *values: Any) -> Any:
        if len(values) != len(self.variables):
            raise TypeError(
                f"the expression takes {len(self.variables)} value(s) ({', '.join(self.variables)}), got {len(values)}"
            )
        return self.evaluate(dict(zip(self.variables, values)))

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        """The formula's value with ``env`` giving each variable's value.

        Walks the tree with an explicit stack (no recursion), left to right
        as Python would, so a traced evaluation numbers its steps in reading
        order.

        >>> parse_expression("a - b", ["a", "b"]).evaluate({"a": 1.0, "b": 3.0})
        -2.0
        """
        env = {normalize_name(k): v for k, v in env.items()}
        missing = [v for v in self.variables if v not in env]
        if missing:
            raise KeyError(f"no value given for {', '.join(missing)}")
        bound = self.max_magnitude
        results: list[Any] = []
        stack: list[tuple[ast.expr, bool]] = [(self._body, False)]
        while stack:
            node, ready = stack.pop()
            kids = _children(node)
            if not ready and kids:
                stack.append((node, True))
                stack.extend((k, False) for k in reversed(kids))
                continue
            args = results[len(results) - len(kids) :] if kids else []
            if kids:
                del results[len(results) - len(kids) :]
            if bound is not None and args:
                self._check_arguments(node, args, bound)
            value = self._compute(node, args, env)
            if bound is not None and not isinstance(value, tuple):
                self._check_size(node, value, bound)
            results.append(value)
        return results[0]

    def _check_size(self, node: ast.expr, value: Any, bound: int) -> None:
        """Refuse a nonzero mpmath value outside ``2**-bound < |value| < 2**bound``."""
        mag = _magnitude(value)
        if mag is not None and not -bound < mag <= bound:
            seg, col = _where(self.source, node)
            size = f"at least 2**{mag - 1}" if mag > 0 else f"at most 2**{mag}"
            raise ValueTooLargeError(
                f"{seg} is {size}, beyond the bound 2**{bound} on the size of values (and 2**-{bound} on nonzero ones)",
                col,
            )

    def _check_arguments(self, node: ast.expr, args: list[Any], bound: int) -> None:
        """Refuse, before computing it, a step whose cost grows with its result's exponent.

        ``exp(x)`` costs time in proportion to ``log2 |exp(x)|``, that is to
        ``|x|`` itself, and so does ``a ** b`` to ``|b| log2 |a|``: such steps
        are refused when their result would be beyond the bound anyway.
        """
        name = cast(ast.Name, node.func).id if isinstance(node, ast.Call) else None  # calls are checked: by name
        if name in _GROWTH_FUNCTIONS:
            x = strip_all(args[0])
            if isinstance(x, (mpmath.mpf, mpmath.mpc)) and mpmath.isfinite(x) and abs(x) > bound:
                seg, col = _where(self.source, node)
                raise ValueTooLargeError(
                    f"{seg}: the argument is about {mpmath.nstr(x, 3)}; {name} takes arguments of size "
                    f"at most {bound} (beyond, its value or derivative is outside 2**-{bound} .. 2**{bound})",
                    col,
                )
        elif name in ("power", "pow") or (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow)):
            a, b = strip_all(args[0]), strip_all(args[1])
            if isinstance(a, (mpmath.mpf, mpmath.mpc)) or isinstance(b, (mpmath.mpf, mpmath.mpc)):
                ma = _magnitude(a) or 0
                growth = abs(mpmath.mpmathify(b)) * max(abs(ma), 1)
                if mpmath.isfinite(growth) and growth > 4 * bound:
                    seg, col = _where(self.source, node)
                    raise ValueTooLargeError(
                        f"{seg}: |exponent| * log2|base| is about {mpmath.nstr(growth, 3)}, beyond {4 * bound}; "
                        f"the power would be beyond the bound 2**{bound} on the size of values",
                        col,
                    )

    def _compute(self, node: ast.expr, args: list[Any], env: Mapping[str, Any]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value  # converted when parsed
        if isinstance(node, ast.Name):
            return env[node.id] if node.id in env else self._constants[node.id]
        if isinstance(node, ast.BinOp):
            return apply2(elementwise_rule(_BINARY[type(node.op)]), args[0], args[1])
        if isinstance(node, ast.UnaryOp):
            return apply1(elementwise_rule(_UNARY[type(node.op)]), args[0])
        if isinstance(node, ast.Call):
            return FUNCTIONS[cast(ast.Name, node.func).id](*args)
        if isinstance(node, ast.Tuple):
            return tuple(args)
        raise AssertionError(f"unchecked node {type(node).__name__}")  # pragma: no cover


def _children(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return list(node.args)
    if isinstance(node, ast.Tuple):
        return list(node.elts)
    return []


def parse_expression(
    source: str,
    variables: Sequence[str],
    number: Callable[[str], Any] = float,
    constants: Mapping[str, Any] | None = None,
    max_magnitude: int | None = None,
) -> Expression:
    """Check ``source`` and return it as an :class:`Expression` over ``variables``.

    ``number`` turns the text of a real literal into the value used
    (``float`` by default; ``mpmath.mpf`` keeps ``0.1`` exact to the working
    precision). ``constants`` replaces the named constants (``pi``, ``e``).
    Variable names are NFKC-normalised, as Python's parser normalises the
    names in ``source``. ``max_magnitude``: evaluating raises
    :class:`ValueTooLargeError` when an mpmath value (a literal, a variable
    or a step's result) reaches ``2**max_magnitude`` in size.
    Raises :class:`ExpressionError` for anything not allowed.

    >>> parse_expression("ln(x) / 2", ["x"])(1.0)
    0.0
    >>> parse_expression("sine(x)", ["x"])
    Traceback (most recent call last):
        ...
    dualdiff.cli.expr.ExpressionError: unknown function sine: sine(x) (did you mean sin, sinh, sinc?) (column 1)
    """
    if not isinstance(source, str):
        raise TypeError(f"the expression must be a str, got {type(source).__name__}")
    for v in variables:
        if not isinstance(v, str) or not v.isidentifier():
            raise ExpressionError(f"not a valid variable name: {v!r}")
    variables = tuple(normalize_name(v) for v in variables)
    for v in variables:
        if not v.isidentifier() or keyword.iskeyword(v):
            raise ExpressionError(f"not a valid variable name: {v!r}")
        if v in FUNCTIONS:
            raise ExpressionError(f"{v} is a function name and cannot be a variable")
    if len(set(variables)) != len(variables):
        raise ExpressionError(f"variables must be distinct, got {', '.join(variables)}")
    consts = dict(CONSTANTS if constants is None else constants)
    if not source.strip():
        raise ExpressionError("the expression is empty")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as e:
        col = e.offset if e.lineno in (None, 1) else None
        if col is not None:
            col = min(max(col, 1), len(source.strip()))
        raise ExpressionError(f"syntax error: {e.msg}", col) from None
    except (RecursionError, MemoryError):
        raise ExpressionError("the expression is too deeply nested") from None
    except ValueError as e:
        raise ExpressionError(f"cannot read the expression: {e}") from None
    text = source.strip()
    body = tree.body
    _check(text, body, variables, consts)
    _convert_constants(text, body, number)
    return Expression(text, variables, body, {k: v for k, v in consts.items() if k not in variables}, max_magnitude)


def _where(text: str, node: ast.AST) -> tuple[str, int | None]:
    seg = ast.get_source_segment(text, node) or type(node).__name__
    col = getattr(node, "col_offset", None)
    if getattr(node, "lineno", 1) != 1:
        col = None
    return seg, None if col is None else col + 1


def _fail(text: str, node: ast.AST, message: str, hint: str = "", unknown_name: str | None = None) -> ExpressionError:
    seg, col = _where(text, node)
    return ExpressionError(f"{message}: {seg}{hint}", col, unknown_name)


def _check(text: str, body: ast.expr, variables: tuple[str, ...], constants: Mapping[str, Any]) -> None:
    """Reject every node that is not allowed, top-down (so the outermost offence is named)."""
    callee: set[int] = set()
    for node in ast.walk(body):  # breadth first, no recursion
        if isinstance(node, (ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)):
            continue
        kind = type(node)
        if kind in _NOT_ALLOWED:
            raise _fail(text, node, _NOT_ALLOWED[kind])
        if isinstance(node, ast.Tuple):
            if node is not body:
                raise _fail(text, node, "tuples are only allowed at the top level (for several outputs)")
            if not node.elts:
                raise _fail(text, node, "an empty tuple has no outputs")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                op = _OPERATOR_TEXT.get(type(node.op), type(node.op).__name__)
                hint = " (write powers as **)" if op == "^" else " (use + - * / **)"
                raise _fail(text, node, f"operator {op} is not allowed", hint)
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                op = _OPERATOR_TEXT.get(type(node.op), type(node.op).__name__)
                raise _fail(text, node, f"operator {op} is not allowed", " (use + - * / **)")
        elif isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, float, complex)):
                raise _fail(text, node, "only numeric constants are allowed")
        elif isinstance(node, ast.Call):
            _check_call(text, node, variables)
            if isinstance(node.func, ast.Name):
                callee.add(id(node.func))
        elif isinstance(node, ast.Name):
            if id(node) in callee:
                continue
            if node.id in variables or node.id in constants:
                continue
            if node.id in FUNCTIONS:
                raise _fail(text, node, "a function must be called", f" (write {node.id}(...))")
            declared = ", ".join(variables) or "none"
            raise _fail(text, node, "unknown variable", f" (the variables are {declared})", unknown_name=node.id)
        elif isinstance(node, ast.keyword):  # pragma: no cover  (reported at the call)
            raise _fail(text, node, "keyword arguments are not allowed")
        else:
            raise _fail(text, node, f"{kind.__name__} is not allowed")


def _check_call(text: str, node: ast.Call, variables: tuple[str, ...]) -> None:
    func = node.func
    if not isinstance(func, ast.Name):
        if type(func) in _NOT_ALLOWED:
            raise _fail(text, func, _NOT_ALLOWED[type(func)])
        raise _fail(text, node, "only functions called by name are allowed")
    name = func.id
    if name not in FUNCTIONS:
        if name in variables:
            raise _fail(text, node, f"{name} is a variable, not a function")
        close = difflib.get_close_matches(name, sorted(FUNCTIONS), n=3)
        hint = (
            f" (did you mean {', '.join(close)}?)" if close else f" (the functions are {', '.join(sorted(FUNCTIONS))})"
        )
        raise _fail(text, node, f"unknown function {name}", hint)
    if node.keywords:
        raise _fail(text, node, "keyword arguments are not allowed")
    for a in node.args:
        if isinstance(a, ast.Starred):
            raise _fail(text, a, "starred arguments are not allowed")
    want = _arity(FUNCTIONS[name])
    if len(node.args) != want:
        raise _fail(text, node, f"{name} takes {want} argument{'s' if want != 1 else ''}, got {len(node.args)}")


def _convert_constants(text: str, body: ast.expr, number: Callable[[str], Any]) -> None:
    """Replace each literal's value by ``number(literal text)`` (complex literals stay complex)."""
    for node in ast.walk(body):
        if not isinstance(node, ast.Constant):
            continue
        v: Any = node.value  # any constant: float() below refuses what is not a number
        if isinstance(v, complex):
            continue
        literal = (ast.get_source_segment(text, node) or repr(v)).replace("_", "")
        try:
            node.value = number(literal)
        except (ValueError, TypeError, OverflowError, ArithmeticError):
            try:
                node.value = number(str(float(v)))
            except (ValueError, TypeError, OverflowError, ArithmeticError):
                raise _fail(text, node, "cannot use this constant") from None
