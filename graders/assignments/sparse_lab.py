"""The sparse-optimisation lab, shared by duke-hw2 (3.1-3.6) and duke-hw4 (Lab 1 (a)-(g)).

One implementation of the checks; each assignment maps its numbering, wording and points onto
the lab's parts (`LabPart`). What the grader reads (both templates name these; dicts are keyed
by the lambda or threshold as a number):

  update     W_next_lab   sympy Matrix (5, 1): W^{k+1} in mu, w1..w5, x11..x35, y1..y3
  gd         logL_gd (201,), W_gd (201, 5); gd_optimal, gd_sparse: bool
  prune      logL_prune (201,), W_prune (201, 5); prune_optimal, prune_sparse: bool
  l1         logL_l1 {lam: (201,)}, W_l1 {lam: (201, 5)}, lam in 0.2, 0.5, 1, 2
  proximal   logL_prox {t: (201,)}, W_prox {t: (201, 5)}, t in 0.004, 0.01, 0.02, 0.04
  trimmed    logL_trim {t: (201,)}, W_trim {t: (201, 5)}, t in 0.02, 0.04, 0.1, 0.2
  two_point  the same names with the suffix _2pt for prune, l1, prox and trim, on the first
             two data points: every listed value (need="all", duke-hw2 3.6) or one value per
             method (need="one", duke-hw4 (g))

log L is the natural log of L = sum_i (x_i W - y_i)^2; row k of a history belongs to W^k.
Conventions (NOTES.md), accepted in grader.toml: sign0 (sign(0) in the l1 subgradient) and
ties (which of equal magnitudes counts as smaller when pruning or trimming). Where a variant
changes nothing for a data set (reference.sparse's variant_changes), it is not named.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graders.assignment import Problem
from graders.checks.base import (Check, Outcome, Probe, ProbeResult, as_float_array,
                                 best_variant, show)
from graders.checks.combined import GroupCheck
from graders.checks.numeric import ExactCheck, TrajectoryCheck
from graders.checks.symbolic import SymbolicCheck
from graders.config import AssignmentConfig

#: Tolerance settings the lab reads from [assignments.ID.tolerances].
TOLERANCES = {"lab_rtol", "lab_atol", "lab_log_floor", "partial_credit_from"}
#: The lab's open conventions and their variants.
CONVENTIONS = {"sign0": ["sign0=0", "sign0=1"],
               "ties": ["ties=lowest-index", "ties=highest-index"]}
PARTS = ("update", "gd", "prune", "l1", "proximal", "trimmed", "two_point")
#: method -> (student's name stem, the convention that matters for it, sweep key prefix)
METHODS = {"gd": ("gd", None, None), "prune": ("prune", "ties", None),
           "l1": ("l1", "sign0", "lam"), "proximal": ("prox", None, "t"),
           "trimmed": ("trim", "ties", "t")}
COMPONENTS = ("w1", "w2", "w3", "w4", "w5")


@dataclass(frozen=True)
class LabPart:
    """One problem of an assignment that is a part of the lab."""

    problem_id: str
    part: str  # one of PARTS
    title: str
    manual: dict[str, str] = field(default_factory=dict)


class FinalWeightCheck(Check):
    """The last row of the student's W history (W^200) against the key's, and its sparsity:
    a final W off the key is reported with its count of nonzeros (|w_j| > zero_tol)."""

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
            arr = as_float_array(value)
            if arr is None or arr.ndim != 2 or arr.shape[1] != key.size or not len(arr):
                shape = "" if arr is None else f", got shape {arr.shape}"
                return Outcome(0.0, f"no final W: expected a history of shape (steps + 1, "
                               f"{key.size}){shape}", show(value), show(key), tolerance)
            final = arr[-1]
            nnz = int(np.sum(np.abs(final) > self.zero_tol))
            key_nnz = int(np.sum(np.abs(key) > self.zero_tol))
            if np.isfinite(final).all() and np.allclose(final, key, rtol=self.rtol,
                                                        atol=self.atol):
                return Outcome(1.0, f"final W correct ({nnz} nonzero)", show(final), show(key),
                               tolerance)
            sparsity = (f"||W||_0 = {nnz} > {self.keep}: not sparse" if nnz > self.keep
                        else f"||W||_0 = {nnz}")
            return Outcome(0.0, f"final W differs from the key ({sparsity}; the key's has "
                           f"{key_nnz} nonzero)", show(final), show(key), tolerance)

        return best_variant(self.variants, self.accepted, score)


def _variants(entries: dict, convention: str | None, changes: bool, cfg: AssignmentConfig):
    """(variants, accepted) from `entries` keyed by variant name ({"key": E} without a
    convention): a single variant where the convention changes nothing, so none is named."""
    if convention is None:
        return entries, ["key"]
    accepted = cfg.conventions[convention]
    if not changes:
        return {accepted[0]: entries[accepted[0]]}, [accepted[0]]
    return {v: entries[v] for v in accepted}, accepted


def problems(key: dict, cfg: AssignmentConfig, parts: list[LabPart],
             two_point_need: str) -> list[Problem]:
    """The assignment's Problems for its lab parts (key = the sparse topic of its key)."""
    tol = cfg.tolerances
    history = dict(rtol=tol["lab_rtol"], atol=tol["lab_atol"],
                   partial_from=tol["partial_credit_from"])
    value = lambda name: Probe(name, "value", name)  # noqa: E731

    def histories(method: str, data: str, entries: dict, select: float | None) -> list[Check]:
        stem, convention, _ = METHODS[method]
        suffix = "_2pt" if data == "two_point" else ""
        changes = key["variant_changes"][data].get(method, False)
        variants, accepted = _variants(entries, convention, changes, cfg)
        logs = {v: np.asarray(e["log_L"])[:, None] for v, e in variants.items()}
        if all(np.array_equal(a, logs[accepted[0]]) for a in logs.values()):
            logs = {accepted[0]: logs[accepted[0]]}  # log L cannot tell these variants apart
        return [
            TrajectoryCheck("logL", "log L", value(f"logL_{stem}{suffix}"), logs,
                            list(logs), floor=tol["lab_log_floor"], ylabel="log L",
                            labels=("log L",), select=select, flat_ok=True, **history),
            TrajectoryCheck("W", "W", value(f"W_{stem}{suffix}"),
                            {v: e["W"] for v, e in variants.items()}, accepted,
                            floor=-np.inf, ylabel="W", labels=COMPONENTS, select=select,
                            **history),
        ]

    def sweep(method: str, data: str) -> dict[str, list[Check]]:
        """{"lam=0.5": [logL check, W check], ...}, or {"": [...]} for a method without one."""
        _, convention, prefix = METHODS[method]
        lab = key[data][method]
        wrap = (lambda e: e) if convention else (lambda e: {"key": e})  # noqa: E731
        if prefix is None:
            return {"": histories(method, data, wrap(lab), None)}
        return {label: histories(method, data, wrap(entries), float(label.split("=", 1)[1]))
                for label, entries in lab.items()}

    def answer(method: str) -> list[Check]:
        stem = METHODS[method][0]
        entry = key["three_point"][method]
        entries = entry if METHODS[method][1] else {"key": entry}  # by variant name
        variants, accepted = _variants(entries, METHODS[method][1],
                                       key["variant_changes"]["three_point"].get(method, False),
                                       cfg)
        groups = sweep(method, "three_point")
        return [
            GroupCheck("history", "log L and W over 200 steps", groups),
            FinalWeightCheck("final", "final W and its sparsity", value(f"W_{stem}"),
                             {v: e["W_final"] for v, e in variants.items()}, accepted,
                             rtol=tol["lab_rtol"], atol=tol["lab_atol"]),
            ExactCheck("optimal", "is W converging to an optimal solution?",
                       value(f"{stem}_optimal"), {"key": entry_of(variants)["optimal"]},
                       ["key"]),
            ExactCheck("sparse", "is W converging to a sparse solution?",
                       value(f"{stem}_sparse"), {"key": entry_of(variants)["sparse"]}, ["key"]),
        ]

    def build(part: LabPart) -> list[Check]:
        if part.part == "update":
            return [SymbolicCheck("update", "W^{k+1} of full-batch GD on the summed loss",
                                  value("W_next_lab"), {"sum": key["symbolic_update"]},
                                  ["sum"])]
        if part.part in ("gd", "prune"):
            return answer(part.part)
        if part.part == "two_point":
            return [GroupCheck(method, f"{method}, two data points", sweep(method, "two_point"),
                               need=two_point_need if METHODS[method][2] else "all")
                    for method in ("prune", "l1", "proximal", "trimmed")]
        return [GroupCheck(label, f"{label}: log L and W over 200 steps", {label: checks})
                for label, checks in sweep(part.part, "three_point").items()]

    return [Problem(p.problem_id, p.title, build(p), dict(p.manual)) for p in parts]


def entry_of(variants: dict) -> dict:
    """Any one variant's entry: the yes/no answers do not depend on the convention."""
    return next(iter(variants.values()))
