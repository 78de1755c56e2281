"""Synthetic fluorescence nuclei (DAPI / Hoechst stain) with exact masks: the segmentation track's
offline data (notebooks 02-04 and the reference model).

``make_nuclei(n)`` returns images (N, 1, H, W) in [0, 1] and binary masks (N, 1, H, W) (float 0/1, the
target of ``BCEWithLogitsLoss``). Every image draws its own "microscope and sample", so that a network
trained on them meets the variety of real data (e.g. Kromp et al. 2020, Scientific Data 7:262):

* **nuclei**: ellipses, typical semi-major axis log-uniform in 2.5..18 px per image, ±25 % per nucleus,
  aspect ratio 0.55..1, any orientation; density (covered fraction 5..55 %) and clustering drawn per
  image; neighbours may touch and overlap a little; nuclei cut by the image border are kept;
* **brightness**: log-normal between nuclei (spread drawn per image), a few small bright (mitotic)
  nuclei; within a nucleus a dome or a brighter rim, smooth chromatin texture, bright spots
  (chromocentres) and dark holes (nucleoli);
* **optics**: Gaussian blur (sigma 0.4..1.5 px) so edges are soft, faint out-of-focus nuclei and a glow
  around nuclei (not in the mask), an uneven dark background;
* **camera**: Poisson photon noise (peak 20..2000 photons) plus Gaussian read noise, then the same
  percentile normalisation as real images (:func:`~course_utils.images.normalize_percentile`), clipped to [0, 1].

**Wider microscopes** (options of :func:`make_nuclei`, all off by default so that the default stream, the lab's
images and the held-out set stay as they were; :data:`WIDE` turns them all on, for the reference model): larger
nuclei (``scale``), a wider point-spread blur (``blur``), dim in-focus nuclei (``dim``), a bright textured tissue
or cytoplasm background under the nuclei (``tissue``, as in a Drosophila embryo), more and brighter out-of-focus
nuclei (``haze``), a camera with few grey levels (``bits``) and saturated nuclei (``saturation``). They come from
where the reference model failed on the real images of the 2018 Data Science Bowl and of Kromp et al. 2020
(issue #23, ``benchmarks/bench_segmentation.py --real``).

Masks are exact: a pixel is foreground when its centre lies inside an in-focus nucleus's ellipse. The
statistics are tested in ``tests/test_nuclei.py``. Everything is drawn from one NumPy stream seeded
from ``generator`` (a ``torch.Generator``) or from torch's global seed, so ``seed_everything`` makes
it reproducible.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import ndimage

from .images import normalize_percentile

__all__ = ["NUCLEI_SIZE", "WIDE", "make_nuclei", "nuclei_batches", "held_out_nuclei", "ellipse_mask"]

NUCLEI_SIZE = 128  # the lab's images are 1x128x128
SCALE = (2.5, 18.0)  # typical semi-major axis per image (px), log-uniform
COVERAGE = (0.05, 0.55)  # target fraction of the image covered by nuclei
MAX_NUCLEI = 400
HELD_OUT_SEED = 31337  # the 256 evaluation images of the benchmark and the reference model
BLUR = (0.4, 1.5)  # point-spread sigma (px) per image, uniform
HAZE = 0.25  # chance of an image with out-of-focus nuclei
# Bright blobs that are not nuclei (tissue, bright out-of-focus nuclei) only among nuclei of semi-axis <= 10 px: among
# large nuclei they taught the model that a large bright region is no nucleus (issue #23: Kromp's 90 px nuclei lost)
BRIGHT_BLOBS_MAX_SCALE = 10.0
# every option of make_nuclei widened towards real microscopes (issue #23): the reference model's training images
WIDE = dict(scale=(2.5, 40.0), blur=(0.4, 3.0), dim=0.15, tissue=0.3, haze=0.5, bits=(4, 12), saturation=0.15)


def _numpy_rng(generator) -> np.random.Generator:
    if isinstance(generator, np.random.Generator):
        return generator
    if generator is None or isinstance(generator, torch.Generator):
        kw = {} if generator is None else {"generator": generator, "device": generator.device}
        return np.random.default_rng(int(torch.randint(0, 2**62, (1,), **kw).item()))
    return np.random.default_rng(int(generator))


def ellipse_mask(shape, cy: float, cx: float, a: float, b: float, theta: float) -> np.ndarray:
    """Boolean (H, W) mask of the pixels whose centre (row, col) lies inside the ellipse of centre
    (cy, cx), semi-axes ``a`` (along angle ``theta``, radians from the column axis) and ``b``."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return _ellipse_d2(yy - cy, xx - cx, a, b, theta) <= 1.0


