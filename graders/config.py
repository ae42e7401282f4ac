"""grader.toml: the course's assignments, points, tolerances, conventions, limits and policies.

Read with tomllib and checked key by key: an unknown key, a wrong type or inconsistent points
raise `ConfigError` naming the file, the key and the fix. The layout:

  [limits]                      per-submission sandbox limits (seconds, MB, characters)
  [grading]                     workers = parallel submissions ("auto", the default: every
                                core this process may use)
  [assignments.ID]              title, module (graders/assignments/<module>.py), points,
                                extra_credit, cap (final score <= points), preload, and
                                handout_points where the problems' points add up to less than
                                the announced total (marks are then scaled to `points`)
  [assignments.ID.key]          parameters handed to reference/ when the key is built
  [assignments.ID.tolerances]   rtol, atol, ... as the assignment module names them
  [assignments.ID.conventions]  for each open convention, the accepted variants
  [assignments.ID.problems."N"] show_key, extra_credit (true for a bonus problem), [...checks]
                                points per check, [...manual] points per free-text part
  [assignments.ID.policies]     zip_penalty (share deducted for a .zip upload), late =
                                { per_day, free_days, max_days } (graders/policies.py)
  [environments.NAME]           packages (pip requirements), python (base interpreter): a
                                student environment (graders/sandbox/environment.py); an
                                assignment names it with environment = "NAME" (default: the
                                one named "default" if any, else the grader's own interpreter)
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from graders.policies import LatePolicy, Policies
from graders.sandbox.environment import EnvironmentSpec, requirement
from graders.sandbox.pool import Limits

SHOW_KEY = ("always", "instructor", "never")
LIMIT_KEYS = {"cell_seconds": "cell_s", "probe_seconds": "probe_s",
              "submission_seconds": "job_s", "memory_mb": "memory_mb", "file_mb": "file_mb",
              "open_files": "open_files", "output_chars": "output_chars",
              "result_mb": "result_bytes", "processes": "processes",
              "check_seconds": "check_s"}


class ConfigError(Exception):
    """A problem in grader.toml; str() names the key and the fix."""


@dataclass
class ProblemConfig:
    checks: dict[str, float]
    manual: dict[str, float] = field(default_factory=dict)
    show_key: str = "instructor"
    extra_credit: bool = False  # counts towards the assignment's extra credit, not its points

    @property
    def points(self) -> float:
        return sum(self.checks.values()) + sum(self.manual.values())


@dataclass
class AssignmentConfig:
    id: str
    title: str
    module: str
    points: float
    extra_credit: float
    cap: bool
    preload: list[str]
    key_params: dict
    tolerances: dict
    conventions: dict[str, list[str]]
    problems: dict[str, ProblemConfig]
    policies: Policies = field(default_factory=Policies)
    handout_points: float | None = None  # the problems' own total, when points rescales it
    environment: str | None = None  # [environments.NAME] it runs in; None: the grader's own

    @property
    def scale(self) -> float:
        """Factor from the handout's problem points to the announced `points` (1 if equal)."""
        return self.points / self.handout_points if self.handout_points else 1.0


@dataclass
class Config:
    path: Path
    limits: Limits
    workers: int
    assignments: dict[str, AssignmentConfig]
    environments: dict[str, EnvironmentSpec] = field(default_factory=dict)

    def assignment(self, name: str) -> AssignmentConfig:
        if name not in self.assignments:
            known = ", ".join(self.assignments) or "none"
            raise ConfigError(f"{self.path}: no assignment {name!r}; configured: {known}. "
                              "Run `grader list` to see them.")
        return self.assignments[name]


def load(path: Path) -> Config:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found. Run from the course repository or pass "
                          "--config PATH.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}). Fix the syntax at that line.") \
            from None
    reader = _Reader(path)
    reader.keys(data, "", {"limits", "grading", "assignments", "environments"})
    limits = _limits(reader, data.get("limits", {}))
    grading = reader.table(data, "grading")
    reader.keys(grading, "grading", {"workers"})
    workers = (available_cores() if grading.get("workers", "auto") == "auto" else
               reader.number(grading, "grading", "workers", integer=True, minimum=1))
    assignments = {name: _assignment(reader, name, table)
                   for name, table in reader.table(data, "assignments").items()}
    environments = _link_environments(reader, _environments(reader, data), assignments)
    return Config(path, limits, int(workers), assignments, environments)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity: the machine's, or a Slurm or
    taskset allocation's), at least 1: `[grading] workers = "auto"`, the default."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _limits(reader: "_Reader", table: dict) -> Limits:
    reader.keys(table, "limits", set(LIMIT_KEYS))
    values = {}
    for key, field_name in LIMIT_KEYS.items():
        if key in table:
            value = reader.number(table, "limits", key, minimum=1)
            values[field_name] = int(value * 2**20) if key == "result_mb" else value
    return Limits(**values)


