"""Reference runs of duke-hw4 Lab 2 (b)-(d): train ResNet-20, quantise it, finetune it.

Data: `LabData`, four tensors on any device: x_train (N, 3, 32, 32) float32, y_train (N,)
int64 labels 0..9, x_test (M, 3, 32, 32), y_test (M,). Accuracy is the percentage of test
images whose arg-max logit is the label, 100 * correct / M, with the model in eval mode (BN on
its running statistics).

The schedule (`run_lab`, as the handout asks; `LabSettings` holds every number):

    float      resnet20(None, None, None) trained from scratch for `float_epochs` epochs
    (b)        uniform b = 6, 5, 4, 3, 2: resnet20(b, b, b) with the float weights, evaluated
    (c)        uniform b = 4, 3 finetuned 10 epochs, b = 2 finetuned 20 epochs
    (d)        mixed (Nbits1, Nbits2, Nbits3) = (4, 4, 2), (4, 2, 4), (2, 4, 4): evaluated with
               the float weights, then finetuned 10 epochs

Finetuning copies the float state_dict into the quantised model (the STE keeps float weights
as the trainable variables and quantises them in every forward pass) and trains it with SGD
on cross-entropy; "after finetuning" is the highest test accuracy over its epochs (the handout:
"report the highest testing accuracy you get during finetuning"). Every finetuning starts from
the same float weights, so no result depends on the order of the stages.

Determinism: the model's initialisation is drawn from torch's global generator inside
`torch.random.fork_rng` after `torch.manual_seed(seed)` (the caller's generator state is
restored), each stage shuffles with its own `torch.Generator` seeded from (seed, stage name),
and runs happen with `torch.use_deterministic_algorithms(True)` and a fixed thread count (all
restored afterwards). On the CPU two runs with the same settings give identical accuracies. On
CUDA, cuDNN is put in deterministic mode and non-deterministic kernels only warn (cuBLAS needs
CUBLAS_WORKSPACE_CONFIG set before the process starts), so GPU runs are repeatable as far as
the kernels allow, and differ from CPU runs in the last bits, hence sometimes in accuracy.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from reference.quantization import resnet20

#: Key parameters (grader.toml [assignments.ID.key.quantization_runs]): the data source
#: ("digits", shipped; "cifar10", read from `cifar10_path`), the schedule on digits ("full":
#: LabSettings.digits(), "quick": its quick()) and the seed. Read by graders/lab2_reference.py.
DEFAULTS = {"data": "digits", "cifar10_path": "", "schedule": "full", "seed": 0}

#: progress(stage, epoch, n_epochs, accuracy): after each training epoch (epoch = 1..n_epochs,
#: the test accuracy after it), and once per evaluation-only stage with epoch = n_epochs = 0.
Progress = Callable[[str, int, int, float], None]


class LabData(NamedTuple):
    """Images (N, 3, 32, 32) float32, normalised, and labels (N,) int64 in 0..9."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


