"""dlsp-hw3 Problem 1: the adaptive methods as code, probed on hidden problems.

What the grader reads (student_template/dlsp-hw3/hw3.ipynb names them):

  1.1  p1_1_adagrad, p1_1_rmsprop, p1_1_rmsprop_nesterov, p1_1_adadelta, p1_1_adam
       (A, b, w0, steps, hyper) -> array (steps + 1, d): w_0 .. w_steps of the method
       minimising L(w) = 1/2 w^T A w - b^T w, whose gradient is g(w) = A w - b, from w0
       (A (d, d), b (d,), w0 (d,) arrays; hyper a dict of torch.optim's hyperparameter names:
       lr, eps; alpha (RMSProp); momentum (+Nesterov); rho (AdaDelta); beta1, beta2 (Adam)).
       Every accumulator starts at 0 and is carried from step to step.
  1.2  p1_2_train_loss    {method: training loss per epoch}, 200 epochs without dropout
  1.3  p1_3_train_loss    the same with dropout
       p1_2_time_s, p1_3_time_s   {method: seconds to train 200 epochs}, without and with
                          dropout
  1.4  p1_4_test_weight_scale(p_drop) -> float: the factor on a layer's outgoing weights at
       test time after training with dropout probability p_drop.
       p1_4_accuracy, p1_4_accuracy_dropout   {method: test accuracy}, a fraction or a
                          percent, without and with dropout
Methods are keyed as the student names them ("Adam", "RMSProp+Nesterov", "rmsprop_nesterov":
graders/checks/reported.py), or listed in the handout's order. The curves are checked for
what can be checked of runs we cannot repeat (graders/checks/curves.py: 200 or 201 points,
finite, falling); which method is best, and the comparisons, are manual.

Each function is called on HIDDEN_CASES (random symmetric positive definite A, b, w0, seeded
here, never shown) and its history compared with reference/adaptive.py's, step by step
(TrajectoryCheck: steps + 1 rows, or steps recorded before or after each step).

Forms the text leaves open, as named variants (grader.toml [conventions]):
  eps                 "torch": eps outside the root, Adam bias-corrected as torch.optim;
                      "textbook": eps inside the root (Goodfellow et al. Alg. 8.4, 8.5, 8.6)
                      and Adam's eps-hat ordering (Kingma & Ba, end of Sec. 2)
  nesterov_form       "reformulated": the parameters held are the look-ahead point, where the
                      gradient is taken (torch's SGD(nesterov=True) on the scaled gradient);
                      "look-ahead": Goodfellow et al. Alg. 8.6's theta, the gradient taken at
                      theta + momentum * v. torch's RMSprop(momentum=...) (no look-ahead) is
                      neither: a mistake.
  dropout_scaling     "classic" (W_test = (1 - p) W) or "inverted" (scaled in training: 1).
"""

from __future__ import annotations

import numpy as np

from graders.assignments.names import graded
from graders.checks.base import Check, Probe
from graders.checks.combined import GroupCheck
from graders.checks.curves import curves
from graders.checks.numeric import ArrayCheck, TrajectoryCheck
from graders.checks.reported import Names, ReportedCheck, positive, shares
from graders.config import AssignmentConfig
from graders.settings import NONNEGATIVE
from graders.wire import encode_array
from reference import adaptive

TOLERANCES = {"adaptive_rtol": NONNEGATIVE, "adaptive_atol": NONNEGATIVE}
CONVENTIONS = {"eps": ["torch", "textbook"], "nesterov_form": ["reformulated", "look-ahead"],
               "dropout_scaling": ["classic", "inverted"]}
#: Hyperparameters of the hidden runs: steps large enough that every method moves, eps large
#: enough that its placement (inside or outside the root) shows.
HYPER = {"adagrad": {"lr": 0.3, "eps": 0.1}, "rmsprop": {"lr": 0.05, "alpha": 0.9, "eps": 0.05},
         "rmsprop_nesterov": {"lr": 0.05, "alpha": 0.9, "momentum": 0.8, "eps": 0.05},
         "adadelta": {"lr": 1.0, "rho": 0.9, "eps": 1e-3},
         "adam": {"lr": 0.1, "beta1": 0.9, "beta2": 0.99, "eps": 0.05}}
#: The textbook's forms of each method: reference.adaptive's flags.
TEXTBOOK = {"adagrad": {"eps_inside_sqrt": True}, "rmsprop": {"eps_inside_sqrt": True},
            "rmsprop_nesterov": {"eps_inside_sqrt": True}, "adam": {"eps_hat": True}}
#: AdaDelta's only form (Zeiler's eps placement, as torch.optim.Adadelta).
ONE_FORM = "Zeiler"
TITLES = {"adagrad": "AdaGrad", "rmsprop": "RMSProp", "rmsprop_nesterov": "RMSProp + Nesterov",
          "adadelta": "AdaDelta", "adam": "Adam"}
SEED, CASES, STEPS, DIM = 2020, 2, 8, 3
P_DROP = (0.2, 0.5, 0.35)
#: The five methods as students key them (besides their own names, compared without case or
#: punctuation).
METHODS = Names({"adagrad": ("AdaGrad",), "rmsprop": ("RMSProp",),
                 "rmsprop_nesterov": ("RMSProp+Nesterov", "Nesterov RMSProp",
                                      "RMSProp with Nesterov", "NRMSProp"),
                 "adadelta": ("AdaDelta",), "adam": ("Adam",)})
#: 200 epochs: a loss per epoch, or 201 values with the loss before training.
EPOCHS = (200, 201)


