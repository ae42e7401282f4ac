"""ConsistencyCheck (graders/checks/consistency.py): a student's numbers against each other."""

from __future__ import annotations

from graders.checks.base import Probe, ProbeResult
from graders.checks.consistency import ConsistencyCheck

T, R = Probe("t", "value", "time"), Probe("r", "value", "rate")
CHECK = ConsistencyCheck("time", "time = work / rate", [R, T],
                         lambda v: (100 / v["r"], v["t"]), rtol=0.1, rows="learner count")


def evaluate(rate, time):
    return CHECK.evaluate({"r": ProbeResult(True, rate), "t": ProbeResult(True, time)})


def test_consistent_within_rtol_and_the_first_row_named_otherwise():
    assert evaluate([10.0, 20.0], [10.5, 5.2]).fraction == 1
    wrong = evaluate([10.0, 20.0], [10.0, 10.0])
    assert wrong.fraction == 0 and "1 of 2 values inconsistent; first at learner count 2" in \
        wrong.message


def test_missing_infinite_and_misaligned_values_score_zero():
    assert "expected finite numbers" in evaluate(None, [1.0]).message
    assert "expected finite numbers" in evaluate([float("inf")], [1.0]).message
    assert "expected 3 values, got 2" in evaluate([1.0, 2.0, 3.0], [1.0, 2.0]).message
    product = ConsistencyCheck("work", "work = rate x time", [R, T],
                               lambda v: (v["r"] * v["t"], v["t"]), rtol=0.1)
    assert "do not line up" in product.evaluate({"r": ProbeResult(True, [1.0, 2.0, 3.0]),
                                                 "t": ProbeResult(True, [1.0, 2.0])}).message