@dataclass(frozen=True)
class LabSettings:
    """Every number of a reference run. The defaults are the course's settings for CIFAR-10.

    The handout fixes the finetuning epochs (10 for 4 and 3 bits and for the mixed schemes, 20
    for 2 bits) and says "you do not need to change other parameter in the finetune function";
    the text we have does not show those parameters. The values here follow the course's
    train_util.py as it survives in public copies (SGD, momentum 0.875, weight decay `reg`;
    training with the learning rate divided by 10 at 50% and 75% of the epochs, finetuning at
    a constant rate) with the common choices lr = 0.1 for training, 0.01 for finetuning,
    reg = 5e-4 and batch 128. They are defaults to defend, not facts from the handout.
    """

    #: Seeds the model's initialisation and, with the stage's name, each stage's shuffling.
    seed: int = 0
    #: Training (and finetuning) mini-batch size; the last, smaller batch of an epoch is kept.
    batch_size: int = 128
    #: Evaluation batch size (changes nothing but speed and memory).
    eval_batch_size: int = 500
    #: Epochs of float training from scratch.
    float_epochs: int = 200
    #: Float training: SGD learning rate, multiplied by `lr_decay` at these fractions of the epochs.
    float_lr: float = 0.1
    float_milestones: tuple[float, ...] = (0.5, 0.75)
    lr_decay: float = 0.1
    #: Finetuning: SGD learning rate, constant.
    finetune_lr: float = 0.01
    #: SGD momentum and weight decay (L2 on every parameter), training and finetuning alike.
    momentum: float = 0.875
    weight_decay: float = 5e-4
    #: The course's CIFAR-10 augmentation in training: random 32x32 crop of the image padded by
    #: 4 zeros, random horizontal flip. Off for digits (a mirrored digit is another symbol).
    augment: bool = True
    #: Use only the first `max_train` training images (None: all of them).
    max_train: int | None = None
    #: Lab 2 (b): uniform precisions evaluated before finetuning.
    uniform_bits: tuple[int, ...] = (6, 5, 4, 3, 2)
    #: Lab 2 (c): (bits, finetuning epochs) of the uniform models that are finetuned.
    uniform_finetune: tuple[tuple[int, int], ...] = ((4, 10), (3, 10), (2, 20))
    #: Lab 2 (d): mixed schemes (Nbits1, Nbits2, Nbits3) and their finetuning epochs.
    mixed: tuple[tuple[int, int, int], ...] = ((4, 4, 2), (4, 2, 4), (2, 4, 4))
    mixed_finetune_epochs: int = 10
    #: torch's intra-op threads during the run (a fixed count keeps CPU sums in one order;
    #: results may differ between counts, so it is part of the settings).
    threads: int = 2

    @classmethod
    def digits(cls) -> LabSettings:
        """The full lab schedule on the shipped digits data, sized to run in under 5 minutes
        on 2 CPU cores: 15 float epochs on 500 training images in batches of 64 (the small
        set needs the extra steps), no augmentation, one thread. One thread because its time
        does not depend on what else runs: on a loaded 2-core machine 2 OpenMP threads made a
        training step 3 to 6 times slower than 1 (measured), and one thread's CPU time, which
        is also its time on an idle machine, can be checked anywhere."""
        return cls(float_epochs=15, augment=False, max_train=500, batch_size=64, threads=1)

    def quick(self) -> LabSettings:
        """Every row of the lab's table at a fraction of the cost (the demo's and the tests'
        key): 8 float epochs on at most 400 images, every uniform precision, 4 and 3 bits
        finetuned 2 epochs, 2 bits 3, each mixed scheme 2."""
        return replace(self, float_epochs=8, max_train=min(400, self.max_train or 400),
                       uniform_finetune=((4, 2), (3, 2), (2, 3)), mixed_finetune_epochs=2)

    def reduced(self) -> LabSettings:
        """A fast version for the default tests: 8 float epochs on at most 400 images, 6 and 2
        bits before finetuning, 2 bits finetuned 3 epochs, (4, 4, 2) finetuned 2 epochs."""
        return replace(self, float_epochs=8, max_train=min(400, self.max_train or 400),
                       uniform_bits=(6, 2), uniform_finetune=((2, 3),), mixed=((4, 4, 2),),
                       mixed_finetune_epochs=2)

    def total_epochs(self) -> int:
        """Training epochs in the whole schedule (what a progress bar counts)."""
        return (self.float_epochs + sum(e for _, e in self.uniform_finetune)
                + self.mixed_finetune_epochs * len(self.mixed))

    def as_dict(self) -> dict:
        """The fields as JSON reads them back (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))


def default_device() -> torch.device:
    """cuda if available, else cpu."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextmanager
def deterministic(seed: int, threads: int, device: torch.device) -> Iterator[None]:
    """Seeded global generator, deterministic algorithms and `threads` intra-op threads for
    the body; the caller's generator state and settings come back afterwards."""
    saved = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        try:
            yield
        finally:
            torch.set_num_threads(saved[0])
            torch.use_deterministic_algorithms(saved[1], warn_only=saved[2])
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[3:]


