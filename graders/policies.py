"""Course policies applied to a score after the points are added up.

    score = min(earned, points)  if cap ("your final score cannot exceed 100 points")
    final = score * prod(1 - d)  over the deductions d that apply:
        zip_penalty   d = zip_penalty for a submission uploaded as a .zip (duke-hw4: 0.2)
        late          d = min(per_day * max(days_late - free_days, 0), 1), and d = 1 beyond
                      max_days (days_late comes from the instructor's CSV, column days_late)

All policies are optional; grader.toml's [assignments.ID.policies] turns them on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class LatePolicy:
    per_day: float  # share of the score deducted per late day
    free_days: float = 0.0  # late days without deduction
    max_days: float = math.inf  # later than this: the score is zero


@dataclass(frozen=True)
class Policies:
    zip_penalty: float = 0.0
    late: LatePolicy | None = None


@dataclass
class Deduction:
    policy: str
    fraction: float  # share of the score taken away, in [0, 1]
    reason: str


def deductions(policies: Policies, from_zip: bool, days_late: float | None) -> list[Deduction]:
    """The deductions that apply to one submission."""
    out = []
    if from_zip and policies.zip_penalty:
        out.append(Deduction("zip_penalty", policies.zip_penalty,
                             f"uploaded as a zip file: {policies.zip_penalty:.0%} deducted"))
    late = policies.late
    if late is not None and days_late:
        if days_late > late.max_days:
            out.append(Deduction("late", 1.0, f"{days_late:g} days late, more than the "
                                 f"{late.max_days:g} accepted: no credit"))
        else:
            charged = max(days_late - late.free_days, 0.0)
            fraction = min(late.per_day * charged, 1.0)
            if fraction:
                out.append(Deduction("late", fraction, f"{days_late:g} days late "
                                     f"({late.free_days:g} free): {fraction:.0%} deducted"))
    return out


def apply(score: float, found: list[Deduction]) -> float:
    for deduction in found:
        score *= 1.0 - deduction.fraction
    return score
