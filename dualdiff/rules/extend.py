"""Adding rules to the table at run time: ``defelementwise``, ``deflinear``, ``defgeneral``.

Mathematics only: each function builds a rule of one kind
(:mod:`dualdiff.rules.kinds`), checks it, and registers it; every mode, level,
trace, cost count and compiled function then picks it up through the table's
registration hook, at the speed of a built-in rule. (``dd.defelementwise``
and friends, one layer up, also return the function that applies the rule.)

A bad rule fails here, at registration, with a message that names what is
wrong: a name that is taken (pass ``replace=True`` to replace a rule) or not
an identifier, the wrong number of partials, a partial that does not take
the math namespace ``m`` (each partial is *called* with the float namespace
at a point inside the domain), a partial that disagrees with finite
differences of the function, a ufunc that another rule already stands for, a
transpose that is not the transpose of its map (with ``at=``, a point to
probe linear and general rules at).

>>> import math
>>> rule = defelementwise(
...     "demo_gauss", {"float": lambda x: math.exp(-x * x)}, [lambda m, y, x: -2 * x * y]
... )
>>> rule, rule.nin, rule.template
(<rule demo_gauss>, 1, 'demo_gauss({0})')
>>> unregister("demo_gauss")
>>> try:
...     defelementwise("demo_bad", {"float": math.sin}, [lambda y, x: math.cos(x)])
... except TypeError as e:
...     print(str(e)[:57])
defelementwise('demo_bad'): partial 0 must take (m, y, x)
"""

from __future__ import annotations

import inspect
import keyword
import math
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import mpmath
import numpy as np

from .arrays import PerArgument
from .backends import FLOAT, MP, NUMPY
from .kinds import TABLE, Elementwise, General, Linear, Partial, register, unregister

__all__ = ["defelementwise", "defgeneral", "deflinear", "unregister"]

#: The names every math namespace offers besides the rules' functions: a rule cannot take them.
RESERVED = frozenset({"const", "pi", "xlogy", "safe_div", "dpow", "zero", "name", "slot"})
NAMESPACES = ("float", "complex", "mpmath", "numpy")
OP_CLASSES = ("adds", "mults", "none", "nlops")
#: Where a rule is probed when no point is given: inside most domains first.
_PROBE = (0.5, 1.5, 0.25, 2.5, 0.9, -0.5, 3.0, -1.5, 10.0)


# ==========================================================================
# shared checks
# ==========================================================================


def _who(kind: str, name: Any) -> str:
    return f"{kind}({name!r})"


def _check_name(kind: str, name: Any, replace: bool) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"{kind}: the name must be a Python identifier (it names functions), got {name!r}")
    if name in RESERVED:
        raise ValueError(f"{_who(kind, name)}: {name!r} is a helper of every math namespace; choose another name")
    if name in TABLE and not replace:
        raise ValueError(
            f"{_who(kind, name)}: a rule named {name!r} exists already ({TABLE[name]!r}, "
            f"{type(TABLE[name]).__name__}); pass replace=True to replace it"
        )


