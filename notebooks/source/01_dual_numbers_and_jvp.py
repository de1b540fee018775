# Source of notebooks/01_dual_numbers_and_jvp.ipynb: edit here, then run `python notebooks/_build.py 01`.

# %% [markdown]
# # Dual numbers and Jacobian-vector products
#
# Forward-mode automatic differentiation in dualdiff runs your ordinary Python
# and NumPy code on **dual numbers**. This notebook shows
#
# 1. what a dual number is, and why $\varepsilon^2 = 0$ gives exact derivatives;
# 2. the `dd.Dual` class;
# 3. `dd.jvp`, `dd.derivative` and `dd.jacfwd`;
# 4. derivatives of derivatives (nesting);
# 5. a derivative at 50 significant digits with mpmath;
# 6. what a mistake looks like: every one raises a clear error.
#
# Every number below is computed by the code above it, and the `assert`
# statements check it against an independent value (a hand-derived formula,
# `mpmath.diff`, or `mpmath.taylor`).

# %%
import io
import math

import matplotlib.pyplot as plt
from PIL import Image as PILImage
import mpmath
import numpy as np
from IPython.display import Image, Markdown, display

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


print("dualdiff", dd.__version__, "| numpy", np.__version__, "| mpmath", mpmath.__version__)

# %% [markdown]
# ## 1. A number with an infinitesimal part
#
# A dual number is $a + b\,\varepsilon$ with a new symbol $\varepsilon$ that is
# not zero but squares to zero: $\varepsilon^2 = 0$. Arithmetic is the usual
# algebra with that one extra rule. Square $x + \varepsilon$:
#
# $$(x + \varepsilon)^2 = x^2 + 2x\,\varepsilon + \varepsilon^2 = x^2 + 2x\,\varepsilon .$$
#
# The $\varepsilon$ part, $2x$, is the derivative of $x^2$. That is no
# accident: Taylor's theorem gives $f(x + \varepsilon) = f(x) + f'(x)\,\varepsilon
# + \tfrac12 f''(x)\,\varepsilon^2 + \dots$, and every term after the second
# vanishes. So evaluating $f$ on $x + 1\cdot\varepsilon$ yields $f(x)$ and
# $f'(x)$ together, exactly, with no step size.
#
# One concrete model of $\varepsilon$ is the $2\times2$ matrix
# $E = \begin{pmatrix}0&1\\0&0\end{pmatrix}$, with $a + b\varepsilon$ standing
# for $aI + bE$. It is not zero, yet $E^2 = 0$:

# %%
E = np.array([[0.0, 1.0], [0.0, 0.0]])
I2 = np.eye(2)
print("E @ E =\n", E @ E)

x = 3.0
square = (x * I2 + E) @ (x * I2 + E)
print("\n(3 I + E)^2 =\n", square, "\n= 9 I + 6 E, i.e. 9 + 6ε")
assert np.array_equal(square, 9 * I2 + 6 * E)

# %% [markdown]
# `dd.Dual(primal, tangent)` is that number $a + b\,\varepsilon$: the *primal*
# $a$ is the value, the *tangent* $b$ the derivative carried along.
# $(x + \varepsilon)^2$ at a few points gives $x^2$ and $2x$:

