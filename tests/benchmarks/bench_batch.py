"""Benchmark (not a test): a class of generated duke-hw2 submissions, graded by `grader grade`
on the local pool and on a Dask LocalCluster, with the memory it takes.

    python tests/benchmarks/bench_batch.py [--count 200] [-j N] [--no-cluster] [--no-loop]
                                           [--layouts local local:2x1]
    python tests/benchmarks/bench_batch.py --breakdown 200   # where a submission's time goes

The class: `--count` notebooks, one folder per student, cycling through the committed examples
(tests/fixtures/duke_hw2/examples): about half right (the solution and its accepted forms),
most of the rest one known mistake each, and a few broken (a syntax error, a cell that raises,
corrupt notebook JSON, a 10 GB allocation). Each student's notebook carries its own comment,
so no two files are the same. The notebook with an infinite loop is graded on its own
afterwards (`--no-loop` skips it): it takes the 30 s cell limit, whatever the rest costs.

Each run is the CLI as an instructor runs it (a new process, key from the cache, workers
started, reports, gradebook, class page), timed end to end. Printed per run: wall time,
submissions per second, the median of the reports' per-submission seconds, CPU seconds per
submission by role (the sandbox slots, their jobs included: each slot's warm process with
the jobs it forked and reaped; the judges; the grader; the Dask processes), their sum and
the wall time that sum sets on this machine's cores (a batch whose wall time is near it is
bound by CPU, not by waiting), and memory, sampled from /proc every 0.1 s:
  grader      peak RSS of the `grader` process (VmHWM: exact)
  slot        peak RSS of one sandbox slot (its warm worker and the job it runs), max over slots
  judge       peak RSS of one judge process (decoding and checks), max over judges
  dask        peak RSS of one Dask worker process (the cluster run; its slots and judges apart)
Each cluster run (`--layouts`: `local` is one Dask worker process of -j threads, `local:2x1`
two processes of one thread; the same number of slots as the local pool) has its ratio to the
local run's wall time measured in the same invocation. The
load average (`uptime`) before and after is printed: on a shared machine the figures move.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fixtures.duke_hw2.examples import EXAMPLES_LIST, SET  # noqa: E402
from tests.fixtures.notebooks import Example  # noqa: E402
from tests.fixtures.processes import processes, slots, subtree  # noqa: E402

RIGHT = ["solution", "mean-convention", "solution", "other-conventions", "student-style-lab",
         "solution", "student-style-distributed", "log10-loss", "solution",
         "trim-chosen-before-the-step"]
WRONG = ["wrong-sign", "biased-terngrad", "tf-wrong", "prune-keeps-3", "hard-threshold",
         "csc-no-placeholders", "terngrad-runs-shifted", "clip-after-update",
         "history-too-short", "l1-without-sign", "two-point-wrong-rows",
         "probe-aware-terngrad", "csc-size-without-pointers", "trim-lambda-not-mu-lambda",
         "pointer-width-this-matrix", "W-held-at-the-optimum", "terngrad-runs-scaled"]
BROKEN = ["syntax-error", "cell-raises", "corrupt-json", "10gb-allocation"]
#: A syntax error in one cell (a missing colon): that cell and what depends on it fail.
SYNTAX_ERROR = Example("syntax-error", (("def p2_3_terngrad(g, s):", "def p2_3_terngrad(g, s)"),))


def kind_of(index: int) -> str:
    """The example student `index` writes: a cycle of 40 with 20 right, 17 wrong, 3 broken."""
    position = index % 40
    if position in (13, 27, 39):
        return BROKEN[(index // 13) % len(BROKEN)]
    slot = position - sum(position > b for b in (13, 27))
    return RIGHT[slot // 2 % len(RIGHT)] if slot % 2 == 0 else WRONG[slot // 2 % len(WRONG)]


def write_student(folder: Path, index: int, name: str) -> Path:
    """folder/studentNNN/hw2.ipynb: example `name` with the student's own comment."""
    import nbformat
    example = SYNTAX_ERROR if name == "syntax-error" else next(
        e for e in EXAMPLES_LIST if e.name == ("solution" if name == "corrupt-json" else name))
    notebook = SET.notebook(example)
    first = next(c for c in notebook.cells if c.cell_type == "code")
    first.source += f"\n# student {index:03d}: my submission"
    path = folder / f"student{index:03d}" / "hw2.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(notebook)
    path.write_text(text[:len(text) // 2] if name == "corrupt-json" else text)
    return path


def generate(folder: Path, count: int) -> dict[str, int]:
    """The class of `count` students in `folder`; returns how many of each example."""
    made: dict[str, int] = {}
    for index in range(count):
        name = kind_of(index)
        write_student(folder, index, name)
        made[name] = made.get(name, 0) + 1
    return made


@dataclass
class Memory:
    """Peak resident memory (MiB) by role, and the grader side's CPU seconds by role (each
    process's last sampled utime + stime), sampled from /proc."""

    grader: float = 0.0
    slots: dict[int, float] = field(default_factory=dict)
    judges: dict[int, float] = field(default_factory=dict)
    dask: dict[int, float] = field(default_factory=dict)
    cpu: dict[str, dict[int, float]] = field(default_factory=dict)

    def cpu_of(self, role: str) -> float:
        return sum(self.cpu.get(role, {}).values())


def _status_kb(pid: int, key: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def sample(root: int, memory: Memory) -> None:
    """One look at `root`'s process tree; raises the peaks in `memory`."""
    table = processes(root)
    memory.grader = max(memory.grader, _status_kb(root, "VmHWM") / 1024)
    memory.cpu.setdefault("grader", {})[root] = table[root].cpu if root in table else 0.0
    tree = [pid for pid in subtree(table, root) if pid in table]
    in_slots = set()
    for first, warm in slots(table, root).items():
        members = subtree(table, first)
        in_slots.update(members)
        rss = sum(_status_kb(q, "VmRSS") for q in members) / 1024
        memory.slots[first] = max(memory.slots.get(first, 0.0), rss)
        if warm is not None:  # the jobs the zygote forked and reaped are in its children's time
            memory.cpu.setdefault("slots", {})[warm] = table[warm].cpu + table[warm].reaped_cpu
    for pid in tree:
        if pid == root or pid in in_slots:
            continue
        command = table[pid].command
        forked = table[pid].parent == root and root in table and command == table[root].command
        if "graders.judge" in command or forked:  # started, or forked from the grader
            memory.judges[pid] = max(memory.judges.get(pid, 0.0), _status_kb(pid, "VmHWM") / 1024)
            memory.cpu.setdefault("judges", {})[pid] = table[pid].cpu
        elif "python" in command and ("distributed" in command or "spawn" in command):
            memory.dask[pid] = max(memory.dask.get(pid, 0.0), _status_kb(pid, "VmHWM") / 1024)
            memory.cpu.setdefault("dask", {})[pid] = table[pid].cpu


@dataclass
class Run:
    label: str
    count: int
    wall: float
    memory: Memory
    seconds: list[float]
    totals: list[float]
    output: str


def grade(label: str, folder: Path, out: Path, count: int, extra: list[str]) -> Run:
    """`grader grade folder -o out EXTRA...` in a new process, timed and sampled."""
    command = [sys.executable, "-m", "graders.cli", "grade", str(folder), "-o", str(out), *extra]
    memory = Memory()
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
    reader.start()
    while proc.poll() is None:
        sample(proc.pid, memory)
        time.sleep(0.1)
    wall = time.perf_counter() - started
    reader.join()
    if proc.returncode != 0:
        raise SystemExit(f"{label}: grader grade failed ({proc.returncode}):\n" + "".join(output))
    seconds, totals = [], []
    for result in out.glob("*/result.json"):
        data = json.loads(result.read_text())
        seconds.append(data["seconds"])
        totals.append(data["total"])
    return Run(label, count, wall, memory, seconds, totals, "".join(output))


def describe(run: Run) -> list[str]:
    m = run.memory
    def peak(found: dict) -> str:
        return f"{max(found.values()):.0f} MiB ({len(found)} over the run)" if found else "-"

    total = sum(m.cpu_of(role) for role in m.cpu) / run.count
    cores = len(os.sched_getaffinity(0))
    floor = total * run.count / cores
    lines = [f"{run.label}: {run.count} submissions in {run.wall:.1f} s = "
             f"{run.count / run.wall:.2f} submissions/s; per-submission time (reports) "
             f"median {statistics.median(run.seconds):.2f} s, max {max(run.seconds):.2f} s",
             "  CPU per submission: " + ", ".join(
                 f"{role} {m.cpu_of(role) / run.count:.3f} s" for role in (
                     "slots", "judges", "grader", "dask") if role in m.cpu)
             + f"; all {total:.3f} s, so {run.count} take at least {floor:.1f} s of CPU over "
               f"{cores} cores ({run.wall / floor:.2f}x that here)",
             f"  peak RSS: grader process {m.grader:.0f} MiB; slot {peak(m.slots)}; judge "
             f"{peak(m.judges)}" + (f"; dask worker process {peak(m.dask)}" if m.dask else "")]
    return lines


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="submissions in the class")
    parser.add_argument("-j", "--jobs", type=int, default=None,
                        help="slots (default: grader.toml's workers, i.e. every core)")
    parser.add_argument("--no-cluster", action="store_true", help="skip the LocalCluster run")
    parser.add_argument("--no-loop", action="store_true",
                        help="skip the infinite loop's separate run (it takes 30 s)")
    parser.add_argument("--layouts", nargs="+", default=["local"],
                        help="LocalCluster layouts to run (--dask values: local, local:WxT)")
    parser.add_argument("--breakdown", type=int, default=0, metavar="N",
                        help="only: grade the first N students in this process on the local "
                             "pool and print where each submission's time goes")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the class and the outputs here and keep them")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-batch-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        run_all(args, work)
    finally:  # the class and its outputs (~300 MB), unless --keep
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def run_all(args, work: Path) -> None:
    """The runs main() prints, in `work`."""
    folder = work / "class"
    shutil.rmtree(folder, ignore_errors=True)
    made = generate(folder, args.count)
    if args.breakdown:
        print(f"load before: {load()}")
        print("\n".join(breakdown(sorted(folder.glob("*/hw2.ipynb"))[:args.breakdown],
                                  args.jobs)))
        print(f"load after: {load()}")
        return
    jobs = ["-j", str(args.jobs)] if args.jobs else []
    print(f"class of {args.count}: " + ", ".join(f"{n} {k}" for k, n in sorted(made.items())))
    print(f"load before: {load()}")
    subprocess.run([sys.executable, "-m", "graders.cli", "key", "duke-hw2", "-o",
                    str(work / "key")], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    runs = []
    for label, extra in [("local pool", jobs)] + ([] if args.no_cluster else [
            (f"LocalCluster {layout}", jobs + ["--dask", layout]) for layout in args.layouts]):
        shutil.rmtree(_out(work, label), ignore_errors=True)
        runs.append(grade(label, folder, _out(work, label), args.count, extra))
        print("\n".join(describe(runs[-1])), flush=True)
    first = runs[0].output.splitlines()[0] if runs[0].output else ""
    print(f"  ({first})")
    local = runs[0]
    for cluster in runs[1:]:
        same = _gradebook(_out(work, local.label)) == _gradebook(_out(work, cluster.label))
        print(f"{cluster.label} / local pool wall time: {cluster.wall / local.wall:.2f}x; "
              f"gradebooks {'identical' if same else 'DIFFER'} (totals and every check)")
    if not args.no_loop:
        loop = work / "loop"
        shutil.rmtree(loop, ignore_errors=True)
        write_student(loop, 0, "infinite-loop")
        run = grade("infinite loop alone", loop, work / "loop-out", 1, jobs)
        print(f"infinite loop, graded alone: {run.wall:.1f} s wall (the 30 s cell limit), "
              f"its report says: {_limits(work / 'loop-out')}")
    print(f"load after: {load()}")


def breakdown(files: list[Path], jobs: int | None) -> list[str]:
    """Where a warm batch's time goes, per submission (means, wall seconds as seen by the
    grader): the student's cells (cell_start to cell_end events), the probes that run the
    student's training functions (2.3/2.5: `...(seed) runs`), the other probes, and the
    rest of graders.grading.grade (loading, fork, the judge's decoding and checks: the
    trusted overhead), after one warm-up submission per slot. The floor on `jobs` cores is
    the student's own work (cells and probes) summed over the class and divided by the
    slots, taking it as CPU-bound."""
    from concurrent.futures import ThreadPoolExecutor

    from graders.assignment import load_assignment
    from graders.config import load as load_config
    from graders.grading import grade as grade_one
    from graders.sandbox.environment import for_assignment
    from graders.sandbox.isolation import detect
    from graders.sandbox.pool import WorkerPool
    config = load_config(ROOT / "grader.toml")
    assignment = load_assignment(config, "duke-hw2")
    slots = jobs or config.workers
    isolation = detect()
    local = threading.local()
    parts: dict[str, list[float]] = {k: [] for k in ("total", "cells", "train", "probes")}
    with WorkerPool(slots, assignment.config.preload, isolation, config.limits.memory_mb,
                    for_assignment(config, assignment.id, progress=print)) as pool:
        run = pool.run

        def timed(job, on_event=None):
            events = run(job, on_event)
            local.events.extend(events)
            return events
        pool.run = timed

        def one(path: Path) -> dict[str, float]:
            local.events = []
            seconds = grade_one(path, assignment, pool, config.limits, "instructor",
                                isolation.describe()).seconds
            spans = _spans(local.events)
            train = sum(t for name, t in spans.items() if "(seed) runs" in name)
            cells = sum(t for name, t in spans.items() if name.startswith("cell "))
            return {"total": seconds, "cells": cells, "train": train,
                    "probes": sum(spans.values()) - cells - train}
        with ThreadPoolExecutor(slots) as executor:
            list(executor.map(one, files[:slots]))  # warm-up: each slot's first job, not counted
            for found in executor.map(one, files):
                for key, value in found.items():
                    parts[key].append(value)
    mean = {key: statistics.mean(values) for key, values in parts.items()}
    student = sum(parts["cells"]) + sum(parts["train"]) + sum(parts["probes"])
    return [f"breakdown of {len(files)} submissions on {slots} slots (means per submission, "
            f"wall seconds): total {mean['total']:.3f} s = student cells {mean['cells']:.3f} "
            f"+ training-function probes (2.3/2.5) {mean['train']:.3f} + other probes "
            f"{mean['probes']:.3f} + trusted overhead "
            f"{mean['total'] - mean['cells'] - mean['train'] - mean['probes']:.3f}",
            f"  floor set by the student's own work for 200 on {slots} cores: "
            f"{student / len(files) * 200 / slots:.1f} s (of which the training probes "
            f"{sum(parts['train']) / len(files) * 200 / slots:.1f} s)"]


def _spans(events: list[dict]) -> dict[str, float]:
    """Seconds from each cell's or probe's start event to its end event (grader's clock)."""
    spans, opened = {}, {}
    for event in events:
        kind = event.get("ev")
        name = f"cell {event.get('cell')}" if kind in ("cell_start", "cell_end") else \
            f"probe {event.get('id')}"
        if kind in ("cell_start", "probe_start"):
            opened[name] = event.get("at", 0.0)
        elif kind in ("cell_end", "probe_end") and name in opened:
            spans[name] = spans.get(name, 0.0) + event.get("at", 0.0) - opened.pop(name)
    return spans


def _out(work: Path, label: str) -> Path:
    """The run labelled `label`'s output folder."""
    return work / label.replace(" ", "-").replace(":", "-")


def _gradebook(out: Path) -> list[dict]:
    """The gradebook's rows, all columns but the time each was graded."""
    with (out / "gradebook.csv").open(newline="") as handle:
        return sorted(({k: v for k, v in row.items() if k not in ("graded_at",)}
                       for row in csv.DictReader(handle)), key=lambda r: r["student"])


def _limits(out: Path) -> str:
    data = json.loads(next(out.glob("*/result.json")).read_text())
    return "; ".join(data["limits_hit"]) or "no limit hit"


if __name__ == "__main__":
    main()
