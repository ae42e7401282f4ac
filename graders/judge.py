"""Checking one submission's answers under a clock, in a process of its own. TRUSTED side.

Decoding what a worker sent and scoring it is trusted work on untrusted data: a formula, an
array or a string can be built to make it slow, and slow Python (or C) code in the grading
process would stop every thread of a batch. So it runs in a judge: a separate process of the
grader's own interpreter (`python -m graders.judge`) that builds the assignment once (its
key from the cache) and then, per submission, decodes the probe results (graders.wire, with
its size bounds) and scores every check (graders.grading.check_result). The grading thread
waits for the answer with a deadline; a judge that does not answer in time is killed and
replaced, and the submission's checks score zero with "too large to check in N s".

Between the grader and its judges: length-prefixed messages both ways, and once, at start,
the assignment's settings (`AssignmentConfig`, the grader's own configuration object, pickled:
nothing a submission wrote is ever unpickled). A request is its JSON with the base64 texts of
the probes' arrays taken out and sent after it (`request_frame`, graders.wire.split_arrays:
JSON would scan those megabytes twice), and so is the tree text of a formula (split_formula:
its digest names it), read back by `read_request` without copying them; an answer is JSON.

Plot arrays cross as float64 bytes in base64 (`array_json`: exact, and far cheaper to write
and read than the numbers). Key curves in plots (a check's Plot.key and band, the same for
most of a class) cross once per judge: after the first time the judge sends {"ref": digest}
instead of the numbers, and the grader's side of that judge keeps the arrays it was sent (at
most INTERNED of them).

A process that has the assignment built already and runs no other thread (`grader check`,
once the key is loaded) can fork its judge instead (`Judges.fork`): the child starts with
the engine imported and the key built (a second or so of imports and building saved) and
serves exactly as a started one; it holds nothing but the grader's own state.
"""

from __future__ import annotations

import atexit
import base64
import gc
import hashlib
import importlib
import json
import os
import pickle
import queue
import secrets
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import fields
from pathlib import Path

import numpy as np

from graders import wire
from graders.checks.base import Plot

HEADER = struct.Struct("<Q")
#: Seconds a judge may take to start (import, load the key).
START_S = 120.0
#: Distinct key arrays one judge sends by reference (module docstring).
INTERNED = 4096


class JudgeTimeout(RuntimeError):
    """A judge did not answer within the deadline (it has been killed)."""


