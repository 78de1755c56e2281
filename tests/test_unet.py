"""UNet: shapes for any input size, parameter counts by formula, errors."""

import pytest
import torch

from course_utils import UNet
from course_utils.unet import DoubleConv, Down, Up


def double_conv_params(i, o):
    return (9 * i * o + o) + 2 * o + (9 * o * o + o) + 2 * o  # conv + BN + conv + BN


def unet_params(c_in, c_out, s, depth=4):
    widths = [s * 2**i for i in range(depth)]
    total = double_conv_params(c_in, s)
    total += sum(double_conv_params(widths[i], widths[min(i + 1, depth - 1)]) for i in range(depth))
    for i in range(depth):
        w_in, w_out = widths[i], widths[i - 1] if i > 0 else s
        total += 4 * w_in * w_in + w_in + double_conv_params(2 * w_in, w_out)
    return total + s * c_out + c_out


@pytest.mark.parametrize("args", [(1, 1, 16), (1, 1, 4), (3, 2, 8, 2), (1, 1, 8, 1), (1, 1, 64)])
def test_parameter_count_matches_formula(args):
    model = UNet(*args)
    assert sum(p.numel() for p in model.parameters()) == unet_params(*args)


def test_original_course_size():
    # UNet(1, 1, 16) of the original course, without its unused `outc2` layer
    assert sum(p.numel() for p in UNet(1, 1, 16).parameters()) == 926_769


@pytest.mark.parametrize("hw", [(64, 64), (37, 50), (1, 1), (17, 128), (100, 3)])
def test_any_input_size_keeps_shape(hw):
    model = UNet(1, 2, 4).eval()
    with torch.no_grad():
        y = model(torch.rand(2, 1, *hw))
    assert y.shape == (2, 2, *hw)


def test_padding_does_not_shift_content():
    """A 64x64 image and the same image inside a 61x61 crop give the same output away from the border."""
    torch.manual_seed(0)
    model = UNet(1, 1, 4, depth=2).eval()
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        full, crop = model(x), model(x[..., :61, :61])
    assert crop.shape[-2:] == (61, 61)
    assert torch.allclose(full[..., 8:40, 8:40], crop[..., 8:40, 8:40], atol=1e-5)


def test_blocks_shapes():
    x = torch.rand(2, 3, 16, 20)
    assert DoubleConv(3, 5)(x).shape == (2, 5, 16, 20)
    assert Down(3, 6)(x).shape == (2, 6, 8, 10)
    assert Up(3, 4)(torch.rand(2, 3, 8, 10), x).shape == (2, 4, 16, 20)


def test_no_final_activation_and_gradients_flow():
    model = UNet(1, 1, 4)
    y = model(torch.rand(2, 1, 32, 32))
    assert y.min() < 0 < y.max() or y.std() > 0  # raw logits, not squashed into [0, 1]
    y.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_clear_errors():
    model = UNet(1, 1, 4)
    with pytest.raises(ValueError, match=r"x\[None\]"):
        model(torch.rand(1, 32, 32))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        model(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match="depth"):
        UNet(1, 1, 4, depth=0)


def test_init_args_recorded():
    assert UNet(1, 2, 8).init_args == {"n_channels": 1, "n_classes": 2, "size": 8, "depth": 4}


def test_residual_wrapper_subtracts_the_estimate():
    import torch.nn as nn

    from course_utils import Residual

    net = nn.Conv2d(1, 1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.25)
    x = torch.rand(2, 1, 5, 5)
    assert torch.allclose(Residual(net)(x), 0.75 * x)
    with torch.no_grad():
        net.weight.zero_()
    assert torch.equal(Residual(net)(x), x)  # a zero estimate is the identity
    assert Residual(UNet(1, 1, 4, depth=1))(x).shape == x.shape


@pytest.mark.parametrize("cls", [UNet, "SimpleUNet"])
def test_models_say_what_to_pass(cls):
    import numpy as np

    from course_utils import SimpleUNet

    model = UNet(1, 1, 4, depth=2) if cls is UNet else SimpleUNet(4)
    name = type(model).__name__
    x = np.random.rand(1, 1, 8, 8)
    cases = [
        (x, r"torch.from_numpy\(x\).float\(\)"),  # before: 'numpy.ndarray' object has no attribute 'dim'
        (x.tolist(), r"torch.tensor\(x, dtype=torch.float32\)"),
        (torch.from_numpy(x), r"x.float\(\)"),  # before: Input type (double) and bias type (float) ...
        (torch.from_numpy(x * 255).to(torch.uint8), r"x.float\(\) / 255"),
    ]
    for bad, advice in cases:
        with pytest.raises(TypeError, match=name + r".*" + advice):
            model(bad)
    assert model.double()(torch.from_numpy(x)).dtype == torch.float64  # a float64 model takes float64


def test_predict_converts_numpy_lists_and_float64():
    import numpy as np

    from course_utils import predict, predict_image

    model = UNet(1, 1, 4, depth=2).eval()
    x = torch.rand(3, 1, 8, 8)
    want, want_image = predict(model, x, batch_size=2, device="cpu"), predict_image(model, x, device="cpu")
    for other in (x.numpy(), x.double(), x.numpy().astype(np.float64), x.tolist()):  # each failed deep in torch
        assert torch.equal(predict(model, other, batch_size=2, device="cpu"), want)
        assert torch.equal(predict_image(model, other, device="cpu"), want_image)
    for ints in (x.mul(255).to(torch.uint8), x.mul(255).to(torch.uint8).numpy()):  # predict_image ran 0-255 before
        with pytest.raises(TypeError, match=r"/ 255"):
            predict(model, ints, device="cpu")
        with pytest.raises(TypeError, match=r"/ 255"):
            predict_image(model, ints, device="cpu")