def hidden_cases() -> list[dict]:
    """CASES quadratics: A = Q^T Q + I (d, d), b and w0 ~ N(0, 1) (d,), seeded by SEED."""
    rng = np.random.default_rng(SEED)
    cases = []
    for _ in range(CASES):
        q = rng.normal(size=(DIM, DIM))
        cases.append({"A": q.T @ q + np.eye(DIM), "b": rng.normal(size=DIM),
                      "w0": rng.normal(size=DIM)})
    return cases


def look_ahead_history(case: dict, hyper: dict, flags: dict) -> np.ndarray:
    """Goodfellow's theta_t = w_t + lr * momentum * b_t for reference.adaptive's reformulated
    RMSProp + Nesterov (w the look-ahead point, b its momentum buffer), t = 0 .. STEPS."""
    w, state = np.asarray(case["w0"], dtype=float), None
    thetas = [w]
    for _ in range(STEPS):
        w, state = adaptive.rmsprop_nesterov_step(w, case["A"] @ w - case["b"], state,
                                                  **hyper, **flags)
        thetas.append(w + hyper["lr"] * hyper["momentum"] * state["b"])
    return np.stack(thetas)


def hidden_key() -> dict:
    """{method: [{variant name: history (STEPS + 1, DIM)} per hidden case]}, the cases, and
    the dropout scales: every history from reference/adaptive.py. Built with the problems,
    not cached with the key (microseconds; the cache keys on the assignment module only)."""
    cases = hidden_cases()

    def history(method: str, case: dict, flags: dict) -> np.ndarray:
        return adaptive.run(adaptive.METHODS[method], case["w0"],
                            lambda w: case["A"] @ w - case["b"], STEPS,
                            **HYPER[method], **flags)[0]

    key = {}
    for method in adaptive.METHODS:
        forms = {"torch": {}, "textbook": TEXTBOOK[method]} if method in TEXTBOOK else {
            ONE_FORM: {}}
        key[method] = []
        for case in cases:
            variants = {}
            for eps, flags in forms.items():
                if method == "rmsprop_nesterov":
                    variants[f"reformulated/{eps}"] = history(method, case, flags)
                    variants[f"look-ahead/{eps}"] = look_ahead_history(case, HYPER[method],
                                                                       flags)
                else:
                    variants[eps] = history(method, case, flags)
            key[method].append(variants)
    return {"cases": cases, "histories": key, "dropout": {
        "classic": [adaptive.dropout_weight_scale(p) for p in P_DROP],
        "inverted": [adaptive.dropout_weight_scale(p, inverted=True) for p in P_DROP]}}


def problems(cfg: AssignmentConfig) -> dict[str, list[Check]]:
    """Problem 1's checks by problem id: 1.1's methods, 1.2-1.3's curves and times, 1.4's
    dropout scaling and accuracies."""
    tol, conv, key = cfg.tolerances, cfg.conventions, hidden_key()
    accepted = {m: conv["eps"] if m in TEXTBOOK else [ONE_FORM] for m in adaptive.METHODS}
    accepted["rmsprop_nesterov"] = [f"{form}/{eps}" for form in conv["nesterov_form"]
                                    for eps in conv["eps"]]

    def method_check(method: str) -> GroupCheck:
        name = graded("1.1", method)
        groups = {}
        for i, (case, variants) in enumerate(zip(key["cases"], key["histories"][method])):
            probe = Probe(f"{name} case {i + 1}", "call", name, (
                encode_array(case["A"]), encode_array(case["b"]), encode_array(case["w0"]),
                STEPS, dict(HYPER[method])))
            groups[f"case {i + 1}"] = [TrajectoryCheck(
                "history", f"{TITLES[method]}: w per step", probe, variants,
                accepted[method], rtol=tol["adaptive_rtol"], atol=tol["adaptive_atol"],
                floor=-np.inf, ylabel="w", labels=tuple(f"w{j + 1}" for j in range(DIM)),
                partial_from=1.0)]
        return GroupCheck(method, f"{TITLES[method]} on hidden problems", groups)

    scale = graded("1.4", "test_weight_scale")
    scales = {f"p={p:g}": [ArrayCheck(
        "scale", f"test-time weight scale for p = {p:g}",
        Probe(f"{scale}({p:g})", "call", scale, (p,)),
        {form: values[i] for form, values in key["dropout"].items()}, conv["dropout_scaling"],
        rtol=tol["adaptive_rtol"], atol=tol["adaptive_atol"])] for i, p in enumerate(P_DROP)}
    def value(problem: str, name: str) -> Probe:
        return Probe(graded(problem, name), "value", graded(problem, name))

    def loss_curves(problem: str, runs: str) -> ReportedCheck:
        return ReportedCheck("curves", f"training loss of the five methods, {runs}",
                             [(value(problem, "train_loss"), (METHODS,))],
                             curves(f"training loss, {runs}", (METHODS,), EPOCHS, "loss"))

    times = GroupCheck("times", "training times of 200 epochs", {runs: [ReportedCheck(
        "time", "seconds", [(value(problem, "time_s"), (METHODS,))],
        positive(graded(problem, "time_s"), (METHODS,)))]
        for problem, runs in (("1.2", "without dropout"), ("1.3", "with dropout"))})
    accuracy = GroupCheck("accuracy", "test accuracy of the five methods", {runs: [ReportedCheck(
        "accuracy", "test accuracy", [(value("1.4", name), (METHODS,))],
        shares(graded("1.4", name), (METHODS,)))]
        for name, runs in (("accuracy", "without dropout"), ("accuracy_dropout", "with dropout"))})
    return {"1.1": [method_check(m) for m in adaptive.METHODS],
            "1.2": [loss_curves("1.2", "without dropout")],
            "1.3": [loss_curves("1.3", "with dropout"), times],
            "1.4": [GroupCheck("dropout_scale", "test-time weight scale after dropout",
                               scales), accuracy]}
