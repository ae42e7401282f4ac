"""Checks reference/adaptive.py against torch.optim and against Goodfellow et al.'s Alg. 8.6."""

import numpy as np
import pytest
import torch

from reference import adaptive

A = np.array([[3.0, 1.0], [1.0, 2.0]])
B = np.array([1.0, -1.0])
W0 = np.array([1.0, -2.0])
STEPS = 12
# Random gradients that ignore w: exercises sign changes and very different magnitudes.
RANDOM_GRADS = np.random.default_rng(7).normal(scale=[[0.01, 1.0, 30.0]], size=(STEPS, 3))


def quadratic_grad(w):
    return A @ w - B


def random_grad_fn():
    grads = iter(RANDOM_GRADS)
    return lambda w: next(grads)


PROBLEMS = {
    "quadratic": (W0, lambda: quadratic_grad),
    "random": (np.array([0.5, -1.0, 2.0]), random_grad_fn),
}

# (method, torch optimizer, torch kwargs == our kwargs). Large eps makes its placement matter.
TORCH_CASES = [
    ("adagrad", torch.optim.Adagrad, {"lr": 0.3, "eps": 0.5}),
    ("rmsprop", torch.optim.RMSprop, {"lr": 0.05, "alpha": 0.9, "eps": 0.5}),
    ("adadelta", torch.optim.Adadelta, {"lr": 0.7, "rho": 0.8, "eps": 0.05}),
    ("adam", torch.optim.Adam, {"lr": 0.1, "eps": 0.5}),
]


def torch_trajectory(opt_cls, w0, grad_fn, steps, **kwargs):
    """Trajectory of a torch optimizer fed the same gradients (float64)."""
    p = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = opt_cls([p], **kwargs)
    out = [p.detach().numpy().copy()]
    for _ in range(steps):
        p.grad = torch.tensor(grad_fn(p.detach().numpy()), dtype=torch.float64)
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.stack(out)


