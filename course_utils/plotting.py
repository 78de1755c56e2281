"""Looking at tensors: image batches, small matrices, and input / target / output comparisons."""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from tabulate import tabulate

__all__ = [
    "tile_batch",
    "voir_batch2D",
    "show_batch2d",
    "ppmatrix",
    "show_side_by_side",
    "error_map",
    "show_errors",
    "explore_threshold",
    "widgets_available",
    "storing_outputs",
    "STATIC_WIDGETS_ENV",
    "stored_widget_note",
    "text_colour",
    "ERROR_COLOURS",
    "as_picture",
    "TrainingMonitor",
]

SEPARATOR = 5  # pixels between tiles, as in the original course


def _numpy(x) -> np.ndarray:
    if torch.is_tensor(x):
        return x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def _batch(tens) -> np.ndarray:
    """A batch as a float32 (N, C, H, W) array. Read as stored images are: (N, H, W, C) with C = 1, 3 or 4
    (channels last, as NumPy arrays of image files are, told by H > 4) is moved to (N, C, H, W); one
    (H, W, 3) or (H, W, 4) colour image becomes a batch of one; (N, H, W) is N one-channel images."""
    a = _numpy(tens)
    if a.ndim == 4 and a.shape[-1] in (1, 3, 4) and a.shape[1] > 4:
        a = a.transpose(0, 3, 1, 2)
    elif a.ndim == 3 and a.shape[-1] in (3, 4) and min(a.shape[:2]) > 4:
        a = a.transpose(2, 0, 1)[None]
    elif a.ndim == 3:  # (N, H, W): one channel
        a = a[:, None]
    return a


def tile_batch(tens, nx: int, k: int = 0, fill: float = 0.5, sep: int = SEPARATOR) -> np.ndarray:
    """Channel ``k`` of an (N, C, H, W) batch tiled ``nx`` images per row into one 2-D array.

    Also (N, H, W) (one channel), and channels last as image files are read: (N, H, W, C) with C = 1, 3 or
    4, or one (H, W, 3) image. Tiles are separated by ``sep`` pixels of value ``fill``; a last, incomplete row
    is completed with ``fill``. The result has shape (rows·H + (rows-1)·sep, nx·W + (nx-1)·sep), rows = ceil(N/nx).
    """
    a = _batch(tens)
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
        out[r * (h + sep) : r * (h + sep) + h, col * (w + sep) : col * (w + sep) + w] = a[i, k]
    return out


def _colour_scale(tens, low, high) -> tuple[float, float]:
    """The colour scale of a batch where not given: 0-255 for uint8 images, the values' range for other
    whole numbers, 0-1 otherwise (floats, booleans)."""
    if low is not None and high is not None:
        return low, high
    dtype = str(tens.dtype).removeprefix("torch.") if hasattr(tens, "dtype") else "float"
    if dtype == "uint8":
        default = (0, 255)
    elif dtype.startswith(("int", "uint")):
        a = _numpy(tens)
        default = (float(a.min()), float(a.max())) if a.size else (0, 1)
    else:
        default = (0, 1)
    return default[0] if low is None else low, default[1] if high is None else high


def voir_batch2D(tens, nx, fig, k=0, min_scale=None, max_scale=None, cmap="gray"):
    """Show channel ``k`` of an (N, C, H, W) batch, ``nx`` images per row, with a colour bar.

    The name and arguments are those of the original course ("voir" is French for "see"): ``fig`` is
    a matplotlib figure, ``min_scale``/``max_scale`` fix the colour scale (values outside are clipped
    in the display only); by default 0 and 1, or 0 and 255 for uint8 images (the colour bar shows their
    values), or the values' range for other whole numbers. NumPy arrays as image files are read, channels
    last (N, H, W, C), are shown as (N, C, H, W) (see :func:`tile_batch`). Separators between images are
    drawn at mid-scale. Returns the AxesImage.
    """
    min_scale, max_scale = _colour_scale(tens, min_scale, max_scale)
    image = tile_batch(tens, nx, k, fill=0.5 * (min_scale + max_scale))
    fig = fig if fig is not None else plt.figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    im = ax.imshow(image, interpolation="nearest", cmap=cmap, vmin=min_scale, vmax=max_scale)
    fig.colorbar(im, ax=ax)
    return im


def show_batch2d(
    batch, nx: int = 8, fig=None, channel: int = 0, vmin: float | None = None, vmax: float | None = None, cmap="gray"
):
    """English alias of :func:`voir_batch2D`: ``show_batch2d(batch, nx=8)`` makes its own figure. The colour
    scale ``vmin``/``vmax``: by default 0 and 1, or 0 and 255 for uint8 images (as :func:`voir_batch2D`)."""
    if fig is None:
        a = _batch(batch)
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


def as_picture(image) -> np.ndarray:
    """A (C, H, W) image (C = 1 or 3) or an (H, W) one as an array for ``imshow``: (H, W) or (H, W, 3),
    clipped to [0, 1]."""
    a = _numpy(image)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = a[0] if a.shape[0] == 1 else np.moveaxis(a, 0, -1)
    if a.ndim not in (2, 3):
        raise ValueError(f"expected an image (H, W) or (C, H, W) with C = 1 or 3; got shape {a.shape}")
    return np.clip(a, 0.0, 1.0)


