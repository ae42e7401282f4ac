"""The self-check without the key: public checks run in the sandbox, hidden checks listed.

This module is the student kit's entry point (graders/kit.py builds the kit); the kit holds
no key, no reference code and no hidden input. What it knows of the assignment is an outline
(`kit.json`, written by graders/kit.py from the graded assignment):

  {"assignment", "title", "points", "notebook": the template's file name,
   "problems": [{"id", "title", "extra_credit", "hidden": [[check id, title, points]],
                 "manual": [[part, prompt, points]], "public": [Expect as JSON]}],
   "limits": graders.sandbox.pool.Limits fields, "preload": [modules],
   "environment": {"name", "packages"} or null (the kit's own interpreter)}

`self_check` runs the submission's cells and the public checks' probes in the same sandboxed
worker pool as grading (graders/sandbox/), decodes and checks in this process (the kit has no
judge: it is the student's own code on the student's own machine, and there is nothing to
steal), and returns a GradeResult whose hidden checks say "hidden check: graded after
submission" and whose public checks carry no points. `summary` is the text printed by
`grader check` and by `check()`, the one-line call from inside a notebook.

Where bubblewrap is missing (macOS, Windows, a Linux without it) the worker runs as a plain
subprocess with rlimits and clocks only, and every summary starts with a warning saying so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from graders.checks.base import Check, Probe, unique_probes
from graders.checks.public import Expect, HiddenCheck, PublicCheck
from graders.grading import (GradeResult, probe_answers, check_results, problem_results,
                             recorded_answers)
from graders.sandbox.pool import Limits
from graders.submission import SubmissionError, display, first_look, load

KIT_FILE = Path(__file__).with_name("kit.json")
#: Messages of a public check that mean "not answered yet" rather than "wrong form".
UNANSWERED = re.compile(r"no answer|is None|NotImplementedError|is not defined|not in the "
                        r"answer sheet|cannot be given in an answer sheet|has no attribute|"
                        r"not found")
UNSANDBOXED = ("WARNING: NOT SANDBOXED. bubblewrap is not available here ({why}), so your "
               "code runs as a plain process with time and memory limits only. That is your "
               "own code on your own machine, and this kit holds no answers; on Linux, "
               "install bubblewrap (apt-get install bubblewrap) to check exactly as the "
               "grader runs.")


@dataclass
class KitProblem:
    """A problem as the kit sees it (graders.assignment.Problem's fields, no key)."""

    id: str
    title: str
    checks: list[Check]
    manual: dict[str, str] = field(default_factory=dict)
    unkeyed: dict[str, str] = field(default_factory=dict)
    records: dict = field(default_factory=dict)


@dataclass
class _ProblemSettings:
    show_key: str = "never"
    extra_credit: bool = False


@dataclass
class _Settings:
    id: str
    title: str
    points: float
    problems: dict[str, _ProblemSettings]
    extra_credit: float = 0.0
    cap: bool = False
    scale: float = 1.0


class KitAssignment:
    """What graders.grading needs of an Assignment, from the kit's outline."""

    def __init__(self, outline: dict):
        self.outline = outline
        self.problems: list[KitProblem] = []
        self._points: dict[tuple[str, str], float] = {}
        settings = {}
        for p in outline["problems"]:
            checks: list[Check] = [PublicCheck(Expect.from_json(e)) for e in p["public"]]
            checks += [HiddenCheck(cid, title) for cid, title, _ in p["hidden"]]
            self._points.update({(p["id"], cid): pts for cid, _, pts in p["hidden"]})
            self._points.update({(p["id"], part): pts for part, _, pts in p["manual"]})
            self.problems.append(KitProblem(p["id"], p["title"], checks,
                                            {part: prompt for part, prompt, _ in p["manual"]}))
            settings[p["id"]] = _ProblemSettings(extra_credit=p.get("extra_credit", False))
        self.config = _Settings(outline["assignment"], outline["title"], outline["points"],
                                settings)

    @property
    def id(self) -> str:
        return self.config.id

    def probes(self) -> list[Probe]:
        return list(unique_probes(c for p in self.problems for c in p.checks).values())

    def points(self, problem_id: str, part: str) -> float:
        return self._points.get((problem_id, part), 0.0)


def read_kit(path: Path = KIT_FILE) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: {path}: the kit's outline cannot be read ({exc}); "
                         "reinstall the kit.") from None


