"""Layer 1, mathematics only: the table of primitives and their derivatives.

Every primitive is defined once here (:mod:`.elementwise`, :mod:`.structural`,
:mod:`.arrays`, :mod:`.shaping`, :mod:`.linalg`, :mod:`.piecewise`, :mod:`.special`, :mod:`.scans`,
:mod:`.values`); forward mode, reverse mode, Taylor mode,
recorded programs, traces and the cost model all read it. Nothing in this
package imports from the layers above it.

>>> from dualdiff.rules import TABLE
>>> TABLE["sin"]
<rule sin>
"""

from __future__ import annotations

from . import arrays, elementwise, indices, linalg, piecewise, scans, shaping, special, structural, values  # noqa: F401  (each registers its rules)
from .kinds import TABLE, Elementwise, General, Linear, Nondiff, Rule, on_register, register, unregister

__all__ = ["TABLE", "Elementwise", "General", "Linear", "Nondiff", "Rule", "on_register", "register", "unregister"]
