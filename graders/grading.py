"""One submission, end to end: load -> sandbox -> judge (decode, checks) -> scores. TRUSTED side.

`grade` never raises for a bad submission: an unreadable file, a crashing cell or a limit hit
becomes zero points for what it affects, with the reason in the result. The result is a
`GradeResult`; `as_json()` gives the plain JSON written next to each report.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from graders.checks.base import Outcome, Plot, ProbeResult, show
from graders.execution import CellRecord, Execution, decoded, execute
from graders.judge import (EarlyJudging, JudgeTimeout, check_from_json, check_to_json,
                           judges_for, results_of)
from graders.policies import Deduction, apply, deductions
from graders.sandbox.pool import Limits, WorkerPool
from graders.submission import Submission, SubmissionError, display, load

if TYPE_CHECKING:  # the student kit ships this module without graders.assignment (keys)
    from graders.assignment import Assignment

log = logging.getLogger("graders")


@dataclass
class CheckResult:
    id: str
    title: str
    kind: str
    max_points: float
    points: float
    message: str
    student: str
    expected: str | None
    tolerance: str
    variant: str | None
    plots: list[Plot] = field(default_factory=list)
    detail: str | None = None  # instructors only: may hold key values (Outcome.detail)


@dataclass
class ManualPart:
    id: str
    prompt: str
    max_points: float
    points: float | None = None  # filled in by the instructor
    answer: str | None = None  # the student's value for it, where one was read (an unkeyed T/F)


@dataclass
class ProblemResult:
    id: str
    title: str
    checks: list[CheckResult]
    manual: list[ManualPart]
    text: str | None = None  # the student's free-text answer cell, shown for manual grading
    extra_credit: bool = False

    @property
    def points(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.checks) + sum(m.max_points for m in self.manual)


@dataclass
class GradeResult:
    student: str
    file: str
    assignment: str
    title: str
    audience: str  # "instructor" or "student": decides which key values are shown
    isolation: str
    problems: list[ProblemResult] = field(default_factory=list)
    cells: list[CellRecord] = field(default_factory=list)
    limits_hit: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    max_points: float = 0.0
    extra_credit: float = 0.0
    cap: bool = False
    scale: float = 1.0  # handout points -> announced points (grader.toml handout_points)
    from_zip: bool = False
    days_late: float | None = None  # from the instructor's CSV, for the late policy
    deductions: list[Deduction] = field(default_factory=list)
    file_sha256: str | None = None  # the graded file's bytes (set by a batch)

    @property
    def auto_points(self) -> float:
        return sum(p.points for p in self.problems)

    @property
    def manual_pending(self) -> float:
        return sum(m.max_points for p in self.problems for m in p.manual if m.points is None)

    @property
    def pending_points(self) -> float:
        """The manual points not yet graded in course points (the unit of `total`): a regular
        problem's handout points times `scale`, extra credit as is."""
        return round(sum(m.max_points * (1.0 if p.extra_credit else self.scale)
                         for p in self.problems for m in p.manual if m.points is None), 4)

    @property
    def earned(self) -> float:
        """Automatic plus manual points so far: regular problems' points times `scale`, plus
        extra credit; capped at max_points where the policy says."""
        regular = extra = 0.0
        for p in self.problems:
            points = p.points + sum(m.points or 0.0 for m in p.manual)
            if p.extra_credit:
                extra += points
            else:
                regular += points
        earned = round(regular * self.scale + extra, 4)
        return min(earned, self.max_points) if self.cap else earned

    @property
    def total(self) -> float:
        """The final mark: `earned` less the policies' deductions (graders/policies.py)."""
        return round(apply(self.earned, self.deductions), 4)

    def apply_policies(self, policies) -> None:
        self.deductions = deductions(policies, self.from_zip, self.days_late)

    def as_json(self) -> dict:
        """The result as plain JSON, without the checks' plots (to_record adds them): what
        dataclasses.asdict gives, without its deep copies of every value."""
        data = _plain(self, frozenset({"plots"}))
        data.update(total=self.total, earned=self.earned, auto_points=self.auto_points,
                    manual_pending=self.manual_pending)
        return data

    def to_record(self, key_array=None) -> dict:
        """as_json() with the checks' plots (arrays as float64 bytes in base64, exact):
        everything needed to rebuild this result. `key_array` writes the plots' key arrays
        (default: inline; a gradebook stores them once, graders.gradebook.KeyArrays)."""
        data = self.as_json()
        for problem, stored in zip(self.problems, data["problems"]):
            for check, out in zip(problem.checks, stored["checks"]):
                out["plots"] = check_to_json(check, key_array)["plots"]
        return data

    @classmethod
    def from_record(cls, data: dict, resolve=None) -> "GradeResult":
        """The GradeResult that to_record() stored; `resolve(digest)` gives a key array
        stored apart (graders.gradebook.Gradebook.array)."""
        data = {k: v for k, v in data.items()
                if k not in ("total", "earned", "auto_points", "manual_pending")}
        problems = [ProblemResult(**{**p, "checks": [check_from_json(c, resolve)
                                                     for c in p["checks"]],
                                     "manual": [ManualPart(**m) for m in p["manual"]]})
                    for p in data.pop("problems")]
        cells = [CellRecord(**c) for c in data.pop("cells")]
        found = [Deduction(**d) for d in data.pop("deductions")]
        return cls(**data, problems=problems, cells=cells, deductions=found)


