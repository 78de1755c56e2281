"""Segmenting whole images: any size in one call, tiled only when memory needs it; the reference
nuclei model.

* :func:`segment_nuclei`: fluorescence image (any size, any range) -> boolean nucleus mask, with the
  reference model ``data/checkpoints/unet_nuclei.pt`` by default (see ``scripts/train_nuclei_reference.py``);
  a batch (N, C, H, W) -> masks (N, H, W); with ``instances=True`` labelled nuclei instead (:func:`split_nuclei`).
* :func:`split_nuclei`: a binary mask -> one number per nucleus, touching nuclei split by a watershed on the
  distance transform (the instance view, notebook 03's semantic/instance difference).
* :func:`choose_threshold`: the threshold on the logits with the best IoU on validation images (notebook 03).
* Training cells of notebooks 03-04: :func:`training_seconds` says how long a training will take here before
  it starts; :class:`TrainedModels` holds what a cell trains and, when the cell was interrupted, says so
  instead of a bare ``KeyError``.
"""

from __future__ import annotations

import copy
import math
import numbers
import time

import numpy as np
import torch
import torch.nn as nn

from .checkpoints import load_checkpoint
from .device import get_device
from .download import data_dir
from .images import count_nonfinite, normalize_percentile, to_gray
from .inference import predict_image

__all__ = [
    "segment_nuclei",
    "estimate_diameter",
    "split_nuclei",
    "load_reference_nuclei_model",
    "REFERENCE_NUCLEI",
    "choose_threshold",
    "training_seconds",
    "TrainedModels",
    "NotTrainedError",
]

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
# Nuclei larger than this (px across) are shrunk to it before the model sees them. Chosen on the real validation
# sets of issue #23 (benchmarks/bench_segmentation.py --real DIR --targets 20,24,28; data/README.md): DSB 2018 is
# segmented best at 16-20, Kromp 2020 at 28-32; 24 serves both.
TARGET_DIAMETER = 24.0
ESTIMATE_PIXELS = 512 * 512  # estimate_diameter looks at about this many pixels of a larger image


def estimate_diameter(image: np.ndarray) -> float:
    """Typical nucleus diameter in pixels of a normalised image (a rough guess, as Cellpose's size model): the
    equivalent diameter of the bright object that half of the foreground pixels lie in (an area-weighted median),
    the objects found by Otsu's threshold on the image smoothed (Gaussian, sigma 1.5 px), touching ones split by
    :func:`split_nuclei`; objects under 9 pixels (noise) or over 1/16 of the image (a bright region, not a
    nucleus) are left out. 16 (the trained size) when nothing is left.

    Weighting by area and smoothing first keep noise specks from pulling it down: on the real validation images
    of issue #23 the plain median of Otsu's components said 3 px for nuclei of 90 px on 8 of 18 Kromp images.
    An image of more than ``ESTIMATE_PIXELS`` (512²) pixels is estimated on every k-th row and column of its
    smoothed version (k = 2 for 1024x1280), the areas scaled back: 4 times faster (0.65 -> 0.14 s at 1024² here,
    most of the default call's overhead), and within 9 % of the full estimate on the 19 real images of issue
    #23 that large."""
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    smooth = ndimage.gaussian_filter(np.asarray(image, dtype=np.float32), 1.5)
    step = max(1, int(math.sqrt(smooth.size / ESTIMATE_PIXELS)))  # every step-th row and column of a large image
    smooth = smooth[::step, ::step]
    if smooth.max() <= smooth.min():
        return TRAINED_DIAMETER
    labels = split_nuclei(smooth > threshold_otsu(smooth))
    areas = np.bincount(labels.ravel())[1:]
    areas = np.sort(areas[(areas >= 9) & (areas <= labels.size / 16)])
    if not len(areas):
        return TRAINED_DIAMETER
    cumulative = np.cumsum(areas)
    return float(2 * np.sqrt(areas[np.searchsorted(cumulative, cumulative[-1] / 2)] / np.pi)) * step


def _check_diameter(diameter) -> None:
    if diameter is None or (isinstance(diameter, str) and diameter == "auto"):
        return
    ok = isinstance(diameter, numbers.Real) and not isinstance(diameter, bool)
    if not (ok and math.isfinite(float(diameter)) and float(diameter) >= 1):
        raise ValueError(
            'segment_nuclei: diameter is the typical nucleus diameter in pixels (a number >= 1), "auto" to '
            f"estimate it, or None to use the image as it is; got {diameter!r}"
        )