def limits_of(outline: dict) -> Limits:
    known = {f.name for f in fields(Limits)}
    return Limits(**{k: v for k, v in outline.get("limits", {}).items() if k in known})


def self_check(path: Path, assignment: KitAssignment, pool, limits: Limits,
               isolation: str) -> GradeResult:
    """Run `path`'s cells and the public probes in `pool`; check them here. Never raises for
    a bad submission: an unreadable file is a result with its error."""
    started = time.monotonic()
    result = GradeResult(student=display(Path(path).stem), file=display(path),
                         assignment=assignment.id, title=assignment.config.title,
                         audience="student", isolation=isolation,
                         max_points=assignment.config.points)
    try:
        submission = load(path)
    except SubmissionError as exc:
        result.error = str(exc)
        result.problems = problem_results(assignment, {}, [], result.error)
        return result
    request = {"probes": probe_answers(submission, assignment, pool, limits, result),
               "audience": "student"}
    result.problems = problem_results(assignment, check_results(assignment, request),
                                      submission.markdown, None,
                                      recorded_answers(assignment, request))
    result.seconds = round(time.monotonic() - started, 3)
    return result


def problem_status(problem) -> tuple[str, str]:
    """("form ok" | "not answered" | "check the form" | "no public check", first message)."""
    public = [c for c in problem.checks if c.kind == "public"]
    if not public:
        return "no public check", ""
    failed = [c for c in public if c.points < 1 and not c.message.startswith("form ok")]
    if not failed:
        return "form ok", ""
    if len(failed) == len(public) and all(UNANSWERED.search(c.message) for c in failed):
        return "not answered", ""
    wrong = next((c for c in failed if not UNANSWERED.search(c.message)), failed[0])
    return "check the form", f"{wrong.title.split(':')[0]}: {wrong.message}"


def summary(result: GradeResult, unsandboxed: str | None = None) -> str:
    """The self-check in a few lines: a warning where unsandboxed, a line per problem, the
    cells that failed, and what is graded after submission."""
    lines = [UNSANDBOXED.format(why=unsandboxed), ""] if unsandboxed else []
    lines.append(f"{result.assignment} self-check of {result.file}: public checks only "
                 "(form and sanity; your answers are compared with the key after you submit)")
    if result.error:
        lines.append(f"could not check: {result.error}")
    lines += [f"limit: {hit}" for hit in result.limits_hit]
    for cell in result.cells:
        if not cell.ok:
            lines.append(f"code cell {cell.index + 1} failed: {cell.error}")
    counts = {"form ok": 0, "not answered": 0, "check the form": 0, "no public check": 0}
    hidden = manual = 0.0
    for problem in result.problems:
        status, why = problem_status(problem)
        counts[status] += 1
        points = sum(c.max_points for c in problem.checks if c.kind == "hidden")
        pending = sum(m.max_points for m in problem.manual)
        hidden, manual = hidden + points, manual + pending
        after = ", ".join(x for x in (f"{points:g} pts hidden" if points else "",
                                      f"{pending:g} pts manual" if pending else "") if x)
        lines.append(f"  {problem.id:<5} {status:<15} {after:<28} {why}"[:160].rstrip())
    lines.append(f"problems: {counts['form ok']} form ok, {counts['not answered']} not "
                 f"answered, {counts['check the form']} to check"
                 + (f", {counts['no public check']} without a public check"
                    if counts["no public check"] else ""))
    lines.append(f"hidden check: graded after submission ({hidden:g} points); manual parts "
                 f"({manual:g} points) are graded by the instructor.")
    return "\n".join(lines)


