"""A fixed-point quantiser with a straight-through estimator, probed on hidden tensors and
credited per property (duke-hw4 Lab 2 (a)).

The student's `STE.apply(w, bit)` runs in the worker (an `autograd` probe) on hidden float32
CPU tensors w of several shapes, signs and ranges, at bit None, 0 and 1..8, and on a constant
tensor; each call returns wq and dL/dw for L = sum(u * wq) with a hidden upstream gradient u.
The handout's quantiser (lecture 14 p. 9), with s = 2**b - 1 steps:

    beta = min(w),  alpha = max(w) - beta,  wq = alpha * round((w - beta) / alpha * s) / s + beta

A property is a set of cases and a test that holds for the handout's quantiser and for every
quantiser that is right in this respect though wrong in others, so a mistake loses the
property it breaks and only that one:

  edge        bit None keeps w; bit 0 gives zeros; a constant tensor (max = min) comes back
              unchanged (the reference) or all NaN (the handout's formula divides 0 by 0)
  levels      on one-signed tensors: the output's distinct values are evenly spaced, with at
              most s gaps between the smallest and the largest (2**b levels)
  range       on tensors with min = -max: min and max are levels (the bias beta puts the
              lowest level at min(w))
  rounding    on tensors with both signs: every element is within alpha / (2 s) of its input
              (rounded to the nearest level after scaling to [0, s])
  gradient    dL/dw = u wherever bit >= 1 (straight through)
  asymmetric  on tensors whose range is not symmetric about 0: max(wq) - min(wq) = alpha (the
              levels span [min, max], not [-max|w|, max|w|])

Every property also needs the output to be a quantisation at all (the gate): finite, of w's
shape, and on a non-constant tensor at most 2**(b+1) + 1 distinct values, at least 2 from
b = 2 on (1 bit may round a symmetric range to one level). An identity,
a constant or noise earns nothing. Tolerances scale with the tensor: atol = 1e-5 * max|w|.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graders import wire
from graders.checks.base import Check, Outcome, Probe, ProbeResult

BITS = (None, 0, 1, 2, 3, 4, 5, 6, 7, 8)
#: Tensor kinds: how each hidden tensor is drawn (from a seeded generator) and its shape.
KINDS = {
    "positive": ((32, 16, 3, 3), lambda g, n: 0.05 + 0.1 * np.abs(g.standard_normal(n))),
    "negative": ((10, 64), lambda g, n: -0.3 - 0.5 * g.random(n)),
    "mixed": ((16, 16, 3, 3), lambda g, n: 0.1 + 0.2 * g.standard_normal(n)),
    "wide": ((300,), lambda g, n: 2.0 * g.standard_normal(n) - 0.5),
    "symmetric": ((16, 8, 3, 3), lambda g, n: _symmetric(0.3 * g.standard_normal(n))),
    "symmetric_small": ((64,), lambda g, n: _symmetric(0.01 * g.standard_normal(n))),
}
CONSTANT = ((8, 8), 0.37, (2, 4))  # shape, value, bits
ONE_SIGNED = ("positive", "negative")
BOTH_SIGNS = ("mixed", "wide", "symmetric", "symmetric_small")
ASYMMETRIC = ("positive", "negative", "mixed", "wide")
SYMMETRIC = ("symmetric", "symmetric_small")

PROPERTIES = {
    "edge": "bit None keeps w, bit 0 gives zeros, a constant tensor is kept",
    "levels": "levels: 2**bit - 1 steps between the smallest and the largest level",
    "range": "range: min and max of w are levels (the bias beta)",
    "rounding": "rounding after scaling: each weight moves to the nearest level",
    "gradient": "gradient straight through to w",
    "asymmetric": "asymmetric range: the levels span [min(w), max(w)]",
}
#: What the reference (reference.quantization.STE) does, shown to instructors as the key.
REFERENCE = {
    "edge": "bit None: w; bit 0: zeros; max = min: w unchanged (the reference; all NaN, the "
            "handout's 0/0, is accepted too)",
    "levels": "levels beta + alpha k / (2**bit - 1), k = 0..2**bit - 1",
    "range": "min(wq) = min(w), max(wq) = max(w)",
    "rounding": "|wq - w| <= alpha / (2 (2**bit - 1))",
    "gradient": "dL/dw = dL/dwq (backward returns the incoming gradient and None for bit)",
    "asymmetric": "max(wq) - min(wq) = max(w) - min(w)",
}
WHAT = {"positive": "a tensor of positive weights", "negative": "a tensor of negative weights",
        "mixed": "a tensor of weights of both signs", "wide": "a tensor with a wide range",
        "symmetric": "a tensor whose range is symmetric about 0",
        "symmetric_small": "a small tensor whose range is symmetric about 0",
        "constant": "a constant tensor (max = min)"}


def _symmetric(x: np.ndarray) -> np.ndarray:
    """x with its first two entries set to -m and m, m = 1.1 max|x|: min(x) = -max(x)."""
    m = 1.1 * np.abs(x).max()
    x[:2] = -m, m
    return x


@dataclass(frozen=True)
class Case:
    """One call STE.apply(w, bit): `kind` names the tensor (KINDS, or "constant")."""

    id: str
    kind: str
    bit: int | None
    w: np.ndarray  # float32
    upstream: np.ndarray  # float32, w's shape

    @property
    def where(self) -> str:
        return f"bit {self.bit} on {WHAT[self.kind]}"


def cases(seed: int) -> list[Case]:
    """The hidden cases: every KIND at every bit of BITS, and the constant tensor at its bits;
    tensors and upstream gradients drawn from numpy's default_rng(seed)."""
    rng = np.random.default_rng(seed)
    out = []
    for kind, (shape, draw) in KINDS.items():
        n = int(np.prod(shape))
        w = draw(rng, n).astype(np.float32).reshape(shape)
        for bit in BITS:
            upstream = rng.standard_normal(shape).astype(np.float32)
            out.append(Case(f"ste:{kind}:{bit}", kind, bit, w, upstream))
    shape, value, bits = CONSTANT
    for bit in bits:
        w = np.full(shape, value, dtype=np.float32)
        out.append(Case(f"ste:constant:{bit}", "constant", bit, w,
                        rng.standard_normal(shape).astype(np.float32)))
    return out


