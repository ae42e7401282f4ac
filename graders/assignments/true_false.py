"""True/False statements 1.1-1.10, shared by duke-hw2 and duke-hw4.

The student answers in `p1_true_false`, a dict {"1.1": True | False, ...} (the templates hand it
out with None for each), and explains each answer in the markdown cell "Your answer (1.N)".
The boolean is checked against [assignments.ID.key.true_false] (reference/true_false.py); a
statement without a shipped key has its answer graded by hand (Problem.unkeyed) with the
check's points. The explanation is always graded by hand.
"""

from __future__ import annotations

import numpy as np

from graders.assignment import Problem, Record
from graders.assignments.names import graded
from graders.checks.base import Outcome, Probe, ProbeResult
from graders.checks.numeric import ExactCheck
from reference.true_false import IDS

NAME = graded("1", "true_false")
PROBE = Probe(NAME, "value", NAME)


class StatementCheck(ExactCheck):
    """The student's boolean for one statement, read from the `p1_true_false` dict."""

    def __init__(self, statement: str, truth: bool):
        super().__init__("answer", f"statement {statement}: true or false", PROBE,
                         {"key": truth}, ["key"])
        self.statement = statement

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        answers = results[PROBE.id].value
        if not isinstance(answers, dict):
            return Outcome(0.0, f"expected a dict {{\"1.1\": True, ...}} in {NAME}, got "
                           f"{type(answers).__name__}")
        answer = answers.get(self.statement)
        if isinstance(answer, np.ndarray) and answer.shape == ():
            answer = answer.item()
        if answer is None:
            return Outcome(0.0, f"no answer: {NAME}[{self.statement!r}] is None")
        return super().evaluate({PROBE.id: ProbeResult(True, answer)})


def problems(key: dict, titles: dict[str, str]) -> list[Problem]:
    """Problems 1.1-1.10: `key` {id: bool} for the shipped keys, `titles` a short wording."""
    out = []
    for statement in IDS:
        explain = {"explanation": "A short explanation supporting the judgement."}
        if statement in key:
            out.append(Problem(statement, titles[statement],
                               [StatementCheck(statement, key[statement])], explain))
        else:
            out.append(Problem(statement, titles[statement], [], explain, unkeyed={
                "answer": "True or false (no key shipped: grade it by hand, or set "
                          f'[key.true_false] "{statement}" in grader.toml)'},
                records={"answer": Record(PROBE, statement)}))
    return out
