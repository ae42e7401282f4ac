"""The README's Slurm recipe, run here without Slurm: its dask-jobqueue SLURMCluster, as
written but for the interpreter, the size and the walltime, starts the scheduler and writes
the batch script; the worker command of that script (what `sbatch` would run on a node) is
started here in its own process, and `grader grade --dask ADDRESS` on that cluster gives the
local pool's results, submission by submission. What is not tried: `sbatch` itself."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import textwrap

import pytest

from graders import ROOT
from tests.fixtures.cli import invoke
from tests.fixtures.duke_hw2.examples import EXAMPLES
from tests.test_cluster import results

pytest.importorskip("dask_jobqueue", reason="dask-jobqueue (the test extra) is not installed")


def readme_snippet() -> str:
    """The README's Slurm script (the Python block after "On Slurm")."""
    text = (ROOT / "README.md").read_text()
    after = text[text.index("On Slurm"):]
    return textwrap.dedent(re.search(r"```python\n(.*?)```", after, re.S).group(1))


def test_the_readme_slurm_recipe_grades_like_the_local_pool(tmp_path):
    snippet = readme_snippet()
    assert "SLURMCluster(cores=8, processes=1" in snippet and "cluster.scale(jobs=4)" in snippet
    here = (snippet.replace('"/course/grader/.venv/bin/python"', repr(sys.executable))
            .replace("cores=8", "cores=2").replace('memory="32GB"', 'memory="4GB"'))
    here = "\n".join(line for line in here.splitlines()  # no sbatch here, nobody to press Enter
                     if not line.startswith(("cluster.scale", "input(", "print(")))
    names: dict = {}
    exec(here, names)  # noqa: S102 - the README's own recipe, run as a course would run it
    cluster = names["cluster"]
    worker = None
    try:
        script = cluster.job_script()
        assert "#SBATCH --cpus-per-task=2" in script and "-t 02:00:00" in script
        command = shlex.split(script.strip().splitlines()[-1])
        assert command[0] == sys.executable and "--nthreads" in command
        assert command[command.index("--nthreads") + 1] == "2"  # one Dask worker, 2 slots
        worker = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        batch = tmp_path / "in"
        for student, example in (("alice", "solution"), ("bob", "wrong-sign")):
            (batch / student).mkdir(parents=True)
            shutil.copy(EXAMPLES / f"{example}.ipynb", batch / student / "hw2.ipynb")
        local = invoke(ROOT / "grader.toml", "grade", batch, "-o", tmp_path / "local")
        assert local.exit_code == 0, local.output
        remote = subprocess.run(
            [sys.executable, "-m", "graders.cli", "--config", str(ROOT / "grader.toml"),
             "grade", str(batch), "-o", str(tmp_path / "slurm"), "--dask",
             cluster.scheduler_address], cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert remote.returncode == 0, remote.stdout + remote.stderr
        mine, theirs = results(tmp_path / "local"), results(tmp_path / "slurm")
        assert set(theirs) == {"alice", "bob"} and theirs == mine
        assert mine["alice"]["total"] > mine["bob"]["total"] > 0
    finally:
        if worker is not None:
            worker.kill()
            worker.wait()
        cluster.close()
