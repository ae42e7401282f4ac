"""dlsp-hw3 Problem 2.1-2.4: the student's measured scaling table, checked for consistency.

What the grader reads (student_template/dlsp-hw3/hw3.ipynb names them), lists aligned with
p2_learners ([1, 2, 4, 8, 16]); MODE is strong or weak:

  p2_learners                 list of int
  p2_price_per_gpu_hour       number: the price the costs were computed with
  p2_MODE_batch_per_worker    list: samples per learner per iteration
  p2_MODE_throughput          list: samples per second, all learners together
  p2_MODE_time_s              list: training time of the 10 epochs, seconds
  p2_MODE_cost                list: training cost, in the price's currency
  p2_4_weak_efficiency        list: weak-scaling efficiency per learner count
  p2_5_throughput             {all-reduce: {GPUs: samples per second}}: NCCL,
                              HierarchicalCopy, ReductionToOneDevice on 1, 2, 4, 8 GPUs
                              (keyed 2, "2", "2 GPUs", or lists in that order)
  p2_6_throughput             {collective: samples per second}: AUTO, NCCL, RING, 2 nodes

Their measurements are theirs; the arithmetic is graded (reference/scaling.py):
  2.1  batches: strong B / n per learner, weak B (the handout's effective batch, "B", or its
       illustration's 64, "text-example": named variants), against the key's
  2.2  time = samples / throughput (epochs x training set), within scaling_rtol
  2.3  cost = time / 3600 x learners x price, within scaling_rtol
  2.4  efficiency from their own iteration times t(n) = global batch / throughput:
       t(1) / t(n) (1 for perfect weak scaling); grader.toml's `weak_efficiency` may also
       accept the literal increase t(n) / t(1) (by default it is the known mistake, an
       inverted efficiency)
  2.5  every all-reduce on every GPU count, positive (plotted in the report); NCCL is part
       1's default, which the text lets them reuse: within scaling_rtol of their own 2.1
       throughput (strong or weak runs, named) on 1, 2, 4, 8 learners
  2.6  AUTO, NCCL and RING positive; AUTO is part 1's 16 learners on 2 nodes: within
       scaling_rtol of their own 2.1 throughput there
  Which is fastest, and whether AUTO is best, are manual.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from graders.assignments.names import graded
from graders.checks.base import Check, Outcome, Plot, Probe
from graders.checks.combined import GroupCheck
from graders.checks.consistency import ConsistencyCheck
from graders.checks.numeric import ArrayCheck
from graders.checks.reported import Counts, Names, ReportedCheck, positive
from graders.config import AssignmentConfig
from graders.settings import number_in
from reference import scaling

TOLERANCES = {"scaling_rtol": number_in(0, 0.5, "a relative tolerance in [0, 0.5]")}
EFFICIENCY = {"t1/tn": scaling.weak_scaling_efficiency, "tn/t1": scaling.iteration_time_ratio}
CONVENTIONS = {"weak_batch": ["B", "text-example"], "weak_efficiency": list(EFFICIENCY)}
#: 2.5's single-node all-reduce implementations and GPU counts; 2.6's collectives on 2 nodes.
ALL_REDUCE = Names({"NCCL": ("NcclAllReduce",), "HierarchicalCopy": (
    "HierarchicalCopyAllReduce", "Hierarchical"), "ReductionToOneDevice": ("ReductionToOne",)})
GPUS = Counts((1, 2, 4, 8), "GPUs")
COLLECTIVES = Names({"AUTO": (), "NCCL": (), "RING": ()})
#: Learners of part 1's run that 2.6's AUTO repeats (2 nodes of 8 GPUs).
TWO_NODES = 16


def measured(name: str, axes: tuple) -> Callable:
    """positive(), and the table plotted: one curve per implementation over the GPU counts."""
    check = positive(name, axes)

    def judge(tables: list[dict]) -> Outcome:
        outcome = check(tables)
        names, counts = list(axes[0].names), axes[1].counts
        curves = np.array([[float(np.ravel(tables[0][v, n])[0]) for v in names]
                           for n in counts])
        outcome.plots = [Plot(f"{name} (your runs) at {', '.join(map(str, counts))} GPUs",
                              "samples / s", curves, None, labels=tuple(names))]
        return outcome
    return judge


def value(name: str) -> Probe:
    return Probe(graded("2", name), "value", graded("2", name))


def problems(key: dict, cfg: AssignmentConfig) -> dict[str, list[Check]]:
    """Problem 2's checks, by problem id; `key` is the scaling topic's."""
    tol, conv = cfg.tolerances, cfg.conventions
    rtol = tol["scaling_rtol"]
    example = key["example"]["strong"]
    samples = example["throughput"][0] * example["time_s"][0]  # epochs x training set
    batches = key["batches"]
    learners, price = value("learners"), value("price_per_gpu_hour")

    def per_mode(check_id: str, title: str, build) -> GroupCheck:
        return GroupCheck(check_id, title, {m: [build(m)] for m in scaling.MODES})

    def batch(mode: str) -> Check:
        variants = ({"B/n": batches["strong"]["per_worker"]} if mode == "strong" else
                    {"B": batches["weak"]["per_worker"],
                     "text-example": batches["weak_text_example"]["per_worker"]})
        accepted = ["B/n"] if mode == "strong" else conv["weak_batch"]
        return ArrayCheck("batch", f"{mode}: samples per learner",
                          value(f"{mode}_batch_per_worker"), variants, accepted,
                          rtol=0.0, atol=0.0)

    def time(mode: str) -> Check:
        t, tput = value(f"{mode}_time_s"), value(f"{mode}_throughput")
        return ConsistencyCheck("time", f"{mode}: time from throughput", [tput, t],
                                lambda v: (samples / v[tput.id], v[t.id]), rtol, "learner count")

    def cost(mode: str) -> Check:
        c, t = value(f"{mode}_cost"), value(f"{mode}_time_s")
        return ConsistencyCheck("cost", f"{mode}: cost from time and price",
                                [t, learners, price, c],
                                lambda v: (scaling.training_cost(v[t.id], v[learners.id],
                                                                 v[price.id]), v[c.id]),
                                rtol, "learner count")

    tput, batch_probe = value("weak_throughput"), value("weak_batch_per_worker")
    reported = value("4_weak_efficiency")

    def efficiency(v: dict) -> tuple[np.ndarray, np.ndarray] | str:
        """Their weak iteration times t(n) = n x batch / throughput; t(1) / t(n) or as accepted."""
        t_iter = scaling.iteration_time(v[learners.id] * v[batch_probe.id], v[tput.id])
        forms = [EFFICIENCY[name](t_iter[0], t_iter) for name in conv["weak_efficiency"]]
        best = min(forms, key=lambda f: float(np.max(np.abs(f - v[reported.id]))))
        return best, v[reported.id]

    def reused(probe: Probe, axes: tuple, pick, learner_counts: tuple[int, ...],
               what: str) -> Check:
        """`pick(table)`, throughputs on learner_counts, within rtol of their own 2.1
        throughput on the same learners (strong or weak runs, named)."""
        strong, weak = value("strong_throughput"), value("weak_throughput")

        def judge(tables: list[dict]) -> Outcome:
            mine, counts = pick(tables[0]), np.ravel(tables[1][()])
            if mine.shape != (len(learner_counts),):
                return Outcome(0.0, f"{what}: expected one number per count")
            if not all(n in counts for n in learner_counts):
                return Outcome(0.0, f"{what}: p2_learners lacks "
                               f"{', '.join(map(str, learner_counts))}")
            rows = [int(np.flatnonzero(counts == n)[0]) for n in learner_counts]
            for mode, table in zip(scaling.MODES, tables[2:]):
                part1 = np.ravel(table[()])
                if part1.shape == counts.shape and np.allclose(mine, part1[rows], rtol=rtol,
                                                               atol=0):
                    return Outcome(1.0, f"{what}: your part 1 numbers, reused",
                                   variant=f"{mode} runs")
            return Outcome(0.0, f"{what}: differs by more than rtol {rtol:g} from your own "
                           "part 1 throughput (strong or weak runs) on the same learners")
        return ReportedCheck("reuse", f"{what} as in part 1",
                             [(probe, axes), (learners, ()), (strong, ()), (weak, ())], judge)

    variants, collectives = value("5_throughput"), value("6_throughput")
    single_node, two_nodes = (ALL_REDUCE, GPUS), (COLLECTIVES,)
    return {
        "2.5": [ReportedCheck("variants", "throughput of each all-reduce on 1-8 GPUs",
                              [(variants, single_node)],
                              measured("all-reduce throughput", single_node)),
                reused(variants, single_node,
                       lambda t: np.concatenate([np.ravel(t["NCCL", n]) for n in GPUS.counts]),
                       GPUS.counts, "NCCL")],
        "2.6": [ReportedCheck("variants", "throughput of AUTO, NCCL and RING on 2 nodes",
                              [(collectives, two_nodes)],
                              positive("collective throughput", two_nodes)),
                reused(collectives, two_nodes, lambda t: np.ravel(t["AUTO",]), (TWO_NODES,),
                       "AUTO")],
        "2.1": [per_mode("batch", "samples per learner: B / n (strong), B (weak)", batch)],
        "2.2": [per_mode("time", "time = samples / throughput", time)],
        "2.3": [per_mode("cost", "cost = time / 3600 x learners x price", cost)],
        "2.4": [ConsistencyCheck("efficiency", "weak-scaling efficiency from your own times",
                                 [learners, batch_probe, tput, reported], efficiency, rtol,
                                 "learner count")],
    }
