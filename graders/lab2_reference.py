"""duke-hw4 Lab 2 reference runs (reference.quantization_runs), cached as JSON files.

A run takes minutes (digits on 2 CPU cores) to hours (CIFAR-10), so its results are stored
under cache_dir().parent / "lab2" / "<source>-<digest[:20]>.json", where digest is the sha256
of: the code of reference/quantization.py and reference/quantization_runs.py; the data (shape,
dtype and bytes of the four tensors); the settings, seed included; the torch version; and the
device type (CPU and CUDA kernels round differently). Anything else leaves the digest as it is.
The file holds {"meta": {source, hash, versions, device, seconds, built_at}, "results": ...}
and is written atomically (temporary file, then rename).

The answer key of duke-hw4 holds the runs grader.toml names ([...key.quantization_runs]:
data, cifar10_path, schedule, seed; `key_runs`): digits runs are computed when missing (a
progress bar over epochs), CIFAR-10 runs only by `grader key duke-hw4 --data cifar10=PATH`.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch

from graders import ROOT
from graders.datasets import cifar10, digits32
from graders.keys import cache_dir
from graders.report import write_atomic
from reference.quantization_runs import (
    DEFAULTS, LabData, LabSettings, Progress, default_device, run_lab,
)

CODE = (ROOT / "reference" / "quantization.py", ROOT / "reference" / "quantization_runs.py")
#: Data sources: the shipped digits (no path) and CIFAR-10 from a local folder.
SOURCES = ("digits", "cifar10")


def results_dir() -> Path:
    return cache_dir().parent / "lab2"


def load_source(source: str, path: str | Path | None = None,
                seed: int = 0) -> tuple[LabData, LabSettings]:
    """The data and the settings of a source: "digits" (digits32(seed), LabSettings.digits())
    or "cifar10" (cifar10(path), the course's LabSettings()); `seed` goes into both."""
    if source == "digits":
        return digits32(seed), replace(LabSettings.digits(), seed=seed)
    if source == "cifar10":
        if path is None:
            raise ValueError("cifar10 needs the folder of its python batches: cifar10=PATH")
        return cifar10(path), LabSettings(seed=seed)
    raise ValueError(f"unknown data source {source!r}; choose one of {', '.join(SOURCES)}")


def fingerprint(data: LabData, settings: LabSettings, device: torch.device) -> str:
    """sha256 (hex) of the code, data, settings, torch version and device type (module doc)."""
    digest = hashlib.sha256()
    for source in CODE:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    for tensor in data:
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array)
    digest.update(json.dumps([settings.as_dict(), torch.__version__, device.type],
                             sort_keys=True).encode())
    return digest.hexdigest()


