"""Writing results: the HTML report (Jinja2, plots inline), the JSON result, the gradebook.

Templates live in graders/templates/ (package data, so an installed wheel has them).
Everything a report shows comes from a GradeResult, so what a student or an instructor sees is
exactly what was scored; key values and key curves appear only where the problem's show_key
policy allows them for the audience.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import re
import tempfile
from pathlib import Path

import jinja2

from graders import cache
from graders.grading import GradeResult
from graders.plots import line_plot
from graders.submission import display

TEMPLATES = Path(__file__).with_name("templates")


@functools.cache
def environment() -> jinja2.Environment:
    """The templates' environment, made once per process: compiled templates are kept, and
    their compiled code is cached on disk (<cache>/templates, jinja's bytecode cache, checked
    against each template's source like Python's __pycache__): a `grader check` does not
    compile the report's templates again (about 0.1 s)."""
    folder = cache.root() / "templates"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        bytecode = jinja2.FileSystemBytecodeCache(str(folder))
    except OSError:
        bytecode = None
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, bytecode_cache=bytecode)
    env.globals["line_plot"] = line_plot
    env.filters["pts"] = lambda x: "" if x is None else f"{x:g}"
    return env


def render_report(result: GradeResult) -> str:
    return environment().get_template("submission.html.j2").render(r=result)


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so an interrupted run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp",
                                     encoding="utf-8", newline="") as tmp:
        tmp.write(text)
    os.chmod(tmp.name, 0o644)  # NamedTemporaryFile creates 0600; reports are for reading
    os.replace(tmp.name, path)


def write_result(result: GradeResult, folder: Path) -> Path:
    """folder/report.html and folder/result.json; returns the report's path."""
    write_atomic(folder / "result.json", json.dumps(result.as_json(), default=str))  # one line:
    # json's C encoder (indenting takes its pure-Python one, ~4x the time)
    report = folder / "report.html"
    write_atomic(report, render_report(result))
    return report


def write_gradebook(results: list[GradeResult], path: Path) -> None:
    """One row per submission: totals, then points per check and manual part (blank = pending),
    days late and the policies' deductions. Filled in, it is the CSV `grade --manual` reads.
    No cell starts a spreadsheet formula (spreadsheet_safe): a student named =1+2 is '=1+2."""
    columns: list[str] = []
    for result in results:
        for problem in result.problems:
            for name in [c.id for c in problem.checks] + [m.id for m in problem.manual]:
                column = f"{problem.id} {name}"
                if column not in columns:
                    columns.append(column)
    rows = []
    for result in results:
        row = {"student": result.student, "file": result.file,
               "sha256": result.file_sha256 or "", "total": f"{result.total:g}",
               "auto": f"{result.auto_points:g}", "manual_pending": f"{result.manual_pending:g}",
               "days_late": "" if result.days_late is None else f"{result.days_late:g}",
               "deductions": "; ".join(d.reason for d in result.deductions),
               "error": result.error or "; ".join(result.limits_hit)}
        for problem in result.problems:
            for check in problem.checks:
                row[f"{problem.id} {check.id}"] = f"{check.points:g}"
            for part in problem.manual:
                row[f"{problem.id} {part.id}"] = "" if part.points is None else f"{part.points:g}"
        rows.append(row)
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, ["student", "file", "sha256", "total", "auto",
                                   "manual_pending",
                                   *columns, "days_late", "deductions", "error"])
    writer.writeheader()
    writer.writerows({k: spreadsheet_safe(display(v)) for k, v in row.items()} for row in rows)
    write_atomic(path, text.getvalue())


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def spreadsheet_safe(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text and never runs: one that starts like a formula
    (= + - @ tab CR) gets a leading ' (the OWASP rule for CSV injection), unless it is a
    plain number such as -1.5 or 1e-05, which a spreadsheet reads as that number.
    write_gradebook passes every cell through submission.display first (one printable line;
    a file name that is not UTF-8 as \\xNN), so that the CSV can always be written."""
    if cell.startswith(FORMULA_START) and not NUMBER.fullmatch(cell):
        return "'" + cell
    return cell
