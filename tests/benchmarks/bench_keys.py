"""Benchmark (not a test): the time to build every answer key from reference/, uncached.

    python tests/benchmarks/bench_keys.py

Prints the seconds per topic (reference module) and per assignment, as configured in
grader.toml. Quantisation training is not part of any key.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from graders import config  # noqa: E402
from graders.assignment import load_module  # noqa: E402


def main() -> None:
    course = config.load(ROOT / "grader.toml")
    total = 0.0
    for name, settings in course.assignments.items():
        module = load_module(settings)
        started = time.perf_counter()
        key = module.build_key(dict(settings.key_params))
        seconds = time.perf_counter() - started
        total += seconds
        print(f"{name:<10} {seconds:6.3f} s  (topics: {', '.join(key)})")
        for topic in key:
            reference = importlib.import_module(f"reference.{topic}")
            started = time.perf_counter()
            reference.build_key(settings.key_params.get(topic))
            print(f"  {topic:<14} {time.perf_counter() - started:6.3f} s")
    print(f"all keys   {total:6.3f} s (imports, torch included, counted where first used)")


if __name__ == "__main__":
    main()
