"""Small hand-made GradeResults for the page tests: no sandbox, no key, every case in view."""

from __future__ import annotations

from graders.execution import CellRecord
from graders.grading import CheckResult, GradeResult, ManualPart, ProblemResult


def check(id: str, points: float, max_points: float = 5.0, kind: str = "array",
          variant: str | None = None, message: str = "matches the key") -> CheckResult:
    return CheckResult(id, f"check {id}", kind, max_points, points, message, "1.0", "1.0",
                       "rtol 1e-6", variant)


def result(student: str, points: tuple[float, float, float] = (5.0, 5.0, 4.0), *,
           answer: str | None = None, text: str | None = "Your answer (1.7): because ...",
           variant: str = "sum_x2", **fields) -> GradeResult:
    """A duke-hw2-like result: problem 1.7 (an unkeyed T/F: manual only), 2.1 (two checks, one
    with a convention), L2 (a plausibility band, 4 points)."""
    problems = [
        ProblemResult("1.7", "Statement seven", [], [
            ManualPart("answer", "True or false (no key shipped)", 2.0, answer=answer),
            ManualPart("explanation", "A short explanation", 1.0)], text),
        ProblemResult("2.1", "Distributed SGD", [check("W", points[0], variant=variant),
                                                 check("history", points[1])], []),
        ProblemResult("L2", "Quantisation", [
            check("accuracy", points[2], 4.0, "band",
                  message="accuracy 0.12 is outside the reference band 0.88-0.93"
                  if points[2] < 4 else "within the reference band")], [])]
    defaults = dict(student=student, file=f"{student}.ipynb", assignment="duke-hw2",
                    title="ECE590 Homework #2", audience="instructor", isolation="isolated",
                    problems=problems, max_points=20.0, scale=1.25)
    return GradeResult(**{**defaults, **fields})


def batch() -> list[GradeResult]:
    """Five students: full marks, a lost point, a band miss, a cell limit, an unreadable file."""
    return [
        result("ada", answer="True"),
        result("bob", (5.0, 2.5, 4.0), variant="mean", answer="False"),
        result("cyd", (5.0, 5.0, 0.0), text=None),
        result("dee", (0.0, 0.0, 4.0), limits_hit=["cell 6 exceeded 3 s"],
               cells=[CellRecord(5, False, "skipped: cell 6 exceeded 3 s")]),
        result("eve", (0.0, 0.0, 0.0), error="not valid notebook JSON: line 1"),
    ]
