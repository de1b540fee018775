"""How a typed user's code sees dualdiff: mypy checks this file with the package (``.ci/typecheck``).

Nothing here runs under pytest (the body sits under ``TYPE_CHECKING``); it
exists so that the type check fails when a public name, a keyword argument,
a ``Literal`` mode or a precise return type disappears from what type
checkers can see. ``assert_type`` fails the check when a type changes; each
``# type: ignore[code]`` marks a call that MUST be an error (mypy runs with
``warn_unused_ignores``, so the check fails if the error goes away).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Literal

    import numpy as np
    from typing_extensions import assert_type, reveal_type

    import dualdiff as dd

    def f(a: Any, b: Any) -> Any:
        return a * dd.sin(b)

    # -- the elementwise functions: floats stay floats, lifted values keep their type
    reveal_type(dd.sin(1.0))
    assert_type(dd.sin(1.0), float)
    assert_type(dd.exp(2), float)
    assert_type(dd.log(1j), complex)
    assert_type(dd.arctan2(1.0, 2.0), float)
    assert_type(dd.power(2.0, 3.0), float)
    x = dd.Dual(2.0, 1.0)
    assert_type(dd.sin(x), dd.Dual)
    assert_type(dd.maximum(x, 0.0), dd.Dual)
    assert_type(dd.hypot(3.0, x), dd.Dual)
    assert_type(dd.sin(dd.Taylor(0.5, [1.0])), dd.Taylor)
    reveal_type(dd.Dual(2.0, 1.0).tangent)
    dd.sin(1.0, 2.0)  # type: ignore[call-overload]

    # -- transforms: the returned function takes f's arguments; argnums and has_aux shape the result
    g = dd.grad(f, argnums=(0, 1))
    reveal_type(g(1.0, 2.0))
    assert_type(g(1.0, 2.0), tuple[Any, ...])
    g(1.0)  # type: ignore[call-arg]
    assert_type(dd.grad(f, argnums=1)(1.0, 2.0), Any)
    assert_type(dd.grad(lambda x: (x * x, x), has_aux=True)(3.0), tuple[Any, Any])
    value, grads = dd.value_and_grad(lambda x: (x * x, {"x": x}), has_aux=True)(3.0)
    assert_type(dd.value_and_grad(f)(1.0, 2.0), tuple[Any, Any])
    y, t = dd.jvp(lambda x: x * x, 3.0, 1.0)
    assert_type(dd.jvp(dd.sin, 3.0, 1.0), tuple[Any, Any])
    y2, pullback = dd.vjp(lambda x: x * x, 3.0)
    assert_type(pullback(1.0), Any)
    jac = dd.jacobian(lambda x: x * x, mode="reverse", argnums=0)(np.ones(3))
    mode_name: Literal["auto", "forward", "reverse"] = "forward"
    dd.jacobian(f, mode=mode_name)
    dd.jacobian(f, mode="sideways")  # type: ignore[arg-type]
    dd.jacfwd(f, 2, argnums=(0, 1), has_aux=False)(1.0, 2.0)
    dd.jacrev(f, sparsity="auto", progress=False)(1.0, 2.0)
    hess = dd.hessian(f, argnums=1)(1.0, 2.0)
    dd.hessian(f)(1.0)  # type: ignore[call-arg]
    mode = dd.choose_mode(lambda x: x * 2.0, 1.0)
    assert_type(mode, Literal["forward", "reverse"])
    dd.check_grads(dd.sin, 1.0, modes=("fwd", "reverse"))
    dd.check_grads(dd.sin, 1.0, modes="sideways")  # type: ignore[arg-type]
    dd.coloring(np.eye(3), mode="row", order="natural")

    # -- Taylor mode
    assert_type(dd.taylor(dd.exp, 0.0, order=3), tuple[Any, ...])
    assert_type(dd.Taylor(2.0, [1.0, 0.0]).coefficients, tuple[Any, ...])
    d3: Callable[..., Any] = dd.derivatives(dd.sin, order=3)

    # -- compiled derivatives
    cf = dd.compile(lambda x: dd.sin(x) * x)
    assert_type(cf, dd.Compiled)
    assert_type(cf.jvp(1.0, 1.0), tuple[Any, Any])
    assert_type(cf.value_and_grad(1.0), tuple[Any, Any])
    assert_type(cf.source("grad", 1.0), str)
    cf.source("hessian")  # type: ignore[arg-type]
    cf.jacobian(np.ones(2), mode="forward")

    # -- the Wengert list as data
    prog = dd.wengert(lambda x: x * 2.0, 1.0)
    assert_type(prog, dd.Program)
    eqs: list[dd.Equation] = prog.equations
    first: dd.Equation = eqs[0]
    assert_type(first.out, int)
    assert_type(prog.index(first.out), int)
    operand = first.inputs[0]
    if isinstance(operand, dd.Const):
        print(operand.value)
    else:
        assert_type(operand, int)
    print(dd.jvp(prog, 1.0, 1.0), prog.table().to_text())

    # -- tables and cost reports
    tr = dd.trace(lambda x: dd.exp(x[0]) * x[1], (1.0, 2.0))
    print(tr.forward_table((1.0, 0.0)).to_text(), jac, hess, value, grads, y, t, y2, d3)
    report = dd.compare(lambda x: x * x, np.ones(3))
    assert_type(report, dd.CostReport)
