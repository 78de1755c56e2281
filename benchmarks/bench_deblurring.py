"""Motion deblurring scored (prints numbers): classical deconvolution and blind networks, same blurred images.

    python benchmarks/bench_deblurring.py [--steps 400] [--models unet-l1 unet-l2 dudncnn-l2]
        [--train skimage|bsds300|DIR]

Notebook 08's setting: the centre 256x256 crops of scikit-image's four test pictures (grayscale), motion blur of
3-15 pixels at a random angle fixed by a seed, then noise of sigma 2 (0-255 scale); PSNR on the interior (the
21 pixels next to the border left out). Methods: the blurred input; Wiener and Richardson-Lucy with the true
kernel and with every angle off by 10, 20 and 45 degrees; each network of --models trained blind for --steps
steps on fresh random crops of the training photographs (Adam 1e-3 decaying to zero along a cosine), with the
test PSNR eight times during training and the training time.

Networks: ``unet-l1`` is notebook 08's (``Residual(UNet(1, 1, 16))``, last layer zero, L1 loss, 16 crops of
64x64); ``unet-l2`` the same with the L2 loss; ``dudncnn-l2`` notebook 05's ``DUDnCNN(6, 32)`` with PyTorch's
BatchNorm, last layer zero, L2 loss, 16 crops of 48x48. Training photographs (--train): scikit-image's
(default, as in the notebook), the BSDS300 training set (downloaded once), or a folder of images.
No target: the numbers back the notebook's text and benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F

import course_utils as cu
from course_utils import blur, classical, natural
from course_utils.dncnn import DUDnCNN

LENGTHS, NOISE_SIGMA, BATCH = (3.0, 15.0), 2.0, 16


def network(name: str) -> tuple[torch.nn.Module, object, int]:
    """(model starting as the identity, loss, crop size) for a --models name."""
    if name.startswith("unet"):
        model = cu.Residual(cu.UNet(1, 1, 16))
        last, crop = model.net.outc.conv, 64
    elif name.startswith("dudncnn"):
        model = DUDnCNN(6, 32, channels=1, bn_eps=1e-5)
        last, crop = model.conv[-1], 48
    else:
        raise ValueError(f"unknown network {name!r}: unet-l1, unet-l2 or dudncnn-l2")
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    return model, F.l1_loss if name.endswith("l1") else F.mse_loss, crop


def training_images(source: str) -> list[torch.Tensor]:
    if source in ("skimage", "bsds300"):
        return natural.natural_images(source, "train")
    return natural.folder_images(source)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--steps", type=int, default=400, help="training steps per network (the notebook's CPU budget: 400)"
    )
    ap.add_argument("--models", nargs="*", default=["unet-l1", "unet-l2", "dudncnn-l2"])
    ap.add_argument("--train", default="skimage", help="skimage, bsds300 or a folder of images")
    args = ap.parse_args()
    device = cu.get_device()
    test = blur.BlurredCrops(natural.skimage_images("test"), 256, lengths=LENGTHS, sigma=NOISE_SIGMA, train=False)
    m = blur.KERNEL_SIZE

    def score(x: torch.Tensor) -> float:
        return cu.psnr(x[..., m:-m, m:-m].clamp(0, 1), test.sharp[..., m:-m, m:-m], data_range=1.0).item()

    print(
        f"{len(test)} test crops 256x256, blur {LENGTHS[0]:g}-{LENGTHS[1]:g} px, noise sigma {NOISE_SIGMA:g}; "
        f"device {device}, torch threads {torch.get_num_threads()}, OMP_NUM_THREADS "
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    print(f"{'blurred input':42s} {score(test.blurred):6.2f} dB")
    classical.wiener(test.blurred[:1], test.kernels[:1])  # warm-up: imports and caches out of the timings
    for error in (0, 10, 20, 45):
        kernels = test.kernels_off_by(error)
        for name, fn in (("Wiener", classical.wiener), ("Richardson-Lucy", classical.richardson_lucy)):
            t0 = time.perf_counter()
            p = score(fn(test.blurred, kernels))
            print(
                f"{name + f' (angle off by {error} deg)':42s} {p:6.2f} dB  {time.perf_counter() - t0:5.2f} s",
                flush=True,
            )
    images = training_images(args.train)
    for name in args.models:
        cu.seed_everything(0)
        model, loss, crop = network(name)
        loader = torch.utils.data.DataLoader(
            blur.BlurredCrops(images, crop, lengths=LENGTHS, sigma=NOISE_SIGMA, length=args.steps * BATCH), BATCH
        )
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        t0 = time.perf_counter()
        history = cu.fit(
            model,
            loader,
            loss,
            optimizer,
            steps=args.steps,
            device=device,
            progress=False,
            scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps),
            val_fn=lambda net: score(cu.predict(net, test.blurred, device=device)),
            val_every=max(1, args.steps // 8),
        )
        curve = ", ".join(f"{s}: {p:.2f}" for s, p in history.val)
        print(
            f"{name + f' ({args.steps} steps, {args.train})':42s} {history.val[-1][1]:6.2f} dB  "
            f"{time.perf_counter() - t0:5.0f} s of training  [{curve}]",
            flush=True,
        )


if __name__ == "__main__":
    main()
