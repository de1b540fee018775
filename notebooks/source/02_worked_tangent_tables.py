# Source of notebooks/02_worked_tangent_tables.ipynb: edit here, then run `python notebooks/_build.py 02`.

# %% [markdown]
# # Worked tangent and adjoint tables
#
# Automatic differentiation textbooks explain both modes with an **evaluation
# trace** (a Wengert list): the computation broken into elementary steps
# $v_i = \varphi_i(v_j, v_k)$, numbered $v_{1-n}, \dots, v_0$ for the $n$
# inputs and $v_1, \dots, v_l$ after. Forward mode adds a column of tangents
# $\dot v_i = \partial v_i / \partial x \cdot \dot x$, filled top to bottom;
# reverse mode a column of adjoints $\bar v_i = \partial y / \partial v_i$,
# filled bottom to top.
#
# `dd.trace(f, x)` records that list from your Python code, and
# `tr.forward_table(v)` / `tr.reverse_table(y_bar)` fill in the columns. Every
# number comes from dualdiff's own forward and reverse modes (a replay of the
# recording on dual numbers and on a tape); the formula columns are written
# from the same rule table. Below, four worked examples: each table is
# rendered, its computational graph drawn, and **every** value, tangent and
# adjoint checked against mpmath.

# %%
import io
import operator
import re

import matplotlib.pyplot as plt
from PIL import Image as PILImage
import mpmath
import numpy as np
from IPython.display import Image, Markdown, display
from matplotlib.patches import Circle

import dualdiff as dd

plt.rcParams.update({"figure.dpi": 100, "font.size": 11, "axes.titlesize": 12, "legend.fontsize": 10})


def show(fig):
    """Display a matplotlib figure as a PNG (and close it): 100 dpi, 11 pt text, a 256-colour palette to stay small."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    small = io.BytesIO()
    PILImage.open(buf).convert("RGB").quantize(256).save(small, format="png", optimize=True)
    display(Image(small.getvalue()))


def show_table(table):
    """Render a dualdiff table as Markdown."""
    display(Markdown(table.to_markdown()))


# %% [markdown]
# ## Two helpers: drawing the graph, and checking a table with mpmath
#
# `draw_graph` reads only the trace's recorded steps: each step `s` has an
# `index` ($i$ of $v_i$), its `operation`, its `value`, and `operands`, a
# tuple of `("var", j)` (the variable $v_j$) or `("const", c)`. A node's
# level is one more than its deepest operand's, and arrows run from operands
# to results.


# %%
def levels(tr):
    """The level of every step: inputs 0, each result one more than its deepest operand."""
    level = {}
    for s in tr.steps:
        refs = [ref for kind, ref in s.operands if kind == "var"]
        level[s.index] = 1 + max((level[r] for r in refs), default=-1)
    return level


def layout(tr, dx=1.8, dy=1.5):
    """Positions: x by level; y near the mean of a node's operands, at least dy apart in a column."""
    level = levels(tr)
    pos = {}
    for lv in range(max(level.values()) + 1):
        column = [s for s in tr.steps if level[s.index] == lv]
        if lv == 0:
            wanted = [dy * ((len(column) - 1) / 2 - k) for k in range(len(column))]
        else:
            wanted = [np.mean([pos[r][1] for kind, r in s.operands if kind == "var"]) for s in column]
        order = sorted(range(len(column)), key=lambda k: -wanted[k])
        ys = [wanted[k] for k in order]
        for k in range(1, len(ys)):  # push apart, top to bottom
            ys[k] = min(ys[k], ys[k - 1] - dy)
        shift = np.mean([wanted[k] for k in order]) - np.mean(ys)
        for k, y in zip(order, ys):
            pos[column[k].index] = (dx * lv, y + shift)
    last = max(level.values()) + 1
    for o in tr.outputs:
        pos[o.name] = (dx * last, pos[o.source[1]][1])
    return pos


