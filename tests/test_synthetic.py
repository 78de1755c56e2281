"""The generators of the original course: shapes, statistics, independence, reproducibility."""

import math

import numpy as np
import pytest
import torch

import course_utils as cu
from course_utils import _stamping as E
from course_utils import synthetic as S

N = 2000  # images per statistical test: standard errors of a few percent


def test_shapes_dtypes_and_ranges(g):
    noisy, clean = cu.gen(16, generator=g)
    n1, n2 = cu.gen_noise2noise(16, generator=g)
    for t in (noisy, clean, n1, n2, cu.gen1_NES(16, generator=g), cu.gen2_NES(16, generator=g)):
        assert t.shape == (16, 1, 64, 64) and t.dtype == torch.float32
        assert t.min() >= 0
    assert clean.max() <= 0.39 * 4  # never more than a few discs stacked
    assert (noisy >= clean).all()  # clutter only adds


def test_zero_images_and_bad_n():
    assert cu.gen1_NES(0).shape == (0, 1, 64, 64)
    with pytest.raises(ValueError, match="number of images"):
        cu.gen(-1)
    with pytest.raises(ValueError, match="number of images"):
        cu.gen(2.5)


@pytest.mark.parametrize("inverse_cdf", [False, True], ids=["torch.poisson", "inverse-cdf"])
@pytest.mark.parametrize("rate", [S.CELL_RATE, S.CLUTTER_RATE, S.N2N_CLUTTER_RATE, 0.0])
def test_object_counts_are_poisson(rate, inverse_cdf):
    """Objects per image ~ Poisson(rate·64·64): mean, variance and P(0) match, by both methods."""
    lam = rate * 64 * 64
    img = E.Draw(torch.Generator().manual_seed(5), None).counts(20000, rate, 64, inverse_cdf=inverse_cdf)
    per_image = torch.bincount(torch.from_numpy(img), minlength=20000).float()
    assert abs(per_image.mean().item() - lam) < 4 * math.sqrt(lam / 20000) + 1e-9
    assert abs(per_image.var().item() - lam) < 0.05 * lam + 1e-9  # Poisson: variance = mean
    assert abs((per_image == 0).float().mean().item() - math.exp(-lam)) < 0.01


def test_numpy_integer_sizes():
    assert cu.gen1_NES(np.int64(3)).shape == (3, 1, 64, 64)


def _disc_areas():
    """Pixels with d² < r² around an integer centre, for each radius 5..10."""
    o = torch.arange(-10, 11)
    d2 = o[:, None] ** 2 + o[None, :] ** 2
    return {int((d2 < r * r).sum()): r for r in range(5, 11)}


def _single_discs(imgs):
    """(radius, peak) of the images holding exactly one disc: area of one radius, centred on the peak."""
    areas, found = _disc_areas(), []
    for im in imgs:
        support = im > 0
        area = int(support.sum())
        if area not in areas:
            continue
        ys, xs = torch.nonzero(support, as_tuple=True)
        peak = int(torch.argmax(im))
        cy, cx = divmod(peak, im.shape[1])
        if ys.float().mean() == cy and xs.float().mean() == cx:
            found.append((areas[area], im.max().item(), cy, cx))
    return found


def test_single_disc_profile_radius_and_position():
    """At a rate of ~0.7 disc per image, single discs show the generator's exact distributions."""
    g = torch.Generator().manual_seed(1)
    imgs = cu.make_cells(3000, rate=0.7 / 4096, generator=g)[:, 0]
    discs = _single_discs(imgs)
    assert len(discs) > 900
    radii = torch.tensor([d[0] for d in discs])
    freq = torch.bincount(radii, minlength=11)[5:].float() / len(discs)
    assert (freq > 0.12).all() and (freq < 0.21).all(), freq  # radius uniform on 5..10
    peaks = torch.tensor([d[1] for d in discs])
    assert peaks.min() >= 0.39 * 0.6 - 1e-6 and peaks.max() <= 0.39 + 1e-6  # 0.39 * U(0.6, 1)
    assert abs(peaks.mean().item() - 0.39 * 0.8) < 0.01
    for r, _, cy, cx in discs:  # the whole disc inside the image
        assert r <= cy <= 64 - r and r <= cx <= 64 - r


def test_dome_profile_values():
    """Inside a single disc the value is amp * (0.39 - 0.36 d²/r²)."""
    g = torch.Generator().manual_seed(2)
    imgs = cu.make_cells(300, rate=0.5 / 4096, generator=g)[:, 0]
    r, peak, cy, cx = _single_discs(imgs)[0]
    im = next(im for im in imgs if im.max().item() == peak)
    amp = peak / 0.39
    ys, xs = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    d2 = ((ys - cy) ** 2 + (xs - cx) ** 2).float()
    expected = amp * (0.39 - 0.36 * d2 / r**2) * (d2 < r**2)
    assert torch.allclose(im, expected, atol=1e-6)