def show_side_by_side(
    images: Sequence,
    titles: Sequence[str] | None = None,
    n: int = 4,
    k: int | None = 0,
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    cmap="gray",
    size: float = 2.2,
):
    """Compare batches column by column: e.g. ``show_side_by_side([noisy, clean, output],
    ["input", "target", "output"])`` shows the first ``n`` images of each as rows.

    Each element of ``images`` is an (N, C, H, W) batch, an (N, H, W) batch of one-channel images,
    or a single (H, W) image (as everywhere in course_utils); channel ``k`` is shown, or with ``k=None``
    colour images in colour (values clipped to [0, 1]). Returns the figure.
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
            if k is None:
                ax.imshow(as_picture(a[i]), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            else:
                ax.imshow(a[i, k], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0 and titles is not None:
                ax.set_title(titles[j])
    fig.tight_layout()
    return fig


ERROR_COLOURS = {
    "correct foreground": (1.0, 1.0, 1.0),
    "missed (false negative)": (1.0, 0.0, 1.0),
    "wrongly added (false positive)": (0.0, 0.9, 0.0),
    "correct background": (0.0, 0.0, 0.0),
}


def error_map(pred, target) -> np.ndarray:
    """(H, W, 3) RGB picture of a binary prediction against its mask, both (H, W): correct foreground
    white, correct background black, missed pixels (FN) magenta, wrongly added pixels (FP) green."""
    p, t = _numpy(pred).astype(bool), _numpy(target).astype(bool)
    if p.shape != t.shape or p.ndim != 2:
        raise ValueError(f"error_map takes two (H, W) maps of the same shape, got {p.shape} and {t.shape}")
    out = np.zeros(p.shape + (3,))
    for colour, where in zip(ERROR_COLOURS.values(), (p & t, ~p & t, p & ~t, ~p & ~t)):
        out[where] = colour
    return out


def show_errors(images, preds, masks, n: int = 4, titles: Sequence[str] | None = None, size: float = 2.6, draw=None):
    """Rows of (image, error map) for the first ``n`` images of (N, 1, H, W) batches; returns the figure.

    ``draw(pred, mask)``: the function that paints one error map from two boolean (H, W) tensors, returning an
    (H, W, 3) RGB picture in [0, 1] (array or tensor); by default :func:`error_map` (notebook 03's students pass
    their own)."""
    import matplotlib.patches as mpatches

    images, preds, masks = _numpy(images), _numpy(preds), _numpy(masks)
    draw = error_map if draw is None else draw
    rows = min(n, len(images))
    fig, axes = plt.subplots(rows, 2, figsize=(2 * size, size * rows), squeeze=False)
    for i in range(rows):
        axes[i, 0].imshow(images[i, 0], cmap="gray", vmin=0, vmax=1)
        picture = draw(torch.from_numpy(preds[i, 0] != 0), torch.from_numpy(masks[i, 0] != 0))
        axes[i, 1].imshow(_numpy(picture), interpolation="nearest")
        if titles is not None:
            axes[i, 0].set_ylabel(titles[i])
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_title("image")
    axes[0, 1].set_title("prediction vs mask")
    fig.legend(
        handles=[mpatches.Patch(facecolor=c, edgecolor="gray", label=k) for k, c in ERROR_COLOURS.items()],
        loc="lower center",
        ncol=2,
        fontsize=8,
        bbox_to_anchor=(0.5, -0.02 - 0.06 / rows),
    )
    fig.tight_layout()
    return fig


# Widgets cannot be stored usefully in a notebook file: without their state (which Jupyter does not save by
# default) a reopened notebook shows "Error displaying widget: model not found", or the text
# "interactive(children=(IntSlider(...". So when a notebook is executed to store its outputs
# (`python -m course_utils.build --execute`, which sets this variable to 1), the explorers draw a static figure
# of their default view and say, in one line, that the sliders appear when the cell is run. The one place
# that reads it is storing_outputs().
STATIC_WIDGETS_ENV = "COURSE_STATIC_WIDGETS"


def stored_widget_note(what: str = "sliders") -> str:
    """The line an explorer prints above its default view while outputs are stored (:func:`storing_outputs`)."""
    return f"Run this cell to get the {what}: a saved notebook cannot keep widgets. Below, the default view."


def storing_outputs() -> bool:
    """True while a notebook is executed to store its outputs: the environment variable
    ``COURSE_STATIC_WIDGETS`` (:data:`STATIC_WIDGETS_ENV`) is set to anything but empty or ``0``."""
    return os.environ.get(STATIC_WIDGETS_ENV, "").strip() not in ("", "0")


def widgets_available() -> bool:
    """True when ipywidgets is installed and we run inside a Jupyter kernel (widgets can be shown), unless
    the notebook is being executed to store its outputs (:func:`storing_outputs`)."""
    if storing_outputs():
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return _in_kernel()


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (a front end can show and update rich outputs)."""
    from .progress import in_kernel

    return in_kernel()


