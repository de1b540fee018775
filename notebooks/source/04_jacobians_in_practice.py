# Source of notebooks/04_jacobians_in_practice.ipynb: edit here, then run `python notebooks/_build.py 04`.

# %% [markdown]
# # Jacobians in practice
#
# Three everyday uses of derivatives, each on plain NumPy code with no
# hand-written derivative anywhere:
#
# 1. **Newton's method** for a nonlinear system $F(x) = 0$, with the Jacobian
#    from `dd.jacfwd`;
# 2. **SciPy's optimizers** fed `dd.grad`, `dd.hvp` and `dd.hessian` on the
#    Rosenbrock function;
# 3. **a small neural network** ($\tanh$ hidden layer, mean squared error)
#    trained by gradient descent with `dd.value_and_grad`.
#
# Every derivative is checked against an independent one (a hand-derived
# formula, SciPy's own Rosenbrock derivatives, finite differences) before
# it is used.

# %%
import io
import time

import matplotlib.pyplot as plt
from PIL import Image as PILImage
import numpy as np
import scipy
from IPython.display import Image, Markdown, display
from scipy import optimize

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


print("dualdiff", dd.__version__, "| numpy", np.__version__, "| scipy", scipy.__version__)

# %% [markdown]
# ## 1. Newton's method on a nonlinear system
#
# Where does the circle $x^2 + y^2 = 4$ meet the curve $y = 1 - e^x$? Solve
# $F(x, y) = (x^2 + y^2 - 4,\; e^x + y - 1) = 0$ by Newton's method,
# $z_{k+1} = z_k - J_F(z_k)^{-1} F(z_k)$. `dd.jacfwd(F)` is the Jacobian as a
# function; here $n = m = 2$, one forward pass carrying both directions.


# %%
def F(z):
    x, y = z
    return np.stack([x**2 + y**2 - 4, np.exp(x) + y - 1])


J = dd.jacfwd(F)

z = np.array([1.0, -1.0])
by_hand = np.array([[2 * z[0], 2 * z[1]], [np.exp(z[0]), 1.0]])
print("jacfwd(F)(1, -1) =\n", J(z))
assert np.allclose(J(z), by_hand, rtol=1e-15, atol=0)


def newton(F, J, z, tol=1e-14, max_steps=20):
    """Newton's method; returns the iterates and the residual norms."""
    path, residuals = [z], [np.linalg.norm(F(z))]
    for _ in range(max_steps):
        z = z - np.linalg.solve(J(z), F(z))
        path.append(z)
        residuals.append(np.linalg.norm(F(z)))
        if residuals[-1] < tol:
            break
    return np.array(path), residuals


rows = ["| start | step k | x | y | ‖F(z_k)‖ |", "|:---|---:|---:|---:|---:|"]
solutions, histories = [], []
for start in [np.array([1.0, -1.0]), np.array([-1.0, 1.0])]:
    path, residuals = newton(F, J, start)
    solutions.append(path[-1])
    histories.append((start, path, residuals))
    for k, (zk, r) in enumerate(zip(path, residuals)):
        rows.append(f"| ({start[0]:g}, {start[1]:g}) | {k} | {zk[0]:.16f} | {zk[1]:.16f} | {r:.2e} |")
display(Markdown("\n".join(rows)))

# check against SciPy's root finder (given the same Jacobian) and the equations themselves
for z in solutions:
    reference = optimize.root(F, z + 0.1, jac=J, tol=1e-14).x
    assert np.allclose(z, reference, rtol=0, atol=1e-13)
    assert abs(z[0] ** 2 + z[1] ** 2 - 4) < 1e-14 and abs(np.exp(z[0]) + z[1] - 1) < 1e-14
print("solutions:", [np.round(z, 12).tolist() for z in solutions])

# %% [markdown]
# The number of correct digits roughly doubles with each step (quadratic
# convergence), which needs an exact Jacobian: with a finite-difference one
# the last steps stall at its error.

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11.7, 4.42))
t = np.linspace(0, 2 * np.pi, 300)
ax1.plot(2 * np.cos(t), 2 * np.sin(t), color="0.5", lw=1, label="x² + y² = 4")
xs = np.linspace(-2.5, 1.3, 200)
ax1.plot(xs, 1 - np.exp(xs), color="0.2", lw=1, ls="--", label="y = 1 - eˣ")
for (start, path, residuals), colour in zip(histories, ["C0", "C3"]):
    ax1.plot(path[:, 0], path[:, 1], "o-", color=colour, ms=3, lw=1, label=f"Newton from ({start[0]:g}, {start[1]:g})")
    ax2.semilogy(range(len(residuals)), np.maximum(residuals, 1e-17), "o-", color=colour, ms=4)