def math_text(text):
    """'v_{-1} * v_0' -> '$v_{-1}$ · $v_{0}$' for matplotlib's mathtext."""
    text = re.sub(r"v_\{?(-?\d+)\}?", r"$v_{\1}$", text)
    return text.replace(" * ", " · ")


def draw_graph(tr, ax, title, note=None):
    """Draw the computational graph of a trace: nodes v_i by level, arrows from operands."""
    pos = layout(tr)
    radius = 0.32

    def arrow(a, b):
        (x0, y0), (x1, y1) = pos[a], pos[b]
        d = np.hypot(x1 - x0, y1 - y0)
        ux, uy = (x1 - x0) / d, (y1 - y0) / d
        # bend around any node close to the straight line, away from it
        bend = 0.0
        for key, (px, py) in pos.items():
            if key in (a, b):
                continue
            t = (px - x0) * ux + (py - y0) * uy
            side = (px - x0) * uy - (py - y0) * ux  # > 0: the node is on arc3's positive side
            if 0 < t < d and abs(side) < radius + 0.25:
                bend = -0.3 if side >= 0 else 0.3
        ax.annotate(
            "",
            xy=(x1 - radius * ux, y1 - radius * uy),
            xytext=(x0 + radius * ux, y0 + radius * uy),
            arrowprops={"arrowstyle": "-|>", "color": "0.4", "lw": 1, "connectionstyle": f"arc3,rad={bend}"},
        )

    for s in tr.steps:
        for ref in dict.fromkeys(ref for kind, ref in s.operands if kind == "var"):
            arrow(ref, s.index)
    for o in tr.outputs:
        arrow(o.source[1], o.name)

    colours = {"input": "#cfe3f7", "intermediate": "#f2f2f2"}
    for s in tr.steps:
        x, y = pos[s.index]
        ax.add_patch(Circle((x, y), radius, facecolor=colours[s.kind], edgecolor="0.3", zorder=3))
        ax.text(x, y, f"$v_{{{s.index}}}$", ha="center", va="center", zorder=4, fontsize=12)
        what = s.label if s.kind == "input" else math_text(s.operation)
        ax.text(x, y - radius - 0.06, f"{what}\n= {s.value:.4g}", ha="center", va="top", fontsize=9.5, zorder=4)
    for o in tr.outputs:
        x, y = pos[o.name]
        ax.add_patch(Circle((x, y), radius, facecolor="#d5f0d5", edgecolor="0.3", zorder=3))
        ax.text(x, y, f"${o.name}$", ha="center", va="center", zorder=4, fontsize=12)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(min(ys) - 1.0, max(ys) + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=11)
    if note:
        ax.text(1.0, 1.0, note, transform=ax.transAxes, ha="right", va="top", fontsize=10, color="0.3")


# %% [markdown]
# The check does not trust dualdiff's arithmetic: it replays the recorded
# steps with **mpmath** functions at 30 digits, and differentiates that
# replay with `mpmath.diff` (numerical differentiation at high precision):
#
# * the value of $v_i$ is the replay's;
# * the tangent $\dot v_i$ is $\frac{d}{dt} v_i(x + t\,\dot x)$ at $t = 0$;
# * the adjoint $\bar v_i$ is $\bar y \cdot \frac{d}{de}\, y$ at $e = 0$ when
#   $v_i$ is replaced by $v_i + e$ (and everything after it recomputed).
#
# The derivative of the output is also checked against `mpmath.diff` of the
# function written out directly, without the trace.

# %%
MPMATH = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "pow": operator.pow,
    "neg": operator.neg,
    "log": mpmath.log,
    "exp": mpmath.exp,
    "sin": mpmath.sin,
    "cos": mpmath.cos,
}


