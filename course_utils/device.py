"""Where tensors live: the one place that chooses the device for the whole course."""

from __future__ import annotations

import os

import torch

__all__ = ["get_device"]


def get_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple MPS, then the CPU.

    Args:
        prefer: force a device ("cuda", "mps", "cpu", "cuda:1", ...). When None, the environment
            variable ``COURSE_DEVICE`` is read, then the best available device is chosen.

    Raises:
        RuntimeError: the requested device is not available on this machine, with what is.
    """
    choice = prefer or os.environ.get("COURSE_DEVICE") or None
    if choice is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(choice)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {choice!r} was asked for but CUDA is not available here. "
            "In Colab: Runtime > Change runtime type > GPU. Elsewhere use 'cpu' or unset COURSE_DEVICE."
        )
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError(f"device {choice!r} was asked for but Apple MPS is not available here; use 'cpu'.")
    return device
