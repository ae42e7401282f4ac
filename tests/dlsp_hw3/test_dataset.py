"""5.1's data set (graders/checks/dataset.py) and RMSE table (depth_width_problems.rmse_check):
reference/depth_width.py's data set passes, the known mistakes fail with their symptom, the
forms students use pass and are named, garbage earns nothing; the noise floor holds for the
best possible predictor."""

from __future__ import annotations

import math

import numpy as np
import pytest

from graders.assignments.depth_width_problems import (NOISE, noise_floor, rmse_check)
from graders.checks.base import Probe, ProbeResult
from graders.checks.dataset import DatasetCheck
from reference import depth_width

PROBES = [Probe(n, "value", n) for n in ("x_train", "y_train", "x_test", "y_test")]


def check(accepted=("std",)):
    return DatasetCheck("d", "t", PROBES, depth_width.eggholder, 100_000, 0.8,
                        depth_width.DOMAIN, NOISE, list(accepted), 1e-6)


def evaluate(data: dict, accepted=("std",)):
    return check(accepted).evaluate({p.id: ProbeResult(True, data[p.id]) for p in PROBES})


def drawn(n=100_000, seed=0, noise=0.3, share=0.8):
    d = depth_width.make_dataset(n, seed, noise, share)
    return {"x_train": d["x_train"], "y_train": d["y_train"], "x_test": d["x_test"],
            "y_test": d["y_test"]}


@pytest.mark.parametrize("seed", range(3))
def test_the_reference_data_set_passes(seed):
    assert evaluate(drawn(seed=seed)).fraction == 1


def test_forms_students_use_pass_and_are_named():
    data = drawn()
    columns = dict(data, x_train=data["x_train"].T, y_test=data["y_test"][:, None],
                   y_train=data["y_train"].astype(np.float32))
    outcome = evaluate(columns)
    assert outcome.fraction == 1 and "x transposed" in outcome.variant
    variance = drawn(noise=math.sqrt(0.3))
    assert evaluate(variance).fraction == 0.75
    outcome = evaluate(variance, accepted=("std", "variance"))
    assert outcome.fraction == 1 and outcome.variant == "variance"
    rng = np.random.default_rng(5)
    keep = rng.random(100_000) < 0.8  # a split drawn point by point
    x = np.concatenate([data["x_train"], data["x_test"]])
    y = np.concatenate([data["y_train"], data["y_test"]])
    assert evaluate({"x_train": x[keep], "y_train": y[keep], "x_test": x[~keep],
                     "y_test": y[~keep]}).fraction == 1


@pytest.mark.parametrize("data, words", [
    (drawn(noise=3.0), "noise y - f(x) of standard deviation 3"),
    (drawn(n=10_000), "10000 points in all"),
    (drawn(share=0.7), "a training share of 0.700"),
])
def test_each_mistake_loses_its_quarter_with_its_symptom(data, words):
    outcome = evaluate(data)
    assert outcome.fraction == 0.75 and words in outcome.message


def test_a_biased_noise_fails():
    data = drawn()
    biased = dict(data, y_train=data["y_train"] + 0.05, y_test=data["y_test"] + 0.05)
    assert "mean 0.05" in evaluate(biased).message


@pytest.mark.parametrize("edit, words", [
    (lambda d: dict(d, y_train=np.zeros(80_000), y_test=np.zeros(20_000)),
     "y does not follow the function"),
    (lambda d: dict(d, x_train=d["x_train"] * 0 + 1.0, x_test=d["x_test"] * 0 + 1.0),
     "x is not uniform"),
    (lambda d: dict(d, x_train=d["x_train"] / 2, x_test=d["x_test"] / 2),
     "x is not uniform"),
    (lambda d: dict(d, x_train=np.clip(d["x_train"] * 1.02, -600, 600)), "x is not uniform"),
    (lambda d: dict(d, y_train=d["y_train"] * 1.5), "y does not follow the function"),
])
def test_garbage_earns_nothing(edit, words):
    outcome = evaluate(edit(drawn()))
    assert outcome.fraction == 0 and words in outcome.message


def test_bad_shapes_are_named():
    data = drawn()
    assert "expected points of shape (n, 2)" in evaluate(dict(data, x_train="points")).message
    assert "expected 80000 targets" in evaluate(dict(data, y_train=data["y_test"])).message


def test_the_noise_floor_holds_for_the_best_predictor():
    """sqrt(mean e^2) of 20,000 N(0, 0.3^2) draws, the RMSE of the noiseless f itself, over
    2,000 test sets: none falls below the floor (its rate is below 1e-6)."""
    rng = np.random.default_rng(0)
    floor = noise_floor(0.3, 20_000)
    lowest = min(float(np.sqrt(np.mean(rng.normal(0, 0.3, 20_000) ** 2))) for _ in range(2000))
    assert 0.28 < floor < lowest < 0.3


RMSE = rmse_check()
GOOD = {(16,): 171.4, (512,): 44.7, (16, 128): 83.5, (128, 16): 97.1, (64, 128, 256): 19.6}
AVERAGES = {1: {16: 171.4, 512: 44.7}, 2: {144: 90.3}, 3: {448: 19.6}}


def rmse(table, averages=AVERAGES):
    return RMSE.evaluate({RMSE.probes[0].id: ProbeResult(True, table),
                          RMSE.probes[1].id: ProbeResult(True, averages)})


def test_rmse_table_as_students_key_it():
    assert rmse({str(k): v for k, v in GOOD.items()}).fraction == 1  # "(16, 128)"
    assert rmse({"x".join(map(str, k)): v for k, v in GOOD.items()},
                {str(d): {str(t): v for t, v in a.items()} for d, a in AVERAGES.items()}
                ).fraction == 1


@pytest.mark.parametrize("table, averages, words", [
    ({**GOOD, "256x512": 20.0}, AVERAGES, "within the budget"),
    ({**GOOD, "16x16x16x16": 20.0}, AVERAGES, "not 1 to 3 hidden layers"),
    ({k: v for k, v in GOOD.items() if len(k) != 3}, AVERAGES, "no network of 3 hidden"),
    ({**GOOD, (512,): 0.1}, AVERAGES | {1: {16: 171.4, 512: 0.1}}, "below what the test"),
    (GOOD, AVERAGES | {2: {144: 83.5}}, "2 hidden layers, 144 units: not the mean"),
    (GOOD, AVERAGES | {3: {448: 19.6, 64: 30.0}}, "no network of yours has that total"),
    (dict.fromkeys(GOOD, 50.0), {1: {16: 50.0, 512: 50.0}, 2: {144: 50.0}, 3: {448: 50.0}},
     "same RMSE"),
])
def test_rmse_mistakes_and_garbage(table, averages, words):
    outcome = rmse(table, averages)
    assert outcome.fraction == 0 and words in outcome.message
