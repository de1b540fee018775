"""The exceptions dualdiff raises, so users can catch them by name."""

from __future__ import annotations

import importlib
from typing import Any

from .extras import install_hint


class DomainError(ValueError):
    """A real argument lies outside a function's real domain.

    Raised for every number type alike (floats, mpmath reals, NumPy arrays):
    ``dd.log(-1.0)``, ``dd.sqrt(np.array([-1.0]))``. Complex arguments use
    the principal branch and never raise this.

    >>> import dualdiff as dd
    >>> try:
    ...     dd.log(-1.0)
    ... except dd.DomainError as e:
    ...     print(e)
    log: argument -1.0 is outside the domain x >= 0
    """


class NoRuleError(TypeError):
    """A function has no derivative rule in dualdiff.

    Give it one: :func:`dualdiff.defelementwise` (or ``deflinear``,
    ``defgeneral``) registers a rule, :func:`dualdiff.register_numpy_function`
    sends a NumPy function to it, and :func:`dualdiff.custom_jvp` /
    :func:`dualdiff.custom_vjp` give a Python function a derivative of its own.

    >>> import numpy as np, dualdiff as dd
    >>> try:
    ...     dd.jvp(np.fft.fft, np.ones(4), np.ones(4))
    ... except dd.NoRuleError as e:
    ...     print(e)
    np.fft.fft has no derivative rule in dualdiff
    """


class NonHolomorphicError(NoRuleError):
    """A function that is not complex-differentiable was differentiated at a complex point.

    dualdiff differentiates complex numbers as JAX does: holomorphic
    functions (``exp``, ``sin``, ``@``, ``solve``, ...) by their complex
    derivative, and real-valued functions of complex numbers (``abs``,
    ``np.real``, ``np.imag``, ``np.angle``, ``abs(z)**2``, norms, ``np.var``)
    as functions of the real and imaginary parts, with the cotangent
    convention of JAX (no conjugation: ``grad(abs)(z) = conj(z) / |z|``).
    A function that is neither (``sign``, ``maximum``, ``floor`` of a complex
    number) raises this error; write it with ``np.real``/``np.imag`` to
    say which real function you mean.

    >>> import numpy as np, dualdiff as dd
    >>> try:
    ...     dd.grad(lambda z: np.sign(z).real)(1.0 + 1.0j)
    ... except dd.NonHolomorphicError as e:
    ...     print(str(e)[:37])
    sign is not complex-differentiable at
    """


class GuardError(RuntimeError):
    """A recorded program was called where one of its recorded decisions goes the other way.

    :func:`dualdiff.wengert` stores every decision ``f`` takes on a traced
    value (``if x > 0``, ``int(x)``, an index computed from x) as a guard;
    evaluating the program where a guard fails raises this error, naming the
    guard, its recorded outcome and the line of ``f`` that took it, instead of
    returning the value of the other branch.

    >>> import dualdiff as dd
    >>> prog = dd.wengert(lambda x: x * 2 if x > 0 else -x, 1.0)
    >>> try:
    ...     prog(-1.0)
    ... except dd.GuardError as e:
    ...     print(str(e).splitlines()[0])
    guard 1 failed: bool(v_1) was True when recorded, False here
    """


class MissingExtraError(ImportError):
    """An optional dependency of the feature that was called is not installed (the message says how to get it)."""


def scipy_sparse() -> Any:
    """The ``scipy.sparse`` module, imported on first use, or :class:`MissingExtraError` naming the extra.

    dualdiff's runtime dependencies are NumPy and mpmath; sparse Jacobians
    (``dd.jacobian_sparsity``, ``dd.jacfwd(f, sparsity=...)``) need SciPy.

    >>> scipy_sparse().csr_array((2, 3)).shape
    (2, 3)
    """
    try:
        return importlib.import_module("scipy.sparse")
    except ImportError as e:
        raise MissingExtraError(
            f"sparse Jacobians need SciPy (scipy.sparse), which is not installed: {install_hint('sparse')}"
        ) from e


class NotLinearError(TypeError):
    """A map that must be linear in its tangents is not, so it has no transpose.

    Reverse mode through a :func:`dualdiff.custom_jvp` function transposes
    its JVP rule; a rule that is not linear in the tangents (a tangent
    squared, a nonlinear function of one, a constant offset, a branch on
    one) raises this error naming the step. Give such a function a VJP with
    :func:`dualdiff.custom_vjp` instead.

    >>> import dualdiff as dd
    >>> f = dd.custom_jvp(lambda x: x * x)
    >>> _ = f.defjvp(lambda p, t: (p[0] * p[0], 2 * p[0] * t[0] + t[0] * t[0]))
    >>> try:
    ...     dd.grad(f)(1.0)
    ... except dd.NotLinearError as e:
    ...     print(str(e)[:60])
    reverse mode through custom_jvp function custom transposes i
    """
