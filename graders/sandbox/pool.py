"""Trusted side of the sandbox: warm worker processes and the job protocol.

A `WorkerPool` keeps `slots` warm zygotes (graders/sandbox/worker.py, started with `python -I`
in a scratch folder and a clean environment, numpy/sympy/IPython already imported). `run(job)`
sends a job to a free zygote, which forks a fresh child per job, and returns the child's events.
The events are read with a byte cap and a backstop deadline; a zygote that goes silent or
breaks the protocol is killed and replaced, and the job is reported as lost, never retried
blindly. Values inside the events are still raw JSON here: graders.wire validates them.
"""

from __future__ import annotations

import json
import os
import queue
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from graders.sandbox.isolation import Isolation

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
#: Environment variables passed through to the worker (OpenBLAS needs these on some CPUs).
PASS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG")


@dataclass(frozen=True)
class Limits:
    """Per-job limits, enforced in the worker and reported by name when hit."""

    cell_s: float = 30.0
    probe_s: float = 60.0
    job_s: float = 300.0
    memory_mb: int = 2048
    file_mb: int = 64
    open_files: int = 256
    output_chars: int = 20_000
    result_bytes: int = 64 * 1024 * 1024
    processes: int = 64


@dataclass
class Job:
    cells: list[str]
    probes: list[dict]
    limits: Limits
    skip: list[int] = field(default_factory=list)


class WorkerLost(RuntimeError):
    """The zygote died or broke the protocol; the job's result is unknown."""


class Worker:
    """One warm zygote process (slot `slot`) and its pipes."""

    def __init__(self, scratch: Path, preload: list[str], slot: int, isolation: Isolation,
                 memory_mb: int):
        self.scratch, self.preload, self.slot = scratch, preload, slot
        self.isolation, self.memory_mb = isolation, memory_mb
        self.jobs_run = 0
        self._start()

    def _start(self) -> None:
        home = self.scratch / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home),
               "IPYTHONDIR": str(home / ".ipython"), "MPLCONFIGDIR": str(home / ".mpl"),
               "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0", "MALLOC_ARENA_MAX": "2",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "PYTHONDONTWRITEBYTECODE": "1"}
        env.update({k: os.environ[k] for k in PASS_ENV if k in os.environ})
        if self.isolation.isolated:
            env.update(HOME="/tmp", IPYTHONDIR="/tmp/.ipython", MPLCONFIGDIR="/tmp/.mpl")
        self.proc = subprocess.Popen(
            self.isolation.command(self.slot, WORKER_SCRIPT, self.memory_mb), cwd=home,
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self._buffer = b""
        self._send({"preload": self.preload, "jobs_root": self.isolation.jobs_root,
                    "reap": self.isolation.isolated})
        self._ready = False  # the zygote imports its modules while the grader goes on

    def _await_ready(self) -> None:
        if not self._ready:
            if self._read_event(time.monotonic() + 120, cap=1 << 16).get("ev") != "ready":
                raise WorkerLost("the worker did not start")
            self._ready = True

    def _send(self, message: dict) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def _read_event(self, deadline: float, cap: int) -> dict:
        """One JSON line from the zygote, or WorkerLost at EOF, deadline or `cap` bytes."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                if len(self._buffer) > cap:
                    raise WorkerLost("a result line exceeded the size cap")
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    raise WorkerLost("the worker stopped answering")
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise WorkerLost("the worker process ended")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            event = json.loads(line)
        except ValueError as exc:
            raise WorkerLost("the worker sent a malformed line") from exc
        if not isinstance(event, dict):
            raise WorkerLost("the worker sent a malformed line")
        return event

    def run(self, job: Job, job_id: str) -> list[dict]:
        """Send one job; return its events, the last being the zygote's "end"."""
        self._await_ready()
        self._send({"id": job_id, "cells": job.cells, "probes": job.probes,
                    "skip": job.skip, "limits": asdict(job.limits)})
        deadline = time.monotonic() + job.limits.job_s + 30
        budget = job.limits.result_bytes + (1 << 20)
        events = []
        while True:
            event = self._read_event(deadline, cap=budget)
            budget -= len(json.dumps(event))
            if event.get("job") != job_id:
                raise WorkerLost("the worker answered for another job")
            events.append(event)
            if event.get("ev") == "end":
                self.jobs_run += 1
                return events

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def restart(self) -> None:
        self.kill()
        self._start()


class WorkerPool:
    """`slots` warm workers; `run(job)` is thread-safe and blocks until a worker is free.
    `isolation` (graders.sandbox.isolation) confines each slot; default: none."""

    def __init__(self, slots: int = 1, preload: list[str] | None = None,
                 isolation: Isolation | None = None, memory_mb: int = 2048):
        self.root = Path(tempfile.mkdtemp(prefix="grader-sandbox-"))
        self.preload = list(preload or [])
        self.isolation = isolation or Isolation("none")
        self._free: queue.Queue[Worker] = queue.Queue()
        self._counter = 0
        self._lock = threading.Lock()
        self._workers = [Worker(self.root / f"slot{i}", self.preload, i, self.isolation,
                                memory_mb) for i in range(slots)]
        for worker in self._workers:
            self._free.put(worker)

    def run(self, job: Job) -> list[dict]:
        with self._lock:
            self._counter += 1
            job_id = f"job{self._counter}"
        worker = self._free.get()
        try:
            return worker.run(job, job_id)
        except WorkerLost as exc:
            worker.restart()
            return [{"ev": "end", "limit": None, "step": None, "exit": None,
                     "lost": str(exc), "seconds": None}]
        finally:
            self._free.put(worker)

    def close(self) -> None:
        for worker in self._workers:
            worker.kill()
        if self.isolation.cgroups is not None:
            self.isolation.cgroups.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
