"""Symbolic check: a formula equivalent to the key's, whatever algebraic form it takes.

The answer arrives as a sympy object rebuilt by graders.symbolic's whitelist (or as text,
parsed by it). Equivalence is decided in two steps:
  1. evaluation at random points with exact rationals: any difference is a proof of
     inequivalence, and the report shows the point (the key's value there to instructors);
  2. sympy.cancel(answer - key) == 0: a proof of equivalence for rational functions, which is
     what these problems' formulas are. Where cancel cannot decide (other functions), agreement
     at every random point is accepted and the report says so.

Proofs are remembered (a class hands in few distinct forms, and cancelling 2.1's W* takes
about half a second): per process, and on disk in the grader's cache (graders/cache.py,
`proofs/`), as JSON, under the sha256 of the names of the answer and the key, the seed, and
the source of the code that decides. An expression's name (`_name`) is the digest of the
exact tree text it was built from, where graders.symbolic built it from a worker's tree
(`built_from`: free, as the build itself is remembered by that digest), else its full
expression tree (`fingerprint`: every node's type and every atom exactly, Float precision
and Symbol assumptions included; some 15 ms a submission for 2.1's answers and keys),
remembered while the object lives (the keys). Two answers share an entry only if they are
the same expression. A worker's formula is named by its tree before it is built (a
Deferred probe result, graders.execution.decoded): where a proof under that name is found
(`recalled`), the check decides without building the answer at all.
"""

from __future__ import annotations

import functools
import platform
import random
from pathlib import Path

import sympy as sp

from graders import cache, symbolic
from graders.checks.base import Check, Deferred, Outcome, Probe, ProbeResult, best_variant

POINTS = 12
#: Proofs on disk (graders/cache.py): [equivalent, how, detail, answer shown, key shown].
PROOFS = cache.JsonCache("proofs")
#: In-process memory of proofs by name (a batch's judge keeps it across submissions).
_REMEMBERED: dict[str, tuple] = {}
_REMEMBER_AT_MOST = 512
#: Fingerprints by symbolic.identity, with the value (which keeps its ids from being reused).
_FINGERPRINTS: dict[tuple, tuple[object, str]] = {}


def as_sympy(value):
    """A decoded answer as a sympy Matrix or expression, or a reason it is not one."""
    if isinstance(value, str):
        try:
            value = symbolic.parse(value)
        except symbolic.NotAnExpression as exc:
            return None, f"could not read the formula: {exc}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = sp.nsimplify(value)
    if isinstance(value, list):  # entry by entry: sp.Matrix(list) would sympify (eval) strings
        try:
            value = symbolic.matrix(value)
        except symbolic.NotAnExpression as exc:
            return None, f"expected a sympy expression or Matrix, got a list that is not one: {exc}"
    if isinstance(value, (sp.Basic, sp.MatrixBase)):
        return value, ""
    return None, f"expected a sympy expression or Matrix, got {type(value).__name__}"


def compare(answer, key, seed: int = 0) -> tuple[bool, str, str]:
    """(equivalent, how, detail) for two expressions or matrices of expressions: `how` is
    safe for the student, `detail` may name the key's symbols or values. Remembered (module
    docstring)."""
    return judged(answer, key, seed)[:3]


def judged(answer, key, seed: int = 0) -> tuple[bool, str, str, str, str]:
    """compare()'s (equivalent, how, detail), then the answer and the key as shown (at most
    300 characters each), from memory, from the disk cache, or worked out and stored."""
    answer, key = _frozen(answer), _frozen(key)
    name = _proof_name(_name(answer), key, seed)
    found = _recalled(name)
    if found is None:
        found = _compare(answer, key, seed) + (str(answer)[:300], str(key)[:300])
        PROOFS.put(name, list(found))
        _remember(name, found)
    return found


def recalled(tree: str, key, seed: int = 0) -> tuple[bool, str, str, str, str] | None:
    """judged()'s answer for the answer built from the tree named `tree`
    (graders.symbolic.tree_name) where it is in memory or on disk, without building the
    answer; None where it is not (judged() then works it out)."""
    return _recalled(_proof_name("tree:" + tree, _frozen(key), seed))


def _frozen(value):
    return value.as_immutable() if isinstance(value, sp.MatrixBase) else value


def _proof_name(answer_name: str, key, seed: int) -> str:
    return cache.digest(_code_version(), answer_name, _name(key), seed)


def _recalled(name: str) -> tuple | None:
    """The proof stored under `name`, from memory or from the disk cache (kept in memory
    then); None where there is none of the expected shape."""
    if name in _REMEMBERED:
        return _REMEMBERED[name]
    stored = PROOFS.get(name)
    if not (isinstance(stored, list) and len(stored) == 5 and isinstance(stored[0], bool)
            and all(isinstance(v, str) for v in stored[1:])):
        return None
    found = tuple(stored)
    _remember(name, found)
    return found


def _remember(name: str, found: tuple) -> None:
    if len(_REMEMBERED) >= _REMEMBER_AT_MOST:
        _REMEMBERED.clear()
    _REMEMBERED[name] = found


@functools.lru_cache(maxsize=1)
def _code_version() -> str:
    """What decides a proof: this module, the whitelist builder, the versions of sympy and
    Python, POINTS."""
    sources = [Path(__file__).read_text(), Path(symbolic.__file__).read_text()]
    return cache.digest(sp.__version__, platform.python_version(), POINTS, *sources)