class Judge:
    """One judge process for one assignment."""

    def __init__(self, settings, assignment=None):
        """Start `python -m graders.judge` for `settings`, or, given the built `assignment`,
        fork this process into the judge (only where no other thread runs)."""
        self._ready = False
        self.arrays: dict[str, np.ndarray] = {}  # key arrays this judge sent, by digest
        if assignment is not None:
            self.proc = _Forked(assignment)
            return
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen([sys.executable, "-m", "graders.judge"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, cwd=root)
        self._send([pickle.dumps(settings)])

    def _send(self, parts: list[bytes]) -> None:
        """One message: its length, then its parts back to back."""
        self.proc.stdin.write(HEADER.pack(sum(map(len, parts))))
        self.proc.stdin.writelines(parts)
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
            self._send(request_frame(request))
            answer = self._receive(time.monotonic() + seconds)
            for checks in answer["checks"].values():
                for check in checks:
                    for plot in check["plots"]:
                        plot["key"] = self._resolve(plot["key"])
                        if plot["band"] is not None:
                            plot["band"] = [self._resolve(b) for b in plot["band"]]
            return answer
        except (JudgeTimeout, OSError, ValueError) as exc:
            self.close()
            raise JudgeTimeout(str(exc)) from None

    def _resolve(self, value):
        """A plot array as sent: its numbers, or a reference to an array sent before (kept)."""
        if not isinstance(value, dict) or "ref" not in value:
            return value
        if "data" in value:
            array = _from_list(value["data"])
            array.setflags(write=False)  # shared by every result that shows it
            self.arrays[value["ref"]] = array
        return self.arrays[value["ref"]]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


class _Forked:
    """A judge forked from this process, with Popen's stdin, stdout, poll, kill and wait."""

    def __init__(self, assignment):
        to_judge, from_grader = os.pipe()
        from_judge, to_grader = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the judge: its two pipes and the standard streams, nothing else
            code = 1
            try:
                for low, high in ((3, min(to_judge, to_grader)),
                                  (min(to_judge, to_grader) + 1, max(to_judge, to_grader)),
                                  (max(to_judge, to_grader) + 1, os.sysconf("SC_OPEN_MAX"))):
                    os.closerange(low, high)
                sys.stdout = sys.stderr  # as a started judge: nothing printed reaches a pipe
                _answer_requests(assignment, os.fdopen(to_judge, "rb"),
                                 os.fdopen(to_grader, "wb"))
                code = 0
            finally:
                os._exit(code)  # never the grader's own clean-up (atexit, the worker pool)
        os.close(to_judge)
        os.close(to_grader)
        self.stdin, self.stdout = os.fdopen(from_grader, "wb"), os.fdopen(from_judge, "rb")
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode


def _readable(fd: int, timeout: float) -> bool:
    import select
    return bool(select.select([fd], [], [], max(timeout, 0))[0])


def _plain(value):
    """JSON for the values of an answer sheet that JSON lacks (TOML dates and times)."""
    return str(value)


def request_frame(request: dict) -> list[bytes]:
    """A request as sent to a judge, in parts: the length of its JSON, the JSON, then the
    base64 texts of the probes' arrays and the tree texts of the probes that are one
    formula, which the JSON refers to (graders.wire.split_arrays and split_formula, under a
    nonce drawn here) and whose lengths it lists ("blobs"): the judge names a formula by
    its text (its proof may be recalled) without parsing it."""
    nonce, texts = secrets.token_hex(16), []
    probes = {pid: {**payload, "value": _apart(payload.get("value"), texts, nonce)}
              if payload.get("ok") and not payload.get("plain") else payload
              for pid, payload in request["probes"].items()}
    head = json.dumps({**request, "probes": probes, "nonce": nonce,
                       "blobs": [len(text) for text in texts]}, default=_plain).encode()
    return [HEADER.pack(len(head)), head, *texts]


def _apart(value, texts: list, nonce: str):
    """A probe's value with its arrays' texts, or its formula's tree text, in `texts`."""
    return wire.split_formula(value, texts, nonce) or wire.split_arrays(value, texts, nonce)


def read_request(data: bytes) -> tuple[dict, wire.Blobs]:
    """The request and its arrays' texts (views of `data`, not copies) from the bytes of a
    request_frame; ValueError where they do not add up."""
    view = memoryview(data)
    (size,) = HEADER.unpack_from(view)
    request = json.loads(view[HEADER.size:HEADER.size + size].tobytes())
    lengths, nonce = request.pop("blobs"), request.pop("nonce")
    if not all(type(n) is int and n >= 0 for n in lengths) or \
            HEADER.size + size + sum(lengths) != len(view):
        raise ValueError("a request whose parts do not add up")
    texts, at = [], HEADER.size + size
    for length in lengths:
        texts.append(view[at:at + length])
        at += length
    return request, wire.Blobs(texts, nonce)


class Judges:
    """Idle judges of one assignment, started on demand and reused; closed at exit."""

    def __init__(self, settings):
        self.settings = settings
        self._idle: queue.SimpleQueue[Judge] = queue.SimpleQueue()
        self._all: list[Judge] = []
        self._lock = threading.Lock()
        weakref.finalize(self, _close_all, self._all)

    def warm(self, count: int = 1, assignment=None) -> None:
        """Have `count` judges idle or loading now (they load while the sandbox runs the
        first submissions). A batch of N slots asks for N at its start: else its second
        judge starts only when two answers are first wanted at once, and that slot waits.
        Given `assignment` (built from these settings, loaded in this process), each is
        forked from here where no other thread runs (a fork would copy locks other threads
        hold): ready in a few ms, with no import and no key to load."""
        while self._idle.qsize() < count:
            self._idle.put(self._new(assignment if threading.active_count() == 1 else None))

    def _new(self, assignment=None) -> Judge:
        judge = Judge(self.settings, assignment)
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


class EarlyJudging:
    """One submission's checks, asked while its job still runs (`grader check`: the judge
    works on the other core while the sandbox runs the last probes, a model's training
    runs, instead of after them).

    The sandbox reports each probe as it answers (`answered`, on the supervising thread);
    once every probe a problem reads has answered, the problem is put on a queue, and a
    thread of this object asks the judge about what is queued (a request naming those
    problems and carrying their probes: graders.grading.check_results), one request at a
    time. `finish` asks about the problems left (the request of the whole job, for every
    problem not asked yet) and returns the answers joined: the same answer, problem by
    problem, as one request of every problem (as `results_of` reads it: an early answer is
    read on the asking thread). The requests share one clock: `seconds` of the judge's time
    in all (JudgeTimeout, as Judges.ask, once it is spent)."""

    def __init__(self, judges: "Judges", assignment, audience: str, seconds: float):
        self.judges, self.audience, self.seconds = judges, audience, seconds
        self._reads = {problem.id: assignment.probe_ids(problem)
                       for problem in assignment.problems}
        self._answered: dict[str, dict] = {}  # probe id -> payload, the first one heard
        self._asked: set[str] = set()
        self._queue: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
        self._checks: dict[str, list] = {}  # problem id -> its CheckResults, as answered
        self._recorded: dict[str, dict[str, str]] = {}
        self._failure: Exception | None = None  # JudgeTimeout, or a bug's exception
        self._thread: threading.Thread | None = None

    def answered(self, probe_id: str, payload: dict) -> None:
        """Probe `probe_id` answered `payload` (as sent to a judge): queue each problem that
        has every answer it reads now."""
        self._answered.setdefault(probe_id, payload)
        ready = [pid for pid, reads in self._reads.items()
                 if pid not in self._asked and reads <= self._answered.keys()]
        if not ready:
            return
        self._asked.update(ready)
        self._queue.put(ready)
        if self._thread is None:
            self._thread = threading.Thread(target=self._ask_queued, daemon=True,
                                            name="early judging")
            self._thread.start()

    def _ask_queued(self) -> None:
        while True:
            problems = self._queue.get()
            if problems is None:
                return
            while not self._queue.empty():  # what came meanwhile, in the same request
                more = self._queue.get()
                if more is None:
                    self._queue.put(None)
                    break
                problems += more
            if self._failure is None:
                try:
                    self._ask(problems, self._answered)
                except Exception as exc:  # noqa: BLE001 - a bug of ours: finish raises it
                    self._failure = exc

    def _ask(self, problems: list[str], payloads: dict) -> None:
        """Ask about `problems` and keep their results, or the failure."""
        started = time.monotonic()
        request = {"problems": problems, "audience": self.audience,
                   "probes": {probe: payloads[probe] for pid in problems
                              for probe in self._reads[pid] if probe in payloads}}
        try:
            checks, recorded = results_of(self.judges.ask(request, self.seconds))
        except JudgeTimeout as exc:
            self._failure, checks, recorded = exc, {}, {}
        self.seconds -= time.monotonic() - started
        self._checks.update(checks)
        self._recorded.update(recorded)

    def finish(self, payloads: dict[str, dict]) -> tuple[dict[str, list], dict]:
        """The judge's answer about every problem as `results_of` reads it, `payloads` being
        every probe's (the job's end); JudgeTimeout where the judge's time ran out (what
        else went wrong on the asking thread is raised here too)."""
        self.close()
        if self._thread is not None:
            self._thread.join()  # the request under way, bounded by the judge's clock
        rest = [pid for pid in self._reads if pid not in self._asked]
        if rest and self._failure is None:
            self._ask(rest, payloads)
        if self._failure is not None:
            raise self._failure
        return self._checks, self._recorded

    def close(self) -> None:
        """Ask nothing more (a request under way ends on its own: the judge answers or its
        clock runs out). Grading calls it on every way out: an interrupted job waits for
        no judge."""
        self._queue.put(None)


def _close_all(judges: list[Judge]) -> None:
    for judge in list(judges):
        judge.close()
    judges.clear()


_REGISTRY: dict[int, Judges] = {}


def judges_for(assignment) -> Judges:
    """The judges of a loaded assignment: those of its settings."""
    return judges_of(assignment.config)


def judges_of(settings) -> Judges:
    """The judges of an assignment's settings (one set per AssignmentConfig object), so a
    judge can start before the assignment is loaded here: it builds it from the settings."""
    key = id(settings)
    if key not in _REGISTRY:
        _REGISTRY[key] = Judges(settings)
        weakref.finalize(settings, _REGISTRY.pop, key, None)
    return _REGISTRY[key]


@atexit.register
def _close_registry() -> None:
    for judges in list(_REGISTRY.values()):
        judges.close()


# --- results across the process boundary ------------------------------------------------------

def check_to_json(check, key_array=None) -> dict:
    """A CheckResult as JSON; `key_array` (default: numbers) writes the plots' key arrays."""
    key_array = key_array or array_json
    data = {f.name: getattr(check, f.name) for f in fields(check)}
    data["plots"] = [{"title": p.title, "ylabel": p.ylabel, "student": array_json(p.student),
                      "key": key_array(p.key),
                      "band": None if p.band is None else [key_array(b) for b in p.band],
                      "labels": list(p.labels)} for p in check.plots]
    return data


class _Interned:
    """A judge's writer of key arrays: the numbers with their digest the first time (up to
    INTERNED arrays), the digest alone after."""

    def __init__(self):
        self.sent: set[str] = set()

    def __call__(self, value):
        if value is None:
            return None
        array = np.ascontiguousarray(value, dtype=float)
        digest = array_digest(array)
        if digest in self.sent:
            return {"ref": digest}
        if len(self.sent) >= INTERNED:
            return array_json(array)
        self.sent.add(digest)
        return {"ref": digest, "data": array_json(array)}


def array_digest(array: np.ndarray) -> str:
    """The SHA-256 of a float64 array's shape and values: the name of a key array sent or
    stored once (a judge's plots, a gradebook's `arrays`)."""
    array = np.ascontiguousarray(array, dtype="<f8")
    return hashlib.sha256(repr(array.shape).encode() + array.tobytes()).hexdigest()


def results_of(answer: dict) -> tuple[dict[str, list], dict[str, dict[str, str]]]:
    """A judge's answer read: ({problem id: [CheckResult]}, {problem id: {manual part: the
    answer it is graded from}})."""
    return ({pid: [check_from_json(c) for c in checks]
             for pid, checks in answer["checks"].items()}, answer.get("recorded", {}))


def check_from_json(data: dict, resolve=None):
    """The CheckResult check_to_json wrote; `resolve(digest)` gives the array JSON of a key
    array written as {"ref": digest} (a gradebook's stored key curves)."""
    from graders.grading import CheckResult

    def array(value):
        if resolve is not None and isinstance(value, dict) and "ref" in value:
            value = resolve(value["ref"])
        return _from_list(value)

    plots = [Plot(p["title"], p["ylabel"], array(p["student"]), array(p["key"]),
                  None if p["band"] is None else tuple(array(b) for b in p["band"]),
                  tuple(p["labels"])) for p in data["plots"]]
    return CheckResult(**{**data, "plots": plots})


def array_json(value) -> dict | None:
    """A plot array as JSON: {"shape", "f8": its float64 bytes (little-endian) in base64},
    exact and about half the size of the numbers written out (and much faster to write)."""
    if value is None:
        return None
    array = np.ascontiguousarray(value, dtype="<f8")
    return {"shape": list(array.shape), "f8": base64.b64encode(array.tobytes()).decode("ascii")}


def _from_list(value) -> np.ndarray | None:
    """The array `array_json` wrote (or, as results stored before it did, its numbers as lists)."""
    if value is None:
        return None
    if isinstance(value, dict):
        data = base64.b64decode(value["f8"], validate=True)
        return np.frombuffer(data, dtype="<f8").reshape(value["shape"]).astype(float)
    return np.asarray(value, dtype=float)


# --- the judge process ---------------------------------------------------------------------------

def serve() -> None:
    """Read the settings, build the assignment, then answer requests (each a request_frame)
    until end of input:
    {"probes": {id: {"ok", "value" (tagged JSON), "error", "memory"}} | {"answers": {...}},
     "audience"} -> {"checks": {problem id: [CheckResult as JSON]},
                    "recorded": {problem id: {manual part: the answer it is graded from}}}."""
    from graders.assignment import build_problems
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers on the answer channel
    settings = pickle.loads(_read(inp, HEADER.unpack(_read(inp, HEADER.size))[0]))
    _answer_requests(build_problems(settings), inp, out)


def _read(inp, count: int) -> bytes:
    data = inp.read(count)
    if len(data) < count:
        raise EOFError
    return data


def _answer_requests(assignment, inp, out) -> None:
    """Say "ready", then answer each request on `inp` (module docstring) until its end.

    Before it says "ready" (while the worker runs the first cells), the judge does what
    its first request would otherwise pay once (_warm). What is built by then (the engine,
    the key, the checks, what _warm kept) lives as long as the judge: it is moved out of
    the collector's sight (gc.freeze), else every full collection walks it again (one every
    ten requests or so, ~50 ms in a batch's judge)."""
    from graders.grading import check_results, recorded_answers

    def read(count):
        return _read(inp, count)

    def answer(message: dict) -> None:
        data = json.dumps(message).encode()
        out.write(HEADER.pack(len(data)) + data)
        out.flush()

    _warm(assignment)
    gc.freeze()  # the engine, the key and what _warm kept, for good (docstring)
    answer({"ready": True})
    interned = _Interned()
    while True:
        try:
            request, blobs = read_request(read(HEADER.unpack(read(HEADER.size))[0]))
        except EOFError:
            return
        checks = check_results(assignment, request, blobs)
        answer({"checks": {pid: [check_to_json(c, interned) for c in cs]
                           for pid, cs in checks.items()},
                "recorded": recorded_answers(assignment, request, blobs)})


def _warm(assignment) -> None:
    """What every first request of a judge pays, done ahead: numpy.ma (np.median imports it
    on first use, ~15 ms) and each check's own (Check.warm: the key's displays)."""
    importlib.import_module("numpy.ma")
    for problem in assignment.problems:
        for check in problem.checks:
            check.warm()


if __name__ == "__main__":
    serve()