def replay(tr, x, bump=None):
    """Every variable's value, recomputed with mpmath from inputs x; bump = (i, e) adds e to v_i."""
    values = {}
    for s in tr.steps:
        if s.kind == "input":
            value = mpmath.mpf(x[s.index + tr.n - 1])
        else:
            args = [values[ref] if kind == "var" else mpmath.mpf(ref) for kind, ref in s.operands]
            value = MPMATH[s.rule.name](*args)
        if bump is not None and bump[0] == s.index:
            value += bump[1]
        values[s.index] = value
    return values


def index_of(tr, variable):
    """The step index a table row is about: v_i, or the step an output reads."""
    for s in tr.steps:
        if s.name == variable:
            return s.index
    return next(o.source[1] for o in tr.outputs if o.name == variable)


def check_forward(tr, table, seed, tol=1e-14):
    """Assert every value and tangent of a forward table against mpmath."""
    mpmath.mp.dps = 30
    x = [mpmath.mpf(s.value) for s in tr.steps[: tr.n]]
    values = replay(tr, x)
    worst = 0.0
    for row in table.rows:
        i = index_of(tr, row["variable"])
        tangent = mpmath.diff(lambda t: replay(tr, [a + t * d for a, d in zip(x, seed)])[i], 0)
        for got, want in [(row["value"], values[i]), (row["tangent"], tangent)]:
            err = float(abs(got - want) / max(1, abs(want)))
            assert err < tol, (row["variable"], got, want)
            worst = max(worst, err)
    mpmath.mp.dps = 15
    print(f"checked {2 * len(table.rows)} values and tangents against mpmath: largest difference {worst:.1e}")


def check_reverse(tr, table, tol=1e-14):
    """Assert every value and adjoint of a reverse table (y_bar = 1) against mpmath."""
    mpmath.mp.dps = 30
    x = [mpmath.mpf(s.value) for s in tr.steps[: tr.n]]
    out = tr.outputs[0].source[1]
    values = replay(tr, x)
    worst = 0.0
    for row in table.rows:
        i = index_of(tr, row["variable"])
        adjoint = mpmath.diff(lambda e: replay(tr, x, bump=(i, e))[out], 0)
        for got, want in [(row["value"], values[i]), (row["adjoint"], adjoint)]:
            err = float(abs(got - want) / max(1, abs(want)))
            assert err < tol, (row["variable"], got, want)
            worst = max(worst, err)
    mpmath.mp.dps = 15
    print(f"checked {2 * len(table.rows)} values and adjoints against mpmath: largest difference {worst:.1e}")


def by_variable(table, column):
    """One column of a table as a dict keyed by the variable: {"y": ..., "v_0": ..., ...}."""
    return {r["variable"]: r[column] for r in table.rows}


# %% [markdown]
# ## Example 1: $f(x_1, x_2) = \ln x_1 + x_1 x_2 - \sin x_2$ at $(2, 5)$
#
# The running example of Baydin, Pearlmutter, Radul & Siskind, *Automatic
# differentiation in machine learning: a survey* (JMLR, 2018). First the
# trace alone:


# %%
def f1(x1, x2):
    return dd.log(x1) + x1 * x2 - dd.sin(x2)


tr1 = dd.trace(f1, (2.0, 5.0))
print(repr(tr1))
show_table(tr1.table())

fig, ax = plt.subplots(figsize=(9.1, 4.16))
draw_graph(tr1, ax, "f1 = ln(x1) + x1*x2 - sin(x2): the computational graph of the trace")
show(fig)

# %% [markdown]
# **Forward mode.** Seed $\dot x_1 = 1, \dot x_2 = 0$ and push tangents down
# the list: each row applies the chain rule to its own operation only. The
# last row is $\partial f / \partial x_1 = 1/x_1 + x_2 = 5.5$.

# %%
fwd1 = tr1.forward_table("x1")  # the seed: a unit tangent on x1 (same as v=(1.0, 0.0))
show_table(fwd1)
check_forward(tr1, fwd1, seed=(1, 0))
assert by_variable(fwd1, "tangent")["y"] == 5.5

