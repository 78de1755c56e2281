"""Off-the-shelf models, notebook 00: a torchvision semantic-segmentation network with its pretrained weights,
applied to photographs before anything is trained.

* :func:`load_segmenter` builds the network and looks for its weights where torchvision itself keeps them,
  ``torch.hub.get_dir()/checkpoints/<the file name of the weights' URL>`` (``~/.cache/torch/hub/checkpoints``
  unless ``TORCH_HOME`` says otherwise). A file there is loaded with ``torch.load(weights_only=True)``. When it is
  not there, it is downloaded by torchvision (``torch.hub.load_state_dict_from_url`` with ``check_hash=True``: the
  8 hex digits in the file name are the start of its SHA-256) if the server answers within a few seconds. When
  neither works (offline, as on the course's CI), one line says what is missing, the exact file name and where to
  put it, and the same network is built with random weights, so that every later cell runs the same code: its
  labels then mean nothing, and :meth:`Segmenter.note_if_random` says in a line what the real weights would show.
  Nothing waits on the network for more than ``timeout`` seconds at a time, and nothing is downloaded silently.
* The steps of a prediction, each small enough to write yourself (the notebook's exercises): :func:`preprocess`
  (the weights' own transforms), :func:`segment_logits` (the network, its logits brought back to the photograph's
  size), :func:`labels_and_confidence` (per-pixel argmax and softmax maximum), :func:`largest_class`.
* :func:`model_sizes`: what each candidate network costs (parameters, file size, operations) and scores, read
  from its weights' metadata: the reason the notebook takes the light LR-ASPP.

A file in the cache is trusted as it is, as torchvision trusts it: torchvision checks the hash only while it
downloads. ``verify=True`` checks the cached file's SHA-256 against the prefix in its name as well (a stand-in file,
as the tests write, then fails it, and the message says so).

The networks: LR-ASPP (Howard et al. 2019, "Searching for MobileNetV3", ICCV), DeepLabV3 (Chen et al. 2017,
"Rethinking atrous convolution for semantic image segmentation"), FCN (Long, Shelhamer and Darrell 2015, "Fully
convolutional networks for semantic segmentation", CVPR). torchvision's weights were trained on the COCO images
that hold the 20 Pascal VOC categories (Everingham et al. 2010), which with the background make 21 classes.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "MODELS",
    "Segmenter",
    "load_segmenter",
    "weights_of",
    "weights_file",
    "model_sizes",
    "preprocess",
    "segment_logits",
    "labels_and_confidence",
    "largest_class",
    "class_areas",
    "BACKGROUND",
]

# name -> (builder in torchvision.models.segmentation, its weights enum); light first
MODELS = {
    "lraspp_mobilenet_v3_large": ("lraspp_mobilenet_v3_large", "LRASPP_MobileNet_V3_Large_Weights"),
    "deeplabv3_mobilenet_v3_large": ("deeplabv3_mobilenet_v3_large", "DeepLabV3_MobileNet_V3_Large_Weights"),
    "fcn_resnet50": ("fcn_resnet50", "FCN_ResNet50_Weights"),
}
BACKGROUND = "__background__"  # torchvision's name of class 0
HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")  # as torch.hub reads it: name-<sha256 prefix>.pth


def _check_name(name: str) -> None:
    if name not in MODELS:
        raise ValueError(f"unknown segmentation network {name!r}; this module knows: {', '.join(MODELS)}")


def weights_of(name: str = "lraspp_mobilenet_v3_large"):
    """The torchvision ``Weights`` enum member (``.DEFAULT``) of network ``name``: its URL, ``meta["categories"]``
    (the 21 class names) and ``transforms()``, all available without the file itself."""
    _check_name(name)
    from torchvision.models import segmentation

    return getattr(segmentation, MODELS[name][1]).DEFAULT


def weights_file(weights) -> Path:
    """Where torchvision keeps ``weights`` (a ``Weights`` member or its URL):
    ``torch.hub.get_dir()/checkpoints/<file name of the URL>``, e.g. ``.../lraspp_mobilenet_v3_large-d234d4ea.pth``.
    ``TORCH_HOME`` moves it (read at each call)."""
    url = weights if isinstance(weights, str) else weights.url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def model_sizes(names=tuple(MODELS)) -> list[dict]:
    """One row per network of ``names``, read from its weights' metadata: ``name``, ``parameters`` (millions),
    ``file MB`` (the weights file), ``GFLOPs`` (one 520-pixel image), ``mIoU`` and ``pixel accuracy`` (%, on COCO
    val2017 with the VOC classes, as torchvision reports them)."""
    rows = []
    for name in names:
        meta = weights_of(name).meta
        metrics = next(iter(meta["_metrics"].values()))
        rows.append(
            {
                "name": name,
                "parameters": meta["num_params"] / 1e6,
                "file MB": meta["_file_size"],
                "GFLOPs": meta["_ops"],
                "mIoU": metrics["miou"],
                "pixel accuracy": metrics["pixel_acc"],
            }
        )
    return rows


def _build(name: str) -> nn.Module:
    """The network with no weights at all (no backbone download either), shaped as the pretrained one."""
    from torchvision.models import segmentation

    builder = getattr(segmentation, MODELS[name][0])
    kwargs = dict(weights=None, weights_backbone=None, num_classes=len(weights_of(name).meta["categories"]))
    if name != "lraspp_mobilenet_v3_large":
        kwargs["aux_loss"] = True  # torchvision's pretrained FCN / DeepLabV3 files hold the auxiliary head too
    return builder(**kwargs)


def _random(name: str, seed: int) -> nn.Module:
    """The network with random weights drawn from ``seed``, leaving the global random state as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _build(name)