def _ellipse_d2(dy, dx, a, b, theta):
    c, s = math.cos(theta), math.sin(theta)
    u = dx * c + dy * s
    v = -dx * s + dy * c
    return (u / a) ** 2 + (v / b) ** 2


def _smooth_noise(rng, shape, sigma: float) -> np.ndarray:
    """Zero-mean, unit-std Gaussian random field with correlation length ``sigma`` px."""
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (f - f.mean()) / (f.std() + 1e-12)


def _place(rng, h, w, scale, n_target):
    """Centres, semi-axes and angles of up to ``n_target`` nuclei, clustered or spread, little overlap."""
    m = 4 * n_target  # candidates, drawn at once; accepted in order unless they overlap a neighbour
    clustered = rng.random() < 0.6
    k = int(rng.integers(1, 6))
    centres = rng.uniform([0, 0], [h, w], size=(k, 2))
    spread = scale * rng.uniform(1.5, 3.0) * math.sqrt(max(n_target / k, 1.0))
    touch = rng.uniform(0.75, 1.0)  # 1: just touching at most; below: some overlap
    a = np.clip(scale * np.exp(rng.normal(0.0, 0.25, m)), 1.5, 25.0)
    b = a * rng.uniform(0.55, 1.0, m)
    theta = rng.uniform(0, math.pi, m)
    near = centres[rng.integers(k, size=m)] + rng.normal(0.0, spread, (m, 2))
    anywhere = rng.uniform(-0.5, 0.5, (m, 2)) * a[:, None] + rng.uniform([0, 0], [h, w], (m, 2))
    yx = np.where((clustered & (rng.random(m) < 0.85))[:, None], near, anywhere)
    ok = (yx[:, 0] > -0.6 * a) & (yx[:, 0] < h + 0.6 * a) & (yx[:, 1] > -0.6 * a) & (yx[:, 1] < w + 0.6 * a)
    r = np.sqrt(a * b)
    kept = np.zeros(m, dtype=np.int64)
    n = 0
    for i in np.flatnonzero(ok):
        if n and np.any(
            np.hypot(yx[kept[:n], 0] - yx[i, 0], yx[kept[:n], 1] - yx[i, 1]) < touch * (r[kept[:n]] + r[i])
        ):
            continue
        kept[n] = i
        n += 1
        if n == n_target:
            break
    kept = kept[:n]
    return yx[kept, 0], yx[kept, 1], a[kept], b[kept], theta[kept]


def _draw(canvas, mask, tex, cy, cx, a, b, theta, value, profile, texture, labels=None, label=0):
    """Paint one nucleus into ``canvas`` (max), ``mask`` (or), ``tex`` (its texture amplitude) and ``labels``
    (its number ``label``, over any nucleus drawn before it)."""
    h, w = canvas.shape
    y0, y1 = max(int(math.floor(cy - a)) - 1, 0), min(int(math.ceil(cy + a)) + 2, h)
    x0, x1 = max(int(math.floor(cx - a)) - 1, 0), min(int(math.ceil(cx + a)) + 2, w)
    if y0 >= y1 or x0 >= x1:
        return
    d2 = _ellipse_d2(np.arange(y0, y1)[:, None] - cy, np.arange(x0, x1)[None, :] - cx, a, b, theta)
    inside = d2 <= 1.0
    if mask is not None:
        mask[y0:y1, x0:x1] |= inside
    if labels is not None:
        labels[y0:y1, x0:x1][inside] = label
    val = np.where(inside, value * (1.0 + profile * (d2 - 0.5)), 0.0)
    np.maximum(canvas[y0:y1, x0:x1], val, out=canvas[y0:y1, x0:x1])
    if tex is not None:
        tex[y0:y1, x0:x1][inside] = texture


