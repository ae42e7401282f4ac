"""How worker slots are confined on Linux: bubblewrap namespaces, a uid per slot, cgroups, and
namespaces of its own for every job.

`detect()` picks the strongest confinement this machine offers:

  bubblewrap as root   bwrap WITHOUT a user namespace (root's bwrap in a user namespace keeps
                       full capabilities over the mounts), then, inside, `setpriv` drops to an
                       unprivileged uid of the slot's own (jobs of different slots cannot signal
                       each other), no new privileges, no capabilities.
  bubblewrap as a user bwrap --unshare-user (a student's laptop): the user's own uid inside.
  unisolated           a plain subprocess: rlimits and wall clocks only.

and whether each job can have namespaces of its own (user, pid, mount, ipc, uts, network) with
fresh tmpfs scratch, made by the zygote per job (graders/sandbox/worker.py): then nothing a
job leaves (processes, files, sockets, shared memory) survives it. `candidate()` is the same
choice before any trial: a pool that runs one submission starts under it at once, its workers'
own start being the trial (graders.sandbox.pool.WorkerPool.confirm).

Inside bubblewrap the worker sees: /usr (and its /bin, /lib links), ld.so.cache, the Python
installation and the student environment read-only, the worker script alone at
/sandbox/worker.py, size-capped /tmp, /dev/shm and /job, a fresh /proc and /dev. Not the
project (graders/, reference/), not the answer keys (~/.cache), not the gradebook or other
submissions, not /etc or /root. Namespaces: mount, pid, net, ipc, uts (and user when not
root).

A grader claims its slots with `claim(count)`: a block of uids that no other grader on the
machine holds (a lock file per block), and per-slot cgroups (memory, pids) joined before
bwrap starts, so every process of a slot is counted. `Slots.release()` kills what is left in
those cgroups, waits until they are empty and removes them; cgroups left by a grader that
died are swept at the next claim.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from graders.sandbox.environment import own

SLOT_UID_BASE = 61000
#: uids per block; a grader holds one block, so at most this many slots per pool.
UID_BLOCK = 64
UID_BLOCKS = 64  # 61000 .. 65095: below nobody (65534)
TMP_MB = 64
JOB_MB = 256
CGROUP_PREFIX = "course-grader"


@dataclass
class Isolation:
    """The confinement of worker slots; `command(...)` is the argv of a zygote."""

    kind: str  # "bubblewrap-root", "bubblewrap-user" or "none"
    bwrap: str | None = None
    setpriv: str | None = None
    cgroup_controllers: dict[str, Path] = field(default_factory=dict)
    job_namespaces: bool = False
    notes: list[str] = field(default_factory=list)
    #: False for candidate()'s guess, which no trial sandbox has started yet: the pool's
    #: workers are its trial (graders.sandbox.pool.WorkerPool.confirm)
    tried: bool = True

    @property
    def isolated(self) -> bool:
        return self.kind != "none"

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
        if self.cgroup_controllers:
            text += ", cgroup memory and process caps"
        text += (", namespaces and fresh scratch of its own for every job" if self.job_namespaces
                 else "; jobs of a slot share its namespaces (cleaned after each job)")
        return text

    def claim(self, count: int) -> "Slots":
        """`count` slots for one pool: uids of a block no other grader holds, and cgroups."""
        if count > UID_BLOCK:
            raise ValueError(f"at most {UID_BLOCK} worker slots per pool")
        uid_base, lock = None, None
        if self.kind == "bubblewrap-root":
            uid_base, lock = _claim_uid_block()
        cgroups = None
        if self.cgroup_controllers:
            _sweep_stale_cgroups(self.cgroup_controllers)
            cgroups = CgroupSet(self.cgroup_controllers,
                                f"{CGROUP_PREFIX}-{os.getpid()}-{uid_base or 0}-"
                                f"{time.monotonic_ns() % 10**9}")
        return Slots(self, count, uid_base, cgroups, lock)

    def command(self, slot: int, worker: Path, memory_mb: int, environment=None,
                uid: int | None = None, launcher: list[str] | None = None,
                variables: dict[str, str] | None = None) -> list[str]:
        """The argv of slot `slot`'s zygote: the student environment's `python -I -B
        worker.py` (graders/sandbox/environment.py; default: the grader's own interpreter),
        confined, with exactly the environment `variables` (bwrap clears the rest)."""
        env = environment or own()
        if not self.isolated:
            return [str(env.python), "-I", "-B", str(worker)]
        argv = [self.bwrap, "--die-with-parent", "--new-session", "--unshare-pid",
                "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if self.kind == "bubblewrap-user":
            argv.append("--unshare-user")
        python, binds = _interpreter_binds(env)  # after /sandbox is made world-readable
        argv += _filesystem() + ["--perms", "0755", "--dir", "/sandbox",
                                 "--ro-bind", str(worker), "/sandbox/worker.py"] + binds + [
            "--chdir", "/job", "--clearenv"]
        for name, value in (variables or {}).items():
            argv += ["--setenv", name, value]
        if self.kind == "bubblewrap-root":
            uid_text = str(uid if uid is not None else SLOT_UID_BASE + slot)
            argv += [self.setpriv, f"--reuid={uid_text}", f"--regid={uid_text}",
                     "--clear-groups", "--no-new-privs", "--inh-caps=-all",
                     "--bounding-set=-all"]
        argv += [python, "-I", "-B", "/sandbox/worker.py"]
        return (launcher or []) + argv


@dataclass
class Slots:
    """One pool's claim: `count` slots, their uids (uid_base + slot, as root) and cgroups."""

    isolation: Isolation
    count: int
    uid_base: int | None
    cgroups: "CgroupSet | None"
    _lock: object = None

    def command(self, slot: int, worker: Path, memory_mb: int, environment,
                variables: dict[str, str]) -> list[str]:
        uid = None if self.uid_base is None else self.uid_base + slot
        launcher = self.cgroups.launcher(slot, memory_mb) if self.cgroups else None
        return self.isolation.command(slot, worker, memory_mb, environment, uid, launcher,
                                      variables)

    def release(self) -> None:
        """Kill what is left in the slots' cgroups, remove them, and give the uids back."""
        if self.cgroups is not None:
            self.cgroups.close()
            self.cgroups = None
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None
            CLAIMED[self.uid_base] = False


#: uid blocks this process has claimed, each with whether it still holds it.
CLAIMED: dict[int, bool] = {}


def released_uids() -> list[range]:
    """The uids of blocks this process claimed and has released: no process of its slots
    may be running with one of them any more."""
    return [range(base, base + UID_BLOCK) for base, held in CLAIMED.items() if not held]


def _claim_uid_block():
    """(first uid, lock file) of a block of UID_BLOCK uids that no other grader holds."""
    folder = Path("/run/course-grader") if os.access("/run", os.W_OK) else \
        Path(tempfile.gettempdir()) / "course-grader"
    folder.mkdir(mode=0o755, exist_ok=True)
    for block in range(UID_BLOCKS):
        handle = open(folder / f"uids-{block}.lock", "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        CLAIMED[SLOT_UID_BASE + block * UID_BLOCK] = True
        return SLOT_UID_BASE + block * UID_BLOCK, handle
    raise RuntimeError(f"all {UID_BLOCKS} uid blocks are held by other graders on this machine")


def _filesystem() -> list[str]:
    """bwrap arguments for the read-only system and the writable tmpfs."""
    argv = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        target = Path("/") / name
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), f"/{name}"]
        elif target.is_dir():
            argv += ["--ro-bind", str(target), f"/{name}"]
    if Path("/etc/ld.so.cache").exists():
        argv += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    return argv + ["--proc", "/proc", "--dev", "/dev",
                   "--perms", "1777", "--size", str(TMP_MB * 2**20), "--tmpfs", "/tmp",
                   "--perms", "1777", "--size", str(TMP_MB * 2**20), "--tmpfs", "/dev/shm",
                   "--perms", "1777", "--size", str(JOB_MB * 2**20), "--tmpfs", "/job"]


