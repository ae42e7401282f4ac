"""duke-hw4, ECE590-03 Homework #4 (Fall 2020).

  1.1-1.10   True/False (graders/assignments/true_false.py)
  L1.a-L1.g  Lab 1, the sparse lab of duke-hw2 3.x in this handout's numbering and wording
             (graders/assignments/sparse_lab.py); (g) is the bonus, one lambda or threshold
             per method
  L2.a-L2.f  Lab 2, fixed-point quantisation of ResNet-20 (graders/assignments/quant_lab.py):
             (a) the student's STE in FP_layers.py probed per property in the worker; (b)-(d)
             the accuracy table against plausibility bands around reference runs on the data
             grader.toml names ([...key.quantization_runs]: the shipped digits, or CIFAR-10
             computed once by `grader key duke-hw4 --data cifar10=PATH`), and the lab's
             relations; (e) the average precisions; the comments of (c), (e)'s working and (f)
             by hand. A submission is the folder (hw4.ipynb, FP_layers.py, resnet20.py), a zip
             of it, or the notebook with FP_layers.py beside it (graders/submission.py).

grader.toml caps the score at 100 and deducts 20 percent for a zip upload.
"""

from __future__ import annotations

from graders.assignment import Problem
from graders.assignments import quant_lab, sparse_lab, true_false
from graders.assignments.public_duke_hw4 import PUBLIC  # noqa: F401 - its public checks
from graders.assignments.sparse_lab import LabPart
from graders.config import AssignmentConfig
from graders.keys import build_topics

TOLERANCES = {**sparse_lab.TOLERANCES, **quant_lab.TOLERANCES}
CONVENTIONS = {**sparse_lab.CONVENTIONS, **quant_lab.CONVENTIONS}

STATEMENTS = {
    "1.1": "SGD on a sparsity-inducing regularizer gives exact zeros; no pruning needed",
    "1.2": "hard thresholding keeps sparsity fixed; soft thresholding increases it",
    "1.3": "soft thresholding beats L-1 directly: smoother, solves the bias",
    "1.4": "Group Lasso: L-2 regularization of the groups' L-1 norms",
    "1.5": "Hoyer, like L-0, is scale-invariant; Hoyer-square trims",
    "1.6": "proximal GD: the proximity term keeps the optimum, smooths convergence",
    "1.7": "trimmed L1 equals an L-0 constraint, stronger than Lasso",
    "1.8": "ADMM pruning: higher sparsity than L-1 at no extra training cost",
    "1.9": "STE: forward pass and gradient accumulation both use full-precision weights",
    "1.10": "mixed precision reaches higher accuracy at a similar model size",
}

LAB = [
    LabPart("L1.a", "update", "W^{k+1} of full-batch gradient descent"),
    LabPart("L1.b", "gd", "Minimise L directly, 200 steps"),
    LabPart("L1.c", "prune", "Iterative pruning to ||W||_0 <= 2"),
    LabPart("L1.d", "l1", "L1 regularization by full-batch gradient descent", {
        "comment": "Comment on the convergence performance under different lambda."}),
    LabPart("L1.e", "proximal", "Proximal gradient with soft thresholding", {
        "compare": "Compare the convergence with the results in (d)."}),
    LabPart("L1.f", "trimmed", "Trimmed L1 by proximal gradient", {
        "compare_l1": "Compare the convergence of trimmed L1 and L1.",
        "compare_pruning": "Compare the early steps (first 20) of trimmed L1 and pruning."}),
    LabPart("L1.g", "two_point", "(c)-(f) with two data points, one lambda each (bonus)", {
        "compare": "How does convergence differ from using 3 data points?"}),
]


#: Lab 2's parts graded by hand (the handout's points: grader.toml).
LAB2_MANUAL = {
    "L2.c": {"comment": "Comment on precision vs accuracy and on the effectiveness of "
                        "finetuning."},
    "L2.e": {"working": "Show how the average precision is computed, in detail."},
    "L2.f": {"tradeoff": "Which scheme gives the best accuracy-average precision trade-off?",
             "least_important": "Which stage is the least important for high accuracy?"},
}


def build_key(params: dict) -> dict:
    """True/False, the sparse lab (Lab 1), the quantisation arithmetic of Lab 2 and its
    reference runs ("runs": graders.lab2_reference.key_runs of [...key.quantization_runs])."""
    from graders.lab2_reference import key_runs
    topics = {k: v for k, v in params.items() if k != "quantization_runs"}
    key = build_topics(["true_false", "sparse", "quantization"], topics)
    key["runs"] = key_runs(params.get("quantization_runs"))
    return key


def problems(key: dict, cfg: AssignmentConfig) -> list[Problem]:
    return [*true_false.problems(key["true_false"], STATEMENTS),
            *sparse_lab.problems(key["sparse"], cfg, LAB, two_point_need="one"),
            *quant_lab.problems(key, cfg, LAB2_MANUAL)]
