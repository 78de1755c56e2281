"""Looking at tensors: image batches, small matrices, and input / target / output comparisons."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from tabulate import tabulate

__all__ = ["tile_batch", "voir_batch2D", "show_batch2d", "ppmatrix", "show_side_by_side"]

SEPARATOR = 5  # pixels between tiles, as in the original course


def _numpy(x) -> np.ndarray:
    if torch.is_tensor(x):
        return x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def tile_batch(tens, nx: int, k: int = 0, fill: float = 0.5, sep: int = SEPARATOR) -> np.ndarray:
    """Channel ``k`` of an (N, C, H, W) batch tiled ``nx`` images per row into one 2-D array.

    Tiles are separated by ``sep`` pixels of value ``fill``; a last, incomplete row is completed
    with ``fill``. The result has shape (rows·H + (rows-1)·sep, nx·W + (nx-1)·sep), rows = ceil(N/nx).
    """
    a = _numpy(tens)
    if a.ndim == 3:  # (N, H, W): one channel
        a = a[:, None]
    if a.ndim != 4:
        raise ValueError(f"expected a batch (N, C, H, W) or (N, H, W); got shape {a.shape}")
    n, c, h, w = a.shape
    if not 0 <= k < c:
        raise ValueError(f"channel k={k} does not exist: the batch has {c} channel(s)")
    if nx < 1 or n == 0:
        raise ValueError("need nx >= 1 and at least one image")
    nx = min(nx, n)
    rows = -(-n // nx)
    out = np.full((rows * h + (rows - 1) * sep, nx * w + (nx - 1) * sep), fill, dtype=np.float32)
    for i in range(n):
        r, col = divmod(i, nx)
        out[r * (h + sep): r * (h + sep) + h, col * (w + sep): col * (w + sep) + w] = a[i, k]
    return out


def voir_batch2D(tens, nx, fig, k=0, min_scale=0, max_scale=1, cmap="gray"):
    """Show channel ``k`` of an (N, C, H, W) batch, ``nx`` images per row, with a colour bar.

    The name and arguments are those of the original course ("voir" is French for "see"): ``fig`` is
    a matplotlib figure, ``min_scale``/``max_scale`` fix the colour scale (values outside are clipped
    in the display only). Separators between images are drawn at mid-scale. Returns the AxesImage.
    """
    image = tile_batch(tens, nx, k, fill=0.5 * (min_scale + max_scale))
    fig = fig if fig is not None else plt.figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    im = ax.imshow(image, interpolation="nearest", cmap=cmap, vmin=min_scale, vmax=max_scale)
    fig.colorbar(im, ax=ax)
    return im


def show_batch2d(batch, nx: int = 8, fig=None, channel: int = 0, vmin: float = 0, vmax: float = 1, cmap="gray"):
    """English alias of :func:`voir_batch2D`: ``show_batch2d(batch, nx=8)`` makes its own figure."""
    if fig is None:
        a = _numpy(batch)
        rows = -(-a.shape[0] // max(1, min(nx, a.shape[0])))
        fig = plt.figure(figsize=(min(12, 1.6 * min(nx, a.shape[0]) + 1.5), 1.6 * rows + 0.3))
    return voir_batch2D(batch, nx, fig, k=channel, min_scale=vmin, max_scale=vmax, cmap=cmap)


def ppmatrix(m, message: str | None = None) -> None:
    """Print a 2-D matrix (tensor or array; singleton dimensions are dropped) as a grid, 3 decimals."""
    a = _numpy(m)
    a = a.reshape([s for s in a.shape if s != 1] or [1])
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2:
        raise ValueError(f"ppmatrix prints 2-D matrices; this has shape {tuple(np.shape(m))}. Index it, e.g. m[0, 0].")
    if message:
        print(message)
    print(tabulate(a, tablefmt="fancy_grid", floatfmt=".3f"))


def show_side_by_side(
    images: Sequence,
    titles: Sequence[str] | None = None,
    n: int = 4,
    k: int = 0,
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    cmap="gray",
    size: float = 2.2,
):
    """Compare batches column by column: e.g. ``show_side_by_side([noisy, clean, output],
    ["input", "target", "output"])`` shows the first ``n`` images of each as rows.

    Each element of ``images`` is an (N, C, H, W) batch, an (N, H, W) batch of one-channel images,
    or a single (H, W) image (as everywhere in course_utils); channel ``k`` is shown. Returns the figure.
    """
    arrays = []
    for img in images:
        a = _numpy(img)
        a = a.reshape((1, 1) + a.shape) if a.ndim == 2 else a[:, None] if a.ndim == 3 else a
        if a.ndim != 4:
            raise ValueError(f"each image must be (N, C, H, W), (N, H, W) or (H, W); got {a.shape}")
        arrays.append(a)
    if titles is not None and len(titles) != len(arrays):
        raise ValueError(f"{len(arrays)} images but {len(titles)} titles")
    rows = min(n, min(a.shape[0] for a in arrays))
    fig, axes = plt.subplots(rows, len(arrays), figsize=(size * len(arrays), size * rows), squeeze=False)
    for j, a in enumerate(arrays):
        for i in range(rows):
            ax = axes[i, j]
            ax.imshow(a[i, k], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0 and titles is not None:
                ax.set_title(titles[j])
    fig.tight_layout()
    return fig