# %%
rows = ["| x | (x + ε)² | primal | tangent | x² | 2x |", "|---:|:---|---:|---:|---:|---:|"]
for x in [-2.0, -0.5, 0.0, 1.0, 3.0]:
    d = dd.Dual(x, 1.0) ** 2
    assert d.primal == x**2 and d.tangent == 2 * x
    rows.append(f"| {x:g} | `{d!r}` | {d.primal:g} | {d.tangent:g} | {x**2:g} | {2 * x:g} |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## 2. The `Dual` class
#
# A `Dual` works with Python's operators, with NumPy's ufuncs (`np.sin`,
# `np.exp`, ...) and with dualdiff's own functions (`dd.sin`, `dd.exp`, ...).
# Each operation applies one rule from dualdiff's rule table: the value, and
# the tangent by the chain rule, e.g. $\sin(a + b\varepsilon) = \sin a + b\cos a\,\varepsilon$.

# %%
d = dd.Dual(2.0, 1.0)  # primal 2, tangent 1: "x = 2, and we differentiate with respect to x"
print("d               =", d)
print("d.primal        =", d.primal, " d.tangent =", d.tangent)
print("d * d + 1       =", d * d + 1)
print("d ** 3          =", d**3)
print("np.sin(d)       =", np.sin(d))
print("dd.exp(d)       =", dd.exp(d))
print("abs(-d)         =", abs(-d))
print("1 / d           =", 1 / d)
print("dd.Dual(5.0)    =", dd.Dual(5.0), " (tangent 0: a constant)")

assert (d * d + 1).tangent == 4.0
assert np.sin(d).tangent == math.cos(2.0)
assert (1 / d).tangent == -1 / 4

# %% [markdown]
# The primal can be a NumPy array, with a tangent of the same shape: the
# tangent is a *direction* in input space. Seeding the first unit vector
# differentiates with respect to the first element:

# %%
a = dd.Dual(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 0.0]))
s = np.sum(a * a)  # f(a) = a0² + a1² + a2², so ∂f/∂a0 = 2 a0 = 2
print("a            =", a)
print("sum(a * a)   =", s)
print("a @ a        =", a @ a)
print("np.exp(a)    =", np.exp(a))
assert s.primal == 14.0 and s.tangent == 2.0

# %% [markdown]
# `dd.sin` and friends take plain numbers too, and evaluate with the library
# that matches their argument: `math`/NumPy for floats and arrays, `cmath` for
# complex numbers, mpmath for mpmath numbers.

# %%
for arg in [1.0, 1 + 2j, mpmath.mpf(1), np.array([0.0, 1.0])]:
    print(f"dd.sin({arg!r:>25}) = {dd.sin(arg)!r}")

# %% [markdown]
# ## 3. `jvp`, `derivative`, `jacfwd`
#
# You rarely build Duals yourself. `dd.jvp(f, x, v)` seeds $x + v\,\varepsilon$,
# runs `f` once and returns $f(x)$ and the **Jacobian-vector product**
# $J_f(x)\,v$: the directional derivative of $f$ at $x$ along $v$, for the cost
# of about two evaluations of $f$.
#
# Take $f(x_1, x_2) = (x_1^2 x_2,\; 5x_1 + \sin x_2)$, whose Jacobian is
# $\begin{pmatrix} 2x_1x_2 & x_1^2 \\ 5 & \cos x_2 \end{pmatrix}$.


# %%
def f(x):
    return np.stack([x[0] ** 2 * x[1], 5 * x[0] + np.sin(x[1])])


x = np.array([1.0, 2.0])
v = np.array([0.5, -1.0])
y, y_dot = dd.jvp(f, x, v)
J_by_hand = np.array([[2 * x[0] * x[1], x[0] ** 2], [5.0, np.cos(x[1])]])
print("f(x)      =", y)
print("J(x) v    =", y_dot)
print("by hand   =", J_by_hand @ v)
assert np.allclose(y_dot, J_by_hand @ v, rtol=1e-15, atol=0)

J = dd.jacfwd(f)(x)  # all of J: n = 2 directions, pushed through f together
print("\njacfwd(f)(x) =\n", J)
assert np.allclose(J, J_by_hand, rtol=1e-15, atol=0)

# %% [markdown]
# Every transform calls `f(x)` with `x` as its **one** argument, as `jax.grad`
# does. A tuple `x` arrives as that tuple, so inputs of different shapes are
# fine, and `v` is a tuple shaped the same way:


# %%
def g(p):
    scale, w = p
    return scale * np.sum(np.sin(w))


p = (2.0, np.array([0.1, 0.2, 0.3]))
print(dd.jvp(g, p, (1.0, np.zeros(3))))  # d/d scale = sum(sin w)
print(dd.jvp(g, p, (0.0, np.array([1.0, 0.0, 0.0]))))  # d/d w0 = scale * cos(w0)
assert np.isclose(dd.jvp(g, p, (0.0, np.array([1.0, 0.0, 0.0])))[1], 2 * np.cos(0.1), rtol=1e-15)

