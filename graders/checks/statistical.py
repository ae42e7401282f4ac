"""Statistical checks of stochastic code (TernGrad), from many seeded draws or runs.

Both checks compute every statistic here, in the trusted process, from raw results the worker
sends back, and keep the chance of failing an honest implementation below `false_failure`
(delta, 1e-6) whatever the seeds.

TernaryQuantizerCheck: the student's quantiser f(g, s), N draws per hidden case (g, s), in one
vectorised call where f allows it (the probe's `batch`), else N calls. Half the points each:
  support       every draw's element j lies in {0, s * sign(g_j)} (only 0 where g_j = 0);
  unbiasedness  |mean_j - g_j| <= t for every element, with Hoeffding's bound for variables
                in an interval of width s:  P(|mean - E| >= t) <= 2 exp(-2 N t^2 / s^2),
                so t = s sqrt(ln(4K / delta) / (2N)) over K tested elements keeps a false
                failure below delta / 2;
                and the calls recorded while the student's own training ran (the runs
                probe of RunDistributionCheck) are unbiased too, so a quantiser that is right
                only when the grader calls it loses this half: for a recorded element with
                r = |g_j| / s <= 1, z = sign(g_j) out_j / s - r lies in [-1, 1] with mean 0
                given everything before it (a martingale difference), so by Azuma-Hoeffding
                the mean of n of them exceeds t = sqrt(2 ln(8 / delta) / n) in magnitude with
                probability at most delta / 4. The test runs separately on elements with
                r < 1/2 and r >= 1/2, where a wrong keep probability errs in opposite
                directions (Bernoulli(1/2) keeps too many small and too few large ones).

RunDistributionCheck: the student's training function, called once per hidden seed (K runs),
returns one run's history of log L_i; the key holds R seeded reference runs. While it runs,
the student's quantiser is wrapped (the probe's `swap`): a run that never calls it trained
with something else, and every recorded output must lie in its ternary support. The runs'
distribution is compared with the reference's at m cells (step, worker), by the two-sample
Dvoretzky-Kiefer-Wolfowitz bound (Massart's constant): for n i.i.d. values,
P(sup_x |F_n(x) - F(x)| > eps) <= 2 exp(-2 n eps^2), so with
eps_n = sqrt(ln(4m / delta) / (2n)) each of the 2m empirical CDFs is within eps_n of its
truth except with probability delta / (2m), all of them except with probability delta. If
the student's runs follow the reference's distribution, then at every cell
sup_x |F_K(x) - F_R(x)| <= eps_K + eps_R. Values are compared with a shift `resolution` on
either side (the student's arithmetic may round differently from the reference's; with
point masses an unshifted CDF would see a jump), and below `floor` they count as `floor`.
Anything else fails: a deterministic history (a point mass), a shifted or scaled one, a
biased quantiser, and a quantiser that is right only when the grader probes it.
"""

from __future__ import annotations

import math

import numpy as np

from graders.checks import forms
from graders.checks.base import (Check, Outcome, Plot, Probe, ProbeResult, as_float_array,
                                 best_variant, join, show)


def draws_of(value) -> np.ndarray | None:
    """The stacked results of a call probe, with or without the probe's extra fields."""
    return as_float_array(value["value"] if isinstance(value, dict) else value)


def ternary(out: np.ndarray, g: np.ndarray, s, calls: bool = False) -> np.ndarray:
    """Where `out` (draws of f(g, s)) lies in {0, s sign(g)}, element-wise (broadcast), to
    1e-9 of the largest |s sign(g)| (at least 1); with `calls`, axis 0 stacks separate calls,
    each with its own largest value."""
    allowed = np.asarray(s, dtype=float) * np.sign(g)
    axes = tuple(range(1, allowed.ndim)) if calls else None
    scale = np.max(np.abs(allowed), axis=axes, keepdims=calls, initial=1.0)
    return np.isclose(out, 0.0, rtol=0, atol=1e-9 * scale) | \
        np.isclose(out, allowed, rtol=1e-9, atol=1e-9 * scale)


