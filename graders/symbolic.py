"""Whitelist builders of sympy objects from untrusted data. TRUSTED side.

Two entry points, neither of which calls sympify, parse_expr or eval:

* `from_tree(node)`: the worker's expression tree, ["Symbol", name] | ["Integer", "12"] |
  ["Rational", "p", "q"] | ["Float", "0.5"] | [Head, child, ...] with Head in `HEADS`.
* `parse(text)`: a formula typed as text (an answer sheet), read with Python's `ast` and
  rebuilt node by node: numbers, names, + - * / ** ^ (power), unary minus, calls of the
  whitelisted functions, and nested lists for matrices. The word `lambda` (a Python keyword)
  is read as the symbol lambda.

Sizes are capped before any work (nodes, depth, digits, text length, matrix entries) and
after every operation (no numeric exponent above MAX_EXPONENT in magnitude, no exact number
over MAX_NUMBER_BITS), so a hostile value cannot exhaust the grading process: sympy multiplies
and raises powers as it builds, and `2**10**10` would otherwise be computed here. A value
over a bound is a `NotAnExpression` whose message starts with "too large to check".

Trees already built in this process are remembered by the sha256 of their JSON text (a
batch's judge meets the same answer in many notebooks; building 2.1's W* takes ~0.1 s):
the same text always builds the same expression, and sympy expressions are immutable
(matrices are handed out as copies). `built_from(value)` gives that digest back for what
was handed out (an expression, or a matrix whose entries are those very objects): a name of
the exact expression that costs nothing to compute (graders.checks.symbolic keys its proofs
by it). `tree_name` gives the same name from the tree, before (or without) building it,
and `built_before` whether that tree built here or in an earlier process (a name-only
record in the grader's cache): a judge can then recall a proof about a formula without
building it (graders.execution.decoded defers the build).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import platform
import re
from pathlib import Path

import sympy as sp

from graders import cache

MAX_NODES = 200_000
MAX_DEPTH = 200
MAX_TEXT = 50_000
MAX_DIGITS = 400
MAX_EXPONENT = 1000
MAX_NUMBER_BITS = 8000  # about 2400 decimal digits
MAX_MATRIX = 10_000  # entries
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

#: Function heads accepted in trees and in text, and how to build them.
FUNCTIONS = {
    "sqrt": sp.sqrt, "exp": sp.exp, "log": sp.log, "sin": sp.sin, "cos": sp.cos,
    "tan": sp.tan, "Abs": sp.Abs, "abs": sp.Abs, "sign": sp.sign, "Max": sp.Max, "Min": sp.Min,
    "max": sp.Max, "min": sp.Min, "floor": sp.floor, "ceiling": sp.ceiling, "ceil": sp.ceiling,
    "log2": lambda x: sp.log(x, 2),
}
#: Constants known by name.
CONSTANTS = {"pi": sp.pi, "Pi": sp.pi, "E": sp.E, "Exp1": sp.E, "Half": sp.Rational(1, 2),
             "One": sp.Integer(1), "Zero": sp.Integer(0), "NegativeOne": sp.Integer(-1),
             "ImaginaryUnit": sp.I, "Infinity": sp.oo, "NegativeInfinity": -sp.oo}


class NotAnExpression(ValueError):
    """The data does not describe an expression the whitelist allows; the message says why."""


def too_large(what: str) -> NotAnExpression:
    return NotAnExpression(f"too large to check: {what}")


def power(base, exponent):
    """base**exponent, refused before sympy computes it where the exponent is over
    MAX_EXPONENT in magnitude, holds a number that large or a power of its own (a tower), or
    the exact result would be over MAX_NUMBER_BITS."""
    if not (isinstance(base, sp.Expr) and isinstance(exponent, sp.Expr)):
        raise NotAnExpression("powers of matrices are not allowed")
    numbers = [exponent] if exponent.is_Number else list(exponent.atoms(sp.Number))
    if any(_magnitude(n) > MAX_EXPONENT for n in numbers):
        raise too_large(f"an exponent over {MAX_EXPONENT}")
    if any(not p.exp.is_Number for p in exponent.atoms(sp.Pow)):
        raise too_large("a tower of powers")
    if base.is_Rational and exponent.is_Number and \
            _bits(base) * float(abs(exponent)) > MAX_NUMBER_BITS:
        raise too_large(f"a number of more than {MAX_NUMBER_BITS} bits")
    return bounded(sp.Pow(base, exponent))


def bounded(value):
    """`value` itself, after checking the bounds on it and on its direct arguments (where
    sympy's automatic simplification puts what an operation combined: x**600*x**600)."""
    for node in (value, *getattr(value, "args", ())):
        if isinstance(node, sp.Rational) and _bits(node) > MAX_NUMBER_BITS:
            raise too_large(f"a number of more than {MAX_NUMBER_BITS} bits")
        # sympy's exp has a slow isinstance; Pow(E, x) is a Pow, an exp(x) of class exp
        if (isinstance(node, sp.Pow) or issubclass(type(node), sp.exp)) and \
                node.exp.is_Number and \
                _magnitude(node.exp) > MAX_EXPONENT:
            raise too_large(f"an exponent over {MAX_EXPONENT}")
    return value


def _bits(number: sp.Rational) -> int:
    return max(abs(int(number.p)).bit_length(), int(number.q).bit_length())


def _magnitude(number) -> float:
    if isinstance(number, sp.Rational):
        return max(abs(int(number.p)), int(number.q))
    return abs(float(number)) if number.is_finite else float("inf")


HEADS = {"Add": lambda *a: sp.Add(*a), "Mul": lambda *a: sp.Mul(*a), "Pow": power, **FUNCTIONS}


#: Built expressions by the digest of their tree's JSON, at most _BUILT_AT_MOST of them.
_BUILT: dict[str, object] = {}
_BUILT_AT_MOST = 256
#: The same digests by identity(value) of what is in _BUILT (which keeps those objects, and
#: so their ids, alive; both are cleared together).
_NAMES: dict[tuple, str] = {}


def identity(value) -> tuple:
    """Which objects `value` is made of: (id,) of an expression; ("matrix", shape, the ids of
    its entries) of a matrix. Two values with the same identity while those objects live are
    the same expression (entries are immutable; a copy, or as_immutable(), shares them)."""
    if isinstance(value, sp.MatrixBase):
        return ("matrix", value.shape, *map(id, value))
    return (id(value),)


def built_from(value) -> str | None:
    """The sha256 of the tree JSON text that `value` was built from in this process (by
    from_tree or matrix_from_trees, and still remembered), or None: equal digests, the
    same expression. A matrix changed since it was handed out has other entries: None.
    The name holds only while what it was built into is in _BUILT (checked here), which
    keeps those ids from naming anything else."""
    value_identity = identity(value)
    name = _NAMES.get(value_identity)
    built = _BUILT.get(name) if name is not None else None
    return name if built is not None and identity(built) == value_identity else None


def tree_name(tree) -> str | None:
    """The sha256 of tree_text(tree) (`tree`: expr_tree or matrix_tree of a worker's
    value), under which its build is remembered; None where it has no JSON text."""
    try:
        return text_name(tree_text(tree))
    except (TypeError, ValueError, RecursionError):
        return None


def tree_text(tree) -> bytes:
    """The compact JSON text of a tree (what tree_name digests; json.loads of it gives
    the tree back, and its text again)."""
    return json.dumps(tree, separators=(",", ":")).encode()


def text_name(text) -> str:
    """tree_name of the tree whose tree_text is `text` (bytes or a view of them)."""
    return hashlib.sha256(text).hexdigest()


def expr_tree(node) -> list:
    """What from_tree(node) is remembered by (tree_name)."""
    return ["expr", node]


def matrix_tree(rows, cols, items) -> list:
    """What matrix_from_trees(rows, cols, items) is remembered by (tree_name)."""
    return ["matrix", rows, cols, items]


#: Trees known to build (their tree_name), beyond _BUILT: on disk, in the grader's cache
#: (graders/cache.py), named by the digest of the name and what decides a build (this
#: module's source, the versions of sympy and Python). An entry holds only `true`.
BUILDS = cache.JsonCache("formulas")
#: Names built_before answered False for: their first build here is written to BUILDS.
_ASKED: set[str] = set()


def built_before(name: str) -> bool:
    """Whether the tree named `name` (tree_name) built, here or in an earlier process of
    this grader (remembered since built_before asked about it): it builds again, to the
    same value, as a build depends on the tree's text and this code only."""
    if name in _BUILT or BUILDS.get(_builds_entry(name)) is True:
        return True
    if len(_ASKED) >= _BUILT_AT_MOST:
        _ASKED.clear()
    _ASKED.add(name)
    return False


@functools.lru_cache(maxsize=1)
def _version() -> str:
    """What decides whether a tree builds: this module, the versions of sympy and Python."""
    return cache.digest(sp.__version__, platform.python_version(), Path(__file__).read_text())


def _builds_entry(name: str) -> str:
    return cache.digest(_version(), "builds", name)


def _remembered(tree, build):
    """build() for the JSON value `tree`, remembered by the digest of its text; what fails
    to build (NotAnExpression) is not remembered."""
    name = tree_name(tree)
    if name is None:
        return build()
    if name not in _BUILT:
        value = build()
        if len(_BUILT) >= _BUILT_AT_MOST:
            _BUILT.clear()
            _NAMES.clear()
        _BUILT[name] = value
        _NAMES.setdefault(identity(value), name)
        if name in _ASKED:
            _ASKED.discard(name)
            BUILDS.put(_builds_entry(name), True)
    found = _BUILT[name]
    return found.copy() if isinstance(found, sp.MatrixBase) else found


def from_tree(node) -> sp.Expr:
    return _remembered(expr_tree(node), lambda: _build(node, [0], 0))


def _build(node, count, depth):
    count[0] += 1
    if count[0] > MAX_NODES or depth > MAX_DEPTH:
        raise too_large(f"more than {MAX_NODES} nodes or {MAX_DEPTH} levels")
    if not isinstance(node, list) or not node or not isinstance(node[0], str):
        raise NotAnExpression("malformed expression tree")
    head, args = node[0], node[1:]
    if head == "Symbol":
        return sp.Symbol(_name(args))
    if head in ("Integer", "Rational", "Float"):
        return _number(head, args)
    if head in CONSTANTS and not args:
        return CONSTANTS[head]
    if head not in HEADS:
        raise NotAnExpression(f"{head} is not an allowed operation")
    built = [_build(a, count, depth + 1) for a in args]
    try:
        return bounded(HEADS[head](*built))
    except TypeError as exc:
        raise NotAnExpression(f"{head} with {len(built)} arguments") from exc


def _name(args) -> str:
    if len(args) != 1 or not isinstance(args[0], str) or not NAME.match(args[0]):
        raise NotAnExpression("bad symbol name")
    return args[0]


def _number(head, args):
    if not all(isinstance(a, str) and len(a) <= MAX_DIGITS for a in args):
        raise NotAnExpression("bad number")
    try:
        if head == "Integer" and len(args) == 1:
            return sp.Integer(int(args[0]))
        if head == "Rational" and len(args) == 2:
            return sp.Rational(int(args[0]), int(args[1]))
        if head == "Float" and len(args) == 1:
            return sp.Float(float(args[0]))
    except (ValueError, ZeroDivisionError) as exc:
        raise NotAnExpression("bad number") from exc
    raise NotAnExpression("bad number")


def matrix_from_trees(rows, cols, items) -> sp.Matrix:
    return _remembered(matrix_tree(rows, cols, items),
                       lambda: _matrix_from_trees(rows, cols, items))


def _matrix_from_trees(rows, cols, items) -> sp.Matrix:
    if not (isinstance(rows, int) and isinstance(cols, int) and isinstance(items, list)):
        raise NotAnExpression("malformed matrix")
    if rows < 0 or cols < 0 or rows * cols != len(items):
        raise NotAnExpression("matrix shape does not match its entries")
    if len(items) > MAX_MATRIX:
        raise too_large(f"a matrix of more than {MAX_MATRIX} entries")
    count = [0]
    return sp.Matrix(rows, cols, [_build(item, count, 0) for item in items])


def matrix(rows) -> sp.Matrix:
    """A list (of lists) of numbers, formulas as text and sympy expressions -> Matrix, entry
    by entry through this whitelist: sp.Matrix(list) would sympify strings, which evaluates
    them. At most MAX_MATRIX entries, counted before any is converted."""
    if len(rows) > MAX_MATRIX:
        raise too_large(f"a matrix of more than {MAX_MATRIX} entries")
    if rows and all(isinstance(r, (list, tuple)) for r in rows):
        if sum(len(r) for r in rows) > MAX_MATRIX:
            raise too_large(f"a matrix of more than {MAX_MATRIX} entries")
        built = [[_entry(v) for v in r] for r in rows]
        if any(len(r) != len(built[0]) for r in built):
            raise NotAnExpression("matrix rows of different lengths")
        return sp.Matrix(built)
    return sp.Matrix([[_entry(v)] for v in rows])


def _entry(value):
    if isinstance(value, str):
        return parse(value)
    if isinstance(value, sp.Expr):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return bounded(sp.Integer(value))
    if isinstance(value, float):
        return sp.Float(value)
    if isinstance(value, complex):
        return sp.Float(value.real) + sp.I * sp.Float(value.imag)
    raise NotAnExpression(f"a matrix entry of type {type(value).__name__}")


# --- text -------------------------------------------------------------------------------------

KEYWORD_LAMBDA = re.compile(r"\blambda\b")
LAMBDA_STANDIN = "lambda_"

_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
           ast.Pow: power, ast.MatMult: lambda a, b: a * b}


