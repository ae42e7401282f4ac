"""How a worker slot is confined on Linux: bubblewrap namespaces, a uid per slot, cgroups.

`detect()` picks the strongest confinement this machine offers:

  bubblewrap as root   bwrap WITHOUT a user namespace (root's bwrap in a user namespace keeps
                       full capabilities over the mounts), then, inside, `setpriv` drops to an
                       unprivileged uid of the slot's own (jobs cannot signal each other and
                       RLIMIT_NPROC counts per uid), no new privileges, no capabilities.
  bubblewrap as a user bwrap --unshare-user (a student's laptop): the user's own uid inside.
  unisolated           a plain subprocess: rlimits and wall clocks only.

Inside bubblewrap the worker sees: /usr (and its /bin, /lib links), ld.so.cache, the Python
installation and the virtual environment read-only, the worker script alone at
/sandbox/worker.py, size-capped /tmp, /dev/shm and /job (the jobs' folders, emptied after each
job with /tmp and /dev/shm), a fresh /proc and /dev.
Not the project (graders/, reference/), not the answer keys (~/.cache), not the gradebook or
other submissions, not /etc or /root. Namespaces: mount, pid, net, ipc, uts (and user when not
root). The slot's cgroup (memory and pids), where the machine has one, is joined before bwrap
starts, so every process of the slot is counted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

SLOT_UID_BASE = 61000
TMP_MB = 64
JOB_MB = 256


@dataclass
class Isolation:
    """The confinement of worker slots; `command(slot, worker)` is the argv of a zygote."""

    kind: str  # "bubblewrap-root", "bubblewrap-user" or "none"
    bwrap: str | None = None
    setpriv: str | None = None
    cgroups: "CgroupSet | None" = None
    notes: list[str] = field(default_factory=list)

    @property
    def isolated(self) -> bool:
        return self.kind != "none"

    @property
    def jobs_root(self) -> str | None:
        """Where the worker makes each job's folder inside the sandbox (None: a host temp dir)."""
        return "/job" if self.isolated else None

    def describe(self) -> str:
        if self.kind == "bubblewrap-root":
            text = ("isolated: bubblewrap namespaces (mount, pid, net, ipc, uts), a separate "
                    "uid per worker slot, no new privileges, rlimits and wall clocks")
        elif self.kind == "bubblewrap-user":
            text = ("isolated: bubblewrap namespaces (user, mount, pid, net, ipc, uts), "
                    "no new privileges, rlimits and wall clocks")
        else:
            return ("NOT ISOLATED: a separate worker process with rlimits and wall clocks, "
                    "but no namespaces and no separate uid")
        if self.cgroups is not None:
            text += ", cgroup memory and process caps"
        return text

    def command(self, slot: int, worker: Path, memory_mb: int) -> list[str]:
        python = [sys.executable, "-I"]
        if not self.isolated:
            return python + [str(worker)]
        argv = [self.bwrap, "--die-with-parent", "--new-session", "--unshare-pid",
                "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if self.kind == "bubblewrap-user":
            argv.append("--unshare-user")
        argv += _filesystem() + ["--perms", "0755", "--dir", "/sandbox",
                                 "--ro-bind", str(worker), "/sandbox/worker.py",
                                 "--chdir", "/job", "--clearenv"]
        if self.kind == "bubblewrap-root":
            uid = str(SLOT_UID_BASE + slot)
            argv += [self.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                     "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"]
        argv += python + ["/sandbox/worker.py"]
        if self.cgroups is not None:
            argv = self.cgroups.launcher(slot, memory_mb) + argv
        return argv


def _filesystem() -> list[str]:
    """bwrap arguments for the read-only system, Python and venv, and the writable tmpfs."""
    argv = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        target = Path("/") / name
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), f"/{name}"]
        elif target.is_dir():
            argv += ["--ro-bind", str(target), f"/{name}"]
    if Path("/etc/ld.so.cache").exists():
        argv += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(TMP_MB * 2**20), "--tmpfs", "/tmp",
             "--perms", "1777", "--size", str(TMP_MB * 2**20), "--tmpfs", "/dev/shm",
             "--perms", "1777", "--size", str(JOB_MB * 2**20), "--tmpfs", "/job"]
    for prefix in dict.fromkeys([sys.base_prefix, sys.prefix]):  # interpreter, then venv
        if prefix.startswith("/usr/"):
            continue  # already there with /usr
        argv += _parents(prefix) + ["--ro-bind", prefix, prefix]
    return argv


