"""Numeric checks: values and arrays, trajectories, and envelopes of stochastic runs.

All three check the shape first and treat NaN and +inf as wrong answers, never as crashes.
Tolerances follow numpy's isclose: |a - k| <= atol + rtol |k|.
"""

from __future__ import annotations

import numpy as np

from graders.checks.base import (Check, Outcome, Plot, Probe, ProbeResult, as_float_array,
                                 best_variant, show, type_name)


def _shape_text(shape) -> str:
    return "a scalar" if shape == () else f"shape {tuple(shape)}"


def coerce(value, shape: tuple, flat_ok: bool) -> tuple[np.ndarray | None, str]:
    """The answer as an array of `shape`, or None and the reason. With `flat_ok`, any array of
    the same number of elements (e.g. (3,) for (3, 1)) is accepted and reshaped."""
    arr = as_float_array(value)
    if arr is None:
        return None, f"expected numbers with {_shape_text(shape)}, got {type_name(value)}"
    if arr.shape != shape:
        if flat_ok and arr.size == int(np.prod(shape)):
            arr = arr.reshape(shape)
        else:
            return None, f"expected {_shape_text(shape)}, got {_shape_text(arr.shape)}"
    if np.isnan(arr).any():
        return None, "the answer contains NaN"
    return arr, ""


def pick(value, wanted: float) -> tuple[object, str]:
    """value[wanted] from a dict whose keys may be ints, floats or strings ("5", 5, 5.0)."""
    if not isinstance(value, dict):
        return None, f"expected a dict keyed by {wanted:g}, got {type_name(value)}"
    for key, item in value.items():
        try:
            if float(key) == wanted:
                return item, ""
        except (TypeError, ValueError):
            continue
    return None, f"no entry for {wanted:g} (keys: {', '.join(map(str, list(value)[:8]))})"


class ArrayCheck(Check):
    """A number or array against the key's variants, element-wise within rtol/atol."""

    kind = "numeric"

    def __init__(self, id, title, probe: Probe, variants: dict, accepted: list[str],
                 rtol: float, atol: float, flat_ok: bool = False):
        super().__init__(id, title, [probe])
        self.variants = {k: np.asarray(v, dtype=float) for k, v in variants.items()}
        self.accepted, self.rtol, self.atol, self.flat_ok = accepted, rtol, atol, flat_ok

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        value = results[self.probes[0].id].value
        tolerance = f"rtol {self.rtol:g}, atol {self.atol:g}"

        def score(key: np.ndarray) -> Outcome:
            arr, why = coerce(value, key.shape, self.flat_ok)
            if arr is None:
                return Outcome(0.0, why, show(value), show(key), tolerance)
            if not np.isfinite(arr).all():
                return Outcome(0.0, "the answer contains inf", show(arr), show(key), tolerance)
            close = np.isclose(arr, key, rtol=self.rtol, atol=self.atol)
            if close.all():
                return Outcome(1.0, "correct", show(arr), show(key), tolerance)
            where = tuple(int(i) for i in np.argwhere(~close)[0]) if arr.ndim else ()
            return Outcome(0.0, f"{int((~close).sum())} of {close.size} values differ; first at "
                           f"index {where}: {arr[where]:.6g} vs key {key[where]:.6g}",
                           show(arr), show(key), tolerance)

        return best_variant(self.variants, self.accepted, score)


def partial_credit(share: float, minimum: float) -> float:
    """Credit for a history whose `share` of steps match: all of it, the share itself from
    `minimum` up, and nothing below (a different method that agrees on a few early steps
    has not earned a part of the answer)."""
    return share if share >= minimum else 0.0


class TrajectoryCheck(Check):
    """A history (steps + 1, series) against the key's, step by step; credit is the share of
    steps whose every series matches, given from `partial_from` on (see partial_credit). Values are compared as given (log L is already in log
    space); values below `floor` on either side count as `floor` (an exact optimum gives
    log L = -inf, and below about -50 only rounding is left)."""

    kind = "trajectory"

    def __init__(self, id, title, probe: Probe, variants: dict, accepted: list[str],
                 rtol: float, atol: float, floor: float, ylabel: str, labels: tuple[str, ...],
                 partial_from: float, select: float | None = None, flat_ok: bool = False):
        super().__init__(id, title, [probe])
        self.select, self.partial_from, self.flat_ok = select, partial_from, flat_ok
        self.variants = {k: np.asarray(v, dtype=float) for k, v in variants.items()}
        self.accepted, self.rtol, self.atol, self.floor = accepted, rtol, atol, floor
        self.ylabel, self.labels = ylabel, labels

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        value = results[self.probes[0].id].value
        if self.select is not None:
            value, missing = pick(value, self.select)
            if missing:
                return Outcome(0.0, missing, show(results[self.probes[0].id].value))
        tolerance = f"per step: rtol {self.rtol:g}, atol {self.atol:g}; floor {self.floor:g}"

        def score(key: np.ndarray) -> Outcome:
            arr, why = coerce(value, key.shape, flat_ok=self.flat_ok)
            k = np.maximum(key, self.floor)
            if arr is None:
                plot = Plot(self.title, self.ylabel, None, k, labels=self.labels)
                return Outcome(0.0, why, show(value), show(key), tolerance, plots=[plot])
            a = np.maximum(arr, self.floor)
            plot = Plot(self.title, self.ylabel, a, k, labels=self.labels)
            step_ok = np.isclose(a, k, rtol=self.rtol, atol=self.atol).all(axis=1)
            step_ok &= ~np.isposinf(arr).any(axis=1)
            share = float(step_ok.mean())
            if share == 1.0:
                message = f"all {len(step_ok)} steps match"
            else:
                first = int(np.argmin(step_ok))
                message = (f"{int(step_ok.sum())} of {len(step_ok)} steps match; first "
                           f"mismatch at step {first}: {show(arr[first])} vs key {show(key[first])}")
            return Outcome(partial_credit(share, self.partial_from), message, show(arr),
                           show(key), tolerance, plots=[plot])

        return best_variant(self.variants, self.accepted, score)


