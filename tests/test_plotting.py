"""voir_batch2D and friends: tiling geometry, colour scale, ppmatrix text, comparison figures."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import course_utils as cu
from course_utils import ppmatrix, show_side_by_side, tile_batch, voir_batch2D


def test_tile_geometry_and_partial_last_row():
    batch = torch.arange(10.0).view(10, 1, 1, 1).expand(10, 2, 3, 4)
    t = tile_batch(batch, nx=4, k=1, fill=-1)
    assert t.shape == (3 * 3 + 2 * 5, 4 * 4 + 3 * 5)  # 3 rows of 4, separators of 5 px
    assert t[0, 0] == 0 and t[0, 9] == 1 and t[8, 0] == 4  # image i at row i // 4, column i % 4
    assert t[3, 0] == -1 and t[0, 4] == -1  # separators
    assert (t[16:, 18:] == -1).all()  # the missing 11th and 12th tiles are filled


def test_voir_batch2d_scale_and_separators():
    fig = plt.figure()
    im = voir_batch2D(torch.rand(6, 1, 8, 8), 3, fig, k=0, min_scale=-1, max_scale=3)
    assert im.get_clim() == (-1, 3)
    data = im.get_array()
    assert data.shape == (2 * 8 + 5, 3 * 8 + 2 * 5)
    assert data[8, 0] == 1.0  # separators at mid-scale
    assert len(fig.axes) == 2  # image + colour bar


def test_voir_batch2d_accepts_gpu_like_and_grad_tensors():
    x = torch.rand(2, 1, 4, 4, requires_grad=True)
    cu.show_batch2d(x * 2, nx=2)  # no .detach() needed from the student


def test_bad_batches():
    with pytest.raises(ValueError, match="channel k=2"):
        tile_batch(torch.rand(2, 2, 4, 4), 2, k=2)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        tile_batch(torch.rand(4, 4), 2)


def test_ppmatrix_prints_fancy_grid_with_3_decimals(capsys):
    ppmatrix(torch.tensor([[1.0, 2.5], [3.0, -4.0]]).view(1, 1, 2, 2), "M =")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "M ="
    assert out[1].startswith("╒") and "│ 1.000 │  2.500 │" in out[2] and "-4.000" in out[4]
    ppmatrix(np.array([1.0, 2.0]))  # a vector prints as one row
    assert capsys.readouterr().out.count("│") == 3
    with pytest.raises(ValueError, match="2-D"):
        ppmatrix(torch.rand(2, 2, 2))


def test_side_by_side_layout():
    x = torch.rand(5, 1, 8, 8)
    fig = show_side_by_side([x, x, x[:, 0]], ["input", "target", "output"], n=3)
    axes = fig.axes
    assert len(axes) == 9 and [a.get_title() for a in axes[:3]] == ["input", "target", "output"]
    assert all(a.get_title() == "" for a in axes[3:])
    with pytest.raises(ValueError, match="titles"):
        show_side_by_side([x, x], ["only one"])


def test_error_map_colours_each_case():
    import numpy as np

    from course_utils.plotting import ERROR_COLOURS, error_map, explore_threshold, show_errors

    pred = torch.tensor([[1, 1], [0, 0]])
    true = torch.tensor([[1, 0], [1, 0]])
    rgb = error_map(pred, true)
    colours = list(ERROR_COLOURS.values())
    assert rgb.shape == (2, 2, 3)
    assert tuple(rgb[0, 0]) == colours[0] and tuple(rgb[1, 0]) == colours[1]  # TP white, FN magenta
    assert tuple(rgb[0, 1]) == colours[2] and tuple(rgb[1, 1]) == colours[3]  # FP green, TN black
    with pytest.raises(ValueError, match="same shape"):
        error_map(pred, true[0])
    fig = show_errors(torch.rand(3, 1, 8, 8), torch.rand(3, 1, 8, 8) > 0.5, torch.rand(3, 1, 8, 8) > 0.5, n=2)
    assert len(fig.axes) == 4
    explore_threshold(torch.rand(1, 8, 8), torch.randn(1, 8, 8), torch.rand(1, 8, 8) > 0.5, interactive=False)
    assert np.isfinite(rgb).all()


def test_voir_batch2d_reads_channels_last_arrays():
    rgb = np.random.default_rng(0).random((4, 16, 12, 3)).astype(np.float32)  # (N, H, W, 3) as images are stored
    fig = plt.figure()
    im = voir_batch2D(rgb, 2, fig, k=1)  # before: slivers 3 px wide
    data = im.get_array()
    assert data.shape == (2 * 16 + 5, 2 * 12 + 5)
    assert np.array_equal(data[:16, :12], rgb[0, :, :, 1])  # image 0, channel 1
    one = tile_batch(rgb[0], 1)  # one (H, W, 3) image
    assert one.shape == (16, 12) and np.array_equal(one, rgb[0, :, :, 0])
    assert tile_batch(torch.from_numpy(rgb).permute(0, 3, 1, 2), 2).shape == data.shape  # (N, C, H, W) as before


def test_voir_batch2d_shows_uint8_on_its_0_255_scale():
    eight = (np.random.default_rng(1).random((3, 1, 8, 8)) * 255).astype(np.uint8)
    im = voir_batch2D(eight, 3, plt.figure())  # before: clipped to [0, 1], all white
    assert im.get_clim() == (0, 255)
    assert np.array_equal(im.get_array()[:8, :8], eight[0, 0])
    assert im.get_array()[0, 8] == 127.5  # separators at mid-scale
    assert voir_batch2D(eight, 3, plt.figure(), min_scale=0, max_scale=100).get_clim() == (0, 100)  # as asked
    assert cu.show_batch2d(eight > 128, nx=3).get_clim() == (0, 1)  # booleans: 0 and 1
    assert cu.show_batch2d(torch.rand(2, 1, 4, 4), nx=2).get_clim() == (0, 1)  # floats: [0, 1] as before


def test_text_colour_contrasts_with_its_cell():
    from course_utils.plotting import text_colour

    assert text_colour((1.0, 1.0, 1.0)) == "black" and text_colour((0.0, 0.0, 0.0, 1.0)) == "white"
    assert text_colour((1.0, 1.0, 0.0)) == "black" and text_colour((0.0, 0.0, 0.6)) == "white"  # yellow, dark blue


def test_draw_matrix_values_readable_on_every_cell():
    """Values in black on light cells and white on dark ones (a constant matrix and its zeros included), with a
    grid between the cells and a border, so that an all-ones matrix still reads as a matrix."""
    from course_utils.convtranspose import draw_matrix

    fig, axes = plt.subplots(1, 2)
    draw_matrix(axes[0], torch.ones(3, 3), cmap="Blues", vmin=0, vmax=1)
    assert {t.get_color() for t in axes[0].texts} == {"white"} and len(axes[0].texts) == 9
    x = torch.zeros(3, 3)
    x[1, 1] = 1
    draw_matrix(axes[1], x, cmap="Blues")
    colours = {(t.get_position(), t.get_text()): t.get_color() for t in axes[1].texts}
    assert colours[((1, 1), "1")] == "white" and colours[((0, 0), "0")] == "black"
    assert all(tick.gridline.get_visible() for tick in axes[1].xaxis.get_minor_ticks())
    assert len(axes[1].get_xticks(minor=True)) == 4 and all(s.get_visible() for s in axes[1].spines.values())


def test_gallery_titles_do_not_answer_the_question():
    """Kernel, stride and the measured overlap range inside the box, nothing that names the answer."""
    from course_utils.convtranspose import conv_transpose_gallery

    titles = [ax.get_title() for ax in conv_transpose_gallery().axes]
    assert titles[2] == "k=3, s=2\ninside: 1 to 4" and titles[3] == "k=4, s=2\ninside: 4 to 4"
    assert not any(word in t for t in titles for word in ("even", "checkerboard", "uneven"))


def test_explorers_without_widgets_and_while_storing(monkeypatch, capsys):
    """No widgets: fixed examples. Storing outputs (build --execute): one line, then the default view, once."""
    from course_utils import plotting
    from course_utils.convtranspose import explore_conv_transpose

    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: (shown.append(len(plt.get_fignums())), plt.close("all")))
    monkeypatch.setenv(plotting.STATIC_WIDGETS_ENV, "1")
    explore_conv_transpose()
    cu.explore_threshold(torch.rand(1, 8, 8), torch.randn(1, 8, 8), torch.rand(1, 8, 8) > 0.5)
    out = capsys.readouterr().out.splitlines()
    assert shown == [1, 1] and len(out) == 2
    assert out[0].startswith("Run this cell to get the sliders") and out[1].startswith(
        "Run this cell to get the threshold"
    )
    monkeypatch.delenv(plotting.STATIC_WIDGETS_ENV)
    explore_conv_transpose(interactive=False)
    assert capsys.readouterr().out.startswith("Interactive widgets are not available here")
