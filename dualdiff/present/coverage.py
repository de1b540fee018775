"""What differentiates: a Markdown table generated from the rule table and NumPy's dispatch.

The table in README.md between ``<!-- coverage:start -->`` and
``<!-- coverage:end -->`` is :func:`markdown` verbatim; a test checks it, so
it never drifts from the code. Regenerate it after adding a rule or a NumPy
handler::

    python -m dualdiff.present.coverage --write README.md

Rows group NumPy's functions by the module that maps them onto rules
(:mod:`dualdiff.modes.np_reductions` and its siblings), ufuncs by whether a
rule of their own or a composition of rules stands for them; the last rows
list the rule table itself by kind.

>>> table = markdown()
>>> table.splitlines()[0]
'| what | differentiates in both modes, to any order |'
>>> "`np.linalg.svd`" in table and "`svd`" in table
True
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from typing import Any

from ..modes import numpy_api
from ..modes.np_ufuncs import COMPOSED_UFUNCS
from ..rules.kinds import TABLE, Elementwise, General, Linear, Nondiff

START, END = "<!-- coverage:start -->", "<!-- coverage:end -->"

#: The module that maps a group of NumPy functions, and how the row reads.
_GROUPS = (
    ("np_reductions", "Reductions and statistics"),
    ("np_shaping", "Shapes, axes, stacking, selection"),
    ("np_stacking", "Stacking and splitting"),
    ("np_rearranging", "Rearranging, padding, sorting, gathering"),
    ("np_differences", "Differences and integrals"),
    ("np_ranges", "Ranges"),
    ("np_signal", "Convolution, interpolation, polynomials"),
    ("np_products", "Products"),
    ("np_linalg", "`np.linalg`"),
    ("np_ufuncs", "Complex parts and elementwise functions"),
)


def _code(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in sorted(set(names)))


def _group_of(handler: Any) -> str:
    module = getattr(handler, "__module__", "") or ""
    return module.rsplit(".", 1)[-1]


def function_groups() -> dict[str, list[str]]:
    """NumPy's functions with a handler, by the module that maps them (values-only ones apart)."""
    groups: dict[str, list[str]] = {}
    for func, handler in numpy_api.FUNCTION_HANDLERS.items():
        key = _group_of(handler)
        if key not in dict(_GROUPS):
            key = "values"
        groups.setdefault(key, []).append(numpy_api.numpy_name(func))
    return groups


def ufunc_groups() -> tuple[list[str], list[str], list[str]]:
    """ufuncs with a rule of their own, ufuncs composed of rules, ufuncs that are functions of values."""
    ruled: list[str] = []
    values: list[str] = []
    for ufunc, rule in numpy_api.UFUNC_RULES.items():
        (values if isinstance(rule, Nondiff) else ruled).append(f"np.{ufunc.__name__}")
    composed = [f"np.{u.__name__}" for u in COMPOSED_UFUNCS if u not in numpy_api.UFUNC_RULES]
    return ruled + ["np.matmul"], composed, values


def rule_groups() -> dict[str, list[str]]:
    """The rule table's names by kind."""
    kinds = {"Elementwise": Elementwise, "Linear": Linear, "General": General, "Nondiff": Nondiff}
    return {label: [n for n, r in TABLE.items() if isinstance(r, kind)] for label, kind in kinds.items()}


def markdown() -> str:
    """The coverage table (Markdown), generated from the rule table and the NumPy handlers."""
    ruled, composed, value_ufuncs = ufunc_groups()
    groups = function_groups()
    rows = [
        (
            "ufuncs with a rule (elementwise, broadcasting, `.reduce` of add/multiply/maximum/minimum, "
            "`np.add.accumulate`, `.outer`)",
            ruled,
        ),
        ("ufuncs composed of rules", composed),
    ]
    rows += [(label, groups.get(key, [])) for key, label in _GROUPS]
    rows.append(
        (
            "functions of values (no derivative; recorded programs check them again)",
            groups.get("values", []) + value_ufuncs,
        )
    )
    kinds = rule_groups()
    rows += [
        ("rules: elementwise (local partials)", kinds["Elementwise"]),
        ("rules: linear (a map and its transpose)", kinds["Linear"]),
        ("rules: general (a linear map and a transpose per argument)", kinds["General"]),
        ("rules: functions of values", kinds["Nondiff"]),
    ]
    lines = ["| what | differentiates in both modes, to any order |", "|---|---|"]
    lines += [f"| {label} | {_code(names)} |" for label, names in rows if names]
    return "\n".join(lines)


def replace_between_markers(text: str, table: str) -> str:
    """``text`` with the part between the coverage markers replaced by ``table``."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"no {START} ... {END} markers in the text")
    return pattern.sub(lambda _: f"{START}\n{table}\n{END}", text)


def main(argv: list[str] | None = None) -> int:
    """Print the table, or write it between the markers of a file (``--write README.md``)."""
    parser = argparse.ArgumentParser(prog="python -m dualdiff.present.coverage", description=__doc__.split("\n")[0])
    parser.add_argument("--write", metavar="FILE", help="replace the table between the coverage markers of FILE")
    args = parser.parse_args(argv)
    table = markdown()
    if args.write:
        with open(args.write, encoding="utf-8") as f:
            text = f.read()
        with open(args.write, "w", encoding="utf-8") as f:
            f.write(replace_between_markers(text, table))
    else:
        print(table)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
