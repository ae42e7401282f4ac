"""`grader grade --dask`: the same class graded on a Dask LocalCluster and on the local pool
gives the same results, submission by submission; the cluster batch resumes like a local one;
a worker with another answer key is refused; the task shipped to a worker carries no key."""

from __future__ import annotations

import json
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from graders import ROOT
from tests.fixtures.cli import invoke
from tests.fixtures.duke_hw2.examples import EXAMPLES

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

#: Right, wrong, a cell that raises, another accepted form; write_class adds a corrupt file.
CLASS = {"alice": "solution", "bob": "wrong-sign", "carol": "cell-raises",
         "dave": "student-style-lab"}


@pytest.fixture(scope="module")
def cluster():
    """One Dask worker with two threads (two sandbox slots), in this process."""
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as local:
        yield local


def write_class(folder: Path) -> Path:
    for student, example in CLASS.items():
        (folder / student).mkdir(parents=True)
        shutil.copy(EXAMPLES / f"{example}.ipynb", folder / student / "hw2.ipynb")
    (folder / "erin").mkdir()
    (folder / "erin" / "hw2.ipynb").write_text('{"cells": [')  # corrupt JSON
    return folder


def results(out: Path) -> dict[str, dict]:
    """Per student: the total, the error, the limits hit, and each check's points, fraction
    and matched convention."""
    found = {}
    for path in out.glob("*/result.json"):
        data = json.loads(path.read_text())
        found[data["student"]] = {
            "total": data["total"], "error": data["error"], "limits": data["limits_hit"],
            "checks": {f"{p['id']}/{c['id']}": (c["points"], c["points"] / c["max_points"],
                                                c["variant"], c["message"])
                       for p in data["problems"] for c in p["checks"]}}
    return found


def test_a_class_graded_on_a_local_cluster_matches_the_local_pool_and_resumes(tmp_path,
                                                                             cluster):
    config_path = ROOT / "grader.toml"  # the shipped limits: a loaded machine stays in them
    batch = write_class(tmp_path / "in")
    local = invoke(config_path, "grade", batch, "-o", tmp_path / "local", "-j", "2")
    assert local.exit_code == 0, local.output
    remote = invoke(config_path, "grade", batch, "-o", tmp_path / "dask", "--dask",
                    cluster.scheduler_address)
    assert remote.exit_code == 0, remote.output
    assert "on the Dask cluster" in remote.output
    mine, theirs = results(tmp_path / "local"), results(tmp_path / "dask")
    assert set(mine) == set(CLASS) | {"erin"}
    for student in mine:  # submission by submission, check by check
        assert theirs[student] == mine[student], student
    assert mine["alice"]["total"] > mine["bob"]["total"] > 0
    assert "erin/hw2.ipynb: not valid notebook JSON" in theirs["erin"]["error"]
    assert "grader-dask-" not in (tmp_path / "dask" / "erin" / "report.html").read_text()
    # an unchanged class is not graded again; a changed file alone is
    shutil.copy(EXAMPLES / "tf-wrong.ipynb", batch / "bob" / "hw2.ipynb")
    again = invoke(config_path, "grade", batch, "-o", tmp_path / "dask", "--dask",
                   cluster.scheduler_address)
    assert again.exit_code == 0, again.output
    assert "5 submission(s) of duke-hw2: 1 to grade, 4 already graded" in again.output
    assert results(tmp_path / "dask")["bob"]["checks"]["1.3/answer"][0] == 0
    # the worker that graded no longer runs Dask's statistical profiler (100 stack walks a
    # second beside the sandbox slots)
    for worker in cluster.workers.values():
        assert not worker.periodic_callbacks["profile"].is_running()


def test_local_cluster_layouts_are_read_or_refused_with_the_fix(tmp_path):
    from graders.cluster import ClusterError, _layout
    assert _layout("local", 2) == (1, 2)
    assert _layout("local:2x1", 2) == (2, 1)
    for wrong in ("local:2", "local:0x1", "local:x", "local:2x1x1", "local:-1x2"):
        with pytest.raises(ClusterError, match="local:WxT"):
            _layout(wrong, 2)
    batch = write_class(tmp_path / "in")
    refused = invoke(ROOT / "grader.toml", "grade", batch / "erin", "-o", tmp_path / "out",
                     "-a", "duke-hw2", "--dask", "local:2")
    assert refused.exit_code != 0
    assert "--dask local:2: a LocalCluster is `local`" in refused.output
    assert "Traceback" not in refused.output


def test_a_worker_with_another_answer_key_is_refused(config_path, tmp_path, cluster, hw2,
                                                     course):
    from graders.cluster import ClusterError, grade_on_cluster
    batch = write_class(tmp_path / "in")
    other = type("Other", (), {"id": hw2.id, "key": type("Key", (), {"meta": {"hash": "0" * 64}})})
    with pytest.raises(ClusterError, match="another answer key for duke-hw2"):
        grade_on_cluster(cluster.scheduler_address, [batch / "alice" / "hw2.ipynb"], course,
                         other, "instructor", True, 2, lambda path, result: None)


def key_floats(value) -> list[float]:
    """The answer key's non-integer numbers (arrays flattened)."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in key_floats(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in key_floats(v)]
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return [float(x) for x in value.ravel()]
    if isinstance(value, float):
        return [value]
    return []


def test_the_task_shipped_to_a_worker_carries_no_key_value(course, hw2):
    """A worker computes or loads its own key (and checks its hash); the task holds the
    configuration and the submission only."""
    from graders.cluster import Spec, grade_remote
    spec = Spec(course, hw2.id, hw2.key.meta["hash"], "instructor", False)
    shipped = pickle.dumps((grade_remote, spec))
    # computed values (loss histories, optima): not a parameter such as lr = 0.1
    values = [x for x in key_floats(hw2.key.data) if abs(x * 1000 - round(x * 1000)) > 1e-6]
    assert len(values) > 100
    for value in values:
        assert struct.pack(">d", value) not in shipped and struct.pack("<d", value) not in shipped


def test_dask_local_in_its_own_processes_matches_the_local_pool(tmp_path):
    """`grader grade --dask local:1x2` as a user runs it: a new grader process that starts a
    LocalCluster whose worker is another process (its own warm sandbox slots and key)."""
    import subprocess
    import sys
    batch = tmp_path / "in"
    for student, example in (("alice", "solution"), ("bob", "wrong-sign")):
        (batch / student).mkdir(parents=True)
        shutil.copy(EXAMPLES / f"{example}.ipynb", batch / student / "hw2.ipynb")
    local = invoke(ROOT / "grader.toml", "grade", batch, "-o", tmp_path / "local", "-j", "2")
    assert local.exit_code == 0, local.output
    command = [sys.executable, "-m", "graders.cli", "--config", str(ROOT / "grader.toml"),
               "grade", str(batch), "-o", str(tmp_path / "dask"), "--dask", "local:1x2"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "on the Dask cluster" in run.stdout + run.stderr
    mine, theirs = results(tmp_path / "local"), results(tmp_path / "dask")
    assert set(theirs) == {"alice", "bob"} and theirs == mine
    assert mine["alice"]["total"] > mine["bob"]["total"] > 0
