"""Student environments: the interpreter and packages a submission runs with.

An `EnvironmentSpec` (from grader.toml's [environments.NAME]) names pip requirements and,
optionally, a base interpreter. `ensure(spec)` builds it once into a virtual environment under
the grader's cache (`<GRADER_CACHE or ~/.cache/course-grader>/envs/NAME-HASH`) and returns an
`Environment`: the python to start the sandbox worker with, the folders the sandbox must bind
read-only (`prefix` and `base_prefix`), and the installed versions.

Guarantees:
- The folder name carries a hash of the normalised requirements, the base interpreter's path
  and version, and `FORMAT`: a changed package list is a new environment, never a patched one.
- A folder that exists is complete: it is built in a temporary sibling, checked by importing
  every requested package there, and renamed into place. A failed build leaves nothing behind
  and raises `EnvironmentBuildError` naming the environment, its assignments, the failing
  package and the fix.
- Two graders never build the same environment at once (an flock per environment); the second
  waits and then uses the first one's result.
- Nothing in a built environment needs writing at run time: every module is byte-compiled, all
  files are world-readable, and matplotlib's font list is prebuilt in `mpl_cache` (copy it into
  MPLCONFIGDIR before importing matplotlib to skip the font scan).
- IPython and traitlets are always installed: the sandbox worker needs them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

FORMAT = 1  # bump when the layout of a built environment changes: every one is rebuilt
ALWAYS = ("ipython", "traitlets")  # the sandbox worker imports these
#: A pinned requirement NAME==VERSION with a plain release version, the way grader.toml pins
#: its packages: read here as packaging reads it, without packaging's parser (~17 ms of
#: imports on every `grader check` before its worker can start); other forms go to packaging.
PINNED = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)==([0-9]+(?:\.[0-9]+)*)")


def canonical_name(name: str) -> str:
    """A distribution's name as PEP 503 compares it (packaging.utils.canonicalize_name)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement(text: str) -> tuple[str, str]:
    """(canonical name, requirement text with that name) of a pip requirement string, as
    packaging gives them; ValueError (packaging's InvalidRequirement) where it is not one."""
    pinned = PINNED.fullmatch(text)
    if pinned:
        name = canonical_name(pinned.group(1))
        return name, f"{name}=={pinned.group(2)}"
    from packaging.requirements import Requirement
    parsed = Requirement(text)
    parsed.name = canonical_name(parsed.name)
    return parsed.name, str(parsed)
INFO_FILE = "grader-env.json"
MPL_CACHE = "share/grader-matplotlib"  # prebuilt font list, relative to the prefix
VERSIONS_SHOWN = ("numpy", "scipy", "torch", "matplotlib", "pandas", "sympy")

Progress = Callable[[str], None]


class EnvironmentBuildError(Exception):
    """A student environment could not be built; str() names it, the cause and the fix."""


