"""The synthetic fluorescence nuclei: shapes, exact masks, and the statistics that make them realistic."""

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from course_utils import nuclei
from course_utils.images import normalize_percentile
from course_utils.nuclei import ellipse_mask, make_nuclei


@pytest.fixture(scope="module")
def batch():
    return make_nuclei(48, generator=torch.Generator().manual_seed(5))


def test_shapes_ranges_and_reproducibility(batch):
    x, y = batch
    assert x.shape == y.shape == (48, 1, 128, 128) and x.dtype == y.dtype == torch.float32
    assert x.min() >= 0 and x.max() <= 1
    assert set(torch.unique(y).tolist()) <= {0.0, 1.0}
    a = make_nuclei(3, (64, 96), generator=torch.Generator().manual_seed(1))
    b = make_nuclei(3, (64, 96), generator=torch.Generator().manual_seed(1))
    c = make_nuclei(3, (64, 96), generator=torch.Generator().manual_seed(2))
    assert a[0].shape == (3, 1, 64, 96)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])
    with pytest.raises(ValueError, match="at least 8x8"):
        make_nuclei(1, 4)


def test_ellipse_mask_is_exact():
    m = ellipse_mask((21, 21), 10, 10, 5, 5, 0.0)
    assert m.sum() == 81  # lattice points with i² + j² <= 25
    e = ellipse_mask((40, 40), 20, 20, 10, 4, math.pi / 2)  # long axis vertical
    rows, cols = np.nonzero(e)
    assert rows.max() - rows.min() == 20 and cols.max() - cols.min() == 8


def test_masks_are_exactly_the_drawn_ellipses():
    canvas, mask, tex = np.zeros((32, 32)), np.zeros((32, 32), bool), np.zeros((32, 32))
    nuclei._draw(canvas, mask, tex, 14.3, 17.8, 7.5, 4.2, 0.7, 1.0, 0.2, 0.1)
    assert np.array_equal(mask, ellipse_mask((32, 32), 14.3, 17.8, 7.5, 4.2, 0.7))
    assert (canvas[mask] > 0).all() and (canvas[~mask] == 0).all()


def test_density_and_size_vary_widely(batch):
    _, y = batch
    cover = y.mean(dim=(1, 2, 3))
    assert cover.min() < 0.12 and cover.max() > 0.35
    radii = []  # equivalent radius of isolated components
    for m in y[:, 0].numpy():
        lab, n = ndimage.label(m)
        radii += list(np.sqrt(np.bincount(lab.ravel())[1:] / math.pi))
    radii = np.array(radii)
    assert np.percentile(radii, 5) < 3.5 and (radii > 12).sum() >= 10  # from a few px to ~20 px


