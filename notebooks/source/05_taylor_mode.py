# Source of notebooks/05_taylor_mode.ipynb: edit here, then run `python notebooks/_build.py 05`.

# %% [markdown]
# # Taylor mode: d derivatives in one pass
#
# A dual number $x_0 + x_1\varepsilon$ with $\varepsilon^2 = 0$ carries one
# derivative. Keep more terms and you get a **truncated Taylor polynomial**
#
# $$x(t) = x_0 + x_1 t + x_2 t^2 + \dots + x_d t^d, \qquad t^{d+1} = 0,$$
#
# and every elementary function maps the coefficients of its argument to
# those of its result by a short recurrence (Griewank & Walther, *Evaluating
# Derivatives*, ch. 13). For $y = e^x$, differentiating $y' = y\,x'$ gives
# $k\,y_k = \sum_{j=1}^{k} j\,x_j\,y_{k-j}$: $O(d^2)$ operations for all $d$
# coefficients. Pushing $x + t v$ through a program this way gives the
# coefficients $y_k = \frac{1}{k!}\frac{d^k}{dt^k} f(x + t v)\big|_{t=0}$ in
# **one pass**, where nesting `derivative` $d$ times builds $d$ levels of
# dual numbers and costs $O(2^d)$.
#
# dualdiff gets those recurrences from its one rule table. For any
# elementwise rule $y = \varphi(x_1, \dots, x_k)$ along the curve,
# $y' = \sum_i \partial_i\varphi \cdot x_i'$, so
# $k\,y_k = \sum_i \sum_{j=1}^{k} j\,x_{i,j}\,[\partial_i\varphi]_{k-j}$, where
# the series of the partial comes from evaluating the rule's own partial on
# Taylor numbers one order lower. Every rule, built-in or registered later,
# works with no new formula; functions for which that route would cost more
# than $O(d^2)$ or lose digits (exp, sin/cos, log, powers, division, sqrt,
# tan, tanh, ...) have a recurrence of their own, tested against it.
#
# This notebook shows `dd.Taylor`, `dd.taylor`, `dd.derivatives`, the Taylor
# table of an evaluation trace, and what the cost does as the order grows.
# *The numbers are checked against independent references (Hermite
# polynomials, mpmath, closed forms); the times are measured on the machine
# that ran this notebook last.*

# %%
import io
import math
import platform
import time

import matplotlib.pyplot as plt
import mpmath
import numpy as np
from IPython.display import Image, Markdown, display

import dualdiff as dd

plt.rcParams.update({"figure.dpi": 90, "font.size": 9})