# %% [markdown]
# `dd.derivative(f)` is $f'$ for a scalar input; the output may have any
# shape. Here a Lissajous curve $t \mapsto (\cos 3t, \sin 2t)$ and its velocity
# vectors $(-3\sin 3t,\; 2\cos 2t)$, drawn from `dd.derivative`:


# %%
def curve(t):
    return np.stack([np.cos(3 * t), np.sin(2 * t)])


velocity = dd.derivative(curve)
ts = np.linspace(0, 2 * np.pi, 400)
path = np.array([curve(t) for t in ts])
marks = np.linspace(0.2, 2 * np.pi + 0.2, 15)[:-1]
points = np.array([curve(t) for t in marks])
arrows = np.array([velocity(t) for t in marks])
assert np.allclose(arrows[:, 0], -3 * np.sin(3 * marks), atol=1e-15)
assert np.allclose(arrows[:, 1], 2 * np.cos(2 * marks), atol=1e-15)

fig, ax = plt.subplots(figsize=(5.46, 4.42))
ax.plot(path[:, 0], path[:, 1], color="0.6", lw=1)
ax.quiver(points[:, 0], points[:, 1], arrows[:, 0], arrows[:, 1], color="C3", angles="xy", scale_units="xy", scale=8)
ax.plot(points[:, 0], points[:, 1], "o", color="C0", ms=3)
ax.set_aspect("equal")
ax.set_title("curve(t) and dd.derivative(curve)(t) (arrows, scaled 1/8)")
ax.set_xlim(-1.6, 1.6)
ax.set_ylim(-1.4, 1.4)
show(fig)

# %% [markdown]
# ### Exact, not approximate
#
# A finite difference $(f(x+h) - f(x))/h$ has to pick a step $h$: too large
# and the truncation error dominates, too small and rounding does. The dual
# number has no step. Here is the error of each against the derivative of
# $f(x) = e^{\sin x}$ at $x = 1$ computed by mpmath at 30 digits:


# %%
def h(x):
    return np.exp(np.sin(x))


mpmath.mp.dps = 30
exact = mpmath.diff(lambda t: mpmath.exp(mpmath.sin(t)), mpmath.mpf(1))
mpmath.mp.dps = 15

steps = 10.0 ** -np.arange(1, 16, 0.25)
forward_diff = [abs((h(1 + s) - h(1)) / s - float(exact)) / float(exact) for s in steps]
central_diff = [abs((h(1 + s) - h(1 - s)) / (2 * s) - float(exact)) / float(exact) for s in steps]
dual_error = abs(dd.derivative(h)(1.0) - float(exact)) / float(exact)
print(f"relative error of dd.derivative: {dual_error:.1e}")
print(f"best forward difference: {min(forward_diff):.1e}, best central difference: {min(central_diff):.1e}")
assert dual_error < 4 * np.finfo(float).eps
assert dual_error < min(central_diff) < min(forward_diff)

fig, ax = plt.subplots(figsize=(6.5, 3.9))
ax.loglog(steps, forward_diff, ".-", label="forward difference", ms=3)
ax.loglog(steps, central_diff, ".-", label="central difference", ms=3)
ax.axhline(max(dual_error, 1e-17), color="C3", lw=2, label="dual number (no step)")
ax.set_xlabel("step h")
ax.set_ylabel("relative error of f'(1)")
ax.invert_xaxis()
ax.set_ylim(1e-17, 1)
ax.legend(fontsize=10, loc="lower right", bbox_to_anchor=(1.0, 0.14))
ax.set_title("f(x) = exp(sin x): finite differences against a dual number")
show(fig)

# %% [markdown]
# The best a finite difference can do is about 8 digits (forward) or 11
# (central), at a step you would have to know in advance; the dual number is
# right to the last bit or two of float64, whatever $x$ is.
#
# ## 4. Derivatives of derivatives
#
# `dd.derivative` returns an ordinary function, so it can be differentiated
# again. Each call takes a fresh *level*: the inner Duals are Duals of Duals,
# $a + b\,\varepsilon_1 + c\,\varepsilon_2 + d\,\varepsilon_1\varepsilon_2$, and
# values of other levels are constants to it. The derivatives of $\sin$ cycle
# through $\cos, -\sin, -\cos, \sin$:

