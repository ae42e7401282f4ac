"""reference.distributed against independent routes: least squares, one hand-written step,
Monte Carlo for TernGrad, a per-worker loop for the vectorised trainer, fresh runs for the
stored TernGrad runs."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from reference import distributed as d

X, Y = d.handout_data()


def test_w_star_is_the_least_squares_solution_and_zeroes_every_loss():
    W = np.linalg.lstsq(X, Y, rcond=None)[0]
    key = d.build_key({"envelope_runs": 20})
    np.testing.assert_allclose(key["W_star"], W, atol=1e-12)
    np.testing.assert_allclose(d.worker_losses(X, Y, key["W_star"]), 0, atol=1e-20)
    at_data = d.substitute_data(key["W_star_symbolic"], X, Y)
    assert at_data == sp.Matrix([1, -3, 2])


@pytest.mark.parametrize("convention", d.CONVENTIONS, ids=lambda c: c.slug)
def test_symbolic_update_equals_one_hand_written_numeric_step(convention):
    rng = np.random.default_rng(3)
    W, lr = rng.normal(size=3), 0.07
    grads = [convention.factor * X[i] * (X[i] @ W - Y[i]) for i in range(3)]
    step = sum(grads) / (3 if convention.aggregate == "mean" else 1)
    expected = W - lr * step
    lam, w, _, _ = d.symbols()
    update = d.substitute_data(d.symbolic_update(convention), X, Y)
    got = update.subs({lam: lr, **{w[j]: W[j] for j in range(3)}})
    np.testing.assert_allclose(np.array(got, dtype=float).ravel(), expected,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("convention", d.CONVENTIONS, ids=lambda c: c.slug)
def test_trainer_matches_a_plain_per_worker_loop(convention):
    def loop(compress_one):
        W, hist = np.zeros(3), []
        for _ in range(51):
            hist.append([(X[i] @ W - Y[i]) ** 2 for i in range(3)])
            msgs = [compress_one(convention.factor * X[i] * (X[i] @ W - Y[i])) for i in range(3)]
            W = W - 0.1 * (np.sum(msgs, 0) / (3 if convention.aggregate == "mean" else 1))
        return np.array(hist)

    def same(a, b):  # summation order differs by CPU: L starts near 100, so losses that
        # converge to 0 carry absolute rounding of about 1e-14; 1e-9 is far above it
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-9)

    same(d.train(X, Y, convention), loop(lambda g: g))
    for T in (1, 5):
        same(d.train(X, Y, convention, compress=d.clipping(T)),
             loop(lambda g: np.minimum(np.maximum(g, -T), T)))


def test_sum_with_factor_2_diverges_and_mean_converges_at_lambda_01():
    assert d.train(X, Y, d.Convention("sum", 2))[-1].min() > 1e50
    assert d.train(X, Y, d.Convention("mean", 2))[-1].max() < 1e-8


def test_terngrad_is_ternary_and_unbiased_by_monte_carlo():
    g = np.array([0.7, -2.0, 0.0, 1.3])
    s = 2.0
    draws = d.terngrad(np.broadcast_to(g, (200_000, 4)), s, np.random.default_rng(0))
    assert set(np.unique(draws)) <= {-s, 0.0, s}
    assert np.all(draws[:, 2] == 0) and np.all(draws[:, 1] == -s)
    sd = np.sqrt(np.abs(g) * (s - np.abs(g)) / len(draws))
    assert np.all(np.abs(draws.mean(0) - g) <= 6 * sd + 1e-12)


def test_the_band_of_the_plots_agrees_with_fresh_runs():
    """The key's 5th, 50th and 95th percentiles of log L_i per step against 2000 fresh runs of
    another seed: by the DKW bound (both samples of 2000, false-failure rate 1e-6 over every
    cell), each stored quantile q lies between the fresh quantiles q - 2 eps and q + 2 eps."""
    key = d.build_key({"envelope_runs": 2000})
    cells = 3 * 51 * 3 * 2 * len(d.CONVENTIONS)
    eps = np.sqrt(np.log(2 * cells / 1e-6) / (2 * 2000))
    for c in d.CONVENTIONS:
        for field, compress in (("terngrad_logL", d.terngrad_max),
                                ("clip_terngrad_logL", d.clipped_terngrad(5))):
            entry = key["conventions"][c.slug][field]
            fresh = d.log_losses(d.train(X, Y, c, compress=compress, seed=12345, runs=2000))
            for name, q in (("p05", 0.05), ("median", 0.5), ("p95", 0.95)):
                low = np.quantile(fresh, max(q - 2 * eps, 0), axis=0)
                high = np.quantile(fresh, min(q + 2 * eps, 1), axis=0)
                assert np.all((low - 1e-9 <= entry[name]) & (entry[name] <= high + 1e-9)), \
                    (c.slug, field, name)
            assert entry["runs"] == 2000


def test_easgd_with_no_elastic_pull_is_independent_gradient_descent():
    runs = d.easgd(X, Y, rho=0.0, steps=20)
    for i in range(3):
        W = np.zeros(3)
        for _ in range(20):
            W = W - 0.1 * 2 * X[i] * (X[i] @ W - Y[i])
        assert np.isclose(runs["local"][-1, i], (X[i] @ W - Y[i]) ** 2)
    np.testing.assert_allclose(runs["center"], np.broadcast_to(runs["center"][0], (21, 3)))


def test_easgd_center_moves_by_the_sum_of_pulls():
    runs = d.easgd(X, Y, rho=0.5, lr=0.05, steps=200)
    assert runs["center"][-1].max() < runs["center"][0].max()