#: Where a student environment (a virtual environment) is bound inside the sandbox.
ENV_MOUNT = "/sandbox/env"


def _interpreter_binds(env) -> tuple[str, list[str]]:
    """(the python to start inside, bwrap binds): the base interpreter read-only at its own
    path, and a virtual environment read-only at ENV_MOUNT, so the cache folder that holds
    it (and the answer keys beside it) is not in sight."""
    binds = []
    base = str(env.base_prefix)
    if not base.startswith("/usr/"):
        binds += _parents(base) + ["--ro-bind", base, base]
    if Path(env.prefix) == Path(env.base_prefix):
        return str(env.python), binds
    return (f"{ENV_MOUNT}/bin/{Path(env.python).name}",
            binds + ["--ro-bind", str(env.prefix), ENV_MOUNT])


def sandbox_path(env, path: Path) -> str:
    """Where a file of the environment `env` is seen inside the sandbox."""
    if Path(env.prefix) == Path(env.base_prefix):
        return str(path)
    return f"{ENV_MOUNT}/{Path(path).relative_to(env.prefix)}"


def _parents(path: str) -> list[str]:
    """--dir for each parent of path, world-readable (bwrap makes mount points 0700)."""
    argv, current = [], Path("/")
    for part in Path(path).parts[1:-1]:
        current = current / part
        argv += ["--perms", "0755", "--dir", str(current)]
    return argv