# %%
rows = ["| order k | k-th derivative of sin at 0.3 | expected | formula |", "|---:|---:|---:|:---|"]
expected = [math.sin, math.cos, lambda t: -math.sin(t), lambda t: -math.cos(t)]
names = ["sin", "cos", "-sin", "-cos"]
fk = dd.sin
for k in range(7):
    value = fk(0.3)
    want = expected[k % 4](0.3)
    assert value == want, (k, value, want)
    rows.append(f"| {k} | {value!r} | {want!r} | {names[k % 4]}(0.3) |")
    fk = dd.derivative(fk)
display(Markdown("\n".join(rows)))

# %% [markdown]
# Nesting also gives Taylor coefficients, $f^{(k)}(0)/k!$. For
# $f(x) = e^{\sin x}$, compared with `mpmath.taylor`:


# %%
def expsin(x):
    return dd.exp(dd.sin(x))


coefficients, fk = [], expsin
for k in range(6):
    coefficients.append(fk(0.0) / math.factorial(k))
    fk = dd.derivative(fk)
reference = mpmath.taylor(lambda t: mpmath.exp(mpmath.sin(t)), 0, 5)
print("dualdiff:", coefficients)
print("mpmath:  ", [float(c) for c in reference])
assert np.allclose(coefficients, [float(c) for c in reference], rtol=1e-14, atol=1e-15)

# %% [markdown]
# Levels keep the derivatives apart. In
# $\frac{d}{dx}\bigl[x \cdot \frac{d}{dy}(x + y)\big|_{y=1}\bigr]$ the inner
# derivative is 1 whatever $x$ is, so the answer is 1. An implementation
# without levels confuses the inner and outer $\varepsilon$ ("perturbation
# confusion") and answers 2:

# %%
answer = dd.derivative(lambda x: x * dd.derivative(lambda y: x + y)(1.0))(1.0)
print("d/dx [x * d/dy (x + y)] =", answer)
assert answer == 1.0

# %% [markdown]
# `dd.jvp` over a whole grid at once gives the derivative at every grid point
# when `f` acts elementwise (the seed `v = 1` everywhere), and nesting it gives
# the second derivative:

# %%
xs = np.linspace(0, 2 * np.pi, 200)
ones = np.ones_like(xs)
f0, f1 = dd.jvp(h, xs, ones)


def h_prime(x):
    return dd.jvp(h, x, np.ones_like(x))[1]


f2 = dd.jvp(h_prime, xs, ones)[1]
assert np.allclose(f1, np.cos(xs) * np.exp(np.sin(xs)), rtol=1e-14, atol=1e-15)
assert np.allclose(f2, (np.cos(xs) ** 2 - np.sin(xs)) * np.exp(np.sin(xs)), rtol=1e-13, atol=1e-14)

fig, ax = plt.subplots(figsize=(6.5, 3.64))
ax.plot(xs, f0, label="f(x) = exp(sin x)")
ax.plot(xs, f1, label="f'(x)")
ax.plot(xs, f2, label="f''(x)")
ax.axhline(0, color="0.7", lw=0.8)
ax.set_xlabel("x")
ax.legend(fontsize=10)
ax.set_title("f and its first two derivatives, by nested jvp")
show(fig)

# %% [markdown]
# ## 5. Fifty digits with mpmath
#
# dualdiff's rules are written once against a generic math namespace, so the
# same code runs on mpmath numbers at any precision. Set `mpmath.mp.dps` and pass
# an `mpf`: the derivative comes back as an `mpf` with every digit right.
# `mpmath.diff` (numerical differentiation at extra precision) is the
# independent check.

