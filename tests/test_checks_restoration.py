"""The self-checks of notebooks 05 and 08's restored exercises: a right answer passes, the usual wrong answers
fail with a message that says what is wrong and where to look."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import checks, dncnn, predict
from course_utils.checks import (
    check_dudncnn,
    check_he_bn_init,
    check_motion_kernel,
    check_n_params,
    check_noisy_crops,
    check_patch_average,
    check_rf_dncnn,
    check_rf_dudncnn,
    check_udncnn,
    check_wiener,
)


def verdict(check, answer, capsys):
    result = check(answer)
    out = capsys.readouterr().out
    assert out.strip() == result.message
    return result.passed, result.message


# ---------------------------------------------------------------- the noisy crops (notebook 05)


class Crops(torch.utils.data.Dataset):
    """The right answer (no flip); subclasses below make one mistake each."""

    def __init__(self, images, size, sigma, length=1000):
        self.images, self.size, self.sigma, self.length = list(images), size, sigma, length

    def __len__(self):
        return self.length

    def crop(self):
        image = self.images[int(torch.randint(len(self.images), (1,)))]
        top = int(torch.randint(image.shape[-2] - self.size + 1, (1,)))
        left = int(torch.randint(image.shape[-1] - self.size + 1, (1,)))
        return image[:, top : top + self.size, left : left + self.size]

    def noise(self, clean):
        return torch.randn(clean.shape) * self.sigma / 255

    def __getitem__(self, i):
        clean = self.crop()
        return clean + self.noise(clean), clean


class PerImage(Crops):
    def __len__(self):
        return len(self.images)


class NotScaled(Crops):
    def noise(self, clean):
        return torch.randn(clean.shape) * self.sigma


class TwiceSigma(Crops):  # the original assignment's factor 2, for images in [-1, 1]
    def noise(self, clean):
        return 2 / 255 * self.sigma * torch.randn(clean.shape)


class Uniform(Crops):
    def noise(self, clean):
        return torch.rand(clean.shape) * self.sigma / 255


class Clipped(Crops):
    def __getitem__(self, i):
        noisy, clean = super().__getitem__(i)
        return noisy.clamp(0, 1), clean


class Corner(Crops):
    def crop(self):
        return self.images[0][:, : self.size, : self.size]


class Misaligned(Crops):
    def __getitem__(self, i):
        clean = self.crop()
        return self.crop() + self.noise(clean), clean


class FixedNoise(Crops):
    def __getitem__(self, i):
        clean = self.crop()
        if not hasattr(self, "fixed"):
            self.fixed = self.noise(clean)
        return clean + self.fixed, clean


def test_noisy_crops(capsys):
    from course_utils.natural import NoisyCrops

    assert verdict(check_noisy_crops, Crops, capsys)[0] is True
    assert verdict(check_noisy_crops, NoisyCrops, capsys)[0] is True  # the course's version (with flips)
    expected = {
        PerImage: "your __len__ returns 3, but a data set built with length=37 has 37 items (3 is the number of images",
        NotScaled: "divide it by 255",
        TwiceSigma: "factor 2 of the original assignment",
        Uniform: "torch.randn",
        Clipped: "clipped to [0, 1]",
        Corner: "the crops are not random",
        Misaligned: "is not white noise",
        FixedNoise: "draw fresh noise in __getitem__",
    }
    for wrong, words in expected.items():
        passed, message = verdict(check_noisy_crops, wrong, capsys)
        assert passed is False and words in message, (wrong.__name__, message)


def test_noisy_crops_not_done(capsys):
    class Stub(Crops):
        def __len__(self):
            raise NotImplementedError("Stub.__len__: not written yet")

    assert verdict(check_noisy_crops, Stub, capsys)[0] is None


# ---------------------------------------------------------------- the initialisation (notebook 05)


def test_he_bn_init(capsys):
    assert verdict(check_he_bn_init, dncnn.he_bn_init, capsys)[0] is True

    def convs(net):
        return [m for m in net.modules() if isinstance(m, nn.Conv2d)]

    def bns(net):
        return [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]

    def lecun(net):
        for conv in convs(net)[:-1]:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="linear")

    def every_conv(net):
        dncnn.he_bn_init(net)
        nn.init.kaiming_normal_(convs(net)[-1].weight, nonlinearity="relu")

    def fixed_64(net):
        for conv in convs(net)[:-1]:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
        for bn in bns(net):
            nn.init.constant_(bn.weight, 1.25 * math.sqrt(64))
            bn.eps = 64

    def no_eps(net):
        dncnn.he_bn_init(net)
        for bn in bns(net):
            bn.eps = 1e-5

    expected = {
        lecun: "He's gain for a ReLU is sqrt(2)",
        every_conv: "leave it as PyTorch built it",
        fixed_64: "not a fixed 64",
        no_eps: "set bn.eps = C",
    }
    for wrong, words in expected.items():
        passed, message = verdict(check_he_bn_init, wrong, capsys)
        assert passed is False and words in message, (wrong.__name__, message)


# ---------------------------------------------------------------- UDnCNN and DUDnCNN (notebook 05)


class Family(nn.Module):
    def __init__(self, D, C=64, channels=3, dilations=None):
        super().__init__()
        self.D = D
        dilations = dilations or [1] * (D + 2)
        widths = [channels] + [C] * (D + 1) + [channels]
        self.conv = nn.ModuleList(
            nn.Conv2d(widths[k], widths[k + 1], 3, padding=d, dilation=d) for k, d in enumerate(dilations)
        )
        self.bn = nn.ModuleList(nn.BatchNorm2d(C) for _ in range(D))
        dncnn.he_bn_init(self)

    def layer(self, k, h):
        return F.relu(self.bn[k - 1](self.conv[k](h)))


class U(Family):
    scale = math.sqrt(2)

    def forward(self, x):
        pools = self.D // 2 - 1
        h = F.relu(self.conv[0](x))
        skips, indices = [], []
        for k in range(1, pools + 1):
            h, idx = F.max_pool2d(self.layer(k, h), 2, return_indices=True)
            skips.append(h)
            indices.append(idx)
        h = self.layer(pools + 2, self.layer(pools + 1, h))
        for k in range(pools + 3, self.D + 1):
            h = F.max_unpool2d(self.layer(k, (h + skips.pop()) / self.scale), indices.pop(), 2)
        return x - self.conv[-1](h)


class UNotScaled(U):
    scale = 1.0


class UPlus(U):
    def forward(self, x):
        return 2 * x - super().forward(x)


class URenamed(U):
    def __init__(self, D, C=64, channels=3):
        super().__init__(D, C, channels)
        self.convs = self.conv
        del self.conv


def test_udncnn(capsys):
    assert verdict(check_udncnn, U, capsys)[0] is True
    assert verdict(check_udncnn, dncnn.UDnCNN, capsys)[0] is True
    passed, message = verdict(check_udncnn, UNotScaled, capsys)
    assert passed is False and "the first layer whose output differs is conv.5" in message and "sqrt(2)" in message
    passed, message = verdict(check_udncnn, UPlus, capsys)
    assert passed is False and "every layer matches" in message and "x - self.conv[-1](h)" in message
    passed, message = verdict(check_udncnn, URenamed, capsys)
    assert passed is False and "not named as the course's" in message


def test_udncnn_whose_constructor_calls_an_unfinished_exercise(capsys):
    class Waiting(U):
        def __init__(self, D, C=64, channels=3):
            raise NotImplementedError("he_bn_init: not written yet. Write it in its cell")

    passed, message = verdict(check_udncnn, Waiting, capsys)
    assert passed is False and "he_bn_init: not written yet" in message and "Stuck?" in message


class DU(Family):
    shifted = False

    def __init__(self, D, C=64, channels=3):
        scales = dncnn.level_scales(D)
        if self.shifted:  # the original assignment's list: the decoder's dilations one layer early
            p = D // 2 - 1
            scales = scales[: p + 2] + [2 ** (p - j) for j in range(D - D // 2)] + [1]
        super().__init__(D, C, channels, scales)

    def forward(self, x):
        pools = self.D // 2 - 1
        h = F.relu(self.conv[0](x))
        skips = []
        for k in range(1, pools + 1):
            h = self.layer(k, h)
            skips.append(h)
        h = self.layer(pools + 2, self.layer(pools + 1, h))
        for k in range(pools + 3, self.D + 1):
            h = self.layer(k, (h + skips.pop()) / math.sqrt(2))
        return x - self.conv[-1](h)


class DUShifted(DU):
    shifted = True


class Undilated(DU):
    def __init__(self, D, C=64, channels=3):
        Family.__init__(self, D, C, channels)


def test_dudncnn(capsys):
    assert DUShifted(6, 4).conv[5].dilation == (2, 2)  # 1, 1, 2, 4, 4, 2, 1, 1
    assert verdict(check_dudncnn, DU, capsys)[0] is True
    assert verdict(check_dudncnn, dncnn.DUDnCNN, capsys)[0] is True
    passed, message = verdict(check_dudncnn, DUShifted, capsys)
    assert passed is False and "is conv.5" in message and "dilation 2 and padding 2, the course's dilation 4" in message
    passed, message = verdict(check_dudncnn, Undilated, capsys)
    assert passed is False and "is conv.2" in message and "dilation 1 and padding 1, the course's dilation 2" in message
    passed, message = verdict(check_dudncnn, U, capsys)  # pooling left in: 30x37 does not go through
    assert passed is False and "raised RuntimeError" in message


# ---------------------------------------------------------------- parameter count and receptive fields (05)


def test_n_params(capsys):
    def right(D, C, channels=3):
        return 9 * channels * C + C + D * (9 * C * C + 3 * C) + 9 * C * channels + channels

    def no_bn(D, C, channels=3):
        return right(D, C, channels) - 2 * D * C

    def with_buffers(D, C, channels=3):
        return right(D, C, channels) + 2 * D * C

    assert verdict(check_n_params, right, capsys)[0] is True
    passed, message = verdict(check_n_params, no_bn, capsys)
    assert passed is False and "each BatchNorm2d(C) has 2C parameters" in message
    passed, message = verdict(check_n_params, with_buffers, capsys)
    assert passed is False and "buffers, not parameters" in message


def test_receptive_field_formulas(capsys):
    assert verdict(check_rf_dncnn, lambda D: 2 * D + 5, capsys)[0] is True
    passed, message = verdict(check_rf_dncnn, lambda D: 2 * D + 3, capsys)
    assert passed is False and "D = 0: measured 5" in message and "(D + 2)" in message
    assert verdict(check_rf_dudncnn, lambda D: 5 * 2 ** (D // 2) - 1, capsys)[0] is True
    passed, message = verdict(check_rf_dudncnn, lambda D: 11 * 2 ** (D // 2 - 1) - 2, capsys)  # UDnCNN's bound
    assert passed is False and "D = 4: measured 19" in message and "no pooling" in message


# ---------------------------------------------------------------- motion kernel, Wiener, patches (notebook 08)


def segment(length, angle, size=21, sign=-1.0, start=-0.5):
    c = size // 2
    t = torch.linspace(start * length, (start + 1) * length, int(8 * length) + 1)
    x = c + t * math.cos(math.radians(angle))
    y = c + sign * t * math.sin(math.radians(angle))
    k = torch.zeros(size, size)
    k.index_put_((y.round().long(), x.round().long()), torch.ones(len(t)), accumulate=True)
    return k / k.sum()


def test_motion_kernel(capsys):
    from course_utils.blur import motion_kernel

    assert verdict(check_motion_kernel, segment, capsys)[0] is True
    assert verdict(check_motion_kernel, motion_kernel, capsys)[0] is True
    passed, message = verdict(check_motion_kernel, lambda L, a, size=21: segment(L, a, size, sign=1.0), capsys)
    assert passed is False and "mirrored" in message
    passed, message = verdict(check_motion_kernel, lambda L, a, size=21: segment(L, a, size, start=0.0), capsys)
    assert passed is False and "centre of mass" in message
    passed, message = verdict(check_motion_kernel, lambda L, a, size=21: segment(L, a, size) * 2, capsys)
    assert passed is False and "sums to 1" in message


def test_wiener(capsys):
    def right(image, kernel, balance):
        return checks._wiener_variants(image, kernel, balance)["right"].float()

    def not_centred(image, kernel, balance):
        return checks._wiener_variants(image, kernel, balance)["not centred"]

    def no_conj(image, kernel, balance):
        return checks._wiener_variants(image, kernel, balance)["no conj"]

    assert verdict(check_wiener, right, capsys)[0] is True
    passed, message = verdict(check_wiener, not_centred, capsys)
    assert passed is False and "roll it by -(k // 2)" in message
    passed, message = verdict(check_wiener, no_conj, capsys)
    assert passed is False and "a kernel that is not symmetric" in message and "complex conjugate" in message


def test_patch_average(capsys):
    from course_utils.inference import patch_average

    assert verdict(check_patch_average, lambda m, im, p, s: patch_average(m, im, p, s, device="cpu"), capsys)[0]

    def windows(image, patch, stride, touch=True):
        c, h, w = image.shape
        ys = list(range(0, h - patch + 1, stride))
        xs = list(range(0, w - patch + 1, stride))
        if touch:
            ys += [] if ys[-1] == h - patch else [h - patch]
            xs += [] if xs[-1] == w - patch else [w - patch]
        return [(y, x) for y in ys for x in xs]

    def average(model, image, patch, stride, run=None, touch=True):
        corners = windows(image, patch, stride, touch)
        batch = torch.stack([image[:, y : y + patch, x : x + patch] for y, x in corners])
        outs = run(batch) if run else predict(model, batch, device="cpu")
        total, count = torch.zeros(image.shape), torch.zeros(1, *image.shape[1:])
        for (y, x), o in zip(corners, outs):
            total[:, y : y + patch, x : x + patch] += o
            count[:, y : y + patch, x : x + patch] += 1
        return total / count

    assert verdict(check_patch_average, average, capsys)[0] is True
    passed, message = verdict(
        check_patch_average, lambda m, im, p, s: average(m, im, p, s, run=lambda b: m(b).detach()), capsys
    )
    assert passed is False and "eval mode" in message
    passed, message = verdict(check_patch_average, lambda m, im, p, s: average(m, im, p, s, touch=False), capsys)
    assert passed is False and "NaN" in message and "ends at the border" in message
