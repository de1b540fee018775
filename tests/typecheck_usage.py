"""How a typed user's code sees dualdiff: mypy checks this file with the package (``.ci/typecheck``).

Nothing here runs under pytest (the body sits under ``TYPE_CHECKING``); it
exists so that the type check fails when a public name, a keyword argument
or a ``Literal`` mode disappears from what type checkers can see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, Literal

    import numpy as np
    from typing_extensions import assert_type, reveal_type

    import dualdiff as dd

    def f(a: Any, b: Any) -> Any:
        return a * dd.sin(b)

    reveal_type(dd.sin(1.0))
    reveal_type(dd.Dual(2.0, 1.0).tangent)
    g = dd.grad(f, argnums=(0, 1))
    reveal_type(g(1.0, 2.0))
    value, grads = dd.value_and_grad(lambda x: (x * x, {"x": x}), has_aux=True)(3.0)
    jac = dd.jacobian(lambda x: x * x, mode="reverse", argnums=0)(np.ones(3))
    hess = dd.hessian(f, argnums=1)(1.0, 2.0)
    mode = dd.choose_mode(lambda x: x * 2.0, 1.0)
    assert_type(mode, Literal["forward", "reverse"])
    tr = dd.trace(lambda x: dd.exp(x[0]) * x[1], (1.0, 2.0))
    print(tr.forward_table((1.0, 0.0)).to_text(), jac, hess, value, grads)
    prog: dd.Program = dd.wengert(lambda x: x * 2.0, 1.0)
