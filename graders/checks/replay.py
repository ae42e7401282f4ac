"""Runs of a student's stochastic training function, each replayed from its own random draws.

TernGrad training (duke-hw2 2.3, 2.5) is random only through its quantiser f. While the
student's training function runs once per hidden seed, the worker records every call of the
student's f (the probe's `swap`: [g, s, f(g, s)] per call, in call order). Given those
outputs a run is deterministic. With workers i = 1..n holding rows x_i of X (n, d) and
targets y_i, from W^0 = 0, at step k = 0..K-1:

    g_i^k = c x_i^T (x_i W^k - y_i)            c = 2 or 1 (the convention's factor)
            clipped to [-T, T] where the problem clips (2.5)
    s_i^k = max_j |g_ij^k|   (2.3)   or   T   (2.5)
    W^{k+1} = W^k - lr A_i(f(g_i^k, s_i^k))     A = sum or mean over workers (convention)

and the run's history is log L_i(W^k) = log (x_i W^k - y_i)^2, k = 0..K.

`TrainingReplayCheck` walks each fully recorded run through these steps: the recorded calls
of step k must be on the n workers' g_i^k at the replayed W^k (in any worker order; one call
per worker, or one call on the workers' gradients stacked), with s as above, and their
outputs drive W^{k+1}. The run's own history must then be the replayed one in an accepted
form (forms: n + 1 rows or n recorded before/after each step, log base e or 10), compared as
residuals |x_i W^k - y_i| = exp(log L_i / 2) within rtol and atol: code in float32 rounds
W at ~1e-7 and the residuals of a converged run are below that, so they compare absolutely,
and a log of 0 (L = 0 exactly) is the residual 0.

The random part is checked where it is random: every recorded output lies in
{0, s sign(g)} and the outputs are unbiased (statistical.training_bias: Azuma-Hoeffding over
the recorded elements, false failure below `false_failure`). A run therefore passes only as
TernGrad training driven by unbiased ternary draws; the replay itself is exact, so a few
runs (grader.toml's terngrad_runs, 4) decide what a two-sample test of the histories'
distribution needed hundreds for.
Anything else fails: a deterministic or scaled or shifted history, a history that is not the
one the run's own draws give (another seed's run, 2.2's history), a training loop that
quantises something else or with another s, and a biased quantiser.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from graders.checks import forms
from graders.checks.base import (Check, Outcome, Plot, Probe, ProbeResult, as_float_array,
                                 best_variant, join, near, show)
from graders.checks.statistical import outside_support, recorded_calls, training_bias

#: Runs that must be fully recorded and replayed for the check to decide.
MIN_RUNS = 3


@dataclass(frozen=True)
class ParameterServer:
    """The handout's loop (module docstring): X (n, d), y (n,), `steps` steps of rate `lr`
    from W^0 = 0; `clip` is T (workers clip to [-T, T] and quantise with s = T) or None
    (s = max |g|)."""

    X: np.ndarray
    y: np.ndarray
    lr: float
    steps: int
    clip: float | None = None

    @property
    def workers(self) -> int:
        return self.X.shape[0]

    def residuals(self, W: np.ndarray) -> np.ndarray:
        """x_i W - y_i: W (R, d) -> (R, n)."""
        return W @ self.X.T - self.y

    def gradients(self, W: np.ndarray, factor: int) -> np.ndarray:
        """What each worker quantises: g_i = c x_i^T (x_i W - y_i), clipped; (R, n, d)."""
        g = factor * self.residuals(W)[..., None] * self.X
        return g if self.clip is None else np.clip(g, -self.clip, self.clip)

    def scale(self, g: np.ndarray) -> np.ndarray:
        """s per worker: T, or max_j |g_ij|; g (..., d) -> (...)."""
        return np.full(g.shape[:-1], float(self.clip)) if self.clip is not None \
            else np.max(np.abs(g), axis=-1)


@dataclass
class Mismatch:
    """Where a replay stopped agreeing: the run (0-based), step, worker and what."""

    run: int
    step: int
    worker: int | None
    what: str
    detail: str = ""


class TrainingReplayCheck(Check):
    """The student's training runs (`probe`: seeds, the quantiser `quantizer` swapped for a
    recorder) replayed under each accepted convention of `conventions` {name: (aggregate,
    factor)}; `deterministic` maps a convention to 2.2's history, which pins the convention
    where the student's own answer to it (`convention_probe`) matches one; `band` maps a
    convention to the key's (median, p05, p95) of log L_i per step, drawn behind the
    student's median run in the report."""

    kind = "statistical"

    def __init__(self, id, title, probe: Probe, server: ParameterServer,
                 conventions: dict[str, tuple[str, int]], accepted: list[str],
                 deterministic: dict, band: dict, rtol: float, atol: float, floor: float,
                 false_failure: float, quantizer: str, ylabel: str, labels: tuple[str, ...],
                 convention_probe: Probe):
        super().__init__(id, title, [probe, convention_probe], frozenset({convention_probe.id}))
        self.server, self.conventions, self.accepted = server, conventions, accepted
        self.deterministic, self.band = deterministic, band
        self.rtol, self.atol, self.floor, self.delta = rtol, atol, floor, false_failure
        self.quantizer, self.ylabel, self.labels = quantizer, ylabel, labels
        #: every order the n workers' calls may come in (two workers may send equal rows)
        self.orders = np.array(list(itertools.permutations(range(server.workers))))

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        result = results[self.probes[0].id]
        answer, trainer = result.value, self.probes[0].name
        if not isinstance(answer, dict) or "calls" not in answer:
            return Outcome(0.0, f"{trainer} gave no runs", show(answer))
        calls = [int(c) for c in answer["calls"]]
        if min(calls, default=0) == 0:
            return Outcome(0.0, f"{trainer} never called {self.quantizer} in a run: it trained "
                           "with something else, so its runs are not TernGrad's",
                           show(calls[:8]))
        records = answer.get("records", [])
        off = outside_support(records, result.memo)
        if off:
            return Outcome(0.0, f"during training {self.quantizer} returned {off}",
                           show(records[:1]))
        drift = training_bias(result, self.delta)
        if drift:
            return Outcome(0.0, f"during training {self.quantizer}'s outputs are biased (the "
                           f"kept share is wrong for {drift} gradient elements): the runs are "
                           "not TernGrad's", "", "", "Azuma-Hoeffding, false-failure rate < "
                           f"{self.delta:g}")
        runs, why = self._histories(answer["value"], len(calls))
        if runs is None:
            return Outcome(0.0, why, show(answer["value"]))
        if len(runs) > 1 and np.all(runs == runs[:1]):
            return Outcome(0.0, f"all {len(runs)} runs returned the same history: not a "
                           "stochastic method (each run should differ: seed with its `seed`, "
                           "or leave the seeding to the grader)", show(runs[0][:3]))
        followed = self._followed_runs(records, result.memo, calls)
        if isinstance(followed, str):
            return Outcome(0.0, followed, show(records[:1]))
        accepted = self._pinned(results.get(self.probes[1].id)) or self.accepted
        return best_variant({name: name for name in self.conventions}, accepted,
                            lambda name: self._replay(name, runs, followed))

    def _tolerance(self, runs: int) -> str:
        return (f"{runs} runs replayed from their own quantiser draws: |x_i W - y_i| within "
                f"rtol {self.rtol:g}, atol {self.atol:g}; draws unbiased (Azuma-Hoeffding, "
                f"false-failure rate < {self.delta:g})")

    def _histories(self, value, count: int) -> tuple[np.ndarray | None, str]:
        """The runs' histories as (runs, rows, n) with rows K + 1 or K; or None and why."""
        runs = as_float_array(value)
        steps, n = self.server.steps, self.server.workers
        if runs is None or runs.ndim < 2 or len(runs) != count:
            return None, "expected one history of numbers per run"
        fitted, _ = forms.lay_out(runs, (len(runs), runs.shape[1], n))
        if fitted is None or not forms.alignments(runs.shape[1], steps + 1):
            return None, (f"each run: expected {forms.history_rows(steps + 1)}, each "
                          f"{forms.shape_text((n,))}, got {forms.shape_text(runs.shape[1:])}")
        if np.isnan(fitted).any():
            return None, "a run contains NaN"
        return fitted, ""

    def _followed_runs(self, records: list, memo: dict | None, calls: list[int]):
        """The recorded calls of every fully recorded run as worker rows, (indices of those
        runs, g, s, out), each array (runs, K, n, d) with step k's rows at [:, k]; or why the
        runs cannot be followed."""
        width, per_step = self.server.X.shape[1], self.server.workers
        rows = _call_rows(records, memo, width)
        if isinstance(rows, str):
            return f"{self.quantizer} was called on {rows} during training"
        g, s, out, starts = rows
        first_call = np.concatenate([[0], np.cumsum(calls)])
        needed = self.server.steps * per_step
        runs, chosen = [], []
        for run, (begin, end) in enumerate(zip(first_call[:-1], first_call[1:])):
            if end > len(records):  # the recorder kept no more calls
                break
            if starts[end] - starts[begin] < needed:
                return (f"run {run + 1} called {self.quantizer} on {starts[end] - starts[begin]}"
                        f" gradient rows, fewer than one per worker and step "
                        f"({self.server.steps} x {per_step})")
            runs.append(run)
            chosen.append(np.arange(starts[begin], starts[begin] + needed))
        if len(runs) < min(MIN_RUNS, len(calls)):
            return (f"only {len(runs)} runs could be followed: {self.quantizer} was called "
                    f"{max(calls)} times in a run, more than the grader records")
        shape = (len(runs), self.server.steps, per_step, width)
        index = np.concatenate(chosen)
        return np.array(runs), g[index].reshape(shape), s[index].reshape(shape), \
            out[index].reshape(shape)

    def _replay(self, name: str, runs: np.ndarray, followed) -> Outcome:
        """Replay the followed runs under convention `name` and compare their histories."""
        indices, g, s, out = followed
        aggregate, factor = self.conventions[name]
        median, p05, p95 = (np.maximum(np.asarray(a, float), self.floor) for a in self.band[name])
        tolerance = self._tolerance(len(indices))
        replayed, mismatch = self._residuals(g, s, out, aggregate, factor)
        readings = [(join(form, base), offset, runs[indices] * factor_)
                    for form, offset in forms.alignments(runs.shape[1], self.server.steps + 1)
                    for base, factor_ in forms.LOG_BASES]
        plot = lambda reading: Plot(  # noqa: E731
            self.title, self.ylabel, np.median(np.maximum(reading, self.floor), axis=0),
            median, band=(p05, p95), labels=self.labels)
        if mismatch is None:
            best = None
            for label, offset, logs in readings:
                found = self._compare(logs, replayed[:, offset:offset + logs.shape[1]], offset)
                if found is None:
                    return Outcome(1.0, f"{len(indices)} runs are TernGrad training with their "
                                   "own quantiser draws", show(logs[0]), "", tolerance,
                                   label or None, [plot(logs)])
                if best is None or (found.step, -found.run) > (best[1].step, -best[1].run):
                    best = (logs, found)
            logs, mismatch = best
            mismatch.run = int(indices[mismatch.run])
            plots = [plot(logs)]
        else:
            mismatch.run = int(indices[mismatch.run])
            plots = [plot(readings[0][2])]
        return Outcome(0.0, self._message(mismatch), show(runs[mismatch.run][:3]), "",
                       tolerance, plots=plots, detail=mismatch.detail)

    def _residuals(self, g, s, out, aggregate: str, factor: int):
        """The replayed |x_i W^k - y_i| (runs, K + 1, n), or the first call that is not what
        the loop quantises at the replayed W^k (a Mismatch). The outputs alone fix every W^k,
        W^k = -lr sum_{j<k} A_i(out_i^j), so all steps are checked at once."""
        server = self.server
        messages = (np.sum if aggregate == "sum" else np.mean)(out, axis=2)  # (runs, K, d)
        W = np.concatenate([np.zeros((len(g), 1, g.shape[-1])),
                            -server.lr * np.cumsum(messages, axis=1)], axis=1)
        residuals = server.residuals(W)                                     # (runs, K + 1, n)
        expected = server.gradients(W[:, :-1], factor)                      # (runs, K, n, d)
        tolerance = self.atol * factor * np.max(np.abs(server.X)) + self.rtol * np.abs(expected)
        close = (np.abs(g[:, :, :, None] - expected[:, :, None]) <=        # (runs, K, row,
                 tolerance[:, :, None]).all(axis=-1)                        #  worker)
        matched = np.zeros(close.shape[:2], dtype=bool)  # rows are the workers' in some order
        for order in self.orders:
            matched |= close[:, :, np.arange(len(order)), order].all(axis=-1)
        wanted = server.scale(g)                                            # (runs, K, row)
        right = near(s, wanted[..., None], 1e-6, 1e-12).all(axis=-1)
        bad = ~matched | ~right.all(axis=-1)
        if not bad.any():
            return np.abs(residuals), None
        step = int(np.argmax(bad.any(axis=0)))
        run = int(np.argmax(bad[:, step]))
        if not matched[run, step]:
            return None, Mismatch(run, step, None, "gradient",
                                  f"g {show(g[run, step])}; the workers' g at the replayed W: "
                                  f"{show(expected[run, step])}")
        row = int(np.argmin(right[run, step]))
        return None, Mismatch(run, step, int(close[run, step, row].argmax()), "scale",
                              f"s {show(s[run, step, row])}, wanted {wanted[run, step, row]:.6g}")

    def _compare(self, logs: np.ndarray, replayed: np.ndarray, offset: int) -> Mismatch | None:
        """The student's log L_i (runs, rows, n, natural log) against the replayed residuals
        of the same rows; the first disagreeing cell, or None."""
        with np.errstate(over="ignore"):
            theirs = np.exp(np.maximum(logs, self.floor) / 2)
        close = near(theirs, replayed, self.rtol, self.atol)
        if close.all():
            return None
        run, row, worker = map(int, np.argwhere(~close)[0])
        return Mismatch(run, row + offset, worker, "history",
                        f"residual {theirs[run, row, worker]:.6g}, replayed "
                        f"{replayed[run, row, worker]:.6g}")

    def _message(self, m: Mismatch) -> str:
        where = f"run {m.run + 1}, step {m.step}"
        if m.what == "gradient":
            return (f"{where}: {self.quantizer} was called on something other than the "
                    "workers' gradients at the W its own earlier draws give (a wrong gradient, "
                    "clipping or update)")
        if m.what == "scale":
            return (f"{where}, {self.labels[m.worker]}: s is not the one the problem sets for "
                    "this worker")
        return (f"{where}, {self.labels[m.worker]}: the history returned is not the training "
                "its own quantiser draws give")

    def _pinned(self, result: ProbeResult | None) -> list[str]:
        """The one accepted convention whose deterministic history the student's own answer
        to it matches, in any accepted form; [] where none does (then all are tried)."""
        if result is None or not result.ok:
            return []
        for name in self.accepted:
            key = np.maximum(np.asarray(self.deterministic[name], float), self.floor)
            readings = forms.histories(result.value, key)
            if isinstance(readings, str):
                return []
            for _, arr, part in readings:
                for _, factor in forms.LOG_BASES:
                    if near(np.maximum(arr * factor, self.floor), part, 1e-6, 1e-3).all():
                        return [name]
        return []


