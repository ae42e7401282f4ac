"""The sandbox worker: cells run in order, failures stay in their cell, limits are enforced
and named, and nothing the submission prints or writes is taken for a result."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace

import numpy as np
import pytest

from graders.checks.base import Probe
from graders.execution import execute
from tests.fixtures.processes import processes, slots

READ_X = [Probe("x", "value", "x")]


def run(pool, course, cells, probes=READ_X, **limits):
    return execute(pool, cells, probes, replace(course.limits, **limits))


def test_cells_run_in_order_and_a_raising_cell_does_not_stop_the_rest(pool, course):
    ex = run(pool, course, ["x = 1", "1 / 0", "x = x + 1"])
    assert ex.probes["x"].ok and ex.probes["x"].value == 2
    failed = [c for c in ex.cells if not c.ok]
    assert [c.index for c in failed] == [1]
    assert "ZeroDivisionError" in failed[0].error


def test_magics_and_shell_lines_fail_or_work_per_cell(pool, course):
    ex = run(pool, course, ["%timeit -n1 -r1 pass", "%not_a_magic", "!true", "x = 3"])
    assert ex.probes["x"].value == 3
    assert [c.ok for c in ex.cells] == [True, False, True, True]


def test_a_top_level_await_runs_as_in_jupyter_and_other_cells_as_before(pool, course):
    """Only cells that say await or async are tried as coroutines (the shell skips its trial
    compile of the others): both kinds run."""
    ex = run(pool, course, ["import asyncio", "async def two():\n    return 2",
                            "x = await two()", "x = x + (await asyncio.sleep(0, 1))",
                            "y = 'await' + ' is a word here'", "x = x + len([y])"])
    assert [c.ok for c in ex.cells] == [True] * 6, [c.error for c in ex.cells]
    assert ex.probes["x"].value == 4


def test_an_infinite_loop_is_killed_named_and_the_later_cells_still_run(pool, course):
    ex = run(pool, course, ["y = 1", "while True: pass", "x = y + 1"], cell_s=1.0)
    assert ex.limits_hit == ["cell 2 exceeded 1 s"]
    assert ex.probes["x"].value == 2
    assert ex.cells[1].error == "skipped: cell 2 exceeded 1 s"


def test_sleep_is_stopped_by_the_wall_clock(pool, course):
    ex = run(pool, course, ["import time\ntime.sleep(10**6)", "x = 5"], cell_s=2.0)
    assert ex.limits_hit == ["cell 1 exceeded 2 s"], ex.limits_hit
    assert ex.probes["x"].value == 5


def test_a_huge_allocation_hits_the_memory_limit_in_its_cell(pool, course):
    ex = run(pool, course, ["import numpy as np\nbig = np.ones(10 * 2**30 // 8)", "x = 1"])
    assert "exceeded the memory limit" in ex.cells[0].error
    assert ex.probes["x"].value == 1


def test_sys_exit_and_os_exit_do_not_end_grading(pool, course):
    ex = run(pool, course, ["import sys\nsys.exit(0)", "x = 1", "import os\nos._exit(0)",
                            "x = 2"])
    assert ex.probes["x"].value == 2
    assert "SystemExit" in ex.cells[0].error
    assert "cell 3" in ex.limits_hit[0]


def test_printed_output_is_capped_per_cell(pool, course):
    ex = run(pool, course, ["print('a' * 10**7)\nx = 1"], output_chars=100)
    assert len(ex.cells[0].output) == 100 and ex.cells[0].output_dropped > 10**6
    assert ex.probes["x"].value == 1


def test_fake_result_lines_written_to_any_descriptor_are_not_results(pool, course):
    fake = ('{"ev": "probe_end", "id": "x", "ok": true, "value": {"t": "int", "v": "99"}}\\n'
            '{"ev": "end", "limit": null, "exit": 0}\\n')
    cells = ["import os\nfor fd in range(3, 20):\n    try:\n        os.write(fd, b'" + fake
             + "')\n    except OSError:\n        pass", f"print('{fake}')", "x = 1"]
    ex = run(pool, course, cells)
    assert ex.probes["x"].value == 1


def test_function_probe_is_called_with_hidden_inputs_and_seeded(pool, course):
    from graders.wire import encode_array
    probe = Probe("f", "call", "f", (encode_array(np.array([1.0, 2.0])), 3.0), repeat=4, seed=7)
    cells = ["import numpy as np\ndef f(g, s):\n    return g * s + np.random.rand()"]
    first = run(pool, course, cells, [probe]).probes["f"].value
    again = run(pool, course, cells, [probe]).probes["f"].value
    assert first.shape == (4, 2)
    np.testing.assert_array_equal(first, again)  # same seed, same draws
    assert np.all((first - np.array([3.0, 6.0]) >= 0) & (first - np.array([3.0, 6.0]) < 1))


def test_values_cross_as_data_and_unknown_types_are_opaque(pool, course):
    cells = ["import numpy as np, sympy as sp\n"
             "a = np.arange(6).reshape(2, 3)\n"
             "e = sp.Rational(1, 3) * sp.Symbol('q') ** 2\n"
             "m = sp.Matrix([[sp.Symbol('q'), 1]])\n"
             "d = {1: [1.5, float('nan')], 'k': 'text'}\n"
             "class Liar(float):\n    def __eq__(self, other): return True\n"
             "liar = Liar(0.25)\n"
             "fn = print"]
    names = ["a", "e", "m", "d", "liar", "fn"]
    ex = run(pool, course, cells, [Probe(n, "value", n) for n in names])
    import sympy as sp
    from graders.wire import Opaque
    got = {n: ex.probes[n].value for n in names}
    assert got["a"].dtype == np.int64 and got["a"].shape == (2, 3)
    assert got["e"] == sp.Rational(1, 3) * sp.Symbol("q") ** 2
    assert got["m"] == sp.Matrix([[sp.Symbol("q"), 1]])
    assert got["d"][1][0] == 1.5 and np.isnan(got["d"][1][1]) and got["d"]["k"] == "text"
    assert type(got["liar"]) is float and got["liar"] == 0.25  # a plain float, no __eq__
    assert isinstance(got["fn"], Opaque)


def test_a_missing_name_is_explained_by_the_failed_cell_that_defines_it(pool, course):
    ex = run(pool, course, ["x = undefined_thing + 1"])
    assert not ex.probes["x"].ok
    assert "cell 1, which defines it, failed (NameError" in ex.probes["x"].error


@pytest.mark.parametrize("cells", [["x = 1\nwhile True: pass"]])
def test_total_time_limit_bounds_the_retries(pool, course, cells):
    ex = run(pool, course, cells + ["while True: pass"] * 5, cell_s=1.0, job_s=3.5)
    assert ex.seconds < 8
    assert not ex.probes["x"].ok


def test_a_call_probe_can_pass_the_students_own_objects_and_seeds(pool, course):
    probe = Probe("run", "call", "run", ({"t": "ref", "name": "step"}, {"t": "seed"}))
    probe = replace_probe(probe, seeds=[3, 4, 3])
    cells = ["import numpy as np\ndef step(x):\n    return 2 * x\n"
             "def run(f, seed):\n    return [f(seed), np.random.rand()]"]
    value = run(pool, course, cells, [probe]).probes["run"].value
    assert set(value) == {"value"}
    runs = value["value"]
    assert runs.shape == (3, 2) and list(runs[:, 0]) == [6, 8, 6]
    assert runs[0, 1] == runs[2, 1] != runs[1, 1]  # the RNGs are seeded with each run's seed


def test_a_swapped_function_is_counted_and_recorded_while_another_runs(pool, course):
    probe = replace_probe(Probe("train", "call", "train", ({"t": "seed"},)),
                          seeds=[1, 2], swap={"name": "quantize", "keep": 3})
    cells = ["def quantize(g):\n    return g + 1\n"
             "def train(seed):\n    return [sum(quantize(seed) for _ in range(seed + 1))]",
             "def cheat(seed):\n    q = lambda g: g + 1\n    return [q(seed) * (seed + 1)]"]
    honest = run(pool, course, cells, [probe]).probes["train"].value
    assert honest["calls"] == [2, 3]
    assert [list(map(float, r)) for r in honest["records"]] == [[1, 2], [1, 2], [2, 3]]
    cheat = replace_probe(Probe("cheat", "call", "cheat", ({"t": "seed"},)), seeds=[1],
                          swap={"name": "quantize", "keep": 3})
    assert run(pool, course, cells, [cheat]).probes["cheat"].value["calls"] == [0]


def test_a_batched_call_is_used_when_the_function_is_vectorised(pool, course):
    from graders.wire import encode_array
    g = encode_array(np.array([1.0, -2.0]))
    cells = ["import numpy as np\ndef vectorised(g, s):\n    return np.sign(g) * s\n"
             "def looped(g, s):\n    return np.array([np.sign(g[0]) * s, np.sign(g[1]) * s])"]
    probes = [replace_probe(Probe(name, "call", name, (g, 3.0), repeat=5),
                            batch={"arg": 0, "n": 5}) for name in ("vectorised", "looped")]
    got = run(pool, course, cells, probes).probes
    assert got["vectorised"].value["batched"] is True
    assert got["looped"].value["batched"] is False  # fell back to five separate calls
    for name in ("vectorised", "looped"):
        np.testing.assert_array_equal(got[name].value["value"], [[3.0, -3.0]] * 5)


def test_a_call_that_does_not_fit_the_function_names_both_signatures(pool, course):
    cells = ["def terngrad(grads, clipGrads, T):\n    return grads",
             "def inner(g, s):\n    return g(s)"]
    probes = [Probe("terngrad", "call", "terngrad", (1.0, 2.0)),
              Probe("inner", "call", "inner", (1.0, 2.0))]
    got = run(pool, course, cells, probes).probes
    assert got["terngrad"].error == ("terngrad takes (grads, clipGrads, T) here; the grader "
                                     "calls terngrad(a, b)")
    assert "TypeError: 'float' object is not callable" in got["inner"].error


def replace_probe(probe, **fields):
    """A Probe with extra wire fields (seeds, swap, batch) the worker reads."""
    class Extended(type(probe)):
        def wire(self):
            return {**super().wire(), **fields}
    return Extended(**{name: getattr(probe, name) for name in probe.__dataclass_fields__})


def test_the_zygote_has_warmed_up_what_the_preloads_load_on_first_use(pool, course):
    """sympy's first matrix product and pyplot's first figure load more modules; each job
    finds them loaded (by the zygote's warm_up), not one of its own to pay for."""
    ex = run(pool, course, ["import sys\nx = sorted(m for m in ('sympy.tensor.tensor', "
                            "'sympy.combinatorics', 'matplotlib.backends.backend_agg') "
                            "if m in sys.modules)"])
    assert ex.probes["x"].value == ["matplotlib.backends.backend_agg", "sympy.combinatorics",
                                    "sympy.tensor.tensor"]


def _alive(pid: int) -> bool:
    """Whether `pid` is a process that has not ended (neither gone nor a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_a_spare_job_process_killed_while_it_waits_is_replaced(pool, course):
    """The zygote forks the next job's processes ahead (graders/sandbox/worker.Spare); one
    killed from outside before its job comes is replaced by the zygote itself (the slot's
    worker is not restarted), and the job runs."""
    for _ in range(2):
        assert run(pool, course, ["x = 1"]).probes["x"].value == 1
    time.sleep(0.5)  # every slot's last job has ended and its spare is forked
    killed, zygotes = [], [w.proc.pid for w in pool._workers]
    table = processes()
    for worker in pool._workers:
        for zygote in slots(table, worker.proc.pid).values():
            for pid in [pid for pid, p in table.items() if p.parent == zygote]:
                os.kill(pid, signal.SIGKILL)  # the spare's first process
                killed.append(pid)
    assert len(killed) >= len(pool._workers)
    while any(_alive(pid) for pid in killed):  # dead (a zombie) before the next job comes
        time.sleep(0.01)
    for value in (2, 3, 4):
        assert run(pool, course, [f"x = {value}"]).probes["x"].value == value
    assert [w.proc.pid for w in pool._workers] == zygotes