def _assignment(reader: "_Reader", name: str, table) -> AssignmentConfig:
    where = f"assignments.{name}"
    if not isinstance(table, dict):
        raise reader.error(where, "must be a table", f"write it as [{where}]")
    reader.keys(table, where, {"title", "module", "points", "extra_credit", "cap", "preload",
                               "key", "tolerances", "conventions", "problems", "policies",
                               "handout_points", "environment"})
    conventions = reader.table(table, "conventions", where)
    for conv, accepted in conventions.items():
        if not (isinstance(accepted, list) and accepted and all(isinstance(a, str) for a in accepted)):
            raise reader.error(f"{where}.conventions.{conv}", "must be a non-empty list of "
                               "variant names", 'e.g. ["sum_x2", "mean_x2"]')
    problems = {pid: _problem(reader, f'{where}.problems."{pid}"', p)
                for pid, p in reader.table(table, "problems", where).items()}
    config = AssignmentConfig(
        id=name,
        title=reader.string(table, where, "title", default=name),
        module=reader.string(table, where, "module", default=name.replace("-", "_")),
        points=reader.number(table, where, "points", minimum=0),
        extra_credit=reader.number(table, where, "extra_credit", default=0, minimum=0),
        cap=bool(table.get("cap", False)),
        preload=list(table.get("preload", ["numpy"])),
        key_params=reader.table(table, "key", where),
        tolerances=reader.table(table, "tolerances", where),
        conventions=conventions,
        problems=problems,
        policies=_policies(reader, f"{where}.policies", reader.table(table, "policies", where)),
        handout_points=(reader.number(table, where, "handout_points", minimum=1)
                        if "handout_points" in table else None),
        environment=table.get("environment"),
    )
    if problems:
        regular = sum(p.points for p in problems.values() if not p.extra_credit)
        extra = sum(p.points for p in problems.values() if p.extra_credit)
        expected = config.handout_points or config.points
        if abs(regular - expected) > 1e-9:
            key = "handout_points" if config.handout_points else "points"
            raise reader.error(where, f"problems add up to {regular:g} points, but {key} = "
                               f"{expected:g}", "make the per-check and manual points add up "
                               "to it (set handout_points where the announced total differs)")
        if abs(extra - config.extra_credit) > 1e-9:
            raise reader.error(where, f"extra-credit problems add up to {extra:g} points, but "
                               f"extra_credit = {config.extra_credit:g}", "mark each extra-credit "
                               "problem with extra_credit = true and make them add up")
    return config


def _environments(reader: "_Reader", data: dict) -> dict[str, EnvironmentSpec]:
    """[environments.NAME]: packages = [pip requirements], optional python = base interpreter."""
    specs = {}
    for name, table in reader.table(data, "environments").items():
        where = f"environments.{name}"
        if not isinstance(table, dict):
            raise reader.error(where, "must be a table", f"write it as [{where}]")
        if not name.replace("-", "").replace("_", "").isalnum():
            raise reader.error(where, "is not a usable name", "use letters, digits, - and _")
        reader.keys(table, where, {"packages", "python"})
        packages = table.get("packages")
        if not (isinstance(packages, list) and all(isinstance(p, str) for p in packages)):
            raise reader.error(f"{where}.packages", f"is {packages!r}", 'it must be a list of pip '
                               'requirements, e.g. ["numpy==1.26.4", "matplotlib==3.10.9"]')
        for package in packages:
            try:
                requirement(package)
            except ValueError as exc:  # packaging's InvalidRequirement
                raise reader.error(f"{where}.packages", f"{package!r} is not a pip requirement "
                                   f"({exc})", 'write it as NAME==VERSION, e.g. "numpy==1.26.4"')
        python = table.get("python")
        if python is not None and not (isinstance(python, str) and Path(python).is_absolute()):
            raise reader.error(f"{where}.python", f"is {python!r}",
                               'it must be the absolute path of an interpreter, e.g. '
                               '"/usr/bin/python3.11"')
        specs[name] = EnvironmentSpec(name, tuple(packages), python)
    return specs