# %%
mpmath.mp.dps = 50
x50 = mpmath.mpf(1)
ours = dd.derivative(expsin)(x50)
theirs = mpmath.diff(lambda t: mpmath.exp(mpmath.sin(t)), x50)
closed_form = mpmath.cos(x50) * mpmath.exp(mpmath.sin(x50))
print("dd.derivative:", ours)
print("mpmath.diff:  ", theirs)
print("cos·exp(sin): ", closed_form)
print("type:", type(ours).__name__, "| difference:", mpmath.nstr(abs(ours - theirs), 3))
assert isinstance(ours, mpmath.mpf)
assert abs(ours - theirs) < mpmath.mpf(10) ** -48
assert abs(ours - closed_form) < mpmath.mpf(10) ** -48

third = dd.derivative(dd.derivative(dd.derivative(expsin)))(x50)
third_ref = mpmath.diff(lambda t: mpmath.exp(mpmath.sin(t)), x50, 3)
print("\nthird derivative, dualdiff:", third)
print("third derivative, mpmath:  ", third_ref)
assert abs(third - third_ref) < mpmath.mpf(10) ** -45
mpmath.mp.dps = 15  # back to the default

# %% [markdown]
# ## 6. When something is wrong, you are told
#
# dualdiff never drops a derivative silently and checks its arguments early.
# Each cell below makes a typical mistake; the error is caught and printed
# (with the fix) so the notebook keeps running.


# %%
def expect(error, action):
    """Run action(), which must raise `error`; print the message (and its cause)."""
    try:
        action()
    except error as e:
        print(f"{type(e).__name__}: {e}")
        if e.__cause__ is not None:
            print(f"  caused by {type(e.__cause__).__name__}: {e.__cause__}")
        return
    raise AssertionError(f"expected {error!r}, nothing was raised")


d = dd.Dual(2.0, 1.0)
expect(TypeError, lambda: float(d))
expect(TypeError, lambda: math.sin(d))  # math.sin converts its argument to float first
print("fix: np.sin(d) =", np.sin(d), "(or dd.sin(d)); the value alone is d.primal =", d.primal)

# %% [markdown]
# The same holds inside a transform, where the Duals are hidden: the message
# names the culprit.

# %%
expect(TypeError, lambda: dd.derivative(lambda x: math.exp(x) * x)(1.0))
print("fix:", dd.derivative(lambda x: np.exp(x) * x)(1.0), "== 2e =", 2 * math.e)

# %% [markdown]
# Storing a Dual into a float array would drop its tangent, so NumPy refuses
# (NumPy reports it as a `ValueError`; the cause is dualdiff's `TypeError`).
# Build arrays from the values instead, e.g. with `np.stack`:


# %%
def bad(x):
    out = np.zeros(2)
    out[0] = x**2
    out[1] = np.sin(x)
    return out


def good(x):
    return np.stack([x**2, np.sin(x)])


expect((TypeError, ValueError), lambda: dd.derivative(bad)(1.0))
print("fix:", dd.derivative(good)(1.0))

# %% [markdown]
# Shapes are checked before `f` runs: the direction `v` must be shaped like `x`.

# %%
expect(ValueError, lambda: dd.jvp(f, np.ones(2), np.ones(3)))
expect(ValueError, lambda: dd.jvp(g, (2.0, np.ones(3)), (1.0,)))
expect(ValueError, lambda: dd.derivative(np.sin)(np.ones(3)))
expect(ValueError, lambda: dd.grad(lambda x: 2 * x)(np.ones(3)))
expect(TypeError, lambda: dd.jvp(np.sin, "1.0", 1.0))

# %% [markdown]
# Outside a function's real domain you get `dd.DomainError` (a `ValueError`),
# and a NumPy function without a derivative rule raises `dd.NoRuleError`
# naming it, rather than a wrong answer:

# %%
expect(dd.DomainError, lambda: dd.log(-1.0))
expect(dd.DomainError, lambda: dd.derivative(np.sqrt)(-4.0))
expect(dd.NoRuleError, lambda: dd.grad(lambda x: np.sum(np.fft.fft(x).real))(np.ones(4)))
print("on the boundary, the IEEE limit: sqrt'(0) =", dd.derivative(np.sqrt)(0.0))

# %% [markdown]
# **Next:** [02_worked_tangent_tables.ipynb](02_worked_tangent_tables.ipynb)
# writes out every intermediate value and derivative of a computation as the
# textbooks do, in forward and in reverse mode.
