"""Public declarations shared by assignments: True/False answers and the sparse lab.

Each function returns {problem id: [Expect]} (graders/checks/public.py): the template's names,
kinds and shapes and properties every right answer has. No key value is read or written here.
"""

from __future__ import annotations

from graders.assignments.names import graded
from graders.checks.public import Expect

#: A lab history: 200 steps recorded as 201 rows, or 200 recorded before or after each step.
STEPS = ((201,), (200,))
WEIGHTS = ((201, 5), (200, 5))
HISTORY = dict(finite=True, decreasing=True)


def true_false(count: int, name: str = "p1_true_false") -> dict[str, list[Expect]]:
    """1.1 .. 1.count: the dict's entry "1.N" is True or False."""
    return {f"1.{i}": [Expect(name, "bool", keys=(f"1.{i}",))] for i in range(1, count + 1)}


def sparse_lab(parts: dict[str, str], sweeps: dict[str, tuple[float, ...]],
               two_point: str) -> dict[str, list[Expect]]:
    """The sparse lab: `parts` maps the lab's part (gd, prune, l1, proximal, trimmed) to its
    problem id; `sweeps` the handout's lambda or t values of l1, proximal and trimmed;
    `two_point` the two-data-point problem's id."""
    table: dict[str, list[Expect]] = {}
    for part in ("gd", "prune"):
        pid = parts[part]
        table[pid] = [Expect(graded(pid, "logL"), "array", STEPS, **HISTORY),
                      Expect(graded(pid, "W"), "array", WEIGHTS, finite=True),
                      Expect(graded(pid, "optimal"), "bool"),
                      Expect(graded(pid, "sparse"), "bool")]
    for part in ("l1", "proximal", "trimmed"):
        pid, keys = parts[part], sweeps[part]
        table[pid] = [Expect(graded(pid, "logL"), "array", STEPS, keys=keys, **HISTORY),
                      Expect(graded(pid, "W"), "array", WEIGHTS, keys=keys, finite=True)]
    table[two_point] = [
        Expect(graded(two_point, "logL_prune"), "array", STEPS, **HISTORY),
        Expect(graded(two_point, "W_prune"), "array", WEIGHTS, finite=True),
        *[Expect(graded(two_point, f"{kind}_{part}"), "dict")
          for part in ("l1", "prox", "trim") for kind in ("logL", "W")]]
    return table
