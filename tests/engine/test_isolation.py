"""Confinement that holds between jobs and between graders: each job in namespaces of its
own (nothing it leaves reaches the next), a lost worker replaced and the job retried, a uid
block per grader, and cgroups that are gone when the pool is."""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest

from graders.checks.base import Probe
from graders.execution import execute
from graders.sandbox import isolation as iso
from graders.sandbox.pool import WorkerPool

SEEN = [Probe("seen", "value", "seen")]
LEAVE_EVERYTHING = (
    "import os, subprocess, time\n"
    "for folder in ('/tmp', '/dev/shm', '.'):\n"
    "    open(os.path.join(folder, 'left-by-job-1'), 'w').write('secret-of-job-1')\n"
    "os.chmod('.', 0o500)\n"
    "subprocess.Popen(['sleep', '987654'], start_new_session=True)\n"
    "if os.fork() == 0:\n    os.setsid()\n    time.sleep(10**6)\n"
    "seen = 'left'")
LOOK_AROUND = (
    "import os, glob\n"
    "procs = [open(f'/proc/{p}/cmdline', 'rb').read() for p in os.listdir('/proc') if p.isdigit()]\n"
    "seen = {'pid': os.getpid(), 'tmp': os.listdir('/tmp'), 'shm': os.listdir('/dev/shm'),\n"
    "        'job': sorted(os.listdir('/job')), 'cwd': os.getcwd(),\n"
    "        'sleepers': sum(b'987654' in c for c in procs)}")




@pytest.fixture(scope="module")
def one_slot(isolation, hw2, course, environment):
    with WorkerPool(1, hw2.config.preload, isolation, environment=environment(course)) as pool:
        yield pool


def test_nothing_a_job_leaves_reaches_the_next_job_in_its_slot(one_slot, isolation, course):
    if not isolation.job_namespaces:
        pytest.skip("jobs cannot have namespaces of their own here")
    limits = replace(course.limits, cell_s=5.0)
    first = execute(one_slot, [LEAVE_EVERYTHING], SEEN, limits)
    assert first.probes["seen"].value == "left"
    after = execute(one_slot, [LOOK_AROUND], SEEN, limits).probes["seen"].value
    assert after["pid"] == 1  # the job is the init of a pid namespace of its own
    assert after["tmp"] == [] and after["shm"] == [] and after["sleepers"] == 0
    assert after["job"] == [Path(after["cwd"]).name]  # its own unpredictable folder only
    assert first.probes["seen"].ok and len(Path(after["cwd"]).name) > 20


def test_a_job_that_kills_its_process_group_reaches_neither_its_slot_nor_the_next_job(
        one_slot, isolation, course):
    if not isolation.job_namespaces:
        pytest.skip("jobs cannot have namespaces of their own here")
    worker = one_slot._workers[0]
    execute(one_slot, ["seen = 1"], SEEN, course.limits)
    zygote = worker.proc.pid
    killer = execute(one_slot, ["import os, signal\nos.kill(0, signal.SIGKILL)\nseen = 1"],
                     SEEN, course.limits)
    # its group is its own: the job, its namespace's init, ignores its own SIGKILL
    assert killer.probes["seen"].value == 1
    assert worker.proc.poll() is None and worker.proc.pid == zygote  # no new slot was needed
    again = execute(one_slot, ["seen = 41 + 1"], SEEN, course.limits)
    assert again.probes["seen"].value == 42 and again.limits_hit == []


def test_a_lost_worker_is_replaced_and_a_job_that_had_not_started_is_retried(one_slot,
                                                                             course):
    worker = one_slot._workers[0]
    worker._await_ready()
    os.killpg(worker.proc.pid, signal.SIGKILL)  # the zygote dies between two jobs
    worker.proc.wait()
    again = execute(one_slot, ["seen = 41 + 1"], SEEN, course.limits)
    assert again.probes["seen"].value == 42 and again.limits_hit == []
    assert worker.proc.poll() is None  # a fresh zygote


def test_two_graders_on_one_machine_hold_different_uid_blocks(isolation):
    if isolation.kind != "bubblewrap-root":
        pytest.skip("separate uids need root")
    first, second = isolation.claim(2), isolation.claim(2)
    try:
        assert first.uid_base != second.uid_base
        assert abs(first.uid_base - second.uid_base) >= iso.UID_BLOCK
    finally:
        first.release()
        second.release()
    third = isolation.claim(1)
    assert third.uid_base == first.uid_base  # released blocks are free again
    third.release()


def test_slot_cgroups_are_gone_with_the_pool_and_stale_ones_are_swept(isolation, hw2):
    if not isolation.cgroup_controllers:
        pytest.skip("no writable cgroups here")
    base = next(iter(isolation.cgroup_controllers.values()))
    stale = base / f"{iso.CGROUP_PREFIX}-999999999-0-1-slot0"  # a grader that is gone
    stale.mkdir()
    with WorkerPool(1, hw2.config.preload, isolation) as pool:
        created = list(pool.slots.cgroups.created)
        assert created and all(path.exists() for path in created)
        assert not stale.exists()
    assert not any(path.exists() for path in created)
