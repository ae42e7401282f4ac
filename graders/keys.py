"""Answer keys: built by an assignment module from `reference/`, stored as a JSON artifact.

The artifact is cached under a hash of everything that can change the key: the reference
code, the assignment modules (the module and the helpers it is built from), the code of the
artifact's format, the key parameters from grader.toml, and the versions of
Python, numpy and sympy. It records those, the build time, and the seeds (in `params`).
The JSON uses the same tagged format as the worker's results (graders.sandbox.worker.encode,
read back by graders.wire.decode), so arrays and formulas survive exactly.

Beside the keys, `remember_probes` keeps the probes (in the job's wire form) that the last
`grader check` of an assignment sent its worker: `grader check` starts the next job with them
before it has loaded the key (graders.sandbox.pool.WorkerPool.start). Importing this module
costs no numpy or sympy (those load with the key), so that guess is read in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
import importlib
from importlib import metadata
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from graders import ROOT, cache
from graders.config import ConfigError

REFERENCE_DIR = ROOT / "reference"
#: The code that writes and reads the artifact: a change to it invalidates cached keys too.
FORMAT_CODE = (ROOT / "graders" / "sandbox" / "worker.py", ROOT / "graders" / "wire.py",
               ROOT / "graders" / "symbolic.py")


@dataclass
class Key:
    data: dict
    meta: dict


def cache_dir() -> Path:
    return cache.root() / "keys"


def _installed(package: str) -> str | None:
    """A package's version without importing it (torch takes seconds to import)."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def fingerprint(assignment_id: str, module: ModuleType, params: dict) -> tuple[str, dict]:
    versions = {"python": platform.python_version(), "numpy": _installed("numpy"),
                "sympy": _installed("sympy"), "torch": _installed("torch")}
    digest = hashlib.sha256()
    assignments = sorted(Path(module.__file__).parent.glob("*.py"))  # the module and helpers
    for source in sorted(REFERENCE_DIR.glob("*.py")) + assignments + list(FORMAT_CODE):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    digest.update(json.dumps([assignment_id, params, versions], sort_keys=True).encode())
    return digest.hexdigest(), versions


def build_topics(topics: list[str], params: dict) -> dict:
    """An assignment's key from reference modules: {topic: reference.<topic>.build_key(p)},
    with p = params[topic] (grader.toml's [assignments.ID.key.<topic>]). Modules are imported
    here, so a topic that needs torch costs nothing until its key is built."""
    unknown = sorted(set(params) - set(topics))
    if unknown:
        raise KeyError(f"{', '.join(unknown)} (topics of this key: {', '.join(topics)})")
    return {topic: importlib.import_module(f"reference.{topic}").build_key(params.get(topic))
            for topic in topics}


def load_key(assignment_id: str, module: ModuleType, params: dict, rebuild: bool = False) -> Key:
    """The key for this configuration, from the cache or freshly built (and then cached)."""
    from graders import wire  # with sympy: formulas are decoded here
    digest, versions = fingerprint(assignment_id, module, params)
    path = cache_dir() / f"{assignment_id}-{digest[:20]}.json"
    if path.exists() and not rebuild:
        stored = json.loads(path.read_text())
        return Key(wire.decode(stored["key"]), stored["meta"])
    started = time.perf_counter()
    try:
        data = module.build_key(dict(params))
    except KeyError as exc:
        raise ConfigError(f"[assignments.{assignment_id}.key] unknown parameter {exc.args[0]}; "
                          "fix the name or remove it.") from None
    except ValueError as exc:
        raise ConfigError(f"[assignments.{assignment_id}.key] {exc}; fix the value.") from None
    from graders.sandbox.worker import encode
    meta = {"assignment": assignment_id, "hash": digest, "versions": versions,
            "params": params, "build_seconds": round(time.perf_counter() - started, 3),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    encoded = encode(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        json.dump({"meta": meta, "key": encoded}, tmp)
    os.replace(tmp.name, path)
    return Key(wire.decode(encoded), meta)


def _probes_path(assignment_id: str) -> Path:
    return cache_dir() / f"{assignment_id}-probes.json"


def remembered_probes(assignment_id: str) -> list[dict] | None:
    """The probes, in wire form (graders.checks.base.Probe.wire), that the last `grader check`
    of this assignment sent its worker; None if there are none or they cannot be read. A
    guess: the job grading sends is compared with the job started from it, so a stale guess
    costs time, never a grade."""
    try:
        probes = json.loads(_probes_path(assignment_id).read_text())
    except (OSError, ValueError):
        return None
    return probes if isinstance(probes, list) else None


def remember_probes(assignment_id: str, probes: list[dict]) -> None:
    """Keep `probes` for the next check of this assignment (written only when they changed)."""
    probes = json.loads(json.dumps(probes))  # as they will be read back: tuples as lists
    if remembered_probes(assignment_id) == probes:
        return
    path = _probes_path(assignment_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False,
                                         suffix=".tmp") as tmp:
            json.dump(probes, tmp)
        os.replace(tmp.name, path)
    except OSError:
        pass  # a cache that cannot be written only costs the next check its head start
