"""Checks of reference.csc by routes independent of its own code."""

import numpy as np
import pytest
import sympy as sp

from reference import csc


def walk_encode(A, index_bits):
    """Brute-force CSC: walk every row of every column with a zero counter (no divmod)."""
    cap = 2**index_bits - 1
    values, index, starts = [], [], []
    for c in range(A.shape[1]):
        starts.append(len(values))
        pending = []  # placeholders waiting for a nonzero below them
        zeros = 0
        for r in range(A.shape[0]):
            if A[r, c] != 0:
                values += [0] * len(pending) + [A[r, c]]
                index += pending + [zeros]
                pending, zeros = [], 0
            elif zeros == cap:  # this zero would make the count overflow: it becomes a placeholder
                pending.append(cap)
                zeros = 0
            else:
                zeros += 1
    return values, index, starts + [len(values)]


def random_sparse(rng, shape, density):
    A = rng.integers(1, 9, size=shape) * (rng.random(shape) < density)
    return A * rng.choice([-1, 1], size=shape)


def test_hw_matrix_positions_read_from_the_handout():
    rows = [
        "0 0 0 w6 0 0 0 0", "w0 0 0 0 0 0 0 0", "0 w2 0 0 w9 0 0 0", "0 0 0 0 0 0 0 0",
        "0 w3 0 0 0 0 0 w11", "w1 0 w5 w7 0 0 0 w12", "0 0 0 0 0 w10 0 0", "0 w4 0 0 w8 0 0 0",
    ]
    assert csc.hw_matrix() == sp.Matrix([[sp.sympify(t) for t in r.split()] for r in rows])


def test_q41_arrays_by_hand_and_by_brute_force():
    W = csc.hw_matrix()
    values, index, ptr = csc.encode(W, 2)
    w = sp.symbols("w0:13")
    hand_values = [w[0], w[1], w[2], w[3], w[4], 0, w[5], w[6], 0, w[7], w[9], 0, w[8], 0, w[10],
                   0, w[11], w[12]]
    hand_index = [1, 3, 2, 1, 2, 3, 1, 0, 3, 0, 2, 3, 0, 3, 2, 3, 0, 0]
    hand_ptr = [0, 2, 5, 7, 10, 13, 15, 15, 18]
    assert list(values) == hand_values and list(index) == hand_index and list(ptr) == hand_ptr
    A = np.array(W.tolist(), dtype=object)
    assert (list(values), list(index), list(ptr)) == walk_encode(A, 2)
    assert list(csc.encode(W, 2, "n")[2]) == hand_ptr[:-1]
    key = csc.build_key()["q41"]
    assert key["values"] == [str(v) if v != 0 else 0 for v in hand_values]
    assert key["rel_index"] == hand_index
    assert key["col_ptr"] == {"n+1": hand_ptr, "n": hand_ptr[:-1]}


def test_decode_symbolic_matrix():
    W = csc.hw_matrix()
    for pe in ("n+1", "n"):
        assert sp.Matrix(csc.decode(*csc.encode(W, 2, pe), W.shape, 2)) == W


@pytest.mark.parametrize("index_bits", [1, 2, 3, 4])
def test_roundtrip_random_and_matches_brute_force(index_bits):
    rng = np.random.default_rng(index_bits)
    for _ in range(60):
        shape = tuple(rng.integers(1, 40, size=2))
        A = random_sparse(rng, shape, rng.choice([0.0, 0.02, 0.1, 0.3, 0.9]))
        values, index, ptr = csc.encode(A, index_bits)
        assert (list(values), list(index), list(ptr)) == walk_encode(A, index_bits)
        assert index.max(initial=0) <= 2**index_bits - 1
        assert np.all(index[values == 0] == 2**index_bits - 1)  # zeros stored only as placeholders
        np.testing.assert_array_equal(csc.decode(values, index, ptr, shape, index_bits), A)
        n_ptr = csc.encode(A, index_bits, "n")[2]
        np.testing.assert_array_equal(n_ptr, ptr[:-1])
        np.testing.assert_array_equal(csc.decode(values, index, n_ptr, shape, index_bits), A)
        assert len(values) <= shape[0] * shape[1]  # never more entries than cells


def test_long_zero_runs_and_placeholder_count():
    A = np.zeros((100, 3))
    A[99, 0] = 5.0  # 99 zeros before it
    A[[0, 50], 1] = 1.0  # 49 zeros between
    for b in (1, 2, 3, 4):
        values, index, ptr = csc.encode(A, b)
        span = 2**b
        col0 = slice(ptr[0], ptr[1])
        assert len(values[col0]) == 99 // span + 1  # placeholders + the nonzero
        assert np.all(values[col0][:-1] == 0) and np.all(index[col0][:-1] == span - 1)
        assert index[col0][-1] == 99 % span
        assert ptr[3] == ptr[2]  # empty column stores nothing, trailing zeros stored neither
        np.testing.assert_array_equal(csc.decode(values, index, ptr, A.shape, b), A)


