"""Checks of reference.quantization_runs on the shipped digits: the reduced schedule (default),
determinism, and the full schedule (opt-in: pytest -m full)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
import torch
from torch import nn

from graders.datasets import digits32
from reference.quantization import resnet20
from reference.quantization_runs import (
    LabData, LabSettings, augment, evaluate, quantised, run_lab,
)

CHANCE = 10.0  # percent, 10 balanced classes


@pytest.fixture(scope="module")
def digits() -> LabData:
    return digits32(0)


@pytest.fixture(scope="module")
def reduced(digits):
    """The reduced run and every progress call it made."""
    calls = []
    settings = LabSettings.digits().reduced()
    results = run_lab(digits, settings, progress=lambda *call: calls.append(call),
                      device=torch.device("cpu"))
    return settings, results, calls


def test_reduced_run_shows_the_lab_findings(reduced):
    _, r, _ = reduced
    float_acc = r["float"]["accuracy"]
    assert float_acc > 90.0  # far above chance
    assert r["uniform"]["6"]["before_finetune"] > float_acc - 3.0  # 6 bits lose little
    two = r["uniform"]["2"]
    assert two["before_finetune"] < float_acc - 20.0  # 2 bits without finetuning break it
    assert two["after_finetune"] > two["before_finetune"] + 20.0  # finetuning recovers
    mixed = r["mixed"]["mixed_4_4_2"]
    assert mixed["after_finetune"] > mixed["before_finetune"]


def test_reduced_run_records_each_epoch(reduced):
    settings, r, calls = reduced
    assert r["float"]["accuracy"] == r["float"]["history"][-1]
    assert len(r["float"]["history"]) == settings.float_epochs
    for entry in (r["uniform"]["2"], r["mixed"]["mixed_4_4_2"]):
        assert entry["after_finetune"] == max(entry["history"])
    assert len(r["uniform"]["2"]["history"]) == 3 and len(r["mixed"]["mixed_4_4_2"]["history"]) == 2
    assert "after_finetune" not in r["uniform"]["6"]
    assert (r["train_images"], r["test_images"]) == (400, 359)
    epochs = [c for c in calls if c[2] > 0]
    assert len(epochs) == settings.total_epochs()
    assert [c[1] for c in calls if c[0] == "float"] == list(range(1, settings.float_epochs + 1))
    assert [c[3] for c in epochs if c[0] == "uniform_2_finetune"] == r["uniform"]["2"]["history"]
    assert sorted(c[0] for c in calls if c[2] == 0) == ["mixed_4_4_2", "uniform_2", "uniform_6"]


def _tiny(seed: int = 0) -> LabSettings:
    """Every code path (augmentation included) in a few seconds."""
    return replace(LabSettings(seed=seed), float_epochs=2, max_train=128, batch_size=32,
                   uniform_bits=(3,), uniform_finetune=((3, 1),), mixed=((2, 4, 4),),
                   mixed_finetune_epochs=1, threads=1)


def test_same_seed_same_results_and_state_restored(digits):
    small = digits._replace(x_test=digits.x_test[:64], y_test=digits.y_test[:64])
    torch.manual_seed(123)
    rng, threads = torch.get_rng_state(), torch.get_num_threads()
    first = run_lab(small, _tiny(), device=torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), rng) and torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()
    assert run_lab(small, _tiny(), device=torch.device("cpu")) == first
    other = run_lab(small, _tiny(seed=1), device=torch.device("cpu"))
    assert other["float"]["history"] != first["float"]["history"]


def test_quantised_model_holds_the_float_weights():
    torch.manual_seed(0)
    model = resnet20().eval()
    state = model.state_dict()
    copy = quantised(state, (None, None, None), torch.device("cpu")).eval()
    low = quantised(state, (4, 4, 2), torch.device("cpu"))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(copy(x), model(x))
    for name, value in low.state_dict().items():
        assert torch.equal(value, state[name])
    assert low.stage3[0].conv1.Nbits == 2 and low.stage1[0].conv1.Nbits == 4


def test_evaluate_counts_correct_argmax_in_any_batch_size():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 10))
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(37, 3, 2, 2, generator=gen), torch.randint(0, 10, (37,), generator=gen)
    with torch.no_grad():
        expected = 100.0 * sum(int(model(x[i:i + 1]).argmax() == y[i]) for i in range(37)) / 37
    assert evaluate(model, x, y, batch_size=5) == evaluate(model, x, y, 100) == expected


def test_augment_cuts_a_window_of_the_padded_image_maybe_mirrored():
    x = torch.randn(6, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    out = augment(x, torch.Generator().manual_seed(1))
    padded = nn.functional.pad(x, (4, 4, 4, 4))
    assert out.shape == x.shape
    for image, source in zip(out, padded):
        windows = [source[:, r:r + 5, c:c + 5] for r, c in itertools.product(range(9), range(9))]
        assert any(torch.equal(image, w) or torch.equal(image, w.flip(-1)) for w in windows)


@pytest.mark.full
def test_full_schedule_on_digits_is_deterministic_and_shows_the_findings(digits):
    """The whole lab (about 3 minutes on 2 quiet cores), twice."""
    settings = LabSettings.digits()
    r = run_lab(digits, settings, device=torch.device("cpu"))
    assert run_lab(digits, settings, device=torch.device("cpu")) == r
    float_acc, uniform = r["float"]["accuracy"], r["uniform"]
    assert float_acc > 95.0
    for b in ("6", "5", "4"):
        assert uniform[b]["before_finetune"] > float_acc - 3.0
    assert uniform["2"]["before_finetune"] < uniform["3"]["before_finetune"] < float_acc
    assert uniform["2"]["before_finetune"] < float_acc - 20.0
    for b in ("4", "3", "2"):
        assert uniform[b]["after_finetune"] >= uniform[b]["before_finetune"]
        assert uniform[b]["after_finetune"] > float_acc - 3.0
    assert set(r["mixed"]) == {"mixed_4_4_2", "mixed_4_2_4", "mixed_2_4_4"}
    for entry in r["mixed"].values():
        assert entry["before_finetune"] < float_acc
        assert entry["after_finetune"] > max(entry["before_finetune"], float_acc - 5.0)


def test_benchmark_script_imports():
    import importlib

    assert callable(importlib.import_module("tests.benchmarks.bench_lab2").main)
