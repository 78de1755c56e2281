"""Nuclei segmentation scored (prints numbers): the reference model and each notebook's CPU-budget training.

    python benchmarks/bench_segmentation.py [--budget cpu|full|fast] [--seeds 1] [--kromp] [--notebooks]
    python benchmarks/bench_segmentation.py --real ../shared/data/nuclei-real/dsb2018 [--real DIR ...]

IoU and Dice (pooled) on the 256 held-out synthetic images (course_utils.nuclei.held_out_nuclei) for:
Otsu's threshold (no learning), the reference checkpoint data/checkpoints/unet_nuclei.pt, and the models
the notebooks train at the chosen budget on the lab's 70 synthetic images: SimpleUNet(4) (notebook 02),
SimpleUNet(16/32) (notebook 03, on the 60 left once its validation images are set apart), UNet(1, 1, 8)
without and with augmentation (notebook 04), the last two also on the held-out images as notebook 04's
"second microscope" records them (flatter and noisier).
--kromp also scores Otsu and the reference model on the 79 real images of Kromp et al. 2020 (downloads
them once). --notebooks also times each solution notebook 02-04 executed top to bottom at the CPU budget.
--real DIR (repeatable) scores, instead of all the above, the default call ``cu.segment_nuclei(image)`` (nuclei's
size estimated, ``diameter="auto"``), the image as it is (``diameter=None``, the default before issue #23) and
Otsu's threshold (--checkpoint PATH: another model than the reference) on every image of DIR/images (any size;
instance masks of the same name in DIR/masks, 0 background): per image and mean, the pixel IoU and the object-level
F1 (predicted nuclei split by ``segment_nuclei(..., instances=True)``, matched to the true ones at IoU >= 0.5,
course_utils.metrics.object_scores), then the time of one 1024x1024 image through the default call (issue #23's
targets: mean IoU >= 0.85 and >= Otsu + 0.08 on each real set; under 3 s). --targets 16,20,24 (with --real) prints
the mean IoU of the default call with each value of ``segmentation.TARGET_DIAMETER``, the size nuclei are shrunk to:
how that value was chosen, on these validation sets.
Targets (issue #3): reference IoU >= 0.95 on synthetic data; each notebook <= 5 minutes at the CPU budget
on a 2-core machine; on real images IoU >= 0.85 (Otsu: about 0.73).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn as nn
from skimage.filters import threshold_otsu
from torchvision.transforms.v2 import functional as TF

import course_utils as cu
from course_utils.augment import PairAugment, augmented_batches
from course_utils.device import configure_threads
from course_utils.metrics import segmentation_scores
from course_utils.nuclei import held_out_nuclei
from course_utils.nuclei_data import nuclei_dataset
from course_utils.segmentation import load_reference_nuclei_model

ROOT = Path(__file__).resolve().parent.parent


def otsu_logits(X: torch.Tensor) -> torch.Tensor:
    return torch.stack([torch.from_numpy(x[0].numpy() > threshold_otsu(x[0].numpy()))[None] for x in X]).float() * 2 - 1


def second_microscope(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Notebook 04's second microscope: contrast x0.7, gamma 0.7, Gaussian noise of std 0.03, in [0, 1]."""
    flat = TF.adjust_gamma(TF.adjust_contrast(images, 0.7), 0.7)
    return (flat + 0.03 * torch.randn(images.shape, generator=torch.Generator().manual_seed(seed))).clamp(0, 1)


def train(net, X, Y, size, augment, seed, device):
    cu.seed_everything(seed)
    cu.fit(
        net,
        augmented_batches(X, Y, size["batch_size"], augment=augment, crop=size["crop"]),
        nn.BCEWithLogitsLoss(),
        torch.optim.Adam(net.parameters(), lr=3e-3),
        steps=size["steps"],
        device=device,
        progress=False,
    )
    return net


def line(name: str, cards: list[dict], secs: float | None = None) -> None:
    iou = [c["IoU"] for c in cards]
    dice = [c["Dice"] for c in cards]
    spread = f" ± {statistics.stdev(iou):.3f}" if len(iou) > 1 else ""
    t = f"{secs:7.1f} s" if secs is not None else ""
    print(
        f"{name:34s} IoU {statistics.mean(iou):.3f}{spread:8s} Dice {statistics.mean(dice):.3f}  "
        f"precision {statistics.mean(c['precision'] for c in cards):.3f} recall "
        f"{statistics.mean(c['recall'] for c in cards):.3f} {t}",
        flush=True,
    )