def _takes(fn: Any, n: int) -> bool:
    """Whether ``fn`` can be called with ``n`` positional arguments (True when it cannot be inspected)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    try:
        sig.bind(*range(n))
    except TypeError:
        return False
    return True


def _check_callable(who: str, what: str, fn: Any, n: int, call: str) -> None:
    if not callable(fn):
        raise TypeError(f"{who}: {what} must be callable, got {type(fn).__name__}: {fn!r:.60}")
    if not _takes(fn, n):
        raise TypeError(f"{who}: {what} must take {call}; its signature is {_signature(fn)}")


def _signature(fn: Any) -> str:
    try:
        return f"{getattr(fn, '__name__', 'fn')}{inspect.signature(fn)}"
    except (TypeError, ValueError):
        return repr(fn)


def _check_template(who: str, template: Any, nin: int) -> None:
    if not isinstance(template, str):
        raise TypeError(f"{who}: template must be a string such as 'f({{0}})', got {template!r}")
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as e:
        raise ValueError(f"{who}: template {template!r} is malformed: {e}") from None
    if nin >= 0 and fields != {str(i) for i in range(nin)}:
        want = ", ".join(f"{{{i}}}" for i in range(nin))
        raise ValueError(f"{who}: template {template!r} must place each argument once: {want}")


def _check_linear_in(who: str, linear_in: Any, nin: int) -> None:
    if linear_in in ("all", "each", ()):
        return
    ok = isinstance(linear_in, tuple) and all(isinstance(i, int) and (nin < 0 or 0 <= i < nin) for i in linear_in)
    if not ok:
        raise ValueError(f"{who}: linear_in must be 'all', 'each' or a tuple of argument positions, got {linear_in!r}")


def _default_template(name: str, nin: int) -> str:
    if nin < 0:
        return name + "({0}, ...)"
    return name + "(" + ", ".join(f"{{{i}}}" for i in range(nin)) + ")"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, complex, np.number, mpmath.mpf, mpmath.mpc)) and not isinstance(v, bool)


# ==========================================================================
# elementwise rules
# ==========================================================================


def defelementwise(
    name: str,
    evaluate: Callable[..., Any] | Mapping[str, Callable[..., Any]] | None,
    partials: Sequence[Partial],
    *,
    ufunc: Any = None,
    template: str | None = None,
    latex: str | None = None,
    domain: str | None = None,
    holomorphic: bool = True,
    piecewise_constant: bool = False,
    op_class: str = "nlops",
    linear_in: Any = (),
    at: Any = None,
    check: bool = True,
    replace: bool = False,
) -> Elementwise:
    """Register an elementwise primitive: how it evaluates, and its local partials.

    ``evaluate`` computes the value: ``evaluate(m, *args)`` in a math
    namespace ``m`` (``lambda m, x: m.exp(-x * x)``), or a mapping from
    namespace names (``"float"``, ``"complex"``, ``"mpmath"``, ``"numpy"``)
    to functions of the arguments (the fastest), or None to use ``ufunc``
    (then floats, complex numbers and arrays all compute with it).
    ``partials[i](m, y, *args)`` is d value / d args[i] at the point, ``y``
    being the value; written with ``m`` (``m.exp``, ``m.sqrt``,
    ``m.pi(x)``, ``m.const(x, 2)``) it serves floats, complex and mpmath
    numbers, arrays and nested levels alike. ``ufunc``: the NumPy ufunc it
    stands for (``np.sin(dual)`` and ``scipy.special.f(dual)`` dispatch to
    it). ``template``/``latex``: how traces print it (default
    ``name({0})``); ``domain``: its real domain, for error messages;
    ``holomorphic=False`` refuses complex derivatives; ``op_class``: its cost
    class (``"nlops"``, ``"mults"``, ``"adds"`` or ``"none"``); ``linear_in``:
    where it is linear (see :class:`~dualdiff.rules.kinds.Elementwise`).

    The rule is probed before it is registered: evaluated in floats at ``at``
    (a point, or a tuple of points for several arguments; default: the first
    of 0.5, 1.5, 0.25, ... inside its domain), each partial called there with
    the float namespace (and with arrays and mpmath numbers when the rule
    computes them) and, with ``check``, compared with finite differences.

    >>> import math
    >>> r = defelementwise("demo_cube", lambda m, x: x * x * x, [lambda m, y, x: 3 * x * x])
    >>> r.impl[0](2.0)
    8.0
    >>> unregister("demo_cube")
    """
    kind = "defelementwise"
    _check_name(kind, name, replace)
    who = _who(kind, name)
    if isinstance(partials, (str, bytes)) or not isinstance(partials, Sequence) or not partials:
        raise TypeError(
            f"{who}: partials must be a non-empty list of functions partial(m, y, *args), one per argument; "
            f"got {partials!r:.60}"
        )
    nin = len(partials)
    args_text = "x" if nin == 1 else ", ".join("abcd"[i] if i < 4 else f"x{i}" for i in range(nin))
    for i, p in enumerate(partials):
        _check_callable(
            who,
            f"partial {i}",
            p,
            nin + 2,
            f"(m, y, {args_text}): the math namespace, the value and the argument(s) "
            f"(one partial per argument: {nin} partial(s) make a rule of {nin} argument(s))",
        )
    if ufunc is not None:
        _check_ufunc(who, ufunc, nin, replace and name in TABLE, name)
    evaluate = _evaluate_of(who, name, evaluate, ufunc, nin)
    if op_class not in OP_CLASSES:
        raise ValueError(f"{who}: op_class must be one of {OP_CLASSES}, got {op_class!r}")
    template = _default_template(name, nin) if template is None else template
    _check_template(who, template, nin)
    if latex is not None and not isinstance(latex, str):
        raise TypeError(f"{who}: latex must be a string, got {latex!r}")
    if domain is not None and not isinstance(domain, str):
        raise TypeError(f"{who}: domain must be a string describing it (e.g. 'x >= 0'), got {domain!r}")
    _check_linear_in(who, linear_in, nin)
    rule = Elementwise(
        name,
        nin,
        template,
        partials=tuple(partials),
        domain=domain,
        piecewise_constant=bool(piecewise_constant),
        holomorphic=bool(holomorphic),
        ufunc=ufunc,
        latex=latex,
        op_class=op_class,
        evaluate=evaluate,
        linear_in=linear_in,
    )
    _probe_elementwise(who, rule, at, check)
    return register(rule, replace=replace)


def _check_ufunc(who: str, ufunc: Any, nin: int, replacing: bool, name: str) -> None:
    if not isinstance(ufunc, np.ufunc):
        raise TypeError(f"{who}: ufunc must be a NumPy ufunc (np.sin, scipy.special.erf), got {ufunc!r:.60}")
    if ufunc.nin != nin:
        raise ValueError(f"{who}: ufunc {ufunc.__name__} takes {ufunc.nin} argument(s), the rule has {nin} partial(s)")
    uname = ufunc.__name__
    for other in TABLE.values():
        if getattr(other, "ufunc", None) is ufunc and not (replacing and other.name == name):
            raise ValueError(
                f"{who}: the ufunc {uname} already stands for the rule {other.name!r}; "
                "unregister that rule first, or register this one under its name with replace=True"
            )


def _from_ufunc(ufunc: Any, convert: type) -> Callable[..., Any]:
    def fn(*args: Any) -> Any:
        r = ufunc(*args)
        return convert(r) if isinstance(r, np.generic) else r

    return fn


def _evaluate_of(who: str, name: str, evaluate: Any, ufunc: Any, nin: int) -> Any:
    """The rule's ``evaluate``, checked: a function of (m, *args), or a mapping by namespace name."""
    if evaluate is None:
        if ufunc is not None:
            return {"float": _from_ufunc(ufunc, float), "complex": _from_ufunc(ufunc, complex), "numpy": ufunc}
        if hasattr(FLOAT, name):  # a namespace function (replacing a built-in rule)
            return None
        raise TypeError(
            f"{who}: give evaluate (a function evaluate(m, *args), or a mapping such as {{'float': math.sin, "
            f"'numpy': np.sin}}) or a ufunc: the math namespaces have no function {name!r}"
        )
    if isinstance(evaluate, Mapping):
        unknown = sorted(set(evaluate) - set(NAMESPACES))
        if unknown:
            raise ValueError(f"{who}: evaluate has entries for unknown namespaces {unknown}; use {NAMESPACES}")
        for key, fn in evaluate.items():
            _check_callable(who, f"evaluate[{key!r}]", fn, nin, f"the {nin} argument(s)")
        table = dict(evaluate)
        if ufunc is not None:  # what the mapping leaves out, the ufunc computes
            table.setdefault("float", _from_ufunc(ufunc, float))
            table.setdefault("complex", _from_ufunc(ufunc, complex))
            table.setdefault("numpy", ufunc)
        return table
    _check_callable(who, "evaluate", evaluate, nin + 1, f"(m, *args): the math namespace and the {nin} argument(s)")
    return evaluate