def lab_results(source: str, data: LabData, settings: LabSettings,
                progress: Progress | None = None, device: torch.device | None = None,
                rebuild: bool = False, cached_only: bool = False) -> dict:
    """The run's {"meta", "results"} from the cache, or computed by run_lab and cached.

    `source` names the data in the file name and the meta ("digits", "cifar10"); `rebuild`
    recomputes even when a cached file exists; `cached_only` raises LookupError instead of
    computing. `progress` is only called when computing.
    """
    device = device or default_device()
    digest = fingerprint(data, settings, device)
    path = results_dir() / f"{source}-{digest[:20]}.json"
    if path.exists() and not rebuild:
        return json.loads(path.read_text())
    if cached_only:
        raise LookupError(path)
    started = time.perf_counter()
    results = run_lab(data, settings, progress=progress, device=device)
    meta = {"source": source, "hash": digest, "device": device.type,
            "versions": {"torch": torch.__version__},
            "seconds": round(time.perf_counter() - started, 1),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    stored = {"meta": meta, "results": results}
    write_atomic(path, json.dumps(stored, indent=1))
    return stored


def run_settings(params: dict | None) -> tuple[str, LabData, LabSettings]:
    """(source, data, settings) of key parameters (DEFAULTS completed by `params`)."""
    p = {**DEFAULTS, **(params or {})}
    data, settings = load_source(p["data"], p["cifar10_path"] or None, p["seed"])
    if p["data"] == "digits" and p["schedule"] == "quick":
        settings = settings.quick()
    return p["data"], data, settings


def epoch_bar(settings: LabSettings, label: str) -> tuple[Progress, Callable[[], None]]:
    """A tqdm progress bar over the schedule's training epochs (stderr), opened at the first
    epoch (a cached run shows none): (progress, close)."""
    from tqdm import tqdm
    bars = []

    def progress(stage: str, epoch: int, epochs: int, accuracy: float) -> None:
        if not bars:
            bars.append(tqdm(total=settings.total_epochs(), desc=label, unit="epoch"))
        if epochs:
            bars[0].update(1)
            bars[0].set_postfix_str(f"{stage} {accuracy:.1f}%")

    return progress, lambda: [bar.close() for bar in bars]


def key_runs(params: dict | None, rebuild: bool = False) -> dict:
    """The reference runs of the key: {"source", "settings", "results", "meta"}. Digits are
    computed when not cached (minutes); CIFAR-10 must have been computed by
    `grader key duke-hw4 --data cifar10=PATH`, else a ValueError says so."""
    source, data, settings = run_settings(params)
    progress, close = epoch_bar(settings, f"Lab 2 reference runs ({source})")
    try:
        stored = lab_results(source, data, settings, progress=progress, rebuild=rebuild,
                             cached_only=source != "digits")
    except LookupError:
        path = (params or {}).get("cifar10_path") or "PATH"
        raise ValueError(f"the {source} reference runs of Lab 2 are not computed yet: run "
                         f"`grader key duke-hw4 --data {source}={path}` once (hours on a GPU)"
                         ) from None
    finally:
        close()
    return {"source": source, "settings": settings.as_dict(), "results": stored["results"],
            "meta": stored["meta"]}


def data_option(text: str, params: dict | None) -> dict:
    """Key parameters for `grader key ... --data SOURCE[=PATH]` ("digits", "cifar10=PATH"):
    grader.toml's `params` with the data source (and path) replaced; ValueError if unknown."""
    source, _, path = text.partition("=")
    if source not in SOURCES or (source == "cifar10") != bool(path):
        raise ValueError(f"--data {text}: write --data digits or --data cifar10=PATH (the "
                         "folder of CIFAR-10's python batches)")
    return {**(params or {}), "data": source, "cifar10_path": path}


def compute(params: dict, rebuild: bool = False) -> tuple[dict, str]:
    """The runs of `params` computed (or read from the cache) with a progress bar, whatever
    the source; (stored runs, the results table)."""
    source, data, settings = run_settings(params)
    progress, close = epoch_bar(settings, f"Lab 2 reference runs ({source})")
    try:
        stored = lab_results(source, data, settings, progress=progress, rebuild=rebuild)
    finally:
        close()
    return stored, results_table(stored["results"])


def results_table(results: dict) -> str:
    """The lab's accuracy table as text: one row per model (float, uniform b, mixed), test
    accuracy before and after finetuning (best epoch, with the number of epochs), and the
    average precision in bits of Lab 2 (e) (reference.quantization.average_precision)."""
    from reference.quantization import average_precision

    rows = [("float", results["float"]["accuracy"], None, None, 32.0)]
    for b, entry in results["uniform"].items():
        rows.append((f"uniform {b}", entry["before_finetune"], entry.get("after_finetune"),
                     len(entry.get("history", [])), average_precision(*[int(b)] * 3)[1]))
    for entry in results["mixed"].values():
        nbits = entry["nbits"]
        rows.append((f"mixed {','.join(map(str, nbits))}", entry["before_finetune"],
                     entry["after_finetune"], len(entry["history"]),
                     average_precision(*nbits)[1]))
    lines = [f"{'model':<14}{'before %':>10}{'after %':>10}{'epochs':>8}{'avg bits':>10}"]
    for name, before, after, epochs, bits in rows:
        after_text = f"{after:10.2f}{epochs:8d}" if after is not None else f"{'-':>10}{'-':>8}"
        lines.append(f"{name:<14}{before:10.2f}{after_text}{bits:10.2f}")
    return "\n".join(lines)
