"""Trusted side of the sandbox: warm worker processes, the job protocol and every clock.

A `WorkerPool` keeps `slots` warm zygotes (graders/sandbox/worker.py, started with `python -I`
in a clean environment, inside the slot's confinement, modules already imported). For each job
the pool makes two pipes, hands the job's ends to the zygote over its control socket (the
zygote forks a fresh process that inherits them and never reads them itself), writes the job
into one pipe and reads the events from the other. Here, on the trusted side, run the clocks
(per cell, per probe, per job) and the byte cap; a job that hits one is killed as a whole
through the zygote, and the events say which limit it hit.

A pool that runs one submission (`grader check`) starts its worker under an isolation not
tried yet and confirms it by that start (`confirm`), and may start the job before it is asked
for (`start`: the job fits its pipe whole; the zygote forks it once it is ready): the `run` of
the same job reads its events, the job's clock counting from its start.

A zygote that breaks the protocol, goes silent or dies (any pipe or socket error) is
`WorkerLost`: it is killed and replaced. A job lost before its first cell ran is retried once
on the fresh worker; a job lost later is reported as lost, never retried blindly. Values
inside the events are still raw JSON here: graders.wire validates them.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import secrets
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from graders.sandbox.environment import Environment, own
from graders.sandbox.isolation import (JOB_MB, NO_JOB_NAMESPACES, TMP_MB, Isolation, Slots,
                                      detect, sandbox_path)

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
#: Environment variables passed through to the worker (OpenBLAS needs these on some CPUs).
PASS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG")
#: How long the zygote may take to confirm a fork, or to report a killed job's end.
CONTROL_S = 15.0
#: How long a zygote may take to import its modules and start.
START_S = 120.0
CHILD_EVENTS = {"cell_start", "cell_end", "probe_start", "probe_end", "done", "crash"}
F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)  # a pipe's capacity (Linux)


@dataclass(frozen=True)
class Limits:
    """Per-job limits, enforced by the worker (rlimits) and by the pool (clocks, bytes) and
    reported by name when hit."""

    cell_s: float = 30.0
    probe_s: float = 60.0
    job_s: float = 300.0
    memory_mb: int = 2048
    file_mb: int = 64
    open_files: int = 256
    output_chars: int = 20_000
    result_bytes: int = 64 * 1024 * 1024
    processes: int = 64
    check_s: float = 60.0  # decoding and checking one submission's answers (graders/judge.py)


@dataclass
class Job:
    cells: list[str]
    probes: list[dict]
    limits: Limits
    skip: list[int] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # the submission's modules, name -> text


class Cancelled(BaseException):
    """The pool was cancelled (Ctrl-C): the job was killed, its result is not wanted. A
    BaseException, so no per-submission error boundary mistakes it for that submission's
    fault."""


class WorkerLost(RuntimeError):
    """The zygote died or broke the protocol; `started` says whether the job had begun to run
    (a cell or a probe had started), i.e. whether retrying it could run student code twice."""

    def __init__(self, message: str, started: bool = False):
        super().__init__(message)
        self.started = started


def fmt_s(seconds: float) -> str:
    return f"{seconds:g} s"


class Worker:
    """One warm zygote process (slot `slot`), its control socket and its confinement."""

    def __init__(self, scratch: Path, preload: list[str], slot: int, slots: Slots,
                 memory_mb: int, environment: Environment,
                 cancelled: threading.Event | None = None):
        self.scratch, self.preload, self.slot = scratch, preload, slot
        self.cancelled = cancelled or threading.Event()
        self.slots, self.memory_mb, self.environment = slots, memory_mb, environment
        self.isolation = slots.isolation
        self.jobs_run = 0
        self.namespaces = False
        self._ending: str | None = None  # a finished job whose end is still to be confirmed
        self._ahead: tuple[Job, str, int, float] | None = None  # started ahead (`start`):
        # the job, its id, the read end of its events and when it was started
        self._start()

    def _start(self) -> None:
        home = self.scratch / "home"
        jobs = self.scratch / "jobs"
        for folder in (home, jobs):
            folder.mkdir(parents=True, exist_ok=True)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home),
               "IPYTHONDIR": str(home / ".ipython"), "MPLCONFIGDIR": str(home / ".matplotlib"),
               "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0", "MALLOC_ARENA_MAX": "2",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "PYTHONDONTWRITEBYTECODE": "1"}
        env.update({k: os.environ[k] for k in PASS_ENV if k in os.environ})
        isolated = self.isolation.isolated
        if isolated:
            env.update(HOME="/tmp", IPYTHONDIR="/tmp/.ipython", MPLCONFIGDIR="/tmp/.matplotlib")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                self.slots.command(self.slot, WORKER_SCRIPT, self.memory_mb, self.environment,
                                   env),
                cwd=home, env=env, stdin=theirs, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
        finally:
            theirs.close()
        self.control = ours
        scratch = {"/tmp": TMP_MB, "/dev/shm": TMP_MB}
        if isolated:
            scratch["/job"] = JOB_MB
        fonts = self.environment.mpl_cache
        self._ready = False  # the zygote imports its modules while the grader goes on
        try:
            self._send({"preload": self.preload, "namespaces": self.isolation.job_namespaces,
                        "fonts": None if fonts is None else (
                            sandbox_path(self.environment, fonts) if isolated else str(fonts)),
                        "scratch": scratch, "reap": isolated,
                        "jobs_root": "/job" if isolated else str(jobs),
                        "clean": ["/tmp", "/dev/shm", "/job"] if isolated else [str(jobs)]})
        except WorkerLost:
            pass  # it ended at once (a sandbox that cannot start): _await_ready says so

    def _await_ready(self) -> None:
        if not self._ready:
            reply = self._receive(time.monotonic() + START_S)
            if reply.get("op") != "ready":
                raise WorkerLost("the worker did not start")
            self.namespaces = reply.get("namespaces") is True
            self._ready = True

    def _send(self, message: dict, fds: list[int] | None = None) -> None:
        data = json.dumps(message).encode()
        try:
            if fds:
                socket.send_fds(self.control, [data], fds)
            else:
                self.control.send(data)
        except OSError as exc:
            raise WorkerLost(f"the worker's control channel failed ({exc.strerror or exc})") \
                from None

    def _receive(self, deadline: float) -> dict:
        """One control message, or WorkerLost at end of file, deadline or nonsense."""
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not _readable(self.control, remaining):
            raise WorkerLost("the worker stopped answering")
        try:
            data = self.control.recv(1 << 16)
        except OSError as exc:
            raise WorkerLost(f"the worker's control channel failed ({exc})") from None
        if not data:
            raise WorkerLost("the worker process ended")
        try:
            message = json.loads(data)
        except ValueError:
            raise WorkerLost("the worker sent a malformed message") from None
        if not isinstance(message, dict):
            raise WorkerLost("the worker sent a malformed message")
        return message

    def start(self, job: Job, job_id: str) -> bool:
        """Start `job` now, before its events are wanted: the job is written whole into its
        input pipe and the fork is asked for at once (the zygote forks it as soon as it is
        ready). The `run` of the same job reads its events (`_same_job`); the `run` of any
        other kills it first. False, nothing started, where the job does not fit the pipe
        (it could not be written without waiting) or the zygote is gone already."""
        data = _job_bytes(job)
        in_read, in_write = os.pipe()
        ev_read, ev_write = os.pipe()
        try:
            started = len(data) < fcntl.fcntl(in_write, F_GETPIPE_SZ) and \
                os.write(in_write, data) == len(data)  # room for all: written at once, whole
            if started:
                self._send({"op": "fork", "job": job_id}, [in_read, ev_write])
        except (OSError, WorkerLost):
            started = False
        finally:
            for fd in (in_read, ev_write, in_write):
                os.close(fd)
        if not started:
            os.close(ev_read)
            return False
        self._ahead = (job, job_id, ev_read, time.monotonic())
        return True

    def _run_ahead(self, job: Job, on_event=None) -> list[dict] | None:
        """The events of the job started ahead if it is `job`, None (after killing it) if it
        is another. Its total clock counts from `start` (stricter than from the fork); a
        cell or probe under way when this begins is timed from when its start is read here
        (later by at most the head start, a fraction of a second against a limit of
        seconds)."""
        ahead, job_id, fd, since = self._ahead
        self._ahead = None
        try:
            reply = self._receive(time.monotonic() + CONTROL_S)
            if reply != {"op": "forked", "job": job_id}:
                raise WorkerLost("the worker did not start the job")
            if _same_job(ahead, job):
                return self._supervise(job, job_id, fd, since, on_event)
            self._send({"op": "kill", "job": job_id})
            self._await_end(job_id, True)
            return None
        finally:
            os.close(fd)

    def run(self, job: Job, job_id: str, on_event=None) -> list[dict]:
        """Run one job; return its events, the last being an "end" event made here. Each of
        the job's events gets "at": when it arrived here (time.monotonic, the grader's clock),
        and is passed to `on_event` (where given) as it arrives, on this thread."""
        self._await_ready()
        self._settle()
        if self._ahead is not None:
            events = self._run_ahead(job, on_event)
            if events is not None:
                return events
        in_read, in_write = os.pipe()
        ev_read, ev_write = os.pipe()
        try:
            try:
                self._send({"op": "fork", "job": job_id}, [in_read, ev_write])
            finally:
                os.close(in_read)
                os.close(ev_write)
            try:
                reply = self._receive(time.monotonic() + CONTROL_S)
                if reply != {"op": "forked", "job": job_id}:
                    raise WorkerLost("the worker did not start the job")
                self._write_job(in_write, job)
            finally:
                os.close(in_write)
            return self._supervise(job, job_id, ev_read, None, on_event)
        finally:
            os.close(ev_read)

    def _write_job(self, fd: int, job: Job) -> None:
        view = memoryview(_job_bytes(job))
        try:
            while view:
                view = view[os.write(fd, view[:1 << 20]):]
        except OSError as exc:
            raise WorkerLost(f"the job could not be handed over ({exc.strerror})") from None

    def _supervise(self, job: Job, job_id: str, fd: int, started: float | None = None,
                   on_event=None) -> list[dict]:
        """Read the job's events under the clocks and the byte cap; kill the job when one is
        hit; return the events and a final "end" event (limit, step, exit, seconds). The
        job's clock counts from `started` (default: now)."""
        limits = job.limits
        started = time.monotonic() if started is None else started
        job_deadline = started + limits.job_s
        step_deadline, step_name = None, None
        budget = limits.result_bytes
        pending, events, limit_hit, began = [], [], None, False  # pending: a line's start
        finished = False
        while not finished and limit_hit is None:
            if self.cancelled.is_set():
                self._send({"op": "kill", "job": job_id})
                self._await_end(job_id, True)
                raise Cancelled()
            now = time.monotonic()
            deadline = min(job_deadline, step_deadline or job_deadline)
            if now >= deadline:
                limit_hit = (f"{step_name} exceeded "
                             f"{fmt_s(limits.cell_s if step_name.startswith('cell') else limits.probe_s)}"
                             if step_deadline and now >= step_deadline else
                             f"the submission exceeded {fmt_s(limits.job_s)} in total")
                break
            if not _readable(fd, min(deadline - now, 0.2)):
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break  # every process of the job has closed its end: it is over
            budget -= len(chunk)
            if budget < 0:
                limit_hit = f"the results exceeded {limits.result_bytes // 1024} KiB"
                break
            *lines, rest = chunk.split(b"\n")  # only the new bytes are scanned: a long line
            if lines:                           # (a probe's arrays) costs its length once
                lines[0] = b"".join(pending) + lines[0]
                pending = []
            pending.append(rest)
            for line in lines:
                event = _child_event(line)
                if event is None:
                    limit_hit = "the worker sent a malformed result line"
                    break
                kind = event["ev"]
                if kind == "cell_start":
                    began = True
                    step_name = f"cell {event.get('cell', 0) + 1}" if isinstance(
                        event.get("cell"), int) else "a cell"
                    step_deadline = time.monotonic() + limits.cell_s
                elif kind == "probe_start":
                    began = True
                    step_name = f"probe {str(event.get('id'))[:100]}"
                    step_deadline = time.monotonic() + limits.probe_s
                elif kind in ("cell_end", "probe_end"):
                    step_deadline, step_name = None, None
                events.append({**event, "job": job_id, "at": time.monotonic()})  # arrival
                if on_event is not None:
                    on_event(events[-1])
                if kind in ("done", "crash"):
                    finished = True
                    break
        if limit_hit is not None:
            self._send({"op": "kill", "job": job_id})
        done = limit_hit is None and events and events[-1]["ev"] == "done"
        try:
            # a job that said "done" has nothing more to say: its end (the tear-down of its
            # namespaces, tens of ms) is confirmed before the next job, not waited for here
            ended = {} if done else self._await_end(job_id, limit_hit is not None)
        except WorkerLost as exc:
            exc.started = began
            raise
        if done:
            self._ending = job_id
        self.jobs_run += 1
        events.append({"ev": "end", "job": job_id, "limit": limit_hit, "step": step_name,
                       "exit": ended.get("exit") if isinstance(ended.get("exit"), int) else None,
                       "seconds": time.monotonic() - started})
        return events

    def _settle(self) -> None:
        """Confirm the end of the last job (deferred by _supervise) before the next starts, so
        no two jobs of a slot ever overlap; WorkerLost if the zygote does not confirm it."""
        if self._ending is not None:
            job_id, self._ending = self._ending, None
            self._await_end(job_id, False)

    def _await_end(self, job_id: str, killed: bool) -> dict:
        """The zygote's "ended" message for this job. A job that said "done" is over once its
        first process exits; one that did not finish is killed if it has not ended by now."""
        deadline = time.monotonic() + CONTROL_S
        if not killed and not _readable(self.control, 0.5):
            self._send({"op": "kill", "job": job_id})  # whatever is left of it
        while True:
            message = self._receive(deadline)
            if message.get("op") == "ended" and message.get("job") == job_id:
                return message
            raise WorkerLost("the worker answered out of turn")

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.control.close()
        if self._ahead is not None:
            os.close(self._ahead[2])
            self._ahead = None

    def restart(self) -> None:
        self._ending = None
        self.kill()
        self._start()


