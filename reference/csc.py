"""Compressed sparse column (CSC) encoding as in EIE (Han et al., 2016): duke-hw2 problems 4.1-4.3.

A matrix M with m rows and n columns is stored as three arrays, column by column, top to bottom:

    values     the stored entries ("virtual weights"): every nonzero, plus zero placeholders;
    rel_index  per stored entry, the number of zeros since the previous stored entry of the same
               column (since the column's start for its first entry), in b = index_bits bits,
               so at most 2^b - 1;
    col_ptr    the position in `values` where each column starts.

When a run of zeros would need a count above 2^b - 1, the zero that follows 2^b - 1 counted
zeros is stored as a placeholder (value 0, index 2^b - 1) and counting restarts after it, so a
gap of g zeros before a nonzero costs floor(g / 2^b) placeholders and leaves the index
g mod 2^b. Zeros after a column's last nonzero are not stored. Every stored entry sits on its own
row, so a column holds at most m entries.

Column pointer conventions (NOTES.md leaves both open): "n+1" entries (col_ptr[j] is the start
of column j, col_ptr[n] = len(values), as in scipy) or "n" entries (starts only; the last column
ends at len(values)). The width of a pointer entry is ceil(log2(V + 1)) bits for the largest value
V it must hold: "this-matrix" takes V = max(col_ptr); "worst-case" takes the largest value any
matrix of the same shape could need (max_pointer_value).

Problem 4.1 (index_bits = 2), columns separated by |:
    values     w0 w1 | w2 w3 w4 | 0 w5 | w6 0 w7 | w9 0 w8 | 0 w10 | | 0 w11 w12
    rel_index   1  3 |  2  1  2 | 3  1 |  0 3  0 |  2 3  0 | 3   2 | | 3   0   0
    col_ptr    0 2 5 7 10 13 15 15 18   ("n" drops the final 18)
Problem 4.2 (8-bit values, 18 entries: values 144 bits, rel_index 36 bits; dense 512 bits):
    "n+1" this-matrix 9 x 5 = 45 -> 225 bits; worst-case 9 x 7 = 63 -> 243 bits
    "n"   this-matrix 8 x 4 = 32 -> 212 bits; worst-case 8 x 6 = 48 -> 228 bits
Problem 4.3: see q43_total_bits and q43_max_k.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

POINTER_ENTRIES = ("n+1", "n")
POINTER_WIDTHS = ("this-matrix", "worst-case")

#: (row, column) of w_k in the duke-hw2 problem 4.1 matrix (8 x 8), k = 0..12.
HW_POSITIONS = (
    (1, 0), (5, 0),  # w0, w1
    (2, 1), (4, 1), (7, 1),  # w2, w3, w4
    (5, 2),  # w5
    (0, 3), (5, 3),  # w6, w7
    (7, 4), (2, 4),  # w8, w9 (w9 is printed above w8 in the handout)
    (6, 5),  # w10
    (4, 7), (5, 7),  # w11, w12
)

DEFAULT_PARAMS = {
    "index_bits": 2,  # 4.1: 2-bit relative row index
    "value_bits": 8,  # 4.2: 8-bit weights
    "q43_bits": 4,  # 4.3: 4-bit values and 4-bit relative index
    "q43_examples": ((3, 3), (4, 4), (6, 5), (8, 8), (10, 10)),  # (M, N) to evaluate 4.3 at
}

# 4.3 symbols: 2^M rows, 2^N columns, K stored entries per column (placeholders included).
M_, N_, K_ = sp.symbols("M N K", integer=True, nonnegative=True)


def hw_matrix() -> sp.Matrix:
    """The 8 x 8 matrix of problem 4.1: symbol w_k at HW_POSITIONS[k], zeros elsewhere."""
    M = sp.zeros(8, 8)
    for k, (r, c) in enumerate(HW_POSITIONS):
        M[r, c] = sp.Symbol(f"w{k}")
    return M


def encode(M, index_bits: int = 2, pointer_entries: str = "n+1"):
    """CSC-encode M ((m, n) numeric array, object array or sympy Matrix).

    Returns (values, rel_index, col_ptr): values has M's dtype (object for symbols) and holds 0
    for placeholders; rel_index is int in [0, 2^index_bits - 1]; col_ptr has n + 1 or n entries.
    """
    if pointer_entries not in POINTER_ENTRIES:
        raise ValueError(f"pointer_entries must be one of {POINTER_ENTRIES}")
    A = np.asarray(M)
    span = 2**index_bits  # a placeholder stands for span - 1 counted zeros plus itself
    values, rel_index, col_ptr = [], [], []
    for c in range(A.shape[1]):
        col_ptr.append(len(values))
        prev = -1
        for r in np.flatnonzero(A[:, c] != 0):
            placeholders, zeros = divmod(r - prev - 1, span)
            values += [0] * placeholders + [A[r, c]]
            rel_index += [span - 1] * placeholders + [zeros]
            prev = r
    if pointer_entries == "n+1":
        col_ptr.append(len(values))
    return (np.array(values, dtype=A.dtype), np.array(rel_index, dtype=int),
            np.array(col_ptr, dtype=int))


def _column_bounds(col_ptr, n_values: int, n_cols: int) -> np.ndarray:
    """The n + 1 column boundaries, from either pointer convention."""
    col_ptr = np.asarray(col_ptr, dtype=int)
    if len(col_ptr) == n_cols + 1:
        return col_ptr
    if len(col_ptr) == n_cols:
        return np.append(col_ptr, n_values)
    raise ValueError(f"col_ptr has {len(col_ptr)} entries; expected {n_cols} or {n_cols + 1}")


def decode(values, rel_index, col_ptr, shape, index_bits: int = 2) -> np.ndarray:
    """Inverse of encode: the dense (m, n) array (values' dtype; object arrays get int 0 for
    zeros). The pointer convention is read from len(col_ptr); index_bits bounds rel_index."""
    values = np.asarray(values)
    rel_index = np.asarray(rel_index, dtype=int)
    if np.any(rel_index > 2**index_bits - 1) or np.any(rel_index < 0):
        raise ValueError(f"relative index out of range for {index_bits} bits")
    bounds = _column_bounds(col_ptr, len(values), shape[1])
    M = np.zeros(shape, dtype=values.dtype)
    for c in range(shape[1]):
        row = -1
        for i in range(bounds[c], bounds[c + 1]):
            row += rel_index[i] + 1  # skip the counted zeros, land on the stored entry
            M[row, c] = values[i]
    return M


def max_pointer_value(shape, pointer_entries: str) -> int:
    """Worst case over all (m, n) matrices of the largest column-pointer value. Each column stores
    at most m entries (each entry, placeholders too, occupies its own row), so with n + 1
    pointers the last one can reach m * n; with n pointers (starts only) the largest is the start
    of the last column, m * (n - 1). For 8 x 8: 64 (7 bits) and 56 (6 bits)."""
    m, n = shape
    return m * n if pointer_entries == "n+1" else m * (n - 1)


def pointer_bits(col_ptr, shape, width: str) -> int:
    """Bits per column-pointer entry, ceil(log2(V + 1)) for the largest value V to be held:
    "this-matrix": V = max(col_ptr) of this encoding; "worst-case": V = max_pointer_value."""
    convention = "n+1" if len(col_ptr) == shape[1] + 1 else "n"
    if width == "this-matrix":
        return int(np.max(col_ptr)).bit_length()
    if width == "worst-case":
        return max_pointer_value(shape, convention).bit_length()
    raise ValueError(f"width must be one of {POINTER_WIDTHS}, got {width!r}")


def size_bits(values, rel_index, col_ptr, shape, *, value_bits: int, index_bits: int,
              width: str) -> dict:
    """Problem 4.2 accounting for one encoding: bits of each array, total, the dense baseline
    m * n * value_bits, compression_rate = dense / total and size_ratio = total / dense."""
    entry = pointer_bits(col_ptr, shape, width)
    sizes = {
        "values": len(values) * value_bits,
        "rel_index": len(rel_index) * index_bits,
        "pointer_entry_bits": entry,
        "col_ptr": len(col_ptr) * entry,
    }
    total = sizes["values"] + sizes["rel_index"] + sizes["col_ptr"]
    dense = shape[0] * shape[1] * value_bits
    return {**sizes, "total": total, "dense": dense, "compression_rate": sp.Rational(dense, total),
            "size_ratio": sp.Rational(total, dense)}


def q43_pointer_width(pointer_entries: str, width: str) -> sp.Expr:
    """Bits per pointer entry for 2^M x 2^N with K entries per column, ceil(log2(V + 1)):
    this-matrix  V = K 2^N ("n+1") or K (2^N - 1) ("n");
    worst-case   V = 2^M 2^N ("n+1") -> M + N + 1 bits, or 2^M (2^N - 1) ("n") -> M + N bits
                 (N >= 1), since a column holds at most 2^M entries."""
    if width == "worst-case":
        return M_ + N_ + 1 if pointer_entries == "n+1" else M_ + N_
    cols = 2**N_ if pointer_entries == "n+1" else 2**N_ - 1
    return sp.ceiling(sp.log(K_ * cols + 1, 2))


def q43_total_bits(pointer_entries: str, width: str, bits: int = 4) -> sp.Expr:
    """Problem 4.3 CSC size in bits: values and relative indices, `bits` each, for K 2^N entries,
    plus 2^N + 1 (or 2^N) pointers of q43_pointer_width bits:
        bits K 2^N + bits K 2^N + (2^N [+ 1]) * width."""
    n_ptr = 2**N_ + 1 if pointer_entries == "n+1" else 2**N_
    return 2 * bits * K_ * 2**N_ + n_ptr * q43_pointer_width(pointer_entries, width)


def q43_dense_bits(bits: int = 4) -> sp.Expr:
    """The uncompressed matrix: bits 2^(M+N)."""
    return bits * 2 ** (M_ + N_)


def q43_max_k(M: int, N: int, pointer_entries: str, width: str, bits: int = 4) -> int | None:
    """Largest K in [0, 2^M] with CSC strictly smaller than dense (None if not even K = 0).
    The total grows with K, so bisect on it."""
    total = q43_total_bits(pointer_entries, width, bits).subs({M_: M, N_: N})
    dense = int(q43_dense_bits(bits).subs({M_: M, N_: N}))

    def fits(k: int) -> bool:
        return int(total.subs(K_, k)) < dense

    if not fits(0):
        return None
    lo, hi = 0, 2**M  # fits(lo) holds; find the last k <= hi that fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


def q43_max_k_worst_case(pointer_entries: str, bits: int = 4) -> sp.Expr:
    """Closed form with the K-independent worst-case pointer width w: total < dense is
    2 bits K 2^N <= bits 2^(M+N) - P w - 1 (all integers), so
        K_max = floor((bits 2^(M+N) - P w - 1) / (2 bits 2^N)),
    a little below 2^(M-1) (K < 2^(M-1) if pointers were free)."""
    n_ptr = 2**N_ + 1 if pointer_entries == "n+1" else 2**N_
    w = q43_pointer_width(pointer_entries, "worst-case")
    return sp.floor((q43_dense_bits(bits) - n_ptr * w - 1) / (2 * bits * 2**N_))


def _names(values) -> list:
    return [str(v) if isinstance(v, sp.Basic) and v.is_Symbol else int(v) for v in values]


def build_key(params: dict | None = None) -> dict:
    """Every answer of problems 4.1-4.3:

    {"q41": {"values": [names / 0], "rel_index": [int], "col_ptr": {"n+1" | "n": [int]}},
     "q42": {"n+1" | "n": {"this-matrix" | "worst-case": size_bits dict}},
     "q43": {"dense_bits": expr, "pointer_width" / "total_bits": {conv: {width: expr}},
             "max_k_worst_case": {conv: expr}, "max_k_ignoring_pointers": expr,
             "examples": {"M=3,N=3": {conv: {width: int}, "ignoring_pointers": int}}}}

    Expressions are in the sympy symbols M, N, K (integer, nonnegative).
    """
    unknown = set(params or ()) - set(DEFAULT_PARAMS)
    if unknown:
        raise KeyError(f"unknown params: {sorted(unknown)}")
    p = {**DEFAULT_PARAMS, **(params or {})}
    b, vb, qb = p["index_bits"], p["value_bits"], p["q43_bits"]
    W = hw_matrix()
    enc = {pe: encode(W, b, pe) for pe in POINTER_ENTRIES}
    values, rel_index, _ = enc["n+1"]
    ignoring = 2 ** (M_ - 1) - 1
    return {
        "q41": {
            "values": _names(values),
            "rel_index": [int(i) for i in rel_index],
            "col_ptr": {pe: [int(i) for i in e[2]] for pe, e in enc.items()},
        },
        "q42": {
            pe: {w: size_bits(*e, W.shape, value_bits=vb, index_bits=b, width=w)
                 for w in POINTER_WIDTHS}
            for pe, e in enc.items()
        },
        "q43": {
            "dense_bits": q43_dense_bits(qb),
            "pointer_width": {pe: {w: q43_pointer_width(pe, w) for w in POINTER_WIDTHS}
                              for pe in POINTER_ENTRIES},
            "total_bits": {pe: {w: q43_total_bits(pe, w, qb) for w in POINTER_WIDTHS}
                           for pe in POINTER_ENTRIES},
            "max_k_worst_case": {pe: q43_max_k_worst_case(pe, qb) for pe in POINTER_ENTRIES},
            "max_k_ignoring_pointers": ignoring,
            "examples": {
                f"M={m},N={n}": {
                    **{pe: {w: q43_max_k(m, n, pe, w, qb) for w in POINTER_WIDTHS}
                       for pe in POINTER_ENTRIES},
                    "ignoring_pointers": int(ignoring.subs(M_, m)),
                }
                for m, n in p["q43_examples"]
            },
        },
    }