def test_clean_coverage(g):
    clean = cu.make_cells(N, generator=g)
    coverage = (clean > 0).float().mean().item()
    # expected 1 - exp(-8.19 * mean disc area / 4096) with mean area ~ pi * E[r^2] ~ 180 px
    assert 0.25 < coverage < 0.36, coverage


def test_clutter_statistics(g):
    clutter = cu.make_clutter(N, S.CLUTTER_RATE, generator=g)
    assert clutter.min() == 0  # exactly zero outside, never negative
    frac = (clutter > 0).float().mean().item()
    assert 0.04 < frac < 0.20, frac
    # bars are constant, below 0.8 each; speckles are value*relu(N): about half their pixels are 0
    assert clutter.max() < 0.8 * 8


def test_fewer_than_half_of_pixels_ever_cluttered(g):
    """noise2noise with L1 recovers the median: it works because each pixel is clean more often than not."""
    n1, n2, clean = cu.gen_noise2noise(N, generator=g, return_clean=True)
    for noisy in (n1, n2):
        p = ((noisy - clean) > 0).float().mean(dim=0)  # per-pixel probability of clutter
        assert p.max().item() < 0.5, p.max()
        assert 0.05 < p.mean().item() < 0.35


def test_noise2noise_copies_are_independent(g):
    n1, n2, clean = cu.gen_noise2noise(N, generator=g, return_clean=True)
    a, b = (n1 - clean).flatten(1), (n2 - clean).flatten(1)
    assert not torch.equal(a, b)
    # per-pixel correlation across images, averaged over pixels: zero for independent clutter
    a, b = a - a.mean(0), b - b.mean(0)
    corr = (a * b).mean(0) / (a.std(0) * b.std(0) + 1e-12)
    assert abs(corr.mean().item()) < 0.02
    # per pixel, P(both cluttered) = P(first) * P(second). (Pooled over pixels it would not be: clutter
    # is likelier near the centre, and E[p(x)^2] > E[p(x)]^2 even for independent copies.)
    pa, pb = (n1 > clean).float().mean(0), (n2 > clean).float().mean(0)
    pab = ((n1 > clean) & (n2 > clean)).float().mean(0)
    assert abs((pab - pa * pb).mean().item()) < 0.003


def test_gen_clutter_rate_lower_than_noise2noise(g):
    noisy, clean = cu.gen(N, generator=g)
    n1, _, c2 = cu.gen_noise2noise(N, generator=g, return_clean=True)
    assert (noisy > clean).float().mean() < (n1 > c2).float().mean()


def test_noise2noise_rate():
    """``rate=`` sets the clutter of both copies; the default is the original course's 0.0005, and at the
    test images' rate (gen's 0.0003) the pairs carry as much clutter as gen's noisy images."""

    def draw(**kw):
        return cu.gen_noise2noise(N, generator=torch.Generator().manual_seed(4), return_clean=True, **kw)

    default, explicit = draw(), draw(rate=S.N2N_CLUTTER_RATE)
    assert all(torch.equal(a, b) for a, b in zip(default, explicit))  # the default is the named constant
    low, none = draw(rate=S.CLUTTER_RATE), draw(rate=0.0)
    assert torch.equal(low[2], default[2]) and torch.equal(none[2], default[2])  # the same cells at any rate
    assert torch.equal(none[0], none[2]) and torch.equal(none[1], none[2])  # rate 0: no clutter at all
    noisy, clean = cu.gen(N, generator=torch.Generator().manual_seed(5))
    mean_clutter = {"gen": (noisy - clean).mean().item()}
    for name, (n1, n2, c) in (("0.0003", low), ("0.0005", default)):
        mean_clutter[name] = ((n1 - c).mean().item() + (n2 - c).mean().item()) / 2
    # clutter is additive with a Poisson count: its mean grows in proportion to the rate
    assert mean_clutter["0.0003"] == pytest.approx(mean_clutter["gen"], rel=0.08)
    assert mean_clutter["0.0005"] / mean_clutter["0.0003"] == pytest.approx(5 / 3, rel=0.08)
    for bad in (-0.001, float("nan"), float("inf"), "0.0003"):
        with pytest.raises(ValueError, match="rate is the number of clutter objects per pixel"):
            cu.gen_noise2noise(2, rate=bad)