def _probe_points(at: Any, nin: int) -> list[tuple[float, ...]]:
    if at is not None:
        point = tuple(at) if isinstance(at, (tuple, list)) else (at,)
        if len(point) != nin:
            raise ValueError(f"at must give {nin} argument value(s), got {at!r}")
        return [tuple(float(p) if isinstance(p, int) else p for p in point)]
    return [(p,) * nin for p in _PROBE] + ([(0.5, 1.5) + (0.5,) * (nin - 2)] if nin >= 2 else [])


def _probe_elementwise(who: str, rule: Elementwise, at: Any, check: bool) -> None:
    """Evaluate ``rule`` in floats at a point of its domain, then call every partial there."""
    try:
        impl = rule.implementation(FLOAT)
    except TypeError as e:
        raise TypeError(f"{who}: needs a way to compute Python floats: {e}") from None
    failures = []
    for point in _probe_points(at, rule.nin):
        try:
            y = impl(*point)
        except Exception as e:  # outside the domain: the next point
            failures.append(f"{point}: {type(e).__name__}: {e}")
            continue
        if not _is_number(y):
            raise TypeError(
                f"{who}: evaluate returned {type(y).__name__} {y!r:.60} for {point}; it must return a number"
            )
        if isinstance(y, (float, complex)) and not (y == y):
            failures.append(f"{point}: nan")
            continue
        break
    else:
        raise ValueError(
            f"{who}: could not evaluate the rule in floats at any probe point ({'; '.join(failures[:3])}); "
            "pass at= a point inside its domain"
        )
    args = ", ".join(repr(p) for p in point)
    for i, p in enumerate(rule.partials):
        try:
            d = p(FLOAT, y, *point)
        except Exception as e:
            raise TypeError(
                f"{who}: partial {i} failed when called as partial(m, y, {args}) with the float namespace m: "
                f"{type(e).__name__}: {e}. Partials are written against m (m.exp, m.cos, m.sqrt, m.pi(x), "
                "m.const(x, 2), ...), so that one formula serves floats, complex and mpmath numbers, arrays "
                "and nested levels"
            ) from e
        if not _is_number(d):
            raise TypeError(
                f"{who}: partial {i} returned {type(d).__name__} {d!r:.60} at ({args}); it must return a number"
            )
        if check:
            _finite_difference_check(who, rule, impl, i, point, d)
    _probe_arrays(who, rule, point)
    _probe_mpmath(who, rule, point)


