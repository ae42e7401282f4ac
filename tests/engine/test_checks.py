"""Each kind of check on hand-made answers, without the sandbox."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from graders.checks.base import Probe, ProbeResult
from graders.checks import forms
from graders.checks.numeric import ArrayCheck, TrajectoryCheck
from graders.checks.statistical import TernaryQuantizerCheck
from graders.checks.symbolic import SymbolicCheck, compare

P = Probe("v", "value", "v")
Q = Probe("det", "value", "det")


def ok(value, extra=None):
    results = {"v": ProbeResult(True, value)}
    results.update(extra or {})
    return results


def test_array_check_shape_first_then_tolerance_and_nan_inf_are_wrong():
    check = ArrayCheck("c", "t", P, {"k": [1.0, -3.0, 2.0]}, ["k"], rtol=1e-6, atol=1e-9)
    column = check.evaluate(ok(np.array([[1.0], [-3.0], [2.0]])))
    assert column.fraction == 1 and column.variant == "column vectors"
    assert check.evaluate(ok([1, -3, 2.0])).variant is None  # the key's own form: not named
    assert check.evaluate(ok([1, -3, 2.0000001])).fraction == 1
    wrong = check.evaluate(ok([1, 3, 2]))
    assert wrong.fraction == 0 and "index (1,)" in wrong.message
    assert "-3" not in wrong.message and "-3" in wrong.detail  # the key value: instructors only
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


def test_trajectory_partial_credit_counts_the_moving_phase():
    key = np.log(np.outer(0.5 ** np.arange(21), [1, 2, 3]))  # never settles: all 21 steps move
    check = trajectory(key)
    assert check.evaluate(ok(key)).fraction == 1
    late = key.copy()
    late[15:] += 1.0  # wrong from step 15 on: 15 of 21 steps right
    outcome = check.evaluate(ok(late))
    assert np.isclose(outcome.fraction, 15 / 21) and "first mismatch at step 15" in outcome.message
    early = key.copy()
    early[3:] += 1.0  # only 3 of 21 right: below partial_from, no credit
    assert check.evaluate(ok(early)).fraction == 0
    assert "expected 21 rows (or 20: recorded before or after each step)" in \
        check.evaluate(ok(key[2:])).message
    assert check.evaluate(ok(np.full_like(key, np.inf))).fraction == 0


def test_trajectory_gives_nothing_for_a_constant_at_the_optimum():
    """The key moves for 10 steps, then sits at its optimum for 30: a history held at the
    optimum matches 31 of 41 steps but none of the moving phase."""
    moving = np.linspace(5.0, 0.0, 11)
    key = np.concatenate([moving, np.zeros(30)])[:, None] * np.ones(3)
    check = trajectory(key)
    assert check.evaluate(ok(np.zeros_like(key))).fraction == 0
    most = key.copy()
    most[8:10] += 0.5  # 8 of the 10 moving steps (0..9) right, the settled phase right
    assert np.isclose(check.evaluate(ok(most)).fraction, 8 / 10)
    broken = key.copy()
    broken[-5:] = 3.0  # right while moving, 5 settled steps broken
    assert np.isclose(check.evaluate(ok(broken)).fraction, 10 / 15)


@pytest.mark.parametrize("form, name", [
    (lambda k: k[:-1], "history convention: recorded before each step (20 rows)"),
    (lambda k: k[1:], "history convention: recorded after each step (20 rows)"),
    (lambda k: k[:, :, None], "column vectors"),
    (lambda k: k.T, "transposed (one column per step)"),
    (lambda k: k.astype(np.float32).astype(float).tolist(), None),
    (lambda k: k / np.log(10), "log base 10"),
    (lambda k: (k[1:] / np.log(10))[:, :, None].tolist(),
     "history convention: recorded after each step (20 rows); column vectors; log base 10"),
])
def test_trajectory_accepts_every_form_and_names_it(form, name):
    key = np.log(np.outer(0.5 ** np.arange(21), [1, 2, 3]))
    check = TrajectoryCheck("c", "t", P, {"k": key}, ["k"], rtol=1e-4, atol=1e-3, floor=-50,
                            ylabel="log L", labels=("a", "b", "c"), partial_from=0.5, log=True)
    outcome = check.evaluate(ok(form(key)))
    assert outcome.fraction == 1 and outcome.variant == name


def test_a_history_one_row_short_is_compared_both_ways_and_no_further():
    key = np.cumsum(np.ones((11, 2)), axis=0)
    check = TrajectoryCheck("c", "t", P, {"k": key}, ["k"], rtol=0, atol=1e-9, floor=-50,
                            ylabel="", labels=(), partial_from=0.5)
    assert check.evaluate(ok(key[1:] + 1)).fraction == 0  # shifted values are not a form
    assert "got shape (9, 2)" in check.evaluate(ok(key[2:])).message


def test_dict_keys_match_numerically():
    assert forms.pick({0.1 * 0.2: "a"}, 0.02) == ("a", "")  # 0.020000000000000004
    assert forms.pick({float(np.float32(0.004)): "a"}, 0.004) == ("a", "")  # 0.0040000002
    assert forms.pick({"array(0.004000000189989805)": "a"}, 0.004) == ("a", "")  # as it arrives
    assert forms.pick({"4e-3": "a"}, 0.004) == ("a", "")
    assert forms.pick({0.0041: "a"}, 0.004)[0] is None


def test_torch_tensors_and_float16_cross_the_wire_as_float64():
    import torch

    from graders import wire
    from graders.sandbox import worker
    for value in (torch.tensor([[1.5], [2.0]], dtype=torch.float32),
                  np.array([1.5, 2.0], dtype=np.float16)):
        decoded = wire.decode(worker.encode(value))
        assert decoded.dtype == np.float64 and np.allclose(decoded.ravel(), [1.5, 2.0])


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
    assert "0.3" not in biased.message  # the hidden gradient: instructors only
    identity = quantizer_outcome(lambda g, s, rng: g, CASES)
    assert identity.fraction == 0.5 and "not ternary" in identity.message
    assert "shape" in quantizer_outcome(lambda g, s, rng: g[:1], CASES).message


def test_symbolic_equivalence_in_any_form():
    x, y = sp.symbols("x y")
    key = sp.Matrix([(x**2 - y**2) / (x - y), 2 * x])
    assert compare(sp.Matrix([x + y, x + x]), key)[0]
    assert compare(sp.Matrix([[x + y, 2 * x]]), key)[0]  # a row is read as the column
    same, how, _ = compare(sp.Matrix([x + y, 2.0 * x]), key)
    assert same
    same, how, _ = compare(sp.Matrix([x - y, 2 * x]), key)
    assert not same and "entry 1" in how
    same, how, _ = compare(sp.Matrix([x + sp.Symbol("lam"), 2 * x]), key)
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


# --- the quantiser's calls recorded while the student's training ran (2.3, 2.5) -----------

from reference import distributed as d  # noqa: E402

X, Y = d.handout_data()
RUNS = Probe("runs", "call", "train", ({"t": "seed"},), seeds=tuple(range(12)),
             swap={"name": "quantize", "keep": 2000})


def test_quantizer_check_reads_one_batched_call():
    g, s = CASES[0]
    probe = Probe("q0", "call", "f", repeat=4000, batch={"arg": 0, "n": 4000})
    draws = ternary(np.broadcast_to(g, (4000, 4)), s, np.random.default_rng(0))
    results = {"q0": ProbeResult(True, {"value": draws, "batched": True})}
    check = TernaryQuantizerCheck("c", "t", [probe], [CASES[0]], false_failure=1e-6)
    assert check.evaluate(results).fraction == 1


def recorded_training(quantize, runs=20, seed=0):
    """What the worker's recorder keeps of a TernGrad training: [g, s, out] per call."""
    rng, records = np.random.default_rng(seed), []
    for _ in range(runs):
        W = np.zeros(3)
        for _ in range(50):
            grads = d.worker_gradients(X, Y, W, 2)
            outs = []
            for g in grads:
                s = float(np.max(np.abs(g)))
                outs.append(quantize(g, s, rng) if s > 0 else np.zeros_like(g))
                records.append([g, s, outs[-1]])
            W = W - 0.1 * np.mean(outs, axis=0)
    return {"value": None, "calls": [150] * runs, "records": records[:2000]}


