"""Notebook 05's helpers: the initialisation experiment, whole-image denoising, classical baselines, the
reference-denoiser loader, the exercise checks and the live training figure."""

import matplotlib
import pytest
import torch

import course_utils as cu
from course_utils import classical, natural
from course_utils.budget import training_sizes
from course_utils.checks import check_dncnn, check_psnr
from course_utils.denoising import activation_stds, denoise, load_reference_denoiser
from course_utils.dncnn import DnCNN, DUDnCNN, UDnCNN


@pytest.fixture(scope="module")
def noisy_crops():
    clean = natural.random_crops(natural.skimage_images("train", gray=False), 8, 48, generator=cu.make_generator(0))
    return natural.add_gaussian_noise(clean, 30, generator=cu.make_generator(1))


def test_initialisation_keeps_activations_alive_and_default_kills_them(noisy_crops):
    torch.manual_seed(0)
    course, f_course = activation_stds(DnCNN(8, 32, 3), noisy_crops)
    torch.manual_seed(0)
    default, f_default = activation_stds(DnCNN(8, 32, 3, init=False), noisy_crops)
    assert len(course) == 9  # first layer + 8 hidden layers
    assert min(course) > 0.5 * noisy_crops.std().item() and max(course) < 3 * noisy_crops.std().item()
    assert default[-1] < 1e-4 * course[-1]  # PyTorch's init with eps = C: the signal vanishes
    assert 0.3 * 30 / 255 < f_course < 3 * 30 / 255  # the correction starts at the noise's scale
    torch.manual_seed(0)
    _, f_bn = activation_stds(DnCNN(8, 32, 3, init=False, bn_eps=1e-5), noisy_crops)
    assert f_bn > 2 * 30 / 255  # standard BatchNorm: an untrained net adds more than the noise


def test_activation_stds_leaves_the_model_as_it_was(noisy_crops):
    m = DnCNN(2, 8, 3).eval()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    activation_stds(m, noisy_crops)
    assert not m.training and all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    with pytest.raises(TypeError, match="DnCNN"):
        activation_stds(UDnCNN(4, 8, 3), noisy_crops)


def test_denoise_any_size_pads_for_udncnn():
    torch.manual_seed(0)
    u = UDnCNN(6, 8, 3).eval()
    img = torch.rand(3, 37, 50)
    out = denoise(u, img, device="cpu")
    assert out.shape == img.shape
    d = DUDnCNN(6, 8, 1).eval()
    batch = torch.rand(2, 1, 33, 31)
    assert torch.allclose(denoise(d, batch, device="cpu"), d(batch), atol=1e-5)  # no padding needed
    with pytest.raises(ValueError, match="too small"):
        denoise(u, torch.rand(3, 2, 8), device="cpu")
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        denoise(u, torch.rand(8, 8), device="cpu")


def test_budget_has_one_size_per_budget(monkeypatch):
    cu.set_budget("cpu")
    try:
        cpu = training_sizes("denoising")
        cu.set_budget("full")
        full = training_sizes("denoising")
    finally:
        cu.set_budget(None)
    assert full["C"] == 64 and full["D"] == 6 and full["crop"] == 180  # the original assignment
    assert cpu["D"] == 6 and cpu["C"] < full["C"]


@pytest.mark.parametrize("name", ["TV", "NL-means"] + (["BM3D"] if classical.bm3d_available() else []))
@pytest.mark.parametrize("channels", [1, 3])
def test_classical_denoisers_improve_psnr(name, channels):
    clean = natural.centre_crops(natural.skimage_images("test", gray=channels == 1)[:1], 96)
    noisy = natural.add_gaussian_noise(clean, 25, generator=cu.make_generator(0))
    out = classical.denoisers()[name](noisy, 25)
    assert out.shape == clean.shape and out.min() >= 0 and out.max() <= 1
    gain = (cu.psnr(out, clean, data_range=1) - cu.psnr(noisy, clean, data_range=1)).item()
    assert gain > 3, f"{name} gained only {gain:.2f} dB"
    assert classical.denoisers()[name](noisy[0], 25).shape == clean[0].shape  # one image (C, H, W)


def test_classical_denoisers_reject_bad_input():
    with pytest.raises(ValueError, match="0-255"):
        classical.tv_denoise(torch.rand(1, 8, 8), -1)
    with pytest.raises(ValueError, match="C = 1 or 3"):
        classical.nl_means(torch.rand(1, 2, 8, 8), 25)


def test_missing_reference_denoiser_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(cu.denoising, "data_dir", lambda: tmp_path)
    with pytest.raises(FileNotFoundError, match="train_denoiser_reference"):
        load_reference_denoiser("dncnn_gray_s25")
    with pytest.raises(ValueError, match="dncnn_color_s30"):
        load_reference_denoiser("unet")
    m = DnCNN(2, 8, 1)
    (tmp_path / "checkpoints").mkdir()
    cu.save_checkpoint(m, tmp_path / "checkpoints" / "dncnn_gray_s25.pt", sigma=25)
    loaded = load_reference_denoiser("dncnn_gray_s25")
    assert loaded.checkpoint_meta["sigma"] == 25 and not loaded.training


