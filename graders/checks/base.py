"""What every check shares: the probes it needs, its outcome, and conventions as variants.

A check compares one answer with the key in the trusted process. It declares the probes whose
results it reads (`Probe`: read a variable, or call a function on hidden inputs), and returns
an `Outcome`: the fraction of its points earned, a message that says why, displays of the
student's and the key's values, the tolerance, and the key variant the answer matched.

Where the text allows several answers (NOTES.md conventions), the key holds each as a named
variant; a check tries the accepted ones and keeps the best. The forms an answer may take
(history rows, layouts, log base, dict keys) are graders/checks/forms.py's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Probe:
    """A question for the worker. kind "value": read variable `name`; kind "call": call
    `name(*args)` `repeat` times with the RNGs seeded by `seed` (results stacked).

    Optional call features (None: not used); with any of them the decoded value is a dict
    {"value": stacked results, "batched": bool, "calls": [int], "records": [[args..., out]]}:
      seeds  call once per seed, the RNGs seeded with it (an arg {"t": "seed"} receives it);
      swap   {"name": F, "keep": N}: the student's global F is wrapped during the calls,
             counting its calls per run and recording the first N (args and result);
      batch  {"arg": i, "n": N}: one call with args[i] stacked N times along a new axis 0,
             used when it returns (N, *shape), else N separate calls;
      autograd  {"arg": i, "upstream": wire array}: array args as float32 torch tensors,
             args[i] requiring a gradient; the value is {"value": result, "grad": dL/d args[i]}
             for L = sum(upstream * result) (None without a graph).
    An arg {"t": "ref", "name": X} is the student's own object X. `name` may be a dotted path
    ("FP_layers.STE.apply"): its first part is the student's name or module file."""

    id: str
    kind: str
    name: str
    args: tuple = ()
    repeat: int = 1
    seed: int = 0
    seeds: tuple[int, ...] | None = None
    swap: dict | None = None
    batch: dict | None = None
    autograd: dict | None = None

    def wire(self) -> dict:
        wired = {"id": self.id, "kind": self.kind, "name": self.name, "args": list(self.args),
                 "repeat": self.repeat, "seed": self.seed}
        for name in ("seeds", "swap", "batch", "autograd"):
            if getattr(self, name) is not None:
                wired[name] = list(self.seeds) if name == "seeds" else dict(getattr(self, name))
        return wired


@dataclass
class ProbeResult:
    """A probe's decoded value, or why there is none (`error`)."""

    ok: bool
    value: Any = None
    error: str | None = None
    #: what checks derive from the value and share (statistical.recorded_calls), per result
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def missing(self) -> bool:
        """Read, and None: the student left the name unanswered."""
        return self.ok and self.value is None


class Deferred(ProbeResult):
    """A probe result decoded when it is first read (`ok`, `value`, `error`): `decode()`
    gives the ProbeResult. `name` names its value exactly (a formula: the digest of the
    tree it is built from, graders.symbolic.tree_name), so a check can recall what it
    decided about this very value before without decoding it (graders.checks.symbolic:
    building 2.1's W* takes ~0.1 s in a fresh judge); `known`: the value is known to decode
    to something that is not None (that tree built before), so `ok` and `missing` are
    answered without decoding."""

    def __init__(self, name: str, known: bool, decode: Callable[[], ProbeResult]):
        self.name, self.known, self._decode = name, known, decode
        self._result: ProbeResult | None = None
        self.memo = {}

    @property
    def decoded(self) -> ProbeResult | None:
        """The decoded result, None before it is first read."""
        return self._result

    def _read(self) -> ProbeResult:
        if self._result is None:
            self._result = self._decode()
        return self._result

    @property
    def ok(self) -> bool:
        return True if self.known else self._read().ok

    @property
    def value(self):
        return self._read().value

    @property
    def error(self) -> str | None:
        return self._read().error

    @property
    def missing(self) -> bool:
        return False if self.known else self._read().missing


@dataclass
class Plot:
    """Curves for the report: the student's and the key's, e.g. log L_i per step."""

    title: str
    ylabel: str
    student: np.ndarray | None
    key: np.ndarray | None
    band: tuple[np.ndarray, np.ndarray] | None = None
    labels: tuple[str, ...] = ()


