"""Where tensors live: the one place that chooses the device for the whole course.

``get_device()`` picks CUDA, then Apple MPS, then the CPU. The environment variable ``COURSE_DEVICE`` (or
``get_device("...")``) forces one: ``cpu``, ``cuda``, ``cuda:N`` (the N-th GPU, from 0) or ``mps``, in any
case. ``gpu`` is not accepted: it could mean ``cuda`` or ``mps``, so the message says which to write.
"""

from __future__ import annotations

import os
import re

import torch

__all__ = ["get_device"]

DEVICE_CHOICES = "cpu, cuda, cuda:N (N = 0, 1, ...) or mps"
_VALID = re.compile(r"cpu|cuda(:\d+)?|mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple MPS, then the CPU.

    Args:
        prefer: force a device ("cuda", "mps", "cpu", "cuda:1", ...). When None, the environment
            variable ``COURSE_DEVICE`` is read, then the best available device is chosen.

    Raises:
        ValueError: the requested device is not one of cpu, cuda, cuda:N, mps; the message names the
            variable (or the argument), the value and the valid choices.
        RuntimeError: the requested device is not available on this machine, with what to do.
    """
    if isinstance(prefer, torch.device):
        prefer = str(prefer)
    if prefer:
        raw, source = prefer, f"get_device({prefer!r})"
    else:
        raw, source = os.environ.get("COURSE_DEVICE", ""), "COURSE_DEVICE"
    choice = raw.strip().lower()
    if not choice:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    said = f"COURSE_DEVICE={raw!r}" if source == "COURSE_DEVICE" else source
    undo = "unset COURSE_DEVICE" if source == "COURSE_DEVICE" else "call get_device() without an argument"
    if not _VALID.fullmatch(choice):
        hint = " (for an NVIDIA GPU write cuda, for an Apple GPU mps)" if choice.startswith("gpu") else ""
        bad = said if source == "COURSE_DEVICE" else f"{said}: {raw!r}"
        raise ValueError(
            f"{bad} is not a device. Use one of {DEVICE_CHOICES}{hint}, or {undo} to use the best device available."
        )
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"{said}: CUDA is not available here. In Colab: Runtime > Change runtime type > GPU. "
                f"Elsewhere use 'cpu' or {undo}."
            )
        index, count = int(choice.partition(":")[2] or 0), torch.cuda.device_count()
        if index >= count:
            raise RuntimeError(
                f"{said}: there is no GPU {index} here; this machine has {count} GPU{'s' * (count != 1)} "
                f"(cuda:0 to cuda:{count - 1}). Use one of them, or {undo}."
            )
    if choice == "mps" and not _mps_available():
        raise RuntimeError(f"{said}: Apple MPS is not available here; use 'cpu', or {undo}.")
    return torch.device(choice)
