"""Running a trained model: the one home for inference, used by every track.

* :func:`predict`: a batch (N, ...) through the model, ``batch_size`` at a time, without gradients.
* :func:`predict_image`: a fully convolutional net (a U-Net, a DnCNN) on an image of any size: padded to the
  multiple the net needs, in one pass or in overlapping tiles when memory needs it.
* :func:`patch_average`: the classical alternative, overlapping patches averaged (notebook 08 compares).
* :func:`count_parameters`: the number of trainable parameters.
* :func:`check_input`: the first line of a model's ``forward``: a clear message for what torch would refuse deep
  inside (a NumPy array, a list, whole numbers, float64 for float32 weights).

Every function works in eval mode without gradients, on ``device`` (default :func:`~course_utils.get_device`),
and returns its result on the CPU. They take tensors, NumPy arrays or lists, converted at the door by
:func:`~course_utils.images.as_float_tensor`: floating-point values to the model's type (float64 -> float32;
float32 tensors are used as they are); whole numbers (uint8, ...) are refused with advice, since only the caller
knows the scale the model was trained on.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .device import get_device
from .images import as_float_tensor

__all__ = [
    "predict",
    "predict_image",
    "patch_average",
    "count_parameters",
    "check_input",
    "MAX_PIXELS",
    "CPU_BATCH",
    "ACCELERATOR_BATCH",
]

MAX_PIXELS = 2048 * 2048  # above this, predict_image tiles by default (a few GB of activations for UNet(16))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _weight_dtype(model: nn.Module) -> torch.dtype | None:
    """The floating-point type of the model's weights (None for a model without any)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), None)


