"""Benchmark (not a test): how long grading takes, against the student's own code as baseline.

    python tests/benchmarks/bench_check.py [--repeat 5] [--batch 8]

Prints, for the complete duke-hw2 solution notebook, medians over the repeats, every ratio
taken within this one run (the machine's load moves absolute figures, not these ratios):

1. `grader check` against plain `python` on the same code, runs interleaved (the ratio of
   the medians, then the spread of each check's ratio to the python run beside it):
     python      the notebook's code cells as one script, run by the student environment's
                 interpreter (interpreter start and imports included)
     check       `grader check` end to end as a student runs it (a new process each time:
                 CLI start, worker start (its own start is the sandbox's trial), cells,
                 probes, judge, report; the job starts before the key is loaded, with
                 the probes the check before kept, as in a student's second check)
   The check also calls the student's functions on hidden inputs (2.3 and 2.5's training
   function 12 times each, TernGrad draws): that is the student's code running too, and
   the "probes" row of part 2 says how long it takes.
2. One submission in a warm batch slot (worker, judge and caches warm), as an instructor's
   batch grades it, split by the grader's own clocks (the events' arrival times):
     cells       the student's code cells
     probes      the probes: the student's functions called on hidden inputs, values read
     overhead    everything else: job start and end (fork, namespaces), the judge (decode
                 and checks), loading the notebook, the report, the gradebook row (as
                 graders.batch.Batch.record writes it)
3. The warm fork (a job of one empty cell, back to back, so each includes the tear-down of
   the one before) and `grader grade` over N copies (seconds per submission).
4. The judge's work on the same submission's request, split, run here in one process
   (median of the repeats): the request's frame (graders.judge.request_frame: JSON with the
   arrays' texts beside it, written by the grader, read by the judge), decoding the probe
   values (graders.wire; a formula is decoded when a check first reads it, and not at all
   where its proof is recalled), the checks, and the answer's JSON. Then the same request
   asked of a started judge process (a batch's) JUDGE_ASKS times: the mean per request,
   the pipes and the collector's full collections included, as a class's judge pays them.

Profiles: `python -m pyinstrument -m graders.cli check NOTEBOOK` (pip install pyinstrument,
in the test extras) shows where a check's time goes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fixtures.duke_hw2.examples import EXAMPLES, EXAMPLES_LIST, source_of  # noqa: E402
from tests.fixtures.notebooks import cells  # noqa: E402

NOTEBOOK = EXAMPLES / "solution.ipynb"
#: Requests asked of one started judge in part 4 (a full collection comes every ten or so).
JUDGE_ASKS = 40


def timed(command: list[str], **kwargs) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - started


class Recording:
    """A worker pool that keeps the events and the wall time of the last job it ran."""

    def __init__(self, pool):
        self.pool, self.events, self.seconds = pool, [], 0.0

    def run(self, job, on_event=None):
        started = time.perf_counter()
        self.events = self.pool.run(job, on_event)
        self.seconds = time.perf_counter() - started
        return self.events


def spans(events: list[dict], start: str, end: str) -> float:
    """The summed seconds between each `start` event and the `end` event after it."""
    total, opened = 0.0, None
    for event in events:
        if event["ev"] == start:
            opened = event["at"]
        elif event["ev"] == end and opened is not None:
            total, opened = total + event["at"] - opened, None
    return total


def check_against_python(grader: list[str], python: str, script: Path, work: Path,
                         repeat: int) -> tuple[list[float], list[float]]:
    baseline, check = [], []
    for _ in range(repeat):  # interleaved: the load changes both alike
        baseline.append(timed([python, str(script)], cwd=work, stderr=subprocess.DEVNULL))
        check.append(timed(grader + ["check", str(NOTEBOOK), "-o", str(work / "check")],
                           cwd=ROOT))
    return baseline, check


def warm_submission(course, hw2, environment, work: Path, repeat: int) -> dict[str, list]:
    """Part 2's rows, one value per repeat."""
    from graders.batch import Batch, write_outputs
    from graders.identity import plan
    from graders.grading import grade
    from graders.judge import judges_for
    from graders.sandbox.isolation import detect
    from graders.sandbox.pool import Job, WorkerPool
    rows: dict[str, list] = {}
    judges = judges_for(hw2)
    ask, asked, requests = judges.ask, [], []

    def timed_ask(*args):
        requests[:] = [args[0]]
        started = time.perf_counter()
        try:
            return ask(*args)
        finally:
            asked.append(time.perf_counter() - started)

    judges.ask = timed_ask
    (work / "gradebook").mkdir(parents=True, exist_ok=True)
    batch = Batch(work / "gradebook", plan([NOTEBOOK]), hw2, course.limits)
    with WorkerPool(1, hw2.config.preload, detect(), course.limits.memory_mb,
                    environment) as pool:
        recording = Recording(pool)
        grade(NOTEBOOK, hw2, recording, course.limits, "instructor", "bench")  # warm up
        for _ in range(repeat):
            started = time.perf_counter()
            result = grade(NOTEBOOK, hw2, recording, course.limits, "instructor", "bench")
            graded = time.perf_counter() - started
            started = time.perf_counter()
            write_outputs(result, work / "warm")
            report = time.perf_counter() - started
            started = time.perf_counter()
            arrays = batch.gradebook.key_arrays()  # Batch.record's row, after the report
            batch.gradebook.save(batch.plan.identities[NOTEBOOK], "warm", result.file,
                                 batch.hashes[NOTEBOOK], batch.key_hash, batch.config_hash,
                                 result.to_record(arrays), result.total, arrays)
            row = time.perf_counter() - started
            events = recording.events
            cells_s = spans(events, "cell_start", "cell_end")
            probes_s = spans(events, "probe_start", "probe_end")
            for name, value in (
                    ("total", graded + report + row), ("cells", cells_s),
                    ("probes", probes_s), ("overhead", graded + report + row - cells_s - probes_s),
                    ("job start and end", recording.seconds - cells_s - probes_s),
                    ("judge", asked[-1]),
                    ("grade() itself", graded - recording.seconds - asked[-1]),
                    ("report", report), ("gradebook row", row)):
                rows.setdefault(name, []).append(value)
        for _ in range(repeat * 4):
            started = time.perf_counter()
            pool.run(Job(["pass"], [], course.limits))
            rows.setdefault("fork", []).append(time.perf_counter() - started)
    judges.ask = ask
    batch.close()
    judge_split(hw2, requests[0], repeat, rows)
    return rows


