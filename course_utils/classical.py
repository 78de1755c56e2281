"""Classical restoration baselines: Gaussian denoisers (notebook 05, ``benchmarks/bench_restoration.py``) and
non-blind deconvolution (motion blur, :mod:`course_utils.blur`).

Each takes a batch (N, C, H, W) or one image (C, H, W), values around [0, 1], C = 1 or 3, and returns a tensor
of the same shape clipped to [0, 1]; colour images are processed as colour images. Noise levels ``sigma`` are
on the 0-255 scale.

* :func:`tv_denoise`: total variation (Rudin, Osher and Fatemi 1992), Chambolle's algorithm in scikit-image.
* :func:`nl_means`: non-local means (Buades, Coll and Morel 2005), scikit-image, ``h = 0.8 sigma`` (the
  setting scikit-image's documentation recommends for its fast mode).
* :func:`bm3d_denoise`: BM3D (Dabov, Foi, Katkovnik and Egiazarian 2007) from the ``bm3d`` package
  (``pip install bm3d``; free for non-commercial use: see its licence). :func:`bm3d_available` says whether
  it is installed.
* :func:`wiener` and :func:`richardson_lucy`: deconvolution given the true blur kernel (scikit-image). Their
  defaults (balance 0.1, 10 iterations) were chosen on the training images (``natural.TRAIN_IMAGES``, motion
  blur of 3-15 pixels, noise sigma 2), never on the test images.

:func:`denoisers` maps a name to each denoiser that can run here (BM3D only when installed).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "tv_denoise",
    "nl_means",
    "bm3d_denoise",
    "bm3d_available",
    "denoisers",
    "wiener",
    "richardson_lucy",
    "TV_WEIGHT_PER_SIGMA",
]

TV_WEIGHT_PER_SIGMA = 1.0
"""TV weight = this x sigma/255: best or within 0.4 dB of the best of 0.5-3 at sigma 15 and 30 on the
training images of ``natural.TRAIN_IMAGES`` (never tuned on the test images); larger sigmas prefer about 2."""


def _map_images(fn, images: torch.Tensor, extras=None) -> torch.Tensor:
    """``fn(array, extra)`` on each image as a float64 array, (H, W) or (H, W, 3), with ``extras[i]`` (default
    None); the results stacked back into the input's layout and clipped to [0, 1]."""
    batch = images.dim() == 4
    x = images if batch else images[None]
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected (N, C, H, W) or (C, H, W) with C = 1 or 3; got {tuple(images.shape)}")
    extras = [None] * len(x) if extras is None else extras
    out = []
    for img, extra in zip(x.detach().cpu().double().numpy(), extras):
        colour = img.shape[0] == 3
        d = np.asarray(fn(np.moveaxis(img, 0, -1) if colour else img[0], extra), dtype=np.float32)
        out.append(np.moveaxis(d, -1, 0) if colour else d[None])
    res = torch.from_numpy(np.clip(np.stack(out), 0.0, 1.0)).to(images.device)
    return res if batch else res[0]


def _denoise(fn, noisy: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma < 0:
        raise ValueError(f"sigma is a standard deviation on the 0-255 scale, >= 0; got {sigma}")
    return _map_images(lambda a, _: fn(a, sigma / 255.0, a.ndim == 3), noisy)


def tv_denoise(noisy: torch.Tensor, sigma: float) -> torch.Tensor:
    """Total-variation denoising (Chambolle), weight ``TV_WEIGHT_PER_SIGMA * sigma / 255``."""
    from skimage.restoration import denoise_tv_chambolle

    return _denoise(
        lambda a, s, colour: denoise_tv_chambolle(
            a, weight=TV_WEIGHT_PER_SIGMA * s, channel_axis=-1 if colour else None
        ),
        noisy,
        sigma,
    )


def nl_means(noisy: torch.Tensor, sigma: float) -> torch.Tensor:
    """Non-local means (scikit-image, fast mode): 5x5 patches searched within 13x13, h = 0.8 sigma."""
    from skimage.restoration import denoise_nl_means

    return _denoise(
        lambda a, s, colour: denoise_nl_means(
            a, h=0.8 * s, sigma=s, patch_size=5, patch_distance=6, fast_mode=True, channel_axis=-1 if colour else None
        ),
        noisy,
        sigma,
    )


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

    return _denoise(run, noisy, sigma)


def denoisers() -> dict:
    """``{"TV": tv_denoise, "NL-means": nl_means, "BM3D": bm3d_denoise}``, BM3D only when installed."""
    out = {"TV": tv_denoise, "NL-means": nl_means}
    if bm3d_available():
        out["BM3D"] = bm3d_denoise
    return out


def _deconvolve(fn, blurred: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    n = len(blurred) if blurred.dim() == 4 else 1
    k = kernels if kernels.dim() == 3 else kernels[None].expand(n, -1, -1)
    if len(k) != n:
        raise ValueError(f"need one kernel per image: {n} images, kernels of shape {tuple(kernels.shape)}")

    def per_channel(a, kernel):
        return np.stack([fn(a[..., c], kernel) for c in range(a.shape[-1])], -1) if a.ndim == 3 else fn(a, kernel)

    return _map_images(per_channel, blurred, list(k.detach().cpu().double().numpy()))


def wiener(blurred: torch.Tensor, kernels: torch.Tensor, balance: float = 0.1) -> torch.Tensor:
    """Wiener deconvolution (scikit-image ``restoration.wiener``) with the true kernel(s), (k, k) for all images
    or (N, k, k); ``balance`` trades sharpness for noise (larger: smoother). Works in the Fourier domain, so it
    assumes periodic borders."""
    from skimage.restoration import wiener as sk_wiener

    return _deconvolve(lambda a, k: sk_wiener(a, k, balance, clip=False), blurred, kernels)


def richardson_lucy(blurred: torch.Tensor, kernels: torch.Tensor, num_iter: int = 10) -> torch.Tensor:
    """Richardson-Lucy deconvolution (scikit-image) with the true kernel(s), ``num_iter`` iterations (more:
    sharper and noisier)."""
    from skimage.restoration import richardson_lucy as sk_rl

    return _deconvolve(lambda a, k: sk_rl(a, k, num_iter=num_iter, clip=False), blurred, kernels)
