"""Decoding what a worker sent back: tagged JSON -> plain Python values. TRUSTED side.

Nothing here evaluates code: arrays are rebuilt from bytes with a whitelisted dtype and a
checked shape, numbers are parsed from strings, expression trees are rebuilt by the whitelist
in graders.symbolic. Anything malformed becomes `Malformed`, which every check treats as a
wrong answer of the wrong type.

Decoded values: None, bool, int, float, complex, str, np.ndarray, sympy.Expr, sympy.Matrix,
list, dict, or `Opaque` (a value of a type the wire does not carry, e.g. a function). A long
list of equal rows (a swapped function's recorded calls [g, s, out]) may come as columns, one
block of bytes each ("rows"), and decodes into the same list of lists; a long list of floats,
ints or arrays of one shape (a student's history of losses or weights) as one such column
("stack"), and decodes into the same list. A large float64 array
of at most PALETTE_MAX distinct values (a ternary quantiser's draws) may come "paletted": its
values in "palette" and one uint8 index per entry in "b64", decoded bit for bit.

Bounds are checked before the work they bound: nesting depth, items in the whole value,
array entries in the whole value, string and number lengths, an array's text against its
shape; a value over one is `Malformed` with a message that starts with "too large to check".

Between the grader and its judge (graders/judge.py) the arrays' base64 texts travel beside
the JSON rather than inside it (`split_arrays`: writing and reading 4 MB of text inside JSON
costs ~15 ms): an array node's "b64" is then {"blob": i, "of": nonce}, the i-th text of the
request's `Blobs`. The nonce is drawn per request after the job has ended, so a worker
cannot forge a reference (one it writes anyway is a malformed array). A value that is one
formula travels the same way (`split_formula`): {"t": "formula", "text": reference} to the
compact JSON text of its tree, which names it (symbolic.tree_name: a judge recalls a proof
by that name without parsing the tree) and decodes exactly as the node of that tree.

A probe's answer that is one formula comes from the worker already as that text,
{"t": "formula", "tree": "<JSON of the tree>"} (its encode_answer): the grader reads one
string rather than building a tree of 10^4 lists and writing it out again (~4.5 ms of a
duke-hw2 submission), and passes the text on unread. Being the worker's, the text is
checked where it is read: at most MAX_FORMULA_TEXT characters, ASCII, JSON of a formula's
tree written exactly as symbolic.tree_text writes it (else its name would not be that of
what it builds), the tree then built by the whitelist within its bounds. A "formula" node
with a "text" that is not a reference to a text of its request is an unknown tag.
"""

from __future__ import annotations

import binascii
import json
import math
from dataclasses import dataclass

import numpy as np

from graders import symbolic

DTYPES = {"<f8": np.float64, "<i8": np.int64, "|b1": np.bool_, "<c16": np.complex128}
MAX_ARRAY_ITEMS = 10_000_000  # entries of all arrays in one value together
MAX_INT_DIGITS = 400
MAX_ITEMS = 2_000_000  # tagged nodes in one value (the worker's cap)
MAX_DEPTH = 64  # lists and dicts in lists and dicts (the worker sends at most 12)
MAX_STR = 20_000  # characters per string (the worker cuts strings there)
PALETTE_MAX = 16  # distinct values of a paletted array (the worker's encode_palette)


@dataclass(frozen=True)
class Opaque:
    """A value the worker could not send as data; `type` is its type's name, for messages."""

    type: str


class Malformed(ValueError):
    """The worker's JSON does not follow the wire format."""


class Blobs:
    """The array texts sent beside one request's JSON (module docstring): `texts[i]` is
    the base64 text (bytes) of the array whose "b64" is {"blob": i, "of": nonce}."""

    def __init__(self, texts, nonce: str):
        self.texts, self.nonce = texts, nonce

    def text(self, reference: dict):
        index = reference.get("blob")
        if reference.get("of") != self.nonce or not isinstance(index, int) \
                or isinstance(index, bool) or not 0 <= index < len(self.texts):
            raise Malformed("bad array data")
        return self.texts[index]


class _Budget:
    """What is left to decode of one value: items (tagged nodes) and array entries, shared
    by the whole value, checked before each is built; and where its arrays' texts are."""

    def __init__(self, blobs: Blobs | None = None):
        self.items, self.array_items = MAX_ITEMS, MAX_ARRAY_ITEMS
        self.blobs = blobs

    def take(self, items: int = 1, array_items: int = 0) -> None:
        self.items -= items
        self.array_items -= array_items
        self.ensure(0)
        if self.array_items < 0:
            raise too_large(f"more than {MAX_ARRAY_ITEMS} array entries in one value")

    def ensure(self, items: int) -> None:
        """Raise now if `items` more cannot fit (a list's length, before its items)."""
        if items > self.items:
            raise too_large(f"more than {MAX_ITEMS} items in one value")