def _autocast(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4
        return torch.is_autocast_enabled() if device_type == "cuda" else torch.is_autocast_cpu_enabled()


def check_input(model: nn.Module, x) -> None:
    """Refuse, at the door of ``model.forward``, what torch would refuse deep inside with a message about
    bias types or a missing ``.dim``: a NumPy array or a list, whole numbers (uint8, ...), or floating-point
    values of another type than the weights' (float64 for a float32 model; mixed precision is left to autocast).
    Each TypeError says what to pass."""
    name = type(model).__name__
    if not torch.is_tensor(x):
        how = "torch.from_numpy(x).float()" if isinstance(x, np.ndarray) else "torch.tensor(x, dtype=torch.float32)"
        raise TypeError(
            f"{name} takes a torch tensor, not a {type(x).__name__}: convert it with {how}, "
            "or use course_utils.predict, which converts for you"
        )
    weights = _weight_dtype(model)
    if not x.is_floating_point():
        raise TypeError(
            f"{name} takes floating-point images, not {str(x.dtype).removeprefix('torch.')}: convert them on the "
            "scale the model expects, e.g. x.float() / 255 for 8-bit images (0-255) to [0, 1]"
        )
    if weights is not None and x.dtype != weights and not _autocast(x.device.type):
        how = "x.float()" if weights == torch.float32 else f"x.to({weights})"
        raise TypeError(
            f"{name}'s weights are {str(weights).removeprefix('torch.')} but the input is "
            f"{str(x.dtype).removeprefix('torch.')}: convert it with {how} "
            "(NumPy arrays are float64 by default, and torch.from_numpy keeps their type)"
        )


def _ready(model: nn.Module, device) -> torch.device:
    device = torch.device(device) if device is not None else get_device()
    model.to(device).eval()
    return device


def _model_input(model: nn.Module, x, where: str) -> torch.Tensor:
    return as_float_tensor(x, where, integers="refuse", dtype=_weight_dtype(model) or torch.float32)


CPU_BATCH, ACCELERATOR_BATCH = 16, 64
""":func:`predict`'s default batch sizes. On the CPU, small batches keep a network's activations in the cache: a
``UNet(1, 1, 16)`` on 64x64 images ran 1.4 times faster in batches of 16 than of 64 on the course's 2-core machine
(16 and 32 tie; 4 and 64 are slower). The outputs are the same up to float rounding (a batch's size can change the
order of a convolution's sums; notebook 07's U-Net gave identical bits). A GPU wants larger batches."""


def predict(model: nn.Module, inputs: torch.Tensor, batch_size: int | None = None, device=None) -> torch.Tensor:
    """Run ``model`` on ``inputs`` (N, ...) in eval mode without gradients, ``batch_size`` at a time (default:
    :data:`CPU_BATCH` on the CPU, :data:`ACCELERATOR_BATCH` elsewhere), on ``device`` (default:
    :func:`get_device`); returns the outputs (N, ...) on the CPU.

    ``inputs``: a tensor, NumPy array or list; floating-point values are converted to the model's type
    (float64 -> float32), whole numbers (uint8, ...) are refused: convert them to the model's scale first."""
    inputs = _model_input(model, inputs, "predict: inputs")
    device = _ready(model, device)
    if batch_size is None:
        batch_size = CPU_BATCH if device.type == "cpu" else ACCELERATOR_BATCH
    elif batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, not {batch_size}")
    with torch.no_grad():
        return torch.cat(
            [model(inputs[i : i + batch_size].to(device)).cpu() for i in range(0, len(inputs), batch_size)]
        )


def _as_batch(model: nn.Module, image) -> tuple[torch.Tensor, int]:
    x = _model_input(model, image, "predict_image: image")
    dims = x.dim()
    if dims == 2:
        x = x[None, None]
    elif dims == 3:
        x = x[None]
    elif dims != 4:
        raise ValueError(f"expected an image (H, W), (C, H, W) or a batch (N, C, H, W), got shape {tuple(x.shape)}")
    return x, dims


def _tiled(model: nn.Module, x: torch.Tensor, tile: int, overlap: int, device) -> torch.Tensor:
    """``model`` on ``tile`` x ``tile`` blocks of ``x`` (N, C, H, W), each seen with ``overlap`` pixels of context
    on every side that are dropped afterwards."""
    if tile < 1 or overlap < 0:
        raise ValueError(f"tile must be >= 1 and overlap >= 0, got tile={tile}, overlap={overlap}")
    h, w = x.shape[-2:]
    out = None
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            a0, b0 = max(y0 - overlap, 0), max(x0 - overlap, 0)
            a1, b1 = min(y1 + overlap, h), min(x1 + overlap, w)
            part = model(x[..., a0:a1, b0:b1].to(device)).cpu()
            if out is None:
                out = torch.empty(x.shape[0], part.shape[1], h, w)
            out[..., y0:y1, x0:x1] = part[..., y0 - a0 : y1 - a0, x0 - b0 : x1 - b0]
    return out


def predict_image(
    model: nn.Module, image, *, multiple: int = 1, tile: int | None = None, overlap: int = 32, device=None
) -> torch.Tensor:
    """Output of ``model`` (fully convolutional, e.g. a U-Net) on ``image`` of any size, without gradients.

    Args:
        image: (H, W), (C, H, W) or (N, C, H, W), tensor, array or list, already normalised as the model
            expects (floating-point values are converted to the model's type; whole numbers are refused).
        multiple: a whole number >= 1: H and W are reflect-padded up to a multiple of it first (a net that
            pools k times and unpools back needs 2^k), and the output cropped back.
        tile: process ``tile`` x ``tile`` blocks (each seen with ``overlap`` extra pixels of context on
            every side, which are then dropped). Default: the whole image at once, unless it has more
            than 2048² pixels, then 1024.
        device: where to compute (default :func:`~course_utils.get_device`); the result is on the CPU.

    Returns the output with the input's layout: (H, W) for (H, W) input with one output channel,
    else (C_out, H, W) or (N, C_out, H, W).
    """
    if isinstance(multiple, bool) or not isinstance(multiple, numbers.Integral) or multiple < 1:
        raise ValueError(f"multiple must be a whole number >= 1, got {multiple!r}")
    multiple = int(multiple)
    x, dims = _as_batch(model, image)
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if ph or pw:
        if ph >= h or pw >= w:
            raise ValueError(f"a {h}x{w} image is too small for this model (it needs multiples of {multiple})")
        x = F.pad(x, (0, pw, 0, ph), mode="reflect")
    device = _ready(model, device)
    if tile is None and x.shape[-2] * x.shape[-1] > MAX_PIXELS:
        tile = 1024
    with torch.no_grad():
        if tile is None or (x.shape[-2] <= tile and x.shape[-1] <= tile):
            out = model(x.to(device)).cpu()
        else:
            out = _tiled(model, x, tile, overlap, device)
    out = out[..., :h, :w]
    if dims == 2 and out.shape[1] == 1:
        return out[0, 0]
    return out[0] if dims in (2, 3) else out


def patch_average(
    model: nn.Module, image: torch.Tensor, patch: int, stride: int, *, batch_size: int = 64, device=None
) -> torch.Tensor:
    """``model`` applied to every ``patch`` x ``patch`` window of ``image`` (C, H, W) taken every ``stride``
    pixels (the last row and column of windows are moved to touch the border), outputs averaged where
    windows overlap: the classical way to restore an image larger than the training patches. A fully
    convolutional net computes nearly the same on the whole image at once (:func:`predict_image`): the two
    differ only where a patch border cuts the receptive field. Returns (C_out, H, W) on the CPU."""
    if image.dim() != 3:
        raise ValueError(f"expected one image (C, H, W), got shape {tuple(image.shape)}")
    c, h, w = image.shape
    if not (1 <= patch <= min(h, w)) or not 1 <= stride <= patch:
        raise ValueError(f"need 1 <= stride <= patch <= min(H, W) = {min(h, w)}; got patch {patch}, stride {stride}")

    def starts(n):
        s = list(range(0, n - patch + 1, stride))
        return s if s[-1] == n - patch else s + [n - patch]

    corners = [(y, x) for y in starts(h) for x in starts(w)]
    windows = torch.stack([image[:, y : y + patch, x : x + patch] for y, x in corners])
    outs = predict(model, windows, batch_size=batch_size, device=device)
    total = torch.zeros(outs.shape[1], h, w)
    count = torch.zeros(1, h, w)
    for (y, x), o in zip(corners, outs):
        total[:, y : y + patch, x : x + patch] += o
        count[:, y : y + patch, x : x + patch] += 1
    return total / count
