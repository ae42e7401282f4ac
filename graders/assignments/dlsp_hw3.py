"""dlsp-hw3, Practical Deep Learning System Performance Homework 3 (Fall 2020).

Checked automatically, each in a module of its own that names what it reads:
  1.1-1.4   the five update functions and the dropout weight scale, probed on hidden
            problems; the reported loss curves (five methods, 200 or 201 points, falling),
            training times and test accuracies (graders/assignments/adaptive_problems.py)
  2.1-2.6   the student's measured scaling table: batch sizes, and their times, costs and
            weak-scaling efficiency consistent with their own numbers; every all-reduce and
            collective measured, NCCL and AUTO as in their part 1 (scaling_problems.py)
  3.1-3.4   AlexNet (a list or a dict by layer), VGG19, receptive field, inception counts
            (cnn_problems.py)
  4.1-4.3   the cutout function, drawn many times on a hidden image, batch augmentation, the
            validation-error curves and the epochs-to-94% table against the student's own
            curves (augmentation_problems.py)
  5.1       the Eggholder function, the networks' parameter counts, the student's data set
            (statistically) and their RMSEs (depth_width_problems.py)
Measurements are the student's: what is graded is what can be checked of them (present,
finite, of the right length and form, consistent with each other). Plots, explanations and
comparisons are manual parts with their points (`HAND_GRADED`), so every report and the
gradebook carry all 130 points. Graded names carry their problem's number (names.py); counts
may be written as text (`3.2M`: graders/checks/quantities.py); reported tables may be dicts
keyed as students key them or lists in the handout's order (graders/checks/reported.py).
"""

from __future__ import annotations

from graders.assignment import Problem
from graders.assignments import (adaptive_problems, augmentation_problems, cnn_problems,
                                 depth_width_problems, scaling_problems)
from graders.assignments.public_dlsp_hw3 import PUBLIC  # noqa: F401 - its public checks
from graders.config import AssignmentConfig
from graders.keys import build_topics

PARTS = (adaptive_problems, scaling_problems, cnn_problems, augmentation_problems,
         depth_width_problems)
#: The settings grader.toml must give in [assignments.dlsp-hw3.tolerances].
TOLERANCES = {name: setting for part in PARTS for name, setting in part.TOLERANCES.items()}
#: Each open convention and its variants (grader.toml's [conventions] picks the accepted).
CONVENTIONS = {name: variants for part in PARTS for name, variants in part.CONVENTIONS.items()}


def build_key(params: dict) -> dict:
    return build_topics(["adaptive", "scaling", "cnn", "augmentation", "depth_width"], params)


#: The manual parts of Problems 1, 2, 4, 5: id -> (title, {part: what is graded by hand}).
HAND_GRADED = {
    "1.1": ("Adaptive methods: update equations", {
        "terms": "The five update equations written out, each term explained, the "
                 "hyperparameters (the code is checked).",
        "differences": "How AdaDelta and Adam differ from RMSProp."}),
    "1.2": ("Adaptive methods: 200 epochs with L2", {
        "best": "The plot of training loss vs epochs; which method is best (the curves are "
                "checked)."}),
    "1.3": ("Adaptive methods: with dropout", {
        "compare": "Training loss with dropout against part 2, the best method, training "
                   "times compared (the curves and times are checked)."}),
    "1.4": ("Adaptive methods: test accuracy", {
        "compare": "Test accuracy with and without dropout compared (the weight scaling and "
                   "the accuracies' form are checked)."}),
    "2.1": ("Scaling: throughput", {
        "plot": "Throughput vs learners, weak and strong (the batch sizes are checked)."}),
    "2.2": ("Scaling: training time", {
        "plot": "Training time vs learners, weak and strong (time vs throughput checked)."}),
    "2.3": ("Scaling: training cost", {
        "plot": "Training cost vs learners, weak and strong (cost vs time checked)."}),
    "2.4": ("Scaling: weak-scaling efficiency", {
        "plot": "Scaling efficiency vs learners for weak scaling (the values are checked)."}),
    "2.5": ("Scaling: single-node all-reduce", {
        "compare": "NCCL, HierarchicalCopy and ReductionToOneDevice compared, 1-8 GPUs (the "
                   "numbers are checked and plotted)."}),
    "2.6": ("Scaling: multi-worker collectives", {
        "compare": "AUTO, NCCL and RING compared on 2 nodes; is AUTO best? (the numbers are "
                   "checked)"}),
    "4.1": ("Cutout", {"explain": "Cutout and its advantages over dropout.",
                       "images": "Two CIFAR-10 images and their cutout versions (the cutout "
                                 "function is checked)."}),
    "4.2": ("ResNet-44 with simple augmentation", {
        "plot": "The plot of validation error vs epochs, batch size 64 (the curve is "
                "checked)."}),
    "4.3": ("Batch augmentation with cutout", {
        "plot": "The plot of validation error vs epochs for M = 2, 4, 8, 16, 32 (the batch "
                  "augmentation, the curves and the table are checked).",
        "compare": "Epochs and wall-clock time to 94% compared across M."}),
    "5.1": ("Depth vs width: RMSE", {
        "plots": "RMSE vs total hidden units and vs parameters, three curves each (the "
                 "function, the counts, the data set and the RMSEs are checked)."}),
    "5.2": ("Depth vs width: trade-off", {
        "tradeoff": "Parameters vs RMSE from deep to shallow; training time vs parameters."}),
}


def problems(key: dict, cfg: AssignmentConfig) -> list[Problem]:
    """The handout's order; a part graded by hand keeps its manual points beside the checks
    of the same problem."""
    checks = {**adaptive_problems.problems(cfg),
              **scaling_problems.problems(key["scaling"], cfg),
              **augmentation_problems.problems(cfg), **depth_width_problems.problems(cfg)}
    hand = {pid: Problem(pid, title, checks.get(pid, []), dict(parts))
            for pid, (title, parts) in HAND_GRADED.items()}
    return ([hand[p] for p in hand if p[0] in "12"] + cnn_problems.problems(key["cnn"], cfg)
            + [hand[p] for p in hand if p[0] in "45"])
