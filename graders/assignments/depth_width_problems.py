"""dlsp-hw3 Problem 5.1: the Eggholder function, parameter counts, data set and RMSEs.

What the grader reads (student_template/dlsp-hw3/hw3.ipynb names them):

  5.1  p5_1_eggholder(x1, x2) -> array like x1: f(x1, x2) element-wise (no noise), x1 and x2
       arrays (n,) on [-512, 512]
       p5_1_param_count(widths) -> int: parameters of the MLP 2 -> widths... -> 1 (widths a
       list of 1 to 3 hidden sizes; BatchNorm after each hidden layer from 2 layers on, as the
       text asks)
       p5_1_x_train (80000, 2), p5_1_y_train (80000,), p5_1_x_test (20000, 2),
       p5_1_y_test (20000,)   the data set drawn as the text asks
       p5_1_rmse              {hidden widths: test RMSE}, one entry per network trained,
                              keyed "512", "16x128", "(16, 128)", (16, 128) ...
       p5_1_rmse_by_units     {hidden layers: {total hidden units: mean RMSE}}: the text's
                              average over the networks of one depth and total

Both functions are called on hidden inputs (seeded here, never shown) and compared with
reference/depth_width.py. What counts as a parameter is a named variant (grader.toml
[conventions] batchnorm_count): "learned" (weights, biases, BatchNorm's gamma and beta:
torch's sum of numel over parameters()), "with-running-stats" (plus BatchNorm's moving mean
and variance: Keras's count_params()), "weights-only" (the text's "(weights)" read literally:
no biases, no BatchNorm).

The data set is checked statistically against the text (graders/checks/dataset.py: size,
split, x uniform on the square, the noise y - f(x) at the text's level, f the reference's:
a data set drawn from a wrong f is not the text's either). The text's N(0, 0.3) is read with
0.3 the standard deviation or the variance (grader.toml [conventions] noise).

The RMSEs are the student's measurements: checked are their networks (1 to 3 hidden layers,
each depth present, at most 512 units in all), that every RMSE is finite and not below what
the test set's noise allows, that they are not one number repeated, and that the averages
per total are their own RMSEs averaged (within 0.1%: rounding).

The noise floor. On a test set the network never saw, y = f + e with e ~ N(0, s^2)
independent of the prediction p, so mean((y - p)^2) = mean(e^2) + 2 mean(e (f - p)) +
mean((f - p)^2). With n test points, mean(e^2) >= s^2 (1 - z sqrt(2 / n)) and the cross term,
N(0, 4 s^2 mean((f - p)^2) / n), costs at most z^2 s^2 / n once minimised over f - p; so
RMSE >= s sqrt(1 - z sqrt(2 / n) - z^2 / n) except with probability about that of z
(z = 5: below 1e-6). With the smaller accepted s = 0.3 and n = 20,000 test points the floor
is about 0.292: an RMSE below it was not measured on the noisy test set (the realistic RMSEs
of these networks are tens).
"""

from __future__ import annotations

import math

import numpy as np

from graders.assignments.augmentation_problems import FALSE_FAILURE
from graders.assignments.names import graded
from graders.checks.base import Check, Outcome, Probe
from graders.checks.combined import GroupCheck
from graders.checks.dataset import DatasetCheck
from graders.checks.numeric import ArrayCheck
from graders.checks.reported import SAME, Counts, ReportedCheck, Widths, all_equal, label
from graders.config import AssignmentConfig
from graders.settings import NONNEGATIVE
from graders.wire import encode_array
from reference import depth_width

TOLERANCES = {"eggholder_rtol": NONNEGATIVE, "eggholder_atol": NONNEGATIVE,
              "statistical_false_failure": FALSE_FAILURE}
#: The text's N(0, 0.3): 0.3 read as the standard deviation, or as the variance.
NOISE = {"std": 0.3, "variance": math.sqrt(0.3)}
CONVENTIONS = {"batchnorm_count": ["learned", "with-running-stats", "weights-only"],
               "noise": list(NOISE)}
#: The text's data set: 100K points, 80/20 split; z of the noise floor (see the module).
POINTS_TOTAL, TRAIN_SHARE, FLOOR_Z = 100_000, 0.8, 5.0
DEPTHS = (1, 2, 3)
SEED, POINTS = 2020, 200
#: Hidden networks: one of each depth, and two orders of the same widths.
NETWORKS = ([512], [16, 128], [128, 16], [64, 32, 256])


def hidden_points() -> tuple[np.ndarray, np.ndarray]:
    """POINTS uniform on the domain, its four corners first (the absolute values' kinks)."""
    low, high = depth_width.DOMAIN
    x = np.random.default_rng(SEED).uniform(low, high, size=(POINTS, 2))
    x[:4] = [[low, low], [low, high], [high, low], [high, high]]
    return x[:, 0], x[:, 1]


