"""The instructor's batch: stable student ids, a gradebook that survives being killed, and
manual scores that land on the right student."""

from __future__ import annotations

import csv
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from graders import ROOT
from graders.identity import IdentityError, identify
from tests.fixtures.cli import invoke
from tests.fixtures.duke_hw2.examples import EXAMPLES

FAST = ["solution", "wrong-sign", "tf-wrong", "log10-loss", "prune-keeps-3", "csc-no-placeholders"]




def rows(out: Path) -> dict[str, dict]:
    with (out / "gradebook.csv").open(newline="") as handle:
        return {r["student"]: r for r in csv.DictReader(handle)}


def touch(root: Path, *names: str) -> dict[str, Path]:
    made = {}
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")
        made[name] = path
    return made


@pytest.mark.parametrize("names, expected", [
    (["alice/hw2.ipynb", "bob/hw2.ipynb"], ["alice", "bob"]),
    (["alice.ipynb", "bob.ipynb"], ["alice", "bob"]),
    (["doejane_12345_678_hw2.ipynb", "roejohn_late_222_9_hw2-1.ipynb"],
     ["canvas-12345", "canvas-222"]),
])
def test_ids_come_from_the_layout(tmp_path, names, expected):
    made = touch(tmp_path, *names)
    found = identify({tmp_path: list(made.values())})
    assert [found[made[n]].id for n in names] == expected


def test_an_id_does_not_depend_on_which_other_files_are_present(tmp_path):
    made = touch(tmp_path, "alice/hw2.ipynb", "bob/hw2.ipynb", "aaron/hw2.ipynb")
    alone = identify({tmp_path: [made["alice/hw2.ipynb"], made["bob/hw2.ipynb"]]})
    together = identify({tmp_path: list(made.values())})
    for path, who in alone.items():
        assert together[path] == who


def test_two_files_of_one_student_are_refused_naming_both(tmp_path):
    made = touch(tmp_path, "alice.ipynb", "alice/submission.ipynb")
    with pytest.raises(IdentityError) as info:
        identify({tmp_path: list(made.values())})
    assert str(made["alice.ipynb"]) in str(info.value)
    assert str(made["alice/submission.ipynb"]) in str(info.value)


def test_gradescope_and_roster_layouts(tmp_path):
    scope = tmp_path / "scope"
    made = touch(scope, "submission_101/hw2.ipynb", "submission_102/hw2.ipynb")
    (scope / "submission_metadata.yml").write_text(
        "submission_101:\n  :submitters:\n  - :name: Jane Doe\n    :sid: '7'\n"
        "submission_102:\n  :submitters:\n  - :name: Bo\n    :email: bo@x.edu\n")
    found = identify({scope: list(made.values())})
    assert [(w.id, w.name) for w in found.values()] == [("7", "Jane Doe"), ("bo@x.edu", "Bo")]
    roster = tmp_path / "roster.csv"
    roster.write_text("file,id,name\nsubmission_101/hw2.ipynb,s1,Jane\n")
    with pytest.raises(IdentityError, match="not in the roster"):
        identify({scope: list(made.values())}, roster)
    assert identify({scope: [made["submission_101/hw2.ipynb"]]}, roster)[
        made["submission_101/hw2.ipynb"]].id == "s1"


