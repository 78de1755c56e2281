"""The U-Net of the original course (Ronneberger, Fischer and Brox 2015, "U-Net: Convolutional Networks
for Biomedical Image Segmentation", MICCAI), with the block names of milesial/Pytorch-UNet.

``UNet(n_channels, n_classes, size, depth=4)``: base width ``size``; the encoder doubles the width at
each of ``depth`` max-pool steps (capped at ``size·2^(depth-1)``, the bottleneck keeps the last width),
the decoder upsamples with ConvTranspose2d(kernel 2, stride 2), concatenates the skip connection and
applies a double conv; a 1x1 conv gives ``n_classes`` maps of logits (no final activation).

Any input height and width works: the input is padded (edge values repeated) up to a multiple of
``2**depth`` and the output cropped back, so output (N, n_classes, H, W) matches input (N, n_channels, H, W).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoints import register_model
from .inference import check_input

__all__ = ["DoubleConv", "Down", "Up", "OutConv", "UNet", "pad_to_multiple"]


def pad_to_multiple(x: torch.Tensor, m: int):
    """``x`` (N, C, H, W) padded (edge values repeated, split evenly on both sides) to a height and width that
    are multiples of ``m``, and the function that crops an output (N, C', H', W') of the padded size back to
    (N, C', H, W). A U-Net with ``depth`` poolings needs ``m = 2**depth``. Nothing is padded when H and W are
    multiples of ``m`` already (then the crop returns its input unchanged)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % m, (-w) % m
    if ph or pw:
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode="replicate")

    def crop(y: torch.Tensor) -> torch.Tensor:
        return y[..., ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w]

    return x, crop


class DoubleConv(nn.Module):
    """(conv3x3 => BN => ReLU) * 2, padding 1: (N, in_ch, H, W) -> (N, out_ch, H, W)."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 3, padding=1),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, padding=1),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.conv(x)


class Down(nn.Module):
    """maxpool 2x2 => DoubleConv: (N, in_ch, H, W) -> (N, out_ch, H/2, W/2)."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.mpconv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_ch, out_ch))

    def forward(self, x):
        return self.mpconv(x)


class Up(nn.Module):
    """ConvTranspose2d 2x2 stride 2 => concat skip => DoubleConv.

    (N, in_ch, H, W) and skip (N, in_ch, 2H, 2W) -> (N, out_ch, 2H, 2W).
    """

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_ch, in_ch, kernel_size=2, stride=2)
        self.conv = DoubleConv(2 * in_ch, out_ch)

    def forward(self, x, skip):
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


class OutConv(nn.Module):
    """conv1x1: (N, in_ch, H, W) -> (N, out_ch, H, W), per-pixel logits."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x):
        return self.conv(x)


@register_model
class UNet(nn.Module):
    """U-Net of the original course.

    Args:
        n_channels: input channels (1 for the grayscale images of the course).
        n_classes: output maps (1 for binary segmentation logits or for a restored image).
        size: width of the first level; level i has ``size·2^i`` channels (64 in the paper).
        depth: number of max-pool steps (4 in the paper and the original course).

    Shapes: (N, n_channels, H, W) -> (N, n_classes, H, W), any H and W >= 1. The input is a tensor of the
    weights' type (float32): a NumPy array, a list, uint8 or float64 values are refused with a message that
    says how to convert them (:func:`~course_utils.predict` converts arrays and float64 for you).
    Parameters: ``UNet(1, 1, 16)`` has 926,769 (the original code also created an unused
    1x1 conv ``outc2``, 17 parameters more).
    """

    def __init__(self, n_channels: int = 1, n_classes: int = 1, size: int = 64, depth: int = 4):
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, not {depth}")
        if size < 1 or n_channels < 1 or n_classes < 1:
            raise ValueError("n_channels, n_classes and size must be positive integers")
        self.n_channels, self.n_classes, self.size, self.depth = n_channels, n_classes, size, depth
        widths = [size * 2**i for i in range(depth)]  # encoder widths; bottleneck repeats the last
        self.inc = DoubleConv(n_channels, size)
        self.downs = nn.ModuleList(Down(widths[i], widths[min(i + 1, depth - 1)]) for i in range(depth))
        # decoder level i receives widths[i] channels (from below) and a skip of widths[i] channels
        self.ups = nn.ModuleList(Up(widths[i], widths[i - 1] if i > 0 else size) for i in reversed(range(depth)))
        self.outc = OutConv(size, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x)
        if x.dim() != 4 or x.shape[1] != self.n_channels:
            raise ValueError(
                f"UNet expects a batch (N, {self.n_channels}, H, W); got shape {tuple(x.shape)}. "
                "Add the batch dimension with x[None] or the channel one with x[:, None]."
            )
        x, crop = pad_to_multiple(x, 2**self.depth)
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up in self.ups:
            y = up(y, skips.pop())
        return crop(self.outc(y))