def _call_rows(records: list, memo: dict | None, width: int):
    """Every recorded call [g, s, ..., out] as rows of `width` (a call on one worker's
    gradient is one row, on several stacked one row each), in call order: g, s (broadcast to
    g) and out, each (rows, width), and `starts` (calls + 1,): call c's rows are
    starts[c]:starts[c + 1]. Or what a call was on, where it is not worker gradients."""
    stacks, problems = recorded_calls(records, memo)
    counts = np.zeros(len(records), dtype=np.int64)
    pieces = []
    for _, g, s, out, indices in stacks:
        size = int(np.prod(g.shape[1:], dtype=np.int64))
        if size == 0 or size % width:
            return f"arrays of shape {g.shape[1:]}, not gradients of {width} elements"
        counts[indices] = size // width
        pieces.append((indices, size // width, g, s, out))
    if problems or (counts == 0).any():
        return "something other than a gradient and a number s"
    starts = np.concatenate([[0], np.cumsum(counts)])
    g_rows, s_rows, out_rows = (np.empty((int(starts[-1]), width)) for _ in range(3))
    for indices, per_call, g, s, out in pieces:
        at = (starts[indices][:, None] + np.arange(per_call)).ravel()
        for rows, part in ((g_rows, g), (s_rows, s), (out_rows, out)):
            rows[at] = part.reshape(-1, width)
    return g_rows, s_rows, out_rows, starts