@dataclass
class Segmenter:
    """A segmentation network ready to use, and whether its weights are the pretrained ones.

    Attributes:
        name: the torchvision builder's name, e.g. ``"lraspp_mobilenet_v3_large"``.
        model: the network in eval mode; ``model(batch)["out"]`` gives logits (N, 21, h, w).
        weights: its torchvision ``Weights`` member (``meta["categories"]``, ``transforms()``, ``url``).
        pretrained: True when the pretrained weights were loaded; False for the random stand-in.
        source: ``"cache"``, ``"download"`` or ``"random"``.
        path: where the weights file is (or should be).
        message: the line :func:`load_segmenter` printed.
    """

    name: str
    model: nn.Module
    weights: object
    pretrained: bool
    source: str
    path: Path
    message: str

    @property
    def categories(self) -> list[str]:
        """The class names, index = class number; 0 is ``"__background__"``."""
        return list(self.weights.meta["categories"])

    def transforms(self, **kwargs):
        """The weights' own preprocessing, ``weights.transforms(**kwargs)`` (e.g. ``resize_size=256``)."""
        return self.weights.transforms(**kwargs)

    def note_if_random(self, what_real_weights_show: str) -> None:
        """With the random stand-in, print one line: what this cell would show with the pretrained weights.
        Prints nothing when they are loaded."""
        if not self.pretrained:
            print(
                "(random weights: the picture above means nothing) With the pretrained weights: "
                + what_real_weights_show
            )


def _sha256_prefix_ok(path: Path) -> bool | None:
    """Whether ``path``'s SHA-256 starts with the hex digits in its name; None when its name holds none."""
    found = HASH_IN_NAME.search(path.name)
    if not found:
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest().startswith(found.group(1))


