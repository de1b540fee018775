"""More structural primitives: triangles, rolls, zero padding, casts and Hermitian parts (linear rules).

Each is a :class:`~dualdiff.rules.kinds.Linear` rule: a map of plain arrays
whose last ``nbatch`` axes are directions it leaves alone, and the map's
transpose (for the pairing ``<a, b> = Re sum(a * b)`` of the reverse sweep,
JAX's: no conjugation). Functions that are compositions of existing rules
(``flipud`` is indexing, ``tile`` a broadcast and a reshape) have no rule
here; see :mod:`dualdiff.modes.np_shaping`.

>>> TRIL.fn(np.ones((2, 2)), 0, 0)
array([[1., 0.],
       [1., 1.]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .kinds import Linear, Nondiff, register


def _matrix_mask(x: Any, nbatch: int, k: int, lower: bool) -> np.ndarray:
    """The boolean mask of ``tril``/``triu`` for the last two core axes, with unit direction axes."""
    core = np.shape(x)[: np.ndim(x) - nbatch]
    n, m = core[-2], core[-1]
    mask = np.tri(n, m, k, dtype=bool) if lower else ~np.tri(n, m, k - 1, dtype=bool)
    return np.reshape(mask, (n, m) + (1,) * nbatch)


def _triangle(lower: bool) -> Any:
    def fn(x: Any, nbatch: int, k: int) -> Any:
        return np.where(_matrix_mask(x, nbatch, k, lower), x, np.zeros((), dtype=np.result_type(x)))

    return fn


def _triangle_rule(name: str, lower: bool) -> Linear:
    """The rule of ``np.tril`` or ``np.triu``: a mask, so its own transpose."""
    mask = _triangle(lower)
    return register(
        Linear(name, 1, name + "({0})", fn=mask, transpose=lambda g, x_shape, nbatch, k: mask(g, nbatch, k))
    )


#: ``np.tril(x, k)`` of the last two axes (dispatch makes a vector a matrix first).
TRIL = _triangle_rule("tril", True)
#: ``np.triu(x, k)`` of the last two axes.
TRIU = _triangle_rule("triu", False)

#: ``np.roll(x, shifts, axes)`` with explicit non-negative axes (dispatch ravels for
#: axis=None); its transpose rolls back.
ROLL = register(
    Linear(
        "roll",
        1,
        "roll({0})",
        fn=lambda x, nbatch, shifts, axes: np.roll(x, shifts, axes),
        transpose=lambda g, x_shape, nbatch, shifts, axes: np.roll(g, tuple(-s for s in shifts), axes),
    )
)


def _pad_fn(x: Any, nbatch: int, widths: tuple[tuple[int, int], ...]) -> Any:
    return np.pad(x, tuple(widths) + ((0, 0),) * nbatch)


def _unpad(g: Any, x_shape: tuple[int, ...], nbatch: int, widths: tuple[tuple[int, int], ...]) -> Any:
    return g[tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x_shape))]


#: ``np.pad(x, widths)`` with zeros (``widths``: one ``(before, after)`` per axis);
#: the transpose cuts the padding off.
PAD = register(Linear("pad", 1, "pad({0})", fn=_pad_fn, transpose=_unpad))


def _cast(x: Any, dtype: Any) -> Any:
    """``x.astype(dtype)``, taking the real part explicitly from complex to real (no warning)."""
    dtype = np.dtype(dtype)
    if np.iscomplexobj(x) and dtype.kind != "c":
        x = np.real(x)
    return np.asarray(x).astype(dtype, copy=False)


#: ``x.astype(dtype)`` between floating and complex types: the identity up to rounding
#: (complex to real keeps the real part). ``params = (dtype, input dtype)``; the
#: transpose casts a cotangent back to the input's type.
#: Both maps first project onto their domain's type (a complex cotangent of a
#: real value pairs through its real part), so the transpose of a transpose is exact.
ASTYPE = register(
    Linear(
        "astype",
        1,
        "astype({0})",
        fn=lambda x, nbatch, dtype, from_dtype: _cast(_cast(x, from_dtype), dtype),
        transpose=lambda g, x_shape, nbatch, dtype, from_dtype: _cast(_cast(g, dtype), from_dtype),
    )
)

#: ``x.astype(dtype)`` to an integer or boolean type: a function of values (piecewise constant).
ASTYPE_DISCRETE = register(
    Nondiff("astype_discrete", 1, "astype({0})", fn=lambda x, dtype: np.asarray(x).astype(dtype))
)


def _conj_t(x: Any, nbatch: int) -> Any:
    """The conjugate transpose of the last two core axes."""
    nd = np.ndim(x) - nbatch
    y = np.swapaxes(x, nd - 2, nd - 1)
    return np.conj(y) if np.iscomplexobj(y) else y


def _real_diagonal(x: Any, nbatch: int) -> Any:
    """Zeros but for the real part of the diagonal of the last two core axes."""
    nd = np.ndim(x) - nbatch
    n = np.shape(x)[nd - 1]
    eye = np.reshape(np.eye(n, dtype=bool), (n, n) + (1,) * nbatch)
    return np.where(eye, np.real(x), 0)


def _strict(x: Any, nbatch: int, lower: bool) -> Any:
    return _triangle(lower)(x, nbatch, -1 if lower else 1)


def _hermitian_fn(x: Any, nbatch: int, lower: bool) -> Any:
    t = _strict(x, nbatch, lower)
    return t + _conj_t(t, nbatch) + _real_diagonal(x, nbatch)


def _hermitian_t(g: Any, x_shape: tuple[int, ...], nbatch: int, lower: bool) -> Any:
    return _strict(g, nbatch, lower) + _strict(_conj_t(g, nbatch), nbatch, lower) + _real_diagonal(g, nbatch)


#: The Hermitian matrix LAPACK reads from one triangle of ``x`` (``lower``:
#: ``UPLO='L'``): that triangle, its conjugate mirrored, and the real part of
#: the diagonal. ``eigh``, ``cholesky`` and Hermitian ``pinv`` read only this.
HERMITIAN = register(Linear("hermitian", 1, "herm({0})", fn=_hermitian_fn, transpose=_hermitian_t))


__all__ = ["ASTYPE", "ASTYPE_DISCRETE", "HERMITIAN", "PAD", "ROLL", "TRIL", "TRIU"]