def ours(method, w0, grad_fn, steps=STEPS, **kwargs):
    return adaptive.run(adaptive.METHODS[method], w0, grad_fn, steps, **kwargs)[0]


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("method,opt_cls,kwargs", TORCH_CASES)
def test_matches_torch(method, opt_cls, kwargs, problem):
    w0, make_grad = PROBLEMS[problem]
    expected = torch_trajectory(opt_cls, w0, make_grad(), STEPS, **kwargs)
    np.testing.assert_allclose(ours(method, w0, make_grad(), **kwargs), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method,opt_cls,kwargs", TORCH_CASES)
def test_weight_decay_matches_torch(method, opt_cls, kwargs):
    expected = torch_trajectory(opt_cls, W0, quadratic_grad, STEPS, weight_decay=0.3, **kwargs)
    np.testing.assert_allclose(ours(method, W0, quadratic_grad, weight_decay=0.3, **kwargs), expected,
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method,opt_cls,kwargs", TORCH_CASES)
def test_torch_defaults_are_ours(method, opt_cls, kwargs):
    defaults = opt_cls([torch.nn.Parameter(torch.zeros(1))]).defaults
    ours_ = adaptive.hyperparameters(adaptive.METHODS[method])
    shared = set(ours_) & set(defaults)
    assert shared >= {"lr", "eps"}
    assert {k: defaults[k] for k in shared} == {k: ours_[k] for k in shared}
    if method == "adam":
        assert defaults["betas"] == (ours_["beta1"], ours_["beta2"])


def goodfellow_rmsprop_nesterov(theta0, grad, steps, lr, alpha, momentum, eps):
    """Alg. 8.6 of Goodfellow et al. as printed (plus eps): gradient at theta + momentum * u."""
    theta, u, v = theta0.astype(float), np.zeros_like(theta0, float), np.zeros_like(theta0, float)
    thetas, us = [theta], [u]
    for _ in range(steps):
        g = grad(theta + momentum * u)
        v = alpha * v + (1 - alpha) * g**2
        u = momentum * u - lr * g / (np.sqrt(v) + eps)
        theta = theta + u
        thetas.append(theta)
        us.append(u)
    return np.stack(thetas), np.stack(us)


HYPER_NESTEROV = {"lr": 0.05, "alpha": 0.9, "momentum": 0.8, "eps": 0.3}


def test_rmsprop_nesterov_is_goodfellow_lookahead():
    thetas, us = goodfellow_rmsprop_nesterov(W0, quadratic_grad, STEPS, **HYPER_NESTEROV)
    w = ours("rmsprop_nesterov", W0, quadratic_grad, **HYPER_NESTEROV)
    np.testing.assert_allclose(w, thetas + HYPER_NESTEROV["momentum"] * us,
                               rtol=1e-12, atol=1e-12)


def test_rmsprop_nesterov_is_torch_nesterov_sgd_on_scaled_gradient():
    h = HYPER_NESTEROV
    p = torch.nn.Parameter(torch.tensor(W0))
    sgd = torch.optim.SGD([p], lr=h["lr"], momentum=h["momentum"], nesterov=True)
    v = np.zeros_like(W0)
    expected = [W0]
    for _ in range(STEPS):
        g = quadratic_grad(p.detach().numpy())
        v = h["alpha"] * v + (1 - h["alpha"]) * g**2
        p.grad = torch.tensor(g / (np.sqrt(v) + h["eps"]))
        sgd.step()
        expected.append(p.detach().numpy().copy())
    np.testing.assert_allclose(ours("rmsprop_nesterov", W0, quadratic_grad, **h), expected,
                               rtol=1e-12, atol=1e-12)


def test_rmsprop_nesterov_differs_from_heavy_ball():
    heavy = torch_trajectory(torch.optim.RMSprop, W0, quadratic_grad, STEPS,
                             lr=0.05, alpha=0.9, eps=0.3, momentum=0.8)
    assert not np.allclose(ours("rmsprop_nesterov", W0, quadratic_grad, **HYPER_NESTEROV), heavy)


@pytest.mark.parametrize("method,extra,c,scale", [
    ("adagrad", {}, 1.0, 1.0),
    ("rmsprop", {"alpha": 0.9}, 0.1, 1.0),
    ("rmsprop_nesterov", {"alpha": 0.9, "momentum": 0.5}, 0.1, 1.5),  # d + momentum * b, b = d
])
def test_eps_inside_sqrt_first_step(method, extra, c, scale):
    """First step from zero state: the scaled gradient is g / sqrt(c g^2 + eps)."""
    g, eps, lr = np.array([0.5, -2.0]), 0.25, 0.1
    w, _ = adaptive.METHODS[method](W0, g, None, lr=lr, eps=eps, eps_inside_sqrt=True, **extra)
    np.testing.assert_allclose(w, W0 - scale * lr * g / np.sqrt(c * g**2 + eps),
                               rtol=1e-14, atol=1e-14)


def test_adam_eps_hat_first_step():
    """At t = 1, m^ = g and v^ = g^2; eps-hat acts as eps / sqrt(1 - beta2) on |g|."""
    g, eps, beta2 = np.array([0.5, -2.0]), 0.01, 0.99
    w, state = adaptive.adam_step(W0, g, None, lr=1.0, beta2=beta2, eps=eps, eps_hat=True)
    np.testing.assert_allclose(w, W0 - g / (np.abs(g) + eps / np.sqrt(1 - beta2)),
                               rtol=1e-14, atol=1e-14)
    assert state["t"] == 1


@pytest.mark.parametrize("method", adaptive.METHODS)
def test_steps_do_not_modify_inputs(method):
    w, g = W0.copy(), np.array([0.3, -0.7])
    _, state = adaptive.METHODS[method](w, g, None)
    frozen = {k: np.copy(v) for k, v in state.items()}
    adaptive.METHODS[method](w, g, state)
    np.testing.assert_array_equal(w, W0)
    for k, v in state.items():
        np.testing.assert_array_equal(v, frozen[k])


def test_classic_dropout_scale_matches_training_expectation():
    """E over masks of W (mask * x) equals (scale * W) x, with units kept w.p. 1 - p_drop."""
    rng = np.random.default_rng(0)
    x, W = rng.normal(size=50), rng.normal(size=(4, 50))
    for p_drop in (0.2, 0.5):
        masks = rng.random((40_000, 50)) >= p_drop
        train_mean = (masks * x) @ W.T
        np.testing.assert_allclose(train_mean.mean(0), adaptive.dropout_weight_scale(p_drop) * W @ x,
                                   atol=0.05)


def test_inverted_dropout_needs_no_test_scaling():
    torch.manual_seed(0)
    drop, x = torch.nn.Dropout(p=0.2), torch.ones(200_000)
    train_mean = drop.train()(x).mean().item()
    eval_out = drop.eval()(x)
    assert train_mean == pytest.approx(adaptive.dropout_weight_scale(0.2, inverted=True), abs=0.01)
    assert torch.equal(eval_out, x)


def test_key():
    key = adaptive.build_key()
    assert key["dropout"]["classic_test_weight_scale"] == {"input": 0.8, "hidden": 0.5}
    assert key["dropout"]["inverted_test_weight_scale"] == {"input": 1.0, "hidden": 1.0}
    traj = key["methods"]["adam"]["trajectory"]
    assert traj.shape == (6, 2)
    expected = torch_trajectory(torch.optim.Adam, W0, quadratic_grad, 5)
    np.testing.assert_allclose(traj, expected, rtol=1e-12, atol=1e-12)
    assert set(key["methods"]) == {"adagrad", "rmsprop", "rmsprop_nesterov", "adadelta", "adam"}
    with pytest.raises(KeyError):
        adaptive.build_key({"stesp": 3})
