"""The sparse-optimisation lab, shared by duke-hw2 (3.1-3.6) and duke-hw4 (Lab 1 (a)-(g)).

One implementation of the checks; each assignment maps its numbering, wording and points onto
the lab's parts (`LabPart`). What the grader reads, named by the problem (graders/assignments/
names.py: P = "p3_1" for duke-hw2 3.1, "lab1_b" for duke-hw4 (b); both templates list them;
dicts are keyed by the lambda or threshold as a number):

  update     P_W_next   sympy Matrix (5, 1): W^{k+1} in mu, w1..w5, x11..x35, y1..y3
  gd, prune  P_logL (201,), P_W (201, 5); P_optimal, P_sparse: bool
  l1         P_logL {lam: (201,)}, P_W {lam: (201, 5)}, lam in 0.2, 0.5, 1, 2
  proximal   P_logL {t: (201,)}, P_W {t: (201, 5)}, t in 0.004, 0.01, 0.02, 0.04
  trimmed    P_logL {t: (201,)}, P_W {t: (201, 5)}, t in 0.02, 0.04, 0.1, 0.2
  two_point  P_logL_<m>, P_W_<m> for m in prune, l1, prox, trim, on the first two data
             points: every listed value (need="all", duke-hw2 3.6) or one value per method
             (need="one", duke-hw4 (g))

log L is the natural log of L = sum_i (x_i W - y_i)^2 (base 10 accepted); row k of a history
belongs to W^k (graders/checks/forms.py: 200 rows recorded before or after each step too).
Conventions (NOTES.md), accepted in grader.toml: sign0 (sign(0) in the l1 subgradient), ties
(which of equal magnitudes counts as smaller when pruning or trimming) and trim_on (trimmed
l1 chooses its entries after the gradient step or before it, as the paper does). Variants
that give the same history are merged, and a convention that changes nothing for a history
is not named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np

from graders.assignment import Problem
from graders.assignments.names import graded
from graders.checks import forms
from graders.checks.base import Check, Outcome, Probe, ProbeResult, best_variant, show
from graders.checks.combined import GroupCheck
from graders.checks.numeric import ExactCheck, TrajectoryCheck
from graders.checks.symbolic import SymbolicCheck
from graders.config import AssignmentConfig
from graders.settings import NONNEGATIVE, PROBABILITY, Setting

#: Tolerance settings the lab reads from [assignments.ID.tolerances].
TOLERANCES = {
    "lab_rtol": NONNEGATIVE, "lab_atol": NONNEGATIVE,
    "lab_log_floor": Setting("number", maximum=0, help="log L below which both sides count as "
                                                       "converged, at most 0 (e.g. -50)"),
    "partial_credit_from": PROBABILITY,
}
#: The lab's open conventions and their variants.
CONVENTIONS = {"sign0": ["sign0=0", "sign0=1"],
               "ties": ["ties=lowest-index", "ties=highest-index"],
               "trim_on": ["trim_on=after-step", "trim_on=before-step"]}
PARTS = ("update", "gd", "prune", "l1", "proximal", "trimmed", "two_point")
#: method -> (name stem in two_point, the conventions that matter for it, sweep key prefix)
METHODS = {"gd": ("gd", (), None), "prune": ("prune", ("ties",), None),
           "l1": ("l1", ("sign0",), "lam"), "proximal": ("prox", (), "t"),
           "trimmed": ("trim", ("ties", "trim_on"), "t")}
COMPONENTS = ("w1", "w2", "w3", "w4", "w5")


@dataclass(frozen=True)
class LabPart:
    """One problem of an assignment that is a part of the lab."""

    problem_id: str
    part: str  # one of PARTS
    title: str
    manual: dict[str, str] = field(default_factory=dict)


class FinalWeightCheck(Check):
    """The last row of the student's W history against the key's row it stands for (W^200,
    or W^199 for a history recorded before each step), and its sparsity: a final W off the key
    is reported with its count of nonzeros (|w_j| > zero_tol)."""

    kind = "numeric"

    def __init__(self, id, title, probe: Probe, variants: dict, accepted: list[str],
                 rtol: float, atol: float, keep: int = 2, zero_tol: float = 1e-8):
        super().__init__(id, title, [probe])
        self.variants = {k: np.asarray(v, dtype=float) for k, v in variants.items()}
        self.accepted, self.rtol, self.atol = accepted, rtol, atol
        self.keep, self.zero_tol = keep, zero_tol

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        value = results[self.probes[0].id].value
        tolerance = f"rtol {self.rtol:g}, atol {self.atol:g}"

        def score(key: np.ndarray) -> Outcome:
            readings = forms.histories(value, key)
            if isinstance(readings, str):
                return Outcome(0.0, f"no final W: {readings}", show(value), show(key[-1]),
                               tolerance)
            return max((self._final(form, arr[-1], part[-1], tolerance)
                        for form, arr, part in readings), key=lambda o: o.fraction)

        return best_variant(self.variants, self.accepted, score)

    def _final(self, form: str, final: np.ndarray, key: np.ndarray, tolerance: str) -> Outcome:
        nnz = int(np.sum(np.abs(final) > self.zero_tol))
        if np.isfinite(final).all() and np.allclose(final, key, rtol=self.rtol, atol=self.atol):
            return Outcome(1.0, f"final W correct ({nnz} nonzero)", show(final), show(key),
                           tolerance, form or None)
        sparsity = (f"||W||_0 = {nnz} > {self.keep}: not sparse" if nnz > self.keep
                    else f"||W||_0 = {nnz}")
        key_nnz = int(np.sum(np.abs(key) > self.zero_tol))
        return Outcome(0.0, f"final W is not the answer ({sparsity})", show(final), show(key),
                       tolerance, detail=f"the key's final W has {key_nnz} nonzero")


def distinct(variants: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The variants whose arrays differ (the first of equal ones kept), named only by the
    conventions that still tell them apart ("ties=lowest-index, trim_on=before-step" ->
    "trim_on=before-step" where ties changes nothing)."""
    kept: dict[str, np.ndarray] = {}
    for name, arr in variants.items():
        if not any(np.array_equal(arr, other) for other in kept.values()):
            kept[name] = arr
    parts = {name: name.split(", ") for name in kept}
    common = set.intersection(*(set(p) for p in parts.values())) if len(kept) > 1 else set()
    return {", ".join(p for p in parts[name] if p not in common) or name: arr
            for name, arr in kept.items()}


