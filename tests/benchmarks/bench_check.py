"""Benchmark (not a test): how long grading takes, against the student's own code as baseline.

    python tests/benchmarks/bench_check.py [--repeat 5] [--batch 8]

Prints, for the complete duke-hw2 solution notebook:
  baseline    the notebook's code cells run by a fresh `python` process (what the student's
              code costs by itself, interpreter start and imports included)
  check       `grader check` end to end as a user runs it (a new process each time: CLI
              start, worker start, cells, probes, checks, report)
  cells       the student's code cells exec'd in this process with its imports warm: what
              the student's own code costs, without any interpreter start
  fork        a job of one empty cell on a warm worker: the fixed cost of a job (fork, its
              namespaces and scratch, an IPython shell, the events, clean-up)
  warm        one submission graded in-process with a warm worker pool (the batch case),
              split into sandbox execution and trusted-side checks; its overhead is warm
              minus cells
  batch       `grader grade` over N copies with the configured workers: seconds per submission
Figures are medians over the repeats; ratios are against the baseline of the same run.
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


def timed(command: list[str], **kwargs) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - started


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

    baseline = [timed([sys.executable, str(script)], cwd=work, stderr=subprocess.DEVNULL)
                for _ in range(args.repeat)]
    check = [timed(grader + ["check", str(NOTEBOOK), "-o", str(work / "check")], cwd=ROOT)
             for _ in range(args.repeat)]

    from graders import config
    from graders.assignment import load_assignment
    from graders.execution import execute
    from graders.grading import grade
    from graders.sandbox.pool import WorkerPool
    from graders.submission import load
    course = config.load(ROOT / "grader.toml")
    hw2 = load_assignment(course, "duke-hw2")
    submission = load(NOTEBOOK)
    from graders.sandbox.isolation import detect
    from graders.sandbox.pool import Job
    warm, sandbox, fork, own = [], [], [], []
    for _ in range(args.repeat):
        namespace: dict = {}
        started = time.perf_counter()
        for cell in submission.cells:
            exec(compile(cell, "<cell>", "exec"), namespace)  # noqa: S102 - our own fixture
        own.append(time.perf_counter() - started)
    from graders.sandbox.environment import for_assignment
    with WorkerPool(1, hw2.config.preload, detect(), course.limits.memory_mb,
                    for_assignment(course, "duke-hw2")) as pool:
        grade(NOTEBOOK, hw2, pool, course.limits, "student", "bench")  # warm the caches
        for _ in range(args.repeat * 4):
            started = time.perf_counter()
            pool.run(Job(["pass"], [], course.limits))
            fork.append(time.perf_counter() - started)
        for _ in range(args.repeat):
            started = time.perf_counter()
            execute(pool, submission.cells, hw2.probes(), course.limits)
            sandbox.append(time.perf_counter() - started)
            started = time.perf_counter()
            grade(NOTEBOOK, hw2, pool, course.limits, "student", "bench")
            warm.append(time.perf_counter() - started)

    batch_dir = work / "batch"
    batch_dir.mkdir()
    for i in range(args.batch):
        shutil.copy(NOTEBOOK, batch_dir / f"student{i:02d}.ipynb")
    batch = timed(grader + ["grade", str(batch_dir), "-o", str(work / "out")], cwd=ROOT)

    base = statistics.median(baseline)
    rows = [("baseline: python on the notebook's code", base),
            ("the student's cells alone, imports warm", statistics.median(own)),
            ("warm fork: a job of one empty cell", statistics.median(fork)),
            ("grader check (new process, end to end)", statistics.median(check)),
            ("warm: one submission graded in-process", statistics.median(warm)),
            ("  of which sandbox execution (cells + probes)", statistics.median(sandbox)),
            ("  overhead: warm minus the student's cells",
             statistics.median(warm) - statistics.median(own)),
            (f"batch: grader grade, {args.batch} submissions, per submission", batch / args.batch)]
    print(f"duke-hw2 solution notebook, median of {args.repeat} runs, {course.workers} workers;"
          f" sandbox: {detect().kind}")
    for label, seconds in rows:
        print(f"{label:<58} {seconds:7.3f} s   x{seconds / base:5.2f} of baseline")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
