"""Cut the course's small real nuclei set, data/nuclei-real/, from the two CC0 validation sets.

    python scripts/make_real_nuclei_set.py [--source ../shared/data/nuclei-real] [--out data/nuclei-real]

12 crops with their instance masks: 7 of 256x256 from the 2018 Data Science Bowl images (several labs and
microscopes, chosen to show each way the reference model succeeds or fails: halo, crowding, large nuclei, noise,
a Drosophila embryo) and 5 of 512x512 from the Kromp et al. 2020 neuroblastoma renders (images 9 and 12-15; 12-17
are Kromp's own test split). Each window is the one holding the most whole nuclei (a 1/8-size grid of positions;
ties: the first). Files are named dsb_<ImageId start>_y<row>_x<col>.tif and kromp_<n>_y<row>_x<col>.tif. Images
stay uint8, masks uint16 labels renumbered 1..k, both zlib-compressed TIFF. Prints the SHA-256 of every file, for
course_utils.download.SHIPPED.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import tifffile

from course_utils.download import sha256sum

ROOT = Path(__file__).resolve().parent.parent
CROPS = [  # (set, image, crop size)
    ("dsb2018", "dsb_256x256_98c5ead89c", 256),
    ("dsb2018", "dsb_256x256_f81ca7ee25", 256),
    ("dsb2018", "dsb_260x347_9bb6e39d5f", 256),
    ("dsb2018", "dsb_360x360_3a22fe593d", 256),
    ("dsb2018", "dsb_520x696_351771edfc", 256),
    ("dsb2018", "dsb_512x640_724b6b7044", 256),
    ("dsb2018", "dsb_603x1272_a102535b0e", 256),
    ("kromp2020", "Neuroblastoma_12", 512),
    ("kromp2020", "Neuroblastoma_13", 512),
    ("kromp2020", "Neuroblastoma_14", 512),
    ("kromp2020", "Neuroblastoma_15", 512),
    ("kromp2020", "Neuroblastoma_9", 512),
]


def best_window(labels: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left corner of the size x size window holding the most whole nuclei."""
    h, w = labels.shape
    step = max(size // 8, 1)
    best, at = -1, (0, 0)
    for y in sorted(set(range(0, h - size + 1, step)) | {h - size}):
        for x in sorted(set(range(0, w - size + 1, step)) | {w - size}):
            win = labels[y : y + size, x : x + size]
            edge = np.unique(np.concatenate([win[0], win[-1], win[:, 0], win[:, -1]]))
            whole = len(np.setdiff1d(np.unique(win), np.concatenate([edge, [0]])))
            if whole > best:
                best, at = whole, (y, x)
    return at


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data" / "nuclei-real")
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "nuclei-real")
    args = ap.parse_args()
    for sub in ("images", "masks"):
        (args.out / sub).mkdir(parents=True, exist_ok=True)
    for folder, stem, size in CROPS:
        image = tifffile.imread(args.source / folder / "images" / f"{stem}.tif")
        labels = tifffile.imread(args.source / folder / "masks" / f"{stem}.tif")
        y, x = best_window(labels, size)
        image, labels = image[y : y + size, x : x + size], labels[y : y + size, x : x + size]
        _, labels = np.unique(labels, return_inverse=True)  # 0 stays 0 (the smallest value), nuclei 1..k
        labels = labels.reshape(size, size).astype(np.uint16)
        short = ("dsb_" if folder == "dsb2018" else "kromp_") + stem.rsplit("_", 1)[-1]
        name = f"{short}_y{y}_x{x}.tif"
        tifffile.imwrite(args.out / "images" / name, image, compression="zlib")
        tifffile.imwrite(args.out / "masks" / name, labels, compression="zlib")
        print(f"{name}: {labels.max()} nuclei, foreground {np.mean(labels > 0):.1%}")
    for path in sorted(args.out.rglob("*.tif")):
        print(f'        "{path.relative_to(args.out).as_posix()}": "{sha256sum(path)}",')


if __name__ == "__main__":
    main()