def _render(rng, h, w, scale=SCALE, blur=BLUR, dim=0.0, tissue=0.0, haze=HAZE, bits=None, saturation=0.0):
    scale = math.exp(rng.uniform(math.log(scale[0]), math.log(scale[1])))
    coverage = rng.uniform(*COVERAGE)
    n_target = int(np.clip(round(coverage * h * w / (math.pi * scale**2 * 0.78)), 1, MAX_NUCLEI))
    signal = np.zeros((h, w))
    mask = np.zeros((h, w), bool)
    labels = np.zeros((h, w), np.int64)
    tex = np.zeros((h, w))
    spread = rng.uniform(0.1, 0.5)  # log-brightness spread between nuclei
    profile_mean = rng.uniform(-0.5, 0.4)  # <0: dome (bright centre); >0: brighter rim
    for k, (cy, cx, a, b, t) in enumerate(zip(*_place(rng, h, w, scale, n_target)), start=1):
        value = math.exp(rng.normal(0.0, spread))
        if rng.random() < 0.03:  # a condensed, bright (mitotic) nucleus
            value *= rng.uniform(1.8, 3.0)
            a, b = 0.6 * a, 0.6 * b
        if dim and rng.random() < dim:  # a dim nucleus, in focus (in the mask): 3 to 8 times fainter
            value /= rng.uniform(3.0, 8.0)
        _draw(
            signal,
            mask,
            tex,
            cy,
            cx,
            a,
            b,
            t,
            value,
            profile=min(max(profile_mean + rng.normal(0, 0.15), -0.8), 0.8),
            texture=rng.uniform(0.05, 0.35),
            labels=labels,
            label=k,
        )
    # chromatin texture, bright chromocentres, dark nucleoli (inside nuclei only)
    field = _smooth_noise(rng, (h, w), max(0.7, scale / rng.uniform(2.0, 5.0)))
    spots = ndimage.gaussian_filter((rng.random((h, w)) < rng.uniform(0.0, 0.03)).astype(float), 0.8) * 6
    holes = ndimage.gaussian_filter((rng.random((h, w)) < rng.uniform(0.0, 0.004)).astype(float), scale / 5 + 0.5)
    holes *= 1.0 / (holes.max() + 1e-12) * rng.uniform(0.0, 0.6)
    signal *= np.clip(1.0 + tex * field + spots * rng.uniform(0, 0.5) - holes, 0.15, None)
    # out-of-focus nuclei and glow around nuclei (no mask), uneven dark background
    haze_ = np.zeros((h, w))
    if rng.random() < haze:
        # the wider option: brighter out-of-focus nuclei, defocused in proportion to size, among small nuclei only
        bright = haze > HAZE and scale <= BRIGHT_BLOBS_MAX_SCALE
        for cy, cx, a, b, t in zip(*_place(rng, h, w, scale, max(1, int(n_target * rng.uniform(0.1, 0.5))))):
            _draw(haze_, None, None, cy, cx, a, b, t, rng.uniform(0.05, 0.6 if bright else 0.2), 0.0, 0.0)
        peak = haze_.max()
        # out of focus, the blur grows with the magnification, as the nuclei do: at least 0.4 semi-axis when bright
        haze_ = ndimage.gaussian_filter(haze_, rng.uniform(2.0, 6.0) * (max(1.0, 0.4 * scale / 2.0) if bright else 1.0))
        if bright:
            haze_ *= peak / (haze_.max() + 1e-12)
    # bright, mottled cytoplasm or tissue under small nuclei (not in the mask)
    if tissue and rng.random() < tissue and scale <= BRIGHT_BLOBS_MAX_SCALE:
        haze_ += _tissue(rng, h, w, scale)
    glow = ndimage.gaussian_filter(mask.astype(float), scale * rng.uniform(0.3, 1.0)) * rng.uniform(0.0, 0.12)
    background = rng.uniform(0.0, 0.12) + rng.uniform(0.0, 0.12) * (_smooth_noise(rng, (h, w), max(h, w) / 4) + 2) / 4
    clean = np.clip(ndimage.gaussian_filter(signal, rng.uniform(*blur)) + haze_ + glow + background, 0.0, None)
    # camera: Poisson photons + Gaussian read noise
    peak = math.exp(rng.uniform(math.log(20.0), math.log(2000.0)))
    ref = np.percentile(clean, 99.5) + 1e-6
    noisy = rng.poisson(clean / ref * peak) / peak + rng.normal(0.0, rng.uniform(0.002, 0.03), (h, w))
    if saturation and rng.random() < saturation:  # the camera's full well: the brightest nuclei flat on top
        noisy = np.minimum(noisy, np.percentile(noisy[mask], rng.uniform(50.0, 95.0)) if mask.any() else noisy.max())
    if bits is not None:  # an analogue-to-digital converter of 2^b levels over the image's range (b drawn)
        levels = 2.0 ** rng.uniform(*bits) - 1
        lo, hi = min(noisy.min(), 0.0), noisy.max() + 1e-12
        noisy = np.round((noisy - lo) / (hi - lo) * levels) / levels
    image = normalize_percentile(noisy, low=rng.uniform(0.1, 2.0), high=rng.uniform(99.0, 99.95))
    _, labels = np.unique(labels, return_inverse=True)  # 1, 2, ... for the nuclei left visible, 0 background
    return image, mask, labels.reshape(h, w)