class EnvelopeCheck(Check):
    """One run of a stochastic process (steps + 1, series) against the envelope of many seeded
    reference runs: a step passes when every series lies within [min - m, max + m], with the
    margin m = `margin` * (max - min) + atol. Full credit from a share `full_from` of passing
    steps (an honest run dips below the envelope now and then: log L of a run that lands near
    the optimum by chance), the share itself from `partial_from`, nothing below. A run that
    reproduces the deterministic (uncompressed) history is not a run of the stochastic
    process and earns nothing.

    One seed cannot pin the convention (sum or mean of gradients...) the way a deterministic
    history does, and a loose envelope of another convention may contain a wrong run; so
    when the student's own deterministic history (`convention_probe`, e.g. 2.2's) matches one
    variant of `convention_keys`, only that variant is tried."""

    kind = "envelope"

    def __init__(self, id, title, probe: Probe, variants: dict, deterministic: dict,
                 accepted: list[str], margin: float, atol: float, floor: float, ylabel: str,
                 labels: tuple[str, ...], deterministic_name: str, partial_from: float,
                 full_from: float, convention_probe: Probe, convention_keys: dict):
        super().__init__(id, title, [probe, convention_probe], frozenset({convention_probe.id}))
        self.partial_from, self.full_from = partial_from, full_from
        self.convention_keys = convention_keys
        self.variants = variants
        self.deterministic = deterministic
        self.accepted, self.margin, self.atol, self.floor = accepted, margin, atol, floor
        self.ylabel, self.labels, self.deterministic_name = ylabel, labels, deterministic_name

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        value = results[self.probes[0].id].value
        tolerance = (f"inside [min - m, max + m] of the reference runs, "
                     f"m = {self.margin:g} x (max - min) + {self.atol:g}; full credit from "
                     f"{self.full_from:.0%} of the steps")

        def score(name: str) -> Outcome:
            env = self.variants[name]
            lo = np.maximum(np.asarray(env["min"], float), self.floor)
            hi = np.maximum(np.asarray(env["max"], float), self.floor)
            m = self.margin * (hi - lo) + self.atol
            lo, hi = lo - m, hi + m
            median = np.maximum(np.asarray(env["median"], float), self.floor)
            arr, why = coerce(value, median.shape, flat_ok=False)
            a = None if arr is None else np.maximum(arr, self.floor)
            plot = Plot(self.title, self.ylabel, a, median, band=(lo, hi), labels=self.labels)
            key_text = f"median of {int(env['runs'])} runs: {show(median)}"
            if arr is None:
                return Outcome(0.0, why, show(value), key_text, tolerance, plots=[plot])
            exact = np.maximum(np.asarray(self.deterministic[name], float), self.floor)
            if np.isclose(a, exact, rtol=1e-6, atol=1e-6).all(axis=1).mean() >= 0.9:
                return Outcome(0.0, f"this is the deterministic {self.deterministic_name} "
                               "history, not a run of the stochastic method", show(arr),
                               key_text, tolerance, plots=[plot])
            inside = ((a >= lo) & (a <= hi) & ~np.isposinf(arr)).all(axis=1)
            share = float(inside.mean())
            message = (f"all {len(inside)} steps inside the envelope" if share == 1.0 else
                       f"{int(inside.sum())} of {len(inside)} steps inside the envelope; first "
                       f"outside at step {int(np.argmin(inside))}")
            credit = 1.0 if share >= self.full_from else partial_credit(share, self.partial_from)
            return Outcome(credit, message, show(arr), key_text, tolerance, plots=[plot])

        accepted = self._pinned(results[self.probes[1].id]) or self.accepted
        return best_variant({n: n for n in self.variants}, accepted, score)

    def _pinned(self, result: ProbeResult) -> list[str]:
        """The one accepted variant the student's deterministic history matches, if any."""
        if not result.ok:
            return []
        for name in self.accepted:
            key = np.maximum(np.asarray(self.convention_keys[name], float), self.floor)
            arr, _ = coerce(result.value, key.shape, flat_ok=False)
            if arr is not None and np.isclose(np.maximum(arr, self.floor), key, rtol=1e-6,
                                              atol=self.atol).all():
                return [name]
        return []


class ExactCheck(Check):
    """An answer that must equal the key exactly: a boolean (True/False questions), an integer
    (a count, a bit size) or a string, compared by value and type (True is not 1)."""

    kind = "exact"

    def __init__(self, id, title, probe: Probe, variants: dict, accepted: list[str]):
        super().__init__(id, title, [probe])
        self.variants, self.accepted = variants, accepted

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        value = results[self.probes[0].id].value
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value.item()  # a numpy scalar crosses the wire as a 0-d array

        def score(key) -> Outcome:
            if isinstance(key, bool) != isinstance(value, bool) or not isinstance(
                    value, (bool, int, str)) or isinstance(key, str) != isinstance(value, str):
                return Outcome(0.0, f"expected {type(key).__name__}, got {type_name(value)}",
                               show(value), show(key), "exact")
            same = value == key
            return Outcome(float(same), "correct" if same else f"{value!r} is not the answer",
                           show(value), show(key), "exact")

        return best_variant(self.variants, self.accepted, score)
