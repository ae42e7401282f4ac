"""An answer key for people: a short summary and the full text (terminal), and an HTML page
organised by handout problem (Jinja2).

Every item reference/ computes is shown exactly once: under the problem whose checks read it
(`owners`), else under "Other computed values", grouped by topic. Numbers and short arrays are
shown as values, formulas as text, histories of shape (steps + 1, series) as plots, and long
arrays summarised (shape, range, first rows).
"""

from __future__ import annotations

import functools
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy as sp

from graders.assignment import Assignment, Problem
from graders.report import environment, write_atomic

HISTORY_MIN_STEPS = 10
LONG_ARRAY = 24  # arrays with more elements are summarised
#: Key topics that no check reads (graded by hand), placed with their problem by hand.
TOPIC_PROBLEMS = {"duke-hw4": {"quantization": "L2.e", "runs": "L2.b"}}
KeyPath = tuple[str, ...]


def _is_history(value) -> bool:
    return isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[0] >= \
        HISTORY_MIN_STEPS and value.shape[1] <= 8 and value.dtype.kind == "f"


def _text(value) -> str:
    """The value in full (short arrays whole, long ones elided by numpy)."""
    if isinstance(value, np.ndarray):
        with np.printoptions(precision=6, threshold=40, edgeitems=3):
            return f"array{list(value.shape)} {np.array2string(value, separator=', ')}"
    if isinstance(value, sp.MatrixBase):
        return str(value.tolist())
    return str(value)


def summary(value) -> str:
    """The value for reading: in full where short; a long array as its shape, dtype, range
    and first and last rows."""
    if not isinstance(value, np.ndarray) or value.size <= LONG_ARRAY:
        return _text(value)
    parts = [f"array{list(value.shape)} {value.dtype}"]
    if value.dtype.kind in "fiub":
        finite = value[np.isfinite(value)] if value.dtype.kind == "f" else value
        if finite.size:
            parts.append(f"min {finite.min():.6g}, max {finite.max():.6g}, "
                         f"mean {finite.mean():.6g}")
    with np.printoptions(precision=6, threshold=12, edgeitems=2):
        parts.append(f"first {np.array2string(value[0], separator=', ')}, "
                     f"last {np.array2string(value[-1], separator=', ')}")
    return "; ".join(parts)


