"""Whitelist builders of sympy objects from untrusted data. TRUSTED side.

Two entry points, neither of which calls sympify, parse_expr or eval:

* `from_tree(node)`: the worker's expression tree, ["Symbol", name] | ["Integer", "12"] |
  ["Rational", "p", "q"] | ["Float", "0.5"] | [Head, child, ...] with Head in `HEADS`.
* `parse(text)`: a formula typed as text (an answer sheet), read with Python's `ast` and
  rebuilt node by node: numbers, names, + - * / ** ^ (power), unary minus, calls of the
  whitelisted functions, and nested lists for matrices. The word `lambda` (a Python keyword)
  is read as the symbol lambda.

Sizes are capped (nodes, depth, digits, text length) so a hostile value cannot exhaust the
grading process.
"""

from __future__ import annotations

import ast
import re

import sympy as sp

MAX_NODES = 200_000
MAX_DEPTH = 200
MAX_TEXT = 50_000
MAX_DIGITS = 400
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
HEADS = {"Add": lambda *a: sp.Add(*a), "Mul": lambda *a: sp.Mul(*a),
         "Pow": lambda b, e: sp.Pow(b, e), **FUNCTIONS}


class NotAnExpression(ValueError):
    """The data does not describe an expression the whitelist allows; the message says why."""


def from_tree(node) -> sp.Expr:
    count = [0]
    return _build(node, count, 0)


def _build(node, count, depth):
    count[0] += 1
    if count[0] > MAX_NODES or depth > MAX_DEPTH:
        raise NotAnExpression("expression too large")
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
        return HEADS[head](*built)
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
    if not (isinstance(rows, int) and isinstance(cols, int) and isinstance(items, list)):
        raise NotAnExpression("malformed matrix")
    if rows < 0 or cols < 0 or rows * cols != len(items) or rows * cols > 10_000:
        raise NotAnExpression("matrix shape does not match its entries")
    count = [0]
    return sp.Matrix(rows, cols, [_build(item, count, 0) for item in items])


# --- text -------------------------------------------------------------------------------------

KEYWORD_LAMBDA = re.compile(r"\blambda\b")
LAMBDA_STANDIN = "lambda_"

_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
           ast.Pow: lambda a, b: a ** b, ast.MatMult: lambda a, b: a * b}


def parse(text: str):
    """A formula written as text -> sympy expression, or Matrix for nested lists."""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise NotAnExpression("formula missing or too long")
    text = KEYWORD_LAMBDA.sub(LAMBDA_STANDIN, text.strip())  # `lambda` is a Python keyword
    text = text.replace("^", "**")  # x^2 as a mathematician writes it, with power's precedence
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise NotAnExpression(f"not a formula: {exc.msg}") from exc
    count = [0]
    return _from_ast(tree.body, count, 0)


def _from_ast(node, count, depth):
    count[0] += 1
    if count[0] > MAX_NODES or depth > MAX_DEPTH:
        raise NotAnExpression("formula too large")
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        if len(repr(node.value)) > MAX_DIGITS:
            raise NotAnExpression("number too long")
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
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _from_ast(node.operand, count, depth + 1)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id in FUNCTIONS and not node.keywords:
        args = [_from_ast(a, count, depth + 1) for a in node.args]
        try:
            return FUNCTIONS[node.func.id](*args)
        except TypeError as exc:
            raise NotAnExpression(f"{node.func.id} with {len(args)} arguments") from exc
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_from_ast(e, count, depth + 1) for e in node.elts]
        rows = [list(i) if isinstance(i, sp.MatrixBase) else [i] for i in items]
        if any(len(r) != len(rows[0]) for r in rows):
            raise NotAnExpression("matrix rows of different lengths")
        return sp.Matrix(rows)
    raise NotAnExpression(f"{type(node).__name__} is not allowed in a formula")