def grade(path: Path, assignment: Assignment, pool: WorkerPool, limits: Limits,
          audience: str, isolation: str, early: bool = False) -> GradeResult:
    """Grade one submission. Never raises: this is the error boundary from load to result.
    `early`: the judge checks each problem as soon as its probes have answered, while the
    job runs on (graders.judge.EarlyJudging; for a lone check, where a core is free).
    Whatever happens (an unreadable file, a crashing cell, a limit, a value too large to
    check, a bug of ours), the submission gets a result with the reason; an internal error
    costs this submission its automatic points and nothing else, and its traceback goes to
    the grader's log, never into a report."""
    started = time.monotonic()
    result = GradeResult(student=display(Path(path).stem), file=display(path),
                         assignment=assignment.id, title=assignment.config.title,
                         audience=audience, isolation=isolation,
                         max_points=assignment.config.points,
                         extra_credit=assignment.config.extra_credit, cap=assignment.config.cap,
                         scale=assignment.config.scale)
    try:
        _grade_into(result, path, assignment, pool, limits, early)
    except Exception as exc:  # noqa: BLE001 - the boundary: log it, zero this one, go on
        log.exception("internal error while grading %s", result.file)
        result.error = (f"internal error: {type(exc).__name__}: {display(str(exc))[:300]}; "
                        "the submission could not be graded (the course staff have the "
                        "details in the grader's log)")
        result.problems = problem_results(assignment, {}, [], result.error)
    result.apply_policies(assignment.config.policies)
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _grade_into(result: GradeResult, path: Path, assignment: Assignment, pool: WorkerPool,
                limits: Limits, early: bool) -> None:
    judges = judges_for(assignment)
    markdown: list[str] = []
    try:
        submission = load(path)
    except SubmissionError as exc:
        result.error = str(exc)
        result.problems = problem_results(assignment, {}, [], result.error)
        return
    judges.warm()  # the judge loads the key while the sandbox runs the cells
    result.student, result.from_zip = display(submission.student), submission.from_zip
    markdown = submission.markdown
    asking = EarlyJudging(judges, assignment, result.audience, limits.check_s) \
        if early and submission.cells else None
    try:
        payloads = probe_answers(submission, assignment, pool, limits, result,
                                 asking.answered if asking else None)
        checks, recorded = asking.finish(payloads) if asking else results_of(
            judges.ask({"probes": payloads, "audience": result.audience}, limits.check_s))
    except JudgeTimeout as exc:
        log.warning("checking %s did not finish: %s", result.file, exc)
        why = (f"too large to check: checking the answers took longer than "
               f"{limits.check_s:g} s")
        result.limits_hit.append(why)
        result.problems = problem_results(assignment, {}, markdown, why)
        return
    finally:
        if asking is not None:
            asking.close()
    result.problems = problem_results(assignment, checks, markdown, None, recorded)