def _tissue(rng, h, w, scale) -> np.ndarray:
    """A bright region with soft edges and a mottled texture, dimmer than a nucleus (0.2..0.6 of the
    typical one): the cytoplasm or yolk of an embryo, a tissue section, a smear, under the nuclei."""
    region = _smooth_noise(rng, (h, w), max(h, w) / rng.uniform(3.0, 8.0)) > rng.uniform(-1.0, 0.7)
    soft = ndimage.gaussian_filter(region.astype(float), rng.uniform(1.0, 2.0) * scale)
    mottle = 1.0 + rng.uniform(0.1, 0.4) * _smooth_noise(rng, (h, w), rng.uniform(0.5, 1.0) * scale)
    return rng.uniform(0.2, 0.6) * soft * np.clip(mottle, 0.2, None)


def _check_range(name, value, low, high):
    ok = (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)
        and low <= value[0] <= value[1] <= high
    )
    if not ok:
        raise ValueError(
            f"make_nuclei: {name} is a range (low, high) with {low} <= low <= high <= {high}, not {value!r}"
        )


def _check_chance(name, value):
    if not (isinstance(value, (int, float)) and 0 <= value <= 1):
        raise ValueError(f"make_nuclei: {name} is a chance between 0 and 1, not {value!r}")


def make_nuclei(
    n: int,
    size=NUCLEI_SIZE,
    *,
    generator=None,
    labels: bool = False,
    scale=SCALE,
    blur=BLUR,
    dim: float = 0.0,
    tissue: float = 0.0,
    haze: float = HAZE,
    bits=None,
    saturation: float = 0.0,
) -> tuple[torch.Tensor, ...]:
    """``n`` synthetic fluorescence images and their exact nucleus masks (and, on request, which nucleus is where).

    Args:
        n: number of images.
        size: ``H`` (square) or ``(H, W)``; 128 as in the lab.
        generator: a ``torch.Generator`` (or an int seed, or a ``numpy.random.Generator``) for a
            reproducible stream; default: torch's global generator.
        labels: also return the instance labels (the same images and masks either way).
        scale: range of the typical semi-major axis (px) of an image's nuclei, drawn log-uniform; (2.5, 18).
        blur: range of the point-spread blur's sigma (px), drawn per image; (0.4, 1.5).
        dim: chance that a nucleus is 3 to 8 times fainter than its neighbours (still in focus, in the mask).
        tissue: chance that an image has a bright, mottled tissue or cytoplasm background under its nuclei (not
            in the mask), 0.2 to 0.6 as bright as a nucleus, with edges softer than a nucleus's; only where the
            nuclei are small (semi-axis <= 10 px: at large nuclei a bright region would be ambiguous).
        haze: chance that an image has out-of-focus nuclei (not in the mask); above the default 0.25 they are
            also brighter, where the nuclei are small (up to 0.6 of a typical nucleus after their blur; at most 0.2
            before it, at 0.25) and
            blurred in proportion to their size (sigma at least 0.4 x the semi-axis: they stay out of focus at any
            magnification, unlike in-focus nuclei, however large).
        bits: ``None``, or the range of the camera's bit depth b (drawn per image): the raw image is quantised
            to 2^b grey levels before normalisation, e.g. (4, 12).
        saturation: chance that an image is clipped at the brightness of a nucleus pixel (the 50th to 95th
            percentile of the nuclei's pixels): the brightest nuclei are flat on top.
        :data:`WIDE` holds all of them widened towards real microscopes: ``make_nuclei(n, **WIDE)``. With the
        defaults, the images are the same as before these options existed (same seed, same images).

    Returns:
        images (n, 1, H, W) float32 in [0, 1] and masks (n, 1, H, W) float32 in {0, 1}; with ``labels=True``
        also the label images (n, 1, H, W) int64: 0 for background, 1, 2, ... one number per nucleus (numbered
        1..k in each image, k its number of visible nuclei), so that ``masks == (labels > 0)``. Where two nuclei
        overlap, a pixel belongs to the one drawn last. Two nuclei that touch stay two objects here, while
        the binary mask joins them: the difference between semantic and instance segmentation (notebook 03).
    """
    if int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, not {n!r}")
    h, w = (size, size) if np.isscalar(size) else tuple(size)
    if h < 8 or w < 8:
        raise ValueError(f"images must be at least 8x8 pixels, not {h}x{w}")
    _check_range("scale", scale, 1.0, 100.0)
    _check_range("blur", blur, 0.0, 20.0)
    if bits is not None:
        _check_range("bits", bits, 1.0, 16.0)
    for name, chance in (("dim", dim), ("tissue", tissue), ("haze", haze), ("saturation", saturation)):
        _check_chance(name, chance)
    options = dict(scale=scale, blur=blur, dim=dim, tissue=tissue, haze=haze, bits=bits, saturation=saturation)
    rng = _numpy_rng(generator)
    images, masks = np.zeros((n, 1, h, w), np.float32), np.zeros((n, 1, h, w), np.float32)
    instances = np.zeros((n, 1, h, w), np.int64)
    for i in range(int(n)):
        images[i, 0], masks[i, 0], instances[i, 0] = _render(rng, h, w, **options)
    out = (torch.from_numpy(images), torch.from_numpy(masks))
    return (*out, torch.from_numpy(instances)) if labels else out


def nuclei_batches(batch_size: int, size=NUCLEI_SIZE, *, generator=None, **options):
    """A zero-argument function giving fresh ``make_nuclei(batch_size, **options)`` pairs: a batch source for
    ``fit``."""
    rng = _numpy_rng(generator)
    return lambda: make_nuclei(batch_size, size, generator=rng, **options)


def held_out_nuclei(n: int = 256, size=NUCLEI_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed evaluation set: ``n`` images from a seed no training stream of the course uses."""
    return make_nuclei(n, size, generator=HELD_OUT_SEED)
