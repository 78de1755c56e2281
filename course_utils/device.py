"""Where tensors live: the one place that chooses the device, and the CPU threads, for the whole course.

``get_device()`` picks CUDA, then Apple MPS, then the CPU. The environment variable ``COURSE_DEVICE`` (or
``get_device("...")``) forces one: ``cpu``, ``cuda``, ``cuda:N`` (the N-th GPU, from 0) or ``mps``, in any
case. ``gpu`` is not accepted: it could mean ``cuda`` or ``mps``, so the message says which to write.

``configure_threads()``, called by every notebook's set-up cell (:func:`course_utils.version.check_version`),
chooses PyTorch's CPU thread count: on the CPU one core is left to the rest of the machine (see its docstring
for the measurement). The environment variable ``COURSE_THREADS`` overrides it: a number of threads, or
``default`` for PyTorch's own choice.
"""

from __future__ import annotations

import os
import re

import torch

__all__ = ["get_device", "configure_threads", "THREADS_ENV"]

DEVICE_CHOICES = "cpu, cuda, cuda:N (N = 0, 1, ...) or mps"
THREADS_ENV = "COURSE_THREADS"
_TORCH_DEFAULT_THREADS = torch.get_num_threads()  # PyTorch's own choice, before anything changed it
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


def _cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def configure_threads(device: str | torch.device | None = None) -> int:
    """Set PyTorch's CPU thread count for this session and return it.

    Training on the CPU: ``min(PyTorch's default, cores - 1)`` threads, at least 1, i.e. one thread on a 2-core
    machine. PyTorch's default (one thread per core) is fastest on an idle machine, but its threads wait for
    each other at every operation, so that anything else on the CPU (a browser, another notebook) stalls all of
    them: on the course's 2-core machine, shared with other work, training steps of notebooks 04 and 05's models
    ran 4 to 17 times slower with 2 threads than with 1 (``benchmarks/bench_threads.py``, table in
    ``benchmarks/RESULTS.md``). On a GPU (``cuda``, ``mps``) the count is left alone: the CPU only feeds it.

    ``COURSE_THREADS=n`` (a whole number >= 1) sets n threads, ``COURSE_THREADS=default`` keeps PyTorch's
    choice. The count changes the order of floating-point sums, so results differ in their last digits from
    a run with another count (the stored solutions were executed with this rule).

    Raises:
        ValueError: ``COURSE_THREADS`` is neither a whole number >= 1 nor ``default``.
    """
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw.lower() == "default":
        threads = _TORCH_DEFAULT_THREADS
    elif raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(
                f"{THREADS_ENV}={raw!r} is not a number of threads: set it to a whole number >= 1, to 'default' "
                f"for PyTorch's own choice ({_TORCH_DEFAULT_THREADS} here), or unset it for the course's rule."
            )
        threads = int(raw)
    else:
        device = torch.device(device) if device is not None else get_device()
        if device.type != "cpu":
            return torch.get_num_threads()
        threads = max(1, min(_TORCH_DEFAULT_THREADS, _cores() - 1))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