def _link_environments(reader: "_Reader", specs: dict[str, EnvironmentSpec],
                       assignments: dict[str, AssignmentConfig]) -> dict[str, EnvironmentSpec]:
    """Check each assignment's `environment`, default it to "default" where that exists, and
    record in each spec the assignments that use it."""
    for name, config in assignments.items():
        chosen = config.environment
        if chosen is None:
            config.environment = "default" if "default" in specs else None
        elif not isinstance(chosen, str) or chosen not in specs:
            known = ", ".join(specs) or "none"
            raise reader.error(f"assignments.{name}.environment", f"is {chosen!r}, which no "
                               f"[environments.NAME] defines (defined: {known})",
                               "name one of those or add its [environments.NAME] table")
    return {env: replace(spec, assignments=tuple(
                a for a, c in assignments.items() if c.environment == env))
            for env, spec in specs.items()}


def _policies(reader: "_Reader", where: str, table: dict) -> Policies:
    reader.keys(table, where, {"zip_penalty", "late"})
    zip_penalty = reader.number(table, where, "zip_penalty", default=0, minimum=0)
    if zip_penalty > 1:
        raise reader.error(f"{where}.zip_penalty", f"is {zip_penalty}",
                           "it is the share deducted, between 0 and 1 (0.2 for 20 percent)")
    late = None
    if "late" in table:
        sub = reader.table(table, "late", where)
        reader.keys(sub, f"{where}.late", {"per_day", "free_days", "max_days"})
        per_day = reader.number(sub, f"{where}.late", "per_day", minimum=0)
        if per_day > 1:
            raise reader.error(f"{where}.late.per_day", f"is {per_day}",
                               "it is the share deducted per day, between 0 and 1")
        late = LatePolicy(per_day,
                          reader.number(sub, f"{where}.late", "free_days", default=0, minimum=0),
                          reader.number(sub, f"{where}.late", "max_days", default=float("inf"),
                                        minimum=0))
    return Policies(float(zip_penalty), late)


def _problem(reader: "_Reader", where: str, table) -> ProblemConfig:
    if not isinstance(table, dict):
        raise reader.error(where, "must be a table", f"write it as [{where}]")
    reader.keys(table, where, {"checks", "manual", "show_key", "extra_credit"})
    show_key = reader.string(table, where, "show_key", default="instructor")
    if show_key not in SHOW_KEY:
        raise reader.error(f"{where}.show_key", f"is {show_key!r}",
                           f"use one of {', '.join(SHOW_KEY)}")
    parts = {}
    for part in ("checks", "manual"):
        sub = reader.table(table, part, where)
        parts[part] = {k: reader.number(sub, f"{where}.{part}", k, minimum=0) for k in sub}
    return ProblemConfig(parts["checks"], parts["manual"], show_key,
                         bool(table.get("extra_credit", False)))


class _Reader:
    """Typed access to the parsed TOML with errors that name the key."""

    def __init__(self, path: Path):
        self.path = path

    def error(self, key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(f"{self.path}: [{key}] {problem}; {fix}.")

    def keys(self, table: dict, where: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                raise self.error(f"{where}.{key}" if where else key, "is not a known setting",
                                 f"known here: {', '.join(sorted(allowed))}")

    def table(self, data: dict, key: str, where: str = "") -> dict:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.error(f"{where}.{key}" if where else key, "must be a table",
                             "write it as a [section] or { inline = table }")
        return value

    def number(self, data, where, key, default=None, integer=False, minimum=None):
        if key not in data:
            if default is None:
                raise self.error(f"{where}.{key}", "is missing", "add it")
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                integer and not isinstance(value, int)):
            raise self.error(f"{where}.{key}", f"is {value!r}",
                             f"it must be {'an integer' if integer else 'a number'}")
        if minimum is not None and value < minimum:
            raise self.error(f"{where}.{key}", f"is {value}", f"it must be at least {minimum}")
        return value

    def string(self, data, where, key, default=None):
        value = data.get(key, default)
        if not isinstance(value, str):
            raise self.error(f"{where}.{key}", f"is {value!r}", "it must be a string")
        return value
