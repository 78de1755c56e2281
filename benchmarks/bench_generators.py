"""Speed of the synthetic generators against one training step (prints numbers; not a test).

    python benchmarks/bench_generators.py [--batch 64] [--device cpu] [--repeats 7]

For each generator: milliseconds per call at the given batch size (best and median of `repeats`
rounds of 30 calls, after a warm-up of every generator), then one training step of UNet(1, 1, 16)
(Adam, L1 loss) on gen's batch, and the share of a step that making its data costs.
One training step runs before the generators are timed, as in a training loop: it leaves the C
library's allocator as training does. In a process that has made no tensor of a few MB, the allocator
may hand the memory of each call's output back to the system, and the page faults to take it again
add up to 0.5 ms a call, or none, at random from process to process (benchmarks/RESULTS.md).
Targets (issue #2, this 2-core machine, batch 64, CPU): every generator under 5 ms; data
generation under 5% of a training step. The original course's Python-loop generators took 30-40 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

import course_utils as cu


def timed(fn, calls: int, repeats: int, sync) -> tuple[float, float]:
    """Best and median milliseconds per call over `repeats` rounds of `calls` calls."""
    rounds = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        rounds.append((time.perf_counter() - t0) / calls * 1e3)
    return min(rounds), statistics.median(rounds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    g = cu.make_generator(0, dev)
    n = args.batch
    gens = {
        "gen": lambda: cu.gen(n, generator=g),
        "gen_noise2noise": lambda: cu.gen_noise2noise(n, generator=g),
        "gen1_NES": lambda: cu.gen1_NES(n, generator=g),
        "gen2_NES": lambda: cu.gen2_NES(n, generator=g),
    }
    print(
        f"course_utils {cu.__version__}, torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads, device {dev}, batch {n}"
    )
    model = cu.UNet(1, 1, 16).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = cu.gen(n, generator=g)

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.l1_loss(model(x), y).backward()
        opt.step()

    step()  # first: the allocator as a training loop leaves it (see the docstring)
    for _ in range(3):  # warm-up: caches, lazily built tables, the generators' kept memory
        for f in gens.values():
            f()
    print(f"\n{'generator':<18}{'best ms':>9}{'median ms':>11}   target < 5 ms")
    results = {}
    for name, f in gens.items():
        best, med = timed(f, 30, args.repeats, sync)
        results[name] = med
        print(f"{name:<18}{best:>9.2f}{med:>11.2f}   {'ok' if med < 5 else 'OVER'}")

    best, med = timed(step, 3 if dev.type == "cpu" else 20, max(3, args.repeats // 2), sync)
    share = results["gen"] / med * 100
    print(f"\nUNet(1,1,16) training step: best {best:.1f} ms, median {med:.1f} ms")
    print(f"data generation (gen) per step: {share:.2f}% of a step   target < 5%   {'ok' if share < 5 else 'OVER'}")
    worst = max(results.values()) / med * 100
    print(f"slowest generator per step: {worst:.2f}% of a step")


if __name__ == "__main__":
    main()
