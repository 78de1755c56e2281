"""Notebook 01's self-checks and pictures: right answers pass, wrong ones are explained."""

import matplotlib.pyplot as plt
import pytest
import torch

import course_utils as cu
from course_utils import convtranspose as ct
from course_utils.checks import (
    check_clutter_probability,
    check_conv_transpose,
    check_noise2noise_batches,
    check_output_size,
)


def good_size(h_in, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    return (h_in - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


def test_output_size_check(capsys):
    check_output_size(good_size)
    assert capsys.readouterr().out.startswith("✅ good_size: correct on all")

    def forgets_dilation(h_in, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
        return (h_in - 1) * stride - 2 * padding + (kernel_size - 1) + output_padding + 1

    check_output_size(forgets_dilation)
    out = capsys.readouterr().out
    assert "❌ forgets_dilation: wrong on" in out and "dilation=2: PyTorch gives" in out and "Hint" in out


def test_checks_say_not_implemented_and_report_crashes(capsys):
    def todo(*args, **kwargs):
        raise NotImplementedError

    check_output_size(todo)
    check_conv_transpose(todo)
    out = capsys.readouterr().out
    assert out.count("⏳") == 2 and "✅" not in out and "❌" not in out

    def crashes(h_in, kernel_size, **kw):
        return h_in // 0

    check_output_size(crashes)
    out = capsys.readouterr().out
    assert out.startswith("❌") and "ZeroDivisionError" in out


def manual(x, w, b, stride, padding=0):
    H, W = x.shape
    k = w.shape[0]
    out = torch.zeros((H - 1) * stride + k, (W - 1) * stride + k)
    for i in range(H):
        for j in range(W):
            out[i * stride : i * stride + k, j * stride : j * stride + k] += x[i, j] * w
    out += b
    return out[padding : out.shape[0] - padding, padding : out.shape[1] - padding]


def test_conv_transpose_check(capsys):
    check_conv_transpose(manual)
    assert capsys.readouterr().out.startswith("✅ manual: correct on all")

    def no_bias(x, w, b, stride, padding=0):
        return manual(x, w, 0.0, stride, padding)

    def no_crop(x, w, b, stride, padding=0):
        return manual(x, w, b, stride, 0)

    check_conv_transpose(no_bias)
    out = capsys.readouterr().out
    assert out.startswith("❌ no_bias") and "values differ" in out
    check_conv_transpose(no_crop)
    out = capsys.readouterr().out
    assert out.startswith("❌ no_crop") and "output shape" in out


def test_overlap_counts_reveal_the_checkerboard():
    assert torch.equal(ct.overlap_count(3, 2, 2), torch.ones(6, 6))  # kernel = stride: exact tiling
    c = ct.overlap_count(4, 3, 2)
    assert c.shape == (9, 9) and set(c.unique().tolist()) == {1.0, 2.0, 4.0}
    assert c[2, 2] == 4 and c[2, 3] == 2 and c[3, 3] == 1


def test_conv_transpose_helper_matches_layer():
    x, w = torch.rand(3, 4), torch.rand(2, 2)
    layer = torch.nn.ConvTranspose2d(1, 1, 2, stride=2, padding=1)
    with torch.no_grad():
        layer.weight.copy_(w[None, None])
        layer.bias.fill_(0.3)
        assert torch.allclose(ct.conv_transpose(x, w, 0.3, 2, 1), layer(x[None, None])[0, 0])


def test_explorer_falls_back_to_static_figures(monkeypatch, capsys):
    assert ct.widgets_available() is False  # no kernel under pytest
    plt.close("all")
    assert ct.explore_conv_transpose() is None
    assert "not available" in capsys.readouterr().out
    figs = [plt.figure(n) for n in plt.get_fignums()]
    assert len(figs) == 3
    assert figs[2].axes[2].get_title() == "k=3, s=2\ninside: 1 to 4"  # the gallery: the measured range, no verdict


def test_show_conv_transpose_handles_empty_output():
    fig = ct.show_conv_transpose(kernel_size=1, stride=1, padding=2, input_kind="one pixel")
    assert "empty output" in fig.axes[2].get_title()
    with pytest.raises(ValueError, match="input_kind"):
        ct.show_conv_transpose(input_kind="noise")


def test_noise2noise_batches_check(capsys):
    check_noise2noise_batches(lambda n: cu.gen_noise2noise(n))
    assert capsys.readouterr().out.startswith("✅")
    check_noise2noise_batches(lambda n: cu.gen(n))
    out = capsys.readouterr().out
    assert out.startswith("❌") and "clean images" in out
    check_noise2noise_batches(lambda n: (cu.gen1_NES(n), cu.gen1_NES(n)))
    assert "not the two noisy copies" in capsys.readouterr().out
    check_noise2noise_batches(lambda n: cu.gen_noise2noise(n)[0])
    assert "pair of tensors" in capsys.readouterr().out


def test_clutter_probability_check(capsys):
    check_clutter_probability(lambda noisy, clean: (noisy > clean).float().mean(dim=0)[0])
    assert capsys.readouterr().out.startswith("✅")
    check_clutter_probability(lambda noisy, clean: (noisy > clean).float().mean(dim=0))  # (1, H, W) is fine too
    assert capsys.readouterr().out.startswith("✅")
    check_clutter_probability(lambda noisy, clean: (noisy > clean).float().mean())
    assert "one value per pixel" in capsys.readouterr().out
    check_clutter_probability(lambda noisy, clean: (noisy >= clean).float().mean(dim=0))
    assert "values differ" in capsys.readouterr().out


def test_checks_return_their_verdict_and_display_nothing_more(capsys):
    """The grader's channel: each check returns what it printed, with passed True / False / None."""
    from course_utils.checks import CheckResult

    right = check_output_size(good_size)
    printed = capsys.readouterr().out
    assert isinstance(right, CheckResult) and right and right.passed is True and right.verdict == "correct"
    assert right.check == "check_output_size" and printed == right.message + "\n"

    def todo(*args, **kwargs):
        raise NotImplementedError

    not_done = check_output_size(todo)
    assert not_done.passed is None and not not_done and not_done.message.startswith("⏳ todo: not done yet")
    wrong = check_output_size(lambda h_in, kernel_size, **kw: 0)
    assert wrong.passed is False and wrong.message.startswith("❌ <lambda>: wrong on") and "Hint" in wrong.message
    capsys.readouterr()
    assert right._ipython_display_() is None  # a cell ending with a check shows the printed message only


def test_a_check_given_something_unusable_says_so_instead_of_crashing(capsys):
    result = check_clutter_probability(lambda noisy, clean: "a string")
    out = capsys.readouterr().out
    assert result.passed is False and out.startswith("❌ <lambda>: wrong:") and "could not use" in out
