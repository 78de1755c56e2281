"""Reproducibility: the one place that seeds Python, NumPy and PyTorch."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything", "make_generator"]

DEFAULT_SEED = 0


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and every GPU) with ``seed``.

    This makes a notebook re-run give the same numbers on the same machine and library versions.
    GPU kernels may still differ in their last digits between runs (cuDNN picks algorithms).
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def make_generator(seed: int = DEFAULT_SEED, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``: an independent, reproducible stream."""
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(int(seed))
    return gen
