"""Grading a class: many submissions, a warm pool, one output folder. TRUSTED side.

  Batch.pending   what must be graded: missing from OUT/gradebook.sqlite, changed since, or
                  graded under another key or settings (graders/gradebook.py); everything
                  with `regrade`
  grade_batch     grades files on a pool of sandbox slots; each result goes to `on_result`
                  as it finishes; Ctrl-C (KeyboardInterrupt) cancels the pool at once
  Batch.record    writes one submission's report, then its gradebook row (one transaction)
  Batch.export    gradebook.csv and the class page (index.html) from the database

The batch's files, each with its student id and output folder, come from
graders.identity.plan. Every submission is inside an error boundary from load to its written
report: `graders.grading.grade` never raises, and a report that cannot be written still leaves
a minimal report and a row saying why. Tracebacks go to OUT/grader.log, never into a report.
Folder names are safe on any file system and never one of the batch's own files
(gradebook.csv, the log, the class page), so no student's name can clobber what the batch
writes.
"""

from __future__ import annotations

import gc
import logging
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path

from graders.gradebook import Gradebook, config_hash, file_hash
from graders.grading import GradeResult, grade
from graders.identity import Plan
from graders.judge import judges_for
from graders.report import write_gradebook, write_result
from graders.sandbox.pool import Cancelled

log = logging.getLogger("graders")


def log_to(folder: Path) -> logging.Handler:
    """Send the grader's log (internal errors with their tracebacks) to folder/grader.log."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / "grader.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("graders").addHandler(handler)
    return handler


def write_outputs(result: GradeResult, folder: Path) -> Path:
    """The submission's report and result.json; if writing them fails, a minimal report with
    the reason instead (the failure is logged)."""
    try:
        return write_result(result, folder)
    except Exception as exc:  # noqa: BLE001 - the boundary around writing one report
        log.exception("could not write the report of %s", result.file)
        for problem in result.problems:
            for check in problem.checks:
                check.plots, check.student, check.expected = [], "", None
        result.error = (result.error or "") + (f" (the full report could not be written: "
                                               f"{type(exc).__name__})")
        return write_result(result, folder)


class Batch:
    """One assignment's batch in one output folder, its gradebook and its exports."""

    def __init__(self, out: Path, batch_plan: Plan, assignment, limits):
        self.out, self.plan, self.assignment = out, batch_plan, assignment
        self.gradebook = Gradebook(out, assignment.id)
        self.key_hash = assignment.key.meta["hash"]
        self.config_hash = config_hash(assignment.config, limits)
        self.hashes = {f: file_hash(f) for f in batch_plan.files}
        self._results: list[GradeResult] | None = None  # results(), until the next record

    def pending(self, regrade: bool = False) -> list[Path]:
        """The files whose stored result is missing or stale (or all, with `regrade`)."""
        return [f for f in self.plan.files
                if regrade or self.gradebook.current(self.plan.identities[f].id, self.hashes[f],
                                                     self.key_hash, self.config_hash) is None]

    def stored(self, path: Path) -> GradeResult:
        row = self.gradebook.row(self.plan.identities[path].id)
        return GradeResult.from_record(row.record, self.gradebook.array)

    def record(self, path: Path, result: GradeResult) -> Path:
        """Write the submission's report, then its gradebook row; returns the report."""
        result.student = self.plan.identities[path].id
        result.file_sha256 = self.hashes[path]
        folder = self.plan.folders[path]
        self._results = None
        report = write_outputs(result, self.out / folder)
        arrays = self.gradebook.key_arrays()  # key curves stored once, not in every row
        self.gradebook.save(self.plan.identities[path], folder, result.file, self.hashes[path],
                            self.key_hash, self.config_hash, result.to_record(arrays),
                            result.total, arrays)
        return report

    def results(self) -> list[GradeResult]:
        """Every result in the gradebook (this batch's and earlier ones), by student id,
        without their plots (the exports and the summary do not draw them: a class's plot
        arrays are never in memory at once). Read once until the next `record` (the exports
        and the summary share them)."""
        if self._results is None:
            self._results = [GradeResult.from_record(r)
                             for r in self.gradebook.records_without_plots()]
        return self._results

    def export(self) -> Path:
        """gradebook.csv and the class page index.html from the database (each written
        atomically); returns the gradebook's path."""
        from graders.classpage import write_class_page
        results = self.results()
        path = self.out / "gradebook.csv"
        write_gradebook(results, path)
        write_class_page(results, self.out, f"{self.assignment.id}: "
                                            f"{self.assignment.config.title}")
        return path

    def close(self) -> None:
        self.gradebook.close()


