"""README's table of what differentiates is generated from the rule table: it must be the current one."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from dualdiff.present import coverage

README = Path(__file__).resolve().parent.parent / "README.md"


def _numpy_has(name: str) -> bool:
    """Whether this NumPy has ``np.a.b`` (the README's table is written on the newest NumPy)."""
    obj = np
    for part in name.removeprefix("np.").split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def _rows(table: str) -> dict[str, set[str]]:
    """Each row's first cell -> the backticked names in the rest of it."""
    rows = {}
    for line in table.splitlines():
        cells = line.split(" | ")
        if len(cells) >= 2 and not line.startswith("|---"):
            rows[cells[0]] = set(re.findall(r"`([^`]+)`", " | ".join(cells[1:])))
    return rows


def test_readme_has_the_current_coverage_table():
    text = README.read_text(encoding="utf-8")
    assert coverage.START in text and coverage.END in text, "README.md lacks the coverage markers"
    inside = text.split(coverage.START, 1)[1].split(coverage.END, 1)[0].strip()
    generated = coverage.markdown()
    hint = (
        "README.md's coverage table is out of date; regenerate it with "
        "`python -m dualdiff.present.coverage --write README.md`"
    )
    written, current = _rows(inside), _rows(generated)
    newer_numpy_only = {
        name for names in written.values() for name in names if name.startswith("np.") and not _numpy_has(name)
    }
    if not newer_numpy_only:
        assert inside == generated, hint
        return
    # An older NumPy: the table is the README's less the functions this NumPy lacks, row by row.
    assert written.keys() == current.keys(), hint
    for row, names in written.items():
        assert names - newer_numpy_only == current[row], f"{hint} (row {row})"


def test_every_rule_and_handler_is_in_the_table():
    table = coverage.markdown()
    from dualdiff.modes.numpy_api import FUNCTION_HANDLERS, UFUNC_RULES, numpy_name
    from dualdiff.rules import TABLE

    for name in TABLE:
        assert f"`{name}`" in table, name
    for func in FUNCTION_HANDLERS:
        assert f"`{numpy_name(func)}`" in table, func
    for ufunc in UFUNC_RULES:
        assert f"`np.{ufunc.__name__}`" in table, ufunc


def test_write_replaces_between_markers(tmp_path):
    p = tmp_path / "doc.md"
    p.write_text(f"before\n{coverage.START}\nold\n{coverage.END}\nafter\n", encoding="utf-8")
    assert coverage.main(["--write", str(p)]) == 0
    text = p.read_text(encoding="utf-8")
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text
    assert coverage.markdown() in text
