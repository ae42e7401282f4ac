"""`grader gradescope ASSIGNMENT -o autograder.zip`: a Gradescope autograder bundle.

The zip follows Gradescope's autograder specification
(gradescope-autograders.readthedocs.io/en/latest/specs/), which unpacks it into
/autograder/source and copies run_autograder to /autograder/; at its root

  setup.sh         run once when Gradescope builds the image (Ubuntu, as root): apt-get
                   installs python3, python3-venv and bubblewrap; /autograder/venv gets the
                   grader from source/ (its dependencies from the package registry); then the
                   student environment is built (`grader env ID`) and the key cached
                   (`grader key ID`), so that a submission pays for neither
  run_autograder   `python -m graders.gradescope ID` in /autograder/source: grades
                   $AUTOGRADER_ROOT/submission (default /autograder; any accepted layout:
                   a notebook with its modules, a .py, answers.toml, a .zip, in folders or not)
                   and writes $AUTOGRADER_ROOT/results/results.json
  graders/, reference/, pyproject.toml, README.md   the grader, installable with pip
  grader.toml      the instructor's course configuration

results.json (Gradescope's format, `results`):
  score            the mark `grader grade` gives (GradeResult.total: scale, cap, policies)
  output           the public self-check's summary (graders/selfcheck.py): visible at once
  tests            per hidden check: name "P check: title", number P, score and max_score in
                   course points (a regular problem's points x the handout scale), the
                   student-facing message as output, visibility after_due_date (the
                   bundle's --visibility);
                   per public check: zero points, "visible";
                   per manual part: zero points, "pending: graded by the instructor (N points)";
                   one zero-point test "Report": the HTML report's text, visible as the
                   hidden checks are (the whole's output is visible at once: the public
                   summary only)
Student code runs in the same sandbox as `grader grade`. Where bubblewrap does not work in
Gradescope's container, run_autograder refuses (score 0, the reason in `output`): unisolated,
a submission could read the key or write results.json itself. A bundle built with
--allow-unisolated grades anyway, saying so in every output.
"""

from __future__ import annotations

import html.parser
import json
import os
import tempfile
import time
import zipfile
from pathlib import Path

from graders import ROOT

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
#: The grader's files the bundle holds (relative to the repository root).
SOURCE = ("graders", "reference", "pyproject.toml", "README.md")

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (choose the Ubuntu
# 24.04 base image: its python3 is 3.12, and the grader needs 3.11 or later).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip bubblewrap
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet /autograder/source
cd /autograder/source
/autograder/venv/bin/grader --config grader.toml env {assignment}
/autograder/venv/bin/grader --config grader.toml key {assignment} -o /tmp/key >/dev/null
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this per submission. AUTOGRADER_ROOT and GRADER_PYTHON exist for local tests.
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{GRADER_PYTHON:-/autograder/venv/bin/python}}"
cd "$ROOT/source"
exec "$PYTHON" -m graders.gradescope {assignment} --root "$ROOT" --visibility {visibility}{allow}
"""


def bundle(config_path: Path, assignment_id: str, out: Path, visibility: str = "after_due_date",
           allow_unisolated: bool = False) -> Path:
    """Write the autograder zip for `assignment_id` (checked: it must load) to `out`."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = {
        "setup.sh": SETUP.format(assignment=assignment_id),
        "run_autograder": RUN.format(assignment=assignment_id, visibility=visibility,
                                     allow=" --allow-unisolated" if allow_unisolated else ""),
        "grader.toml": Path(config_path).read_text(encoding="utf-8"),
    }
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o644 if name.endswith(".toml") else 0o755) << 16
            z.writestr(info, text)
        for item in SOURCE:
            path = ROOT / item
            for f in sorted([path] if path.is_file() else path.rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts:
                    z.write(f, f.relative_to(ROOT).as_posix())
    return out


def pick_submission(folder: Path, assignment_id: str) -> tuple[Path | None, str]:
    """The file to grade in Gradescope's submission folder: the only candidate, else the
    ones declaring this assignment, else notebooks, zips, answer sheets, scripts in that
    order of preference; (None, why) when there is none or no single one."""
    from graders.submission import SubmissionError, discover, load
    found = discover([folder]) if folder.is_dir() else []
    if not found:
        return None, ("no submission found: upload your notebook (.ipynb), a .py script, an "
                      "answers.toml or a .zip of them")
    if len(found) == 1:
        return found[0], ""

    def declares(f: Path) -> bool:
        try:
            return load(f).assignment_hint == assignment_id
        except SubmissionError:
            return False

    for keep in (declares, lambda f: f.suffix == ".ipynb", lambda f: f.suffix == ".zip",
                 lambda f: f.name == "answers.toml", lambda f: f.suffix == ".py"):
        chosen = [f for f in found if keep(f)]
        if len(chosen) == 1:
            return chosen[0], ""
        if chosen:
            found = chosen
    names = ", ".join(str(f.relative_to(folder)) for f in found[:6])
    return None, f"several submissions ({names}); upload one notebook (with its .py modules)"


def results(result, public, visibility: str, report_text: str, summary_text: str) -> dict:
    """Gradescope's results.json from a graded result and the public self-check's result."""
    tests = []
    publics = {p.id: p for p in public.problems} if public is not None else {}
    for problem in result.problems:
        factor = 1.0 if problem.extra_credit else result.scale
        for check in problem.checks:
            tests.append({"name": f"{problem.id} {check.id}: {check.title}",
                          "number": problem.id, "score": round(check.points * factor, 4),
                          "max_score": round(check.max_points * factor, 4),
                          "visibility": visibility, "output": check.message})
        for check in (publics[problem.id].checks if problem.id in publics else []):
            if check.kind == "public":
                tests.append({"name": f"{problem.id} public: {check.title}",
                              "number": problem.id, "score": 0.0, "max_score": 0.0,
                              "visibility": "visible", "output": check.message})
        for part in problem.manual:
            pending = part.points is None
            tests.append({"name": f"{problem.id} {part.id} (manual): {part.prompt}"[:300],
                          "number": problem.id,
                          "score": 0.0 if pending else round(part.points * factor, 4),
                          "max_score": 0.0 if pending else round(part.max_points * factor, 4),
                          "visibility": "visible" if pending else visibility,
                          "output": (f"pending: graded by the instructor "
                                     f"({part.max_points * factor:g} points)") if pending
                          else "graded by the instructor"})
    tests.append({"name": "Report", "score": 0.0, "max_score": 0.0, "visibility": visibility,
                  "output": report_text})
    return {"score": result.total, "execution_time": round(result.seconds, 3),
            "output": summary_text, "visibility": visibility, "stdout_visibility": "hidden",
            "tests": tests}


def failure(why: str) -> dict:
    """results.json when nothing could be graded."""
    return {"score": 0.0, "output": f"could not grade: {why}", "stdout_visibility": "hidden",
            "tests": []}


class _Text(html.parser.HTMLParser):
    """The text of an HTML report (styles, scripts and SVG plots left out)."""

    SKIP = {"style", "script", "svg"}

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.depth += 1
        elif tag in ("p", "div", "tr", "h1", "h2", "h3", "li", "br", "section"):
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.depth = max(0, self.depth - 1)
        elif tag in ("td", "th"):
            self.parts.append("  ")

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)


