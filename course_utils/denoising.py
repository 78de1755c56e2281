"""Gaussian denoising with the DnCNN family (notebook 05): its training size, whole-image denoising,
the reference denoisers, and the activation statistics behind the initialisation experiment.

* :func:`training_run`: the :class:`~course_utils.experiment.Experiment` of notebook 05 and
  ``benchmarks/bench_restoration.py`` for one architecture, sized by ``training_sizes("denoising")``.
* :func:`denoise`: any model, any image size (reflect-padded to what the model needs, then cropped back).
* :func:`load_reference_denoiser`: the checkpoints of ``data/checkpoints`` (``"dncnn_color_s30"``,
  ``"dncnn_gray_s25"``), when they are there.
* :func:`activation_stds`: standard deviation of every hidden layer's output and of the noise estimate f(x).

Images are (C, H, W) or (N, C, H, W) tensors in [0, 1]; noise levels ``sigma`` are on the 0-255 scale.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .budget import training_sizes
from .checkpoints import load_checkpoint
from .dncnn import DnCNN, UDnCNN
from .download import data_dir
from .experiment import Experiment
from .images import as_float_tensor
from .inference import predict_image
from .seeding import seed_everything

__all__ = ["training_run", "denoise", "activation_stds", "load_reference_denoiser", "REFERENCE_DENOISERS"]

REFERENCE_DENOISERS = {
    "dncnn_color_s30": "checkpoints/dncnn_color_s30.pt",  # under data/
    "dncnn_gray_s25": "checkpoints/dncnn_gray_s25.pt",
}


def training_run(
    cls,
    train_set,
    val_set,
    output_dir,
    *,
    lr: float | None = None,
    channels: int = 3,
    config: dict | None = None,
    device=None,
    seed: int = 0,
):
    """The :class:`~course_utils.experiment.Experiment` of notebook 05 for architecture ``cls`` (DnCNN,
    UDnCNN or DUDnCNN): ``cls(D, C, channels)`` of ``training_sizes("denoising")``, seeded with ``seed``; Adam with a
    one-cycle learning rate peaking at ``lr`` (default: the budget's) over ``epochs * steps_per_epoch``
    batches of ``batch_size``, stepped per batch; checkpoints in ``output_dir``. ``train_set`` should hold
    ``steps_per_epoch * batch_size`` items. Call ``.run(training_sizes("denoising")["epochs"])`` on it."""
    size = training_sizes("denoising")
    lr = size["lr"] if lr is None else lr
    seed_everything(seed)
    model = cls(size["D"], size["C"], channels)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=size["epochs"] * size["steps_per_epoch"]
    )
    return Experiment(
        model,
        train_set,
        val_set,
        optimizer,
        output_dir,
        batch_size=size["batch_size"],
        config={"seed": seed, **(config or {})},
        scheduler=schedule,
        device=device,
    )


def denoise(model: nn.Module, image: torch.Tensor, *, multiple: int | None = None, device=None) -> torch.Tensor:
    """``model`` applied to ``image`` (C, H, W) or (N, C, H, W) of any size, without gradients.

    ``image``: values in [0, 1] (a tensor, NumPy array or list). 8-bit images (uint8, 0-255) are divided by 255
    first, 16-bit ones (uint16) by 65535, so the output is in [0, 1] too; other whole numbers (int64, ...) are
    refused, their scale being unknown. ``multiple``: a whole number >= 1; H and W are reflect-padded up to a
    multiple of it first (and the result cropped back); default: what the model needs (2^(D/2 - 1) for UDnCNN,
    1 otherwise). Large images are tiled. See :func:`~course_utils.predict_image`, which does the work. Returns
    the model's output, on the CPU, with the input's layout.
    """
    image = as_float_tensor(image, "denoise: image", integers="scale")
    if image.dim() not in (3, 4):
        raise ValueError(f"expected an image (C, H, W) or a batch (N, C, H, W); got shape {tuple(image.shape)}")
    if multiple is None:
        multiple = 2 ** (model.D // 2 - 1) if isinstance(model, UDnCNN) else 1
    return predict_image(model, image, multiple=multiple, device=device)


def activation_stds(model: nn.Module, x: torch.Tensor) -> tuple[list[float], float]:
    """Standard deviations, at the model's current weights, of the first layer's output, of each of the D
    hidden layers' outputs (conv => BN => ReLU, training mode: BatchNorm uses the batch statistics), and
    of the noise estimate f(x) = x - model(x). For a :class:`~course_utils.dncnn.DnCNN`. Gradients are off and
    the model is left as it was (running statistics included)."""
    if not isinstance(model, DnCNN):
        raise TypeError(f"activation_stds follows the layers of a DnCNN, not a {type(model).__name__}")
    was_training = model.training
    saved = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    model.train()
    stds = []
    with torch.no_grad():
        h = F.relu(model.conv[0](x))
        stds.append(h.std().item())
        for i in range(1, model.D + 1):
            h = model.layer(i, h)
            stds.append(h.std().item())
        noise_estimate = model.conv[-1](h).std().item()
    model.load_state_dict(saved, strict=False)  # BatchNorm's running statistics as they were
    model.train(was_training)
    return stds, noise_estimate


def load_reference_denoiser(name: str = "dncnn_color_s30", device=None) -> nn.Module:
    """A reference denoiser of ``data/checkpoints`` (see ``data/README.md``), in eval mode:
    ``"dncnn_color_s30"`` (notebook 05's colour DnCNN, sigma 30) or ``"dncnn_gray_s25"`` (grayscale,
    sigma 25). Raises FileNotFoundError with what to do when the file is not there."""
    if name not in REFERENCE_DENOISERS:
        raise ValueError(f"unknown reference denoiser {name!r}; choose one of {', '.join(REFERENCE_DENOISERS)}")
    path = data_dir() / REFERENCE_DENOISERS[name]
    if not path.is_file():
        raise FileNotFoundError(
            f"the reference denoiser {path} is not here. Reference checkpoints ship with the course repository "
            "(work from a clone), or train one with scripts/train_denoiser_reference.py."
        )
    return load_checkpoint(path, device=device)
