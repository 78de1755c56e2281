"""Natural images: the photographs shipped inside scikit-image (offline), BSDS300, or any folder, as
float tensors; noisy/clean pairs of crops for denoising.

A fixed three-way split keeps the test images out of every decision (the lecture's rule: train on the training
set, choose steps, learning rates and models on the validation set, report the chosen model once on the test set):
``TRAIN_IMAGES`` are natural photographs and textures of the scikit-image wheel (no download needed);
``VAL_IMAGES`` a photograph held out of training and test (the left view of ``stereo_motorcycle``), cut into
tiles by :func:`tiles` for a validation set of several images; ``TEST_IMAGES`` (camera, astronaut, coffee,
chelsea) are standard test pictures. Images are (C, H, W) float tensors in [0, 1], grayscale
(C = 1, ITU-R 601 luma) by default. Gaussian noise is given, as in the literature, by its standard
deviation on the 0-255 scale (sigma = 25 means 25/255 on [0, 1] images).

``natural_images(source, split)`` picks the source: ``"skimage"`` (default, offline), ``"bsds300"`` (Martin
et al. 2001, "A database of human segmented natural images...", ICCV: 200 train / 100 test JPEGs,
downloaded once and checksum-verified by :mod:`course_utils.download`; its ``"val"`` split is every tenth of the
200 training photographs, held out of its ``"train"`` split: see :func:`split_every`) or a folder of images.
:class:`NoisyCrops` turns them into (noisy, clean) pairs: random crops with fresh noise for training,
fixed centre crops with fixed noise for testing; :func:`noisy_pair` makes one batch's (input, target) with a clean
or a noisy (noise2noise) target.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tarfile
import tempfile
import warnings
from pathlib import Path

import torch

from .images import IMAGE_SUFFIXES, read_image, to_tensor

__all__ = [
    "TRAIN_IMAGES",
    "VAL_IMAGES",
    "TEST_IMAGES",
    "SPLITS",
    "skimage_images",
    "split_every",
    "tiles",
    "folder_images",
    "load_bsds300",
    "natural_images",
    "random_crops",
    "centre_crops",
    "add_gaussian_noise",
    "noisy_pair",
    "NoisyCrops",
]

TEST_IMAGES = ("camera", "astronaut", "coffee", "chelsea")
VAL_IMAGES = ("stereo_motorcycle",)  # its left view (500x741, colour); in no other split, nor in TEST_IMAGES
SPLITS = ("train", "val", "test")
BSDS300_VAL_EVERY = 10  # natural_images("bsds300", "val"): every 10th training photograph (20 of 200)
TRAIN_IMAGES = (
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "moon",
    "coins",
    "clock",
    "brick",
    "grass",
    "gravel",
    "cell",
)


@functools.lru_cache(maxsize=64)
def _load(name: str, gray: bool) -> torch.Tensor:
    from skimage import data

    try:
        img = getattr(data, name)()
    except AttributeError:
        raise ValueError(f"scikit-image has no image {name!r}") from None
    if name == "stereo_motorcycle":
        img = img[0]  # (left view, right view, disparity): the left view
    return to_tensor(img, gray, name)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(map(repr, SPLITS))}, not {split!r}")


def skimage_images(split: str = "train", gray: bool = True) -> list[torch.Tensor]:
    """The ``split`` ("train", "val" or "test") images as a list of (C, H, W) tensors in [0, 1]: the photographs
    of ``TRAIN_IMAGES``, ``VAL_IMAGES`` or ``TEST_IMAGES``, whole (cut the validation photograph into several
    images with :func:`tiles`)."""
    _check_split(split)
    names = {"train": TRAIN_IMAGES, "val": VAL_IMAGES, "test": TEST_IMAGES}[split]
    return [_load(n, gray) for n in names]


def split_every(images, every: int, part: str):
    """A fixed hold-out split of a list: ``part="val"`` gives every ``every``-th item (indices every - 1,
    2 every - 1, ...), ``part="train"`` the others, in their order. E.g. ``every=10`` holds out 20 of 200."""
    if every < 2:
        raise ValueError(f"every must be >= 2 (every={every} would leave nothing to train on)")
    if part not in ("train", "val"):
        raise ValueError(f"part must be 'train' or 'val', not {part!r}")
    held_out = part == "val"
    return [im for i, im in enumerate(images) if ((i + 1) % every == 0) == held_out]


def tiles(images, size: int) -> list[torch.Tensor]:
    """Every non-overlapping (C, size, size) tile of each (C, H, W) image, row by row from the top left
    (the right and bottom remainders are dropped): a fixed set of several images from a few large
    photographs, e.g. ``tiles(skimage_images("val"), 240)`` gives 6 tiles of the 500x741 validation photograph."""
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    out = []
    for im in images:
        h, w = im.shape[-2:]
        out += [
            im[:, i : i + size, j : j + size]
            for i in range(0, h - size + 1, size)
            for j in range(0, w - size + 1, size)
        ]
    if not out:
        raise ValueError(f"no image is at least {size}x{size} pixels: use a smaller tile size")
    return out


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
        crop = im[:, top : top + size, left : left + size]
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
        out.append(im[:, (h - size) // 2 : (h - size) // 2 + size, (w - size) // 2 : (w - size) // 2 + size])
    return torch.stack(out)


def add_gaussian_noise(clean: torch.Tensor, sigma: float, *, generator=None) -> torch.Tensor:
    """``clean`` plus fresh white Gaussian noise of standard deviation ``sigma``/255 (no clipping)."""
    if sigma < 0:
        raise ValueError(f"sigma is a standard deviation on the 0-255 scale, >= 0; got {sigma}")
    noise = torch.randn(clean.shape, generator=generator, device=clean.device, dtype=clean.dtype)
    return clean + noise * (sigma / 255.0)


def noisy_pair(crops: torch.Tensor, sigma: float, noisy_targets: bool = False, *, generator=None):
    """A training pair (input, target) for Gaussian denoising from clean ``crops`` (N, C, h, w) in [0, 1].

    The input is the crops plus white Gaussian noise of standard deviation ``sigma`` / 255
    (:func:`add_gaussian_noise`); the target is the clean crops (supervised), or with ``noisy_targets`` the
    crops plus a second, independent draw of the same noise (noise2noise: Lehtinen et al. 2018, "Noise2Noise:
    Learning Image Restoration without Clean Data", ICML). The target's noise is drawn first, then the input's.
    """
    target = add_gaussian_noise(crops, sigma, generator=generator) if noisy_targets else crops
    return add_gaussian_noise(crops, sigma, generator=generator), target


def folder_images(folder, gray: bool = True) -> list[torch.Tensor]:
    """Every JPEG / PNG / TIFF / BMP image of ``folder`` (sorted by name) as (C, H, W) tensors in [0, 1]."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder not found: {folder}")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"no JPEG, PNG, TIFF or BMP image in {folder}")
    return [to_tensor(read_image(p), gray, str(p)) for p in paths]


