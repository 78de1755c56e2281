"""Noise2Void against supervised training, noise2noise and classical denoisers (notebook 10; prints numbers).

    python benchmarks/bench_noise2void.py [--seeds 3] [--budget cpu|full|fast] [--device cpu]
    python benchmarks/bench_noise2void.py --select-fraction 0.005 0.02 0.05 [--seeds 2]
    python benchmarks/bench_noise2void.py --clutter [--seeds 3]

Photographs (notebook 10, section 2): Gaussian noise of sigma 25 on the photographs shipped with scikit-image;
training crops from nine of them, validation on rocket and coins (256x256 centre crops), test on camera,
astronaut, coffee and chelsea (256x256 centre crops), scored once. Every network is ``Residual(UNet(1, 1, 16))``
trained with Adam under a one-cycle learning rate, the budget's ``photographs`` row; the three differ only in
their targets: the clean crop (supervised), a second noisy copy (noise2noise), or the input itself behind the
blind spots (Noise2Void, :mod:`course_utils.noise2void`). Classical denoisers for scale: TV, NL-means, BM3D
(when the ``bm3d`` package is installed).

``--select-fraction`` chooses Noise2Void's masking fraction on the validation photographs (never the test ones).

``--clutter`` (notebook 10, section 3): Noise2Void on the noisy images of notebook 07 (cells under bars of
clutter, the NES pool), against iterative NES on the same pool with its noise samples, the budget's ``weak`` row,
scored on notebook 06/07's 256 test images.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import course_utils as cu
from course_utils import classical, natural, weak
from course_utils import noise2void as n2v
from course_utils.device import configure_threads

SIGMA, CROP = 25, 64
VALIDATION_PHOTOGRAPHS = ("rocket", "coins")
METHODS = ("supervised", "noise2noise", "Noise2Void")


def photographs(test_size=256):
    """(training images, (validation noisy, clean), (test noisy, clean)): notebook 10's three sets."""
    named = dict(zip(natural.TRAIN_IMAGES, natural.skimage_images("train")))
    train = [image for name, image in named.items() if name not in VALIDATION_PHOTOGRAPHS]
    val_clean = natural.centre_crops([named[name] for name in VALIDATION_PHOTOGRAPHS], test_size)
    val_noisy = natural.add_gaussian_noise(val_clean, SIGMA, generator=cu.make_generator(6))
    test_clean = natural.centre_crops(natural.skimage_images("test"), test_size)
    test_noisy = natural.add_gaussian_noise(test_clean, SIGMA, generator=cu.make_generator(5))
    return train, (val_noisy, val_clean), (test_noisy, test_clean)


def train_photographs(method, train, seed, size, device, fraction=n2v.MASK_FRACTION):
    """One network of notebook 10's section 2, trained from ``seed``; ``method`` in METHODS."""
    g = cu.make_generator(seed)

    def batch():
        crops = natural.random_crops(train, size["batch_size"], CROP, generator=g)
        if method == "Noise2Void":
            return n2v.n2v_batch(natural.add_gaussian_noise(crops, SIGMA, generator=g), fraction, generator=g)
        return natural.noisy_pair(crops, SIGMA, method == "noise2noise", generator=g)

    cu.seed_everything(seed)
    model = cu.Residual(cu.UNet(1, 1, 16))
    opt = torch.optim.Adam(model.parameters(), lr=size["lr"])
    cu.fit(
        model,
        batch,
        n2v.n2v_loss if method == "Noise2Void" else F.mse_loss,
        opt,
        steps=size["steps"],
        scheduler=torch.optim.lr_scheduler.OneCycleLR(opt, size["lr"], total_steps=size["steps"]),
        device=device,
        progress=False,
    )
    return model


def psnr(x, clean):
    return cu.psnr(x, clean, data_range=1.0).item()


def spread(values):
    if len(values) == 1:
        return f"{values[0]:6.2f}"
    return f"{statistics.mean(values):6.2f} (min {min(values):.2f}, max {max(values):.2f})"


