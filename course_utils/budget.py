"""Training budgets: one mechanism gives every training loop of the course its size.

Three budgets exist:

* ``full``: the original course's scale, meant for a GPU (Colab). Chosen by default when CUDA is there.
* ``cpu``: the default elsewhere; each notebook finishes in minutes on a 2-core laptop.
* ``fast``: a smoke size for CI (``COURSE_FAST=1``): checks that the code runs, not that it learns.
  ``COURSE_FAST`` takes the usual spellings, in any case: ``1``, ``true``, ``yes``, ``on`` choose ``fast``;
  ``0``, ``false``, ``no``, ``off`` or empty leave the choice to ``COURSE_BUDGET``; anything else is an error.

Every notebook's training sizes stand in one table, :data:`TRAINING_SIZES` (one row per track and budget),
read by :func:`training_sizes`: ``size = cu.training_sizes("segmentation")``. Notebooks never test the device
themselves. For a one-off size in your own code, ``by_budget(full=4000, cpu=300, fast=5)``.
Override with the environment variable ``COURSE_BUDGET=full|cpu|fast`` or with :func:`set_budget`.
"""

from __future__ import annotations

import os

import torch

__all__ = ["BUDGETS", "TRAINING_SIZES", "current_budget", "set_budget", "by_budget", "training_sizes"]

BUDGETS = ("full", "cpu", "fast")
_override: str | None = None

# How long each track trains. `full` is the original course's scale (a GPU); `cpu` a few minutes per notebook
# on 2 cores (measured in benchmarks/RESULTS.md); `fast` a smoke run for CI: the code runs, it does not learn.
TRAINING_SIZES: dict[str, dict[str, dict]] = {
    # notebook 00 (inference only, nothing trains): `resize`, the shorter side in pixels the photographs are
    # given to the pretrained network at (520 is its weights' own transforms(); fast shrinks it);
    # `nuclei` test images and the `scale` by which they are enlarged for the reference nuclei model
    "pretrained": {
        "full": dict(resize=520, nuclei=9, scale=3),
        "cpu": dict(resize=520, nuclei=9, scale=3),
        "fast": dict(resize=128, nuclei=2, scale=2),
    },
    # notebooks 02-04, bench_segmentation.py: `steps` of `batch_size` random `crop` x `crop` windows of the
    # training images; `seeds` per condition in notebook 04
    "segmentation": {
        "full": dict(steps=3000, batch_size=16, crop=128, seeds=5),
        "cpu": dict(steps=300, batch_size=8, crop=64, seeds=3),
        "fast": dict(steps=2, batch_size=2, crop=32, seeds=1),
    },
    # notebook 05, bench_restoration.py: `epochs` of `steps_per_epoch` batches of `batch_size` random `crop` x
    # `crop` crops; DnCNN depth `D` and width `C`; peak `lr` of Adam with a one-cycle schedule. `full` is the
    # original assignment's (D = 6, C = 64, 180x180 crops, batch 4, Adam at 1e-3); `cpu` keeps D, shrinks C and
    # the crops, and a higher peak learning rate makes up for the few steps (about 2 minutes for 3 models). The
    # `cpu` peak lr was chosen on notebook 05's validation tiles, one for the three networks, among 3e-3, 1e-2
    # and 3e-2: 3e-2 lifts DnCNN and DUDnCNN a little and breaks UDnCNN; 3e-3 leaves DnCNN 0.6 dB lower.
    # `test_size`: the side of the test pictures' centre crops (fast: small, for BM3D's sake: 28 s on 256x256)
    "denoising": {
        "full": dict(epochs=40, steps_per_epoch=100, batch_size=4, crop=180, D=6, C=64, lr=1e-3, test_size=256),
        "cpu": dict(epochs=20, steps_per_epoch=50, batch_size=8, crop=48, D=6, C=16, lr=1e-2, test_size=256),
        "fast": dict(epochs=1, steps_per_epoch=2, batch_size=2, crop=32, D=6, C=8, lr=1e-3, test_size=64),
    },
    # notebooks 06 and 07, bench_weak_supervision.py: `steps` per method (full: the original 40 epochs x 100
    # batches), `batch_size`, `nes_rounds` (NES splits its steps between them), `pool_size` (noisy images NES owns),
    # `lr`: the peak learning rate of Adam under a one-cycle schedule (30 % warm-up, then decay to ~0; each NES round
    # has its own cycle), the same for every method. `full` keeps the original practical's 1e-3 (constant there);
    # `cpu`'s 3e-3 was chosen on validation images (gen, seed 99; never the test images) against 1e-3 and 1e-2, over
    # seeds (`bench_weak_supervision.py --select-lr`). The original constant 1e-3 is a lottery at 240 steps: the
    # last steps still move the weights, batch norm's running statistics lag behind them, and some seeds lose 10 dB
    "weak": {
        "full": dict(steps=4000, batch_size=64, nes_rounds=5, pool_size=8192, lr=1e-3),
        "cpu": dict(steps=240, batch_size=16, nes_rounds=3, pool_size=2048, lr=3e-3),
        "fast": dict(steps=4, batch_size=4, nes_rounds=2, pool_size=32, lr=1e-3),
    },
    # notebook 10 section 2, bench_noise2void.py: supervised, noise2noise and Noise2Void on photographs, `steps` of
    # `batch_size` 64x64 crops for each Residual(UNet(1, 1, 16)), the peak `lr` of its one-cycle schedule, and the
    # side of the validation and test photographs' centre crops, `test_size` (fast: small, for BM3D's sake); cpu's
    # 1e-2 chosen on the validation photographs (rocket, coins) against 1e-3, 3e-3 and 3e-2 for noise2noise (3e-2
    # ended 0.2 dB higher but collapsed during its warm-up: within the noise of one run, and less stable)
    "photographs": {
        "full": dict(steps=3000, batch_size=16, lr=1e-3, test_size=256),
        "cpu": dict(steps=150, batch_size=16, lr=1e-2, test_size=256),
        "fast": dict(steps=3, batch_size=4, lr=1e-3, test_size=64),
    },
    # notebook 08: `steps` of the blind U-Net. `cpu` is what fits in the notebook's few minutes; `full` was chosen
    # on the validation tiles (bench_deblurring.py --steps 2400): their gain still rises at 2,400 steps, while the
    # gain on the training photographs rises faster (not measured beyond)
    "deblurring": {
        "full": dict(steps=2400),
        "cpu": dict(steps=400),
        "fast": dict(steps=3),
    },
    # notebook 09: the hand-made denoiser (and its torch.nn twin, and the SGD run) trains for `steps` of `batch_size`
    # noise2noise pairs of `crop` x `crop` crops, `channels` wide; `lr` of Adam and `sgd_lr` of SGD (momentum 0.9),
    # constant. cpu: chosen with the torch.nn twin (the same steps) on the notebook's validation tiles, final
    # validation PSNR after 300 steps: Adam 1e-3 24.92, 3e-3 25.05, 1e-2 24.66, 3e-2 diverged (6.61 dB); SGD 0.03
    # 22.56, 0.1 23.58, 0.3 23.90, 1 24.66 (its curve dipped to 19.84 dB mid-way: near its stability limit). full:
    # not run here (no GPU): Adam's usual 1e-3 and an SGD rate below cpu's unstable one, for ten times the steps
    "scratch": {
        "full": dict(steps=3000, batch_size=32, crop=64, channels=32, lr=1e-3, sgd_lr=0.3),
        "cpu": dict(steps=300, batch_size=16, crop=48, channels=32, lr=3e-3, sgd_lr=1.0),
        "fast": dict(steps=2, batch_size=2, crop=16, channels=4, lr=1e-3, sgd_lr=0.1),
    },
}


