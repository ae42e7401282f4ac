"""`grader doctor`: which isolation layers work on this machine, checked from inside a sandbox.

Each layer is a `Layer(name, ok, detail)`. The checks that matter are made by a small script
run in a real worker slot, so they report what a submission would actually see.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from graders import ROOT
from graders.keys import cache_dir
from graders.sandbox.isolation import Isolation, detect
from graders.sandbox.pool import WORKER_SCRIPT

PROBE = """
import json, os, socket
out = {"uid": os.getuid(), "pid": os.getpid()}
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2); out["network"] = True
except OSError:
    out["network"] = False
out["visible"] = {p: os.path.exists(p) for p in PATHS}
out["proc_count"] = sum(e.isdigit() for e in os.listdir("/proc"))
print(json.dumps(out))
"""


@dataclass
class Layer:
    name: str
    ok: bool
    detail: str


def check(config: Path) -> tuple[Isolation, list[Layer]]:
    """The layers, probing that `config` (the grader.toml in use) is hidden with the rest."""
    isolation = detect(use_cgroups=True)
    bwrap = shutil.which("bwrap")
    layers = [
        Layer("Linux", platform.system() == "Linux", platform.platform()),
        Layer("bubblewrap", bwrap is not None,
              _version(bwrap) if bwrap else "missing: apt-get install bubblewrap"),
    ]
    root = os.geteuid() == 0
    layers.append(Layer("separate uid per slot", isolation.kind == "bubblewrap-root",
                        "setpriv drops to a uid of the slot's own (a block per grader) inside the "
                        "sandbox" if root else
                        "not root: the sandbox runs as your own uid in a user namespace"))
    layers.append(Layer("sandbox starts", isolation.isolated,
                        isolation.describe() if isolation.isolated else "; ".join(isolation.notes)))
    if isolation.isolated:
        secret = _secret_paths(config)
        seen = _probe_inside(isolation, secret)
        visible = [p for p in secret if seen["visible"].get(p)]
        layers += [
            Layer("pid namespace", seen["proc_count"] < 10,
                  f"{seen['proc_count']} processes visible inside"),
            Layer("no network", not seen["network"], "a connection attempt from inside "
                  + ("succeeded" if seen["network"] else "failed, as it should")),
            Layer("project, keys and home hidden", not visible,
                  "visible inside: " + ", ".join(visible) if visible else
                  "reference/, graders/, grader.toml, the key cache, ~/.cache and /etc are "
                  "not there"),
            Layer("process limit (RLIMIT_NPROC)", seen["uid"] != 0,
                  f"uid {seen['uid']} inside: each job's processes are capped per uid"
                  if seen["uid"] != 0
                  else "uid 0 inside: root ignores RLIMIT_NPROC"),
        ]
    layers.append(Layer("namespaces of its own per job", isolation.job_namespaces,
                        "user, pid, mount, ipc, uts and network namespaces and fresh tmpfs "
                        "scratch per job: nothing a job leaves reaches the next"
                        if isolation.job_namespaces else "unavailable here (unprivileged user "
                        "namespaces are off): jobs of a slot share it, cleaned after each"))
    cg = isolation.cgroup_controllers
    layers.append(Layer("cgroup memory and process caps", bool(cg),
                        "; ".join(f"{name}: {path}" for name, path in cg.items()) if cg else
                        "none writable here: rlimits (address space, processes) only"))
    layers.append(Layer("rlimits", True, "address space, file size, open files, processes, "
                        "CPU time, no core files; wall clocks per cell and per submission"))
    return isolation, layers


def _version(bwrap: str) -> str:
    try:
        return subprocess.run([bwrap, "--version"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "installed (version unknown)"


def _secret_paths(config: Path) -> list[str]:
    """What a submission must not see: the project, the key cache, the host's home and users."""
    return [str(ROOT / "reference"), str(ROOT / "graders"), str(Path(config).resolve()),
            str(cache_dir()), "/etc/passwd", str(Path.home() / ".cache")]


def _probe_inside(isolation: Isolation, paths: list[str]) -> dict:
    argv = isolation.command(0, WORKER_SCRIPT, 1024)
    script = f"PATHS = {json.dumps(paths)}\n" + PROBE
    done = subprocess.run(argv[:-1] + ["-c", script], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin"})
    return json.loads(done.stdout.strip().splitlines()[-1])
