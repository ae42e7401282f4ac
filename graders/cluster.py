"""Grading a class on a Dask distributed cluster. TRUSTED side: the client and every Dask
worker are grader processes; student code runs only in each worker's sandbox slots.

`grader grade --dask ADDRESS` maps the per-submission grading of graders/grading.py over the
cluster whose scheduler listens at ADDRESS (dask-jobqueue starts one on Slurm, dask-kubernetes
on Kubernetes; `local` starts a LocalCluster on this machine):

  client (the `grader` process)              a Dask worker (GraderPlugin, one per worker)
  Batch.pending: the files to grade
  submit grade_remote(spec, name, bytes) --> on its first task: loads the assignment (the key
    at most 2 tasks per Dask thread in         from its own cache or reference/), refuses a key
    flight, so memory stays flat               other than the client's (key hash) and an
                                               unisolated machine (unless --no-isolation), and
                                               starts a WorkerPool of one warm slot per Dask
                                               thread, kept for the next tasks and batches;
                                               grades the file on it: the sandbox sees cells
                                               and probes only, as on one machine
  Batch.record(path, result)  <------------  the GradeResult (plots as arrays)

The task carries the course configuration (`Spec`) and the submission's bytes, never a key:
each worker builds or loads its own and checks its hash against the client's, so a worker
with other reference code is refused rather than grading against another key. A result
travels as Dask serialises it, between trusted grader processes: what the sandbox sent was
decoded from JSON by the judge on the worker, exactly as on one machine. The client writes
each result exactly as a local batch does (report, then its gradebook row in one
transaction), so an interrupted cluster batch resumes the same way. A task that fails for
the cluster's sake (a worker lost again and again) is logged and left ungraded: the next
run grades it. An internal error while grading zeroes that submission, as on one machine;
its traceback is in the Dask worker's log.
"""

from __future__ import annotations

import gc
import logging
import os
import stat
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path

import dask
from distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker

from graders.assignment import load_assignment
from graders.batch import frozen_heap
from graders.config import Config
from graders.grading import GradeResult, grade
from graders.judge import judges_for
from graders.sandbox.environment import for_assignment
from graders.sandbox.isolation import detect
from graders.sandbox.pool import Cancelled, WorkerPool
from graders.submission import MAX_BYTES, display

log = logging.getLogger("graders")
PLUGIN = "course-grader"
#: Seconds a cancelled worker waits for its running jobs to stop before closing its slots.
CANCEL_S = 15.0
#: Seconds between two looks at the cluster's thread count (workers may join mid-batch).
WINDOW_S = 5.0
#: Dask's own upkeep, lowered for `--dask local` (it runs beside the sandbox slots on the same
#: cores): no statistical profiler (100 stack walks a second), event-loop and memory checks
#: once a second, the system monitor every 5 s. Measured on 2 cores: a LocalCluster's worker
#: and scheduler spent about 45 ms of CPU per wall second on these, 8 ms without.
QUIET = {"distributed.worker.profile.enabled": False,
         "distributed.admin.tick.interval": "1s",
         "distributed.worker.memory.monitor-interval": "1s",
         "distributed.admin.system-monitor.interval": "5s"}
#: The periodic callbacks of Dask's statistical profiler, stopped on every worker that grades
#: (a course's cluster too): the grader never reads its profiles.
PROFILER = ("profile", "profile-cycle")


class ClusterError(RuntimeError):
    """The cluster cannot grade this batch (unreachable, unisolated, another key); str() says
    what and the fix."""


@dataclass(frozen=True)
class Spec:
    """What a Dask worker needs to grade: the course configuration (no computed key), the
    assignment, the key hash the client grades against, the audience, and whether an
    unisolated worker may grade (--no-isolation)."""

    config: Config
    assignment: str
    key_hash: str
    audience: str
    unisolated: bool