def too_large(what: str) -> Malformed:
    return Malformed(f"too large to check: {what}")


def decode(node, blobs: Blobs | None = None) -> object:
    """One tagged value -> a plain Python value, within the bounds above (`Malformed`);
    `blobs`: the texts its arrays refer to, where they were sent apart (split_arrays)."""
    return _decode(node, _Budget(blobs), 0)


def _decode(node, budget: _Budget, depth: int) -> object:
    if depth > MAX_DEPTH:
        raise too_large(f"nested more than {MAX_DEPTH} levels")
    budget.take()
    if not isinstance(node, dict) or not isinstance(node.get("t"), str):
        raise Malformed("not a tagged value")
    tag = node["t"]
    if tag == "none":
        return None
    if tag == "bool":
        return _typed(node.get("v"), bool)
    if tag == "int":
        digits = _typed(node.get("v"), str)
        if len(digits) > MAX_INT_DIGITS:
            raise too_large(f"an integer of more than {MAX_INT_DIGITS} digits")
        try:
            return int(digits)
        except ValueError as exc:
            raise Malformed("bad integer") from exc
    if tag == "float":
        return _float(node.get("v"))
    if tag == "str":
        return _string(node.get("v"))
    if tag == "array":
        return _array(node, budget)
    if tag == "expr":
        return symbolic.from_tree(node.get("tree"))
    if tag == "matrix":
        return symbolic.matrix_from_trees(node.get("rows"), node.get("cols"), node.get("items"))
    if tag == "formula":
        return _formula(node, budget.blobs)
    if tag == "rows":
        return _rows(node, budget, depth)
    if tag == "stack":
        return _stack(node, budget, depth)
    if tag == "list":
        items = _typed(node.get("items"), list)
        budget.ensure(len(items))
        return [_decode(item, budget, depth + 1) for item in items]
    if tag == "dict":
        pairs = _typed(node.get("items"), list)
        budget.ensure(2 * len(pairs))
        out = {}
        for pair in pairs:
            if not isinstance(pair, list) or len(pair) != 2:
                raise Malformed("bad dict item")
            key = _decode(pair[0], budget, depth + 1)
            if isinstance(key, np.ndarray) and key.shape == () and key.dtype.kind in "biuf":
                key = key.item()  # a numpy scalar key (np.float32(0.004)) is that number
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                key = repr(key)[:MAX_STR]
            out[key] = _decode(pair[1], budget, depth + 1)
        return out
    if tag in ("callable", "unsupported"):
        return Opaque(str(node.get("type", "unknown"))[:100])
    raise Malformed(f"unknown tag {str(tag)[:40]!r}")


def formula_name(node, blobs: Blobs | None = None) -> str | None:
    """Where `node` is one formula (an "expr" or "matrix" node, or a "formula" node: its
    tree as text, the worker's or sent apart by split_formula; not inside a container):
    the name graders.symbolic remembers what decode(node) builds under (tree_name, the same
    as built_from gives for that value), without building it; else None."""
    if type(node) is dict and node.get("t") == "formula":
        text = _formula_text(node, blobs)
        return None if text is None else symbolic.text_name(text)
    tree = _formula_tree(node)
    return None if tree is None else symbolic.tree_name(tree)


def _formula_tree(node) -> list | None:
    """The tree (symbolic.expr_tree or matrix_tree) that decode builds a formula node
    from; None for any other node."""
    if type(node) is not dict:
        return None
    if node.get("t") == "expr":
        return symbolic.expr_tree(node.get("tree"))
    if node.get("t") == "matrix":
        return symbolic.matrix_tree(node.get("rows"), node.get("cols"), node.get("items"))
    return None


def _formula_text(node: dict, blobs: Blobs | None):
    """The tree text (bytes) of a "formula" node: the worker's own ("tree", an ASCII string:
    the worker's encode_answer) or, once split_formula moved it apart, the text its "text"
    reference names in `blobs`. None where it has neither: a reference to none of `blobs`
    (a worker cannot write one that does) is an unknown tag, and so is a "tree" beside a
    "text"."""
    inline = node.get("tree")
    if "text" not in node:
        return inline.encode("ascii") if type(inline) is str and inline.isascii() else None
    try:
        return blobs.text(node.get("text")) if blobs is not None else None
    except (Malformed, AttributeError):
        return None


#: The longest formula text read (symbolic.MAX_NODES nodes written out take far less).
MAX_FORMULA_TEXT = 40 * symbolic.MAX_NODES


