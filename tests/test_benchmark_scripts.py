"""The benchmark scripts are not run in tests (timings belong in their output, not in
assertions), but they must keep importing as the code around them changes."""

import importlib

import pytest


@pytest.mark.parametrize("module", ["tests.benchmarks.bench_check", "tests.benchmarks.bench_keys",
                                    "tests.benchmarks.bench_check_timeline",
                                    "tests.benchmarks.bench_batch",
                                    "tests.benchmarks.bench_otter", "tests.adversarial.table"])
def test_benchmark_and_report_scripts_import(module):
    assert callable(importlib.import_module(module).main)
