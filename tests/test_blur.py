"""Deblurring (notebook 08): motion kernels, the blurring operator, blurred/sharp pairs,
classical deconvolution, and whole-image vs patch-averaged restoration."""

import math

import pytest
import torch
import torch.nn.functional as F

import course_utils as cu
from course_utils import natural
from course_utils.blur import BlurredCrops, blur, motion_kernel, random_motion_kernels
from course_utils.checks import check_blur
from course_utils.classical import richardson_lucy, wiener
from course_utils.dncnn import DUDnCNN
from course_utils.inference import patch_average


@pytest.mark.parametrize("length,angle", [(1, 0), (7, 0), (9, 90), (12, 30), (15, 135)])
def test_motion_kernel_is_a_normalised_segment_of_the_given_length_and_angle(length, angle):
    k = motion_kernel(length, angle)
    assert k.shape == (21, 21) and k.min() >= 0 and k.sum().item() == pytest.approx(1, abs=1e-6)
    ys, xs = torch.meshgrid(torch.arange(21.0) - 10, torch.arange(21.0) - 10, indexing="ij")
    assert (k * xs).sum().item() == pytest.approx(0, abs=1e-4) and (k * ys).sum().item() == pytest.approx(0, abs=1e-4)
    # second moment along the direction of motion: that of a uniform segment, L^2 / 12 (+ 1/6 or so from splatting)
    a = math.radians(angle)
    along = xs * math.cos(a) - ys * math.sin(a)
    across = xs * math.sin(a) + ys * math.cos(a)
    if length > 1:
        assert (k * along**2).sum().item() == pytest.approx(length**2 / 12, rel=0.15, abs=0.2)
        assert (k * across**2).sum().item() < 0.35  # thin: at most about one pixel wide
    with pytest.raises(ValueError, match="odd"):
        motion_kernel(5, 0, size=20)
    with pytest.raises(ValueError, match="length"):
        motion_kernel(30, 0)


def test_random_kernels_are_reproducible():
    a = random_motion_kernels(4, generator=cu.make_generator(3))
    b = random_motion_kernels(4, generator=cu.make_generator(3))
    assert a.shape == (4, 21, 21) and torch.equal(a, b)
    k, lengths, angles = random_motion_kernels(4, (5.0, 9.0), generator=cu.make_generator(3), return_params=True)
    assert ((lengths >= 5) & (lengths <= 9)).all() and ((angles >= 0) & (angles < 180)).all()
    assert all(torch.equal(k[i], motion_kernel(float(lengths[i]), float(angles[i]))) for i in range(4))


def test_blur_is_a_true_convolution_with_reflected_borders():
    img = torch.zeros(1, 31, 31)
    img[0, 15, 15] = 1.0
    k = torch.zeros(5, 5)
    k[2, 4] = 1.0  # shift: a convolution moves the impulse to the right
    out = blur(img, k)
    assert out.shape == img.shape and out[0, 15, 17] == 1 and out.sum() == 1
    flat = torch.full((3, 20, 24), 0.7)
    assert torch.allclose(blur(flat, motion_kernel(9, 45)), flat, atol=1e-6)  # no dark border
    batch = torch.rand(2, 1, 32, 32)
    ks = random_motion_kernels(2, generator=cu.make_generator(0))
    assert torch.allclose(blur(batch, ks)[1], blur(batch[1], ks[1]))  # one kernel per image
    noisy = blur(flat, motion_kernel(1, 0), sigma=25, generator=cu.make_generator(0))
    assert (noisy - flat).std().item() == pytest.approx(25 / 255, rel=0.05)
    with pytest.raises(ValueError, match="one odd square kernel per image"):
        blur(batch, ks[:1].expand(3, -1, -1))


def test_blurred_crops_train_and_test():
    imgs = natural.skimage_images("test", gray=True)
    test = BlurredCrops(imgs, 128, train=False, seed=1)
    again = BlurredCrops(imgs, 128, train=False, seed=1)
    assert len(test) == 4 and torch.equal(test[2][0], again[2][0]) and test.kernels.shape == (4, 21, 21)
    assert torch.equal(test.kernels[3], motion_kernel(float(test.motion_lengths[3]), float(test.motion_angles[3])))
    assert torch.equal(test.kernels_off_by(0), test.kernels)
    off = test.kernels_off_by(30)
    assert torch.equal(off[1], motion_kernel(float(test.motion_lengths[1]), float(test.motion_angles[1]) + 30))
    assert (cu.psnr(test.blurred, test.sharp, data_range=1) < 35).item()  # visibly degraded
    train = BlurredCrops(imgs, 48, length=5)
    with pytest.raises(ValueError, match="needs a test set"):
        train.kernels_off_by(10)
    x, y = train[0]
    assert len(train) == 5 and x.shape == y.shape == (1, 48, 48)
    with pytest.raises(ValueError, match="crop"):
        BlurredCrops(imgs, 4000)


def test_classical_deconvolution_with_the_true_kernel_sharpens():
    test = BlurredCrops(natural.skimage_images("test", gray=True)[:2], 128, train=False, seed=0)
    inner = (..., slice(21, -21), slice(21, -21))
    before = cu.psnr(test.blurred[inner], test.sharp[inner], data_range=1).item()
    for fn in (wiener, richardson_lucy):
        out = fn(test.blurred, test.kernels)
        assert out.shape == test.blurred.shape and out.min() >= 0 and out.max() <= 1
        assert cu.psnr(out[inner], test.sharp[inner], data_range=1).item() > before + 1
        one = fn(test.blurred[0], test.kernels[0])  # one image, one kernel
        assert torch.allclose(one, out[0], atol=1e-5)
    colour = blur(natural.centre_crops(natural.skimage_images("test", gray=False)[1:2], 64), test.kernels[0])
    assert wiener(colour, test.kernels[0]).shape == colour.shape  # each channel with the same kernel
    with pytest.raises(ValueError, match="one kernel per image"):
        wiener(test.blurred, test.kernels[:1].expand(3, -1, -1))


def test_patch_average_agrees_with_the_whole_image_away_from_patch_borders():
    torch.manual_seed(0)
    net = DUDnCNN(2, 4, channels=1).eval()  # receptive field 9: radius 4
    img = torch.rand(1, 40, 52)
    whole = net(img[None])[0].detach()
    one_patch = patch_average(net, img, 40, 40, device="cpu")  # windows of the full height
    assert one_patch.shape == img.shape
    # a pixel at least 4 px from every inner window border of every window containing it is exact
    same = patch_average(net, img, 40, 1, device="cpu")
    assert torch.allclose(same[:, 5:-5, 17:-17], whole[:, 5:-5, 17:-17], atol=1e-5)
    assert not torch.allclose(one_patch, whole, atol=1e-5)  # but near window borders they differ
    with pytest.raises(ValueError, match="stride"):
        patch_average(net, img, 64, 8)


def test_check_blur_accepts_a_convolution_and_explains_a_correlation(capsys):
    def convolution(image, kernel):
        r = kernel.shape[-1] // 2
        return F.conv2d(F.pad(image[:, None], (r, r, r, r), mode="reflect"), kernel.flip(-1, -2)[None, None])[:, 0]

    def correlation(image, kernel):
        r = kernel.shape[-1] // 2
        return F.conv2d(F.pad(image[:, None], (r, r, r, r), mode="reflect"), kernel[None, None])[:, 0]

    check_blur(convolution)
    check_blur(correlation)
    out = capsys.readouterr().out
    assert out.startswith("✅ convolution") and "❌ correlation" in out and "flip the kernel" in out
