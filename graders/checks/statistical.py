"""Statistical check of a stochastic ternary quantiser (TernGrad) from many seeded draws.

The worker calls the student's `f(g, s)` N times per hidden case (g, s) and returns the raw
draws (N, d); every statistic is computed here, in the trusted process. Two properties:

  support       every draw's element j lies in {0, s * sign(g_j)} (only 0 where g_j = 0);
  unbiasedness  |mean_j - g_j| <= t for every element, with Hoeffding's bound for variables
                in an interval of width s:  P(|mean - E| >= t) <= 2 exp(-2 N t^2 / s^2),
                so t = s sqrt(ln(2K / delta) / (2N)) over K tested elements keeps the chance of
                failing a correct quantiser below delta (1e-6) for any seed.

Half the points for each property.
"""

from __future__ import annotations

import math

import numpy as np

from graders.checks.base import Check, Outcome, Probe, ProbeResult, as_float_array, show


class TernaryQuantizerCheck(Check):
    kind = "statistical"

    def __init__(self, id, title, probes: list[Probe], cases: list[tuple[np.ndarray, float]],
                 false_failure: float):
        super().__init__(id, title, probes)
        self.cases, self.delta = cases, false_failure

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        n_elements = sum(g.size for g, _ in self.cases)
        tolerance = f"Hoeffding bound, false-failure rate < {self.delta:g}"
        support_problems, bias_problems, shown = [], [], ""
        for number, (probe, (g, s)) in enumerate(zip(self.probes, self.cases), start=1):
            draws = as_float_array(results[probe.id].value)
            expected_shape = (probe.repeat,) + g.shape
            if draws is None or draws.shape != expected_shape:
                got = "no numbers" if draws is None else f"shape {draws.shape[1:]}"
                return Outcome(0.0, f"case {number}: expected an array of shape {g.shape} per "
                               f"call, got {got}", show(results[probe.id].value), "", tolerance)
            if not np.isfinite(draws).all():
                return Outcome(0.0, f"case {number}: the draws contain NaN or inf",
                               show(draws[:3]), "", tolerance)
            allowed = s * np.sign(g)
            off = ~(np.isclose(draws, 0.0, atol=1e-9 * s) |
                    np.isclose(draws, allowed, rtol=1e-9, atol=1e-9 * s))
            if off.any():
                j = int(np.argwhere(off)[0][1])
                support_problems.append(
                    f"case {number}: element {j} takes {draws[:, j][off[:, j]][0]:.6g}, not in "
                    f"{{0, {allowed[j]:.6g}}} (g = {g[j]:.6g}, s = {s:.6g})")
            t = s * math.sqrt(math.log(2 * n_elements / self.delta) / (2 * probe.repeat))
            mean = draws.mean(axis=0)
            biased = np.abs(mean - g) > t
            if biased.any():
                j = int(np.argmax(biased))
                bias_problems.append(
                    f"case {number}: element {j} averages {mean[j]:.4g} over {probe.repeat} "
                    f"draws, expected g = {g[j]:.4g} +/- {t:.2g}")
            shown = shown or f"case 1 means {show(mean)} for g = {show(g)}"
        fraction = 0.5 * (not support_problems) + 0.5 * (not bias_problems)
        parts = []
        parts.append("ternary support holds" if not support_problems
                     else "not ternary: " + support_problems[0])
        parts.append("unbiased" if not bias_problems else "biased: " + bias_problems[0])
        key_text = "E[f(g, s)] = g, values in {0, s sign(g)}"
        return Outcome(fraction, "; ".join(parts), shown, key_text, tolerance)
