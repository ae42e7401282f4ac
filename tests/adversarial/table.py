"""Grade every attack in an isolated pool and print the outcome table (for the closing note):

    python -m tests.adversarial.table

Attacks are graded as the suite grades them (conftest.grade_attacks): single ones in a
two-slot pool, those with a job before them in one slot, after that job. For an honest
notebook graded after a saboteur, "honest" is its points when graded alone.
"""

from __future__ import annotations

import socket
import tempfile
from dataclasses import replace
from pathlib import Path

from graders import ROOT, config
from graders.assignment import load_assignment
from graders.sandbox.isolation import detect
from tests.adversarial.attacks import ATTACKS
from tests.adversarial.conftest import grade_attacks


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
    """What the attack itself got back, where it stored an error, a list or a search in an
    answer."""
    for text in (c.student for p in result.problems for c in p.checks):
        if "Error(" in text or text.startswith(("['", "searched")):
            return text
    return ""


def outcome(item) -> str:
    result = item.result
    if result is None:
        return "GRADER FAILED"
    if item.attack.honest:
        return "as alone" if item.alone and result.auto_points == item.expected else "DIFFERS"
    return ("refused at load" if result.error else "limit hit" if result.limits_hit
            else "graded")


def main() -> None:
    course = config.load(ROOT / "grader.toml")
    course = replace(course, limits=replace(course.limits, cell_s=3.0, job_s=60.0))
    hw2 = load_assignment(course, "duke-hw2")
    isolation = detect()
    print(f"sandbox: {isolation.describe()}\n")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    with tempfile.TemporaryDirectory() as tmp:
        graded = grade_attacks(ATTACKS, hw2, course.limits, isolation,
                               server.getsockname()[1], Path(tmp))
    print("| attack | outcome | points | what the report said | what the attack saw |")
    print("|---|---|---|---|---|")
    for attack in ATTACKS:
        item = graded[attack.name]
        clean = lambda text, n: text.replace("|", "/").replace("\n", " ").replace("\x00", " ")[:n]  # noqa: E731
        text = clean(said(item.result), 110) if item.result else clean(item.report, 110)
        saw = clean(seen(item.result), 90) if item.result and not attack.honest else ""
        points = f"{item.result.auto_points:g}" if item.result else "-"
        print(f"| {attack.name} | {outcome(item)} | {points} (honest {item.expected:g}) "
              f"| {text} | {saw} |")


if __name__ == "__main__":
    main()
