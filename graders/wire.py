"""Decoding what a worker sent back: tagged JSON -> plain Python values. TRUSTED side.

Nothing here evaluates code: arrays are rebuilt from bytes with a whitelisted dtype and a
checked shape, numbers are parsed from strings, expression trees are rebuilt by the whitelist
in graders.symbolic. Anything malformed becomes `Malformed`, which every check treats as a
wrong answer of the wrong type.

Decoded values: None, bool, int, float, complex, str, np.ndarray, sympy.Expr, sympy.Matrix,
list, dict, or `Opaque` (a value of a type the wire does not carry, e.g. a function).
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

import numpy as np

from graders import symbolic

DTYPES = {"<f8": np.float64, "<i8": np.int64, "|b1": np.bool_, "<c16": np.complex128}
MAX_ARRAY_ITEMS = 10_000_000
MAX_INT_DIGITS = 400


@dataclass(frozen=True)
class Opaque:
    """A value the worker could not send as data; `type` is its type's name, for messages."""

    type: str


class Malformed(ValueError):
    """The worker's JSON does not follow the wire format."""


def decode(node) -> object:
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
            raise Malformed("integer too long")
        try:
            return int(digits)
        except ValueError as exc:
            raise Malformed("bad integer") from exc
    if tag == "float":
        return _float(node.get("v"))
    if tag == "str":
        return _typed(node.get("v"), str)
    if tag == "array":
        return _array(node)
    if tag == "expr":
        return symbolic.from_tree(node.get("tree"))
    if tag == "matrix":
        return symbolic.matrix_from_trees(node.get("rows"), node.get("cols"), node.get("items"))
    if tag == "list":
        return [decode(item) for item in _typed(node.get("items"), list)]
    if tag == "dict":
        out = {}
        for pair in _typed(node.get("items"), list):
            if not isinstance(pair, list) or len(pair) != 2:
                raise Malformed("bad dict item")
            key = decode(pair[0])
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                key = repr(key)
            out[key] = decode(pair[1])
        return out
    if tag in ("callable", "unsupported"):
        return Opaque(str(node.get("type", "unknown"))[:100])
    raise Malformed(f"unknown tag {tag!r}")


def _typed(value, kind):
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise Malformed(f"expected {kind.__name__}")
    return value


def _float(text) -> float:
    text = _typed(text, str)
    if len(text) > 40:
        raise Malformed("float too long")
    try:
        value = float(text)
    except ValueError as exc:
        raise Malformed("bad float") from exc
    return value


def _array(node: dict) -> np.ndarray:
    dtype = DTYPES.get(node.get("dtype"))
    shape = node.get("shape")
    if dtype is None or not isinstance(shape, list) or len(shape) > 8:
        raise Malformed("bad array header")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise Malformed("bad array shape")
    count = math.prod(shape)
    if count > MAX_ARRAY_ITEMS:
        raise Malformed("array too large")
    try:
        raw = base64.b64decode(_typed(node.get("b64"), str), validate=True)
    except ValueError as exc:
        raise Malformed("bad array data") from exc
    if len(raw) != count * np.dtype(dtype).itemsize:
        raise Malformed("array data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def encode_array(arr: np.ndarray) -> dict:
    """The wire form of a (trusted) array, for probe inputs sent to the worker."""
    arr = np.asarray(arr, dtype="<f8").astype("<f8", order="C")
    return {"t": "array", "dtype": "<f8", "shape": list(arr.shape),
            "b64": base64.b64encode(arr.tobytes()).decode("ascii")}
