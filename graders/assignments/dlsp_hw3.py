"""dlsp-hw3, Practical Deep Learning System Performance Homework 3 (Fall 2020).

Checked automatically so far, each in a module of its own that names what it reads:
  1.1, 1.4  the five update functions and the dropout weight scale, probed on hidden
            problems (graders/assignments/adaptive_problems.py)
  2.1-2.4   the student's measured scaling table: batch sizes, and their times, costs and
            weak-scaling efficiency consistent with their own numbers (scaling_problems.py)
  3.1-3.4   AlexNet, VGG19, receptive field, inception counts (cnn_problems.py)
  4.1, 4.3  the cutout function, drawn many times on a hidden image, and batch augmentation
            (augmentation_problems.py)
  5.1       the Eggholder function and the networks' parameter counts (depth_width_problems.py)
Every other part of the handout is a manual part with its points (`HAND_GRADED`), so every
report and the gradebook carry all 130 points; issue 11's next steps replace more of them
with checks (the curves of 1.2-1.3, the all-reduce variants of 2.5-2.6, the curves and
epochs-to-94% table of 4.2-4.3, the data set and RMSE of 5.1). Graded names carry their
problem's number (names.py); counts may be written as text (`3.2M`: graders/checks/
quantities.py).
"""

from __future__ import annotations

from graders.assignment import Problem
from graders.assignments import (adaptive_problems, augmentation_problems, cnn_problems,
                                 depth_width_problems, scaling_problems)
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


#: Problems graded by hand until their checks exist: id -> (title, {part: what is graded}).
HAND_GRADED = {
    "1.1": ("Adaptive methods: update equations", {
        "terms": "The five update equations written out, each term explained, the "
                 "hyperparameters (the code is checked).",
        "differences": "How AdaDelta and Adam differ from RMSProp."}),
    "1.2": ("Adaptive methods: 200 epochs with L2", {
        "curves": "Training loss vs epochs for the five methods; which is best."}),
    "1.3": ("Adaptive methods: with dropout", {
        "curves": "Training loss with dropout, best method, training times compared."}),
    "1.4": ("Adaptive methods: test accuracy", {
        "accuracy": "Test accuracy with and without dropout compared (the weight scaling is "
                    "checked)."}),
    "2.1": ("Scaling: throughput", {
        "plot": "Throughput vs learners, weak and strong (the batch sizes are checked)."}),
    "2.2": ("Scaling: training time", {
        "plot": "Training time vs learners, weak and strong (time vs throughput checked)."}),
    "2.3": ("Scaling: training cost", {
        "plot": "Training cost vs learners, weak and strong (cost vs time checked)."}),
    "2.4": ("Scaling: weak-scaling efficiency", {
        "plot": "Scaling efficiency vs learners for weak scaling (the values are checked)."}),
    "2.5": ("Scaling: single-node all-reduce", {
        "compare": "NCCL, HierarchicalCopy and ReductionToOneDevice throughput, 1-8 GPUs."}),
    "2.6": ("Scaling: multi-worker collectives", {
        "compare": "AUTO, NCCL and RING throughput on 2 nodes; is AUTO best?"}),
    "4.1": ("Cutout", {"explain": "Cutout and its advantages over dropout.",
                       "images": "Two CIFAR-10 images and their cutout versions (the cutout "
                                 "function is checked)."}),
    "4.2": ("ResNet-44 with simple augmentation", {
        "curve": "Validation error vs epochs, batch size 64."}),
    "4.3": ("Batch augmentation with cutout", {
        "curves": "Validation error vs epochs for M = 2, 4, 8, 16, 32 (the batch "
                  "augmentation is checked).",
        "epochs_to_94": "Epochs and wall-clock time to 94% for each M."}),
    "5.1": ("Depth vs width: RMSE", {
        "rmse": "The data set, 1-3 hidden layers within the unit budget, RMSE vs units and "
                "vs parameters (the function and the counts are checked)."}),
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
