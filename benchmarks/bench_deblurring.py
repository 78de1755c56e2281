"""Motion deblurring scored (prints numbers): classical deconvolution and blind networks, same blurred images.

    python benchmarks/bench_deblurring.py [--steps 400] [--models unet-l1 unet-l2 dudncnn-l2]
        [--train skimage|bsds300|DIR] [--seeds 0 1 2]

Notebook 08's setting: motion blur of 3-15 pixels at a random angle fixed by a seed, then noise of sigma 2 (0-255
scale), grayscale; PSNR on the interior (the 21 pixels next to the border left out). Three sets, as in the notebook:
the training photographs (--train), the validation tiles (scikit-image's motorcycle photograph cut into six
240x240 tiles, blurred with seed 1) and the test pictures (the centre 256x256 crops of scikit-image's four test
pictures, seed 0). Methods: the blurred input; Wiener and Richardson-Lucy with the true kernel and with every angle
off by 10, 20 and 45 degrees (on the test pictures); each network of --models trained blind for --steps steps on
fresh random crops of the training photographs (Adam 1e-3 decaying to zero along a cosine), once per seed of
--seeds. Eight times during training it is measured on the validation tiles and on fixed blurred crops of the
training photographs (their centre 240x240, seed 2), as gains over the blurred input: the training-vs-validation
curve that shows when longer training starts to learn the training photographs rather than deblurring. The test
pictures are scored once, at the end, with the training time.

Networks: ``unet-l1`` is notebook 08's (``Residual(UNet(1, 1, 16))``, last layer zero, L1 loss, 16 crops of
64x64); ``unet-l2`` the same with the L2 loss; ``dudncnn-l2`` notebook 05's ``DUDnCNN(6, 32)`` with PyTorch's
BatchNorm, last layer zero, L2 loss, 16 crops of 48x48. Training photographs (--train): scikit-image's
(default, as in the notebook), BSDS300's training split (180 photographs, downloaded once), or a folder of images.
No target: the numbers back the notebook's text and benchmarks/RESULTS.md; choose between settings on the
validation numbers, never on the test ones.
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
    ap.add_argument("--seeds", nargs="*", type=int, default=[0], help="one training run per seed")
    args = ap.parse_args()
    device = cu.get_device()
    test = blur.BlurredCrops(natural.skimage_images("test"), 256, lengths=LENGTHS, sigma=NOISE_SIGMA, train=False)
    val = blur.BlurredCrops(
        natural.tiles(natural.skimage_images("val"), 240), 240, lengths=LENGTHS, sigma=NOISE_SIGMA, train=False, seed=1
    )
    m = blur.KERNEL_SIZE

    def interior(x: torch.Tensor, sharp: torch.Tensor) -> float:
        return cu.psnr(x[..., m:-m, m:-m].clamp(0, 1), sharp[..., m:-m, m:-m], data_range=1.0).item()

    def score(x: torch.Tensor) -> float:
        return interior(x, test.sharp)

    print(
        f"{len(test)} test crops 256x256, {len(val)} validation tiles 240x240, blur {LENGTHS[0]:g}-{LENGTHS[1]:g} px, "
        f"noise sigma {NOISE_SIGMA:g}; device {device}, torch threads {torch.get_num_threads()}, OMP_NUM_THREADS "
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    print(f"{'blurred input (test)':42s} {score(test.blurred):6.2f} dB")
    print(f"{'blurred input (validation)':42s} {interior(val.blurred, val.sharp):6.2f} dB")
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
    own = blur.BlurredCrops(images, 240, lengths=LENGTHS, sigma=NOISE_SIGMA, train=False, seed=2)
    checked = {"train": own, "val": val}
    base = {name: interior(s.blurred, s.sharp) for name, s in checked.items()}
    for name in args.models:
        for seed in args.seeds:
            cu.seed_everything(seed)
            model, loss, crop = network(name)
            loader = torch.utils.data.DataLoader(
                blur.BlurredCrops(images, crop, lengths=LENGTHS, sigma=NOISE_SIGMA, length=args.steps * BATCH), BATCH
            )
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            gains = {k: [] for k in checked}

            def measure(net, gains=gains):
                for k, s in checked.items():
                    gains[k].append(interior(cu.predict(net, s.blurred, device=device), s.sharp) - base[k])
                return gains["val"][-1]

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
                val_fn=measure,
                val_every=max(1, args.steps // 8),
            )
            seconds = time.perf_counter() - t0
            curve = ", ".join(
                f"{step}: {t:+.2f} / {v:+.2f}" for (step, _), t, v in zip(history.val, gains["train"], gains["val"])
            )
            print(
                f"{name + f' ({args.steps} steps, {args.train}, seed {seed})':42s} validation {gains['val'][-1]:+.2f} "
                f"dB, test {score(cu.predict(model, test.blurred, device=device)):6.2f} dB  {seconds:5.0f} s of "
                f"training  [gain on training crops / validation: {curve}]",
                flush=True,
            )


if __name__ == "__main__":
    main()