def _reachable(url: str, timeout: float) -> str | None:
    """None when the host of ``url`` accepts a connection within ``timeout`` seconds; else why not, in words.
    The name look-up, which no socket timeout bounds, runs in a daemon thread given ``timeout`` seconds too."""
    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    outcome: list[str | None] = []

    def probe():
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as e:
            outcome.append(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if not outcome:
        return f"{parts.hostname} did not answer within {timeout:g} s"
    return outcome[0]


def _download(url: str, path: Path, timeout: float) -> dict:
    """torchvision's own download into ``path``'s folder, with its hash check; every wait on the socket bounded by
    ``timeout`` seconds (the default timeout of new sockets, restored afterwards)."""
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        return torch.hub.load_state_dict_from_url(
            url, model_dir=str(path.parent), map_location="cpu", progress=False, check_hash=True, weights_only=True
        )
    finally:
        socket.setdefaulttimeout(before)


def _offline(download: bool | None) -> bool:
    """``download=False``, or ``COURSE_OFFLINE`` set to yes (1, true, yes, on): never try the network."""
    if download is not None:
        return not download
    return os.environ.get("COURSE_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def load_segmenter(
    name: str = "lraspp_mobilenet_v3_large",
    *,
    download: bool | None = None,
    timeout: float = 5.0,
    url: str | None = None,
    verify: bool = False,
    seed: int = 0,
    device=None,
    verbose: bool = True,
) -> Segmenter:
    """The pretrained network ``name`` (a key of :data:`MODELS`), or its random stand-in when the weights cannot be
    had; never raises for a missing, damaged or undownloadable file, and prints one line saying which it is.

    Args:
        name: ``"lraspp_mobilenet_v3_large"`` (3.2 M parameters, a 12.5 MB file), ``"deeplabv3_mobilenet_v3_large"``
            or ``"fcn_resnet50"`` (35 M, 135 MB).
        download: True to try torchvision's download when the file is not in the cache, False never to; None
            (default) tries unless the environment variable ``COURSE_OFFLINE`` is set to yes.
        timeout: seconds the host may take to answer, and the longest wait for data during the download.
        url: where to download from instead of the weights' own URL (a mirror); its file name must be the same.
        verify: also check the SHA-256 prefix in the file name against a file found in the cache (torchvision
            checks it only when it downloads).
        seed: seeds the random stand-in (the same random network every run).
        device: where to put the network (default CPU).
        verbose: print the one line (it is in ``.message`` either way).

    Returns:
        a :class:`Segmenter`; ``.pretrained`` says whether the weights are the real ones.
    """
    _check_name(name)
    weights = weights_of(name)
    path = weights_file(weights)
    url = url or weights.url
    if os.path.basename(urlparse(url).path) != path.name:
        raise ValueError(f"load_segmenter: url must name the file {path.name}, not {os.path.basename(url)}")
    model = _random(name, seed)
    state, source, problem = None, "random", ""
    if path.is_file():
        try:
            if verify and _sha256_prefix_ok(path) is False:
                raise ValueError(
                    "its SHA-256 does not start with the digits in its name: it is not the published file "
                    "(a partial download, or a stand-in)"
                )
            state, source = torch.load(path, map_location="cpu", weights_only=True), "cache"
        except Exception as e:  # a damaged or foreign file: say so, never crash
            problem = (
                f"{path} is there but cannot be used ({type(e).__name__}: {e}); delete it and run again to download "
                f"it afresh, or put the right file there"
            )
    elif _offline(download):
        problem = f"{path.name} is not in {path.parent}, and downloads are off"
    else:
        # behind a proxy (HTTPS_PROXY...) only urllib, which torch.hub uses, knows the way: no direct probe then
        why = None if urllib.request.getproxies() else _reachable(url, timeout)
        if why is None:
            try:
                state, source = _download(url, path, timeout), "download"
            except Exception as e:  # no network after all, a stalled server, a wrong hash
                why = f"{type(e).__name__}: {e}"
        if why is not None:
            problem = f"{path.name} is not in {path.parent} and could not be downloaded ({why})"
    if state is not None:
        try:
            model.load_state_dict(state)
        except Exception as e:  # the file holds another network's weights
            state, source = None, "random"
            problem = f"{path} does not hold the weights of {name} ({str(e).splitlines()[0]}); delete it"
    if state is None:
        model = _random(name, seed)  # the same architecture, random weights (the same ones for a given seed)
        message = (
            f"No pretrained weights here: {problem}. In Colab they download by themselves; offline, download "
            f"{weights.url} on a computer that has internet and put the file in {path.parent}. Until then the "
            f"cells run the same code on a RANDOMLY INITIALISED {name}, whose labels mean nothing."
        )
    else:
        how = "loaded from" if source == "cache" else "downloaded by torchvision to"
        message = (
            f"✅ pretrained weights of {name} {how} {path} "
            f"({path.stat().st_size / 1e6:.1f} MB; classes: {len(weights.meta['categories'])})"
        )
    if verbose:
        print(message)
    model = model.eval().to(device if device is not None else "cpu")
    return Segmenter(name, model, weights, state is not None, source, path, message)


# ---------------------------------------------------------------- the steps of a prediction
def preprocess(image, transform) -> torch.Tensor:
    """A photograph as the network wants it: a batch of one, (1, 3, h, w) float, resized and normalised by
    ``transform`` (the weights' ``transforms()``: shorter side to 520 pixels, values scaled to [0, 1], then
    ImageNet's mean subtracted and divided by its standard deviation, channel by channel).

    Args:
        image: (H, W, 3) RGB as scikit-image and image files give it, uint8 in 0..255 (or float in [0, 1]);
            a gray (H, W) image is repeated on the three channels, an alpha channel (H, W, 4) dropped.
        transform: the weights' ``transforms()``, e.g. ``weights.transforms()``.
    """
    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"preprocess: expected an (H, W, 3) RGB image (channels last), got shape {a.shape}")
    x = torch.from_numpy(np.ascontiguousarray(a[..., :3])).permute(2, 0, 1)  # (3, H, W), as torchvision wants it
    return transform(x).unsqueeze(0)