class TernaryQuantizerCheck(Check):
    kind = "statistical"

    def __init__(self, id, title, probes: list[Probe], cases: list[tuple[np.ndarray, float]],
                 false_failure: float, training: Probe | None = None):
        optional = frozenset({training.id}) if training else frozenset()
        super().__init__(id, title, probes + ([training] if training else []), optional)
        self.cases, self.delta, self.training = cases, false_failure, training

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        n_elements = sum(g.size for g, _ in self.cases)
        tolerance = f"Hoeffding bound, false-failure rate < {self.delta:g}"
        support_problems, bias_problems, details, shown = [], [], [], ""
        for number, (probe, (g, s)) in enumerate(zip(self.probes, self.cases), start=1):
            draws = draws_of(results[probe.id].value)
            expected_shape = (probe.repeat,) + g.shape
            if draws is None or draws.shape != expected_shape:
                got = "no numbers" if draws is None else f"shape {draws.shape[1:]}"
                return Outcome(0.0, f"case {number}: expected an array shaped like g per "
                               f"call, got {got}", show(results[probe.id].value), "", tolerance)
            if not np.isfinite(draws).all():
                return Outcome(0.0, f"case {number}: the draws contain NaN or inf",
                               show(draws[:3]), "", tolerance)
            off = ~ternary(draws, g, s)
            if off.any():
                j = int(np.argwhere(off)[0][1])
                support_problems.append(f"case {number}: element {j} takes "
                                        f"{draws[:, j][off[:, j]][0]:.6g}, not 0 or s sign(g)")
                details.append(f"case {number}: g = {g[j]:.6g}, s = {s:.6g}")
            t = s * math.sqrt(math.log(4 * n_elements / self.delta) / (2 * probe.repeat))
            mean = draws.mean(axis=0)
            biased = np.abs(mean - g) > t
            if biased.any():
                j = int(np.argmax(biased))
                bias_problems.append(f"case {number}: element {j}'s mean over {probe.repeat} "
                                     "draws is not g")
                details.append(f"case {number}: element {j} averages {mean[j]:.4g}, g = "
                               f"{g[j]:.4g} +/- {t:.2g}")
            shown = shown or f"case 1 means {show(mean)}"
        if self.training is not None:
            drift = training_bias(results.get(self.training.id), self.delta)
            if drift:
                bias_problems.append(f"while {self.training.name} trained: the kept share "
                                     f"is wrong for {drift} gradient elements")
        fraction = 0.5 * (not support_problems) + 0.5 * (not bias_problems)
        parts = ["ternary support holds" if not support_problems
                 else "not ternary: " + support_problems[0],
                 "unbiased" if not bias_problems else "biased: " + bias_problems[0]]
        key_text = "E[f(g, s)] = g, values in {0, s sign(g)}"
        return Outcome(fraction, "; ".join(parts), shown, key_text, tolerance,
                       detail="; ".join(details))


def training_bias(result: ProbeResult | None, delta: float) -> str:
    """"small" or "large" where the quantiser's calls recorded during training keep a wrong
    share of the elements with |g| / s below or from 1/2 (module docstring), "" otherwise or
    where nothing was recorded."""
    if result is None or not result.ok or not isinstance(result.value, dict):
        return ""
    r, z = [], []
    for length, g, s, out, _ in recorded_calls(result.value.get("records", []), result.memo)[0]:
        if length != 3:  # calls f(g, s) only
            continue
        usable = (s > 0) & (np.abs(g) <= s) & np.isfinite(out)
        ratio = np.abs(g[usable]) / s[usable]
        r.append(ratio)
        z.append(np.sign(g[usable]) * out[usable] / s[usable] - ratio)
    if not r:
        return ""
    r, z = np.concatenate(r), np.concatenate(z)
    for name, part in (("small", r < 0.5), ("large", r >= 0.5)):
        n = int(part.sum())
        if n and abs(z[part].mean()) > math.sqrt(2 * math.log(8 / delta) / n):
            return name
    return ""


def recorded_calls(records, memo: dict | None = None) -> tuple[list[tuple], dict[int, str]]:
    """The recorded calls [g, s, ..., out] (lists of 3 items or more; others are skipped) as
    stacks, one per call length and broadcast shape: (length, g, s, out, indices), each array
    (calls, *shape), `indices` the calls' positions in `records`; and {position: "numbers" |
    "shape"} for the calls whose g, s or out is not numbers or whose shapes do not broadcast
    together. One numpy operation per stack, not per call. With `memo` (a ProbeResult's),
    the stacks are built once per probe result and shared by the checks that read them."""
    if memo is not None and "recorded_calls" in memo:
        stacks, problems = memo["recorded_calls"]
        return stacks, dict(problems)
    records = records if isinstance(records, list) else []
    grouped = _one_group(records)
    groups, problems = grouped if grouped is not None else _groups(records)
    stacks = []
    for (length, *shapes), (parts, indices) in groups.items():
        rank = len(np.broadcast_shapes(*shapes))
        lifted = [part.reshape((len(part),) + (1,) * (rank - len(shape)) + shape)
                  for part, shape in zip(parts, shapes)]
        stacks.append((length,) + tuple(np.broadcast_arrays(*lifted)) + (np.array(indices),))
    if memo is not None:
        memo["recorded_calls"] = (stacks, problems)
    return stacks, dict(problems)