def _safe_extract(archive: Path, dest: Path) -> None:
    """Extract a tar archive into ``dest``: regular files and folders only, all inside ``dest`` (anything else is
    refused before a byte is written), without setuid, setgid or sticky bits and without group/other write
    permission (tarfile's ``"data"`` filter; the same by hand on Pythons that lack it)."""
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for m in members:
            target = (dest / m.name).resolve()
            if not (m.isfile() or m.isdir()) or not str(target).startswith(str(dest.resolve()) + os.sep):
                raise ValueError(f"{archive}: unsafe member {m.name!r}; the archive is not BSDS300")
        if hasattr(tarfile, "data_filter"):  # Python 3.12, and 3.8.17 / 3.9.17 / 3.10.12 / 3.11.4 onwards
            try:
                tar.extractall(dest, members=members, filter="data")
            except tarfile.FilterError as e:
                raise ValueError(f"{archive}: unsafe member ({e}); the archive is not BSDS300") from None
        else:
            for m in members:
                m.mode = (m.mode & 0o755) | (0o700 if m.isdir() else 0o600)
                m.uname = m.gname = ""  # owned by whoever unpacks it, also when that is root
                m.uid, m.gid = getattr(os, "geteuid", lambda: 0)(), getattr(os, "getegid", lambda: 0)()
            tar.extractall(dest, members=members)


