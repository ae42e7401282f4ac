"""Running one submission's cells and probes in the sandbox, and reading what came back.

`execute` sends the job to the worker pool. When a cell ends the worker (a limit hit, a crash,
`os._exit`), the job is run again from the start without that cell, so problems that do not
depend on it are still graded; the cell is reported with what it hit. A probe that ends the
worker fails alone and the rest are asked again. At most `MAX_ATTEMPTS` runs, all within the
submission's total time limit. Probe values are decoded by graders.wire (`decoded`), here or,
for grading, by a judge process under its own clock (graders/judge.py); a value that is
malformed, too large or not allowed is a failed probe, never an exception.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from graders import symbolic, wire
from graders.checks.base import Deferred, Probe, ProbeResult
from graders.sandbox.pool import Job, Limits, WorkerPool

MAX_ATTEMPTS = 4
HEAD_LINES, HEAD_CHARS = 3, 300


@dataclass
class CellRecord:
    index: int  # 0-based position among the code cells
    ok: bool
    error: str | None = None
    output: str = ""
    output_dropped: int = 0
    source_head: str = ""  # the cell's first HEAD_LINES lines, at most HEAD_CHARS characters


@dataclass
class Execution:
    probes: dict[str, ProbeResult]
    cells: list[CellRecord]
    limits_hit: list[str] = field(default_factory=list)
    attempts: int = 0
    seconds: float = 0.0


def execute(pool: WorkerPool, cells: list[str], probes: list[Probe],
            limits: Limits, decode: bool = True,
            files: dict[str, str] | None = None, on_answer=None) -> Execution:
    """Run `cells` then `probes` in the pool (the module doc); `files` (name.py -> text) are
    the submission's own modules, written into the job's folder before the cells run.
    `on_answer(probe id, ProbeResult)` is called, while the job still runs, with each probe
    that answered (ok): such an answer is final (a later attempt does not ask it again)."""
    started = time.monotonic()
    skipped: dict[int, str] = {}
    results: dict[str, ProbeResult] = {}
    pending = list(probes)
    records: dict[int, CellRecord] = {}  # the last run's
    limits_hit: list[str] = []
    attempts = 0
    while attempts < MAX_ATTEMPTS:
        remaining = limits.job_s - (time.monotonic() - started)
        if remaining <= 1:
            break
        attempts += 1
        job = Job(cells, [p.wire() for p in pending], replace(limits, job_s=remaining),
                  skip=sorted(skipped), files=dict(files or {}))
        run = _Run(limits, cells, decode, results, on_answer)
        end = pool.run(job, on_event=run.read)[-1]
        records, open_cell, open_probe = run.records, run.open_cell, run.open_probe
        if run.done and open_cell is None and open_probe is None:
            break  # the job finished (the zygote kills what it leaves behind: exit is moot)
        reason = _ended_because(end, limits) or "ended the worker"
        if open_cell is not None:
            what = end.get("limit") or f"cell {open_cell + 1} {reason}"
            limits_hit.append(what)
            skipped[open_cell] = what
        elif open_probe is not None:
            what = end.get("limit") or f"probe {open_probe} {reason}"
            limits_hit.append(what)
            results[open_probe] = ProbeResult(False, error=what)
        else:
            limits_hit.append(end.get("limit") or f"the worker {reason}")
            break
        pending = [p for p in pending if p.id not in results]
        if not pending and open_cell is None:
            break
    for index, why in skipped.items():
        records[index] = CellRecord(index, False, f"skipped: {why}",
                                    source_head=source_head(cells, index))
    cell_list = [records[i] for i in sorted(records)]
    for probe in probes:
        if probe.id not in results:
            cause = limits_hit[-1] if limits_hit else "the worker did not answer"
            results[probe.id] = ProbeResult(False, error=f"not graded: {cause}")
        elif not results[probe.id].ok:
            results[probe.id].error = _explain(results[probe.id].error, probe, cells, records)
    return Execution(results, cell_list, limits_hit, attempts, time.monotonic() - started)


class _Run:
    """One run of the job, read as its events arrive (`read`): the cells' records, the
    probes' answers (into `results`, shared by the runs; `on_answer` hears each one
    that is ok), the cell or probe under way when the events stopped, whether it said done."""

    def __init__(self, limits: Limits, cells: list[str], decode: bool,
                 results: dict[str, ProbeResult], on_answer=None):
        self.limits, self.cells, self.decode = limits, cells, decode
        self.results, self.on_answer = results, on_answer
        self.records: dict[int, CellRecord] = {}
        self.open_cell: int | None = None
        self.open_probe: str | None = None
        self.done = False

    def read(self, event: dict) -> None:
        kind = event.get("ev")
        if kind == "cell_start":
            self.open_cell = _int(event.get("cell"))
        elif kind == "cell_end" and _int(event.get("cell")) == self.open_cell:
            self.records[self.open_cell] = _cell_record(self.open_cell, event, self.limits,
                                                        self.cells)
            self.open_cell = None
        elif kind == "probe_start":
            self.open_probe = event.get("id")
        elif kind == "probe_end" and event.get("id") == self.open_probe:
            result = _probe_result(event, self.limits, self.decode)
            self.results[self.open_probe] = result
            if result.ok and self.on_answer is not None:
                self.on_answer(self.open_probe, result)
            self.open_probe = None
        elif kind == "done":
            self.done = True


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def source_head(cells: list[str], index: int) -> str:
    """The first HEAD_LINES lines of code cell `index`, cut at HEAD_CHARS characters ("" for
    an index the worker made up)."""
    source = cells[index] if 0 <= index < len(cells) else ""
    return "\n".join(source.lstrip("\n")[:HEAD_CHARS].splitlines()[:HEAD_LINES])


def _cell_record(index: int, event: dict, limits: Limits, cells: list[str]) -> CellRecord:
    error = _text(event.get("error"), 2000) or None
    if event.get("memory") is True:
        error = f"exceeded the memory limit ({limits.memory_mb} MB): {error}"
    elif error and needs_gpu(error):
        error = f"{NO_GPU} ({error})"
    dropped = _int(event.get("output_dropped")) or 0
    return CellRecord(index, event.get("ok") is True and error is None, error,
                      _text(event.get("output"), limits.output_chars), dropped,
                      source_head(cells, index))


#: What a student reads where their code asked for a GPU the grading machine does not have.
NO_GPU = ("this code uses the GPU (.cuda() or device='cuda'), and the grading machine has "
          "none: choose the device with torch.cuda.is_available() (or use w.device)")


def needs_gpu(error: str) -> bool:
    """Whether an error message is torch's on a machine without CUDA."""
    return any(sign in error for sign in ("not compiled with CUDA", "no NVIDIA driver",
                                          "CUDA driver", "cuda is not available",
                                          "CUDA is not available", "CUDA error"))


