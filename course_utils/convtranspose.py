"""Pictures of ``nn.ConvTranspose2d`` for notebook 01: value grids, overlap counts, and an explorer.

The explorer uses ipywidgets sliders when they can be shown (Jupyter, Colab) and falls back to
static figures otherwise (a script, a plain console, or ipywidgets missing).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from .plotting import widgets_available

__all__ = [
    "conv_transpose",
    "overlap_count",
    "draw_matrix",
    "show_conv_transpose",
    "conv_transpose_gallery",
    "explore_conv_transpose",
    "widgets_available",
]

INPUTS = ("one pixel", "all ones", "random")
KERNELS = ("ones", "ramp")


def conv_transpose(x, w, b: float = 0.0, stride: int = 1, padding: int = 0, output_padding: int = 0):
    """``F.conv_transpose2d`` for one 2-D image ``x`` (H, W) and one 2-D kernel ``w`` (k, k): returns (H', W')."""
    x, w = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(w, dtype=torch.float32)
    return F.conv_transpose2d(
        x[None, None],
        w[None, None],
        torch.tensor([float(b)]),
        stride=stride,
        padding=padding,
        output_padding=output_padding,
    )[0, 0]


def overlap_count(h_in: int, kernel_size: int, stride: int, padding: int = 0) -> torch.Tensor:
    """How many input pixels of an (h_in, h_in) image write into each output pixel: the transposed
    convolution of all ones with a kernel of ones. Uneven counts are the checkerboard pattern."""
    return conv_transpose(torch.ones(h_in, h_in), torch.ones(kernel_size, kernel_size), 0.0, stride, padding)


def draw_matrix(ax, m, title: str = "", cmap: str = "viridis", vmin=None, vmax=None, fmt: str = "{:g}"):
    """Draw a small matrix as coloured cells with its values written in them (up to 12x12)."""
    a = m.detach().cpu().numpy() if torch.is_tensor(m) else np.asarray(m)
    ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    if a.shape[0] <= 12 and a.shape[1] <= 12:
        mid = (np.nanmax(a) + np.nanmin(a)) / 2 if vmin is None else (vmin + vmax) / 2
        for (i, j), v in np.ndenumerate(a):
            ax.text(
                j,
                i,
                fmt.format(round(float(v), 2)),
                ha="center",
                va="center",
                fontsize=8,
                color="black" if v > mid else "white",
            )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)


def _example(input_kind: str, kernel_kind: str, kernel_size: int, h_in: int = 4):
    if input_kind == "one pixel":
        x = torch.zeros(h_in, h_in)
        x[1, 1] = 1.0
    elif input_kind == "all ones":
        x = torch.ones(h_in, h_in)
    elif input_kind == "random":
        x = torch.randint(0, 4, (h_in, h_in), generator=torch.Generator().manual_seed(0)).float()
    else:
        raise ValueError(f"input_kind must be one of {INPUTS}")
    if kernel_kind == "ones":
        w = torch.ones(kernel_size, kernel_size)
    elif kernel_kind == "ramp":
        w = torch.arange(1, kernel_size * kernel_size + 1, dtype=torch.float32).view(kernel_size, kernel_size)
    else:
        raise ValueError(f"kernel_kind must be one of {KERNELS}")
    return x, w


def show_conv_transpose(
    kernel_size: int = 3, stride: int = 2, padding: int = 0, input_kind: str = "all ones", kernel_kind: str = "ones"
):
    """One figure: the 4x4 input, the kernel, and the output of ConvTranspose2d (bias 0). Returns it."""
    x, w = _example(input_kind, kernel_kind, kernel_size)
    try:
        y = conv_transpose(x, w, 0.0, stride, padding)
    except RuntimeError:
        y = None
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), gridspec_kw={"width_ratios": [4, kernel_size, 9]})
    draw_matrix(axes[0], x, f"input {tuple(x.shape)}", cmap="Blues")
    draw_matrix(axes[1], w, f"kernel {kernel_size}x{kernel_size}", cmap="Oranges")
    if y is None:
        axes[2].set_axis_off()
        axes[2].set_title("padding too large: empty output")
    else:
        draw_matrix(axes[2], y, f"output {tuple(y.shape)}  (stride {stride}, padding {padding})")
    fig.tight_layout()
    return fig


def conv_transpose_gallery(configs=((2, 1), (2, 2), (3, 2), (4, 2), (3, 1), (3, 3)), h_in: int = 4):
    """Overlap counts for several (kernel_size, stride) pairs, on one figure. Returns the figure."""
    fig, axes = plt.subplots(1, len(configs), figsize=(2.6 * len(configs), 3.0))
    for ax, (k, s) in zip(np.atleast_1d(axes), configs):
        c = overlap_count(h_in, k, s)
        even = "even" if float(c[k - 1 : -(k - 1) or None, k - 1 : -(k - 1) or None].std()) == 0 else "checkerboard"
        draw_matrix(ax, c, f"k={k}, s={s}: {even}", cmap="magma", vmin=0, vmax=float(c.max()))
    fig.suptitle(f"How many input pixels write into each output pixel ({h_in}x{h_in} input of ones)")
    fig.tight_layout()
    return fig


def explore_conv_transpose(interactive: bool | None = None):
    """Sliders for kernel size, stride and padding, plus the input and kernel kinds.

    ``interactive=None`` uses widgets when :func:`widgets_available`, else draws static figures
    (``interactive=False`` forces those). Displays them; returns nothing.
    """
    if interactive is None:
        interactive = widgets_available()
    if interactive:
        import ipywidgets as widgets

        widgets.interact(
            show_conv_transpose,
            kernel_size=widgets.IntSlider(3, 1, 5, description="kernel size"),
            stride=widgets.IntSlider(2, 1, 3, description="stride"),
            padding=widgets.IntSlider(0, 0, 2, description="padding"),
            input_kind=widgets.Dropdown(options=INPUTS, value="all ones", description="input"),
            kernel_kind=widgets.Dropdown(options=KERNELS, value="ones", description="kernel"),
        )
        return
    print("Interactive widgets are not available here: showing fixed examples instead.")
    show_conv_transpose(3, 2, 0)
    show_conv_transpose(4, 2, 1)
    conv_transpose_gallery()
    plt.show()
