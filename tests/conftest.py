"""Test settings shared by every test module.

Hypothesis runs derandomized by default, so that CI and a newcomer's machine
draw the same examples (a failure reproduces exactly). For a longer, random
search locally: ``HYPOTHESIS_PROFILE=explore python -m pytest``.

Every test leaves the rule table as it found it: tests that register rules
or NumPy functions at run time must unregister them, otherwise a later test
(or one that iterates ``TABLE``) would see them. The fixture below fails the
test that leaks, and restores the table so that the rest of the suite still
sees the built-in table only.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from dualdiff.modes.numpy_api import FUNCTION_HANDLERS, UFUNC_RULES
from dualdiff.rules.kinds import TABLE, register, unregister

settings.register_profile("default", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


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
