"""Sparse linear regression: duke-hw2 problems 3.1-3.6 == duke-hw4 Lab 1 (a)-(g).

Setting. Data points x_i in R^{1x5} (rows of X, shape (n, 5)) with targets y_i (y, shape (n,));
the weight W in R^{5x1} is held as a vector of shape (5,). The objective is the summed (not mean)
squared error and its gradient

    L(W) = sum_i (x_i W - y_i)^2,          dL/dW = 2 X^T (X W - y),

minimised by full-batch gradient descent from W^0 = 0 with learning rate mu:

    V^{k+1} = W^k - mu * dL/dW(W^k),       W^{k+1} = P(V^{k+1}),

where the post-step map P is the method:

    "gd"        P = identity                                              (3.1 / b)
    "prune"     keep the `keep` (=2) largest |v_j|, zero the rest:  ||W||_0 <= 2   (3.2 / c)
    "l1"        no P; the step itself is the subgradient step of L + lam ||W||_1:
                W^{k+1} = W^k - mu (dL/dW + lam sign(W^k)), sign(0) = `sign0`     (3.3 / d)
    "proximal"  soft thresholding S_t(v) = sign(v) max(|v| - t, 0), t = mu lam    (3.4 / e)
    "trimmed"   S_t applied only to the `n_trim` (=3) entries of smallest magnitude;
                the others pass unchanged (trimmed l1, T l1)                      (3.5 / f)

Three conventions the text leaves open are named parameters (NOTES.md): `trim_on`, which vector
the trimmed entries are chosen from: "after-step" (the n_trim smallest |v_j| of V^{k+1}, after
the gradient step) or "before-step" (the n_trim smallest |w_j| of W^k, before it, as in the
trimmed-l1 paper's algorithm, where the penalised set is fixed at the current iterate);
`sign0`, the value of sign(0) in the l1 subgradient (numpy's np.sign gives 0), and `ties`, which of several entries of
equal magnitude counts as "smaller" when choosing the entries to prune or to trim:
"lowest-index" (a stable ascending argsort of |v|: among equals the lower index is smaller) or
"highest-index" (among equals the higher index is smaller).

Histories: L has shape (steps + 1,) and W has shape (steps + 1, 5); row k belongs to W^k.
Problem 3.6 / (g) repeats everything on the first two data points only.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

#: Handout data: x_1 = [1, -2, -1, -1, 1], x_2 = [2, -1, 2, 0, -2], x_3 = [-1, 0, 2, 2, 1].
HANDOUT_X = ((1, -2, -1, -1, 1), (2, -1, 2, 0, -2), (-1, 0, 2, 2, 1))
#: Targets y_1 = -7, y_2 = -1, y_3 = -1.
HANDOUT_Y = (-7, -1, -1)

METHODS = ("gd", "prune", "l1", "proximal", "trimmed")
TIES = ("lowest-index", "highest-index")
TRIM_ON = ("after-step", "before-step")

#: Handout values; build_key(params) overrides any of them.
DEFAULT_PARAMS = {
    "X": HANDOUT_X,
    "y": HANDOUT_Y,
    "mu": 0.02,
    "steps": 200,
    "keep": 2,  # ||W||_0 <= 2
    "n_trim": 3,  # trimmed l1 penalises the 3 smallest entries
    "l1_lams": (0.2, 0.5, 1.0, 2.0),  # 3.3 / (d)
    "proximal_thresholds": (0.004, 0.01, 0.02, 0.04),  # 3.4 / (e): t = mu * lam
    "trimmed_thresholds": (0.02, 0.04, 0.1, 0.2),  # 3.5 / (f): lam = 1, 2, 5, 10
    "sign0_variants": (0.0, 1.0),
    "ties_variants": TIES,
    "trim_on_variants": TRIM_ON,
    "zero_tol": 1e-8,  # |w_j| <= zero_tol counts as zero when judging ||W||_0 <= keep
    "optimal_tol": 1e-6,  # L(W^200) - min_W L(W) <= optimal_tol counts as an optimal solution
    "two_point_rows": 2,  # 3.6 / (g): the first two data points
}


def loss(X: np.ndarray, y: np.ndarray, W: np.ndarray) -> float:
    """L(W) = sum_i (x_i W - y_i)^2 for X (n, d), y (n,), W (d,)."""
    r = X @ W - y
    return float(r @ r)


def grad(X: np.ndarray, y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """dL/dW = 2 X^T (X W - y), shape (d,)."""
    return 2.0 * X.T @ (X @ W - y)


def symbolic_update(n_points: int = 3, n_features: int = 5) -> sp.Matrix:
    """Lab (a): one full-batch GD step, as a (n_features x 1) sympy Matrix,

        W^{k+1} = W^k - mu * 2 * sum_i x_i^T (x_i W^k - y_i),

    with symbols mu, w1..w5 (entries of W^k), xi1..xi5 (row x_i), y1..y3.
    """
    mu = sp.Symbol("mu")
    W = sp.Matrix([sp.Symbol(f"w{j}") for j in range(1, n_features + 1)])
    total = sp.zeros(n_features, 1)
    for i in range(1, n_points + 1):
        x_i = sp.Matrix([[sp.Symbol(f"x{i}{j}") for j in range(1, n_features + 1)]])
        total += x_i.T * (x_i * W - sp.Matrix([sp.Symbol(f"y{i}")]))
    return W - mu * 2 * total


def soft_threshold(v: np.ndarray, t: float) -> np.ndarray:
    """S_t(v) = sign(v) max(|v| - t, 0), element-wise: the proximal operator of t ||.||_1."""
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def smallest(v: np.ndarray, k: int, ties: str = "lowest-index") -> np.ndarray:
    """Indices of the k entries of smallest |v|; `ties` decides among equal magnitudes."""
    if ties == "lowest-index":
        order = np.argsort(np.abs(v), kind="stable")
    elif ties == "highest-index":
        order = len(v) - 1 - np.argsort(np.abs(v[::-1]), kind="stable")
    else:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    return order[:k]


def run(
    method: str,
    X,
    y,
    *,
    steps: int = 200,
    mu: float = 0.02,
    lam: float | None = None,
    threshold: float | None = None,
    sign0: float = 0.0,
    ties: str = "lowest-index",
    trim_on: str = "after-step",
    keep: int = 2,
    n_trim: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Run `steps` steps of `method` (see the module docstring) from W^0 = 0.

    `lam` is required by "l1", `threshold` (t = mu lam) by "proximal" and "trimmed"; `ties`
    matters for "prune" and "trimmed", `trim_on` for "trimmed", `sign0` for "l1". Returns (L, W) with L (steps + 1,)
    holding L(W^k) and W (steps + 1, d) holding W^k, k = 0..steps.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "l1" and lam is None:
        raise ValueError("method 'l1' needs lam")
    if method in ("proximal", "trimmed") and threshold is None:
        raise ValueError(f"method {method!r} needs threshold")
    if trim_on not in TRIM_ON:
        raise ValueError(f"trim_on must be one of {TRIM_ON}, got {trim_on!r}")

    def step(w: np.ndarray) -> np.ndarray:
        if method == "l1":
            sign = np.where(w == 0, sign0, np.sign(w))
            return w - mu * (grad(X, y, w) + lam * sign)
        v = w - mu * grad(X, y, w)
        if method == "prune":
            v[smallest(v, len(v) - keep, ties)] = 0.0
        elif method == "proximal":
            v = soft_threshold(v, threshold)
        elif method == "trimmed":
            idx = smallest(v if trim_on == "after-step" else w, n_trim, ties)
            v[idx] = soft_threshold(v[idx], threshold)
        return v

    W = np.zeros((steps + 1, X.shape[1]))
    for k in range(steps):
        W[k + 1] = step(W[k])
    L = np.array([loss(X, y, w) for w in W])
    return L, W


def log_loss(L: np.ndarray) -> np.ndarray:
    """log L (natural log), the plotted quantity; an exact zero maps to log(tiny) ~ -708."""
    return np.log(np.maximum(L, np.finfo(float).tiny))


def min_loss(X: np.ndarray, y: np.ndarray) -> float:
    """min_W L(W) = ||(I - X X^+) y||^2, the least-squares residual (0 when X has full row
    rank, as both handout data sets do: the system X W = y is underdetermined)."""
    r = y - X @ (np.linalg.pinv(X) @ y)
    return float(r @ r)


def _entry(L: np.ndarray, W: np.ndarray, keep: int, zero_tol: float, L_min: float,
           optimal_tol: float) -> dict:
    nnz = int(np.sum(np.abs(W[-1]) > zero_tol))
    return {
        "L": L,
        "log_L": log_loss(L),
        "W": W,
        "W_final": W[-1],
        "L_final": float(L[-1]),
        "nnz_final": nnz,
        "sparse": nnz <= keep,
        "optimal": bool(L[-1] - L_min <= optimal_tol),
    }


def _label(x: float) -> str:
    return f"{x:g}"


def _lab(X: np.ndarray, y: np.ndarray, p: dict) -> dict:
    """Every method and every lambda / threshold / variant of the lab on one data set."""
    L_min = min_loss(X, y)

    def entry(method: str, **kw) -> dict:
        L, W = run(method, X, y, steps=p["steps"], mu=p["mu"], keep=p["keep"],
                   n_trim=p["n_trim"], **kw)
        return _entry(L, W, p["keep"], p["zero_tol"], L_min, p["optimal_tol"])

    return {
        "gd": entry("gd"),
        "prune": {f"ties={t}": entry("prune", ties=t) for t in p["ties_variants"]},
        "l1": {
            f"lam={_label(lam)}": {
                f"sign0={_label(s)}": entry("l1", lam=lam, sign0=s) for s in p["sign0_variants"]
            }
            for lam in p["l1_lams"]
        },
        "proximal": {
            f"t={_label(t)}": entry("proximal", threshold=t) for t in p["proximal_thresholds"]
        },
        "trimmed": {
            f"t={_label(t)}": {
                f"ties={v}, trim_on={on}": entry("trimmed", threshold=t, ties=v, trim_on=on)
                for v in p["ties_variants"] for on in p["trim_on_variants"]
            }
            for t in p["trimmed_thresholds"]
        },
    }


def build_key(params: dict | None = None) -> dict:
    """Every answer of the lab as a nested dict.

    {"symbolic_update": sympy Matrix (5 x 1),
     "three_point" | "two_point": {
        "gd": E,
        "prune": {"ties=<v>": E},
        "l1": {"lam=<lam>": {"sign0=<s>": E}},
        "proximal": {"t=<t>": E},
        "trimmed": {"t=<t>": {"ties=<v>, trim_on=<s>": E}}},
     "variant_changes": {"three_point" | "two_point": {"prune" | "l1" | "trimmed": bool}}}

    with E = {"L": (steps+1,), "log_L": (steps+1,), "W": (steps+1, 5), "W_final": (5,),
    "L_final": float, "nnz_final": int (|w_j| > zero_tol), "sparse": bool (nnz_final <= 2),
    "optimal": bool (L_final - min L <= optimal_tol)}: the yes/no answers of 3.1-3.2 / (b)-(c).
    Every variant is held even where it changes nothing; "variant_changes" says where the
    sign(0) / ties / trim_on choice alters any W history. `params` overrides DEFAULT_PARAMS.
    """
    unknown = set(params or ()) - set(DEFAULT_PARAMS)
    if unknown:
        raise KeyError(f"unknown params: {sorted(unknown)}")
    p = {**DEFAULT_PARAMS, **(params or {})}
    X = np.asarray(p["X"], dtype=float)
    y = np.asarray(p["y"], dtype=float)
    n2 = p["two_point_rows"]
    labs = {"three_point": _lab(X, y, p), "two_point": _lab(X[:n2], y[:n2], p)}
    return {
        "symbolic_update": symbolic_update(*X.shape),
        **labs,
        "variant_changes": {name: _variant_changes(lab) for name, lab in labs.items()},
    }


def _variant_changes(lab: dict) -> dict:
    """Whether any sign(0) / ties / trim_on variant gives a W history different from its siblings'."""

    def differs(group: dict) -> bool:
        histories = [e["W"] for e in group.values()]
        return any(not np.array_equal(histories[0], h) for h in histories[1:])

    return {
        "prune": differs(lab["prune"]),
        "l1": any(differs(g) for g in lab["l1"].values()),
        "trimmed": any(differs(g) for g in lab["trimmed"].values()),
    }
