"""Benchmark (not a test): one submission in a warm batch against Otter-Grader's `otter run` on
the same one-question notebook with an equivalent test.

    python tests/benchmarks/bench_otter.py [--repeat 5] [--venv /tmp/otter-venv]

The notebook: duke-hw2's question 4.1 as the solution answers it (the CSC encoding of the
handout's 8 x 8 matrix: values, relative row indices, column pointers), one code cell.
  otter run   Otter-Grader 7.0 in a virtual environment of its own (`--venv`, created and
              installed with pip on first use; skipped with a message where it cannot be
              installed), grading the notebook against an autograder.zip from `otter
              generate` whose one OK-format test compares the three lists with the key
  warm batch  this grader with a warm pool of one slot (as `grader grade` keeps it): the
              notebook graded (all of duke-hw2's probes; the other problems' fail at once)
              and its report and result.json written, in this process
  check       `grader check` on the notebook, end to end in a new process (for reference)
Figures are medians over the repeats; the ratio otter run / warm batch is of the same run.
The key values for Otter's test come from the key (graders/keys.py) at run time and live in
a temporary folder only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fixtures.duke_hw2.examples import EXAMPLES_LIST, source_of  # noqa: E402
from tests.fixtures.notebooks import cells  # noqa: E402

OTTER = "otter-grader==7.0.0"
QUESTION = "p4_1_values, p4_1_rel_index, p4_1_col_ptr = csc_encode(Wm)"


def one_question_notebook(path: Path) -> None:
    """The solution's 4.1 cell alone, as a notebook both graders read."""
    import nbformat
    solution = next(e for e in EXAMPLES_LIST if e.name == "solution")
    code = next(text for kind, text in cells(source_of(solution))
                if kind == "code" and QUESTION in text)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("## 4.1 CSC encoding"),
                      nbformat.v4.new_code_cell(code)]
    notebook.metadata.update(grader={"assignment": "duke-hw2"}, kernelspec={
        "name": "python3", "display_name": "Python 3", "language": "python"})
    nbformat.write(notebook, path)


def otter_test(folder: Path, key: dict) -> None:
    """tests/q4_1.py, Otter's OK format: the same three lists as our 4.1 checks compare."""
    pointers = key["col_ptr"] if isinstance(key["col_ptr"], list) else key["col_ptr"]["n+1"]
    lines = [f">>> [str(v) for v in p4_1_values] == {[str(v) for v in key['values']]!r}",
             f">>> [int(v) for v in p4_1_rel_index] == {[int(v) for v in key['rel_index']]!r}",
             f">>> [int(v) for v in p4_1_col_ptr] == {[int(v) for v in pointers]!r}"]
    cases = [{"code": line + "\nTrue", "hidden": False, "locked": False} for line in lines]
    test = {"name": "q4_1", "points": 1, "suites": [
        {"cases": cases, "scored": True, "setup": "", "teardown": "", "type": "doctest"}]}
    (folder / "tests").mkdir(parents=True, exist_ok=True)
    (folder / "tests" / "q4_1.py").write_text(f"OK_FORMAT = True\n\ntest = {test!r}\n")


def otter_venv(venv: Path) -> Path | None:
    """The `otter` command of `venv`, installed there first if needed; None (and why) when it
    cannot be installed."""
    otter = venv / "bin" / "otter"
    if otter.exists():
        return otter
    print(f"installing {OTTER} into {venv} (once; about a minute) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True,
                       capture_output=True, text=True, timeout=300)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", OTTER, "ipykernel"],
                       check=True, capture_output=True, text=True, timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        tail = (getattr(exc, "stderr", "") or str(exc)).strip().splitlines()[-1:]
        print(f"skipping Otter: {OTTER} could not be installed into {venv} "
              f"({'; '.join(tail) or type(exc).__name__}); check that the folder can be "
              "written and the package registry reached, or pass --venv.")
        shutil.rmtree(venv, ignore_errors=True)
        return None
    return otter


def run_otter(otter: Path, work: Path, notebook: Path, repeat: int) -> tuple[list[float], str]:
    """Seconds of each `otter run`, and the score of the last one."""
    subprocess.run([str(otter), "generate", "-t", "tests", "-o", "autograder.zip",
                    "--no-config", "--no-requirements", "--no-environment"], cwd=work,
                   check=True, capture_output=True, timeout=300)
    times, score = [], "?"
    for index in range(repeat):
        out = work / f"otter-out{index}"
        out.mkdir()
        started = time.perf_counter()
        subprocess.run([str(otter), "run", "-a", "autograder.zip", "-o", str(out),
                        str(notebook)], cwd=work, check=True, capture_output=True, timeout=600)
        times.append(time.perf_counter() - started)
        test = next(t for t in json.loads((out / "results.json").read_text())["tests"]
                    if t["name"] == "q4_1")
        score = f"{test['score']:g}/{test['max_score']:g}"
    return times, score


def warm_batch(notebook: Path, work: Path, repeat: int) -> tuple[list[float], str]:
    """Seconds per submission graded and written on a warm one-slot pool, and its 4.1 score."""
    from graders import config
    from graders.assignment import load_assignment
    from graders.batch import write_outputs
    from graders.grading import grade
    from graders.sandbox.environment import for_assignment
    from graders.sandbox.isolation import detect
    from graders.sandbox.pool import WorkerPool
    course = config.load(ROOT / "grader.toml")
    hw2 = load_assignment(course, "duke-hw2")
    isolation = detect()
    times, result = [], None
    with WorkerPool(1, hw2.config.preload, isolation, course.limits.memory_mb,
                    for_assignment(course, "duke-hw2")) as pool:
        grade(notebook, hw2, pool, course.limits, "instructor", "bench")  # warm the caches
        for index in range(repeat):
            started = time.perf_counter()
            result = grade(notebook, hw2, pool, course.limits, "instructor",
                           isolation.describe())
            write_outputs(result, work / f"ours{index}")
            times.append(time.perf_counter() - started)
    problem = next(p for p in result.problems if p.id == "4.1")
    return times, f"{problem.points:g}/{sum(c.max_points for c in problem.checks):g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--venv", type=Path, default=Path("/tmp/otter-venv"),
                        help="Otter-Grader's own virtual environment (created if missing)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-otter-"))
    notebook = work / "hw2_q41.ipynb"
    one_question_notebook(notebook)
    print("load: " + subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    ours, our_score = warm_batch(notebook, work, args.repeat)
    check = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "graders.cli", "check", str(notebook), "-o",
                        str(work / "check")], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        check.append(time.perf_counter() - started)
    warm = statistics.median(ours)
    print(f"one-question notebook (duke-hw2 4.1), median of {args.repeat}")
    print(f"  {'warm batch, per submission (grade + report)':<47}{warm:7.3f} s   4.1 scored "
          f"{our_score}")
    print(f"  {'grader check, new process, end to end':<47}{statistics.median(check):7.3f} s")
    otter = otter_venv(args.venv)
    if otter is not None:
        from graders import config
        from graders.assignment import load_assignment
        key = load_assignment(config.load(ROOT / "grader.toml"), "duke-hw2").key.data["csc"]["q41"]
        otter_test(work, key)
        times, score = run_otter(otter, work, notebook, args.repeat)
        run = statistics.median(times)
        print(f"  {'otter run (' + OTTER + ')':<47}{run:7.3f} s   scored {score}")
        print(f"otter run / warm batch: {run / warm:.1f}x; otter run / grader check: "
              f"{run / statistics.median(check):.1f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
