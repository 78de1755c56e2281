"""Pictures of ``nn.ConvTranspose2d`` for notebook 01: value grids, overlap counts, and an explorer.

The explorer uses ipywidgets sliders when they can be shown (Jupyter, Colab), with one figure redrawn as they
move, and falls back to static figures otherwise (a script, a plain console, or ipywidgets missing). While a
notebook is executed to store its outputs (``python -m course_utils.build --execute``), it draws its default
view and says that the sliders appear when the cell is run (see :func:`course_utils.plotting.storing_outputs`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from .plotting import stored_widget_note, storing_outputs, text_colour, widgets_available

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
    """Draw a small matrix (H, W) as coloured cells, with a grid between them and a border, and its values
    written in them (up to 12x12), each in black or white, whichever contrasts more with its cell
    (:func:`~course_utils.plotting.text_colour`): a constant matrix still reads as a matrix, and zeros stay
    visible. ``vmin``/``vmax``: the colour scale (default: the values' range)."""
    a = m.detach().cpu().numpy() if torch.is_tensor(m) else np.asarray(m, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"draw_matrix draws a 2-D matrix; got shape {a.shape}")
    image = ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    h, w = a.shape
    if h <= 12 and w <= 12:
        colours = image.cmap(image.norm(a))
        for (i, j), v in np.ndenumerate(a):
            ax.text(
                j,
                i,
                fmt.format(round(float(v), 2)),
                ha="center",
                va="center",
                fontsize=8,
                color=text_colour(colours[i, j]),
            )
    ax.set_xticks(np.arange(-0.5, w, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, h, 1), minor=True)
    ax.grid(which="minor", color="0.55", linewidth=0.6)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set(visible=True, color="0.3", linewidth=1.0)
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


def _from_zero(a: torch.Tensor) -> dict:
    """A colour scale from 0 (the lightest colour) to the largest value: zeros look empty, ones filled."""
    return {"vmin": min(0.0, float(a.min())), "vmax": max(float(a.max()), 1e-6)}


def show_conv_transpose(
    kernel_size: int = 3, stride: int = 2, padding: int = 0, input_kind: str = "all ones", kernel_kind: str = "ones"
):
    """One figure: the 4x4 input, the kernel, and the output of ConvTranspose2d (bias 0). Returns it (still open:
    show it with ``plt.show()``, or close it)."""
    x, w = _example(input_kind, kernel_kind, kernel_size)
    try:
        y = conv_transpose(x, w, 0.0, stride, padding)
    except RuntimeError:
        y = None
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), gridspec_kw={"width_ratios": [4, kernel_size, 9]})
    draw_matrix(axes[0], x, f"input {tuple(x.shape)}", cmap="Blues", **_from_zero(x))
    draw_matrix(axes[1], w, f"kernel {kernel_size}x{kernel_size}", cmap="Oranges", **_from_zero(w))
    if y is None:
        axes[2].set_axis_off()
        axes[2].set_title("padding too large: empty output")
    else:
        draw_matrix(axes[2], y, f"output {tuple(y.shape)}  (stride {stride}, padding {padding})")
    fig.tight_layout()
    return fig


def conv_transpose_gallery(configs=((2, 1), (2, 2), (3, 2), (4, 2), (3, 1), (3, 3)), h_in: int = 4):
    """Overlap counts (:func:`overlap_count`) for several (kernel_size, stride) pairs, on one figure. Each panel
    is titled with its kernel size, stride and the range of the counts away from the border (inside the box:
    the output pixels that a full set of stamps could reach), and nothing more, so that the student reads the
    rule off the numbers. Returns the figure."""
    from matplotlib.patches import Rectangle

    fig, axes = plt.subplots(1, len(configs), figsize=(2.6 * len(configs), 3.2))
    for ax, (k, s) in zip(np.atleast_1d(axes), configs):
        c = overlap_count(h_in, k, s)
        inner = c[k - 1 : c.shape[0] - (k - 1), k - 1 : c.shape[1] - (k - 1)]
        lo, hi = float(inner.min()), float(inner.max())
        draw_matrix(ax, c, f"k={k}, s={s}\ninside: {lo:g} to {hi:g}", cmap="magma", vmin=0, vmax=float(c.max()))
        ax.add_patch(
            Rectangle((k - 1.5, k - 1.5), inner.shape[1], inner.shape[0], fill=False, edgecolor="tab:cyan", lw=2)
        )
    fig.suptitle(
        f"How many input pixels write into each output pixel ({h_in}x{h_in} input of ones); "
        "in the box: away from the border"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def _draw_conv_transpose(**settings) -> None:
    """Show one figure of :func:`show_conv_transpose` and return None: ``widgets.interact`` displays what its
    function returns, on top of the figure that matplotlib shows, and a returned figure would appear twice."""
    show_conv_transpose(**settings)
    plt.show()


def explore_conv_transpose(interactive: bool | None = None):
    """Sliders for kernel size, stride and padding, plus the input and kernel kinds, above one figure
    (:func:`show_conv_transpose`) redrawn as they move.

    ``interactive=None`` uses widgets when :func:`widgets_available`, else draws static figures
    (``interactive=False`` forces those). While a notebook is executed to store its outputs
    (:func:`~course_utils.plotting.storing_outputs`), it draws the default view and one line saying that the
    sliders appear when the cell is run. Displays them; returns nothing.
    """
    if interactive is None:
        interactive = widgets_available()
    if interactive:
        import ipywidgets as widgets

        widgets.interact(
            _draw_conv_transpose,
            kernel_size=widgets.IntSlider(3, 1, 5, description="kernel size"),
            stride=widgets.IntSlider(2, 1, 3, description="stride"),
            padding=widgets.IntSlider(0, 0, 2, description="padding"),
            input_kind=widgets.Dropdown(options=INPUTS, value="all ones", description="input"),
            kernel_kind=widgets.Dropdown(options=KERNELS, value="ones", description="kernel"),
        )
        return
    if storing_outputs():
        print(stored_widget_note("sliders (kernel size, stride, padding, input, kernel)"))
        _draw_conv_transpose()
        return
    print("Interactive widgets are not available here: showing fixed examples instead.")
    show_conv_transpose(3, 2, 0)
    show_conv_transpose(4, 2, 1)
    conv_transpose_gallery()
    plt.show()
