"""Natural images that work offline: the photographs shipped inside scikit-image, as float tensors.

A fixed split keeps test images out of training: ``TEST_IMAGES`` (camera, astronaut, coffee, chelsea)
are standard test pictures; ``TRAIN_IMAGES`` are the other natural photographs and textures of the
scikit-image wheel (no download needed). Images are (C, H, W) float tensors in [0, 1], grayscale
(C = 1, ITU-R 601 luma) by default. Gaussian noise is given, as in the literature, by its standard
deviation on the 0-255 scale (sigma = 25 means 25/255 on [0, 1] images).
"""
from __future__ import annotations

import functools

import numpy as np
import torch

__all__ = ["TRAIN_IMAGES", "TEST_IMAGES", "skimage_images", "random_crops", "centre_crops", "add_gaussian_noise"]

TEST_IMAGES = ("camera", "astronaut", "coffee", "chelsea")
TRAIN_IMAGES = ("rocket", "hubble_deep_field", "immunohistochemistry", "retina", "moon", "coins", "clock",
                "brick", "grass", "gravel", "cell")


@functools.lru_cache(maxsize=64)
def _load(name: str, gray: bool) -> torch.Tensor:
    from skimage import color, data, util

    try:
        img = util.img_as_float32(getattr(data, name)())
    except AttributeError:
        raise ValueError(f"scikit-image has no image {name!r}") from None
    if img.ndim == 3 and img.shape[-1] == 4:
        img = color.rgba2rgb(img)
    if gray and img.ndim == 3:
        img = color.rgb2gray(img)
    if not gray and img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
    return t[None] if t.ndim == 2 else t.permute(2, 0, 1).contiguous()


def skimage_images(split: str = "train", gray: bool = True) -> list[torch.Tensor]:
    """The ``split`` ("train" or "test") images as a list of (C, H, W) tensors in [0, 1]."""
    names = {"train": TRAIN_IMAGES, "test": TEST_IMAGES}.get(split)
    if names is None:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    return [_load(n, gray) for n in names]


def random_crops(images, n: int, size: int, *, generator=None) -> torch.Tensor:
    """``n`` random (size x size) crops, each from a random image, with a random flip: (n, C, size, size)."""
    images = [im for im in images if im.shape[-2] >= size and im.shape[-1] >= size]
    if not images:
        raise ValueError(f"no image is at least {size}x{size} pixels: use a smaller crop size")
    idx = torch.randint(len(images), (n,), generator=generator).tolist()
    out = []
    for i in idx:
        im = images[i]
        top = int(torch.randint(im.shape[-2] - size + 1, (1,), generator=generator))
        left = int(torch.randint(im.shape[-1] - size + 1, (1,), generator=generator))
        crop = im[:, top: top + size, left: left + size]
        if bool(torch.rand(1, generator=generator) < 0.5):
            crop = crop.flip(-1)
        out.append(crop)
    return torch.stack(out)


def centre_crops(images, size: int) -> torch.Tensor:
    """The central (size x size) crop of each image: (len(images), C, size, size), for fixed test sets."""
    out = []
    for im in images:
        h, w = im.shape[-2:]
        if h < size or w < size:
            raise ValueError(f"an image of {h}x{w} pixels has no {size}x{size} centre crop")
        out.append(im[:, (h - size) // 2: (h - size) // 2 + size, (w - size) // 2: (w - size) // 2 + size])
    return torch.stack(out)


def add_gaussian_noise(clean: torch.Tensor, sigma: float, *, generator=None) -> torch.Tensor:
    """``clean`` plus fresh white Gaussian noise of standard deviation ``sigma``/255 (no clipping)."""
    if sigma < 0:
        raise ValueError(f"sigma is a standard deviation on the 0-255 scale, >= 0; got {sigma}")
    noise = torch.randn(clean.shape, generator=generator, device=clean.device, dtype=clean.dtype)
    return clean + noise * (sigma / 255.0)
