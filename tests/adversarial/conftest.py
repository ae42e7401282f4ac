"""The adversarial suite grades in a real sandbox: bubblewrap must work (CI installs it)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from graders.grading import grade
from graders.sandbox.pool import WorkerPool
from tests.adversarial.attacks import ALIAS_LINES, ATTACKS, SECRET, Attack




@pytest.fixture(scope="session")
def listener():
    """A TCP server on the host's loopback that no submission may reach."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    yield server
    server.close()


def write_attack(attack: Attack, folder: Path, port: int) -> Path:
    """The attack's submission file in `folder` (an honest attack: its example notebook)."""
    if attack.build:
        return attack.build(folder)
    if attack.honest:
        from tests.fixtures.duke_hw2.examples import EXAMPLES
        path = folder / f"{attack.name}.ipynb"
        shutil.copy(EXAMPLES / f"{attack.honest}.ipynb", path)
        return path
    return write_cells(attack.cells, folder / f"{attack.name}.ipynb", port)


def write_cells(cells: tuple[str, ...], path: Path, port: int = 0) -> Path:
    """A duke-hw2 notebook of `cells`, each ending with the lines that copy answers to their
    numbered names (in the cell itself: a cell may break every later one)."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(c.replace("PORT", str(port)) + "\n" + ALIAS_LINES)
        for c in cells])
    nb.metadata["grader"] = {"assignment": "duke-hw2"}
    nbformat.write(nb, path)
    return path


@dataclass
class Graded:
    attack: Attack
    result: object
    report: str  # the HTML and the JSON, together
    expected: float  # the points it may earn: honestly, or as its honest notebook alone
    alone: object = None  # for an honest notebook after a saboteur: its result graded alone


def grade_attacks(attacks, hw2, limits, isolation, port: int, folder: Path) -> dict[str, Graded]:
    """Every attack graded as an instructor would: single ones one after the other in a
    two-slot pool; those with a job `before` in a one-slot pool (so both run in the same slot,
    in order), after the honest notebooks they use were graded alone there first."""
    from graders.report import render_report

    def graded(attack, pool, alone=None) -> Graded:
        expected = alone.auto_points if alone else attack.honest_points
        try:
            path = write_attack(attack, folder, port)
            result = grade(path, hw2, pool, limits, "instructor", isolation.describe())
            report = render_report(result) + json.dumps(result.as_json(), default=str)
        except Exception as exc:  # noqa: BLE001 - the grader failed: that attack's tests fail
            return Graded(attack, None, f"grading raised {type(exc).__name__}: {exc}", expected)
        return Graded(attack, result, report, expected, alone)

    out = {}
    with WorkerPool(2, hw2.config.preload, isolation, limits.memory_mb) as pool:
        for attack in attacks:
            if not attack.before:
                out[attack.name] = graded(attack, pool)
    with WorkerPool(1, hw2.config.preload, isolation, limits.memory_mb) as slot:
        alone = {name: graded(Attack(f"{name}-alone", honest=name), slot).result
                 for name in {a.honest for a in attacks if a.before and a.honest}}
        for attack in attacks:
            if attack.before:
                graded(Attack(f"{attack.name}-before", attack.before), slot)
                out[attack.name] = graded(attack, slot, alone.get(attack.honest))
    return out


@pytest.fixture(scope="session")
def graded(hw2, course, isolation, listener, tmp_path_factory):
    """Every attack graded once (grade_attacks), with a secret in the grader's environment."""
    os.environ["GRADER_TEST_SECRET"] = SECRET
    return grade_attacks(ATTACKS, hw2, course.limits, isolation, listener.getsockname()[1],
                         tmp_path_factory.mktemp("attacks"))


def sandbox_processes(settle_s: float = 10.0) -> list[str]:
    """Processes still alive on the host with the uid of a slot whose pool this test run has
    closed (each grader holds uid blocks of its own, so other graders on the machine do not
    count), after giving the kernel up to `settle_s` to tear down namespaces whose init was
    killed (that is asynchronous)."""
    from graders.sandbox.isolation import released_uids
    deadline = time.monotonic() + settle_s
    while True:
        listing = subprocess.run(["ps", "-e", "-o", "uid=,pid=,args="], capture_output=True,
                                 text=True).stdout
        closed = released_uids()
        left = [line for line in listing.splitlines()
                if any(int(line.split()[0]) in uids for uids in closed) or
                ("987654" in line and "ps -e" not in line)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)
