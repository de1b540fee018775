"""Optional dependencies: imported only when a feature needs them, with one clear error each.

dualdiff's runtime dependencies are NumPy and mpmath. Sparse Jacobians
(:func:`dualdiff.jacobian_sparsity`, ``dd.jacfwd(f, sparsity=...)``) need
SciPy's sparse matrices; this module imports SciPy for them on first use
and says how to install it when it is missing.

>>> scipy_sparse().csr_array((2, 3)).shape
(2, 3)
"""

from __future__ import annotations

import importlib
from typing import Any

#: How to install what sparse Jacobians need: the one place this hint is written.
SPARSE_EXTRA_HINT = 'pip install "dualdiff[sparse]"'


class MissingExtraError(ImportError):
    """An optional dependency of the feature that was called is not installed."""


def scipy_sparse() -> Any:
    """The ``scipy.sparse`` module, or :class:`MissingExtraError` naming the extra to install."""
    try:
        return importlib.import_module("scipy.sparse")
    except ImportError as e:
        raise MissingExtraError(
            f"sparse Jacobians need SciPy (scipy.sparse), which is not installed: {SPARSE_EXTRA_HINT}"
        ) from e
