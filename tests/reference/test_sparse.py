"""Checks of reference.sparse by routes independent of its own code."""

import numpy as np
import pytest
import sympy as sp

from reference import sparse

X = np.array([[1, -2, -1, -1, 1], [2, -1, 2, 0, -2], [-1, 0, 2, 2, 1]], dtype=float)
Y = np.array([-7.0, -1.0, -1.0])
MU = 0.02


@pytest.fixture(scope="module")
def key():
    return sparse.build_key()


def test_loss_and_grad_match_finite_differences():
    rng = np.random.default_rng(0)
    W = rng.normal(size=5)
    assert sparse.loss(X, Y, W) == pytest.approx(sum((X[i] @ W - Y[i]) ** 2 for i in range(3)))
    eps = 1e-6
    fd = [(sparse.loss(X, Y, W + eps * e) - sparse.loss(X, Y, W - eps * e)) / (2 * eps)
          for e in np.eye(5)]
    np.testing.assert_allclose(sparse.grad(X, Y, W), fd, rtol=1e-6, atol=1e-6)


def test_symbolic_update_substituted_equals_one_numeric_step():
    expr = sparse.symbolic_update()
    names = {s.name for s in expr.free_symbols}
    assert names == {"mu"} | {f"w{j}" for j in range(1, 6)} | {f"y{i}" for i in range(1, 4)} | {
        f"x{i}{j}" for i in range(1, 4) for j in range(1, 6)}
    W = np.array([0.3, -1.2, 0.5, 2.0, -0.7])
    subs = {"mu": MU, **{f"w{j + 1}": W[j] for j in range(5)},
            **{f"y{i + 1}": Y[i] for i in range(3)},
            **{f"x{i + 1}{j + 1}": X[i, j] for i in range(3) for j in range(5)}}
    value = np.array(expr.subs({sp.Symbol(k): v for k, v in subs.items()}), dtype=float).ravel()
    np.testing.assert_allclose(value, W - MU * sparse.grad(X, Y, W), rtol=1e-12, atol=1e-12)


def test_histories_shapes_losses_and_start(key):
    e = key["three_point"]["gd"]
    assert e["L"].shape == (201,) and e["W"].shape == (201, 5)
    np.testing.assert_array_equal(e["W"][0], np.zeros(5))
    residual = np.einsum("ij,kj->ki", X, e["W"]) - Y
    # compare root losses: the residual carries ~1e-15 absolute rounding once GD has converged
    np.testing.assert_allclose(np.sqrt(e["L"]), np.linalg.norm(residual, axis=1), atol=1e-13)
    np.testing.assert_allclose(e["L"][0], 49 + 1 + 1)
    np.testing.assert_allclose(np.exp(e["log_L"][:50]), e["L"][:50], rtol=1e-12, atol=1e-12)


def test_plain_gd_converges_to_min_norm_solution(key):
    W = key["three_point"]["gd"]["W"]
    w_star = np.linalg.lstsq(X, Y, rcond=None)[0]  # min-norm solution of the underdetermined system
    # From W0 = 0 the iterates never leave the row space of X ...
    null = np.linalg.svd(X)[2][3:]
    assert np.abs(W @ null.T).max() < 1e-12
    # ... where the error contracts by at most max|1 - 2 mu s_i^2| per step.
    rate = np.max(np.abs(1 - 2 * MU * np.linalg.svd(X, compute_uv=False) ** 2))
    err = np.linalg.norm(W - w_star, axis=1)
    assert np.all(err[1:] <= err[:-1] * rate + 1e-12)
    assert err[-1] < 1e-10 and err[0] > 1.0
    assert not key["three_point"]["gd"]["sparse"]


def test_pruning_keeps_the_two_largest_of_each_gd_step(key):
    for data, (Xd, yd) in {"three_point": (X, Y), "two_point": (X[:2], Y[:2])}.items():
        for entry in key[data]["prune"].values():
            W = entry["W"]
            assert np.all((W != 0).sum(axis=1) <= 2)
            for k in range(200):
                v = W[k] - MU * 2 * Xd.T @ (Xd @ W[k] - yd)
                kept = W[k + 1] != 0
                np.testing.assert_allclose(W[k + 1][kept], v[kept], rtol=0, atol=1e-12)
                # every pruned magnitude is at most every kept one
                assert np.abs(v[~kept]).max() <= np.abs(v[kept]).min() + 1e-12
            assert entry["sparse"]


