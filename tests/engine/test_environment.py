"""Student environments: grader.toml's [environments.*], the build cache, and what runs there.

Tests marked `slow` build environments with pip. The tiny one (IPython and traitlets only,
about 10 s) is built afresh in a temporary cache per session; the configured ones (numpy1,
course: minutes each) are built once into the real cache (GRADER_CACHE or
~/.cache/course-grader/envs; `.ci/run` builds them with `grader env` before the tests), so
later sessions find them at once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from graders import ROOT, config
from graders.sandbox.environment import (EnvironmentBuildError, EnvironmentSpec, built,
                                         describe, ensure)

ASSIGNMENT = '[assignments.a]\npoints = 0\n'

# Course code of 2019-2020: numpy 1.x turns a 1-element array into a scalar where needed.
FLOAT_OF_ROW = "import numpy as np\na = np.ones((4, 1))\ni = 2\nv = float(a[i, :])\n"
STORE_1X1 = ("import numpy as np\nx, W, y = np.ones((1, 3)), np.ones((3, 1)), np.ones((1, 1))\n"
             "L = np.zeros(5)\nj = 1\nL[j] = (x @ W - y)**2\nassert L[j] == 4\n")

PLOT = """
import os, sys, time
start = time.perf_counter()
import matplotlib.pyplot as plt
seconds = time.perf_counter() - start
plt.plot([1, 2, 3], [1, 4, 9])
plt.show()                      # a no-op under Agg: nothing blocks, nothing is lost
plt.savefig(sys.argv[1])
plt.close("all")
import matplotlib
print(matplotlib.get_backend(), f"{seconds:.2f}", os.path.getsize(sys.argv[1]) > 1000)
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grader.toml"
    path.write_text(text)
    return path


