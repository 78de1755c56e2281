"""The DnCNN family: shapes, equal parameter counts, the original initialisation, receptive fields."""

import math

import pytest
import torch

import course_utils as cu
from course_utils.dncnn import DnCNN, DUDnCNN, UDnCNN, level_scales, measured_receptive_field, receptive_field
from course_utils.inference import count_parameters


@pytest.mark.parametrize("D", [2, 4, 6])
def test_shapes_and_equal_parameter_counts(D):
    models = [cls(D, 16, channels=c) for cls in (DnCNN, UDnCNN, DUDnCNN) for c in (1, 3)]
    for m in models:
        x = torch.randn(2, m.channels, 32, 48)
        assert m(x).shape == x.shape
    gray = [count_parameters(m) for m in models[0::2]]
    assert len(set(gray)) == 1
    C = 16  # conv0 (1->C), D convs C->C, conv out C->1, D batch norms
    assert gray[0] == (9 * C + C) + D * (9 * C * C + C) + (9 * C + 1) + D * 2 * C


def test_original_initialisation():
    m = DnCNN(4, 64)
    assert all(torch.allclose(bn.weight, torch.full_like(bn.weight, 1.25 * 8)) for bn in m.bn)
    assert all(bn.eps == 64 for bn in m.bn)  # BatchNorm2d(C, C): the second argument is eps
    assert DnCNN(4, 64, bn_eps=1e-5).bn[0].eps == 1e-5
    std = m.conv[1].weight.std().item()
    assert std == pytest.approx(math.sqrt(2 / (9 * 64)), rel=0.1)  # He: sqrt(2 / fan_in)


def test_residual_output_and_size_rules():
    m = DnCNN(0, 8, channels=1)
    torch.nn.init.zeros_(m.conv[-1].weight)
    torch.nn.init.zeros_(m.conv[-1].bias)
    x = torch.rand(1, 1, 10, 10)
    assert torch.equal(m(x), x)  # y = x - f(x), f = 0
    torch.nn.init.constant_(m.conv[-1].bias, 0.25)  # f(x) = 0.25 everywhere: the estimated noise is removed
    assert torch.allclose(m(x), x - 0.25)
    with pytest.raises(ValueError, match="even depth"):
        UDnCNN(5)
    with pytest.raises(ValueError, match="multiples of 4"):
        UDnCNN(6, 8, channels=1)(torch.rand(1, 1, 30, 32))
    assert DUDnCNN(6, 8, channels=1)(torch.rand(1, 1, 30, 31)).shape == (1, 1, 30, 31)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        DnCNN(2)(torch.rand(1, 1, 8, 8))


def test_dilations_follow_the_u_net_scales():
    assert level_scales(6) == [1, 1, 2, 4, 4, 4, 2, 1]
    m = DUDnCNN(6, 8)
    assert [c.dilation[0] for c in m.conv] == level_scales(6) and all(c.padding == c.dilation for c in m.conv)


@pytest.mark.parametrize("D", [2, 4, 6, 8])
def test_receptive_field_formula_matches_the_gradient(D):
    torch.manual_seed(0)
    for cls in (DnCNN, DUDnCNN):
        m = cls(D, 8, channels=1)
        assert measured_receptive_field(m, 256) == receptive_field(m)
    u = UDnCNN(D, 8, channels=1)
    assert receptive_field(DUDnCNN(D, 8, channels=1)) <= measured_receptive_field(u, 256) <= receptive_field(u)
    assert receptive_field(DnCNN(D)) == 2 * D + 5


def test_measured_receptive_field_of_any_network():
    torch.manual_seed(0)
    # a one-level U-Net: 2 convs (4 px), a 2x2 pool (1), 2 convs at scale 2 (8), the 2x2 up-convolution (1),
    # 2 convs (4): at most 19 pixels; the pooling's argmax can hide a few of them
    u = cu.Residual(cu.UNet(1, 1, 4, depth=1))
    assert 15 <= measured_receptive_field(u, 64) <= 19
    with pytest.raises(ValueError, match="larger size"):
        measured_receptive_field(u, 16)


def test_checkpoint_round_trip(tmp_path):
    m = UDnCNN(4, 8, channels=1)
    path = cu.save_checkpoint(m, tmp_path / "u.pt")
    back = cu.load_checkpoint(path, expect=UDnCNN)
    x = torch.rand(1, 1, 16, 16)
    assert torch.equal(back(x), m.eval()(x))


def test_he_bn_init_is_the_constructors_initialisation():
    from course_utils.dncnn import he_bn_init

    torch.manual_seed(1)
    built = DnCNN(4, 16, 3)
    torch.manual_seed(1)
    plain = DnCNN(4, 16, 3, init=False, bn_eps=1e-5)
    assert plain.bn[0].eps == 1e-5 and torch.all(plain.bn[0].weight == 1)
    assert he_bn_init(plain) is plain
    assert all(torch.equal(a, b) for a, b in zip(built.state_dict().values(), plain.state_dict().values()))
    assert all(bn.eps == 16 for bn in plain.bn)
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        he_bn_init(torch.nn.Linear(2, 2))
