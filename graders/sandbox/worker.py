"""The sandbox worker: the only code that runs next to a submission. UNTRUSTED side.

Started by the grader as `python -I worker.py` in a scratch folder with a clean environment.
It imports nothing from the grader, so it can be confined (separate uid, namespaces) without
the grader's code or keys inside. It is a small fork server ("zygote"):

  stdin  <- one JSON line of start-up settings, then one JSON line per job
  stdout -> JSON event lines, each tagged with the job id

For each job it forks a child that applies the job's rlimits, runs the code cells in order in
an IPython InteractiveShell (a failing cell does not stop the next one), then answers probes:

  {"id", "kind": "value", "name"}                         read a variable
  {"id", "kind": "call",  "name", "args", "repeat", "seed"} call a function (repeat times,
                                                          results stacked) with seeded RNGs

Results leave as plain JSON (arrays as dtype/shape/base64 data, sympy expressions as trees).
The child writes events to a pipe; the zygote watches the deadlines (per cell, per probe, per
job), caps the bytes, kills the child's process group when a limit is hit and says which.
Nothing here is trusted by the grader: every event is size-capped and validated there.
"""

import base64
import gc
import io
import json

dumps = json.dumps  # bound before any student code runs: patching json later changes nothing
import os
import resource
import select
import shutil
import signal
import sys
import time

ENCODING_LIMITS = {"depth": 12, "items": 2_000_000, "str": 20_000}


# --- encoding values as plain JSON ----------------------------------------------------------

