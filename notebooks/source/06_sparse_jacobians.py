# Source of notebooks/06_sparse_jacobians.ipynb: edit here, then run `python notebooks/_build.py 06`.

# %% [markdown]
# # Sparse Jacobians: the Bratu problem on a 500 × 500 grid
#
# Forward mode pays one pass per input direction, reverse mode one sweep per
# output. When the Jacobian is sparse there is a third answer (Curtis, Powell
# & Reid; Griewank & Walther, ch. 8): **columns that never share a row can
# share a pass**. dualdiff does it in three steps, all from the NumPy code of
# $F$ as written:
#
# 1. `dd.jacobian_sparsity(F, u)` records $F$'s program once and reads from
#    it which inputs each output depends on (exact for the branches taken);
# 2. `dd.coloring(S)` colors the columns so that columns of one color never
#    share a row;
# 3. `dd.jacfwd(F, sparsity=S)` pushes one direction per color (the sum of
#    its columns) and reads each column back from its own rows: a
#    `scipy.sparse` matrix, exact, in a handful of passes instead of $n$.
#
# The example: the 2-D Bratu problem $\Delta u + \lambda e^u = 0$ on the unit
# square, $u = 0$ on the boundary, with the 5-point Laplacian on an
# $N \times N$ interior grid, solved by Newton's method with the sparse
# Jacobian and `scipy.sparse.linalg.spsolve`, at $N = 500$: $n = 250{,}000$
# unknowns, a Jacobian with $6.25 \cdot 10^{10}$ entries of which $1.25 \cdot 10^6$
# can be nonzero.

# %%
import io
import time

import matplotlib.pyplot as plt
import numpy as np
import scipy
import scipy.sparse.linalg as spla
from IPython.display import Image, Markdown, display

import dualdiff as dd

plt.rcParams.update({"figure.dpi": 90, "font.size": 9})