def flatten(data, path: KeyPath = ()):
    """(path, value) for every leaf of the nested key; lists of numbers count as leaves."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from flatten(v, path + (str(k),))
    else:
        yield path, data


def _reachable(obj, seen: set[int], depth: int = 0) -> None:
    """Add to `seen` the id of every object reachable from `obj` (attributes, containers,
    closures and partials), not entering arrays, formulas or strings."""
    if id(obj) in seen or depth > 8:
        return
    seen.add(id(obj))
    if isinstance(obj, (np.ndarray, sp.Basic, sp.MatrixBase, str, bytes, int, float, type,
                        types.ModuleType)):
        return
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        children = list(obj)
    elif isinstance(obj, functools.partial):
        children = [obj.func, *obj.args, *obj.keywords.values()]
    else:
        children = list(getattr(obj, "__dict__", {}).values())
        children += [cell.cell_contents for cell in getattr(obj, "__closure__", None) or ()
                     if _has_contents(cell)]
        children += list(getattr(obj, "__defaults__", None) or ())
    for child in children:
        _reachable(child, seen, depth + 1)


def _has_contents(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:  # an empty cell
        return False
    return True


def owners(assignment: Assignment) -> dict[KeyPath, str]:
    """The problem each key item belongs to, for the items that belong to one:
    1. the first problem (handout order) one of whose checks holds the item itself;
    2. else the problem named by a component of its path (true_false / 1.3);
    3. else the first problem owning an item of the nearest enclosing group that has one
       (a run's final loss sits with the run's history);
    4. else the problem TOPIC_PROBLEMS gives its topic.
    Items with no owner are the "other computed values"."""
    leaves = list(flatten(assignment.key.data))
    order = [p.id for p in assignment.problems]
    held: dict[KeyPath, str] = {}
    for problem in assignment.problems:
        seen: set[int] = set()
        for check in problem.checks:
            _reachable(check, seen)
        for path, value in leaves:
            if path not in held and isinstance(value, (np.ndarray, sp.Basic, sp.MatrixBase,
                                                       list)) and id(value) in seen:
                held[path] = problem.id
    topics = TOPIC_PROBLEMS.get(assignment.id, {})
    out = dict(held)
    for path, _ in leaves:
        if path in out:
            continue
        named = [part for part in path if part in order]
        if named:
            out[path] = named[-1]
            continue
        for depth in range(len(path) - 1, 1, -1):
            near = {held[q] for q in held if q[:depth] == path[:depth]}
            if near:
                out[path] = min(near, key=order.index)
                break
        else:
            if path[0] in topics:
                out[path] = topics[path[0]]
    return out


@dataclass
class Item:
    path: str  # within its topic, " / "-separated
    text: str
    history: np.ndarray | None = None


@dataclass
class Section:
    """One heading of the key page: a problem (its checks, manual parts and key items) or,
    with problem None, the other computed values of one topic."""
    title: str
    problem: Problem | None = None
    points: dict[str, float] = field(default_factory=dict)
    extra_credit: bool = False
    items: list[Item] = field(default_factory=list)


def sections(assignment: Assignment) -> tuple[list[Section], list[Section]]:
    """(a section per problem, in handout order; a section per topic of the items no problem
    owns). Every key item is in exactly one section."""
    owned = owners(assignment)
    by_problem = {p.id: Section(f"Problem {p.id}: {p.title}", p,
                                {part: assignment.points(p.id, part)
                                 for part in [c.id for c in p.checks] + list(p.unkeyed)
                                 + list(p.manual)},
                                assignment.config.problems[p.id].extra_credit)
                  for p in assignment.problems}
    other: dict[str, Section] = {}
    for path, value in flatten(assignment.key.data):
        item = Item(" / ".join(path), summary(value), value if _is_history(value) else None)
        if path in owned:
            by_problem[owned[path]].items.append(item)
        else:
            other.setdefault(path[0], Section(path[0])).items.append(item)
    return list(by_problem.values()), list(other.values())


def key_text(assignment: Assignment) -> str:
    """The whole key as text: a header, then one line per item."""
    meta = assignment.key.meta
    lines = [f"{assignment.id}: {assignment.config.title}",
             f"key {meta['hash'][:12]}, built in {meta['build_seconds']} s, "
             f"params {meta['params']}, versions {meta['versions']}"]
    for path, value in flatten(assignment.key.data):
        lines.append(f"{' / '.join(path)}: {_text(value)}")
    return "\n".join(lines)


def key_summary(assignment: Assignment, html: Path) -> str:
    """A few lines: the assignment, the key's hash and build, how many items, where the page is."""
    meta = assignment.key.meta
    problems, other = sections(assignment)
    count = sum(len(s.items) for s in problems + other)
    placed = sum(len(s.items) for s in problems)
    return "\n".join([
        f"{assignment.id}: {assignment.config.title}",
        f"key {meta['hash'][:12]}, built {meta.get('built_at', '?')} in "
        f"{meta['build_seconds']} s",
        f"{count} items: {placed} under {sum(bool(s.items) for s in problems)} problems, "
        f"{count - placed} other computed values",
        f"HTML answer key: {html}"])


def write_key_html(assignment: Assignment, path: Path) -> Path:
    """path: the key page, a section per problem then the other computed values."""
    problems, other = sections(assignment)
    html = environment().get_template("key.html.j2").render(a=assignment, problems=problems,
                                                             other=other)
    write_atomic(path, html)
    return path
