"""Patch-based restoration (notebook 08): run a model on overlapping patches and average the overlaps,
the classical way to restore an image larger than the training patches.

A fully convolutional network does not need it: on the whole image at once it computes, for every pixel,
what it computes on any patch that contains the pixel far enough from the patch border (its receptive
field). The two agree up to border effects, which :func:`patch_average` lets you measure.
"""
from __future__ import annotations

import torch

from .training import predict

__all__ = ["patch_average"]


def patch_average(model: torch.nn.Module, image: torch.Tensor, patch: int, stride: int, *, batch_size: int = 64,
                  device=None) -> torch.Tensor:
    """``model`` applied to every ``patch`` x ``patch`` window of ``image`` (C, H, W) taken every ``stride``
    pixels (the last row and column of windows are moved to touch the border), outputs averaged where
    windows overlap. Returns (C_out, H, W) on the CPU."""
    if image.dim() != 3:
        raise ValueError(f"expected one image (C, H, W), got shape {tuple(image.shape)}")
    c, h, w = image.shape
    if not (1 <= patch <= min(h, w)) or not 1 <= stride <= patch:
        raise ValueError(f"need 1 <= stride <= patch <= min(H, W) = {min(h, w)}; got patch {patch}, stride {stride}")

    def starts(n):
        s = list(range(0, n - patch + 1, stride))
        return s if s[-1] == n - patch else s + [n - patch]

    corners = [(y, x) for y in starts(h) for x in starts(w)]
    windows = torch.stack([image[:, y: y + patch, x: x + patch] for y, x in corners])
    outs = predict(model, windows, batch_size=batch_size, device=device)
    total = torch.zeros(outs.shape[1], h, w)
    count = torch.zeros(1, h, w)
    for (y, x), o in zip(corners, outs):
        total[:, y: y + patch, x: x + patch] += o
        count[:, y: y + patch, x: x + patch] += 1
    return total / count