ax1.set_aspect("equal")
ax1.set_xlim(-2.6, 2.6)
ax1.set_ylim(-2.6, 2.6)
ax1.legend(fontsize=9, loc="lower left")
ax1.set_title("iterates")
ax2.set_xlabel("Newton step k")
ax2.set_ylabel("‖F(z_k)‖")
ax2.set_title("residual: quadratic convergence")
ax2.set_xticks(range(max(len(h[2]) for h in histories)))
show(fig)

# %% [markdown]
# ### A bigger system: the Bratu problem
#
# The boundary value problem $u'' + \lambda e^u = 0$ on $[0, 1]$ with
# $u(0) = u(1) = 0$, discretized on $N = 50$ interior points:
# $F_i(u) = (u_{i-1} - 2u_i + u_{i+1})/h^2 + \lambda e^{u_i}$. The code for $F$ is
# ordinary NumPy; `jacfwd` finds its $50 \times 50$ tridiagonal Jacobian in one
# pass of 50 directions.

# %%
N, LAM = 50, 1.0
h = 1.0 / (N + 1)


def bratu(u):
    left = np.concatenate([[0.0], u[:-1]])
    right = np.concatenate([u[1:], [0.0]])
    return (left - 2 * u + right) / h**2 + LAM * np.exp(u)


u0 = np.zeros(N)
J_bratu = dd.jacfwd(bratu)
tridiagonal = (np.diag(-2 * np.ones(N)) + np.diag(np.ones(N - 1), 1) + np.diag(np.ones(N - 1), -1)) / h**2
assert np.allclose(J_bratu(u0), tridiagonal + LAM * np.eye(N), rtol=1e-15, atol=0)

start = time.perf_counter()
path, residuals = newton(bratu, J_bratu, u0, tol=1e-10)
seconds = time.perf_counter() - start
u = path[-1]
print(f"{len(residuals) - 1} Newton steps in {seconds * 1e3:.0f} ms")
print("residuals:", ", ".join(f"{r:.1e}" for r in residuals))
print(f"max u = {u.max():.10f}")
assert residuals[-1] < 1e-10 and len(residuals) <= 6
# the exact solution is u(x) = -2 ln(cosh((x - 1/2) θ/2) / cosh(θ/4)) with θ = sqrt(2 λ) cosh(θ/4)
theta = optimize.brentq(lambda s: s - np.sqrt(2 * LAM) * np.cosh(s / 4), 0, 3)
grid = np.linspace(h, 1 - h, N)
exact = -2 * np.log(np.cosh((grid - 0.5) * theta / 2) / np.cosh(theta / 4))
print(f"largest difference from the exact solution: {np.abs(u - exact).max():.1e} (the O(h²) discretization error)")
assert np.abs(u - exact).max() < 1e-4

fig, ax = plt.subplots(figsize=(5.85, 3.38))
fine = np.linspace(0, 1, 200)
ax.plot(fine, -2 * np.log(np.cosh((fine - 0.5) * theta / 2) / np.cosh(theta / 4)), color="0.6", label="exact")
ax.plot(grid, u, "o", ms=3, color="C0", label=f"Newton + jacfwd, N = {N}")
ax.set_xlabel("x")
ax.set_ylabel("u(x)")
ax.set_title("Bratu problem, λ = 1")
ax.legend(fontsize=10)
show(fig)

# %% [markdown]
# ## 2. SciPy's optimizers with dualdiff derivatives
#
# `scipy.optimize.minimize` takes the gradient as `jac=` and, for
# Newton-type methods, either the Hessian as `hess=` or Hessian-vector
# products as `hessp=`. dualdiff supplies all three from the plain function:
#
# * `dd.grad(f)`: one reverse sweep;
# * `dd.hvp(f, x, p)`: $H(x)\,p$ by forward mode over reverse mode, without
#   ever forming $H$;
# * `dd.hessian(f)`: the whole $H$, $n$ such products at once.
#
# First, they agree with SciPy's own hand-coded Rosenbrock derivatives:


