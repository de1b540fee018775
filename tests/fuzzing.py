"""Hypothesis settings shared by the fuzz suites, and a survey mode.

* ``DUALDIFF_FUZZ_EXAMPLES=k`` runs k times as many examples (random ones; the
  default run is derandomized, so CI sees the same examples every time).
* ``DUALDIFF_FUZZ_SHRINK=0`` reports the first failing example as found:
  shrinking an expensive example can take minutes.
* ``DUALDIFF_FUZZ_SURVEY=file`` records every failing example (its number in
  the test's sequence, its arguments, the error) to ``file`` as JSON lines
  instead of stopping at the first: how the suites were checked to find each
  bug of issue 10 on the code before it was fixed, and after how many examples.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import UnsatisfiedAssumption

SCALE = float(os.environ.get("DUALDIFF_FUZZ_EXAMPLES", "1"))
PHASES = tuple(Phase) if os.environ.get("DUALDIFF_FUZZ_SHRINK", "1") != "0" else (Phase.explicit, Phase.generate)
SURVEY = os.environ.get("DUALDIFF_FUZZ_SURVEY")


def fuzz(n: int) -> settings:
    """``n`` examples (times DUALDIFF_FUZZ_EXAMPLES), derandomized unless a longer run was asked for."""
    random = {"derandomize": False} if SCALE != 1 else {}  # else the profile's (conftest: derandomized)
    return settings(
        max_examples=max(1, int(n * SCALE)),
        deadline=None,
        database=None,
        **random,
        phases=PHASES,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )


def survey(test: Callable[..., Any]) -> Callable[..., Any]:
    """Count the examples of ``test`` (per parametrization); in survey mode, log failures instead of raising.

    Goes between ``@given`` and the function; the example sequence is the same
    with and without it (hypothesis derives it from the function's own source).
    """
    counters: dict[Any, Any] = {}

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        key = kwargs.get("name")
        number = next(counters.setdefault(key, itertools.count(1)))
        if not SURVEY:
            return test(*args, **kwargs)
        try:
            test(*args, **kwargs)
        except UnsatisfiedAssumption:
            raise
        except Exception as e:  # recorded, not raised: the survey goes on
            shown = {k: repr(v) for k, v in kwargs.items() if k != "data"}
            shown.update({f"arg{i}": repr(a) for i, a in enumerate(args)})
            record = {"test": test.__name__, "key": key, "example": number, "error": f"{type(e).__name__}: {e}"}
            with open(SURVEY, "a") as fh:
                fh.write(json.dumps({**record, "args": shown}) + "\n")
        return None

    return run