def test_pruning_three_points_recovers_sparse_solution(key):
    for entry in key["three_point"]["prune"].values():
        np.testing.assert_allclose(entry["W_final"], [0, 3, 0, 0, -1], atol=1e-10)


def _soft_piecewise(v, t):
    out = np.zeros_like(v)
    for j, x in enumerate(v):
        if x > t:
            out[j] = x - t
        elif x < -t:
            out[j] = x + t
    return out


@pytest.mark.parametrize("t", [0.004, 0.01, 0.02, 0.04])
def test_proximal_matches_piecewise_soft_threshold(key, t):
    w = np.zeros(5)
    for k in range(200):
        w = _soft_piecewise(w - MU * 2 * X.T @ (X @ w - Y), t)
        np.testing.assert_allclose(key["three_point"]["proximal"][f"t={t:g}"]["W"][k + 1], w,
                                   atol=1e-13)


@pytest.mark.parametrize("t", [0.01, 0.02, 0.04])
def test_proximal_limit_satisfies_lasso_optimality(t):
    # Run to convergence; a fixed point of prox-GD is a minimiser of L + lam ||W||_1, lam = t / mu.
    _, W = sparse.run("proximal", X, Y, steps=3000, threshold=t)
    w, lam = W[-1], t / MU
    g = 2 * X.T @ (X @ w - Y)
    nz = w != 0
    np.testing.assert_allclose(g[nz], -lam * np.sign(w[nz]), atol=1e-8)
    assert np.all(np.abs(g[~nz]) <= lam + 1e-8)


@pytest.mark.parametrize("lam", [0.2, 0.5, 1.0, 2.0])
def test_l1_subgradient_steps_and_sign0_variant(key, lam):
    group = key["three_point"]["l1"][f"lam={lam:g}"]
    for label, s0 in (("sign0=0", 0.0), ("sign0=1", 1.0)):
        W = group[label]["W"]
        for k in range(200):
            sub = np.array([s0 if x == 0 else (1.0 if x > 0 else -1.0) for x in W[k]])
            expected = W[k] - MU * (2 * X.T @ (X @ W[k] - Y) + lam * sub)
            np.testing.assert_allclose(W[k + 1], expected, atol=1e-13)
    # The first step from W0 = 0 differs by exactly mu * lam in every entry.
    np.testing.assert_allclose(group["sign0=0"]["W"][1] - group["sign0=1"]["W"][1], MU * lam)


@pytest.mark.parametrize("t", [0.02, 0.04, 0.1, 0.2])
def test_trimmed_never_shrinks_the_two_largest(key, t):
    for data, (Xd, yd) in {"three_point": (X, Y), "two_point": (X[:2], Y[:2])}.items():
        for name, entry in key[data]["trimmed"][f"t={t:g}"].items():
            if "trim_on=before-step" in name:
                continue  # chosen from W^k: the largest of V^{k+1} may be shrunk (next test)
            W = entry["W"]
            for k in range(200):
                v = W[k] - MU * 2 * Xd.T @ (Xd @ W[k] - yd)
                second = np.sort(np.abs(v))[-2]
                shrunk = ~np.isclose(W[k + 1], v, rtol=0, atol=1e-12)
                assert shrunk.sum() <= 3
                # at least two entries of the largest magnitudes (ties allowed) pass untouched
                assert np.sum(~shrunk & (np.abs(v) >= second - 1e-12)) >= 2
                np.testing.assert_allclose(W[k + 1][shrunk], _soft_piecewise(v[shrunk], t),
                                           atol=1e-12)