# %% [markdown]
# **Reverse mode.** Seed $\bar y = 1$ and sweep back up: each variable's
# adjoint sums the contributions of every step that used it ($v_0 = x_2$
# feeds $v_2$ and $v_4$, so its formula has two terms). One sweep yields the
# whole gradient, $(\partial f/\partial x_1, \partial f/\partial x_2) =
# (5.5,\; 2 - \cos 5)$.

# %%
rev1 = tr1.reverse_table(y_bar=1.0)
show_table(rev1)
check_reverse(tr1, rev1)

adjoints = by_variable(rev1, "adjoint")
gradient = (adjoints["v_{-1}"], adjoints["v_0"])
print("gradient from the reverse table:", gradient)
# forward mode needs a second pass, seeded on x2, for the second component
fwd1_x2 = tr1.forward_table("x2")
assert gradient == (by_variable(fwd1, "tangent")["y"], by_variable(fwd1_x2, "tangent")["y"])
assert gradient == tuple(dd.grad(lambda x: f1(*x))((2.0, 5.0)))

mpmath.mp.dps = 30
direct = [
    mpmath.diff(lambda a: mpmath.log(a) + a * 5 - mpmath.sin(5), 2),
    mpmath.diff(lambda b: mpmath.log(2) + 2 * b - mpmath.sin(b), 5),
]
mpmath.mp.dps = 15
print("mpmath.diff of f1 written out:   ", [mpmath.nstr(d, 17) for d in direct])
assert all(abs(g - d) < 1e-14 for g, d in zip(gradient, direct))

# %% [markdown]
# Every table also renders as LaTeX (booktabs, ready to paste), as plain text,
# and as CSV at full precision:

# %%
print(fwd1.to_latex(digits=4))
print()
print(rev1.to_text(digits=4))
print()
print(fwd1.to_csv())

# %% [markdown]
# ## Example 2: $f(x_1, x_2) = x_1 x_2 + e^{x_1 x_2} - \sin x_2$ at $(1.5, 0.5)$
#
# A trace records what Python actually executes. Written this way, $x_1 x_2$
# is computed twice ($v_1$ and $v_2$ are the same operation), and each copy
# gets its own tangent and adjoint. Computing it once, `p = x1 * x2`, gives a
# shorter trace: $v_1$ then feeds two steps and its adjoint formula sums them.
# The derivatives are of course the same.


# %%
def f2(x1, x2):
    return x1 * x2 + dd.exp(x1 * x2) - dd.sin(x2)


def f2_shared(x1, x2):
    p = x1 * x2
    return p + dd.exp(p) - dd.sin(x2)


tr2 = dd.trace(f2, (1.5, 0.5))
tr2s = dd.trace(f2_shared, (1.5, 0.5))

fig, (ax_a, ax_b) = plt.subplots(2, 1, figsize=(9.1, 8.32))
draw_graph(tr2, ax_a, "f2 as written: x1*x2 evaluated twice", note=f"{len(tr2.intermediates)} steps")
draw_graph(tr2s, ax_b, "f2_shared: p = x1*x2 once", note=f"{len(tr2s.intermediates)} steps")
show(fig)

fwd2 = tr2.forward_table("x1")
show_table(fwd2)
check_forward(tr2, fwd2, seed=(1, 0))

# %%
rev2 = tr2.reverse_table()
show_table(rev2)
check_reverse(tr2, rev2)

rev2s = tr2s.reverse_table()
show_table(rev2s)
check_reverse(tr2s, rev2s)