class Warm:
    """A Dask worker's warm state for one Spec: the assignment and a pool of sandbox slots."""

    def __init__(self, spec: Spec, slots: int, where: str):
        isolation = detect()
        if not isolation.isolated and not spec.unisolated:
            raise ClusterError(f"Dask worker {where}: refusing to grade without isolation: "
                               + "; ".join(isolation.notes) + ". Install bubblewrap on the "
                               "workers (`grader doctor` there says what is missing), or pass "
                               "--no-isolation to grade anyway.")
        self.assignment = load_assignment(spec.config, spec.assignment)
        found = self.assignment.key.meta["hash"]
        if found != spec.key_hash:
            raise ClusterError(f"Dask worker {where} computes another answer key for "
                               f"{spec.assignment} ({found[:12]}) than this grader "
                               f"({spec.key_hash[:12]}): install the same grader and "
                               "reference/ on the workers.")
        self.spec, self.isolation = spec, isolation.describe()
        environment = for_assignment(spec.config, spec.assignment, progress=log.info)
        self.pool = WorkerPool(slots, self.assignment.config.preload, isolation,
                               spec.config.limits.memory_mb, environment)
        judges_for(self.assignment).warm(slots)  # one a slot, loading while the slots start
        self.active = 0
        self.idle = threading.Condition()
        gc.freeze()  # Dask, the engine and the key: no full collection walks them again

    def close(self) -> None:
        """Kill the running jobs, wait until their tasks have let go, close the slots."""
        self.pool.cancel()
        with self.idle:
            self.idle.wait_for(lambda: self.active == 0, CANCEL_S)
        self.pool.close()


class GraderPlugin(WorkerPlugin):
    """Per Dask worker: its Warm state, started by the first task (lazily: a worker that never
    grades starts no sandbox) and kept for later tasks and batches."""

    idempotent = True  # registering it again keeps a worker's warm slots

    def setup(self, worker) -> None:
        self.slots, self.where = worker.state.nthreads, str(worker.address)
        for name in PROFILER:
            callback = worker.periodic_callbacks.get(name)
            if callback is not None:
                callback.stop()
        self.lock = threading.Lock()
        self.warm: Warm | None = None

    @contextmanager
    def use(self, spec: Spec):
        """The warm state for `spec` while a task grades on it."""
        with self.lock:
            if self.warm is not None and self.warm.spec != spec:
                self.warm.close()
                self.warm = None
            if self.warm is None:
                self.warm = Warm(spec, self.slots, self.where)
            warm = self.warm
            with warm.idle:
                warm.active += 1
        try:
            yield warm
        finally:
            with warm.idle:
                warm.active -= 1
                warm.idle.notify_all()

    def cancel(self) -> None:
        """Stop the running jobs (Ctrl-C on the client); the next task starts afresh."""
        with self.lock:
            if self.warm is not None:
                self.warm.close()
                self.warm = None

    def teardown(self, worker) -> None:
        self.cancel()


def grade_remote(spec: Spec, name: str, data: bytes, shown: str) -> GradeResult:
    """Run on a Dask worker: grade the submission `data` (its file name `name`) on the
    worker's warm slots; the result, with the file shown as `shown` (its path on the
    client) wherever the temporary copy's path would appear."""
    with get_worker().plugins[PLUGIN].use(spec) as warm, \
            tempfile.TemporaryDirectory(prefix="grader-dask-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            result = grade(path, warm.assignment, warm.pool, spec.config.limits, spec.audience,
                           warm.isolation)
        except Cancelled:  # a BaseException: raised as an Exception, the task's error
            raise RuntimeError("cancelled: the batch was interrupted") from None
    return _renamed(result, display(path), shown)