@pytest.mark.parametrize("t", [0.02, 0.04, 0.1, 0.2])
def test_trimmed_before_step_follows_the_papers_loop(key, t):
    """The trimmed-l1 paper's order, written as a plain loop: choose the 3 entries of smallest
    |w| at W^k (ties by (magnitude, index) as sorted() orders them), take the gradient step,
    then soft-threshold the chosen entries only."""
    for data, (Xd, yd) in {"three_point": (X, Y), "two_point": (X[:2], Y[:2])}.items():
        w, history = [0.0] * 5, [[0.0] * 5]
        for _ in range(200):
            chosen = sorted(range(5), key=lambda j: (abs(w[j]), j))[:3]
            g = [2 * sum(Xd[i, j] * (sum(Xd[i, m] * w[m] for m in range(5)) - yd[i])
                         for i in range(len(yd))) for j in range(5)]
            v = [w[j] - MU * g[j] for j in range(5)]
            w = [_soft_piecewise(np.array([v[j]]), t)[0] if j in chosen else v[j]
                 for j in range(5)]
            history.append(w)
        entry = key[data]["trimmed"][f"t={t:g}"]["ties=lowest-index, trim_on=before-step"]
        np.testing.assert_allclose(entry["W"], history, atol=1e-10)
        after = key[data]["trimmed"][f"t={t:g}"]["ties=lowest-index, trim_on=after-step"]
        assert not np.allclose(entry["W"], after["W"], atol=1e-6)  # a different history


def test_two_point_ties_pick_different_sparse_solutions(key):
    # Columns 3 and 5 of the first two rows are negatives of each other, so w3 and w5 get
    # gradients of equal magnitude and tie: the tie rule decides which survives. Both solutions
    # fit the two points exactly.
    np.testing.assert_array_equal(X[:2, 2], -X[:2, 4])
    low = key["two_point"]["prune"]["ties=lowest-index"]["W_final"]
    high = key["two_point"]["prune"]["ties=highest-index"]["W_final"]
    np.testing.assert_allclose(low, [0, 3, 0, 0, -1], atol=1e-10)
    np.testing.assert_allclose(high, [0, 3, 1, 0, 0], atol=1e-10)
    assert key["variant_changes"]["two_point"] == {"prune": True, "l1": True, "trimmed": True}
    assert key["variant_changes"]["three_point"]["l1"]


def test_sparsity_flags_count_with_tolerance(key):
    for t, sparse_ in (("t=0.004", False), ("t=0.01", True), ("t=0.04", True)):
        entry = key["three_point"]["proximal"][t]
        assert entry["sparse"] is sparse_
        assert entry["nnz_final"] == int((np.abs(entry["W_final"]) > 1e-8).sum())
    # l1 by subgradient hovers near zero without reaching it: sparse only under a loose tolerance
    assert not key["three_point"]["l1"]["lam=2"]["sign0=0"]["sparse"]
    relaxed = sparse.build_key({"zero_tol": 0.1, "l1_lams": (2.0,)})
    assert relaxed["three_point"]["l1"]["lam=2"]["sign0=0"]["nnz_final"] == 2
    assert relaxed["three_point"]["l1"]["lam=2"]["sign0=0"]["sparse"]


def test_params_override_and_validation():
    k = sparse.build_key({"steps": 5, "l1_lams": (3.0,)})
    assert k["three_point"]["gd"]["W"].shape == (6, 5)
    assert list(k["two_point"]["l1"]) == ["lam=3"]
    with pytest.raises(KeyError):
        sparse.build_key({"stepz": 5})
    with pytest.raises(ValueError):
        sparse.run("l1", X, Y)
    with pytest.raises(ValueError):
        sparse.run("trimmed", X, Y, threshold=0.1, ties="random")
    with pytest.raises(ValueError):
        sparse.run("trimmed", X, Y, threshold=0.1, trim_on="during")


def test_optimal_flags_against_least_squares_residual(key):
    """min L by lstsq (an independent route to reference.sparse.min_loss): both data sets are
    consistent, so 'optimal' means the run drove L to ~0; the l1-type methods stop short."""
    for data, (Xd, yd) in {"three_point": (X, Y), "two_point": (X[:2], Y[:2])}.items():
        residual = np.linalg.lstsq(Xd, yd, rcond=None)[1]
        assert residual.size == 0 or residual[0] < 1e-20  # consistent: min L = 0
        assert sparse.min_loss(Xd, yd) < 1e-20
        assert key[data]["gd"]["optimal"] and key[data]["gd"]["L_final"] < 1e-20
        assert all(e["optimal"] for e in key[data]["prune"].values())
        assert not any(e["optimal"] for e in key[data]["proximal"].values())
        for entry in key[data]["proximal"].values():
            assert entry["optimal"] == (entry["L_final"] <= 1e-6)
