"""graders.lab2_reference: Lab 2 reference runs cached as JSON under a hash of code, data,
settings and seed, torch version and device."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from graders import lab2_reference
from graders.lab2_reference import fingerprint, lab_results, load_source, results_dir, results_table
from reference.quantization import average_precision
from reference.quantization_runs import LabData, LabSettings

CPU = torch.device("cpu")
TINY = replace(LabSettings(), float_epochs=1, batch_size=16, augment=False, uniform_bits=(2,),
               uniform_finetune=((2, 1),), mixed=((4, 4, 2),), mixed_finetune_epochs=1,
               threads=1)


def _data(seed: int = 0) -> LabData:
    gen = torch.Generator().manual_seed(seed)
    return LabData(*(t for n in (32, 16) for t in (torch.randn(n, 3, 32, 32, generator=gen),
                                                    torch.randint(0, 10, (n,), generator=gen))))


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_results_are_computed_once_then_read_back(cache, monkeypatch):
    first = lab_results("digits", _data(), TINY, device=CPU)
    files = list(results_dir().glob("digits-*.json"))
    assert results_dir() == cache / "lab2" and len(files) == 1
    assert json.loads(files[0].read_text()) == first
    assert first["meta"]["hash"].startswith(files[0].stem.split("-")[1])
    assert first["results"]["uniform"]["2"]["after_finetune"] >= 0

    def fail(*args, **kwargs):
        raise AssertionError("recomputed a cached run")

    monkeypatch.setattr(lab2_reference, "run_lab", fail)
    assert lab_results("digits", _data(), TINY, device=CPU) == first
    with pytest.raises(AssertionError, match="recomputed"):
        lab_results("digits", _data(), TINY, device=CPU, rebuild=True)


def test_fingerprint_follows_data_settings_seed_and_device():
    base = fingerprint(_data(), TINY, CPU)
    assert fingerprint(LabData(*(t.clone() for t in _data())), TINY, CPU) == base
    changed = [fingerprint(_data(1), TINY, CPU),
               fingerprint(_data(), replace(TINY, seed=1), CPU),
               fingerprint(_data(), replace(TINY, finetune_lr=0.02), CPU),
               fingerprint(_data(), TINY, torch.device("cuda"))]
    assert len({base, *changed}) == 5


def test_load_source_names_what_is_wrong():
    with pytest.raises(ValueError, match="unknown data source 'mnist'"):
        load_source("mnist")
    with pytest.raises(ValueError, match="cifar10=PATH"):
        load_source("cifar10")


def test_results_table_has_a_row_per_model(cache):
    results = lab_results("digits", _data(), TINY, device=CPU)["results"]
    lines = results_table(results).splitlines()
    float_row = ["float", f"{results['float']['accuracy']:.2f}"]
    assert [line.split()[:2] for line in lines[1:]] == [float_row, ["uniform", "2"],
                                                        ["mixed", "4,4,2"]]
    bits = [float(line.split()[-1]) for line in lines[1:]]
    assert bits == [32.0, pytest.approx(average_precision(2, 2, 2)[1], abs=0.005),
                    pytest.approx(average_precision(4, 4, 2)[1], abs=0.005)]


def test_cifar10_runs_are_never_computed_while_grading(cache, tmp_path):
    """The key reads CIFAR-10 runs from the cache only; missing, it names the command."""
    from tests.engine.test_datasets import _write_batches
    folder = tmp_path / "cifar-10-batches-py"
    _write_batches(folder)
    params = {"data": "cifar10", "cifar10_path": str(folder)}
    with pytest.raises(ValueError, match=f"grader key duke-hw4 --data cifar10={folder}"):
        lab2_reference.key_runs(params)
    assert not (cache / "lab2").exists() or not list((cache / "lab2").iterdir())


def test_data_option_reads_the_source_and_its_path():
    params = {"data": "digits", "schedule": "quick", "seed": 0}
    assert lab2_reference.data_option("cifar10=/x", params) == {
        **params, "data": "cifar10", "cifar10_path": "/x"}
    assert lab2_reference.data_option("digits", params)["data"] == "digits"
    for wrong in ("cifar10", "mnist", "digits=/x"):
        with pytest.raises(ValueError, match="--data digits or --data cifar10=PATH"):
            lab2_reference.data_option(wrong, params)


def test_the_quick_digits_schedule_has_every_row_of_the_table():
    _, _, settings = lab2_reference.run_settings({"schedule": "quick"})
    full = LabSettings.digits()
    assert settings.uniform_bits == full.uniform_bits and settings.mixed == full.mixed
    assert [b for b, _ in settings.uniform_finetune] == [b for b, _ in full.uniform_finetune]
    assert settings.total_epochs() < full.total_epochs() / 3