a, b = by_variable(rev2, "adjoint"), by_variable(rev2s, "adjoint")
print("gradient, as written:", (a["v_{-1}"], a["v_0"]), " shared:", (b["v_{-1}"], b["v_0"]))
assert np.allclose([a["v_{-1}"], a["v_0"]], [b["v_{-1}"], b["v_0"]], rtol=1e-15)
# by hand: d/dx1 = x2 (1 + e^{x1 x2}),  d/dx2 = x1 (1 + e^{x1 x2}) - cos x2
e = np.exp(0.75)
assert np.allclose([a["v_{-1}"], a["v_0"]], [0.5 * (1 + e), 1.5 * (1 + e) - np.cos(0.5)], rtol=1e-15)

# %% [markdown]
# ## Example 3: $f(x_1, x_2) = (x_1 x_2) \sin x_1$ at $(2, 3)$
#
# Here $x_1$ is used twice, by the product and by the sine. Forward mode
# needs one pass per input; reverse mode gets both partial derivatives
# $\partial f/\partial x_1 = x_2 \sin x_1 + x_1 x_2 \cos x_1$ and
# $\partial f/\partial x_2 = x_1 \sin x_1$ from one sweep.


# %%
def f3(x1, x2):
    return (x1 * x2) * dd.sin(x1)


tr3 = dd.trace(f3, (2.0, 3.0))
fig, ax = plt.subplots(figsize=(7.15, 3.64))
draw_graph(tr3, ax, "f3 = (x1*x2) * sin(x1)")
show(fig)

for seed_name, seed in [("x1", (1, 0)), ("x2", (0, 1))]:
    table = tr3.forward_table(seed_name)
    show_table(table)
    check_forward(tr3, table, seed=seed)

rev3 = tr3.reverse_table()
show_table(rev3)
check_reverse(tr3, rev3)
adj = by_variable(rev3, "adjoint")
assert np.isclose(adj["v_{-1}"], 3 * np.sin(2) + 6 * np.cos(2), rtol=1e-15)
assert np.isclose(adj["v_0"], 2 * np.sin(2), rtol=1e-15)

# %% [markdown]
# (The `-0` in the second forward table is IEEE 754's negative zero:
# $\cos 2 < 0$ times the zero tangent of $x_1$. It equals 0.)

# %% [markdown]
# ## Example 4: $z = xy + x$ at $(2, 3)$
#
# The smallest example with a shared input: $\partial z/\partial x = y + 1 = 4$
# and $\partial z/\partial y = x = 2$. Inputs and the output can be named.

# %%
tr4 = dd.trace(lambda x, y: x * y + x, (2.0, 3.0), names=("x", "y"), output_names=("z",))
fig, ax = plt.subplots(figsize=(5.85, 3.12))
draw_graph(tr4, ax, "z = x*y + x")
show(fig)

fwd4 = tr4.forward_table({"x": 1.0})  # a dict seed: unnamed inputs get 0
show_table(fwd4)
check_forward(tr4, fwd4, seed=(1, 0))

rev4 = tr4.reverse_table()
show_table(rev4)
check_reverse(tr4, rev4)
adj = by_variable(rev4, "adjoint")
assert (adj["v_{-1}"], adj["v_0"]) == (4.0, 2.0)

# %% [markdown]
# The same reverse sweep, PyTorch style, on an explicit tape; and with
# `dd.vjp`:

# %%
tape = dd.Tape()
x, y = tape.var(2.0), tape.var(3.0)
z = x * y + x
z.backward()
print("tape:  x.grad =", x.grad, " y.grad =", y.grad)

value, pullback = dd.vjp(lambda p: p[0] * p[1] + p[0], (2.0, 3.0))
grads = pullback(1.0)  # one sweep; the tape is released afterwards, as in PyTorch
print("vjp:   z =", value, " pullback(1.0) =", grads)
assert (x.grad, y.grad) == (4.0, 2.0) == grads

# %% [markdown]
# **Next:** [03_forward_vs_reverse_cost.ipynb](03_forward_vs_reverse_cost.ipynb)
# measures when each mode wins: forward mode costs one pass per input,
# reverse mode one sweep per output.
