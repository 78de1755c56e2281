"""The DnCNN family of Gaussian denoisers (notebook 05).

Zhang, Zuo, Chen, Meng and Zhang 2017, "Beyond a Gaussian Denoiser: Residual Learning of Deep CNN for
Image Denoising", IEEE TIP 26(7). Three variants with the same layers, hence the same parameter count:

* ``DnCNN(D, C)``: conv3x3 + ReLU, then D times (conv3x3 + BN + ReLU), then conv3x3;
* ``UDnCNN(D, C)``: the same layers in a U: the first half max-pools (``return_indices=True``) after each
  layer, the second half unpools with those indices (``max_unpool2d``); each decoder layer takes the
  sum of its input and the encoder features of the same size divided by sqrt(2);
* ``DUDnCNN(D, C)``: UDnCNN without pooling: each convolution is dilated by 2^(poolings - unpoolings
  before it) instead, so it sees what its UDnCNN twin sees, at full resolution (padding = dilation keeps
  the size). Each convolution gets exactly its UDnCNN twin's scale (:func:`level_scales`); the original
  assignment's dilation list is shifted by one layer in the decoder (1, 1, 2, 4, 4, 2, 1, 1 for D = 6,
  where the twin's scales are 1, 1, 2, 4, 4, 4, 2, 1).

Output: ``y = x - f(x)``: f estimates the noise (residual learning, as in the paper and in
:class:`~course_utils.residual.Residual`; the original assignment wrote the same network as x + f(x), f learning
minus the noise). Initialisation as in the assignment: He (Kaiming normal, ReLU gain) for every
convolution followed by a ReLU, BatchNorm weights 1.25·sqrt(C), and BatchNorm built as
``BatchNorm2d(C, C)``, which sets eps = C (its second argument): with eps = C = 64 and weight 10, a
BN layer at initialisation scales its centred input by about 10/sqrt(var + 64) ≈ 1.25 instead of
normalising it to variance 100. ``bn_eps`` overrides this (``bn_eps=1e-5`` is PyTorch's default).
:func:`he_bn_init` applies the same initialisation to a network built with PyTorch's defaults (notebook 05's
exercise).

Shapes: (N, channels, H, W) -> (N, channels, H, W), any H, W for DnCNN and DUDnCNN; H and W divisible
by 2^(D/2 - 1) for UDnCNN. Images in [-1, 1] or [0, 1] alike (the net is trained on what you give it).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoints import register_model

__all__ = [
    "DnCNN",
    "UDnCNN",
    "DUDnCNN",
    "he_bn_init",
    "level_scales",
    "receptive_field",
    "measured_receptive_field",
]


def level_scales(D: int) -> list[int]:
    """Scale (2^(poolings - unpoolings before it)) of each of the D + 2 convolutions of UDnCNN(D):
    the dilation of the same convolution in DUDnCNN(D)."""
    _check_u(D)
    pools = D // 2 - 1
    down = [1] + [2**i for i in range(pools)]  # conv 0, then one conv before each pooling
    middle = [2**pools] * 2
    up = [2 ** (pools - j) for j in range(D - D // 2 - 1)]  # conv, then unpool
    return down + middle + up + [1]


def he_bn_init(net: nn.Module) -> nn.Module:
    """The assignment's initialisation, in place, of a network of the DnCNN family (any module whose
    ``nn.Conv2d`` layers, in the order they are registered, end with the one convolution not followed by a ReLU):

    * every convolution but the last: He initialisation (He, Zhang, Ren and Sun 2015, "Delving deep into
      rectifiers", ICCV), weights normal with standard deviation sqrt(2 / fan_in), fan_in = in_channels x 3 x 3
      (``nn.init.kaiming_normal_(..., nonlinearity="relu")``); biases kept;
    * the last convolution: left as PyTorch built it;
    * every ``nn.BatchNorm2d(C)`` (Ioffe and Szegedy 2015): weight 1.25·sqrt(C), bias 0 and eps = C, what the
      assignment's ``BatchNorm2d(C, C)`` gives (see the module docstring for why this pair keeps the signal's
      scale). Returns ``net``. The course's own classes do this in their constructor (``init=True``); this
      function applies it to any network built with PyTorch's defaults, e.g. ``DnCNN(..., init=False)``."""
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"he_bn_init initialises convolutions, and {type(net).__name__} has no nn.Conv2d")
    for conv in convs[:-1]:  # every convolution followed by a ReLU
        nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    for bn in (m for m in net.modules() if isinstance(m, nn.BatchNorm2d)):
        C = bn.num_features
        nn.init.constant_(bn.weight, 1.25 * math.sqrt(C))
        nn.init.zeros_(bn.bias)
        bn.eps = float(C)
    return net


