"""Noise2Void (notebook 10): the blind-spot masking, the masked loss, the packed batches for fit, and the
self-checks of the two exercises (a right answer passes, the typical wrong ones are explained)."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import noise2void as n2v
from course_utils.checks import check_masked_mse, check_n2v_mask
from course_utils.training import fit


def _where_from(masked, shape):
    """For an input of torch.arange values: the (row, column) each output value came from."""
    n, c, h, w = shape
    src = masked.long()
    return (src // w) % h, src % w


def test_mask_statistics_and_sources():
    shape = (8, 3, 40, 24)
    x = torch.arange(torch.Size(shape).numel(), dtype=torch.float32).view(shape)
    masked, mask = n2v.n2v_mask(x, 0.25, 2, generator=torch.Generator().manual_seed(0))
    assert mask.shape == (8, 1, 40, 24) and mask.dtype == torch.bool
    assert 0.23 < mask.float().mean() < 0.27  # 7680 pixels: binomial sd 0.005
    full = mask.expand_as(x)
    assert torch.equal(masked[~full], x[~full])
    rows, cols = _where_from(masked, shape)
    r = torch.arange(40).view(1, 1, 40, 1).expand(shape)
    q = torch.arange(24).view(1, 1, 1, 24).expand(shape)
    dy, dx = (rows - r)[full], (cols - q)[full]
    assert dy.abs().max() <= 2 and dx.abs().max() <= 2
    assert not ((dy == 0) & (dx == 0)).any()  # never the pixel itself, borders included
    assert torch.equal((masked // (40 * 24)), (x // (40 * 24)))  # same image, same channel


def test_mask_border_pixels_use_mirrored_offsets():
    # a 5x5 image, radius 2, every pixel masked: each corner's source lies inside, 1-2 pixels away
    x = torch.arange(25.0).view(1, 1, 5, 5)
    for seed in range(20):
        masked, mask = n2v.n2v_mask(x, 1.0, 2, generator=torch.Generator().manual_seed(seed))
        assert mask.all() and not torch.equal(masked, x)
        assert (masked != x).all()


def test_offsets_are_uniform_over_the_window():
    x = torch.arange(64 * 64, dtype=torch.float32).view(1, 1, 64, 64).repeat(50, 1, 1, 1)
    masked, mask = n2v.n2v_mask(x, 1.0, 1, generator=torch.Generator().manual_seed(3))
    rows, cols = _where_from(masked, (50, 1, 64, 64))
    r = torch.arange(64).view(1, 1, 64, 1).expand(50, 1, 64, 64)
    q = torch.arange(64).view(1, 1, 1, 64).expand(50, 1, 64, 64)
    inner = (r > 0) & (r < 63) & (q > 0) & (q < 63)
    codes = ((rows - r + 1) * 3 + (cols - q + 1))[inner]
    counts = torch.bincount(codes, minlength=9).float()
    assert counts[4] == 0  # the centre
    share = counts[torch.arange(9) != 4] / counts.sum()
    assert (share - 1 / 8).abs().max() < 0.01  # about 196,000 draws: sd of a share is under 0.001


def test_mask_is_reproducible_and_leaves_its_input():
    x = torch.rand(2, 1, 16, 16)
    before = x.clone()
    a = n2v.n2v_mask(x, 0.3, generator=torch.Generator().manual_seed(5))
    b = n2v.n2v_mask(x, 0.3, generator=torch.Generator().manual_seed(5))
    c = n2v.n2v_mask(x, 0.3, generator=torch.Generator().manual_seed(6))
    assert torch.equal(x, before)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[1], c[1])


@pytest.mark.parametrize(
    "shape, fraction, radius, message",
    [
        ((16, 16), 0.1, 2, r"\(N, C, H, W\)"),
        ((1, 1, 16, 16), 1.5, 2, "probability"),
        ((1, 1, 16, 16), 0.1, 0, "radius"),
        ((1, 1, 4, 16), 0.1, 2, "below half"),
    ],
)
def test_mask_errors(shape, fraction, radius, message):
    with pytest.raises(ValueError, match=message):
        n2v.n2v_mask(torch.zeros(shape), fraction, radius)


def test_masked_mse_values_and_gradient():
    out = torch.rand(2, 3, 8, 8, requires_grad=True)
    target = torch.rand(2, 3, 8, 8)
    mask = torch.zeros(2, 1, 8, 8, dtype=torch.bool)
    mask[0, 0, 1, 2] = mask[1, 0, 5, 5] = True
    loss = n2v.masked_mse(out, target, mask)
    picked = torch.stack([(out - target)[0, :, 1, 2], (out - target)[1, :, 5, 5]])
    assert loss.item() == pytest.approx((picked**2).mean().item(), rel=1e-6)
    loss.backward()
    assert (out.grad != 0).sum() == 6  # three channels of two pixels
    full = torch.ones(2, 1, 8, 8, dtype=torch.bool)
    assert n2v.masked_mse(out, target, full).item() == pytest.approx(F.mse_loss(out, target).item(), rel=1e-6)
    with pytest.raises(ValueError, match="selects no pixel"):
        n2v.masked_mse(out, target, torch.zeros_like(full))


def test_packed_batch_and_loss_train_with_fit():
    noisy = torch.rand(4, 1, 16, 16)
    x, y = n2v.n2v_batch(noisy, 0.2, generator=torch.Generator().manual_seed(0))
    assert x.shape == (4, 1, 16, 16) and y.shape == (4, 2, 16, 16)
    assert torch.equal(y[:, :1], noisy) and set(y[:, 1].unique().tolist()) <= {0.0, 1.0}
    mask = y[:, 1:] > 0.5
    assert torch.equal(x[~mask], noisy[~mask])
    assert n2v.n2v_loss(x, y).item() == pytest.approx(n2v.masked_mse(x, noisy, mask).item())
    with pytest.raises(ValueError, match="packs the noisy batch and its mask"):
        n2v.n2v_loss(x, noisy)
    model = nn.Conv2d(1, 1, 3, padding=1)
    g = torch.Generator().manual_seed(1)
    history = fit(
        model,
        lambda: n2v.n2v_batch(noisy, generator=g),
        n2v.n2v_loss,
        torch.optim.SGD(model.parameters(), lr=0.1),
        steps=3,
        progress=False,
    )
    assert len(history.loss) == 3


def test_noise2void_learns_to_denoise_a_flat_image():
    # pixel-independent zero-mean noise on flat patches: the masked loss trains a 3x3 filter that averages the
    # neighbours, which a plain MSE against the noisy input never would (it would learn the identity)
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(64, 1, 1, 1, generator=g).expand(64, 1, 24, 24)
    model = nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect")

    def batch():
        return n2v.n2v_batch(clean + 0.2 * torch.randn(clean.shape, generator=g), 0.1, 1, generator=g)

    fit(model, batch, n2v.n2v_loss, torch.optim.Adam(model.parameters(), lr=0.02), steps=300, progress=False)
    kernel = model.weight.detach()[0, 0]
    assert kernel[1, 1].abs() < 0.1 * kernel.sum()  # a blind spot: the centre weight is nearly zero
    noisy = clean + 0.2 * torch.randn(clean.shape, generator=g)
    with torch.no_grad():
        err = F.mse_loss(model(noisy), clean).item()
    assert err < 0.3 * F.mse_loss(noisy, clean).item()


def test_checks_pass_the_course_versions_and_explain_wrong_ones(capsys):
    assert check_n2v_mask(n2v.n2v_mask).passed
    assert check_masked_mse(n2v.masked_mse).passed

    def clamped(noisy, fraction, radius=2, generator=None):
        n, c, h, w = noisy.shape
        mask = torch.rand(n, 1, h, w, generator=generator) < fraction
        dy = torch.randint(-radius, radius + 1, (n, 1, h, w), generator=generator)
        dx = torch.randint(-radius, radius + 1, (n, 1, h, w), generator=generator)
        dx = torch.where((dy == 0) & (dx == 0), torch.ones_like(dx), dx)
        r = (torch.arange(h).view(1, 1, h, 1) + dy).clamp(0, h - 1)
        q = (torch.arange(w).view(1, 1, 1, w) + dx).clamp(0, w - 1)
        src = noisy.flatten(2).gather(2, (r * w + q).flatten(2).expand(n, c, h * w)).view_as(noisy)
        return torch.where(mask, src, noisy), mask

    assert check_n2v_mask(clamped).passed is False
    assert "kept their own value" in capsys.readouterr().out

    def left_neighbour(noisy, fraction, radius=2, generator=None):
        mask = torch.rand(noisy.shape[0], 1, *noisy.shape[2:], generator=generator) < fraction
        left = torch.cat([noisy[..., 1:2], noisy[..., :-1]], dim=3)  # column 0 takes column 1
        return torch.where(mask, left, noisy), mask

    assert check_n2v_mask(left_neighbour).passed is False
    assert "different offsets" in capsys.readouterr().out

    def skewed(noisy, fraction, radius=2, generator=None):
        n, c, h, w = noisy.shape
        mask = torch.rand(n, 1, h, w, generator=generator) < fraction
        dy = torch.randint(-radius, radius + 1, (n, 1, h, w), generator=generator)
        dx = torch.randint(-radius, radius + 1, (n, 1, h, w), generator=generator)
        dx = torch.where((dy == 0) & (dx == 0), torch.ones_like(dx), dx)  # (0, 1) twice as likely as the others
        r, q = torch.arange(h).view(1, 1, h, 1) + dy, torch.arange(w).view(1, 1, 1, w) + dx
        r = torch.where((r < 0) | (r >= h), r - 2 * dy, r)
        q = torch.where((q < 0) | (q >= w), q - 2 * dx, q)
        src = noisy.flatten(2).gather(2, (r * w + q).flatten(2).expand(n, c, h * w)).view_as(noisy)
        return torch.where(mask, src, noisy), mask

    assert check_n2v_mask(skewed).passed is False
    assert "offset (0, 1) takes" in capsys.readouterr().out

    def flipped_the_wrong_way(noisy, fraction, radius=2, generator=None):
        n, c, h, w = noisy.shape
        mask = torch.rand(n, 1, h, w, generator=generator) < fraction
        k = torch.randint(0, (2 * radius + 1) ** 2 - 1, (n, 1, h, w), generator=generator)
        k = k + (k >= (2 * radius + 1) ** 2 // 2)
        dy, dx = k // (2 * radius + 1) - radius, k % (2 * radius + 1) - radius
        r, q = torch.arange(h).view(1, 1, h, 1) + dy, torch.arange(w).view(1, 1, 1, w) + dx
        r = torch.where((r < 0) | (r >= h), r + 2 * dy, r)  # pushed further out instead of back in
        q = torch.where((q < 0) | (q >= w), q + 2 * dx, q)
        src = noisy.flatten(2).gather(2, (r * w + q).flatten(2).expand(n, c, h * w)).view_as(noisy)
        return torch.where(mask, src, noisy), mask

    assert check_n2v_mask(flipped_the_wrong_way).passed is False
    out = capsys.readouterr().out
    assert "raised RuntimeError" in out and "row - dy instead of row + dy" in out

    def in_place(noisy, fraction, radius=2, generator=None):
        masked, mask = n2v.n2v_mask(noisy, fraction, radius, generator=generator)
        noisy.copy_(masked)
        return noisy, mask

    assert check_n2v_mask(in_place).passed is False
    assert "changed its input in place" in capsys.readouterr().out

    def unseeded(noisy, fraction, radius=2, generator=None):
        return n2v.n2v_mask(noisy, fraction, radius)

    assert check_n2v_mask(unseeded).passed is False
    assert "same generator" in capsys.readouterr().out

    assert check_masked_mse(lambda o, t, m: F.mse_loss(o, t)).passed is False
    assert "over all pixels" in capsys.readouterr().out
    assert check_masked_mse(lambda o, t, m: ((o - t) ** 2 * m).mean()).passed is False
    assert "number of all values" in capsys.readouterr().out
    assert check_masked_mse(lambda o, t, m: ((o - t) ** 2 * m).sum() / m.sum()).passed is False
    assert "number of masked pixels" in capsys.readouterr().out
    assert check_masked_mse(lambda o, t, m: ((o - t)[m.expand_as(o)] ** 2).mean().detach()).passed is False
    assert "no gradient" in capsys.readouterr().out

    def todo(*args, **kwargs):
        raise NotImplementedError

    assert check_n2v_mask(todo).passed is None and check_masked_mse(todo).passed is None