def counts(widths: list[int]) -> dict[str, int]:
    """The parameter count of each convention, from reference.depth_width.param_count."""
    learned = depth_width.param_count(widths)
    bn = len(widths) >= 2
    return {"learned": learned,
            "with-running-stats": learned + (2 * sum(widths) if bn else 0),
            "weights-only": depth_width.param_count(widths, batchnorm=False, biases=False)}


def problems(cfg: AssignmentConfig) -> dict[str, list[Check]]:
    """Problem 5.1's checks, by problem id: the function, the counts, the data set, the
    RMSEs."""
    tol, conv = cfg.tolerances, cfg.conventions
    x1, x2 = hidden_points()
    function = graded("5.1", "eggholder")
    eggholder = ArrayCheck(
        "eggholder", "f(x1, x2) at hidden points",
        Probe(f"{function}(x1, x2)", "call", function, (encode_array(x1), encode_array(x2))),
        {"f": depth_width.eggholder(x1, x2)}, ["f"], rtol=tol["eggholder_rtol"],
        atol=tol["eggholder_atol"])
    count = graded("5.1", "param_count")
    networks = {"x".join(map(str, ws)): [ArrayCheck(
        "count", f"parameters of 2 -> {' -> '.join(map(str, ws))} -> 1",
        Probe(f"{count}({ws})", "call", count, (list(ws),)), counts(ws),
        conv["batchnorm_count"], rtol=0.0, atol=0.0)] for ws in NETWORKS}
    data = DatasetCheck(
        "dataset", "your data set: size, split, uniform x, noise level",
        [value(name) for name in ("x_train", "y_train", "x_test", "y_test")],
        depth_width.eggholder, POINTS_TOTAL, TRAIN_SHARE, depth_width.DOMAIN, NOISE,
        conv["noise"], tol["statistical_false_failure"])
    return {"5.1": [eggholder, GroupCheck("param_count", "parameter counts of hidden networks",
                                          networks), data, rmse_check()]}


def value(name: str) -> Probe:
    return Probe(graded("5.1", name), "value", graded("5.1", name))


def noise_floor(sigma: float, n_test: int, z: float = FLOOR_Z) -> float:
    """The least test RMSE a network can honestly have (see the module)."""
    return sigma * math.sqrt(1 - z * math.sqrt(2 / n_test) - z * z / n_test)


def rmse_check() -> Check:
    """p5_1_rmse: networks within the budget, RMSE above the noise floor; p5_1_rmse_by_units:
    their averages per depth and total units."""
    configs, averages = (Widths(),), (Counts((), "hidden layers"), Counts((), "total units"))
    n_test = round(POINTS_TOTAL * (1 - TRAIN_SHARE))
    floor = noise_floor(min(NOISE.values()), n_test)

    def judge(tables: list[dict]) -> Outcome:
        rmse, by_units = tables
        for key, arr in rmse.items():
            widths = key[0]
            if not 1 <= len(widths) <= 3 or sum(widths) > depth_width.BUDGET:
                return Outcome(0.0, f"{label(key, configs)}: not 1 to 3 hidden layers within "
                               f"the budget of {depth_width.BUDGET} units")
            if not np.size(arr) == 1 or not float(np.ravel(arr)[0]) >= floor:
                return Outcome(0.0, f"{label(key, configs)}: an RMSE below what the test "
                               "set's noise allows (RMSE >= about 0.29 for noise 0.3)")
        depths = {len(k[0]) for k in rmse}
        if missing := [d for d in DEPTHS if d not in depths]:
            return Outcome(0.0, f"no network of {', '.join(map(str, missing))} hidden layers")
        if all_equal(rmse):
            return Outcome(0.0, f"every network has the same RMSE: {SAME}")
        groups: dict = {}
        for key, arr in rmse.items():
            groups.setdefault((len(key[0]), sum(key[0])), []).append(float(np.ravel(arr)[0]))
        reported = {k: float(np.ravel(a)[0]) for k, a in by_units.items()}
        for (depth, total), runs in sorted(groups.items()):
            said = reported.get((depth, total))
            if said is None or not math.isclose(said, float(np.mean(runs)), rel_tol=1e-3,
                                                abs_tol=1e-6):
                return Outcome(0.0, f"p5_1_rmse_by_units: {depth} hidden layers, {total} "
                               "units: not the mean RMSE of your networks with that total")
        if extra := sorted(set(reported) - set(groups)):
            return Outcome(0.0, f"p5_1_rmse_by_units: {extra[0][0]} hidden layers, "
                           f"{extra[0][1]} units: no network of yours has that total")
        return Outcome(1.0, f"{len(rmse)} networks within the budget, RMSEs above the noise "
                       "floor, averaged per total as the text asks")
    return ReportedCheck("rmse", "RMSE of your networks, averaged per total units",
                         [(value("rmse"), configs), (value("rmse_by_units"), averages)], judge)