def problem_results(assignment: Assignment, checks: dict[str, list[CheckResult]],
                    markdown: list[str], failure: str | None,
                    recorded: dict[str, dict[str, str]] | None = None) -> list[ProblemResult]:
    """Every problem with its checks' results (or, with `failure`, every check at zero for
    that reason), its manual parts pending (with the answer each is graded from, where
    `recorded`) and the student's free-text answer."""
    out = []
    for problem in assignment.problems:
        if failure is not None:
            scored = [CheckResult(c.id, c.title, c.kind, assignment.points(problem.id, c.id),
                                  0.0, f"not graded: {failure}", "", None, "", None)
                      for c in problem.checks]
        else:
            scored = checks[problem.id]
        answers = (recorded or {}).get(problem.id, {})
        manual = [ManualPart(part, prompt, assignment.points(problem.id, part),
                             answer=answers.get(part))
                  for part, prompt in {**problem.unkeyed, **problem.manual}.items()]
        text = free_text(markdown, problem.id) if manual else None
        out.append(ProblemResult(problem.id, problem.title, scored, manual, text,
                                 assignment.config.problems[problem.id].extra_credit))
    return out


def check_results(assignment: Assignment, request: dict,
                  blobs=None) -> dict[str, list[CheckResult]]:
    """Run in a judge (graders/judge.py): decode the probe payloads of `request` (the worker's
    tagged JSON, its arrays' texts in `blobs` where they came apart, or an answer sheet's
    plain values) and score every check for the audience: of every problem, or of those
    the request names ("problems", a list of ids: it carries their probes)."""
    probes = {}
    for probe_id, payload in request["probes"].items():
        if not payload.get("ok"):
            probes[probe_id] = ProbeResult(False, error=payload.get("error") or "failed")
        elif payload.get("plain"):
            probes[probe_id] = ProbeResult(True, payload.get("value"))
        else:
            probes[probe_id] = decoded(payload.get("value"), blobs)
    out = {}
    for problem in _asked(assignment, request):
        show_key = _shows_key(assignment.config.problems[problem.id].show_key,
                              request["audience"])
        out[problem.id] = [_check_result(check, probes, assignment.points(problem.id, check.id),
                                         show_key, None) for check in problem.checks]
    return out


def recorded_answers(assignment: Assignment, request: dict,
                     blobs=None) -> dict[str, dict[str, str]]:
    """Run in a judge: {problem id: {manual part: the student's answer, shown}} for the
    manual parts graded from an answer (Problem.records), where the answer could be read
    (`blobs` as in check_results)."""
    out: dict[str, dict[str, str]] = {}
    for problem in _asked(assignment, request):
        for part, record in problem.records.items():
            payload = request["probes"].get(record.probe.id, {})
            if not payload.get("ok"):
                continue
            value = (payload.get("value") if payload.get("plain")
                     else decoded(payload.get("value"), blobs).value)
            if record.field is not None:
                value = value.get(record.field) if isinstance(value, dict) else None
            if value is not None:
                out.setdefault(problem.id, {})[part] = show(value, 200)
    return out


def _asked(assignment: Assignment, request: dict) -> list:
    """The problems a judge's request asks about: those it names, else all."""
    named = request.get("problems")
    return assignment.problems if named is None else \
        [problem for problem in assignment.problems if problem.id in named]


def answer_marker(problem_id: str) -> str:
    """What a free-text answer cell contains: the templates start each with it."""
    return f"Your answer ({problem_id})"


def free_text(markdown: list[str], problem_id: str) -> str | None:
    """The markdown cells holding the student's answer to `problem_id`: those containing
    answer_marker(problem_id) (the template's answer cells), joined; None if there is none."""
    marker = answer_marker(problem_id)
    found = [cell.strip() for cell in markdown if marker in cell]
    return "\n\n".join(found) if found else None