def test_manual_points_follow_the_student_when_a_classmate_joins(config_path, tmp_path):
    """alice and bob are graded; the instructor fills alice's manual points; aaron's file
    arrives; the merge still gives alice's points to alice (not to whoever sorts first)."""
    batch = tmp_path / "in"
    for student, example in (("alice", "solution"), ("bob", "wrong-sign")):
        (batch / student).mkdir(parents=True)
        shutil.copy(EXAMPLES / f"{example}.ipynb", batch / student / "hw2.ipynb")
    first = invoke(config_path, "grade", batch, "-o", tmp_path / "a")
    assert first.exit_code == 0, first.output
    table = rows(tmp_path / "a")
    manual = tmp_path / "manual.csv"
    with manual.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["student", "sha256", "1.1 explanation"])
        writer.writeheader()
        writer.writerow({"student": "alice", "sha256": table["alice"]["sha256"],
                         "1.1 explanation": "1"})
    (batch / "aaron").mkdir()
    shutil.copy(EXAMPLES / "tf-wrong.ipynb", batch / "aaron" / "hw2.ipynb")
    second = invoke(config_path, "grade", batch, "-o", tmp_path / "a", "--manual", manual)
    assert second.exit_code == 0, second.output
    after = rows(tmp_path / "a")
    assert after["alice"]["1.1 explanation"] == "1"
    assert after["aaron"]["1.1 explanation"] == "" and after["bob"]["1.1 explanation"] == ""
    assert float(after["alice"]["total"]) == float(table["alice"]["total"]) + 1.25
    # the file changed since the row was written: the row is refused, by line and student
    (batch / "alice" / "hw2.ipynb").write_bytes((EXAMPLES / "tf-wrong.ipynb").read_bytes())
    stale = invoke(config_path, "grade", batch, "-o", tmp_path / "a", "--manual", manual)
    assert stale.exit_code == 2 and "line 2 (alice)" in stale.output


def grader(config_path, *args) -> list[str]:
    return [sys.executable, "-m", "graders.cli", "--config", str(config_path), *map(str, args)]