def _check(name: str, where: str) -> str:
    name = name.strip().lower()
    if name not in BUDGETS:
        raise ValueError(f"{where}: unknown budget {name!r}; choose one of {', '.join(BUDGETS)}.")
    return name


FAST_TRUE, FAST_FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _fast_from_environment() -> bool:
    """Whether ``COURSE_FAST`` asks for the fast budget (see the module docstring)."""
    raw = os.environ.get("COURSE_FAST", "")
    value = raw.strip().lower()
    if value in FAST_TRUE:
        return True
    if value in FAST_FALSE or not value:
        return False
    raise ValueError(
        f"COURSE_FAST={raw!r} is neither yes nor no: set it to {', '.join(FAST_TRUE)} for the fast budget, or to "
        f"{', '.join(FAST_FALSE)} (or unset it) for the normal one."
    )


def current_budget() -> str:
    """The budget in force: :func:`set_budget`, else ``COURSE_FAST=1`` → ``fast``, else
    ``COURSE_BUDGET``, else ``full`` with CUDA and ``cpu`` without.

    Raises:
        ValueError: ``COURSE_FAST`` or ``COURSE_BUDGET`` holds a value it does not take.
    """
    if _override is not None:
        return _override
    if _fast_from_environment():
        return "fast"
    env = os.environ.get("COURSE_BUDGET", "").strip()
    if env:
        return _check(env, "COURSE_BUDGET")
    return "full" if torch.cuda.is_available() else "cpu"


def set_budget(name: str | None) -> None:
    """Force a budget for this Python session (``None`` goes back to the environment's choice)."""
    global _override
    _override = None if name is None else _check(name, "set_budget")


def by_budget(*, full, cpu, fast):
    """Return the value for the budget in force, e.g. ``by_budget(full=40, cpu=4, fast=1)``."""
    return {"full": full, "cpu": cpu, "fast": fast}[current_budget()]


def training_sizes(track: str) -> dict:
    """The training sizes of ``track`` (a key of :data:`TRAINING_SIZES`) for the budget in force, as a new dict,
    e.g. ``training_sizes("segmentation")["steps"]``."""
    if track not in TRAINING_SIZES:
        raise ValueError(f"unknown track {track!r}; the tracks with training sizes are: {', '.join(TRAINING_SIZES)}")
    return dict(TRAINING_SIZES[track][current_budget()])
