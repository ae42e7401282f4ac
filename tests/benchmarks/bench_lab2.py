"""Benchmark (not a test): the full duke-hw4 Lab 2 reference schedule on the shipped digits.

    python tests/benchmarks/bench_lab2.py [--seed 0] [--threads N]

Runs reference.quantization_runs.run_lab on graders.datasets.digits32 with
LabSettings.digits() (no cache), printing each epoch as it ends, then the wall and CPU time,
the load average before and after (timings on a shared machine are not comparable) and the
results table. The issue's budget: under 5 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from graders.datasets import digits32  # noqa: E402
from graders.lab2_reference import results_table  # noqa: E402
from reference.quantization_runs import LabSettings, run_lab  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=LabSettings.digits().threads)
    args = parser.parse_args(argv)
    settings = replace(LabSettings.digits(), seed=args.seed, threads=args.threads)
    data = digits32(args.seed)
    load_before = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.process_time()

    def progress(stage: str, epoch: int, epochs: int, accuracy: float) -> None:
        count = f"{epoch}/{epochs}" if epochs else "eval"
        print(f"{time.perf_counter() - started:7.1f} s  {stage:<22}{count:>6}  {accuracy:6.2f} %",
              flush=True)

    results = run_lab(data, settings, progress=progress)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"\ndigits: {results['train_images']} training and {results['test_images']} test "
          f"images, {settings.total_epochs()} epochs, {settings.threads} thread(s), "
          f"device {results['device']}")
    print(f"wall {wall:.1f} s, CPU {cpu:.1f} s, load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after (budget: 300 s on 2 cores)\n")
    print(results_table(results))


if __name__ == "__main__":
    main()