def html_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def grade_into(root: Path, assignment_id: str, config_path: Path, visibility: str,
               allow_unisolated: bool) -> dict:
    """Grade root/submission as `grader grade` does; the results.json content."""
    from graders.assignment import load_assignment
    from graders.config import ConfigError, load
    from graders.grading import grade
    from graders.kit import outline
    from graders.report import render_report
    from graders.sandbox.environment import EnvironmentBuildError, for_assignment
    from graders.sandbox.isolation import detect
    from graders.sandbox.pool import WorkerPool
    from graders.selfcheck import KitAssignment, self_check, summary
    try:
        config = load(config_path)
        loaded = load_assignment(config, assignment_id)
        environment = for_assignment(config, assignment_id)
    except (ConfigError, EnvironmentBuildError) as exc:
        return failure(f"the autograder is misconfigured ({exc}); tell the course staff")
    path, why = pick_submission(root / "submission", assignment_id)
    if path is None:
        return failure(why)
    isolation = detect()
    if not isolation.isolated and not allow_unisolated:
        return failure("the autograder cannot sandbox submissions here ("
                       + "; ".join(isolation.notes) + "); tell the course staff")
    with WorkerPool(1, loaded.config.preload, isolation, config.limits.memory_mb,
                    environment) as pool:
        result = grade(path, loaded, pool, config.limits, "student", isolation.describe())
        public = self_check(path, KitAssignment(outline(config, loaded)), pool, config.limits,
                            isolation.describe())
    warning = None if isolation.isolated else "; ".join(isolation.notes)
    return results(result, public, visibility, html_text(render_report(result)),
                   summary(public, warning))


def main(argv: list[str] | None = None) -> None:
    """run_autograder's entry point: `python -m graders.gradescope ID --root R`."""
    import argparse
    parser = argparse.ArgumentParser(prog="python -m graders.gradescope")
    parser.add_argument("assignment")
    parser.add_argument("--root", type=Path, default=Path("/autograder"))
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--visibility", choices=VISIBILITIES, default="after_due_date")
    parser.add_argument("--allow-unisolated", action="store_true")
    args = parser.parse_args(argv)
    config = args.config or args.root / "source" / "grader.toml"
    started = time.monotonic()
    try:
        data = grade_into(args.root, args.assignment, config, args.visibility,
                          args.allow_unisolated)
    except Exception as exc:  # noqa: BLE001 - always leave a results.json for Gradescope
        import traceback
        traceback.print_exc()  # to results/stdout: the instructor's debugging output
        data = failure(f"internal error ({type(exc).__name__}); tell the course staff")
    data.setdefault("execution_time", round(time.monotonic() - started, 3))
    out = args.root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=out.parent, delete=False, suffix=".tmp") as tmp:
        json.dump(data, tmp, indent=1)
    os.replace(tmp.name, out)
    print(f"results: {out}: score {data['score']:g}, {len(data['tests'])} tests")


if __name__ == "__main__":
    main()