def test_a_quantiser_right_only_when_probed_loses_the_unbiased_half():
    """The probe's draws are honest; the calls recorded during training decide."""
    probes = [Probe(f"q{i}", "call", "f", repeat=4000) for i in range(len(CASES))]
    rng = np.random.default_rng(0)
    draws = {p.id: ProbeResult(True, np.stack([ternary(g, s, rng) for _ in range(4000)]))
             for p, (g, s) in zip(probes, CASES)}
    check = TernaryQuantizerCheck("c", "t", probes, CASES, false_failure=1e-6, training=RUNS)
    for seed in range(20):  # honest training records: no false failure
        honest = recorded_training(lambda g, s, r: ternary(g, s, r), seed=seed)
        assert check.evaluate({**draws, "runs": ProbeResult(True, honest)}).fraction == 1
    aware = recorded_training(lambda g, s, r: ternary(g, s, r, p=0.5))
    outcome = check.evaluate({**draws, "runs": ProbeResult(True, aware)})
    assert outcome.fraction == 0.5 and "while train trained" in outcome.message


def test_near_is_numpys_isclose():
    """checks.base.near, the cheaper isclose every comparison uses: same verdict on ordinary
    numbers, zeros, infinities of either sign and NaN, with and without an atol."""
    from graders.checks.base import near
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 1, 200), rng.normal(0, 1e-9, 50), [0.0, -0.0, np.inf,
                                                                             -np.inf, np.nan]])
    a = values[:, None]
    b = np.concatenate([values, values * (1 + 1e-7), values + 1e-10])[None, :]
    for rtol, atol in ((1e-6, 0.0), (1e-4, 1e-9), (0.0, 1e-3)):
        assert np.array_equal(near(a, b, rtol, atol), np.isclose(a, b, rtol=rtol, atol=atol))