def _one_stain(planes: np.ndarray) -> bool:
    """True when (C, H, W) looks like one fluorescence image stored in colour: the stain in one plane, the
    others (nearly) empty or copies of it; False for C different images (a stack)."""
    stds = [float(p.std(dtype=np.float64)) for p in planes]
    k = int(np.argmax(stds))
    ref = planes[k].astype(np.float32)
    return all(
        j == k or stds[j] <= 0.05 * stds[k] or np.abs(p - ref).mean(dtype=np.float64) <= 0.05 * stds[k]
        for j, p in enumerate(planes)
    )


def _planes(image) -> tuple[list[np.ndarray], bool]:
    """The (H, W) images to segment in ``image``, and whether it is a batch."""
    img = np.asarray(image.detach().cpu() if torch.is_tensor(image) else image)
    if img.dtype.kind not in "biuf":
        raise TypeError(f"segment_nuclei: expected an image of numbers, got {img.dtype} values")
    if img.dtype.kind == "f" and not np.isfinite(img).all():
        what = count_nonfinite(img)
        raise ValueError(
            f"segment_nuclei: the image has {what} pixel(s): the model cannot tell what is there. Replace them "
            "first, e.g. image = np.nan_to_num(image, nan=np.nanmin(image), posinf=np.nanmax(image), "
            "neginf=np.nanmin(image)) (background for NaN), or crop them away"
        )
    stack_advice = (
        "For a stack of images, pass a batch (N, 1, H, W), e.g. image[:, None] (a mask (N, H, W) comes back), "
        "or one image at a time; for one colour image, pick the stain's channel yourself, e.g. image[2]"
    )
    if img.ndim == 4:
        return [to_gray(im, "segment_nuclei: image") for im in img], True
    if img.ndim == 3 and 1 in (img.shape[0], img.shape[2]):
        return [img.reshape(img.shape[1:] if img.shape[0] == 1 else img.shape[:2])], False
    if img.ndim == 3 and img.shape[0] > 4 and img.shape[2] > 4:
        raise ValueError(f"segment_nuclei: a {img.shape} array is not one image. {stack_advice}")
    if img.ndim == 3 and img.shape[2] > 4 and not _one_stain(img):
        raise ValueError(
            f"segment_nuclei: is this {img.shape} array one colour image (channels first) or {img.shape[0]} "
            f"images? Its planes differ, as different images do. {stack_advice}"
        )
    return [to_gray(img, "segment_nuclei: image")], False


def segment_nuclei(
    image,
    model: nn.Module | None = None,
    *,
    threshold: float = 0.5,
    normalize: bool = True,
    diameter: float | str | None = "auto",
    tile: int | None = None,
    device=None,
    instances: bool = False,
) -> np.ndarray:
    """Boolean nucleus mask (H, W) of one fluorescence image of any size, or masks (N, H, W) of a batch
    (labelled nuclei instead with ``instances=True``).

    Args:
        image: (H, W) gray; (H, W, C) colour with the stain in one channel (the channel with the most signal
            is picked; C <= 4); (C, H, W) colour, accepted only when it looks like one: the stain in one plane,
            the others empty or copies of it (several planes that differ are a stack of images: a ValueError
            says to pass them as a batch); a batch (N, C, H, W), each image segmented on its own. Singleton
            axes, (1, H, W) or (H, W, 1), are one image. Any range (a NumPy array or a tensor); NaN or
            infinite pixels are refused (replace them first: the message says how).
        model: a net giving nucleus logits; default the reference model.
        threshold: on the probability sigmoid(logit); 0.5 is logit 0.
        normalize: percentile-normalise first (1 %, 99.8 %), as the training images were. Leave it on
            for raw microscope images; turn it off for images already normalised that way.
        diameter: typical nucleus diameter in pixels (a number >= 1), ``"auto"`` (the default) to estimate it
            for each image (:func:`estimate_diameter`), or ``None`` to use the image as it is. Where nuclei are
            larger than ``TARGET_DIAMETER`` (24 px), the image is shrunk so that they are about 24 px across,
            and the mask scaled back; smaller nuclei are left as they are (the reference model was trained on
            nuclei 5 to 36 px across). On the real validation images of issue #23 it raised the mean IoU of the
            model of that day from 0.741 to 0.775 (2018 Data Science Bowl, 24 images) and from 0.823 to 0.831
            (Kromp et al. 2020, 18 images; nuclei about 100 px across) over ``None``, and it makes images of large
            nuclei faster. The reference model since then segments nuclei that large only shrunk.
        instances: return labelled nuclei instead of the mask: int32 (H, W) (or (N, H, W)), 0 background,
            1..k one number per nucleus, touching nuclei split by :func:`split_nuclei`, specks under 5 % of the
            typical nucleus's area dropped (``min_fraction=0.05``: on the real validation crops of
            ``data/nuclei-real`` it raised the object F1 from 0.42 to 0.65 on Kromp's); ``labels > 0`` is the
            mask less those specks.
    """
    _check_diameter(diameter)
    planes, batch = _planes(image)
    model = model if model is not None else load_reference_nuclei_model(device)
    masks = [_segment(img, model, threshold, normalize, diameter, tile, device) for img in planes]
    if instances:
        masks = [split_nuclei(m, min_fraction=0.05) for m in masks]
    return np.stack(masks) if batch else masks[0]


