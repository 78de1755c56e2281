"""Weak supervision compared: clean targets, noisy targets, noisy images plus noise samples (prints numbers).

    python benchmarks/bench_weak_supervision.py [--seeds 3] [--budget cpu|full|fast] [--device cpu]
    python benchmarks/bench_weak_supervision.py --select-lr 1e-3 3e-3 1e-2 [--seeds 3]

Every method trains a UNet(1, 1, 16) with Adam for the same number of steps (the budget of notebooks 06 and 07),
under a one-cycle learning rate peaking at the budget's ``lr`` (one cycle per NES round), and is scored on the
same 256 test images from gen (pooled PSNR, MAE, mean error): identity, supervised (L1), noise2noise L1 and L2
with the original pairs (clutter at 0.0005) and with pairs at the test images' rate (0.0003), NES one-shot
recipe (L1), NES iterative (L1). Targets (issue #5, CPU budget): noise2noise-L1 within 1 dB of supervised or
better; noise2noise-L2 clearly worse with a positive bias; iterative NES at least 2 dB above the one-shot recipe.

``--select-lr`` chooses the budget's ``lr`` instead: it trains the supervised model at each peak learning rate
and seed and scores it on 256 validation images (gen, seed 99), never on the test images.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import course_utils as cu
from course_utils import weak
from course_utils.synthetic import CLUTTER_RATE

METHODS = (
    "identity",
    "supervised L1",
    "noise2noise L1",
    "noise2noise L2",
    "noise2noise L1 at 0.0003",
    "noise2noise L2 at 0.0003",
    "NES one-shot",
    "NES iterative",
)
VALIDATION_SEED, TEST_SEED = 99, 2024  # the seeds of notebooks 06 and 07's validation and test images


def one_cycle(optimizer, steps: int, lr: float):
    """The schedule of notebooks 06 and 07: warm-up to ``lr`` over 30 % of the steps, then decay to ~0."""
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps)


def train_supervised(seed: int, device, steps: int, batch: int, lr: float, g):
    cu.seed_everything(seed)
    model = cu.UNet(1, 1, 16)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    cu.fit(
        model,
        lambda: cu.gen(batch, generator=g),
        F.l1_loss,
        optimizer,
        steps=steps,
        scheduler=one_cycle(optimizer, steps, lr),
        device=device,
        progress=False,
    )
    return model


def run(seed: int, device, steps: int, batch: int, rounds: int, pool_size: int, lr: float, test_noisy, test_clean):
    out, times = {"identity": cu.scores(test_noisy, test_clean)}, {}
    g = cu.make_generator(seed, device)

    def trained(batches, loss_fn):
        cu.seed_everything(seed)
        model = cu.UNet(1, 1, 16)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        cu.fit(
            model,
            batches,
            loss_fn,
            optimizer,
            steps=steps,
            scheduler=one_cycle(optimizer, steps, lr),
            device=device,
            progress=False,
        )
        return cu.scores(cu.predict(model, test_noisy, device=device), test_clean)

    low = CLUTTER_RATE
    recipes = {
        "noise2noise L1": (lambda: weak.noise2noise_batches(batch, generator=g), F.l1_loss),
        "noise2noise L2": (lambda: weak.noise2noise_batches(batch, generator=g), F.mse_loss),
        "noise2noise L1 at 0.0003": (lambda: weak.noise2noise_batches(batch, rate=low, generator=g), F.l1_loss),
        "noise2noise L2 at 0.0003": (lambda: weak.noise2noise_batches(batch, rate=low, generator=g), F.mse_loss),
        "NES one-shot": (lambda: weak.one_shot_nes_batches(batch, generator=g), F.l1_loss),
    }
    t0 = time.perf_counter()
    model = train_supervised(seed, device, steps, batch, lr, g)
    out["supervised L1"] = cu.scores(cu.predict(model, test_noisy, device=device), test_clean)
    times["supervised L1"] = time.perf_counter() - t0
    for name, (batches, loss_fn) in recipes.items():
        t0 = time.perf_counter()
        out[name] = trained(batches, loss_fn)
        times[name] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cu.seed_everything(seed)
    separator = cu.UNet(1, 1, 16)
    mixtures = cu.gen1_NES(pool_size, generator=g)
    weak.iterative_nes(
        separator,
        mixtures,
        rounds=rounds,
        steps_per_round=steps // rounds,
        batch_size=batch,
        lr=lr,
        make_scheduler=lambda optimizer, n: one_cycle(optimizer, n, lr),
        generator=g,
        device=device,
        progress=False,
    )
    out["NES iterative"] = cu.scores(cu.predict(separator, test_noisy, device=device), test_clean)
    times["NES iterative"] = time.perf_counter() - t0
    return out, times


def select_lr(lrs: list[float], seeds: int, device, steps: int, batch: int) -> None:
    """Supervised training at each peak learning rate and seed, scored on the validation images only."""
    val_noisy, val_clean = cu.gen(256, generator=cu.make_generator(VALIDATION_SEED))
    means = {}
    for lr in lrs:
        vals = []
        for seed in range(seeds):
            model = train_supervised(seed, device, steps, batch, lr, cu.make_generator(seed, device))
            vals.append(cu.scores(cu.predict(model, val_noisy, device=device), val_clean)["PSNR (dB)"])
            print(f"lr {lr:g}, seed {seed}: validation PSNR {vals[-1]:.2f} dB", flush=True)
        means[lr] = statistics.mean(vals)
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        print(f"lr {lr:g}: validation PSNR {means[lr]:.2f} ± {sd:.2f} dB over {seeds} seeds", flush=True)
    print(f"best on the validation images: lr {max(means, key=means.get):g}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", choices=cu.BUDGETS, default="cpu")
    ap.add_argument("--device", default=None)
    ap.add_argument("--select-lr", type=float, nargs="+", metavar="LR", help="choose the peak learning rate instead")
    args = ap.parse_args()
    cu.set_budget(args.budget)
    device = torch.device(args.device) if args.device else cu.get_device()
    b = cu.training_sizes("weak")  # the training of notebooks 06 and 07
    steps, batch, rounds, pool_size, lr = b["steps"], b["batch_size"], b["nes_rounds"], b["pool_size"], b["lr"]
    print(
        f"budget {args.budget}: {steps} steps of {batch} images per method, one-cycle Adam peaking at lr {lr:g}, "
        f"NES {rounds} rounds on {pool_size} images; {args.seeds} seeds; device {device}; torch {torch.__version__}"
    )
    if args.select_lr:
        select_lr(args.select_lr, args.seeds, device, steps, batch)
        return
    test_noisy, test_clean = cu.gen(256, generator=cu.make_generator(TEST_SEED))
    runs, times = [], []
    for seed in range(args.seeds):
        r, t = run(seed, device, steps, batch, rounds, pool_size, lr, test_noisy, test_clean)
        runs.append(r)
        times.append(t)
        print(f"seed {seed}: " + ", ".join(f"{m} {r[m]['PSNR (dB)']:.2f}" for m in METHODS), flush=True)

    def stat(method, key):
        vals = [r[method][key] for r in runs]
        return statistics.mean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)

    print(f"\n{'method':<26}{'PSNR dB (mean ± sd)':>22}{'MAE (mean ± sd)':>22}{'mean error':>12}{'train s':>9}")
    for m in METHODS:
        p, ps = stat(m, "PSNR (dB)")
        a, as_ = stat(m, "MAE")
        b, _ = stat(m, "mean error")
        secs = statistics.mean(t[m] for t in times) if m in times[0] else 0.0
        print(f"{m:<26}{p:>14.2f} ± {ps:<5.2f}{a:>14.4f} ± {as_:<6.4f}{b:>+12.4f}{secs:>9.0f}")

    sup, l1, l2 = (
        stat("supervised L1", "PSNR (dB)")[0],
        stat("noise2noise L1", "PSNR (dB)")[0],
        stat("noise2noise L2", "PSNR (dB)")[0],
    )
    one, it = stat("NES one-shot", "PSNR (dB)")[0], stat("NES iterative", "PSNR (dB)")[0]
    bias2 = stat("noise2noise L2", "mean error")[0]
    print("\ntargets (means over seeds):")
    verdict = "ok" if l1 >= sup - 1 else "MISSED"
    print(f"  noise2noise-L1 within 1 dB of supervised or better: {l1 - sup:+.2f} dB  {verdict}")
    print(
        f"  noise2noise-L2 clearly worse, positive bias: {l2 - sup:+.2f} dB, bias {bias2:+.4f}  "
        f"{'ok' if l2 < sup - 1 and bias2 > 0.01 else 'MISSED'}"
    )
    print(f"  iterative NES >= one-shot + 2 dB: {it - one:+.2f} dB  {'ok' if it >= one + 2 else 'MISSED'}")


if __name__ == "__main__":
    main()
