"""The stamping engine behind :mod:`course_utils.synthetic` (private: the generators are the interface).

Fast and shape-agnostic: it draws random numbers in a fixed order (:class:`Draw`), works on the few hundred
numbers that place a call's objects in NumPy on the CPU, and adds lines of pixels into a flat image buffer
with one ``scatter_add_`` per kind of object (:func:`stamp`). On the CPU the large temporaries go to a few MB
of memory each thread keeps for the next call (:class:`Scratch`): allocating and freeing them per call costs
more than the arithmetic at this scale. What the objects look like (discs, bars, speckled rectangles) is the
image model, in :mod:`course_utils.synthetic`.
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np
import torch


def device_of(generator: torch.Generator | None, device) -> torch.device:
    if generator is not None:
        if device is not None and torch.device(device) != generator.device:
            raise ValueError(
                f"generator is on {generator.device} but device={device!s} was asked for; "
                "make the generator on that device: make_generator(seed, device)"
            )
        return generator.device
    return torch.device(device) if device is not None else torch.device("cpu")


class Draw:
    """Random draws on one device from one generator (or the global RNG), returned as NumPy arrays on the
    CPU (see :func:`host`): they place the objects. The speckles' per-pixel noise is drawn with ``g`` as a tensor."""

    def __init__(self, generator, device):
        self.g = generator
        self.device = device_of(generator, device)

    def uniform(self, shape):
        """Uniform numbers in [0, 1) of ``shape``, as a NumPy array."""
        return host(torch.rand(shape, generator=self.g, device=self.device, dtype=torch.float32))

    def counts(self, n, rate, size, offset: int = 0, inverse_cdf: bool | None = None) -> np.ndarray:
        """Per image, a Poisson(rate·size²) number of objects; returns the image index of each object,
        plus ``offset`` (the first image's index in the buffer).

        ``torch.poisson`` on CPU and CUDA; elsewhere (Apple MPS, where it may be missing) the same law by
        inverse CDF from uniforms, exact up to float32 rounding.
        """
        lam = rate * size * size
        if inverse_cdf is None:
            inverse_cdf = self.device.type not in ("cpu", "cuda")
        if inverse_cdf:
            counts = (self.uniform((n, 1)) >= poisson_cdf(lam)).sum(1)
        else:
            counts = host(torch.poisson(poisson_means(n, lam, str(self.device)), generator=self.g)).astype(np.int64)
        return np.repeat(np.arange(offset, offset + n), counts)  # offset counts[0] times, then offset + 1 ...


def host(t: torch.Tensor) -> np.ndarray:
    """A tensor's values as a NumPy array (a view on the CPU; off the CPU, a copy: a few hundred numbers)."""
    return t.numpy() if t.device.type == "cpu" else t.cpu().numpy()


def frozen(a: np.ndarray) -> np.ndarray:
    """``a``, made read-only: the cached tables are shared by every call."""
    a.flags.writeable = False
    return a


def tensor(a: np.ndarray, device: torch.device) -> torch.Tensor:
    """A NumPy array as a tensor on ``device`` (no copy on the CPU)."""
    t = torch.from_numpy(a)
    return t if device.type == "cpu" else t.to(device)


@functools.lru_cache(maxsize=64)
def poisson_means(n: int, lam: float, device: str) -> torch.Tensor:
    """(n,) tensor of Poisson means lam (read only), kept: a batch size asks for the same one every call."""
    return torch.full((n,), lam, device=device)


@functools.lru_cache(maxsize=64)
def poisson_cdf(lam: float) -> np.ndarray:
    """P(X <= k) for X ~ Poisson(lam), k = 0, 1, ... until the tail is negligible (< 1e-12), in float32."""
    k = np.arange(int(lam + 12 * math.sqrt(lam) + 12))
    lgamma = np.array([math.lgamma(x + 1) for x in k])
    cdf = np.exp(k * math.log(lam) - lam - lgamma).cumsum() if lam > 0 else np.ones(len(k))
    return frozen(cdf.astype(np.float32))


def int_in(u: np.ndarray, low, high, span=None) -> np.ndarray:
    """Uniform integers in [low, high] (both included) from float uniforms ``u`` in [0, 1); ``low`` and
    ``high`` are integers, or per-column arrays for a (t, k) ``u``; ``span``: high - low + 1, if at hand.
    The arithmetic is in ``u``'s float type, as torch does it."""
    span = high - low + 1 if span is None else span
    return np.minimum((u * np.asarray(span, u.dtype) + np.asarray(low, u.dtype)).astype(np.int64), high)


@functools.lru_cache(maxsize=16)
def steps_row(length: int, device: str) -> torch.Tensor:
    """The (1, length) row 0, 1, ..., length - 1: the steps along a stamped line."""
    return torch.arange(length, device=device).view(1, -1)


