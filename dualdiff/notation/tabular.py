"""Tables for reading, pasting and parsing: the presentation of evaluation traces.

A :class:`Table` is a list of rows (dicts) with an ordered list of
:class:`Column` descriptions. It renders four ways:

* :meth:`Table.to_text` -- aligned columns, numbers rounded for reading;
* :meth:`Table.to_markdown` -- a GitHub table, formulas as code spans;
* :meth:`Table.to_latex` -- a booktabs ``tabular``, ready to paste;
* :meth:`Table.to_csv` -- full precision: ``repr`` of floats, all digits of
  mpmath numbers, whole arrays as nested lists.

Cells hold the raw values (floats, complex and mpmath numbers, NumPy arrays,
strings); only rendering rounds. Array cells are shown compactly (shape and a
few values) everywhere except in CSV.

>>> t = Table([Column("name", "name"), Column("value", "value", kind="number")],
...           [{"name": "a", "value": 1 / 3}, {"name": "b", "value": 2.0}])
>>> print(t.to_text())
name  value
----  --------
a     0.333333
b            2
>>> print(t.to_csv(), end="")
name,value
a,0.3333333333333333
b,2.0
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np

__all__ = ["Column", "Table", "format_full", "format_latex", "format_value", "latex_escape"]

#: Arrays with more elements than this show their first few and last values.
_ARRAY_SHOWN = 4


@dataclass(frozen=True)
class Column:
    """One column of a :class:`Table`.

    ``key`` indexes the row dicts and heads the CSV column; ``header``
    heads the text and Markdown renderings; ``latex`` is the LaTeX header
    (default: ``header``, escaped). ``kind`` is ``"text"`` (left aligned),
    ``"formula"`` (left aligned, a code span in Markdown, math in LaTeX) or
    ``"number"`` (right aligned, rounded for reading).

    >>> Column("value", "value", kind="number").kind
    'number'
    """

    key: str
    header: str
    latex: str | None = None
    kind: str = "text"

    def __post_init__(self) -> None:
        if self.kind not in ("text", "formula", "number"):
            raise ValueError(f"Column kind must be 'text', 'formula' or 'number', got {self.kind!r}")


@dataclass
class Table:
    """Rows of values under named columns, with four renderings.

    ``rows`` is a list of dicts keyed by the columns' keys (rows may carry
    more keys, which the renderings ignore); ``latex_cells``
    optionally gives, row by row, LaTeX text for formula cells (otherwise the
    plain text is used in math mode). ``title`` and ``notes`` are printed
    above and below the table (as comments in LaTeX, left out of CSV).

    >>> t = Table([Column("x", "x", kind="number")], [{"x": 0.1}], title="one row")
    >>> print(t.to_markdown())
    **one row**
    <BLANKLINE>
    |   x |
    |----:|
    | 0.1 |
    """

    columns: list[Column]
    rows: list[dict[str, Any]]
    title: str | None = None
    notes: list[str] = field(default_factory=list)
    latex_cells: list[dict[str, str]] | None = None

    def __post_init__(self) -> None:
        keys = [c.key for c in self.columns]
        if len(set(keys)) != len(keys):
            raise ValueError(f"Table columns must have distinct keys, got {keys}")
        for i, row in enumerate(self.rows):
            missing = [k for k in keys if k not in row]
            if missing:
                raise ValueError(f"Table row {i} lacks the column(s) {missing}")
        if self.latex_cells is not None and len(self.latex_cells) != len(self.rows):
            raise ValueError(
                f"latex_cells must have one dict per row: {len(self.latex_cells)} for {len(self.rows)} rows"
            )

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        what = f" {self.title!r}" if self.title else ""
        return f"<Table{what}: {len(self.rows)} rows, columns {[c.key for c in self.columns]}>"

    def __str__(self) -> str:
        return self.to_text()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def column(self, key: str) -> list[Any]:
        """The raw values of one column, top to bottom.

        >>> Table([Column("a", "a")], [{"a": 1}, {"a": 2}]).column("a")
        [1, 2]
        """
        if key not in {c.key for c in self.columns}:
            raise KeyError(f"no column {key!r}; the columns are {[c.key for c in self.columns]}")
        return [row[key] for row in self.rows]

    # -- renderings ---------------------------------------------------------
    def _cell(self, col: Column, value: Any, digits: int) -> str:
        if col.kind == "number":
            return format_value(value, digits)
        return "" if value is None else str(value)

    def to_text(self, digits: int = 6) -> str:
        """Aligned columns; numbers rounded to ``digits`` significant digits.

        >>> print(Table([Column("a", "a", kind="number")], [{"a": math.pi}]).to_text(digits=3))
        a
        ----
        3.14
        """
        _check_digits(digits)
        cells = [[self._cell(c, row[c.key], digits) for c in self.columns] for row in self.rows]
        headers = [c.header for c in self.columns]
        widths = [max([_width(h)] + [_width(r[j]) for r in cells]) for j, h in enumerate(headers)]
        widths = [max(w, 1) for w in widths]

        def line(parts: Sequence[str], aligns: Sequence[str]) -> str:
            out = [_pad(p, w, a) for p, w, a in zip(parts, widths, aligns)]
            return "  ".join(out).rstrip()

        aligns = ["right" if c.kind == "number" else "left" for c in self.columns]
        lines = []
        if self.title:
            lines.append(self.title)
        lines.append(line(headers, ["left"] * len(headers)))
        lines.append("  ".join("-" * w for w in widths))
        lines.extend(line(r, aligns) for r in cells)
        lines.extend(self.notes)
        return "\n".join(lines)

    def to_markdown(self, digits: int = 6) -> str:
        """A GitHub-flavoured Markdown table; formulas in code spans.

        >>> print(Table([Column("op", "op", kind="formula")], [{"op": "v_1 * v_2"}]).to_markdown())
        | op          |
        |:------------|
        | `v_1 * v_2` |
        """
        _check_digits(digits)

        def cell(col: Column, value: Any) -> str:
            text = self._cell(col, value, digits).replace("|", "\\|")
            if col.kind == "formula" and text:
                text = f"`{text}`"
            return text

        cells = [[cell(c, row[c.key]) for c in self.columns] for row in self.rows]
        headers = [c.header.replace("|", "\\|") for c in self.columns]
        widths = [max([_width(h), 3] + [_width(r[j]) for r in cells]) for j, h in enumerate(headers)]
        aligns = ["right" if c.kind == "number" else "left" for c in self.columns]

        def line(parts: Sequence[str], al: Sequence[str]) -> str:
            return "| " + " | ".join(_pad(p, w, a) for p, w, a in zip(parts, widths, al)) + " |"

        rule = (
            "|"
            + "|".join((":" + "-" * (w + 1)) if a == "left" else ("-" * (w + 1) + ":") for w, a in zip(widths, aligns))
            + "|"
        )
        lines = []
        if self.title:
            lines += [f"**{self.title}**", ""]
        lines.append(line(headers, aligns))
        lines.append(rule)
        lines.extend(line(r, aligns) for r in cells)
        if self.notes:
            lines.append("")
            lines.extend(note + "  " if i < len(self.notes) - 1 else note for i, note in enumerate(self.notes))
        return "\n".join(lines)

    def to_latex(self, digits: int = 6) -> str:
        """A booktabs ``tabular`` (needs ``\\usepackage{booktabs}``), ready to paste.

        >>> print(Table([Column("x", "x", "$x$", kind="number")], [{"x": -0.5}]).to_latex())
        \\begin{tabular}{r}
        \\toprule
        $x$ \\\\
        \\midrule
        $-0.5$ \\\\
        \\bottomrule
        \\end{tabular}
        """
        _check_digits(digits)
        spec = "".join("r" if c.kind == "number" else "l" for c in self.columns)
        lines = []
        if self.title:
            lines.append(f"% {self.title}")
        lines += [f"\\begin{{tabular}}{{{spec}}}", "\\toprule"]
        lines.append(
            " & ".join(c.latex if c.latex is not None else latex_escape(c.header) for c in self.columns) + r" \\"
        )
        lines.append("\\midrule")
        for i, row in enumerate(self.rows):
            parts = []
            for c in self.columns:
                value = row[c.key]
                if c.kind == "number":
                    parts.append(format_latex(value, digits))
                    continue
                given = self.latex_cells[i].get(c.key) if self.latex_cells is not None else None
                if given is not None:
                    parts.append(given)
                elif value is None or value == "":
                    parts.append("")
                elif c.kind == "formula":
                    parts.append(f"${value}$")
                else:
                    parts.append(latex_escape(str(value)))
            lines.append(" & ".join(parts) + r" \\")
        lines += ["\\bottomrule", "\\end{tabular}"]
        lines.extend(f"% {note}" for note in self.notes)
        return "\n".join(lines)

    def to_csv(self) -> str:
        """Comma-separated values at full precision; the header row holds the column keys.

        Floats are written with ``repr`` (they parse back exactly), mpmath
        numbers with all the digits their precision holds, arrays as nested
        lists of such numbers.

        >>> print(Table([Column("x", "x", kind="number")], [{"x": 0.1 + 0.2}]).to_csv(), end="")
        x
        0.30000000000000004
        """
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([c.key for c in self.columns])
        for row in self.rows:
            writer.writerow(
                [format_full(row[c.key]) if c.kind == "number" else _text(row[c.key]) for c in self.columns]
            )
        return buf.getvalue()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _check_digits(digits: Any) -> None:
    if not isinstance(digits, int) or isinstance(digits, bool) or digits < 1:
        raise ValueError(f"digits must be a positive int, got {digits!r}")


def _width(text: str) -> int:
    """Display width: combining marks (the dot of v̇, the bar of v̄) take no column."""
    return sum(0 if unicodedata.combining(ch) else 1 for ch in text)


def _pad(text: str, width: int, align: str) -> str:
    gap = " " * (width - _width(text))
    return gap + text if align == "right" else text + gap


# --------------------------------------------------------------------------
# number formatting
# --------------------------------------------------------------------------


def _is_mp(value: Any) -> bool:
    return isinstance(value, (mpmath.mpf, mpmath.mpc))


def _scalar_text(value: Any, digits: int) -> str:
    if _is_mp(value):
        if isinstance(value, mpmath.mpc):
            return _complex_text(value.real, value.imag, digits, mp=True)
        return mpmath.nstr(value, digits)
    if isinstance(value, (complex, np.complexfloating)):
        return _complex_text(value.real, value.imag, digits)
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    try:
        return f"{float(value):.{digits}g}"
    except (TypeError, ValueError):
        return str(value)


def _complex_text(re_: Any, im: Any, digits: int, mp: bool = False) -> str:
    r = mpmath.nstr(re_, digits) if mp else f"{float(re_):.{digits}g}"
    i = mpmath.nstr(abs(im), digits) if mp else f"{abs(float(im)):.{digits}g}"
    sign = "-" if (im < 0 or (not mp and math.copysign(1.0, float(im)) < 0)) else "+"
    return f"{r}{sign}{i}j"


def format_value(value: Any, digits: int = 6) -> str:
    """A number or array for reading: ``digits`` significant digits, arrays compact.

    >>> format_value(2 / 3)
    '0.666667'
    >>> format_value(np.arange(6.0))
    '(6,) [0, 1, …, 5]'
    """
    if value is None:
        return ""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        flat = value.ravel()
        shape = "(" + ", ".join(str(s) for s in value.shape) + ("," if value.ndim == 1 else "") + ")"
        if flat.size <= _ARRAY_SHOWN:
            shown = [_scalar_text(v, digits) for v in flat]
        else:
            shown = [_scalar_text(v, digits) for v in flat[: _ARRAY_SHOWN - 2]] + ["…", _scalar_text(flat[-1], digits)]
        return f"{shape} [{', '.join(shown)}]"
    if isinstance(value, np.ndarray):
        value = value[()]
    return _scalar_text(value, digits)


def format_full(value: Any) -> str:
    """A number or array at full precision: it parses back to exactly the same value.

    >>> format_full(0.1)
    '0.1'
    >>> format_full(np.array([[1.0, 0.5]]))
    '[[1.0, 0.5]]'
    >>> mpmath.mp.dps = 30; s = format_full(mpmath.mpf(1) / 3); mpmath.mp.dps = 15
    >>> s
    '0.333333333333333333333333333333346'
    """
    if value is None:
        return ""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return format_full(value[()])
        return "[" + ", ".join(format_full(v) for v in value) + "]"
    if isinstance(value, mpmath.mpf):
        return _mpf_full(value)
    if isinstance(value, mpmath.mpc):
        im = _mpf_full(value.imag)
        return f"({_mpf_full(value.real)}{'' if im.startswith('-') else '+'}{im}j)"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (complex, np.complexfloating)):
        return repr(complex(value))
    return str(value)


def _mpf_full(x: Any) -> str:
    """All the digits an mpf's precision holds (enough to read it back exactly)."""
    prec = x.context.prec
    return mpmath.libmp.to_str(x._mpf_, mpmath.libmp.repr_dps(prec))


def format_latex(value: Any, digits: int = 6) -> str:
    """A number or array for a LaTeX table: math mode, ``\\times 10^{k}`` exponents.

    >>> format_latex(1.5e-7)
    '$1.5 \\\\times 10^{-7}$'
    >>> format_latex(float("inf"))
    '$\\\\infty$'
    """
    if value is None:
        return ""
    text = format_value(value, digits)
    if text == "":
        return ""
    text = text.replace("…", r"\ldots")
    text = re.sub(
        r"(?<![A-Za-z])-?inf(?![A-Za-z])", lambda m: ("-" if m.group(0).startswith("-") else "") + r"\infty", text
    )
    text = re.sub(r"(?<![A-Za-z])nan(?![A-Za-z])", r"\\mathrm{NaN}", text)
    text = re.sub(
        r"e([+-])0*(\d+)", lambda m: r" \times 10^{" + ("-" if m.group(1) == "-" else "") + m.group(2) + "}", text
    )
    text = text.replace("j", r"\,i")
    return f"${text}$"


_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in plain text.

    >>> latex_escape("a_1 & 50%")
    'a\\\\_1 \\\\& 50\\\\%'
    """
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)
