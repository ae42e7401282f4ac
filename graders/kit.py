"""`grader kit ASSIGNMENT -o DIR`: what a student receives to self-check without the key.

DIR is a pip-installable package (`pip install DIR` in a fresh virtual environment gives the
command `grader check FILE` and, inside a notebook, `from graders.selfcheck import check;
check()`), plus the template and the student environment's requirements:

  DIR/pyproject.toml       the package course-grader-kit-<id>
  DIR/README.md            for the student: install, self-check, what the messages mean
  DIR/requirements.txt     the student environment's packages (grader.toml [environments.*])
  DIR/template/            student_template/<id>/ as shipped
  DIR/graders/             the engine: ENGINE below (sandbox, submission loading, wire, the
                           shared forms, public checks, report) and kit.json, the outline
                           (graders/selfcheck.py): problems, hidden checks' titles and points,
                           manual parts, public checks' declarations, limits, environment

What it never holds: reference/, the assignment modules (graders/assignments/, which build the
key and hold the hidden inputs), graders/keys.py and everything that imports them
(assignment, keyview, judge's server side is inert without them), the key cache, grader.toml's
[key] tables (seeds, True/False answers) and tolerances. tests/test_kit.py builds every kit
and scans it for key values, hidden inputs and reference source lines.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from graders import ROOT
from graders.config import Config, ConfigError

PACKAGE = ROOT / "graders"
#: The modules the kit ships (relative to graders/): none of them imports reference/,
#: graders.assignment, graders.assignments or graders.keys (tests/test_kit.py imports each
#: from a built kit with nothing else on the path).
ENGINE = ("__init__.py", "cache.py", "checks/__init__.py", "checks/base.py", "checks/forms.py",
          "checks/quantities.py", "checks/public.py", "execution.py", "grading.py",
          "judge.py", "plots.py", "policies.py", "program.py", "report.py", "selfcheck.py",
          "submission.py", "symbolic.py", "unzip.py", "wire.py", "sandbox/__init__.py",
          "sandbox/environment.py", "sandbox/isolation.py", "sandbox/pool.py",
          "sandbox/worker.py", "templates/base.html.j2", "templates/selfcheck.html.j2")
#: What the engine needs from the package registry (the student environment is separate).
DEPENDENCIES = ("numpy>=1.26", "sympy>=1.12", "nbformat>=5.9", "jinja2>=3.1", "click>=8.1",
                "ipython>=8.20", "packaging>=23")


def outline(config: Config, assignment) -> dict:
    """The kit's view of a loaded assignment: no key value, no hidden input, no seed."""
    from graders.assignment import load_module
    settings = assignment.config
    public = getattr(load_module(settings), "PUBLIC", {})
    ids = [p.id for p in assignment.problems]
    unknown = sorted(set(public) - set(ids))
    if unknown:
        raise ConfigError(f"graders/assignments/{settings.module}.py: PUBLIC declares "
                          f"problems {', '.join(unknown)} that the assignment does not have "
                          f"(its problems: {', '.join(ids)}).")
    env = settings.environment
    return {
        "assignment": settings.id, "title": settings.title, "points": settings.points,
        "notebook": notebook_name(settings.id),
        "problems": [{
            "id": p.id, "title": p.title,
            "extra_credit": settings.problems[p.id].extra_credit,
            "hidden": [[c.id, c.title, assignment.points(p.id, c.id)] for c in p.checks
                       if not c.public],
            "manual": [[part, prompt, assignment.points(p.id, part)]
                       for part, prompt in {**p.unkeyed, **p.manual}.items()],
            "public": [e.to_json() for e in public.get(p.id, [])],
        } for p in assignment.problems],
        "limits": asdict(config.limits), "preload": list(settings.preload),
        "environment": None if env is None else {
            "name": env, "packages": list(config.environments[env].packages)},
    }


def notebook_name(assignment_id: str) -> str | None:
    found = sorted((ROOT / "student_template" / assignment_id).glob("*.ipynb"))
    return found[0].name if found else None


def build(config: Config, assignment, out: Path) -> Path:
    """Write the kit of `assignment` (loaded) into the empty or new folder `out`."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out}: not empty; give a new folder with -o (the kit is written "
                          "whole, nothing else may be in it).")
    data = outline(config, assignment)
    for name in ENGINE:
        target = out / "graders" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PACKAGE / name, target)
    (out / "graders" / "kit.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    template = ROOT / "student_template" / assignment.id
    if template.is_dir():
        shutil.copytree(template, out / "template",
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    packages = (data["environment"] or {}).get("packages", [])
    (out / "requirements.txt").write_text("".join(f"{p}\n" for p in packages))
    (out / "pyproject.toml").write_text(pyproject(assignment.id))
    (out / "README.md").write_text(readme(data, packages))
    return out


def pyproject(assignment_id: str) -> str:
    deps = ",\n".join(f'    "{d}"' for d in DEPENDENCIES)
    return f'''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "course-grader-kit-{assignment_id}"
version = "0.1.0"
description = "Self-check kit for {assignment_id}: public checks only, no answers"
requires-python = ">=3.11"
dependencies = [
{deps},
]

[project.scripts]
grader = "graders.selfcheck:main"

[tool.setuptools]
packages = ["graders", "graders.checks", "graders.sandbox"]

[tool.setuptools.package-data]
graders = ["kit.json", "templates/*", "sandbox/*.py"]
'''


def readme(data: dict, packages: list[str]) -> str:
    notebook = data.get("notebook") or "your notebook"
    return f"""# Self-check kit: {data['assignment']}, {data['title']}

Install (Python 3.11+; one command, in a fresh virtual environment):

    python3 -m venv ~/kit-venv && ~/kit-venv/bin/pip install THIS_FOLDER

Start from `template/{notebook}`. Check it at any time:

    ~/kit-venv/bin/grader check {notebook}

or, in the notebook (save it first), a cell with

    from graders.selfcheck import check; check()

The first check builds the course's student environment once (pip, a few minutes:
{', '.join(packages) or "the kit's own interpreter"}); your code runs there, in a sandbox
(bubblewrap on Linux; elsewhere a plain process with a warning).

What the messages mean, per problem:
- `form ok`: every public check passes (names present, kinds, shapes, finite values, a loss
  that decreases, a quantiser with the right number of levels). It does not mean the answer
  is right: that is the hidden checks' job.
- `not answered`: the names are still None (or the function raises NotImplementedError).
- `check the form`: the message says what is off (a shape, a NaN, a missing entry).
- `hidden check: graded after submission`: compared with the answer key after you submit;
  this kit holds no answers. Manual parts are graded by the instructor.
"""