def _renamed(value, old: str, new: str):
    """`value` with `old` replaced by `new` in every string it holds (lists and dataclasses
    changed in place; arrays left as they are)."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        value[:] = [_renamed(item, old, new) for item in value]
    elif isinstance(value, tuple):
        return tuple(_renamed(item, old, new) for item in value)
    elif isinstance(value, dict):
        for key in value:
            value[key] = _renamed(value[key], old, new)
    elif is_dataclass(value):
        for item in fields(value):
            setattr(value, item.name, _renamed(getattr(value, item.name), old, new))
    return value


def _cancel_worker(dask_worker) -> None:
    plugin = dask_worker.plugins.get(PLUGIN)
    if plugin is not None:
        plugin.cancel()


@contextmanager
def connect(address: str, threads: int):
    """A Dask client of the scheduler at `address`; `local`: of a LocalCluster started here
    with Dask's upkeep QUIET, one worker process of `threads` threads (slots: as many as the
    local pool's); `local:WxT`: W worker processes of T threads each."""
    if address == "local" or address.startswith("local:"):
        workers, threads = _layout(address, threads)
        with dask.config.set(QUIET), \
                LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True,
                             dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            yield client
        return
    try:
        client = Client(address, timeout=30)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address} ({exc}); check the "
                           "address, or start a cluster (README: Clusters).") from None
    with client:
        yield client


def _layout(address: str, threads: int) -> tuple[int, int]:
    """(worker processes, threads each) of a LocalCluster: `local` is (1, threads),
    `local:2x1` is (2, 1). ClusterError for another form."""
    if address == "local":
        return 1, threads
    workers, _, each = address.removeprefix("local:").partition("x")
    if not (workers.isdigit() and each.isdigit() and 0 < int(workers) <= 64
            and 0 < int(each) <= 64):
        raise ClusterError(f"--dask {address}: a LocalCluster is `local` (one worker process "
                           "with -j threads) or `local:WxT` (W worker processes of T threads, "
                           "e.g. local:2x1).")
    return int(workers), int(each)


def _read(path: Path) -> bytes | None:
    """The submission's bytes (at most MAX_BYTES + 1: load() refuses more), or None when it
    is no regular readable file (graded here, where load() says why)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return handle.read(MAX_BYTES + 1)


def grade_on_cluster(address: str, files: list[Path], config: Config, assignment,
                     audience: str, unisolated: bool, threads: int, on_result) -> list[Path]:
    """Grade `files` on the Dask cluster at `address`; `on_result(path, result)` is called in
    this thread as each arrives, as graders.batch.grade_batch does. Returns the files the
    cluster failed to grade (logged; left for the next run). ClusterError when the workers
    refuse the batch; on KeyboardInterrupt the queued tasks are cancelled, the workers' running
    jobs killed, and the interrupt goes on."""
    spec = Spec(config, assignment.id, assignment.key.meta["hash"], audience, unisolated)
    todo, failed = list(reversed(files)), []
    with connect(address, threads) as client, frozen_heap():
        client.register_plugin(GraderPlugin(), name=PLUGIN)
        shared = client.scatter(spec, broadcast=True, hash=False)
        running, paths = as_completed(), {}  # future -> its file
        window = {"size": 2, "at": -WINDOW_S}

        def submit_more() -> None:
            if time.monotonic() - window["at"] >= WINDOW_S:  # a scheduler round trip
                window["size"] = max(2, 2 * sum(client.nthreads().values()))
                window["at"] = time.monotonic()
            while todo and len(paths) < window["size"]:
                path = todo.pop()
                data = _read(path)
                if data is None:  # not a regular file: load() gives its reason, no sandbox
                    on_result(path, grade(path, assignment, None, config.limits, audience, ""))
                    continue
                future = client.submit(grade_remote, shared, path.name, data, display(path),
                                       pure=False)
                paths[future] = path
                running.add(future)

        try:
            submit_more()
            for future in running:
                path = paths.pop(future)
                try:
                    result = future.result()
                except ClusterError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the cluster's failure, not the student's
                    log.error("the cluster could not grade %s: %s: %s", display(path),
                              type(exc).__name__, exc)
                    failed.append(path)
                else:
                    on_result(path, result)
                future.release()
                submit_more()
        except (KeyboardInterrupt, ClusterError):
            client.cancel(list(paths))
            client.run(_cancel_worker)
            raise
    return failed