def test_exercise_checks_accept_a_right_answer_and_explain_a_wrong_one(capsys):
    import torch.nn as nn
    import torch.nn.functional as F

    class Right(nn.Module):
        def __init__(self, D, C=64, channels=3):
            super().__init__()
            self.D = D
            self.conv = nn.ModuleList(
                [nn.Conv2d(channels, C, 3, padding=1)]
                + [nn.Conv2d(C, C, 3, padding=1) for _ in range(D)]
                + [nn.Conv2d(C, channels, 3, padding=1)]
            )
            self.bn = nn.ModuleList([nn.BatchNorm2d(C) for _ in range(D)])

        def forward(self, x):
            h = F.relu(self.conv[0](x))
            for k in range(self.D):
                h = F.relu(self.bn[k](self.conv[k + 1](h)))
            return x - self.conv[-1](h)

    class NoResidual(Right):  # returns the noise estimate f(x) itself
        def forward(self, x):
            return x - super().forward(x)

    class WrongSign(Right):  # x + f(x): the original assignment's way of writing it, not the course's
        def forward(self, x):
            return 2 * x - super().forward(x)

    class NoBatchNorm(nn.Module):
        def __init__(self, D, C=64, channels=3):
            super().__init__()
            self.convs = nn.Sequential(nn.Conv2d(channels, C, 3, padding=1), nn.Conv2d(C, channels, 3, padding=1))

    check_dncnn(Right)
    check_dncnn(NoResidual)
    check_dncnn(WrongSign)
    check_dncnn(NoBatchNorm)
    out = capsys.readouterr().out.splitlines()
    text = "\n".join(out)
    assert out[0] == "✅ Right: correct." and "❌ NoBatchNorm" in text and "parameters" in text
    assert text.count("Hint: return x - (the last convolution's output)") == 2  # NoResidual and WrongSign

    def good(x, y, data_range=1.0):
        return (10 * torch.log10(data_range**2 / ((x - y) ** 2).flatten(1).mean(1))).mean()

    def pooled(x, y, data_range=1.0):
        return 10 * torch.log10(data_range**2 / ((x - y) ** 2).mean())

    check_psnr(good)
    check_psnr(pooled)
    out = capsys.readouterr().out
    assert out.startswith("✅") and "❌ pooled" in out and "per image" in out


def test_training_monitor_draws_images_and_curves(tmp_path):
    from course_utils.experiment import Experiment
    from course_utils.plotting import TrainingMonitor

    matplotlib.use("Agg")
    imgs = natural.skimage_images("test", gray=True)
    train = natural.NoisyCrops(imgs, 32, 30, length=4)
    test = natural.NoisyCrops(imgs[:2], 32, 30, train=False)
    model = DnCNN(2, 8, 1)
    exp = Experiment(
        model, train, test, torch.optim.Adam(model.parameters()), tmp_path / "run", batch_size=2, device="cpu"
    )
    exp.run(2, progress=False)
    fig = TrainingMonitor(test[0][0], test[0][1], "test").figure(exp)
    axes = fig.axes
    assert len(axes) == 5 and axes[3].get_yscale() == "log"
    assert [len(line.get_xdata()) for line in axes[4].get_lines()] == [2, 2]  # train and validation PSNR per epoch
    assert fig._suptitle.get_text() == "test epoch 2"


def test_reference_training_script_writes_a_loadable_checkpoint_and_never_overwrites(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts" / "train_denoiser_reference.py"
    out = tmp_path / "gray.pt"
    cmd = [
        sys.executable,
        str(script),
        "dncnn_gray_s25",
        "--steps",
        "2",
        "--batch",
        "2",
        "--crop",
        "32",
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env={"COURSE_DEVICE": "cpu", "PATH": ""}, timeout=300)
    assert done.returncode == 0, done.stderr
    model = cu.load_checkpoint(out, expect=DnCNN)
    meta = model.checkpoint_meta
    assert model.init_args["D"] == 15 and model.channels == 1 and meta["sigma"] == 25 and meta["steps"] == 2
    assert set(meta["test_psnr_per_image"]) == set(natural.TEST_IMAGES)
    before = out.read_bytes()
    again = subprocess.run(cmd, capture_output=True, text=True, env={"COURSE_DEVICE": "cpu", "PATH": ""}, timeout=300)
    assert again.returncode != 0 and "--force" in again.stderr and out.read_bytes() == before


def test_denoise_scales_uint8_and_refuses_a_bad_multiple():

    torch.manual_seed(0)
    u = UDnCNN(4, 8, 1).eval()
    img = torch.rand(1, 16, 20)
    eight = (img * 255).round().to(torch.uint8)
    out = denoise(u, eight, device="cpu")  # before: the net ran on values 0-255
    assert out.dtype == torch.float32 and torch.allclose(out, denoise(u, eight.float() / 255, device="cpu"))
    assert torch.allclose(denoise(u, eight.numpy(), device="cpu"), out)  # NumPy: 'no attribute dim' before
    assert torch.equal(denoise(u, img, device="cpu"), denoise(u, img.double(), device="cpu"))
    for multiple in (0, -2):
        with pytest.raises(ValueError, match="multiple must be a whole number >= 1"):
            denoise(u, img, multiple=multiple, device="cpu")
    for multiple in (2.5, True):
        with pytest.raises(ValueError, match="multiple must be a whole number >= 1"):
            denoise(u, img, multiple=multiple, device="cpu")  # 2.5: a TypeError from F.pad before
    with pytest.raises(TypeError, match="int64"):
        denoise(u, torch.randint(0, 256, (1, 8, 8)), device="cpu")  # whole numbers of unknown scale