def text_colour(rgb) -> str:
    """``"black"`` or ``"white"``: the colour of text written on a cell of colour ``rgb`` (RGB or RGBA in
    [0, 1]), whichever contrasts more with it: black on cells whose relative luminance (ITU-R BT.709 weights,
    as WCAG's contrast ratio uses, on sRGB values linearised) is above 0.18, white below."""
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (float(v) for v in rgb[:3]))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if luminance > 0.18 else "white"


def explore_threshold(image, logits, mask, interactive: bool | None = None, thresholds=(-2.0, 0.0, 2.0)) -> None:
    """A slider for the threshold on the logits of one image (H, W): the error map and precision,
    recall and IoU update as it moves (one figure, redrawn). Without widgets (or ``interactive=False``) it draws
    the error maps at ``thresholds`` instead; while a notebook is executed to store its outputs
    (:func:`storing_outputs`), the slider's default view (threshold 0) and one line saying that the slider appears
    when the cell is run. Displays them; returns nothing."""
    from .metrics import iou, precision, recall

    image, logits, mask = (torch.as_tensor(_numpy(a)).squeeze() for a in (image, logits, mask))

    def draw(threshold: float, ax) -> None:
        pred = logits > threshold
        card = {
            k: fn(pred[None], mask[None]).item()
            for k, fn in (("precision", precision), ("recall", recall), ("IoU", iou))
        }
        ax.imshow(error_map(pred, mask), interpolation="nearest")
        ax.set_title(
            f"t = {threshold:+.2f}: P {card['precision']:.2f} R {card['recall']:.2f} IoU {card['IoU']:.2f}", fontsize=9
        )
        ax.set_xticks([])
        ax.set_yticks([])

    def show(threshold: float = 0.0) -> None:
        fig, axes = plt.subplots(1, 2, figsize=(7, 3.6))
        axes[0].imshow(image, cmap="gray", vmin=0, vmax=1)
        axes[0].set_title("image")
        axes[0].set_xticks([])
        axes[0].set_yticks([])
        draw(threshold, axes[1])
        plt.show()

    if interactive is None:
        interactive = widgets_available()
    if interactive:
        import ipywidgets as widgets

        widgets.interact(show, threshold=widgets.FloatSlider(0.0, min=-5, max=5, step=0.25, description="threshold"))
        return
    if storing_outputs():
        print(stored_widget_note("threshold slider"))
        show(0.0)
        return
    print("Interactive widgets are not available here: showing fixed thresholds instead.")
    fig, axes = plt.subplots(1, len(thresholds), figsize=(3.4 * len(thresholds), 3.6), squeeze=False)
    for t, ax in zip(thresholds, axes[0]):
        draw(t, ax)
    fig.tight_layout()
    plt.show()


class TrainingMonitor:
    """A live figure for :meth:`course_utils.experiment.Experiment.run`: one validation pair (noisy input,
    the model's output, clean target) and the training and validation curves (loss, PSNR), redrawn in
    place after every epoch: ``exp.run(num_epochs, plot=TrainingMonitor(noisy, clean))``.

    ``noisy`` and ``clean`` are (C, H, W) images in [0, 1] (C = 1 or 3). In Jupyter the figure updates in
    place; elsewhere it is shown once per call.
    """

    def __init__(self, noisy, clean, title: str = ""):
        self.noisy, self.clean, self.title, self._handle = noisy, clean, title, None

    def figure(self, exp):
        """The figure for the experiment's current state (model output and ``exp.history``)."""
        from .inference import predict

        out = predict(exp.model, self.noisy[None], device=exp.device)[0]
        fig, axes = plt.subplots(1, 5, figsize=(16, 3.2), gridspec_kw={"width_ratios": [1, 1, 1, 1.3, 1.3]})
        for ax, img, name in zip(axes[:3], (self.noisy, out, self.clean), ("noisy", "denoised", "clean")):
            ax.imshow(as_picture(img), cmap="gray", vmin=0, vmax=1)
            ax.set_title(name)
            ax.set_axis_off()
        epochs = [h["epoch"] for h in exp.history]
        for ax, key in zip(axes[3:], ("loss", "psnr")):
            ax.plot(epochs, [h[f"train_{key}"] for h in exp.history], "o-", label="training")
            ax.plot(epochs, [h[f"val_{key}"] for h in exp.history], "o-", label="validation")
            ax.set_xlabel("epoch")
            ax.set_title("loss (MSE)" if key == "loss" else "PSNR (dB)")
            if epochs:
                ax.legend(fontsize=8)
                if key == "loss":
                    ax.set_yscale("log")
        fig.suptitle(f"{self.title} epoch {exp.epoch}".strip())
        fig.tight_layout()
        return fig

    def __call__(self, exp) -> None:
        fig = self.figure(exp)
        if not _in_kernel():
            plt.show()
            return
        from IPython.display import display

        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)