def run_photographs(args, size, device):
    train, (val_noisy, val_clean), (test_noisy, test_clean) = photographs(size["test_size"])
    print(
        f"photographs, sigma {SIGMA}: {size['steps']} steps of {size['batch_size']} crops of {CROP}x{CROP}, "
        f"peak lr {size['lr']:g}, seeds {args.seeds}; {device}"
    )
    if args.select_fraction:
        noisy_db = psnr(val_noisy, val_clean)
        print(f"\nNoise2Void's masking fraction, validation PSNR (rocket, coins; noisy input {noisy_db:.2f} dB):")
        for fraction in args.select_fraction:
            scores = []
            for seed in range(args.seeds):
                model = train_photographs("Noise2Void", train, seed, size, device, fraction)
                scores.append(psnr(cu.predict(model, val_noisy, 4, device), val_clean))
            print(f"  fraction {fraction:<8g}{spread(scores)} dB")
        return
    print(f"\n{'method':<32}{'validation PSNR (dB)':<34}{'test PSNR (dB)':<34}seconds per training")
    print(f"{'noisy input':<32}{psnr(val_noisy, val_clean):6.2f}{'':28}{psnr(test_noisy, test_clean):6.2f}")
    for name, fn in classical.denoisers().items():
        start = time.perf_counter()
        value = psnr(fn(test_noisy, SIGMA), test_clean)
        print(f"{name:<32}{'':34}{value:6.2f}{'':28}{time.perf_counter() - start:.1f} (no training)")
    for method in METHODS:
        val, test, times = [], [], []
        for seed in range(args.seeds):
            start = time.perf_counter()
            model = train_photographs(method, train, seed, size, device)
            times.append(time.perf_counter() - start)
            val.append(psnr(cu.predict(model, val_noisy, 4, device), val_clean))
            test.append(psnr(cu.predict(model, test_noisy, 4, device), test_clean))
        print(f"{method:<32}{spread(val):<34}{spread(test):<34}{statistics.median(times):.1f}")


def run_clutter(args, device):
    size = cu.training_sizes("weak")
    steps, batch, lr, rounds = size["steps"], size["batch_size"], size["lr"], size["nes_rounds"]
    mixtures = cu.gen1_NES(size["pool_size"], generator=cu.make_generator(3))
    test_noisy, test_clean = cu.gen(256, generator=cu.make_generator(2024))
    print(f"clutter: {steps} steps of {batch}, pool of {len(mixtures)} noisy images, NES {rounds} rounds; {device}")

    def one_cycle(opt, n):
        return torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=n)

    rows = {
        "identity": [cu.scores(test_noisy, test_clean)["PSNR (dB)"]] * args.seeds,
        "Noise2Void": [],
        "NES iterative": [],
    }
    for seed in range(args.seeds):
        g = cu.make_generator(seed + 1)
        cu.seed_everything(seed)
        model = cu.UNet(1, 1, 16)
        opt = torch.optim.Adam(model.parameters(), lr=lr)

        def batch_n2v(g=g):
            return n2v.n2v_batch(mixtures[torch.randint(len(mixtures), (batch,), generator=g)], generator=g)

        cu.fit(
            model,
            batch_n2v,
            n2v.n2v_loss,
            opt,
            steps=steps,
            scheduler=one_cycle(opt, steps),
            device=device,
            progress=False,
        )
        rows["Noise2Void"].append(cu.scores(cu.predict(model, test_noisy, device=device), test_clean)["PSNR (dB)"])
        cu.seed_everything(seed)
        separator = cu.UNet(1, 1, 16)
        weak.iterative_nes(
            separator,
            mixtures,
            rounds=rounds,
            steps_per_round=steps // rounds,
            batch_size=batch,
            lr=lr,
            make_scheduler=one_cycle,
            generator=cu.make_generator(seed + 1),
            device=device,
            progress=False,
        )
        rows["NES iterative"].append(
            cu.scores(cu.predict(separator, test_noisy, device=device), test_clean)["PSNR (dB)"]
        )
    for name, values in rows.items():
        print(f"  {name:<20}{spread(values)} dB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", default="cpu", choices=cu.BUDGETS)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--device", default=None)
    ap.add_argument("--select-fraction", type=float, nargs="+", metavar="FRACTION")
    ap.add_argument("--clutter", action="store_true", help="Noise2Void and NES on notebook 07's clutter")
    args = ap.parse_args()
    cu.set_budget(args.budget)
    device = torch.device(args.device) if args.device else cu.get_device()
    configure_threads(device)  # the notebooks' rule (their set-up cell), so that their numbers are reproduced
    if args.clutter:
        run_clutter(args, device)
    else:
        run_photographs(args, cu.training_sizes("photographs"), device)


if __name__ == "__main__":
    main()