def probe_answers(submission: Submission, assignment: Assignment, pool: WorkerPool,
                  limits: Limits, result: GradeResult, answered=None) -> dict[str, dict]:
    """Probe payloads for the judge: the sandbox's undecoded answers for code, the sheet's
    values for answers.toml (TOML values are data already: numbers, lists the checks turn
    into arrays, tables, and strings that symbolic checks parse as formulas).
    `answered(probe id, payload)` hears each probe that answered while the job runs."""
    if submission.cells:
        heard = None if answered is None else \
            (lambda probe_id, probe: answered(probe_id, _payload(probe)))
        execution: Execution = execute(pool, submission.cells, assignment.probes(), limits,
                                       decode=False, files=submission.files, on_answer=heard)
        result.cells, result.limits_hit = execution.cells, execution.limits_hit
        return {pid: _payload(r) for pid, r in execution.probes.items()}
    payloads = {}
    for probe in assignment.probes():
        if probe.kind == "value" and probe.name in submission.answers:
            payloads[probe.id] = {"ok": True, "plain": True,
                                  "value": submission.answers[probe.name]}
        else:
            why = ("functions cannot be given in an answer sheet; submit the notebook"
                   if probe.kind == "call" else f"{probe.name} is not in the answer sheet")
            payloads[probe.id] = {"ok": False, "error": why}
    return payloads


def _payload(probe: ProbeResult) -> dict:
    """A probe's result as a judge's request carries it (its value undecoded)."""
    return {"ok": probe.ok, "value": probe.value, "error": probe.error}


def _shows_key(policy: str, audience: str) -> bool:
    return policy == "always" or (policy == "instructor" and audience == "instructor")


def _check_result(check, probes: dict[str, ProbeResult], max_points: float, show_key: bool,
                  load_error: str | None) -> CheckResult:
    failed = [probes[p.id] for p in check.probes
              if p.id in probes and not probes[p.id].ok and p.id not in check.optional]
    unanswered = [p.name for p in check.probes if p.kind == "value" and p.id in probes
                  and probes[p.id].missing
                  and p.id not in check.optional]
    if load_error:
        outcome = Outcome(0.0, f"not graded: {load_error}")
    elif failed:
        count = f"{len(failed)} of {len(check.probes)} probes failed: " \
            if len(check.probes) > 1 else ""
        outcome = Outcome(0.0, count + (failed[0].error or "failed"))
    elif unanswered:
        outcome = Outcome(0.0, f"no answer: {unanswered[0]} is None")
    else:
        try:
            outcome = check.evaluate(probes)
        except Exception as exc:  # a grader bug must not cost the batch: report it, score 0
            outcome = Outcome(0.0, f"internal error in this check ({type(exc).__name__}: "
                              f"{exc}); please report it to the course staff")
    fraction = min(max(float(outcome.fraction), 0.0), 1.0)
    return CheckResult(check.id, check.title, check.kind, max_points,
                       round(fraction * max_points, 4), outcome.message, outcome.student,
                       outcome.expected if show_key else None, outcome.tolerance,
                       outcome.variant, outcome.plots if show_key or not outcome.plots
                       else [_without_key(p) for p in outcome.plots],
                       (outcome.detail or None) if show_key else None)


def _without_key(plot: Plot) -> Plot:
    return Plot(plot.title, plot.ylabel, plot.student, None, None, plot.labels)


def _plain(value, leave_out: frozenset = frozenset()):
    """dataclasses.asdict without its deep copies: a dataclass (within lists, tuples and
    dicts too) as a new dict of its fields but those named in `leave_out`; any other value
    as it is (JSON leaves, shared)."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    names = _FIELDS.get(kind)
    if names is None and is_dataclass(kind):
        names = _FIELDS[kind] = tuple(f.name for f in fields(kind))
    if names is not None:
        return {name: _plain(getattr(value, name), leave_out) for name in names
                if name not in leave_out}
    if isinstance(value, list):
        return [_plain(v, leave_out) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v, leave_out) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v, leave_out) for k, v in value.items()}
    return value


_LEAVES = frozenset({str, int, float, bool, type(None)})
_FIELDS: dict[type, tuple[str, ...]] = {}  # a dataclass's field names, by type
