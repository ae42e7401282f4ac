"""Shared fixtures: the course configuration with short limits, the duke-hw2 assignment, and
one warm worker pool for the whole session (starting workers is the slow part), confined as
strongly as this machine allows (bubblewrap and namespaces per job where they work)."""

from __future__ import annotations

import os

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
    preload = [*hw2.config.preload, "torch"]  # torch: duke-hw4 Lab 2 (as its own preload)
    with WorkerPool(2, preload, detect(), environment=environment(course)) as warm:
        yield warm


@pytest.fixture(scope="session")
def environment():
    """The student environment of an assignment (built once, then cached)."""
    from graders.sandbox.environment import for_assignment
    return lambda config, name="duke-hw2": for_assignment(config, name)


@pytest.fixture(scope="session")
def isolation():
    """The machine's real confinement; tests that need it skip where there is none (and fail
    in CI, which must install bubblewrap)."""
    found = detect()
    if not found.isolated:
        message = "no isolation on this machine: " + "; ".join(found.notes)
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must install bubblewrap)")
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def config_path(tmp_path_factory):
    """The shipped grader.toml with a 3 s cell limit, for tests that run the CLI."""
    path = tmp_path_factory.mktemp("cfg") / "grader.toml"
    path.write_text((ROOT / "grader.toml").read_text().replace("cell_seconds = 30",
                                                               "cell_seconds = 3"))
    return path
