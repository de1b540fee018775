"""Build the notebooks from their sources, run them, and save them with their outputs.

Each notebook ``notebooks/NN_name.ipynb`` is written from
``notebooks/source/NN_name.py``, a Python file in the "percent" format that
Jupytext, VS Code and Spyder read as cells::

    # %% [markdown]
    # # A heading
    # Markdown text, each line behind "# ".

    # %%
    print("a code cell")

Anything before the first ``# %%`` line is a comment about the file and is
left out. The notebook is then executed top to bottom in a fresh ``python3``
kernel, from the notebooks directory, with this repository's ``dualdiff``
first on the path, and saved with its outputs (tables, numbers, figures).

Usage, from anywhere::

    python notebooks/_build.py                 # build and run them all
    python notebooks/_build.py 02 04           # only those whose name starts so
    python notebooks/_build.py --check         # are the saved notebooks up to date with their sources?

Needs the ``notebooks`` extra: ``pip install -e ".[notebooks]"``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parent
SOURCES = NOTEBOOKS / "source"
REPO = NOTEBOOKS.parent

#: Seconds a single cell may run (the test uses the same limit).
TIMEOUT = 120
#: Saved notebooks are kept below this size (figures are small PNGs).
MAX_BYTES = 300_000

_MARKER = re.compile(r"^# %%(?P<markdown> \[markdown\])?\s*$")


def sources() -> list[Path]:
    """The notebook sources, in order."""
    return sorted(SOURCES.glob("[0-9][0-9]_*.py"))


def notebook_path(source: Path) -> Path:
    """Where the notebook built from ``source`` is saved."""
    return NOTEBOOKS / (source.stem + ".ipynb")


def parse(text: str) -> list[tuple[str, str]]:
    """The cells of a percent-format source: ``[(cell_type, text), ...]``."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        m = _MARKER.match(line)
        if m:
            cells.append(("markdown" if m.group("markdown") else "code", []))
        elif cells:
            kind, lines = cells[-1]
            if kind == "markdown":
                if line and not line.startswith("#"):
                    raise ValueError(f"a markdown cell line must start with '#': {line!r}")
                line = line[2:] if line.startswith("# ") else line[1:]
            lines.append(line)
    out = []
    for kind, lines in cells:
        body = "\n".join(lines).strip("\n")
        if body.strip():
            out.append((kind, body))
    return out


def make_notebook(source: Path) -> Any:
    """An unexecuted notebook from ``source``, with stable cell ids."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, body) in enumerate(parse(source.read_text(encoding="utf-8"))):
        cell = nbformat.v4.new_markdown_cell(body) if kind == "markdown" else nbformat.v4.new_code_cell(body)
        cell["id"] = f"cell-{i:02d}"
        nb.cells.append(cell)
    return nb


def kernel_env() -> dict[str, str]:
    """The kernel's environment: this repository's dualdiff first on the path, Agg for matplotlib."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["MPLBACKEND"] = "Agg"
    return env


def execute(nb: Any, timeout: int = TIMEOUT) -> float:
    """Run ``nb`` in place in a fresh python3 kernel from the notebooks directory; return the seconds taken."""
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute(env=kernel_env())
    return time.perf_counter() - start


def coalesce_streams(nb: Any) -> None:
    """Merge consecutive stdout (or stderr) outputs of a cell, which the kernel splits at random."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged: list[Any] = []
        for out in cell.outputs:
            last = merged[-1] if merged else None
            if (
                out.output_type == "stream"
                and last is not None
                and last.output_type == "stream"
                and last.name == out.name
            ):
                last.text += out.text
            else:
                merged.append(out)
        cell.outputs = merged


def out_of_date(source: Path) -> list[str]:
    """How the saved notebook differs from its source (empty when it is up to date and was run)."""
    import nbformat

    path = notebook_path(source)
    if not path.exists():
        return [f"{path.name} is missing"]
    saved = nbformat.read(path, as_version=4)
    want = make_notebook(source)
    problems = []
    got = [(c.cell_type, c.source) for c in saved.cells]
    expected = [(c.cell_type, c.source) for c in want.cells]
    if got != expected:
        first = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
        problems.append(f"{path.name}: cells differ from {source.name} (first at cell {first})")
    unrun = [i for i, c in enumerate(saved.cells) if c.cell_type == "code" and c.get("execution_count") is None]
    if unrun:
        problems.append(f"{path.name}: code cells {unrun} have no saved outputs")
    return problems


def build(source: Path) -> tuple[float, int]:
    """Build, run and save one notebook; return (seconds, bytes)."""
    import nbformat

    nb = make_notebook(source)
    seconds = execute(nb)
    coalesce_streams(nb)
    path = notebook_path(source)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{path.name} is {size:,} bytes, over the {MAX_BYTES:,} limit: make its figures smaller")
    return seconds, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="build only the notebooks whose names start with these")
    parser.add_argument("--check", action="store_true", help="only check that the saved notebooks match their sources")
    args = parser.parse_args(argv)
    chosen = [s for s in sources() if not args.only or any(s.stem.startswith(p) for p in args.only)]
    if not chosen:
        parser.error(f"no notebook source matches {args.only}; the sources are {[s.stem for s in sources()]}")
    if args.check:
        problems = [p for s in chosen for p in out_of_date(s)]
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print("rebuild with: python notebooks/_build.py", file=sys.stderr)
        return 1 if problems else 0
    for source in chosen:
        seconds, size = build(source)
        print(f"{notebook_path(source).name}: ran in {seconds:.1f} s, saved {size / 1000:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