def _finite_difference_check(who: str, rule: Elementwise, impl: Any, i: int, point: tuple[Any, ...], d: Any) -> None:
    """Partial ``i`` against central differences of the value (one Richardson step)."""
    x = point[i]
    if isinstance(x, complex) or isinstance(d, complex) or rule.piecewise_constant:
        return

    def f(s: float) -> Any:
        q = list(point)
        q[i] = x + s
        return impl(*q)

    fd = math.nan
    for rel in (1e-3, 1e-4, 1e-5):  # a correct partial agrees at some step; a wrong one at none
        h = rel * max(1.0, abs(x))
        try:
            d1 = (f(h) - f(-h)) / (2 * h)
            d2 = (f(h / 2) - f(-h / 2)) / h
            noise = 1e-13 * max(abs(f(h)), abs(f(-h)), 1.0) / h
        except Exception:  # not defined around the point at this step
            continue
        fd = (4 * d2 - d1) / 3
        if not (math.isfinite(fd) and math.isfinite(float(abs(d)))):
            return
        if abs(d - fd) <= 1e-6 * max(abs(fd), abs(d)) + noise:
            return
    if fd == fd:
        args = ", ".join(repr(p) for p in point)
        raise ValueError(
            f"{who}: partial {i} is {d!r} at ({args}), but finite differences of the value give {fd!r}; "
            "the partial looks wrong (pass check=False to register it anyway, or at= another point)"
        )


