"""Residual learning: the network estimates the noise, the output is the input minus that estimate."""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["Residual"]


class Residual(nn.Module):
    """``y = x - net(x)``: wraps any image-to-image network so that it estimates the noise (residual
    learning, Zhang et al. 2017, "Beyond a Gaussian Denoiser: Residual Learning of Deep CNN for Image
    Denoising", IEEE TIP). A freshly initialised network then starts close to the identity, and learns a
    denoiser much faster. The course's one sign convention: :class:`~course_utils.dncnn.DnCNN` is written
    the same way. Shapes: (N, C, H, W) -> (N, C, H, W); ``net`` must keep the shape.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.net(x)