def run(path: Path, outline: dict, report: Path | None = None) -> tuple[GradeResult, str]:
    """Build (or reuse) the student environment, start one sandboxed worker (as `grader
    check` does: no trial sandbox first, only the preloads the code imports), self-check."""
    from graders.sandbox.environment import EnvironmentSpec, ensure, own
    from graders.sandbox.isolation import candidate, detect
    from graders.sandbox.pool import WorkerPool, preload_for
    env = outline.get("environment")
    progress = lambda line: print("  " + line, file=sys.stderr)  # noqa: E731
    environment = own() if env is None else ensure(EnvironmentSpec(
        env["name"], tuple(env["packages"]), None, (outline["assignment"],)), progress)
    try:  # the first look reads no nbformat: the worker starts 0.1 s sooner
        submission = first_look(path) or load(path)
        code = submission.cells + list(submission.files.values())
    except SubmissionError:
        code = []  # self_check says what is wrong with it
    limits = limits_of(outline)
    assignment = KitAssignment(outline)
    with WorkerPool(1, preload_for(outline.get("preload", []), code), candidate() or detect(),
                    limits.memory_mb, environment) as pool:
        isolation = pool.confirm()
        result = self_check(path, assignment, pool, limits, isolation.describe())
    text = summary(result, None if isolation.isolated else "; ".join(isolation.notes))
    if report is not None:
        text += f"\nreport: {write_report(result, report)}"
    return result, text


def write_report(result: GradeResult, folder: Path) -> Path:
    """folder/selfcheck.html (graders/templates/selfcheck.html.j2)."""
    from graders.report import environment, write_atomic
    page = environment().get_template("selfcheck.html.j2").render(r=result,
                                                                  status=problem_status)
    path = Path(folder) / "selfcheck.html"
    write_atomic(path, page)
    return path


def main(argv: list[str] | None = None) -> None:
    """`grader check FILE [-o FOLDER]` of the student kit."""
    import click

    from graders.program import Program, finished

    @click.group(cls=Program, context_settings={"help_option_names": ["-h", "--help"]})
    def cli() -> None:
        """The course's self-check kit: public checks only, no answers."""

    @cli.command()
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
                  default=None, help="Folder for the HTML report [default: none].")
    @click.pass_context
    def check(ctx: click.Context, file: Path, output: Path | None) -> None:
        """Self-check FILE (.ipynb, .py or answers.toml): runs it in a sandbox, prints the
        public checks per problem. Exit code 2 when the file could not be read."""
        result, text = run(file, read_kit(), output)
        click.echo(text)
        if result.error:
            sys.exit(2)
        finished(ctx)  # the process may end at once (graders.program)

    cli(argv)


def check(path: str | None = None, timeout: float = 900) -> None:
    """From inside a notebook: self-check the SAVED notebook and print the summary under the
    cell. The check runs in a separate process (the kit's sandboxed engine), never in this
    kernel; save first (Ctrl-S) so that it sees your latest edits."""
    target = Path(path) if path else _this_notebook()
    if target is None or not target.exists():
        print("self-check: cannot tell which notebook this is; call check('hw2.ipynb') with "
              "its file name.")
        return
    saved = time.strftime("%H:%M:%S", time.localtime(target.stat().st_mtime))
    print(f"self-check of {target} as saved at {saved} (save first to check your latest "
          "edits) ...", flush=True)
    try:
        done = subprocess.run([sys.executable, "-m", "graders.selfcheck", "check", str(target)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"self-check: no answer in {timeout:g} s; run `grader check {target}` in a "
              "terminal to see its progress.")
        return
    print(done.stdout.rstrip() or done.stderr.strip()[-2000:])


def _this_notebook() -> Path | None:
    """The running notebook's file: Jupyter's JPY_SESSION_NAME, VS Code's
    __vsc_ipynb_file__, else the kit's template name in the current folder."""
    named = os.environ.get("JPY_SESSION_NAME")
    if named and named.endswith(".ipynb"):
        return Path(named)
    main_module = sys.modules.get("__main__")
    vscode = getattr(main_module, "__vsc_ipynb_file__", None)
    if vscode:
        return Path(vscode)
    notebook = read_kit().get("notebook") if KIT_FILE.exists() else None
    return Path(notebook) if notebook else None


if __name__ == "__main__":
    main()
