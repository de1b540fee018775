"""The ``dualdiff`` command: worked tangent tables and a demo of both modes.

::

    dualdiff table "ln(x1) + x1*x2 - sin(x2)" --at x1=2 x2=5 --wrt x1
    dualdiff table "x*y + x" --at x=2 y=3 --reverse --format latex
    dualdiff table "exp(-x**2)" --at x=0.5 --taylor 4
    dualdiff demo
    python -m dualdiff ...

``table`` prints the evaluation trace of a formula with its forward table
(tangents for a unit seed on ``--wrt``) and its reverse table (adjoints for
``ȳ = --ybar``), one after the other; ``--forward`` or ``--reverse`` selects
one, and ``--taylor D`` prints the Taylor table of order D instead (the
coefficients of every variable along the seed, Taylor mode). Formulas are
read by the safe parser of :mod:`dualdiff.expr`.

Each subcommand is one ``register_<name>(subparsers)`` function that adds its
parser and sets ``handler``; :data:`SUBCOMMANDS` lists them, so a new
subcommand is one more function appended there.

Exit status: 0 on success; 2 for a command-line error (a bad formula,
``--at`` or ``--wrt``, or a request beyond the bounds below), reported as
one line naming the offending part; 1 when the computation fails at the
given point (for example a DomainError). No input makes the command print a
traceback: what the library does not expect is reported in one line too.

Bounds, so that no input hangs or exhausts memory (each refusal is one line
with status 2, and ``--help`` states them): formulas of at most
:data:`MAX_EXPR_CHARS` characters; ``--dps`` at most :data:`MAX_DPS`;
``--digits`` at most :data:`MAX_DIGITS`; with ``--dps``, every nonzero
value between ``2**-MAX_MAGNITUDE_BITS`` and ``2**MAX_MAGNITUDE_BITS`` in
size, and no step whose result would leave that range computed at all
(mpmath would compute ``9**9**9**9`` exactly, without end). A formula may
start with ``-`` (``"-x*2"``).

>>> main(["table", "x*y + x", "--at", "x=2", "y=3", "--reverse", "--format", "csv", "--no-formulas"])
variable,operation,value,adjoint
y,v_2,8.0,1.0
v_2,v_1 + v_{-1},8.0,1.0
v_1,v_{-1} * v_0,6.0,1.0
v_0,y,3.0,2.0
v_{-1},x,2.0,4.0
0
"""

from __future__ import annotations

import argparse
import keyword
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import mpmath
import numpy as np

from .._version import __version__
from ..errors import DomainError, NoRuleError
from ..modes.functions import FUNCTIONS
from ..notation.tabular import Column, Table, format_value
from ..present.trace import trace
from ..transforms import grad, jacfwd, jacrev, jvp
from .common import CommandError, Subparsers
from .compare import register as register_compare
from .expr import ExpressionError, ValueTooLargeError, normalize_name, parse_expression

__all__ = ["SUBCOMMANDS", "CommandError", "build_parser", "main", "register_demo", "register_table"]

# --------------------------------------------------------------------------
# dualdiff table
# --------------------------------------------------------------------------

FORMATS = ("text", "markdown", "latex", "csv")

#: The bounds of ``dualdiff table`` (see the module docstring and ``--help``).
MAX_EXPR_CHARS = 2_000
MAX_DPS = 1_000
MAX_DIGITS = 1_000
#: The highest Taylor order ``--taylor`` computes (the work grows with its square).
MAX_TAYLOR = 100
MAX_MAGNITUDE_BITS = 4096