def _probe_result(event: dict, limits: Limits, decode: bool) -> ProbeResult:
    """A probe's answer: decoded here (`decode`), or left as the worker's tagged JSON for a
    judge to decode under its clock (graders/judge.py)."""
    if event.get("ok") is not True:
        error = _text(event.get("error"), 2000) or "failed"
        if event.get("memory") is True:
            error = f"exceeded the memory limit ({limits.memory_mb} MB)"
        return ProbeResult(False, error=error)
    if not decode:
        return ProbeResult(True, event.get("value"))
    return decoded(event.get("value"))


def decoded(value, blobs: wire.Blobs | None = None) -> ProbeResult:
    """The worker's tagged JSON value as a ProbeResult: decoded (graders.wire; `blobs`: its
    arrays' texts, where a judge's request carried them apart), or failed with the reason it
    could not be read. A value that is one formula is decoded when first read (Deferred,
    named by its tree: a check that proved something about that formula before recalls it
    without building the formula)."""
    name = wire.formula_name(value, blobs)
    if name is not None:
        return Deferred(name, symbolic.built_before(name), lambda: _decoded(value, blobs))
    return _decoded(value, blobs)


def _decoded(value, blobs: wire.Blobs | None) -> ProbeResult:
    try:
        return ProbeResult(True, wire.decode(value, blobs))
    except (wire.Malformed, symbolic.NotAnExpression) as exc:
        return ProbeResult(False, error=f"the value could not be read: {exc}")
    except RecursionError:
        return ProbeResult(False, error="the value could not be read: nested too deeply")


def _ended_because(end: dict, limits: Limits) -> str | None:
    if end.get("lost"):
        return f"stopped the worker ({end['lost']})"
    if end.get("limit"):
        return str(end["limit"])
    code = end.get("exit")
    if code == 0:
        return None
    if not isinstance(code, int):
        return "ended the worker"
    if code < 0:
        return f"was killed by signal {-code}"
    return f"ended the worker with exit code {code}"


def _explain(error: str | None, probe: Probe, cells: list[str],
             records: dict[int, CellRecord]) -> str:
    """Name the failed cell that defines a name the probe could not find."""
    error = error or "failed"
    if not error.endswith("is not defined"):
        return error
    for index, source in enumerate(cells):
        record = records.get(index)
        if record is not None and not record.ok and defines(source, probe.name):
            return f"{error}: cell {index + 1}, which defines it, failed ({record.error})"
    return error


def defines(source: str, name: str) -> bool:
    """Whether a line of `source` starts with `def name(` or assigns `name = ...` (possibly
    `name[...] = ...`). A plain scan, linear in the text: student text never meets a
    backtracking regular expression."""
    for line in source.splitlines():
        text = line.lstrip()
        if text.startswith("def ") and text[4:].lstrip().startswith(name):
            rest = text[4:].lstrip()[len(name):]
            if rest.lstrip().startswith("("):
                return True
        if not text.startswith(name):
            continue
        rest = text[len(name):].lstrip()
        if rest.startswith("["):
            close = rest.find("]")
            rest = rest[close + 1:].lstrip() if close >= 0 else ""
        if rest.startswith("=") and not rest.startswith("=="):
            return True
    return False
