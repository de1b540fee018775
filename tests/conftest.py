"""Test settings shared by every test module.

Hypothesis runs derandomized by default, so that CI and a newcomer's machine
draw the same examples (a failure reproduces exactly). For a longer, random
search locally: ``HYPOTHESIS_PROFILE=explore python -m pytest``.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("default", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
