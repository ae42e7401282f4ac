"""Reported measurements (graders/checks/reported.py, curves.py): tables read as students
key them, curves of runs we cannot repeat checked for what can be checked, tables checked
against the student's own curves; constants and shifted garbage earn nothing."""

from __future__ import annotations

import numpy as np
import pytest

from graders.assignments.adaptive_problems import METHODS
from graders.assignments.cnn_problems import ALEXNET_NAMES
from graders.checks.base import Probe, ProbeResult
from graders.checks.curves import curves, epochs_to_reach, final_values, first_epochs
from graders.checks.reported import (Counts, NamedArrayCheck, ReportedCheck, Widths, count_of,
                                     normal, positive, shares, table)

P, Q = Probe("p", "value", "p"), Probe("q", "value", "q")
M = Counts((2, 4, 8, 16, 32), "M")
LENGTHS = range(2, 102)


def run(check, *values):
    return check.evaluate({probe.id: ProbeResult(True, v)
                           for probe, v in zip(check.probes, values)})


def loss(n=200, end=0.1, seed=0):
    t = np.arange(1, n + 1)
    return list(end + 2 * np.exp(-t / 20) + 0.01 * np.random.default_rng(seed).random(n))


def error(final=5.0, tau=8.0, n=100, seed=0):
    e = np.arange(1, n + 1)
    return list(np.round(final + 55 * np.exp(-e / tau)
                         + 0.3 * np.random.default_rng(seed).standard_normal(n), 2))


@pytest.mark.parametrize("key, canonical", [
    ("RMSProp+Nesterov", "rmsprop_nesterov"), ("rmsprop_nesterov", "rmsprop_nesterov"),
    ("Nesterov RMSProp", "rmsprop_nesterov"), ("ADAM", "adam"), ("Ada-Grad", "adagrad")])
def test_method_names_as_students_write_them(key, canonical):
    names = {m: 1.0 for m in METHODS.names if m != canonical} | {key: 2.0}
    entries, _, why = METHODS.entries(names)
    assert why == "" and entries[canonical] == 2.0


def test_counts_and_widths_as_keys():
    assert [count_of(k) for k in (2, 2.0, "2", "2 GPUs", "M=2", "M = 32")] == [2, 2, 2, 2, 2, 32]
    assert count_of("2 of 8") is None and count_of(2.5) is None and normal(" RMS-prop ") == "rmsprop"
    widths, _, why = Widths().entries({"512": 1, "16x128": 2, "(64, 128, 256)": 3, 256: 4})
    assert why == "" and set(widths) == {(512,), (16, 128), (64, 128, 256), (256,)}
    assert "two entries" in Widths().entries({"16x128": 1, "(16, 128)": 2})[2]


def test_tables_read_dicts_lists_and_name_the_form():
    gpus = Counts((1, 2, 4, 8), "GPUs")
    value = {"NCCL": {"1 GPU": 1, "2 GPUs": 2, "4 GPUs": 3, "8 GPUs": 4}, "ring": [5, 6, 7, 8]}
    from graders.checks.reported import Names
    axes = (Names({"NCCL": (), "RING": ()}), gpus)
    entries, forms, why = table(value, axes)
    assert why == "" and entries["RING", 8] == 8 and forms == ["a list in the order of GPUs"]
    assert "no entry for GPUs = 8" in table({"NCCL": {1: 1, 2: 2, 4: 3}, "RING": [1, 2, 3, 4]},
                                            axes)[2]
    assert "expected a dict keyed by GPUs" in table({"NCCL": "fast", "RING": [1, 2, 3, 4]},
                                                    axes)[2]


def test_loss_curves_of_200_or_201_points_pass_and_rising_or_constant_ones_do_not():
    check = ReportedCheck("c", "t", [(P, (METHODS,))], curves("loss", (METHODS,), (200, 201), "loss"))
    good = {m: loss(seed=i) for i, m in enumerate(("AdaGrad", "RMSProp", "RMSProp+Nesterov",
                                                    "AdaDelta", "Adam"))}
    assert run(check, good).fraction == 1
    plus_one = {m: [2.3] + c for m, c in good.items()}
    outcome = run(check, plus_one)
    assert outcome.fraction == 1 and "epoch 0 recorded (201 points)" in outcome.variant
    assert outcome.plots and outcome.plots[0].key is None
    rising = dict(good, Adam=loss()[::-1])
    outcome = run(check, rising)
    assert outcome.fraction == pytest.approx(0.8) and "adam: does not fall" in outcome.message
    assert run(check, {m: [1.0] * 200 for m in good}).fraction == 0
    assert "150 points, expected 200 to 201" in run(check, dict(good, Adam=loss(150))).message
    assert "no entry for adam" in run(check, {m: c for m, c in good.items() if m != "Adam"}).message
    assert "expected finite" in run(check, dict(good, Adam=[np.nan] * 200)).message
    assert run(check, list(good.values())).variant == "a list in the handout's order"