def _job_message(job: Job) -> dict:
    """What the job's process reads from its input pipe (graders/sandbox/worker.py)."""
    return {"cells": job.cells, "probes": job.probes, "skip": job.skip, "files": job.files,
            "limits": asdict(job.limits)}


def _job_bytes(job: Job) -> bytes:
    return json.dumps(_job_message(job)).encode()


def _same_job(started: Job, asked: Job) -> bool:
    """Whether `asked` is the job `started` ahead: the same cells, probes, files and limits,
    but for the submission's total time, which `asked` counts from a later moment (it may
    only be shorter)."""
    def text(job: Job) -> str:
        message = _job_message(job)
        del message["limits"]["job_s"]
        return json.dumps(message, sort_keys=True)
    return asked.limits.job_s <= started.limits.job_s and text(started) == text(asked)


def _readable(source, timeout: float) -> bool:
    """Whether `source` (a file descriptor or socket) has data or its end within `timeout`
    seconds: one poll(2), about a tenth of an epoll selector's cost (a job's every event
    passes here)."""
    poller = select.poll()
    poller.register(source, select.POLLIN)
    return bool(poller.poll(max(timeout, 0) * 1000))


def _child_event(line: bytes) -> dict | None:
    """One event line written by the job, or None if it is not a JSON object of a kind a job
    may send (the "end" event is made by the pool and cannot be forged this way)."""
    try:
        event = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(event, dict) or event.get("ev") not in CHILD_EVENTS:
        return None
    return event