def _formula(node: dict, blobs: Blobs | None):
    """What decode gives for a "formula" node: the formula its tree text builds, exactly as
    the "expr" or "matrix" node of that tree. The text is the worker's: read only up to
    MAX_FORMULA_TEXT, it must be JSON of ["expr", tree] or ["matrix", rows, cols, items]
    written as symbolic.tree_text writes it (so that its name, the digest of the text, is
    the name of the formula it builds); graders.symbolic builds it within its bounds."""
    text = _formula_text(node, blobs)
    if text is None:
        raise Malformed("unknown tag 'formula'")
    if len(text) > MAX_FORMULA_TEXT:
        raise too_large(f"a formula of more than {MAX_FORMULA_TEXT} characters")
    text = bytes(text)
    try:
        tree = json.loads(text)
        plain = type(tree) is list and len(tree) == {"expr": 2, "matrix": 4}.get(
            tree[0] if tree and type(tree[0]) is str else None) \
            and symbolic.tree_text(tree) == text
    except (ValueError, RecursionError) as exc:
        raise Malformed("bad formula text") from exc
    if not plain:
        raise Malformed("bad formula text")
    if tree[0] == "expr":
        return symbolic.from_tree(tree[1])
    return symbolic.matrix_from_trees(*tree[1:])


def _string(value) -> str:
    value = _typed(value, str)
    if len(value) > MAX_STR:
        raise too_large(f"a string of more than {MAX_STR} characters")
    return value


def _typed(value, kind):
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise Malformed(f"expected {kind.__name__}")
    return value


def _float(text) -> float:
    text = _typed(text, str)
    if len(text) > 40:
        raise too_large("a float of more than 40 characters")
    try:
        value = float(text)
    except ValueError as exc:
        raise Malformed("bad float") from exc
    return value


def _array(node: dict, budget: _Budget) -> np.ndarray:
    dtype = DTYPES.get(node.get("dtype"))
    shape = node.get("shape")
    if dtype is None or not isinstance(shape, list) or len(shape) > 8:
        raise Malformed("bad array header")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise Malformed("bad array shape")
    count = math.prod(shape)
    budget.take(array_items=count)
    text = node.get("b64")
    if isinstance(text, dict) and budget.blobs is not None:
        text = budget.blobs.text(text)
    if "palette" not in node:
        return _bytes(text, count, dtype).reshape(shape).copy()
    values = _palette(node["palette"], dtype)  # (the worker's encode_palette)
    index = _bytes(text, count, np.uint8)
    if count and int(index.max()) >= len(values):
        raise Malformed("bad array palette")
    return values[index].reshape(shape)


def _palette(text, dtype) -> np.ndarray:
    """A paletted array's distinct values: 1 to PALETTE_MAX float64 in base64."""
    if dtype is not np.float64 or not isinstance(text, str) or \
            not 0 < len(text) <= 4 * -(-PALETTE_MAX * 8 // 3):
        raise Malformed("bad array palette")
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)
    except ValueError as exc:
        raise Malformed("bad array palette") from exc
    if not raw or len(raw) % 8:
        raise Malformed("bad array palette")
    return np.frombuffer(raw, dtype=np.float64)


def _bytes(text, count: int, dtype) -> np.ndarray:
    """`count` entries of `dtype` from their base64 `text` (a view of the decoded bytes);
    its length is checked before it is decoded."""
    if not isinstance(text, (str, bytes, memoryview)):
        raise Malformed("bad array data")
    if len(text) != 4 * -(-count * np.dtype(dtype).itemsize // 3):
        raise Malformed("array data does not match its shape")
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)
    except ValueError as exc:  # binascii.Error, or a str that is not ASCII
        raise Malformed("bad array data") from exc
    if len(raw) != count * np.dtype(dtype).itemsize:
        raise Malformed("array data does not match its shape")
    return np.frombuffer(raw, dtype=dtype)


ROW_ITEMS = {"float": "<f8", "int": "<i8", "array": None}  # a column's items: wire dtype


def _rows(node: dict, budget: _Budget, depth: int) -> list:
    """A table sent as columns (the worker's encode_rows) -> the list of `n` lists it stands
    for, exactly as item-by-item decoding would give it (_column). Counts, shapes and sizes
    are checked before anything is built."""
    if depth + 2 > MAX_DEPTH:
        raise too_large(f"nested more than {MAX_DEPTH} levels")
    n, columns = node.get("n"), _typed(node.get("columns"), list)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0 or not 0 < len(columns) <= 64:
        raise Malformed("bad rows header")
    budget.ensure(n * (1 + len(columns)))
    budget.take(items=n * (1 + len(columns)))
    decoded = [_column(column, n, budget) for column in columns]
    return [list(row) for row in zip(*decoded)]


