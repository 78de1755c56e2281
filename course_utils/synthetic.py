"""Synthetic 'cells under clutter' images of the original course, vectorised in PyTorch.

Every image is 1x64x64 (a batch is an (N, 1, 64, 64) float tensor), built from two ingredients:

* **clean cells** (:func:`make_cells`): per image a Poisson(rate·64·64) number of discs (rate 0.002, so
  8.2 discs on average), radius uniform in {5..10}, the whole disc inside the image, dome profile
  ``0.39 - 0.36·d²/r²`` inside the disc times an amplitude U(0.6, 1); overlapping discs add.
  Values lie in [0, ~1.2], background 0.
* **clutter** (:func:`make_clutter`), two kinds, each with a Poisson(rate·64·64) count per image:
  bars (long side 20..50, short side 2..10, horizontal or vertical, constant value U(0, 0.8)) and
  speckled rectangles (sides 10..30, value U(0, 0.8) per rectangle times relu(N(0,1)) per pixel).
  Clutter is never negative and adds to the image.

The four generators of the original practicals are built from them (``n`` is the batch size):

=====================  =================================================================================
``gen(n)``             (clean + clutter at rate 0.0003, clean): supervised denoising pairs
``gen_noise2noise(n)`` (clean + clutter1, clean + clutter2), independent clutter at 0.0005 (``rate=``)
``gen1_NES(n)``        clean + clutter at 0.0003 (noisy images only, for NES)
``gen2_NES(n)``        clutter only at 0.0003 (noise samples, for NES)
=====================  =================================================================================

Each takes ``generator=`` (a ``torch.Generator``, for reproducible streams) and ``device=``; with a
generator the images are made on the generator's device. A batch of 64 takes a few milliseconds: the
random numbers are drawn object set by object set, the few hundred numbers that place the objects are
worked on in NumPy on the CPU (an operation on so small an array costs a fraction of a torch one), and
each kind of object is stamped into every image of the call with one ``scatter_add_`` on the device. The
tensors one call returns are views of one buffer (the noisy and the clean images of ``gen``, say), so they
are freed together. On the CPU the large temporaries (indices, masks, the speckles' noise) go to a few MB
of memory each thread keeps for the next call. That machinery is apart, in :mod:`course_utils._stamping`;
this module holds the image model and the generators.
Integer ranges above are inclusive, as ``random.randint`` in the original code.
"""

from __future__ import annotations

import functools
import numbers
import operator

import numpy as np
import torch

from ._stamping import Draw, Scratch, cat, frozen, int_in, line_masks, lines_of, stamp

__all__ = [
    "IMAGE_SIZE",
    "CELL_RATE",
    "CLUTTER_RATE",
    "N2N_CLUTTER_RATE",
    "make_cells",
    "make_clutter",
    "gen",
    "gen_noise2noise",
    "gen1_NES",
    "gen2_NES",
]

IMAGE_SIZE = 64
CELL_RATE = 0.002  # discs per pixel: Poisson mean 0.002·64·64 ≈ 8.2 per image
CLUTTER_RATE = 0.0003  # bars (and, separately, speckled rectangles) per pixel, in gen / NES
N2N_CLUTTER_RATE = 0.0005  # the same for each of the two noisy copies of gen_noise2noise

RADIUS = (5, 10)
BAR_LONG, BAR_SHORT = (20, 50), (2, 10)
SPECKLE_SIDE = (10, 30)
CLUTTER_MAX = 0.8


def make_cells(n: int, rate: float = CELL_RATE, *, size: int = IMAGE_SIZE, generator=None, device=None) -> torch.Tensor:
    """Clean 'cells': (n, 1, size, size) float images of dome-shaped discs (see module docstring)."""
    return _render(n, 1, (0,), (), cell_rate=rate, size=size, generator=generator, device=device)[0]


def make_clutter(
    n: int, rate: float = CLUTTER_RATE, *, size: int = IMAGE_SIZE, generator=None, device=None, add_to=None
):
    """Clutter only: (n, 1, size, size) images of bars and speckled rectangles (>= 0).

    ``add_to``: an (n, 1, size, size) float tensor to add the clutter to, in place, and return (it saves
    allocating and adding a separate clutter image)."""
    out = _render(n, 1, (), (0,), clutter_rate=rate, size=size, generator=generator, device=device, add_to=add_to)
    return out if add_to is not None else out[0]


