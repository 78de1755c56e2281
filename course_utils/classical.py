"""Classical Gaussian denoisers, the baselines of notebook 05 and of ``benchmarks/bench_restoration.py``.

Each takes a noisy batch (N, C, H, W) or one image (C, H, W), values around [0, 1], and the noise level
``sigma`` on the 0-255 scale; it returns a tensor of the same shape, clipped to [0, 1]. Colour images
(C = 3) are denoised as colour images.

* :func:`tv_denoise`: total variation (Rudin, Osher and Fatemi 1992), Chambolle's algorithm in scikit-image.
* :func:`nl_means`: non-local means (Buades, Coll and Morel 2005), scikit-image, ``h = 0.8 sigma`` (the
  setting scikit-image's documentation recommends for its fast mode).
* :func:`bm3d_denoise`: BM3D (Dabov, Foi, Katkovnik and Egiazarian 2007) from the ``bm3d`` package
  (``pip install bm3d``; free for non-commercial use: see its licence). :func:`bm3d_available` says whether
  it is installed.

:func:`denoisers` maps a name to each of them that can run here (BM3D only when installed).
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["tv_denoise", "nl_means", "bm3d_denoise", "bm3d_available", "denoisers", "TV_WEIGHT_PER_SIGMA"]

TV_WEIGHT_PER_SIGMA = 1.0
"""TV weight = this x sigma/255: best or within 0.4 dB of the best of 0.5-3 at sigma 15 and 30 on the
training images of ``natural.TRAIN_IMAGES`` (never tuned on the test images); larger sigmas prefer about 2."""


def _per_image(fn, noisy: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma < 0:
        raise ValueError(f"sigma is a standard deviation on the 0-255 scale, >= 0; got {sigma}")
    batch = noisy.dim() == 4
    x = noisy if batch else noisy[None]
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected (N, C, H, W) or (C, H, W) with C = 1 or 3; got {tuple(noisy.shape)}")
    out = []
    for img in x.detach().cpu().float().numpy():
        colour = img.shape[0] == 3
        a = np.moveaxis(img, 0, -1) if colour else img[0]
        d = np.asarray(fn(a.astype(np.float64), sigma / 255.0, colour), dtype=np.float32)
        out.append(np.moveaxis(d, -1, 0) if colour else d[None])
    res = torch.from_numpy(np.clip(np.stack(out), 0.0, 1.0)).to(noisy.device)
    return res if batch else res[0]


def tv_denoise(noisy: torch.Tensor, sigma: float) -> torch.Tensor:
    """Total-variation denoising (Chambolle), weight ``TV_WEIGHT_PER_SIGMA * sigma / 255``."""
    from skimage.restoration import denoise_tv_chambolle

    return _per_image(lambda a, s, colour: denoise_tv_chambolle(
        a, weight=TV_WEIGHT_PER_SIGMA * s, channel_axis=-1 if colour else None), noisy, sigma)


def nl_means(noisy: torch.Tensor, sigma: float) -> torch.Tensor:
    """Non-local means (scikit-image, fast mode): 5x5 patches searched within 13x13, h = 0.8 sigma."""
    from skimage.restoration import denoise_nl_means

    return _per_image(lambda a, s, colour: denoise_nl_means(
        a, h=0.8 * s, sigma=s, patch_size=5, patch_distance=6, fast_mode=True,
        channel_axis=-1 if colour else None), noisy, sigma)


def bm3d_available() -> bool:
    """True when the ``bm3d`` package is installed (``pip install bm3d``)."""
    try:
        import bm3d  # noqa: F401
    except ImportError:
        return False
    return True


def bm3d_denoise(noisy: torch.Tensor, sigma: float) -> torch.Tensor:
    """BM3D (grayscale) or CBM3D (colour) with the known noise level; needs ``pip install bm3d``."""
    try:
        import bm3d
    except ImportError:
        raise ImportError("BM3D needs the bm3d package: pip install bm3d") from None

    def run(a, s, colour):
        return bm3d.bm3d_rgb(a, s) if colour else bm3d.bm3d(a, sigma_psd=s)

    return _per_image(run, noisy, sigma)


def denoisers() -> dict:
    """``{"TV": tv_denoise, "NL-means": nl_means, "BM3D": bm3d_denoise}``, BM3D only when installed."""
    out = {"TV": tv_denoise, "NL-means": nl_means}
    if bm3d_available():
        out["BM3D"] = bm3d_denoise
    return out
