"""The public surface is static: type checkers and editors see every name without running the package.

``dualdiff/__init__.py`` lists ``__all__`` as a literal list and imports
every name explicitly; ``dd.sin`` and the other functions are assigned by
name in ``dualdiff/modes/functions.py``, typed by their arity; the ``mode``
of ``dd.jacobian`` is a ``Literal``. mypy itself checks the package and
``tests/typecheck_usage.py`` in CI (``.ci/typecheck``).
"""

import ast
import typing
from pathlib import Path

import dualdiff
import dualdiff as dd
from dualdiff.cost import choice
from dualdiff.modes import functions
from dualdiff.rules.kinds import TABLE

ROOT = Path(__file__).resolve().parent.parent


def _module_all(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    values = [
        node.value
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        and any(
            isinstance(t, ast.Name) and t.id == "__all__"
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    ]
    assert len(values) == 1, f"{path}: __all__ must be assigned exactly once"
    value = values[0]
    assert isinstance(value, ast.List) and all(isinstance(e, ast.Constant) for e in value.elts), (
        f"{path}: __all__ must be a literal list of strings"
    )
    assert not any(
        isinstance(node, ast.AugAssign) and getattr(node.target, "id", None) == "__all__" for node in ast.walk(tree)
    ), f"{path}: __all__ must not be extended"
    return tree, [e.value for e in value.elts]


def test_all_is_a_literal_list_of_names_that_exist():
    tree, names = _module_all(ROOT / "dualdiff" / "__init__.py")
    assert names == dualdiff.__all__
    assert len(set(names)) == len(names)
    missing = [n for n in names if not hasattr(dualdiff, n)]
    assert not missing, missing
    # each name is bound by an explicit import or assignment in __init__.py, not by setattr or globals()
    bound = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            bound.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.Assign):
            bound.update(t.id for t in node.targets if isinstance(t, ast.Name))
    assert set(names) <= bound, set(names) - bound
    assert "globals()" not in (ROOT / "dualdiff" / "__init__.py").read_text(encoding="utf-8")


def test_the_functions_are_assigned_by_name():
    tree, names = _module_all(ROOT / "dualdiff" / "modes" / "functions.py")
    assigned = {
        t.id
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(t, ast.Name)
    }
    assert set(names) <= assigned, set(names) - assigned
    assert all(callable(getattr(functions, n)) for n in names)
    assert set(names) <= set(dualdiff.__all__)
    # every elementwise rule that is not an operator has its dd.NAME
    # (sqrt0 is np.std's root; dd.stop_gradient, which takes whole trees, lives in transforms.custom)
    assert set(functions.FUNCTIONS) - {"sqrt0", "stop_gradient"} <= set(names) | {"ln"}


def test_the_functions_are_typed_by_their_arity():
    # what type checkers see: Unary (float -> float, Dual -> Dual, ...) or Binary, never Callable[..., Any]
    _, names = _module_all(ROOT / "dualdiff" / "modes" / "functions.py")
    arity = {1: "Unary", 2: "Binary"}
    for name in names:
        rule = TABLE[{"ln": "log", "power": "pow"}.get(name, name)]
        assert functions.__annotations__.get(name) == arity[rule.nin], name


def test_mode_is_a_literal():
    hints = typing.get_type_hints(dd.jacobian)
    assert typing.get_args(hints["mode"]) == ("auto", "forward", "reverse")
    assert typing.get_args(typing.get_type_hints(choice.ModeChoice)["mode"]) == ("forward", "reverse")
    assert dd.choose_mode(lambda x: x * 2.0, 1.0) in ("forward", "reverse")


def test_transforms_take_argnums_and_has_aux_as_keywords():
    import inspect

    for name in ["grad", "value_and_grad", "jacfwd", "jacrev", "jacobian", "hessian"]:
        params = inspect.signature(getattr(dd, name)).parameters
        assert params["argnums"].kind is inspect.Parameter.KEYWORD_ONLY and params["argnums"].default == 0
        assert params["has_aux"].kind is inspect.Parameter.KEYWORD_ONLY and params["has_aux"].default is False