def show(fig):
    """Display a matplotlib figure as a small PNG (and close it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    display(Image(buf.getvalue()))


def show_table(table, digits=6):
    display(Markdown(table.to_markdown(digits=digits)))


print("dualdiff", dd.__version__, "| numpy", np.__version__, "| Python", platform.python_version())

# %% [markdown]
# ## Taylor numbers
#
# `dd.Taylor(x0, [x1, ..., xd])` is the polynomial $x_0 + x_1 t + \dots + x_d t^d$.
# Arithmetic and dualdiff's functions (and NumPy's ufuncs) work on it like on
# a `Dual`; `float()` refuses, because it would drop the coefficients.

# %%
x = dd.Taylor(2.0, [1.0, 0.0, 0.0])  # x(t) = 2 + t, to order 3
cube = x**3
print("coefficients of (2 + t)^3:", cube.coefficients)  # 8 + 12 t + 6 t^2 + t^3
print("derivatives f, f', f'', f''' at 2:", cube.derivatives())
assert cube.coefficients == (8.0, 12.0, 6.0, 1.0)
try:
    float(cube)
except TypeError as e:
    print("float():", str(e)[:60], "...")

# %% [markdown]
# The transforms: `dd.taylor(f, x, v, order=d)` returns $(y_0, \dots, y_d)$
# for $t \mapsto f(x + t v)$ ($v$ defaults to 1 for a scalar $x$), and
# `dd.derivatives(f, order=d)(x)` returns $f, f', \dots, f^{(d)}$ at a scalar
# $x$ ($k!\,y_k$). The seed examples of the issue:

# %%
print("d^3/dx^3 x^3 at 2:", dd.derivatives(lambda x: x**3, order=3)(2.0)[3])
print("(x^3)'' at 2:", dd.derivatives(lambda x: x**3, order=2)(2.0)[2])
print("tangent of ((x + 2) * 3)^2 at 3:", dd.taylor(lambda x: ((x + 2) * 3) ** 2, 3.0, order=1)[1])
assert dd.derivatives(lambda x: x**3, order=3)(2.0) == (8.0, 12.0, 12.0, 6.0)
assert dd.taylor(lambda x: ((x + 2) * 3) ** 2, 3.0, order=1) == (225.0, 90.0)

# %% [markdown]
# ## A textbook function: $e^{-x^2}$ and the Hermite polynomials
#
# The derivatives of the Gaussian are Hermite polynomials:
# $\frac{d^k}{dx^k} e^{-x^2} = (-1)^k H_k(x)\, e^{-x^2}$. So
# $f'' = (4x^2 - 2)e^{-x^2}$, and all ten derivatives at $x = 0.5$ from one
# Taylor pass can be checked against NumPy's Hermite series.

# %%
f = lambda x: dd.exp(-(x**2))
x0 = 0.5
derivs = dd.derivatives(f, order=10)(x0)
rows = []
for k, got in enumerate(derivs):
    unit = np.zeros(k + 1)
    unit[k] = 1.0
    want = (-1) ** k * np.polynomial.hermite.hermval(x0, unit) * math.exp(-(x0**2))
    rows.append(f"| {k} | {got:.15g} | {want:.15g} | {abs(got - want) / abs(want):.1e} |")
    assert abs(got - want) <= 1e-13 * abs(want), (k, got, want)
header = "| k | $f^{(k)}(0.5)$, one Taylor pass | $(-1)^k H_k(0.5)\\,e^{-0.25}$ | rel. diff |\n|---|---|---|---|\n"
display(Markdown(header + "\n".join(rows)))
assert derivs[2] == (4 * x0**2 - 2) * math.exp(-(x0**2))

# %% [markdown]
# The coefficients themselves are the Taylor polynomials of $f$ around
# $x_0$; one pass at order 12 draws all of them.

# %%
coef = dd.taylor(f, x0, order=12)
ts = np.linspace(-1.6, 1.6, 400)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(x0 + ts, np.exp(-((x0 + ts) ** 2)), "k", lw=2.5, label=r"$e^{-x^2}$")
for degree in (1, 2, 4, 8, 12):
    ax.plot(x0 + ts, np.polyval(coef[degree::-1], ts), lw=1, label=f"degree {degree}")
ax.set_ylim(-0.4, 1.3)
ax.axvline(x0, color="0.7", lw=0.8)
ax.set_xlabel("x")
ax.set_title(r"Taylor polynomials of $e^{-x^2}$ around $x_0 = 0.5$, from one pass at order 12")
ax.legend(fontsize=7, ncol=3)
show(fig)

# %% [markdown]
# ## Fifty digits, twenty derivatives
#
# With mpmath numbers every coefficient is computed at the working precision.
# The derivatives of $\sin$ are known exactly: $\sin^{(k)}(1) = \sin(1 + k\pi/2)$.

# %%
with mpmath.workdps(50):
    got = dd.taylor(dd.sin, mpmath.mpf(1), order=20)
    exact = [mpmath.sin(1 + k * mpmath.pi / 2) for k in range(21)]  # the k-th derivatives
    worst = max(abs(mpmath.factorial(k) * c - exact[k]) for k, c in enumerate(got))
    print("y_20 =", mpmath.nstr(got[20], 45))
    print("largest error of k! y_k against sin(1 + k pi/2):", mpmath.nstr(worst, 3))
    assert worst < mpmath.mpf("1e-48")

# %% [markdown]
# ## The Taylor table
#
# `dd.trace(f, x).taylor_table(v, order=d)` is the evaluation trace with the
# Taylor coefficients of every intermediate $v_i(t) = v_i(x + t\dot x)$: the
# table of Griewank & Walther's chapter 13. Column $t^1$ is the tangent column
# of the forward table; $k!$ times column $t^k$ is the $k$-th directional
# derivative. The same table prints as text, Markdown, LaTeX or CSV, and from
# the command line: `dualdiff table "exp(-x**2)" --at x=0.5 --taylor 4`.

# %%
tr = dd.trace(f, 0.5)
table = tr.taylor_table(order=4)
show_table(table)
y_row = next(r for r in table.rows if r["variable"] == "y")
with mpmath.workdps(30):
    want = mpmath.taylor(lambda x: mpmath.exp(-(x**2)), mpmath.mpf("0.5"), 4)
for k in range(5):
    got = y_row["value"] if k == 0 else y_row[f"t{k}"]
    assert abs(got - want[k]) <= 1e-14 * abs(want[k]), (k, got, want[k])

# %% [markdown]
# The classic example $f(x_1, x_2) = \ln x_1 + x_1 x_2 - \sin x_2$ at $(2, 5)$,
# along $x_1$: the coefficients of $\ln(2 + t)$ appear in $v_1$, and the
# product $v_2 = x_1 x_2$ is linear in $t$.

# %%
gw = dd.trace(lambda x1, x2: dd.log(x1) + x1 * x2 - dd.sin(x2), (2.0, 5.0))
gw_table = gw.taylor_table("x1", order=3)
show_table(gw_table, digits=5)
v1 = next(r for r in gw_table.rows if r["variable"] == "v_1")
assert (v1["t1"], v1["t2"], v1["t3"]) == (0.5, -0.125, 1 / 24)

# %% [markdown]
# ## Higher directional derivatives of array functions
#
# For $f:\mathbb{R}^n\to\mathbb{R}$ the coefficients along $v$ are
# $y_k = \frac{1}{k!} D^k f(x)[v, \dots, v]$: $y_2$ is $\frac12 v^\top H v$,
# and $y_3$ a third-order directional derivative, all from one pass.
# The Rosenbrock function is a polynomial of degree 4, so along any line
# its coefficients stop at $t^4$.

# %%
rosen = lambda x: np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
rng = np.random.default_rng(1)
xr, vr = rng.normal(size=6), rng.normal(size=6)
coef = dd.taylor(rosen, xr, vr, order=6)
print("coefficients along v:", np.round(coef, 6))
half_vHv = vr @ dd.hessian(rosen)(xr) @ vr / 2
print("v^T H v / 2 from dd.hessian:", half_vHv)
assert abs(coef[2] - half_vHv) <= 1e-12 * abs(half_vHv)
assert coef[5] == 0 and coef[6] == 0
# the line t -> rosen(x + t v) is a quartic polynomial: fit it exactly through five points
ts5 = np.arange(-2.0, 3.0)
exact = np.polyfit(ts5, [rosen(xr + t * vr) for t in ts5], 4)[::-1]
assert np.allclose(coef[:5], exact, rtol=1e-9, atol=1e-9)

# %% [markdown]
# ## Cost against order: one Taylor pass against nested derivatives
#
# The scalar chain of `benchmarks/scalar_chain.py` (blocks of
# `* + sin / exp + log sqrt tanh -`), here 20 blocks (200 operations) so that
# nesting stays quick. Nesting `dd.derivative` $d$ times gives only the
# $d$-th derivative and its cost multiplies with every level; `dd.taylor` gives
# all $d$ coefficients and its cost grows like $d^2$ at most (per operation:
# a fixed dispatch cost plus the $O(d^2)$ recurrence). The benchmark
# `benchmarks/taylor.py` measures the 1000-operation chain against JAX's
# `jet` as well.


# %%
def chain(x, m=dd, blocks=20):
    y = x
    for _ in range(blocks):
        y = m.sin(y * 1.0001 + 0.1) / 1.5
        y = m.sqrt(m.log(m.exp(y) + 2.0))
        y = m.tanh(y) - 0.5
    return y


def best_time(fn, repeat=3):
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def nested(g, k):
    for _ in range(k):
        g = dd.derivative(g)
    return g


taylor_orders = [1, 2, 3, 4, 6, 8, 12, 16]
nested_orders = [1, 2, 3, 4, 5, 6]
t_taylor = [best_time(lambda d=d: dd.taylor(chain, 0.3, order=d)) for d in taylor_orders]
t_nested = [best_time(lambda d=d: nested(chain, d)(0.3), repeat=1 if d > 4 else 3) for d in nested_orders]

# the two agree: the d-th derivative from nesting equals d! y_d from one Taylor pass
ys = dd.taylor(chain, 0.3, order=6)
for d in nested_orders:
    want = nested(chain, d)(0.3)
    assert abs(math.factorial(d) * ys[d] - want) <= 1e-12 * abs(want), d

slope = np.polyfit(np.log(taylor_orders[3:]), np.log(t_taylor[3:]), 1)[0]
growth = t_nested[-1] / t_nested[-2]
fig, ax = plt.subplots(figsize=(5.5, 3.2))
ax.loglog(taylor_orders, t_taylor, "o-", label="dd.taylor (all d coefficients)")
ax.loglog(nested_orders, t_nested, "s-", label="dd.derivative nested d times")
ax.set_xlabel("order d")
ax.set_ylabel("seconds per call")
ax.set_xticks(taylor_orders, [str(d) for d in taylor_orders])
ax.set_title("200-operation chain: cost against order")
ax.legend(fontsize=8)
show(fig)
print(f"dd.taylor: time grows like d^{slope:.2f} from d = 4 to 16 (measured here)")
print(f"nesting: each further level multiplies the time by about {growth:.1f}")
print(f"at d = 6: nesting {t_nested[-1] * 1e3:.1f} ms, one Taylor pass {t_taylor[4] * 1e3:.2f} ms")