def test_nuclei_touch_and_cluster():
    rng = np.random.default_rng(0)
    touching = 0
    for _ in range(20):
        ys, xs, a, b, _t = nuclei._place(rng, 128, 128, 6.0, 120)
        r = np.sqrt(a * b)
        d = np.hypot(ys[:, None] - ys[None], xs[:, None] - xs[None]) + np.eye(len(ys)) * 1e9
        s = r[:, None] + r[None]
        assert (d >= 0.75 * s - 1e-9).all()  # never much overlap
        touching += int((d < 1.05 * s).sum() // 2)
    assert touching > 50


def test_nuclei_are_brighter_with_varied_texture_and_soft_edges(batch):
    x, y = batch
    fg = (x * y).sum(dim=(1, 2, 3)) / y.sum(dim=(1, 2, 3)).clamp_min(1)
    bg = (x * (1 - y)).sum(dim=(1, 2, 3)) / (1 - y).sum(dim=(1, 2, 3)).clamp_min(1)
    assert (fg > bg + 0.15).float().mean() > 0.9
    assert bg.std() > 0.01  # background level differs between images
    inside = torch.stack([x[i][y[i] > 0].std() for i in range(len(x))])
    assert inside.median() > 0.05  # brightness varies within and between nuclei
    edge = torch.from_numpy(
        ndimage.binary_dilation(y[:, 0].numpy(), iterations=1) ^ ndimage.binary_erosion(y[:, 0].numpy(), iterations=1)
    )[:, None]
    mid = ((x > 0.1) & (x < 0.9) & edge).sum() / edge.sum()
    assert mid > 0.5  # edges are soft, not binary steps


def test_camera_noise_is_present(batch):
    x, y = batch
    hp = x[..., 1:, :] - x[..., :-1, :]
    bg = (y[..., 1:, :] == 0) & (y[..., :-1, :] == 0)
    assert hp[bg].std() > 0.005


def test_normalize_percentile():
    a = np.linspace(0, 10, 1001, dtype=np.float32).reshape(7, 143)
    n = normalize_percentile(a, 0, 100)
    assert n.min() == 0 and n.max() == 1 and n.dtype == np.float32
    t = torch.stack([torch.arange(100.0).view(10, 10), 5 * torch.ones(10, 10)])
    out = normalize_percentile(t, 10, 90)
    assert torch.is_tensor(out) and out.shape == t.shape
    assert out[0].min() == 0 and out[0].max() == 1 and (out[1] == 0).all()  # flat image: zeros
    assert normalize_percentile(t, 10, 90, clip=False)[0].max() > 1


# ---------------------------------------------------------------- options towards real microscopes (issue #23)
def _outside_mean(x, y):
    return float(x[y == 0].mean())


def test_options_at_their_defaults_give_the_same_images_and_wide_differs():
    g = lambda: torch.Generator().manual_seed(11)  # noqa: E731
    plain = make_nuclei(4, 64, generator=g())
    spelled = make_nuclei(
        4, 64, generator=g(), scale=nuclei.SCALE, blur=nuclei.BLUR, dim=0, tissue=0, haze=nuclei.HAZE, bits=None
    )
    assert torch.equal(plain[0], spelled[0]) and torch.equal(plain[1], spelled[1])
    x, y, lab = make_nuclei(6, 96, generator=g(), labels=True, **nuclei.WIDE)
    assert nuclei.WIDE["scale"][0] < nuclei.BRIGHT_BLOBS_MAX_SCALE < nuclei.WIDE["scale"][1]
    assert not torch.equal(x[:4, :, :64, :64], plain[0])
    assert x.min() >= 0 and x.max() <= 1 and set(torch.unique(y).tolist()) <= {0.0, 1.0}
    assert torch.equal(y, (lab > 0).float())  # masks stay exact: the labels' foreground


def test_scale_option_draws_larger_nuclei():
    small = make_nuclei(6, 128, generator=1, scale=(3.0, 3.5))[1]
    large = make_nuclei(6, 128, generator=1, scale=(25.0, 30.0))[1]

    def median_area(y):
        areas = []
        for m in y[:, 0].numpy():
            lab, _ = ndimage.label(m)
            areas += list(np.bincount(lab.ravel())[1:])
        return np.median(areas)

    assert median_area(large) > 20 * median_area(small)


def test_blur_option_softens_the_edges():
    def edge_step(blur):
        x, y = make_nuclei(8, 96, generator=2, blur=blur, haze=0.0)
        inner = ndimage.binary_erosion(y[:, 0].numpy() > 0, iterations=1, structure=np.ones((1, 3, 3)))
        outer = ndimage.binary_dilation(y[:, 0].numpy() > 0, iterations=1, structure=np.ones((1, 3, 3)))
        ring_in = (y[:, 0].numpy() > 0) & ~inner
        ring_out = outer & ~(y[:, 0].numpy() > 0)
        return float(x[:, 0].numpy()[ring_in].mean() - x[:, 0].numpy()[ring_out].mean())

    assert edge_step((3.0, 3.0)) < 0.6 * edge_step((0.4, 0.4))  # the step across the edge shrinks


def test_dim_option_adds_faint_nuclei_that_stay_in_the_mask():
    def faint_fraction(dim):  # nuclei whose contrast is under 35 % of the bright ones' (90th percentile)
        x, y, lab = make_nuclei(8, 128, generator=3, labels=True, dim=dim, haze=0.0)
        fractions = []
        for img, m, lb in zip(x[:, 0].numpy(), y[:, 0].numpy(), lab[:, 0].numpy()):
            if lb.max() < 4:
                continue
            contrast = np.asarray(ndimage.mean(img, lb, np.arange(1, lb.max() + 1))) - np.median(img[m == 0])
            fractions.append(np.mean(contrast < 0.35 * np.percentile(contrast, 90)))
        return np.mean(fractions)

    assert faint_fraction(0.5) > faint_fraction(0.0) + 0.2  # about 0.42 against 0.06


def test_tissue_and_haze_brighten_the_background_outside_the_mask():
    small = (2.5, 8.0)  # tissue and bright out-of-focus nuclei come only with small nuclei (BRIGHT_BLOBS_MAX_SCALE)
    plain = make_nuclei(12, 96, generator=4, haze=0.0, scale=small)
    tissue = make_nuclei(12, 96, generator=4, haze=0.0, tissue=1.0, scale=small)
    assert _outside_mean(*tissue) > _outside_mean(*plain) + 0.03  # about 0.12 against 0.08
    x0, y0 = make_nuclei(48, 64, generator=4, haze=0.0, scale=small)
    x1, y1 = make_nuclei(48, 64, generator=4, haze=1.0, scale=small)
    assert torch.equal(y0[0], y1[0])  # the first image: the same in-focus nuclei (out-of-focus ones: no mask)
    bright0, bright1 = (float((x[y == 0] > 0.15).float().mean()) for x, y in ((x0, y0), (x1, y1)))
    assert bright1 > 1.3 * bright0  # about 0.20 of the background above 0.15 against 0.14


def test_bits_option_quantises_and_saturation_flattens_the_brightest_nuclei():
    x, _ = make_nuclei(4, 64, generator=5, bits=(2.0, 2.0))
    for img in x[:, 0]:
        assert len(torch.unique(img)) <= 4  # 2 bits: at most 4 grey levels, whatever the normalisation does
    assert all(len(torch.unique(img)) > 50 for img in make_nuclei(4, 64, generator=5)[0][:, 0])

    def at_top(saturation):
        x, y = make_nuclei(8, 96, generator=6, saturation=saturation)
        return float((x[y > 0] >= 0.999).float().mean())

    assert at_top(1.0) > at_top(0.0) + 0.05


@pytest.mark.parametrize(
    "option, match",
    [
        (dict(scale=(5, 2)), "scale is a range"),
        (dict(blur=3.0), "blur is a range"),
        (dict(bits=(0, 8)), "bits is a range"),
        (dict(dim=1.5), "dim is a chance"),
        (dict(tissue=-0.1), "tissue is a chance"),
        (dict(saturation="yes"), "saturation is a chance"),
    ],
)
def test_options_refuse_bad_values(option, match):
    with pytest.raises(ValueError, match=match):
        make_nuclei(1, 16, **option)
