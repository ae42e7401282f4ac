"""dlsp-hw3 Problem 1: adaptive learning-rate methods, and dropout's test-time scaling.

Every ``*_step(w, g, state, **hyper) -> (w_new, state_new)`` makes one update:

- ``w``: parameters, any shape; ``g``: the gradient dL/dw evaluated at ``w``, same shape.
- ``state``: dict of arrays shaped like ``w`` (plus the step count ``t`` for Adam); pass
  ``None`` (or ``{}``) before the first step, where every accumulator starts at 0.
- Inputs are never modified; products and squares of vectors are element-wise.

Hyperparameter names and defaults follow ``torch.optim``; where textbooks place eps
differently, a keyword flag selects the textbook's variant.

How AdaDelta and Adam differ from RMSProp (part 1): all three divide by a running RMS of the
gradients. AdaDelta also keeps a running RMS of its own updates and uses it in place of the
global learning rate, so the update has the units of w. Adam adds a running mean of the
gradients (momentum) and corrects both running averages for their bias towards 0.
"""

import inspect

import numpy as np


def _accumulators(state: dict | None, w: np.ndarray, *names: str) -> list[np.ndarray]:
    """The named accumulators from `state`, zeros shaped like `w` before the first step."""
    state = state or {}
    return [np.asarray(state.get(name, np.zeros(np.shape(w)))) for name in names]


def _rms(mean_square: np.ndarray, eps: float, eps_inside_sqrt: bool) -> np.ndarray:
    """sqrt(mean_square) + eps, or sqrt(mean_square + eps) with `eps_inside_sqrt`."""
    return np.sqrt(mean_square + eps) if eps_inside_sqrt else np.sqrt(mean_square) + eps


def adagrad_step(w, g, state=None, *, lr=1e-2, eps=1e-10, eps_inside_sqrt=False):
    """AdaGrad (Duchi et al., 2011): per-coordinate steps shrink with the summed squared gradients.

        r_t = r_{t-1} + g_t^2                       r: sum of all squared gradients so far
        w_t = w_{t-1} - lr * g_t / (sqrt(r_t) + eps)

    Hyperparameters: lr (global learning rate), eps (keeps the division finite).
    torch.optim.Adagrad (eps = 1e-10) and Goodfellow et al., Alg. 8.4 (delta = 1e-7) put eps
    outside the root; `eps_inside_sqrt=True` gives  w_t = w_{t-1} - lr * g_t / sqrt(r_t + eps).
    State: {"r": r_t}.
    """
    (r,) = _accumulators(state, w, "r")
    r = r + g * g
    return w - lr * g / _rms(r, eps, eps_inside_sqrt), {"r": r}


def rmsprop_step(w, g, state=None, *, lr=1e-2, alpha=0.99, eps=1e-8, eps_inside_sqrt=False):
    """RMSProp (Hinton, 2012): AdaGrad with an exponentially decaying average of squared gradients.

        v_t = alpha * v_{t-1} + (1 - alpha) * g_t^2      v: running mean square of g
        w_t = w_{t-1} - lr * g_t / (sqrt(v_t) + eps)

    Hyperparameters: lr, alpha (decay rate; rho in Goodfellow et al.), eps.
    torch.optim.RMSprop puts eps outside the root; Goodfellow et al., Alg. 8.5 (delta = 1e-6)
    and TensorFlow's ApplyRMSProp put it inside: `eps_inside_sqrt=True`.
    State: {"v": v_t}.
    """
    (v,) = _accumulators(state, w, "v")
    v = alpha * v + (1 - alpha) * g * g
    return w - lr * g / _rms(v, eps, eps_inside_sqrt), {"v": v}