def gen(n: int, *, generator=None, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Supervised pairs ``(noisy, clean)``, each (n, 1, 64, 64): clean cells plus clutter at 0.0003."""
    noisy, clean = _render(n, 2, (0, 1), (0,), clutter_rate=CLUTTER_RATE, generator=generator, device=device)
    return noisy, clean


def gen_noise2noise(
    n: int, *, rate: float = N2N_CLUTTER_RATE, generator=None, device=None, return_clean: bool = False
) -> tuple[torch.Tensor, ...]:
    """Noise2noise pairs ``(clean + clutter1, clean + clutter2)``, each (n, 1, 64, 64) float, values >= 0.

    The two clutters are independent (Lehtinen et al. 2018, "Noise2Noise: Learning Image Restoration
    without Clean Data", ICML), each with ``rate`` bars and ``rate`` speckled rectangles per pixel on
    average (a Poisson(rate·64·64) count per image). The default, 0.0005 (:data:`N2N_CLUTTER_RATE`), is the
    original course's and is more clutter than :func:`gen`'s test images carry (0.0003,
    :data:`CLUTTER_RATE`); ``rate=CLUTTER_RATE`` gives pairs cluttered as the test images are. Any rate
    draws the random numbers in the same order, so one seed gives the same cells at every rate. With
    ``return_clean=True`` the clean images come third, for evaluation only: a noise2noise model never
    trains on them.

    Raises:
        ValueError: ``rate`` is not a finite number >= 0.
    """
    rate = _check_rate(rate)
    layers = 3 if return_clean else 2
    return tuple(
        _render(n, layers, tuple(range(layers)), (0, 1), clutter_rate=rate, generator=generator, device=device)
    )


def gen1_NES(n: int, *, generator=None, device=None) -> torch.Tensor:
    """Noisy images only, (n, 1, 64, 64): clean cells plus clutter at 0.0003 (Neural Egg Separation,
    Halperin, Ephrat and Hoshen 2018: the mixtures)."""
    return _render(n, 1, (0,), (0,), clutter_rate=CLUTTER_RATE, generator=generator, device=device)[0]


def gen2_NES(n: int, *, generator=None, device=None) -> torch.Tensor:
    """Noise samples only, (n, 1, 64, 64): clutter at 0.0003, no cells (NES: the known noise source)."""
    return _render(n, 1, (), (0,), clutter_rate=CLUTTER_RATE, generator=generator, device=device)[0]


# ---------------------------------------------------------------- the image model drawn with the stamping engine
# (course_utils._stamping): where each disc, bar and speckled rectangle goes and what it adds.


@functools.lru_cache(maxsize=16)
def _side_ranges(kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column (low, high, span) of a rectangle's two sides, for :func:`int_in`: (long, short) of the
    bars, (height, width) of the speckled rectangles."""
    low, high = zip(BAR_LONG, BAR_SHORT) if kind == "bar" else zip(SPECKLE_SIDE, SPECKLE_SIDE)
    low, high = np.array(low), np.array(high)
    return frozen(low), frozen(high), frozen(high - low + 1)


def _check_n(n: int, size: int) -> int:
    try:
        n = operator.index(n)  # ints, NumPy integers, 0-d integer tensors
    except TypeError:
        raise ValueError(f"n is the number of images and must be an integer >= 0, not {n!r}") from None
    if n < 0:
        raise ValueError(f"n is the number of images and must be an integer >= 0, not {n!r}")
    if size < 2 * RADIUS[1] + 1 or size < BAR_LONG[1]:
        raise ValueError(f"size must be at least {BAR_LONG[1]} pixels, not {size}")
    return n


def _check_rate(rate) -> float:
    value = float(rate) if isinstance(rate, numbers.Real) else float("nan")  # a string is no rate
    if not np.isfinite(value) or value < 0:
        raise ValueError(
            f"rate is the number of clutter objects per pixel, a finite number >= 0 (the course uses "
            f"{CLUTTER_RATE} and {N2N_CLUTTER_RATE}), not {rate!r}"
        )
    return value


def _rectangles(
    flat: torch.Tensor,
    size: int,
    img,
    u,
    sides,
    longest: int,
    value,
    speckle=None,
    spare: bool = False,
    scratch: Scratch | None = None,
) -> None:
    """Add axis-aligned rectangles in place into ``flat``, the 1-D view of (images, size, size) images,
    each rectangle wholly inside its image; ``spare``: ``flat`` ends with (longest - 1)·size spare elements.

    Rectangle j lies in image img[j]; the NumPy arrays ``img`` (t,), ``u`` (t, 2) hold the uniforms that place it (row,
    column), ``sides`` (t, 2) its (height, width) and ``value`` (t,) what each pixel gets, times the tensor
    ``speckle`` (lines, longest) per pixel when given (relu(N(0, 1)) for speckled rectangles; overwritten). A
    rectangle is stamped as min(height, width) lines along its longer side, each ``longest`` pixels long
    (>= every rectangle's longer side) of which the first max(height, width) are real: cutting along the
    longer side keeps the padding small (a 50x2 bar is 2 lines, not 50). ``scratch``: where the temporaries go.
    """
    corner = (u * (size + 1 - sides).astype(u.dtype)).astype(np.int64)  # (top, left): wholly inside the image
    n_lines, length = np.minimum(sides[:, 0], sides[:, 1]), np.maximum(sides[:, 0], sides[:, 1])
    rect, k = lines_of(n_lines)  # the rectangle of each line, and the line's index in it
    tall = (sides[:, 0] > sides[:, 1])[rect]  # lines run down the columns
    first = ((img * size + corner[:, 0]) * size + corner[:, 1])[rect] + np.where(tall, k, k * size)
    masks = line_masks(longest, str(flat.device), flat.dtype)  # row L: 1 on the first L pixels of a line
    stamp(flat, first, np.where(tall, size, 1), masks, length[rect], value[rect], speckle, spare, scratch)


@functools.lru_cache(maxsize=8)
def _disc_rows(device: str):
    """The discs' rows, for each radius r in RADIUS: its 2r-1 rows dy = 1-r..r-1, each the dome profile
    0.39 - 0.36·d²/r² at dx = 1-R..R-1 (0 outside the disc). Returns the profile (rows, 2R-1), a tensor on
    ``device``, and the NumPy array of the first row of each radius (radii,)."""
    rows, first = [], []
    dx = torch.arange(1 - RADIUS[1], RADIUS[1]).float()
    for r in range(RADIUS[0], RADIUS[1] + 1):
        first.append(len(rows))
        for dy in range(1 - r, r):
            d2 = dx**2 + dy**2
            rows.append((0.39 - 0.36 * d2 / r**2) * (d2 < r * r))
    return torch.stack(rows).to(device), frozen(np.array(first))


def _discs(flat: torch.Tensor, size: int, img, u, scratch: Scratch | None = None) -> None:
    """Add dome-shaped discs in place into ``flat``, the 1-D view of (images, size, size) images followed
    by RADIUS[1] - 1 spare elements. Disc j lies in image img[j]; the NumPy array ``u`` (t, 4) holds its
    uniforms (radius, row, column, amplitude); ``scratch``: where the temporaries go."""
    r = int_in(u[:, 0], *RADIUS)
    span = (size - 2 * r + 1).astype(u.dtype)  # centre in [r, size - r]: the whole disc inside the image
    centre = (img * size + r) * size + r + (u[:, 1] * span).astype(np.int64) * size + (u[:, 2] * span).astype(np.int64)
    amp = u[:, 3] * 0.4 + 0.6
    # each disc is stamped as its 2r-1 rows of 2R-1 pixels centred on it: the rows lie inside the image,
    # so only the padding pixels of the very last row can pass the end, into the R-1 spare elements
    profile, first = _disc_rows(str(flat.device))
    disc, k = lines_of(2 * r - 1)  # the disc of each stamped row, and the row's index in it
    row = first[r - RADIUS[0]][disc] + k  # its row in the table
    start = (centre - (r - 1) * size + 1 - RADIUS[1])[disc] + k * size  # its first pixel (dy = k + 1 - r, dx = 1 - R)
    stamp(flat, start, 1, profile, row, amp[disc], None, True, scratch)


def _render(
    n: int,
    layers: int,
    cells: tuple[int, ...],
    clutter: tuple[int, ...],
    *,
    cell_rate: float = CELL_RATE,
    clutter_rate: float = CLUTTER_RATE,
    size: int = IMAGE_SIZE,
    generator=None,
    device=None,
    add_to: torch.Tensor | None = None,
) -> torch.Tensor:
    """``layers`` stacks of ``n`` images, as one (layers, n, 1, size, size) tensor: one set of cells, shown
    in the layers listed in ``cells``, and an independent clutter for each layer listed in ``clutter``.

    The random numbers come in a fixed order: the cells, then per clutter layer its bars, its speckled
    rectangles and their noise. Each kind of object is stamped into all its layers at once: one scatter for
    the discs (right after their draw), one for the bars, one for the speckled rectangles.
    ``add_to`` (clutter only): an (n, 1, size, size) tensor to add the clutter to, in place, and return.
    """
    n = _check_n(n, size)
    d = Draw(generator, device)
    area = n * size * size
    if add_to is not None:
        if add_to.shape != (n, 1, size, size) or not add_to.is_contiguous() or add_to.device != d.device:
            raise ValueError(
                f"add_to must be a contiguous ({n}, 1, {size}, {size}) tensor on {d.device}, "
                f"got {tuple(add_to.shape)} on {add_to.device}"
            )
        flat = add_to.view(-1)
    else:  # spare elements after the images, for the padding of the discs' and the rectangles' lines
        flat = torch.empty(layers * area + _spare(size), device=d.device, dtype=torch.float32)
        images = flat[: layers * area].view(layers, area)
        for layer in range(layers):
            if layer not in cells[1:]:  # those get a copy of the cells below
                images[layer].zero_()
        flat[layers * area :].zero_()
    scratch = Scratch(d.device)
    if cells:  # stamped at once (stamping draws nothing), so their temporaries are gone before the clutter's
        img = d.counts(n, cell_rate, size, offset=cells[0] * n)
        _discs(flat, size, img, d.uniform((len(img), 4)), scratch)  # uniforms: radius, row, column, amplitude
        scratch.reset()
        for layer in cells[1:]:
            images[layer].copy_(images[cells[0]])
    bars, specks, speckle = [], [], []
    for layer in clutter:
        img = d.counts(n, clutter_rate, size, offset=layer * n)
        bars.append((img, d.uniform((len(img), 6))))  # long side, short side, orientation, value, row, column
        img = d.counts(n, clutter_rate, size, offset=layer * n)
        u = d.uniform((len(img), 5))  # height, width, value, row, column
        sides = int_in(u[:, :2], *_side_ranges("speckle"))
        specks.append((img, u, sides))
        n_lines = int(np.minimum(sides[:, 0], sides[:, 1]).sum())  # as _rectangles cuts them
        noise = scratch.empty((n_lines, SPECKLE_SIDE[1]), flat.dtype)  # the layers' noise: consecutive pieces
        speckle.append(torch.randn(noise.shape, generator=d.g, out=noise).clamp_min_(0))
    if clutter:
        img, u = cat(bars)
        sides = int_in(u[:, :2], *_side_ranges("bar"))  # (long, short)
        sides = np.where(u[:, 2:3] < 0.5, sides, sides[:, ::-1])  # (height, width): vertical or horizontal
        _rectangles(
            flat, size, img, u[:, 4:], sides, BAR_LONG[1], CLUTTER_MAX * u[:, 3], spare=add_to is None, scratch=scratch
        )
        scratch.reset(torch.long)  # the bars' indices are done with (their float values sit after the noise: kept)
        img, u, sides = cat(specks)
        _rectangles(
            flat,
            size,
            img,
            u[:, 3:],
            sides,
            SPECKLE_SIDE[1],
            CLUTTER_MAX * u[:, 2],
            speckle=scratch.join(speckle),
            spare=add_to is None,
            scratch=scratch,
        )
    if add_to is not None:
        return add_to
    return flat[: layers * area].view(layers, n, 1, size, size)


def _spare(size: int) -> int:
    """Elements after the images of :func:`_render`'s buffer, where the padding of stamped lines may land:
    R - 1 for a disc's row, (longest - 1)·size for a rectangle's line."""
    return max(RADIUS[1] - 1, (max(BAR_LONG[1], SPECKLE_SIDE[1]) - 1) * size)