class CgroupSet:
    """Per-slot cgroups (v1 memory + pids, or v2) under the grader's own cgroup."""

    def __init__(self, controllers: dict[str, Path], tag: str):
        self.controllers, self.tag, self.created = controllers, tag, []

    def launcher(self, slot: int, memory_mb: int) -> list[str]:
        """A shell prefix that joins the slot's cgroups, then execs the rest of the argv."""
        joins = []
        for name, base in self.controllers.items():
            path = base / f"{self.tag}-slot{slot}"
            path.mkdir(exist_ok=True)
            if path not in self.created:
                self.created.append(path)
            if name == "memory":
                # the zygote, one job, and the job's own processes share the cap
                _write(path, ("memory.limit_in_bytes", "memory.max"),
                       str((memory_mb + 512) * 2**20))
            else:
                _write(path, ("pids.max",), "256")
            joins.append(f'echo $$ > "{path / "cgroup.procs"}"')
        return ["/bin/sh", "-c", " && ".join(joins) + ' && exec "$@"', "grader-slot"]

    def close(self) -> None:
        for path in reversed(self.created):
            _remove_cgroup(path)
        self.created = []


def _remove_cgroup(path: Path, wait_s: float = 5.0) -> bool:
    """Kill every process in the cgroup, wait until it is empty, then remove it (polled
    from 1 ms up to 20 ms: a killed zygote is gone within a few ms)."""
    deadline = time.monotonic() + wait_s
    pause = 0.001
    while True:
        try:
            pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
        except OSError:
            return not path.exists()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not pids:
            try:
                path.rmdir()
                return True
            except OSError:
                pass
        if time.monotonic() > deadline:
            return False
        time.sleep(pause)
        pause = min(2 * pause, 0.02)


def _sweep_stale_cgroups(controllers: dict[str, Path]) -> None:
    """Remove the slot cgroups of graders that are no longer running."""
    for base in controllers.values():
        for path in base.glob(f"{CGROUP_PREFIX}-*-slot*"):
            pid = path.name.split("-")[2]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                _remove_cgroup(path, wait_s=1.0)


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


NAMESPACE_PROBE = ("import runpy; w = runpy.run_path('{worker}'); "
                   "print(w['namespaces_work']({{'/tmp': 1}}))")


def _job_namespaces(argv_prefix: list[str], worker: str) -> bool:
    """Whether a worker started by `argv_prefix` can give jobs namespaces of their own."""
    probe = argv_prefix + ["-c", NAMESPACE_PROBE.format(worker=worker)]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30,
                              env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == "True"


#: detect()'s note where the kernel refuses jobs namespaces of their own.
NO_JOB_NAMESPACES = ("jobs cannot have namespaces of their own here (unprivileged user "
                     "namespaces are off): a slot's jobs share its namespaces, and the slot is "
                     "cleaned after each job")


def candidate(use_cgroups: bool = True) -> Isolation | None:
    """The confinement detect() tries first here, not tried yet (`tried` False): bubblewrap
    as root (with setpriv) or as a user, job namespaces assumed (a zygote tries them before
    it says ready, and says whether they work) and, as root, the writable memory/pids
    cgroups. None where bubblewrap cannot be (not Linux, no bwrap, root without setpriv):
    detect() then says why. Costs no process start: a pool started under it confirms it by
    starting (graders.sandbox.pool.WorkerPool.confirm), about 0.2 s sooner than detect()."""
    bwrap, setpriv = shutil.which("bwrap"), shutil.which("setpriv")
    root = os.geteuid() == 0 if sys.platform == "linux" else False
    if sys.platform != "linux" or bwrap is None or (root and setpriv is None):
        return None
    found = Isolation("bubblewrap-root" if root else "bubblewrap-user", bwrap, setpriv,
                      job_namespaces=True, tried=False)
    if use_cgroups and root:
        controllers = {name: base for name in ("memory", "pids")
                       if (base := _controller_dir(name)) is not None}
        if controllers:
            found.cgroup_controllers = controllers
        else:
            found.notes.append("no writable memory/pids cgroup: rlimits only")
    return found


def detect(use_cgroups: bool = True) -> Isolation:
    """The strongest isolation that actually starts here (a trial sandbox is run)."""
    worker = Path(__file__).with_name("worker.py")
    found = candidate(use_cgroups)
    if found is None:
        if sys.platform == "linux" and shutil.which("bwrap") and os.geteuid() == 0:
            return Isolation("none", notes=["setpriv (util-linux) is missing"])
        plain = Isolation("none", notes=["bubblewrap (bwrap) is not installed: "
                                         "apt-get install bubblewrap"])
        plain.job_namespaces = sys.platform == "linux" and _job_namespaces(
            [sys.executable, "-I", "-B"], str(worker))
        return plain
    trial = Isolation(found.kind, found.bwrap, found.setpriv).command(0, worker, 1024)
    probe = trial[:-1] + ["-c", "import os; print(os.getuid())"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Isolation("none", notes=[f"a trial sandbox did not start: {exc}"])
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return Isolation("none", notes=[f"a trial sandbox did not start: {reason}"])
    found.tried = True
    found.job_namespaces = _job_namespaces(trial[:-1], "/sandbox/worker.py")
    if not found.job_namespaces:
        found.notes.insert(0, NO_JOB_NAMESPACES)
    return found