def stage_generator(seed: int, stage: str) -> torch.Generator:
    """A CPU generator for one stage's shuffling and augmentation, seeded by crc32(seed:stage)."""
    return torch.Generator().manual_seed(zlib.crc32(f"{seed}:{stage}".encode()))


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    """Test accuracy in percent, 100 * #(argmax model(x)_i == y_i) / len(y), in eval mode."""
    model.eval()
    correct = sum(int((model(x[i:i + batch_size]).argmax(dim=1) == y[i:i + batch_size]).sum())
                  for i in range(0, len(y), batch_size))
    return 100.0 * correct / len(y)


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crop + flip of a batch (B, C, H, W): each image is zero-padded by 4 pixels, an
    H x W window at a uniform offset in 0..8 (per axis) is cut out, and mirrored left-right
    with probability 1/2. Draws offsets (B, 2) then flips (B,) from `generator`."""
    b, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    offsets = torch.randint(0, 9, (b, 2), generator=generator).tolist()
    flips = (torch.rand(b, generator=generator) < 0.5).tolist()
    crops = [padded[i, :, r:r + h, c:c + w] for i, (r, c) in enumerate(offsets)]
    return torch.stack([c.flip(-1) if f else c for c, f in zip(crops, flips)])


def train(model: nn.Module, data: LabData, settings: LabSettings, *, stage: str, epochs: int,
          lr: float, milestones: tuple[float, ...] = (),
          progress: Progress | None = None) -> list[float]:
    """SGD on cross-entropy for `epochs` epochs; returns the test accuracy after each epoch.

    Each epoch visits the (first `max_train`) training images once in an order drawn from
    `stage_generator(seed, stage)`, in batches of `batch_size`. The learning rate is `lr`,
    multiplied by `lr_decay` after epoch int(f * epochs) for each f in `milestones`.
    """
    n = len(data.y_train) if settings.max_train is None else min(settings.max_train,
                                                                  len(data.y_train))
    x_all, y_all = data.x_train[:n], data.y_train[:n]
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=settings.momentum,
                                weight_decay=settings.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=[int(f * epochs) for f in milestones], gamma=settings.lr_decay)
    generator = stage_generator(settings.seed, stage)
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator).to(x_all.device)
        for start in range(0, n, settings.batch_size):
            idx = order[start:start + settings.batch_size]
            x = x_all[idx]
            if settings.augment:
                x = augment(x.cpu(), generator).to(x_all.device)
            optimizer.zero_grad()
            F.cross_entropy(model(x), y_all[idx]).backward()
            optimizer.step()
        scheduler.step()
        history.append(evaluate(model, data.x_test, data.y_test, settings.eval_batch_size))
        if progress:
            progress(stage, epoch, epochs, history[-1])
    return history


def quantised(float_state: dict, nbits: tuple, device: torch.device) -> nn.Module:
    """resnet20(*nbits) on `device` holding a copy of the float model's state_dict."""
    model = resnet20(*nbits).to(device)
    model.load_state_dict(float_state)
    return model


def _name(nbits: tuple) -> str:
    return "uniform_{}".format(nbits[0]) if len(set(nbits)) == 1 else \
        "mixed_" + "_".join(map(str, nbits))


def run_lab(data: LabData, settings: LabSettings, progress: Progress | None = None,
            device: torch.device | None = None) -> dict:
    """The whole schedule of the module docstring; accuracies in percent.

    Returns {"float": {"accuracy", "history"},
             "uniform": {"b": {"before_finetune"[, "after_finetune", "history"]}},
             "mixed": {"mixed_4_4_2": {"nbits", "before_finetune", "after_finetune",
                                       "history"}},
             "settings", "device", "train_images", "test_images"}
    where "history" lists the test accuracy after each epoch and "after_finetune" is its
    maximum. `data` is moved to `device` (default: `default_device()`).
    """
    device = device or default_device()
    data = LabData(*(t.to(device) for t in data))
    with deterministic(settings.seed, settings.threads, device):
        model = resnet20().to(device)
        history = train(model, data, settings, stage="float", epochs=settings.float_epochs,
                        lr=settings.float_lr, milestones=settings.float_milestones,
                        progress=progress)
        float_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

        def before(nbits: tuple) -> float:
            accuracy = evaluate(quantised(float_state, nbits, device), data.x_test,
                                data.y_test, settings.eval_batch_size)
            if progress:
                progress(_name(nbits), 0, 0, accuracy)
            return accuracy

        def after(nbits: tuple, epochs: int) -> dict:
            finetuned = train(quantised(float_state, nbits, device), data, settings,
                              stage=f"{_name(nbits)}_finetune", epochs=epochs,
                              lr=settings.finetune_lr, progress=progress)
            return {"after_finetune": max(finetuned), "history": finetuned}

        uniform = {str(b): {"before_finetune": before((b, b, b))} for b in settings.uniform_bits}
        for b, epochs in settings.uniform_finetune:
            if str(b) not in uniform:
                uniform[str(b)] = {"before_finetune": before((b, b, b))}
            uniform[str(b)].update(after((b, b, b), epochs))
        mixed = {_name(nbits): {"nbits": list(nbits), "before_finetune": before(nbits),
                                **after(nbits, settings.mixed_finetune_epochs)}
                 for nbits in settings.mixed}
    return {"float": {"accuracy": history[-1], "history": history}, "uniform": uniform,
            "mixed": mixed, "settings": settings.as_dict(), "device": device.type,
            "train_images": min(len(data.y_train), settings.max_train or len(data.y_train)),
            "test_images": len(data.y_test)}
