"""A data set the student drew, y = f(x) + N(0, sigma^2) at x uniform on a square, probed.

The probes read x_train (n_train, 2), y_train (n_train,), x_test (n_test, 2), y_test (n_test,)
(x may be transposed, (2, n); y a column (n, 1)); f is the reference function, evaluated in
the trusted process. With n = n_train + n_test and r = y - f(x) over every point:

  size     n == the text's N
  split    |n_train - share N| <= z sqrt(N share (1 - share)): an exact split, or one drawn
           point by point with probability `share` (Binomial)
  uniform  every x in [low, high]^2, and each axis's empirical CDF within the DKW bound
           eps = sqrt(ln(4 / delta) / (2 n)) of the uniform CDF (both axes: rate <= delta)
  noise    for an accepted sigma (the text's N(0, 0.3) read as a standard deviation, or as a
           variance: named variants), |mean r| <= z sigma / sqrt(n) and
           |std r - sigma| <= z sigma / sqrt(2 n) (the normal approximation of the sample
           mean and standard deviation), z = Phi^-1(1 - delta / 4)

Credit is the share of the four that hold, and nothing unless the points were drawn (x
uniform) and y follows f (the residual's std below a tenth of f's): constant or random arrays
earn nothing. An honest data set fails with probability below delta.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Callable

import numpy as np

from graders.checks.base import Check, Outcome, Probe, ProbeResult, as_float_array, show

#: Fewer points than this are no data set to test (the text asks for 100,000).
MIN_POINTS = 100


def points(value, name: str) -> tuple[np.ndarray | None, str, str]:
    """x as (n, 2): (array, form, "") or (None, "", why)."""
    arr = as_float_array(value)
    if arr is None or arr.ndim != 2 or 2 not in arr.shape:
        return None, "", f"{name}: expected points of shape (n, 2), got {show(value, 60)}"
    if arr.shape[1] == 2:
        return arr, "", ""
    return arr.T, "x transposed (2, n)", ""


def targets(value, name: str, n: int) -> tuple[np.ndarray | None, str]:
    arr = as_float_array(value)
    if arr is None or arr.size != n or arr.ndim > 2:
        return None, f"{name}: expected {n} targets (one per point), got {show(value, 60)}"
    return arr.ravel(), ""


def dkw_distance(x: np.ndarray, low: float, high: float) -> float:
    """sup_t |F_n(t) - F(t)| for F uniform on [low, high]."""
    x = np.sort(x)
    cdf = (x - low) / (high - low)
    n = len(x)
    return float(max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n)))


class DatasetCheck(Check):
    kind = "statistical"

    def __init__(self, id, title, probes: list[Probe], f: Callable, n: int, share: float,
                 domain: tuple[float, float], sigmas: dict[str, float], accepted: list[str],
                 false_failure: float):
        super().__init__(id, title, probes)
        self.f, self.n, self.share, self.domain = f, n, share, domain
        self.sigmas, self.accepted, self.delta = sigmas, accepted, false_failure
        self.z = NormalDist().inv_cdf(1 - false_failure / 4)

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        x_train_p, y_train_p, x_test_p, y_test_p = self.probes
        forms = []
        arrays = []
        for xp, yp in ((x_train_p, y_train_p), (x_test_p, y_test_p)):
            x, form, why = points(results[xp.id].value, xp.name)
            if x is None:
                return Outcome(0.0, why)
            y, why = targets(results[yp.id].value, yp.name, len(x))
            if y is None:
                return Outcome(0.0, why)
            if not (np.isfinite(x).all() and np.isfinite(y).all()):
                return Outcome(0.0, f"{xp.name}, {yp.name}: not every value is finite")
            forms += [form] if form and form not in forms else []
            arrays.append((x, y))
        (x_train, _), (x_test, _) = arrays
        x = np.concatenate([a[0] for a in arrays])
        y = np.concatenate([a[1] for a in arrays])
        n, low, high = len(x), *self.domain
        if n < MIN_POINTS or not len(x_train) or not len(x_test):
            return Outcome(0.0, f"{n} points ({len(x_train)} for training): too few to be the "
                           "text's data set")
        fx = self.f(x[:, 0], x[:, 1])
        r = y - fx
        eps = math.sqrt(math.log(4 / self.delta) / (2 * n))
        inside = bool(((x >= low) & (x <= high)).all())
        uniform = inside and max(dkw_distance(x[:, j], low, high) for j in (0, 1)) <= eps
        if not uniform or not float(np.std(r)) < 0.1 * float(np.std(fx)):
            why = ("x is not uniform on the square" if not uniform else
                   "y does not follow the function: y - f(x) varies as much as f")
            return Outcome(0.0, f"not a data set drawn as the text asks: {why}",
                           tolerance=f"DKW distance <= {eps:.4f}")
        failed = []
        if n != self.n:
            failed.append(f"{n} points in all, not the text's {self.n}")
        margin = self.z * math.sqrt(self.n * self.share * (1 - self.share))
        if abs(len(x_train) - self.share * n) > margin:
            failed.append(f"a training share of {len(x_train) / n:.3f}, not the text's "
                          f"{self.share:g}")
        mean, std = float(np.mean(r)), float(np.std(r))
        matched = [name for name in self.accepted
                   if abs(mean) <= self.z * self.sigmas[name] / math.sqrt(n)
                   and abs(std - self.sigmas[name]) <= self.z * self.sigmas[name] / math.sqrt(2 * n)]
        if not matched:
            failed.append(f"noise y - f(x) of standard deviation {std:.4g} and mean {mean:.3g}, "
                          "not the text's N(0, 0.3)")
        tolerance = f"statistical, false-failure rate below {self.delta:g}"
        variant = "; ".join(forms + matched[:1]) or None
        if not failed:
            return Outcome(1.0, f"{n} points, uniform, split and noise as the text asks",
                           f"noise std {std:.4g}", tolerance=tolerance, variant=variant)
        return Outcome(1 - len(failed) / 4, "; ".join(failed), f"noise std {std:.4g}",
                       tolerance=tolerance, variant=variant)
