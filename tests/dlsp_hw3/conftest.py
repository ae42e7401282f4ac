"""dlsp-hw3 runs in its own student environment (grader.toml: `course`, numpy 2): one warm
pool of it for this folder's tests."""

from __future__ import annotations

import pytest

from graders.assignment import load_assignment
from graders.sandbox.isolation import detect
from graders.sandbox.pool import WorkerPool


@pytest.fixture(scope="module")
def hw3(course):
    return load_assignment(course, "dlsp-hw3")


@pytest.fixture(scope="module")
def hw3_pool(hw3, course, environment):
    with WorkerPool(2, hw3.config.preload, detect(),
                    environment=environment(course, "dlsp-hw3")) as warm:
        yield warm
