"""Data for the duke-hw4 Lab 2 reference runs, as `reference.quantization_runs.LabData`.

digits32   scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes; they ship
           inside the package, nothing is downloaded), adapted to ResNet-20's CIFAR input
cifar10    CIFAR-10 from a local folder in its standard python format (the instructor's own
           download; nothing is fetched at run time)
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from reference.quantization_runs import LabData

#: The normalisation of the course's CIFAR-10 loaders (per channel, on pixels scaled to [0, 1]).
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)
CIFAR_FILES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
CIFAR_SIDE = 32
CLASSES = 10


class DatasetError(ValueError):
    """A data folder or file that cannot be used; the message names the file, the problem and
    the fix."""


def digits32(seed: int = 0, test_fraction: float = 0.2) -> LabData:
    """scikit-learn's 8x8 digits as (N, 3, 32, 32) float32 images, split into train and test.

    Pixels p in 0..16 become p / 16, are upsampled 8x8 -> 32x32 bilinearly
    (F.interpolate, align_corners=False), copied into 3 channels and standardised with the
    mean and standard deviation of the training pixels. The split is stratified: for each
    class c with n_c images, round(test_fraction * n_c) of them, drawn with a torch.Generator
    seeded by `seed`, form the test set (359 of 1797 at 0.2); both sets are then shuffled with
    the same generator. Labels (N,) int64 in 0..9.
    """
    from sklearn.datasets import load_digits  # optional dependency, only needed here

    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32) / 16.0)[:, None]
    labels = torch.from_numpy(digits.target.astype(np.int64))
    generator = torch.Generator().manual_seed(seed)
    test_idx, train_idx = [], []
    for c in range(CLASSES):
        members = torch.nonzero(labels == c).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        k = round(test_fraction * len(members))
        test_idx.append(members[:k])
        train_idx.append(members[k:])
    train_idx, test_idx = torch.cat(train_idx), torch.cat(test_idx)
    train_idx = train_idx[torch.randperm(len(train_idx), generator=generator)]
    test_idx = test_idx[torch.randperm(len(test_idx), generator=generator)]
    x = F.interpolate(images, size=(CIFAR_SIDE, CIFAR_SIDE), mode="bilinear",
                      align_corners=False).expand(-1, 3, -1, -1)
    mean, std = x[train_idx].mean(), x[train_idx].std()
    x = ((x - mean) / std).contiguous()
    return LabData(x[train_idx], labels[train_idx], x[test_idx], labels[test_idx])


def _reconstruct_function():
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, numbers and numpy arrays, nothing else: the CIFAR-10
    batches need only these, and no other global (hence no code) can be reached.
    (_codecs.encode rebuilds bytes in protocol-2 pickles written by Python 3.)"""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        if name == "_reconstruct":
            return _reconstruct_function()
        return codecs.encode if name == "encode" else getattr(np, name)


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3072) uint8 rows and (n,) int64 labels of one CIFAR-10 python batch file."""
    fix = ("re-extract cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
           "and pass its cifar-10-batches-py folder")
    if not path.is_file():
        raise DatasetError(f"{path}: file missing; {fix}")
    try:
        with path.open("rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except Exception as exc:  # any unreadable file gets the same message
        raise DatasetError(f"{path}: not a CIFAR-10 python batch ({exc}); {fix}") from None
    if not isinstance(batch, dict):
        raise DatasetError(f"{path}: holds a {type(batch).__name__}, not a dict; {fix}")
    get = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}.get
    data, labels = get("data"), get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * CIFAR_SIDE * CIFAR_SIDE:
        shape = getattr(data, "shape", None)
        raise DatasetError(f"{path}: 'data' must be a uint8 array (n, 3072), got "
                           f"{type(data).__name__} {getattr(data, 'dtype', '')} {shape}; {fix}")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        labels = np.zeros(0, dtype=np.int64)
    if labels.shape != (len(data),) or ((labels < 0) | (labels >= CLASSES)).any():
        raise DatasetError(f"{path}: 'labels' must be {len(data)} integers in 0..9, got "
                           f"shape {labels.shape}; {fix}")
    return data, labels


def cifar10(folder: str | Path) -> LabData:
    """CIFAR-10 from `folder` (cifar-10-batches-py, or a folder that contains it).

    Reads data_batch_1..5 (train) and test_batch (test), each a pickled dict with b"data"
    (n, 3072) uint8, rows holding the R, G and B planes of a 32x32 image, and b"labels" (n,).
    The files are the instructor's own download, but they are still unpickled with a loader
    that admits numpy arrays only. Images (n, 3, 32, 32) float32 = (pixel / 255 - mean) / std
    with the course's CIFAR_MEAN and CIFAR_STD per channel; labels (n,) int64.
    Raises DatasetError (file, problem, fix) on a missing file or an unexpected content.
    """
    folder = Path(folder)
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder; pass the cifar-10-batches-py folder of "
                           "the extracted cifar-10-python.tar.gz")
    batches = {name: _read_batch(folder / name) for name in CIFAR_FILES}
    mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)

    def tensors(names) -> tuple[torch.Tensor, torch.Tensor]:
        data = np.concatenate([batches[n][0] for n in names])
        labels = np.concatenate([batches[n][1] for n in names])
        x = torch.from_numpy(data).view(-1, 3, CIFAR_SIDE, CIFAR_SIDE).float() / 255.0
        return (x - mean) / std, torch.from_numpy(labels)

    return LabData(*tensors(CIFAR_FILES[:-1]), *tensors(CIFAR_FILES[-1:]))
