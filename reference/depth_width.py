"""dlsp-hw3 Problem 5: depth vs width of MLPs regressing the noisy Eggholder function.

Networks map (x1, x2) -> y: Linear(2, h1), [BatchNorm1d(h1)], ReLU, ..., Linear(h_k, 1).
Following the text, networks with 2 and 3 hidden layers have BatchNorm after each hidden
Linear; the 1-hidden-layer network has none.

Parameter counts (learned numbers; the text says "parameters (weights)"):
    Linear(a, b): a*b weights + b biases;  BatchNorm1d(h): 2h (gamma, beta).
BatchNorm's running mean and variance (and torch's num_batches_tracked) are buffers, updated by
averaging rather than learned, so they are not counted. Variants: weights only (the literal
"(weights)") and no BatchNorm.
"""

from collections import defaultdict
from itertools import product
from statistics import mean

import numpy as np

DOMAIN = (-512.0, 512.0)
WIDTHS = (16, 32, 64, 128, 256, 512)  # the text's recommended units per layer
BUDGET = 512
GLOBAL_MINIMUM = ((512.0, 404.2319), -959.6407)  # (x1, x2), f: the known Eggholder minimum


def eggholder(x1, x2):
    """f(x1, x2) = -(x2 + 47) sin(sqrt(|x1/2 + x2 + 47|)) - x1 sin(sqrt(|x1 - (x2 + 47)|)).

    Element-wise on arrays; the domain of the problem is [-512, 512]^2.
    """
    x1, x2 = np.asarray(x1, dtype=float), np.asarray(x2, dtype=float)
    return (-(x2 + 47) * np.sin(np.sqrt(np.abs(x1 / 2 + x2 + 47)))
            - x1 * np.sin(np.sqrt(np.abs(x1 - (x2 + 47)))))


def make_dataset(n: int = 100_000, seed: int = 0, noise_std: float = 0.3,
                 train_fraction: float = 0.8) -> dict:
    """y = f(x1, x2) + N(0, noise_std^2) at n points uniform on [-512, 512)^2, split train/test.

    Draws x (n, 2) ~ U[-512, 512), then noise (n,), from default_rng(seed). Points are iid, so
    the first round(train_fraction * n) are the training set and the rest the test set.
    Returns {"x_train" (n_train, 2), "y_train" (n_train,), "x_test" (n_test, 2), "y_test" (n_test,)}.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(*DOMAIN, size=(n, 2))
    y = eggholder(x[:, 0], x[:, 1]) + rng.normal(0.0, noise_std, size=n)
    n_train = round(train_fraction * n)
    return {"x_train": x[:n_train], "y_train": y[:n_train], "x_test": x[n_train:], "y_test": y[n_train:]}


def architectures(depth: int, widths=WIDTHS, budget: int = BUDGET) -> list[tuple[int, ...]]:
    """All ordered width tuples of `depth` hidden layers whose total units do not exceed `budget`.

    Order matters: (16, 128) and (128, 16) are different networks (the text averages their RMSE).
    """
    return [ws for ws in product(widths, repeat=depth) if sum(ws) <= budget]


def param_count(widths, batchnorm: bool | None = None, biases: bool = True,
                n_in: int = 2, n_out: int = 1) -> int:
    """Learned parameters of the MLP n_in -> widths... -> n_out.

        sum over Linear(a, b) of a*b (+ b biases)  +  2 * sum(widths) with BatchNorm.
    `batchnorm` defaults to the text's rule: on for 2 or more hidden layers.
    """
    if batchnorm is None:
        batchnorm = len(widths) >= 2
    dims = [n_in, *widths, n_out]
    weights = sum(a * b for a, b in zip(dims, dims[1:]))
    return weights + (sum(dims[1:]) if biases else 0) + (2 * sum(widths) if batchnorm else 0)


def rmse(y_true, y_pred) -> float:
    """Root mean square error: sqrt(mean((y_pred - y_true)^2))."""
    return float(np.sqrt(np.mean((np.asarray(y_pred) - np.asarray(y_true)) ** 2)))


def mean_rmse_by_total_units(results: dict) -> dict:
    """{widths tuple: RMSE} -> {depth: {total hidden units: mean RMSE}}, the text's averaging."""
    groups = defaultdict(list)
    for widths, value in results.items():
        groups[len(widths), sum(widths)].append(value)
    out = defaultdict(dict)
    for (depth, total), values in sorted(groups.items()):
        out[depth][total] = mean(values)
    return dict(out)


