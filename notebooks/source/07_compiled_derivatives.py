# Source of notebooks/07_compiled_derivatives.ipynb: edit here, then run `python notebooks/_build.py 07`.

# %% [markdown]
# # Compiled derivatives: tangent and adjoint code, written out
#
# Operator overloading pays, at every operation, for a Python object, a
# dispatch and a look-up in the rule table. The textbooks' other road is
# *source transformation* (Tapenade, ADIFOR, Google's Tangent): write the
# tangent program and the adjoint program out as code, once, and run that.
#
# `cf = dd.compile(f)` does this from f's recorded program (`dd.wengert`): at
# the first call for a kind of input it writes the Python source of the
# tangent code (`cf.jvp`), of the adjoint code (`cf.grad`, `cf.vjp`) and of
# their batched versions (`cf.jacobian`), compiles it, and caches it. The
# partials in that source come from the rule table, as everywhere else in
# dualdiff: each rule's own formula, called with a namespace that writes code.
#
# This notebook prints the generated code of the textbook example, checks it
# line by line against the worked tables of `dd.trace`, shows how branches are
# handled, and times eager mode, compiled code and `jax.jit` side by side.

# %%
import io
import json
import math
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, Markdown, display

import dualdiff as dd

plt.rcParams.update({"figure.dpi": 90, "font.size": 9})


def show(fig):
    """Display a matplotlib figure as a small PNG (and close it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    display(Image(buf.getvalue()))


def code(text):
    display(Markdown(f"```python\n{text.rstrip()}\n```"))


# %% [markdown]
# ## The textbook example: $f(x_1, x_2) = \ln x_1 + x_1 x_2 - \sin x_2$
#
# Griewank and Walther's running example, at $(x_1, x_2) = (2, 5)$. The
# tangent code computes each $v_i$ and, right after it, its tangent
# $\dot v_i$ (`v_i_dot`); the names follow the program's numbering
# ($v_{-1}$ is `v_m1`), and each line says which rule it applies.

# %%
def f(x):
    return dd.log(x[0]) + x[0] * x[1] - dd.sin(x[1])


cf = dd.compile(f)
x = (2.0, 5.0)
y, ydot = cf.jvp(x, (1.0, 0.0))
code(cf.source("jvp"))

# %% [markdown]
# The adjoint code: the forward sweep, then the reverse sweep from
# $\bar v_5 = \bar y = 1$ down to the inputs, each step adding its
# contributions $\bar v_j \mathrel{+}= \bar v_i \, \partial v_i / \partial v_j$
# (the comment names the step they come from).

# %%
grad = cf.grad(x)
code(cf.source("grad"))

# %% [markdown]
# **The same numbers as the worked tables.** Every line of the generated code
# is a row of `dd.trace`'s forward and reverse tables. Running the generated
# functions with Python's tracing hook reads off every local variable they
# computed; each must equal the table's entry exactly.

# %%
def locals_at_return(fn, *args):
    seen = {}

    def tracer(frame, event, arg):
        if frame.f_code is fn.__code__:
            if event == "return":
                seen.update(frame.f_locals)
            return tracer
        return None

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        fn(*args)
    finally:
        sys.settrace(old)
    return seen


def python_name(variable):  # v_{-1} -> v_m1
    i = int(variable[2:].strip("{}"))
    return f"v_{i}" if i >= 0 else f"v_m{-i}"


tr = dd.trace(f, x)
forward, reverse = tr.forward_table("x1"), tr.reverse_table()
tangent_locals = locals_at_return(cf.generated("jvp", x).fn, *x, 1.0, 0.0)
adjoint_locals = locals_at_return(cf.generated("grad", x).fn, *x)
rows = []
for fr in forward.rows:
    if not fr["variable"].startswith("v_"):
        continue
    name = python_name(fr["variable"])
    rr = next(r for r in reverse.rows if r["variable"] == fr["variable"])
    assert tangent_locals[name] == fr["value"] == adjoint_locals[name]
    assert tangent_locals[name + "_dot"] == fr["tangent"]
    assert adjoint_locals[name + "_bar"] == rr["adjoint"]
    rows.append(f"| `{name}` | {fr['value']:.6g} | {fr['tangent']:.6g} | {rr['adjoint']:.6g} |")
display(Markdown("| variable | value | tangent (ẋ = (1, 0)) | adjoint (ȳ = 1) |\n|---|---:|---:|---:|\n" + "\n".join(rows)))
# and against the chain rule by hand
assert y == math.log(2.0) + 10.0 - math.sin(5.0)
assert ydot == 1 / 2.0 + 5.0
assert grad == (1 / 2.0 + 5.0, 2.0 - math.cos(5.0))

# %% [markdown]
# ## Branches are guarded, and each outcome gets code of its own
#
# Recording runs f once, so a decision f takes on its input (`if x > 0`) is
# stored as a **guard** of the program, checked by the generated code where
# the decided value is computed. A call that would take the other branch
# makes `cf` trace f again at that point and cache the new version beside
# the first: a compiled function never returns the other branch's value.

# %%
def g(x):
    if x > 0:
        return x * dd.sin(x)
    return x**3


cg = dd.compile(g)
assert cg.grad(2.0) == math.sin(2.0) + 2.0 * math.cos(2.0)
assert cg.grad(-2.0) == 3 * (-2.0) ** 2  # the other branch: a second version
assert cg.grad(1.0) == math.sin(1.0) + math.cos(1.0)
print(cg.cache_info())
code(cg.source("jvp", -2.0))

# %% [markdown]
# ## Arrays: buffers reused, large elementwise runs in tiles
#
# On arrays the generator uses what it knows about every temporary: its shape,
# its dtype and its last use. A dead temporary's memory is written into
# (`out=`), an adjoint scattered through an index is updated in place, and a
# run of elementwise steps over large arrays becomes a loop over cache-sized
# tiles, so that no full-size temporary is made at all. Rosenbrock's function
# at $n = 10^6$:

# %%
def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


rng = np.random.default_rng(0)
x_big = rng.uniform(-1, 1, 1_000_000)
crosen = dd.compile(rosenbrock)
g_big = crosen.grad(x_big)
np.testing.assert_allclose(g_big, dd.grad(rosenbrock)(x_big), rtol=1e-12, atol=1e-12 * np.max(np.abs(g_big)))
code(crosen.source("grad"))

# %% [markdown]
# ## Eager, compiled and `jax.jit`, side by side
#
# The times below for dualdiff are measured here, now (medians of short
# samples, each divided by the plain function timed right beside it). The
# `jax.jit` times come from `benchmarks/compiled_jax.json`, written by
# `benchmarks/compiled.py` (this kernel has no JAX); they were measured on the
# machine named in that file, so compare their ratios to f, not their absolute
# times. The last panel puts dualdiff's compile time (trace, code generation
# and Python's compile) beside `jax.jit`'s (trace and XLA compile).

# %%
def timeit(fn, seconds=0.3):
    """Median seconds per call over a few samples of back-to-back calls."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(0.01 / once))
    samples = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop or len(samples) < 5:
        t = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t) / number)
    return float(np.median(samples))


