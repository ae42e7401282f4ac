"""Data-parallel SGD with a parameter server: duke-hw2 problems 2.1-2.5.

Setting (duke-hw2, Section 2). Worker i holds one row x_i in R^{1x3} and a target y_i; the
weights W in R^{3x1} are shared through a parameter server. Worker i's loss is

    L_i(W) = (x_i W - y_i)^2,        dL_i/dW = c * x_i^T (x_i W - y_i),   c = 2,

and the server applies, with learning rate lambda,

    W^{k+1} = W^k - lambda * A_i( C(g_i^k) ),     g_i^k = dL_i/dW at W^k,

where C is the worker's compression (identity, clipping, TernGrad) and A aggregates the three
workers' messages. The text leaves two conventions open (NOTES.md), held here as named
variants: A is a sum or a mean over workers, and the factor c is 2 (the true derivative) or 1.

Shapes: X is (n_workers, n_features) with rows x_i; y is (n_workers,); W is (n_features,).
Histories are (steps + 1, n_workers): row k holds L_i(W^k) for k = 0..steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

#: Worker data of duke-hw2 Section 2: x_1 = [-1, 2, 0], x_2 = [3, 0, 1], x_3 = [2, -1, 3].
HANDOUT_X = ((-1, 2, 0), (3, 0, 1), (2, -1, 3))
#: Targets y_1 = -7, y_2 = 5, y_3 = 11.
HANDOUT_Y = (-7, 5, 11)


@dataclass(frozen=True)
class Convention:
    """How the server combines worker gradients: `aggregate` is "sum" or "mean"; `factor` is the
    constant c in dL_i/dW = c x_i^T (x_i W - y_i) (2 is the derivative, 1 drops it)."""

    aggregate: str
    factor: int

    @property
    def name(self) -> str:
        return f"{self.aggregate}-of-gradients, factor {self.factor}"

    @property
    def slug(self) -> str:
        return f"{self.aggregate}_x{self.factor}"


#: Every reading of "the server updates W with the workers' gradients" the text allows.
CONVENTIONS = tuple(Convention(a, c) for a in ("sum", "mean") for c in (2, 1))


def handout_data() -> tuple[np.ndarray, np.ndarray]:
    """X (3, 3) float64 with rows x_i, and y (3,) float64, as printed in the handout."""
    return np.array(HANDOUT_X, dtype=float), np.array(HANDOUT_Y, dtype=float)


def worker_losses(X: np.ndarray, y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """L_i(W) = (x_i W - y_i)^2 for every worker: (n_workers,). W may carry leading batch axes
    (..., n_features), giving (..., n_workers)."""
    return (W @ X.T - y) ** 2


def log_losses(L: np.ndarray) -> np.ndarray:
    """log L (natural log), the quantity the problems plot. An exact zero (a run that lands on
    W*) maps to log of the smallest normal float, about -708, instead of -inf."""
    return np.log(np.maximum(L, np.finfo(float).tiny))


def worker_gradients(X: np.ndarray, y: np.ndarray, W: np.ndarray, factor: int) -> np.ndarray:
    """g_i = c x_i^T (x_i W - y_i) for every worker: (..., n_workers, n_features)."""
    residual = W @ X.T - y  # (..., n_workers)
    return factor * residual[..., :, None] * X


def clip(g: np.ndarray, T: float) -> np.ndarray:
    """Element-wise clipping of a gradient into [-T, T]."""
    return np.clip(g, -T, T)


def terngrad(g: np.ndarray, s: np.ndarray | float, rng: np.random.Generator) -> np.ndarray:
    """TernGrad (Wen et al., 2017): g~ = s * sign(g) * b with b_j ~ Bernoulli(|g_j| / s).

    `s` broadcasts against g (a scalar, or one scaler per worker with a trailing axis). Each
    element takes a value in {-s, 0, s}, and E[g~] = s * sign(g) * |g| / s = g whenever
    |g_j| <= s (the scaler must bound the gradient: s = max|g| in 2.3, s = T after clipping
    to [-T, T] in 2.5). Var[g~_j] = |g_j| (s - |g_j|).
    """
    s = np.asarray(s, dtype=float)
    safe_s = np.where(s > 0, s, 1.0)
    keep = rng.random(g.shape) < np.abs(g) / safe_s
    return np.where(s > 0, s * np.sign(g) * keep, 0.0)


Compressor = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def no_compression(g: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """2.2: each worker sends its exact gradient."""
    return g


def terngrad_max(g: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """2.3: TernGrad with s_t = max_j |g_ij|, one scaler per worker (over its last axis)."""
    return terngrad(g, np.max(np.abs(g), axis=-1, keepdims=True), rng)


def clipping(T: float) -> Compressor:
    """2.4: each worker clips its gradient into [-T, T] before sending it."""
    return lambda g, rng: clip(g, T)


def clipped_terngrad(T: float) -> Compressor:
    """2.5: clip into [-T, T], then TernGrad with s_t = T for every worker."""
    return lambda g, rng: terngrad(clip(g, T), T, rng)


def train(
    X: np.ndarray,
    y: np.ndarray,
    convention: Convention,
    *,
    lr: float = 0.1,
    steps: int = 50,
    compress: Compressor = no_compression,
    seed: int = 0,
    runs: int | None = None,
) -> np.ndarray:
    """Run the parameter-server loop from W^0 = 0 and return the loss history.

    W^{k+1} = W^k - lr * A_i(C(g_i^k)), A = sum or mean over workers (the convention).
    Returns L_i(W^k) for k = 0..steps: (steps + 1, n_workers); with `runs` = R independent
    runs (stochastic compressors, one shared seeded generator), (R, steps + 1, n_workers).
    """
    rng = np.random.default_rng(seed)
    batch = () if runs is None else (runs,)
    W = np.zeros(batch + (X.shape[1],))
    history = [worker_losses(X, y, W)]
    combine = np.sum if convention.aggregate == "sum" else np.mean
    for _ in range(steps):
        messages = compress(worker_gradients(X, y, W, convention.factor), rng)
        W = W - lr * combine(messages, axis=-2)
        history.append(worker_losses(X, y, W))
    return np.stack(history, axis=-2)


def easgd(
    X: np.ndarray,
    y: np.ndarray,
    *,
    lr: float = 0.1,
    rho: float = 0.1,
    steps: int = 50,
    factor: int = 2,
) -> dict[str, np.ndarray]:
    """Synchronous elastic-averaging SGD (lecture text, equations (1)-(2)) on the same workers.

        W_{t+1}^i = W_t^i - eta (dW_t^i + rho (W_t^i - Wbar_t))         (1)
        Wbar_{t+1} = Wbar_t + eta sum_{i=1}^P rho (W_t^i - Wbar_t)        (2)

    with dW_t^i = c x_i^T (x_i W_t^i - y_i), all W^i and Wbar starting at 0. Returns the
    history of each worker's loss at its own weights, "local": (steps + 1, n_workers), and of
    every worker's loss at the centre variable, "center": (steps + 1, n_workers).
    """
    n_workers, n_features = X.shape
    local = np.zeros((n_workers, n_features))
    center = np.zeros(n_features)
    own_losses = lambda Ws: (np.einsum("ij,ij->i", Ws, X) - y) ** 2  # noqa: E731
    local_hist, center_hist = [own_losses(local)], [worker_losses(X, y, center)]
    for _ in range(steps):
        residual = np.einsum("ij,ij->i", local, X) - y
        grads = factor * residual[:, None] * X
        pull = rho * (local - center)
        local, center = local - lr * (grads + pull), center + lr * pull.sum(axis=0)
        local_hist.append(own_losses(local))
        center_hist.append(worker_losses(X, y, center))
    return {"local": np.array(local_hist), "center": np.array(center_hist)}


# --- symbolic forms (2.1) ------------------------------------------------------------------

def symbols(n_workers: int = 3, n_features: int = 3):
    """The symbols the answers are written in: lambda; W^k = (w1..wn); x_i = (x_i1..x_in) as
    1 x n rows; y_1..y_m. Returns (lam, W (n x 1), [x_i (1 x n)], [y_i])."""
    lam = sp.Symbol("lambda")
    W = sp.Matrix([sp.Symbol(f"w{j}") for j in range(1, n_features + 1)])
    xs = [sp.Matrix([[sp.Symbol(f"x{i}{j}") for j in range(1, n_features + 1)]])
          for i in range(1, n_workers + 1)]
    ys = [sp.Symbol(f"y{i}") for i in range(1, n_workers + 1)]
    return lam, W, xs, ys


def symbolic_update(convention: Convention, n_workers: int = 3, n_features: int = 3) -> sp.Matrix:
    """W^{k+1} = W^k - lambda A_i( c x_i^T (x_i W^k - y_i) ): an (n_features x 1) sympy Matrix."""
    lam, W, xs, ys = symbols(n_workers, n_features)
    grads = [convention.factor * x.T * (x * W - sp.Matrix([yi])) for x, yi in zip(xs, ys)]
    total = sp.Matrix.zeros(n_features, 1)
    for g in grads:
        total += g
    if convention.aggregate == "mean":
        total = total / n_workers
    return W - lam * total


def symbolic_optimum(n_workers: int = 3) -> sp.Matrix:
    """W* = (sum_i x_i^T x_i)^{-1} sum_i x_i^T y_i = (X^T X)^{-1} X^T y, the zero of every
    convention's update. With as many workers as features (the handout: 3 and 3) X is square,
    and for invertible X this is X^{-1} y = adj(X) y / det(X) (Cramer's rule): (n x 1)."""
    _, _, xs, ys = symbols(n_workers, n_workers)
    X = sp.Matrix.vstack(*xs)
    return (X.adjugate() * sp.Matrix(ys) / X.det()).applyfunc(sp.cancel)


def substitute_data(expr: sp.Matrix, X: np.ndarray, y: np.ndarray) -> sp.Matrix:
    """expr with x_ij and y_i replaced by the data (exact rationals)."""
    n_workers, n_features = X.shape
    _, _, xs, ys = symbols(n_workers, n_features)
    values = {}
    for i in range(n_workers):
        values[ys[i]] = sp.nsimplify(y[i])
        for j in range(n_features):
            values[xs[i][0, j]] = sp.nsimplify(X[i, j])
    return expr.subs(values)


# --- the key ---------------------------------------------------------------------------------

DEFAULTS = {"lr": 0.1, "steps": 50, "clip_T": [1, 2, 5, 10], "clip_terngrad_T": 5,
            "envelope_runs": 2000, "seed": 2019}


def build_key(params: dict | None = None) -> dict:
    """Every answer of duke-hw2 2.1-2.5, per convention, plus EASGD on the same workers.

    Losses are reported as log L_i (natural log), the quantity the problems plot. TernGrad
    runs are random: the key holds, per step and worker, the median and 5th/95th percentiles
    of `envelope_runs` seeded runs (the band a student's runs are drawn against; a student's
    runs are checked by replaying them, graders/checks/replay.py); see `_band`.
    """
    p = {**DEFAULTS, **(params or {})}
    X, y = handout_data()
    W_star = np.linalg.solve(X.T @ X, X.T @ y)
    key: dict = {
        "params": p,
        "W_star": W_star,
        "W_star_symbolic": symbolic_optimum(X.shape[0]),
        "conventions": {},
    }
    for c in CONVENTIONS:
        run = lambda compress, **kw: train(X, y, c, lr=p["lr"], steps=p["steps"],  # noqa: E731
                                           compress=compress, seed=p["seed"], **kw)
        key["conventions"][c.slug] = {
            "name": c.name,
            "update": symbolic_update(c),
            "sgd_logL": log_losses(run(no_compression)),
            "terngrad_logL": _band(log_losses(run(terngrad_max, runs=p["envelope_runs"]))),
            "clip_logL": {str(T): log_losses(run(clipping(T))) for T in p["clip_T"]},
            "clip_terngrad_logL": _band(log_losses(run(clipped_terngrad(p["clip_terngrad_T"]),
                                                   runs=p["envelope_runs"]))),
        }
    eas = easgd(X, y, lr=p["lr"], steps=p["steps"])
    key["easgd_logL"] = {name: log_losses(h) for name, h in eas.items()}
    return key


def _band(log_runs: np.ndarray) -> dict[str, np.ndarray]:
    """R runs (R, steps + 1, n_workers) -> per step and worker the "median", "p05" and "p95"
    over the runs (steps + 1, n_workers), and the number of "runs"."""
    q = np.quantile(log_runs, [0.05, 0.5, 0.95], axis=0)
    return {"p05": q[0], "median": q[1], "p95": q[2], "runs": np.int64(log_runs.shape[0])}