def _stack(node: dict, budget: _Budget, depth: int) -> list:
    """A list sent as one column (the worker's encode_stack: a student's history of losses
    or weights) -> the list of `n` items it stands for, exactly as item-by-item decoding
    would give it (_column). Checked as _rows checks."""
    if depth + 1 > MAX_DEPTH:
        raise too_large(f"nested more than {MAX_DEPTH} levels")
    n = node.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise Malformed("bad stack header")
    budget.ensure(n)
    budget.take(items=n)
    return _column(node.get("column"), n, budget)


def _column(column, n: int, budget: _Budget) -> list:
    """The `n` items of one column, an array node of shape [n, *item shape] with "item":
    "float" or "int" (1-d, "<f8" or "<i8"): Python numbers; "array": arrays of the item
    shape (0-d where the block is 1-d), the block's rows."""
    if not isinstance(column, dict) or column.get("t") != "array" \
            or column.get("item") not in ROW_ITEMS:
        raise Malformed("bad column")
    item, shape = column["item"], column.get("shape")
    if not isinstance(shape, list) or not shape or shape[0] != n:
        raise Malformed("bad column shape")
    if item != "array" and (len(shape) != 1 or column.get("dtype") != ROW_ITEMS[item]):
        raise Malformed("bad column")
    block = _array(column, budget)
    return [block[i, ...] for i in range(n)] if item == "array" else block.tolist()


def encode_array(arr: np.ndarray) -> dict:
    """The wire form of a (trusted) array, for probe inputs sent to the worker."""
    arr = np.asarray(arr, dtype="<f8").astype("<f8", order="C")
    return {"t": "array", "dtype": "<f8", "shape": list(arr.shape),
            "b64": binascii.b2a_base64(arr.tobytes(), newline=False).decode("ascii")}


def split_formula(node, texts: list, nonce: str):
    """`node` (a tagged value as the worker sent it) where it is one formula, with its
    tree's text (which names it) moved to the end of `texts` and replaced by a reference:
    {"t": "formula", "text": {"blob": index, "of": nonce}}; a judge names the formula from
    that text without reading it (formula_name) and reads it only to build it. The text
    is the worker's own, as it came, for a "formula" node (encode_answer), and what
    symbolic.tree_text writes for an "expr" or "matrix" node. None for any other node, or
    one with no such text."""
    if type(node) is dict and node.get("t") == "formula":
        text = _formula_text(node, None)
    else:
        tree = _formula_tree(node)
        if tree is None:
            return None
        try:
            text = symbolic.tree_text(tree)
        except (TypeError, ValueError, RecursionError):
            return None
    if text is None:
        return None
    texts.append(text)
    return {"t": "formula", "text": {"blob": len(texts) - 1, "of": nonce}}


#: Tagged nodes split_arrays visits in one value at most; arrays past them stay inline.
SPLIT_NODES = 100_000


def split_arrays(node, texts: list, nonce: str):
    """`node` (a tagged value as the worker sent it) with the base64 text of each array it
    holds moved to the end of `texts` (as ASCII bytes) and replaced by a reference
    {"blob": index, "of": nonce}. Containers on the way are copied, `node` is left as it
    is. Only well-formed containers are followed, at most MAX_DEPTH deep and SPLIT_NODES
    items in all (a container with more items than are left is not entered): whatever is
    past them stays inline (it decodes the same, or is refused the same)."""
    return _split(node, 0, texts, nonce, [SPLIT_NODES])


def _split(node, depth: int, texts: list, nonce: str, visits: list):
    """split_arrays below `depth`; `visits`: [nodes it may still enter]. A function of its
    own, not a closure that calls itself: such a closure is a reference cycle, and `texts`
    (a request's array texts, ~1 MB) would live in it until the collector came by."""
    if type(node) is not dict or depth > MAX_DEPTH:
        return node
    tag = node.get("t")
    if tag == "array":
        text = node.get("b64")
        if type(text) is not str or not text.isascii():
            return node
        texts.append(text.encode("ascii"))
        return {**node, "b64": {"blob": len(texts) - 1, "of": nonce}}
    if tag == "stack" and visits[0] >= 1:
        visits[0] -= 1
        return {**node, "column": _split(node.get("column"), depth + 1, texts, nonce, visits)}
    inner = node.get("columns" if tag == "rows" else "items")
    if tag not in ("list", "dict", "rows") or type(inner) is not list or len(inner) > visits[0]:
        return node
    visits[0] -= len(inner)
    if tag == "dict":
        inner = [[p[0], _split(p[1], depth + 1, texts, nonce, visits)]
                 if type(p) is list and len(p) == 2 else p for p in inner]
    else:
        inner = [_split(item, depth + 1, texts, nonce, visits) for item in inner]
    return {**node, "columns" if tag == "rows" else "items": inner}