# --- grader.toml ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ('[environments.e]\npackages = ["numpy"]\npythn = "/usr/bin/python3"\n' + ASSIGNMENT,
     "[environments.e.pythn] is not a known setting"),
    ('[environments.e]\npackages = "numpy"\n' + ASSIGNMENT,
     "[environments.e.packages] is 'numpy'; it must be a list of pip requirements"),
    ('[environments.e]\npackages = ["numpy 1.26.4"]\n' + ASSIGNMENT,
     "[environments.e.packages] 'numpy 1.26.4' is not a pip requirement"),
    ('[environments.e]\npackages = ["numpy"]\npython = "python3"\n' + ASSIGNMENT,
     "[environments.e.python] is 'python3'; it must be the absolute path"),
    ('[environments.e]\npackages = ["numpy"]\n' + ASSIGNMENT + 'environment = "numpy1"\n',
     "[assignments.a.environment] is 'numpy1', which no [environments.NAME] defines "
     "(defined: e)"),
    ('[environments."a b"]\npackages = []\n' + ASSIGNMENT, '[environments.a b] is not a usable'),
])
def test_environment_mistakes_name_the_file_key_and_fix(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    assert str(info.value).startswith(f"{path}: ") and expected in str(info.value)


def test_assignments_default_to_the_environment_named_default(tmp_path):
    text = '[environments.default]\npackages = ["numpy==1.26.4"]\n' + ASSIGNMENT
    loaded = config.load(write(tmp_path, text))
    assert loaded.assignments["a"].environment == "default"
    assert loaded.environments["default"].assignments == ("a",)
    assert config.load(write(tmp_path, ASSIGNMENT)).assignments["a"].environment is None


def test_the_shipped_course_pins_numpy1_for_duke_and_current_numpy_for_dlsp():
    course = config.load(ROOT / "grader.toml")
    assert {a: c.environment for a, c in course.assignments.items()} == {
        "duke-hw2": "numpy1", "duke-hw4": "numpy1", "dlsp-hw3": "course"}
    for spec in course.environments.values():
        assert all("==" in p for p in spec.packages), f"{spec.name}: pin exact versions"
    assert "numpy==1.26.4" in course.environments["numpy1"].packages
    assert "torch==2.13.0" in course.environments["numpy1"].packages  # duke-hw4 Lab 2


# --- the hash -------------------------------------------------------------------------------

def test_the_folder_changes_with_the_packages_and_nothing_else():
    spec = EnvironmentSpec("e", ("numpy==1.26.4", "scipy==1.13.1"))
    assert EnvironmentSpec("e", ("scipy==1.13.1", "NumPy==1.26.4")).digest() == spec.digest()
    assert EnvironmentSpec("e", ("numpy==1.26.4", "scipy==1.13.1"),
                           assignments=("duke-hw2",)).digest() == spec.digest()
    assert EnvironmentSpec("e", ("numpy==1.26.3", "scipy==1.13.1")).digest() != spec.digest()
    assert EnvironmentSpec("e", ("numpy==1.26.4",)).digest() != spec.digest()
    assert spec.requirements() == ["ipython", "numpy==1.26.4", "scipy==1.13.1", "traitlets"]
    assert EnvironmentSpec("e", ("IPython==9.18.1",)).requirements() == [
        "ipython==9.18.1", "traitlets"]


def test_an_interpreter_that_does_not_start_is_named(tmp_path):
    spec = EnvironmentSpec("old", (), python=str(tmp_path / "python2"), assignments=("a",))
    with pytest.raises(EnvironmentBuildError, match=r"environment 'old' \(assignment a\): "
                       r"the interpreter .*python2 does not start \(No such file or directory\); "
                       r"set python = "):
        spec.digest()


# --- building -------------------------------------------------------------------------------

@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "envs"


@pytest.mark.slow
def test_ensure_builds_once_even_when_two_graders_ask_at_once(cache):
    spec = EnvironmentSpec("tiny", ())
    assert built(spec) is None
    lines, results = [], []
    threads = [threading.Thread(target=lambda: results.append(ensure(spec, lines.append)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [line for line in lines if "building in" in line] == [
        f"tiny: building in {spec.folder()} (Python {results[0].python_version}, "
        "2 requirement(s): ipython traitlets)"]
    assert any("another grader is building it" in line for line in lines)
    assert results[0] == results[1] == built(spec)
    env = results[0]
    assert env.prefix == spec.folder() and env.python == env.prefix / "bin" / "python"
    assert env.base_prefix == Path(sys.base_prefix) and "ipython" in env.versions
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == [env.prefix.name]
    start, again = time.perf_counter(), []
    assert ensure(spec, again.append) == env
    assert time.perf_counter() - start < 0.1 and again == []
    assert describe(env).startswith(f"Python {env.python_version}; ")


@pytest.mark.slow
def test_a_failed_build_leaves_nothing_and_names_the_package(cache):
    spec = EnvironmentSpec("broken", ("sympy==0.0.99",), assignments=("duke-hw2",))
    with pytest.raises(EnvironmentBuildError) as info:
        ensure(spec)
    message = str(info.value)
    assert message.startswith("environment 'broken' (assignment duke-hw2): could not install "
                              "its packages (package 'sympy==0.0.99'): ")
    assert "No matching distribution found for sympy==0.0.99" in message
    assert "correct 'sympy==0.0.99' in [environments.broken] packages in grader.toml" in message
    assert "\n" not in message
    assert [p.name for p in cache.iterdir()] == [f".{spec.folder().name}.lock"]


# --- the configured environments --------------------------------------------------------------

@pytest.fixture(scope="session")
def environments():
    """Every configured environment, built once into the real cache (minutes the first time)."""
    course = config.load(ROOT / "grader.toml")
    return {name: ensure(spec, print) for name, spec in course.environments.items()}


def run(python, code: str, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-I", "-c", code, *args], capture_output=True,
                          text=True, timeout=300, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("code", [FLOAT_OF_ROW, STORE_1X1], ids=["float-of-row", "store-1x1"])
def test_course_era_code_runs_in_numpy1_and_raises_under_numpy2(environments, code):
    env = environments["numpy1"]
    assert env.versions["numpy"] == "1.26.4"
    done = run(env.python, code)
    assert done.returncode == 0, done.stderr
    ours = run(sys.executable, code)  # the grader's numpy 2.4: the reason numpy1 exists
    assert ours.returncode != 0
    assert "TypeError: only 0-dimensional arrays can be converted to Python scalars" in ours.stderr


@pytest.mark.slow
def test_torch_runs_with_numpy_1_26_in_numpy1(environments):
    done = run(environments["numpy1"].python, "import numpy as np, torch\n"
               "t = torch.from_numpy(np.arange(6.0).reshape(2, 3))\n"
               "print((t @ t.T).numpy().tolist(), torch.nn.Linear(3, 2)(t.float()).shape)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("]]")[0] == "[[5.0, 14.0], [14.0, 50.0"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["numpy1", "course"])
def test_plotting_is_headless_and_needs_no_writable_home(environments, name, tmp_path):
    env = environments[name]
    assert env.mpl_cache is not None and any(env.mpl_cache.glob("fontlist-*.json"))
    mpl = tmp_path / "mpl"
    shutil.copytree(env.mpl_cache, mpl)  # what the worker does at start-up: no font scan
    done = run(env.python, PLOT, str(tmp_path / "plot.png"),
               env={"MPLBACKEND": "Agg", "HOME": str(tmp_path), "MPLCONFIGDIR": str(mpl)})
    assert done.returncode == 0 and done.stderr == "", done.stderr
    backend, _seconds, written = done.stdout.split()
    assert backend.lower() == "agg" and written == "True"


SANDBOX = shutil.which("bwrap") and shutil.which("setpriv") and os.geteuid() == 0


@pytest.mark.slow
@pytest.mark.skipif(not SANDBOX, reason="needs root, bubblewrap and setpriv")
@pytest.mark.parametrize("name", ["numpy1", "course"])
def test_an_environment_runs_read_only_as_an_unprivileged_uid(environments, name):
    """The sandbox's own confinement (Isolation.command): the environment read-only at
    /sandbox/env, its base interpreter read-only, a tmpfs /tmp as HOME and MPLCONFIGDIR, the
    slot's unprivileged uid; the prebuilt font list copied as the worker copies it."""
    from graders.sandbox.isolation import detect, sandbox_path
    from graders.sandbox.pool import WORKER_SCRIPT
    env = environments[name]
    slots = detect().claim(1)
    argv = slots.command(0, WORKER_SCRIPT, 2048, env, {
        "HOME": "/tmp", "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/.mpl"})
    fonts = sandbox_path(env, env.mpl_cache)
    argv = argv[:-1] + ["-c", f"import shutil; shutil.copytree({fonts!r}, '/tmp/.mpl')\n"
                        + FLOAT_OF_ROW * (name == "numpy1")
                        + "import numpy, sympy, pandas, scipy, torch\n" + PLOT, "/tmp/plot.png"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    finally:
        slots.release()
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "Warning" in line]
    assert all("DeprecationWarning: Conversion of an array with ndim > 0" in w for w in warnings)
    assert len(warnings) == (name == "numpy1") and "atplotlib" not in done.stderr, done.stderr
    backend, seconds, written = done.stdout.split()
    assert backend.lower() == "agg" and written == "True"
    print(f"{name}: import matplotlib.pyplot {seconds} s in the sandbox")


# --- the command line -------------------------------------------------------------------------

def grader(*args) -> "click.testing.Result":
    from click.testing import CliRunner

    from graders.cli import main
    return CliRunner().invoke(main, [*map(str, args)])


@pytest.mark.slow
def test_grader_env_reports_each_built_environment_and_its_path(environments):
    result = grader("--config", ROOT / "grader.toml", "env", "duke-hw4", "dlsp-hw3")
    assert result.exit_code == 0, result.output
    assert f"duke-hw4: environment numpy1: {environments['numpy1'].prefix}" in result.output
    assert f"dlsp-hw3: environment course: {environments['course'].prefix}" in result.output
    assert "numpy 1.26.4" in result.output and "torch 2.13.0" in result.output


def test_grader_env_names_a_broken_environment_and_exits_2(tmp_path, cache):
    path = write(tmp_path, '[environments.e]\npackages = ["numpy"]\npython = "/nonexistent/py"\n'
                 + ASSIGNMENT + 'environment = "e"\n')
    result = grader("--config", path, "env")
    assert result.exit_code == 2
    assert "error: environment 'e' (assignment a): the interpreter /nonexistent/py does not " \
           "start" in result.output


def test_doctor_lists_each_assignments_environment(tmp_path, cache, capsys):
    import click

    from graders.cli import _doctor_environments
    path = write(tmp_path, '[environments.e]\npackages = ["numpy==1.26.4"]\n'
                 + ASSIGNMENT + 'environment = "e"\n[assignments.b]\npoints = 0\n')
    with click.Context(click.Command("doctor"), obj={"config": path}) as ctx:
        _doctor_environments(ctx)
    text = capsys.readouterr().out
    spec = config.load(path).environments["e"]
    assert (f"[MISS] a            e: not built (would be {spec.folder()}); run `grader env a`"
            in text)
    assert "[ ok ] b            the grader's own interpreter" in text and "numpy 2." in text


def test_pinned_requirements_read_as_packaging_reads_them():
    """environment.requirement reads NAME==VERSION itself (no packaging import on the
    check's path) and must give packaging's name and text, else every environment's folder
    name (its digest) would change; other forms go to packaging."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from graders.sandbox.environment import PINNED, requirement
    course = tomllib.loads((ROOT / "grader.toml").read_text())
    shipped = [p for env in course["environments"].values() for p in env["packages"]]
    odd = ["Scikit_Learn==1.3", "ipython==8.20.0", "a.b-c_d==1", "numpy == 1.26.4",
           "numpy>=1.26,<2", "torch[cpu]==2.13.0", "matplotlib==3.10.9rc1", "x==1.0.post1"]
    for text in shipped + odd:
        parsed = Requirement(text)
        parsed.name = canonicalize_name(parsed.name)
        assert requirement(text) == (parsed.name, str(parsed)), text
    assert all(PINNED.fullmatch(p) for p in shipped)  # the shipped pins take the short path
    for bad in ("numpy==", "==1.2", "numpy=1.0", "nu mpy==1.0", "numpy==1.0;;"):
        with pytest.raises(ValueError):
            requirement(bad)
