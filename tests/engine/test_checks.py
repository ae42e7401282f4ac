"""Each kind of check on hand-made answers, without the sandbox."""

from __future__ import annotations

import numpy as np
import sympy as sp

from graders.checks.base import Probe, ProbeResult
from graders.checks.numeric import ArrayCheck, EnvelopeCheck, TrajectoryCheck
from graders.checks.statistical import TernaryQuantizerCheck
from graders.checks.symbolic import SymbolicCheck, compare

P = Probe("v", "value", "v")
Q = Probe("det", "value", "det")


def ok(value, extra=None):
    results = {"v": ProbeResult(True, value)}
    results.update(extra or {})
    return results


def test_array_check_shape_first_then_tolerance_and_nan_inf_are_wrong():
    check = ArrayCheck("c", "t", P, {"k": [1.0, -3.0, 2.0]}, ["k"], rtol=1e-6, atol=1e-9,
                       flat_ok=True)
    assert check.evaluate(ok(np.array([[1.0], [-3.0], [2.0]]))).fraction == 1
    assert check.evaluate(ok([1, -3, 2.0000001])).fraction == 1
    wrong = check.evaluate(ok([1, 3, 2]))
    assert wrong.fraction == 0 and "index (1,)" in wrong.message
    assert "shape (3,)" in check.evaluate(ok([1, 2])).message
    assert check.evaluate(ok([1, np.nan, 2])).message == "the answer contains NaN"
    assert check.evaluate(ok([1, np.inf, 2])).fraction == 0
    assert "got str" in check.evaluate(ok("1, -3, 2")).message


def test_array_check_names_the_accepted_variant():
    check = ArrayCheck("c", "t", P, {"a": [1.0], "b": [2.0], "c": [3.0]}, ["a", "b"],
                       rtol=0, atol=1e-9)
    assert check.evaluate(ok([2.0])).variant == "b"
    assert check.evaluate(ok([3.0])).fraction == 0  # variant c exists but is not accepted


def trajectory(key, floor=-50.0):
    return TrajectoryCheck("c", "t", P, {"k": key}, ["k"], rtol=1e-4, atol=1e-3, floor=floor,
                           ylabel="log L", labels=("a", "b", "c"), partial_from=0.5)


def test_trajectory_partial_credit():
    key = np.log(np.outer(0.5 ** np.arange(21), [1, 2, 3]))
    check = trajectory(key)
    assert check.evaluate(ok(key)).fraction == 1
    late = key.copy()
    late[15:] += 1.0  # wrong from step 15 on: 15 of 21 steps right
    outcome = check.evaluate(ok(late))
    assert np.isclose(outcome.fraction, 15 / 21) and "first mismatch at step 15" in outcome.message
    early = key.copy()
    early[3:] += 1.0  # only 3 of 21 right: below partial_from, no credit
    assert check.evaluate(ok(early)).fraction == 0
    assert "expected shape (21, 3)" in check.evaluate(ok(key[1:])).message
    assert check.evaluate(ok(np.full_like(key, np.inf))).fraction == 0


def test_trajectory_floor_treats_converged_values_as_equal():
    key = np.log(np.outer(0.1 ** np.arange(21), [1, 2, 3]))  # reaches about -46
    exact_zero = key.copy()
    exact_zero[12:] = -np.inf  # log of an exact 0 from step 12 on
    assert trajectory(key, floor=-20).evaluate(ok(exact_zero)).fraction == 1
    assert trajectory(key, floor=-50).evaluate(ok(exact_zero)).fraction == 12 / 21


def test_trajectory_select_reads_dict_entries_by_number():
    key = np.zeros((3, 1))
    check = TrajectoryCheck("c", "t", P, {"k": key}, ["k"], rtol=0, atol=1e-9, floor=-50,
                            ylabel="", labels=(), partial_from=0.5, select=5.0)
    for keys in ({5: key}, {"5": key}, {5.0: key}):
        assert check.evaluate(ok(keys)).fraction == 1
    assert "no entry for 5" in check.evaluate(ok({1: key})).message