@contextmanager
def frozen_heap():
    """While a class is graded, the objects alive when it starts (the engine, the key, the
    batch's state) are kept out of the collector's generations (gc.freeze): a full
    collection walks only what grading made since, not the whole heap (which took ~70 ms
    a time in the grader process, holding the GIL from every slot's supervisor). They go
    back at the end. Meanwhile the youngest generation is collected after 50,000 new
    objects rather than 700: each submission's events and answers decode into some 10^5
    containers that live until it is recorded, and at 700 they set off ~15 collections a
    submission that walk them again and again (485 ms of a 200-submission batch with the
    GIL held, 124 ms at 50,000; what the collector is for, garbage cycles, waits a little
    longer, a few MB at most)."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def grade_batch(files: list[Path], assignment, pool, limits, audience: str, isolation: str,
                workers: int, on_result) -> int:
    """Grade `files` on `pool` with `workers` threads; `on_result(path, result)` is called in
    this thread as each finishes (it writes the result out); returns how many were handed
    over. Nothing is kept here: a result (its plots' arrays included) is freed once
    `on_result` returns, so the grader's memory stays flat however large the class. On
    KeyboardInterrupt the pool is cancelled (running jobs are killed), the results so far
    have been handed over, and the interrupt goes on. A judge per thread starts at once,
    loading while the slots start."""
    threads = max(1, min(workers, len(files)))
    judges_for(assignment).warm(threads)
    executor = ThreadPoolExecutor(threads)
    futures = {executor.submit(grade, f, assignment, pool, limits, audience, isolation): f
               for f in files}
    handed = 0
    try:
        with frozen_heap():
            for future in as_completed(futures):
                path = futures.pop(future)
                try:
                    result = future.result()  # grade() is the error boundary: never raises
                except Cancelled:
                    continue
                on_result(path, result)
                handed += 1
    except KeyboardInterrupt:
        pool.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown()
    return handed


def summarize(results: list[GradeResult]) -> list[str]:
    """The end of a batch in a few lines: how many, the marks' mean, median, min and max, and
    the submissions that could not be graded or hit a limit, by kind."""
    import statistics
    if not results:
        return ["no submissions graded"]
    totals = [r.total for r in results]
    lines = [f"{len(results)} submission(s): mean {statistics.mean(totals):.2f}, median "
             f"{statistics.median(totals):g}, min {min(totals):g}, max {max(totals):g} of "
             f"{results[0].max_points:g}"]
    kinds: dict[str, int] = {}
    for result in results:
        if result.error:
            kind = ("internal error" if result.error.startswith("internal error")
                    else "could not be read")
            kinds[kind] = kinds.get(kind, 0) + 1
        for hit in result.limits_hit:
            kind = limit_kind(hit)
            kinds[kind] = kinds.get(kind, 0) + 1
    lines += [f"  {count} x {kind}" for kind, count in sorted(kinds.items())]
    return lines


def limit_kind(hit: str) -> str:
    """A limit message by kind: "cell 5 exceeded 30 s" -> "a cell exceeded its time"."""
    if "memory" in hit:
        return "memory limit"
    if hit.startswith("too large to check"):
        return "too large to check"
    if "in total" in hit:
        return "total time limit"
    if hit.startswith(("cell", "probe")) and "exceeded" in hit and hit.endswith(" s"):
        return f"{hit.split()[0]} time limit"
    if "results exceeded" in hit:
        return "result size limit"
    return "other limit or lost worker"
