"""dlsp-hw3 Problem 2: strong vs weak scaling of data-parallel training.

The functions take a student's measured numbers and return the derived metrics.
Units: times in seconds unless a name says hours, throughput in samples/s summed over all
learners, prices in currency per GPU-hour. All functions work element-wise on numpy arrays.

- Strong scaling: the global batch B stays fixed; each of n learners gets B / n samples.
- Weak scaling: each learner keeps B samples; the global (effective) batch is n * B.
"""

import numpy as np

MODES = ("strong", "weak")


def per_worker_batch(batch: int, n_workers: int, mode: str) -> int:
    """Samples per learner per iteration: B / n (strong, n must divide B) or B (weak)."""
    if mode == "weak":
        return batch
    if mode != "strong":
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if batch % n_workers:
        raise ValueError(f"strong scaling needs n={n_workers} to divide the batch {batch}")
    return batch // n_workers


def global_batch(batch: int, n_workers: int, mode: str) -> int:
    """Samples per iteration over all learners: B (strong) or n * B (weak)."""
    return n_workers * per_worker_batch(batch, n_workers, mode)


def iterations_per_epoch(dataset_size: int, global_batch: int, drop_remainder: bool = False) -> int:
    """ceil(N / global batch), or floor(N / global batch) when the last partial batch is dropped."""
    return dataset_size // global_batch if drop_remainder else -(-dataset_size // global_batch)


def throughput(samples, seconds):
    """Samples per second: samples / seconds (e.g. epochs * N / training time)."""
    return np.divide(samples, seconds)


def training_time(epochs, dataset_size, throughput):
    """Seconds to process epochs * N samples at `throughput` samples/s."""
    return np.divide(np.multiply(epochs, dataset_size), throughput)


def training_cost(time_s, n_gpus, price_per_gpu_hour):
    """cost = (time_s / 3600) * n_gpus * price_per_gpu_hour."""
    return np.multiply(np.divide(time_s, 3600), np.multiply(n_gpus, price_per_gpu_hour))


def iteration_time(global_batch, throughput):
    """Seconds for one synchronous iteration, in which every learner processes its own batch:
    t_iter = global batch / throughput = per-worker batch / per-learner throughput."""
    return np.divide(global_batch, throughput)


def weak_scaling_efficiency(t_iter_1, t_iter_n):
    """Part 4's efficiency, read as a ratio that is 1 for perfect weak scaling: t_iter(1) / t_iter(n).

    Under weak scaling each learner's work per iteration is constant, so any growth of the
    iteration time with n is communication/synchronisation overhead.
    """
    return np.divide(t_iter_1, t_iter_n)


def iteration_time_ratio(t_iter_1, t_iter_n):
    """Variant: the literal "increase in time to finish one iteration" as t_iter(n) / t_iter(1)."""
    return np.divide(t_iter_n, t_iter_1)


def iteration_time_increase(t_iter_1, t_iter_n):
    """Variant: the increase as a difference, t_iter(n) - t_iter(1), in seconds."""
    return np.subtract(t_iter_n, t_iter_1)


def derived_metrics(*, n_workers: int, mode: str, batch: int, epochs: int, dataset_size: int,
                    time_s: float, price_per_gpu_hour: float) -> dict:
    """Metrics of one training job (n_workers GPUs) from its measured training time."""
    gb = global_batch(batch, n_workers, mode)
    tput = throughput(epochs * dataset_size, time_s)
    return {
        "per_worker_batch": per_worker_batch(batch, n_workers, mode),
        "global_batch": gb,
        "iterations_per_epoch": iterations_per_epoch(dataset_size, gb),
        "throughput": float(tput),
        "time_s": time_s,
        "time_h": time_s / 3600,
        "cost": float(training_cost(time_s, n_workers, price_per_gpu_hour)),
        "iteration_time": float(iteration_time(gb, tput)),
    }


