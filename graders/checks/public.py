"""Public checks: the form and sanity of an answer, checked without the answer key.

Every check is public or hidden (`Check.public`, default hidden). A hidden check compares an
answer with the key and is graded after submission; a public check, the one kind here, reads
one graded name (or calls it on PUBLIC inputs declared with it, never the hidden ones) and
tests only what every right answer has:

  present     the name is defined and not None
  kind        "any" (present only) | "number" | "bool" | "array" | "dict" | "formula" |
              "function"
  shapes      an array's accepted shapes (the template's, and each form the hidden checks
              accept: (201,) or (200,) for a history recorded before or after each step);
              columns, flat rows, transposes, lists, float32, tensors and numbers written as
              text (`3.2M`) are read by graders.checks.forms.numbers
  finite      no NaN or inf
  decreasing  a loss history ends lower than it starts: mean of the last row < mean of the
              first (any log base keeps the order)
  levels      over `repeat` calls the outputs take at most `levels` distinct values (2**b
              for a b-bit quantiser, 3 for TernGrad), all within [-bound, bound]
  tensor      the call's array arguments are float32 torch tensors (a torch function such as
              an STE's apply; called as an autograd probe, its output read, its gradient not)
  keys        a dict holds an entry for each of these numbers (the handout's own T, lambda,
              matched as numbers: 5, 5.0, "5") or strings ("1.3", matched exactly): then
              kind/shapes/finite/decreasing apply to every entry

An `Expect` is the declaration (graders/assignments/public_<id>.py): the template's names,
kinds and shapes plus those properties, so public checks are built without the key and travel
into the student kit as JSON (`Expect.to_json` / `from_json`). A public check carries no
points; its message says what is wrong with the form, never a key value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from graders.checks import forms
from graders.checks.base import Check, Outcome, Probe, ProbeResult, show, type_name
from graders.wire import Opaque, encode_array

KINDS = ("any", "number", "bool", "array", "dict", "formula", "function")


@dataclass(frozen=True)
class Expect:
    """What graded name `name` must look like (see the module docstring). `call`: public
    arguments (plain JSON or wire-encoded arrays, `args`) to call it with `repeat` times,
    the properties then applying to the results (stacked along a new axis 0 when repeat > 1)."""

    name: str
    kind: str
    shapes: tuple[tuple[int, ...], ...] = ()
    finite: bool = False
    decreasing: bool = False
    keys: tuple[float | str, ...] = ()
    args: tuple | None = None
    repeat: int = 1
    levels: int | None = None
    bound: float | None = None
    tensor: bool = False
    what: str = ""  # a short description of the call's public input, for the title

    def __post_init__(self):
        assert self.kind in KINDS, f"{self.name}: unknown kind {self.kind!r}"

    def to_json(self) -> dict:
        """The fields that differ from their defaults, as plain JSON."""
        defaults = Expect(self.name, self.kind)
        return {k: v for k, v in asdict(self).items() if v != getattr(defaults, k)
                or k in ("name", "kind")}

    @classmethod
    def from_json(cls, data: dict) -> "Expect":
        data = dict(data)
        for name in ("shapes", "keys", "args"):
            if name in data:
                data[name] = tuple(tuple(s) if name == "shapes" else s for s in data[name])
        return cls(**data)


def call(name: str, *args, what: str = "", repeat: int = 1, **properties) -> dict:
    """Keyword arguments of an Expect that calls `name(*args)` on public inputs; numpy arrays
    among `args` are wire-encoded."""
    wired = tuple(encode_array(a) if isinstance(a, np.ndarray) else a for a in args)
    return dict(name=name, args=wired, what=what, repeat=repeat, **properties)


class PublicCheck(Check):
    """One Expect, checked on the student's value (or call results). Fraction 1 or 0."""

    kind = "public"
    public = True

    def __init__(self, expect: Expect):
        self.expect = expect
        e = expect
        if e.args is None:
            probe = Probe(f"public {e.name}", "value", e.name)
            title = f"{e.name}: {describe(e)}"
        else:
            probe = Probe(f"public {e.name}({e.what or 'public input'})", "call", e.name,
                          tuple(e.args), repeat=e.repeat, seed=1, autograd=_autograd(e))
            title = f"{e.name}({e.what or 'public input'}): {describe(e)}"
        super().__init__(f"form {e.name}" + (f"({e.what})" if e.args is not None else ""),
                         title, [probe])

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        value = results[self.probes[0].id].value
        if self.expect.tensor:  # an autograd probe's {"value", "grad"}: the output only
            value = value.get("value") if isinstance(value, dict) else value
        problem = inspect(self.expect, value)
        if problem:
            return Outcome(0.0, problem, show(value, 120))
        return Outcome(1.0, "form ok: " + describe(self.expect), show(value, 120))


def _autograd(e: Expect) -> dict | None:
    """The autograd probe feature for a tensor call (gradient of the output's sum)."""
    if not e.tensor:
        return None
    first = next(a for a in e.args if isinstance(a, dict) and a.get("t") == "array")
    return {"arg": e.args.index(first),
            "upstream": encode_array(np.ones(first["shape"], dtype=np.float32))}


