"""A one-submission pool (`grader check`, the student kit) starts at once: in the confinement
bubblewrap should give here without a trial sandbox first (its workers' own start is the
trial), falling back to what detect() finds where that does not start, and importing only the
preloads the submission's code uses. `grader check` starts the job before it loads the key,
with the probes the check before kept: the job asked for then reads that job's events where
it is the same, and kills it first where it is not (stale probes, other code), so a guess
costs time, never a grade. Run as the program, a check that has finished ends at once,
without the interpreter's tear-down (graders.program)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
from click.testing import CliRunner

from graders import ROOT
from graders.checks.base import Probe
from graders.execution import execute
from graders.sandbox import isolation as iso
from graders.sandbox import pool as pool_module
from graders.sandbox.pool import Job, WorkerPool, preload_for
from tests.fixtures.duke_hw2.examples import EXAMPLES

WHO = [Probe("who", "value", "who")]
LOOK = ("import os, sys\n"
        "who = [os.getuid(), sorted(m for m in ('numpy', 'sympy') if m in sys.modules)]")


def test_an_untried_guess_is_confirmed_by_the_workers_start(isolation, course, environment):
    guess = iso.candidate()
    assert guess is not None and not guess.tried and guess.kind == isolation.kind
    with WorkerPool(1, ["numpy"], guess, environment=environment(course)) as pool:
        confirmed = pool.confirm()
        assert confirmed is guess and confirmed.tried
        assert confirmed.job_namespaces == isolation.job_namespaces
        assert confirmed.describe() == isolation.describe()
        uid, loaded = execute(pool, [LOOK], WHO, course.limits).probes["who"].value
    assert uid != 0 and loaded == ["numpy"]


def test_a_guess_that_does_not_start_falls_back_to_what_detect_finds(isolation, course,
                                                                     environment):
    broken = replace(iso.candidate(), bwrap="/bin/false")  # a sandbox that cannot start
    with WorkerPool(1, [], broken, environment=environment(course)) as pool:
        run = execute(pool, [LOOK], WHO, course.limits)  # the first job confirms first
        assert pool.isolation.tried and pool.isolation.bwrap == isolation.bwrap
        assert pool.isolation.describe() == isolation.describe()
    assert run.probes["who"].ok and run.probes["who"].value[0] != 0 and not run.limits_hit


def test_only_the_preloads_the_code_imports_are_preloaded():
    preload = ["numpy", "sympy", "matplotlib.pyplot", "torch"]
    code = ["import numpy as np, os\nfrom matplotlib import pyplot as plt", "# import torch"]
    assert preload_for(preload, code) == ["numpy", "matplotlib.pyplot"]
    assert preload_for(preload, ["x = 1"]) == preload_for(preload, []) == []


def test_check_starts_no_trial_sandbox_and_preloads_what_the_notebook_imports(
        isolation, config_path, tmp_path, monkeypatch):
    started = []

    class Recording(WorkerPool):
        def __init__(self, slots, preload, *args, **kwargs):
            started.append(preload)
            super().__init__(slots, preload, *args, **kwargs)

    def no_trial(*args, **kwargs):
        raise AssertionError("grader check ran a trial sandbox")

    monkeypatch.setattr(pool_module, "WorkerPool", Recording)
    monkeypatch.setattr(iso, "detect", no_trial)
    from graders.cli import main
    result = CliRunner().invoke(main, ["--config", str(config_path), "check",
                                       str(EXAMPLES / "solution.ipynb"), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert started == [["numpy", "sympy"]]  # not matplotlib.pyplot: the solution draws nothing
    report = (tmp_path / "report.html").read_text()
    assert isolation.describe() in report and "NOT ISOLATED" not in report


@pytest.mark.parametrize("line", ["import matplotlib.pyplot as plt",
                                  "from matplotlib import pyplot", "import os, matplotlib.pyplot"])
def test_a_submission_that_draws_gets_matplotlib_preloaded(line):
    assert preload_for(["numpy", "matplotlib.pyplot"], [line]) == ["matplotlib.pyplot"]


def test_the_kits_check_starts_the_same_way(isolation, course, hw2, monkeypatch):
    from graders.kit import outline
    from graders.selfcheck import run
    started = []

    class Recording(WorkerPool):
        def __init__(self, slots, preload, *args, **kwargs):
            started.append(preload)
            super().__init__(slots, preload, *args, **kwargs)

    monkeypatch.setattr(pool_module, "WorkerPool", Recording)
    monkeypatch.setattr(iso, "detect", lambda *a, **k: pytest.fail("a trial sandbox ran"))
    result, text = run(EXAMPLES / "solution.ipynb", outline(course, hw2))
    assert result.error is None and not result.limits_hit, text
    assert started == [["numpy", "sympy"]] and "NOT SANDBOXED" not in text
    assert result.isolation == isolation.describe()


# --- a job started ahead (WorkerPool.start): adopted by the run of the same job, else killed

ASKED = [Probe("seen", "value", "seen")]
CELL = "seen = [41 + 1]"


def started_ahead(course, environment):
    pool = WorkerPool(1, [], iso.candidate() or iso.detect(), environment=environment(course))
    assert pool._workers[0].start(Job([CELL], [p.wire() for p in ASKED], course.limits),
                                  "ahead")  # a known id: the events say whose they are
    return pool


def test_the_run_of_the_job_started_ahead_reads_its_events(course, environment):
    with started_ahead(course, environment) as pool:
        asked = Job([CELL], [p.wire() for p in ASKED],
                    replace(course.limits, job_s=course.limits.job_s - 1))  # time has passed
        events = pool.run(asked)
        assert {e["job"] for e in events} == {"ahead"}
        assert [e["ev"] for e in events if e["ev"] in ("done", "end")] == ["done", "end"]
        again = execute(pool, [CELL], ASKED, course.limits)  # the slot goes on as usual
    assert again.probes["seen"].value == [42] and not again.limits_hit


@pytest.mark.parametrize("change", ["cells", "probes", "files", "limits"])
def test_a_job_started_ahead_that_is_not_the_one_asked_for_is_killed_first(
        course, environment, change):
    cells, probes = [CELL], ASKED
    limits, files = course.limits, {}
    if change == "cells":
        cells = ["seen = 'from another notebook'"]
    elif change == "probes":
        probes = [Probe("other", "value", "seen")]
    elif change == "files":
        files = {"helper.py": "x = 1\n"}
    else:
        limits = replace(limits, memory_mb=limits.memory_mb // 2)
    with started_ahead(course, environment) as pool:
        run = execute(pool, cells, probes, limits, files=files)
        assert not run.limits_hit and all(r.ok for r in run.probes.values())
        assert pool._workers[0]._ahead is None
    value = next(iter(run.probes.values())).value
    assert value == ("from another notebook" if change == "cells" else [42])


def test_a_longer_total_time_or_other_code_is_another_job():
    from graders.sandbox.pool import Limits, _same_job
    base = Job(["x = 1"], [{"id": "x", "kind": "value", "name": "x", "args": (1, 2)}], Limits())
    listed = Job(["x = 1"], [{"id": "x", "kind": "value", "name": "x", "args": [1, 2]}],
                 replace(Limits(), job_s=299.5))
    assert _same_job(base, listed)  # as JSON: a tuple is a list; less time left is fine
    assert not _same_job(listed, base)  # more time than the job started ahead was given
    assert not _same_job(base, replace(base, cells=["x = 2"]))
    assert not _same_job(base, replace(base, skip=[0]))


def test_a_job_started_ahead_on_a_sandbox_that_does_not_start_is_run_anew(
        isolation, course, environment):
    broken = replace(iso.candidate(), bwrap="/bin/false")
    with WorkerPool(1, [], broken, environment=environment(course)) as pool:
        pool.start(Job([CELL], [p.wire() for p in ASKED], course.limits))
        run = execute(pool, [CELL], ASKED, course.limits)
        assert pool.isolation.describe() == isolation.describe()
    assert run.probes["seen"].value == [42] and not run.limits_hit


def test_check_starts_the_job_with_the_last_checks_probes_and_grades_the_same(
        config_path, tmp_path, monkeypatch):
    from graders import keys
    from graders.cli import main
    from graders.sandbox.pool import Worker
    ahead = []
    original = Worker.start

    def recording(self, job, job_id):
        ahead.append(original(self, job, job_id))
        return ahead[-1]

    monkeypatch.setattr(Worker, "start", recording)
    args = ["--config", str(config_path), "check", str(EXAMPLES / "wrong-sign.ipynb")]
    first = CliRunner().invoke(main, args + ["-o", str(tmp_path / "first")])
    assert first.exit_code == 0, first.output
    assert keys.remembered_probes("duke-hw2")  # kept by the first check at the latest
    second = CliRunner().invoke(main, args + ["-o", str(tmp_path / "second")])
    stale = [{**probe, "seed": 1} for probe in keys.remembered_probes("duke-hw2")]
    monkeypatch.setattr(keys, "remembered_probes", lambda assignment: stale)
    third = CliRunner().invoke(main, args + ["-o", str(tmp_path / "third")])
    assert ahead[-2:] == [True, True]  # the second with the right probes, the third stale

    def table(result):
        return [line for line in result.output.splitlines() if not line.startswith("report:")]
    assert table(first) == table(second) == table(third)
    assert "total:" in first.output


# --- and ends at once (graders.program): run as the program, a finished check skips the
# interpreter's tear-down; its output, piped here, is complete and its report written

def program(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_check_run_as_the_program_prints_everything_and_exits_zero(config_path, tmp_path):
    done = program("-m", "graders.cli", "--config", config_path, "check",
                   EXAMPLES / "wrong-sign.ipynb", "-o", tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[-2].startswith("total:") and lines[-1] == f"report: {tmp_path / 'report.html'}"
    assert (tmp_path / "report.html").exists() and (tmp_path / "result.json").exists()


def test_a_refused_file_run_as_the_program_exits_two_with_the_message(config_path, tmp_path):
    path = tmp_path / "hw2.ipynb"
    path.write_text('{"nbformat": 4, "cells": [')
    done = program("-m", "graders.cli", "--config", config_path, "check", path,
                   "-o", tmp_path / "out")
    assert done.returncode == 2 and "not valid notebook JSON" in done.stderr
    assert not (tmp_path / "out").exists()


def test_the_exit_handlers_run_and_only_the_interpreters_end_is_skipped(tmp_path):
    """A finished command's process runs its exit handlers (the judges are closed there) and
    ends: nothing else of the interpreter's end runs (a thread still alive is not waited
    for: a finished command leaves none). An unfinished command ends as usual, and so does a
    finished one under a profiler, which reports after the program returns."""
    script = tmp_path / "ending.py"
    script.write_text(
        "import atexit, os, sys, threading, time, click\n"
        "from graders.program import Program, finished\n"
        "atexit.register(print, 'exit handlers ran')\n"
        "if sys.argv[-1] == 'profiled': sys.setprofile(lambda *args: None)\n"
        "@click.group(cls=Program)\n"
        "def cli(): pass\n"
        "@cli.command()\n"
        "@click.argument('done', type=bool)\n"
        "@click.argument('how', default='plain')\n"
        "@click.pass_context\n"
        "def run(ctx, done, how):\n"
        "    print('output', flush=True)\n"
        "    threading.Thread(target=lambda: time.sleep(0.2) or print('waited for')).start()\n"
        "    if done: finished(ctx)\n"
        "cli(sys.argv[1:])\n")
    ended, usual = program(script, "run", "true"), program(script, "run", "false")
    profiled = program(script, "run", "true", "profiled")
    assert ended.returncode == usual.returncode == profiled.returncode == 0
    assert ended.stdout == "output\nexit handlers ran\n"
    assert usual.stdout == profiled.stdout == "output\nwaited for\nexit handlers ran\n"


def test_the_kits_check_run_as_the_program_ends_the_same_way(course, hw2, tmp_path):
    from graders.kit import build
    kit = build(course, hw2, tmp_path / "kit")
    done = program("-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                   "from graders.selfcheck import main; main(sys.argv[2:])", kit, "check",
                   kit / "template" / "hw2.ipynb", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.rstrip().splitlines()[-1].startswith("hidden check: graded after")
