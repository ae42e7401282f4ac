"""An assignment as the engine sees it: its problems, their checks and points, and its key.

An assignment module (graders/assignments/<module>.py) provides
    build_key(params) -> dict                    the answers, computed by reference/
    problems(key, config) -> list[Problem]       the checks, built from the key
    TOLERANCES: dict[str, Setting]               the tolerance settings it reads, typed
    CONVENTIONS: dict[str, list[str]]            each open convention and its variants
and grader.toml gives each check and manual part its points. `load_assignment` joins the
two and refuses a grader.toml whose names do not match the module's, whose tolerances or key
parameters (graders/assignments/parameters.py) are of the wrong kind or out of range.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from graders.checks.base import Check, Probe, unique_probes
from graders.config import AssignmentConfig, Config, ConfigError
from graders.keys import Key, load_key


@dataclass
class Problem:
    id: str
    title: str
    checks: list[Check] = field(default_factory=list)
    manual: dict[str, str] = field(default_factory=dict)  # part id -> what the instructor grades
    # parts grader.toml lists as checks whose key is not shipped (a True/False statement left
    # for the instructor): graded by hand, with the check's points, until the key is filled in
    unkeyed: dict[str, str] = field(default_factory=dict)
    # manual part id -> the student's answer the instructor grades it from (shown beside it)
    records: dict[str, "Record"] = field(default_factory=dict)


@dataclass(frozen=True)
class Record:
    """Where a manual part's answer is read: a probe's value, or its entry `field` (a dict)."""

    probe: Probe
    field: str | None = None


@dataclass
class Assignment:
    config: AssignmentConfig
    key: Key
    problems: list[Problem]

    @property
    def id(self) -> str:
        return self.config.id

    def probes(self) -> list[Probe]:
        """Every probe once, in the order the sandbox asks them: the values first (each read
        as the student's cells left it, before any call can change it), then the calls
        (some train a model: the judge checks the problems already answered meanwhile,
        graders.judge.EarlyJudging), each kind in the order of the problems."""
        unique = unique_probes(c for p in self.problems for c in p.checks)
        for problem in self.problems:
            for record in problem.records.values():
                unique.setdefault(record.probe.id, record.probe)
        return sorted(unique.values(), key=lambda probe: probe.kind != "value")

    def probe_ids(self, problem: Problem) -> frozenset[str]:
        """The ids of the probes `problem`'s checks and recorded answers read."""
        return frozenset([probe.id for check in problem.checks for probe in check.probes]
                         + [record.probe.id for record in problem.records.values()])

    def points(self, problem_id: str, part: str) -> float:
        problem = self.config.problems[problem_id]
        return problem.checks.get(part, problem.manual.get(part, 0.0))


def load_module(config: AssignmentConfig):
    try:
        return importlib.import_module(f"graders.assignments.{config.module}")
    except ModuleNotFoundError as exc:
        raise ConfigError(f"[assignments.{config.id}.module] = {config.module!r}: no module "
                          f"graders/assignments/{config.module}.py; fix the name.") from exc


def load_assignment(config: Config, name: str, rebuild_key: bool = False) -> Assignment:
    """The assignment `name` of the course, its settings checked against its module."""
    settings = config.assignment(name)
    _match_settings(settings, load_module(settings), config)
    assignment = build_problems(settings, rebuild_key)
    _match_config(settings, assignment.problems, config)
    return assignment


def build_problems(settings: AssignmentConfig, rebuild_key: bool = False) -> Assignment:
    """The assignment from settings already checked: its key (cached) and its problems."""
    module = load_module(settings)
    key = load_key(settings.id, module, settings.key_params, rebuild=rebuild_key)
    return Assignment(settings, key, module.problems(key.data, settings))


def _match_settings(settings: AssignmentConfig, module, config: Config) -> None:
    from graders.assignments.parameters import TOPICS
    from graders.settings import SettingError, check_table, required
    where = f"{config.path}: [assignments.{settings.id}"
    try:
        required(settings.tolerances, module.TOLERANCES, f"assignments.{settings.id}.tolerances")
        check_table(settings.tolerances, module.TOLERANCES,
                    f"assignments.{settings.id}.tolerances")
        for topic, params in settings.key_params.items():
            key = f"assignments.{settings.id}.key.{topic}"
            if topic not in TOPICS:
                raise SettingError(key, "not a topic of any answer key",
                                   f"known topics: {', '.join(sorted(TOPICS))}")
            if not isinstance(params, dict):
                raise SettingError(key, f"{params!r}, not a table", f"write it as [{key}]")
            check_table(params, TOPICS[topic], key)
    except SettingError as exc:
        raise ConfigError(f"{config.path}: {exc}.") from None
    for name, variants in module.CONVENTIONS.items():
        accepted = settings.conventions.get(name)
        if not accepted:
            raise ConfigError(f"{where}.conventions] {name} is missing; list the accepted "
                              f"variants among {', '.join(variants)}.")
        wrong = [v for v in accepted if v not in variants]
        if wrong:
            raise ConfigError(f"{where}.conventions] {name}: unknown variant "
                              f"{', '.join(wrong)}; known: {', '.join(variants)}.")
    extra = sorted(set(settings.conventions) - set(module.CONVENTIONS))
    if extra:
        raise ConfigError(f"{where}.conventions] unknown convention {', '.join(extra)}; "
                          f"known: {', '.join(module.CONVENTIONS) or 'none'}.")


def _match_config(settings: AssignmentConfig, problems: list[Problem], config: Config) -> None:
    where = f"{config.path}: [assignments.{settings.id}.problems"
    built = {p.id: p for p in problems}
    for pid in settings.problems:
        if pid not in built:
            raise ConfigError(f'{where}."{pid}"] is not a problem of this assignment; known: '
                              f"{', '.join(built)}. Fix the number or remove the section.")
    for problem in problems:
        if problem.id not in settings.problems:
            raise ConfigError(f'{where}."{problem.id}"] is missing; add it with the points of '
                              f"its checks ({', '.join(c.id for c in problem.checks)}).")
        cfg = settings.problems[problem.id]
        shared = sorted(set(cfg.checks) & set(cfg.manual))
        if shared:
            raise ConfigError(f'{where}."{problem.id}"] names {", ".join(shared)} both in checks '
                              "and in manual; a part's points are either checked or marked by "
                              "hand: rename one of them.")
        checks = [c.id for c in problem.checks] + list(problem.unkeyed)
        for part, declared, names in (("checks", cfg.checks, checks),
                                      ("manual", cfg.manual, list(problem.manual))):
            if set(declared) != set(names):
                raise ConfigError(f'{where}."{problem.id}".{part}] lists '
                                  f"{', '.join(sorted(declared)) or 'nothing'}, but the "
                                  f"problem has {', '.join(sorted(names)) or 'none'}; give "
                                  "each of those its points.")