def _entries(entries, conventions: tuple[str, ...], cfg: AssignmentConfig) -> dict:
    """{variant name: entry} for the accepted combinations of `conventions` ({"key": E}
    without one)."""
    if not conventions:
        return {"key": entries}
    names = (", ".join(combo) for combo in product(*(cfg.conventions[c] for c in conventions)))
    return {name: entries[name] for name in names}


def problems(key: dict, cfg: AssignmentConfig, parts: list[LabPart],
             two_point_need: str) -> list[Problem]:
    """The assignment's Problems for its lab parts (key = the sparse topic of its key)."""
    tol = cfg.tolerances
    history = dict(rtol=tol["lab_rtol"], atol=tol["lab_atol"],
                   partial_from=tol["partial_credit_from"])
    value = lambda name: Probe(name, "value", name)  # noqa: E731

    def histories(names: tuple[str, str], entries: dict, select: float | None) -> list[Check]:
        logs = distinct({v: np.asarray(e["log_L"]) for v, e in entries.items()})
        W = distinct({v: np.asarray(e["W"]) for v, e in entries.items()})
        return [
            TrajectoryCheck("logL", "log L", value(names[0]), logs, list(logs),
                            floor=tol["lab_log_floor"], ylabel="log L", labels=("log L",),
                            select=select, log=True, **history),
            TrajectoryCheck("W", "W", value(names[1]), W, list(W), floor=-np.inf, ylabel="W",
                            labels=COMPONENTS, select=select, **history),
        ]

    def sweep(method: str, data: str, names: tuple[str, str]) -> dict[str, list[Check]]:
        """{"lam=0.5": [logL check, W check], ...}, or {"": [...]} for a method without one."""
        _, conventions, prefix = METHODS[method]
        lab = key[data][method]
        if prefix is None:
            return {"": histories(names, _entries(lab, conventions, cfg), None)}
        return {label: histories(names, _entries(entries, conventions, cfg),
                                 float(label.split("=", 1)[1]))
                for label, entries in lab.items()}

    def answer(part: LabPart) -> list[Check]:
        name = lambda stem: graded(part.problem_id, stem)  # noqa: E731
        entries = _entries(key["three_point"][part.part], METHODS[part.part][1], cfg)
        W = distinct({v: np.asarray(e["W"]) for v, e in entries.items()})
        first = next(iter(entries.values()))  # the yes/no answers do not depend on a convention
        return [
            GroupCheck("history", "log L and W over 200 steps",
                       sweep(part.part, "three_point", (name("logL"), name("W")))),
            FinalWeightCheck("final", "final W and its sparsity", value(name("W")), W, list(W),
                             rtol=tol["lab_rtol"], atol=tol["lab_atol"]),
            ExactCheck("optimal", "is W converging to an optimal solution?",
                       value(name("optimal")), {"key": first["optimal"]}, ["key"]),
            ExactCheck("sparse", "is W converging to a sparse solution?",
                       value(name("sparse")), {"key": first["sparse"]}, ["key"]),
        ]

    def build(part: LabPart) -> list[Check]:
        names = (graded(part.problem_id, "logL"), graded(part.problem_id, "W"))
        if part.part == "update":
            return [SymbolicCheck("update", "W^{k+1} of full-batch GD on the summed loss",
                                  value(graded(part.problem_id, "W_next")),
                                  {"sum": key["symbolic_update"]}, ["sum"])]
        if part.part in ("gd", "prune"):
            return answer(part)
        if part.part == "two_point":
            return [GroupCheck(method, f"{method}, two data points",
                               sweep(method, "two_point",
                                     tuple(f"{n}_{METHODS[method][0]}" for n in names)),
                               need=two_point_need if METHODS[method][2] else "all")
                    for method in ("prune", "l1", "proximal", "trimmed")]
        return [GroupCheck(label, f"{label}: log L and W over 200 steps", {label: checks})
                for label, checks in sweep(part.part, "three_point", names).items()]

    return [Problem(p.problem_id, p.title, build(p), dict(p.manual)) for p in parts]
