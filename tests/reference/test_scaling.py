"""Checks reference/scaling.py with hand-computed examples and properties of the metrics."""

import numpy as np
import pytest

from reference import scaling

NS = [1, 2, 4, 8, 16]


def test_batches_follow_the_handout_examples():
    # strong: 256 -> 128 -> 64 per worker; weak: 64 per worker, effective 128 with 2 workers
    assert [scaling.per_worker_batch(256, n, "strong") for n in (1, 2, 4)] == [256, 128, 64]
    assert scaling.per_worker_batch(64, 2, "weak") == 64
    assert scaling.global_batch(64, 2, "weak") == 128
    assert {scaling.global_batch(256, n, "strong") for n in NS} == {256}
    assert [scaling.global_batch(256, n, "weak") for n in NS] == [256, 512, 1024, 2048, 4096]


def test_bad_batches_are_rejected():
    with pytest.raises(ValueError):
        scaling.per_worker_batch(256, 3, "strong")
    with pytest.raises(ValueError):
        scaling.per_worker_batch(256, 2, "medium")


def test_iterations_per_epoch():
    # 60000 / 256 = 234.375: 235 batches, the last one of 96 samples, or 234 when dropped
    assert scaling.iterations_per_epoch(60_000, 256) == 235
    assert scaling.iterations_per_epoch(60_000, 256, drop_remainder=True) == 234
    assert scaling.iterations_per_epoch(60_000, 4096) == 15
    assert scaling.iterations_per_epoch(1024, 256) == 4


def test_one_gpu_by_hand():
    # 10 epochs x 60000 samples in 3000 s: 200 samples/s; 5/6 h x 1 GPU x 0.45 = 0.375
    m = scaling.derived_metrics(n_workers=1, mode="strong", batch=256, epochs=10, dataset_size=60_000,
                                time_s=3000.0, price_per_gpu_hour=0.45)
    assert m["throughput"] == pytest.approx(200.0)
    assert m["cost"] == pytest.approx(0.375)
    assert m["iteration_time"] == pytest.approx(256 / 200)
    assert m["time_h"] == pytest.approx(5 / 6)


def test_sixteen_gpu_weak_by_hand():
    # global batch 4096; 600000 samples in 450 s: 4000/3 samples/s; t_iter = 4096 * 450 / 600000
    m = scaling.derived_metrics(n_workers=16, mode="weak", batch=256, epochs=10, dataset_size=60_000,
                                time_s=450.0, price_per_gpu_hour=0.45)
    assert m["per_worker_batch"] == 256 and m["global_batch"] == 4096
    assert m["iteration_time"] == pytest.approx(3.072)
    assert m["cost"] == pytest.approx(450 / 3600 * 16 * 0.45)  # 0.9
    assert scaling.weak_scaling_efficiency(1.28, m["iteration_time"]) == pytest.approx(5 / 12)
    assert scaling.iteration_time_ratio(1.28, m["iteration_time"]) == pytest.approx(2.4)
    assert scaling.iteration_time_increase(1.28, m["iteration_time"]) == pytest.approx(1.792)


def test_perfect_weak_scaling_has_efficiency_one():
    """Time inversely proportional to n under weak scaling means a constant iteration time."""
    ns = np.array(NS)
    tput = 200.0 * ns
    t_iter = scaling.iteration_time(256 * ns, tput)
    np.testing.assert_allclose(scaling.weak_scaling_efficiency(t_iter[0], t_iter), 1.0)
    np.testing.assert_allclose(scaling.iteration_time_ratio(t_iter[0], t_iter), 1.0)
    # ... so the training time halves with each doubling and the cost stays constant
    time_s = scaling.training_time(10, 60_000, tput)
    np.testing.assert_allclose(time_s * ns, time_s[0])
    np.testing.assert_allclose(scaling.training_cost(time_s, ns, 0.45), scaling.training_cost(time_s[0], 1, 0.45))


def test_efficiency_and_ratio_are_reciprocal_and_efficiency_drops_with_overhead():
    t_iter = np.array([1.0, 1.1, 1.3, 1.8, 2.5])
    eff = scaling.weak_scaling_efficiency(t_iter[0], t_iter)
    np.testing.assert_allclose(eff * scaling.iteration_time_ratio(t_iter[0], t_iter), 1.0)
    assert np.all(np.diff(eff) < 0) and np.all(eff <= 1)


def test_time_and_throughput_round_trip():
    tput = scaling.throughput(10 * 60_000, 1234.5)
    assert scaling.training_time(10, 60_000, tput) == pytest.approx(1234.5)


def test_consistency_accepts_consistent_reports():
    report = scaling.check_consistency(epochs=10, dataset_size=60_000, n_gpus=4, price_per_gpu_hour=0.45,
                                       throughput=600.0, time_s=1000.0, cost=0.5)
    assert set(report) == {"samples", "cost"}
    assert all(r["ok"] for r in report.values())
    assert report["cost"]["ratio"] == pytest.approx(1.0)


def test_consistency_flags_inconsistent_reports():
    # cost computed for 1 GPU instead of 4; throughput per GPU instead of total
    report = scaling.check_consistency(epochs=10, dataset_size=60_000, n_gpus=4, price_per_gpu_hour=0.45,
                                       throughput=150.0, time_s=1000.0, cost=0.125)
    assert not report["cost"]["ok"] and report["cost"]["ratio"] == pytest.approx(0.25)
    assert not report["samples"]["ok"] and report["samples"]["ratio"] == pytest.approx(0.25)


def test_consistency_skips_missing_numbers():
    assert scaling.check_consistency(epochs=10, dataset_size=60_000, n_gpus=1, price_per_gpu_hour=0.45,
                                     time_s=100.0) == {}


def test_key():
    key = scaling.build_key()
    assert key["n_workers"] == NS
    assert key["batches"]["strong"]["per_worker"] == [256, 128, 64, 32, 16]
    assert key["batches"]["weak"]["global"] == [256, 512, 1024, 2048, 4096]
    assert key["batches"]["weak_text_example"]["global"] == [64, 128, 256, 512, 1024]
    eff = key["weak_scaling"]["efficiency"]
    assert eff[0] == 1 and eff[-1] == pytest.approx(5 / 12)
    np.testing.assert_allclose(eff * key["weak_scaling"]["variants"]["iteration_time_ratio"], 1.0)
    assert key["example"]["strong"]["cost"][0] == pytest.approx(0.375)
    with pytest.raises(KeyError):
        scaling.build_key({"workers": [1, 2]})
