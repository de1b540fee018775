# Source of notebooks/03_forward_vs_reverse_cost.ipynb: edit here, then run `python notebooks/_build.py 03`.

# %% [markdown]
# # Forward against reverse mode: what a Jacobian costs
#
# For $f:\mathbb{R}^n \to \mathbb{R}^m$ the Jacobian $J$ is $m \times n$.
#
# * **Forward mode** gets one *column* $J v$ per pass (a JVP), so the whole
#   Jacobian takes $n$ passes, each a small multiple of the cost of $f$.
# * **Reverse mode** records $f$ once on a tape and gets one *row* $\bar y^\top J$
#   per backward sweep (a VJP), so $m$ sweeps. A gradient ($m = 1$) takes one.
#
# So forward mode wins when $n \ll m$ and reverse mode when $n \gg m$, with a
# crossover in between. How big "a small multiple" is, is bounded in
# Griewank & Walther's *Evaluating Derivatives* (2nd ed., ch. 4): one JVP
# costs at most $5/2$ and one gradient at most $4$ times the operations of $f$
# (the *cheap gradient principle*). Reverse mode pays in memory instead: the
# tape grows with the number of operations of $f$.
#
# `dd.compare(f, x)` measures all of this on one function: it builds the
# Jacobian in both modes and reports passes, element operations (under the
# cost model of `dualdiff.cost`, read from the same rule table that
# computes the derivatives), memory, seconds, and whether the two Jacobians
# agree. This notebook sweeps it over $n$ and $m$.
#
# *Operation counts are exact and the same on every machine, and the asserts
# check them; the times and bytes are measured on the machine that ran this
# notebook last.*

# %%
import io
import math
import platform

import matplotlib.pyplot as plt
from PIL import Image as PILImage
import numpy as np
from IPython.display import Image, Markdown, display

import dualdiff as dd
from dualdiff import cost

plt.rcParams.update({"figure.dpi": 100, "font.size": 11, "axes.titlesize": 12, "legend.fontsize": 10})


