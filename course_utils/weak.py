"""Training without clean targets: the batch recipes of noise2noise and Neural Egg Separation (NES).

Every recipe returns ``(inputs, targets)`` batches of (n, 1, 64, 64) images for :func:`course_utils.fit`:

* :func:`noise2noise_batches`: two independently cluttered copies of the same cells (Lehtinen et al. 2018,
  "Noise2Noise: Learning Image Restoration without Clean Data", ICML).
* :func:`one_shot_nes_batches`: the original practical's one-shot recipe: a noisy image plus two extra
  noise samples as input, the noisy image as target.
* :func:`synthetic_mixtures` and :func:`iterative_nes`: Neural Egg Separation (Halperin, Ephrat and Hoshen
  2018, "Neural separation of observed and unobserved distributions", ICML 2019): from noisy images
  (mixtures) and samples of the noise alone, alternate between training a separator on synthetic mixtures
  (current estimate + fresh noise -> current estimate) and re-estimating the clean images of the mixtures.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .inference import predict
from .synthetic import N2N_CLUTTER_RATE, gen1_NES, gen2_NES, gen_noise2noise
from .training import fit

__all__ = ["noise2noise_batches", "one_shot_nes_batches", "synthetic_mixtures", "iterative_nes"]


def noise2noise_batches(n: int, *, rate: float = N2N_CLUTTER_RATE, generator=None, device=None):
    """(first noisy copy, second noisy copy) of the same n clean images, each (n, 1, 64, 64), clutter at
    ``rate`` per pixel in each copy (:func:`course_utils.synthetic.gen_noise2noise`; the default is the
    original course's 0.0005, ``CLUTTER_RATE`` = 0.0003 is the test images' rate)."""
    return gen_noise2noise(n, rate=rate, generator=generator, device=device)


def one_shot_nes_batches(n: int, *, generator=None, device=None):
    """(noisy image + two noise samples, noisy image): learn to remove added clutter, from mixtures only."""
    noisy = gen1_NES(n, generator=generator, device=device)
    extra = gen2_NES(n, generator=generator, device=device) + gen2_NES(n, generator=generator, device=device)
    return noisy + extra, noisy


def synthetic_mixtures(estimates: torch.Tensor, n: int, *, generator=None):
    """n synthetic mixtures for NES: (estimate + a fresh noise sample, estimate), estimates drawn at random.

    ``estimates`` is the (M, 1, 64, 64) pool of current clean-image estimates.
    """
    idx = torch.randint(len(estimates), (n,), generator=generator, device=estimates.device)
    target = estimates[idx]
    return target + gen2_NES(n, generator=generator, device=estimates.device), target


def iterative_nes(
    model: nn.Module,
    mixtures: torch.Tensor,
    *,
    rounds: int,
    steps_per_round: int,
    batch_size: int = 16,
    make_batch: Callable = synthetic_mixtures,
    loss_fn: Callable = F.l1_loss,
    lr: float = 1e-3,
    make_scheduler: Callable[[torch.optim.Optimizer, int], object] | None = None,
    generator=None,
    device=None,
    on_round: Callable[[int, nn.Module, torch.Tensor], None] | None = None,
    progress: bool = True,
) -> torch.Tensor:
    """Neural Egg Separation on a pool of ``mixtures`` (M, 1, H, W); returns the final clean estimates.

    The estimates start as the mixtures themselves. Each round trains ``model`` (continuing from the
    previous round, with a fresh Adam at learning rate ``lr``) for ``steps_per_round`` steps on
    ``make_batch(estimates, batch_size, generator=generator)``, then sets the estimates to ``model(mixtures)``
    (clipped at 0: the cells are never negative). ``make_scheduler(optimizer, steps_per_round)``, if given,
    makes each round's learning-rate scheduler (stepped after every step), e.g. notebook 07's one-cycle
    ``lambda opt, n: torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=n)``: a rate that decays to
    nearly zero lets the weights (and batch norm's running statistics) settle before the estimates are made.
    ``on_round(k, model, estimates)`` is called after round k = 1..rounds, e.g. to score the model;
    ``progress`` shows a progress bar per round.
    """
    if rounds < 1 or steps_per_round < 0:
        raise ValueError("rounds must be >= 1 and steps_per_round >= 0")
    estimates = mixtures.clone()
    for k in range(1, rounds + 1):
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        fit(
            model,
            lambda: make_batch(estimates, batch_size, generator=generator),  # noqa: B023 (used in this round)
            loss_fn,
            optimizer,
            steps=steps_per_round,
            scheduler=make_scheduler(optimizer, steps_per_round) if make_scheduler else None,
            device=device,
            progress=progress,
            desc=f"NES round {k}/{rounds}",
        )
        estimates = predict(model, mixtures, device=device).clamp_min_(0)
        if on_round is not None:
            on_round(k, model, estimates)
    return estimates