UNPACKED = ".course-unpacked.json"  # in BSDS300/: every file the course unpacked there, with its size
BSDS300_COUNTS = {"train": 200, "test": 100}  # images of the published archive


def _listing(root: Path) -> dict[str, int]:
    """Every file under ``root`` (but the record of the unpacking): relative path -> size in bytes."""
    return {
        p.relative_to(root).as_posix(): p.stat().st_size
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != UNPACKED
    }


def _archive_listing(archive: Path) -> dict[str, int] | None:
    """The files of a BSDS300 archive, relative to the folder holding ``images/``, with their sizes."""
    with tarfile.open(archive) as tar:
        files = [m for m in tar.getmembers() if m.isfile()]
    prefixes = {m.name.split("images/train/")[0] for m in files if "images/train/" in m.name}
    if len(prefixes) != 1:
        return None
    prefix = prefixes.pop()
    return {m.name[len(prefix) :]: m.size for m in files if m.name.startswith(prefix)}


def _write_record(root: Path, files: dict[str, int]) -> None:
    """The record of an unpacked folder (``UNPACKED``): every file with its size."""
    (root / UNPACKED).write_text(json.dumps({"files": files}, indent=1, sort_keys=True), encoding="utf-8")


def _not_there(root: Path, expected: dict[str, int]) -> list[str]:
    """The files of ``expected`` missing under ``root`` or of another size (cut short)."""
    return [rel for rel, size in expected.items() if not (root / rel).is_file() or (root / rel).stat().st_size != size]


def _incomplete(root: Path, archive: Path, remote) -> list[str]:
    """What is missing in the unpacked folder ``root`` (empty: nothing). Checked against the record the course
    wrote when it unpacked the folder; for a folder unpacked otherwise (by hand, by an earlier version), against
    the archive when it is in the cache (and the record is then written), else by the published counts of
    images (for the published archive only; another archive's folder cannot be checked without it)."""
    from .download import REMOTES, sha256sum

    if not all((root / "images" / split).is_dir() for split in BSDS300_COUNTS):
        return [f"images/{split}/" for split in BSDS300_COUNTS if not (root / "images" / split).is_dir()]
    record = root / UNPACKED
    if record.is_file():
        try:
            expected = json.loads(record.read_text(encoding="utf-8"))["files"]
            expected = {str(k): int(v) for k, v in expected.items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return [f"{UNPACKED} (damaged)"]
        return _not_there(root, expected)
    if archive.is_file() and sha256sum(archive) == remote.sha256.lower():
        expected = _archive_listing(archive)
        if expected is not None:
            missing = _not_there(root, expected)
            if not missing:
                try:
                    _write_record(root, expected)
                except OSError:  # a read-only folder: it is checked against the archive each time
                    pass
            return missing
    if remote.sha256.lower() == REMOTES["bsds300"].sha256:
        found = {split: len(list((root / "images" / split).glob("*.jpg"))) for split in BSDS300_COUNTS}
        return [f"images/{s}/ ({found[s]} of {n} images)" for s, n in BSDS300_COUNTS.items() if found[s] != n]
    return []


def _unpack(archive: Path, root: Path, missing: list[str]) -> None:
    """Unpack ``archive`` into a temporary folder beside ``root``, record its files, and rename it into place.
    An incomplete ``root`` (``missing`` says what it lacks) is set aside first and then deleted, unless it holds
    files that are not in the archive: those are kept, and a warning says where."""
    folder = root.parent
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix="BSDS300.", suffix=".part"))
    try:
        _safe_extract(archive, tmp)
        found = next((p.parent for p in tmp.rglob("images") if (p / "train").is_dir()), None)
        if found is None:
            raise ValueError(f"{archive} has no images/train folder: it is not the BSDS300 archive")
        listing = _listing(found)
        _write_record(found, listing)
        if not (root.exists() or root.is_symlink()):
            os.replace(found, root)
            return
        aside = Path(tempfile.mkdtemp(dir=folder, prefix="BSDS300.", suffix=".incomplete"))
        os.replace(root, aside / root.name)
        os.replace(found, root)
        yours = [rel for rel in _listing(aside / root.name) if rel not in listing]
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        message = (
            f"the BSDS300 folder {root} was incomplete ({len(missing)} missing or cut short: {shown}), probably "
            f"from an interrupted unpacking; it was unpacked again from the verified archive {archive}."
        )
        if yours:
            message += (
                f" The incomplete folder held {len(yours)} file(s) that are not in the archive "
                f"({', '.join(yours[:3])}): they are kept in {aside / root.name}; move what you need, then delete it."
            )
        else:
            shutil.rmtree(aside)
        warnings.warn(message, stacklevel=3)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_bsds300(
    split: str = "train", gray: bool = True, *, remote="bsds300", cache=None, progress: bool = True
) -> list[torch.Tensor]:
    """The BSDS300 ``split`` ("train": 200 images, "test": 100) as (C, H, W) tensors in [0, 1].

    The archive is downloaded once (SHA-256 checked), then unpacked once into ``BSDS300/`` of the cache
    (into a temporary folder first, renamed when complete: an interrupted unpacking leaves nothing half-done).
    A ``BSDS300/`` folder with files missing or cut short (unpacked by hand, or by an earlier version, and
    interrupted) is found and unpacked again from the verified archive (see :func:`_incomplete`); files of
    yours in it are never deleted."""
    from .download import REMOTES, DownloadError, cache_dir, fetch

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    remote = REMOTES[remote] if isinstance(remote, str) else remote
    folder = Path(cache) if cache is not None else cache_dir()
    root = folder / "BSDS300"
    missing = _incomplete(root, folder / remote.filename, remote) if root.is_dir() else None
    if missing is None or missing:
        try:
            archive = fetch(remote, cache=folder, progress=progress)
        except DownloadError as e:
            if not missing:
                raise
            raise DownloadError(
                f"the BSDS300 folder {root} is incomplete ({', '.join(missing[:3])}), and the archive to unpack it "
                f"again is not here: {e}"
            ) from None
        _unpack(archive, root, missing or [])
    return folder_images(root / "images" / split, gray)