def _real_images(folder: Path):
    """(name, normalised image, instance labels) of every image of a folder of real images with instance masks
    (``images/NAME``, ``masks/NAME``)."""
    import numpy as np

    from course_utils.images import IMAGE_SUFFIXES, normalize_percentile, read_image, to_gray

    files = sorted(p for p in (folder / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SystemExit(f"--real {folder}: no images in {folder / 'images'}")
    for f in files:
        gt = to_gray(read_image(folder / "masks" / f.name), f.name).astype(np.int64)
        yield f.stem, normalize_percentile(to_gray(read_image(f), f.name).astype(np.float32)), gt


def real_table(folder: Path, reference: nn.Module) -> dict[str, dict[str, float]]:
    """Per-image and mean pixel IoU / object F1 of Otsu, the default call and ``diameter=None`` on a folder of
    real images with instance masks (``images/NAME``, ``masks/NAME``); returns the means by method."""
    from course_utils.metrics import iou, object_scores
    from course_utils.segmentation import segment_nuclei, split_nuclei

    methods = {
        "Otsu": lambda img: split_nuclei(img > threshold_otsu(img), min_fraction=0.05),  # as instances=True
        "default": lambda img: segment_nuclei(img, reference, instances=True),
        "diameter=None": lambda img: segment_nuclei(img, reference, diameter=None, instances=True),
    }
    images = list(_real_images(folder))
    print(f"\n{folder}: {len(images)} real images; pixel IoU / object F1 at IoU 0.5 (nuclei true -> found)")
    print(f"{'image':34s} {'size':>10s} " + " ".join(f"{m:>19s}" for m in methods))
    rows = {m: [] for m in methods}
    for name, img, gt in images:
        cells = []
        for m, run in methods.items():
            labels = run(img)
            iou_ = iou(labels > 0, gt > 0).item()
            obj = object_scores(labels, gt)
            rows[m].append((iou_, obj["F1"]))
            cells.append(f"{iou_:.3f} / {obj['F1']:.3f} {obj['true']:>3d}>{obj['matched']:<3d}")
        print(f"{name[:34]:34s} {'x'.join(map(str, gt.shape)):>10s} " + " ".join(f"{c:>19s}" for c in cells))
    means = {}
    for stat, fn in (("mean", statistics.mean), ("median", statistics.median)):
        cells = [f"{fn(r[0] for r in rows[m]):.3f} / {fn(r[1] for r in rows[m]):.3f}" for m in methods]
        print(f"{stat:45s} " + " ".join(f"{c:>19s}" for c in cells))
    for m in methods:
        means[m] = {"IoU": statistics.mean(r[0] for r in rows[m]), "F1": statistics.mean(r[1] for r in rows[m])}
    gap = means["default"]["IoU"] - means["Otsu"]["IoU"]
    print(f"default call - Otsu: {gap:+.3f} mean IoU (target: >= +0.08, and mean IoU >= 0.85)", flush=True)
    return means


def target_sweep(folders: list[Path], reference: nn.Module, targets: list[float]) -> None:
    """Mean pixel IoU of the default call on each folder with each value of ``segmentation.TARGET_DIAMETER`` (the
    size nuclei are shrunk to), passed to the pipeline of ``segment_nuclei`` in place of the constant."""
    import numpy as np

    from course_utils import segmentation
    from course_utils.metrics import iou

    sets = {folder.name: list(_real_images(folder)) for folder in folders}
    print(f"\nmean pixel IoU of the default call by TARGET_DIAMETER (now {segmentation.TARGET_DIAMETER:g} px)")
    print(f"{'TARGET_DIAMETER':>15s} " + " ".join(f"{name:>12s}" for name in sets))
    for t in targets:
        means = []
        for images in sets.values():
            masks = [
                segmentation._segment(img, reference, 0.5, True, "auto", None, None, target=t) for _, img, _ in images
            ]
            means.append(np.mean([iou(m, gt > 0).item() for m, (_, _, gt) in zip(masks, images)]))
        print(f"{t:15g} " + " ".join(f"{m:12.3f}" for m in means), flush=True)


def time_1024(reference: nn.Module, repeats: int = 3) -> float:
    """The fastest of ``repeats`` runs of the default call on one synthetic 1024x1024 image, in seconds."""
    from course_utils.nuclei import make_nuclei
    from course_utils.segmentation import segment_nuclei

    img = make_nuclei(1, 1024, generator=0)[0][0, 0].numpy()
    segment_nuclei(img[:128, :128], reference)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        segment_nuclei(img, reference)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", default="cpu", choices=cu.BUDGETS)
    ap.add_argument("--seeds", type=int, default=1, help="seeds per trained model")
    ap.add_argument("--device", default=None)
    ap.add_argument("--kromp", action="store_true")
    ap.add_argument("--notebooks", action="store_true")
    ap.add_argument("--real", action="append", type=Path, default=[], metavar="DIR", help="a folder of real images")
    ap.add_argument("--checkpoint", type=Path, default=None, help="with --real: score this model, not the reference")
    ap.add_argument("--targets", default=None, help="with --real: TARGET_DIAMETER values to compare, e.g. 16,20,24")
    args = ap.parse_args()
    if args.real:
        device = torch.device(args.device) if args.device else cu.get_device()
        configure_threads(device)
        if args.checkpoint is not None:
            reference = cu.load_checkpoint(args.checkpoint, device=device)
        else:
            reference = load_reference_nuclei_model(device)
        print(
            f"{args.checkpoint or 'reference'}: {reference.checkpoint_meta.get('steps')} steps, synthetic held-out "
            f"IoU {reference.checkpoint_meta.get('iou')}; device {device}; {torch.get_num_threads()} thread(s)"
        )
        for folder in args.real:
            real_table(folder, reference)
        if args.targets:
            target_sweep(args.real, reference, [float(t) for t in args.targets.split(",")])
        print(f"\n1024x1024 image, default call: {time_1024(reference):.2f} s (target: under 3 s)")
        return
    cu.set_budget(args.budget)
    device = torch.device(args.device) if args.device else cu.get_device()
    configure_threads(device)  # the notebooks' rule (their set-up cell), so that their numbers are reproduced
    size = cu.training_sizes("segmentation")
    print(
        f"budget {args.budget}: {size}; device {device}; torch {torch.__version__}; {torch.get_num_threads()} threads"
    )
    Xh, Yh = held_out_nuclei()
    print(f"held-out synthetic set: {tuple(Xh.shape)}, foreground {Yh.mean().item():.1%}\n")
    line("Otsu threshold", [segmentation_scores(otsu_logits(Xh), Yh)])
    reference = load_reference_nuclei_model()
    t0 = time.perf_counter()
    ref_logits = cu.predict(reference, Xh, batch_size=32, device=device)
    line(
        f"reference UNet{tuple(reference.init_args.values())}",
        [segmentation_scores(ref_logits, Yh)],
        time.perf_counter() - t0,
    )
    data = nuclei_dataset("synthetic")
    X, Y = data.train
    (X03, Y03), _ = data.split_validation()  # notebook 03 trains without its validation images
    models = [
        ("02 SimpleUNet(4)", lambda: cu.SimpleUNet(4), None),
        ("03 SimpleUNet(16)", lambda: cu.SimpleUNet(16), None),
        ("03 SimpleUNet(32)", lambda: cu.SimpleUNet(32), None),
        ("04 UNet(1,1,8) no augmentation", lambda: cu.UNet(1, 1, 8), None),
        ("04 UNet(1,1,8) augmentation", lambda: cu.UNet(1, 1, 8), PairAugment()),
    ]
    Xs = second_microscope(Xh)
    for name, make, aug in models:
        cards, shifted, t0 = [], [], time.perf_counter()
        for seed in range(args.seeds):
            net = train(make(), *((X03, Y03) if name.startswith("03") else (X, Y)), size, aug, seed, device)
            cards.append(segmentation_scores(cu.predict(net, Xh, batch_size=32, device=device), Yh))
            if name.startswith("04"):
                shifted.append(segmentation_scores(cu.predict(net, Xs, batch_size=32, device=device), Yh))
        line(name, cards, (time.perf_counter() - t0) / args.seeds)
        if shifted:
            line("   second microscope", shifted)
    if args.kromp:
        real = nuclei_dataset("kromp")
        print(f"\nKromp et al. 2020, {len(real.X)} real images at 128x128:")
        line("Otsu threshold", [segmentation_scores(otsu_logits(real.X), real.Y)])
        line("reference", [segmentation_scores(cu.predict(reference, real.X, device=device), real.Y)])
    if args.notebooks:
        print("\nnotebooks at the CPU budget (nbclient, top to bottom):")
        import nbformat
        from nbclient import NotebookClient

        os.environ.update({"COURSE_BUDGET": "cpu", "COURSE_FAST": "0"})  # inherited by the kernels
        for path in sorted((ROOT / "solutions").glob("0[234]_*.ipynb")):
            nb = nbformat.read(path, as_version=4)  # executed in memory: the stored notebook is not touched
            t0 = time.perf_counter()
            NotebookClient(
                nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
            ).execute()
            print(f"{path.name}: {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
