"""Segmenting whole images: any size in one call, tiled only when memory needs it; the reference
nuclei model.

* :func:`predict_image`: logits of a fully convolutional net on an image of any size, (H, W) or a batch;
  in one pass, or in overlapping tiles (only the centre of each tile is kept, so tile borders do not show).
* :func:`segment_nuclei`: fluorescence image (any size, any range) -> boolean nucleus mask, with the
  reference model ``data/checkpoints/unet_nuclei.pt`` by default (see ``scripts/train_nuclei_reference.py``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from .checkpoints import load_checkpoint
from .device import get_device
from .download import data_dir
from .nuclei import normalize_percentile

__all__ = ["predict_image", "segment_nuclei", "estimate_diameter", "load_reference_nuclei_model", "REFERENCE_NUCLEI"]

REFERENCE_NUCLEI = "checkpoints/unet_nuclei.pt"  # under data/
MAX_PIXELS = 2048 * 2048  # above this, predict_image tiles by default (a few GB of activations for UNet(16))


def _as_batch(image) -> tuple[torch.Tensor, int]:
    x = torch.as_tensor(np.asarray(image) if not torch.is_tensor(image) else image).float()
    dims = x.dim()
    if dims == 2:
        x = x[None, None]
    elif dims == 3:
        x = x[None]
    elif dims != 4:
        raise ValueError(f"expected an image (H, W), (C, H, W) or a batch (N, C, H, W), got shape {tuple(x.shape)}")
    return x, dims


def predict_image(model: nn.Module, image, *, tile: int | None = None, overlap: int = 32, device=None) -> torch.Tensor:
    """Output of ``model`` (fully convolutional, e.g. a U-Net) on ``image`` of any size, without gradients.

    Args:
        image: (H, W), (C, H, W) or (N, C, H, W), tensor or array, already normalised as the model expects.
        tile: process ``tile`` x ``tile`` blocks (each seen with ``overlap`` extra pixels of context on
            every side, which are then dropped). Default: the whole image at once, unless it has more
            than 2048² pixels, then 1024.
        device: where to compute (default :func:`~course_utils.get_device`); the result is on the CPU.

    Returns the output with the input's layout: (H, W) for (H, W) input with one output channel,
    else (C_out, H, W) or (N, C_out, H, W).
    """
    x, dims = _as_batch(image)
    device = torch.device(device) if device is not None else get_device()
    model.to(device).eval()
    h, w = x.shape[-2:]
    if tile is None and h * w > MAX_PIXELS:
        tile = 1024
    with torch.no_grad():
        if tile is None or (h <= tile and w <= tile):
            out = model(x.to(device)).cpu()
        else:
            if tile < 1 or overlap < 0:
                raise ValueError(f"tile must be >= 1 and overlap >= 0, got tile={tile}, overlap={overlap}")
            out = None
            for y0 in range(0, h, tile):
                for x0 in range(0, w, tile):
                    y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
                    a0, b0 = max(y0 - overlap, 0), max(x0 - overlap, 0)
                    a1, b1 = min(y1 + overlap, h), min(x1 + overlap, w)
                    part = model(x[..., a0:a1, b0:b1].to(device)).cpu()
                    if out is None:
                        out = torch.empty(x.shape[0], part.shape[1], h, w)
                    out[..., y0:y1, x0:x1] = part[..., y0 - a0: y1 - a0, x0 - b0: x1 - b0]
    if dims == 2 and out.shape[1] == 1:
        return out[0, 0]
    return out[0] if dims in (2, 3) else out


def load_reference_nuclei_model(device=None) -> nn.Module:
    """The reference nuclei U-Net (``data/checkpoints/unet_nuclei.pt``), ready in eval mode."""
    path = data_dir() / REFERENCE_NUCLEI
    if not path.is_file():
        raise FileNotFoundError(
            f"the reference model {path} is not here. It ships with the course repository: work from a clone "
            "(git clone ...; pip install -e .), or train it with scripts/train_nuclei_reference.py.")
    return load_checkpoint(path, device=device)


TRAINED_DIAMETER = 16.0  # typical nucleus diameter (px) of the synthetic training images (2 x semi-axes 2.5..18)


def estimate_diameter(image: np.ndarray) -> float:
    """Typical nucleus diameter in pixels of a normalised image: the median equivalent diameter of the
    bright components above Otsu's threshold (a rough guess, as Cellpose's size model)."""
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    fg = image > threshold_otsu(image)
    labels, n = ndimage.label(ndimage.binary_opening(fg))
    if n == 0:
        return TRAINED_DIAMETER
    areas = np.bincount(labels.ravel())[1:]
    areas = areas[areas >= 4]
    return float(2 * np.sqrt(np.median(areas) / np.pi)) if len(areas) else TRAINED_DIAMETER


def segment_nuclei(image, model: nn.Module | None = None, *, threshold: float = 0.5, normalize: bool = True,
                   diameter: float | str | None = None, tile: int | None = None, device=None) -> np.ndarray:
    """Boolean nucleus mask (H, W) of one fluorescence image of any size.

    Args:
        image: (H, W) gray, or (H, W, C) / (C, H, W) colour with the stain in one channel (it is picked).
        model: a net giving nucleus logits; default the reference model.
        threshold: on the probability sigmoid(logit); 0.5 is logit 0.
        normalize: percentile-normalise first (1 %, 99.8 %), as the training images were. Leave it on
            for raw microscope images; turn it off for images already normalised that way.
        diameter: typical nucleus diameter in pixels. The reference model was trained on nuclei 5 to 36
            pixels across; for images at a higher magnification give it (or ``"auto"`` to estimate it),
            and the image is rescaled so that nuclei are about 16 pixels across, then the mask scaled
            back. ``None``: use the image as it is.
    """
    from skimage.transform import resize

    from .nuclei_data import to_gray

    img = np.asarray(image.cpu() if torch.is_tensor(image) else image)
    img = to_gray(np.squeeze(img) if img.ndim > 2 else img).astype(np.float32)
    if normalize:
        img = normalize_percentile(img)
    if diameter == "auto":
        diameter = estimate_diameter(img)
    factor = 1.0 if diameter is None else TRAINED_DIAMETER / float(diameter)
    work = img
    if abs(factor - 1.0) > 0.1:
        shape = (max(8, round(img.shape[0] * factor)), max(8, round(img.shape[1] * factor)))
        work = resize(img, shape, order=1, anti_aliasing=factor < 1, preserve_range=True).astype(np.float32)
    model = model if model is not None else load_reference_nuclei_model(device)
    prob = torch.sigmoid(predict_image(model, work, tile=tile, device=device))
    if work is not img:
        prob = torch.from_numpy(resize(prob.numpy(), img.shape, order=1, preserve_range=True))
    return (prob > threshold).numpy()
