# Source of notebooks/08_extending_dualdiff.ipynb: edit here, then run `python notebooks/_build.py 08`.

# %% [markdown]
# # Extending dualdiff: your own rules and custom derivatives
#
# dualdiff differentiates what its rule table knows. When a function is not
# in it -- a SciPy special function, a root finder, a routine in C -- there
# are two doors:
#
# 1. **register a rule** (`dd.defelementwise`, `dd.deflinear`,
#    `dd.defgeneral`): a new primitive with its derivative, picked up by
#    forward and reverse mode, nested derivatives, traces and the cost model,
#    as fast as a built-in rule;
# 2. **give a Python function a custom derivative** (`dd.custom_jvp`,
#    `dd.custom_vjp`, with JAX's semantics): its body is never differentiated,
#    your rule is.
#
# Each derivative here is checked against mpmath at 30 digits, and
# `dd.check_grads` compares forward mode, reverse mode and finite
# differences, at first and second order.

# %%
import io

import matplotlib.pyplot as plt
import mpmath
import numpy as np
import scipy
import scipy.special as sp
from IPython.display import Image, Markdown, display
from scipy.optimize import brentq

import dualdiff as dd

plt.rcParams.update({"figure.dpi": 90, "font.size": 9})


def show(fig):
    """Display a matplotlib figure as a small PNG (and close it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    display(Image(buf.getvalue()))


def rel_err(got, want):
    return float(abs(mpmath.mpf(float(got)) - want) / abs(want))


print("dualdiff", dd.__version__, "| numpy", np.__version__, "| scipy", scipy.__version__)

# %% [markdown]
# ## 1. A new elementwise rule: `log_ndtr`
#
# $\log\Phi(x)$, the log of the standard normal CDF, is everywhere in
# statistics; `scipy.special.log_ndtr` computes it without underflow even
# for $x = -40$, where $\Phi(x) \approx 10^{-350}$ is below the smallest
# double. dualdiff has no rule for it, so `dd.jvp(sp.log_ndtr, ...)` raises
# `NoRuleError`. Its derivative is
#
# $$\frac{d}{dx}\log\Phi(x) = \frac{\varphi(x)}{\Phi(x)}
#   = \frac{e^{-x^2/2 - \log\Phi(x)}}{\sqrt{2\pi}},$$
#
# written in terms of the value $y = \log\Phi(x)$ so that it never divides
# two underflowing numbers. The partial is written against the math
# namespace `m` (`m.exp`, `m.sqrt`, `m.pi(x)`): the same formula then
# serves floats, arrays, mpmath numbers and nested derivatives. `ufunc=`
# makes `sp.log_ndtr(x)` itself dispatch to the rule; the mapping gives
# mpmath numbers an implementation of their own.

# %%
log_ndtr = dd.defelementwise(
    "log_ndtr",
    {"mpmath": lambda x: mpmath.log(mpmath.ncdf(x))},  # floats and arrays: the ufunc
    partials=[lambda m, y, x: m.exp(-x * x / 2 - y) / m.sqrt(2 * m.pi(x))],
    ufunc=sp.log_ndtr,
    latex=r"\log\Phi",
)

reference = lambda x: mpmath.log(mpmath.ncdf(x))
rows = []
with mpmath.workdps(30):
    for x in (-40.0, -5.0, 0.0, 3.0):
        want = mpmath.diff(reference, x)
        fwd = dd.derivative(sp.log_ndtr)(x)  # the SciPy ufunc, on a dual number
        rev = dd.grad(log_ndtr)(x)
        assert rel_err(fwd, want) < 1e-12 and rel_err(rev, want) < 1e-12
        rows.append(f"| {x:g} | {mpmath.nstr(want, 17)} | {fwd!r} | {rev!r} | {rel_err(fwd, want):.1e} |")
display(
    Markdown(
        "| x | mpmath, 30 digits | forward mode | reverse mode | relative error |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
    )
)

# %% [markdown]
# Differentiating $\log(\Phi(x))$ through a rule for $\Phi$ alone would fail
# exactly where `log_ndtr` is needed: $\Phi(-40)$ underflows to 0, and the
# chain rule divides $\varphi(x) = 0$ by $\Phi(x) = 0$. Here is that naive
# route (a rule `ndtr` registered the same way) against the new rule:

# %%
ndtr = dd.defelementwise("ndtr", {}, partials=[lambda m, y, x: m.exp(-x * x / 2) / m.sqrt(2 * m.pi(x))], ufunc=sp.ndtr)
xs = np.linspace(-45, 5, 201)
with np.errstate(all="ignore"):
    naive = dd.jacfwd(lambda x: np.log(ndtr(x)))(xs).diagonal()
good = dd.jacfwd(log_ndtr)(xs).diagonal()
assert np.isnan(naive[0]) and np.all(np.isfinite(good))
with mpmath.workdps(30):
    assert max(rel_err(g, mpmath.diff(reference, x)) for g, x in zip(good[::20], xs[::20])) < 1e-12

fig, ax = plt.subplots(figsize=(6, 2.6))
ax.plot(xs, good, label="log_ndtr rule")
ax.plot(xs, naive, "--", label="log(ndtr(x)) differentiated")
ax.set(xlabel="x", ylabel="d/dx log Φ(x)", title="The derivative of log Φ: a rule of its own vs the naive route")
ax.legend()
show(fig)
print("naive route gives nan for x <=", xs[np.isnan(naive)].max())

# %% [markdown]
# The rule is a primitive like `sin`: it shows up in evaluation traces, with
# a tangent formula built from its partial, and `check_grads` confirms it at
# second order in both modes (forward and reverse mode against each other
# and against finite differences).

# %%
tr = dd.trace(lambda x: log_ndtr(x) * x, -2.0)
print(tr.forward_table().to_text(digits=6))
dd.check_grads(log_ndtr, np.array([-30.0, -2.0, 0.5, 4.0]), order=2)

# %% [markdown]
# ## 2. A custom VJP around a black box: implicit differentiation of `brentq`
#
# Kepler's equation $E - e \sin E = M$ gives a planet's eccentric anomaly
# $E$ from its mean anomaly $M$ and the orbit's eccentricity $e$. There is
# no closed form; `scipy.optimize.brentq` finds the root. A root finder is a
# black box to automatic differentiation (`brentq` calls `float()` on its
# input; a hand-written bisection would be differentiable but its derivative
# is zero: every step only compares). The **implicit function theorem**
# gives the derivative instead: with $F(E; M, e) = E - e\sin E - M = 0$,
#
# $$\frac{\partial E}{\partial M} = -\frac{F_M}{F_E} = \frac{1}{1 - e\cos E},
# \qquad
# \frac{\partial E}{\partial e} = -\frac{F_e}{F_E} = \frac{\sin E}{1 - e\cos E}.$$
#
# `dd.custom_vjp` wraps the solver: `fwd` runs it and keeps what the
# backward pass needs, `bwd` maps the output cotangent to the inputs'.


# %%
@dd.custom_vjp
def kepler(M, e):
    """The eccentric anomaly E with E - e sin E = M (0 < M < 2 pi, 0 <= e < 1)."""
    return brentq(lambda E: E - e * np.sin(E) - M, 0.0, 2 * np.pi, xtol=1e-15, rtol=1e-15)


def kepler_fwd(M, e):
    E = kepler(M, e)  # on lifted values (second derivatives), this is the custom function again
    return E, (E, e)


def kepler_bwd(res, g):
    E, e = res
    d = 1 - e * np.cos(E)  # F_E
    return g / d, g * np.sin(E) / d


kepler.defvjp(kepler_fwd, kepler_bwd)

M, e = 1.2, 0.4
with mpmath.workdps(30):

    def E_ref(M, e):
        return mpmath.findroot(lambda E: E - e * mpmath.sin(E) - M, M)

    want = [mpmath.diff(E_ref, (M, e), (1, 0)), mpmath.diff(E_ref, (M, e), (0, 1))]
    want2 = mpmath.diff(E_ref, (M, e), (2, 0))
got_rev = dd.grad(lambda p: kepler(p[0], p[1]))((M, e))
got_fwd = dd.jacfwd(lambda p: kepler(p[0], p[1]))((M, e))  # forward mode works too: rows from bwd
got2 = dd.derivative(dd.grad(lambda m: kepler(m, e)))(M)
for g, w in zip(got_rev, want):
    assert rel_err(g, w) < 1e-10
for g, w in zip(got_fwd, want):
    assert rel_err(g, w) < 1e-10
assert rel_err(got2, want2) < 1e-10
print(f"dE/dM = {got_rev[0]!r}   mpmath {mpmath.nstr(want[0], 17)}")
print(f"dE/de = {got_rev[1]!r}   mpmath {mpmath.nstr(want[1], 17)}")
print(f"d2E/dM2 = {got2!r}   mpmath {mpmath.nstr(want2, 17)}")


# %% [markdown]
# Second derivatives work because `fwd` calls `kepler` itself: at a nested
# level its inputs are lifted values, so the residual $E$ carries its own
# derivative, and `bwd` (written with NumPy operations) is differentiated in
# turn. A hand-written bisection, by contrast, runs fine on dual numbers
# and gets the derivative silently wrong:


# %%
def kepler_bisection(M, e, steps=60):
    lo, hi = 0.0, 2 * np.pi
    for _ in range(steps):
        mid = (lo + hi) / 2
        if mid - e * np.sin(mid) - M > 0:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


print("bisection: dE/dM =", dd.grad(lambda m: kepler_bisection(m, e))(M), "(the comparisons carry no derivative)")
assert dd.grad(lambda m: kepler_bisection(m, e))(M) == 0.0

# %% [markdown]
# The custom function is one primitive of the program: one line of the
# trace, one entry of `dd.compare`'s breakdown (its cost estimated, as the
# model cannot see inside `brentq`).

# %%
tr = dd.trace(lambda M, e: kepler(M, e) - M, (M, e))
print(tr.reverse_table().to_text(digits=6))
dd.check_grads(lambda p: kepler(p[0], p[1]), (M, e), order=2)

Ms = np.linspace(0.05, 2 * np.pi - 0.05, 120)
dEdM = np.array([dd.grad(lambda m: kepler(m, 0.7))(m) for m in Ms])
fig, ax = plt.subplots(1, 2, figsize=(8, 2.6))
ax[0].plot(Ms, [kepler(m, 0.7) for m in Ms])
ax[0].set(xlabel="M", ylabel="E", title="Kepler's equation, e = 0.7 (brentq)")
ax[1].plot(Ms, dEdM, label="custom VJP")
ax[1].plot(Ms, 1 / (1 - 0.7 * np.cos([kepler(m, 0.7) for m in Ms])), ":", label="1 / (1 - e cos E)")
ax[1].set(xlabel="M", ylabel="dE/dM", title="its derivative")
ax[1].legend()
show(fig)


# %% [markdown]
# ## 3. A custom JVP for numerical stability
#
# $\log(1 - e^{-x})$ is accurate when written `log(-expm1(-x))`, but its
# textbook derivative $e^{-x}/(1 - e^{-x})$ cancels catastrophically for
# small $x$. `dd.custom_jvp` replaces it by $1/\mathrm{expm1}(x)$. Written
# with dualdiff operations, the JVP rule is also transposed automatically
# for reverse mode, and differentiated for higher orders.


# %%
@dd.custom_jvp
def log1mexp(x):
    return dd.log(-dd.expm1(-x))


@log1mexp.defjvp
def _(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1mexp(x), t / dd.expm1(x)


x = 1e-10
with mpmath.workdps(30):
    want = mpmath.diff(lambda x: mpmath.log(1 - mpmath.exp(-x)), x)
naive = dd.derivative(lambda x: np.log(1 - np.exp(-x)))(x)
print(f"custom_jvp, forward: relative error {rel_err(dd.derivative(log1mexp)(x), want):.1e}")
print(f"custom_jvp, reverse: relative error {rel_err(dd.grad(log1mexp)(x), want):.1e}")
print(f"textbook formula differentiated: relative error {rel_err(naive, want):.1e}")
assert rel_err(dd.grad(log1mexp)(x), want) < 1e-12 < 1e-8 < rel_err(naive, want)
dd.check_grads(log1mexp, np.array([0.01, 1.0, 5.0]), order=2)

# %% [markdown]
# `dd.stop_gradient(x)` is the simplest custom derivative: the identity,
# with derivative zero at every level.

# %%
print(dd.derivative(lambda x: x * dd.stop_gradient(x))(3.0), "(the derivative of x * c with c = 3)")

# %% [markdown]
# ## Cleaning up
#
# Registered rules stay in the table until they are removed (a rule can also
# be replaced with `replace=True`); custom functions are plain Python
# objects and need no cleanup.

# %%
for name in ("log_ndtr", "ndtr"):
    dd.unregister_rule(name)
print("log_ndtr still registered:", "log_ndtr" in dd.rules.TABLE)
