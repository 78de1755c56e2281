"""The segmentation lab's arrays: synthetic by default, the real Kromp et al. 2020 images on request,
or any folder of image/mask pairs.

All three give a :class:`SegmentationData`: ``X`` (N, 1, S, S) float32 in [0, 1] (percentile
normalised) and ``Y`` (N, 1, S, S) float32 in {0, 1}, the first ``n_train`` images for training and
the rest for testing (``.train`` and ``.test`` are (X, Y) pairs). Where a notebook makes a choice (a threshold,
a model, a number of steps), ``.split_validation()`` sets some of the training images apart to make it on,
so that the test images are looked at only once, for the final report.

* :func:`nuclei_dataset` ``("synthetic")``: 70 + 9 images from :func:`~course_utils.nuclei.make_nuclei`
  with a fixed seed: offline, identical on every machine.
* :func:`load_kromp`: Kromp et al. 2020, "An annotated fluorescence image dataset for training nuclear
  segmentation methods", Scientific Data 7:262: 79 images, downloaded once (checksum verified) and
  cached as ``.npz`` (read with ``allow_pickle=False``; a damaged cache file stops with a message that
  says to delete it, and is never deleted or overwritten by the course).
* :func:`load_folder`: your own data, PNG / TIFF / JPEG images with masks of the same name.

And, of another kind (real images of any size, with instance masks, to measure a model, never to train it):

* :func:`real_nuclei`: the 12 real crops that ship with the course in ``data/nuclei-real/`` (2018 Data Science
  Bowl and Kromp et al. 2020, CC0; checksums in :data:`~course_utils.download.SHIPPED`), offline.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .download import REMOTES, SHIPPED, Remote, cache_dir, fetch, shipped
from .files import atomic_path
from .images import IMAGE_SUFFIXES, normalize_percentile, read_image, to_gray
from .nuclei import make_nuclei

__all__ = [
    "SegmentationData",
    "nuclei_dataset",
    "load_kromp",
    "load_folder",
    "RealNuclei",
    "real_nuclei",
    "N_TRAIN",
    "N_TEST",
    "N_VALIDATION",
    "LAB_SIZE",
]

LAB_SIZE = 128
N_TRAIN, N_TEST = 70, 9  # the lab's split of the 79 Kromp images
N_VALIDATION = 10  # of the N_TRAIN training images, set apart for the choices of notebook 03
SYNTHETIC_SEED = 2020


@dataclass
class SegmentationData:
    """Images ``X`` (N, 1, S, S) in [0, 1], masks ``Y`` (N, 1, S, S) in {0, 1}, the first ``n_train``
    for training; ``names`` says where each image came from. ``labels`` (N, 1, S, S) int64, where the source
    knows them (the synthetic images): one number per nucleus, 0 for background, ``Y == (labels > 0)``; None
    where the masks are binary only (the lab's Kromp arrays, your folders)."""

    X: torch.Tensor
    Y: torch.Tensor
    n_train: int
    names: list[str]
    labels: torch.Tensor | None = None

    @property
    def train(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[: self.n_train], self.Y[: self.n_train]

    @property
    def test(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[self.n_train :], self.Y[self.n_train :]

    @property
    def test_labels(self) -> torch.Tensor | None:
        """The instance labels of the test images (n_test, 1, S, S), or None when the source has none."""
        return None if self.labels is None else self.labels[self.n_train :]

    def split_validation(
        self, n: int = N_VALIDATION, seed: int = 0
    ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """The training images split in two: ``(X_train, Y_train), (X_val, Y_val)``.

        The validation images are ``n`` of the ``n_train`` training images, a fixed random choice (``seed``;
        not simply the last ones, which in a real data set may all come from one session); the others, in
        their order, are for training. Make every choice (threshold, model, steps) on the validation images;
        ``.test`` stays for the final report. Shapes: (n_train - n, 1, S, S) and (n, 1, S, S).

        Raises:
            ValueError: ``n`` leaves no image for training or asks for none.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 < n < self.n_train:
            raise ValueError(
                f"split_validation(n): n is how many of the {self.n_train} training images to set apart for "
                f"validation, a whole number from 1 to {self.n_train - 1}; got {n!r}"
            )
        chosen = np.zeros(self.n_train, dtype=bool)
        chosen[np.random.default_rng(seed).permutation(self.n_train)[: int(n)]] = True
        keep, val = torch.from_numpy(np.flatnonzero(~chosen)), torch.from_numpy(np.flatnonzero(chosen))
        return (self.X[keep], self.Y[keep]), (self.X[val], self.Y[val])

    def __repr__(self) -> str:
        return (
            f"SegmentationData(X={tuple(self.X.shape)}, Y={tuple(self.Y.shape)}, train={self.n_train}, "
            f"test={len(self.X) - self.n_train}, foreground={self.Y.mean().item():.1%})"
        )


def nuclei_dataset(source: str = "synthetic", **kwargs) -> SegmentationData:
    """The lab's 79 images (70 train + 9 test) of 1x128x128: ``"synthetic"`` (offline default, with the
    instance labels of its nuclei) or ``"kromp"`` (the real images, downloaded once, binary masks only;
    ``kwargs`` go to :func:`load_kromp`)."""
    if source == "synthetic":
        X, Y, labels = make_nuclei(N_TRAIN + N_TEST, LAB_SIZE, generator=SYNTHETIC_SEED, labels=True)
        return SegmentationData(X, Y, N_TRAIN, [f"synthetic_{i:02d}" for i in range(len(X))], labels)
    if source == "kromp":
        return load_kromp(**kwargs)
    raise ValueError(f"source must be 'synthetic' or 'kromp', not {source!r}; for your own images use load_folder()")


def _prepare(image: np.ndarray, mask: np.ndarray, size: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Gray image and binary mask resized to size x size (area-averaged; mask thresholded at 1/2)."""
    from skimage.transform import resize

    image = to_gray(image, name).astype(np.float32)
    mask = to_gray(mask, name + " (mask)") > 0
    if image.shape != mask.shape:
        raise ValueError(
            f"{name}: image is {image.shape[0]}x{image.shape[1]} but its mask is "
            f"{mask.shape[0]}x{mask.shape[1]}; they must have the same size"
        )
    image = resize(image, (size, size), order=1, anti_aliasing=True, preserve_range=True)
    mask = resize(mask.astype(np.float32), (size, size), order=1, anti_aliasing=True) >= 0.5
    return normalize_percentile(image), mask.astype(np.float32)


def _split(names: list[str], n_test: int, seed: int = 0) -> list[int]:
    """Order with the training images first: a fixed random choice of ``n_test`` test images."""
    order = np.random.default_rng(seed).permutation(len(names))
    test = sorted(order[:n_test].tolist())
    return [i for i in range(len(names)) if i not in test] + test


def _kromp_pairs(zip_path: Path) -> list[tuple[str, str, str]]:
    with zipfile.ZipFile(zip_path) as z:
        members = [m for m in z.namelist() if m.lower().endswith((".tif", ".tiff"))]
    raw = {Path(m).stem: m for m in members if "rawimages/" in m}
    truth = {Path(m).stem: m for m in members if "groundtruth/" in m and "singlecell" not in m.lower()}
    stems = sorted(raw.keys() & truth.keys())
    if not stems:
        raise ValueError(f"{zip_path} has no rawimages/ and groundtruth/ TIFF pairs: it is not the Kromp archive")
    return [(s, raw[s], truth[s]) for s in stems]


def _read_cached(cached: Path, size: int) -> SegmentationData:
    """The arrays cached by :func:`load_kromp`, checked.

    Raises:
        ValueError: the file is damaged (cut short, not a .npz of plain arrays, arrays missing or of the wrong
            shapes), with where it is and what to do; the file is left as it is.
    """
    try:
        with np.load(cached, allow_pickle=False) as f:
            X, Y, names, n_train = f["X"], f["Y"], [str(s) for s in f["names"]], int(f["n_train"])
    except KeyError as e:
        problem = f"an array is missing: {e.args[0] if e.args else e}"
    except ValueError as e:  # NumPy's words here would suggest an unsafe setting: not repeated
        problem = "it holds Python objects, not only arrays" if "pickle" in str(e) else "it is not a .npz of arrays"
    except (OSError, EOFError, zipfile.BadZipFile):
        problem = "it is cut short or not a .npz file"
    except TypeError:  # names or n_train of the wrong form
        problem = "its arrays are not those load_kromp writes"
    else:
        expected = (len(X), 1, size, size)
        if X.shape != expected or Y.shape != expected or X.dtype.kind != "f" or Y.dtype.kind != "f":
            problem = f"X and Y must be float arrays of shape {expected}, found {X.shape} and {Y.shape}"
        elif len(names) != len(X) or not 0 < n_train <= len(X):
            problem = f"{len(names)} names and {n_train} training images for {len(X)} images"
        else:
            return SegmentationData(torch.from_numpy(X), torch.from_numpy(Y), n_train, names)
    raise ValueError(
        f"the cached arrays {cached} are damaged ({problem}). Delete that file and run again: it is rebuilt from "
        "the Kromp archive (downloaded again if it is not in the cache)."
    )


def load_kromp(
    size: int = LAB_SIZE, *, remote: Remote | str = "kromp2020", cache=None, n_test: int = N_TEST, progress: bool = True
) -> SegmentationData:
    """Kromp et al. 2020 (79 fluorescence images of nuclei with expert masks) as the lab's arrays.

    The archive is downloaded once (checksum verified, see :mod:`course_utils.download`), then the
    arrays are computed once and cached as ``kromp2020_<size>.npz``. Images: the stained channel,
    resized to ``size`` x ``size`` (anti-aliased), percentile normalised to [0, 1]; masks: any labelled
    nucleus is foreground. ``n_test`` images (a fixed random choice) come last.
    """
    remote = REMOTES[remote] if isinstance(remote, str) else remote
    folder = Path(cache) if cache is not None else cache_dir()
    cached = folder / f"{Path(remote.filename).stem}_{size}.npz"
    if cached.exists():
        return _read_cached(cached, size)
    archive = fetch(remote, cache=folder, progress=progress)
    pairs = _kromp_pairs(archive)
    images, masks = [], []
    with zipfile.ZipFile(archive) as z:
        for stem, raw, truth in pairs:
            x, y = _prepare(read_image(z.read(raw), raw), read_image(z.read(truth), truth), size, stem)
            images.append(x), masks.append(y)
    if not 0 <= n_test < len(pairs):
        raise ValueError(f"n_test must be between 0 and {len(pairs) - 1}, not {n_test}")
    order = _split([p[0] for p in pairs], n_test)
    X = np.stack(images)[order][:, None]
    Y = np.stack(masks)[order][:, None]
    names = [pairs[i][0] for i in order]
    with atomic_path(cached) as tmp, open(tmp, "wb") as f:  # a file object: numpy adds no suffix
        np.savez_compressed(f, X=X, Y=Y, names=np.array(names), n_train=len(X) - n_test)
    return SegmentationData(torch.from_numpy(X), torch.from_numpy(Y), len(X) - n_test, names)


def load_folder(images, masks, size: int | None = LAB_SIZE, *, test_fraction: float = 0.1) -> SegmentationData:
    """Your own image/mask pairs: every PNG / TIFF / JPEG in the folder ``images`` with a mask of the same
    file stem (any of these suffixes, optionally ending in ``_mask``) in the folder ``masks``.

    Images become gray (the channel with most signal), resized to ``size`` x ``size`` (``None``: keep the
    size; then all must have the same size) and percentile normalised; masks: nonzero is foreground.
    The last ``test_fraction`` of the pairs (in name order) is the test set.
    """
    images, masks = Path(images), Path(masks)
    for folder in (images, masks):
        if not folder.is_dir():
            raise FileNotFoundError(f"folder not found: {folder}")
    found = {p.stem: p for p in sorted(masks.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
    found.update({s.removesuffix("_mask"): p for s, p in list(found.items()) if s.endswith("_mask")})
    pictures = [p for p in sorted(images.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not pictures:
        raise ValueError(f"no PNG, TIFF or JPEG images in {images}")
    missing = [p.name for p in pictures if p.stem not in found]
    if missing:
        raise ValueError(
            f"{len(missing)} image(s) have no mask of the same name in {masks}: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
        )
    X, Y = [], []
    for p in pictures:
        img, msk = read_image(p), read_image(found[p.stem])
        if size is None:
            img, msk = normalize_percentile(to_gray(img, p.name).astype(np.float32)), (to_gray(msk, p.name) > 0)
            msk = msk.astype(np.float32)
        else:
            img, msk = _prepare(img, msk, size, p.name)
        X.append(img), Y.append(msk)
    if len({x.shape for x in X}) > 1:
        raise ValueError("the images have different sizes: pass size=... to resize them all")
    n_test = int(round(test_fraction * len(X)))
    return SegmentationData(
        torch.from_numpy(np.stack(X)[:, None]),
        torch.from_numpy(np.stack(Y)[:, None]),
        len(X) - n_test,
        [p.stem for p in pictures],
    )


@dataclass(frozen=True)
class RealNuclei:
    """One real fluorescence image with its instance mask, as stored: ``image`` uint8 (H, W) (raw, not
    normalised), ``labels`` uint16 (H, W) (0 background, 1..k one number per nucleus), ``source`` the set it comes
    from (``"dsb2018"`` or ``"kromp2020"``), ``name`` its file stem (``dsb_<ImageId start>_y<row>_x<col>`` or
    ``kromp_<n>_y<row>_x<col>``: the source image and the crop's top-left corner)."""

    name: str
    source: str
    image: np.ndarray
    labels: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """The binary mask (H, W), bool: ``labels > 0``."""
        return self.labels > 0


def real_nuclei(source: str | None = None) -> list[RealNuclei]:
    """The small real set that ships with the course (``data/nuclei-real/``, its README gives sources, licence
    and citations): 7 crops of 256x256 from the 2018 Data Science Bowl (Caicedo et al. 2019, Nature Methods
    16:1247; several labs and microscopes) and 5 of 512x512 from the neuroblastoma images of Kromp et al. 2020
    (Scientific Data 7:262), all CC0, with instance masks. Each file's SHA-256 is checked
    (:func:`~course_utils.download.shipped`). Real images are for measuring a model trained on synthetic ones
    (notebooks 02-03, ``tests/test_reference.py``), never for training it.

    Args:
        source: ``None`` for all 12, ``"dsb2018"`` or ``"kromp2020"`` for one set's.

    Returns:
        a list of :class:`RealNuclei` in name order; images of different sizes, so a list, not a batch:
        ``cu.segment_nuclei(r.image)`` takes each as it is.
    """
    sources = ("dsb2018", "kromp2020")
    if source is not None and source not in sources:
        raise ValueError(f"real_nuclei: source is one of {sources} or None (all), not {source!r}")
    out = []
    for key in sorted(k for k in SHIPPED["nuclei-real"] if k.startswith("images/")):
        name = Path(key).stem
        src = {"dsb": "dsb2018", "kromp": "kromp2020"}[name.split("_", 1)[0]]
        if source is not None and src != source:
            continue
        image = read_image(shipped("nuclei-real", key))
        labels = read_image(shipped("nuclei-real", "masks/" + key.removeprefix("images/")))
        out.append(RealNuclei(name, src, image, labels))
    return out