def split_nuclei(mask, *, depth: float = 0.3, min_size: int = 0, min_fraction: float = 0.0) -> np.ndarray:
    """Label image of a binary nucleus mask, touching nuclei split: the instance view of a semantic mask.

    Each connected component (8-connectivity) is cut along the watershed of its distance transform (the
    distance of each pixel to the background), flooded from the component's distance maxima that stand out by
    at least ``depth`` x its largest distance (an h-maximum, so the rule is the same for nuclei of any size):
    two round nuclei joined by a neck narrower than (1 - depth) x their radius become two; a lone convex nucleus,
    whose distance transform has one peak, stays one. The classical split of touching nuclei (e.g. Malpica et
    al. 1997, "Applying watershed algorithms to the segmentation of clustered nuclei", Cytometry 28:289).

    Args:
        mask: (H, W) binary (bool, 0/1 or any numbers: non-zero is foreground), NumPy array or tensor.
        depth: in (0, 1): how deep the saddle between two peaks must be, relative to the larger radius, to split
            there; larger splits less.
        min_size: objects of fewer pixels are dropped (set to background).
        min_fraction: objects smaller than this fraction of the typical nucleus's area are dropped too; the
            typical area is the area-weighted median (the size of the object that half of the foreground pixels
            lie in), so that many small specks do not pull it down.

    Returns:
        int32 (H, W): 0 background, 1..k one number per nucleus, numbered in raster order of their first pixel.
        ``labels > 0`` equals ``mask`` (up to the objects under ``min_size``).
    """
    from scipy import ndimage
    from skimage.morphology import reconstruction
    from skimage.segmentation import watershed

    m = np.asarray(mask.detach().cpu() if torch.is_tensor(mask) else mask)
    if m.ndim != 2:
        raise ValueError(f"split_nuclei: expected one (H, W) mask, got shape {m.shape}; for a batch, one at a time")
    if not 0 < depth < 1:
        raise ValueError(f"split_nuclei: depth is a fraction of a nucleus's radius, between 0 and 1, not {depth!r}")
    m = m != 0
    components, n = ndimage.label(m, structure=np.ones((3, 3)))
    if n == 0:
        return np.zeros(m.shape, np.int32)
    dist = ndimage.distance_transform_edt(m)  # the image's edge is no background: cut nuclei go on beyond it
    peak = ndimage.maximum(dist, components, np.arange(n + 1))
    h = np.maximum(depth * peak[components], 0.5)  # per pixel: its component's rule; >= half a pixel (the grid)
    h[~m] = 0
    tops = (dist - reconstruction(dist - h, dist, method="dilation")) >= h - 1e-6  # the h-maxima's plateaus
    markers, _ = ndimage.label(tops & m, structure=np.ones((3, 3)))
    labels = watershed(-dist, markers, mask=m)
    sizes = np.bincount(labels.ravel())
    if min_fraction > 0:
        areas = np.sort(sizes[1:][sizes[1:] > 0])
        cumulative = np.cumsum(areas)
        min_size = max(min_size, min_fraction * areas[np.searchsorted(cumulative, cumulative[-1] / 2)])
    if min_size > 0:
        labels[sizes[labels] < min_size] = 0
    # renumber 1..k in raster order
    _, first = np.unique(labels.ravel(), return_index=True)
    order = np.unique(labels.ravel())
    new = np.zeros(int(labels.max()) + 1, np.int32)
    keep = order > 0
    ranks = np.argsort(np.argsort(first[keep]))
    new[order[keep]] = ranks + 1
    return new[labels]


