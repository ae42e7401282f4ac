"""Shared fixtures: the course configuration with short limits, the duke-hw2 assignment, and
one warm worker pool for the whole session (starting workers is the slow part), confined as
strongly as this machine allows (bubblewrap and namespaces per job where they work)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from graders import ROOT, config
from graders.assignment import load_assignment
from graders.sandbox.isolation import detect
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
def pool(hw2, course, environment):
    with WorkerPool(2, hw2.config.preload, detect(), environment=environment(course)) as warm:
        yield warm


@pytest.fixture(scope="session")
def environment():
    """The student environment of an assignment (built once, then cached)."""
    from graders.sandbox.environment import for_assignment
    return lambda config, name="duke-hw2": for_assignment(config, name)
