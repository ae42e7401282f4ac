"""Shared fixtures: the course configuration with short limits, the duke-hw2 assignment, and
one warm worker pool for the whole session (starting workers is the slow part)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from graders import ROOT, config
from graders.assignment import load_assignment
from graders.sandbox.pool import WorkerPool


@pytest.fixture(scope="session")
def course():
    """grader.toml with limits short enough for tests (a 3 s cell, 60 s per submission)."""
    loaded = config.load(ROOT / "grader.toml")
    return replace(loaded, limits=replace(loaded.limits, cell_s=3.0, probe_s=20.0, job_s=60.0))


@pytest.fixture(scope="session")
def hw2(course):
    return load_assignment(course, "duke-hw2")


@pytest.fixture(scope="session")
def pool(hw2):
    with WorkerPool(2, hw2.config.preload) as warm:
        yield warm