class Scratch:
    """Reusable CPU memory for one call's large temporaries (the stamped lines' indices, values and masks).

    Allocating and freeing a few MB per call costs more than the arithmetic on this scale: the C library
    hands freed memory back to the system and page faults take it again on the next call. So each thread
    keeps one buffer per dtype (at most ``KEEP`` bytes each; larger calls allocate as usual) and a call
    takes consecutive pieces of it. Off the CPU it allocates as usual (CUDA's allocator caches already).
    Nothing a generator returns lives here. The instances of one thread share that memory: make one per
    call and pass it down, never a second one while the first is in use.
    """

    KEEP = 16 << 20
    _local = threading.local()

    def __init__(self, device: torch.device):
        self.buffers = self._local.__dict__.setdefault("buffers", {}) if device.type == "cpu" else None
        self.device, self.used = device, {}

    def empty(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """An uninitialised tensor of ``shape``, not overlapping any other piece of this call."""
        numel = math.prod(shape)
        if self.buffers is None:
            return torch.empty(shape, dtype=dtype, device=self.device)
        start, buf = self.used.get(dtype, 0), self.buffers.get(dtype)
        if buf is None or start + numel > buf.numel():
            grown = (start + numel) * 3 // 2  # with room to spare, so that it settles after a few calls
            if grown * dtype.itemsize > self.KEEP:
                return torch.empty(shape, dtype=dtype)
            with torch.inference_mode(False):  # a normal tensor, writable in and out of inference mode
                buf = self.buffers[dtype] = torch.empty(grown, dtype=dtype)  # the old one lives on in its pieces
        self.used[dtype] = start + numel
        return buf[start : start + numel].view(shape)

    def reset(self, *dtypes: torch.dtype) -> None:
        """Let later pieces reuse the memory of the earlier ones of these dtypes (all by default)."""
        for dtype in dtypes or list(self.used):
            self.used.pop(dtype, None)

    @staticmethod
    def join(parts: list[torch.Tensor]) -> torch.Tensor:
        """``torch.cat(parts)``, without a copy when the parts are consecutive pieces of one buffer."""
        if len(parts) == 1:
            return parts[0]
        first, end = parts[0], parts[0].storage_offset() + parts[0].numel()
        for p in parts[1:]:
            if p.untyped_storage().data_ptr() != first.untyped_storage().data_ptr() or p.storage_offset() != end:
                return torch.cat(parts)
            end += p.numel()
        rows = (end - first.storage_offset()) // math.prod(first.shape[1:])
        return first.as_strided((rows,) + first.shape[1:], first.stride())


def lines_of(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For objects made of ``counts[j]`` lines each: the object of every line, and the line's index
    within its object (0, 1, ..., counts[j] - 1)."""
    owner = np.repeat(np.arange(len(counts)), counts)  # 0 counts[0] times, then 1 counts[1] times, ...
    return owner, np.arange(len(owner)) - (counts.cumsum() - counts)[owner]


@functools.lru_cache(maxsize=16)
def line_masks(longest: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    """(longest + 1, longest) table: row L is 1 on the first L pixels of a line and 0 on the rest (a
    lookup costs less than comparing, and multiplying by a float mask less than by a bool one)."""
    a = torch.arange(longest)
    return (a < torch.arange(longest + 1).view(-1, 1)).to(device=device, dtype=dtype)


def stamp(
    flat: torch.Tensor, first, step, table: torch.Tensor, row, scale, noise, spare: bool, scratch: Scratch | None
) -> None:
    """Add lines of pixels in place into the 1-D ``flat``: line i adds ``table[row[i]]·scale[i]`` (times the
    tensor ``noise[i]`` when given) to the ``table.shape[1]`` pixels ``first[i] + step[i]·a``, a = 0, 1, ...
    ``first``, ``row``, ``scale`` and ``step`` (or one int for every line) are NumPy arrays (lines,), ``noise``
    a (lines, width) tensor, overwritten. Where a table row is 0 (a line's padding) its pixels add 0: they
    only have to stay in ``flat``, which they do when ``spare`` says it ends with room for them; otherwise
    the indices are clamped. One ``scatter_add_`` for all the lines."""
    scratch = scratch or Scratch(flat.device)
    device, shape = flat.device, (len(first), table.shape[1])
    index = scratch.empty(shape, torch.long)
    start, steps = tensor(first, device).view(-1, 1), steps_row(shape[1], str(device))
    if isinstance(step, int):
        torch.add(start, steps, alpha=step, out=index)
    else:  # first + step·a
        torch.addcmul(start, tensor(step, device).view(-1, 1), steps, out=index)
    if not spare:
        index.clamp_(0, flat.numel() - 1)
    values = torch.index_select(table, 0, tensor(row, device), out=scratch.empty(shape, table.dtype))
    scale = tensor(scale, device).view(-1, 1)
    values = values.mul_(scale) if noise is None else noise.mul_(values).mul_(scale)  # in place: one buffer less
    flat.scatter_add_(0, index.view(-1), values.view(-1))


def cat(parts: list):
    """Concatenate per-layer draws: a list of arrays, or of tuples of arrays, joined along axis 0."""
    if isinstance(parts[0], tuple):
        return tuple(cat(list(p)) for p in zip(*parts))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
