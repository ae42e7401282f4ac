"""duke-hw2, ECE590 Homework #2 (Fall 2019): every problem.

  1.1-1.10  True/False (graders/assignments/true_false.py)
  2.1-2.5   distributed SGD (below)
  3.1-3.6   the sparse lab (graders/assignments/sparse_lab.py; 3.6 is extra credit)
  4.1-4.3   CSC encoding (graders/assignments/csc_problems.py; 4.3 is extra credit)

What the grader reads for 2.x (student_template/duke-hw2/hw2.ipynb names everything; names
carry their problem's number, graders/assignments/names.py):

  2.1  p2_1_W_next       sympy Matrix (3, 1): W^{k+1} in lambda, w1..w3 (W^k), x11..x33, y1..y3
       p2_1_W_star_expr  sympy Matrix (3, 1): W* in x11..x33, y1..y3
       p2_1_W_star       array (3,) (or (3, 1)): W* at the handout's data
  2.2  p2_2_logL         array (51, 3): log L_i(W^k), k = 0..50, lambda = 0.1, W^0 = 0
  2.3  p2_3_terngrad(g, s) -> array like g: one TernGrad draw
       p2_3_train_terngrad(seed) -> array (51, 3): one run's log L_i, calling p2_3_terngrad
  2.4  p2_4_logL         dict {T: array (51, 3)} for T in 1, 2, 5, 10
  2.5  p2_5_train_clip_terngrad(seed) -> array (51, 3): clipping at T = 5, s_t = T

Histories in any accepted form (graders/checks/forms.py: 51 rows or 50 recorded before or
after each step, log base e or 10).

Conventions (NOTES.md) are variants of the key named by reference.distributed.Convention.slug
(sum_x2, mean_x2, sum_x1, mean_x1); grader.toml's [conventions] aggregation lists the accepted.
"""

from __future__ import annotations

import numpy as np

from graders.assignment import Problem
from graders.assignments import csc_problems, sparse_lab, true_false
from graders.assignments.names import graded
from graders.assignments.public_duke_hw2 import PUBLIC  # noqa: F401 - its public checks
from graders.assignments.sparse_lab import LabPart
from graders.checks.base import Probe
from graders.checks.numeric import ArrayCheck, TrajectoryCheck
from graders.checks.replay import ParameterServer, TrainingReplayCheck
from graders.checks.statistical import TernaryQuantizerCheck
from graders.checks.symbolic import SymbolicCheck
from graders.config import AssignmentConfig
from graders.settings import NONNEGATIVE, PROBABILITY, Setting
from graders.keys import build_topics
from graders.wire import encode_array
from reference import distributed

WORKERS = ("L_1", "L_2", "L_3")
#: The settings grader.toml must give in [assignments.duke-hw2.tolerances].
TOLERANCES = {
    "rtol": NONNEGATIVE, "atol": NONNEGATIVE,
    "trajectory_rtol": NONNEGATIVE, "trajectory_atol": NONNEGATIVE,
    "partial_credit_from": PROBABILITY,
    "log_floor": Setting("number", maximum=0, help="log L below which both sides count as "
                                                   "converged, at most 0 (e.g. -50)"),
    "terngrad_runs": Setting("int", minimum=3, maximum=13,
                             help="runs of the student's training function, each replayed "
                                  "exactly, 3 to 13 (the worker records 2000 quantiser calls, "
                                  "150 a run)"),
    "terngrad_replay_atol": Setting("number", above=0, maximum=0.01,
                                    help="|x_i W - y_i| of a replayed run, absolute (float32 "
                                         "code rounds W at ~1e-7), in (0, 0.01]"),
    "terngrad_draws": Setting("int", minimum=100, maximum=1_000_000,
                              help="quantiser draws per hidden gradient, 100 to 1e6"),
    "statistical_false_failure": Setting("number", above=0, maximum=0.01,
                                         help="a false-failure rate in (0, 0.01]"),
    **sparse_lab.TOLERANCES, **csc_problems.TOLERANCES,
}
#: Each open convention and its variants (grader.toml's [conventions] picks the accepted).
CONVENTIONS = {"aggregation": [c.slug for c in distributed.CONVENTIONS],
               **sparse_lab.CONVENTIONS, **csc_problems.CONVENTIONS}