def _one_group(records: list):
    """recorded_calls' groups where every call is of one length and g, s and out are each of
    one shape, float64 arrays, floats or ints (what decoding gives an honest quantiser's
    records), stacked by one numpy call per column; None for anything else (_groups reads
    those)."""
    if not records or set(map(type, records)) != {list} or len(set(map(len, records))) != 1:
        return None
    length = len(records[0])
    if length < 3:
        return None
    parts = []
    for column in ([r[0] for r in records], [r[1] for r in records], [r[-1] for r in records]):
        kinds = set(map(type, column))
        if not kinds <= {float, int, np.ndarray} or (
                np.ndarray in kinds and {x.dtype for x in column
                                         if type(x) is np.ndarray} != {np.dtype(np.float64)}):
            return None
        try:
            parts.append(np.array(column, dtype=np.float64))
        except (ValueError, OverflowError):  # shapes differ within the column, or an int
            return None                        # beyond float64 (_groups says so)
    shapes = tuple(part.shape[1:] for part in parts)
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        return None
    return {(length,) + shapes: (parts, list(range(len(records))))}, {}


def _groups(records: list) -> tuple[dict, dict[int, str]]:
    """recorded_calls' groups, call by call: {(length, g, s and out shapes): ([g, s, out
    stacks], indices)} and the calls that are not numbers or do not broadcast."""
    groups: dict[tuple, tuple[list, list, list, list]] = {}
    problems: dict[int, str] = {}
    for index, record in enumerate(records):
        if not isinstance(record, list) or len(record) < 3:
            continue
        g, s, out = (x if type(x) is np.ndarray and x.dtype == np.float64  # decoded: as is
                     else as_float_array(x) for x in (record[0], record[1], record[-1]))
        if g is None or s is None or out is None:
            problems[index] = "numbers"
            continue
        shapes = (len(record), g.shape, s.shape, out.shape)
        if shapes not in groups:
            try:
                np.broadcast_shapes(*shapes[1:])
            except ValueError:
                problems[index] = "shape"
                continue
        group = groups.setdefault(shapes, ([], [], [], []))
        for parts, value in zip(group, (g, s, out, index)):
            parts.append(value)
    return {shapes: ([np.stack(parts) for parts in group[:3]], group[3])
            for shapes, group in groups.items()}, problems


def dkw_eps(n: int, cells: int, delta: float) -> float:
    """eps_n = sqrt(ln(4m / delta) / (2n)): one of 2m empirical CDFs of n values strays
    further than eps_n from its truth with probability at most delta / (2m)."""
    return math.sqrt(math.log(4 * cells / delta) / (2 * n))


def cdf_distance(sample: np.ndarray, reference: np.ndarray, resolution: float) -> float:
    """sup_x of F_s(x) - F_r(x + r) and of F_r(x) - F_s(x + r), r = `resolution`: the
    Kolmogorov distance of two samples, blind to shifts within r (reference sorted)."""
    sample = np.sort(sample)
    points = np.concatenate([sample, reference])
    F = lambda xs, at: np.searchsorted(xs, at, side="right") / len(xs)  # noqa: E731
    return float(max(np.max(F(sample, points) - F(reference, points + resolution)),
                     np.max(F(reference, points) - F(sample, points + resolution))))


