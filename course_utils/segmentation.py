"""Segmenting whole images: any size in one call, tiled only when memory needs it; the reference
nuclei model.

* :func:`segment_nuclei`: fluorescence image (any size, any range) -> boolean nucleus mask, with the
  reference model ``data/checkpoints/unet_nuclei.pt`` by default (see ``scripts/train_nuclei_reference.py``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from .checkpoints import load_checkpoint
from .download import data_dir
from .images import normalize_percentile, to_gray
from .inference import predict_image

__all__ = ["segment_nuclei", "estimate_diameter", "load_reference_nuclei_model", "REFERENCE_NUCLEI"]

REFERENCE_NUCLEI = "checkpoints/unet_nuclei.pt"  # under data/


def load_reference_nuclei_model(device=None) -> nn.Module:
    """The reference nuclei U-Net (``data/checkpoints/unet_nuclei.pt``), ready in eval mode."""
    path = data_dir() / REFERENCE_NUCLEI
    if not path.is_file():
        raise FileNotFoundError(
            f"the reference model {path} is not here. It ships with the course repository: work from a clone "
            "(git clone ...; pip install -e .), or train it with scripts/train_nuclei_reference.py."
        )
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


def segment_nuclei(
    image,
    model: nn.Module | None = None,
    *,
    threshold: float = 0.5,
    normalize: bool = True,
    diameter: float | str | None = None,
    tile: int | None = None,
    device=None,
) -> np.ndarray:
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