def register_table(subparsers: Subparsers) -> None:
    """Add the ``table`` subcommand: forward and reverse tables of a formula.

    >>> p = build_parser()
    >>> p.parse_args(["table", "x*x", "--at", "x=3"]).wrt is None
    True
    """
    p = subparsers.add_parser(
        "table",
        help="forward and reverse tables of a formula at a point",
        description=(
            "Print the evaluation trace of EXPR at the point given by --at, with the tangent of every "
            "variable for a unit seed on --wrt (forward mode) and the adjoint of every variable for "
            "ybar (reverse mode). EXPR may use the variables named in --at, numbers, pi, e, "
            "+ - * / ** and dualdiff's functions by name (" + ", ".join(sorted(FUNCTIONS)) + "); "
            "'a, b' gives several outputs."
        ),
        epilog=(
            f"Bounds (a request beyond them is refused with exit status 2): EXPR has at most {MAX_EXPR_CHARS:,} "
            f"characters; --dps is at most {MAX_DPS:,}; --digits at most {MAX_DIGITS:,}; with --dps every nonzero "
            f"value (a number, a variable, each step's result) must stay between 2**-{MAX_MAGNITUDE_BITS} and "
            f"2**{MAX_MAGNITUDE_BITS} (about 1e{int(MAX_MAGNITUDE_BITS * 0.30103)}) in size, and exp, sinh, erf and "
            f"the like take arguments of size at most {MAX_MAGNITUDE_BITS}. Exit status: 0 success, 2 "
            "command-line error, 1 computation failed at the point."
        ),
    )
    p.add_argument(
        "expr",
        metavar="EXPR",
        help=f'the formula, e.g. "ln(x1) + x1*x2 - sin(x2)" (at most {MAX_EXPR_CHARS:,} characters; may start with -)',
    )
    p.add_argument(
        "--at",
        nargs="+",
        required=True,
        metavar="NAME=VALUE",
        help="the point: one NAME=VALUE per variable, in order (VALUE may be a constant formula like pi/4)",
    )
    p.add_argument("--wrt", metavar="NAME", help="the variable the forward seed is 1 on (default: the first)")
    p.add_argument("--ybar", default="1", metavar="VALUE", help="the output adjoint of the reverse sweep (default 1)")
    p.add_argument("--format", choices=FORMATS, default="text", help="how to print the tables (default text)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--forward", action="store_true", help="print the forward table only")
    which.add_argument("--reverse", action="store_true", help="print the reverse table only")
    which.add_argument(
        "--taylor",
        type=int,
        metavar="D",
        help="print the Taylor table instead: the coefficients of t^1 ... t^D of every variable along a unit "
        f"seed on --wrt (Taylor mode, order D, 1 to {MAX_TAYLOR})",
    )
    p.add_argument(
        "--digits",
        type=int,
        default=6,
        help=f"significant digits shown in text/markdown/latex (default 6, at most {MAX_DIGITS:,})",
    )
    p.add_argument(
        "--dps",
        type=int,
        metavar="N",
        help=f"compute with mpmath at N decimal digits instead of float64 (1 to {MAX_DPS:,})",
    )
    p.add_argument("--no-formulas", action="store_true", help="leave out the tangent/adjoint formula columns")
    p.set_defaults(handler=run_table)


def _parse_point(
    items: Sequence[str], number: Callable[[str], Any], constants: dict[str, Any], bound: int | None = None
) -> dict[str, Any]:
    """``["x1=2", "x2=5"]`` -> ``{"x1": 2.0, "x2": 5.0}``, with one-line errors.

    Names are NFKC-normalised as Python's parser reads them in the formula
    (``𝑒`` is ``e``), so a name always means what it means in the formula.
    """
    point: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise CommandError(f"--at expects NAME=VALUE, got {item!r}")
        if not name.isidentifier():
            raise CommandError(f"--at {item}: {name!r} is not a valid variable name")
        written, name = name, normalize_name(name)
        also = "" if written == name else f" ({written} is read as {name}, as Python reads names)"
        if not name.isidentifier() or keyword.iskeyword(name):
            raise CommandError(f"--at {item}: {name!r} is not a valid variable name{also}")
        if name in FUNCTIONS:
            raise CommandError(f"--at {item}: {name} is a function name; choose another variable name{also}")
        if name in point:
            first = spelled[name]
            same = "" if first == written else f" ({first} and {written} are one name, as Python reads names)"
            raise CommandError(f"--at gives {name} twice{same}")
        try:
            value = number(text)
        except (ValueError, TypeError, ArithmeticError):
            try:
                value = parse_expression(text, [], number=number, constants=constants, max_magnitude=bound)()
            except ValueTooLargeError as e:
                raise CommandError(f"--at {item}: {e}") from None
            except ExpressionError as e:
                raise CommandError(f"--at {item}: the value is not a number ({e})") from None
        if isinstance(value, tuple):
            raise CommandError(f"--at {item}: the value must be one number")
        _check_size(f"--at {item}", value, bound)
        point[name] = value
        spelled[name] = written
    return point


