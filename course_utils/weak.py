"""Training without clean targets: the batch recipes of noise2noise and Neural Egg Separation (NES).

Every recipe returns ``(inputs, targets)`` batches of (n, 1, 64, 64) images for :func:`course_utils.fit`:

* :func:`noise2noise_batches`: two independently cluttered copies of the same cells (Lehtinen et al. 2018,
  "Noise2Noise: Learning Image Restoration without Clean Data", ICML), trained with :func:`noise2noise_loss`
  (L1: its minimiser is the median, which clutter leaves at the clean value; :func:`clutter_probability`
  measures how often each pixel is cluttered).
* :func:`one_shot_nes_batches`: the original practical's one-shot recipe: a noisy image plus two extra
  noise samples as input, the noisy image as target.
* :func:`synthetic_mixtures`, :func:`nes_round` and :func:`iterative_nes`: Neural Egg Separation (Halperin,
  Ephrat and Hoshen 2018, "Neural separation of observed and unobserved distributions", ICML 2019): from noisy images
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

__all__ = [
    "noise2noise_batches",
    "noise2noise_loss",
    "clutter_probability",
    "one_shot_nes_batches",
    "synthetic_mixtures",
    "nes_round",
    "iterative_nes",
]


def noise2noise_batches(n: int, *, rate: float = N2N_CLUTTER_RATE, generator=None, device=None):
    """(first noisy copy, second noisy copy) of the same n clean images, each (n, 1, 64, 64), clutter at
    ``rate`` per pixel in each copy (:func:`course_utils.synthetic.gen_noise2noise`; the default is the
    original course's 0.0005, ``CLUTTER_RATE`` = 0.0003 is the test images' rate)."""
    return gen_noise2noise(n, rate=rate, generator=generator, device=device)


def noise2noise_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The loss of noise2noise on the course's clutter: the mean absolute error (L1), a 0-d tensor.

    For one input, the expected L1 loss against a noisy target is smallest at the target's conditional
    **median** (L2's would be its mean). Clutter is never negative and covers each pixel in fewer than half of
    the images, so the median of a noisy copy is the clean image, while its mean carries the average clutter
    (Lehtinen et al. 2018, "Noise2Noise: Learning Image Restoration without Clean Data", ICML, section 3.1).
    ``output`` and ``target``: tensors of the same shape, e.g. (N, 1, 64, 64).
    """
    return F.l1_loss(output, target)


def clutter_probability(noisy: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Per pixel, the fraction of the N images in which it is cluttered (noisy > clean): an (H, W) tensor of
    values in [0, 1], from (N, 1, H, W) batches. Below 1/2 everywhere, the median of the clutter is 0."""
    if noisy.shape != clean.shape or noisy.dim() != 4 or noisy.shape[1] != 1:
        raise ValueError(
            f"noisy and clean must be (N, 1, H, W) batches of the same shape; got {tuple(noisy.shape)} and "
            f"{tuple(clean.shape)}"
        )
    return (noisy > clean).float().mean(dim=0)[0]


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


def nes_round(
    model: nn.Module,
    mixtures: torch.Tensor,
    estimates: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 16,
    lr: float = 1e-3,
    make_batch: Callable = synthetic_mixtures,
    make_scheduler: Callable[[torch.optim.Optimizer, int], object] | None = None,
    loss_fn: Callable = F.l1_loss,
    generator=None,
    device=None,
    progress: bool = True,
    desc: str = "NES round",
) -> torch.Tensor:
    """One round of Neural Egg Separation (Halperin, Ephrat and Hoshen, ICML 2019); returns the new estimates.

    Trains ``model`` (as it is: rounds continue one another) with a fresh Adam at learning rate ``lr`` for
    ``steps`` steps on ``make_batch(estimates, batch_size, generator=generator)`` (current estimate + fresh noise
    -> current estimate), its rate following ``make_scheduler(optimizer, steps)`` when given (stepped after every
    step), then applies it to the real ``mixtures`` (M, 1, H, W): the new estimates, (M, 1, H, W) on the CPU,
    clipped at 0 (the cells are never negative).
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    fit(
        model,
        lambda: make_batch(estimates, batch_size, generator=generator),
        loss_fn,
        optimizer,
        steps=steps,
        scheduler=make_scheduler(optimizer, steps) if make_scheduler else None,
        device=device,
        progress=progress,
        desc=desc,
    )
    return predict(model, mixtures, device=device).clamp_min_(0)


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

    The estimates start as the mixtures themselves. Each round (:func:`nes_round`) trains ``model`` (continuing from the
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
        estimates = nes_round(
            model,
            mixtures,
            estimates,
            steps=steps_per_round,
            batch_size=batch_size,
            lr=lr,
            make_batch=make_batch,
            make_scheduler=make_scheduler,
            loss_fn=loss_fn,
            generator=generator,
            device=device,
            progress=progress,
            desc=f"NES round {k}/{rounds}",
        )
        if on_round is not None:
            on_round(k, model, estimates)
    return estimates