def test_nes_generators():
    g = torch.Generator().manual_seed(3)
    noise = cu.gen2_NES(N, generator=g)
    mixtures = cu.gen1_NES(N, generator=g)
    # noise-only samples have no discs: their mean equals the clutter's, below the mixtures'
    assert noise.mean() < mixtures.mean()
    assert abs((noise > 0).float().mean() - (cu.make_clutter(N, generator=g) > 0).float().mean()) < 0.01


def test_reproducible_with_generator_and_seed():
    a = cu.gen(8, generator=torch.Generator().manual_seed(7))
    b = cu.gen(8, generator=torch.Generator().manual_seed(7))
    c = cu.gen(8, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    cu.seed_everything(3)
    d = cu.gen1_NES(4)
    cu.seed_everything(3)
    assert torch.equal(d, cu.gen1_NES(4))


def test_device_argument_and_mismatch():
    x = cu.gen1_NES(2, device="cpu")
    assert x.device.type == "cpu"
    if torch.cuda.is_available():
        assert cu.gen1_NES(2, device="cuda").device.type == "cuda"
    with pytest.raises(ValueError, match="make the generator on that device"):
        cu.gen1_NES(2, generator=torch.Generator(), device="meta")


def test_make_clutter_adds_in_place():
    from course_utils.synthetic import make_clutter

    base = torch.rand(4, 1, 64, 64)
    alone = make_clutter(4, generator=torch.Generator().manual_seed(9))
    added = make_clutter(4, generator=torch.Generator().manual_seed(9), add_to=base.clone())
    assert torch.allclose(added, base + alone, atol=1e-6)
    with pytest.raises(ValueError, match="add_to must be a contiguous"):
        make_clutter(4, add_to=torch.zeros(3, 1, 64, 64))


@pytest.mark.parametrize("sides", [(50, 2), (2, 50), (30, 30), (10, 29), (64, 1)])
def test_rectangles_are_stamped_exactly(sides):
    """Each rectangle covers exactly its height x width pixels, wholly inside its own image, including
    the last image of the buffer at the bottom-right corner (where the padding could run off the end)."""
    longest = max(sides)
    for u in ([0.0, 0.0], [0.999, 0.999], [0.5, 0.25]):
        out = torch.zeros(3, 64, 64)
        S._rectangles(
            out.view(-1),
            64,
            np.array([2]),
            np.array([u], np.float32),
            np.array([sides]),
            longest,
            np.array([0.7], np.float32),
        )
        h, w = sides
        top, left = int(u[0] * (65 - h)), int(u[1] * (65 - w))
        want = torch.zeros(3, 64, 64)
        want[2, top : top + h, left : left + w] = 0.7
        assert torch.equal(out, want)


def test_speckled_rectangles_are_relu_normal_inside_and_zero_outside():
    out = torch.zeros(1, 64, 64)
    noise = torch.randn((20, 30), generator=torch.Generator().manual_seed(4)).clamp_min_(0)  # 20 lines of 30
    S._rectangles(
        out.view(-1),
        64,
        np.array([0]),
        np.array([[0.5, 0.5]], np.float32),
        np.array([[30, 20]]),
        30,
        np.array([1.0], np.float32),
        speckle=noise,
    )
    inside = out[0, 17:47, 22:42]
    assert (out > 0).sum() == (inside > 0).sum()  # nothing outside the 30x20 rectangle
    assert abs((inside > 0).float().mean().item() - 0.5) < 0.1  # relu(N(0,1)) is 0 half the time
    assert abs(inside[inside > 0].mean().item() - math.sqrt(2 / math.pi)) < 0.15  # E[|Z|]


def test_images_of_one_call_share_a_buffer_but_not_pixels():
    """The tensors of one call are views of one buffer: writing to one leaves the others unchanged, and
    every noisy copy holds exactly the clean cells plus non-negative clutter."""
    n1, n2, clean = cu.gen_noise2noise(16, generator=torch.Generator().manual_seed(2), return_clean=True)
    assert n1.untyped_storage().data_ptr() == clean.untyped_storage().data_ptr()
    assert (n1 - clean).min() >= 0 and (n2 - clean).min() >= 0
    assert ((n1 > clean) != (n2 > clean)).any()  # independent clutter
    before = clean.clone()
    n1.zero_()
    n2.fill_(7)
    assert torch.equal(clean, before) and before.sum() > 0
    noisy, clean = cu.gen(8, generator=torch.Generator().manual_seed(2))
    assert noisy.is_contiguous() and clean.is_contiguous() and (noisy - clean).min() >= 0


@pytest.mark.parametrize(
    "name, sums",
    [
        ("gen", [2067.1164, 1290.1188]),
        ("gen_noise2noise", [2443.3107, 3067.3819, 1290.1188]),
        ("gen1_NES", [2067.1164]),
        ("gen2_NES", [563.867]),
    ],
)
def test_random_stream_is_unchanged(name, sums):
    """The stored outputs of notebooks 06 and 07 come from this stream: a change to the order or the number
    of random draws changes them (re-execute those notebooks and update these sums if that is intended)."""
    kw = {"return_clean": True} if name == "gen_noise2noise" else {}
    out = getattr(cu, name)(6, generator=torch.Generator().manual_seed(11), **kw)
    out = out if isinstance(out, tuple) else (out,)
    assert [round(x.double().sum().item(), 4) for x in out] == pytest.approx(sums, abs=2e-3)


def test_outputs_are_not_in_the_reused_scratch_memory():
    """The large temporaries live in per-thread memory reused from call to call; what a generator returned
    must never change when it is called again, with the same or another batch size."""
    first = [x.clone() for x in cu.gen_noise2noise(8, generator=torch.Generator().manual_seed(5))]
    kept = cu.gen_noise2noise(8, generator=torch.Generator().manual_seed(5))
    for n in (8, 64, 3, 200):
        cu.gen_noise2noise(n, generator=torch.Generator().manual_seed(n))
        cu.gen(n)
    assert all(torch.equal(a, b) for a, b in zip(first, kept))


def test_scratch_pieces_join_and_limits():
    s = E.Scratch(torch.device("cpu"))
    a, b = s.empty((3, 30), torch.float32), s.empty((2, 30), torch.float32)
    a.fill_(1), b.fill_(2)
    joined = s.join([a, b])  # consecutive pieces of one buffer: a view, no copy
    assert joined.shape == (5, 30) and joined.data_ptr() == a.data_ptr()
    assert torch.equal(joined, torch.cat([torch.ones(3, 30), torch.full((2, 30), 2.0)]))
    c = s.empty((2, 30), torch.float32).fill_(3)
    apart = s.join([a, c])  # not consecutive: copied
    assert apart.data_ptr() != a.data_ptr() and torch.equal(apart[3:], c)
    s.reset()
    assert s.empty((3, 30), torch.float32).data_ptr() == a.data_ptr()  # reused after reset
    huge = s.empty((E.Scratch.KEEP // 4 + 1,), torch.float32)  # too large to keep: allocated apart
    assert all(buf.numel() * buf.element_size() <= E.Scratch.KEEP for buf in s.buffers.values())
    assert huge.numel() == E.Scratch.KEEP // 4 + 1
    assert E.Scratch(torch.device("meta")).buffers is None  # off the CPU: plain allocations


def test_threads_get_their_own_scratch_memory():
    """Generators called from several threads at once give what they give one after the other."""
    import concurrent.futures

    seeds = list(range(8))
    alone = [cu.gen_noise2noise(32, generator=torch.Generator().manual_seed(s)) for s in seeds]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda s: cu.gen_noise2noise(32, generator=torch.Generator().manual_seed(s)), seeds))
    assert all(torch.equal(a, b) for x, y in zip(alone, together) for a, b in zip(x, y))


def test_line_masks():
    m = E.line_masks(5, "cpu", torch.float32)
    assert m.shape == (6, 5) and m.dtype == torch.float32
    assert m.sum(1).tolist() == [0, 1, 2, 3, 4, 5] and torch.equal(m[3], torch.tensor([1.0, 1, 1, 0, 0]))


def test_generators_inside_and_outside_inference_mode():
    """The kept scratch memory is made outside inference mode: a first call under `torch.inference_mode()`
    (evaluation code, say) must not break the calls after it, and the stream stays the same."""
    E.Scratch._local.__dict__.pop("buffers", None)  # as in a fresh thread
    for cached in (E.poisson_means, E.line_masks, E.steps_row, S._disc_rows, S._side_ranges, E.poisson_cdf):
        cached.cache_clear()  # and a fresh process: the kept tables are made inside inference mode too
    with torch.inference_mode():
        inside = cu.gen_noise2noise(8, generator=torch.Generator().manual_seed(1))
    outside = cu.gen_noise2noise(8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        nograd = cu.gen_noise2noise(8, generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) and torch.equal(a, c) for a, b, c in zip(inside, outside, nograd))
    assert not outside[0].is_inference()


def test_float32_whatever_the_default_dtype():
    """The images are float32 even when a notebook made float64 the default (it used to fail in scatter)."""
    want = cu.gen_noise2noise(4, generator=torch.Generator().manual_seed(3))
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        got = cu.gen_noise2noise(4, generator=torch.Generator().manual_seed(3))
    finally:
        torch.set_default_dtype(before)
    assert all(g.dtype == torch.float32 and torch.equal(g, w) for g, w in zip(got, want))