#: The handout's statements, shortened for reports.
STATEMENTS = {
    "1.1": "1-bit SGD removes communication cost without losing accuracy",
    "1.2": "pruning does not hurt quantization (orthogonal techniques)",
    "1.3": "pruning limits weight values, so products fit a look-up table",
    "1.4": "asynchronous training is guaranteed a linear speedup",
    "1.5": "Group Lasso: L-2 regularization of the groups' L-1 norms",
    "1.6": "Hoyer, like L-1, is scale-invariant; Hoyer-square trims",
    "1.7": "proximal GD: the proximity term keeps the optimum, smooths convergence",
    "1.8": "CUDA: serial for-loops generate explicit parallel instructions",
    "1.9": "differential privacy: noise on gradients defends against inference attacks",
    "1.10": "trimmed L1 equals an L-0 constraint, stronger than Lasso",
}

#: The sparse lab in this handout's numbering and wording.
LAB = [
    LabPart("3.1", "gd", "Plain gradient descent, 200 steps"),
    LabPart("3.2", "prune", "Iterative pruning to ||W||_0 <= 2"),
    LabPart("3.3", "l1", "L1 regularization by (sub)gradient descent", {
        "comment": "Comment on the convergence performance under different lambda."}),
    LabPart("3.4", "proximal", "Proximal gradient with soft thresholding", {
        "compare": "Compare the convergence with the results of 3.3."}),
    LabPart("3.5", "trimmed", "Trimmed L1 by proximal gradient", {
        "compare_l1": "Compare the convergence of trimmed L1 and L1.",
        "compare_pruning": "Compare the early steps (first 20) of trimmed L1 and pruning."}),
    LabPart("3.6", "two_point", "3.2-3.5 with two data points (extra credit)", {
        "compare": "How does convergence differ from using 3 data points?"}),
]


def build_key(params: dict) -> dict:
    """True/False (1.x), distributed SGD (2.x), the sparse lab (3.x) and CSC (4.x)."""
    return build_topics(["true_false", "distributed", "sparse", "csc"], params)


#: Calls of the student's quantiser recorded during training (each run is replayed from them,
#: and their outputs must be ternary and unbiased: graders/checks/replay.py); the worker
#: keeps at most 2000.
RECORDED_CALLS = 2000


def hidden_seeds(seed: int, runs: int) -> tuple[int, ...]:
    """The seeds the student's training function is called with: `runs` of them, drawn from
    `seed` (the key's, never shown to students)."""
    return tuple(int(x) for x in np.random.default_rng(seed).integers(1, 2**31 - 1, runs))


def quantizer_cases(seed: int, clip_T: float | None) -> list[tuple[np.ndarray, float]]:
    """Hidden inputs (g, s) for the student's terngrad: random gradients, one with a zero
    element, one with an element at the bound; s = max|g| (2.3) or s = T after clipping (2.5)."""
    rng = np.random.default_rng(seed)
    raw = [rng.normal(0, 3, 3), np.array([0.0, -1.5, 0.6]), rng.normal(0, 8, 3),
           rng.normal(0, 1, 5)]
    if clip_T is None:
        return [(g, float(np.max(np.abs(g)))) for g in raw]
    return [(distributed.clip(g, clip_T), float(clip_T)) for g in raw]