def _check_u(D: int) -> None:
    if D < 2 or D % 2:
        raise ValueError(f"the U-shaped variants need an even depth D >= 2 (as many poolings as unpoolings), not {D}")


class _Family(nn.Module):
    """Layers shared by the three variants: D + 2 convolutions, D batch norms, the original init."""

    def __init__(self, D: int, C: int, channels: int, dilations: list[int], bn_eps: float | None, init: bool):
        super().__init__()
        if D < 0 or C < 1 or channels < 1:
            raise ValueError(f"need D >= 0, C >= 1 and channels >= 1; got D={D}, C={C}, channels={channels}")
        self.D, self.C, self.channels = D, C, channels
        widths = [channels] + [C] * (D + 1) + [channels]
        self.conv = nn.ModuleList(
            nn.Conv2d(widths[i], widths[i + 1], 3, padding=d, dilation=d) for i, d in enumerate(dilations)
        )
        self.bn = nn.ModuleList(nn.BatchNorm2d(C, eps=float(C) if bn_eps is None else bn_eps) for _ in range(D))
        if init:
            for conv in self.conv[:-1]:  # every conv followed by a ReLU
                nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            for bn in self.bn:
                nn.init.constant_(bn.weight, 1.25 * math.sqrt(C))
        # The last convolution estimates the noise. Its initial weights (PyTorch's default draw, a symmetric
        # distribution) are negated, so that a seed builds the same network as when the output was written
        # x + f(x), and the course's stored results stay reproducible.
        with torch.no_grad():
            self.conv[-1].weight.neg_()
            self.conv[-1].bias.neg_()

    def layer(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """Hidden layer i (1..D): conv => BN => ReLU."""
        return F.relu(self.bn[i - 1](self.conv[i](h)))

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"{type(self).__name__} expects a batch (N, {self.channels}, H, W); got {tuple(x.shape)}")


@register_model
class DnCNN(_Family):
    """DnCNN: conv+ReLU, D x (conv+BN+ReLU), conv; y = x - f(x).

    Args:
        D: number of hidden conv+BN+ReLU layers (the paper: 15 for sigma-specific grayscale models).
        C: channels of the hidden layers (64 in the paper).
        channels: image channels, 3 for colour (the assignment), 1 for grayscale.
        bn_eps: BatchNorm eps; ``None`` is the assignment's eps = C (see the module docstring).
        init: the assignment's initialisation (He, BN weight 1.25·sqrt(C)); ``False`` keeps PyTorch's
            defaults (for notebook 05's experiment on why the initialisation matters).
    Receptive field: (2D + 5) x (2D + 5) pixels.
    """

    def __init__(self, D: int = 6, C: int = 64, channels: int = 3, bn_eps: float | None = None, init: bool = True):
        super().__init__(D, C, channels, [1] * (D + 2), bn_eps, init)

    def forward(self, x):
        self._check(x)
        h = F.relu(self.conv[0](x))
        for i in range(1, self.D + 1):
            h = self.layer(i, h)
        return x - self.conv[-1](h)