def _probe_arrays(who: str, rule: Elementwise, point: tuple[Any, ...]) -> None:
    """The partials on NumPy arrays, when the rule computes arrays: a math.* function there would fail."""
    try:
        impl = rule.implementation(NUMPY)
    except TypeError:
        return
    xs = [np.array([p, p]) for p in point]
    try:
        with np.errstate(all="ignore"):
            y = impl(*xs)
    except Exception as e:
        raise TypeError(f"{who}: evaluate fails on NumPy arrays: {type(e).__name__}: {e}") from e
    for i, p in enumerate(rule.partials):
        try:
            with np.errstate(all="ignore"):
                d = p(NUMPY, y, *xs)
        except Exception as e:
            raise TypeError(
                f"{who}: partial {i} fails on NumPy arrays: {type(e).__name__}: {e} (a function of the math "
                "module takes one number; use the namespace m: m.exp rather than math.exp)"
            ) from e
        if np.shape(d) not in ((), (1,), (2,)):
            raise TypeError(f"{who}: partial {i} returned shape {np.shape(d)} for arguments of shape (2,)")


def _probe_mpmath(who: str, rule: Elementwise, point: tuple[Any, ...]) -> None:
    """The partials on mpmath numbers: a Python float there would lose the precision silently."""
    try:
        impl = rule.implementation(MP)
    except TypeError:
        return
    results = []
    for shift in (0, 0.125):
        xs = [mpmath.mpf(p) + shift if not isinstance(p, complex) else mpmath.mpc(p) + shift for p in point]
        try:
            y = impl(*xs)
            results.append([p(MP, y, *xs) for p in rule.partials])
        except Exception as e:
            raise TypeError(f"{who}: fails on mpmath numbers: {type(e).__name__}: {e}") from e
    for i, (a, b) in enumerate(zip(*results)):
        if isinstance(a, float) and isinstance(b, float) and a != b:
            raise TypeError(
                f"{who}: partial {i} returns Python floats for mpmath arguments (losing their precision); "
                "compute it with the namespace m (m.exp, not math.exp)"
            )


# ==========================================================================
# linear rules
# ==========================================================================


def deflinear(
    name: str,
    fn: Callable[..., Any],
    transpose: Callable[..., Any],
    *,
    template: str | None = None,
    at: Any = None,
    replace: bool = False,
) -> Linear:
    """Register a linear primitive: a map ``fn(x, nbatch, *params)`` and ``transpose(g, x_shape, nbatch, *params)``.

    Both see plain arrays; their last ``nbatch`` axes are directions the map
    must leave alone. ``at=(x, *params)`` probes them at registration: shapes,
    the dot-product test ``<g, fn(v)> == <transpose(g), v>`` and the
    direction axis.

    >>> import numpy as np
    >>> r = deflinear("demo_twice", lambda x, nb: 2 * x, lambda g, s, nb: 2 * g, at=(np.ones(3),))
    >>> r.fn(np.ones(2), 0)
    array([2., 2.])
    >>> unregister("demo_twice")
    """
    kind = "deflinear"
    _check_name(kind, name, replace)
    who = _who(kind, name)
    _check_callable(who, "fn", fn, 2, "(x, nbatch, *params)")
    _check_callable(who, "transpose", transpose, 3, "(g, x_shape, nbatch, *params)")
    template = _default_template(name, 1) if template is None else template
    _check_template(who, template, -1)
    rule = Linear(name, 1, template, fn=fn, transpose=transpose)
    if at is not None:
        _probe_linear(who, rule, at)
    return register(rule, replace=replace)