def show(fig):
    """Display a matplotlib figure as a PNG (and close it): 100 dpi, 11 pt text, a 256-colour palette to stay small."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    small = io.BytesIO()
    PILImage.open(buf).convert("RGB").quantize(256).save(small, format="png", optimize=True)
    display(Image(small.getvalue()))


print("dualdiff", dd.__version__, "| numpy", np.__version__, "| Python", platform.python_version())

# %% [markdown]
# ## One report
#
# The Rosenbrock function in 100 dimensions: $n = 100$ inputs, $m = 1$
# output. With `chunk=1` each forward pass carries one direction, as in the
# textbooks, so forward mode makes 100 passes where reverse mode makes one
# recording and one sweep.


# %%
def rosenbrock(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


report = dd.compare(rosenbrock, np.linspace(0.5, 1.5, 100), chunk=1)
display(Markdown(report.to_markdown()))

assert (report.n, report.m, report.passes, report.sweeps) == (100, 1, 100, 1)
assert report.max_rel_diff < 1e-13
assert report.choice.mode == "reverse"

# %% [markdown]
# The same numbers are available as attributes and dicts (`report.rows`,
# `report.ops(...)`, `report.ratio(...)`, `report.tape`, `report.to_dict()`),
# which is what the sweeps below use.

# %%
for row in report.rows:
    print({k: row[k] for k in ("mode", "how", "passes", "applications", "ops", "ops_per_f")})
print("OPS(f) =", report.ops("f"), "| OPS(gradient)/OPS(f) =", round(report.ratio("vjp"), 3))
print("tape:", report.tape)

# %% [markdown]
# ## The sweep over $n$ and $m$
#
# A family of functions $f_{n,m}:\mathbb{R}^n \to \mathbb{R}^m$ whose cost
# grows with both: two reductions of $x$ mixed into $m$ outputs,
#
# $$s_1 = \textstyle\sum_i \sin x_i,\quad s_2 = \frac1n \sum_i x_i^2,\quad
# y_j = \cos(w_j s_1)\,(1 + w_j s_2),\qquad w_j \in [0.5, 1.5].$$
#
# $f_{n,m}$ costs $O(n + m)$ operations, so with one direction per pass the
# forward Jacobian costs $O(n(n + m))$ and the reverse one $O(m(n + m))$:
# the crossover is where $n \approx m$.


# %%
def mixer(n, m):
    """f: R^n -> R^m, and the point to evaluate it at."""
    w = np.linspace(0.5, 1.5, m)

    def f(x):
        s1 = np.sum(np.sin(x))
        s2 = np.sum(x * x) / n
        return np.cos(w * s1) * (1 + w * s2)

    return f, 1.0 + 0.5 * np.sin(np.arange(1, n + 1))


def crossover(ns, a, b):
    """Where a - b changes sign along ns, interpolated on log-log axes (None if it does not)."""
    for k in range(len(ns) - 1):
        d0, d1 = math.log(a[k] / b[k]), math.log(a[k + 1] / b[k + 1])
        if d0 < 0 <= d1 or d0 > 0 >= d1:
            t = d0 / (d0 - d1)
            return math.exp(math.log(ns[k]) + t * (math.log(ns[k + 1]) - math.log(ns[k])))
    return None


M = 16
NS = [1, 2, 4, 8, 16, 32, 64, 128, 256]
line = []
for n in NS:
    f, x = mixer(n, M)
    one = dd.compare(f, x, chunk=1, memory=False)  # one direction per pass, as in the textbooks
    wide = dd.compare(f, x, memory=False)  # default: all n directions in one pass
    assert (one.passes, one.sweeps) == (n, M) and wide.passes == 1
    assert one.max_rel_diff < 1e-12
    line.append((n, one, wide))

ops_fwd = [r.ops("forward") for _, r, _ in line]
ops_rev = [r.ops("reverse") for _, r, _ in line]
t_fwd = [r.times["forward"] for _, r, _ in line]
t_rev = [r.times["reverse"] for _, r, _ in line]
t_wide = [w.times["forward"] for _, _, w in line]
n_ops = crossover(NS, ops_fwd, ops_rev)
n_time = crossover(NS, t_fwd, t_rev)

rows = [
    "| n | forward passes | reverse sweeps | ops forward | ops reverse | cheaper (ops) | time forward | time reverse |",
    "|---:|---:|---:|---:|---:|:---|---:|---:|",
]
for (n, r, _), a, b, ta, tb in zip(line, ops_fwd, ops_rev, t_fwd, t_rev):
    cheaper = "forward" if a < b else "reverse"
    assert r.choice.mode == cheaper  # jacobian(mode="auto") picks the cheaper mode of the model
    times = f"{ta * 1e3:.3g} ms | {tb * 1e3:.3g} ms"
    rows.append(f"| {n} | {r.passes} | {r.sweeps} | {a:,} | {b:,} | {cheaper} | {times} |")
display(Markdown("\n".join(rows)))
timed = f"n = {n_time:.1f}" if n_time else "none in this range"
print(f"crossover in operations at n = {n_ops:.1f} (m = {M}); in measured time: {timed}")
assert M / 2 <= n_ops <= 2 * M

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11.7, 4.29))
ax1.loglog(NS, ops_fwd, "o-", label="forward: n passes (chunk 1)", ms=4)
ax1.loglog(NS, ops_rev, "s-", label=f"reverse: 1 recording + {M} sweeps", ms=4)
ax1.axvline(n_ops, color="0.5", ls="--", lw=1)
ax1.text(n_ops / 1.15, ops_fwd[-1], f"crossover\nn = {n_ops:.1f}", fontsize=10, color="0.3", va="top", ha="right")
ax1.set_xlabel("n (inputs)")
ax1.set_ylabel("element operations for the Jacobian")
ax1.set_title(f"operations (cost model), m = {M} outputs")
ax1.legend(fontsize=10)
ax2.loglog(NS, np.array(t_fwd) * 1e3, "o-", label="forward, chunk 1", ms=4)
ax2.loglog(NS, np.array(t_rev) * 1e3, "s-", label="reverse, chunk 1", ms=4)
ax2.loglog(NS, np.array(t_wide) * 1e3, "^--", label="forward, all directions in 1 pass", ms=4, color="C2")
if n_time:
    ax2.axvline(n_time, color="0.5", ls="--", lw=1)
    ax2.text(
        n_time * 1.15, 0.03, f"crossover\nn = {n_time:.1f}", fontsize=10, color="0.3", transform=ax2.get_xaxis_transform()
    )
ax2.set_xlabel("n (inputs)")
ax2.set_ylabel("median time (ms)")
ax2.set_title(f"measured time, m = {M} outputs")
ax2.legend(fontsize=10)
for ax in (ax1, ax2):
    ax.set_xticks(NS, [str(n) for n in NS])
    ax.minorticks_off()
show(fig)

# %% [markdown]
# Left: in operations the crossover sits at $n \approx m$, as the
# pass-counting argument says. Right: the measured times follow the same
# shape, but at these small sizes the time goes to Python's fixed cost per
# primitive call (microseconds), not to element operations (nanoseconds). A
# forward pass re-evaluates every primitive of $f$ along with its tangent,
# while a reverse sweep only applies the partials stored on the tape, so a
# pass costs more than a sweep and the timed crossover comes at a smaller
# $n$ (printed above the plot).
# Pushing all $n$ directions through **one** pass (dualdiff's default
# `chunk`, the tangent carrying a trailing axis of directions) removes most of
# that overhead: same operation count, far fewer Python calls.
#
# ### The whole $(n, m)$ grid
#
# The ratio of forward to reverse operations over a grid of both sizes. The
# colour changes where the cheaper mode does, along the diagonal $n = m$.

# %%
SIZES = [1, 4, 16, 64, 256]
ratio = np.zeros((len(SIZES), len(SIZES)))
time_ratio = np.zeros_like(ratio)
for i, n in enumerate(SIZES):
    for j, m in enumerate(SIZES):
        f, x = mixer(n, m)
        r = dd.compare(f, x, chunk=1, memory=False, repeat=3)
        assert (r.passes, r.sweeps) == (n, m) and r.max_rel_diff < 1e-10
        ratio[i, j] = r.ops("forward") / r.ops("reverse")
        time_ratio[i, j] = r.times["forward"] / r.times["reverse"]

fig, axes = plt.subplots(1, 2, figsize=(11.7, 4.68))
for ax, data, what in [(axes[0], ratio, "operations"), (axes[1], time_ratio, "measured time")]:
    im = ax.imshow(np.log2(data), origin="lower", cmap="RdBu_r", vmin=-8, vmax=8)
    for i in range(len(SIZES)):
        for j in range(len(SIZES)):
            label = f"{data[i, j]:.2g}" if data[i, j] < 100 else f"{data[i, j]:.0f}"
            ax.text(j, i, label, ha="center", va="center", fontsize=9.5)
    ax.plot([-0.5, len(SIZES) - 0.5], [-0.5, len(SIZES) - 0.5], color="k", lw=0.8, ls=":")
    ax.set_xticks(range(len(SIZES)), SIZES)
    ax.set_yticks(range(len(SIZES)), SIZES)
    ax.set_xlabel("m (outputs)")
    ax.set_title(f"forward / reverse, {what}")
axes[0].set_ylabel("n (inputs)")
cbar = fig.colorbar(im, ax=axes, shrink=0.85)
cbar.set_label("log2(forward / reverse)\nred: reverse cheaper, blue: forward")
show(fig)

# the model's verdict flips across the diagonal: forward below it (n < m), reverse above it (n > m)
assert all(ratio[i, j] < 1 for i in range(len(SIZES)) for j in range(len(SIZES)) if SIZES[i] * 4 <= SIZES[j])
assert all(ratio[i, j] > 1 for i in range(len(SIZES)) for j in range(len(SIZES)) if SIZES[i] >= 4 * SIZES[j])

# %% [markdown]
# ## One pass against the textbook bounds
#
# Griewank & Walther bound the cost of **one** JVP by $5/2$ and one gradient
# (or VJP) by $4$ times the operations of $f$, for programs of additions,
# multiplications and univariate functions. `report.ratio("jvp")` and
# `report.ratio("vjp")` are exactly those quotients under dualdiff's cost
# model (bookkeeping, i.e. writing seeds and reading results, left out as in
# the book; the report gives both). A product reaches the JVP bound exactly.

# %%
rng = np.random.default_rng(0)
X_data = rng.normal(size=(32, 2))
Y_data = np.sin(X_data[:, :1])


def tanh_mlp_loss(p):
    W1, b1, W2 = p
    return np.mean((np.tanh(X_data @ W1 + b1) @ W2 - Y_data) ** 2)


def baydin(x):
    return dd.log(x[0]) + x[0] * x[1] - dd.sin(x[1])


def chain(x):
    for _ in range(100):
        x = np.sin(x) * 0.9 + 0.1 * x
    return x


cases = [
    ("x1 * x2", lambda x: x[0] * x[1], (1.0, 2.0)),
    ("ln x1 + x1 x2 - sin x2", baydin, (2.0, 5.0)),
    ("100 steps of sin(x)·0.9 + 0.1x", chain, 0.5),
    ("rosenbrock, n = 100", rosenbrock, np.linspace(0.5, 1.5, 100)),
    ("log-sum-exp, n = 100", lambda x: np.log(np.sum(np.exp(x))), np.linspace(0, 1, 100)),
    ("tanh MLP loss, 32 weights", tanh_mlp_loss, (rng.normal(size=(2, 8)), np.zeros(8), rng.normal(size=(8, 1)))),
]
rows = [
    "| function | n | OPS(f) | OPS(JVP) / OPS(f) | bound | OPS(gradient) / OPS(f) | bound |",
    "|:---|---:|---:|---:|---:|---:|---:|",
]
bars = []
for name, f, x in cases:
    r = dd.compare(f, x, timing=False, memory=False)
    jvp_ratio, vjp_ratio = r.ratio("jvp"), r.ratio("vjp")
    assert jvp_ratio <= dd.cost.JVP_BOUND and vjp_ratio <= dd.cost.GRADIENT_BOUND, name
    bars.append((name, jvp_ratio, vjp_ratio))
    rows.append(f"| {name} | {r.n} | {r.ops('f'):,} | {jvp_ratio:.3f} | 5/2 | {vjp_ratio:.3f} | 4 |")
display(Markdown("\n".join(rows)))
assert bars[0][1] == 2.5  # the product reaches the tangent bound exactly

fig, ax = plt.subplots(figsize=(9.1, 3.9))
k = np.arange(len(bars))
ax.barh(k + 0.2, [b[1] for b in bars], height=0.4, label="OPS(JVP) / OPS(f)", color="C0")
ax.barh(k - 0.2, [b[2] for b in bars], height=0.4, label="OPS(gradient) / OPS(f)", color="C1")
ax.axvline(dd.cost.JVP_BOUND, color="C0", ls="--", lw=1, label="bound for a JVP: 5/2")
ax.axvline(dd.cost.GRADIENT_BOUND, color="C1", ls="--", lw=1, label="bound for a gradient: 4")
ax.set_yticks(k, [b[0] for b in bars])
ax.invert_yaxis()
ax.set_xlim(0, 4.6)
ax.set_xlabel("operations of one pass / operations of f")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=10)
ax.set_title("one JVP and one gradient against Griewank & Walther's bounds")
show(fig)

# %% [markdown]
# The per-primitive breakdown shows where the work goes. In the MLP, `tanh`
# costs 3 times its own evaluation in a JVP: its derivative $1 - y^2$ takes a
# multiplication and a subtraction, more than the single operation of the
# book's elementary $\psi'$. The matrix products dominate and keep the total
# inside the bound.

# %%
mlp_report = dd.compare(tanh_mlp_loss, cases[-1][2], timing=False, memory=False)
rows = ["| primitive | applications | elements | OPS(f) | JVP / f | VJP / f |", "|:---|---:|---:|---:|---:|---:|"]
weights = mlp_report.weights
for p in mlp_report.primitives:
    ev = p.evaluate.total(weights)
    jv = (p.evaluate + p.partials + p.tangent).total(weights)
    vj = (p.evaluate + p.partials + p.adjoint).total(weights)
    rows.append(f"| {p.name} | {p.applications} | {p.elements} | {ev:,} | {jv / ev:.2f} | {vj / ev:.2f} |")
    if p.name == "tanh":
        assert jv == 3 * ev
display(Markdown("\n".join(rows)))
assert mlp_report.ratio("jvp") <= dd.cost.JVP_BOUND

# %% [markdown]
# ## Memory: the tape grows with the function
#
# Forward mode carries one tangent beside each value and forgets both as it
# goes, so its memory does not grow with the length of the computation.
# Reverse mode must keep, for every operation, what the backward sweep will
# need (the local partials): the tape grows linearly with the number of
# operations. Here a loop of $k$ steps, $x \leftarrow 0.9\sin x + 0.1x$
# (4 primitives a step), for $k$ from 10 to 10,000; `dd.compare` reports the
# tape (entries and the bytes of the values it keeps) and the peak memory
# traced (`tracemalloc`) while each mode builds the derivative.


# %%
def chain_of(k):
    def f(x):
        for _ in range(k):
            x = np.sin(x) * 0.9 + 0.1 * x
        return x

    return f


KS = [10, 30, 100, 300, 1000, 3000, 10000]
memory = []
for k in KS:
    r = dd.compare(chain_of(k), 0.5, timing=False)
    assert r.tape.entries == 4 * k  # sin, two products, one sum per step
    assert r.max_rel_diff < 1e-12
    memory.append((k, r.ops("f"), r.tape, r.peak_memory["forward"], r.peak_memory["reverse"]))

rows = ["| steps k | OPS(f) | tape entries | tape values | tape total | peak, forward | peak, reverse |"]
rows.append("|---:|---:|---:|---:|---:|---:|---:|")
for k, ops, tape, pf, pr in memory:
    rows.append(
        f"| {k:,} | {ops:,} | {tape.entries:,} | {tape.value_bytes / 1024:,.1f} KiB"
        f" | {tape.total_bytes / 1024:,.1f} KiB | {pf / 1024:,.1f} KiB | {pr / 1024:,.1f} KiB |"
    )
display(Markdown("\n".join(rows)))

values = [t.value_bytes for _, _, t, _, _ in memory]
peaks_fwd = [pf for *_, pf, _ in memory]
peaks_rev = [pr for *_, pr in memory]
assert 9 < values[-3] / values[-5] < 11  # 10x the steps, 10x the tape
# forward mode: flat, a few KiB whatever k (what varies is Python's own bookkeeping, not the Duals)
assert max(peaks_fwd) < 64 * 1024
assert peaks_rev[-1] > 50 * max(peaks_fwd)  # reverse mode: the tape
assert peaks_rev[-1] > 5 * peaks_rev[-3]  # ... growing with k

# %% [markdown]
# For array code the tape holds one entry per array operation, so its length
# does not depend on the array size, but the partials it stores do. Here the
# tape of the Rosenbrock function recorded at growing $n$
# (`cost.tape_of` and `cost.tape_size`, which `dd.compare` uses):

# %%
NA = [10, 100, 1_000, 10_000, 100_000, 1_000_000]
array_tapes = [cost.tape_size(cost.tape_of(rosenbrock, np.linspace(0.5, 1.5, n))) for n in NA]
for n, t in zip(NA, array_tapes):
    print(f"n = {n:>9,}: {t.entries} entries, {t.value_bytes / 1024:>10,.1f} KiB of stored values")
assert len({t.entries for t in array_tapes}) == 1
assert 9 < array_tapes[-1].value_bytes / array_tapes[-2].value_bytes < 11

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11.7, 4.16))
ax1.loglog(KS, np.array(peaks_rev) / 1024, "s-", label="reverse: peak memory", ms=4, color="C1")
ax1.loglog(KS, np.array(values) / 1024, "s:", label="reverse: values on the tape", ms=3, color="C1")
ax1.loglog(KS, np.array(peaks_fwd) / 1024, "o-", label="forward: peak memory", ms=4, color="C0")
ax1.set_xlabel("steps k of the scalar loop (4k operations)")
ax1.set_ylabel("KiB")
ax1.set_title("scalar loop: memory against its length")
ax1.legend(fontsize=10, loc="lower right")
ax2.loglog(NA, [t.value_bytes / 1024 for t in array_tapes], "s-", ms=4, color="C1")
ax2.set_xlabel("n (array size)")
ax2.set_ylabel("KiB stored on the tape")
ax2.set_title(f"rosenbrock: {array_tapes[0].entries} tape entries at every n")
show(fig)

# %% [markdown]
# ## Summary
#
# * A Jacobian costs $n$ forward passes or $m$ reverse sweeps; the crossover
#   of the operation counts sits at $n \approx m$, and `dd.jacobian(f,
#   mode="auto")` takes the cheaper side (`report.choice` says why).
# * One pass of either mode stays within Griewank & Walther's bounds ($5/2$
#   and $4$ times $f$) on every function above.
# * Reverse mode's price is memory: the tape grows linearly with the number
#   of operations (scalar code) or with the array sizes (array code), while
#   forward mode's stays flat.
#
# **Next:** [04_jacobians_in_practice.ipynb](04_jacobians_in_practice.ipynb)
# uses these derivatives for Newton's method, SciPy's optimizers and a small
# neural network.
