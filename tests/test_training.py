"""fit: it learns, it counts steps and epochs, validates, and keeps no graphs."""

import pytest
import torch
import torch.nn as nn

from course_utils import History, fit, predict


def linear_batches(g):
    w = torch.tensor([[2.0, -1.0]])

    def batch():
        x = torch.randn(32, 2, generator=g)
        return x, x @ w.T

    return batch


def test_fit_learns_and_records(g):
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    h = fit(
        model,
        linear_batches(g),
        nn.functional.mse_loss,
        opt,
        steps=200,
        device="cpu",
        val_fn=lambda m: m.weight[0, 0].item(),
        val_every=50,
        progress=False,
    )
    assert isinstance(h, History) and len(h.loss) == 200
    assert all(isinstance(v, float) for v in h.loss)  # floats only: no autograd graph kept
    assert h.loss[-1] < 1e-3 < h.loss[0]
    assert [s for s, _ in h.val] == [50, 100, 150, 200]
    assert h.val[-1][1] == pytest.approx(2.0, abs=0.05)
    assert not model.training  # left in eval mode
    assert len(h.smoothed(10)) == 200 and h.smoothed(10)[-1] < h.smoothed(10)[0]


def test_fit_with_dataloader_epochs(g):
    x = torch.randn(40, 2, generator=g)
    data = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    loader = torch.utils.data.DataLoader(data, batch_size=10)
    model = nn.Linear(2, 1)
    seen = []
    h = fit(
        model,
        loader,
        nn.functional.mse_loss,
        torch.optim.SGD(model.parameters(), lr=0.05),
        epochs=3,
        device="cpu",
        val_fn=lambda m: len(seen.append(1) or seen),
        progress=False,
    )
    assert len(h.loss) == 12  # 3 epochs x 4 batches
    assert [s for s, _ in h.val] == [4, 8, 12]  # once per epoch


def test_validation_runs_without_grad_in_eval_mode(g):
    model = nn.Sequential(nn.Linear(2, 1), nn.Dropout(0.5))
    modes = []

    def val(m):
        modes.append((m.training, torch.is_grad_enabled()))
        return 0.0

    fit(
        model,
        linear_batches(g),
        nn.functional.mse_loss,
        torch.optim.SGD(model.parameters(), lr=0.01),
        steps=3,
        device="cpu",
        val_fn=val,
        progress=False,
    )
    assert modes == [(False, False)]


def test_fit_errors(g):
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="exactly one"):
        fit(model, linear_batches(g), nn.functional.mse_loss, opt, progress=False)
    with pytest.raises(ValueError, match="DataLoader"):
        fit(model, linear_batches(g), nn.functional.mse_loss, opt, epochs=1, progress=False)
    with pytest.raises(TypeError, match="pair"):
        fit(model, lambda: torch.zeros(3, 2), nn.functional.mse_loss, opt, steps=1, device="cpu", progress=False)
    with pytest.raises(TypeError, match="lambda: gen"):
        fit(model, 42, nn.functional.mse_loss, opt, steps=1, progress=False)


def test_zero_steps_is_a_no_op(g):
    model = nn.Linear(2, 1)
    before = model.weight.clone()
    h = fit(
        model,
        linear_batches(g),
        nn.functional.mse_loss,
        torch.optim.SGD(model.parameters(), lr=1.0),
        steps=0,
        device="cpu",
        progress=False,
    )
    assert h.loss == [] and torch.equal(model.weight, before)


def test_unet_learns_to_remove_clutter():
    """The whole stack: generator -> UNet -> fit -> PSNR. A tiny U-Net beats the identity in 100 steps."""
    import course_utils as cu

    cu.seed_everything(0)
    g = cu.make_generator(0)
    noisy, clean = cu.gen(64, generator=cu.make_generator(99))
    model = cu.UNet(1, 1, 8, depth=2)
    h = fit(
        model,
        lambda: cu.gen(16, generator=g),
        nn.functional.l1_loss,
        torch.optim.Adam(model.parameters(), 3e-3),
        steps=100,
        device="cpu",
        progress=False,
        val_fn=lambda m: cu.psnr(m(noisy), clean, data_range=1.0, reduction="pooled").item(),
    )
    identity = cu.psnr(noisy, clean, data_range=1.0, reduction="pooled").item()
    assert h.val[-1][1] > identity + 3, (identity, h.val)


def test_predict_batches_without_grad_and_returns_cpu():
    model = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.9))
    x = torch.randn(10, 3)
    out = predict(model, x, batch_size=4, device="cpu")
    assert out.shape == (10, 2) and not out.requires_grad and out.device.type == "cpu"
    assert torch.equal(out, predict(model, x, batch_size=3, device="cpu"))  # eval mode: dropout off
