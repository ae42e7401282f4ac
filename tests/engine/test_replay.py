"""TrainingReplayCheck (graders/checks/replay.py): TernGrad runs replayed from their own draws.

The student's training is simulated here the ways students write it (a loop over workers in
either order, one call on the stacked workers, float32, W as a column, history recorded
before or after each step, log base 10, extra calls after training), and what the worker's
recorder sends back is built from it: the histories, the calls per run and the first 2000
calls [g, s, out]. The key's side is reference.distributed."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from graders import wire
from graders.checks.base import Probe, ProbeResult
from graders.checks.replay import ParameterServer, TrainingReplayCheck
from graders.sandbox.worker import encode
from reference import distributed as d

X, Y = d.handout_data()
CONVENTIONS = {c.slug: (c.aggregate, c.factor) for c in d.CONVENTIONS}
#: The runs grader.toml asks for: the check must decide with that many.
COUNT = tomllib.loads((Path(__file__).parents[2] / "grader.toml").read_text())[
    "assignments"]["duke-hw2"]["tolerances"]["terngrad_runs"]
RUNS = Probe("runs", "call", "train", ({"t": "seed"},), seeds=tuple(range(COUNT)),
             swap={"name": "quantize", "keep": 2000})
PINNED = Probe("sgd", "value", "sgd")


@pytest.fixture(scope="module")
def key():
    return d.build_key({"envelope_runs": 200})


def replay_check(key, clip=None, accepted=("mean_x2", "sum_x2", "mean_x1", "sum_x1")):
    field = "terngrad_logL" if clip is None else "clip_terngrad_logL"
    conventions = key["conventions"]
    return TrainingReplayCheck(
        "history", "t", RUNS, ParameterServer(X, Y, 0.1, 50, clip), CONVENTIONS,
        list(accepted), {c: v["sgd_logL"] for c, v in conventions.items()},
        {c: (v[field]["median"], v[field]["p05"], v[field]["p95"])
         for c, v in conventions.items()},
        rtol=1e-4, atol=1e-4, floor=-50, false_failure=1e-6, quantizer="quantize",
        ylabel="log L", labels=("L_1", "L_2", "L_3"), convention_probe=PINNED)


def terngrad(g, s, rng, p=None, boost=1.0):
    """A student's quantiser: s sign(g) b, b ~ Bernoulli(|g| / s) (or p, or boost |g| / s:
    biased)."""
    if np.all(s == 0):
        return np.zeros_like(g)
    keep = rng.random(g.shape) < (boost * np.abs(g) / s if p is None else p)
    return (s * np.sign(g) * keep).astype(g.dtype)


def student(runs=COUNT, seed=0, *, aggregate="mean", factor=2, clip=None, dtype=np.float64,
            order=(0, 1, 2), stacked=False, column=False, rows="all", log10=False,
            extra_calls=0, quantize=terngrad, scale=None, history=None, keep=2000):
    """What the grader decodes of the worker's answer for `runs` runs of a student's training
    function written this way: {"value": histories, "calls": per run, "records": the first
    `keep` calls}."""
    rng, records, calls, histories = np.random.default_rng(seed), [], [], []
    Xs, ys = X.astype(dtype), Y.astype(dtype)

    def call(g, s):
        out = quantize(g, s, rng)
        records.append([g.copy(), s if np.isscalar(s) else s.copy(), out.copy()])
        return out

    for _ in range(runs):
        before = len(records)
        W = np.zeros((3, 1) if column else 3, dtype=dtype)
        losses = []
        for _ in range(50):
            losses.append([float((Xs[i] @ W - ys[i]).item() ** 2) for i in range(3)])
            grads = [factor * Xs[i].reshape(W.shape) * (Xs[i] @ W - ys[i]) for i in range(3)]
            if clip is not None:
                grads = [np.clip(g, -clip, clip).astype(dtype) for g in grads]
            s_of = (lambda g: dtype(clip)) if clip is not None else \
                (lambda g: np.max(np.abs(g)) if scale is None else scale(g))
            if stacked:
                out = call(np.stack(grads), s_of(np.stack(grads)))
                messages = list(out)
            else:
                messages = [None] * 3
                for i in order:
                    messages[i] = call(grads[i], s_of(grads[i]))
            total = np.sum(messages, axis=0)
            W = (W - dtype(0.1) * (total if aggregate == "sum" else total / 3)).astype(dtype)
        losses.append([float((Xs[i] @ W - ys[i]).item() ** 2) for i in range(3)])
        for _ in range(extra_calls):  # e.g. a look at the quantiser's variance afterwards
            call(np.ones(3, dtype=dtype), dtype(1))
        calls.append(len(records) - before)
        with np.errstate(divide="ignore"):
            h = np.log(np.array(losses))
        h = {"all": h, "before": h[:-1], "after": h[1:]}[rows]
        histories.append(h / np.log(10) if log10 else h)
    value = np.array(histories) if history is None else history(np.array(histories))
    return wire.decode(encode({"value": value, "calls": calls, "records": records[:keep]}))


def outcome(check, answer, sgd=None):
    pinned = ProbeResult(True, sgd) if sgd is not None else ProbeResult(False, error="none")
    return check.evaluate({"runs": ProbeResult(True, answer), "sgd": pinned})


@pytest.mark.parametrize("form", [
    {}, {"order": (2, 0, 1)}, {"stacked": True, "clip": 5.0}, {"dtype": np.float32},
    {"dtype": np.float32, "clip": 5.0}, {"column": True}, {"rows": "before"},
    {"rows": "after", "log10": True}, {"extra_calls": 3}, {"aggregate": "sum"},
    {"factor": 1}, {"clip": 5.0}, {"aggregate": "sum", "factor": 1, "clip": 5.0}])
def test_honest_training_written_any_way_passes(key, form):
    clip = form.get("clip")
    for seed in range(3):
        result = outcome(replay_check(key, clip), student(seed=seed, **form))
        assert result.fraction == 1, (form, result.message, result.detail)
        assert result.message == f"{COUNT} runs are TernGrad training with their own quantiser draws"


def test_the_convention_is_the_one_its_own_history_pins(key):
    check = replay_check(key)
    mean_sgd = key["conventions"]["mean_x2"]["sgd_logL"]
    assert outcome(check, student(), sgd=mean_sgd).variant.startswith("mean_x2")
    summed = outcome(check, student(aggregate="sum"), sgd=mean_sgd)
    assert summed.fraction == 0 and "run 1, step 1" in summed.message


def test_runs_past_the_recorded_calls_are_left_out_but_three_must_be_followed(key):
    check = replay_check(key)
    assert outcome(check, student(runs=12, keep=1000)).message.startswith("6 runs are TernGrad")
    few = outcome(check, student(keep=400))
    assert few.fraction == 0 and "only 2 runs could be followed" in few.message


def test_anything_but_terngrad_training_earns_nothing(key):
    check = replay_check(key)
    sgd = d.log_losses(d.train(X, Y, d.Convention("mean", 2)))
    honest = student()["value"]
    garbage = {
        "2.2's history for every run": student(history=lambda h: np.broadcast_to(sgd, h.shape)),
        "the key's median run": student(history=lambda h: np.broadcast_to(
            key["conventions"]["mean_x2"]["terngrad_logL"]["median"], h.shape)),
        "another seed's runs": student(history=lambda h: np.roll(h, 1, axis=0)),
        "another student's runs": student(history=lambda h: honest, seed=1),
        "shifted": student(history=lambda h: h + 0.01),
        "scaled": student(history=lambda h: h * 1.001),
        "constant": student(history=lambda h: np.zeros_like(h)),
        "s is the L2 norm": student(scale=np.linalg.norm),
        "a biased quantiser": student(quantize=lambda g, s, rng: terngrad(g, s, rng, p=0.5)),
        "|g| / s scaled by 1.5": student(
            quantize=lambda g, s, rng: terngrad(g, s, rng, boost=1.5)),
        "quantises the aggregate": student(stacked=True, scale=lambda g: np.max(np.abs(g))),
    }
    for name, answer in garbage.items():
        result = outcome(check, answer)
        assert result.fraction == 0, (name, result.message)
        assert "0." not in result.message, (name, result.message)  # no replayed values
    same = outcome(check, garbage["2.2's history for every run"])
    assert same.message.startswith(f"all {COUNT} runs returned the same history: not a "
                                   "stochastic")
    one_seed = student(history=lambda h: np.broadcast_to(h[0], h.shape))  # seed ignored
    assert outcome(check, one_seed).fraction == 0
    assert "biased" in outcome(check, garbage["a biased quantiser"]).message
    assert "s is not" in outcome(check, garbage["s is the L2 norm"]).message


def test_clipping_problems_replay_the_clipped_loop(key):
    clipped = replay_check(key, clip=5.0)
    assert outcome(clipped, student(clip=5.0)).fraction == 1
    before = outcome(clipped, student())  # quantised without clipping (s = max |g|)
    assert before.fraction == 0 and "something other than the workers' gradients" in \
        before.message
    assert outcome(replay_check(key), student(clip=5.0)).fraction == 0


def test_what_the_recorder_must_show(key):
    check = replay_check(key)
    never = outcome(check, {**student(), "calls": [0] * COUNT})
    assert never.fraction == 0 and "never called quantize" in never.message
    answer = student()
    answer["records"][5][2] = answer["records"][5][0]  # an output that is g itself
    assert "outside {0, s sign(g)}" in outcome(check, answer).message
    odd = student()
    odd["records"][0] = [np.ones(4), 1.0, np.zeros(4)]
    assert "arrays of shape (4,)" in outcome(check, odd).message
    short = outcome(check, student(history=lambda h: h[:, :40]))
    assert short.fraction == 0 and "each run: expected 51 rows" in short.message


STUDENT_CODE = '''
import numpy as np
X = np.array([[-1., 2, 0], [3, 0, 1], [2, -1, 3]])
y = np.array([-7., 5, 11])

def quantize(g, s):
    return s * np.sign(g) * (np.random.rand(*g.shape) < np.abs(g) / s)

def train(seed):
    np.random.seed(seed)
    W, hist = np.zeros(3), []
    for _ in range(50):
        hist.append((X @ W - y) ** 2)
        G = 2 * (X @ W - y)[:, None] * X
        for i in range(3):                 # overwrites the gradient it quantised
            G[i] = quantize(g=G[i], s=np.max(np.abs(G[i])))
        W = W - 0.1 * G.mean(axis=0)
    hist.append((X @ W - y) ** 2)
    return np.log(hist)
'''


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the student's log(0) at convergence
def test_the_recorder_keeps_keyword_arguments_and_arrays_as_they_were_at_the_call(key):
    """`G[i] = quantize(g=G[i], s=...)`: the record holds g and s in their places, and g as it
    was before the student overwrote it with the output."""
    from graders.sandbox.worker import answer_call
    namespace: dict = {}
    exec(STUDENT_CODE, namespace)  # a test's own code, in the test process
    answer = answer_call(RUNS.wire(), namespace["train"], namespace)
    g, s, out = answer["records"][0]
    assert np.array_equal(g, 2 * (-Y)[0] * X[0]) and s == 28.0 and len(answer["records"][0]) == 3
    decoded = wire.decode(encode(answer))
    assert outcome(replay_check(key), decoded).fraction == 1
