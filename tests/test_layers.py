"""The package's layers: imports point down, no cycles, every module imports on its own.

Layers, lowest first: rules -> notation -> modes -> program -> transforms ->
cost -> present -> cli. A module may import from its own layer and the layers
below; the import graph (module-level and function-level imports alike) has
no cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "dualdiff"
LAYERS = ["rules", "notation", "modes", "program", "transforms", "cost", "present", "cli"]
#: Modules outside the layers: the bottom (errors, install hints) and the top (the public API).
BOTTOM, TOP = {"dualdiff.errors", "dualdiff.extras", "dualdiff._version"}, {"dualdiff", "dualdiff.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(module_name(p) for p in PACKAGE.rglob("*.py"))


def imports_of(name: str) -> set[str]:
    """The dualdiff modules ``name`` imports, anywhere in its source."""
    path = PACKAGE.parent / (name.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE.parent / name.replace(".", "/") / "__init__.py"
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("dualdiff"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("dualdiff"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    found.discard(name)
    return {m for m in found if m in MODULES}


def layer(name: str) -> int:
    if name in BOTTOM:
        return -1
    if name in TOP:
        return len(LAYERS)
    return LAYERS.index(name.split(".")[1])


def test_every_module_is_in_a_layer():
    for name in MODULES:
        assert name in BOTTOM | TOP or name.split(".")[1] in LAYERS, f"{name} belongs to no layer"


def test_imports_point_down():
    upward = [
        f"{name} ({LAYERS[layer(name)] if 0 <= layer(name) < len(LAYERS) else '-'}) imports {dep}"
        for name in MODULES
        for dep in imports_of(name)
        if layer(dep) > layer(name)
    ]
    assert not upward, "imports pointing up:\n" + "\n".join(upward)


def test_no_import_cycles():
    graph = {name: imports_of(name) for name in MODULES}
    # a package's __init__ importing its own submodules is not a cycle with them
    for name, deps in graph.items():
        graph[name] = {d for d in deps if not (name.startswith(d + ".") and d in graph)}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(dep) :] + [dep]))
            if dep not in state:
                visit(dep)
        path.pop()
        state[node] = 2

    for name in MODULES:
        if name not in state:
            visit(name)


def test_the_graph_parser_sees_imports():
    assert "dualdiff.modes.core" in imports_of("dualdiff.modes.dual")
    assert "dualdiff.rules.kinds" in imports_of("dualdiff.rules.elementwise")
    assert layer("dualdiff.cost.choice") > layer("dualdiff.transforms.forward")


def test_every_module_imports_alone():
    """Each module imported first, in a fresh process of its own (forked after NumPy and mpmath load).

    A module that works only because another one happened to be imported
    before it (an undeclared import, a cycle resolved by import order) fails.
    """
    code = """
import importlib, os, sys, traceback
import numpy, mpmath  # third-party: loaded once, shared by the forked children
failed, running = [], {}
for name in sys.argv[1:] + [None] * 2:
    if len(running) == 2 or (name is None and running):  # two at a time: two cores
        pid, status = os.wait()
        if status:
            failed.append(running[pid])
        del running[pid]
    if name is None:
        continue
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    running[pid] = name
print("FAILED:" + ",".join(failed))
"""
    result = subprocess.run([sys.executable, "-c", code, *MODULES], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    failed = result.stdout.strip().rsplit("FAILED:", 1)[-1]
    assert not failed, f"modules that fail when imported alone: {failed}\n{result.stderr[-3000:]}"


def test_no_library_code_replaces_methods_of_a_class():
    """Methods are defined in class bodies; setattr only fills math namespaces (backends)."""
    allowed = {"GENERIC", "COMPLEX"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("setattr", "delattr"):
                target = node.args[0]
                name = getattr(target, "id", None) or ast.unparse(target)
                if name not in allowed:
                    offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {ast.unparse(node)}")
    assert not offenders, "\n".join(offenders)


def test_lifted_values_keep_fast_attribute_access():
    """No ``__getattr__``/``__getattribute__`` on lifted classes: CPython would stop specialising
    every ``x.primal``/``x.tape`` read, slowing each scalar operation by a third."""
    import dualdiff as dd
    from dualdiff.modes.lifted import Lifted

    for cls in (Lifted, dd.Dual, dd.Var, dd.Taylor):
        for klass in cls.__mro__:
            assert "__getattr__" not in vars(klass), f"{klass.__name__} defines __getattr__"
            assert klass is object or "__getattribute__" not in vars(klass), klass