def parse(text: str):
    """A formula written as text -> sympy expression, or Matrix for nested lists."""
    if not isinstance(text, str):
        raise NotAnExpression("formula missing")
    if len(text) > MAX_TEXT:
        raise too_large(f"a formula of more than {MAX_TEXT} characters")
    text = KEYWORD_LAMBDA.sub(LAMBDA_STANDIN, text.strip())  # `lambda` is a Python keyword
    text = text.replace("^", "**")  # x^2 as a mathematician writes it, with power's precedence
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise NotAnExpression(f"not a formula: {exc.msg}") from exc
    except (RecursionError, MemoryError):  # Python's parser on deeply nested text
        raise too_large(f"nested more than {MAX_DEPTH} levels") from None
    count = [0]
    return _from_ast(tree.body, count, 0)


def _from_ast(node, count, depth):
    count[0] += 1
    if count[0] > MAX_NODES or depth > MAX_DEPTH:
        raise too_large(f"more than {MAX_NODES} nodes or {MAX_DEPTH} levels")
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        if len(repr(node.value)) > MAX_DIGITS:
            raise too_large(f"a number of more than {MAX_DIGITS} digits")
        return sp.Integer(node.value) if isinstance(node.value, int) else sp.Float(node.value)
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id == LAMBDA_STANDIN:
            return sp.Symbol("lambda")
        if not NAME.match(node.id):
            raise NotAnExpression("bad name")
        return sp.Symbol(node.id)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left = _from_ast(node.left, count, depth + 1)
        right = _from_ast(node.right, count, depth + 1)
        try:
            return bounded(_BINOPS[type(node.op)](left, right))
        except NotAnExpression:
            raise
        except (TypeError, ValueError) as exc:  # a matrix with a scalar or of the wrong shape
            raise NotAnExpression(f"{type(node.op).__name__} of these operands: {exc}") from exc
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _from_ast(node.operand, count, depth + 1)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id in FUNCTIONS and not node.keywords:
        args = [_from_ast(a, count, depth + 1) for a in node.args]
        try:
            return bounded(FUNCTIONS[node.func.id](*args))
        except TypeError as exc:
            raise NotAnExpression(f"{node.func.id} with {len(args)} arguments") from exc
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_from_ast(e, count, depth + 1) for e in node.elts]
        rows = [list(i) if isinstance(i, sp.MatrixBase) else [i] for i in items]
        if any(len(r) != len(rows[0]) for r in rows):
            raise NotAnExpression("matrix rows of different lengths")
        return sp.Matrix(rows)
    raise NotAnExpression(f"{type(node).__name__} is not allowed in a formula")
