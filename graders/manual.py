"""Manual scores from the instructor: a CSV merged into the results, so the gradebook holds
the final mark.

The CSV has the gradebook's layout (graders/report.write_gradebook): a `student` column, then
one column per manual part named "<problem> <part>" (e.g. "3.3 comment"), and optionally
`days_late` for the late policy. Fill the blank manual columns of a gradebook.csv and pass it
back with `grader grade ... --manual gradebook.csv`; other columns (total, auto, the
automatic checks) are ignored. A blank cell stays pending. Every mistake raises `ManualError`
naming the file, the row, the column and the fix.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from graders.grading import GradeResult

LATE_COLUMN = "days_late"


class ManualError(Exception):
    """A problem in the manual-scores CSV; str() names the row, the column and the fix."""


def read(path: Path, columns: dict[str, float]) -> dict[str, dict[str, float]]:
    """{student: {column: value}} for the non-blank manual cells and days_late. `columns`
    maps every manual column of the assignment to its maximum points."""
    try:
        handle = Path(path).open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ManualError(f"{path}: cannot read it ({exc.strerror}); check the path.") from None
    with handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "student" not in reader.fieldnames:
            raise ManualError(f"{path}: no 'student' column; start from the gradebook.csv that "
                              "`grader grade` wrote.")
        wanted = [c for c in reader.fieldnames if c in columns or c == LATE_COLUMN]
        scores: dict[str, dict[str, float]] = {}
        for line, row in enumerate(reader, start=2):
            student = unquote((row.get("student") or "").strip())
            if not student:
                raise ManualError(f"{path}, line {line}: the student cell is empty; fill it in "
                                  "or delete the line.")
            if student in scores:
                raise ManualError(f"{path}, line {line}: student {student!r} appears twice; "
                                  "keep one line per student.")
            scores[student] = {}
            for column in wanted:
                text = (row.get(column) or "").strip()
                if not text:
                    continue
                try:
                    value = float(text)
                except ValueError:
                    value = math.nan
                top = columns.get(column, math.inf)
                if not (0 <= value <= top):
                    bound = f"between 0 and {top:g}" if column != LATE_COLUMN else "0 or more"
                    raise ManualError(f"{path}, line {line}, column {column!r}: {text!r} is not "
                                      f"a number {bound}; fix it or leave it blank (pending).")
                scores[student][column] = value
    return scores


def manual_columns(assignment) -> dict[str, float]:
    """The manual columns of an assignment (graders.assignment.Assignment): "<problem> <part>"
    for every part graded by hand, with its maximum points."""
    return {f"{p.id} {part}": assignment.points(p.id, part) for p in assignment.problems
            for part in {**p.unkeyed, **p.manual}}


def merge(result: GradeResult, scores: dict[str, dict[str, float]], policies) -> bool:
    """Fill `result`'s manual parts and days_late from `scores`; re-apply the policies.
    Returns whether the CSV had a line for this student."""
    row = scores.get(result.student)
    if row is None:
        return False
    for problem in result.problems:
        for part in problem.manual:
            column = f"{problem.id} {part.id}"
            if column in row:
                part.points = row[column]
    result.days_late = row.get(LATE_COLUMN)
    result.apply_policies(policies)
    return True


def unquote(cell: str) -> str:
    """A cell as written before graders.report.spreadsheet_safe quoted it ('=x -> =x)."""
    from graders.report import FORMULA_START
    return cell[1:] if cell.startswith("'") and cell[1:2] in FORMULA_START else cell


def stale_rows(path: Path, current: dict[str, str]) -> list[str]:
    """The rows of the CSV whose `sha256` (the file graded when the row was written) is not
    the current file's (`current`: {student: sha256}): "line N (student)" each."""
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if "sha256" not in (reader.fieldnames or []):
            return []
        stale = []
        for line, row in enumerate(reader, start=2):
            student = unquote((row.get("student") or "").strip())
            graded = (row.get("sha256") or "").strip()
            if graded and student in current and current[student] != graded:
                stale.append(f"line {line} ({student})")
    return stale
