"""How many threads PyTorch should use for training on a CPU machine (prints a table).

    python benchmarks/bench_threads.py [--steps 30] [--rounds 5] [--threads 1 2] [--busy 0 1]

Times ``--steps`` training steps of two of the course's models at the CPU budget's sizes: ``UNet(1, 1, 8)`` on
batches of 8 crops of 64x64 (notebooks 02-04, ``TRAINING_SIZES["segmentation"]["cpu"]``) and ``DnCNN(6, 16)``
on batches of 8 colour crops of 48x48 (notebook 05), with ``torch.set_num_threads(n)`` for each ``--threads`` n and
PyTorch's default thread count, while ``--busy`` other processes use the CPU (each a Python loop that never
sleeps: another notebook, a browser tab, a virus scan). Conditions alternate within each round, and each is
the median of ``--rounds`` rounds, given as a ratio to the default thread count timed in the same rounds.
It also says whether the losses are bit-for-bit the same with each thread count.
The course's rule (course_utils/device.py, ``configure_threads``) was chosen from this table.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time

import torch
import torch.nn as nn

from course_utils.dncnn import DnCNN
from course_utils.unet import UNet


def _busy() -> None:
    while True:
        pass


def workloads():
    return {
        "UNet(1, 1, 8), 8 x 1x64x64": (lambda: UNet(1, 1, 8), (8, 1, 64, 64), nn.BCEWithLogitsLoss()),
        "DnCNN(6, 16), 8 x 3x48x48": (lambda: DnCNN(6, 16), (8, 3, 48, 48), nn.MSELoss()),
    }


def run(make, shape, loss_fn, steps: int, threads: int) -> tuple[float, list[float]]:
    """Seconds for ``steps`` Adam steps (after 2 warm-up steps) and the losses, with ``threads`` threads."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = make()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    data = [(torch.rand(shape, generator=g), torch.rand(shape, generator=g).round())]
    data *= steps + 2
    losses = []
    for i, (x, y) in enumerate(data):
        if i == 2:
            t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return time.perf_counter() - t0, losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    default = torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{cores} cores, PyTorch {torch.__version__}, default threads {default}, load {os.getloadavg()}")
    counts = sorted(set(args.threads) - {default})
    for name, (make, shape, loss_fn) in workloads().items():
        same = {n: run(make, shape, loss_fn, 3, n)[1] == run(make, shape, loss_fn, 3, default)[1] for n in counts}
        print(f"\n{name}: losses bit-for-bit equal to the default's: {same}")
        print(f"{'other busy processes':>22} | {'threads':>8} | {'median s':>8} | {'min s':>6} | {'x default':>9}")
        for busy in args.busy:
            others = [mp.Process(target=_busy, daemon=True) for _ in range(busy)]
            for p in others:
                p.start()
            try:
                times = {n: [] for n in [default] + counts}
                for r in range(args.rounds):
                    order = list(times) if r % 2 == 0 else list(times)[::-1]
                    for n in order:
                        times[n].append(run(make, shape, loss_fn, args.steps, n)[0])
            finally:
                for p in others:
                    p.terminate()
                    p.join()
            base = statistics.median(times[default])
            for n, ts in times.items():
                label = f"{n} (default)" if n == default else str(n)
                med = statistics.median(ts)
                print(f"{busy:>22} | {label:>8} | {med:8.2f} | {min(ts):6.2f} | {med / base:9.2f}")
    torch.set_num_threads(default)
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