def _random(shape: tuple[int, ...], like: Any, rng: np.random.Generator) -> Any:
    r = rng.standard_normal(shape)
    if np.iscomplexobj(like):
        r = r + 1j * rng.standard_normal(shape)
    return r if shape else r.item()


def _dot(a: Any, b: Any) -> tuple[Any, float]:
    p = np.asarray(a) * np.asarray(b)
    return np.sum(p), float(np.sum(np.abs(p)))


def _probe_linear(who: str, rule: Linear, at: Any) -> None:
    x, *params = at if isinstance(at, (tuple, list)) else (at,)
    rng = np.random.default_rng(0)
    try:
        y = rule.fn(x, 0, *params)
    except Exception as e:
        raise TypeError(f"{who}: fn failed at the probe point: {type(e).__name__}: {e}") from e
    v, g = _random(np.shape(x), x, rng), _random(np.shape(y), y, rng)
    tg = rule.transpose(g, tuple(np.shape(x)), 0, *params)
    if np.shape(tg) != np.shape(x):
        raise ValueError(f"{who}: transpose returned shape {np.shape(tg)} for an input of shape {np.shape(x)}")
    lhs, ls = _dot(g, rule.fn(v, 0, *params))
    rhs, rs = _dot(tg, v)
    if abs(lhs - rhs) > 1e-10 * max(ls, rs, 1e-300):
        raise ValueError(
            f"{who}: transpose is not the transpose of fn: <g, fn(v)> = {lhs!r} but <transpose(g), v> = {rhs!r} "
            "for random v and g"
        )
    _probe_batch(who, "fn", lambda t, nb: rule.fn(t, nb, *params), v, rng)
    _probe_batch(who, "transpose", lambda t, nb: rule.transpose(t, tuple(np.shape(x)), nb, *params), g, rng)


def _probe_batch(who: str, what: str, fn: Callable[[Any, int], Any], like: Any, rng: np.random.Generator) -> None:
    """``fn`` with one trailing direction axis must act on each direction alone."""
    tb = np.stack([_random(np.shape(like), like, rng) for _ in range(2)], axis=-1)
    try:
        both = fn(tb, 1)
        one = [fn(tb[..., j], 0) for j in range(2)]
    except Exception as e:
        raise TypeError(f"{who}: {what} failed on a batch of 2 directions (nbatch=1): {type(e).__name__}: {e}") from e
    want = np.stack([np.asarray(o) for o in one], axis=-1)
    if np.shape(both) != np.shape(want) or not np.allclose(both, want, rtol=1e-10, atol=1e-12):
        raise ValueError(
            f"{who}: {what} must leave the last nbatch axes alone (directions): with nbatch=1 it returned "
            f"shape {np.shape(both)}, expected {np.shape(want)} with each direction mapped on its own"
        )


# ==========================================================================
# general rules
# ==========================================================================