def _check_size(what: str, value: Any, bound: int | None) -> None:
    """Refuse a nonzero mpmath value outside ``2**-bound .. 2**bound`` in size (see :data:`MAX_MAGNITUDE_BITS`)."""
    if bound is None or not isinstance(value, (mpmath.mpf, mpmath.mpc)) or not mpmath.isfinite(value) or value == 0:
        return
    if not -bound < mpmath.mag(value) <= bound:
        raise CommandError(
            f"{what}: the value is beyond the bounds 2**-{bound} .. 2**{bound} on the size of nonzero values with --dps"
        )


def _numbers(dps: int | None) -> tuple[Callable[[str], Any], dict[str, Any]]:
    if dps is None:
        return float, {"pi": np.pi, "e": np.e}
    if not 1 <= dps <= MAX_DPS:
        raise CommandError(f"--dps must be a number of digits from 1 to {MAX_DPS:,}, got {dps}")
    mpmath.mp.dps = dps
    return mpmath.mpf, {"pi": +mpmath.pi, "e": +mpmath.e}


def _render(table: Table, fmt: str, digits: int) -> str:
    if fmt == "text":
        return table.to_text(digits=digits)
    if fmt == "markdown":
        return table.to_markdown(digits=digits)
    if fmt == "latex":
        return table.to_latex(digits=digits)
    return table.to_csv().rstrip("\n")


def run_table(args: argparse.Namespace, out: TextIO) -> int:
    """Print the tables for ``dualdiff table`` (see :func:`register_table`)."""
    if not 1 <= args.digits <= MAX_DIGITS:
        raise CommandError(f"--digits must be from 1 to {MAX_DIGITS:,}, got {args.digits}")
    if len(args.expr) > MAX_EXPR_CHARS:
        raise CommandError(f"the formula has {len(args.expr):,} characters; at most {MAX_EXPR_CHARS:,} are allowed")
    if args.taylor is not None and not 1 <= args.taylor <= MAX_TAYLOR:
        raise CommandError(f"--taylor must be an order from 1 to {MAX_TAYLOR}, got {args.taylor}")
    old_dps = mpmath.mp.dps
    try:
        number, constants = _numbers(args.dps)
        bound = None if args.dps is None else MAX_MAGNITUDE_BITS
        point = _parse_point(args.at, number, constants, bound)
        names = list(point)
        try:
            expr = parse_expression(args.expr, names, number=number, constants=constants, max_magnitude=bound)
        except ExpressionError as e:
            if e.unknown_name is not None:
                raise CommandError(
                    f"{e.unknown_name} is not declared: --at gives {', '.join(names)} "
                    f"(add --at {e.unknown_name}=VALUE) (column {e.column})"
                ) from None
            raise CommandError(str(e)) from None
        wrt = normalize_name(args.wrt) if args.wrt is not None else names[0]
        if wrt not in point:
            raise CommandError(f"--wrt {args.wrt}: not a variable; --at declares {', '.join(names)}")
        try:
            y_bar = number(args.ybar)
        except (ValueError, TypeError, ArithmeticError):
            raise CommandError(f"--ybar expects a number, got {args.ybar!r}") from None
        _check_size("--ybar", y_bar, bound)

        def f(x: tuple[Any, ...]) -> Any:
            return expr(*x)

        at = ", ".join(f"{n} = {format_value(v, args.digits)}" for n, v in point.items())
        try:
            tr = trace(f, tuple(point.values()), names=names)
            tables = []
            if args.taylor is not None:
                tables.append(tr.taylor_table(wrt, order=args.taylor))
            elif not args.reverse:
                tables.append(tr.forward_table(wrt, formulas=not args.no_formulas))
            if not args.forward and args.taylor is None:
                tables.append(tr.reverse_table(y_bar, formulas=not args.no_formulas))
        except ValueTooLargeError as e:
            raise CommandError(f"{e} (evaluating {args.expr} at {at})") from None
        except (DomainError, ArithmeticError, NoRuleError) as e:
            raise CommandError(f"{str(e) or type(e).__name__} (evaluating {args.expr} at {at})", status=1) from None
        except TypeError as e:
            if "complex" not in str(e):
                raise  # not the refusal below: a fault to report, never to pass off as the point's
            # a function that is not complex-differentiable, at a complex point (abs at 1j)
            raise CommandError(f"{e} (evaluating {args.expr} at {at})", status=1) from None
        except (RecursionError, MemoryError):
            raise CommandError(f"the formula is too large to evaluate ({len(args.expr):,} characters)") from None

        parts = [_render(t, args.format, args.digits) for t in tables]
        if args.format == "text":
            parts.insert(0, f"f({', '.join(names)}) = {expr.source}   at {at}")
        print("\n\n".join(parts), file=out)
        return 0
    finally:
        mpmath.mp.dps = old_dps


