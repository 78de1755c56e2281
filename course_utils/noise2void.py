"""Noise2Void: a denoiser trained on single noisy images, with blind-spot masking (notebook 10).

Krull, Buchholz and Jug, "Noise2Void - Learning Denoising from Single Noisy Images", CVPR 2019. A network that
sees a pixel cannot be trained to predict that same noisy pixel: it would learn the identity. Noise2Void hides a
few pixels of each training image (:func:`n2v_mask`: each replaced by a random neighbour) and scores the output
only there (:func:`masked_mse`), against the noisy values that were hidden. If the noise is independent from pixel
to pixel and has zero mean given the clean image, the neighbours say nothing about the hidden pixel's noise, and
the best prediction from the context is the clean value's conditional mean: the network learns to denoise. Noise
that neighbours share (stripes, the course's bars of clutter) is predictable from the context, and is learned as
part of the image.

* :func:`n2v_mask`: ``(masked, mask)`` from an (N, C, H, W) batch: about ``fraction`` of the pixels replaced by
  a neighbour within ``radius`` (never the pixel itself), reflected at the borders.
* :func:`masked_mse`: the squared error averaged over the masked pixels only.
* :func:`n2v_batch` and :func:`n2v_loss`: the two for :func:`course_utils.training.fit`, which passes one target
  tensor to the loss: the target packs the noisy batch and the mask along the channels, as the original
  implementation (CSBDeep's ``n2v``) does.

Departures from the paper: the paper masks about 0.2 % of the pixels of each 64x64 patch on a stratified grid and
trains for hours; here each pixel is masked independently with probability :data:`MASK_FRACTION` (chosen on the
validation photographs for the course's short trainings: ``benchmarks/bench_noise2void.py --select-fraction``), and
the networks are the course's U-Nets.
"""

from __future__ import annotations

import torch

__all__ = ["MASK_FRACTION", "MASK_RADIUS", "n2v_mask", "masked_mse", "n2v_batch", "n2v_loss"]

MASK_FRACTION = 0.05
"""The probability that a pixel is masked in a training batch. Chosen on notebook 10's validation photographs
(150 steps, two seeds; ``bench_noise2void.py --select-fraction``): 0.005 25.56 dB, 0.02 25.71, 0.05 25.85, 0.1 25.88
(the seeds spread over about 0.2 dB each); 0.05 and 0.1 tie, and the smaller, nearer the paper's, is kept."""

MASK_RADIUS = 2
"""Replacement pixels come from the (2 r + 1) x (2 r + 1) window around the masked one: 5x5, as in the paper."""


def n2v_mask(
    noisy: torch.Tensor, fraction: float = MASK_FRACTION, radius: int = MASK_RADIUS, *, generator=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise2Void's blind spots: ``(masked, mask)`` for an (N, C, H, W) batch ``noisy``.

    ``mask`` is an (N, 1, H, W) bool tensor, each pixel True independently with probability ``fraction``. ``masked``
    is a copy of ``noisy`` in which every channel of each masked pixel takes the value of one pixel drawn uniformly
    from the (2 radius + 1)^2 - 1 others of its window: an offset (dy, dx), each in [-radius, radius], never
    (0, 0); where the offset leads outside the image, its sign is flipped in that direction (the window is mirrored
    about the pixel), so the replacement is never the pixel itself. ``noisy`` is not changed. All draws use
    ``generator`` (a ``torch.Generator`` on ``noisy``'s device) when given.
    """
    if noisy.dim() != 4:
        raise ValueError(f"noisy must be an (N, C, H, W) batch, not a tensor of shape {tuple(noisy.shape)}")
    n, c, h, w = noisy.shape
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction is a probability: give a number in [0, 1], not {fraction}")
    if radius < 1 or 2 * radius >= min(h, w):
        raise ValueError(f"radius must be at least 1 and below half the image's side ({h}x{w}), not {radius}")
    kw = dict(generator=generator, device=noisy.device)
    mask = torch.rand(n, 1, h, w, **kw) < fraction
    side = 2 * radius + 1
    k = torch.randint(0, side * side - 1, (n, 1, h, w), **kw)
    k = k + (k >= side * side // 2)  # skip the centre of the window
    rows = _inside(torch.arange(h, device=noisy.device).view(1, 1, h, 1), k // side - radius, h)
    cols = _inside(torch.arange(w, device=noisy.device).view(1, 1, 1, w), k % side - radius, w)
    source = (rows * w + cols).flatten(2).expand(n, c, h * w)
    neighbours = noisy.flatten(2).gather(2, source).view_as(noisy)
    return torch.where(mask, neighbours, noisy), mask


def _inside(position: torch.Tensor, offset: torch.Tensor, size: int) -> torch.Tensor:
    """position + offset, or position - offset where that would leave [0, size)."""
    moved = position + offset
    return torch.where((moved < 0) | (moved >= size), position - offset, moved)


def masked_mse(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the masked pixels only: a 0-d tensor.

    ``output`` and ``target`` are (N, C, H, W); ``mask`` is (N, 1, H, W) or (N, C, H, W), bool. Every channel of
    a masked pixel counts; the mean is over those values, so the loss does not depend on how many were masked.
    """
    mask = mask.expand_as(output)
    count = mask.sum()
    if count == 0:
        raise ValueError("the mask selects no pixel: nothing to score (raise the masking fraction or the batch size)")
    return ((output - target) ** 2 * mask).sum() / count


def n2v_batch(noisy: torch.Tensor, fraction: float = MASK_FRACTION, radius: int = MASK_RADIUS, *, generator=None):
    """``(masked input, target)`` for :func:`~course_utils.training.fit` with :func:`n2v_loss`: the target is the
    (N, 2C, H, W) concatenation of ``noisy`` and the mask (as floats, repeated over the C channels)."""
    masked, mask = n2v_mask(noisy, fraction, radius, generator=generator)
    return masked, torch.cat([noisy, mask.expand_as(noisy).to(noisy.dtype)], dim=1)


def n2v_loss(output: torch.Tensor, target: torch.Tensor, loss=masked_mse) -> torch.Tensor:
    """Noise2Void's loss for a target packed by :func:`n2v_batch`: ``loss(output, noisy, mask)``."""
    c = output.shape[1]
    if target.shape[1] != 2 * c:
        raise ValueError(
            f"the target has {target.shape[1]} channels: a Noise2Void target packs the noisy batch and its mask "
            f"({2 * c} channels for a {c}-channel output); make it with n2v_batch"
        )
    return loss(output, target[:, :c], target[:, c:] > 0.5)