def test_envelope_check():
    rng = np.random.default_rng(0)
    runs = np.cumsum(rng.normal(size=(500, 11, 2)), axis=1)
    env = {"min": runs.min(0), "max": runs.max(0), "median": np.median(runs, 0), "runs": 500}
    deterministic = np.zeros((11, 2))
    check = EnvelopeCheck("c", "t", P, {"k": env}, {"k": deterministic}, ["k"], margin=0.25,
                          atol=1e-3, floor=-50, ylabel="", labels=(), deterministic_name="GD",
                          partial_from=0.5, full_from=0.9, convention_probe=Q, convention_keys={"k": deterministic})
    fresh = np.cumsum(np.random.default_rng(1).normal(size=(11, 2)), axis=0)
    missing = {"det": ProbeResult(False, error="not defined")}
    assert check.evaluate(ok(fresh, missing)).fraction == 1
    assert check.evaluate(ok(fresh + 100, missing)).fraction == 0
    assert "deterministic GD" in check.evaluate(ok(deterministic, missing)).message


def ternary(g, s, rng, p=None):
    keep = rng.random(g.shape) < (np.abs(g) / s if p is None else p)
    return s * np.sign(g) * keep


def quantizer_outcome(fn, cases, draws=4000, seed=0):
    probes = [Probe(f"q{i}", "call", "f", repeat=draws) for i in range(len(cases))]
    rng = np.random.default_rng(seed)
    results = {p.id: ProbeResult(True, np.stack([fn(g, s, rng) for _ in range(draws)]))
               for p, (g, s) in zip(probes, cases)}
    return TernaryQuantizerCheck("c", "t", probes, cases, false_failure=1e-6).evaluate(results)


CASES = [(np.array([0.3, -1.2, 0.0, 2.0]), 2.0), (np.array([4.0, -0.5]), 5.0)]


def test_statistical_check_passes_honest_quantizers_for_every_seed_tried():
    assert all(quantizer_outcome(ternary, CASES, seed=s).fraction == 1 for s in range(50))


def test_statistical_check_finds_bias_and_wrong_support():
    biased = quantizer_outcome(lambda g, s, rng: ternary(g, s, rng, p=0.5), CASES)
    assert biased.fraction == 0.5 and biased.message.startswith("ternary support holds; biased")
    identity = quantizer_outcome(lambda g, s, rng: g, CASES)
    assert identity.fraction == 0.5 and "not ternary" in identity.message
    assert "shape" in quantizer_outcome(lambda g, s, rng: g[:1], CASES).message


def test_symbolic_equivalence_in_any_form():
    x, y = sp.symbols("x y")
    key = sp.Matrix([(x**2 - y**2) / (x - y), 2 * x])
    assert compare(sp.Matrix([x + y, x + x]), key)[0]
    assert compare(sp.Matrix([[x + y, 2 * x]]), key)[0]  # a row is read as the column
    same, how = compare(sp.Matrix([x + y, 2.0 * x]), key)
    assert same
    same, how = compare(sp.Matrix([x - y, 2 * x]), key)
    assert not same and "entry 1" in how
    same, how = compare(sp.Matrix([x + sp.Symbol("lam"), 2 * x]), key)
    assert not same and "lam" in how
    check = SymbolicCheck("c", "t", P, {"k": key}, ["k"])
    assert check.evaluate(ok("[x + y, 2*x]")).fraction == 1
    assert "could not read" in check.evaluate(ok("import os")).message


def test_exact_check_compares_value_and_type():
    from graders.checks.numeric import ExactCheck
    truth = ExactCheck("c", "t", P, {"k": False}, ["k"])
    assert truth.evaluate(ok(False)).fraction == 1
    assert truth.evaluate(ok(True)).fraction == 0
    assert "expected bool, got int" in truth.evaluate(ok(0)).message
    count = ExactCheck("c", "t", P, {"n+1": 225, "n": 212}, ["n+1", "n"])
    assert count.evaluate(ok(np.array(212))).variant == "n"
    assert count.evaluate(ok("225")).fraction == 0