def encode(value, budget=None, depth=0):
    """A Python value as a JSON-able tagged tree; unknown types become {"t": "unsupported"}."""
    budget = budget if budget is not None else [ENCODING_LIMITS["items"]]
    budget[0] -= 1
    if budget[0] < 0 or depth > ENCODING_LIMITS["depth"]:
        return {"t": "unsupported", "type": "value too large or too deeply nested"}
    np = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    sympy = sys.modules.get("sympy")
    if value is None:
        return {"t": "none"}
    if type(value) is bool:
        return {"t": "bool", "v": value}
    if type(value) is int:
        return {"t": "int", "v": str(value)[:ENCODING_LIMITS["str"]]}
    if isinstance(value, float):
        return {"t": "float", "v": repr(float.__float__(value))}
    if isinstance(value, str):
        return {"t": "str", "v": str.__str__(value)[:ENCODING_LIMITS["str"]],
                "truncated": len(value) > ENCODING_LIMITS["str"]}
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if np is not None and isinstance(value, (np.ndarray, np.generic)):
        return encode_array(np, value, budget)
    if sympy is not None and isinstance(value, sympy.MatrixBase):
        rows, cols = value.shape
        return {"t": "matrix", "rows": rows, "cols": cols,
                "items": [encode_expr(sympy, value[i, j], budget)
                          for i in range(rows) for j in range(cols)]}
    if sympy is not None and isinstance(value, sympy.Basic):
        return {"t": "expr", "tree": encode_expr(sympy, value, budget)}
    if isinstance(value, (list, tuple)):
        return {"t": "list", "items": [encode(v, budget, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"t": "dict", "items": [[encode(k, budget, depth + 1), encode(v, budget, depth + 1)]
                                       for k, v in value.items()]}
    if callable(value):
        return {"t": "callable", "type": type(value).__name__[:100]}
    return {"t": "unsupported", "type": type(value).__name__[:100]}


def encode_array(np, value, budget):
    """ndarray -> {"t": "array", dtype, shape, b64}; data copied into a plain base ndarray of a
    whitelisted dtype (float64, int64, bool, complex128), so subclasses have no say."""
    arr = np.array(value, copy=True, subok=False)
    kind = arr.dtype.kind
    target = {"f": "<f8", "i": "<i8", "u": "<i8", "b": "|b1", "c": "<c16"}.get(kind)
    if target is None:
        return {"t": "unsupported", "type": "array of dtype " + str(arr.dtype)[:40]}
    budget[0] -= arr.size
    if budget[0] < 0:
        return {"t": "unsupported", "type": "array too large"}
    arr = arr.astype(target, order="C")  # keeps 0-d arrays 0-d, unlike ascontiguousarray
    return {"t": "array", "dtype": target, "shape": list(arr.shape),
            "b64": base64.b64encode(arr.tobytes()).decode("ascii")}


def encode_expr(sympy, expr, budget):
    """A sympy expression as a tree: ["Symbol", name] | ["Integer", "12"] |
    ["Rational", "p", "q"] | ["Float", "0.5"] | [FuncName, child, ...]."""
    budget[0] -= 1
    if budget[0] < 0:
        return ["Unsupported", "expression too large"]
    if not isinstance(expr, sympy.Basic):
        return ["Unsupported", type(expr).__name__[:100]]
    if expr.is_Symbol:
        return ["Symbol", str(expr.name)[:200]]
    if expr.is_Integer:
        return ["Integer", str(int(expr))]
    if expr.is_Rational:
        return ["Rational", str(int(expr.p)), str(int(expr.q))]
    if expr.is_Float:
        return ["Float", repr(float(expr))]
    if expr.is_NumberSymbol or expr.is_number and not expr.args:
        return [type(expr).__name__[:100]]
    return [expr.func.__name__[:100]] + [encode_expr(sympy, a, budget) for a in expr.args]


def decode_args(np, items):
    """Probe inputs, written by the grader (trusted data): arrays and plain JSON values."""
    out = []
    for item in items:
        if isinstance(item, dict) and item.get("t") == "array":
            raw = base64.b64decode(item["b64"])
            out.append(np.frombuffer(raw, dtype=item["dtype"]).reshape(item["shape"]).copy())
        else:
            out.append(item)
    return out


# --- the child: run cells, answer probes ------------------------------------------------------

class CappedText(io.TextIOBase):
    """A stdout/stderr stand-in that keeps the first `cap` characters and counts the rest."""

    def __init__(self, cap):
        self.cap, self.parts, self.kept, self.dropped = cap, [], 0, 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        room = self.cap - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def take(self):
        text, dropped = "".join(self.parts), self.dropped
        self.parts, self.kept, self.dropped = [], 0, 0
        return text, dropped


def make_shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class GradingShell(InteractiveShell):
        def enable_gui(self, gui=None):
            """No event loop in a grading worker: `%matplotlib inline` and friends are no-ops."""

    config = Config()
    config.HistoryManager.enabled = False
    return GradingShell(config=config, colors="NoColor")


def describe_error(exc):
    name = type(exc).__name__
    text = str(exc)
    return (name + (": " + text if text else ""))[:2000]


def run_job(job, emit):
    limits = job["limits"]
    shell = make_shell()
    out = CappedText(limits["output_chars"])
    real_stdout, real_stderr = sys.stdout, sys.stderr
    skip = set(job.get("skip", []))
    for index, source in enumerate(job["cells"]):
        if index in skip:
            continue
        emit({"ev": "cell_start", "cell": index})
        sys.stdout = sys.stderr = out
        try:
            result = shell.run_cell(source, store_history=False)
            error = result.error_before_exec or result.error_in_exec
        except BaseException as exc:  # noqa: BLE001 - a cell may raise anything, even SystemExit
            error = exc
        finally:
            sys.stdout, sys.stderr = real_stdout, real_stderr
        text, dropped = out.take()
        emit({"ev": "cell_end", "cell": index, "ok": error is None,
              "error": None if error is None else describe_error(error),
              "memory": isinstance(error, MemoryError),
              "output": text, "output_dropped": dropped})
    namespace = shell.user_ns
    for probe in job["probes"]:
        emit({"ev": "probe_start", "id": probe["id"]})
        sys.stdout = sys.stderr = out
        try:
            value = answer_probe(probe, namespace)
            payload = {"ok": True, "value": encode(value)}
        except BaseException as exc:  # noqa: BLE001
            payload = {"ok": False, "error": describe_error(exc),
                       "memory": isinstance(exc, MemoryError)}
        finally:
            sys.stdout, sys.stderr = real_stdout, real_stderr
        out.take()
        emit({"ev": "probe_end", "id": probe["id"], **payload})
    emit({"ev": "done"})


class ProbeError(Exception):
    pass


def answer_probe(probe, namespace):
    if probe["name"] not in namespace:
        raise ProbeError(probe["name"] + " is not defined")
    target = namespace[probe["name"]]
    if probe["kind"] == "value":
        return target
    if not callable(target):
        raise ProbeError(probe["name"] + " is not a function")
    import numpy as np
    import random
    seed = probe.get("seed", 0)
    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
    args = decode_args(np, probe.get("args", []))
    repeat = probe.get("repeat", 1)
    if repeat == 1:
        return target(*args)
    results = [np.array(target(*[a.copy() if hasattr(a, "copy") else a for a in args]),
                        dtype=float) for _ in range(repeat)]
    return np.stack(results)


def child_main(job, workdir, write_fd):
    """In the forked child: confine, then run the job; events go to `write_fd` only."""
    os.setpgid(0, 0)
    limits = job["limits"]
    os.chdir(workdir)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    log = os.open("fd-output.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing
    megabyte = 1024 * 1024
    for name, value in (("RLIMIT_AS", limits["memory_mb"] * megabyte),
                        ("RLIMIT_FSIZE", limits["file_mb"] * megabyte),
                        ("RLIMIT_NOFILE", limits["open_files"]),
                        ("RLIMIT_NPROC", limits["processes"]),  # per uid; root ignores it
                        ("RLIMIT_CPU", int(limits["job_s"]) + 1),
                        ("RLIMIT_CORE", 0)):
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (ValueError, OSError, AttributeError):
            pass  # not supported here (macOS has no RLIMIT_AS): the wall clocks still hold
    stream = os.fdopen(write_fd, "w", buffering=1)

    def emit(event):
        stream.write(dumps(event, allow_nan=False) + "\n")
        stream.flush()

    try:
        run_job(job, emit)
    except BaseException as exc:  # noqa: BLE001
        try:
            emit({"ev": "crash", "error": describe_error(exc)})
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(0)


# --- the zygote: fork per job, watch deadlines ------------------------------------------------

def supervise(job, pid, read_fd, send):
    """Forward the child's events, enforcing per-cell, per-probe and per-job wall clocks and the
    byte cap. Returns after the child is gone; always ends with one "end" event."""
    limits = job["limits"]
    started = time.monotonic()
    job_deadline = started + limits["job_s"]
    step_deadline, step_name = None, None
    received, buffer, limit_hit, finished = 0, b"", None, False
    while True:
        now = time.monotonic()
        deadline = min(job_deadline, step_deadline or job_deadline)
        if now >= deadline:
            limit_hit = (step_name + " exceeded " + fmt_s(limits[step_kind(step_name)])
                         if step_deadline and now >= step_deadline
                         else "the submission exceeded " + fmt_s(limits["job_s"]) + " in total")
            break
        ready, _, _ = select.select([read_fd], [], [], min(deadline - now, 1.0))
        if not ready:
            continue
        chunk = os.read(read_fd, 1 << 16)
        if not chunk:
            break
        received += len(chunk)
        if received > limits["result_bytes"]:
            limit_hit = "the results exceeded " + str(limits["result_bytes"] // 1024) + " KiB"
            break
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            event = parse_child_event(line)
            if event is None:
                limit_hit = "the worker sent a malformed result line"
                break
            kind = event["ev"]
            if kind == "cell_start":
                step_name = "cell " + str(event["cell"] + 1)
                step_deadline = time.monotonic() + limits["cell_s"]
            elif kind == "probe_start":
                step_name = "probe " + str(event["id"])
                step_deadline = time.monotonic() + limits["probe_s"]
            elif kind in ("cell_end", "probe_end"):
                step_deadline, step_name = None, None
            send(event)
            if kind in ("done", "crash"):
                finished = True  # processes the job left behind may hold the pipe open
        if limit_hit or finished:
            break
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, status = os.waitpid(pid, 0)
    os.close(read_fd)
    send({"ev": "end", "limit": limit_hit, "step": step_name,
          "exit": os.waitstatus_to_exitcode(status), "seconds": time.monotonic() - started})


#: Shared scratch folders inside the sandbox, emptied after every job.
SCRATCH = ("/tmp", "/dev/shm", "/job")
CHILD_EVENTS = {"cell_start", "cell_end", "probe_start", "probe_end", "done", "crash"}


def parse_child_event(line):
    """One event line from the child, or None if it is not a JSON object of a known kind (the
    child's own code wrote it: the zygote's "end" and "ready" cannot be forged this way)."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or event.get("ev") not in CHILD_EVENTS:
        return None
    return event


def step_kind(step_name):
    return "cell_s" if step_name.startswith("cell") else "probe_s"


def fmt_s(seconds):
    return ("%g" % seconds) + " s"


def reap_strays():
    """Kill every process left in this sandbox's pid namespace but the zygote and pid 1 (a
    daemon a job started with setsid escapes its process group, not the namespace). Only
    called inside a pid namespace: outside one this would reach the user's other processes."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (1, os.getpid()):
            try:
                os.kill(int(entry), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break


def not_dumpable():
    """PR_SET_DUMPABLE = 0: a job (same uid) cannot ptrace the zygote or read its memory."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def serve():
    out = sys.stdout
    settings = json.loads(sys.stdin.readline())
    jobs_root = settings.get("jobs_root") or os.getcwd()
    not_dumpable()
    for module in settings.get("preload", []):
        try:
            __import__(module)
        except ImportError:
            pass
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)  # a multi-threaded op before fork() can hang the child
    make_shell().cleanup()  # import IPython's machinery once, here, not in every child
    gc.collect()
    gc.freeze()  # children then skip copying the warm heap on their first full collection

    def send(event):
        out.write(json.dumps(event, allow_nan=False) + "\n")
        out.flush()

    send({"ev": "ready", "pid": os.getpid()})
    for line in sys.stdin:
        job = json.loads(line)
        workdir = os.path.join(jobs_root, job["id"])
        os.mkdir(workdir, 0o700)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            child_main(job, workdir, write_fd)
        os.close(write_fd)
        supervise(job, pid, read_fd,
                  lambda event, job_id=job["id"]: send({**event, "job": job_id}))
        shutil.rmtree(workdir, ignore_errors=True)
        if settings.get("reap"):
            reap_strays()
            for scratch in SCRATCH:  # what a job left there must not reach the next job
                for entry in os.listdir(scratch) if os.path.isdir(scratch) else ():
                    path = os.path.join(scratch, entry)
                    if os.path.isdir(path) and not os.path.islink(path):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        try:
                            os.unlink(path)
                        except OSError:
                            pass


if __name__ == "__main__":
    serve()