def show(fig):
    """Display a matplotlib figure as a small PNG (and close it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    display(Image(buf.getvalue()))


print("dualdiff", dd.__version__, "| numpy", np.__version__, "| scipy", scipy.__version__)

# %% [markdown]
# ## The residual, in plain NumPy
#
# Padding with the zero boundary and four shifted slices: the usual way to
# write a stencil. Nothing here is written for dualdiff.

# %%
LAM = 6.0  # below the turning point lambda* = 6.808...: two solutions; Newton from 0 finds the lower one


def bratu(u):
    N = u.shape[0]
    h = 1.0 / (N + 1)
    z = np.zeros((1, N))
    up = np.concatenate([z, u, z], axis=0)
    zc = np.zeros((N + 2, 1))
    up = np.concatenate([zc, up, zc], axis=1)
    lap = (up[:-2, 1:-1] + up[2:, 1:-1] + up[1:-1, :-2] + up[1:-1, 2:] - 4 * u) / h**2
    return lap + LAM * np.exp(u)


# %% [markdown]
# ## The pattern and its coloring, on a small grid
#
# On a 6 × 6 grid the pattern is readable: output $(i, j)$ depends on
# $u_{i,j}$ and its four neighbours. The greedy coloring needs 6 colors here
# and 7 on large grids (every row holds 5 nonzeros, so no coloring has fewer
# than 5): a fixed handful of directions, whatever $N$.

# %%
small = np.full((6, 6), 0.1)
S_small = dd.jacobian_sparsity(bratu, small)
col = dd.coloring(S_small, mode="column")
print(col)
J_small = dd.jacfwd(bratu, sparsity=S_small)(small)
dense = dd.jacfwd(bratu)(small).reshape(36, 36)
assert np.array_equal(J_small.toarray(), dense)  # compressed == dense, exactly
assert np.array_equal(S_small.toarray(), dense != 0)  # the detected pattern is the true one
assert col.is_valid_for(S_small)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.5, 3.6))
ax1.spy(S_small, markersize=3)
ax1.set_title(f"pattern of J: {S_small.shape[0]} x {S_small.shape[1]}, {S_small.nnz} nonzeros")
im = ax2.imshow(col.colors.reshape(6, 6), cmap="tab10", vmin=0, vmax=9)
for (i, j), c in np.ndenumerate(col.colors.reshape(6, 6)):
    ax2.text(j, i, str(c), ha="center", va="center", fontsize=8, color="white")
ax2.set_title(f"column colors on the grid ({col.ncolors} colors)")
ax2.set_xticks([])
ax2.set_yticks([])
show(fig)

# %% [markdown]
# ## The full problem: N = 500, n = 250,000
#
# `dd.jacfwd(F, sparsity="auto")` detects the pattern and colors it on its
# first call, and keeps both for later calls with inputs of the same shape
# (it checks again only if $F$'s program has branches). Each Jacobian after
# that is one forward pass of 7 directions.
#
# The Jacobian is known by hand here, $-4/h^2 + \lambda e^{u_{ij}}$ on the
# diagonal and $1/h^2$ for each neighbour, so we can check it to the last bit.

# %%
N = 500
n = N * N
u0 = np.zeros((N, N))

t0 = time.perf_counter()
S = dd.jacobian_sparsity(bratu, u0)
t_detect = time.perf_counter() - t0
t0 = time.perf_counter()
colors = dd.coloring(S, mode="column")
t_color = time.perf_counter() - t0
J = dd.jacfwd(bratu, sparsity=S)
J(u0)  # colors once
t0 = time.perf_counter()
J0 = J(u0)
t_jac = time.perf_counter() - t0

h2 = (1.0 / (N + 1)) ** 2
by_hand = scipy.sparse.diags_array(
    [
        np.full(n - N, 1 / h2),
        np.full(n - 1, 1 / h2),
        np.full(n, -4 / h2 + LAM),
        np.full(n - 1, 1 / h2),
        np.full(n - N, 1 / h2),
    ],
    offsets=[-N, -1, 0, 1, N],
    format="lil",
)
for k in range(N, n, N):  # no neighbour across the end of a grid row
    by_hand[k, k - 1] = by_hand[k - 1, k] = 0
by_hand = by_hand.tocsr()
by_hand.eliminate_zeros()
assert abs(J0 - by_hand).max() == 0  # exact
assert S.nnz == by_hand.nnz

display(
    Markdown(
        "| step | result | seconds |\n|:---|:---|---:|\n"
        f"| detect the pattern | {S.shape[0]:,} x {S.shape[1]:,}, {S.nnz:,} nonzeros | {t_detect:.2f} |\n"
        f"| color its columns | {colors.ncolors} colors | {t_color:.2f} |\n"
        f"| one Jacobian | CSR, equal to the hand-written one | {t_jac:.2f} |\n"
        f"| (dense forward mode would need) | {n:,} directions, a {n:,} x {n:,} array | — |"
    )
)

# %% [markdown]
# ## Newton's method
#
# $u_{k+1} = u_k - J(u_k)^{-1} F(u_k)$, each step one compressed Jacobian and
# one sparse direct solve. With an exact Jacobian the residual falls
# quadratically.

# %%
u = u0.copy()
residuals = [np.linalg.norm(bratu(u))]
t_jacobians = t_solves = 0.0
for _ in range(12):
    t0 = time.perf_counter()
    Jk = J(u)
    t1 = time.perf_counter()
    du = spla.spsolve(Jk.tocsc(), -bratu(u).ravel())
    t_jacobians += t1 - t0
    t_solves += time.perf_counter() - t1
    u = u + du.reshape(N, N)
    residuals.append(np.linalg.norm(bratu(u)))
    if residuals[-1] < 1e-9 * residuals[0]:
        break

print(f"{len(residuals) - 1} Newton steps; Jacobians {t_jacobians:.2f} s, sparse solves {t_solves:.2f} s")
print("residual norms:", " ".join(f"{r:.2e}" for r in residuals))
assert residuals[-1] < 1e-9 * residuals[0]
assert residuals[-1] < 1e-3 * residuals[-2] or residuals[-2] < 1e-6 * residuals[0]  # quadratic at the end
print(f"max u = {u.max():.6f} at the centre")

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
ax1.semilogy(range(len(residuals)), residuals, "o-", ms=4)
ax1.set_xlabel("Newton step k")
ax1.set_ylabel("‖F(u_k)‖")
ax1.set_title(f"convergence, n = {n:,}")
ax1.set_xticks(range(len(residuals)))
im = ax2.imshow(u, cmap="viridis", extent=(0, 1, 0, 1))
fig.colorbar(im, ax=ax2, shrink=0.8)
ax2.set_title(f"the solution u (lambda = {LAM:g})")
show(fig)

# %% [markdown]
# ## The other way round, and at scale
#
# * **Reverse mode** colors rows instead: `dd.jacrev(F, sparsity=S)`, and
#   `dd.jacobian(F, sparsity="auto")` colors both ways and takes the cheaper
#   under the cost model (here forward: the same 7 colors, and a forward pass
#   costs less than a recording and a sweep). A dense row (an output that
#   sums everything) ruins column coloring but not row coloring; a dense row
#   *and* a dense column (an arrowhead) ruin both.
# * **Many machines**: the passes are independent. With
#   `executor=client.get_executor()` (dask.distributed) or any
#   `concurrent.futures.Executor`, each chunk of directions becomes a task;
#   the result is assembled in order, and a failed task raises rather than
#   return a partial Jacobian.

# %%
choice = dd.choose_mode(bratu, np.full((40, 40), 0.1), sparsity="auto", explain=True)
print(choice)
assert choice.mode == "forward"
