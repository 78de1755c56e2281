"""Weak supervision compared: clean targets, noisy targets, noisy images plus noise samples (prints numbers).

    python benchmarks/bench_weak_supervision.py [--seeds 3] [--budget cpu|full|fast] [--device cpu]

Every method trains a UNet(1, 1, 16) with Adam (lr 1e-3) for the same number of steps (the budget of
notebooks 06 and 07) and is scored on the same 256 test images from gen (pooled PSNR, MAE, mean error):
identity, supervised (L1), noise2noise L1, noise2noise L2, NES one-shot recipe (L1), NES iterative (L1).
Targets (issue #5, CPU budget): noise2noise-L1 within 1 dB of supervised or better; noise2noise-L2 clearly
worse with a positive bias; iterative NES at least 2 dB above the one-shot recipe.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import course_utils as cu
from course_utils import weak

METHODS = ("identity", "supervised L1", "noise2noise L1", "noise2noise L2", "NES one-shot", "NES iterative")


def run(seed: int, device, steps: int, batch: int, rounds: int, pool_size: int, test_noisy, test_clean) -> dict:
    out, times = {"identity": cu.scores(test_noisy, test_clean)}, {}
    g = cu.make_generator(seed, device)

    def trained(batches, loss_fn):
        cu.seed_everything(seed)
        model = cu.UNet(1, 1, 16)
        cu.fit(
            model,
            batches,
            loss_fn,
            torch.optim.Adam(model.parameters(), lr=1e-3),
            steps=steps,
            device=device,
            progress=False,
        )
        return cu.scores(cu.predict(model, test_noisy, device=device), test_clean)

    recipes = {
        "supervised L1": (lambda: cu.gen(batch, generator=g), F.l1_loss),
        "noise2noise L1": (lambda: weak.noise2noise_batches(batch, generator=g), F.l1_loss),
        "noise2noise L2": (lambda: weak.noise2noise_batches(batch, generator=g), F.mse_loss),
        "NES one-shot": (lambda: weak.one_shot_nes_batches(batch, generator=g), F.l1_loss),
    }
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
        generator=g,
        device=device,
        progress=False,
    )
    out["NES iterative"] = cu.scores(cu.predict(separator, test_noisy, device=device), test_clean)
    times["NES iterative"] = time.perf_counter() - t0
    return out, times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", choices=cu.BUDGETS, default="cpu")
    ap.add_argument("--device", default=None)
    args = ap.parse_args()
    cu.set_budget(args.budget)
    device = torch.device(args.device) if args.device else cu.get_device()
    b = cu.training_sizes("weak")  # the training of notebooks 06 and 07
    steps, batch, rounds, pool_size = b["steps"], b["batch_size"], b["nes_rounds"], b["pool_size"]
    test_noisy, test_clean = cu.gen(256, generator=cu.make_generator(2024))
    print(
        f"budget {args.budget}: {steps} steps of {batch} images per method, NES {rounds} rounds on {pool_size} "
        f"images; {args.seeds} seeds; device {device}; torch {torch.__version__}"
    )
    runs, times = [], []
    for seed in range(args.seeds):
        r, t = run(seed, device, steps, batch, rounds, pool_size, test_noisy, test_clean)
        runs.append(r)
        times.append(t)
        print(f"seed {seed}: " + ", ".join(f"{m} {r[m]['PSNR (dB)']:.2f}" for m in METHODS), flush=True)

    def stat(method, key):
        vals = [r[method][key] for r in runs]
        return statistics.mean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)

    print(f"\n{'method':<16}{'PSNR dB (mean ± sd)':>22}{'MAE (mean ± sd)':>22}{'mean error':>12}{'train s':>9}")
    for m in METHODS:
        p, ps = stat(m, "PSNR (dB)")
        a, as_ = stat(m, "MAE")
        b, _ = stat(m, "mean error")
        secs = statistics.mean(t[m] for t in times) if m in times[0] else 0.0
        print(f"{m:<16}{p:>14.2f} ± {ps:<5.2f}{a:>14.4f} ± {as_:<6.4f}{b:>+12.4f}{secs:>9.0f}")

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
