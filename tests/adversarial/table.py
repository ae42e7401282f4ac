"""Grade every attack in an isolated pool and print the outcome table (for the closing note):

    python -m tests.adversarial.table
"""

from __future__ import annotations

import socket
import tempfile
from dataclasses import replace
from pathlib import Path

from graders import ROOT, config
from graders.assignment import load_assignment
from graders.grading import grade
from graders.sandbox.isolation import detect
from graders.sandbox.pool import WorkerPool
from tests.adversarial.attacks import ATTACKS
from tests.adversarial.conftest import write_attack


def said(result) -> str:
    """What the report says first: the load error, a limit, a failed cell, or a check."""
    if result.error:
        return result.error
    if result.limits_hit:
        return result.limits_hit[0]
    failed = [c for c in result.cells if not c.ok]
    if failed:
        return f"cell {failed[0].index + 1}: {failed[0].error}"
    messages = [c.message for p in result.problems for c in p.checks]
    return next((m for m in messages if not m.endswith("is not defined")), messages[0])


def seen(result) -> str:
    """What the attack itself got back, where it stored an error or a list in an answer."""
    for text in (c.student for p in result.problems for c in p.checks):
        if "Error(" in text or text.startswith("['"):
            return text
    return ""


def main() -> None:
    course = config.load(ROOT / "grader.toml")
    course = replace(course, limits=replace(course.limits, cell_s=3.0, job_s=60.0))
    hw2 = load_assignment(course, "duke-hw2")
    isolation = detect()
    print(f"sandbox: {isolation.describe()}\n")
    print("| attack | outcome | points | what the report said | what the attack saw |")
    print("|---|---|---|---|---|")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    with tempfile.TemporaryDirectory() as tmp, \
            WorkerPool(2, hw2.config.preload, isolation, course.limits.memory_mb) as pool:
        for attack in ATTACKS:
            path = write_attack(attack, Path(tmp), server.getsockname()[1])
            result = grade(path, hw2, pool, course.limits, "instructor", isolation.describe())
            outcome = ("refused at load" if result.error else "limit hit" if result.limits_hit
                       else "graded")
            text = said(result).replace("|", "/").replace("\n", " ")[:110]
            saw = seen(result).replace("|", "/").replace("\n", " ")[:90]
            print(f"| {attack.name} | {outcome} | {result.auto_points:g} "
                  f"(honest {attack.honest_points:g}) | {text} | {saw} |")


if __name__ == "__main__":
    main()
