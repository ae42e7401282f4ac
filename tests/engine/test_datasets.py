"""graders.datasets: the shipped digits adapted to ResNet-20, and CIFAR-10's python batches
read from a fake folder written here in the same format."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from graders.datasets import CIFAR_MEAN, CIFAR_STD, DatasetError, cifar10, digits32


def test_digits32_shapes_split_and_normalisation():
    data = digits32(0)
    assert data.x_train.shape == (1438, 3, 32, 32) and data.x_test.shape == (359, 3, 32, 32)
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert torch.equal(data.x_train[:, 0], data.x_train[:, 2])  # grey in 3 channels
    assert abs(float(data.x_train.mean())) < 1e-5 and abs(float(data.x_train.std()) - 1) < 1e-4
    # stratified: every class holds 20% (rounded) of its images in the test set
    for c in range(10):
        n_test, n_train = int((data.y_test == c).sum()), int((data.y_train == c).sum())
        assert n_test == round(0.2 * (n_test + n_train))


def test_digits32_is_the_sklearn_images_upsampled_and_depends_on_the_seed():
    from sklearn.datasets import load_digits

    data, other = digits32(0), digits32(1)
    images = np.concatenate([data.x_train[:, 0], data.x_test[:, 0]])
    # averaging each 4x4 block of a bilinear 4x upsampling does not give the 8x8 image back
    # exactly, but the order of pixels within an image survives: match on correlation
    small = images.reshape(-1, 8, 4, 8, 4).mean(axis=(2, 4)).reshape(len(images), -1)
    sk = load_digits().images.reshape(len(images), -1)
    corr = np.corrcoef(np.concatenate([small, sk]))[: len(images), len(images):]
    assert np.all(corr.max(axis=1) > 0.95)  # every image is one of sklearn's digits
    assert torch.equal(digits32(0).x_test, data.x_test)
    assert not torch.equal(other.y_test, data.y_test)


def _write_batches(folder, n: int = 4, skip: str | None = None, override: dict = {}) -> None:
    """CIFAR-10's layout: data_batch_1..5 and test_batch, each a protocol-2 pickle of
    {b"data": (n, 3072) uint8, b"labels": [n ints]} (bytes keys, as Python 2 wrote them)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate([*(f"data_batch_{k}" for k in range(1, 6)), "test_batch"]):
        if name == skip:
            continue
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": [int(v) for v in (np.arange(n) + i) % 10],
                 b"batch_label": name.encode()}
        batch.update(override)
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


def test_cifar10_reads_the_python_batches(tmp_path):
    _write_batches(tmp_path / "cifar-10-batches-py")
    data = cifar10(tmp_path)  # the parent folder is accepted too
    assert data.x_train.shape == (20, 3, 32, 32) and data.x_test.shape == (4, 3, 32, 32)
    assert data.y_train.tolist()[:5] == [0, 1, 2, 3, 1] and data.y_test.tolist() == [5, 6, 7, 8]
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="bytes")[b"data"][1]
    # row = R plane, G plane, B plane of a 32x32 image; (pixel / 255 - mean) / std
    expected = (raw.reshape(3, 32, 32) / 255.0 - np.array(CIFAR_MEAN)[:, None, None]) \
        / np.array(CIFAR_STD)[:, None, None]
    assert np.allclose(data.x_train[1].numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("problem, write, message", [
    ("missing file", {"skip": "data_batch_3"}, "data_batch_3: file missing"),
    ("wrong shape", {b"data": np.zeros((4, 100), np.uint8)}, "'data' must be a uint8 array"),
    ("wrong dtype", {b"data": np.zeros((4, 3072), np.float32)}, "'data' must be a uint8 array"),
    ("bad labels", {b"labels": [0, 1, 2, 10]}, "'labels' must be 4 integers in 0..9"),
    ("few labels", {b"labels": [0, 1]}, "'labels' must be 4 integers in 0..9"),
])
def test_cifar10_names_file_problem_and_fix(tmp_path, problem, write, message):
    if "skip" in write:
        _write_batches(tmp_path, skip=write["skip"])
    else:
        _write_batches(tmp_path, override=write)
    with pytest.raises(DatasetError, match=message) as info:
        cifar10(tmp_path)
    assert "cifar-10-batches-py" in str(info.value)  # the fix


def test_cifar10_refuses_pickled_code_and_non_pickles(tmp_path):
    _write_batches(tmp_path)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": print}, protocol=2))
    with pytest.raises(DatasetError, match=r"test_batch: not a CIFAR-10 python batch "
                                           r"\(global __builtin__.print is not allowed"):
        cifar10(tmp_path)
    (tmp_path / "test_batch").write_text("not a pickle")
    with pytest.raises(DatasetError, match="test_batch: not a CIFAR-10 python batch"):
        cifar10(tmp_path)
    with pytest.raises(DatasetError, match="no such folder"):
        cifar10(tmp_path / "absent")