def natural_images(source: str = "skimage", split: str = "train", gray: bool = True) -> list[torch.Tensor]:
    """Clean natural images as (C, H, W) tensors in [0, 1]: ``source`` is "skimage" (offline, fixed
    split), "bsds300" (downloaded once) or a folder (``split`` is then ignored: all its images).

    ``split`` is "train", "val" or "test". For BSDS300, whose archive has a train and a test folder, "val" is
    every tenth photograph of its training folder (20 of 200, sorted by name) and "train" the other 180
    (:func:`split_every`); ``load_bsds300("train")`` gives all 200."""
    if source == "skimage":
        return skimage_images(split, gray)
    if source == "bsds300":
        _check_split(split)
        if split == "test":
            return load_bsds300("test", gray)
        return split_every(load_bsds300("train", gray), BSDS300_VAL_EVERY, split)
    if Path(source).is_dir():
        return folder_images(source, gray)
    raise ValueError(f"source must be 'skimage', 'bsds300' or an existing folder, not {source!r}")


class NoisyCrops(torch.utils.data.Dataset):
    """(noisy, clean) pairs of (C, size, size) crops of ``images`` with Gaussian noise of ``sigma`` (0-255 scale).

    ``train=True``: ``length`` items, each a random crop (random flip) with fresh noise at every access,
    as in the DnCNN assignment (180x180 crops, sigma 30). ``train=False``: the centre crop of each image
    with noise fixed by ``seed``, the same at every access (a fixed test set; 320x320 in the original).
    """

    def __init__(self, images, size: int, sigma: float, *, train: bool = True, length: int = 1000, seed: int = 0):
        self.images, self.size, self.sigma, self.train, self.seed = list(images), size, sigma, train, seed
        self.clean = None if train else centre_crops(self.images, size)
        self.length = length if train else len(self.clean)
        if train:
            random_crops(self.images, 1, size)  # fail now, clearly, if no image is large enough

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= i < self.length:
            raise IndexError(i)
        if self.train:
            clean = random_crops(self.images, 1, self.size)[0]
            return add_gaussian_noise(clean, self.sigma), clean
        g = torch.Generator().manual_seed(self.seed * 100003 + i)
        return add_gaussian_noise(self.clean[i], self.sigma, generator=g), self.clean[i]