def check_consistency(*, epochs: int, dataset_size: int, n_gpus: int, price_per_gpu_hour: float,
                      throughput: float | None = None, time_s: float | None = None,
                      cost: float | None = None, rtol: float = 0.1) -> dict:
    """Check a student's reported throughput, time and cost against each other.

    Relations (each checked only when its reported numbers are given):
        "samples": throughput * time_s  ==  epochs * dataset_size
        "cost":    time_s / 3600 * n_gpus * price_per_gpu_hour  ==  cost
    Returns {relation: {"expected", "reported", "ratio", "ok"}} with ratio = reported / expected
    and ok when |ratio - 1| <= rtol. Throughput measured without start-up, evaluation or
    checkpoint time makes "samples" exceed 1; `rtol` (default 10%) absorbs modest overhead.
    """
    checks = {}
    if throughput is not None and time_s is not None:
        checks["samples"] = (epochs * dataset_size, throughput * time_s)
    if time_s is not None and cost is not None:
        checks["cost"] = (float(training_cost(time_s, n_gpus, price_per_gpu_hour)), cost)
    return {
        name: {"expected": expected, "reported": reported, "ratio": reported / expected,
               "ok": bool(abs(reported / expected - 1) <= rtol)}
        for name, (expected, reported) in checks.items()
    }


DEFAULT_PARAMS = {
    "n_workers": [1, 2, 4, 8, 16],
    "batch": 256,  # the handout's effective batch; weak scaling keeps it per learner
    "weak_batch_text_example": 64,  # the handout's weak-scaling illustration
    "epochs": 10,
    "dataset_size": 60_000,  # FashionMNIST training set
    "price_per_gpu_hour": 0.45,  # illustrative K80 on-demand price (GCP, 2020), USD
    # Illustrative measured training times (s), aligned with n_workers; not real measurements.
    "example_time_s": {
        "strong": [3000.0, 1700.0, 1000.0, 700.0, 800.0],
        "weak": [3000.0, 1650.0, 900.0, 560.0, 450.0],
    },
}


def build_key(params: dict | None = None) -> dict:
    """Answer key for dlsp-hw3 Problem 2; `params` overrides keys of DEFAULT_PARAMS.

    Lists are aligned with "n_workers", whose first entry (1 learner) is the weak-scaling baseline.
    {"n_workers": [...],
     "batches": {"strong" | "weak" | "weak_text_example": {"per_worker", "global"}},
     "example": {"strong" | "weak": {metric: [...]}, from derived_metrics on example_time_s},
     "weak_scaling": {"efficiency": t1/tn, "variants": {"iteration_time_ratio": tn/t1,
                                                       "iteration_time_increase_s": tn - t1}}}
    """
    p = {**DEFAULT_PARAMS, **(params or {})}
    if unknown := set(p) - set(DEFAULT_PARAMS):
        raise KeyError(f"unknown parameters {sorted(unknown)}")
    ns = p["n_workers"]

    def batches(batch, mode):
        return {"per_worker": [per_worker_batch(batch, n, mode) for n in ns],
                "global": [global_batch(batch, n, mode) for n in ns]}

    example = {}
    for mode, times in p["example_time_s"].items():
        rows = [derived_metrics(n_workers=n, mode=mode, batch=p["batch"], epochs=p["epochs"],
                                dataset_size=p["dataset_size"], time_s=t,
                                price_per_gpu_hour=p["price_per_gpu_hour"])
                for n, t in zip(ns, times, strict=True)]
        example[mode] = {metric: [row[metric] for row in rows] for metric in rows[0]}

    t_iter = np.array(example["weak"]["iteration_time"])
    return {
        "n_workers": list(ns),
        "batches": {"strong": batches(p["batch"], "strong"), "weak": batches(p["batch"], "weak"),
                    "weak_text_example": batches(p["weak_batch_text_example"], "weak")},
        "example": example,
        "weak_scaling": {
            "efficiency": weak_scaling_efficiency(t_iter[0], t_iter),
            "variants": {"iteration_time_ratio": iteration_time_ratio(t_iter[0], t_iter),
                         "iteration_time_increase_s": iteration_time_increase(t_iter[0], t_iter)},
        },
    }
