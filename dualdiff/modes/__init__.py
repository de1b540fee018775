"""Layer 2: lifted values that carry derivatives, and the dispatch that feeds them the rules.

:mod:`.dual` (forward mode), :mod:`.tape` (reverse mode), :mod:`.taylor`
(Taylor mode: truncated polynomials, with its recurrences in :mod:`.series`,
:mod:`.taylor_kernels` and :mod:`.taylor_general`) and the other lifted types
share :mod:`.core` (levels and dispatch), :mod:`.lifted` (operators and
NumPy's protocols), :mod:`.numpy_api` (NumPy's protocols and the handler
registries) with its topic modules :mod:`.np_reductions`, :mod:`.np_shaping`,
:mod:`.np_products`, :mod:`.np_linalg`, :mod:`.np_ufuncs` (NumPy functions
onto rules; shared checks in :mod:`.np_common`),
:mod:`.generic` (the math namespace of nested levels) and :mod:`.fastpaths`
(per-rule code for Python floats). This layer imports only :mod:`dualdiff.rules`.
"""
