"""Statistical checks of a stochastic quantiser (TernGrad), from many seeded draws.

Every statistic is computed here, in the trusted process, from raw results the worker sends
back, with the chance of failing an honest implementation below `false_failure` (delta,
1e-6) whatever the seeds.

TernaryQuantizerCheck: the student's quantiser f(g, s), N draws per hidden case (g, s), in one
vectorised call where f allows it (the probe's `batch`), else N calls. Half the points each:
  support       every draw's element j lies in {0, s * sign(g_j)} (only 0 where g_j = 0);
  unbiasedness  |mean_j - g_j| <= t for every element, with Hoeffding's bound for variables
                in an interval of width s:  P(|mean - E| >= t) <= 2 exp(-2 N t^2 / s^2),
                so t = s sqrt(ln(4K / delta) / (2N)) over K tested elements keeps a false
                failure below delta / 2;
                and the calls recorded while the student's own training ran (the runs
                probe of graders/checks/replay.py) are unbiased too, so a quantiser that is right
                only when the grader calls it loses this half: for a recorded element with
                0 < r = |g_j| / s <= 1, z = sign(g_j) out_j / s - r has mean 0 given
                everything before it (a martingale difference) and lies in the interval
                [-r, 1 - r] of width 1 that r (known before the draw) fixes, so by
                Azuma-Hoeffding the mean of n of them exceeds t = sqrt(ln(8 / delta) / (2n))
                in magnitude with probability at most delta / 4. Elements with g_j = 0 are
                left out (their z is 0 whatever the quantiser does; which elements are left
                out is known before each draw, so the rest is still a martingale); those at
                r = 1, which an unbiased quantiser always keeps, stay in.
                The test runs separately on elements with r < 1/2 and r >= 1/2, where a
                wrong keep probability errs in opposite directions (Bernoulli(1/2) keeps
                too many small and too few large ones).

The quantiser's calls recorded while the student's own training ran (the probe's `swap`;
graders/checks/replay.py replays those runs) are read here too: `recorded_calls` stacks them,
`outside_support` finds an output outside {0, s sign(g)}, `training_bias` tests them for bias.
"""

from __future__ import annotations

import math

import numpy as np

from graders.checks.base import Check, Outcome, Probe, ProbeResult, as_float_array, near, show


def draws_of(value) -> np.ndarray | None:
    """The stacked results of a call probe, with or without the probe's extra fields."""
    return as_float_array(value["value"] if isinstance(value, dict) else value)


def ternary(out: np.ndarray, g: np.ndarray, s, calls: bool = False) -> np.ndarray:
    """Where `out` (draws of f(g, s)) lies in {0, s sign(g)}, element-wise (broadcast), to
    1e-9 of the largest |s sign(g)| (at least 1); with `calls`, axis 0 stacks separate calls,
    each with its own largest value."""
    allowed = np.asarray(s, dtype=float) * np.sign(g)
    exact = (out == 0) | (out == allowed)  # what s * sign(g) * b in float64 gives: no
    if exact.all():                        # tolerance needed (the common case, 5x cheaper)
        return exact
    axes = tuple(range(1, allowed.ndim)) if calls else None
    scale = np.max(np.abs(allowed), axis=axes, keepdims=calls, initial=1.0)
    return near(out, 0.0, 0, 1e-9 * scale) | near(out, allowed, 1e-9, 1e-9 * scale)


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
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.abs(g) / s
        usable = (s > 0) & (ratio > 0) & (ratio <= 1) & np.isfinite(out)
        ratio = ratio[usable]
        r.append(ratio)
        z.append(np.sign(g[usable]) * out[usable] / s[usable] - ratio)
    if not r:
        return ""
    r, z = np.concatenate(r), np.concatenate(z)
    for name, part in (("small", r < 0.5), ("large", r >= 0.5)):
        n = int(part.sum())
        if n and abs(z[part].mean()) > math.sqrt(math.log(8 / delta) / (2 * n)):
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


def outside_support(records: list, memo: dict | None = None) -> str:
    """What the first recorded call [g, s, out] that is not a ternary draw gives: "something
    other than numbers", "an array not shaped like its gradient" or "values outside
    {0, s sign(g)}"; "" where every one is."""
    stacks, problems = recorded_calls(records, memo)
    for _, g, s, out, indices in stacks:
        outside = ~ternary(out, g, s, calls=True).reshape(len(indices), -1).all(axis=1)
        problems.update((int(i), "support") for i in indices[outside])
    first = problems.get(min(problems, default=-1))
    return {"numbers": "something other than numbers",
            "shape": "an array not shaped like its gradient",
            "support": "values outside {0, s sign(g)}"}.get(first, "")