@dataclass(frozen=True)
class EnvironmentSpec:
    """What an environment holds. `packages`: pip requirement strings; `python`: the base
    interpreter (default: the grader's own base interpreter); `assignments`: who uses it
    (named in errors, not part of the hash)."""

    name: str
    packages: tuple[str, ...]
    python: str | None = None
    assignments: tuple[str, ...] = ()

    def requirements(self) -> list[str]:
        """The normalised, sorted requirements, with IPython and traitlets added if absent."""
        reqs = {}
        for text in self.packages:  # config validated them (requirement raises otherwise)
            name, normalised = requirement(text)
            reqs[name] = normalised
        for name in ALWAYS:
            reqs.setdefault(name, name)
        return sorted(reqs.values())

    def base_python(self) -> str:
        return self.python or getattr(sys, "_base_executable", None) or sys.executable

    def digest(self) -> str:
        """sha256 over the requirements, the base interpreter (path and version) and FORMAT."""
        try:
            base = _interpreter(self.base_python())
        except EnvironmentBuildError as exc:
            raise EnvironmentBuildError(f"{self.users()}: {exc}") from None
        text = json.dumps({"format": FORMAT, "requirements": self.requirements(),
                           "python": base["executable"], "version": base["version"]},
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def folder(self) -> Path:
        return envs_dir() / f"{self.name}-{self.digest()[:16]}"

    def users(self) -> str:
        return f"environment {self.name!r}" + (
            f" (assignment {', '.join(self.assignments)})" if self.assignments else "")


@dataclass(frozen=True)
class Environment:
    """A built environment. Start the worker with `python`; bind `prefix` and `base_prefix`
    read-only at their own paths inside the sandbox. Run its tools as `python -m pip` etc.:
    the scripts in bin/ name the temporary folder it was built in."""

    name: str
    python: Path
    prefix: Path
    base_prefix: Path
    python_version: str
    versions: dict[str, str]  # canonical distribution name -> version
    mpl_cache: Path | None = None  # prebuilt matplotlib font list (a folder), if matplotlib


def envs_dir() -> Path:
    """Where built environments live: next to the key cache (GRADER_CACHE honoured)."""
    from graders.cache import root  # not graders.keys: the student kit has no key modules
    return root() / "envs"


@lru_cache(maxsize=1)
def own() -> Environment:
    """The grader's own interpreter as an Environment (assignments that name none use it);
    read once per process (listing the installed distributions takes a quarter second)."""
    from importlib import metadata  # here: 10 ms of imports before `grader check`'s worker
    return Environment("grader", Path(sys.executable), Path(sys.prefix), Path(sys.base_prefix),
                       platform.python_version(),
                       {canonical_name(d.metadata["Name"]): d.version
                        for d in metadata.distributions() if d.metadata["Name"]})


def for_assignment(config, name: str, progress: Progress | None = None,
                   build: bool = True) -> Environment | None:
    """The environment assignment `name` of `config` (graders.config.Config) runs in, built
    first if it is not yet (with `build` False: None instead, at the cost of one small file
    read); the grader's own interpreter where the assignment names none."""
    chosen = config.assignment(name).environment
    if chosen is None:
        return own()
    spec = config.environments[chosen]
    return ensure(spec, progress) if build else built(spec)


def built(spec: EnvironmentSpec) -> Environment | None:
    """The environment if it is built, else None; never builds, costs one small file read."""
    return _read(spec.folder())


def ensure(spec: EnvironmentSpec, progress: Progress | None = None) -> Environment:
    """The built environment for `spec`, building it first if needed (once, under a lock)."""
    say = progress or (lambda line: None)
    folder = spec.folder()
    found = _read(folder)
    if found is not None:
        return found
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _locked(folder.parent / f".{folder.name}.lock", spec, say):
        found = _read(folder)  # another grader may have built it while we waited
        if found is not None:
            return found
        for stale in folder.parent.glob(f".{folder.name}.tmp-*"):  # a killed build's leftovers
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
        try:
            _build(spec, staging, folder, say)
            os.rename(staging, folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    found = _read(folder)
    assert found is not None, folder
    return found


def describe(env: Environment) -> str:
    """One line for `grader doctor` and `grader env`: python and the main packages' versions."""
    shown = [f"{name} {env.versions[name]}" for name in VERSIONS_SHOWN if name in env.versions]
    return f"Python {env.python_version}; " + (", ".join(shown) or "no scientific packages")


# --- building -----------------------------------------------------------------------------

CHECK = r"""
import importlib, json, sys
from importlib import metadata
wanted = json.loads(sys.argv[1])
def modules(dist):
    files = metadata.distribution(dist).files or []
    tops = {f.parts[0].removesuffix(".py") for f in files if len(f.parts) > 1 or
            f.name.endswith(".py")}
    tops = sorted(t for t in tops if t.isidentifier() and not t.startswith("_"))
    key = dist.replace("-", "_").lower()
    same = [t for t in tops if t.lower() == key]
    return same or tops
for dist in wanted:
    for name in modules(dist):
        try:
            importlib.import_module(name)
        except BaseException as exc:
            print(json.dumps({"failed": dist, "module": name,
                              "error": f"{type(exc).__name__}: {exc}"[:500]}))
            sys.exit(1)
if "matplotlib" in sys.modules:
    import matplotlib.font_manager  # writes the font list into MPLCONFIGDIR = mpl_cache
versions = {d.metadata["Name"]: d.version for d in metadata.distributions() if d.metadata["Name"]}
print(json.dumps({"versions": versions, "version": sys.version.split()[0],
                  "base_prefix": sys.base_prefix}))
"""


def _build(spec: EnvironmentSpec, staging: Path, final: Path, say: Progress) -> None:
    """venv + pip install + import check + compileall + info file, all inside `staging`."""
    start = time.monotonic()
    base = spec.base_python()
    reqs = spec.requirements()
    say(f"{spec.name}: building in {final} (Python {_interpreter(base)['version']}, "
        f"{len(reqs)} requirement(s): {' '.join(reqs)})")
    _run(spec, [base, "-m", "venv", str(staging)], "create the virtual environment",
         f"check that {base} has the venv module (Debian: apt-get install python3-venv)")
    python = str(staging / "bin" / "python")
    step = time.monotonic()
    _run(spec, [python, "-I", "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                "--progress-bar", "off", *reqs], "install its packages", None)
    say(f"{spec.name}: installed in {time.monotonic() - step:.0f} s")
    mpl_cache = staging / MPL_CACHE
    mpl_cache.mkdir(parents=True)
    step = time.monotonic()
    names = json.dumps([requirement(r)[0] for r in reqs])
    done = _run(spec, [python, "-I", "-c", CHECK, names], "import its packages", None,
                env={"MPLBACKEND": "Agg", "MPLCONFIGDIR": str(mpl_cache)})
    info = json.loads(done.stdout.strip().splitlines()[-1])
    # Some packages ship deliberately unparsable files (test data): compile what compiles.
    subprocess.run([python, "-m", "compileall", "-q", "-j", "0", "-s", str(staging), "-p",
                    str(final), str(staging / "lib")], capture_output=True, check=False)
    say(f"{spec.name}: imports checked and byte-compiled in {time.monotonic() - step:.0f} s")
    if not any(mpl_cache.iterdir()):
        mpl_cache.rmdir()
    (staging / INFO_FILE).write_text(json.dumps({
        "format": FORMAT, "name": spec.name, "requirements": reqs, "base_python": base,
        "base_prefix": info["base_prefix"], "python_version": info["version"],
        "versions": {canonical_name(k): v for k, v in sorted(info["versions"].items())},
        "build_seconds": round(time.monotonic() - start, 1),
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=1))
    _world_readable(staging)
    say(f"{spec.name}: ready in {time.monotonic() - start:.0f} s")


def _run(spec: EnvironmentSpec, argv: list[str], what: str, fix: str | None,
         env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")}
    done = subprocess.run(argv, capture_output=True, text=True, env={**clean, **(env or {})},
                          cwd=tempfile.gettempdir(), umask=0o022)
    if done.returncode != 0:
        raise EnvironmentBuildError(_failure(spec, what, fix, done))
    return done


def _failure(spec: EnvironmentSpec, what: str, fix: str | None,
             done: subprocess.CompletedProcess) -> str:
    """The message for a failed step: which package, pip's last error lines, the fix."""
    where = "[environments." + spec.name + "] packages in grader.toml"
    lines = [re.sub(r"\(from versions: ([^)]*)\)", _last_versions, line.strip())
             for line in (done.stdout + "\n" + done.stderr).splitlines()
             if line.strip() and not line.startswith(("WARNING", "ERROR: Ignored"))]
    failed_import = next((json.loads(line) for line in done.stdout.splitlines()
                          if line.startswith('{"failed"')), None)
    if failed_import is not None:
        return (f"{spec.users()}: could not {what}: package {failed_import['failed']!r} "
                f"installed but `import {failed_import['module']}` failed "
                f"({failed_import['error']}); pin a version of it (or of what it needs) that "
                f"works with the others in {where}")
    errors = [line for line in lines if line.startswith("ERROR") or "error" in line.lower()]
    culprit = next((m.group(1) for line in lines for m in [re.search(
        r"(?:No matching distribution found for|satisfies the requirement|Failed to build|"
        r"Cannot install) ([^\s;,()]+)", line)] if m), None)
    tail = " | ".join((errors or lines)[-3:])[:1200] or f"exit status {done.returncode}"
    if fix is None:
        fix = (f"correct {culprit!r} in {where} (`pip index versions NAME` lists the versions "
               "that exist)" if culprit else f"check the requirements in {where}")
    package = f" (package {culprit!r})" if culprit else ""
    return f"{spec.users()}: could not {what}{package}: {tail}; {fix}"


def _last_versions(match: re.Match) -> str:
    versions = match.group(1).split(", ")
    return "(versions: " + ("..., " if len(versions) > 4 else "") + ", ".join(versions[-4:]) + ")"


def _world_readable(root: Path) -> None:
    """Let the sandbox's unprivileged uid read (and traverse) everything in the environment."""
    for folder, dirs, files in os.walk(root):
        os.chmod(folder, os.stat(folder).st_mode | 0o755)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444)


@contextmanager
def _locked(path: Path, spec: EnvironmentSpec, say: Progress):
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"{spec.name}: another grader is building it; waiting")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read(folder: Path) -> Environment | None:
    try:
        info = json.loads((folder / INFO_FILE).read_text())
    except (OSError, ValueError):
        return None
    mpl = folder / MPL_CACHE
    return Environment(info["name"], folder / "bin" / "python", folder,
                       Path(info["base_prefix"]), info["python_version"], info["versions"],
                       mpl if mpl.is_dir() else None)


@lru_cache(maxsize=None)
def _interpreter(python: str) -> dict:
    """{"executable": real path, "version": "3.11.7"} of a base interpreter."""
    if os.path.realpath(python) == os.path.realpath(getattr(sys, "_base_executable", "")):
        return {"executable": os.path.realpath(python), "version": platform.python_version()}
    try:
        done = subprocess.run([python, "-c", "import platform, sys; print(sys.executable); "
                               "print(platform.python_version())"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise EnvironmentBuildError(f"the interpreter {python} does not start ({reason}); set "
                                    "python = \"/path/to/python3\" to one that does") from None
    if done.returncode != 0 or len(done.stdout.split()) != 2:
        raise EnvironmentBuildError(f"the interpreter {python} does not start; set python = "
                                    "\"/path/to/python3\" to one that does")
    executable, version = done.stdout.split()
    return {"executable": os.path.realpath(executable), "version": version}