@register_model
class UDnCNN(_Family):
    """U-shaped DnCNN: max-pool after each of the first D/2 - 1 hidden layers, max-unpool (same indices)
    after each of the last D/2 - 1; decoder inputs are (h + skip) / sqrt(2); y = x - f(x).
    Arguments as :class:`DnCNN`; D even, >= 2; H and W divisible by 2^(D/2 - 1)."""

    def __init__(self, D: int = 6, C: int = 64, channels: int = 3, bn_eps: float | None = None, init: bool = True):
        _check_u(D)
        super().__init__(D, C, channels, [1] * (D + 2), bn_eps, init)

    def forward(self, x):
        self._check(x)
        pools = self.D // 2 - 1
        if x.shape[-1] % 2**pools or x.shape[-2] % 2**pools:
            raise ValueError(
                f"UDnCNN(D={self.D}) pools {pools} times: H and W must be multiples of {2**pools}, "
                f"got {tuple(x.shape[-2:])}. Crop the image, or use DUDnCNN (any size)."
            )
        h = F.relu(self.conv[0](x))
        skips, indices = [], []
        for i in range(1, pools + 1):
            h, idx = F.max_pool2d(self.layer(i, h), 2, return_indices=True)
            skips.append(h)
            indices.append(idx)
        h = self.layer(pools + 2, self.layer(pools + 1, h))
        for i in range(pools + 3, self.D + 1):
            h = self.layer(i, (h + skips.pop()) / math.sqrt(2))
            h = F.max_unpool2d(h, indices.pop(), 2)
        return x - self.conv[-1](h)


@register_model
class DUDnCNN(_Family):
    """Dilated U-shaped DnCNN: UDnCNN's wiring (skips added / sqrt(2)) without pooling; each conv dilated by
    its UDnCNN twin's scale (:func:`level_scales`). Arguments as :class:`DnCNN`; D even, >= 2; any H, W."""

    def __init__(self, D: int = 6, C: int = 64, channels: int = 3, bn_eps: float | None = None, init: bool = True):
        super().__init__(D, C, channels, level_scales(D), bn_eps, init)

    def forward(self, x):
        self._check(x)
        pools = self.D // 2 - 1
        h = F.relu(self.conv[0](x))
        skips = []
        for i in range(1, pools + 1):
            h = self.layer(i, h)
            skips.append(h)
        h = self.layer(pools + 2, self.layer(pools + 1, h))
        for i in range(pools + 3, self.D + 1):
            h = self.layer(i, (h + skips.pop()) / math.sqrt(2))
        return x - self.conv[-1](h)


def receptive_field(model: nn.Module) -> int:
    """Side of the receptive field of one output pixel, by formula: each 3x3 convolution of dilation
    (or scale) s adds 2s pixels; in UDnCNN each 2x2 max-pooling at scale s adds s more. Exact for DnCNN
    and DUDnCNN; for UDnCNN an upper bound: which input pixels count depends on the argmax positions of
    the poolings and on where the output pixel sits in the pooling grid."""
    if isinstance(model, DnCNN):
        return 2 * (model.D + 2) + 1
    if isinstance(model, (UDnCNN, DUDnCNN)):
        scales = level_scales(model.D)
        rf = 1 + 2 * sum(scales)
        if isinstance(model, UDnCNN):
            rf += sum(2**i for i in range(model.D // 2 - 1))  # the poolings
        return rf
    raise TypeError(f"receptive_field knows DnCNN, UDnCNN and DUDnCNN, not {type(model).__name__}")


def measured_receptive_field(model: nn.Module, size: int = 128) -> int:
    """Side of the receptive field measured from the gradient of the centre output pixel with respect to
    the input (eval mode, so BatchNorm does not mix pixels): the extent of the nonzero gradient. Works for
    any image-to-image network (a U-Net too); the input has the channels of its first convolution."""
    model = model.eval()
    channels = next(m for m in model.modules() if isinstance(m, nn.Conv2d)).in_channels
    x = torch.randn(1, channels, size, size, requires_grad=True)
    y = model(x)
    y[0, :, size // 2, size // 2].sum().backward()
    nz = (x.grad[0].abs().sum(0) > 0).nonzero()
    if len(nz) == 0:
        return 0
    extent = (nz.max(0).values - nz.min(0).values + 1).max().item()
    if extent >= size:
        raise ValueError(f"the receptive field reaches the border of a {size}x{size} input: use a larger size")
    return int(extent)