@dataclass
class Outcome:
    """`message` is what the student may read: the symptom (where, which kind of mistake),
    never a key value, the key's formula or a count derived from the key. `detail` (shown to
    instructors only) may hold them. `expected` is the key's display (instructors only too)."""

    fraction: float
    message: str
    student: str = ""
    expected: str = ""
    tolerance: str = ""
    variant: str | None = None
    plots: list[Plot] = field(default_factory=list)
    detail: str = ""


class Check:
    """Base class: subclasses set `probes` and implement `evaluate(results)`. A failed probe
    scores the check zero with the probe's error, unless its id is in `optional` (then
    `evaluate` sees the failure and copes).

    Every check is hidden (`public = False`: it compares with the key and is graded after
    submission) unless it is public (graders/checks/public.py: form and sanity only, built
    without the key, run by the student kit and shown on Gradescope at once)."""

    kind = "check"
    public = False

    def __init__(self, id: str, title: str, probes: list[Probe], optional: frozenset = frozenset()):
        self.id, self.title, self.probes, self.optional = id, title, probes, optional

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        raise NotImplementedError

    def warm(self) -> None:
        """Do ahead what `evaluate` does alike for every answer and keeps (a judge calls it
        before its first request, while the worker runs the cells): nothing by default."""


def unique_probes(checks) -> dict[str, Probe]:
    """The probes of `checks`, each id once (checks of a submission share probes by id)."""
    unique: dict[str, Probe] = {}
    for check in checks:
        for probe in check.probes:
            unique.setdefault(probe.id, probe)
    return unique


def best_variant(variants: dict[str, Any], accepted: list[str],
                 score: Callable[[Any], Outcome]) -> Outcome:
    """Score the answer against every accepted variant; return the best, naming it where
    there was a choice."""
    best: Outcome | None = None
    for name in accepted:
        outcome = score(variants[name])  # its variant, if any, names the answer's form
        outcome.variant = (join(name if len(variants) > 1 else None, outcome.variant)
                           if outcome.fraction > 0 else None)
        if best is None or outcome.fraction > best.fraction:
            best = outcome
        if outcome.fraction >= 1:
            break
    assert best is not None, "a check needs at least one accepted variant"
    return best


def join(*names: str | None) -> str | None:
    """Names of a matched variant and of the answer's forms, "; "-separated; None if none."""
    return "; ".join(n for n in names if n) or None


#: Displays of numeric arrays by content (the key's are the same for every submission), at
#: most SHOWN_MAX, emptied when full.
_SHOWN: dict[tuple, str] = {}
SHOWN_MAX = 4096


def show(value, limit: int = 300) -> str:
    """A short display of a decoded value for reports (an array's formatted once per
    content: numpy's formatting costs about 0.1 ms an array)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            return _cut(_array_text(value), limit)
        content = (value.dtype.str, value.shape, limit,
                   hashlib.blake2b(value.tobytes(), digest_size=16).digest())
        text = _SHOWN.get(content)
        if text is None:
            if len(_SHOWN) >= SHOWN_MAX:
                _SHOWN.clear()
            text = _SHOWN[content] = _cut(_array_text(value), limit)
        return text
    return _cut(str(value), limit)


def _array_text(value: np.ndarray) -> str:
    with np.printoptions(precision=6, threshold=12, edgeitems=3, suppress=False):
        return f"array{list(value.shape)} " + np.array2string(value, separator=", ")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " ..."


def near(a, b, rtol: float, atol) -> np.ndarray:
    """np.isclose(a, b, rtol, atol), element-wise, at a quarter of its cost on the small
    arrays checks compare: |a - b| <= atol + rtol |b|, or a == b (infinities of one sign);
    NaN is close to nothing."""
    a, b = np.asarray(a), np.asarray(b)
    with np.errstate(invalid="ignore"):
        return ((np.abs(a - b) <= atol + rtol * np.abs(b)) & np.isfinite(b)) | (a == b)


def as_float_array(value) -> np.ndarray | None:
    """A numeric answer as a float64 array, or None for anything that is not numbers (a string,
    a function, a ragged list, a symbolic expression)."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float)):
        return np.array(float(value))
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            return None
        return value.astype(float)
    if isinstance(value, list):
        try:
            arr = np.array(value, dtype=float)
        except (TypeError, ValueError):
            return None
        return arr
    return None


def type_name(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array of {value.dtype}"
    return type(value).__name__
