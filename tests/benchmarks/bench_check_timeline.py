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
judge's fork). The worker's side is seen from the grader: when its "ready" message and the
job's first event arrived (threads wait on them) and when the job's last event was read
(exact where the grader was already waiting for it, i.e. where the job was the longer
side). Each step's module is wrapped as it is imported, so the clocks import nothing early.

Profiles of either side: `python -m pyinstrument -m graders.cli check NOTEBOOK` (the grader),
py-spy for the sandbox side, `python -X importtime` for imports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # this checkout's grader, in the child too
DEFAULT = ROOT / "tests" / "fixtures" / "duke_hw2" / "examples" / "solution.ipynb"
#: (label, module, attribute): the steps timed in the child, in the order they happen. A
#: module not imported yet is wrapped when it is (the engine's modules load during the check).
STEPS = [("trial sandbox (detect)", "graders.sandbox.isolation", "detect"),
         ("worker process started", "graders.sandbox.pool", "Worker._start"),
         ("notebook read (first look)", "graders.submission", "first_look"),
         ("job started ahead", "graders.sandbox.pool", "Worker.start"),
         ("notebook loaded (nbformat)", "graders.submission", "load"),
         ("engine imported, key loaded", "graders.cli", "_load"),
         ("worker ready (waited for)", "graders.sandbox.pool", "Worker._await_ready"),
         ("job supervised (cells, probes)", "graders.sandbox.pool", "Worker._supervise"),
         ("judge asked first (decode, checks)", "graders.judge", "Judges.ask"),
         ("judging finished (problems left)", "graders.judge", "EarlyJudging.finish"),
         ("report written", "graders.batch", "write_outputs"),
         ("pool closed", "graders.sandbox.pool", "WorkerPool.close")]
#: What the worker's side did, seen from the grader: when the zygote's "ready" message and
#: the job's first event became readable (a thread waits on each until the judge's fork; not
#: seen, they came later: "worker ready (waited for)" ends then), when "done" was read.
SEEN = ["worker ready (message came)", "job's first event came", "job's last event read"]


def child(notebook: str, out: str, marks_path: str) -> None:
    """One check, its steps wrapped with clocks; the marks go to `marks_path` at exit."""
    import atexit
    import importlib.machinery
    import select
    import threading
    started = time.monotonic()
    marks: dict[str, list[float]] = {}

    def clock(at: float | None = None) -> float:
        return round(((time.monotonic() if at is None else at) - started) * 1000, 1)

    def mark(label: str, begin: float, end: float | None = None) -> None:
        marks.setdefault(label, [begin, begin if end is None else end])  # the first call

    stop_read, stop_write = os.pipe()
    watchers: list[threading.Thread] = []

    def when_readable(label: str, source) -> None:
        def wait() -> None:
            if source in select.select([source, stop_read], [], [])[0]:
                mark(label, clock())
        watchers.append(threading.Thread(target=wait, daemon=True))
        watchers[-1].start()

    def stop_watching() -> None:
        """Before the judge's fork: a thread alive then would have the judge started
        instead of forked (graders.judge.Judges.warm), which is not what a check does."""
        os.write(stop_write, b"x")
        for watcher in watchers:
            watcher.join()

    def seen(owner, name: str, after) -> None:
        original = getattr(owner, name)

        def watched(self, *args, **kwargs):
            value = original(self, *args, **kwargs)
            after(self, value)
            return value
        setattr(owner, name, watched)

    def wrap(module, label: str, attribute: str) -> None:
        owner = module
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
                mark(label, begin, clock())
        setattr(owner, name, timed)

    def watch_worker(module) -> None:  # before the clocks: they call these
        seen(module.Worker, "_start",
             lambda worker, _: when_readable(SEEN[0], worker.control))
        seen(module.Worker, "start", lambda worker, ok: ok and when_readable(
            SEEN[1], worker._ahead[2]))
        seen(module.Worker, "_supervise",
             lambda worker, events: mark(SEEN[2], clock(events[-2]["at"]))
             if len(events) > 1 else None)

    def instrument(module) -> None:
        if module.__name__ == "graders.sandbox.pool":
            watch_worker(module)
        if module.__name__ == "graders.judge":
            warm = module.Judges.warm
            module.Judges.warm = lambda *args: (stop_watching(), warm(*args))[1]
        for label, name, attribute in STEPS:
            if name == module.__name__:
                wrap(module, label, attribute)

    class Instrumenting(importlib.machinery.PathFinder):
        """Wraps a step's module as it is imported (never importing one early)."""

        @classmethod
        def find_spec(cls, fullname, path=None, target=None):
            if fullname not in {name for _, name, _ in STEPS}:
                return None
            spec = super().find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                execute = spec.loader.exec_module

                def exec_module(module):
                    execute(module)
                    instrument(module)
                spec.loader.exec_module = exec_module
            return spec

    for name in dict.fromkeys(name for _, name, _ in STEPS):
        if name in sys.modules:
            instrument(sys.modules[name])
    sys.meta_path.insert(0, Instrumenting)
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
    work = Path(tempfile.mkdtemp(prefix="bench-timeline-"))
    try:
        timeline(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def timeline(args, work: Path) -> None:
    """The runs main() prints, in `work`."""
    from graders import config
    from graders.sandbox.environment import for_assignment
    from graders.submission import load
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
    for label in [label for label, _, _ in STEPS] + SEEN + ["exit"]:
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
