"""What the transforms share: chunks of directions, seeds, and argument checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec

import mpmath
import numpy as np

from ..modes.core import LiftedBase, strip_all
from ..modes.tree import leaves

#: What the transforms take: f(x), or f(*args) with argnums (see transforms/arguments.py).
Function = Callable[..., Any]

#: The parameters of a transformed function: ``grad(f)`` is called as ``f`` is (type checkers check it).
P = ParamSpec("P")

#: jacfwd/jacrev push at most this many directions through f at once by default,
DEFAULT_CHUNK = 1024
#: and fewer for large inputs (outputs): each direction costs memory the size of
#: the input in every intermediate, so by default size * chunk stays under this
#: many elements (64 MiB of float64), as ForwardDiff caps its chunk size.
CHUNK_BUDGET = 2**23


def default_chunk(size: int) -> int:
    """Directions per pass (cotangents per sweep) by default, for ``size`` inputs (outputs).

    >>> default_chunk(100), default_chunk(100_000)
    (1024, 83)
    """
    return max(1, min(DEFAULT_CHUNK, CHUNK_BUDGET // max(size, 1)))


def check_f(f: Any, who: str) -> None:
    """Fail early, naming the transform, when ``f`` is not callable."""
    if not callable(f):
        raise TypeError(f"{who} needs a callable f, got {type(f).__name__}: {f!r:.80}")


def check_chunk(chunk: Any) -> None:
    """Fail early unless ``chunk`` is None or a positive int."""
    if chunk is not None and (not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1):
        raise ValueError(f"chunk must be a positive int or None, got {chunk!r}")


def zeros(like: Any, batch: tuple[int, ...] = ()) -> Any:
    """Zeros shaped like ``like`` (plus ``batch``), in its floating dtype: a derivative that is zero.

    An mpmath number gets an mpmath zero, so a derivative at 50 digits stays an mpmath number.

    >>> import mpmath
    >>> zeros(1.5), zeros(mpmath.mpf(2)), zeros(np.ones(2), (3,)).shape
    (0.0, mpf('0.0'), (2, 3))
    """
    inner = strip_all(like)
    shape = np.shape(like) + batch
    if shape:
        return np.zeros(shape, dtype=seed_dtype(like))
    if isinstance(inner, (mpmath.mpf, mpmath.mpc)):
        return type(inner)(0)
    return (complex if np.iscomplexobj(inner) else float)(0)


def unit(like: Any) -> Any:
    """The cotangent 1 for a scalar output ``like``: float32 stays float32, an mpmath number stays mpmath.

    >>> import mpmath
    >>> unit(np.float32(2)).dtype, unit(mpmath.mpf(2)), unit(2.0)
    (dtype('float32'), mpf('1.0'), 1.0)
    """
    inner = strip_all(like)
    if isinstance(inner, np.generic):
        return seed_dtype(inner).type(1)
    if isinstance(inner, (mpmath.mpf, mpmath.mpc)):
        return mpmath.mpf(1)
    return 1.0


def seed_dtype(like: Any) -> Any:
    """float32 seeds and zeros for float32 values (so float32 stays float32), else float64/complex."""
    d = getattr(strip_all(like), "dtype", None)
    return d if d is not None and d.kind in "fc" else np.dtype(complex if np.iscomplexobj(strip_all(like)) else float)


def basis_chunks(x: Any, chunk: int) -> Any:
    """Seed tangents for the columns [s, e) of the identity, chunk by chunk."""
    xl = leaves(x)
    sizes = [int(np.size(a)) for a in xl]
    n = sum(sizes)
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        k = e - s
        seeds = []
        offset = 0
        for a, sz in zip(xl, sizes):
            if chunk == 1:
                t = np.zeros(sz, dtype=seed_dtype(a))
                if offset <= s < offset + sz:
                    t[s - offset] = 1.0
                seeds.append(t.reshape(np.shape(a)) if np.ndim(a) else t[0].item())  # complex stays complex
            else:
                t = np.zeros((sz, k), dtype=seed_dtype(a))
                lo, hi = max(s, offset), min(e, offset + sz)
                if lo < hi:
                    t[np.arange(lo - offset, hi - offset), np.arange(lo - s, hi - s)] = 1.0
                seeds.append(t.reshape(np.shape(a) + (k,)))
            offset += sz
        yield s, e, seeds


def is_lifted(v: Any) -> bool:
    """True for a Dual, tape variable or other lifted value."""
    return isinstance(v, LiftedBase)


#: The builder of Jacobians that go by chunks of seeds (sparse, or on an executor), registered by
#: :mod:`.chunked`: it builds on forward and reverse mode, so they reach it through here.
_CHUNKED: list[Callable[..., Any]] = []


def register_chunked(builder: Callable[..., Any]) -> None:
    """Install ``builder(f, mode, chunk, sparsity, executor, progress)`` (done by :mod:`.chunked`)."""
    _CHUNKED[:] = [builder]


def chunked_jacobian(
    f: Function, mode: str, chunk: int | None, sparsity: Any, executor: Any, progress: bool | None
) -> Function:
    """The Jacobian function of ``jacfwd``/``jacrev`` given ``sparsity=`` or ``executor=``."""
    if not _CHUNKED:  # pragma: no cover - dualdiff.transforms imports chunked
        raise RuntimeError("dualdiff.transforms.chunked was not imported")
    return _CHUNKED[0](f, mode, chunk, sparsity, executor, progress)