def preload_for(preload: list[str], sources: list[str]) -> list[str]:
    """The modules of `preload` (imported by every zygote before its first job, so that a
    batch pays each import once) whose top-level package one submission's code (`sources`:
    its code cells and its own modules) imports (graders.submission.imported_names): a pool
    that runs that one submission imports nothing its code does not (matplotlib's 0.3 s for
    a notebook that draws no plot); what it does import is imported before its first cell,
    as in a batch."""
    from graders.submission import imported_names
    imported = imported_names(sources)
    return [module for module in preload if module.split(".")[0] in imported]


class WorkerPool:
    """`slots` warm workers; `run(job)` is thread-safe and blocks until a worker is free.
    `isolation` (graders.sandbox.isolation) confines each slot; default: none. `environment`
    is the student environment the workers run in (graders.sandbox.environment; default:
    the grader's own interpreter)."""

    def __init__(self, slots: int = 1, preload: list[str] | None = None,
                 isolation: Isolation | None = None, memory_mb: int = 2048,
                 environment: Environment | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="grader-sandbox-"))
        os.chmod(self.root, 0o755)
        self.preload = list(preload or [])
        self.isolation = isolation or Isolation("none")
        self.slots = self.isolation.claim(slots)
        self._free: queue.Queue[Worker] = queue.Queue()
        self._cancelled = threading.Event()
        self._confirming = threading.Lock()
        self._closed = False
        self.environment = environment or own()
        self.memory_mb = memory_mb
        self._workers: list[Worker] = []
        self._start_workers(slots)

    def _start_workers(self, slots: int) -> None:
        self._workers = [Worker(self.root / f"slot{i}", self.preload, i, self.slots,
                                self.memory_mb, self.environment, self._cancelled)
                         for i in range(slots)]
        for worker in self._workers:
            self._free.put(worker)

    def confirm(self) -> Isolation:
        """Wait until every worker has started; return the isolation they run under. Under an
        isolation not tried yet (graders.sandbox.isolation.candidate) the workers' start is
        the trial: where they do not start, they are started again under what detect() finds
        (its trial says why, in `notes`), and `job_namespaces` says what the workers found.
        `run` confirms first; call it to know the isolation before the first job."""
        with self._confirming:
            if self.isolation.tried:
                return self.isolation
            try:
                for worker in self._workers:
                    worker._await_ready()
            except WorkerLost:
                for worker in self._workers:
                    worker.kill()
                self.slots.release()
                self.isolation = detect()
                self.slots = self.isolation.claim(len(self._workers))
                self._free = queue.Queue()
                self._start_workers(len(self._workers))
                return self.isolation
            if not self.namespaces:
                self.isolation.job_namespaces = False
                self.isolation.notes.insert(0, NO_JOB_NAMESPACES)
            self.isolation.tried = True
            return self.isolation

    def start(self, job: Job) -> bool:
        """Start `job` on the pool's one worker now, before it is asked for (`grader check`
        starts the submission's job while it loads the key, with the probes of the check
        before: graders.keys.remembered_probes): `run` of the same job then reads its
        events, `run` of another kills it first. False where nothing was started (a pool of
        several workers, a job too large to hand over ahead)."""
        if len(self._workers) != 1 or self._cancelled.is_set():
            return False
        return self._workers[0].start(job, secrets.token_hex(8))

    def run(self, job: Job, on_event=None) -> list[dict]:
        """The job's events (see Worker.run: `on_event` sees each as it arrives); Cancelled
        once `cancel()` was called."""
        if self._cancelled.is_set():
            raise Cancelled()
        self.confirm()
        worker = self._free.get()
        try:
            for attempt in (1, 2):
                try:
                    return worker.run(job, secrets.token_hex(8), on_event)
                except WorkerLost as exc:
                    worker.restart()
                    if self._cancelled.is_set():
                        raise Cancelled() from None
                    if exc.started or attempt == 2:
                        return [{"ev": "end", "limit": None, "step": None, "exit": None,
                                 "lost": str(exc), "seconds": None}]
            raise AssertionError("unreachable")
        finally:
            self._free.put(worker)

    def cancel(self) -> None:
        """Stop: running jobs are killed within a fraction of a second, none is started."""
        self._cancelled.set()

    @property
    def namespaces(self) -> bool:
        """Whether every started worker gives each job its own namespaces."""
        return all(w.namespaces for w in self._workers if w._ready)

    def close(self) -> None:
        """Kill the workers and give their slots back (once: closing again does nothing)."""
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            worker.kill()
        self.slots.release()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