# %%
def rosenbrock(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


x0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2, 0.5, -0.3, 1.1, 0.9, 1.4])
p = np.linspace(-1, 1, 10)
checks = {
    "grad": (dd.grad(rosenbrock)(x0), optimize.rosen_der(x0)),
    "hvp": (dd.hvp(rosenbrock, x0, p), optimize.rosen_hess_prod(x0, p)),
    "hessian": (dd.hessian(rosenbrock)(x0), optimize.rosen_hess(x0)),
}
for name, (ours, scipys) in checks.items():
    err = np.abs(ours - scipys).max() / np.abs(scipys).max()
    print(f"{name:8s} largest relative difference from scipy.optimize: {err:.1e}")
    assert err < 1e-14
assert rosenbrock(x0) == optimize.rosen(x0)

# %% [markdown]
# Then the minimization, from the same start, four ways:


# %%
def hessp(x, p):
    return dd.hvp(rosenbrock, x, p)


runs = [
    ("Newton-CG", "grad + hvp", {"jac": dd.grad(rosenbrock), "hessp": hessp, "options": {"xtol": 1e-10}}),
    ("trust-exact", "grad + hessian", {"jac": dd.grad(rosenbrock), "hess": dd.hessian(rosenbrock)}),
    ("BFGS", "grad", {"jac": dd.grad(rosenbrock)}),
    ("BFGS", "none (finite differences)", {}),
]
rows = [
    "| method | derivatives | iterations | f evaluations | gradient evaluations | Hessian(-vector) evaluations "
    "| max abs(x - 1) | time | success |",
    "|:---|:---|---:|---:|---:|---:|---:|---:|:---|",
]
curves = []
for method, given, kwargs in runs:
    values = [rosenbrock(x0)]
    start = time.perf_counter()
    res = optimize.minimize(rosenbrock, x0, method=method, callback=lambda xk: values.append(rosenbrock(xk)), **kwargs)
    seconds = time.perf_counter() - start
    error = np.abs(res.x - 1).max()
    curves.append((f"{method}, {given}", values))
    rows.append(
        f"| {method} | {given} | {res.nit} | {res.nfev} | {res.get('njev', '-')} | {res.get('nhev', '-')}"
        f" | {error:.1e} | {seconds * 1e3:.0f} ms | {res.success} |"
    )
    if kwargs:  # every run given dualdiff's derivatives converges to the minimum
        assert res.success and error < 1e-4, (method, res.message)
    else:
        print(f"BFGS with finite differences: {res.message}")
display(Markdown("\n".join(rows)))

fig, ax = plt.subplots(figsize=(7.15, 3.9))
for (label, values), style in zip(curves, ["o-", "s-", "^-", "v--"]):
    ax.semilogy(range(len(values)), np.maximum(values, 1e-20), style, ms=3, lw=1, label=label)  # 0 drawn at 1e-20
ax.set_xlabel("iteration")
ax.set_ylabel("f(x_k)")
ax.set_ylim(1e-20, 1e4)
ax.set_title("minimizing the 10-dimensional Rosenbrock function")
ax.legend(fontsize=10)
show(fig)

# %% [markdown]
# With exact derivatives the Newton methods converge in a few dozen
# iterations to the minimum at $(1, \dots, 1)$. BFGS without a gradient spends
# most of its function evaluations on finite differences ($n + 1$ per
# gradient) and stops at a less accurate point, where the noise of its
# difference quotients keeps the line search from making progress.
#
# ## 3. Training a small network with `dd.grad`
#
# A one-hidden-layer network $\hat y = \tanh(X W_1 + b_1)\, W_2$ fitted to
# $y = \sin(2x)\, e^{-x^2/4}$ on 64 points, by mean squared error. The model
# and the loss are plain NumPy; the parameters are a tuple of arrays, and
# `dd.value_and_grad(loss)` returns the loss and a tuple of gradients shaped
# like them, from one reverse sweep.

# %%
rng = np.random.default_rng(1)
X = np.linspace(-2, 2, 64).reshape(-1, 1)
Y = np.sin(2 * X) * np.exp(-(X**2) / 4)
HIDDEN = 16


def predict(params, X):
    W1, b1, W2 = params
    return np.tanh(X @ W1 + b1) @ W2


def loss(params):
    return np.mean((predict(params, X) - Y) ** 2)


params = (rng.normal(size=(1, HIDDEN)), 0.5 * rng.normal(size=HIDDEN), rng.normal(size=(HIDDEN, 1)) / np.sqrt(HIDDEN))
value, grads = dd.value_and_grad(loss)(params)
print("loss at the start:", value)
print("gradient shapes:", [g.shape for g in grads], "= parameter shapes:", [a.shape for a in params])