def _segment(img, model, threshold, normalize, diameter, tile, device, target=None) -> np.ndarray:
    """One (H, W) image through :func:`segment_nuclei`'s pipeline; ``target`` replaces ``TARGET_DIAMETER`` (the
    benchmark's sweep of it)."""
    from skimage.transform import resize

    img = img.astype(np.float32)
    if normalize:
        img = normalize_percentile(img)
    if diameter == "auto":
        diameter = estimate_diameter(img)
    target = TARGET_DIAMETER if target is None else target
    factor = 1.0 if diameter is None else min(target / float(diameter), 1.0)  # shrink only
    work = img
    if factor < 0.9:
        shape = (max(8, round(img.shape[0] * factor)), max(8, round(img.shape[1] * factor)))
        work = resize(img, shape, order=1, anti_aliasing=factor < 1, preserve_range=True).astype(np.float32)
    prob = torch.sigmoid(predict_image(model, work, tile=tile, device=device))
    if work is not img:
        prob = torch.from_numpy(resize(prob.numpy(), img.shape, order=1, preserve_range=True))
    return (prob > threshold).numpy()


# ---------------------------------------------------------------- training cells (notebooks 03-04)
def choose_threshold(logits, masks, thresholds=None) -> tuple[float, np.ndarray]:
    """The threshold on the logits whose mask ``logits > threshold`` has the highest pooled IoU with ``masks``.

    Args:
        logits: a model's logits on validation images (N, 1, H, W) (never on the test images: the choice is
            fitted to these images, and their score then flatters it).
        masks: their binary masks (N, 1, H, W).
        thresholds: the candidates, by default the lab's 41 values from -5 to +5 (logit 0 is probability 1/2).

    Returns:
        (the chosen threshold as a float, the IoU of every candidate as an array of shape (T,)); on a tie, the
        first candidate with the highest IoU.
    """
    from .metrics import iou

    thresholds = np.linspace(-5, 5, 41) if thresholds is None else np.asarray(thresholds, dtype=float)
    if thresholds.ndim != 1 or not len(thresholds):
        raise ValueError(f"thresholds must be a non-empty 1-D list of numbers, got shape {thresholds.shape}")
    logits, masks = torch.as_tensor(logits).detach().cpu(), torch.as_tensor(masks).detach().cpu()
    ious = np.array([iou(logits > t, masks).item() for t in thresholds])
    return float(thresholds[ious.argmax()]), ious


def training_seconds(model: nn.Module, batches, steps: int, *, device=None, probe: int = 3) -> float:
    """About how many seconds ``steps`` training steps of ``model`` take on this machine, now.

    A copy of ``model`` takes one warm-up step and then ``probe`` timed steps of Adam on the binary
    cross-entropy on logits, with batches from ``batches`` (a zero-argument function giving ``(images, masks)``,
    as for :func:`~course_utils.fit`); the mean time of a timed step is multiplied by ``steps``. ``model``
    itself is not changed, but the probe draws ``probe + 1`` batches, so seed afterwards.
    Typical use, before a long cell: ``print(f"about {training_seconds(net, batches, 300):.0f} s")``.

    Raises:
        ValueError: ``steps`` or ``probe`` is negative, or ``probe`` is 0.
    """
    if steps < 0 or probe < 1:
        raise ValueError(f"training_seconds: steps must be >= 0 and probe >= 1, not steps={steps}, probe={probe}")
    device = torch.device(device) if device is not None else get_device()
    net = copy.deepcopy(model).to(device).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    seconds = 0.0
    for i in range(probe + 1):
        images, masks = batches()
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss_fn(net(images.to(device)), masks.to(device)).backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds += (time.perf_counter() - t0) if i else 0.0  # step 0 warms up (allocations, kernels)
    return seconds / probe * steps


class NotTrainedError(RuntimeError):
    """A cell asked :class:`TrainedModels` for a model that the training cell has not trained (yet)."""


class TrainedModels(dict):
    """The models one training cell trains, by key (a width, a condition): a ``dict``, except that asking
    for a key the cell has not stored raises :class:`NotTrainedError`, whose message says which cell to run
    to the end, rather than a bare ``KeyError: 32`` far from its cause (the cell was interrupted).

    ``models = TrainedModels("the training cell of section 7")``, then ``models[16] = net``; ``models[32]`` before
    it is stored raises "NotTrainedError: 32 has not been trained yet (trained so far: 16): run the training cell
    of section 7 to the end first; ...".
    ``in``, ``get`` and iteration behave as for a dict.
    """

    def __init__(self, cell: str, *args, **kwargs):
        if not isinstance(cell, str) or not cell.strip():
            raise TypeError("TrainedModels(cell): cell says which cell trains the models, e.g. 'the cell above'")
        super().__init__(*args, **kwargs)
        self.cell = cell

    def __missing__(self, key):
        done = ", ".join(map(repr, self)) or "none"
        raise NotTrainedError(
            f"{key!r} has not been trained yet (trained so far: {done}): run {self.cell} to the end first; an "
            "interrupted or skipped training leaves its models out."
        )

    def __repr__(self) -> str:
        return f"TrainedModels({self.cell!r}, {dict.__repr__(self)})"