# --------------------------------------------------------------------------
# dualdiff demo
# --------------------------------------------------------------------------


def register_demo(subparsers: Subparsers) -> None:
    """Add the ``demo`` subcommand: a worked example of both modes in a few seconds.

    >>> build_parser().parse_args(["demo"]).handler is run_demo
    True
    """
    p = subparsers.add_parser(
        "demo",
        help="worked forward and reverse tables, a JVP, and forward versus reverse cost",
        description=(
            "The classic example of Griewank and Walther, f(x1, x2) = ln(x1) + x1*x2 - sin(x2) at (2, 5): "
            "its forward and reverse tables, a Jacobian-vector product and a gradient, then the number of "
            "passes and the time each mode takes for full Jacobians of R^100 -> R and R -> R^100."
        ),
    )
    p.add_argument("--format", choices=FORMATS[:3], default="text", help="how to print the tables (default text)")
    p.set_defaults(handler=run_demo)


def _demo_f(x: tuple[Any, Any]) -> Any:
    x1, x2 = x
    return FUNCTIONS["log"](x1) + x1 * x2 - FUNCTIONS["sin"](x2)


_demo_f.__name__ = "f"


def _best_time(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _many_to_one(x: Any) -> Any:
    return np.sum(np.log1p(x * x)) + np.sum(np.sin(x)) ** 2


def _one_to_many(t: Any) -> Any:
    k = np.arange(1.0, 101.0)
    return np.sin(t * k) * np.exp(-t * k / 100)


def _cost_table() -> Table:
    """Passes and times of jacfwd and jacrev on R^100 -> R and R -> R^100."""
    rows: list[dict[str, Any]] = []
    notes = []
    x = np.linspace(0.1, 2.0, 100)
    cases: list[tuple[str, str, Callable[[Any], Any], Any]] = [
        ("R^100 -> R", "sum(log1p(x^2)) + sum(sin x)^2", _many_to_one, x),
        ("R -> R^100", "sin(k t) exp(-k t / 100), k = 1..100", _one_to_many, 0.7),
    ]
    for shape, formula, fn, at in cases:
        n = int(np.size(at))
        m = int(np.size(fn(at)))
        runs = [
            ("forward", "jacfwd(f, chunk=1)", jacfwd(fn, chunk=1), _plural(n, "pass") + ", 1 direction each"),
            ("reverse", "jacrev(f, chunk=1)", jacrev(fn, chunk=1), "1 recording + " + _plural(m, "sweep")),
        ]
        if n > 1:
            runs.insert(1, ("forward", "jacfwd(f)", jacfwd(fn), f"1 pass, {n} directions at once"))
        if m > 1:
            runs.append(("reverse", "jacrev(f)", jacrev(fn), f"1 recording + 1 sweep, {m} cotangents at once"))
        jacobians = []
        for i, (mode, call, jac, passes) in enumerate(runs):
            seconds, jacobian = _best_time(lambda: jac(at))
            jacobians.append(np.asarray(jacobian))
            rows.append(
                {"f": shape if i == 0 else "", "mode": mode, "call": call, "passes": passes, "ms": 1e3 * seconds}
            )
        worst = max(float(np.max(np.abs(j - jacobians[0]))) for j in jacobians)
        notes.append(f"{shape}: f = {formula}; all {len(runs)} Jacobians agree to {worst:.2g}")
    columns = [
        Column("f", "f"),
        Column("mode", "mode"),
        Column("call", "call", kind="formula"),
        Column("passes", "passes through f"),
        Column("ms", "time (ms, best of 3)", kind="number"),
    ]
    return Table(columns, rows, title="Forward versus reverse: full Jacobians", notes=notes)


def _plural(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else ("es" if word.endswith("s") else "s"))


def run_demo(args: argparse.Namespace, out: TextIO) -> int:
    """Print the demo (see :func:`register_demo`)."""
    fmt = args.format

    def show(text: str = "") -> None:
        print(text, file=out)

    x = (2.0, 5.0)
    show("dualdiff demo: forward mode (dual numbers) and reverse mode (a tape), read from one rule table")
    show()
    show("1. The worked example of Griewank & Walther, Evaluating Derivatives (2nd ed., section 1.2):")
    show("   f(x1, x2) = ln(x1) + x1*x2 - sin(x2) at (x1, x2) = (2, 5)")
    show("   (Python evaluates ln(x1) + x1*x2 before sin(x2), so v_3 and v_4 trade places with the book's.)")
    show()
    tr = trace(_demo_f, x, names=("x1", "x2"))
    show(_render(tr.forward_table("x1"), fmt, 4))
    show()
    show(_render(tr.reverse_table(1.0), fmt, 4))
    show()
    y, y_dot = jvp(_demo_f, x, (1.0, 0.5))
    g = grad(_demo_f)(x)
    show("2. A Jacobian-vector product and a gradient of the same f:")
    show(f"   dd.jvp(f, (2.0, 5.0), (1.0, 0.5)) = ({y!r}, {y_dot!r})    one forward pass")
    show(f"   dd.grad(f)((2.0, 5.0))            = ({g[0]!r}, {g[1]!r})    one reverse sweep")
    show(f"   check: grad . v = {g[0] * 1.0 + g[1] * 0.5!r}")
    show()
    show("3. Forward mode needs a pass per input direction, reverse mode a sweep per output:")
    show()
    show(_render(_cost_table(), fmt, 3))
    show()
    show("Reverse mode wins for gradients (many inputs, one output), forward mode for one input and")
    show("many outputs; pushing many directions (or cotangents) through one pass narrows the gap.")
    return 0


# --------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------

#: The subcommands, one register function each; append one to add a subcommand.
SUBCOMMANDS: list[Callable[[Subparsers], None]] = [register_table, register_demo, register_compare]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand of :data:`SUBCOMMANDS`.

    >>> sorted(build_parser()._subparsers._group_actions[0].choices)
    ['compare', 'demo', 'table']
    """
    parser = _Parser(
        prog="dualdiff",
        description="Exact derivatives, forward and reverse mode from one rule table: worked tables and demos.",
        epilog="Exit status: 0 success, 2 command-line error, 1 computation failed at the point.",
    )
    parser.add_argument("--version", action="version", version=f"dualdiff {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in SUBCOMMANDS:
        register(subparsers)
    return parser


def one_line(text: str) -> str:
    r"""``text`` with line breaks and other control characters escaped: an error stays one line.

    >>> print(one_line("bad --at 0\n=2"))
    bad --at 0\n=2
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class _Parser(argparse.ArgumentParser):
    """argparse, with its one-line error messages kept on one line whatever the user typed."""

    def error(self, message: str) -> Any:
        super().error(one_line(message))


def _safe_stream(stream: TextIO) -> TextIO:
    """Make a stream that cannot encode ``v̇`` escape such characters instead of failing."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        "v̇ v̄ ∂ …".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    return stream


def _formulas_as_operands(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """Let a formula start with ``-`` (``"-x*2"``): argparse would take it for an option.

    An argument of a subcommand that starts with ``-`` but is neither one of
    its options (nor an abbreviation argparse would accept) nor a negative
    number gets a leading space, which makes argparse read it as an operand;
    the formula parser ignores the space.
    """
    sub_actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not sub_actions:
        return argv
    choices = sub_actions[0].choices
    for k, arg in enumerate(argv):
        if arg in choices:
            options = list(choices[arg]._option_string_actions)
            out = argv[: k + 1]
            for a in argv[k + 1 :]:
                if a == "--":
                    out.extend(argv[len(out) :])
                    break
                out.append(" " + a if _looks_like_formula(a, options) else a)
            return out
        if not arg.startswith("-"):
            return argv
    return argv


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    return [c for a in parser._actions if isinstance(a, argparse._SubParsersAction) for c in a.choices]


def _looks_like_formula(arg: str, options: list[str]) -> bool:
    if not arg.startswith("-") or arg == "-":
        return False
    head = arg.split("=", 1)[0]
    if head in options or (arg.startswith("--") and any(o.startswith(head) for o in options if o.startswith("--"))):
        return False
    try:
        float(arg)
        return False  # a negative number: argparse reads it as a value already
    except ValueError:
        return True


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``dualdiff`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    >>> main(["table", "2*x**2 + 3", "--at", "x=2", "--forward", "--format", "csv", "--no-formulas"])
    variable,operation,value,tangent
    v_0,x,2.0,1.0
    v_1,v_0 ** 2,4.0,4.0
    v_2,2 * v_1,8.0,8.0
    v_3,v_2 + 3,11.0,8.0
    y,v_3,11.0,8.0
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(_formulas_as_operands(list(sys.argv[1:] if argv is None else argv), parser))
        if getattr(args, "handler", None) is None:
            parser.print_help(sys.stderr)
            print(f"dualdiff: error: choose a command: {', '.join(_commands(parser))}", file=sys.stderr)
            return 2
        out = _safe_stream(sys.stdout)
        try:
            return int(args.handler(args, out))
        except CommandError as e:
            print(f"dualdiff {args.command}: error: {one_line(e.message)}", file=_safe_stream(sys.stderr))
            return e.status
    except SystemExit as e:  # argparse has printed its message (or --help)
        return int(e.code) if isinstance(e.code, int) else (0 if e.code is None else 2)
    except BrokenPipeError:
        # the reader went away (``dualdiff ... | head -3``): stop quietly, as a filter should
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        print("dualdiff: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # never a traceback: one line, naming what went wrong
        if os.environ.get("DUALDIFF_DEBUG"):
            raise
        text = one_line(" ".join(str(e).split()))[:300]
        print(
            f"dualdiff: internal error: {type(e).__name__}: {text} (please report it; DUALDIFF_DEBUG=1 shows where)",
            file=_safe_stream(sys.stderr),
        )
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so Python's final flush does not fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # an in-memory stream (tests): nothing to redirect
        pass
