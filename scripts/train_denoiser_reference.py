"""Train a reference denoiser of data/checkpoints (see data/README.md).

    python scripts/train_denoiser_reference.py dncnn_color_s30 --images ../shared/data/bsds500-train
    python scripts/train_denoiser_reference.py dncnn_gray_s25 --images DIR --steps 20000
    python scripts/train_denoiser_reference.py dncnn_color_s30 --images DIR \
        --init data/checkpoints/dncnn_color_s30.pt --lr 3e-4 --force

* ``dncnn_color_s30``: notebook 05's network at the full budget, DnCNN(D=6, C=64, channels=3), sigma 30.
* ``dncnn_gray_s25``: the paper's sigma-specific grayscale model DnCNN-S, DnCNN(D=15, C=64, channels=1)
  (17 convolutions), sigma 25.

Training: random ``--crop`` crops (random flips) of the images of ``--images`` (a folder, e.g. BSDS
training photographs; default: scikit-image's training set), fresh Gaussian noise per crop, batch
``--batch``, MSE, Adam with a one-cycle learning rate. Scored on the centre 256x256 crops of the four
scikit-image test images (``natural.TEST_IMAGES``) with fixed noise; the scores, the data and the recipe
go into the checkpoint's metadata. An existing checkpoint is never overwritten without ``--force``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import course_utils as cu
from course_utils import natural
from course_utils.denoising import REFERENCE_DENOISERS, denoise
from course_utils.dncnn import DnCNN

MODELS = {
    "dncnn_color_s30": dict(D=6, C=64, channels=3, sigma=30),
    "dncnn_gray_s25": dict(D=15, C=64, channels=1, sigma=25),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(MODELS))
    ap.add_argument("--images", default="skimage", help="a folder of training photographs (default: skimage's)")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", default=None, help="continue from this checkpoint")
    ap.add_argument("--out", default=None, help="default: data/checkpoints/<name>.pt")
    ap.add_argument("--force", action="store_true", help="overwrite an existing checkpoint")
    args = ap.parse_args()
    spec = MODELS[args.name]
    out = Path(args.out) if args.out else cu.download.data_dir() / REFERENCE_DENOISERS[args.name]
    if out.exists() and not args.force:
        raise SystemExit(f"{out} exists; pass --force to replace it (or --out elsewhere)")
    gray = spec["channels"] == 1
    cu.seed_everything(args.seed)
    images = natural.natural_images(args.images, "train", gray=gray)
    train = natural.NoisyCrops(images, args.crop, spec["sigma"], length=args.steps * args.batch)
    test = natural.NoisyCrops(natural.skimage_images("test", gray=gray), 256, spec["sigma"], train=False)
    noisy, clean = (torch.stack(t) for t in zip(*(test[i] for i in range(len(test)))))
    stages = []
    if args.init:
        model = cu.load_checkpoint(args.init, expect=DnCNN, device="cpu")
        stages = list(model.checkpoint_meta.get("stages", []))
    else:
        model = DnCNN(spec["D"], spec["C"], spec["channels"])
    device = cu.get_device()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=max(args.steps, 1))
    loader = torch.utils.data.DataLoader(train, batch_size=args.batch, drop_last=True)
    print(
        f"{args.name}: {cu.count_parameters(model):,} parameters, {len(images)} training images, "
        f"{args.steps} steps of {args.batch} {args.crop}x{args.crop} crops on {device}",
        flush=True,
    )
    t0 = time.time()
    cu.fit(model, loader, torch.nn.MSELoss(), opt, steps=args.steps, scheduler=sched, device=device, desc=args.name)
    minutes = (time.time() - t0) / 60
    per_image = cu.psnr(denoise(model, noisy, device=device).clamp(0, 1), clean, data_range=1, reduction="none")
    scores = dict(zip(natural.TEST_IMAGES, (round(v, 2) for v in per_image.tolist())))
    print(f"trained in {minutes:.1f} min; PSNR on the test crops: {per_image.mean():.2f} dB {scores}")
    stages.append(
        {
            "steps": args.steps,
            "batch": args.batch,
            "crop": args.crop,
            "lr": args.lr,
            "seed": args.seed,
            "images": f"{args.images} ({len(images)} images)",
            "train_minutes": round(minutes, 1),
            "device": str(device),
        }
    )
    cu.save_checkpoint(
        model.cpu(),
        out,
        overwrite=args.force,  # checked before training: replace only with --force
        reference=True,  # the one writer allowed into data/checkpoints
        sigma=spec["sigma"],
        stages=stages,
        steps=sum(s["steps"] for s in stages),
        test_psnr=round(per_image.mean().item(), 2),
        test_psnr_per_image=scores,
        test_images="skimage TEST_IMAGES, centre 256x256, fixed noise",
        course_version=cu.__version__,
    )
    print(f"saved {out}")


if __name__ == "__main__":
    main()