def rmsprop_nesterov_step(w, g, state=None, *, lr=1e-2, alpha=0.99, momentum=0.9, eps=1e-8,
                          eps_inside_sqrt=False):
    """RMSProp with Nesterov momentum (Goodfellow et al., Alg. 8.6), in look-ahead form.

    Goodfellow et al. keep parameters theta and a velocity u, and take the gradient at the
    interim point theta + momentum * u:

        g_t = dL/dtheta (theta_{t-1} + momentum * u_{t-1})
        v_t = alpha * v_{t-1} + (1 - alpha) * g_t^2
        u_t = momentum * u_{t-1} - lr * g_t / (sqrt(v_t) + eps)
        theta_t = theta_{t-1} + u_t

    Training code takes the gradient at the parameters it holds, so `w` here is the look-ahead
    point w = theta + momentum * u (w_0 = theta_0, as u_0 = 0). With b = -u / lr this becomes

        v_t = alpha * v_{t-1} + (1 - alpha) * g_t^2           g_t = dL/dw (w_{t-1})
        d_t = g_t / (sqrt(v_t) + eps)                         RMSProp-scaled gradient
        b_t = momentum * b_{t-1} + d_t                        momentum buffer
        w_t = w_{t-1} - lr * (d_t + momentum * b_t)

    which is torch.optim.SGD(momentum, nesterov=True) applied to d_t (torch's RMSprop has no
    Nesterov option); theta_t = w_t + lr * momentum * b_t. Goodfellow's algorithm has no eps;
    here it is placed as in `rmsprop_step`.
    Hyperparameters: lr, alpha, momentum, eps.  State: {"v": v_t, "b": b_t}.
    """
    v, b = _accumulators(state, w, "v", "b")
    v = alpha * v + (1 - alpha) * g * g
    d = g / _rms(v, eps, eps_inside_sqrt)
    b = momentum * b + d
    return w - lr * (d + momentum * b), {"v": v, "b": b}


def adadelta_step(w, g, state=None, *, lr=1.0, rho=0.9, eps=1e-6):
    """AdaDelta (Zeiler, 2012, Alg. 1): the RMS of past updates replaces the global learning rate.

        v_t  = rho * v_{t-1} + (1 - rho) * g_t^2                 running mean square of g
        dw_t = -sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t       RMS[dw]_{t-1} / RMS[g]_t * g_t
        u_t  = rho * u_{t-1} + (1 - rho) * dw_t^2                running mean square of dw
        w_t  = w_{t-1} + lr * dw_t

    Hyperparameters: rho (decay rate), eps (also seeds the first steps, as u_0 = 0); Zeiler has
    no learning rate (lr = 1, torch's default; Zeiler uses rho = 0.95). torch.optim.Adadelta
    places eps as Zeiler does and accumulates dw before scaling by lr.
    State: {"v": v_t, "u": u_t}.
    """
    v, u = _accumulators(state, w, "v", "u")
    v = rho * v + (1 - rho) * g * g
    dw = -np.sqrt(u + eps) / np.sqrt(v + eps) * g
    u = rho * u + (1 - rho) * dw * dw
    return w + lr * dw, {"v": v, "u": u}


def adam_step(w, g, state=None, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, eps_hat=False):
    """Adam (Kingma & Ba, 2015, Alg. 1): momentum plus RMSProp scaling, both bias-corrected.

        m_t = beta1 * m_{t-1} + (1 - beta1) * g_t            running mean of g (1st moment)
        v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2          running mean square (2nd moment)
        m^_t = m_t / (1 - beta1^t),  v^_t = v_t / (1 - beta2^t)   bias corrections (t = 1, 2, ...)
        w_t = w_{t-1} - lr * m^_t / (sqrt(v^_t) + eps)

    Hyperparameters: lr, beta1, beta2, eps. torch.optim.Adam adds eps to the corrected root as
    above. `eps_hat=True` gives Kingma & Ba's "more efficient" ordering (end of Sec. 2, used by
    TensorFlow/Keras), which adds eps to the uncorrected root:
        w_t = w_{t-1} - lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m_t / (sqrt(v_t) + eps).
    State: {"m": m_t, "v": v_t, "t": t}.
    """
    m, v = _accumulators(state, w, "m", "v")
    t = (state or {}).get("t", 0) + 1
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    c1, c2 = 1 - beta1**t, 1 - beta2**t
    if eps_hat:
        update = lr * np.sqrt(c2) / c1 * m / (np.sqrt(v) + eps)
    else:
        update = lr * (m / c1) / (np.sqrt(v / c2) + eps)
    return w - update, {"m": m, "v": v, "t": t}


METHODS = {
    "adagrad": adagrad_step,
    "rmsprop": rmsprop_step,
    "rmsprop_nesterov": rmsprop_nesterov_step,
    "adadelta": adadelta_step,
    "adam": adam_step,
}


def hyperparameters(step) -> dict:
    """The keyword hyperparameters of a `*_step` function with their default values."""
    return {name: p.default for name, p in inspect.signature(step).parameters.items()
            if p.kind is p.KEYWORD_ONLY}


