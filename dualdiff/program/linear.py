"""Linear programs: a linear map recorded as a Program, and its transpose.

A JVP rule written with dualdiff operations is a linear map of the tangents
(JAX's ``linearize``). Recorded on tracers (:func:`record_linear`) it becomes a
:class:`~dualdiff.program.program.Program` whose inputs are the tangents and
whose equations are linear in them, everything else being constants of the
program. :func:`transpose_linear` walks those equations in reverse and applies
each rule's transpose, as a reverse sweep does: so reverse mode gets the VJP
of any linear map written with the rules, without a formula of its own.

Which equations are linear is read from the rules: ``Linear`` rules always;
``Elementwise`` and ``General`` rules by their ``linear_in`` (``mul`` is
linear in either factor while the other is constant, ``add`` in both jointly,
``matmul`` in either operand). Anything else on a tangent -- a nonlinear
function, a product of two tangents, a decision on a tangent's value, a
constant offset -- raises :class:`~dualdiff.errors.NotLinearError`, naming it.

>>> import numpy as np
>>> prog = record_linear(lambda t: 3.0 * t[0] + np.sum(t[1]), [0.0, np.zeros(2)])
>>> transpose_linear(prog, [1.0])
[3.0, array([1., 1.])]
>>> try:
...     record_linear(lambda t: t[0] * t[0], [0.0])
... except NotLinearError as e:
...     print(str(e)[:44])
the map is not linear in the tangents: v_1 =
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import numpy as np

from ..errors import NotLinearError
from ..modes.core import apply_linear, strip_all
from ..rules.backends import backend_for
from ..rules.evaluate import local
from ..rules.kinds import Elementwise, General, Linear, Nondiff, Rule
from ..rules.structural import sum_to_shape
from .program import ArrayOutput, Equation, Program
from .tracer import record


def record_linear(fn: Callable[[list[Any]], Any], zeros: Sequence[Any]) -> Program:
    """Record ``fn(tangents)`` (a list of leaves in, a leaf or tuple of leaves out) as a linear program.

    ``zeros`` are the tangents' values while recording (zeros shaped like
    them): a linear map returns zero there, which is checked. Raises
    :class:`NotLinearError` when ``fn`` does something that is not linear in
    the tangents.
    """
    try:
        prog, out = record(lambda ts: fn(list(ts)), tuple(zeros), checked=True)
    except NotLinearError:
        raise
    except Exception as e:  # a nonlinear step failed on the zero tangents, or left the program
        raise NotLinearError(f"the map could not be recorded as a linear map of the tangents: {e}") from e
    _check_linear(prog, out)
    return prog


def _check_linear(prog: Program, out: Any) -> None:
    if prog.guards:
        g = prog.guards[0]
        raise NotLinearError(
            f"the map is not linear in the tangents: it decides on a tangent's value ({g.kind} of "
            f"{prog.operation(prog.equations[g.slot - prog.n])[0] if g.slot >= prog.n else prog.names[g.slot]}, "
            f"at {g.source})"
        )
    for eq in prog.equations:
        why = _nonlinear(prog, eq)
        if why:
            text = prog.operation(eq)[0]
            raise NotLinearError(
                f"the map is not linear in the tangents: v_{prog.index(eq.out)} = {text} ({why}); "
                "only linear operations may touch a tangent (sums, products with constants, "
                "indexing, reshaping, matmul with a constant, ...)"
            )
    for leaf in _leaves(out):
        v = strip_all(leaf.primal if hasattr(leaf, "primal") else leaf)
        if not _is_zero(v):
            raise NotLinearError(
                "the map is not linear in the tangents: with all tangents zero it returns "
                f"{v!r:.60} (a constant offset, or a value that does not depend on the tangents)"
            )


def _leaves(out: Any) -> list[Any]:
    if isinstance(out, (tuple, list)):
        return [leaf for o in out for leaf in _leaves(o)]
    if isinstance(out, np.ndarray) and out.dtype == object:
        return list(out.ravel())
    return [out]


def _is_zero(v: Any) -> bool:
    try:
        return bool(np.all(np.asarray(v == 0)))
    except (TypeError, ValueError):
        return False


def _slot_positions(eq: Equation) -> list[int]:
    return [i for i, a in enumerate(eq.inputs) if type(a) is int]


def _linear_in(linear_in: Any, positions: list[int], nin: int) -> bool:
    if linear_in == "all":
        return True
    if linear_in == "each":
        return len(positions) == 1
    return bool(linear_in) and set(positions) <= set(linear_in)


def _nonlinear(prog: Program, eq: Equation) -> str:
    """Why ``eq`` is not linear in the slots it reads ('' if it is)."""
    rule = eq.rule
    positions = _slot_positions(eq)
    producers = {e.out: e for e in prog.equations}
    for i in positions:
        src = producers.get(eq.inputs[i])  # type: ignore[arg-type]
        if src is not None and isinstance(src.rule, Nondiff) and not isinstance(rule, Nondiff):
            return f"it uses {src.rule.name} of a tangent, a function of the tangent's value"
    if isinstance(rule, Nondiff) or isinstance(rule, Linear):
        return ""
    if isinstance(rule, General):
        diff = [i for i in positions if i not in rule.nondiff_args]
        if len(diff) < len(positions):
            return f"a tangent is the argument of {rule.name} that carries no derivative"
        if not _linear_in(rule.linear_in, diff, rule.nin):
            return _why(rule, diff)
        return ""
    if isinstance(rule, Elementwise):
        if not _linear_in(rule.linear_in, positions, rule.nin):
            return _why(rule, positions)
        return ""
    return f"{rule.name} is a rule of an unknown kind"


def _why(rule: Rule, positions: list[int]) -> str:
    li = getattr(rule, "linear_in", ())
    if li == "each" and len(positions) > 1:
        return f"{rule.name} of two tangents"
    if not li:
        return f"{rule.name} is not linear"
    return f"{rule.name} is linear only in its argument(s) {list(li)}, and a tangent is argument {positions}"


def _zeros(shape: tuple[int, ...], dtype: Any) -> Any:
    if isinstance(dtype, str):
        return mpmath.mpf(0) if dtype == "mpf" else mpmath.mpc(0)
    if not shape:
        return np.dtype(dtype).type(0).item() if np.dtype(dtype).kind in "fc" else 0.0
    return np.zeros(shape, dtype=dtype)


def _expand(c: Any, nbatch: int) -> Any:
    return np.expand_dims(c, -1) if nbatch and np.ndim(c) > 0 else c


def transpose_linear(prog: Program, cotangents: Sequence[Any], nbatch: int = 0) -> list[Any]:
    """The transpose of a linear program: the cotangent of each input for the outputs' ``cotangents``.

    ``cotangents`` holds one cotangent per output of the program (shaped
    like it, plus ``nbatch`` trailing direction axes); the result has one per
    input (zeros for an input no output depends on). Each equation is
    transposed with its rule's transpose, so the cotangents may be lifted
    values (nested derivatives) and the constants of the program too.
    """
    n = prog.n
    shapes = [a.shape for a in prog.in_avals] + [eq.shape for eq in prog.equations]
    dtypes = [a.dtype for a in prog.in_avals] + [eq.dtype for eq in prog.equations]
    ct: dict[int, Any] = {}

    def add(slot: int, v: Any) -> None:
        ct[slot] = v if slot not in ct else ct[slot] + v

    for o, g in zip(prog.outputs, cotangents):
        if isinstance(o, ArrayOutput):
            for idx, a in zip(np.ndindex(o.shape), o.atoms):
                if type(a) is int:
                    add(a, g[idx])
        elif type(o) is int:
            add(o, g)
    for eq in reversed(prog.equations):
        g = ct.pop(eq.out, None)
        if g is None or isinstance(eq.rule, Nondiff):
            continue
        positions = _slot_positions(eq)
        values = [_zeros(shapes[a], dtypes[a]) if type(a) is int else a.value for a in eq.inputs]
        slots: list[int] = [eq.inputs[i] for i in positions]
        for slot, v in zip(slots, _transpose_equation(eq, g, positions, values, nbatch)):
            add(slot, v)
    out = []
    for i in range(n):
        v = ct.get(i)
        if v is None:
            batch = _batch(cotangents, nbatch)
            v = _zeros(shapes[i] + batch, dtypes[i])
        out.append(v)
    return out


def _batch(cotangents: Sequence[Any], nbatch: int) -> tuple[int, ...]:
    if not nbatch or not cotangents:
        return ()
    s = np.shape(strip_all(cotangents[0]))
    return s[len(s) - nbatch :]


def _transpose_equation(eq: Equation, g: Any, positions: list[int], values: list[Any], nbatch: int) -> list[Any]:
    rule = eq.rule
    if isinstance(rule, Linear):
        x_shape = np.shape(values[0])
        return [apply_linear(rule.T, g, x_shape, *eq.params, nbatch=eq.nbatch + nbatch)]
    if isinstance(rule, General):
        y = _zeros(eq.shape, eq.dtype)
        if rule.joint_transpose is not None:
            return list(rule.joint_transpose(g, nbatch, y, values, eq.params, tuple(positions)))
        return [rule.transposes[i](g, nbatch, y, values, eq.params) for i in positions]
    assert isinstance(rule, Elementwise)
    out = []
    for i in positions:
        if rule.signs is not None:
            v = g if rule.signs[i] > 0 else -g
        else:
            c = local(rule, backend_for(values), values, [j == i for j in range(len(values))])[1][i]
            v = g * _expand(c, nbatch)
        shape = np.shape(values[i])
        if np.shape(strip_all(v))[: np.ndim(strip_all(v)) - nbatch] != shape:
            v = sum_to_shape(v, shape, nbatch)
        out.append(v)
    return out


__all__ = ["NotLinearError", "record_linear", "transpose_linear"]