def problems(key: dict, cfg: AssignmentConfig) -> list[Problem]:
    k = key["distributed"]
    tol = cfg.tolerances
    accepted = cfg.conventions["aggregation"]
    per_convention = lambda field: {c: v[field] for c, v in k["conventions"].items()}  # noqa: E731
    trajectory = dict(accepted=accepted, rtol=tol["trajectory_rtol"],
                      atol=tol["trajectory_atol"], floor=tol["log_floor"], ylabel="log L_i",
                      labels=WORKERS, partial_from=tol["partial_credit_from"], log=True)
    value = lambda problem, name: Probe(graded(problem, name), "value",  # noqa: E731
                                        graded(problem, name))
    draws, seed = int(tol["terngrad_draws"]), int(k["params"]["seed"])
    quantizer = graded("2.3", "terngrad")

    def runs_probe(problem: str, trainer: str) -> Probe:
        """The student's trainer called with hidden seeds, its quantiser swapped for a
        recorder."""
        name = graded(problem, trainer)
        return Probe(f"{name}(seed) runs", "call", name, ({"t": "seed"},),
                     seeds=hidden_seeds(seed + int(problem[-1]), int(tol["terngrad_runs"])),
                     swap={"name": quantizer, "keep": RECORDED_CALLS})

    X, y = distributed.handout_data()
    conventions = {c.slug: (c.aggregate, c.factor) for c in distributed.CONVENTIONS}

    def runs_check(probe: Probe, field: str, clip: float | None) -> TrainingReplayCheck:
        """The trainer's runs, each replayed from its own quantiser draws; the convention is
        pinned by the student's 2.2 history where it matches one; the key's reference runs
        of `field` are the band behind the student's in the report."""
        server = ParameterServer(X, y, float(k["params"]["lr"]), int(k["params"]["steps"]), clip)
        band = {c: (v[field]["median"], v[field]["p05"], v[field]["p95"])
                for c, v in k["conventions"].items()}
        return TrainingReplayCheck(
            "history", f"log L_i of {tol['terngrad_runs']:g} runs of {probe.name}", probe,
            server, conventions, accepted, per_convention("sgd_logL"), band,
            rtol=tol["trajectory_rtol"], atol=tol["terngrad_replay_atol"],
            floor=tol["log_floor"], false_failure=tol["statistical_false_failure"],
            quantizer=quantizer, ylabel="log L_i", labels=WORKERS,
            convention_probe=value("2.2", "logL"))

    def quantizer_check(check_id: str, title: str, clip_T: float | None,
                        training: Probe) -> TernaryQuantizerCheck:
        cases = quantizer_cases(seed + (0 if clip_T is None else 1), clip_T)
        label = "s=max|g|" if clip_T is None else f"s=T={clip_T:g}"
        probes = [Probe(f"terngrad({label}) case {i + 1}", "call", quantizer,
                        (encode_array(g), s), repeat=draws, seed=seed + i,
                        batch={"arg": 0, "n": draws})
                  for i, (g, s) in enumerate(cases)]
        return TernaryQuantizerCheck(check_id, title, probes, cases,
                                     false_failure=tol["statistical_false_failure"],
                                     training=training)

    T5 = str(int(k["params"]["clip_terngrad_T"]))
    runs23, runs25 = runs_probe("2.3", "train_terngrad"), runs_probe("2.5", "train_clip_terngrad")
    distributed_problems = [
        Problem("2.1", "Parameter-server update and optimum", [
            SymbolicCheck("update", "W^{k+1} in lambda, W^k, x_i, y_i", value("2.1", "W_next"),
                          per_convention("update"), accepted),
            SymbolicCheck("optimum_symbolic", "W* in closed form", value("2.1", "W_star_expr"),
                          {"normal equations": k["W_star_symbolic"]}, ["normal equations"]),
            ArrayCheck("optimum", "W* at the given data", value("2.1", "W_star"),
                       {"least squares": k["W_star"]}, ["least squares"],
                       rtol=tol["rtol"], atol=tol["atol"]),
        ]),
        Problem("2.2", "Distributed SGD, 50 steps, lambda = 0.1", [
            TrajectoryCheck("history", "log L_i over 50 steps", value("2.2", "logL"),
                            per_convention("sgd_logL"), **trajectory),
        ]),
        Problem("2.3", "TernGrad, s_t = max |g|", [
            quantizer_check("terngrad", "terngrad(g, s): ternary and unbiased", None, runs23),
            runs_check(runs23, "terngrad_logL", None),
        ], manual={"trend": "Point out the effect of TernGrad on the trend of convergence."}),
        Problem("2.4", "Gradient clipping, T = 1, 2, 5, 10", [
            TrajectoryCheck(f"T={T}", f"log L_i with clipping at T = {T}",
                            value("2.4", "logL"), {c: v["clip_logL"][T]
                                                 for c, v in k["conventions"].items()},
                            select=float(T), **trajectory)
            for T in k["conventions"][accepted[0]]["clip_logL"]
        ], manual={"compare": "Compare with 2.2: the effect of clipping on convergence."}),
        Problem("2.5", f"Clipping with TernGrad, T = {T5}", [
            quantizer_check("terngrad", f"terngrad(clip(g, {T5}), {T5}): ternary and unbiased",
                            float(T5), runs25),
            runs_check(runs25, "clip_terngrad_logL", float(T5)),
        ], manual={"trend": "Point out the effect of TernGrad with clipping on convergence."}),
    ]
    return [*true_false.problems(key["true_false"], STATEMENTS),  # the handout's order
            *distributed_problems,
            *sparse_lab.problems(key["sparse"], cfg, LAB, two_point_need="all"),
            *csc_problems.problems(key["csc"], cfg)]
