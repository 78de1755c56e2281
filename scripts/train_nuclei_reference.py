"""Train the reference nuclei model data/checkpoints/unet_nuclei.pt on synthetic images.

    python scripts/train_nuclei_reference.py [--steps 1500] [--width 16] [--out data/checkpoints/unet_nuclei.pt]
    python scripts/train_nuclei_reference.py --init data/checkpoints/unet_nuclei.pt --steps 1500 --lr 1e-3 --seed 1 \
        --force

UNet(1, 1, width) (the full U-Net, depth 4) trained with BCE-with-logits, Adam and a one-cycle learning
rate on a pool of synthetic images from course_utils.nuclei.make_nuclei (128x128, refreshed in part
every 100 steps, random 90° rotations and flips), batch 16. Prints IoU and Dice on the 256 held-out
images (course_utils.nuclei.held_out_nuclei) and stores them, with the training recipe, in the
checkpoint's metadata. An existing checkpoint is never overwritten unless --force is given.
--init continues from a checkpoint (a second stage, e.g. with a lower learning rate and a fresh pool);
the recorded recipe then lists every stage. --wide F draws a fraction F of the pool (and of every refresh) with
every option of make_nuclei widened towards real microscopes (course_utils.nuclei.WIDE: larger, dimmer and more
blurred nuclei, tissue backgrounds, out-of-focus nuclei, few grey levels, saturation; issue #23), the rest as the
lab's images. Real images are never training data: score a stage on them with
``benchmarks/bench_segmentation.py --real DIR --checkpoint stage.pt`` and keep the stage that does best there.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import course_utils as cu
from course_utils.metrics import segmentation_scores
from course_utils.nuclei import WIDE, held_out_nuclei, make_nuclei


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--pool", type=int, default=1600)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(cu.download.data_dir() / "checkpoints" / "unet_nuclei.pt"))
    ap.add_argument("--force", action="store_true", help="overwrite an existing checkpoint")
    ap.add_argument("--init", default=None, help="start from this checkpoint instead of random weights")
    ap.add_argument("--wide", type=float, default=0.0, help="fraction of images drawn with nuclei.WIDE (0..1)")
    args = ap.parse_args()
    if not 0 <= args.wide <= 1:
        raise SystemExit(f"--wide is a fraction between 0 and 1, not {args.wide}")
    out = Path(args.out)
    if out.exists() and not args.force:
        raise SystemExit(f"{out} exists; pass --force to replace it (or --out elsewhere)")
    cu.seed_everything(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    t0 = time.time()

    def draw(k):
        """k images: a fraction args.wide of them with WIDE options, the rest as the lab's; shuffled."""
        n_wide = round(k * args.wide)
        x0, y0 = make_nuclei(k - n_wide, generator=g)
        x1, y1 = make_nuclei(n_wide, generator=g, **WIDE)
        order = torch.randperm(k, generator=g)
        return torch.cat([x0, x1])[order], torch.cat([y0, y1])[order]

    pool_x, pool_y = draw(args.pool)
    print(f"pool of {args.pool} images in {time.time() - t0:.0f} s", flush=True)
    stages = []
    if args.init:
        model = cu.load_checkpoint(args.init, expect=cu.UNet, device="cpu")
        meta = model.checkpoint_meta
        stages = list(meta.get("stages", [])) or [
            {k: meta[k] for k in ("steps", "batch", "lr", "pool", "seed", "train_minutes") if k in meta}
        ]
        print(f"continuing from {args.init} ({sum(s['steps'] for s in stages)} steps, IoU {meta.get('iou')})")
    else:
        model = cu.UNet(1, 1, args.width)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=max(args.steps, 1))
    step = 0

    def batches():
        nonlocal step
        step += 1
        if step % 100 == 0:  # refresh 1/16 of the pool
            k = args.pool // 16
            at = torch.randint(args.pool - k + 1, ()).item()
            pool_x[at : at + k], pool_y[at : at + k] = draw(k)
        idx = torch.randint(args.pool, (args.batch,), generator=g)
        x, y = pool_x[idx], pool_y[idx]
        k = int(torch.randint(4, (), generator=g))
        x, y = torch.rot90(x, k, (-2, -1)), torch.rot90(y, k, (-2, -1))
        if torch.rand((), generator=g) < 0.5:
            x, y = x.flip(-1), y.flip(-1)
        return x, y

    test_x, test_y = held_out_nuclei()
    t1 = time.time()
    hist = cu.fit(
        model,
        batches,
        torch.nn.BCEWithLogitsLoss(),
        opt,
        steps=args.steps,
        scheduler=sched,
        device="cpu" if not torch.cuda.is_available() else None,
        desc="reference",
    )
    train_s = time.time() - t1
    scores = segmentation_scores(cu.predict(model, test_x, batch_size=32), test_y)
    final_loss = sum(hist.loss[-50:]) / max(len(hist.loss[-50:]), 1)
    print(f"trained {args.steps} steps in {train_s / 60:.1f} min; final loss {final_loss:.4f}")
    print("held-out synthetic (256 images): " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    out.parent.mkdir(parents=True, exist_ok=True)
    stages.append(
        {
            "steps": args.steps,
            "batch": args.batch,
            "lr": args.lr,
            "pool": args.pool,
            "seed": args.seed,
            "wide": args.wide,
            "train_minutes": round(train_s / 60, 1),
        }
    )
    cu.save_checkpoint(
        model.cpu(),
        out,
        overwrite=args.force,  # checked before training: replace only with --force
        reference=True,  # the one writer allowed into data/checkpoints
        data="course_utils.nuclei.make_nuclei (synthetic, 128x128"
        + (", WIDE options in some stages)" if any(st.get("wide") for st in stages) else ")"),
        steps=sum(s["steps"] for s in stages),
        batch=args.batch,
        stages=stages,
        train_minutes=round(sum(s["train_minutes"] for s in stages), 1),
        iou=round(scores["IoU"], 4),
        dice=round(scores["Dice"], 4),
        course_version=cu.__version__,
    )
    print(f"saved {out}")


if __name__ == "__main__":
    main()