def describe(e: Expect) -> str:
    """The properties in words, e.g. "array (201,) or (200,), finite, decreasing"."""
    parts = [e.kind if not e.keys else f"dict with entries {_keys(e)}"
             + (f" of {e.kind}" if e.kind != "dict" else "")]
    if e.shapes:
        parts[0] += " " + " or ".join(str(tuple(s)) for s in e.shapes)
    parts += [p for p, on in (("finite", e.finite), ("decreasing", e.decreasing)) if on]
    if e.levels:
        parts.append(f"at most {e.levels} distinct output values"
                     + (f" within +-{e.bound:g}" if e.bound is not None else ""))
    return ", ".join(parts)


def inspect(e: Expect, value) -> str:
    """What is wrong with `value` under `e`, in words ("" if nothing)."""
    if value is None:
        return f"no answer: {e.name} is None"
    if isinstance(value, (dict, list, str)) and not value:
        return f"no answer: {e.name} is empty"
    if isinstance(value, dict) and all(v is None for v in value.values()):
        return f"no answer: every entry of {e.name} is None"  # the template's placeholders
    if e.keys:
        if not isinstance(value, dict):
            return f"expected a dict keyed by {_keys(e)}, got {type_name(value)}"
        for k in e.keys:
            if isinstance(k, str):
                item, why = value.get(k), f"no entry {k!r}"
            else:
                item, why = forms.pick(value, k)
            if item is None:
                return f"no answer: entry {k} is None" if k in value else why
            problem = _inspect_one(e, item)
            if problem:
                return f"entry {k}: {problem}"
        return ""
    return _inspect_one(e, value)


def _keys(e: Expect) -> str:
    return ", ".join(k if isinstance(k, str) else f"{k:g}" for k in e.keys)


def _inspect_one(e: Expect, value) -> str:
    if value is None:
        return "no answer (None)"
    if e.kind == "any":
        return ""
    if e.kind == "function":
        return "" if isinstance(value, Opaque) else f"expected a function, got " \
                                                    f"{type_name(value)}"
    if e.kind == "bool":
        return "" if isinstance(value, (bool, np.bool_)) else \
            f"expected True or False, got {type_name(value)}"
    if e.kind == "formula":
        return _formula(value)
    if e.kind == "dict":
        return "" if isinstance(value, dict) else f"expected a dict, got {type_name(value)}"
    arr, why = _numbers(e, value)
    if arr is None:
        return why
    if e.finite and not np.isfinite(arr).all():
        return "contains NaN or inf"
    if e.decreasing and arr.ndim >= 1 and len(arr) >= 2 and \
            not np.mean(arr[-1]) < np.mean(arr[0]):
        return "does not decrease: the last entry is not below the first"
    if e.levels is not None:
        distinct = np.unique(np.round(arr.ravel(), 9))
        if len(distinct) > e.levels:
            return f"takes {len(distinct)} distinct values, more than {e.levels}"
        if e.bound is not None and np.abs(arr).max(initial=0.0) > e.bound * (1 + 1e-9):
            return f"outputs outside +-{e.bound:g}"
    return ""


def _numbers(e: Expect, value) -> tuple[np.ndarray | None, str]:
    """The numbers of `value` laid out in the first accepted shape that fits (a number: one
    value), or (None, why)."""
    shapes = [()] if e.kind == "number" else list(e.shapes)
    if not shapes:  # an array of any shape
        written = forms.numbers(value, np.shape(value) if isinstance(value, (list, np.ndarray))
                                else ())
        return (written[0], "") if written[0] is not None else (None, written[3])
    why = ""
    for shape in shapes:
        shape = (e.repeat, *shape) if e.repeat > 1 and e.args is not None else tuple(shape)
        arr, _halves, _form, why = forms.numbers(value, shape)
        if arr is not None:
            return arr, ""
        if not why.startswith("expected"):  # the shape fits, the numbers do not (NaN, text)
            return None, why
    if len(shapes) > 1:
        got = np.shape(value) if isinstance(value, (list, np.ndarray)) else type_name(value)
        return None, f"expected shape {' or '.join(str(tuple(s)) for s in shapes)}, got {got}"
    return None, why


def _formula(value) -> str:
    import sympy as sp
    if isinstance(value, (sp.Basic, sp.MatrixBase, str, int, float)) and \
            not isinstance(value, bool):
        return ""
    return f"expected a formula (sympy expression or matrix), got {type_name(value)}"


class HiddenCheck(Check):
    """Stands for a hidden check in the student kit, which has no key: it asks nothing and
    says when it is graded."""

    kind = "hidden"
    MESSAGE = "hidden check: graded after submission"

    def __init__(self, id: str, title: str):
        super().__init__(id, title, [])

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        return Outcome(0.0, self.MESSAGE)


def public_checks(table: dict[str, list[Expect]]) -> dict[str, list[PublicCheck]]:
    """An assignment's declaration {problem id: [Expect]} as public checks."""
    return {pid: [PublicCheck(e) for e in expects] for pid, expects in table.items()}