class RunDistributionCheck(Check):
    """K runs of the student's training function against R reference runs (module
    docstring). `references` maps a convention to its key entry (reference.distributed's
    `_runs`: "steps", "at_steps", "median", "p05", "p95"); `deterministic` to a
    deterministic history of the same convention (2.2's), which pins the convention where
    the student's own answer to it (`convention_probe`) matches one; `quantizer` is the name
    of the student's quantiser the probe swaps."""

    kind = "statistical"

    def __init__(self, id, title, probe: Probe, references: dict, deterministic: dict,
                 accepted: list[str], floor: float, atol: float, false_failure: float,
                 resolution: float, quantizer: str, ylabel: str, labels: tuple[str, ...],
                 convention_probe: Probe):
        super().__init__(id, title, [probe, convention_probe], frozenset({convention_probe.id}))
        self.references, self.deterministic = references, deterministic
        self.accepted, self.floor, self.atol = accepted, floor, atol
        self.delta, self.resolution, self.quantizer = false_failure, resolution, quantizer
        self.ylabel, self.labels = ylabel, labels

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        answer = results[self.probes[0].id].value
        trainer = self.probes[0].name
        if not isinstance(answer, dict) or "calls" not in answer:
            return Outcome(0.0, f"{trainer} gave no runs", show(answer))
        if min(answer["calls"], default=0) == 0:
            return Outcome(0.0, f"{trainer} never called {self.quantizer} in a run: it trained "
                           "with something else, so its runs are not TernGrad's",
                           show(answer["calls"][:8]))
        off = self._outside_support(answer.get("records", []),
                                    results[self.probes[0].id].memo)
        if off:
            return Outcome(0.0, f"during training {self.quantizer} returned {off}",
                           show(answer["records"][:1]))
        runs = as_float_array(answer["value"])
        accepted = self._pinned(results.get(self.probes[1].id)) or self.accepted
        return best_variant({name: name for name in self.references}, accepted,
                            lambda name: self._compare(runs, name))

    def _outside_support(self, records: list, memo: dict | None = None) -> str:
        """A description of the first recorded output outside {0, s sign(g)}, or ""."""
        stacks, problems = recorded_calls(records, memo)
        for _, g, s, out, indices in stacks:
            outside = ~ternary(out, g, s, calls=True).reshape(len(indices), -1).all(axis=1)
            problems.update((int(i), "support") for i in indices[outside])
        first = problems.get(min(problems, default=-1))
        return {"numbers": "something other than numbers",
                "shape": "an array not shaped like its gradient",
                "support": "values outside {0, s sign(g)}"}.get(first, "")

    def _compare(self, runs: np.ndarray | None, name: str) -> Outcome:
        ref = self.references[name]
        steps, at_steps = np.asarray(ref["steps"]), np.maximum(ref["at_steps"], self.floor)
        median = np.maximum(ref["median"], self.floor)
        band = (np.maximum(ref["p05"], self.floor), np.maximum(ref["p95"], self.floor))
        tolerance = (f"two-sample DKW at {at_steps.shape[1] * at_steps.shape[2]} cells, "
                     f"false-failure rate < {self.delta:g}")
        plot = lambda student: Plot(self.title, self.ylabel, student, median,  # noqa: E731
                                    band=band, labels=self.labels)
        fitted, form = self._runs(runs, median.shape)
        if fitted is None:
            return Outcome(0.0, form, show(runs), "", tolerance, plots=[plot(None)])
        readings = [(join(f, base), offset, np.maximum(fitted * factor, self.floor))
                    for f, offset in forms.alignments(fitted.shape[1], median.shape[0])
                    for base, factor in forms.LOG_BASES]
        cells = at_steps.shape[1] * at_steps.shape[2]
        bound = dkw_eps(len(fitted), cells, self.delta) + dkw_eps(len(at_steps), cells,
                                                                  self.delta)
        best = None
        for label, offset, a in readings:
            worst = (-1.0, 0, 0)
            for c, step in enumerate(steps):
                row = int(step) - offset
                if not 0 <= row < a.shape[1]:
                    continue
                for worker in range(a.shape[2]):
                    d = cdf_distance(a[:, row, worker], at_steps[:, c, worker], self.resolution)
                    worst = max(worst, (d, int(step), worker))
            if best is None or worst[0] < best[1][0]:
                best = (label, worst, a)
        label, (distance, step, worker), a = best
        shown = plot(np.median(a, axis=0))
        detail = f"largest CDF distance {distance:.3f} at step {step}, bound {bound:.3f}"
        if distance <= bound:
            return Outcome(1.0, f"{len(a)} runs distributed like TernGrad's", show(a[0]),
                           "", tolerance, label or None, [shown], detail)
        same = np.all(a == a[:1])
        why = (f"all {len(a)} runs are identical: not a stochastic method" if same else
               f"the runs are not distributed like TernGrad's (at step {step}, "
               f"{self.labels[worker] if worker < len(self.labels) else worker})")
        return Outcome(0.0, why, show(a[0]), "", tolerance, plots=[shown], detail=detail)

    def _runs(self, runs: np.ndarray | None, shape: tuple) -> tuple[np.ndarray | None, str]:
        """The runs as (K, rows, workers) with rows n + 1 or n; or None and why."""
        if runs is None or runs.ndim < 2:
            return None, "expected one history of numbers per run"
        rows = runs.shape[1]
        fitted, _ = forms.lay_out(runs, (len(runs), rows) + tuple(shape[1:]))
        if fitted is None or not forms.alignments(rows, shape[0]):
            return None, (f"each run: expected {forms.history_rows(shape[0])}, each "
                          f"{forms.shape_text(shape[1:])}, got {forms.shape_text(runs.shape[1:])}")
        if np.isnan(fitted).any():
            return None, "a run contains NaN"
        return fitted, ""

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
                    if np.isclose(np.maximum(arr * factor, self.floor), part, rtol=1e-6,
                                  atol=self.atol).all():
                        return [name]
        return []