def committed(out: Path) -> int:
    path = out / "gradebook.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_batch_killed_at_any_point_resumes_to_the_same_marks(config_path, tmp_path):
    batch = tmp_path / "in"
    batch.mkdir()
    for name in FAST:
        shutil.copy(EXAMPLES / f"{name}.ipynb", batch / f"{name}.ipynb")
    whole = subprocess.run(grader(config_path, "grade", batch, "-o", tmp_path / "whole", "-j", "1"),
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    out = tmp_path / "killed"
    for after in (1, 3):  # kill -9 once a first and then a third submission is committed
        proc = subprocess.Popen(grader(config_path, "grade", batch, "-o", out, "-j", "1"),
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while committed(out) < after and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.kill()
        proc.wait()
    resumed = subprocess.run(grader(config_path, "grade", batch, "-o", out, "-j", "1"), cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    kept = committed(out)
    assert kept == len(FAST)
    assert f"{len(FAST)} submission(s) of duke-hw2" in resumed.stdout
    graded_now = int(resumed.stdout.split(" to grade")[0].rsplit(" ", 1)[1])
    assert graded_now < len(FAST)  # what was committed before the kills was not graded again
    assert {s: r["total"] for s, r in rows(out).items()} == \
        {s: r["total"] for s, r in rows(tmp_path / "whole").items()}
    for student, row in rows(out).items():  # exports agree with the reports
        stored = json.loads((out / student / "result.json").read_text())
        assert f"{stored['total']:g}" == row["total"]


def test_ctrl_c_stops_within_two_seconds_keeps_what_finished_and_says_how_to_resume(
        config_path, tmp_path):
    batch = tmp_path / "in"
    batch.mkdir()
    shutil.copy(EXAMPLES / "solution.ipynb", batch / "a-solution.ipynb")
    shutil.copy(EXAMPLES / "infinite-loop.ipynb", batch / "b-loop.ipynb")
    slow = tmp_path / "slow.toml"
    slow.write_text((ROOT / "grader.toml").read_text())  # a 30 s cell limit
    out = tmp_path / "out"
    proc = subprocess.Popen(grader(slow, "grade", batch, "-o", out, "-j", "1"), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while committed(out) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the infinite loop is running now
    interrupted = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - interrupted < 2.0
    assert proc.returncode == 130, stderr
    assert "run the same command again" in stderr
    assert committed(out) == 1 and (out / "gradebook.csv").exists()


def test_an_assignment_named_with_a_that_contradicts_the_notebook_is_refused(config_path,
                                                                             tmp_path):
    notebook = EXAMPLES / "tf-wrong.ipynb"  # declares duke-hw2
    refused = invoke(config_path, "check", notebook, "-a", "duke-hw4", "-o", tmp_path)
    assert refused.exit_code == 2
    assert "-a duke-hw4 contradicts the assignment these submissions declare: duke-hw2" in \
        refused.output and "--force" in refused.output
    forced = invoke(config_path, "check", notebook, "-a", "duke-hw4", "--force", "-o", tmp_path)
    assert forced.exit_code == 0, forced.output


def test_a_batch_keeps_no_result_once_it_is_handed_over(monkeypatch, tmp_path):
    """The grader's memory stays flat: each result (with its plots' arrays) is freed once
    `on_result` has written it, not kept until the batch ends."""
    import gc
    import weakref

    from graders import batch

    class Result:  # stands for a GradeResult: weak-referenceable, nothing else matters
        pass

    class Judges:  # no judge is asked
        def warm(self, count):
            pass

    monkeypatch.setattr(batch, "grade", lambda path, *args: Result())
    monkeypatch.setattr(batch, "judges_for", lambda assignment: Judges())
    alive = []
    handed = batch.grade_batch([tmp_path / f"s{i}.ipynb" for i in range(40)], None, None, None,
                               "instructor", "", 2, lambda path, r: alive.append(weakref.ref(r)))
    gc.collect()
    assert handed == 40 and len(alive) == 40
    assert [ref for ref in alive if ref() is not None] == []


def test_a_batch_uses_every_core_unless_told_otherwise(tmp_path):
    """[grading] workers = "auto" (the shipped setting, and the default when the key is
    absent) is the cores this process may use; a number overrides it (as -j does)."""
    import os

    from graders import config
    text = (ROOT / "grader.toml").read_text()
    assert 'workers = "auto"' in text
    cores = len(os.sched_getaffinity(0))
    for name, changed, workers in (("auto", text, cores),
                                   ("absent", text.replace('workers = "auto"', ""), cores),
                                   ("three", text.replace('workers = "auto"', "workers = 3"), 3)):
        path = tmp_path / f"{name}.toml"
        path.write_text(changed)
        assert config.load(path).workers == workers, name


def test_a_batch_starts_its_slots_before_the_key_loads_and_closes_them_when_all_is_graded(
        config_path, tmp_path, monkeypatch):
    """`grade` starts the class's sandbox slots from the notebooks' metadata and the
    configuration alone, so they start while the engine loads the key, and those same slots
    grade the class; its judges are forked from the grader, the key loaded. Run again with
    nothing left to grade, the slots it started are closed unused."""
    from graders import cli, judge
    from graders.sandbox.pool import WorkerPool
    batch = tmp_path / "in"
    batch.mkdir()
    shutil.copy(EXAMPLES / "wrong-sign.ipynb", batch / "alice.ipynb")
    events, pools, judges = [], [], []
    start, run, load, new = WorkerPool.__init__, WorkerPool.run, cli._load, judge.Judges._new

    def started(self, *args, **kwargs):
        start(self, *args, **kwargs)
        events.append("slots started")
        pools.append(self)

    def loaded(*args):
        events.append("key loaded")
        return load(*args)

    def ran(self, job, **kwargs):
        events.append("job")
        assert self is pools[0]
        return run(self, job, **kwargs)

    def judged(self, assignment=None):
        made = new(self, assignment)
        judges.append(made)
        return made

    monkeypatch.setattr(WorkerPool, "__init__", started)
    monkeypatch.setattr(WorkerPool, "run", ran)
    monkeypatch.setattr(cli, "_load", loaded)
    monkeypatch.setattr(judge.Judges, "_new", judged)
    alone = threading.active_count() == 1  # else a fork would copy other threads' locks
    first = invoke(config_path, "grade", batch, "-o", tmp_path / "out", "-j", "1")
    assert first.exit_code == 0, first.output
    assert events == ["slots started", "key loaded", "job"] and len(pools) == 1
    assert judges and all(isinstance(j.proc, judge._Forked) == alone for j in judges)
    events.clear()
    again = invoke(config_path, "grade", batch, "-o", tmp_path / "out", "-j", "1")
    assert again.exit_code == 0 and "1 already graded" in again.output, again.output
    assert events == ["slots started", "key loaded"] and len(pools) == 2
    assert pools[1]._closed