def test_times_accuracies_and_throughputs_refuse_constants_and_wrong_signs():
    check = ReportedCheck("t", "t", [(P, (METHODS,))], positive("time", (METHODS,)))
    times = [1900.0, 1955.3, 2010.8, 2104.6, 1987.2]
    assert run(check, times).fraction == 1
    assert "is not positive" in run(check, [-1.0, *times[1:]]).message
    assert "same number" in run(check, [1000.0] * 5).message
    acc = ReportedCheck("a", "t", [(P, (METHODS,))], shares("accuracy", (METHODS,)))
    assert run(acc, [0.49, 0.52, 0.53, 0.50, 0.51]).variant.endswith("; fraction")
    assert run(acc, [49.1, 52.4, 53.0, 50.2, 51.9]).variant.endswith("; percent")
    assert run(acc, [491, 524, 530, 502, 519]).fraction == 0
    assert run(acc, [0.5] * 5).fraction == 0


def test_first_epochs_count_from_1_or_0_and_epoch_0_recorded():
    curve = np.array([50.0, 20.0, 6.0, 5.0])
    assert first_epochs(curve, 6, 100) == {"epochs counted from 1": 3, "epochs counted from 0": 2}
    assert all(np.isnan(v) for v in first_epochs(np.full(100, 10.0), 6, 100).values())
    with_zero = np.r_[90.0, np.linspace(50, 4, 100)]
    assert len(set(first_epochs(with_zero, 6, 100).values())) == 1


def epochs_check():
    return ReportedCheck("e", "t", [(P, (M,)), (Q, (M,))],
                         epochs_to_reach("epochs", (M,), 6.0, 100, LENGTHS),
                         missing_ok=frozenset({"q"}))


def curves_by_m():
    return {m: error(final, seed=i) for i, (m, final) in
            enumerate(zip(M.counts, [8.0, 5.6, 5.1, 4.9, 5.0]))}


def first(curve, limit=6.0):
    return next((e for e, err in enumerate(curve, start=1) if err <= limit), None)


def test_epochs_to_94_agree_with_the_students_own_curves():
    curves_ = curves_by_m()
    table_ = {m: first(c) for m, c in curves_.items()}
    assert table_[2] is None and table_[4] is not None
    assert run(epochs_check(), curves_, table_).fraction == 1
    assert run(epochs_check(), curves_, {m: "not reached" if e is None else e
                                         for m, e in table_.items()}).fraction == 1
    fractions = {m: [v / 100 for v in c] for m, c in curves_.items()}
    assert run(epochs_check(), fractions, table_).fraction == 1
    zero_based = {m: None if e is None else e - 1 for m, e in table_.items()}
    assert run(epochs_check(), curves_, zero_based).variant == "epochs counted from 0"
    shifted = {m: None if e is None else e + 1 for m, e in table_.items()}
    outcome = run(epochs_check(), curves_, shifted)
    assert outcome.fraction == pytest.approx(0.2) and "disagree with your curves" in outcome.message
    outcome = run(epochs_check(), curves_, table_ | {2: 40})
    assert "M = 2: reported as reached, but your curve never gets there" in outcome.message


def test_constant_curves_with_a_consistent_table_earn_nothing():
    flat = {m: [10.0] * 100 for m in M.counts}
    assert run(epochs_check(), flat, dict.fromkeys(M.counts)).fraction == 0
    final = ReportedCheck("f", "t", [(P, (M,)), (Q, (M,))],
                          final_values("final", (M,), 0.5, LENGTHS))
    assert run(final, flat, dict.fromkeys(M.counts, 90.0)).fraction == 0
    curves_ = curves_by_m()
    right = {m: 1 - c[-1] / 100 for m, c in curves_.items()}  # a fraction against percent
    assert run(final, curves_, right).fraction == 1
    assert run(final, curves_, {m: v + 0.02 for m, v in right.items()}).fraction == 0


