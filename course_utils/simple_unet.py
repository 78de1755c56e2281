"""The simple U-Net of notebook 02, block by block (the students write these blocks; notebooks 03 and
04 import them from here).

Levels: input -> enc1 (F) -> enc2 (2F) -> bottleneck (4F) -> dec2 (2F) -> dec1 (F) -> 1x1 conv -> logits.
Ronneberger, Fischer and Brox 2015, "U-Net: Convolutional Networks for Biomedical Image Segmentation",
with the lab's block order (conv => ReLU => BN) and two poolings instead of four.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .checkpoints import register_model
from .inference import check_input

__all__ = ["conv_relu_bn", "EncoderBlock", "Bottleneck", "DecoderBlock", "SimpleUNet"]


def conv_relu_bn(in_ch: int, out_ch: int) -> nn.Sequential:
    """(conv3x3 stride 1 padding 1 => ReLU => BN) * 2: (N, in_ch, H, W) -> (N, out_ch, H, W)."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.BatchNorm2d(out_ch),
        nn.Conv2d(out_ch, out_ch, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.BatchNorm2d(out_ch),
    )


class EncoderBlock(nn.Module):
    """conv_relu_bn => maxpool 2x2: (N, in_ch, H, W) -> features (N, out_ch, H, W) kept for the skip,
    and pooled (N, out_ch, H/2, W/2) passed down."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv = conv_relu_bn(in_ch, out_ch)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        features = self.conv(x)
        return features, self.pool(features)


class Bottleneck(nn.Module):
    """conv_relu_bn doubling the channels: (N, C, H, W) -> (N, 2C, H, W)."""

    def __init__(self, in_ch: int):
        super().__init__()
        self.conv = conv_relu_bn(in_ch, 2 * in_ch)

    def forward(self, x):
        return self.conv(x)


class DecoderBlock(nn.Module):
    """ConvTranspose2d 2x2 stride 2 (channels halved) => concat skip => conv_relu_bn.

    (N, in_ch, H, W) and skip (N, in_ch/2, 2H, 2W) -> (N, in_ch/2, 2H, 2W).
    """

    def __init__(self, in_ch: int):
        super().__init__()
        if in_ch % 2:
            raise ValueError(f"DecoderBlock halves the channels: in_ch must be even, not {in_ch}")
        self.up = nn.ConvTranspose2d(in_ch, in_ch // 2, kernel_size=2, stride=2)
        self.conv = conv_relu_bn(in_ch, in_ch // 2)

    def forward(self, x, skip):
        return self.conv(torch.cat([self.up(x), skip], dim=1))


@register_model
class SimpleUNet(nn.Module):
    """Two encoder blocks, a bottleneck, two decoder blocks and a 1x1 conv to per-pixel logits.

    Args:
        F: width of the first level (the lab uses 4; notebook 03 compares 4, 16 and 32).
        in_channels, out_channels: 1 and 1 for binary segmentation of grayscale images.

    Shapes: (N, in_channels, H, W) -> (N, out_channels, H, W) logits, H and W multiples of 4. The input is a
    float32 tensor: a NumPy array, a list, uint8 or float64 values are refused with a message that says how to
    convert them.
    """

    def __init__(self, F: int = 4, in_channels: int = 1, out_channels: int = 1):
        super().__init__()
        self.F = F
        self.enc1 = EncoderBlock(in_channels, F)
        self.enc2 = EncoderBlock(F, 2 * F)
        self.bottleneck = Bottleneck(2 * F)
        self.dec2 = DecoderBlock(4 * F)
        self.dec1 = DecoderBlock(2 * F)
        self.out = nn.Conv2d(F, out_channels, 1)

    def forward(self, x):
        check_input(self, x)
        if x.dim() != 4 or x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(
                f"SimpleUNet needs a batch (N, C, H, W) with H and W multiples of 4 (two poolings); "
                f"got {tuple(x.shape)}. Crop or pad the image, or use course_utils.UNet (any size)."
            )
        s1, x = self.enc1(x)
        s2, x = self.enc2(x)
        x = self.bottleneck(x)
        x = self.dec2(x, s2)
        x = self.dec1(x, s1)
        return self.out(x)