# %% [markdown]
# Before training on it, check the gradient twice: against forward mode
# (`dd.jacfwd`, a different algorithm on the same rules: one direction per
# parameter, all in one pass) and against central finite differences on a
# few parameters.

# %%
forward = dd.jacfwd(loss)(params)
mode_diff = max(np.abs(g - f).max() for g, f in zip(grads, forward))
print(f"reverse against forward mode: largest difference {mode_diff:.1e}")
assert mode_diff < 1e-14

step = 1e-6
fd_errors = []
for which, index in [(0, (0, 3)), (1, (5,)), (2, (7, 0)), (2, (15, 0))]:
    bumped = [a.copy() for a in params]
    bumped[which][index] += step
    up = loss(tuple(bumped))
    bumped[which][index] -= 2 * step
    down = loss(tuple(bumped))
    fd = (up - down) / (2 * step)
    fd_errors.append(abs(fd - grads[which][index]) / max(abs(fd), 1e-3))
print("reverse mode against central differences, relative:", ", ".join(f"{e:.1e}" for e in fd_errors))
assert max(fd_errors) < 1e-7

# %% [markdown]
# Training: Adam, written out in NumPy, with a slowly decaying step size;
# 3000 steps.


# %%
def adam(value_and_grad, params, steps, lr=0.02, decay=1000, beta1=0.9, beta2=0.999, eps=1e-8):
    """Minimize with Adam (step size lr / (1 + k / decay)); return the parameters and the loss at every step."""
    params = [a.copy() for a in params]
    m = [np.zeros_like(a) for a in params]
    v = [np.zeros_like(a) for a in params]
    history = []
    for k in range(1, steps + 1):
        value, grads = value_and_grad(tuple(params))
        history.append(value)
        for i, g in enumerate(grads):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g**2
            params[i] -= lr / (1 + k / decay) * (m[i] / (1 - beta1**k)) / (np.sqrt(v[i] / (1 - beta2**k)) + eps)
    return tuple(params), history


start = time.perf_counter()
trained, history = adam(dd.value_and_grad(loss), params, steps=3000)
seconds = time.perf_counter() - start
print(f"3000 steps in {seconds:.2f} s ({seconds / 3000 * 1e6:.0f} µs per value_and_grad + update)")
print(f"loss: {history[0]:.3g} -> {history[-1]:.3g}")
assert history[-1] < 1e-3 and history[-1] < history[0] / 100

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11.7, 4.16))
ax1.semilogy(history, lw=1)
ax1.set_xlabel("step")
ax1.set_ylabel("mean squared error")
ax1.set_title("training loss")
ax2.plot(X, Y, "o", ms=3, color="0.5", label="data")
ax2.plot(X, predict(params, X), color="C1", lw=1, ls="--", label="network at the start")
ax2.plot(X, predict(trained, X), color="C0", lw=1.5, label="network after training")
ax2.set_xlabel("x")
ax2.legend(fontsize=10)
ax2.set_title(f"tanh network, {HIDDEN} hidden units")
show(fig)

# %% [markdown]
# ## Which mode for which job
#
# | job | shape | mode used above |
# |:---|:---|:---|
# | Newton's method | $F:\mathbb{R}^n \to \mathbb{R}^n$ | forward (`jacfwd`), one pass of $n$ directions |
# | gradient for an optimizer | $f:\mathbb{R}^n \to \mathbb{R}$ | reverse (`grad`), one sweep |
# | Hessian-vector product | $\nabla f:\mathbb{R}^n \to \mathbb{R}^n$ along one $p$ | forward over reverse (`hvp`) |
# | training a network | loss of many parameters $\to \mathbb{R}$ | reverse (`value_and_grad`) |
#
# `dd.jacobian(f, mode="auto")` makes the forward/reverse choice from the
# cost model (see [03_forward_vs_reverse_cost.ipynb](03_forward_vs_reverse_cost.ipynb)):

# %%
for name, f, x in [("F (Newton)", F, np.array([1.0, -1.0])), ("rosenbrock", rosenbrock, x0), ("loss", loss, params)]:
    print(f"{name:12s} -> {dd.choose_mode(f, x)}")
assert dd.choose_mode(rosenbrock, x0) == "reverse" and dd.choose_mode(loss, params) == "reverse"