def defgeneral(
    name: str,
    fn: Callable[..., Any],
    linear_maps: Any,
    transposes: Any,
    *,
    nin: int | None = None,
    joint_map: Callable[..., Any] | None = None,
    nondiff_args: tuple[int, ...] = (),
    linear_in: Any = (),
    template: str | None = None,
    at: Any = None,
    replace: bool = False,
) -> General:
    """Register a general primitive (a matrix function, a solver): its JVP and VJP as linear maps.

    ``fn(*args, *params)`` evaluates it; for each differentiable argument i,
    ``linear_maps[i](t, nbatch, y, args, params)`` is the contribution of
    that argument's tangent to the output tangent, and
    ``transposes[i](g, nbatch, y, args, params)`` the argument's cotangent
    for an output cotangent ``g`` (see :class:`~dualdiff.rules.kinds.General`).
    ``nin`` (default: the number of maps) counts the differentiable leading
    arguments; ``nin=-1`` makes a variadic rule whose maps are functions
    ``map(i, t, nbatch, y, args, params)``. ``at=(args, params)`` probes the
    rule at registration: shapes, the maps against finite differences of
    ``fn``, the dot-product test of each transpose, and the direction axis.

    >>> import numpy as np
    >>> r = defgeneral(
    ...     "demo_outer",
    ...     np.outer,
    ...     [lambda t, nb, y, a, p: np.einsum("i...,j->ij...", t, a[1]),
    ...      lambda t, nb, y, a, p: np.einsum("i,j...->ij...", a[0], t)],
    ...     [lambda g, nb, y, a, p: np.einsum("ij...,j->i...", g, a[1]),
    ...      lambda g, nb, y, a, p: np.einsum("ij...,i->j...", g, a[0])],
    ...     at=((np.ones(2), np.arange(3.0)), ()),
    ... )
    >>> r.nin
    2
    >>> unregister("demo_outer")
    """
    kind = "defgeneral"
    _check_name(kind, name, replace)
    who = _who(kind, name)
    if not callable(fn):
        raise TypeError(f"{who}: fn must be callable, got {type(fn).__name__}: {fn!r:.60}")
    call = "(t, nbatch, y, args, params)"
    if nin == -1:
        for what, maps, arity in (("linear_maps", linear_maps, 6), ("transposes", transposes, 6)):
            _check_callable(who, what, maps, arity, "(i, " + call[1:] + " for a variadic rule (nin=-1)")
        linear_maps, transposes = PerArgument(linear_maps), PerArgument(transposes)
    else:
        if isinstance(linear_maps, (str, bytes)) or not isinstance(linear_maps, Sequence):
            raise TypeError(
                f"{who}: linear_maps must be a list with one linear map per argument, got {linear_maps!r:.60}"
            )
        if isinstance(transposes, (str, bytes)) or not isinstance(transposes, Sequence):
            raise TypeError(f"{who}: transposes must be a list with one transpose per argument, got {transposes!r:.60}")
        nin = len(linear_maps) if nin is None else nin
        if not isinstance(nin, int) or nin < 1:
            raise ValueError(f"{who}: nin must be a positive int or -1 (variadic), got {nin!r}")
        if len(linear_maps) != nin or len(transposes) != nin:
            raise ValueError(
                f"{who}: a rule of {nin} argument(s) needs {nin} linear map(s) and {nin} transpose(s), "
                f"got {len(linear_maps)} and {len(transposes)}"
            )
        bad = [i for i in nondiff_args if not (isinstance(i, int) and 0 <= i < nin)]
        if bad:
            raise ValueError(f"{who}: nondiff_args {bad} are not argument positions 0..{nin - 1}")
        for i in range(nin):
            for what, maps in (("linear_maps", linear_maps), ("transposes", transposes)):
                m = maps[i]
                if m is None and i in nondiff_args:
                    continue
                _check_callable(who, f"{what}[{i}]", m, 5, "(" + ("g" if what == "transposes" else "t") + call[2:])
        linear_maps, transposes = tuple(linear_maps), tuple(transposes)
    if joint_map is not None:
        _check_callable(who, "joint_map", joint_map, 5, "(ts, nbatch, y, args, params)")
    _check_linear_in(who, linear_in, nin)
    template = _default_template(name, nin) if template is None else template
    _check_template(who, template, nin)
    rule = General(
        name,
        nin,
        template,
        fn=fn,
        linear_maps=linear_maps,
        transposes=transposes,
        joint_map=joint_map,
        nondiff_args=tuple(nondiff_args),
        linear_in=linear_in,
    )
    if at is not None:
        _probe_general(who, rule, at)
    return register(rule, replace=replace)