def judge_split(hw2, request: dict, repeat: int, rows: dict[str, list]) -> None:
    """Part 4's rows: the judge's steps on `request`, in this process; then a started
    judge's mean time per request."""
    import json

    from graders.execution import decoded
    from graders.grading import check_results, recorded_answers
    from graders.judge import _Interned, check_to_json, read_request, request_frame
    interned = _Interned()
    for run in range(repeat + 1):  # the first warms the caches (key arrays, displays)
        started = time.perf_counter()
        text = b"".join(request_frame(request))
        parsed, blobs = read_request(text)
        json_s = time.perf_counter() - started
        started = time.perf_counter()
        for payload in parsed["probes"].values():
            if payload.get("ok") and not payload.get("plain"):
                decoded(payload.get("value"), blobs)
        decode_s = time.perf_counter() - started
        started = time.perf_counter()
        checks = check_results(hw2, parsed, blobs)
        recorded = recorded_answers(hw2, parsed, blobs)
        checks_s = time.perf_counter() - started - decode_s  # check_results decodes too
        started = time.perf_counter()
        answer = json.dumps({"checks": {pid: [check_to_json(c, interned) for c in cs]
                                        for pid, cs in checks.items()},
                             "recorded": recorded})
        json.loads(answer)
        answer_s = time.perf_counter() - started
        if not run:
            continue
        for name, value in (("request frame", json_s), ("decode", decode_s),
                            ("checks", checks_s), ("answer JSON", answer_s)):
            rows.setdefault(name, []).append(value)
        rows.setdefault("request MB", []).append(len(text) / 1e6)
    from graders.judge import Judge
    started_judge = Judge(hw2.config)
    started_judge.ask(request, 600)  # started, key loaded, warm
    started = time.perf_counter()
    for _ in range(JUDGE_ASKS):
        started_judge.ask(request, 60)
    rows["started judge, per request"] = [(time.perf_counter() - started) / JUDGE_ASKS]
    started_judge.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    grader = [sys.executable, "-m", "graders.cli"]
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    script = work / "solution_cells.py"
    solution = next(e for e in EXAMPLES_LIST if e.name == "solution")
    script.write_text("\n\n".join(text for kind, text in cells(source_of(solution))
                                   if kind == "code"))
    subprocess.run(grader + ["key", "duke-hw2", "-o", str(work / "key")], check=True,
                   stdout=subprocess.DEVNULL)  # the key is built once and cached

    from graders import config
    from graders.assignment import load_assignment
    from graders.sandbox.environment import for_assignment
    from graders.sandbox.isolation import detect
    course = config.load(ROOT / "grader.toml")
    hw2 = load_assignment(course, "duke-hw2")
    environment = for_assignment(course, "duke-hw2")
    timed(grader + ["check", str(NOTEBOOK), "-o", str(work / "check")], cwd=ROOT)  # caches
    baseline, check = check_against_python(grader, str(environment.python), script, work,
                                           args.repeat)
    warm = warm_submission(course, hw2, environment, work, args.repeat)
    batch_dir = work / "batch"
    batch_dir.mkdir()
    for i in range(args.batch):
        shutil.copy(NOTEBOOK, batch_dir / f"student{i:02d}.ipynb")
    batch = timed(grader + ["grade", str(batch_dir), "-o", str(work / "out")], cwd=ROOT)

    median = {name: statistics.median(values) for name, values in warm.items()}
    base, checked = statistics.median(baseline), statistics.median(check)
    print(f"duke-hw2 solution notebook, median of {args.repeat} runs; sandbox: {detect().kind};"
          f" student environment: {environment.name}")
    print("1. grader check against plain python on the same code (interleaved)")
    print(f"   {'python (student environment) on the cells':<52} {base:7.3f} s")
    print(f"   {'grader check, end to end':<52} {checked:7.3f} s   x{checked / base:5.2f}")
    pairs = sorted(c / b for b, c in zip(baseline, check))  # each check over the run beside it
    print(f"   {'the ratio run by run (lowest, median, highest)':<52} "
          f"x{pairs[0]:.2f}, x{statistics.median(pairs):.2f}, x{pairs[-1]:.2f}")
    print("2. one submission in a warm batch slot")
    total = median["total"]
    for name in ("total", "cells", "probes", "overhead", "job start and end", "judge",
                 "grade() itself", "report", "gradebook row"):
        indent = "     " if name not in ("total", "cells", "probes", "overhead") else "   "
        label = f"{indent}{name}"
        print(f"{label:<55} {median[name] * 1000:8.1f} ms   {median[name] / total:6.1%}")
    print("   overhead, counting the probes' calls of the student's functions as overhead"
          f" {(median['overhead'] + median['probes']) * 1000:8.1f} ms")
    print("3. fork and batch")
    print(f"   {'warm fork: a job of one empty cell':<52} {median['fork'] * 1000:7.1f} ms")
    print(f"   {f'grader grade, {args.batch} submissions, per submission':<52} "
          f"{batch / args.batch:7.3f} s")
    print(f"4. the judge's steps on that request ({median['request MB']:.1f} MB), in one "
          "process")
    for name in ("request frame", "decode", "checks", "answer JSON"):
        print(f"   {name:<52} {median[name] * 1000:7.1f} ms")
    print(f"   {f'a started judge, mean of {JUDGE_ASKS} requests':<52} "
          f"{median['started judge, per request'] * 1000:7.1f} ms")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