def test_alexnet_as_a_dict_keyed_by_layer_names():
    key = [34944, 307456, 885120, 663936, 442624, 37752832, 16781312, 4097000]
    check = NamedArrayCheck(ALEXNET_NAMES, "a", "t", P, {"k": key}, ["k"], rtol=0, atol=0)
    names = ["CONV1", "Conv 2", "conv_3", "conv4", "conv5", "FC6", "fc7", "fc-8"]
    outcome = run(check, dict(zip(names, key)) | {"pool1": 0, "total": sum(key)})
    assert outcome.fraction == 1 and "a dict keyed by name" in outcome.variant
    fc_from_1 = dict(zip(["conv1", "conv2", "conv3", "conv4", "conv5", "fc1", "fc2", "fc3"], key))
    assert run(check, fc_from_1).fraction == 1
    assert run(check, {f"layer{i + 1}": v for i, v in enumerate(key)}).fraction == 1
    assert "no entry for fc8" in run(check, dict(zip(names[:7], key))).message
    assert run(check, dict(zip(names, key[::-1]))).fraction == 0
    assert run(check, key).fraction == 1


def test_empty_and_ragged_entries_are_wrong_answers_not_crashes():
    check = ReportedCheck("t", "t", [(P, (METHODS,))], positive("time", (METHODS,)))
    assert "expected numbers" in run(check, [[], 1.0, 2.0, 3.0, 4.0]).message
    curves_check = ReportedCheck("c", "t", [(P, (M,))], curves("e", (M,), LENGTHS, "error",
                                                               percent_or_fraction=True))
    assert run(curves_check, {m: [] for m in M.counts}).fraction == 0
    assert run(curves_check, {m: [[50.0, 40.0]] * 3 for m in M.counts}).fraction == 0


def scaling_check(hw3, problem, check_id):
    return next(c for p in hw3.problems if p.id == problem for c in p.checks if c.id == check_id)


PART1 = {"p2_learners": [1, 2, 4, 8, 16], "p2_strong_throughput": [212.0, 395.0, 702.0, 1148.0,
                                                                   1305.0],
         "p2_weak_throughput": [212.0, 409.0, 790.0, 1496.0, 2711.0]}


def reuse(check, answer):
    values = dict(PART1, **{check.probes[0].name: answer})
    return check.evaluate({p.id: ProbeResult(True, values[p.name]) for p in check.probes})


def test_nccl_and_auto_are_their_own_part_1_numbers(hw3):
    nccl = scaling_check(hw3, "2.5", "reuse")
    others = {"HierarchicalCopy": [211.0, 388.0, 671.0, 1032.0],
              "ReductionToOneDevice": [212.5, 361.0, 590.0, 846.0]}
    weak = reuse(nccl, dict(others, NCCL={"1 GPU": 212.0, "2 GPUs": 409.0, "4 GPUs": 790.0,
                                          "8 GPUs": 1496.0}))
    assert weak.fraction == 1 and weak.variant.endswith("weak runs")
    rerun = reuse(nccl, dict(others, NCCL=[230.0, 420.0, 760.0, 1240.0]))  # within 10%
    assert rerun.fraction == 1
    assert "differs by more than" in reuse(nccl, dict(others, NCCL=[500.0] * 4)).message
    assert "one number per count" in reuse(nccl, dict(others, NCCL=[[1.0, 2.0], 3.0, 4.0,
                                                                      5.0])).message
    auto = scaling_check(hw3, "2.6", "reuse")
    assert reuse(auto, {"auto": 1305.0, "nccl": 1318.0, "ring": 1187.0}).fraction == 1
    assert reuse(auto, {"AUTO": 2000.0, "NCCL": 1318.0, "RING": 1187.0}).fraction == 0
    variants = scaling_check(hw3, "2.5", "variants")
    outcome = variants.evaluate({variants.probes[0].id: ProbeResult(True, dict(
        others, NCCL=[212.0, 395.0, 702.0, 1148.0]))})
    assert outcome.fraction == 1 and outcome.plots[0].student.shape == (4, 3)


def test_a_dataframe_is_named_with_the_fix():
    from graders.wire import Opaque
    check = ReportedCheck("t", "t", [(P, (METHODS,))], positive("time", (METHODS,)))
    assert 'df.to_dict("list")' in run(check, Opaque("DataFrame")).message