def _probe_general(who: str, rule: General, at: Any) -> None:
    if not (isinstance(at, (tuple, list)) and len(at) == 2 and isinstance(at[0], (tuple, list))):
        raise TypeError(f"{who}: at must be (args, params), a tuple of arguments and a tuple of parameters")
    args, params = tuple(at[0]), tuple(at[1])
    n = len(args) if rule.nin < 0 else rule.nin
    if len(args) < n:
        raise ValueError(f"{who}: at gives {len(args)} argument(s), the rule takes {n}")
    rng = np.random.default_rng(0)
    try:
        y = rule.fn(*args, *params)
    except Exception as e:
        raise TypeError(f"{who}: fn failed at the probe point: {type(e).__name__}: {e}") from e
    joint: Any = 0
    ts: list[Any] = []
    for i in range(n):
        if i in rule.nondiff_args:
            ts.append(None)
            continue
        a = args[i]
        t = _random(np.shape(a), a, rng)
        ts.append(t)
        lin = rule.linear_maps[i]
        try:
            lt = lin(t, 0, y, args, params)
        except Exception as e:
            raise TypeError(f"{who}: linear_maps[{i}] failed at the probe point: {type(e).__name__}: {e}") from e
        if np.shape(lt) != np.shape(y):
            raise ValueError(
                f"{who}: linear_maps[{i}] returned shape {np.shape(lt)} for an output of shape {np.shape(y)}"
            )
        fd = _general_fd(rule, args, params, i, t)
        if fd is not None and not np.allclose(lt, fd, rtol=1e-6, atol=1e-8 * max(1.0, float(np.max(np.abs(fd))))):
            raise ValueError(
                f"{who}: linear_maps[{i}] disagrees with finite differences of fn at the probe point "
                f"(largest difference {float(np.max(np.abs(np.asarray(lt) - fd))):.3g}): it is not fn's derivative"
            )
        joint = joint + np.asarray(lt)
        g = _random(np.shape(y), y, rng)
        try:
            tg = rule.transposes[i](g, 0, y, args, params)
        except Exception as e:
            raise TypeError(f"{who}: transposes[{i}] failed at the probe point: {type(e).__name__}: {e}") from e
        if np.shape(tg) != np.shape(a):
            raise ValueError(
                f"{who}: transposes[{i}] returned shape {np.shape(tg)} for argument {i} of shape {np.shape(a)}"
            )
        lhs, ls = _dot(g, lt)
        rhs, rs = _dot(tg, t)
        if abs(lhs - rhs) > 1e-10 * max(ls, rs, 1e-300):
            raise ValueError(
                f"{who}: transposes[{i}] is not the transpose of linear_maps[{i}]: <g, L t> = {lhs!r} but "
                f"<T g, t> = {rhs!r} for random t and g"
            )
        tr = rule.transposes[i]  # both probes run here, while lin and tr are this argument's maps
        _probe_batch(who, f"linear_maps[{i}]", lambda u, nb: lin(u, nb, y, args, params), t, rng)
        _probe_batch(who, f"transposes[{i}]", lambda u, nb: tr(u, nb, y, args, params), g, rng)
    if rule.joint_map is not None:
        jm = rule.joint_map(ts + [None] * (len(args) - len(ts)), 0, y, args, params)
        if not np.allclose(jm, joint, rtol=1e-10, atol=1e-12):
            raise ValueError(f"{who}: joint_map is not the sum of the linear maps at the probe point")


def _general_fd(rule: General, args: tuple[Any, ...], params: tuple[Any, ...], i: int, t: Any) -> Any:
    """Central differences (one Richardson step) of ``fn`` along ``t`` in argument ``i``; None if undefined."""
    a = np.asarray(args[i])
    if a.dtype.kind not in "fc":
        return None
    h = 1e-3 * max(1.0, float(np.max(np.abs(a), initial=0.0)))

    def f(s: float) -> Any:
        q = list(args)
        q[i] = a + s * np.asarray(t)
        return np.asarray(rule.fn(*q, *params))

    try:
        d1 = (f(h) - f(-h)) / (2 * h)
        d2 = (f(h / 2) - f(-h / 2)) / h
    except Exception:
        return None
    return (4 * d2 - d1) / 3