def _parents(path: str) -> list[str]:
    """--dir for each parent of path, world-readable (bwrap makes mount points 0700)."""
    argv, current = [], Path("/")
    for part in Path(path).parts[1:-1]:
        current = current / part
        argv += ["--perms", "0755", "--dir", str(current)]
    return argv


class CgroupSet:
    """Per-slot cgroups (v1 memory + pids, or v2), created under the grader's own cgroup."""

    def __init__(self, tag: str):
        self.tag, self.created = tag, []
        self.memory = _controller_dir("memory")
        self.pids = _controller_dir("pids")

    def _slot_dirs(self, slot: int) -> dict[str, Path]:
        return {name: base / f"{self.tag}-slot{slot}"
                for name, base in (("memory", self.memory), ("pids", self.pids)) if base}

    def launcher(self, slot: int, memory_mb: int) -> list[str]:
        """A shell prefix that joins the slot's cgroups, then execs the rest of the argv."""
        joins = []
        for name, path in self._slot_dirs(slot).items():
            path.mkdir(exist_ok=True)
            self.created.append(path)
            if name == "memory":
                # the zygote, one child, and the child's own processes share the cap
                _write(path, ("memory.limit_in_bytes", "memory.max"),
                       str((memory_mb + 512) * 2**20))
            else:
                _write(path, ("pids.max",), "256")
            procs = path / "cgroup.procs"
            joins.append(f'echo $$ > "{procs}"')
        return ["/bin/sh", "-c", " && ".join(joins) + ' && exec "$@"', "grader-slot"]

    def close(self) -> None:
        for path in reversed(self.created):
            try:
                path.rmdir()
            except OSError:
                pass


def _controller_dir(name: str) -> Path | None:
    """This process's cgroup directory for a v1 controller (or the v2 unified one)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if name in controllers.split(","):
            base = Path("/sys/fs/cgroup") / name / path.lstrip("/")
            if base.is_dir() and os.access(base, os.W_OK):
                return base
    return None


def _write(folder: Path, names: tuple[str, ...], value: str) -> None:
    for name in names:
        if (folder / name).exists():
            (folder / name).write_text(value)
            return


def detect(use_cgroups: bool = True) -> Isolation:
    """The strongest isolation that actually starts here (a trial sandbox is run)."""
    bwrap, setpriv = shutil.which("bwrap"), shutil.which("setpriv")
    if sys.platform != "linux" or bwrap is None:
        return Isolation("none", notes=["bubblewrap (bwrap) is not installed: "
                                        "apt-get install bubblewrap"])
    root = os.geteuid() == 0
    if root and setpriv is None:
        return Isolation("none", notes=["setpriv (util-linux) is missing"])
    candidate = Isolation("bubblewrap-root" if root else "bubblewrap-user", bwrap, setpriv)
    trial = candidate.command(0, Path(__file__).with_name("worker.py"), 1024)
    probe = trial[:-2] + ["-c", "import os; print(os.getuid())"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Isolation("none", notes=[f"a trial sandbox did not start: {exc}"])
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return Isolation("none", notes=[f"a trial sandbox failed: {reason}"])
    if use_cgroups and root:
        cgroups = CgroupSet(f"grader-{os.getpid()}")
        if cgroups.memory or cgroups.pids:
            candidate.cgroups = cgroups
        else:
            candidate.notes.append("no writable memory/pids cgroup: rlimits only")
    return candidate
