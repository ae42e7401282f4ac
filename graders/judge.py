"""Checking one submission's answers under a clock, in a process of its own. TRUSTED side.

Decoding what a worker sent and scoring it is trusted work on untrusted data: a formula, an
array or a string can be built to make it slow, and slow Python (or C) code in the grading
process would stop every thread of a batch. So it runs in a judge: a separate process of the
grader's own interpreter (`python -m graders.judge`) that builds the assignment once (its
key from the cache) and then, per submission, decodes the probe results (graders.wire, with
its size bounds) and scores every check (graders.grading.check_result). The grading thread
waits for the answer with a deadline; a judge that does not answer in time is killed and
replaced, and the submission's checks score zero with "too large to check in N s".

Between the grader and its judges: length-prefixed JSON both ways, and once, at start, the
assignment's settings (`AssignmentConfig`, the grader's own configuration object, pickled:
nothing a submission wrote is ever unpickled).
"""

from __future__ import annotations

import atexit
import json
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import fields
from pathlib import Path

import numpy as np

from graders.checks.base import Plot

HEADER = struct.Struct("<Q")
#: Seconds a judge may take to start (import, load the key).
START_S = 120.0


class JudgeTimeout(RuntimeError):
    """A judge did not answer within the deadline (it has been killed)."""


class Judge:
    """One judge process for one assignment."""

    def __init__(self, settings):
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen([sys.executable, "-m", "graders.judge"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, cwd=root)
        self._send_bytes(pickle.dumps(settings))
        self._ready = False

    def _send_bytes(self, data: bytes) -> None:
        self.proc.stdin.write(HEADER.pack(len(data)) + data)
        self.proc.stdin.flush()

    def _read_exactly(self, count: int, deadline: float) -> bytes:
        chunks, fd = [], self.proc.stdout.fileno()
        while count:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not _readable(fd, remaining):
                raise JudgeTimeout("no answer in time")
            chunk = os.read(fd, min(count, 1 << 20))
            if not chunk:
                raise JudgeTimeout("the judge process ended")
            chunks.append(chunk)
            count -= len(chunk)
        return b"".join(chunks)

    def _receive(self, deadline: float) -> dict:
        (size,) = HEADER.unpack(self._read_exactly(HEADER.size, deadline))
        return json.loads(self._read_exactly(size, deadline))

    def ask(self, request: dict, seconds: float) -> dict:
        """Send one request and wait at most `seconds` for the answer (the start-up of a new
        judge is not counted); JudgeTimeout after killing the process."""
        try:
            if not self._ready:
                if self._receive(time.monotonic() + START_S).get("ready") is not True:
                    raise JudgeTimeout("the judge did not start")
                self._ready = True
            self._send_bytes(json.dumps(request, default=_plain).encode())
            return self._receive(time.monotonic() + seconds)
        except (JudgeTimeout, OSError, ValueError) as exc:
            self.close()
            raise JudgeTimeout(str(exc)) from None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


def _readable(fd: int, timeout: float) -> bool:
    import select
    return bool(select.select([fd], [], [], max(timeout, 0))[0])


def _plain(value):
    """JSON for the values of an answer sheet that JSON lacks (TOML dates and times)."""
    return str(value)


class Judges:
    """Idle judges of one assignment, started on demand and reused; closed at exit."""

    def __init__(self, settings):
        self.settings = settings
        self._idle: queue.SimpleQueue[Judge] = queue.SimpleQueue()
        self._all: list[Judge] = []
        self._lock = threading.Lock()
        weakref.finalize(self, _close_all, self._all)

    def warm(self) -> None:
        """Start a judge now (it loads while the sandbox runs the submission)."""
        if self._idle.empty():
            self._idle.put(self._new())

    def _new(self) -> Judge:
        judge = Judge(self.settings)
        with self._lock:
            self._all.append(judge)
        return judge

    def ask(self, request: dict, seconds: float) -> dict:
        try:
            judge = self._idle.get_nowait()
        except queue.Empty:
            judge = self._new()
        try:
            answer = judge.ask(request, seconds)
        except JudgeTimeout:
            with self._lock:
                self._all.remove(judge)
            raise
        self._idle.put(judge)
        return answer

    def close(self) -> None:
        _close_all(self._all)


def _close_all(judges: list[Judge]) -> None:
    for judge in list(judges):
        judge.close()
    judges.clear()


_REGISTRY: dict[int, Judges] = {}


def judges_for(assignment) -> Judges:
    """The judges of a loaded assignment (one set per Assignment object)."""
    key = id(assignment)
    if key not in _REGISTRY:
        _REGISTRY[key] = Judges(assignment.config)
        weakref.finalize(assignment, _REGISTRY.pop, key, None)
    return _REGISTRY[key]


@atexit.register
def _close_registry() -> None:
    for judges in list(_REGISTRY.values()):
        judges.close()


# --- results across the process boundary ------------------------------------------------------

def check_to_json(check) -> dict:
    data = {f.name: getattr(check, f.name) for f in fields(check)}
    data["plots"] = [{"title": p.title, "ylabel": p.ylabel, "student": _array(p.student),
                      "key": _array(p.key),
                      "band": None if p.band is None else [_array(b) for b in p.band],
                      "labels": list(p.labels)} for p in check.plots]
    return data


def check_from_json(data: dict):
    from graders.grading import CheckResult
    plots = [Plot(p["title"], p["ylabel"], _from_list(p["student"]), _from_list(p["key"]),
                  None if p["band"] is None else tuple(_from_list(b) for b in p["band"]),
                  tuple(p["labels"])) for p in data["plots"]]
    return CheckResult(**{**data, "plots": plots})


def _array(value):
    return None if value is None else np.asarray(value, dtype=float).tolist()


def _from_list(value):
    return None if value is None else np.asarray(value, dtype=float)


# --- the judge process ---------------------------------------------------------------------------

def serve() -> None:
    """Read the settings, build the assignment, then answer requests until end of input:
    {"probes": {id: {"ok", "value" (tagged JSON), "error", "memory"}} | {"answers": {...}},
     "audience"} -> {"checks": {problem id: [CheckResult as JSON]},
                    "recorded": {problem id: {manual part: the answer it is graded from}}}."""
    from graders.assignment import build_problems
    from graders.grading import check_results, recorded_answers
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers on the answer channel

    def read(count):
        data = inp.read(count)
        if len(data) < count:
            raise EOFError
        return data

    def answer(message: dict) -> None:
        data = json.dumps(message).encode()
        out.write(HEADER.pack(len(data)) + data)
        out.flush()

    settings = pickle.loads(read(HEADER.unpack(read(HEADER.size))[0]))
    assignment = build_problems(settings)
    answer({"ready": True})
    while True:
        try:
            request = json.loads(read(HEADER.unpack(read(HEADER.size))[0]))
        except EOFError:
            return
        checks = check_results(assignment, request)
        answer({"checks": {pid: [check_to_json(c) for c in cs] for pid, cs in checks.items()},
                "recorded": recorded_answers(assignment, request)})


if __name__ == "__main__":
    serve()
