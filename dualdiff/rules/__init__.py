"""Layer 1, mathematics only: the table of primitives and their derivatives.

Every primitive is defined once here (:mod:`.elementwise`, :mod:`.structural`,
:mod:`.arrays`, :mod:`.values`); forward mode, reverse mode, Taylor mode,
recorded programs, traces and the cost model all read it. Rules added at
run time (:mod:`.extend`: ``defelementwise``, ``deflinear``, ``defgeneral``)
are checked there and then read the same way. Nothing in this package
imports from the layers above it.

>>> from dualdiff.rules import TABLE
>>> TABLE["sin"]
<rule sin>
"""

from __future__ import annotations

from . import arrays, elementwise, structural, values  # noqa: F401  (each registers its rules)
from .extend import defelementwise, defgeneral, deflinear
from .kinds import TABLE, Elementwise, General, Linear, Nondiff, Rule, Saved, on_register, register, unregister

__all__ = [
    "TABLE",
    "Elementwise",
    "General",
    "Linear",
    "Nondiff",
    "Rule",
    "Saved",
    "defelementwise",
    "defgeneral",
    "deflinear",
    "on_register",
    "register",
    "unregister",
]
