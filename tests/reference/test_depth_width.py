"""Checks reference/depth_width.py against torch modules, known values and independent counts."""

import math

import numpy as np
import pytest
import sympy as sp
from torch import nn

from reference import depth_width

KEY = depth_width.build_key()


def torch_mlp(widths, batchnorm, bias=True):
    layers, n_in = [], 2
    for w in widths:
        layers += [nn.Linear(n_in, w, bias=bias)] + ([nn.BatchNorm1d(w)] if batchnorm else []) + [nn.ReLU()]
        n_in = w
    return nn.Sequential(*layers, nn.Linear(n_in, 1, bias=bias))


def numel(module):
    return sum(p.numel() for p in module.parameters())


def test_param_counts_match_torch():
    for row in KEY["architectures"]:
        ws, bn = row["widths"], row["batchnorm"]
        assert bn == (len(ws) >= 2)
        assert row["params"] == numel(torch_mlp(ws, bn)), ws
        assert row["params_no_batchnorm"] == numel(torch_mlp(ws, False)), ws
        linear_weights = sum(m.weight.numel() for m in torch_mlp(ws, False) if isinstance(m, nn.Linear))
        assert row["params_weights_only"] == linear_weights, ws


def test_batchnorm_running_stats_are_buffers_not_parameters():
    model = torch_mlp([64, 32], batchnorm=True)
    buffers = sum(b.numel() for b in model.buffers())
    assert buffers == 2 * (64 + 32) + 2  # running mean and var, plus num_batches_tracked per layer
    assert depth_width.param_count([64, 32]) == numel(model)
    assert KEY["batchnorm_running_stats_counted"] is False


def test_param_counts_by_hand():
    assert depth_width.param_count([16]) == 2 * 16 + 16 + 16 + 1  # 65
    # [2, 16, 128, 1]: weights 32 + 2048 + 128, biases 16 + 128 + 1, BatchNorm 2 * 144
    assert depth_width.param_count([16, 128]) == 2208 + 145 + 288
    assert depth_width.param_count([128, 16]) == 256 + 2048 + 16 + 145 + 288


def test_architecture_counts_by_generating_function():
    """Ordered width tuples with total <= 512: coefficients of (sum_w z^w)^depth up to z^512."""
    z = sp.symbols("z")
    poly = sum(z**w for w in depth_width.WIDTHS)
    for depth in (1, 2, 3):
        coeffs = sp.Poly(sp.expand(poly**depth), z).as_dict()
        expected = sum(c for (deg,), c in coeffs.items() if deg <= 512)
        assert KEY["counts"][f"depth_{depth}"] == expected
    assert KEY["counts"] == {"depth_1": 6, "depth_2": 25, "depth_3": 112}
    assert [16, 128] in [r["widths"] for r in KEY["architectures"]]
    assert [128, 16] in [r["widths"] for r in KEY["architectures"]]
    assert KEY["variants"]["strict_budget_excluded"] == [[256, 256], [128, 128, 256], [128, 256, 128],
                                                         [256, 128, 128]]


def test_eggholder_known_values():
    assert depth_width.eggholder(512, 404.2319) == pytest.approx(-959.6407, abs=1e-4)
    assert depth_width.eggholder(0, 0) == pytest.approx(-47 * math.sin(math.sqrt(47)))  # -25.4603
    assert depth_width.eggholder(0, 0) == pytest.approx(-25.4603, abs=1e-4)
    x1, x2 = 100.0, -200.0  # -(x2+47) sin(sqrt|x1/2 + x2 + 47|) - x1 sin(sqrt|x1 - x2 - 47|)
    by_hand = 153 * math.sin(math.sqrt(103)) - 100 * math.sin(math.sqrt(253))
    assert depth_width.eggholder(x1, x2) == pytest.approx(by_hand)


def test_global_minimum_is_minimal_on_a_grid():
    g = np.linspace(-512, 512, 801)
    x1, x2 = np.meshgrid(g, g)
    assert depth_width.eggholder(x1, x2).min() >= depth_width.GLOBAL_MINIMUM[1] - 1e-3


def test_dataset_split_and_noise():
    data = depth_width.make_dataset(seed=3)
    assert data["x_train"].shape == (80_000, 2) and data["y_train"].shape == (80_000,)
    assert data["x_test"].shape == (20_000, 2) and data["y_test"].shape == (20_000,)
    x = np.concatenate([data["x_train"], data["x_test"]])
    assert x.min() >= -512 and x.max() < 512
    assert np.abs(x.mean(0)).max() < 5  # uniform on [-512, 512): mean 0, sd 296 / sqrt(1e5) ~ 1
    noise = np.concatenate([data["y_train"], data["y_test"]]) - depth_width.eggholder(x[:, 0], x[:, 1])
    assert noise.std() == pytest.approx(0.3, rel=0.01)
    assert abs(noise.mean()) < 0.01


def test_dataset_is_seeded():
    a, b = depth_width.make_dataset(n=1000, seed=1), depth_width.make_dataset(n=1000, seed=1)
    c = depth_width.make_dataset(n=1000, seed=2)
    np.testing.assert_array_equal(a["y_test"], b["y_test"])
    assert not np.array_equal(a["x_train"], c["x_train"])


def test_rmse():
    assert depth_width.rmse([0, 0, 0, 0], [1, -1, 1, -1]) == 1.0
    assert depth_width.rmse([1, 2], [4, 6]) == pytest.approx(math.sqrt((9 + 16) / 2))


def test_mean_rmse_by_total_units():
    results = {(16, 128): 10.0, (128, 16): 20.0, (64,): 5.0, (64, 64, 16): 7.0}
    assert depth_width.mean_rmse_by_total_units(results) == {1: {64: 5.0}, 2: {144: 15.0}, 3: {144: 7.0}}


def test_key_dataset():
    ds = KEY["dataset"]
    assert (ds["n_train"], ds["n_test"]) == (80_000, 20_000)
    assert ds["noise_rmse_test"] == pytest.approx(0.3, rel=0.03)
    assert ds["variants"]["noise_variance_0.3"]["noise_std"] == pytest.approx(0.5477, abs=1e-4)
    assert KEY["eggholder"]["global_minimum"]["f"] == pytest.approx(-959.6407, abs=1e-4)
    with pytest.raises(KeyError):
        depth_width.build_key({"noise": 1.0})
