"""Reading and converting images: the one home for files -> arrays -> tensors, used by every track.

* :func:`read_image`: a PNG / TIFF / JPEG / BMP file (or its bytes) as a NumPy array, as stored.
* :func:`to_gray`: (H, W) from a gray or multi-channel fluorescence image: the channel with the most signal.
* :func:`to_tensor`: a photograph as a (C, H, W) float32 tensor in [0, 1], gray (ITU-R 601 luma) or RGB.
* :func:`normalize_percentile`: the usual normalisation of microscope images (percentiles to [0, 1]).
* :func:`as_tensor`, :func:`as_float_tensor`: the one door through which the helpers take what a user passes
  (a tensor, a NumPy array, a list): as a tensor, or as a floating-point one with whole-number images kept,
  scaled or refused with advice.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "IMAGE_SUFFIXES",
    "read_image",
    "to_gray",
    "to_tensor",
    "normalize_percentile",
    "as_tensor",
    "as_float_tensor",
    "count_nonfinite",
]

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")


def read_image(source, name: str = "") -> np.ndarray:
    """A PNG / TIFF / JPEG / BMP file (a path, or bytes with its file ``name``) as a NumPy array, values as
    stored (uint8, uint16 or float), (H, W) or (H, W, C)."""
    name = str(name or source)
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        if name.lower().endswith((".tif", ".tiff")):
            import tifffile

            return tifffile.imread(io.BytesIO(data))
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im)
    except Exception as e:  # a broken file: say which one
        raise ValueError(f"cannot read image {name}: {type(e).__name__}: {e}") from None


def to_gray(image: np.ndarray, where: str = "image") -> np.ndarray:
    """(H, W) from (H, W), (H, W, C) or (C, H, W) with C <= 4: the channel with the most signal
    (fluorescence stored as RGB has the stain in one channel; the others are empty or copies)."""
    image = np.asarray(image)
    if image.ndim == 2:
        return image
    if image.ndim == 3:
        axis = 2 if image.shape[2] <= 4 else 0 if image.shape[0] <= 4 else None
        if axis is not None:
            chans = np.moveaxis(image, axis, 0)[:3]
            return chans[int(np.argmax([c.astype(np.float64).std() for c in chans]))]
    raise ValueError(f"{where}: expected a 2D image or one with up to 4 channels, got shape {image.shape}")


def to_tensor(img: np.ndarray, gray: bool = True, where: str = "image") -> torch.Tensor:
    """A photograph (H, W), (H, W, 3) or (H, W, 4) of any dtype as a (C, H, W) float32 tensor in [0, 1]: C = 1
    (ITU-R 601 luma, scikit-image's ``rgb2gray``) when ``gray``, else C = 3 (a gray image repeated). An alpha
    channel is blended onto white."""
    from skimage import color, util

    try:
        img = util.img_as_float32(img)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    if img.ndim == 3 and img.shape[-1] == 4:
        img = color.rgba2rgb(img)
    if img.ndim not in (2, 3):
        raise ValueError(f"{where}: expected a gray or colour image, got shape {img.shape}")
    if gray and img.ndim == 3:
        img = color.rgb2gray(img)
    if not gray and img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
    return t[None] if t.ndim == 2 else t.permute(2, 0, 1).contiguous()


def normalize_percentile(image, low: float = 1.0, high: float = 99.8, clip: bool = True):
    """Map each image's ``low``-th percentile to 0 and its ``high``-th to 1 (the usual normalisation of
    fluorescence images, e.g. CSBDeep / StarDist), optionally clipped to [0, 1].

    ``image``: a NumPy array or torch tensor, (H, W) or a batch (..., H, W): each (H, W) plane is
    normalised on its own. Returns float32 of the same kind and shape. A flat image becomes all zeros.
    """
    is_torch = torch.is_tensor(image)
    x = image.detach().cpu().numpy() if is_torch else np.asarray(image)
    if x.ndim < 2:
        raise ValueError(f"normalize_percentile needs an image (H, W) or a batch (..., H, W), got shape {x.shape}")
    x = x.astype(np.float32, copy=False)
    flat = x.reshape(-1, x.shape[-2] * x.shape[-1])
    lo, hi = np.percentile(flat, [low, high], axis=1)
    scale = np.where(hi - lo > 1e-12, hi - lo, np.inf)
    out = ((flat - lo[:, None]) / scale[:, None]).reshape(x.shape).astype(np.float32)
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return torch.from_numpy(out).to(image.device) if is_torch else out


def as_tensor(x, where: str = "input") -> torch.Tensor:
    """``x`` (a tensor, a NumPy array, a list or a number) as a tensor of numbers, its type kept: a tensor is
    returned as it is, NumPy arrays and lists are converted (uint16 and uint32, which torch hardly supports,
    to int64). Anything else (strings, ragged lists, complex numbers) is a TypeError naming ``where``."""
    if torch.is_tensor(x):
        if x.is_complex():
            raise TypeError(f"{where}: expected real numbers, got {str(x.dtype).removeprefix('torch.')} values")
        return x
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as e:  # a ragged list
        raise TypeError(f"{where}: cannot read this {type(x).__name__} as an array of numbers ({e})") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(
            f"{where}: expected numbers (a tensor, a NumPy array or a list of numbers), got a "
            f"{type(x).__name__} of {a.dtype} values"
        )
    if a.dtype.kind == "u" and a.dtype.itemsize > 1:
        a = a.astype(np.int64)
    if not a.dtype.isnative:  # big-endian data, e.g. from some TIFF files
        a = a.astype(a.dtype.newbyteorder("="))
    return torch.from_numpy(a if a.flags.writeable else a.copy())


def as_float_tensor(x, where: str = "input", *, integers: str = "refuse", dtype: torch.dtype = torch.float32):
    """``x`` (a tensor, a NumPy array, a list or a number) as a floating-point tensor of ``dtype``: the one door
    through which the helpers take images.

    * A tensor that already has ``dtype`` is returned as it is (the same object, values bit for bit).
    * NumPy arrays and (nested) lists become tensors; other floating types (float64, float16) are converted
      to ``dtype``.
    * Whole numbers (integer or boolean types), by ``integers``: ``"keep"`` their values (uint8 0-255 stays
      0-255); ``"scale"`` uint8 and uint16 to [0, 1] (divided by 255 or 65535; booleans give 0 and 1); or
      ``"refuse"`` them. A refusal, and a "scale" of integers of unknown range (int64, ...), is a TypeError
      that says how to convert. ``where`` names the argument in messages, e.g. ``"predict: inputs"``.
    """
    if integers not in ("keep", "scale", "refuse"):
        raise ValueError(f"integers must be 'keep', 'scale' or 'refuse', not {integers!r}")
    type_name = np.asarray(x).dtype.name if isinstance(x, np.ndarray) else None
    t = as_tensor(x, where)
    type_name = type_name or str(t.dtype).removeprefix("torch.")
    if t.is_floating_point():
        return t if t.dtype == dtype else t.to(dtype)
    if integers == "keep" or (integers == "scale" and t.dtype == torch.bool):
        return t.to(dtype)
    if integers == "scale" and type_name in ("uint8", "uint16"):
        return t.to(dtype) / (255 if type_name == "uint8" else 65535)
    convert = 'x.astype("float32")' if isinstance(x, np.ndarray) else "x.float()"
    raise TypeError(
        f"{where}: got whole numbers ({type_name}), but this needs floating-point images on the scale the model "
        f"expects: convert them first, e.g. {convert} / 255 for 8-bit images (0-255) to [0, 1]"
    )


def count_nonfinite(x) -> str:
    """How many NaN and infinite values ``x`` (a tensor or a NumPy array) holds, in words for a message:
    e.g. "3 NaN and 1 infinite"; "" when there are none."""
    t = as_tensor(x)
    counts = (
        ((int(torch.isnan(t).sum()), "NaN"), (int(torch.isinf(t).sum()), "infinite")) if t.is_floating_point() else ()
    )
    return " and ".join(f"{n} {kind}" for n, kind in counts if n)