def test_decode_rejects_bad_input():
    with pytest.raises(ValueError):
        csc.decode([1.0], [4], [0, 1], (8, 1), 2)
    with pytest.raises(ValueError):
        csc.decode([1.0], [0], [0, 1, 1, 1], (8, 1), 2)


def test_q42_bits_by_hand():
    q42 = csc.build_key()["q42"]
    # 18 entries: 18 * 8 value bits, 18 * 2 index bits; dense 64 * 8 = 512.
    expected = {("n+1", "this-matrix"): (5, 45), ("n+1", "worst-case"): (7, 63),
                ("n", "this-matrix"): (4, 32), ("n", "worst-case"): (6, 48)}
    for (pe, w), (width, ptr_bits) in expected.items():
        r = q42[pe][w]
        assert (r["values"], r["rel_index"], r["pointer_entry_bits"], r["col_ptr"]) == (
            144, 36, width, ptr_bits)
        assert r["total"] == 180 + ptr_bits and r["dense"] == 512
        assert r["compression_rate"] == sp.Rational(512, 180 + ptr_bits)
        assert r["size_ratio"] * r["compression_rate"] == 1


def test_worst_case_pointer_value_is_reached():
    # A dense 8x8 matrix needs 64 entries: the n+1 pointer reaches 64 and the n pointer 56.
    ptr = csc.encode(np.ones((8, 8)), 2)[2]
    assert ptr[-1] == csc.max_pointer_value((8, 8), "n+1") == 64
    assert ptr[-2] == csc.max_pointer_value((8, 8), "n") == 56


def column_with_k_entries(rows, k, p, rng):
    """A column of `rows` cells whose encoding (4-bit index) holds exactly k entries: p leading
    runs of 16 zeros (one placeholder each) and then k - p nonzeros in a row."""
    col = np.zeros(rows)
    col[16 * p:16 * p + k - p] = rng.integers(1, 16, size=k - p)
    return col


@pytest.mark.parametrize("M,N", [(2, 1), (3, 2), (5, 2), (6, 3)])
def test_q43_formula_against_actual_encodings(M, N):
    rng = np.random.default_rng(10 * M + N)
    for K in sorted({0, 1, 2, 2**M // 2, 2**M - 1, 2**M}):
        p_max = min(K - 1, (2**M - K) // 15) if K else 0  # placeholders that still fit
        A = np.column_stack([column_with_k_entries(2**M, K, j % (p_max + 1), rng)
                             for j in range(2**N)])
        for pe in ("n+1", "n"):
            values, index, ptr = csc.encode(A, 4, pe)
            assert len(values) == K * 2**N
            assert np.any(values == 0) == (p_max > 0)  # placeholders exercised where they fit
            for w in ("this-matrix", "worst-case"):
                # entry width from the largest value the pointer must hold: this matrix's
                # largest pointer, or a dense 2^M x 2^N matrix's
                full = csc.encode(np.ones(A.shape), 4, pe)[2]
                big = ptr.max() if w == "this-matrix" else full.max()
                actual = 4 * len(values) + 4 * len(index) + len(ptr) * int(big).bit_length()
                formula = csc.q43_total_bits(pe, w).subs({csc.M_: M, csc.N_: N, csc.K_: K})
                assert formula == actual, (pe, w, K)


@pytest.mark.parametrize("M,N", [(2, 2), (3, 3), (4, 4), (6, 5), (7, 7), (5, 12)])
def test_q43_max_k_against_linear_scan(M, N):
    dense = 4 * 2 ** (M + N)
    for pe in ("n+1", "n"):
        for w in ("this-matrix", "worst-case"):
            total = csc.q43_total_bits(pe, w).subs({csc.M_: M, csc.N_: N})
            fitting = [k for k in range(2**M + 1) if int(total.subs(csc.K_, k)) < dense]
            best = csc.q43_max_k(M, N, pe, w)
            assert best == (max(fitting) if fitting else None)
            if best is not None:
                assert best < 2 ** (M - 1)  # CSC can only win below half-full columns
        closed = csc.q43_max_k_worst_case(pe).subs({csc.M_: M, csc.N_: N})
        assert closed == csc.q43_max_k(M, N, pe, "worst-case")


def test_q43_key_examples():
    q43 = csc.build_key()["q43"]
    assert q43["examples"]["M=3,N=3"] == {"n+1": {"this-matrix": 3, "worst-case": 3},
                                          "n": {"this-matrix": 3, "worst-case": 3},
                                          "ignoring_pointers": 3}
    assert q43["max_k_ignoring_pointers"].subs(csc.M_, 10) == 511
    for m, n in ((8, 8), (10, 10)):  # bisection and closed form agree at sizes too big to scan
        for pe in ("n+1", "n"):
            closed = q43["max_k_worst_case"][pe].subs({csc.M_: m, csc.N_: n})
            assert q43["examples"][f"M={m},N={n}"][pe]["worst-case"] == closed