@torch.no_grad()
def segment_logits(model: nn.Module, batch: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """The network's class logits (N, C, h, w) for a preprocessed ``batch`` (N, 3, h, w), in eval mode without
    gradients; with ``size = (H, W)`` resized bilinearly to it (the photograph's size), so that each pixel of
    the photograph gets its logits. Takes torchvision's models, which return ``{"out": logits, ...}``, and plain
    ones that return the logits."""
    model.eval()
    device = next(model.parameters()).device
    out = model(batch.to(device))
    logits = out["out"] if isinstance(out, dict) else out
    if size is not None and tuple(logits.shape[-2:]) != tuple(size):
        logits = F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=False)
    return logits.cpu()


def labels_and_confidence(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel class and confidence of the logits of one image, (1, C, H, W) or (C, H, W):
    ``labels`` (H, W) int64, the argmax over the C classes; ``confidence`` (H, W) float, the largest softmax
    probability, between 1/C (no preference) and 1 (certain)."""
    if logits.ndim == 4:
        if logits.shape[0] != 1:
            raise ValueError(f"labels_and_confidence: one image at a time, got a batch of {logits.shape[0]}")
        logits = logits[0]
    if logits.ndim != 3:
        raise ValueError(f"labels_and_confidence: expected logits (1, C, H, W) or (C, H, W), got {tuple(logits.shape)}")
    confidence, labels = logits.float().softmax(dim=0).max(dim=0)
    return labels, confidence


def class_areas(labels, categories) -> dict[str, float]:
    """The fraction of the pixels of ``labels`` (H, W) given to each class present, largest first:
    ``{"person": 0.41, "__background__": 0.57, ...}``."""
    labels = torch.as_tensor(labels)
    counts = torch.bincount(labels.flatten().long(), minlength=len(categories))
    order = counts.argsort(descending=True)
    return {categories[i]: counts[i].item() / labels.numel() for i in order.tolist() if counts[i] > 0}


def largest_class(labels, categories) -> tuple[str, float]:
    """The class that covers the most pixels of ``labels`` (H, W), the background (class 0) left out, and the
    fraction of the image it covers; ``("__background__", 1.0)`` when every pixel is background. A tie goes to
    the lower class number."""
    labels = torch.as_tensor(labels)
    counts = torch.bincount(labels.flatten().long(), minlength=len(categories))
    counts[0] = 0
    if counts.sum() == 0:
        return categories[0], 1.0
    best = int(counts.argmax())
    return categories[best], counts[best].item() / labels.numel()