DEFAULT_PARAMS = {
    "n": 100_000,
    "seed": 0,
    "noise_std": 0.3,  # N(0, 0.3) read as standard deviation 0.3
    "train_fraction": 0.8,
    "widths": list(WIDTHS),
    "budget": BUDGET,
    "depths": [1, 2, 3],
}


def _summary(y: np.ndarray) -> dict:
    return {"mean": float(y.mean()), "std": float(y.std()), "min": float(y.min()), "max": float(y.max())}


def build_key(params: dict | None = None) -> dict:
    """Answer key for dlsp-hw3 Problem 5; `params` overrides keys of DEFAULT_PARAMS.

    {"eggholder": {"domain", "global_minimum": {"x", "f"}},
     "dataset": {"n", "n_train", "n_test", "seed", "noise_std", "sampling",
                 "summary": {"train" | "test": {"mean", "std", "min", "max"} of y},
                 "noise_rmse_test": RMSE of the noiseless f on the test set (the floor),
                 "variants": {"noise_variance_0.3": {"noise_std": sqrt(0.3)}}},
     "budget", "widths",
     "architectures": [{"depth", "widths", "total_units", "params", "params_weights_only",
                        "params_no_batchnorm", "batchnorm"}, ...],
     "counts": {"depth_1" | "depth_2" | "depth_3": number of networks},
     "batchnorm_running_stats_counted": False,
     "variants": {"strict_budget_excluded": 2- and 3-layer widths with total == budget,
                  dropped if the total must be strictly below it (the text's "less than 512"
                  for two layers; one layer may have "at most 512")}}
    """
    p = {**DEFAULT_PARAMS, **(params or {})}
    if unknown := set(p) - set(DEFAULT_PARAMS):
        raise KeyError(f"unknown parameters {sorted(unknown)}")
    data = make_dataset(p["n"], p["seed"], p["noise_std"], p["train_fraction"])
    x_test = data["x_test"]
    nets = [ws for depth in p["depths"] for ws in architectures(depth, p["widths"], p["budget"])]
    (x_min, x_max), f_min = GLOBAL_MINIMUM
    return {
        "eggholder": {"domain": list(DOMAIN),
                      "global_minimum": {"x": [x_min, x_max], "f": float(eggholder(x_min, x_max))}},
        "dataset": {
            "n": p["n"], "n_train": len(data["y_train"]), "n_test": len(data["y_test"]),
            "seed": p["seed"], "noise_std": p["noise_std"],
            "sampling": "x1, x2 iid uniform on [-512, 512); y = f(x1, x2) + N(0, noise_std^2)",
            "summary": {"train": _summary(data["y_train"]), "test": _summary(data["y_test"])},
            "noise_rmse_test": rmse(data["y_test"], eggholder(x_test[:, 0], x_test[:, 1])),
            "variants": {"noise_variance_0.3": {"noise_std": float(np.sqrt(0.3))}},
        },
        "budget": p["budget"],
        "widths": list(p["widths"]),
        "architectures": [
            {"depth": len(ws), "widths": list(ws), "total_units": sum(ws), "params": param_count(ws),
             "params_weights_only": param_count(ws, batchnorm=False, biases=False),
             "params_no_batchnorm": param_count(ws, batchnorm=False), "batchnorm": len(ws) >= 2}
            for ws in nets
        ],
        "counts": {f"depth_{d}": sum(len(ws) == d for ws in nets) for d in p["depths"]},
        "batchnorm_running_stats_counted": False,
        "variants": {"strict_budget_excluded": [list(ws) for ws in nets
                                                if len(ws) >= 2 and sum(ws) == p["budget"]]},
    }