def chain(x, m):
    """The benchmark's 1000-operation scalar chain: 100 blocks of 10 operations."""
    for _ in range(100):
        x = m.sin(x * 1.0001 + 0.1) / 1.5
        x = m.sqrt(m.log(m.exp(x) + 2.0))
        x = m.tanh(x) - 0.5
    return x


x_small = rng.uniform(-1, 1, 100)
v_small, v_big = rng.normal(size=100), rng.normal(size=1_000_000)
cchain = dd.compile(lambda x: chain(x, dd))
start = time.perf_counter()
dd.compile(lambda x: chain(x, dd)).grad(0.3)
chain_compile = time.perf_counter() - start
workloads = {
    "chain grad": (
        lambda: chain(0.3, math),
        lambda: dd.grad(lambda x: chain(x, dd))(0.3),
        lambda: cchain.grad(0.3),
    ),
    "rosen100 jvp": (
        lambda: rosenbrock(x_small),
        lambda: dd.jvp(rosenbrock, x_small, v_small),
        lambda: crosen.jvp(x_small, v_small),
    ),
    "rosen100 grad": (
        lambda: rosenbrock(x_small),
        lambda: dd.grad(rosenbrock)(x_small),
        lambda: crosen.grad(x_small),
    ),
    "rosen1e6 jvp": (
        lambda: rosenbrock(x_big),
        lambda: dd.jvp(rosenbrock, x_big, v_big),
        lambda: crosen.jvp(x_big, v_big),
    ),
    "rosen1e6 grad": (
        lambda: rosenbrock(x_big),
        lambda: dd.grad(rosenbrock)(x_big),
        lambda: crosen.grad(x_big),
    ),
}
ratios = {}
for name, (plain, eager, compiled) in workloads.items():
    t_f = timeit(plain)
    ratios[name] = (timeit(eager) / t_f, timeit(compiled) / t_f)
assert cchain.grad(0.3) == dd.grad(lambda x: chain(x, dd))(0.3)  # the same derivative, bit for bit

bench = json.loads((Path("..") / "benchmarks" / "compiled_jax.json").read_text())
jax_ratio = {k: bench["jax"]["median"][k] / bench["jax"]["median"][k.split()[0] + " f"] for k in ratios}
lines = ["| workload | eager / f | compiled / f | jax.jit / f |", "|---|---:|---:|---:|"]
for k, (e, c) in ratios.items():
    lines.append(f"| {k} | {e:.1f} | {c:.2f} | {jax_ratio[k]:.2f} |")
display(Markdown("\n".join(lines)))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [3, 1.3]})
names = list(ratios)
pos = np.arange(len(names))
ax1.bar(pos - 0.27, [ratios[k][0] for k in names], 0.27, label="dualdiff eager", color="tab:gray")
ax1.bar(pos, [ratios[k][1] for k in names], 0.27, label="dualdiff compiled", color="tab:blue")
ax1.bar(pos + 0.27, [jax_ratio[k] for k in names], 0.27, label="jax.jit (benchmark file)", color="tab:orange")
ax1.set_yscale("log")
ax1.axhline(1.0, color="k", lw=0.8)
ax1.set_xticks(pos, names)
ax1.set_ylabel("time / plain function")
ax1.set_title("the derivative's cost in units of f")
ax1.legend(fontsize=8)
jax_compile = bench["jax"]["compile"].get("chain grad")
ax2.bar([0, 1], [chain_compile, jax_compile], color=["tab:blue", "tab:orange"])
ax2.set_yscale("log")
ax2.set_xticks([0, 1], ["dd.compile", "jax.jit"])
ax2.set_ylabel("seconds")
ax2.set_title("compiling the chain's gradient")
show(fig)

# %% [markdown]
# What the numbers say: for scalar code, eager operator overloading costs
# tens of times the plain function, and nearly all of it is interpretation,
# not arithmetic: the compiled gradient runs within a few times f, as the
# cheap-gradient principle promises, and costs milliseconds to compile where
# XLA takes seconds. On large arrays the arithmetic dominates and eager mode
# is within a few times f already; compiled code gets below that by never
# making full-size temporaries (tiles). `jax.jit` remains fastest on large
# arrays, where XLA fuses the whole computation into one loop of machine code.