def _name(value) -> str:
    """An exact name of an expression or matrix (module docstring): "tree:" and the digest
    of the tree it was built from, or "exact:" and its fingerprint."""
    built = symbolic.built_from(value)
    if built is not None:
        return "tree:" + built
    identity = symbolic.identity(value)
    if identity not in _FINGERPRINTS:
        if len(_FINGERPRINTS) >= _REMEMBER_AT_MOST:
            _FINGERPRINTS.clear()
        _FINGERPRINTS[identity] = (value, fingerprint(value))
    return "exact:" + _FINGERPRINTS[identity][1]


def fingerprint(value) -> str:
    """An exact text of an expression or matrix: every node's class in prefix order, every
    atom by its exact content (Integer p, Rational p/q, Float mantissa and precision, Symbol
    name and assumptions, anything else by srepr). Equal texts, identical expressions. A
    walk with a stack, linear in the tree (a 10,000-node answer takes milliseconds)."""
    out = [f"{type(value).__name__}{getattr(value, 'shape', '')}"]
    stack = list(reversed(list(value))) if isinstance(value, sp.MatrixBase) else [value]
    while stack:
        node = stack.pop()
        if node is _CLOSE:
            out.append(")")
        elif not isinstance(node, sp.Basic):
            out.append(f"{type(node).__name__}:{node!r}")
        elif node.is_Atom:
            out.append(_atom(node))
        else:
            out.append(type(node).__name__ + "(")
            stack.append(_CLOSE)
            stack.extend(reversed(node.args))
    return ",".join(out)


_CLOSE = object()  # the end of a node's arguments in fingerprint's walk


def _atom(node) -> str:
    name = type(node).__name__
    if node.is_Symbol:
        return f"{name}({node.name!r},{sorted(node.assumptions0.items())})"
    if node.is_Integer:
        return f"{name}({int(node.p)})"
    if node.is_Rational:
        return f"{name}({int(node.p)},{int(node.q)})"
    if node.is_Float:
        return f"{name}({node._mpf_!r},{node._prec})"
    return sp.srepr(node)


def _compare(answer, key, seed: int) -> tuple[bool, str, str]:
    if isinstance(key, sp.MatrixBase):
        if not isinstance(answer, sp.MatrixBase):
            answer = sp.Matrix([answer])
        if answer.shape != key.shape:
            if answer.shape[::-1] == key.shape and 1 in key.shape:
                answer = answer.T
            else:
                return False, f"expected a {key.shape[0]}x{key.shape[1]} matrix, got " \
                              f"{answer.shape[0]}x{answer.shape[1]}", ""
        pairs = list(zip(answer, key))
    else:
        if isinstance(answer, sp.MatrixBase):
            if answer.shape != (1, 1):
                return False, "expected a single expression, got a matrix", ""
            answer = answer[0, 0]
        pairs = [(answer, key)]
    key_symbols = set().union(*(k.free_symbols for _, k in pairs))
    extra = set().union(*(a.free_symbols for a, _ in pairs)) - key_symbols
    if extra:
        names = ", ".join(sorted(map(str, extra)))
        return False, f"uses symbols the answer does not need: {names}", \
            f"the key uses only {', '.join(sorted(map(str, key_symbols)))}"
    rng = random.Random(seed)
    symbols = sorted(key_symbols, key=str)
    for _ in range(POINTS):
        point = {s: sp.Rational(rng.randint(-50, 50), rng.randint(1, 9)) for s in symbols}
        for index, (a, k) in enumerate(pairs):
            try:
                av, kv = a.xreplace(point), k.xreplace(point)
            except (TypeError, ValueError):  # pragma: no cover - sympy internals
                continue
            if kv.has(sp.zoo, sp.nan) or av.has(sp.zoo, sp.nan):
                continue  # a pole of either side: try another point
            if not _same_number(av, kv):
                at = ", ".join(f"{s}={v}" for s, v in list(point.items())[:6])
                where = f" (entry {index + 1})" if len(pairs) > 1 else ""
                return False, f"differs from the key{where} at {at} (yours gives {av})", \
                    f"the key gives {kv}"
    if all(sp.cancel(a - k) == 0 for a, k in pairs):
        return True, "equivalent (proved by cancellation)", ""
    return True, f"equal to the key at {POINTS} random points", ""


def _same_number(a, b) -> bool:
    """Exact equality, or within 1e-9 relative where the answer carries floats (0.5 for 1/2)."""
    difference = a - b
    if difference == 0:
        return True
    if not difference.has(sp.Float):
        return False
    try:
        return abs(complex(difference)) <= 1e-9 * (1 + abs(complex(b)))
    except TypeError:
        return False


class SymbolicCheck(Check):
    kind = "symbolic"

    def __init__(self, id, title, probe: Probe, variants: dict, accepted: list[str]):
        super().__init__(id, title, [probe])
        self.variants, self.accepted = variants, accepted

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        """Per variant: the proof recalled by the answer's tree where it is a formula not
        built yet (Deferred) and one was stored, else judged() on the built answer."""
        result = results[self.probes[0].id]
        tree = result.name if isinstance(result, Deferred) and result.decoded is None \
            else None
        read: list[tuple] = []  # as_sympy's (answer, why), made when first needed

        def score(key) -> Outcome:
            found = recalled(tree, key) if tree is not None else None
            if found is None:
                if not read:
                    read.append(as_sympy(result.value))
                answer, why = read[0]
                if answer is None:
                    return Outcome(0.0, why, str(result.value)[:300], str(key)[:300])
                found = judged(answer, key)
            same, how, detail, answer_shown, key_shown = found
            return Outcome(1.0 if same else 0.0, how, answer_shown, key_shown,
                           "exact (symbolic)", detail=detail)

        return best_variant(self.variants, self.accepted, score)
