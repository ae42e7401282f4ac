"""True/False keys: the truth value of each statement, as the instructor decides it.

Unlike every other key these are not computed: whether a statement is true is a judgement
about the course material, so grader.toml holds it ([assignments.ID.key.true_false], one line
per statement with its rationale beside it). This module only validates that table: problem
ids "1.1".."1.n" mapped to booleans. A statement left out has no key; its answer is then graded
by hand.
"""

from __future__ import annotations

DEFAULT_PARAMS: dict = {}
COUNT = 10  # statements 1.1 .. 1.10 in both duke-hw2 and duke-hw4

IDS = tuple(f"1.{i}" for i in range(1, COUNT + 1))


def build_key(params: dict | None = None) -> dict:
    """{problem id: bool} for the statements that have a key (a subset of IDS)."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(IDS))
    if unknown:
        raise KeyError(f"true_false.{unknown[0]} (statements: {', '.join(IDS)})")
    for pid, value in params.items():
        if not isinstance(value, bool):
            raise ValueError(f"true_false.{pid} must be true or false, got {value!r}")
    return {pid: params[pid] for pid in IDS if pid in params}
