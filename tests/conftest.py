"""Shared test fixtures: every test leaves the rule table as it found it.

Tests that register rules or NumPy functions at run time must unregister
them; otherwise a later test (or one that iterates ``TABLE``) would see
them. This fixture fails the test that leaks, and restores the table so the
rest of the suite still sees the built-in table only.
"""

from __future__ import annotations

import pytest

from dualdiff.modes.numpy_api import FUNCTION_HANDLERS, UFUNC_RULES
from dualdiff.rules.kinds import TABLE, register, unregister


@pytest.fixture(autouse=True)
def _rule_table_untouched():
    table, handlers, ufuncs = dict(TABLE), dict(FUNCTION_HANDLERS), dict(UFUNC_RULES)
    yield
    leaked = []
    if TABLE != table:
        added = sorted(set(TABLE) - set(table))
        changed = sorted(n for n in table if TABLE.get(n) is not table[n])
        leaked.append(f"rules added {added}, removed or replaced {changed}")
        for name in added:
            unregister(name)
        for name in changed:
            register(table[name], replace=True)
    if FUNCTION_HANDLERS != handlers or UFUNC_RULES != ufuncs:
        leaked.append("NumPy function or ufunc mappings changed")
        FUNCTION_HANDLERS.clear()
        FUNCTION_HANDLERS.update(handlers)
        UFUNC_RULES.clear()
        UFUNC_RULES.update(ufuncs)
    if leaked:
        pytest.fail("the test did not clean up what it registered: " + "; ".join(leaked))
