"""argnums and has_aux against JAX itself (benchmarks/jax_compat.py), when JAX is installed.

Skipped without JAX: dualdiff never depends on it. Run in the benchmark venv
(benchmarks/README.md) to check: ``$BENCH_VENV/bin/python benchmarks/jax_compat.py``.
"""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("jax")


def test_argnums_and_has_aux_agree_with_jax():
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "jax_compat.py"
    spec = importlib.util.spec_from_file_location("jax_compat", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    n, failures = module.check()
    assert n >= 200 and not failures, failures