def probe(case: Case, name: str) -> Probe:
    """STE.apply(w, bit) with the gradient of sum(upstream * wq) (an autograd probe)."""
    return Probe(case.id, "call", name, (wire.encode_array(case.w), case.bit),
                 autograd={"arg": 0, "upstream": wire.encode_array(case.upstream)})


class QuantiserProperty(Check):
    """One property of PROPERTIES over the shared cases, all or nothing (module doc)."""

    kind = "probe"

    def __init__(self, id: str, prop: str, all_cases: list[Case],
                 name: str = "FP_layers.STE.apply"):
        self.prop, self.cases = prop, all_cases
        probes = [probe(c, name) for c in all_cases]
        super().__init__(id, f"STE: {PROPERTIES[prop]}", probes,
                         optional=frozenset(p.id for p in probes))

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        failed = [(c, results[c.id]) for c in self.cases if not results[c.id].ok]
        if failed:
            return Outcome(0.0, probe_failure(failed[0][0], failed[0][1].error or "failed",
                                              len(failed), len(self.cases)))
        outputs = {}
        for case in self.cases:
            value, grad = read(results[case.id].value)
            if value is None:
                return Outcome(0.0, f"{self.prop}: not checked: STE.apply returned no tensor "
                                    f"at {case.where}")
            outputs[case.id] = (value, grad)
        gate = not_quantised(self.cases, outputs)
        if gate:
            return Outcome(0.0, f"{self.prop}: not checked: the output is not a quantisation "
                                f"of w ({gate})")
        broken = TESTS[self.prop](self.cases, outputs)
        expected = REFERENCE[self.prop]
        if broken:
            return Outcome(0.0, f"{self.prop} broken ({PROPERTIES[self.prop]}): at {broken}",
                           expected=expected)
        return Outcome(1.0, f"{self.prop}: holds on every hidden tensor", expected=expected)


def probe_failure(case: Case, error: str, count: int, total: int) -> str:
    """The message for probes that raised; a GPU call on the CPU-only grader said plainly."""
    from graders.execution import NO_GPU, needs_gpu
    if needs_gpu(error):
        return (f"STE.apply failed on a CPU tensor ({count} of {total} calls): {NO_GPU}. "
                f"Error: {error}")
    return f"STE.apply failed at {case.where} ({count} of {total} calls): {error}"


