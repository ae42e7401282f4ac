"""Consistency: numbers a student measured, checked against each other, not against a key.

A student's measurements are theirs (throughput, time on their hardware); what is graded is
the arithmetic on them. `ConsistencyCheck` reads several of the student's values, computes
what one of them should be from the others (`relation`, in the trusted process), and compares
element-wise within rtol: |reported - expected| <= rtol |expected|. Messages name the row
(e.g. the learner count) where they disagree; the numbers shown are the student's own.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from graders.checks.base import Check, Outcome, Probe, ProbeResult, as_float_array, show

#: relation(values by probe id) -> (expected, reported), arrays of one shape, or a reason.
Relation = Callable[[dict[str, np.ndarray]], "tuple[np.ndarray, np.ndarray] | str"]


class ConsistencyCheck(Check):
    kind = "consistency"

    def __init__(self, id, title, probes: list[Probe], relation: Relation, rtol: float,
                 rows: str = "row"):
        super().__init__(id, title, probes)
        self.relation, self.rtol, self.rows = relation, rtol, rows

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        values = {}
        for probe in self.probes:
            arr = as_float_array(results[probe.id].value)
            if arr is None or not np.isfinite(arr).all():
                return Outcome(0.0, f"{probe.name}: expected finite numbers, got "
                               f"{show(results[probe.id].value, 80)}")
            values[probe.id] = arr
        try:
            related = self.relation(values)
        except ValueError as exc:  # shapes that do not broadcast
            related = f"the values do not line up ({exc})"
        if isinstance(related, str):
            return Outcome(0.0, related)
        expected, reported = (np.asarray(x, dtype=float) for x in related)
        tolerance = f"rtol {self.rtol:g} (your own numbers against each other)"
        if expected.shape != reported.shape:
            return Outcome(0.0, f"expected {expected.size} values, got {reported.size}",
                           tolerance=tolerance)
        close = np.isclose(reported, expected, rtol=self.rtol, atol=0)
        if close.all():
            return Outcome(1.0, "consistent", show(reported), tolerance=tolerance)
        first = int(np.argmin(close.ravel()))
        return Outcome(0.0, f"{int((~close).sum())} of {close.size} values inconsistent; first "
                       f"at {self.rows} {first + 1}: {reported.ravel()[first]:.6g} where your "
                       f"own numbers give {expected.ravel()[first]:.6g}", show(reported),
                       tolerance=tolerance)
