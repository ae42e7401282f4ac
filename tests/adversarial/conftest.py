"""The adversarial suite grades in a real sandbox: bubblewrap must work (CI installs it)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from graders.grading import grade
from graders.sandbox.isolation import detect
from graders.sandbox.pool import WorkerPool
from tests.adversarial.attacks import ATTACKS, SECRET, Attack


@pytest.fixture(scope="session")
def isolation():
    found = detect()
    if not found.isolated:
        message = "no isolation on this machine: " + "; ".join(found.notes)
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must install bubblewrap)")
        pytest.skip(message)
    return found


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
    if attack.build:
        return attack.build(folder)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(c.replace("PORT", str(port))) for c in attack.cells])
    nb.metadata["grader"] = {"assignment": "duke-hw2"}
    path = folder / f"{attack.name}.ipynb"
    nbformat.write(nb, path)
    return path


@dataclass
class Graded:
    attack: Attack
    result: object
    report: str  # the HTML and the JSON, together


@pytest.fixture(scope="session")
def graded(hw2, course, isolation, listener, tmp_path_factory):
    """Every attack graded once, in a two-slot isolated pool, as an instructor would."""
    from graders.report import render_report
    os.environ["GRADER_TEST_SECRET"] = SECRET  # the grader's environment holds a secret
    folder = tmp_path_factory.mktemp("attacks")
    port = listener.getsockname()[1]
    out = {}
    with WorkerPool(2, hw2.config.preload, isolation, course.limits.memory_mb) as pool:
        for attack in ATTACKS:
            path = write_attack(attack, folder, port)
            result = grade(path, hw2, pool, course.limits, "instructor", isolation.describe())
            report = render_report(result) + json.dumps(result.as_json(), default=str)
            out[attack.name] = Graded(attack, result, report)
    return out


def sandbox_processes(settle_s: float = 10.0) -> list[str]:
    """Processes of the slot uids (61000+) still alive on the host, after giving the kernel
    up to `settle_s` to tear down namespaces whose init was killed (that is asynchronous)."""
    deadline = time.monotonic() + settle_s
    while True:
        listing = subprocess.run(["ps", "-e", "-o", "uid=,pid=,args="], capture_output=True,
                                 text=True).stdout
        left = [line for line in listing.splitlines()
                if 61000 <= int(line.split()[0]) < 61100 or "987654" in line]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)