def run(step, w0, grad_fn, steps: int, *, weight_decay: float = 0.0, **hyper):
    """Apply `step` `steps` times from `w0`, taking g_t = grad_fn(w_{t-1}) + weight_decay * w_{t-1}.

    `weight_decay` is L2 regularisation: the gradient of L + (weight_decay / 2) * ||w||^2, as
    torch's `weight_decay` argument adds it. Returns (trajectory, final state) with trajectory
    of shape (steps + 1, *w0.shape): w_0, w_1, ..., w_steps.
    """
    w, state = np.asarray(w0, dtype=float), None
    trajectory = [w]
    for _ in range(steps):
        w, state = step(w, grad_fn(w) + weight_decay * w, state, **hyper)
        trajectory.append(w)
    return np.stack(trajectory), state


def dropout_weight_scale(p_drop: float, inverted: bool = False) -> float:
    """Factor on the outgoing weights of a layer whose units were dropped with probability p_drop.

    Classic dropout (Srivastava et al., 2014): a unit is kept with probability q = 1 - p_drop
    and is not rescaled in training, so at test time W_test = q * W, making each next-layer
    input equal to its expectation in training. Inverted dropout (torch.nn.Dropout, Keras)
    scales kept units by 1/q during training, so test time needs no scaling: factor 1.
    """
    if not 0 <= p_drop < 1:
        raise ValueError(f"p_drop must lie in [0, 1), got {p_drop}")
    return 1.0 if inverted else 1.0 - p_drop


DEFAULT_PARAMS = {
    # L(w) = 1/2 w^T A w - b^T w, so dL/dw = A w - b
    "A": [[3.0, 1.0], [1.0, 2.0]],
    "b": [1.0, -1.0],
    "w0": [1.0, -2.0],
    "steps": 5,
    "hyper": {},  # per-method overrides of the torch defaults, e.g. {"adam": {"lr": 0.1}}
    "p_drop": {"input": 0.2, "hidden": 0.5},
}

VARIANTS = {
    "adagrad_eps_inside_sqrt": ("adagrad", {"eps_inside_sqrt": True}),
    "rmsprop_eps_inside_sqrt": ("rmsprop", {"eps_inside_sqrt": True}),
    "rmsprop_nesterov_eps_inside_sqrt": ("rmsprop_nesterov", {"eps_inside_sqrt": True}),
    "adam_eps_hat": ("adam", {"eps_hat": True}),
}


def build_key(params: dict | None = None) -> dict:
    """Answer key for dlsp-hw3 Problem 1; `params` overrides keys of DEFAULT_PARAMS.

    {"problem": {"A", "b", "w0", "steps"},
     "methods": {method: {"hyperparameters": {name: value}, "trajectory": (steps+1, 2) array}},
     "variants": {variant: trajectory},           eps placements of VARIANTS
     "dropout": {"p_drop", "classic_test_weight_scale", "inverted_test_weight_scale"}}
    """
    p = {**DEFAULT_PARAMS, **(params or {})}
    if unknown := set(p) - set(DEFAULT_PARAMS):
        raise KeyError(f"unknown parameters {sorted(unknown)}")
    A, b = np.asarray(p["A"], dtype=float), np.asarray(p["b"], dtype=float)

    def trajectory(method: str, flags: dict) -> np.ndarray:
        hyper = {**p["hyper"].get(method, {}), **flags}
        return run(METHODS[method], p["w0"], lambda w: A @ w - b, p["steps"], **hyper)[0]

    return {
        "problem": {"A": A, "b": b, "w0": np.asarray(p["w0"], dtype=float), "steps": p["steps"]},
        "methods": {
            name: {"hyperparameters": {**hyperparameters(step), **p["hyper"].get(name, {})},
                   "trajectory": trajectory(name, {})}
            for name, step in METHODS.items()
        },
        "variants": {name: trajectory(method, flags) for name, (method, flags) in VARIANTS.items()},
        "dropout": {
            "p_drop": dict(p["p_drop"]),
            "classic_test_weight_scale": {k: dropout_weight_scale(v) for k, v in p["p_drop"].items()},
            "inverted_test_weight_scale": {k: dropout_weight_scale(v, inverted=True)
                                           for k, v in p["p_drop"].items()},
        },
    }
