"""The notebooks in notebooks/ run top to bottom without an error, and are saved up to date with their outputs.

Each notebook is executed with nbclient in a fresh ``python3`` kernel from
the notebooks directory (this repository's dualdiff first on the path);
any cell that raises (the notebooks assert their numbers against
independent references) fails the test. Needs the ``notebooks`` extra;
without it these tests are skipped.
"""

import importlib.util
import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")
pytest.importorskip("scipy")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))

#: Seconds a cell may take, and the whole notebook.
TIMEOUT = 120
#: Saved notebooks stay small enough to read on GitHub.
MAX_BYTES = 300_000


def _build_module():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kernel_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["MPLBACKEND"] = "Agg"
    return env


def test_the_notebooks_are_there():
    names = [p.stem for p in PATHS]
    assert names == [
        "01_dual_numbers_and_jvp",
        "02_worked_tangent_tables",
        "03_forward_vs_reverse_cost",
        "04_jacobians_in_practice",
        "05_taylor_mode",
        "06_sparse_jacobians",
        "07_compiled_derivatives",
        "08_extending_dualdiff",
    ]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs_top_to_bottom(path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute(env=_kernel_env())  # raises CellExecutionError, naming the cell, if any cell raises
    seconds = time.perf_counter() - start
    assert seconds < TIMEOUT, f"{path.name} took {seconds:.0f} s"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_saved_notebook_is_up_to_date_with_outputs(path):
    build = _build_module()
    source = build.SOURCES / (path.stem + ".py")
    assert source.exists(), f"{path.name} has no source {source.relative_to(ROOT)}"
    problems = build.out_of_date(source)
    assert not problems, "; ".join(problems) + " -- rebuild with: python notebooks/_build.py"

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"], "saved with an error"
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure saved"
    assert path.stat().st_size < MAX_BYTES
