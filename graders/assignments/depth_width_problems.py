"""dlsp-hw3 Problem 5.1: the Eggholder function and the networks' parameter counts, probed.

What the grader reads (student_template/dlsp-hw3/hw3.ipynb names them):

  5.1  p5_1_eggholder(x1, x2) -> array like x1: f(x1, x2) element-wise (no noise), x1 and x2
       arrays (n,) on [-512, 512]
       p5_1_param_count(widths) -> int: parameters of the MLP 2 -> widths... -> 1 (widths a
       list of 1 to 3 hidden sizes; BatchNorm after each hidden layer from 2 layers on, as the
       text asks)

Both are called on hidden inputs (seeded here, never shown) and compared with
reference/depth_width.py. What counts as a parameter is a named variant (grader.toml
[conventions] batchnorm_count): "learned" (weights, biases, BatchNorm's gamma and beta:
torch's sum of numel over parameters()), "with-running-stats" (plus BatchNorm's moving mean
and variance: Keras's count_params()), "weights-only" (the text's "(weights)" read literally:
no biases, no BatchNorm).
"""

from __future__ import annotations

import numpy as np

from graders.assignments.names import graded
from graders.checks.base import Check, Probe
from graders.checks.combined import GroupCheck
from graders.checks.numeric import ArrayCheck
from graders.config import AssignmentConfig
from graders.settings import NONNEGATIVE
from graders.wire import encode_array
from reference import depth_width

TOLERANCES = {"eggholder_rtol": NONNEGATIVE, "eggholder_atol": NONNEGATIVE}
CONVENTIONS = {"batchnorm_count": ["learned", "with-running-stats", "weights-only"]}
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
    """Problem 5.1's checks, by problem id."""
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
    return {"5.1": [eggholder, GroupCheck("param_count", "parameter counts of hidden networks",
                                          networks)]}
