"""Benchmark (not a test): where one `grader check` spends its time, as a timeline.

    python tests/benchmarks/bench_check_timeline.py [--repeat 5] [NOTEBOOK]

Runs `grader check NOTEBOOK` (default: the complete duke-hw2 solution) `repeat` times, each
in a fresh process as a student runs it, after one run that fills the caches (the key, the
probes a check keeps for the next one), interleaved with plain `python` on the notebook's
code cells in the student environment. Each check's own clock marks when each step began
and ended (milliseconds since the process began to run Python); the table gives their
medians, and the check's wall time against plain python's, both measured in this run.
Two processes work at once after the worker starts: the worker (sandbox start, imports,
then the cells and probes) and the grader (the notebook, the engine's imports, the key, the
judge's fork); the job's events are read from "job supervised".

Profiles of either side: `python -m pyinstrument -m graders.cli check NOTEBOOK` (the grader),
py-spy for the sandbox side, `python -X importtime` for imports.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # this checkout's grader, in the child too
DEFAULT = ROOT / "tests" / "fixtures" / "duke_hw2" / "examples" / "solution.ipynb"
#: (label, module, attribute): the steps timed in the child, in the order they happen.
STEPS = [("trial sandbox (detect)", "graders.sandbox.isolation", "detect"),
         ("worker process started", "graders.sandbox.pool", "Worker._start"),
         ("notebook loaded", "graders.submission", "load"),
         ("job started ahead", "graders.sandbox.pool", "Worker.start"),
         ("engine imported, key loaded", "graders.cli", "_load"),
         ("worker ready (waited for)", "graders.sandbox.pool", "Worker._await_ready"),
         ("job supervised (cells, probes)", "graders.sandbox.pool", "Worker._supervise"),
         ("pool closed", "graders.sandbox.pool", "WorkerPool.close")]


def child(notebook: str, out: str, marks_path: str) -> None:
    """One check, its steps wrapped with clocks; the marks go to `marks_path` at exit."""
    import atexit
    import importlib
    started = time.monotonic()
    marks: dict[str, list[float]] = {}

    def clock() -> float:
        return round((time.monotonic() - started) * 1000, 1)

    def wrap(label: str, module: str, attribute: str) -> None:
        owner = importlib.import_module(module)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, name, None)
        if original is None:
            return  # a step this version of the grader does not have ("not reached")

        def timed(*args, **kwargs):
            begin = clock()
            try:
                return original(*args, **kwargs)
            finally:
                marks.setdefault(label, [begin, clock()])  # the first call

        setattr(owner, name, timed)

    for step in STEPS:
        wrap(*step)
    atexit.register(lambda: Path(marks_path).write_text(json.dumps({**marks,
                                                                    "exit": [clock()] * 2})))
    from graders.cli import main
    main(["check", notebook, "-o", out])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default=str(DEFAULT))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.notebook, *args.child)
        return
    from graders import config
    from graders.sandbox.environment import for_assignment
    from graders.submission import load
    work = Path(tempfile.mkdtemp(prefix="bench-timeline-"))
    submission = load(Path(args.notebook))
    script = work / "cells.py"
    script.write_text("\n\n".join(submission.cells))
    assignment = submission.assignment_hint or "duke-hw2"
    python = str(for_assignment(config.load(ROOT / "grader.toml"), assignment).python)
    command = [sys.executable, __file__, args.notebook, "--child", str(work / "out"),
               str(work / "marks.json")]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)  # caches
    runs, walls, baseline = [], [], []
    for _ in range(args.repeat):
        begin = time.perf_counter()
        subprocess.run([python, str(script)], cwd=work, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        baseline.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        walls.append(time.perf_counter() - begin)
        runs.append(json.loads((work / "marks.json").read_text()))
    base, wall = statistics.median(baseline), statistics.median(walls)
    print(f"grader check {Path(args.notebook).name}: median of {args.repeat} runs, ms since "
          "the check's Python began")
    print(f"   {'step':<34} {'began':>7} {'ended':>7} {'took':>7}")
    for label in [label for label, _, _ in STEPS] + ["exit"]:
        seen = [run[label] for run in runs if label in run]
        if not seen:
            print(f"   {label:<34} {'(not reached)':>23}")
            continue
        begin, end = (statistics.median(x[i] for x in seen) for i in (0, 1))
        took = statistics.median(x[1] - x[0] for x in seen)
        print(f"   {label:<34} {begin:7.0f} {end:7.0f} {took:7.0f}")
    print(f"   {'wall, interpreter start and exit included':<34} {wall * 1000:23.0f}")
    print(f"python on the same cells (student environment): {base:.3f} s; "
          f"grader check: {wall:.3f} s (x{wall / base:.2f})")


if __name__ == "__main__":
    main()