def read(value) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(wq, grad) as float64 arrays from an autograd probe's {"value", "grad"} (None where
    missing or not numbers)."""
    if not isinstance(value, dict):
        return None, None
    out = [v.astype(float) if isinstance(v, np.ndarray) and v.dtype.kind in "biuf" else None
           for v in (value.get("value"), value.get("grad"))]
    return out[0], out[1]


def _atol(w: np.ndarray) -> float:
    return 1e-5 * max(float(np.abs(w).max()), 1e-12)


def not_quantised(all_cases: list[Case], outputs: dict) -> str | None:
    """Where the gate fails (module doc), or None."""
    for case in all_cases:
        wq = outputs[case.id][0]
        if wq.shape != case.w.shape:
            return f"at {case.where} its shape is not the shape of w"
        if case.bit is None or case.bit == 0 or case.kind == "constant":
            continue
        if not np.isfinite(wq).all():
            return f"at {case.where} it holds NaN or infinity"
        count = np.unique(wq).size
        if not (2 if case.bit >= 2 else 1) <= count <= 2 ** (case.bit + 1) + 1:
            return (f"at {case.where} it takes {'one value' if count < 2 else 'more values'}"
                    f" {'only' if count < 2 else 'than a ' + str(case.bit) + '-bit quantiser'}")
    return None


def _quantised(all_cases, kinds):
    return [c for c in all_cases if c.kind in kinds and isinstance(c.bit, int) and c.bit >= 1]


def test_edge(all_cases, outputs) -> str | None:
    for case in all_cases:
        wq, w = outputs[case.id][0], case.w.astype(float)
        if case.bit is None and not np.allclose(wq, w, rtol=0, atol=_atol(w)):
            return f"{case.where}: w is not kept as it is"
        if case.bit == 0 and not np.allclose(wq, 0.0, rtol=0, atol=1e-12):
            return f"{case.where}: not all zeros"
        if case.kind == "constant" and not (np.isnan(wq).all() or
                                            np.allclose(wq, w, rtol=0, atol=_atol(w))):
            return f"{case.where}: neither w unchanged nor NaN"
    return None


def test_levels(all_cases, outputs) -> str | None:
    for case in _quantised(all_cases, ONE_SIGNED):
        gaps = grid_gaps(outputs[case.id][0])
        if gaps is None:
            return f"{case.where}: the levels are not evenly spaced"
        if gaps > 2 ** case.bit - 1:
            return f"{case.where}: more levels than {case.bit} bits hold"
    return None


def grid_gaps(wq: np.ndarray) -> int | None:
    """The number of steps between the smallest and largest value of wq when its distinct
    values lie on one evenly spaced grid (each within 5% of a step of a grid point), else None.
    The step is the span divided by the span's count of smallest gaps, rounded."""
    levels = np.unique(wq)
    if levels.size < 2:
        return 0
    span = levels[-1] - levels[0]
    steps = int(round(span / np.diff(levels).min()))
    position = (levels - levels[0]) / (span / steps)
    return steps if np.abs(position - np.round(position)).max() <= 0.05 else None


def test_range(all_cases, outputs) -> str | None:
    for case in _quantised(all_cases, SYMMETRIC):
        wq, w = outputs[case.id][0], case.w.astype(float)
        if abs(wq.min() - w.min()) > _atol(w) or abs(wq.max() - w.max()) > _atol(w):
            return f"{case.where}: the smallest or the largest weight is not kept"
    return None


def test_rounding(all_cases, outputs) -> str | None:
    for case in _quantised(all_cases, BOTH_SIGNS):
        wq, w = outputs[case.id][0], case.w.astype(float)
        half_step = (w.max() - w.min()) / (2 * (2 ** case.bit - 1))
        if np.abs(wq - w).max() > half_step + _atol(w):
            return f"{case.where}: a weight is moved further than to its nearest level"
    return None


def test_gradient(all_cases, outputs) -> str | None:
    for case in _quantised(all_cases, tuple(KINDS) + ("constant",)):
        grad = outputs[case.id][1]
        if grad is None or grad.shape != case.w.shape:
            return f"{case.where}: no gradient reaches w"
        if not np.allclose(grad, case.upstream, rtol=0, atol=1e-6):
            return f"{case.where}: the gradient reaching w is not the incoming gradient"
    return None


def test_asymmetric(all_cases, outputs) -> str | None:
    for case in _quantised(all_cases, ASYMMETRIC):
        wq, w = outputs[case.id][0], case.w.astype(float)
        if abs((wq.max() - wq.min()) - (w.max() - w.min())) > 2 * _atol(w):
            return f"{case.where}: the levels do not span the range of w"
    return None


TESTS = {"edge": test_edge, "levels": test_levels, "range": test_range,
         "rounding": test_rounding, "gradient": test_gradient, "asymmetric": test_asymmetric}
